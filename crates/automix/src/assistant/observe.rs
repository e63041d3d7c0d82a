//! One observation of a question: retrieve, answer locally, self-verify, read every router signal.
//! `Assistant::ask` routes on it and `automix collect` / `automix calibrate` record it: the same
//! prompts, context packing and token counting, so the calibration describes what the app does.

use std::time::Instant;

use automix_docs::{Embedder, SearchHit};
use automix_llm::{Generation, KvCache, LocalModel};
use automix_remote::CancelFlag;
use automix_router::SignalValues;
use tracing::field::Empty;

use super::privacy::{self, BuiltPayload, Passage, PrivateDocuments};
use super::{ensure_not_cancelled, lock, AskError, AskEvent, Assistant, Scope};
use crate::answer_checks::{answer_is_grounded, answer_matches_question_type, is_refusal, key_token_mask};
use crate::prompts::{answer_messages, answer_sampling, Turn};
use crate::settings::Redaction;
use crate::verify::{verify, Verification, VerifyMode};

/// Context sentences compared with the answer: enough for a page, bounded for a long one.
const MAX_SIMILARITY_SENTENCES: usize = 48;

/// What the local model made of one question, and everything the router reads about it.
#[derive(Debug, Clone)]
pub struct Observation {
    /// The passages the model read, in the order it read them.
    pub hits: Vec<SearchHit>,
    /// The chat model that answered (see `LocalModel::name`).
    pub model_name: String,
    pub earlier: Vec<Turn>,
    pub answer: Generation,
    pub answer_ms: u64,
    pub verification: Verification,
    pub signals: SignalValues,
    /// Time spent after the answer: self-verification and every other signal.
    pub checks_ms: u64,
    /// The documents that were private when the passages were retrieved.
    pub private: PrivateDocuments,
    /// What the settings mask in a payload.
    pub redaction: Redaction,
}

impl Observation {
    /// Exactly what would leave the machine if this answer escalated: the passages the local
    /// model read and the earlier turns, less what is private, and the remote system prompt
    /// (`ask` sends it, `collect` records the remote answer to it); with what was left out.
    pub fn escalation_payload(&self, question: &str) -> BuiltPayload {
        let passages = self.hits.iter().map(|hit| Passage::of_hit(hit, &self.private));
        privacy::payload(question, passages, &self.earlier, &self.redaction)
    }
}

