//! AutoMix evaluation: cost-performance curves, ΔIBC,
//! signal AUROC/ECE, and the entry points of `automix eval` and `automix calibrate`.

pub mod curves;
pub mod evaluate;
pub mod metrics;
pub mod replay;
pub mod report;
/// The routing table lives with the router (the app fits calibrations from it too).
pub use automix_router::table;

use std::path::{Path, PathBuf};

pub use automix_qa::{open_lines, read_jsonl, JsonLinesError};
pub use automix_router::{fit_tables, read_table, write_table, RoutingRow, ScoredAnswer, TokenCounts};
pub use automix_router::{Calibration, CalibrationOptions, RemotePrior, Signal, Smoothing};
pub use curves::{delta_ibc, Anchors, CostModel, Curve, CurvePoint, DeltaIbc, RoutedQuery};
pub use evaluate::{evaluate, BudgetCheck, EvalError, EvalOptions, EvalReport, NamedTable, RouterSummary, TableReport};
pub use metrics::{auroc, choice_accuracy, exact_match, expected_calibration_error, normalize_answer, token_f1};

/// Arguments of `automix eval`.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalCommand {
    /// Routing tables (JSONL), each evaluated on its own.
    pub tables: Vec<PathBuf>,
    /// Evaluation settings.
    pub options: EvalOptions,
    /// Where to write the SVG plot, if anywhere.
    pub svg: Option<PathBuf>,
    /// Where to write the markdown report, if anywhere.
    pub markdown: Option<PathBuf>,
    /// A calibration file to score as it is on every row of each table (e.g. the bundled one).
    pub calibration: Option<PathBuf>,
    /// Also replay a stream of questions per set, with and without learning as it goes.
    pub replay: Option<replay::ReplayOptions>,
}

/// Runs `automix eval`: reads the tables, evaluates, writes the requested outputs.
pub fn run_eval(command: &EvalCommand) -> Result<EvalReport, EvalError> {
    let tables = read_named_tables(&command.tables)?;
    let given = command.calibration.as_deref().map(Calibration::load).transpose()?;
    let options = EvalOptions { given_calibration: given.clone(), ..command.options.clone() };
    let mut report = evaluate(&tables, &options)?;
    if let Some(calibration) = given {
        for (table, named) in report.tables.iter_mut().zip(&tables) {
            table.given_calibration = Some(evaluate::given_calibration(&calibration, &named.rows, &command.options.smoothing));
        }
    }
    if let Some(options) = &command.replay {
        report.replay = replay::replay(&tables, &command.options, options)?;
    }
    if let Some(path) = &command.svg {
        report.write_svg(path)?;
    }
    if let Some(path) = &command.markdown {
        std::fs::write(path, report.to_markdown()).map_err(|e| EvalError::Output { path: path.display().to_string(), detail: e.to_string() })?;
    }
    Ok(report)
}

/// Arguments of `automix calibrate`.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrateCommand {
    /// Routing tables (JSONL) pooled for fitting.
    pub tables: Vec<PathBuf>,
    /// Output file, e.g. `models/router/smollm2-135m-instruct.json`.
    pub out: PathBuf,
    /// Fitting settings (model id, candidate signals, bins, remote priors).
    pub options: CalibrationOptions,
    /// Keep only the candidate signals that improve 5-fold cross-validated log-loss.
    pub select_signals: bool,
    /// Smoothing used while selecting (the file stores raw counts; the app smooths on load).
    pub smoothing: Smoothing,
}

/// Runs `automix calibrate`: fits P(signals | SLM correct) on all rows of all tables and saves it.
///
/// Rows are taken round-robin from the tables so that cross-validation folds mix datasets.
pub fn run_calibrate(command: &CalibrateCommand) -> Result<Calibration, EvalError> {
    let tables: Vec<Vec<RoutingRow>> = read_named_tables(&command.tables)?.into_iter().map(|table| table.rows).collect();
    let calibration = fit_tables(&tables, &command.options, command.select_signals, &command.smoothing)?;
    calibration.save(&command.out)?;
    Ok(calibration)
}

fn read_named_tables(paths: &[PathBuf]) -> Result<Vec<NamedTable>, EvalError> {
    paths.iter().map(|path| Ok(NamedTable { name: table_name(path), rows: read_table(path)? })).collect()
}

fn table_name(path: &Path) -> String {
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    name.trim_end_matches(".gz").trim_end_matches(".jsonl").to_owned()
}
