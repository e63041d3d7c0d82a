//! The GPU against the CPU: logits, greedy answers, verification and embeddings. They are built
//! to run only with the `cuda` feature (`make gpu`); in other builds they are ignored, and the test
//! summary says so. A CUDA build on a machine without a GPU (or without the model files) says on
//! stderr, and in its report, that a test did not run and why; with `AUTOMIX_REQUIRE_GPU=1`, which
//! `tools/gpu-check.sh` sets, such a skip is a failure.
//!
//! Both devices round activations to 8 bits before their quantized matmuls (the CPU in blocks of
//! 32 on AVX-512 machines, the GPU in llama.cpp's Q8_1 blocks), each its own way, so logits agree
//! to a small share of their range rather than bit for bit: within `LOGIT_TOLERANCE` of the
//! largest |logit|, the bound the CPU kernels keep against candle's own matmuls.
//!
//! With `AUTOMIX_GPU_REPORT=DIR`, each test writes its figures to `DIR/<test>.json`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use automix::docs::Embedder;
use automix::llm::device::{self, DeviceChoice};
use automix::llm::tiny::{write_tiny_llama, TinySpec};
use automix::llm::{KvCache, LocalModel, Logits, SamplingParams};
use automix::models::{Catalog, ModelKind, ModelStore};
use automix::prompts::answer_messages;
use automix::verify::{verify, VerifyMode};
use candle_core::Device;
use serde_json::{json, Value};

/// Largest logit difference allowed, as a share of the largest |logit|.
const LOGIT_TOLERANCE: f32 = 0.02;
/// Largest difference allowed in a verification probability.
const VERIFICATION_TOLERANCE: f64 = 0.02;
/// Smallest cosine allowed between a text's CPU and GPU embeddings.
const MIN_EMBEDDING_COSINE: f32 = 0.999;

const FRANCE: &str = include_str!("../assets/france.md");

/// Writes the figures of `test` where `AUTOMIX_GPU_REPORT` says.
fn report(test: &str, figures: Value) {
    if let Some(dir) = std::env::var_os("AUTOMIX_GPU_REPORT") {
        let path = PathBuf::from(dir).join(format!("{test}.json"));
        std::fs::write(&path, figures.to_string()).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }
}

/// Says on stderr, and in the report, that `test` did not run and why.
fn not_run(test: &str, reason: &str) {
    // Straight to the stream, which the harness does not capture as it does `eprintln!`; locked,
    // so that tests running side by side do not interleave their lines.
    let _ = writeln!(std::io::stderr().lock(), "{test}: did not run: {reason}");
    report(test, json!({ "ran": false, "reason": reason }));
    if std::env::var("AUTOMIX_REQUIRE_GPU").is_ok_and(|value| !value.is_empty() && value != "0") {
        panic!("{test} did not run ({reason}), and AUTOMIX_REQUIRE_GPU makes a skip a failure");
    }
}

/// GPU 0, or None after saying why the test does not run.
fn gpu(test: &str) -> Option<Device> {
    match device::select(DeviceChoice::Cuda(0)) {
        Ok(device) => Some(device),
        Err(error) => {
            not_run(test, &error.to_string());
            None
        }
    }
}

/// An installed model of the catalog, or None after saying why the test does not run.
fn installed(test: &str, kind: ModelKind) -> Option<PathBuf> {
    let entry = Catalog::bundled().default_for(kind).clone();
    let store = ModelStore::from_env();
    match store.locate(&entry) {
        Ok(file) => Some(if kind == ModelKind::Embedding { store.model_dir(&entry) } else { file }),
        Err(error) => {
            not_run(test, &format!("{error} (AUTOMIX_HOME points at the models; `make models` installs them)"));
            None
        }
    }
}

/// How far two sets of logits are apart, against the tolerance.
struct LogitGap {
    max_difference: f32,
    scale: f32,
    /// Rows whose largest logit is a different token.
    top1_disagreements: usize,
    rows: usize,
    /// No NaN or infinity on the GPU (which the maximum above would skip).
    finite: bool,
}

