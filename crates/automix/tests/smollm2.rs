//! Integration tests on the real SmolLM2-135M-Instruct model, installed by `make test`
//! (`automix models pull smollm2-135m-instruct`).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use automix::llm::kernels::Isa;
use automix::llm::{KvCache, LocalModel, SamplingParams};
use automix::models::{Catalog, ModelKind, ModelStore};
use automix::prompts::{answer_messages, answer_sampling, shared_prefix, Turn};
use candle_core::quantized::tokenizer::TokenizerFromGguf;
use candle_core::Device;

fn smollm2_path() -> PathBuf {
    let catalog = Catalog::bundled();
    ModelStore::from_env().locate(catalog.default_for(ModelKind::Chat)).unwrap_or_else(|e| panic!("{e} (make test installs it)"))
}

fn smollm2() -> LocalModel {
    LocalModel::load(&smollm2_path(), &Device::Cpu).unwrap()
}

const FRANCE: &str = include_str!("../assets/france.md");

#[test]
fn tokenizer_matches_smollm2_upstream_rules() {
    let model = smollm2();
    let tok = model.tokenizer();
    let pieces = |text: &str| -> Vec<String> { tok.encode(text).unwrap().iter().map(|&id| tok.token(id).unwrap()).collect() };
    // Special tokens are single ids, and nothing is inserted after them.
    // Ids as the upstream tokenizer.json gives them.
    assert_eq!(tok.encode("<|im_start|>user\nHi<|im_end|>\n").unwrap()[..3], [1, 4093, 198]);
    assert_eq!(tok.encode("<|im_start|>assistant\n").unwrap(), [1, 520, 9531, 198]);
    assert_eq!(tok.encode(" Paris").unwrap(), [7042]);
    // Digits are split one by one, words keep their leading space.
    assert_eq!(pieces("in 2024"), ["in", "Ġ", "2", "0", "2", "4"]);
    assert_eq!(pieces(" Paris"), ["ĠParis"]);
    assert_eq!(pieces("Hello"), ["Hello"], "no prefix space at the start of text");
    // Byte-level round trip on awkward text.
    for text in ["naïve café — 東京 🚀", "tabs\tand   spaces\n\n\nnewlines", "  leading and trailing  ", "x=1e-5; y<=2"] {
        assert_eq!(tok.decode(&tok.encode(text).unwrap()).unwrap(), text);
    }
}

#[test]
fn generic_gguf_tokenizer_would_insert_spaces_after_special_tokens() {
    // Documents why the SmolLM override exists: candle's generic fallback breaks the chat format.
    let mut file = std::fs::File::open(smollm2_path()).unwrap();
    let content = candle_core::quantized::gguf_file::Content::read(&mut file).unwrap();
    let generic = tokenizers::Tokenizer::from_gguf(&content).unwrap();
    let ids = generic.encode("<|im_start|>user", false).unwrap().get_ids().to_vec();
    assert_eq!(generic.id_to_token(ids[1]).unwrap(), "Ġuser");
    let ours = smollm2();
    assert_ne!(ours.tokenizer().encode("<|im_start|>user").unwrap(), ids);
}

#[test]
fn answers_paris_about_france() {
    let model = smollm2();
    let prompt = model.chat_prompt(&answer_messages(FRANCE, "What is the capital of France?", &[]), true).unwrap();
    let params = answer_sampling(&model, 24);
    let mut streamed = String::new();
    let answer = model.generate(&prompt, &mut KvCache::new(), &params, &AtomicBool::new(false), &mut |t| streamed.push_str(t)).unwrap();
    assert!(answer.text.contains("Paris"), "answer was {:?}", answer.text);
    assert_eq!(streamed, answer.text);
    assert!(answer.mean_logprob() < 0.0 && answer.mean_logprob() > -5.0);
}

/// The greedy answer is the same on every CPU kernel set this machine has as with candle's own
/// kernels (`Generic`), token for token: the kernels change speed, not answers. (The answer opens
/// with "# France" on all of them; `answer_sampling` is what keeps headings out of the app's answers.)
#[test]
fn every_cpu_kernel_set_gives_candles_greedy_answer() {
    let prompt_of = |model: &LocalModel| model.chat_prompt(&answer_messages(FRANCE, "What is the capital of France?", &[]), true).unwrap();
    let params = SamplingParams { max_tokens: 24, ..Default::default() };
    let answer = |kernels: Isa| {
        let model = LocalModel::load_with_kernels(&smollm2_path(), &Device::Cpu, kernels).unwrap();
        model.generate(&prompt_of(&model), &mut KvCache::new(), &params, &AtomicBool::new(false), &mut |_| {}).unwrap()
    };
    let reference = answer(Isa::Generic);
    assert!(reference.text.contains("Paris"), "candle's answer: {:?}", reference.text);
    for kernels in Isa::all_supported().into_iter().filter(|&isa| isa > Isa::Generic) {
        assert_eq!(answer(kernels).tokens, reference.tokens, "{kernels:?} against candle's {:?}", reference.text);
    }
}

#[test]
fn context_prefilled_once_serves_two_questions_exactly() {
    let model = smollm2();
    let never = AtomicBool::new(false);
    let params = SamplingParams { max_tokens: 12, ..Default::default() };
    let mut cache = KvCache::new();
    for question in ["What is the capital of France?", "What currency does France use?"] {
        let prompt = model.chat_prompt(&answer_messages(FRANCE, question, &[]), true).unwrap();
        let fresh = model.generate(&prompt, &mut KvCache::new(), &params, &never, &mut |_| {}).unwrap();
        let reused = model.generate(&prompt, &mut cache, &params, &never, &mut |_| {}).unwrap();
        assert_eq!(reused.text, fresh.text);
        assert_eq!(fresh.timings.reused_tokens, 0);
    }
    // The second question reuses the system prompt and the whole context from the first.
    let context_tokens = model.count_tokens(FRANCE).unwrap();
    let second = model.chat_prompt(&answer_messages(FRANCE, "Who?", &[]), true).unwrap();
    let again = model.generate(&second, &mut cache, &params, &never, &mut |_| {}).unwrap();
    assert!(again.timings.reused_tokens > context_tokens, "{:?}", again.timings);
}

#[test]
fn the_prefix_prefilled_at_load_is_reused_by_every_question() {
    let model = smollm2();
    let prefix = model.chat_prompt(&shared_prefix(), false).unwrap();
    let prefix_tokens = model.tokenizer().encode(&prefix).unwrap();
    let mut cache = KvCache::new();
    model.prefill(&prefix_tokens, &mut cache, &AtomicBool::new(false)).unwrap();
    let earlier = [Turn { question: "What is France?".into(), answer: "A country in Europe.".into(), read_private: false }];
    let prompt = model.chat_prompt(&answer_messages(FRANCE, "What is its capital?", &earlier), true).unwrap();
    let params = SamplingParams { max_tokens: 4, ..Default::default() };
    let answer = model.generate(&prompt, &mut cache, &params, &AtomicBool::new(false), &mut |_| {}).unwrap();
    assert_eq!(answer.timings.reused_tokens, prefix_tokens.len(), "{:?}", answer.timings);
}
