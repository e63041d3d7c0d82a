//! Reading a `questions` row back: the columns selected, and the row's JSON columns parsed.

use automix_types::{Cost, RouteDecision, Usage};
use rusqlite::Row;

use crate::error::StoreError;
use crate::records::{Escalation, Feedback, LocalAnswer, QuestionRecord, Routing, StoredQuestion};

/// The columns [`RawQuestion::from_row`] reads, in its order.
pub(crate) const QUESTION_COLUMNS: &str = "id, conversation_id, asked_at_ms, question, citations_json, local_model, local_answer,
    verifier_value, local_latency_ms, verify_latency_ms, route_decision, route_reason, expected_utilities_json,
    lambda, estimated_cost_nanos, remote_model, payload_json, remote_answer, prompt_tokens, completion_tokens,
    usage_estimated, cost_nanos, currency, remote_latency_ms, remote_error, total_latency_ms, feedback, local_confidence,
    (SELECT api_client FROM conversations WHERE conversations.id = questions.conversation_id)";

/// A row before its JSON columns are parsed (parsing errors are ours, not rusqlite's).
pub(crate) struct RawQuestion {
    id: i64,
    conversation_id: i64,
    asked_at_ms: i64,
    question: String,
    citations_json: String,
    local: LocalAnswer,
    decision: String,
    reason: String,
    utilities_json: String,
    lambda: Option<f64>,
    estimated_cost_nanos: Option<i64>,
    remote_model: Option<String>,
    payload_json: Option<String>,
    remote_answer: Option<String>,
    prompt_tokens: Option<i64>,
    completion_tokens: Option<i64>,
    usage_estimated: bool,
    cost_nanos: i64,
    currency: Option<String>,
    remote_latency_ms: Option<i64>,
    remote_error: Option<String>,
    total_latency_ms: i64,
    feedback: Option<i64>,
    local_confidence: Option<f64>,
    api_client: Option<String>,
}

impl RawQuestion {
    pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(RawQuestion {
            id: row.get(0)?,
            conversation_id: row.get(1)?,
            asked_at_ms: row.get(2)?,
            question: row.get(3)?,
            citations_json: row.get(4)?,
            local: LocalAnswer {
                model: row.get(5)?,
                text: row.get(6)?,
                verifier_value: row.get(7)?,
                latency_ms: row.get::<_, i64>(8)? as u64,
                verify_latency_ms: row.get::<_, i64>(9)? as u64,
            },
            decision: row.get(10)?,
            reason: row.get(11)?,
            utilities_json: row.get(12)?,
            lambda: row.get(13)?,
            estimated_cost_nanos: row.get(14)?,
            remote_model: row.get(15)?,
            payload_json: row.get(16)?,
            remote_answer: row.get(17)?,
            prompt_tokens: row.get(18)?,
            completion_tokens: row.get(19)?,
            usage_estimated: row.get(20)?,
            cost_nanos: row.get(21)?,
            currency: row.get(22)?,
            remote_latency_ms: row.get(23)?,
            remote_error: row.get(24)?,
            total_latency_ms: row.get(25)?,
            feedback: row.get(26)?,
            local_confidence: row.get(27)?,
            api_client: row.get(28)?,
        })
    }

    pub(crate) fn into_stored(self) -> Result<StoredQuestion, StoreError> {
        let id = self.id;
        let corrupt = |column: &'static str| move |source| StoreError::Corrupt { id, column, source };
        let citations = serde_json::from_str(&self.citations_json).map_err(corrupt("citations_json"))?;
        let expected_utilities = serde_json::from_str(&self.utilities_json).map_err(corrupt("expected_utilities_json"))?;
        let decision = RouteDecision::parse(&self.decision).ok_or_else(|| StoreError::Corrupt {
            id,
            column: "route_decision",
            source: serde::de::Error::custom(format!("unknown decision `{}`", self.decision)),
        })?;
        let escalation = match (self.remote_model, self.payload_json) {
            (Some(model), Some(payload_json)) => Some(Escalation {
                model,
                payload: serde_json::from_str(&payload_json).map_err(corrupt("payload_json"))?,
                answer: self.remote_answer,
                usage: match (self.prompt_tokens, self.completion_tokens) {
                    (Some(prompt), Some(completion)) => Some(Usage { prompt_tokens: prompt as u64, completion_tokens: completion as u64 }),
                    _ => None,
                },
                usage_estimated: self.usage_estimated,
                cost: Cost::from_nanos(self.cost_nanos),
                currency: self.currency.unwrap_or_default(),
                latency_ms: self.remote_latency_ms.unwrap_or(0) as u64,
                error: self.remote_error,
            }),
            _ => None,
        };
        Ok(StoredQuestion {
            id,
            record: QuestionRecord {
                conversation_id: self.conversation_id,
                asked_at_ms: self.asked_at_ms,
                question: self.question,
                citations,
                local: self.local,
                routing: Routing {
                    decision,
                    reason: self.reason,
                    expected_utilities,
                    lambda: self.lambda,
                    estimated_cost: self.estimated_cost_nanos.map(Cost::from_nanos),
                    local_confidence: self.local_confidence,
                },
                escalation,
                total_latency_ms: self.total_latency_ms as u64,
            },
            feedback: Feedback::from_column(self.feedback),
            api_client: self.api_client,
        })
    }
}
