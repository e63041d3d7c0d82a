//! Observation signals about one model answer: which signals exist, their measured values, and
//! labelled rows (values plus whether the answer was correct). Imports nothing else of the crate.

use serde::{Deserialize, Serialize};

/// One observable signal about a model's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// Self-verification P(Correct) from one forward pass (logit mode).
    VLogit,
    /// Self-verification share of "Correct" among k samples (sample mode).
    VSample,
    /// Mean token log-probability of the answer.
    AnswerLogprob,
    /// Lowest token log-probability of the answer: one guessed word drags it down.
    AnswerMinLogprob,
    /// Mean token log-probability of the answer's own words (not those restating the question).
    KeyLogprob,
    /// How much more likely the context makes the answer: mean token log-probability with the
    /// context minus without it. An answer read from the context gains; a guess does not.
    ContextLift,
    /// Number of answer tokens.
    AnswerTokens,
    /// Whether the answer's own words (those not taken from the question) all occur in the context (1 or 0).
    Grounded,
    /// Retrieval similarity of the best context chunk.
    RetrievalScore,
    /// Best cosine similarity between the answer and one sentence of the context (embedder).
    ContextSimilarity,
    /// Whether the answer says the context does not answer the question (1 or 0).
    Refusal,
    /// Whether the answer has the form the question asks for (a date for "when"…; 1 or 0;
    /// missing when the question's form is not one of those checked).
    TypeMatch,
    /// Words in the question: known before answering.
    QuestionWords,
    /// The question asks for a fact (who, when, where, which, how many…): known before answering.
    Factoid,
    /// A calibration's logistic combination of the other signals: read through the binning that
    /// carries the combiner (see [`SignalBinning::combined`](crate::binning::SignalBinning::combined)),
    /// never measured directly.
    Combined,
}

impl Signal {
    /// Every signal about the local answer, in a fixed order ([`Signal::Combined`] is derived from
    /// them). The question's own signals, known before answering, are not among them: see
    /// `pre_answer::PRE_ANSWER_SIGNALS`.
    pub const ALL: [Signal; 12] = [
        Signal::VLogit,
        Signal::VSample,
        Signal::AnswerLogprob,
        Signal::AnswerMinLogprob,
        Signal::KeyLogprob,
        Signal::ContextLift,
        Signal::AnswerTokens,
        Signal::Grounded,
        Signal::RetrievalScore,
        Signal::ContextSimilarity,
        Signal::Refusal,
        Signal::TypeMatch,
    ];

    /// Whether reading this signal requires running the self-verification prompt.
    pub fn needs_verifier(self) -> bool {
        matches!(self, Signal::VLogit | Signal::VSample)
    }

    /// Short stable name, as used in reports and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Signal::VLogit => "v_logit",
            Signal::VSample => "v_sample",
            Signal::AnswerLogprob => "answer_logprob",
            Signal::AnswerMinLogprob => "answer_min_logprob",
            Signal::KeyLogprob => "key_logprob",
            Signal::ContextLift => "context_lift",
            Signal::AnswerTokens => "answer_tokens",
            Signal::Grounded => "grounded",
            Signal::RetrievalScore => "retrieval_score",
            Signal::ContextSimilarity => "context_similarity",
            Signal::Refusal => "refusal",
            Signal::TypeMatch => "type_match",
            Signal::QuestionWords => "question_words",
            Signal::Factoid => "factoid",
            Signal::Combined => "combined",
        }
    }

    /// The signal's value in `values`, booleans as 0/1; `None` when it was not measured.
    pub fn value(self, values: &SignalValues) -> Option<f64> {
        let value = match self {
            Signal::VLogit => values.v_logit,
            Signal::VSample => values.v_sample,
            Signal::AnswerLogprob => values.answer_logprob,
            Signal::AnswerMinLogprob => values.answer_min_logprob,
            Signal::KeyLogprob => values.key_logprob,
            Signal::ContextLift => values.context_lift,
            Signal::AnswerTokens => values.answer_tokens,
            Signal::Grounded => values.grounded.map(flag),
            Signal::RetrievalScore => values.retrieval_score,
            Signal::ContextSimilarity => values.context_similarity,
            Signal::Refusal => values.refusal.map(flag),
            Signal::TypeMatch => values.type_match.map(flag),
            Signal::QuestionWords => values.question_words,
            Signal::Factoid => values.factoid.map(flag),
            Signal::Combined => None,
        };
        value.filter(|v| v.is_finite())
    }
}

fn flag(value: bool) -> f64 {
    if value {
        1.0
    } else {
        0.0
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The signals measured for one answer; any may be missing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct SignalValues {
    /// See [`Signal::VLogit`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v_logit: Option<f64>,
    /// See [`Signal::VSample`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v_sample: Option<f64>,
    /// See [`Signal::AnswerLogprob`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_logprob: Option<f64>,
    /// See [`Signal::AnswerMinLogprob`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_min_logprob: Option<f64>,
    /// See [`Signal::KeyLogprob`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_logprob: Option<f64>,
    /// See [`Signal::ContextLift`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_lift: Option<f64>,
    /// See [`Signal::AnswerTokens`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_tokens: Option<f64>,
    /// See [`Signal::Grounded`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grounded: Option<bool>,
    /// See [`Signal::RetrievalScore`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrieval_score: Option<f64>,
    /// See [`Signal::ContextSimilarity`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_similarity: Option<f64>,
    /// See [`Signal::Refusal`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<bool>,
    /// See [`Signal::TypeMatch`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_match: Option<bool>,
    /// Words in the question (before answering; see `pre_answer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question_words: Option<f64>,
    /// Whether the question asks for a fact (before answering; see `pre_answer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factoid: Option<bool>,
}

/// A small-model answer's signals and whether the answer was correct.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelledSignals {
    /// The measured signals.
    pub signals: SignalValues,
    /// Whether the answer was correct (score ≥ 0.5).
    pub correct: bool,
}