impl LogitGap {
    fn new(cpu: &[Vec<f32>], gpu: &[Vec<f32>]) -> Self {
        assert_eq!(cpu.len(), gpu.len(), "as many rows of logits");
        let argmax = |row: &[f32]| automix::llm::sampling::argmax(row);
        let scale = cpu.iter().flatten().fold(0f32, |m, v| m.max(v.abs()));
        let max_difference = cpu.iter().flatten().zip(gpu.iter().flatten()).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        let top1_disagreements = cpu.iter().zip(gpu).filter(|(a, b)| argmax(a) != argmax(b)).count();
        let finite = gpu.iter().flatten().all(|v| v.is_finite());
        Self { max_difference, scale, top1_disagreements, rows: cpu.len(), finite }
    }

    fn within_tolerance(&self) -> bool {
        self.finite && self.max_difference <= LOGIT_TOLERANCE * self.scale.max(1.0)
    }

    fn figures(&self) -> Value {
        json!({
            "max_abs_difference": self.max_difference,
            "max_abs_logit": self.scale,
            "tolerance": LOGIT_TOLERANCE * self.scale.max(1.0),
            "top1_disagreements": self.top1_disagreements,
            "rows": self.rows,
            "finite": self.finite,
        })
    }
}

/// Logits of a prompt (every position) and of `steps` decode steps fed the CPU's greedy tokens, so
/// both devices see the same inputs.
fn prompt_and_decode_logits(model: &LocalModel, prompt: &[u32], tokens: &[u32]) -> Vec<Vec<f32>> {
    let mut cache = KvCache::new();
    let mut rows: Vec<Vec<f32>> = model.forward(prompt, &mut cache, Logits::All).unwrap().to_vec2().unwrap();
    for &token in tokens {
        rows.push(model.forward(&[token], &mut cache, Logits::Last).unwrap().to_vec1().unwrap());
    }
    rows
}

/// The CPU's greedy continuation of `prompt`, `steps` tokens long.
fn greedy_tokens(model: &LocalModel, prompt: &[u32], steps: usize) -> Vec<u32> {
    let mut cache = KvCache::new();
    let mut logits: Vec<f32> = model.forward(prompt, &mut cache, Logits::Last).unwrap().to_vec1().unwrap();
    let mut tokens = Vec::with_capacity(steps);
    for _ in 0..steps {
        let token = automix::llm::sampling::argmax(&logits);
        tokens.push(token);
        logits = model.forward(&[token], &mut cache, Logits::Last).unwrap().to_vec1().unwrap();
    }
    tokens
}

#[test]
#[cfg_attr(not(feature = "cuda"), ignore = "needs the cuda feature (make gpu; tools/gpu-check.sh runs it)")]
fn tiny_model_logits_match_the_cpu() {
    const TEST: &str = "tiny_model_logits_match_the_cpu";
    let Some(gpu) = gpu(TEST) else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.gguf");
    write_tiny_llama(&path, &TinySpec { n_embd: 128, n_ff: 256, ..TinySpec::default() }).unwrap();
    let (on_cpu, on_gpu) = (LocalModel::load(&path, &Device::Cpu).unwrap(), LocalModel::load(&path, &gpu).unwrap());
    let prompt: Vec<u32> = (0..37).map(|i| (i * 7 + 3) % on_cpu.config().vocab_size as u32).collect();
    let steps = greedy_tokens(&on_cpu, &prompt, 16);
    let gap = LogitGap::new(&prompt_and_decode_logits(&on_cpu, &prompt, &steps), &prompt_and_decode_logits(&on_gpu, &prompt, &steps));
    report(TEST, json!({ "ran": true, "device": device::label(&gpu), "logits": gap.figures() }));
    assert!(gap.within_tolerance(), "GPU logits differ from the CPU's: {}", gap.figures());
}

