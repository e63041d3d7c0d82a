//! How fast a chat model runs on this machine and how much memory it needs: the short measurement
//! the app runs after a download (and on "Measure"), the timing loop `automix bench` shares, and
//! `$AUTOMIX_HOME/model-speeds.json`, where the figures are kept per model.
//!
//! **Memory a model needs** is computed, not read from the process: resident-set deltas in a
//! long-running app mix in whatever else it holds (the other model, the embedder, the allocator's
//! free lists). The figure is
//!
//! ```text
//! memory = GGUF file size
//!        + KV cache: 2 (keys, values) × layers × KV heads × head size × 4 bytes (f32) × KV tokens
//!        + RUNTIME_OVERHEAD_MB (tokenizer, activations, scratch buffers)
//! KV tokens = the settings' context tokens + PROMPT_OVERHEAD_TOKENS (instructions, question, answer)
//! ```
//!
//! The measured growth of resident memory while the model loaded and ran is kept beside it
//! (`rss_growth_mb`), as a check, not as the figure shown.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;
use std::time::Instant;

use automix_llm::sampling::argmax;
use automix_llm::{KvCache, LlmError, LocalModel, Logits, ModelConfig};
use automix_models::{CatalogEntry, ModelKind};
use serde::{Deserialize, Serialize};

use crate::assistant::{AskError, AssistantPaths};

/// File under `$AUTOMIX_HOME` with the measured speed of each chat model.
pub const SPEEDS_FILE: &str = "model-speeds.json";
/// Prompt tokens of the short measurement.
pub const SHORT_PROMPT_TOKENS: usize = 128;
/// Tokens decoded greedily after the prompt in the short measurement.
pub const SHORT_DECODE_TOKENS: usize = 32;
/// KV positions a question needs beyond the settings' context tokens: the instructions, the
/// question and the answer.
pub const PROMPT_OVERHEAD_TOKENS: usize = 512;
/// Memory beyond the weights and the KV cache: tokenizer, activations, scratch buffers.
pub const RUNTIME_OVERHEAD_MB: f64 = 150.0;

const MB: f64 = 1024.0 * 1024.0;

/// Bytes of the KV cache holding `tokens` positions (keys and values in f32, every layer).
pub fn kv_cache_bytes(config: &ModelConfig, tokens: usize) -> u64 {
    (2 * config.n_layer * config.n_kv_head * config.head_dim * 4 * tokens) as u64
}

/// The memory (MiB) a chat model needs at `context_tokens` (see the module's formula).
pub fn memory_needed_mb(file_bytes: u64, config: &ModelConfig, context_tokens: usize) -> f64 {
    (file_bytes + kv_cache_bytes(config, context_tokens + PROMPT_OVERHEAD_TOKENS)) as f64 / MB + RUNTIME_OVERHEAD_MB
}

/// The memory (MiB) a chat model file needs at `context_tokens`, from its GGUF header alone (the
/// weights are not read).
pub fn memory_needed_for_file(path: &Path, context_tokens: usize) -> Result<f64, AskError> {
    let gguf = automix_llm::gguf::GgufFile::open(path)?;
    let config = ModelConfig::from_gguf(&gguf)?;
    let bytes = std::fs::metadata(path).map_err(|source| LlmError::Io { path: path.to_path_buf(), source })?.len();
    Ok(memory_needed_mb(bytes, &config, context_tokens))
}

/// A prompt of exactly `tokens` tokens cut from real prose (the bundled sample, repeated).
pub fn bench_prompt(model: &LocalModel, tokens: usize) -> Result<Vec<u32>, LlmError> {
    let text = include_str!("../assets/france.md").repeat(1 + tokens / 150);
    let mut ids = model.tokenizer().encode(&text)?;
    if ids.len() < tokens {
        return Err(LlmError::Tokenizer(format!("the benchmark text gives only {} tokens, not {tokens}", ids.len())));
    }
    ids.truncate(tokens);
    Ok(ids)
}

/// Best times (seconds) over `repeats` runs of prefilling `prompt` into an empty cache, and of then
/// decoding `decode` tokens greedily.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timed {
    pub prefill_secs: f64,
    pub decode_secs: f64,
}