impl Assistant {
    /// Retrieves the passages for `question`, answers it with the local model (streaming its
    /// tokens), verifies the answer and reads the router's signals. Reports `Retrieved`,
    /// `LocalToken` and `Verified` through `on_event`.
    pub fn observe(
        &self,
        question: &str,
        scope: &Scope,
        conversation_id: Option<i64>,
        on_event: &mut dyn FnMut(AskEvent),
        cancel: &CancelFlag,
    ) -> Result<Observation, AskError> {
        let model = self.model()?;
        let config = self.config();
        // Read once: the turns and the passages are judged by the same list.
        let private = self.private_documents()?;
        let (earlier, earlier_tokens) = match conversation_id {
            Some(id) => self.earlier_turns(id, None, &*model, &private)?,
            None => (Vec::new(), 0),
        };
        let hits = self.retrieve(question, scope, &model, config.context_budget_tokens.saturating_sub(earlier_tokens))?;
        on_event(AskEvent::Retrieved { citations: hits.iter().map(|h| h.citation.clone()).collect(), passages: hits.iter().map(|h| h.text.clone()).collect() });
        let context = passages_text(&hits);
        ensure_not_cancelled(cancel)?;

        let answer_span = tracing::info_span!(
            "answer",
            model = Empty,
            earlier_turns = earlier.len(),
            prompt_tokens = Empty,
            reused_tokens = Empty,
            tokens = Empty,
            stop = Empty,
            prefill_tok_s = Empty,
            decode_tok_s = Empty,
            latency_ms = Empty
        );
        let answering = answer_span.enter();
        let mut caches = lock(&self.cache);
        // The model whose keys and values the cache holds: a model swap happens under this lock.
        let model = self.model()?;
        answer_span.record("model", model.name());
        let conversation = answer_messages(&context, question, &earlier);
        let prompt = model.chat_prompt(&conversation, true)?;
        let params = answer_sampling(&model, config.max_answer_tokens);
        let started = Instant::now();
        let prompt_tokens = model.tokenizer().encode(&prompt)?;
        answer_span.record("prompt_tokens", prompt_tokens.len());
        caches.continue_longest(&prompt_tokens);
        let answer =
            model.generate_tokens(&prompt_tokens, caches.working(), &params, cancel, &mut |text| on_event(AskEvent::LocalToken { text: text.to_string() }))?;
        caches.keep();
        let answer_ms = started.elapsed().as_millis() as u64;
        answer_span.record("reused_tokens", answer.timings.reused_tokens);
        answer_span.record("tokens", answer.tokens.len());
        answer_span.record("stop", tracing::field::debug(&answer.stop_reason));
        answer_span.record("prefill_tok_s", answer.timings.prefill_tokens_per_sec().round());
        answer_span.record("decode_tok_s", answer.timings.decode_tokens_per_sec().round());
        answer_span.record("latency_ms", answer_ms);
        tracing::info!("answered locally");
        drop(answering);

        let verify_span =
            tracing::info_span!("verify", mode = verify_mode_name(config.verify_mode), v = Empty, grounded = Empty, context_lift = Empty, latency_ms = Empty);
        let verifying = verify_span.enter();
        let checks_started = Instant::now();
        let verification = verify(&model, &conversation, &answer.text, config.verify_mode, caches.working(), cancel)?;
        let context_lift = context_lift(&model, &answer, question, &earlier, caches.working(), cancel)?;
        drop(caches);
        let grounded = answer_is_grounded(&answer.text, question, &context);
        verify_span.record("v", verification.v);
        verify_span.record("grounded", grounded);
        if let Some(lift) = context_lift {
            verify_span.record("context_lift", lift);
        }
        on_event(AskEvent::Verified { v: verification.v, grounded });
        ensure_not_cancelled(cancel)?;

        let embedder = self.embedder().ok();
        let signals = SignalValues {
            v_logit: matches!(config.verify_mode, VerifyMode::Logit).then_some(verification.v),
            v_sample: matches!(config.verify_mode, VerifyMode::Sample { .. }).then_some(verification.v),
            answer_logprob: Some(answer.mean_logprob()).filter(|l| l.is_finite()),
            answer_min_logprob: answer.token_logprobs.iter().copied().reduce(f32::min).map(f64::from).filter(|l| l.is_finite()),
            key_logprob: key_logprob(&model, &answer, question)?,
            context_lift,
            answer_tokens: Some(answer.tokens.len() as f64),
            grounded: Some(grounded),
            // The context's best match; hits are in document order here, not by rank.
            retrieval_score: hits.iter().filter_map(|hit| hit.similarity).reduce(f64::max),
            context_similarity: match embedder {
                Some(embedder) => context_similarity(&embedder, &answer.text, &context)?,
                None => None,
            },
            refusal: Some(is_refusal(&answer.text)),
            type_match: answer_matches_question_type(question, &answer.text),
            question_words: Some(automix_router::pre_answer::question_words(question)),
            factoid: Some(automix_router::pre_answer::is_factoid(question)),
        };
        let checks_ms = checks_started.elapsed().as_millis() as u64;
        verify_span.record("latency_ms", checks_ms);
        tracing::info!("verified");
        drop(verifying);
        Ok(Observation {
            hits,
            model_name: model.name(),
            earlier,
            answer,
            answer_ms,
            verification,
            signals,
            checks_ms,
            private,
            redaction: config.redaction.clone(),
        })
    }
}

/// The verification mode's name for the log.
fn verify_mode_name(mode: VerifyMode) -> &'static str {
    match mode {
        VerifyMode::Logit => "logit",
        VerifyMode::Sample { .. } => "sample",
    }
}

/// The context the model reads: the passages in the order given, a blank line apart.
fn passages_text(hits: &[SearchHit]) -> String {
    hits.iter().map(|h| h.text.as_str()).collect::<Vec<_>>().join("\n\n")
}

/// What read-ahead asks retrieval for: any question would do, as a library that fits the context
/// gives every passage whatever is asked; the prompt is read only up to where the question starts.
const READ_AHEAD_PROBE: &str = "What does this say?";

