//! The prompts the local model answers and verifies from.
//!
//! Layout, chosen so verification reads only a few dozen new tokens: the system turn holds the
//! instructions (identical for every question, so prefilled once and reused from the KV cache), the
//! user turn the context and question, the assistant turn the answer, and only then a short user
//! turn asking for the verdict. Answering and verifying share every token up to the answer.
//!
//! Measured on SQuAD v1.1 dev with SmolLM2-135M (docs/evaluation.md, "Answer prompt"): worked
//! verification examples in the system turn cost a third of the right answers (0.32 against 0.44
//! containing the gold answer), so the verdict is asked without them.

use automix_llm::{LocalModel, Message, SamplingParams};

const ANSWER_INSTRUCTION: &str =
    "Answer the question using only the context. Reply in one or two sentences. If the context does not contain the answer, say that it does not.";

const VERIFY_INSTRUCTION: &str = "Check the answer above against the context. Is it correct and supported by the context? \
Reply \"Verification Decision: The AI generated answer is Correct\" or \"Verification Decision: The AI generated answer is Incorrect\".";

/// The assistant's verdict opens with this; the next word is " Correct" or " Incorrect".
pub const VERDICT_PREFIX: &str = "Verification Decision: The AI generated answer is";

fn question_turn(context: &str, question: &str) -> String {
    format!("Context:\n{}\n\nQuestion: {}\nAnswer:", context.trim(), question.trim())
}

/// Markdown heading markers: an answer is one or two sentences shown as text, never a heading.
/// SmolLM2 sometimes opens with one when the document starts with a heading ("# France"); on the
/// France page the greedy choice between "#" and "The" is a near-tie (27.3 against 27.1), and
/// candle's kernels and every one of ours choose "#".
const HEADING_MARKERS: &[&str] = &["#", " #", "##", " ##", "###", " ###", "\n#"];

/// How an answer is generated: greedy, at most `max_tokens`, and not opening with a heading.
pub fn answer_sampling(model: &LocalModel, max_tokens: usize) -> SamplingParams {
    let never_first = HEADING_MARKERS
        .iter()
        .filter_map(|marker| match model.tokenizer().encode(marker).ok()?.as_slice() {
            [token] => Some(*token),
            _ => None,
        })
        .collect();
    SamplingParams { max_tokens, never_first, stop_repeating: repetition_guard_on(), ..Default::default() }
}

/// `AUTOMIX_REPETITION_GUARD=off` lets answers repeat themselves to the token limit, as before the
/// guard: for measuring what the guard changes (`automix collect` with and without it, docs/evaluation.md).
fn repetition_guard_on() -> bool {
    !std::env::var("AUTOMIX_REPETITION_GUARD").is_ok_and(|v| v.trim().eq_ignore_ascii_case("off"))
}

/// The part of every answer conversation that never changes (the instructions): prefilled once
/// when a model loads, so the first question reads only its own tokens.
pub fn shared_prefix() -> Vec<Message> {
    vec![Message::system(ANSWER_INSTRUCTION)]
}

/// An earlier question of the conversation and the answer the user was shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub question: String,
    pub answer: String,
    /// It read a passage of a private document: the local model sees it, a remote one never does.
    pub read_private: bool,
}

/// The conversation that asks for an answer: instructions, the earlier turns (so a follow-up like
/// "and its population?" has its referent), then the context and the question.
pub fn answer_messages(context: &str, question: &str, earlier: &[Turn]) -> Vec<Message> {
    let mut messages = shared_prefix();
    for turn in earlier {
        messages.push(Message::user(format!("Question: {}", turn.question.trim())));
        messages.push(Message::assistant(turn.answer.trim()));
    }
    messages.push(Message::user(question_turn(context, question)));
    messages
}

/// The answer conversation followed by the answer and the request for a verdict. Render it with a
/// generation prompt and append `VERDICT_PREFIX` (logit mode) or nothing (sample mode).
pub fn verification_messages(answer_conversation: &[Message], answer: &str) -> Vec<Message> {
    let mut messages = answer_conversation.to_vec();
    messages.push(Message::assistant(answer.trim()));
    messages.push(Message::user(VERIFY_INSTRUCTION));
    messages
}