#[test]
#[cfg_attr(not(feature = "cuda"), ignore = "needs the cuda feature (make gpu; tools/gpu-check.sh runs it)")]
fn smollm2_logits_greedy_answer_and_verification_match_the_cpu() {
    const TEST: &str = "smollm2_logits_greedy_answer_and_verification_match_the_cpu";
    let Some(gpu) = gpu(TEST) else { return };
    let Some(path) = installed(TEST, ModelKind::Chat) else { return };
    let (on_cpu, on_gpu) = (LocalModel::load(&path, &Device::Cpu).unwrap(), LocalModel::load(&path, &gpu).unwrap());
    let never = AtomicBool::new(false);
    let conversation = answer_messages(FRANCE, "What is the capital of France?", &[]);
    let prompt = on_cpu.chat_prompt(&conversation, true).unwrap();
    let prompt_tokens = on_cpu.tokenizer().encode(&prompt).unwrap();

    let steps = greedy_tokens(&on_cpu, &prompt_tokens, 16);
    let gap = LogitGap::new(&prompt_and_decode_logits(&on_cpu, &prompt_tokens, &steps), &prompt_and_decode_logits(&on_gpu, &prompt_tokens, &steps));

    // The whole answer → verify path, each device with its own cache, as the app runs it.
    let params = SamplingParams { max_tokens: 48, ..Default::default() };
    let answer_and_verdict = |model: &LocalModel| {
        let mut cache = KvCache::new();
        let answer = model.generate(&prompt, &mut cache, &params, &never, &mut |_| {}).unwrap();
        let verdict = verify(model, &conversation, &answer.text, VerifyMode::Logit, &mut cache, &never).unwrap();
        (answer, verdict)
    };
    let (cpu_answer, cpu_verdict) = answer_and_verdict(&on_cpu);
    let (gpu_answer, gpu_verdict) = answer_and_verdict(&on_gpu);
    let verification_difference = (cpu_verdict.v - gpu_verdict.v).abs();
    let timings = |answer: &automix::llm::Generation| json!({ "prefill_tokens_per_sec": answer.timings.prefill_tokens_per_sec(), "decode_tokens_per_sec": answer.timings.decode_tokens_per_sec() });
    report(
        TEST,
        json!({
            "ran": true,
            "device": device::label(&gpu),
            "prompt_tokens": prompt_tokens.len(),
            "logits": gap.figures(),
            "greedy_answer_identical": cpu_answer.tokens == gpu_answer.tokens,
            "cpu_answer": cpu_answer.text,
            "gpu_answer": gpu_answer.text,
            "verification": { "cpu": cpu_verdict.v, "gpu": gpu_verdict.v, "difference": verification_difference, "tolerance": VERIFICATION_TOLERANCE },
            "cpu_timings": timings(&cpu_answer),
            "gpu_timings": timings(&gpu_answer),
        }),
    );
    assert!(gap.within_tolerance(), "GPU logits differ from the CPU's: {}", gap.figures());
    assert_eq!(gpu_answer.text, cpu_answer.text, "greedy answers differ");
    assert!(verification_difference <= VERIFICATION_TOLERANCE, "verification: CPU {} against GPU {}", cpu_verdict.v, gpu_verdict.v);
}

#[test]
#[cfg_attr(not(feature = "cuda"), ignore = "needs the cuda feature (make gpu; tools/gpu-check.sh runs it)")]
fn embeddings_match_the_cpu() {
    const TEST: &str = "embeddings_match_the_cpu";
    let Some(gpu) = gpu(TEST) else { return };
    let Some(dir) = installed(TEST, ModelKind::Embedding) else { return };
    let (on_cpu, on_gpu) = (Embedder::load(&dir, &Device::Cpu).unwrap(), Embedder::load(&dir, &gpu).unwrap());
    // Paragraphs of different lengths, so batches carry padding, and a short query.
    let mut texts: Vec<&str> = FRANCE.split("\n\n").filter(|paragraph| !paragraph.trim().is_empty()).collect();
    texts.push("What is the capital of France?");
    let (cpu_vectors, gpu_vectors) = (on_cpu.embed(&texts).unwrap(), on_gpu.embed(&texts).unwrap());
    let cosines: Vec<f32> = cpu_vectors.iter().zip(&gpu_vectors).map(|(a, b)| a.iter().zip(b).map(|(x, y)| x * y).sum()).collect();
    let min_cosine = cosines.iter().copied().fold(f32::MAX, f32::min);
    report(TEST, json!({ "ran": true, "device": device::label(&gpu), "texts": texts.len(), "min_cosine": min_cosine, "tolerance": MIN_EMBEDDING_COSINE }));
    // Each compared, not the minimum: `f32::min` passes over a NaN.
    assert!(cosines.iter().all(|&cosine| cosine >= MIN_EMBEDDING_COSINE), "a GPU embedding differs from the CPU's: cosines {cosines:?}");
}
