//! AutoMix evaluation: answer metrics, the routing-table format, cost-performance curves, ΔIBC,
//! signal AUROC/ECE, and the entry points of `automix eval` and `automix calibrate`.

pub mod curves;
pub mod evaluate;
pub mod metrics;
pub mod report;
pub mod table;

use std::path::{Path, PathBuf};

use automix_router::{select_signals, SelectionSettings};
pub use automix_router::{Calibration, CalibrationOptions, RemotePrior, Signal, Smoothing};
pub use curves::{delta_ibc, Anchors, CostModel, Curve, CurvePoint, DeltaIbc, RoutedQuery};
pub use evaluate::{evaluate, BudgetCheck, EvalError, EvalOptions, EvalReport, NamedTable, RouterSummary, TableReport};
pub use metrics::{auroc, choice_accuracy, exact_match, expected_calibration_error, normalize_answer, token_f1};
pub use table::{open_lines, read_jsonl, read_table, write_table, JsonLinesError, RoutingRow, ScoredAnswer, TokenCounts};

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
}

/// Runs `automix eval`: reads the tables, evaluates, writes the requested outputs.
pub fn run_eval(command: &EvalCommand) -> Result<EvalReport, EvalError> {
    let tables = read_named_tables(&command.tables)?;
    let mut report = evaluate(&tables, &command.options)?;
    if let Some(path) = &command.calibration {
        let calibration = Calibration::load(path)?;
        for (table, named) in report.tables.iter_mut().zip(&tables) {
            table.given_calibration = Some(evaluate::given_calibration(&calibration, &named.rows, &command.options.smoothing));
        }
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

/// Fits a calibration on the rows of several tables, optionally keeping only the signals that
/// improve 5-fold cross-validated log-loss.
pub fn fit_tables(tables: &[Vec<RoutingRow>], options: &CalibrationOptions, select: bool, smoothing: &Smoothing) -> Result<Calibration, EvalError> {
    let longest = tables.iter().map(Vec::len).max().unwrap_or(0);
    // Rows are interleaved across tables so every fold sees every dataset.
    let rows: Vec<_> = (0..longest).flat_map(|i| tables.iter().filter_map(move |t| t.get(i))).map(RoutingRow::labelled_signals).collect();
    let mut options = options.clone();
    if select && !options.combine {
        let settings = SelectionSettings { bins_per_signal: options.bins_per_signal, smoothing: *smoothing, folds: 5 };
        options.signals = select_signals(&rows, &options.signals, &settings);
    }
    Ok(automix_router::fit_calibration(&rows, &options)?)
}

fn read_named_tables(paths: &[PathBuf]) -> Result<Vec<NamedTable>, EvalError> {
    paths.iter().map(|path| Ok(NamedTable { name: table_name(path), rows: read_table(path)? })).collect()
}

fn table_name(path: &Path) -> String {
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    name.trim_end_matches(".gz").trim_end_matches(".jsonl").to_owned()
}