pub fn time_prefill_and_decode(model: &LocalModel, prompt: &[u32], decode: usize, repeats: usize) -> Result<Timed, LlmError> {
    let never = AtomicBool::new(false);
    let mut best = Timed { prefill_secs: f64::MAX, decode_secs: f64::MAX };
    for _ in 0..repeats.max(1) {
        let mut cache = KvCache::new();
        let t0 = Instant::now();
        let logits = model.prefill(prompt, &mut cache, &never)?;
        let mut token = argmax(&logits.to_vec1::<f32>()?);
        best.prefill_secs = best.prefill_secs.min(t0.elapsed().as_secs_f64());
        let t1 = Instant::now();
        for _ in 0..decode {
            token = argmax(&model.forward(&[token], &mut cache, Logits::Last)?.to_vec1::<f32>()?);
        }
        best.decode_secs = best.decode_secs.min(t1.elapsed().as_secs_f64());
    }
    Ok(best)
}

fn proc_status_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// High-water mark of resident memory of this process, MiB (Linux; 0 elsewhere).
pub fn peak_rss_mb() -> f64 {
    proc_status_mb("VmHWM:")
}

/// Resident memory of this process now, MiB (Linux; 0 elsewhere).
pub fn resident_mb() -> f64 {
    proc_status_mb("VmRSS:")
}

/// One chat model's figures on this machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct ModelSpeed {
    pub model_id: String,
    /// The file measured: a changed file (new sha256 or size) is measured again.
    pub file_sha256: String,
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub file_bytes: u64,
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub measured_at_ms: i64,
    pub device: String,
    pub cpu_kernels: String,
    pub threads: usize,
    pub prompt_tokens: usize,
    pub decode_tokens: usize,
    pub load_secs: f64,
    pub prefill_tokens_per_sec: f64,
    pub decode_tokens_per_sec: f64,
    /// The formula of the module's documentation, at `context_tokens`.
    pub memory_needed_mb: f64,
    pub context_tokens: usize,
    /// Growth of this process's resident memory over the load and the run (imprecise; a check).
    pub rss_growth_mb: f64,
}

/// Loads the GGUF file at `path` and measures it: load time, then the best of two runs of a
/// `prompt_tokens` prefill and a `decode_tokens` greedy decode.
pub fn measure_file(
    path: &Path,
    device: &candle_core::Device,
    prompt_tokens: usize,
    decode_tokens: usize,
    context_tokens: usize,
) -> Result<ModelSpeed, AskError> {
    let rss_before = resident_mb();
    let started = Instant::now();
    let model = LocalModel::load(path, device)?;
    let load_secs = started.elapsed().as_secs_f64();
    let prompt = bench_prompt(&model, prompt_tokens)?;
    let timed = time_prefill_and_decode(&model, &prompt, decode_tokens, 2)?;
    let rss_growth_mb = (resident_mb() - rss_before).max(0.0);
    let file_bytes = std::fs::metadata(path).map_err(|source| LlmError::Io { path: path.to_path_buf(), source })?.len();
    Ok(ModelSpeed {
        model_id: String::new(),
        file_sha256: String::new(),
        file_bytes,
        measured_at_ms: automix_budget::now_ms(),
        device: automix_llm::device::label(device),
        cpu_kernels: format!("{:?}", automix_llm::kernels::isa()).to_lowercase(),
        threads: candle_core::utils::get_num_threads(),
        prompt_tokens,
        decode_tokens,
        load_secs,
        prefill_tokens_per_sec: prompt_tokens as f64 / timed.prefill_secs,
        decode_tokens_per_sec: decode_tokens as f64 / timed.decode_secs.max(f64::MIN_POSITIVE),
        memory_needed_mb: memory_needed_mb(file_bytes, model.config(), context_tokens),
        context_tokens,
        rss_growth_mb,
    })
}

