//! The `automix` command line: one module per subcommand, all driving the same engine.

mod account;
mod ask;
mod bench;
mod collect;
pub(crate) mod docs;
mod eval;
mod models;
mod serve;
mod settings;

use std::path::PathBuf;

use anyhow::Result;
use automix::assistant::AssistantPaths;
use automix::llm::DeviceChoice;
use automix::settings::Settings;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "automix", version, about = "Chat with your documents: a local model that knows when to ask a bigger one")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    verbosity: crate::logging::Verbosity,
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
    /// Store or remove the remote model's API key (kept in the OS keychain).
    Key {
        #[command(subcommand)]
        command: account::KeyCommand,
    },
    /// Show or change the monthly remote budget.
    Budget {
        #[command(subcommand)]
        command: account::BudgetCommand,
    },
    /// Past questions, escalations and spending.
    History {
        #[command(subcommand)]
        command: account::HistoryCommand,
    },
    /// Add, list and remove documents of the library.
    Docs {
        #[command(subcommand)]
        command: docs::DocsCommand,
    },
    /// Search the library: ranked chunks with citations.
    Search {
        query: String,
        #[arg(long, default_value_t = 5)]
        limit: usize,
        /// Print exactly the chunks the pipeline would give a local model with this many tokens.
        #[arg(long)]
        budget_tokens: Option<usize>,
        /// Print the hits as one JSON array (scores, texts and citations with pages and labels).
        #[arg(long)]
        json: bool,
    },
    /// What sending answer ID to the remote model would send now (an escalation waiting for
    /// your approval, or any local answer), without sending it.
    Pending {
        id: i64,
        /// Leave out these passages (numbered from 1, as listed).
        #[arg(long, value_delimiter = ',')]
        without: Vec<usize>,
    },
    /// Send answer ID to the remote model (approving a pending escalation), charged to the budget.
    Send {
        id: i64,
        /// Leave out these passages (numbered from 1, as `automix pending` lists them).
        #[arg(long, value_delimiter = ',')]
        without: Vec<usize>,
    },
    /// Keep the local answer of an escalation waiting for your approval; nothing is sent.
    KeepLocal { id: i64 },
    /// Make the router forget what it learned from your past answers (back to the bundled calibration).
    RouterForget,
    /// Rate an answer: up, down or none.
    Feedback { id: i64, verdict: String },
    /// Serve the local OpenAI-compatible API (models automix, automix-local, automix-docs) until Ctrl-C.
    Serve(serve::ServeArgs),
    /// Show or change the settings the CLI and the desktop app share ($AUTOMIX_HOME/settings.toml).
    Settings {
        #[command(subcommand)]
        command: settings::SettingsCommand,
    },
}

pub fn run() -> Result<()> {
    let cli = Cli::parse();
    cli.verbosity.init();
    match cli.command {
        Command::Models { command } => models::run(command),
        Command::Ask(args) => ask::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Collect(args) => collect::run(args),
        Command::Eval(args) => eval::run_eval_command(args),
        Command::Calibrate(args) => eval::run_calibrate_command(args),
        Command::Key { command } => account::key(command),
        Command::Budget { command } => account::budget(command),
        Command::History { command } => account::history(command),
        Command::Feedback { id, verdict } => account::feedback(id, &verdict),
        Command::RouterForget => account::router_forget(),
        Command::Pending { id, without } => ask::pending(id, &without),
        Command::Send { id, without } => ask::send(id, &without),
        Command::KeepLocal { id } => ask::keep_local(id),
        Command::Docs { command } => docs::run(command),
        Command::Search { query, limit, budget_tokens, json } => docs::search(&query, limit, budget_tokens, json),
        Command::Settings { command } => settings::run(command),
        Command::Serve(args) => serve::run(args),
    }
}

/// `--device`, for the commands that run the local models.
#[derive(clap::Args, Clone, Copy)]
struct DeviceArg {
    /// Where the local models run: auto (the GPU where this CUDA build finds one), cpu, cuda or
    /// cuda:N [default: the settings' `device`]
    #[arg(long, value_name = "DEVICE")]
    device: Option<DeviceChoice>,
}

impl DeviceArg {
    /// The flag's choice, else the settings'.
    fn or_settings(self, settings: &Settings) -> DeviceChoice {
        self.device.unwrap_or(settings.device)
    }

    /// The device itself, for commands that load models without the engine.
    fn select(self) -> Result<candle_core::Device> {
        let settings = Settings::load(&automix::models::automix_home())?;
        Ok(automix::llm::device::select(self.or_settings(&settings))?)
    }
}

/// The chat model to use: an explicit GGUF path, or the one chosen in the settings.
fn chat_model_path(explicit: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(path);
    }
    let home = automix::models::automix_home();
    let settings = Settings::load(&home)?;
    Ok(AssistantPaths::from_home(&home).chat_model_file(&settings.local_model)?)
}

/// The engine without its models, for commands about history, feedback and learning.
fn assistant_without_models() -> Result<automix::assistant::Assistant> {
    let paths = AssistantPaths::from_home(&automix::models::automix_home());
    Ok(automix::assistant::Assistant::open(&paths, None, Default::default())?)
}

/// A cancel flag that Ctrl-C sets (once; a second Ctrl-C ends the process as usual), so a long
/// run stops between items and keeps what it finished.
pub(crate) fn cancel_on_ctrl_c() -> automix::remote::CancelFlag {
    let cancel = automix::remote::CancelFlag::default();
    let flag = cancel.clone();
    let handler = ctrlc::set_handler(move || {
        if flag.swap(true, std::sync::atomic::Ordering::Relaxed) {
            std::process::exit(130);
        }
    });
    if let Err(error) = handler {
        eprintln!("note: Ctrl-C will end the run without saving the item in progress ({error})");
    }
    cancel
}

/// A progress bar over items with elapsed time, ETA and a message, for the long runs.
fn items_bar(len: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed}<{eta} {msg}").expect("valid template"));
    bar
}
