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
    /// Also record each item's remote answer: send the payload the app would escalate (retrieved
    /// passages, system prompt) to this OpenAI-compatible endpoint (up to /v1) through the app's
    /// streaming client, e.g. a llama-server on http://127.0.0.1:8080/v1 (tools/llama-server.sh).
    #[arg(long, requires = "remote_model")]
    remote_endpoint: Option<String>,
    /// The remote model id sent with each request.
    #[arg(long, requires = "remote_endpoint")]
    remote_model: Option<String>,
    /// The remote price in currency units per million input and output tokens (default: the
    /// settings' price for that model, else the bundled price list).
    #[arg(long, num_args = 2, value_names = ["IN", "OUT"], requires = "remote_endpoint")]
    remote_price: Option<Vec<f64>>,
    /// Copy the remote answers another table recorded for the same items (by id) into this one,
    /// once every item is answered: a second local model then shares the first one's remote
    /// answers (recorded for the first model's payload) instead of asking again.
    #[arg(long, conflicts_with = "remote_endpoint")]
    remote_answers_from: Option<PathBuf>,
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

    let remote = match (&args.remote_endpoint, &args.remote_model) {
        (Some(endpoint), Some(model)) => {
            let price = args.remote_price.as_deref().map(|p| automix::types::ModelPrice { input_per_million: p[0], output_per_million: p[1] });
            if price.is_some_and(|p| !(p.input_per_million >= 0.0 && p.output_per_million >= 0.0)) {
                anyhow::bail!("--remote-price takes two prices per million tokens, zero or more");
            }
            let keys = automix::assistant::AssistantPaths::from_home(&home).key_store();
            Some(automix::collect::remote_for_collecting(&settings, &keys, endpoint, model, price)?)
        }
        _ => None,
    };

    let bar = super::items_bar(0);
    let cancel = super::cancel_on_ctrl_c();
    let rows = collect_table(
        &assistant,
        &items,
        &recorded,
        remote.as_ref(),
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
    let mut rows = rows;
    if let Some(donor) = &args.remote_answers_from {
        let gained = automix::collect::merge_remote_answers(&mut rows, &automix::router::read_table(donor)?);
        // Written beside and renamed over the table, so a kill leaves the old table whole.
        let partial = args.out.with_extension("merging");
        automix::router::write_table(&partial, &rows)?;
        std::fs::rename(&partial, &args.out)?;
        println!("{gained} of {} rows gained the remote answers recorded in {}", rows.len(), donor.display());
    }
    let correct = rows.iter().filter(|row| row.slm.correct()).count();
    println!("{} rows in {} (local answers right: {correct}, {:.3})", rows.len(), args.out.display(), correct as f64 / rows.len().max(1) as f64);
    if let Some(remote) = &remote {
        let answers: Vec<_> = rows.iter().filter_map(|row| row.llm_answer(&remote.model).filter(|a| a.call.is_some())).collect();
        let right = answers.iter().filter(|a| a.correct()).count();
        let cost: f64 = answers.iter().filter_map(|a| a.call.as_ref()).map(|c| c.cost).sum();
        println!(
            "remote answers of {} right: {right}/{} ({:.3}); recorded cost {cost:.6}",
            remote.model,
            answers.len(),
            right as f64 / answers.len().max(1) as f64
        );
    }
    Ok(())
}
