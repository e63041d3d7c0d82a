//! The prompts the local model answers and verifies from.
//!
//! Layout, chosen so verification reads only a few dozen new tokens: the system turn holds the
//! verification demonstrations (identical for every question, so prefilled once and reused from the
//! KV cache), the user turn the context and question, the assistant turn the answer, and only then a
//! short user turn asking for the verdict. Answering and verifying share every token up to the answer.

use automix_llm::Message;

/// How the local model should phrase its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerStyle {
    /// A few words, for datasets scored by token F1.
    Short,
    /// A sentence or two, for people.
    Sentence,
}

/// Four worked verifications (two Correct, two Incorrect) in the AutoMix format.
const DEMONSTRATIONS: &str = "\
Context: The Amazon river flows through Peru, Colombia and Brazil and empties into the Atlantic Ocean.
Question: Into which ocean does the Amazon flow?
AI Generated Answer: the Atlantic Ocean
Evaluation: The context says the Amazon empties into the Atlantic Ocean, which matches the answer.
Verification Decision: The AI generated answer is Correct.
---
Context: Marie Curie won the Nobel Prize in Physics in 1903 and the Nobel Prize in Chemistry in 1911.
Question: In which year did Marie Curie win the Nobel Prize in Chemistry?
AI Generated Answer: 1903
Evaluation: The context gives 1911 for Chemistry; 1903 was the Physics prize, so the answer is wrong.
Verification Decision: The AI generated answer is Incorrect.
---
Context: The library opens at 9 am on weekdays and at 11 am on Saturdays. It is closed on Sundays.
Question: When does the library open on Saturday?
AI Generated Answer: 11 am
Evaluation: The context states the library opens at 11 am on Saturdays, as the answer says.
Verification Decision: The AI generated answer is Correct.
---
Context: Photosynthesis in plants takes place mainly in the chloroplasts of leaf cells.
Question: Where does photosynthesis mainly take place?
AI Generated Answer: in the roots
Evaluation: The context names the chloroplasts of leaf cells, not the roots, so the answer contradicts it.
Verification Decision: The AI generated answer is Incorrect.
---";

const VERIFY_INSTRUCTION: &str = "Instruction: Your task is to evaluate if the AI Generated Answer above is correct, based on \
the provided context and question. Provide the judgement and reasoning for each case. Choose between Correct or Incorrect.";

/// The assistant's verdict opens with this; the next word is " Correct" or " Incorrect".
pub const VERDICT_PREFIX: &str = "Verification Decision: The AI generated answer is";

fn system_prompt(style: AnswerStyle) -> String {
    let task = match style {
        AnswerStyle::Short => "Answer the question using only the context. Reply with a short answer: a few words, no full sentence.",
        AnswerStyle::Sentence => {
            "Answer the question using only the context. Reply in one or two sentences. If the context does not contain the answer, say that it does not."
        }
    };
    format!("{task}\n\nWhen asked to check an answer, judge it against the context like these examples:\n{DEMONSTRATIONS}")
}

fn question_turn(context: &str, question: &str, style: AnswerStyle) -> String {
    let closing = match style {
        AnswerStyle::Short => "Short answer:",
        AnswerStyle::Sentence => "Answer:",
    };
    format!("Context:\n{}\n\nQuestion: {}\n{closing}", context.trim(), question.trim())
}

/// The part of every answer conversation that never changes (instructions and demonstrations):
/// prefilled once when a model loads, so the first question reads only its own tokens.
pub fn shared_prefix(style: AnswerStyle) -> Vec<Message> {
    vec![Message::system(system_prompt(style))]
}

/// An earlier question of the conversation and the answer the user was shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub question: String,
    pub answer: String,
}

/// The conversation that asks for an answer: instructions, the earlier turns (so a follow-up like
/// "and its population?" has its referent), then the context and the question.
pub fn answer_messages(context: &str, question: &str, style: AnswerStyle, earlier: &[Turn]) -> Vec<Message> {
    let mut messages = shared_prefix(style);
    for turn in earlier {
        messages.push(Message::user(format!("Question: {}", turn.question.trim())));
        messages.push(Message::assistant(turn.answer.trim()));
    }
    messages.push(Message::user(question_turn(context, question, style)));
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
