//! The prompts the local model answers from. The context comes first and the question last, so a
//! document's tokens can be prefilled once and reused across questions and by the verifier.

use automix_llm::Message;

/// How the local model should phrase its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerStyle {
    /// A few words, for datasets scored by token F1.
    Short,
    /// A sentence or two, for people.
    Sentence,
}

pub fn answer_messages(context: &str, question: &str, style: AnswerStyle) -> Vec<Message> {
    let instruction = match style {
        AnswerStyle::Short => "Answer the question using only the context. Reply with a short answer: a few words, no full sentence.",
        AnswerStyle::Sentence => "Answer the question using only the context. Reply in one or two sentences. If the context does not contain the answer, say that it does not.",
    };
    let closing = match style {
        AnswerStyle::Short => "Short answer:",
        AnswerStyle::Sentence => "Answer:",
    };
    vec![
        Message::system(instruction),
        Message::user(format!("Context:\n{}\n\nQuestion: {}\n{closing}", context.trim(), question.trim())),
    ]
}
