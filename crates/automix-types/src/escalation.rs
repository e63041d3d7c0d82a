//! What leaves the machine on escalation: the system prompt, the question and the retrieved chunks.

use serde::{Deserialize, Serialize};

/// Token counts of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt (input) tokens.
    pub prompt_tokens: u64,
    /// Completion (output) tokens.
    pub completion_tokens: u64,
}

/// One retrieved passage sent as context, with where it came from so the user can inspect it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PayloadChunk {
    /// Document the chunk was cut from (a path or title shown to the user).
    pub source: String,
    /// The chunk text exactly as sent.
    pub text: String,
}

/// Exactly what an escalation sends to the remote model; history stores it verbatim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EscalationPayload {
    /// The system prompt.
    pub system_prompt: String,
    /// The user's question.
    pub question: String,
    /// The retrieved chunks the local answer used, in citation order.
    pub chunks: Vec<PayloadChunk>,
    /// Earlier turns of the conversation (user questions and the answers shown), oldest first,
    /// so that a follow-up question makes sense to the remote model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier_turns: Vec<ChatMessage>,
}

/// A chat message in the OpenAI wire format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The message text.
    pub content: String,
}

/// Marks the question inside the user message; the test provider looks for it to find a recorded answer.
pub const QUESTION_MARKER: &str = "Question: ";

impl EscalationPayload {
    /// The chat messages sent on the wire: the system prompt, the earlier turns, then one user
    /// message with numbered chunks followed by the question.
    pub fn to_messages(&self) -> Vec<ChatMessage> {
        let mut user = String::new();
        if !self.chunks.is_empty() {
            user.push_str("Context:\n");
            for (index, chunk) in self.chunks.iter().enumerate() {
                user.push_str(&format!("[{}] ({})\n{}\n\n", index + 1, chunk.source, chunk.text));
            }
        }
        user.push_str(QUESTION_MARKER);
        user.push_str(&self.question);
        let mut messages = vec![ChatMessage { role: "system".into(), content: self.system_prompt.clone() }];
        messages.extend(self.earlier_turns.iter().cloned());
        messages.push(ChatMessage { role: "user".into(), content: user });
        messages
    }

    /// An upper bound on the prompt tokens: byte-level BPE never makes a token from less than
    /// one byte, plus a few framing tokens per message. Used to reserve a worst-case cost.
    pub fn prompt_tokens_upper_bound(&self) -> u64 {
        const FRAMING_TOKENS_PER_MESSAGE: u64 = 8;
        const REPLY_PRIMING_TOKENS: u64 = 3;
        self.to_messages().iter().map(|message| message.content.len() as u64 + FRAMING_TOKENS_PER_MESSAGE).sum::<u64>() + REPLY_PRIMING_TOKENS
    }
}

/// The usual rough token count for English text (about four characters a token) when a
/// server reports no usage.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}
