//! Loading, tokenizing, generating and scoring on a tiny random GGUF written by the test itself.

use std::sync::atomic::AtomicBool;

use automix_llm::kv_cache::KvCache;
use automix_llm::tiny::{write_tiny_llama, TinySpec};
use automix_llm::transformer::Logits;
use automix_llm::{LlmError, LocalModel, Message, SamplingParams};
use candle_core::Device;

fn tiny_model(dir: &tempfile::TempDir) -> LocalModel {
    let path = dir.path().join("tiny.gguf");
    write_tiny_llama(&path, &TinySpec::default()).unwrap();
    LocalModel::load(&path, &Device::Cpu).unwrap()
}

fn never() -> AtomicBool {
    AtomicBool::new(false)
}

#[test]
fn tokenizer_has_no_prefix_space_and_keeps_specials_whole() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(&dir);
    let tok = model.tokenizer();
    let ids = tok.encode("<|im_start|>user\nParis").unwrap();
    assert_eq!(ids[0], 1, "<|im_start|> must be one special token");
    let pieces: Vec<String> = ids.iter().map(|&i| tok.token(i).unwrap()).collect();
    assert_eq!(pieces[1], "u", "no space may be inserted after a special token: {pieces:?}");
    assert_eq!(tok.encode(" Paris").unwrap(), vec![tok.token_id("ĠParis").unwrap()]);
    for text in ["Hello, wörld! 123\n\n  tabs\tand ünïcödé ✓", "<|im_end|>\n<|im_start|>assistant\n", ""] {
        assert_eq!(
            tok.decode(&tok.encode(text).unwrap()).unwrap().replace("<|im_end|>", "").replace("<|im_start|>", ""),
            text.replace("<|im_end|>", "").replace("<|im_start|>", "")
        );
    }
}

#[test]
fn incremental_decoding_matches_a_full_forward_pass() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(&dir);
    let tokens = model.tokenizer().encode("the Paris is the Paris").unwrap();
    let full: Vec<Vec<f32>> = model.forward(&tokens, &mut KvCache::new(), Logits::All).unwrap().to_vec2().unwrap();
    let mut cache = KvCache::new();
    for (i, &token) in tokens.iter().enumerate() {
        let step: Vec<f32> = model.forward(&[token], &mut cache, Logits::Last).unwrap().to_vec1().unwrap();
        let max_diff = step.iter().zip(&full[i]).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(max_diff < 1e-3, "position {i}: cached step differs from full pass by {max_diff}");
    }
}

#[test]
fn snapshot_restore_reproduces_the_same_generation() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(&dir);
    let params = SamplingParams { max_tokens: 12, ..Default::default() };
    let prefix = model.chat_prompt(&[Message::system("You answer."), Message::user("Where is the Paris?")], true).unwrap();
    let mut fresh = KvCache::new();
    let expected = model.generate(&prefix, &mut fresh, &params, &never(), &mut |_| {}).unwrap();

    let mut cache = KvCache::new();
    let split = prefix.find("Where").unwrap();
    model.prefill(&model.tokenizer().encode(&prefix[..split]).unwrap(), &mut cache, &never()).unwrap();
    let snapshot = cache.snapshot();
    // Unrelated work after the snapshot must not leak into it.
    model.generate("is the is the", &mut cache, &params, &never(), &mut |_| {}).unwrap();
    cache.restore(&snapshot);
    let mut streamed = String::new();
    let again = model.generate(&prefix, &mut cache, &params, &never(), &mut |t| streamed.push_str(t)).unwrap();
    assert!(again.timings.reused_tokens > 5, "the snapshot's prefix is reused: {:?}", again.timings);
    assert_eq!(again.timings.reused_tokens + again.timings.prefill_tokens, model.tokenizer().encode(&prefix).unwrap().len());
    assert_eq!(again.tokens, expected.tokens);
    assert_eq!(streamed, again.text);
    assert_eq!(again.tokens.len(), 12);
}

#[test]
fn score_matches_probabilities_from_generation() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(&dir);
    let prompt = "the Paris";
    let mut cache = KvCache::new();
    let generation = model.generate(prompt, &mut cache, &SamplingParams { max_tokens: 2, ..Default::default() }, &never(), &mut |_| {}).unwrap();
    let greedy = model.tokenizer().decode(&generation.tokens).unwrap();
    let expected: f64 = generation.token_logprobs.iter().map(|&l| l as f64).sum::<f64>().exp();
    let mut cache = KvCache::new();
    let scores = model.score(prompt, &[greedy.as_str(), " the"], &mut cache, &never()).unwrap();
    assert!((scores[0] - expected).abs() < 1e-4 * expected.max(1e-6) + 1e-6, "{scores:?} vs {expected}");
    assert!(scores.iter().all(|&p| p > 0.0 && p <= 1.0));
    assert_eq!(cache.len(), model.tokenizer().encode(prompt).unwrap().len(), "cache holds exactly the prompt");
}

#[test]
fn sampling_is_deterministic_for_a_seed_and_cancellation_stops() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(&dir);
    let params = SamplingParams { temperature: 1.0, top_p: 0.9, seed: 42, max_tokens: 16, ..Default::default() };
    let run = |params: &SamplingParams| model.generate("the", &mut KvCache::new(), params, &never(), &mut |_| {}).unwrap().tokens;
    assert_eq!(run(&params), run(&params));
    assert_ne!(run(&params), run(&SamplingParams { seed: 43, ..params.clone() }));
    let cancelled = AtomicBool::new(true);
    let err = model.generate("the", &mut KvCache::new(), &params, &cancelled, &mut |_| {}).unwrap_err();
    assert!(matches!(err, LlmError::Cancelled));
}

#[test]
fn context_overflow_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(&dir);
    let long = "the ".repeat(600);
    let err = model.generate(&long, &mut KvCache::new(), &SamplingParams::default(), &never(), &mut |_| {}).unwrap_err();
    assert!(matches!(err, LlmError::ContextOverflow { context: 512, .. }), "{err}");
}

#[test]
fn missing_and_truncated_files_name_the_file_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.gguf");
    let err = LocalModel::load(&missing, &Device::Cpu).err().unwrap();
    assert!(matches!(err, LlmError::ModelMissing { .. }));
    assert!(err.to_string().contains("nope.gguf") && err.to_string().contains("automix models pull"));

    let path = dir.path().join("tiny.gguf");
    write_tiny_llama(&path, &TinySpec::default()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let truncated = dir.path().join("truncated.gguf");
    std::fs::write(&truncated, &bytes[..bytes.len() - 1000]).unwrap();
    let err = LocalModel::load(&truncated, &Device::Cpu).err().unwrap();
    assert!(matches!(err, LlmError::ModelDamaged { .. }) && err.to_string().contains("truncated"), "{err}");

    let garbage = dir.path().join("garbage.gguf");
    std::fs::write(&garbage, b"this is not a model at all").unwrap();
    let err = LocalModel::load(&garbage, &Device::Cpu).err().unwrap();
    assert!(matches!(err, LlmError::ModelDamaged { .. }), "{err}");
}
