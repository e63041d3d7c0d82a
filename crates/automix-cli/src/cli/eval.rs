use std::path::PathBuf;

use anyhow::Result;
use automix::eval::{run_calibrate, run_eval, CalibrateCommand, CalibrationOptions, EvalCommand, EvalOptions, RemotePrior};
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
    #[arg(long)]
    svg: Option<PathBuf>,
    #[arg(long)]
    markdown: Option<PathBuf>,
}

pub fn run_eval_command(args: EvalArgs) -> Result<()> {
    let options = EvalOptions {
        cost_ratio: args.cost_ratio,
        llm_model: args.llm_model,
        train_fraction: args.train_fraction,
        seeds: args.seeds,
        ..Default::default()
    };
    let report = run_eval(&EvalCommand { tables: args.tables, options, svg: args.svg, markdown: args.markdown })?;
    print!("{}", report.to_markdown());
    Ok(())
}

#[derive(Args)]
pub struct CalibrateArgs {
    /// Routing tables with gold-scored small-model answers, pooled.
    #[arg(long = "table", required = true)]
    tables: Vec<PathBuf>,
    #[arg(long, default_value = "models/router/smollm2-135m-instruct.json")]
    out: PathBuf,
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
    let options = CalibrationOptions { slm_model: args.slm_model, remote_priors: args.remote_priors, ..Default::default() };
    let calibration = run_calibrate(&CalibrateCommand {
        tables: args.tables,
        out: args.out.clone(),
        options,
        select_signals: true,
        smoothing: Default::default(),
    })?;
    println!(
        "wrote {} ({} rows, small-model accuracy {:.3}, {} signals)",
        args.out.display(),
        calibration.rows,
        calibration.slm_accuracy(),
        calibration.histograms.len()
    );
    Ok(())
}
