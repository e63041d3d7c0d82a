//! Building routing tables: the local model answers and verifies each item of a QA set, and each
//! row records the answer, its score, the signals and the tokens spent (see `automix_eval::table`).

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;

use automix_eval::metrics::{choice_accuracy, token_f1};
use automix_eval::table::{RoutingRow, ScoredAnswer, TokenCounts};
use automix_router::SignalValues;
use automix_llm::sampling::log_softmax;
use automix_llm::{KvCache, LlmError, LocalModel, SamplingParams};

use crate::datasets::{QaItem, RecordedAnswer};
use crate::prompts::{answer_messages, AnswerStyle};
use crate::verify::{answer_is_grounded, verify, VerifyError, VerifyMode};

#[derive(Debug, Clone)]
pub struct CollectOptions {
    /// Verification modes to run; the first fills `v_logit`/`v_sample` accordingly, as does each other.
    pub verify_modes: Vec<VerifyMode>,
    /// Contexts longer than this many tokens are cut (question-independent, so cut contexts are shared
    /// by all questions on the same document and stay in the KV cache).
    pub max_context_tokens: usize,
    pub max_answer_tokens: usize,
}

impl Default for CollectOptions {
    fn default() -> Self {
        Self { verify_modes: vec![VerifyMode::Logit], max_context_tokens: 3500, max_answer_tokens: 32 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error(transparent)]
    Model(#[from] LlmError),
    #[error(transparent)]
    Verify(#[from] VerifyError),
    #[error("item {id}: multiple-choice item without choices or gold index")]
    BadItem { id: String },
}

/// Answers, scores and verifies one item. `cache` should be reused across items: items that share a
/// context then share its prefill.
pub fn collect_item(
    model: &LocalModel,
    item: &QaItem,
    recorded: &[RecordedAnswer],
    options: &CollectOptions,
    cache: &mut KvCache,
    cancel: &AtomicBool,
) -> Result<RoutingRow, CollectError> {
    let context = truncate_to_tokens(model, &item.context, options.max_context_tokens)?;
    let multiple_choice = item.metric == "accuracy";
    let question = if multiple_choice { with_choices(&item.question, &item.choices) } else { item.question.clone() };
    let conversation = answer_messages(&context, &question, AnswerStyle::Short, &[]);
    let prompt = model.chat_prompt(&conversation, true)?;
    let (answer, score, answer_logprob, prompt_tokens, generated) = if multiple_choice {
        let gold = item.gold_index.filter(|&g| g < item.choices.len()).ok_or_else(|| CollectError::BadItem { id: item.id.clone() })?;
        let letters: Vec<String> = (0..item.choices.len()).map(choice_letter).collect();
        let letter_refs: Vec<&str> = letters.iter().map(String::as_str).collect();
        let new_tokens = new_prompt_tokens(model, &prompt, cache)?;
        let probabilities = model.score(&prompt, &letter_refs, cache, cancel)?;
        let log_probs = log_softmax(&probabilities.iter().map(|p| p.max(1e-30).ln() as f32).collect::<Vec<_>>(), 1.0);
        let best = automix_llm::sampling::argmax(&log_probs) as usize;
        let answer = format!("{}) {}", letters[best], item.choices[best]);
        let score = choice_accuracy(&letters[best], &item.choices, gold);
        (answer, score, log_probs[best] as f64, new_tokens, 1)
    } else {
        let params = SamplingParams { max_tokens: options.max_answer_tokens, stop: vec!["\n".into()], ..Default::default() };
        let generation = model.generate(&prompt, cache, &params, cancel, &mut |_| {})?;
        let score = token_f1(&generation.text, &item.answers);
        let logprob = generation.mean_logprob();
        (generation.text.trim().to_string(), score, logprob, generation.timings.prefill_tokens, generation.tokens.len())
    };
    let mut signals = SignalValues {
        answer_logprob: answer_logprob.is_finite().then_some(answer_logprob),
        answer_tokens: Some(model.count_tokens(&answer)? as f64),
        grounded: Some(answer_is_grounded(&answer, &context)),
        ..Default::default()
    };
    let mut verify_tokens = 0;
    for &mode in &options.verify_modes {
        let verification = verify(model, &conversation, &answer, mode, cache, cancel)?;
        verify_tokens += verification.tokens_processed;
        match mode {
            VerifyMode::Logit => signals.v_logit = Some(verification.v),
            VerifyMode::Sample { .. } => signals.v_sample = Some(verification.v),
        }
    }
    let slm_name = model.path().file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(RoutingRow {
        id: item.id.clone(),
        dataset: item.dataset.clone(),
        question: item.question.clone(),
        slm: ScoredAnswer { model: slm_name, answer, score },
        signals,
        tokens: TokenCounts { prompt: prompt_tokens as u32, generated: generated as u32, verify: verify_tokens as u32 },
        // Recorded flags are exact match for F1 datasets; score remote answers exactly like the local one.
        llm: recorded
            .iter()
            .map(|r| {
                let score = if multiple_choice { f64::from(u8::from(r.correct)) } else { token_f1(&r.answer, &item.answers) };
                ScoredAnswer { model: r.model.clone(), answer: r.answer.clone(), score }
            })
            .collect(),
    })
}

fn choice_letter(index: usize) -> String {
    char::from(b'A' + index as u8).to_string()
}

fn with_choices(question: &str, choices: &[String]) -> String {
    let listed: Vec<String> = choices.iter().enumerate().map(|(i, c)| format!("{}) {}", choice_letter(i), c.trim())).collect();
    format!("{}\n{}\nReply with the letter of the right choice.", question.trim(), listed.join("\n"))
}

fn new_prompt_tokens(model: &LocalModel, prompt: &str, cache: &KvCache) -> Result<usize, LlmError> {
    let tokens = model.tokenizer().encode(prompt)?;
    Ok(tokens.len() - cache.reusable_prefix(&tokens))
}

fn truncate_to_tokens(model: &LocalModel, text: &str, max_tokens: usize) -> Result<String, LlmError> {
    let tokens = model.tokenizer().encode(text)?;
    if tokens.len() <= max_tokens {
        return Ok(text.to_string());
    }
    model.tokenizer().decode(&tokens[..max_tokens])
}

/// Orders items so those sharing a context are adjacent (their prefill is then shared).
pub fn group_by_context(items: &mut [QaItem]) {
    let mut first_seen: HashMap<String, usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        first_seen.entry(item.context.clone()).or_insert(i);
    }
    items.sort_by_key(|item| first_seen[&item.context]);
}