/// Measures the installed catalog chat model `id` with the short run and keeps the figures in
/// `model-speeds.json`. Takes a few seconds (the load, 2 × 128 tokens in, 2 × 32 out).
pub fn measure_chat_model(paths: &AssistantPaths, id: &str, device: automix_llm::DeviceChoice, context_tokens: usize) -> Result<ModelSpeed, AskError> {
    let catalog = automix_models::Catalog::bundled();
    let entry = catalog.get(id)?;
    if entry.kind != ModelKind::Chat {
        return Err(crate::settings::SettingsError::Invalid(format!("{id} is not a chat model; only chat models are measured")).into());
    }
    let path = paths.chat_model_file(id)?;
    let device = automix_llm::device::select(device).map_err(LlmError::from)?;
    let mut speed = measure_file(&path, &device, SHORT_PROMPT_TOKENS, SHORT_DECODE_TOKENS, context_tokens)?;
    speed.model_id = id.to_string();
    speed.file_sha256 = installed_sha256(paths, entry).unwrap_or_default();
    SpeedStore::new(&paths.home).put(&speed)?;
    Ok(speed)
}

/// The sha256 the manifest recorded for the entry's file when it was installed.
fn installed_sha256(paths: &AssistantPaths, entry: &CatalogEntry) -> Option<String> {
    paths.models().manifest(entry)?.files.into_iter().find(|f| f.name == entry.file).map(|f| f.sha256)
}

/// The figures of `entry` if they were measured on its installed file as it is now.
pub fn measured_speed(paths: &AssistantPaths, entry: &CatalogEntry) -> Option<ModelSpeed> {
    let manifest = paths.models().manifest(entry)?;
    let file = manifest.files.into_iter().find(|f| f.name == entry.file)?;
    SpeedStore::new(&paths.home).get(&entry.id, &file.sha256, file.bytes)
}

/// What the model table shows of one catalog model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelFigures {
    /// The size of the file the app loads (see `CatalogEntry::download_bytes`).
    pub download_bytes: u64,
    /// Memory the model needs at the settings' context (MiB; the module's formula); `None` for
    /// the embedder.
    pub memory_needed_mb: Option<f64>,
    /// `false` where the model is not installed yet: the figure is then its download size plus
    /// the runtime overhead, without the KV cache (whose size the file's header gives).
    pub memory_exact: bool,
    /// The figures measured on the installed file, if any.
    pub speed: Option<ModelSpeed>,
}

/// The download size, memory and measured speed of a catalog model, at `context_tokens`.
pub fn model_figures(paths: &AssistantPaths, entry: &CatalogEntry, context_tokens: usize) -> ModelFigures {
    let download_bytes = entry.download_bytes();
    if entry.kind != ModelKind::Chat {
        return ModelFigures { download_bytes, memory_needed_mb: None, memory_exact: false, speed: None };
    }
    let speed = measured_speed(paths, entry);
    let exact = match &speed {
        Some(speed) if speed.context_tokens == context_tokens => Some(speed.memory_needed_mb),
        _ => paths.models().locate(entry).ok().and_then(|path| memory_needed_for_file(&path, context_tokens).ok()),
    };
    let memory_exact = exact.is_some();
    let memory = exact.unwrap_or(download_bytes as f64 / MB + RUNTIME_OVERHEAD_MB);
    ModelFigures { download_bytes, memory_needed_mb: Some(memory), memory_exact, speed }
}

/// `model-speeds.json`: the last figures of each model, by model id.
pub struct SpeedStore {
    path: PathBuf,
}

/// Read-modify-write of the file, one at a time within the process.
static WRITING: Mutex<()> = Mutex::new(());

impl SpeedStore {
    pub fn new(home: &Path) -> Self {
        Self { path: home.join(SPEEDS_FILE) }
    }

    /// Every stored figure; an unreadable or damaged file reads as empty (it is only a cache of
    /// measurements: the next measurement rewrites it).
    pub fn all(&self) -> BTreeMap<String, ModelSpeed> {
        std::fs::read_to_string(&self.path).ok().and_then(|text| serde_json::from_str(&text).ok()).unwrap_or_default()
    }

