//! What the history records and hands back: questions with their citations, local answer,
//! routing and escalation; conversations; listings' totals; spending per period.

use std::collections::BTreeMap;

use automix_types::{Cost, EscalationPayload, RouteDecision, SourceLocation, Usage};
use serde::{Deserialize, Serialize};

/// A retrieved chunk cited by the local answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Citation {
    /// Document path or title.
    pub source: String,
    /// Stable chunk id within the index, when there is one.
    pub chunk_id: Option<String>,
    /// The chunk text.
    pub text: String,
    /// Retrieval score.
    pub score: f32,
    /// Where in the library the chunk is, for a citation a reader can open (absent in old rows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<SourceLocation>,
}

/// The user's verdict on an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Feedback {
    /// 👍
    Up,
    /// 👎
    Down,
}

impl Feedback {
    /// The `feedback` column's value (1 or -1; anything else is no feedback).
    pub(crate) fn from_column(value: Option<i64>) -> Option<Feedback> {
        match value {
            Some(1) => Some(Feedback::Up),
            Some(-1) => Some(Feedback::Down),
            _ => None,
        }
    }

    /// The value stored in the `feedback` column.
    pub(crate) fn to_column(self) -> i64 {
        match self {
            Feedback::Up => 1,
            Feedback::Down => -1,
        }
    }
}

/// The local model's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalAnswer {
    /// Local model id.
    pub model: String,
    /// The answer text.
    pub text: String,
    /// The self-verifier's probability that the answer is right, if it ran.
    pub verifier_value: Option<f64>,
    /// Time to generate the answer.
    pub latency_ms: u64,
    /// Time of the checks after the answer: self-verification and the router's other signals.
    pub verify_latency_ms: u64,
}

/// Why the router chose what it chose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Routing {
    /// The decision.
    pub decision: RouteDecision,
    /// A sentence for the user.
    pub reason: String,
    /// Expected utility of each action the router weighed (e.g. `local`, `escalate`).
    pub expected_utilities: BTreeMap<String, f64>,
    /// The cost trade-off λ in force.
    pub lambda: Option<f64>,
    /// The reserved worst-case cost of escalating, when it was considered.
    pub estimated_cost: Option<Cost>,
    /// The router's P(local answer correct), as shown to the user.
    #[serde(default)]
    pub local_confidence: Option<f64>,
}

/// A remote call: what was sent, what came back, what it cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Escalation {
    /// Remote model id.
    pub model: String,
    /// Exactly what left the machine.
    pub payload: EscalationPayload,
    /// The remote answer; `None` when the call failed.
    pub answer: Option<String>,
    /// Tokens used, when known.
    pub usage: Option<Usage>,
    /// True when `usage` is an estimate because the provider sent none.
    pub usage_estimated: bool,
    /// What was charged to the budget.
    pub cost: Cost,
    /// Currency code of `cost` (e.g. `USD`).
    pub currency: String,
    /// Time of the remote call, retries included.
    pub latency_ms: u64,
    /// Why the call failed, if it did (already free of secrets).
    pub error: Option<String>,
}

/// Everything recorded for one question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionRecord {
    /// The conversation it belongs to.
    pub conversation_id: i64,
    /// When it was asked (Unix ms).
    pub asked_at_ms: i64,
    /// The question.
    pub question: String,
    /// The retrieved chunks.
    pub citations: Vec<Citation>,
    /// The local answer.
    pub local: LocalAnswer,
    /// The routing decision.
    pub routing: Routing,
    /// The escalation, if the question was escalated.
    pub escalation: Option<Escalation>,
    /// Wall time from question to final answer.
    pub total_latency_ms: u64,
}

/// A question as stored, with its id and the user's feedback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredQuestion {
    /// Row id.
    pub id: i64,
    /// What was recorded.
    pub record: QuestionRecord,
    /// 👍/👎, if given.
    pub feedback: Option<Feedback>,
    /// The program that asked through the local API (`automix serve`); `None`: the app itself.
    pub api_client: Option<String>,
}

/// A conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct Conversation {
    /// Row id.
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub id: i64,
    /// Title shown in the list.
    pub title: String,
    /// Creation time (Unix ms).
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub created_at_ms: i64,
    /// The program that started it through the local API; `None`: the app itself.
    pub api_client: Option<String>,
}

/// Totals over the questions a history listing matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListTotals {
    pub answers: u64,
    pub escalated: u64,
    pub cost: Cost,
}

/// A local answer and what judged it: the remote answer it was escalated to, the user's 👍/👎.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgedAnswer {
    pub local_answer: String,
    pub remote_answer: Option<String>,
    pub feedback: Option<Feedback>,
}

/// Remote spending over one day (`YYYY-MM-DD`) or month (`YYYY-MM`), UTC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodSpend {
    /// The day or month.
    pub period: String,
    /// Currency code.
    pub currency: String,
    /// Total charged.
    pub cost: Cost,
    /// Number of escalations.
    pub escalations: u64,
}
