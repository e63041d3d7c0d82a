use std::path::PathBuf;

use anyhow::Result;
use automix::calibrate::{calibrate_model, calibration_set, CalibrationFiles};
use automix::collect::CollectProgress;
use automix::types::ErrorCode;
use automix_eval::{run_calibrate, run_eval, CalibrateCommand, CalibrationOptions, EvalCommand, EvalOptions, RemotePrior};
use clap::Args;

#[derive(Args)]
pub struct EvalArgs {
    /// Routing tables written by `automix collect`; each is evaluated on its own.
    #[arg(long = "table", required = true)]
    tables: Vec<PathBuf>,
    /// Cost of one large-model call in small-model calls.
    #[arg(long, default_value_t = 100.0)]
    cost_ratio: f64,
    /// Which recorded large model plays the remote model (prefix match: gpt-4 finds gpt-4-32k).
    #[arg(long, default_value = "gpt-4")]
    llm_model: String,
    #[arg(long, default_value_t = 0.5)]
    train_fraction: f64,
    /// Number of random train/test splits.
    #[arg(long, default_value_t = 10)]
    seeds: u64,
    /// Fit each table's routers on its training split plus all rows of the other tables (as the
    /// app's calibration is fitted on many sets); the test split stays the table's own.
    #[arg(long)]
    pooled: bool,
    /// Value bins of each observed signal (of the combined score by default).
    #[arg(long)]
    bins: Option<usize>,
    /// Observe each signal on its own (naive Bayes over signals chosen by cross-validation)
    /// instead of one logistic combination of them.
    #[arg(long)]
    naive_bayes: bool,
    /// Also score this calibration file as it is on every row (e.g. the bundled one on new rows).
    #[arg(long)]
    calibration: Option<PathBuf>,
    #[arg(long)]
    svg: Option<PathBuf>,
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Also replay this many questions per set (drawn from its rows) through a router calibrated
    /// on the other sets, with and without learning from judged answers as it goes.
    #[arg(long)]
    replay: Option<usize>,
    /// Streams per set for --replay.
    #[arg(long, default_value_t = 5)]
    replay_seeds: u64,
}

pub fn run_eval_command(args: EvalArgs) -> Result<()> {
    let options = EvalOptions {
        cost_ratio: args.cost_ratio,
        llm_model: args.llm_model,
        train_fraction: args.train_fraction,
        seeds: args.seeds,
        pooled: args.pooled,
        combine: !args.naive_bayes,
        bins_per_signal: args.bins.unwrap_or(automix::router::DEFAULT_BINS_PER_SIGNAL),
        ..Default::default()
    };
    let replay = args.replay.map(|questions| automix_eval::replay::ReplayOptions { questions, seeds: args.replay_seeds, ..Default::default() });
    let report = run_eval(&EvalCommand { tables: args.tables, options, svg: args.svg, markdown: args.markdown, calibration: args.calibration, replay })?;
    print!("{}", report.to_markdown());
    Ok(())
}

#[derive(Args)]
pub struct CalibrateArgs {
    /// Calibrate for this catalog chat model on this machine: it answers the bundled calibration
    /// set through the app's pipeline (resumable: run again to go on), and the router uses the
    /// result from then on. Without it, fit from --table files instead.
    #[arg(long, conflicts_with_all = ["tables", "out"])]
    model: Option<String>,
    /// With --model: only the first N items of the calibration set (a quick, rougher calibration).
    #[arg(long, requires = "model")]
    limit: Option<usize>,
    /// Routing tables with gold-scored small-model answers, pooled.
    #[arg(long = "table", required_unless_present = "model")]
    tables: Vec<PathBuf>,
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, default_value = "smollm2-135m-instruct")]
    slm_model: String,
    /// Prior accuracy of remote models, e.g. --remote-prior gpt-4o=0.85
    #[arg(long = "remote-prior", value_parser = parse_prior)]
    remote_priors: Vec<RemotePrior>,
}

fn parse_prior(raw: &str) -> Result<RemotePrior, String> {
    let (model, accuracy) = raw.split_once('=').ok_or("expected MODEL=ACCURACY")?;
    let accuracy: f64 = accuracy.parse().map_err(|_| format!("`{accuracy}` is not a number"))?;
    if !(0.0..=1.0).contains(&accuracy) {
        return Err(format!("accuracy {accuracy} must be between 0 and 1"));
    }
    Ok(RemotePrior { model: model.to_string(), accuracy })
}

pub fn run_calibrate_command(args: CalibrateArgs) -> Result<()> {
    if let Some(model) = &args.model {
        return calibrate_model_command(model, args.limit);
    }
    let out = args.out.unwrap_or_else(|| PathBuf::from("models/router/smollm2-135m-instruct.json"));
    let options = CalibrationOptions { slm_model: args.slm_model, remote_priors: args.remote_priors, ..Default::default() };
    let calibration = run_calibrate(&CalibrateCommand { tables: args.tables, out: out.clone(), options, select_signals: true, smoothing: Default::default() })?;
    print_calibration(&out, &calibration);
    Ok(())
}

fn print_calibration(path: &std::path::Path, calibration: &automix_eval::Calibration) {
    let signals: Vec<&str> = calibration.histograms.iter().map(|h| h.binning.signal.name()).collect();
    println!("wrote {} ({} rows, local answers right {:.3}, signals: {})", path.display(), calibration.rows, calibration.slm_accuracy(), signals.join(", "));
}

fn calibrate_model_command(model: &str, limit: Option<usize>) -> Result<()> {
    let home = automix::models::automix_home();
    let settings = automix::settings::Settings::load(&home)?;
    let mut items = calibration_set()?;
    items.truncate(limit.unwrap_or(items.len()));
    let bar = super::items_bar(items.len() as u64);
    let cancel = super::cancel_on_ctrl_c();
    let outcome = calibrate_model(
        &home,
        &settings,
        model,
        &items,
        &mut |progress| match progress {
            CollectProgress::Indexing { files_done, files_total } => bar.set_message(format!("indexing the calibration texts {files_done}/{files_total}")),
            CollectProgress::Answering { done, correct, .. } => {
                bar.set_position(done as u64);
                bar.set_message(format!("local answers right {correct}/{done}"));
            }
        },
        &cancel,
    );
    bar.finish_and_clear();
    let files = CalibrationFiles::new(&home, model);
    match outcome {
        Ok(calibration) => {
            print_calibration(&files.calibration, &calibration);
            Ok(())
        }
        Err(error) if error.code() == ErrorCode::Cancelled => {
            println!("stopped; the answers so far are kept in {} and the next run goes on from there", files.rows.display());
            Ok(())
        }
        Err(error) => Err(error.into()),
    }
}
