use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use automix::settings::Settings;
use automix::speed::peak_rss_mb;
use automix::speed::{bench_prompt, time_prefill_and_decode};
use automix_llm::device::label;
use automix_llm::sampling::argmax;
use automix_llm::LocalModel;
use candle_core::{Device, Tensor};
use clap::Args;
use serde::Serialize;

mod embedder;
mod pipeline;

#[derive(Args)]
pub struct BenchArgs {
    /// A GGUF chat model (default: the catalog's default model).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Benchmark the document embedder (chunks/s, query latency) instead of the chat model.
    #[arg(long)]
    embedder: bool,
    /// Prompt length in tokens; with --embedder, the chunk length (at most 256).
    #[arg(long, default_value_t = 512)]
    tokens: usize,
    /// With --embedder: chunks embedded per run.
    #[arg(long, default_value_t = 256)]
    chunks: usize,
    /// Tokens to decode after the prompt.
    #[arg(long, default_value_t = 128)]
    decode: usize,
    /// Best of this many runs.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Also run candle-transformers' stock model (quantized llama, or BERT with --embedder) on the
    /// same inputs, in the same process.
    #[arg(long)]
    compare: bool,
    /// Also time the whole `automix ask` pipeline on a one-page document in a scratch library:
    /// question to first streamed token, answer, and the checks after the answer.
    #[arg(long, conflicts_with_all = ["embedder", "model"])]
    pipeline: bool,
    #[command(flatten)]
    device: super::DeviceArg,
}

#[derive(Serialize, Clone)]
struct Figures {
    engine: &'static str,
    load_secs: f64,
    prefill_tokens_per_sec: f64,
    decode_tokens_per_sec: f64,
    time_to_first_token_secs: f64,
    peak_rss_mb: f64,
}

pub fn run(args: BenchArgs) -> Result<()> {
    if args.embedder {
        return embedder::run(&args);
    }
    println!("{}", serde_json::to_string_pretty(&chat_model_report(&args)?)?);
    Ok(())
}

/// The chat model's figures (and, with `--pipeline`, the pipeline's) as the JSON `run` prints.
fn chat_model_report(args: &BenchArgs) -> Result<serde_json::Value> {
    let path = super::chat_model_path(args.model.clone())?;
    let device = args.device.select()?;
    let started = Instant::now();
    let model = LocalModel::load(&path, &device)?;
    let load_secs = started.elapsed().as_secs_f64();
    let prompt = bench_prompt(&model, args.tokens)?;
    // The loop the app's short measurement runs too (automix::speed).
    let timed = time_prefill_and_decode(&model, &prompt, args.decode, args.repeats)?;
    let (best_prefill, best_decode, best_ttft) = (timed.prefill_secs, timed.decode_secs, timed.prefill_secs);
    let ours = Figures {
        engine: "automix",
        load_secs,
        prefill_tokens_per_sec: args.tokens as f64 / best_prefill,
        decode_tokens_per_sec: args.decode as f64 / best_decode,
        time_to_first_token_secs: best_ttft,
        peak_rss_mb: peak_rss_mb(),
    };
    let mut report = serde_json::json!({
        "model": path.display().to_string(),
        "device": label(&device),
        // Named as AUTOMIX_CPU_KERNELS names them, so a run can be checked against what it asked for.
        "cpu_kernels": format!("{:?}", automix_llm::kernels::isa()).to_lowercase(),
        "threads": candle_core::utils::get_num_threads(),
        "prompt_tokens": args.tokens,
        "decode_tokens": args.decode,
        "automix": ours,
    });
    if args.compare {
        let stock = bench_stock(&path, &device, &prompt, args.decode, args.repeats)?;
        report["stock_candle"] = serde_json::to_value(&stock)?;
        report["ratio"] = serde_json::json!({
            "prefill": ours.prefill_tokens_per_sec / stock.prefill_tokens_per_sec,
            "decode": ours.decode_tokens_per_sec / stock.decode_tokens_per_sec,
            "time_to_first_token": stock.time_to_first_token_secs / ours.time_to_first_token_secs,
        });
    }
    if args.pipeline {
        // The engine loads its own copy of the model; this one is not needed any more.
        drop(model);
        let home = automix::models::automix_home();
        let mut settings = Settings::load(&home)?;
        settings.device = args.device.or_settings(&settings);
        report["pipeline"] = serde_json::to_value(pipeline::measure(&home, &settings, pipeline::QUESTIONS)?)?;
    }
    Ok(report)
}

