//! Integration tests on the real Qwen2.5-Coder Instruct Q4_K_M files (Q4_K, Q5_0, Q6_K and Q8_0
//! matrices, biases, NeoX RoPE, tied embeddings). The 0.5B's run in `make test`, which installs it;
//! the 1.5B's are ignored there and run by `make test-1.5b`, which installs that model first.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use automix::llm::kernels::Isa;
use automix::llm::transformer::Logits;
use automix::llm::{KvCache, LocalModel, SamplingParams};
use automix::models::{Catalog, ModelStore};
use automix::prompts::{answer_messages, answer_sampling};
use candle_core::Device;

const SMALL: &str = "qwen2.5-coder-0.5b-instruct";
const LARGE: &str = "qwen2.5-coder-1.5b-instruct";
const FRANCE: &str = include_str!("../assets/france.md");
/// Short enough for candle's generic path on a Q4_K_M file (about 10 tokens a second here).
const SHORT_CONTEXT: &str = "France is a country in Western Europe. Its capital and largest city is Paris, on the Seine.";

fn model_path(id: &str) -> PathBuf {
    let catalog = Catalog::bundled();
    ModelStore::from_env().locate(catalog.get(id).unwrap()).unwrap_or_else(|e| panic!("{e} (make test installs the 0.5B, make test-1.5b the 1.5B)"))
}

#[test]
fn small_answers_paris_about_france_through_the_apps_prompt() {
    answers_paris_about_france_through_the_apps_prompt(SMALL);
}

#[test]
#[ignore = "needs Qwen2.5-Coder-1.5B: make test-1.5b"]
fn large_answers_paris_about_france_through_the_apps_prompt() {
    answers_paris_about_france_through_the_apps_prompt(LARGE);
}

#[test]
fn small_every_cpu_kernel_set_gives_candles_greedy_answer() {
    every_cpu_kernel_set_gives_candles_greedy_answer(SMALL);
}

#[test]
#[ignore = "needs Qwen2.5-Coder-1.5B: make test-1.5b"]
fn large_every_cpu_kernel_set_gives_candles_greedy_answer() {
    every_cpu_kernel_set_gives_candles_greedy_answer(LARGE);
}

#[test]
fn small_decode_after_prefill_matches_a_longer_prefill() {
    decode_after_prefill_matches_a_longer_prefill(SMALL);
}

#[test]
#[ignore = "needs Qwen2.5-Coder-1.5B: make test-1.5b"]
fn large_decode_after_prefill_matches_a_longer_prefill() {
    decode_after_prefill_matches_a_longer_prefill(LARGE);
}

fn answers_paris_about_france_through_the_apps_prompt(id: &str) {
    let model = LocalModel::load(&model_path(id), &Device::Cpu).unwrap();
    let prompt = model.chat_prompt(&answer_messages(FRANCE, "What is the capital of France?", &[]), true).unwrap();
    let mut streamed = String::new();
    let answer = model.generate(&prompt, &mut KvCache::new(), &answer_sampling(&model, 32), &AtomicBool::new(false), &mut |t| streamed.push_str(t)).unwrap();
    assert!(answer.text.contains("Paris"), "answer was {:?}", answer.text);
    assert_eq!(streamed, answer.text);
}

/// Every CPU kernel set gives the same greedy answer, token for token, and candle's own kernels
/// (`Generic`) the same one; the first step's logits agree with candle's within the rounding of
/// the activations to 8 bits (candle rounds them per 256 for K-quants, the kernels per 32).
fn every_cpu_kernel_set_gives_candles_greedy_answer(id: &str) {
    let params = SamplingParams { max_tokens: 16, ..Default::default() };
    let run = |kernels: Isa| {
        let model = LocalModel::load_with_kernels(&model_path(id), &Device::Cpu, kernels).unwrap();
        let prompt = model.chat_prompt(&answer_messages(SHORT_CONTEXT, "What is the capital of France?", &[]), true).unwrap();
        let tokens = model.tokenizer().encode(&prompt).unwrap();
        let logits: Vec<f32> = model.prefill(&tokens, &mut KvCache::new(), &AtomicBool::new(false)).unwrap().to_vec1().unwrap();
        let answer = model.generate(&prompt, &mut KvCache::new(), &params, &AtomicBool::new(false), &mut |_| {}).unwrap();
        (logits, answer)
    };
    let (reference_logits, reference) = run(Isa::Generic);
    assert!(reference.text.contains("Paris"), "candle's answer: {:?}", reference.text);
    let scale = reference_logits.iter().fold(0f32, |m, x| m.max(x.abs()));
    for kernels in Isa::all_supported().into_iter().filter(|&isa| isa > Isa::Generic) {
        let (logits, answer) = run(kernels);
        let diff = logits.iter().zip(&reference_logits).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(diff <= 0.05 * scale, "{kernels:?}: first-step logits differ from candle's by {diff} (scale {scale})");
        assert_eq!(answer.tokens, reference.tokens, "{kernels:?}: {:?} against candle's {:?}", answer.text, reference.text);
    }
}

/// Decoding a token after a prefill gives the logits of a prefill of the whole: the kernels' cache
/// and their one-row path agree with their many-row path.
fn decode_after_prefill_matches_a_longer_prefill(id: &str) {
    let model = LocalModel::load(&model_path(id), &Device::Cpu).unwrap();
    let tokens = model.tokenizer().encode(SHORT_CONTEXT).unwrap();
    let (head, last) = tokens.split_at(tokens.len() - 1);
    let never = AtomicBool::new(false);
    let mut cache = KvCache::new();
    model.prefill(head, &mut cache, &never).unwrap();
    let stepped: Vec<f32> = model.forward(last, &mut cache, Logits::Last).unwrap().to_vec1().unwrap();
    let whole: Vec<f32> = model.prefill(&tokens, &mut KvCache::new(), &never).unwrap().to_vec1().unwrap();
    let scale = whole.iter().fold(0f32, |m, x| m.max(x.abs()));
    let diff = stepped.iter().zip(&whole).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(diff <= 0.02 * scale, "decode differs from prefill by {diff} (scale {scale})");
    let argmax = |v: &[f32]| v.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
    assert_eq!(argmax(&stepped), argmax(&whole));
}
