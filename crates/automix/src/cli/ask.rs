use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result};
use automix::prompts::{answer_messages, AnswerStyle};
use automix_llm::{default_device, KvCache, LocalModel, SamplingParams};
use clap::Args;

#[derive(Args)]
pub struct AskArgs {
    /// The question.
    question: String,
    /// A text file to answer from.
    #[arg(long)]
    context: PathBuf,
    /// A GGUF chat model (default: the catalog's default model, installed by `automix models pull`).
    #[arg(long)]
    model: Option<PathBuf>,
    #[arg(long, default_value_t = 128)]
    max_tokens: usize,
    /// 0 answers greedily.
    #[arg(long, default_value_t = 0.0)]
    temperature: f64,
    #[arg(long, default_value_t = 0.95)]
    top_p: f64,
    #[arg(long, default_value_t = 299_792_458)]
    seed: u64,
    /// Ask for a few words instead of sentences.
    #[arg(long)]
    short: bool,
}

pub fn run(args: AskArgs) -> Result<()> {
    let context = std::fs::read_to_string(&args.context)
        .with_context(|| format!("cannot read the context file {} as UTF-8 text", args.context.display()))?;
    let model = LocalModel::load(&super::chat_model_path(args.model)?, &default_device())?;
    eprintln!("loaded {} in {:.2}s", model.path().display(), model.load_secs());
    let style = if args.short { AnswerStyle::Short } else { AnswerStyle::Sentence };
    let prompt = model.chat_prompt(&answer_messages(&context, &args.question, style), true)?;
    let params = SamplingParams { temperature: args.temperature, top_p: args.top_p, seed: args.seed, max_tokens: args.max_tokens, stop: Vec::new() };
    let mut stdout = std::io::stdout();
    let generation = model.generate(&prompt, &mut KvCache::new(), &params, &AtomicBool::new(false), &mut |piece| {
        let _ = write!(stdout, "{piece}");
        let _ = stdout.flush();
    })?;
    println!();
    let t = &generation.timings;
    eprintln!("{:>5} prompt tokens processed: {:.1} token/s", t.prefill_tokens, t.prefill_tokens_per_sec());
    eprintln!("{:>5} tokens generated: {:.1} token/s", t.decode_tokens, t.decode_tokens_per_sec());
    Ok(())
}
