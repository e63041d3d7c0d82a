//! A loaded local chat model: load → prefill → generate or score.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use candle_core::{Device, Tensor};
use serde::Serialize;

use crate::config::ModelConfig;
use crate::error::{LlmError, Result};
use crate::gguf::GgufFile;
use crate::kernels::{self, Isa};
use crate::kv_cache::KvCache;
use crate::sampling::{log_softmax, Sampler, SamplingParams};
use crate::template::{ChatTemplate, Message};
use crate::tokenizer::TextTokenizer;
use crate::transformer::{Logits, Transformer};

/// Long prompts are fed in pieces so cancellation is noticed and attention scratch stays bounded.
const PREFILL_CHUNK: usize = 512;

/// Special tokens that end an assistant turn in the chat formats we know.
const END_OF_TURN_TOKENS: [&str; 4] = ["<|im_end|>", "<|eot_id|>", "<|endoftext|>", "<|end|>"];

pub struct LocalModel {
    transformer: Transformer,
    tokenizer: TextTokenizer,
    template: ChatTemplate,
    end_of_turn: Vec<u32>,
    path: PathBuf,
    load_secs: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    EndOfTurn,
    StopString,
    MaxTokens,
    /// The answer began to say again, token for token, what it had said: it was cut where the
    /// repetition began.
    Repetition,
}

/// An answer that says again, token for token, this many tokens it already said is looping: greedy
/// decoding of small models falls into such loops (the same two sentences until the token limit).
/// Long enough that a repeated name or phrase in a right answer does not trip it.
const REPEATED_SPAN_TOKENS: usize = 20;

/// Where to cut an answer whose last [`REPEATED_SPAN_TOKENS`] tokens already occurred earlier
/// (overlapping allowed, so a loop of any period is caught once the span is covered): after the
/// first saying of the loop, so "The answer is 315. The answer is 315. The…" keeps "The answer is
/// 315." and nothing of the second saying.
fn repetition_start(tokens: &[u32]) -> Option<usize> {
    let len = tokens.len();
    let span = REPEATED_SPAN_TOKENS;
    if len <= span {
        return None;
    }
    let tail = &tokens[len - span..];
    // The loop's period: the nearest earlier copy of the tail.
    let period = (1..=len - span).find(|&p| &tokens[len - span - p..len - p] == tail)?;
    // Back to where the loop began: the first token from which everything repeats `period` later.
    let mut start = len - span - period;
    while start > 0 && tokens[start - 1] == tokens[start - 1 + period] {
        start -= 1;
    }
    Some(start + period)
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    /// Prompt tokens found in the cache and not computed again.
    pub reused_tokens: usize,
    /// Prompt tokens computed.
    pub prefill_tokens: usize,
    pub prefill_secs: f64,
    pub decode_tokens: usize,
    pub decode_secs: f64,
}

