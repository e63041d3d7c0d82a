//! `automix bench --embedder`: chunk-embedding throughput and query latency of the library's
//! embedder, against candle-transformers' stock BERT on the same inputs in the same run.

use std::time::Instant;

use anyhow::{bail, Result};
use automix_docs::embed::mean_pool_normalized;
use automix_docs::embed::MAX_INPUT_TOKENS;
use automix_docs::{default_model_dir, Embedder, TokenCounter};
use automix_llm::device::label;
use candle_core::Device;
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use serde::Serialize;

use super::{peak_rss_mb, percentile, BenchArgs};

/// Texts per model call, as the indexer sends them.
const BATCH: usize = 16;
/// Questions timed one at a time, as a search embeds them.
const QUERIES: usize = 50;

#[derive(Serialize)]
struct EmbedFigures {
    engine: &'static str,
    load_secs: f64,
    chunks_per_sec: f64,
    tokens_per_sec: f64,
    query_p50_ms: f64,
    query_p95_ms: f64,
}

pub fn run(args: &BenchArgs) -> Result<()> {
    if args.chunks == 0 {
        bail!("--chunks must be at least 1");
    }
    let dir = default_model_dir();
    let device = args.device.select()?;
    let started = Instant::now();
    let embedder = Embedder::load(&dir, &device)?;
    let load_secs = started.elapsed().as_secs_f64();
    let chunks = sample_chunks(args.chunks, args.tokens.min(MAX_INPUT_TOKENS));
    let chunk_refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
    let tokens: usize = chunk_refs.iter().map(|text| (embedder.count_tokens(text) + 2).min(MAX_INPUT_TOKENS)).sum();
    let queries = sample_queries();

    let mut ours_vectors = Vec::new();
    let chunk_secs = best_of(args.repeats, || {
        ours_vectors = embedder.embed(&chunk_refs)?;
        Ok(())
    })?;
    let ours_query = query_latency(&queries, |query| embedder.embed_one(query).map(drop).map_err(Into::into))?;
    let ours = figures("automix (int8 where AVX-512 VNNI)", load_secs, chunk_refs.len(), tokens, chunk_secs, &ours_query);
    let mut report = serde_json::json!({
        "model": dir.display().to_string(),
        "device": label(&device),
        "threads": candle_core::utils::get_num_threads(),
        "chunks": chunk_refs.len(),
        "mean_tokens_per_chunk": tokens as f64 / chunk_refs.len() as f64,
        "automix": ours,
    });
    if args.compare {
        let started = Instant::now();
        let stock = load_stock(&dir, &device)?;
        let load_secs = started.elapsed().as_secs_f64();
        let stock_embed = |texts: &[&str]| -> Result<Vec<Vec<f32>>> {
            let mut vectors = Vec::with_capacity(texts.len());
            for batch in texts.chunks(BATCH) {
                let (ids, mask) = embedder.batch_inputs(batch)?;
                let hidden = stock.forward(&ids, &ids.zeros_like()?, Some(&mask))?;
                vectors.extend(mean_pool_normalized(&hidden, &mask)?.to_vec2::<f32>()?);
            }
            Ok(vectors)
        };
        // The same length-sorted batches as `Embedder::embed`, so both pad alike.
        let mut sorted: Vec<usize> = (0..chunk_refs.len()).collect();
        sorted.sort_by_key(|&index| chunk_refs[index].len());
        let sorted_refs: Vec<&str> = sorted.iter().map(|&index| chunk_refs[index]).collect();
        let mut stock_vectors = Vec::new();
        let chunk_secs = best_of(args.repeats, || {
            stock_vectors = stock_embed(&sorted_refs)?;
            Ok(())
        })?;
        let stock_query = query_latency(&queries, |query| stock_embed(&[query]).map(drop))?;
        let stock_figures = figures("candle-transformers BertModel (f32)", load_secs, chunk_refs.len(), tokens, chunk_secs, &stock_query);
        let cosines: Vec<f32> =
            sorted.iter().zip(&stock_vectors).map(|(&index, stock)| ours_vectors[index].iter().zip(stock).map(|(a, b)| a * b).sum()).collect();
        report["ratio"] = serde_json::json!({
            "chunks_per_sec": ours.chunks_per_sec / stock_figures.chunks_per_sec,
            "query_p50": stock_figures.query_p50_ms / ours.query_p50_ms,
            "query_p95": stock_figures.query_p95_ms / ours.query_p95_ms,
        });
        report["agreement"] = serde_json::json!({
            "min_cosine": cosines.iter().copied().fold(f32::MAX, f32::min),
            "mean_cosine": cosines.iter().sum::<f32>() / cosines.len() as f32,
        });
        report["stock_candle"] = serde_json::to_value(stock_figures)?;
    }
    report["peak_rss_mb"] = peak_rss_mb().into();
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn load_stock(dir: &std::path::Path, device: &Device) -> Result<BertModel> {
    let config: Config = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json"))?)?;
    let tensors = candle_core::safetensors::load(dir.join("model.safetensors"), device)?;
    Ok(BertModel::load(VarBuilder::from_tensors(tensors, candle_core::DType::F32, device), &config)?)
}

fn figures(engine: &'static str, load_secs: f64, chunks: usize, tokens: usize, secs: f64, query_ms: &[f64]) -> EmbedFigures {
    EmbedFigures {
        engine,
        load_secs,
        chunks_per_sec: chunks as f64 / secs,
        tokens_per_sec: tokens as f64 / secs,
        query_p50_ms: percentile(query_ms, 0.50),
        query_p95_ms: percentile(query_ms, 0.95),
    }
}

fn best_of(repeats: usize, mut run: impl FnMut() -> Result<()>) -> Result<f64> {
    let mut best = f64::MAX;
    for _ in 0..repeats.max(1) {
        let started = Instant::now();
        run()?;
        best = best.min(started.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// Milliseconds per query, sorted; one warm-up query first.
fn query_latency(queries: &[String], mut embed: impl FnMut(&str) -> Result<()>) -> Result<Vec<f64>> {
    embed(&queries[0])?;
    let mut times = Vec::with_capacity(queries.len());
    for query in queries {
        let started = Instant::now();
        embed(query)?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok(times)
}

/// `count` chunks of about `tokens` tokens of real prose: the bundled sample, each chunk
/// starting at another word so that no two are alike.
fn sample_chunks(count: usize, tokens: usize) -> Vec<String> {
    let words: Vec<&str> = include_str!("../../../../automix/assets/france.md").split_whitespace().collect();
    // MiniLM's WordPiece gives about 1.3 tokens per English word.
    let chunk_words = (tokens as f64 / 1.3) as usize;
    (0..count).map(|start| (0..chunk_words).map(|i| words[(start + i) % words.len()]).collect::<Vec<_>>().join(" ")).collect()
}

/// Short questions, as typed into the search box.
fn sample_queries() -> Vec<String> {
    let subjects = ["the capital of France", "the population of Paris", "the longest river", "the highest mountain", "the national language"];
    let asks = ["What is", "Where is", "Tell me about", "How large is", "Who described", "Why is", "When was", "Which city has", "Name", "Explain"];
    asks.iter().flat_map(|ask| subjects.iter().map(move |subject| format!("{ask} {subject}?"))).take(QUERIES).collect()
}