    /// The figures of `id`, if they were measured on a file with this sha256 and size.
    pub fn get(&self, id: &str, sha256: &str, bytes: u64) -> Option<ModelSpeed> {
        self.all().remove(id).filter(|speed| speed.file_sha256 == sha256 && speed.file_bytes == bytes)
    }

    /// Keeps `speed` in place of the model's earlier figures (written to a side file, then renamed).
    pub fn put(&self, speed: &ModelSpeed) -> Result<(), AskError> {
        let _one_at_a_time = WRITING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut all = self.all();
        all.insert(speed.model_id.clone(), speed.clone());
        let io = |source| AskError::Io { path: self.path.clone(), source };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let staging = self.path.with_extension(format!("json.{}.tmp", std::process::id()));
        std::fs::write(&staging, serde_json::to_string_pretty(&all).expect("figures serialize")).map_err(io)?;
        std::fs::rename(&staging, &self.path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automix_llm::tiny::{write_tiny_llama, TinySpec};

    fn config() -> ModelConfig {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.gguf");
        write_tiny_llama(&path, &TinySpec::default()).unwrap();
        let gguf = automix_llm::gguf::GgufFile::open(&path).unwrap();
        ModelConfig::from_gguf(&gguf).unwrap()
    }

    #[test]
    fn memory_is_the_file_plus_the_kv_cache_at_the_context_plus_the_overhead() {
        let config = config();
        // 2 layers × 2 KV heads × 16 (64 / 4 heads) × 2 (keys, values) × 4 bytes = 512 bytes a token.
        assert_eq!(kv_cache_bytes(&config, 1), 512);
        let needed = memory_needed_mb(10 * 1024 * 1024, &config, 1024);
        let expected = 10.0 + (512.0 * (1024 + PROMPT_OVERHEAD_TOKENS) as f64) / MB + RUNTIME_OVERHEAD_MB;
        assert!((needed - expected).abs() < 1e-9, "{needed} vs {expected}");
        assert!(memory_needed_mb(0, &config, 4096) > memory_needed_mb(0, &config, 1024), "a longer context needs more");
    }

    #[test]
    fn the_short_run_measures_a_model_and_the_store_keys_it_by_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.gguf");
        write_tiny_llama(&path, &TinySpec::default()).unwrap();
        let mut speed = measure_file(&path, &candle_core::Device::Cpu, SHORT_PROMPT_TOKENS, SHORT_DECODE_TOKENS, 256).unwrap();
        for figure in [speed.load_secs, speed.prefill_tokens_per_sec, speed.decode_tokens_per_sec, speed.memory_needed_mb] {
            assert!(figure > 0.0 && figure.is_finite(), "{speed:?}");
        }
        assert_eq!((speed.prompt_tokens, speed.decode_tokens), (128, 32));
        assert_eq!(speed.file_bytes, std::fs::metadata(&path).unwrap().len());
        assert_eq!(speed.memory_needed_mb, memory_needed_for_file(&path, 256).unwrap());

        speed.model_id = "tiny".into();
        speed.file_sha256 = "aa".into();
        let store = SpeedStore::new(dir.path());
        assert!(store.get("tiny", "aa", speed.file_bytes).is_none(), "nothing measured yet");
        store.put(&speed).unwrap();
        store.put(&ModelSpeed { model_id: "other".into(), ..speed.clone() }).unwrap();
        assert_eq!(store.get("tiny", "aa", speed.file_bytes), Some(speed.clone()));
        assert!(store.get("tiny", "bb", speed.file_bytes).is_none(), "a changed file is measured again");
        assert!(store.get("tiny", "aa", speed.file_bytes + 1).is_none(), "a changed file is measured again");
        assert_eq!(store.all().len(), 2);
        assert!(!dir.path().read_dir().unwrap().any(|e| e.unwrap().file_name().to_string_lossy().ends_with(".tmp")));
        std::fs::write(dir.path().join(SPEEDS_FILE), "{ not json").unwrap();
        assert!(store.all().is_empty(), "a damaged file reads as nothing measured");
        store.put(&speed).unwrap();
        assert_eq!(store.all().len(), 1);
    }
}