impl Assistant {
    /// Reads the passages a question about `scope` would get into the prompt cache before the
    /// question is asked, e.g. while the user types their first question about a document just
    /// added. When the passages fit the context (a few pages), every question about `scope` then
    /// gets the same ones and reads only its own tokens: the first token comes as fast as for a
    /// follow-up. Otherwise the question reuses what its prompt shares with these. Cancel stops
    /// between prefill chunks and keeps what was read. Returns the prompt tokens the cache holds.
    pub fn read_ahead(&self, scope: &Scope, cancel: &CancelFlag) -> Result<usize, AskError> {
        let model = self.model()?;
        let hits = self.retrieve(READ_AHEAD_PROBE, scope, &model, self.config().context_budget_tokens)?;
        let conversation = answer_messages(&passages_text(&hits), READ_AHEAD_PROBE, &[]);
        let mut caches = lock(&self.cache);
        let model = self.model()?;
        let prompt = model.chat_prompt(&conversation, true)?;
        let tokens = model.tokenizer().encode(&prompt)?;
        // Up to the question: the probe's own tokens would only be replaced by the real question's.
        let question_at = prompt.rfind(&format!("Question: {READ_AHEAD_PROBE}"));
        let probe_start = question_at.map(|at| model.tokenizer().encode(&prompt[..at])).transpose()?.map_or(tokens.len(), |t| t.len());
        let prefix = &tokens[..probe_start.min(tokens.len())];
        caches.continue_longest(prefix);
        let read = model.prefill(prefix, caches.working(), cancel);
        // Kept even when cancelled: the chunks read so far are as good as any.
        caches.keep();
        match read {
            Ok(_) | Err(automix_llm::LlmError::Cancelled) => Ok(caches.working().common_prefix(prefix)),
            Err(error) => Err(error.into()),
        }
    }
}

/// Mean log-probability of the answer's tokens with the context (as generated) minus without it
/// (the same conversation with an empty context). Reads only the question and the answer again:
/// the shared instructions stay in the cache, and the next question needs nothing else from it.
fn context_lift(
    model: &LocalModel,
    answer: &Generation,
    question: &str,
    earlier: &[Turn],
    cache: &mut KvCache,
    cancel: &CancelFlag,
) -> Result<Option<f64>, AskError> {
    let text = answer.text.trim();
    if text.is_empty() || answer.tokens.is_empty() {
        return Ok(None);
    }
    let without_context = model.chat_prompt(&answer_messages("", question, earlier), true)?;
    let probability = model.score(&without_context, &[text], cache, cancel)?[0];
    let tokens = model.tokenizer().encode(text)?.len().max(1) as f64;
    let without = probability.max(f64::MIN_POSITIVE).ln() / tokens;
    Ok(Some(answer.mean_logprob() - without).filter(|lift| lift.is_finite()))
}

/// Mean log-probability of the answer's key tokens (see `key_token_mask`); `None` when the answer
/// has no word of its own.
fn key_logprob(model: &LocalModel, answer: &Generation, question: &str) -> Result<Option<f64>, AskError> {
    let pieces = answer.tokens.iter().map(|&token| model.tokenizer().decode(&[token])).collect::<Result<Vec<_>, _>>()?;
    let mask = key_token_mask(&pieces, &answer.text, question);
    let key: Vec<f64> = answer.token_logprobs.iter().zip(mask).filter(|(_, key)| *key).map(|(&logprob, _)| f64::from(logprob)).collect();
    Ok((!key.is_empty()).then(|| key.iter().sum::<f64>() / key.len() as f64))
}

/// The best cosine similarity between the answer and one sentence of the context: a sentence
/// answer taken from the text lies close to the sentence it came from.
fn context_similarity(embedder: &Embedder, answer: &str, context: &str) -> Result<Option<f64>, AskError> {
    // Lines first: the context's source headers stand on lines of their own.
    let candidates: Vec<&str> = context.lines().flat_map(automix_docs::sentences).take(MAX_SIMILARITY_SENTENCES).collect();
    if answer.trim().is_empty() || candidates.is_empty() {
        return Ok(None);
    }
    let vectors = embedder.embed(&[&[answer], candidates.as_slice()].concat())?;
    let (answer_vector, sentence_vectors) = vectors.split_first().expect("the answer was embedded");
    let best = sentence_vectors.iter().map(|sentence| sentence.iter().zip(answer_vector).map(|(a, b)| f64::from(a * b)).sum::<f64>()).reduce(f64::max);
    Ok(best)
}