impl Timings {
    pub fn prefill_tokens_per_sec(&self) -> f64 {
        self.prefill_tokens as f64 / self.prefill_secs.max(1e-9)
    }
    pub fn decode_tokens_per_sec(&self) -> f64 {
        self.decode_tokens as f64 / self.decode_secs.max(1e-9)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Generation {
    pub text: String,
    pub tokens: Vec<u32>,
    /// Log-probability of each generated token under the model (temperature 1).
    pub token_logprobs: Vec<f32>,
    pub stop_reason: StopReason,
    pub timings: Timings,
}

impl Generation {
    /// Mean token log-probability: a cheap confidence signal for the router.
    pub fn mean_logprob(&self) -> f64 {
        if self.token_logprobs.is_empty() {
            return f64::NEG_INFINITY;
        }
        self.token_logprobs.iter().map(|&l| l as f64).sum::<f64>() / self.token_logprobs.len() as f64
    }
}

impl LocalModel {
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        Self::load_with_kernels(path, device, if device.is_cpu() { kernels::isa() } else { Isa::Generic })
    }

    /// Loads with the given CPU kernel set (`Generic`: candle's own kernels alone), so the sets can
    /// be compared on one machine; it must be one this CPU has ([`Isa::all_supported`]).
    pub fn load_with_kernels(path: &Path, device: &Device, kernels: Isa) -> Result<Self> {
        let started = Instant::now();
        let mut gguf = GgufFile::open(path)?;
        let header_secs = started.elapsed().as_secs_f64();
        let tokenizer = TextTokenizer::load(&gguf)?;
        let template = ChatTemplate::load(&gguf, &tokenizer);
        let tokenizer_secs = started.elapsed().as_secs_f64() - header_secs;
        let transformer = Transformer::load_with(&mut gguf, device, kernels)?;
        tracing::debug!(header_secs, tokenizer_secs, weights_secs = started.elapsed().as_secs_f64() - header_secs - tokenizer_secs, "model loaded");
        let mut end_of_turn: Vec<u32> = END_OF_TURN_TOKENS.iter().filter_map(|t| tokenizer.token_id(t)).collect();
        if let Ok(eos) = gguf.usize("tokenizer.ggml.eos_token_id") {
            end_of_turn.push(eos as u32);
        }
        Ok(Self { transformer, tokenizer, template, end_of_turn, path: path.to_path_buf(), load_secs: started.elapsed().as_secs_f64() })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.transformer.config
    }

    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The model's name as the history and routing tables record it: its file's stem.
    pub fn name(&self) -> String {
        self.path.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_default()
    }

    pub fn load_secs(&self) -> f64 {
        self.load_secs
    }

    pub fn device(&self) -> &Device {
        self.transformer.device()
    }

    pub fn chat_prompt(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        self.template.render(messages, add_generation_prompt)
    }

    pub fn count_tokens(&self, text: &str) -> Result<usize> {
        Ok(self.tokenizer.encode(text)?.len())
    }

    /// One raw forward pass of `tokens` after the cache's content.
    pub fn forward(&self, tokens: &[u32], cache: &mut KvCache, logits: Logits) -> Result<Tensor> {
        self.transformer.forward(tokens, cache, logits)
    }

    /// Brings `cache` to hold exactly `tokens` (a whole prompt from its first token), reusing the
    /// longest prefix it already holds, and returns the logits for the next token.
    pub fn prefill(&self, tokens: &[u32], cache: &mut KvCache, cancel: &AtomicBool) -> Result<Tensor> {
        let context = self.config().context_length;
        if tokens.len() > context {
            return Err(LlmError::ContextOverflow { needed: tokens.len(), context });
        }
        if tokens.is_empty() {
            return Err(LlmError::Tokenizer("nothing to prefill: the prompt encodes to zero tokens".into()));
        }
        let reused = cache.reusable_prefix(tokens);
        cache.truncate(reused);
        let mut last = None;
        for chunk in tokens[reused..].chunks(PREFILL_CHUNK) {
            if cancel.load(Ordering::Relaxed) {
                return Err(LlmError::Cancelled);
            }
            last = Some(self.transformer.forward(chunk, cache, Logits::Last)?);
        }
        Ok(last.expect("tokens is not empty"))
    }

    /// Generates a continuation of `prompt`, streaming text pieces to `on_text` as soon as they cannot
    /// be part of a stop string. `cache` is reused for the longest prefix of the prompt it holds.
    pub fn generate(
        &self,
        prompt: &str,
        cache: &mut KvCache,
        params: &SamplingParams,
        cancel: &AtomicBool,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Generation> {
        self.generate_tokens(&self.tokenizer.encode(prompt)?, cache, params, cancel, on_text)
    }

    /// [`generate`](Self::generate) for a prompt already encoded.
    pub fn generate_tokens(
        &self,
        prompt_tokens: &[u32],
        cache: &mut KvCache,
        params: &SamplingParams,
        cancel: &AtomicBool,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Generation> {
        let prefill_started = Instant::now();
        let reused = cache.reusable_prefix(prompt_tokens);
        let mut logits = self.prefill(prompt_tokens, cache, cancel)?;
        let mut timings = Timings {
            reused_tokens: reused,
            prefill_tokens: prompt_tokens.len() - reused,
            prefill_secs: prefill_started.elapsed().as_secs_f64(),
            ..Default::default()
        };
        let decode_started = Instant::now();
        let max_tokens = params.max_tokens.min(self.config().context_length - cache.len());
        let mut sampler = Sampler::new(params);
        let mut stream = StopScanner::new(&params.stop);
        let (mut tokens, mut token_logprobs) = (Vec::new(), Vec::new());
        let mut stop_reason = StopReason::MaxTokens;
        while tokens.len() < max_tokens {
            if cancel.load(Ordering::Relaxed) {
                return Err(LlmError::Cancelled);
            }
            // Sampling runs on the host: the one copy per token is this row of logits.
            let excluded = if tokens.is_empty() { params.never_first.as_slice() } else { &[] };
            let (token, logprob) = sampler.sample_excluding(&logits.to_vec1::<f32>()?, excluded);
            if self.end_of_turn.contains(&token) {
                stop_reason = StopReason::EndOfTurn;
                break;
            }
            tokens.push(token);
            token_logprobs.push(logprob);
            if let Some(start) = repetition_start(&tokens).filter(|_| params.stop_repeating) {
                tokens.truncate(start);
                token_logprobs.truncate(start);
                stream.cut_to(&self.tokenizer.decode(&tokens)?);
                stop_reason = StopReason::Repetition;
                break;
            }
            if stream.push(&self.tokenizer.decode(&tokens)?, on_text) {
                stop_reason = StopReason::StopString;
                break;
            }
            if tokens.len() < max_tokens {
                logits = self.transformer.forward(&[token], cache, Logits::Last)?;
            }
        }
        let text = stream.finish(on_text);
        timings.decode_tokens = tokens.len();
        timings.decode_secs = decode_started.elapsed().as_secs_f64();
        Ok(Generation { text, tokens, token_logprobs, stop_reason, timings })
    }

    /// Probability of each continuation after `prompt`, read from the logits: one pass over the part of
    /// the prompt not already in `cache`, plus one short pass per multi-token continuation. The cache
    /// is left holding exactly the prompt.
    pub fn score(&self, prompt: &str, continuations: &[&str], cache: &mut KvCache, cancel: &AtomicBool) -> Result<Vec<f64>> {
        let prompt_tokens = self.tokenizer.encode(prompt)?;
        let first_logits = log_softmax(&self.prefill(&prompt_tokens, cache, cancel)?.to_vec1::<f32>()?, 1.0);
        let after_prompt = cache.snapshot();
        let mut probabilities = Vec::with_capacity(continuations.len());
        for continuation in continuations {
            let ids = self.tokenizer.encode(continuation)?;
            let Some((&first, rest)) = ids.split_first() else {
                return Err(LlmError::Tokenizer(format!("continuation {continuation:?} encodes to no tokens")));
            };
            let mut logprob = first_logits[first as usize] as f64;
            if !rest.is_empty() {
                // One copy of all rows, not one per row: on a GPU each copy waits for the device.
                let rows = self.transformer.forward(&ids[..ids.len() - 1], cache, Logits::All)?.to_vec2::<f32>()?;
                for (row, &next) in rows.iter().zip(rest) {
                    logprob += log_softmax(row, 1.0)[next as usize] as f64;
                }
                cache.restore(&after_prompt);
            }
            probabilities.push(logprob.exp());
        }
        Ok(probabilities)
    }
}

/// Releases generated text piece by piece, holding back any tail that could begin a stop string.
struct StopScanner<'a> {
    stops: &'a [String],
    emitted: usize,
    text: String,
}

impl<'a> StopScanner<'a> {
    fn new(stops: &'a [String]) -> Self {
        Self { stops, emitted: 0, text: String::new() }
    }

    /// Takes the whole decoded text so far; returns true when a stop string has appeared.
    fn push(&mut self, decoded: &str, on_text: &mut dyn FnMut(&str)) -> bool {
        // A multi-byte character split across tokens decodes to U+FFFD until its last byte arrives.
        if decoded.ends_with('\u{FFFD}') {
            return false;
        }
        self.text = decoded.to_string();
        if let Some(cut) = self.stops.iter().filter_map(|s| self.text.find(s.as_str())).min() {
            self.text.truncate(cut);
            self.release(cut, on_text);
            return true;
        }
        let held = self.longest_stop_prefix_suffix();
        self.release(self.text.len() - held, on_text);
        false
    }

    fn longest_stop_prefix_suffix(&self) -> usize {
        self.text.char_indices().map(|(i, _)| i).find(|&i| self.stops.iter().any(|s| s.starts_with(&self.text[i..]))).map(|i| self.text.len() - i).unwrap_or(0)
    }

    fn release(&mut self, upto: usize, on_text: &mut dyn FnMut(&str)) {
        if upto > self.emitted {
            on_text(&self.text[self.emitted..upto]);
            self.emitted = upto;
        }
    }

    /// Ends the text at `decoded` (a prefix of what was pushed, the repetition left out): what was
    /// streamed past it stays streamed, and the final text, which callers keep, ends there.
    fn cut_to(&mut self, decoded: &str) {
        self.text = decoded.to_string();
        self.emitted = self.emitted.min(self.text.len());
        if !self.text.is_char_boundary(self.emitted) {
            self.emitted = self.text.len();
        }
        // Whatever a stop string held back ends the text too.
        if let Some(cut) = self.stops.iter().filter_map(|s| self.text.find(s.as_str())).min() {
            self.text.truncate(cut);
        }
    }

    fn finish(mut self, on_text: &mut dyn FnMut(&str)) -> String {
        let end = self.text.len();
        self.release(end, on_text);
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::{repetition_start, StopScanner, REPEATED_SPAN_TOKENS};

    #[test]
    fn a_looping_answer_is_cut_where_the_loop_began_and_a_varied_one_is_not() {
        // Two sentences said three times, as SmolLM2 did about /var/tmp.
        let sentences: Vec<u32> = (100..130).collect();
        let mut answer: Vec<u32> = vec![1, 2, 3];
        let mut cut = None;
        for round in 0..3 {
            for &token in &sentences {
                answer.push(token);
                if cut.is_none() {
                    cut = repetition_start(&answer);
                    if cut.is_some() {
                        assert_eq!(round, 1, "caught in the second saying");
                    }
                }
            }
        }
        assert_eq!(cut, Some(3 + sentences.len()), "cut where the second saying began");
        // One token looping.
        let looping = vec![7u32; REPEATED_SPAN_TOKENS + 1];
        assert_eq!(repetition_start(&looping), Some(1));
        // A short loop is cut after its first saying, not in the middle of a later one.
        let mut short_loop: Vec<u32> = vec![50, 51];
        let saying = [1u32, 2, 3, 4, 5, 6];
        let cut = (0..10).flat_map(|_| saying).find_map(|t| {
            short_loop.push(t);
            repetition_start(&short_loop)
        });
        assert_eq!(cut, Some(2 + saying.len()));
        // A phrase said twice, shorter than the span, and a long answer without a repeat.
        let mut phrase_twice: Vec<u32> = (0..40).collect();
        phrase_twice.extend(5..5 + REPEATED_SPAN_TOKENS as u32 - 1);
        assert!((1..=phrase_twice.len()).all(|n| repetition_start(&phrase_twice[..n]).is_none()));
    }

    fn run(stops: &[&str], steps: &[&str]) -> (Vec<String>, String, bool) {
        let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
        let mut scanner = StopScanner::new(&stops);
        let mut pieces = Vec::new();
        let mut stopped = false;
        for step in steps {
            if scanner.push(step, &mut |t| pieces.push(t.to_string())) {
                stopped = true;
                break;
            }
        }
        let text = scanner.finish(&mut |t| pieces.push(t.to_string()));
        (pieces, text, stopped)
    }

    #[test]
    fn holds_back_a_possible_stop_prefix_then_releases_it() {
        let (pieces, text, stopped) = run(&["\n\n"], &["Paris", "Paris\n", "Paris\nis"]);
        assert_eq!(pieces, ["Paris", "\nis"]);
        assert_eq!(text, "Paris\nis");
        assert!(!stopped);
    }

    #[test]
    fn cuts_at_the_stop_string() {
        let (pieces, text, stopped) = run(&["---"], &["Yes", "Yes -", "Yes --", "Yes ---", "Yes --- more"]);
        assert!(stopped);
        assert_eq!(text, "Yes ");
        assert_eq!(pieces.concat(), "Yes ");
    }

    #[test]
    fn waits_for_complete_characters() {
        let (pieces, text, _) = run(&[], &["caf", "caf\u{FFFD}", "café"]);
        assert_eq!(pieces, ["caf", "é"]);
        assert_eq!(text, "café");
    }
}
