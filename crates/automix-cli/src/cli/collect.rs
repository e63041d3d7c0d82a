use std::path::PathBuf;

use anyhow::Result;
use automix::assistant::AssistantConfig;
use automix::collect::{collect_table, group_by_context, scratch_assistant, CollectProgress};
use automix::qa::{read_items, read_recorded_answers};
use automix::settings::Settings;
use automix::types::ErrorCode;
use automix::verify::VerifyMode;
use clap::{Args, ValueEnum};
use rand::seq::SliceRandom;
use rand::SeedableRng;

#[derive(Args)]
pub struct CollectArgs {
    /// A QA set, e.g. ../shared/data/qa/quality.jsonl.gz
    #[arg(long)]
    dataset: PathBuf,
    /// Recorded large-model answers to join by id, e.g. ../shared/data/llm-answers/quality.jsonl.gz
    #[arg(long)]
    llm_answers: Option<PathBuf>,
    /// Routing table to write; rows already there are kept and their items skipped (resume).
    #[arg(long)]
    out: PathBuf,
    /// At most this many items, drawn with --seed.
    #[arg(long)]
    limit: Option<usize>,
    /// Leave these items out (e.g. a calibration set: one id per line, or a JSONL file with "id").
    #[arg(long)]
    exclude: Option<PathBuf>,
    #[arg(long, default_value_t = 17)]
    seed: u64,
    /// Verification: logit (one forward pass, as the app) or sample (k=8 at T=1, as in the paper).
    #[arg(long, default_value = "logit")]
    verify: VerifyArg,
    /// Tokens of document text the local model reads (default: the settings').
    #[arg(long)]
    context_tokens: Option<usize>,
    /// Catalog id of the chat model (default: the settings').
    #[arg(long)]
    model: Option<String>,
    /// Scratch library and history (default: next to --out).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    #[command(flatten)]
    device: super::DeviceArg,
}

#[derive(Clone, Copy, ValueEnum)]
enum VerifyArg {
    Logit,
    Sample,
}

pub fn run(args: CollectArgs) -> Result<()> {
    let mut items = read_items(&args.dataset)?;
    let recorded = match &args.llm_answers {
        Some(path) => read_recorded_answers(path)?,
        None => Default::default(),
    };
    if let Some(path) = &args.exclude {
        let text = std::fs::read_to_string(path)?;
        let excluded: std::collections::HashSet<String> = text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                serde_json::from_str::<serde_json::Value>(line).ok().and_then(|v| v["id"].as_str().map(String::from)).unwrap_or_else(|| line.trim().to_string())
            })
            .collect();
        items.retain(|item| !excluded.contains(&item.id));
    }
    items.shuffle(&mut rand::rngs::StdRng::seed_from_u64(args.seed));
    items.truncate(args.limit.unwrap_or(items.len()));
    items.retain(|item| item.metric == "accuracy" || !item.answers.is_empty() || item.dataset.contains("v2"));
    group_by_context(&mut items);

    let home = automix::models::automix_home();
    let settings = Settings::load(&home)?;
    let mut config = AssistantConfig::from_settings(&settings);
    config.verify_mode = match args.verify {
        VerifyArg::Logit => VerifyMode::Logit,
        VerifyArg::Sample => VerifyMode::PAPER,
    };
    config.context_budget_tokens = args.context_tokens.unwrap_or(config.context_budget_tokens);
    config.device = args.device.or_settings(&settings);
    let work_dir = args.work_dir.clone().unwrap_or_else(|| args.out.with_extension("work"));
    let assistant = scratch_assistant(&home, &work_dir, config, args.model.as_deref().unwrap_or(&settings.local_model))?;

    let bar = super::items_bar(0);
    let cancel = super::cancel_on_ctrl_c();
    let rows = collect_table(
        &assistant,
        &items,
        &recorded,
        &args.out,
        &work_dir,
        &mut |progress| match progress {
            CollectProgress::Indexing { files_done, files_total } => {
                bar.set_length(files_total as u64);
                bar.set_position(files_done as u64);
                bar.set_message("indexing the contexts");
            }
            CollectProgress::Answering { done, total, correct } => {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
                bar.set_message(format!("local answers right {correct}/{done}"));
            }
        },
        &cancel,
    );
    let rows = match rows {
        Err(error) if error.code() == ErrorCode::Cancelled => {
            bar.abandon();
            println!("stopped; the rows so far are kept in {} and the next run goes on from there", args.out.display());
            return Ok(());
        }
        other => other?,
    };
    bar.finish();
    let correct = rows.iter().filter(|row| row.slm.correct()).count();
    println!("{} rows in {} (local answers right: {correct}, {:.3})", rows.len(), args.out.display(), correct as f64 / rows.len().max(1) as f64);
    Ok(())
}
