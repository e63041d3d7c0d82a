//! Retrieval quality, indexing throughput and query latency on the shared QA data.
//!
//! cargo run --release -p automix-docs --example retrieval_eval -- [--data DIR] [--questions N] [--work DIR]
//!     [--max-tokens N] [--no-latency-corpus] [--latency-max-tokens N] [--chat-model GGUF] [--question-offset K]
//!
//! Prints a Markdown report. Context budgets are counted twice: 1.3 tokens per word
//! (`WordTokenEstimate`, as the anchor) and with the chat model's own tokenizer (what the
//! pipeline does).

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use automix_docs::{select_for_budget, ChunkingConfig, Embedder, IndexOptions, Library, SearchHit, SearchMode, TokenCounter, WordTokenEstimate};
use automix_llm::LocalModel;

const BUDGET_TOKENS: usize = 512;
const SQUAD_PARAGRAPHS_PER_DOCUMENT: usize = 10;
const MODES: [SearchMode; 3] = [SearchMode::Bm25, SearchMode::Vector, SearchMode::Hybrid];

struct Options {
    data: PathBuf,
    work: PathBuf,
    questions: usize,
    latency_corpus: bool,
    /// Chunk size for SQuAD and HotpotQA.
    max_tokens: usize,
    /// Chunk size for the corpora added only for the latency measurement.
    latency_max_tokens: usize,
    /// GGUF whose tokenizer counts the context budget as the pipeline does.
    chat_model: PathBuf,
    /// SQuAD questions are every (total / questions)-th item from this one: another offset gives
    /// a held-out sample for settings tuned on the first.
    question_offset: usize,
}

