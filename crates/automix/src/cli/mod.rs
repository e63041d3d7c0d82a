//! The `automix` command line: one module per subcommand, all driving the same engine.

mod ask;
mod bench;
mod collect;
mod eval;
mod models;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "automix", version, about = "Chat with your documents: a local model that knows when to ask a bigger one")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List, download, check and convert models.
    Models {
        #[command(subcommand)]
        command: models::ModelsCommand,
    },
    /// Answer a question from a text file with the local model, streaming the answer.
    Ask(ask::AskArgs),
    /// Measure prefill/decode speed, time to first token, load time and peak memory.
    Bench(bench::BenchArgs),
    /// Answer and self-verify every item of a QA set with the local model; write a routing table.
    Collect(collect::CollectArgs),
    /// Compare routers on routing tables: ΔIBC per router, verifier AUROC, cost-performance plot.
    Eval(eval::EvalArgs),
    /// Fit the router's calibration (P(signals | small model correct)) from routing tables.
    Calibrate(eval::CalibrateArgs),
}

pub fn run() -> Result<()> {
    match Cli::parse().command {
        Command::Models { command } => models::run(command),
        Command::Ask(args) => ask::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Collect(args) => collect::run(args),
        Command::Eval(args) => eval::run_eval_command(args),
        Command::Calibrate(args) => eval::run_calibrate_command(args),
    }
}

/// The chat model to use: an explicit GGUF path, or the catalog's default installed model.
fn chat_model_path(explicit: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(path);
    }
    let catalog = automix_models::Catalog::bundled();
    let entry = catalog.default_for(automix_models::ModelKind::Chat);
    Ok(automix_models::ModelStore::from_env().locate(entry)?)
}
