//! Few-shot self-verification: the local model judges whether its own answer is supported by the context.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use automix_llm::{KvCache, LlmError, LocalModel, Message, SamplingParams};
use serde::{Deserialize, Serialize};

use crate::prompts::{verification_messages, VERDICT_PREFIX};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum VerifyMode {
    /// One forward pass: v = P(" Correct") / (P(" Correct") + P(" Incorrect")) from the logits.
    Logit,
    /// The paper's procedure: k sampled judgements, v = share of well-formed ones that say Correct.
    Sample { k: usize, temperature: f64, seed: u64 },
}

impl VerifyMode {
    /// The paper's setting: k = 8 at temperature 1.
    pub const PAPER: VerifyMode = VerifyMode::Sample { k: 8, temperature: 1.0, seed: 1 };
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verification {
    /// Confidence that the answer is correct, in 0..1.
    pub v: f64,
    pub mode: VerifyMode,
    /// Tokens the model had to read or generate (beyond what the KV cache already held).
    pub tokens_processed: usize,
    pub secs: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("self-verification failed: {0}")]
    Model(#[from] LlmError),
}

/// Judges `answer`, produced by `answer_conversation` (see `prompts::answer_messages`), against the
/// context in it. Pass the cache used to produce the answer: the demonstrations, context and question
/// are then already in it and only the verdict request is read.
pub fn verify(
    model: &LocalModel,
    answer_conversation: &[Message],
    answer: &str,
    mode: VerifyMode,
    cache: &mut KvCache,
    cancel: &AtomicBool,
) -> Result<Verification, VerifyError> {
    let started = Instant::now();
    let conversation = model.chat_prompt(&verification_messages(answer_conversation, answer), true)?;
    let (v, tokens_processed) = match mode {
        VerifyMode::Logit => {
            let prompt = format!("{conversation}{VERDICT_PREFIX}");
            let prompt_tokens = model.tokenizer().encode(&prompt)?;
            let new_tokens = prompt_tokens.len() - cache.reusable_prefix(&prompt_tokens);
            let p = model.score(&prompt, &[" Correct", " Incorrect"], cache, cancel)?;
            let v = if p[0] + p[1] > 0.0 { p[0] / (p[0] + p[1]) } else { 0.5 };
            // " Incorrect" is two tokens in SmolLM2's vocabulary: one more short pass.
            (v, new_tokens + model.tokenizer().encode(" Incorrect")?.len() - 1)
        }
        VerifyMode::Sample { k, temperature, seed } => {
            let (mut correct, mut well_formed, mut processed) = (0usize, 0usize, 0usize);
            for i in 0..k {
                let params = SamplingParams {
                    temperature,
                    top_p: 1.0,
                    seed: seed.wrapping_add(i as u64),
                    max_tokens: 64,
                    stop: vec!["---".into(), "\n\n".into()],
                    never_first: Vec::new(),
                    stop_repeating: true,
                };
                let judgement = model.generate(&conversation, cache, &params, cancel, &mut |_| {})?;
                processed += judgement.timings.prefill_tokens + judgement.timings.decode_tokens;
                let text = judgement.text.to_lowercase();
                if text.contains("the ai generated answer is") {
                    well_formed += 1;
                    if text.contains("the ai generated answer is correct") {
                        correct += 1;
                    }
                }
            }
            let v = if well_formed == 0 { 0.0 } else { correct as f64 / well_formed as f64 };
            (v, processed)
        }
    };
    Ok(Verification { v, mode, tokens_processed, secs: started.elapsed().as_secs_f64() })
}
