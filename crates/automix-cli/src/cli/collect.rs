use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result};
use automix::collect::{collect_item, group_by_context, CollectOptions};
use automix::datasets::{read_items, read_recorded_answers};
use automix::eval::read_table;
use automix::verify::VerifyMode;
use automix_llm::{default_device, KvCache, LocalModel};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
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
    #[arg(long, default_value_t = 17)]
    seed: u64,
    /// Verification modes: logit (one forward pass) and/or sample (k=8 at T=1, as in the paper).
    #[arg(long, value_delimiter = ',', default_value = "logit")]
    verify: Vec<VerifyArg>,
    #[arg(long, default_value_t = 3500)]
    max_context_tokens: usize,
    /// A GGUF chat model (default: the catalog's default).
    #[arg(long)]
    model: Option<PathBuf>,
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
    items.shuffle(&mut rand::rngs::StdRng::seed_from_u64(args.seed));
    items.truncate(args.limit.unwrap_or(items.len()));
    items.retain(|item| item.metric == "accuracy" || !item.answers.is_empty());
    group_by_context(&mut items);
    let done: HashSet<String> = if args.out.exists() { read_table(&args.out)?.into_iter().map(|r| r.id).collect() } else { HashSet::new() };
    let todo: Vec<_> = items.into_iter().filter(|item| !done.contains(&item.id)).collect();
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut out = std::fs::OpenOptions::new().create(true).append(true).open(&args.out)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    let model = LocalModel::load(&super::chat_model_path(args.model)?, &default_device())?;
    let options = CollectOptions {
        verify_modes: args.verify.iter().map(|v| match v { VerifyArg::Logit => VerifyMode::Logit, VerifyArg::Sample => VerifyMode::PAPER }).collect(),
        max_context_tokens: args.max_context_tokens,
        ..Default::default()
    };
    eprintln!("{} rows already in {}, {} to go", done.len(), args.out.display(), todo.len());
    let bar = ProgressBar::new(todo.len() as u64);
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed}<{eta} {msg}").expect("valid template"));
    let mut cache = KvCache::new();
    let never = AtomicBool::new(false);
    let (mut correct, mut total) = (0usize, 0usize);
    for item in &todo {
        let no_answers = Vec::new();
        let row = collect_item(&model, item, recorded.get(&item.id).unwrap_or(&no_answers), &options, &mut cache, &never)?;
        total += 1;
        correct += usize::from(row.slm.correct());
        // One complete line per item, flushed: a kill loses at most the item in progress.
        writeln!(out, "{}", serde_json::to_string(&row)?)?;
        out.flush()?;
        bar.set_message(format!("SLM correct {correct}/{total}"));
        bar.inc(1);
    }
    bar.finish();
    Ok(())
}