fn parse_options() -> Result<Options> {
    let mut options = Options {
        data: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/qa"),
        work: std::env::temp_dir().join(format!("automix-retrieval-eval-{}", std::process::id())),
        questions: 300,
        latency_corpus: true,
        max_tokens: ChunkingConfig::default().max_tokens,
        latency_max_tokens: ChunkingConfig::default().max_tokens,
        question_offset: 0,
        chat_model: automix_models::automix_home().join("models/smollm2-135m-instruct/SmolLM2-135M-Instruct-Q8_0.gguf"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--data" => options.data = args.next().context("--data needs a folder")?.into(),
            "--work" => options.work = args.next().context("--work needs a folder")?.into(),
            "--questions" => options.questions = args.next().context("--questions needs a number")?.parse()?,
            "--no-latency-corpus" => options.latency_corpus = false,
            "--max-tokens" => options.max_tokens = args.next().context("--max-tokens needs a number")?.parse()?,
            "--latency-max-tokens" => options.latency_max_tokens = args.next().context("--latency-max-tokens needs a number")?.parse()?,
            "--question-offset" => options.question_offset = args.next().context("--question-offset needs a number")?.parse()?,
            "--chat-model" => options.chat_model = args.next().context("--chat-model needs a GGUF file")?.into(),
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(options)
}

fn read_jsonl_gz(path: &Path) -> Result<Vec<serde_json::Value>> {
    let file = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(file));
    reader.lines().map(|line| Ok(serde_json::from_str(&line?)?)).collect()
}

fn field(item: &serde_json::Value, name: &str) -> String {
    item[name].as_str().unwrap_or_default().to_string()
}

fn answers(item: &serde_json::Value) -> Vec<String> {
    item["answers"].as_array().into_iter().flatten().filter_map(|answer| answer.as_str()).map(normalize_space).collect()
}

fn normalize_space(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Where a gold paragraph sits: document file and character range in its text.
#[derive(Clone)]
struct GoldSpan {
    path: String,
    chars: std::ops::Range<usize>,
}

struct Question {
    text: String,
    answers: Vec<String>,
    gold: Option<GoldSpan>,
}

/// Indexing statistics for one `add_paths` call.
struct IndexRun {
    label: String,
    files: usize,
    chunks: usize,
    bytes: u64,
    seconds: f64,
}

fn index(library: &mut Library, embedder: &Embedder, folder: &Path, label: String, chunking: ChunkingConfig) -> Result<IndexRun> {
    let bytes = folder_bytes(folder)?;
    let started = Instant::now();
    let mut last_report = Instant::now();
    let reports = library.add_paths(
        embedder,
        &[folder.to_path_buf()],
        &IndexOptions { chunking, ..IndexOptions::default() },
        &mut |progress| {
            if last_report.elapsed().as_secs() >= 30 {
                eprintln!(
                    "  {label}: {}/{} files, {} chunks, {:.0}s",
                    progress.files_done,
                    progress.files_total,
                    progress.chunks_indexed,
                    started.elapsed().as_secs_f64()
                );
                last_report = Instant::now();
            }
        },
        &AtomicBool::new(false),
    )?;
    let seconds = started.elapsed().as_secs_f64();
    let mut chunks = 0;
    for report in &reports {
        match &report.outcome {
            automix_docs::FileOutcome::Added { chunks: added, .. } | automix_docs::FileOutcome::Updated { chunks: added, .. } => chunks += added,
            automix_docs::FileOutcome::Unchanged { .. } | automix_docs::FileOutcome::Removed { .. } => {}
            automix_docs::FileOutcome::Failed { error } => bail!("{error}"),
        }
    }
    eprintln!("  {label}: {} files, {chunks} chunks in {seconds:.1}s", reports.len());
    Ok(IndexRun { label, files: reports.len(), chunks, bytes, seconds })
}

fn folder_bytes(folder: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(folder)? {
        total += entry?.metadata()?.len();
    }
    Ok(total)
}

/// Writes paragraphs as text documents; returns each paragraph's span, keyed by the paragraph.
fn write_documents(folder: &Path, documents: &[Vec<String>], prefix: &str) -> Result<HashMap<String, GoldSpan>> {
    std::fs::create_dir_all(folder)?;
    let folder = std::fs::canonicalize(folder)?;
    let mut spans = HashMap::new();
    for (index, paragraphs) in documents.iter().enumerate() {
        let path = folder.join(format!("{prefix}{index:04}.txt"));
        let path_text = path.to_string_lossy().into_owned();
        let mut text = String::new();
        let mut chars = 0;
        for paragraph in paragraphs {
            if !text.is_empty() {
                text.push_str("\n\n");
                chars += 2;
            }
            let length = paragraph.chars().count();
            spans.insert(paragraph.clone(), GoldSpan { path: path_text.clone(), chars: chars..chars + length });
            text.push_str(paragraph);
            chars += length;
        }
        std::fs::write(&path, text)?;
    }
    Ok(spans)
}

#[derive(Default)]
struct ModeScore {
    recall_at: [usize; 3],
    answer_in_budget: usize,
    budget_tokens_used: usize,
    answer_in_model_budget: usize,
    latencies_ms: Vec<f64>,
}

/// A top-k chunk counts when it contains a gold answer and, where the gold paragraph is known, overlaps it.
fn is_relevant(hit: &SearchHit, question: &Question) -> bool {
    let contains_answer = question.answers.iter().any(|answer| hit.text.contains(answer.as_str()));
    let in_gold = question.gold.as_ref().is_none_or(|gold| {
        hit.citation.location.path == gold.path && hit.citation.location.char_start < gold.chars.end && gold.chars.start < hit.citation.location.char_end
    });
    contains_answer && in_gold
}

fn evaluate(library: &mut Library, embedder: &Embedder, chat_model: &LocalModel, questions: &[Question]) -> Result<Vec<(SearchMode, ModeScore)>> {
    // Loads the vector cache so that the first timed query does not pay for it.
    library.search(embedder, "warm up", 1, SearchMode::Hybrid)?;
    let mut results = Vec::new();
    for mode in MODES {
        let mut score = ModeScore::default();
        for question in questions {
            let started = Instant::now();
            let hits = library.search(embedder, &question.text, 50, mode)?;
            score.latencies_ms.push(started.elapsed().as_secs_f64() * 1000.0);
            for (slot, k) in [1, 3, 5].into_iter().enumerate() {
                if hits.iter().take(k).any(|hit| is_relevant(hit, question)) {
                    score.recall_at[slot] += 1;
                }
            }
            let answer_in = |counter: &dyn TokenCounter| {
                let chosen = select_for_budget(&hits, &question.text, BUDGET_TOKENS, counter);
                let context: String = chosen.iter().map(|hit| hit.text.as_str()).collect::<Vec<_>>().join("\n\n");
                let used: usize = chosen.iter().map(|hit| hit.token_count).sum();
                (question.answers.iter().any(|answer| context.contains(answer.as_str())), used)
            };
            let (found, used) = answer_in(&WordTokenEstimate);
            score.answer_in_budget += usize::from(found);
            score.budget_tokens_used += used;
            score.answer_in_model_budget += usize::from(answer_in(chat_model).0);
        }
        results.push((mode, score));
    }
    Ok(results)
}

fn percentile(values: &[f64], quantile: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * quantile).round() as usize]
}