fn bench_stock(path: &Path, device: &Device, prompt: &[u32], decode: usize, repeats: usize) -> Result<Figures> {
    use candle_transformers::models::quantized_llama::ModelWeights;
    let started = Instant::now();
    let mut file = std::fs::File::open(path)?;
    let content = candle_core::quantized::gguf_file::Content::read(&mut file)?;
    let mut model = ModelWeights::from_gguf(content, &mut file, device)?;
    let load_secs = started.elapsed().as_secs_f64();
    let (mut best_prefill, mut best_decode) = (f64::MAX, f64::MAX);
    for _ in 0..repeats {
        model.clear_kv_cache();
        let t0 = Instant::now();
        let input = Tensor::new(prompt, device)?.unsqueeze(0)?;
        let logits = model.forward(&input, 0)?.squeeze(0)?;
        let mut token = argmax(&logits.to_vec1::<f32>()?);
        best_prefill = best_prefill.min(t0.elapsed().as_secs_f64());
        let t1 = Instant::now();
        for step in 0..decode {
            let input = Tensor::new(&[token], device)?.unsqueeze(0)?;
            token = argmax(&model.forward(&input, prompt.len() + step)?.squeeze(0)?.to_vec1::<f32>()?);
        }
        best_decode = best_decode.min(t1.elapsed().as_secs_f64());
    }
    Ok(Figures {
        engine: "candle-transformers quantized_llama",
        load_secs,
        prefill_tokens_per_sec: prompt.len() as f64 / best_prefill,
        decode_tokens_per_sec: decode as f64 / best_decode,
        time_to_first_token_secs: best_prefill,
        peak_rss_mb: peak_rss_mb(),
    })
}

/// The value at `share` (0..=1) of `sorted`, nearest rank.
fn percentile(sorted: &[f64], share: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * share).round() as usize]
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{chat_model_report, BenchArgs};

    #[derive(Parser)]
    struct Bench {
        #[command(flatten)]
        args: BenchArgs,
    }

    /// `automix bench --pipeline` on the installed models (`make test` installs them): the
    /// pipeline's figures are in the report and each is a positive time.
    #[test]
    fn pipeline_figures_are_reported_and_positive() {
        let bench = Bench::parse_from(["bench", "--pipeline", "--tokens", "64", "--decode", "4", "--repeats", "1"]);
        let report = chat_model_report(&bench.args).unwrap_or_else(|e| panic!("{e:#} (make test installs the models)"));
        let pipeline = &report["pipeline"];
        assert_eq!(pipeline["questions"], super::pipeline::QUESTIONS.len(), "{report:#}");
        for figure in [
            "retrieval_secs",
            "question_to_first_token_secs",
            "new_document_question_to_first_token_secs",
            "new_document_read_ahead_question_to_first_token_secs",
            "answer_secs",
            "checks_secs",
            "checks_to_answer_ratio",
        ] {
            let value = pipeline[figure].as_f64().unwrap_or_else(|| panic!("no {figure} in {pipeline:#}"));
            assert!(value > 0.0 && value.is_finite(), "{figure} = {value}");
        }
        // The passages are streamed before the first token of the answer.
        let secs = |figure: &str| pipeline[figure].as_f64().unwrap();
        assert!(secs("retrieval_secs") < secs("question_to_first_token_secs"), "{pipeline:#}");
        assert!(pipeline["document_tokens"].as_u64().unwrap() > 300, "the page is a page: {pipeline:#}");
    }
}
