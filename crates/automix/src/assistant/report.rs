//! What the user looks back at: answers as shown (badge, reason, cost), the history with totals,
//! this month's spending, and the preview of an escalation. Built from the stored records only,
//! so the app shows what the engine decided and charged, never an estimate of its own.

use automix_docs::Citation;
use automix_history::{Feedback, RouteDecision, StoredQuestion};
use automix_remote::ChatMessage;
use automix_types::SourceLocation;
use serde::Serialize;

use super::{AskError, Assistant};

/// One answered question as the chat and the history show it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct AnswerView {
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub id: i64,
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub conversation_id: i64,
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub asked_at_ms: i64,
    pub question: String,
    pub citations: Vec<Citation>,
    /// `passages[i]` is the text `citations[i]` points at.
    pub passages: Vec<String>,
    pub local_answer: String,
    pub local_model: String,
    pub verifier_value: Option<f64>,
    pub local_confidence: Option<f64>,
    pub decision: RouteDecision,
    pub reason: String,
    pub estimated_cost: Option<f64>,
    pub remote_model: Option<String>,
    pub remote_answer: Option<String>,
    pub remote_error: Option<String>,
    pub cost: f64,
    pub currency: String,
    pub feedback: Option<Feedback>,
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub latency_ms: u64,
    /// The program that asked through the local API (`automix serve`); `None`: the app itself.
    pub api_client: Option<String>,
}

impl AnswerView {
    pub fn from_stored(stored: &StoredQuestion) -> Self {
        let record = &stored.record;
        let escalation = record.escalation.as_ref();
        let citations = record
            .citations
            .iter()
            .map(|citation| match &citation.location {
                Some(location) => Citation { location: location.clone(), snippet: citation.text.chars().take(160).collect() },
                // Rows recorded before locations were kept know only the citation's text form.
                None => text_citation(&citation.source, &citation.text),
            })
            .collect();
        AnswerView {
            id: stored.id,
            conversation_id: record.conversation_id,
            asked_at_ms: record.asked_at_ms,
            question: record.question.clone(),
            citations,
            passages: record.citations.iter().map(|citation| citation.text.clone()).collect(),
            local_answer: record.local.text.clone(),
            local_model: record.local.model.clone(),
            verifier_value: record.local.verifier_value,
            local_confidence: record.routing.local_confidence,
            decision: record.routing.decision,
            reason: record.routing.reason.clone(),
            estimated_cost: record.routing.estimated_cost.map(|cost| cost.as_units()),
            remote_model: escalation.map(|escalation| escalation.model.clone()),
            remote_answer: escalation.and_then(|escalation| escalation.answer.clone()),
            remote_error: escalation.and_then(|escalation| escalation.error.clone()),
            cost: escalation.map_or(0.0, |escalation| escalation.cost.as_units()),
            currency: escalation.map(|escalation| escalation.currency.clone()).unwrap_or_default(),
            feedback: stored.feedback,
            latency_ms: record.total_latency_ms,
            api_client: stored.api_client.clone(),
        }
    }
}

/// A citation of a whole text known only by its name (a `--context` file, an old history row).
pub(super) fn text_citation(source: &str, text: &str) -> Citation {
    Citation {
        location: SourceLocation {
            document_id: 0,
            path: source.to_string(),
            title: source.to_string(),
            page_start: None,
            page_end: None,
            page_label_start: None,
            page_label_end: None,
            ocr_confidence: None,
            section: None,
            char_start: 0,
            char_end: text.chars().count(),
        },
        snippet: text.chars().take(160).collect(),
    }
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct HistoryPage {
    /// Newest first.
    pub answers: Vec<AnswerView>,
    pub total_cost: f64,
    pub currency: String,
    pub count: usize,
    pub escalated: usize,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct SpendDay {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub cost: f64,
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub escalations: u64,
}

/// This month's spending against the budget.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct SpendReport {
    /// `YYYY-MM`, UTC.
    pub month: String,
    pub currency: String,
    pub limit: f64,
    /// Charged by settled calls.
    pub spent: f64,
    /// Held by calls in flight.
    pub reserved: f64,
    pub remaining: f64,
    /// How much of the month has passed, 0..1.
    pub elapsed_fraction: f64,
    /// Days of this month with spending, oldest first.
    pub per_day: Vec<SpendDay>,
    /// Questions asked this month.
    pub answers: usize,
    /// Of which answered by the remote model (failed calls are not counted).
    pub escalated: usize,
    pub escalated_share: f64,
    /// What the month would have cost had every answer gone to the remote model: the real cost
    /// of the escalated ones plus the router's worst-case price of the others (where a remote
    /// model was configured to price them), so an upper bound.
    pub all_remote_cost: f64,
    /// `all_remote_cost - spent`.
    pub saved: f64,
}

/// Exactly what an escalation would send now.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct PayloadPreview {
    /// `None` when no remote model is configured.
    pub model: Option<String>,
    /// Empty when `only_private`: nothing would be sent.
    pub messages: Vec<ChatMessage>,
    pub worst_case_cost: Option<f64>,
    pub currency: String,
    /// What is left out because it is private ("2 passages from private documents are not sent").
    pub withheld: Option<String>,
    /// Every passage is in a private document: the question would stay local.
    pub only_private: bool,
    /// What is masked in `messages` ("1 e-mail address is masked").
    pub masked: Option<String>,
}

