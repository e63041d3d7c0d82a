//! Stand-in for `automix eval` / `automix calibrate` until the main CLI wires them:
//!   cargo run --release -p automix-eval --example eval_cli -- eval --table T.jsonl [--table …]
//!       [--cost-ratio 100] [--llm-model gpt-4] [--train-fraction 0.5] [--seeds 10]
//!       [--svg out.svg] [--markdown out.md]
//!   cargo run --release -p automix-eval --example eval_cli -- calibrate --table T.jsonl [--table …]
//!       --out models/router/smollm2-135m-instruct.json

use std::path::PathBuf;

use automix_eval::{run_calibrate, run_eval, CalibrateCommand, CalibrationOptions, EvalCommand, EvalOptions};

type Failure = Box<dyn std::error::Error>;

fn value<T: std::str::FromStr>(flag: &str, raw: Option<String>) -> Result<T, Failure> {
    let raw = raw.ok_or_else(|| format!("{flag} needs a value"))?;
    raw.parse().map_err(|_| format!("{flag}: cannot parse `{raw}`").into())
}

fn main() -> Result<(), Failure> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().ok_or("usage: eval_cli eval|calibrate --table T.jsonl …")?;
    let mut tables = Vec::new();
    let mut options = EvalOptions::default();
    let (mut svg, mut markdown, mut out) = (None, None, None);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--table" => tables.push(PathBuf::from(value::<String>(&flag, args.next())?)),
            "--cost-ratio" => options.cost_ratio = value(&flag, args.next())?,
            "--llm-model" => options.llm_model = value(&flag, args.next())?,
            "--train-fraction" => options.train_fraction = value(&flag, args.next())?,
            "--seeds" => options.seeds = value(&flag, args.next())?,
            "--verify-cost" => options.verify_cost = value(&flag, args.next())?,
            "--bins" => options.bins_per_signal = value(&flag, args.next())?,
            "--all-signals" => options.select_signals = false,
            "--kernel-width" => options.smoothing.kernel_width = value(&flag, args.next())?,
            "--svg" => svg = Some(PathBuf::from(value::<String>(&flag, args.next())?)),
            "--markdown" => markdown = Some(PathBuf::from(value::<String>(&flag, args.next())?)),
            "--out" => out = Some(PathBuf::from(value::<String>(&flag, args.next())?)),
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    match mode.as_str() {
        "eval" => {
            let report = run_eval(&EvalCommand { tables, options, svg, markdown })?;
            print!("{}", report.to_markdown());
        }
        "calibrate" => {
            let out = out.ok_or("calibrate needs --out FILE")?;
            let calibration =
                run_calibrate(&CalibrateCommand {
                tables,
                out: out.clone(),
                options: CalibrationOptions { bins_per_signal: options.bins_per_signal, ..CalibrationOptions::default() },
                select_signals: options.select_signals,
                smoothing: options.smoothing,
            })?;
            println!(
                "wrote {} ({} rows, SLM accuracy {:.3}, {} signals)",
                out.display(),
                calibration.rows,
                calibration.slm_accuracy(),
                calibration.histograms.len()
            );
        }
        other => return Err(format!("unknown mode {other}: use eval or calibrate").into()),
    }
    Ok(())
}