fn print_quality(title: &str, questions: usize, results: &[(SearchMode, ModeScore)]) {
    println!("\n### {title} ({questions} questions)\n");
    println!("| mode | recall@1 | recall@3 | recall@5 | answer in {BUDGET_TOKENS}-token context (1.3/word) | mean tokens used | answer in {BUDGET_TOKENS} SmolLM2 tokens | query p50 ms | query p95 ms |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (mode, score) in results {
        let share = |count: usize| count as f64 / questions as f64;
        println!(
            "| {mode:?} | {:.3} | {:.3} | {:.3} | {:.3} | {:.0} | {:.3} | {:.1} | {:.1} |",
            share(score.recall_at[0]),
            share(score.recall_at[1]),
            share(score.recall_at[2]),
            share(score.answer_in_budget),
            score.budget_tokens_used as f64 / questions as f64,
            share(score.answer_in_model_budget),
            percentile(&score.latencies_ms, 0.5),
            percentile(&score.latencies_ms, 0.95),
        );
    }
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| status.lines().find(|line| line.starts_with("VmHWM:")).map(str::to_string))
        .and_then(|line| line.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn squad(options: &Options) -> Result<(Vec<Vec<String>>, Vec<Question>)> {
    let items = read_jsonl_gz(&options.data.join("squad_v1.1.jsonl.gz"))?;
    // The file lists an article's paragraphs one after another, so runs of consecutive
    // paragraphs stand in for articles (the file carries no article titles).
    let mut paragraphs: Vec<String> = Vec::new();
    for item in &items {
        let context = normalize_space(&field(item, "context"));
        if paragraphs.last() != Some(&context) && !paragraphs.contains(&context) {
            paragraphs.push(context);
        }
    }
    let documents: Vec<Vec<String>> = paragraphs.chunks(SQUAD_PARAGRAPHS_PER_DOCUMENT).map(<[String]>::to_vec).collect();
    let step = (items.len() / options.questions.max(1)).max(1);
    let questions = items
        .iter()
        .skip(options.question_offset)
        .step_by(step)
        .take(options.questions)
        .map(|item| Question { text: field(item, "question"), answers: answers(item), gold: None })
        .collect();
    Ok((documents, questions))
}

fn main() -> Result<()> {
    let options = parse_options()?;
    std::fs::create_dir_all(&options.work)?;
    let embedder = Embedder::load_default()?;
    let chat_model = LocalModel::load(&options.chat_model, &candle_core::Device::Cpu)?;
    let mut runs = Vec::new();
    let qa_chunking = ChunkingConfig { max_tokens: options.max_tokens, ..ChunkingConfig::default() };

    // SQuAD v1.1 dev: every paragraph, grouped into documents.
    let (squad_documents, mut squad_questions) = squad(&options)?;
    let squad_folder = options.work.join("squad");
    let squad_spans = write_documents(&squad_folder, &squad_documents, "squad-")?;
    let squad_items = read_jsonl_gz(&options.data.join("squad_v1.1.jsonl.gz"))?;
    let question_contexts: HashMap<String, String> =
        squad_items.iter().map(|item| (field(item, "question"), normalize_space(&field(item, "context")))).collect();
    for question in &mut squad_questions {
        question.gold = question_contexts.get(&question.text).and_then(|context| squad_spans.get(context)).cloned();
    }
    let squad_library_path = options.work.join("squad.sqlite");
    let mut squad_library = Library::open(&squad_library_path)?;
    runs.push(index(&mut squad_library, &embedder, &squad_folder, format!("SQuAD v1.1 dev (chunks ≤ {} tokens)", qa_chunking.max_tokens), qa_chunking)?);
    let squad_chunks = squad_library.chunk_count()?;
    let squad_results = evaluate(&mut squad_library, &embedder, &chat_model, &squad_questions)?;
    drop(squad_library);

    // HotpotQA: the 10 paragraphs of every question, one document each.
    let hotpot_items = read_jsonl_gz(&options.data.join("hotpotqa.jsonl.gz"))?;
    let mut hotpot_paragraphs: Vec<String> = Vec::new();
    for item in &hotpot_items {
        for paragraph in field(item, "context").split("\n\n").map(normalize_space).filter(|paragraph| !paragraph.is_empty()) {
            if !hotpot_paragraphs.contains(&paragraph) {
                hotpot_paragraphs.push(paragraph);
            }
        }
    }
    let hotpot_folder = options.work.join("hotpotqa");
    write_documents(&hotpot_folder, &hotpot_paragraphs.iter().map(|paragraph| vec![paragraph.clone()]).collect::<Vec<_>>(), "hotpot-")?;
    // Yes/no answers cannot be found by string matching; those questions are left out.
    let hotpot_questions: Vec<Question> = hotpot_items
        .iter()
        .map(|item| Question { text: field(item, "question"), answers: answers(item), gold: None })
        .filter(|question| !question.answers.iter().any(|answer| matches!(answer.to_lowercase().as_str(), "yes" | "no")))
        .collect();
    let mut hotpot_library = Library::open(&options.work.join("hotpotqa.sqlite"))?;
    runs.push(index(&mut hotpot_library, &embedder, &hotpot_folder, format!("HotpotQA paragraphs (chunks ≤ {} tokens)", qa_chunking.max_tokens), qa_chunking)?);
    let hotpot_chunks = hotpot_library.chunk_count()?;
    let hotpot_results = evaluate(&mut hotpot_library, &embedder, &chat_model, &hotpot_questions)?;
    drop(hotpot_library);

    println!("## Retrieval quality\n");
    println!("Chunks of at most {} MiniLM tokens (overlap {}).\n", qa_chunking.max_tokens, qa_chunking.overlap_tokens);
    println!(
        "SQuAD: {} paragraphs in {} documents, {squad_chunks} chunks. HotpotQA: {} paragraphs (one document each), {hotpot_chunks} chunks.",
        squad_spans.len(),
        squad_documents.len(),
        hotpot_paragraphs.len()
    );
    print_quality("SQuAD v1.1 dev", squad_questions.len(), &squad_results);
    print_quality(
        &format!("HotpotQA dev sample ({} yes/no questions left out)", hotpot_items.len() - hotpot_questions.len()),
        hotpot_questions.len(),
        &hotpot_results,
    );

    if options.latency_corpus {
        // The SQuAD library plus other contexts of the shared QA data until it holds ≥ 10k chunks.
        let big_path = options.work.join("latency.sqlite");
        // A complete store from an earlier run is kept, so latency can be measured again cheaply.
        if !big_path.exists() || Library::open(&big_path)?.chunk_count()? < 10_000 {
            for suffix in ["-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", big_path.display()));
            }
            std::fs::copy(&squad_library_path, &big_path)?;
        }
        let mut big = Library::open(&big_path)?;
        let chunking = ChunkingConfig { max_tokens: options.latency_max_tokens, ..ChunkingConfig::default() };
        for (file, label) in [
            ("boolq", "BoolQ passages"),
            ("mutual", "MuTual dialogues"),
            ("squad_v2.0", "SQuAD v2.0 dev paragraphs"),
            ("contract_nli", "ContractNLI contracts"),
            ("quality", "QuALITY articles"),
            ("qasper", "QASPER papers"),
        ] {
            if big.chunk_count()? >= 10_000 {
                break;
            }
            let mut contexts: Vec<String> = Vec::new();
            for item in read_jsonl_gz(&options.data.join(format!("{file}.jsonl.gz")))? {
                let context = field(&item, "context");
                if !context.trim().is_empty() && !contexts.contains(&context) && !squad_spans.contains_key(&normalize_space(&context)) {
                    contexts.push(context);
                }
            }
            let folder = options.work.join(file);
            std::fs::create_dir_all(&folder)?;
            for (index, context) in contexts.iter().enumerate() {
                std::fs::write(folder.join(format!("{file}-{index:04}.txt")), context)?;
            }
            let label = format!("{label} (chunks ≤ {} tokens)", chunking.max_tokens);
            runs.push(index(&mut big, &embedder, &folder, label, chunking)?);
        }
        let total_chunks = big.chunk_count()?;
        let mut latency_questions = squad_questions.iter().map(|question| question.text.clone()).collect::<Vec<_>>();
        latency_questions.extend(read_jsonl_gz(&options.data.join("boolq.jsonl.gz"))?.iter().step_by(16).map(|item| field(item, "question")));
        let cold = Instant::now();
        big.search(&embedder, "warm up", 1, SearchMode::Hybrid)?;
        let cold_ms = cold.elapsed().as_secs_f64() * 1000.0;
        println!("\n## Query latency on {total_chunks} chunks ({} queries, limit 10)\n", latency_questions.len());
        println!("First query after opening (loads all vectors): {cold_ms:.0} ms.\n");
        println!("| mode | p50 ms | p95 ms |\n|---|---|---|");
        for mode in MODES {
            let mut latencies = Vec::new();
            for question in &latency_questions {
                let started = Instant::now();
                big.search(&embedder, question, 10, mode)?;
                latencies.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            println!("| {mode:?} | {:.1} | {:.1} |", percentile(&latencies, 0.5), percentile(&latencies, 0.95));
        }
    }

    println!("\n## Indexing throughput (extraction, chunking, embedding, SQLite writes)\n");
    println!("Corpora already indexed by an earlier run with the same --work folder are skipped as unchanged and left out.\n");
    println!("| corpus | files | chunks | MB | seconds | chunks/s | MB/s |\n|---|---|---|---|---|---|---|");
    let (mut files, mut chunks, mut bytes, mut seconds) = (0, 0, 0, 0.0);
    for run in runs.iter().filter(|run| run.chunks > 0) {
        let mb = run.bytes as f64 / 1e6;
        println!(
            "| {} | {} | {} | {mb:.2} | {:.1} | {:.1} | {:.3} |",
            run.label,
            run.files,
            run.chunks,
            run.seconds,
            run.chunks as f64 / run.seconds,
            mb / run.seconds
        );
        files += run.files;
        chunks += run.chunks;
        bytes += run.bytes;
        seconds += run.seconds;
    }
    let mb = bytes as f64 / 1e6;
    println!("| **all** | {files} | {chunks} | {mb:.2} | {seconds:.1} | {:.1} | {:.3} |", chunks as f64 / seconds, mb / seconds);
    println!("\nPeak RSS of the whole run (VmHWM): {:.0} MB", peak_rss_mb());
    Ok(())
}