/// An escalation waiting for the user: exactly what Send would send now, and to whom.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct PendingApproval {
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub question_id: i64,
    /// The remote model and the host it is reached at.
    pub model: String,
    pub host: String,
    /// The system prompt, the earlier turns and the passages with the question, as sent; empty
    /// when `only_private`.
    pub messages: Vec<ChatMessage>,
    /// Every passage the answer read, in citation order, for "Send without these passages".
    pub passages: Vec<PendingPassage>,
    /// About this many tokens (characters / 4).
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub tokens: u64,
    pub worst_case_cost: f64,
    pub currency: String,
    /// What stays on this device because it is private.
    pub withheld: Option<String>,
    pub only_private: bool,
    /// What is masked in `messages`.
    pub masked: Option<String>,
}

/// One passage of a pending escalation.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct PendingPassage {
    /// Its position among the answer's citations (what `excluded` refers to).
    pub index: usize,
    pub source: String,
    /// In a private document: never sent, whatever the user ticks.
    pub private: bool,
    /// Left out by the user in this preview.
    pub left_out: bool,
}

/// At most this many answers are listed at once.
const HISTORY_PAGE_LIMIT: usize = 500;

/// At most this many requests are listed at once in the network log.
const NETWORK_LOG_LIMIT: usize = 2000;

impl Assistant {
    /// Every outbound request the app made (the newest 2000), oldest first.
    pub fn network_log(&self) -> Result<Vec<automix_types::NetworkRequest>, AskError> {
        Ok(self.history.network_log(NETWORK_LOG_LIMIT)?)
    }

    /// A conversation's answers, oldest first.
    pub fn conversation_answers(&self, conversation_id: i64) -> Result<Vec<AnswerView>, AskError> {
        Ok(self.history.conversation(conversation_id)?.iter().map(AnswerView::from_stored).collect())
    }

    /// Past answers, newest first, optionally escalated ones only and matching `search`; the
    /// totals count every match, not only the answers listed.
    pub fn history_page(&self, escalated_only: bool, search: &str) -> Result<HistoryPage, AskError> {
        let answers: Vec<AnswerView> = self.history.list(escalated_only, search, HISTORY_PAGE_LIMIT)?.iter().map(AnswerView::from_stored).collect();
        let totals = self.history.totals(escalated_only, search)?;
        Ok(HistoryPage {
            total_cost: totals.cost.as_units(),
            currency: self.ledger.settings()?.currency,
            count: totals.answers as usize,
            escalated: totals.escalated as usize,
            answers,
        })
    }

    pub fn spend_report(&self) -> Result<SpendReport, AskError> {
        let status = self.ledger.month_status()?;
        let questions = self.history.in_month(&status.month)?;
        let answered_remotely = |question: &&StoredQuestion| question.record.escalation.as_ref().is_some_and(|e| e.answer.is_some());
        let escalated = questions.iter().filter(answered_remotely).count();
        let all_remote_cost: f64 = questions
            .iter()
            .map(|question| match &question.record.escalation {
                Some(escalation) if escalation.answer.is_some() => escalation.cost.as_units(),
                _ => question.record.routing.estimated_cost.map_or(0.0, |cost| cost.as_units()),
            })
            .sum();
        let spent = status.settled.as_units();
        let per_day = self
            .history
            .spend_per_day()?
            .into_iter()
            .filter(|day| day.period.starts_with(&status.month) && day.currency == status.currency)
            .map(|day| SpendDay { day: day.period, cost: day.cost.as_units(), escalations: day.escalations })
            .collect();
        Ok(SpendReport {
            month: status.month.clone(),
            currency: status.currency.clone(),
            limit: status.limit.as_units(),
            spent,
            reserved: status.reserved.as_units(),
            remaining: status.remaining.as_units(),
            elapsed_fraction: status.elapsed_fraction,
            per_day,
            answers: questions.len(),
            escalated,
            escalated_share: if questions.is_empty() { 0.0 } else { escalated as f64 / questions.len() as f64 },
            all_remote_cost,
            saved: (all_remote_cost - spent).max(0.0),
        })
    }
}
