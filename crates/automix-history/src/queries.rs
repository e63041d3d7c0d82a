//! Writing to and reading from the history: conversations, recorded questions, feedback,
//! escalations asked for later, listings with their totals, and spending per day or month.

use std::sync::atomic::Ordering;

use automix_types::Cost;
use rusqlite::{params, OptionalExtension};

use crate::checkpoint::CHECKPOINT_EVERY;
use crate::error::StoreError;
use crate::history::History;
use crate::records::{Conversation, Escalation, Feedback, JudgedAnswer, ListTotals, PeriodSpend, QuestionRecord, Routing, StoredQuestion};
use crate::rows::{RawQuestion, QUESTION_COLUMNS};

/// The filter of [`History::list`] and [`History::totals`]: ?1 escalated only, ?2 a LIKE pattern.
const LIST_FILTER: &str = "(?1 = 0 OR remote_answer IS NOT NULL)
    AND (question LIKE ?2 ESCAPE '\\' OR local_answer LIKE ?2 ESCAPE '\\' OR coalesce(remote_answer, '') LIKE ?2 ESCAPE '\\')";

fn like_pattern(search: &str) -> String {
    format!("%{}%", search.trim().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}

impl History {
    /// Starts a conversation; returns its id.
    pub fn new_conversation(&self, title: &str, created_at_ms: i64) -> Result<i64, StoreError> {
        self.new_conversation_from(title, created_at_ms, None)
    }

    /// Starts a conversation on behalf of `api_client`, a program asking through the local API
    /// (`None`: the app itself); returns its id.
    pub fn new_conversation_from(&self, title: &str, created_at_ms: i64, api_client: Option<&str>) -> Result<i64, StoreError> {
        let connection = self.lock();
        connection.execute("INSERT INTO conversations (title, created_at_ms, api_client) VALUES (?1, ?2, ?3)", params![title, created_at_ms, api_client])?;
        Ok(connection.last_insert_rowid())
    }

    /// Removes a conversation that holds no question (one started for a request that then
    /// failed); returns whether it was removed.
    pub fn delete_conversation_if_empty(&self, conversation_id: i64) -> Result<bool, StoreError> {
        let connection = self.lock();
        let removed = connection
            .execute("DELETE FROM conversations WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM questions WHERE conversation_id = ?1)", [conversation_id])?;
        Ok(removed > 0)
    }

    /// All conversations, newest first.
    pub fn conversations(&self) -> Result<Vec<Conversation>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached("SELECT id, title, created_at_ms, api_client FROM conversations ORDER BY created_at_ms DESC, id DESC")?;
        let rows =
            statement.query_map([], |row| Ok(Conversation { id: row.get(0)?, title: row.get(1)?, created_at_ms: row.get(2)?, api_client: row.get(3)? }))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records a question; returns its id.
    pub fn record(&self, record: &QuestionRecord) -> Result<i64, StoreError> {
        let citations = serde_json::to_string(&record.citations).expect("citations serialize");
        let utilities = serde_json::to_string(&record.routing.expected_utilities).expect("utilities serialize");
        let escalation = record.escalation.as_ref();
        let payload = escalation.map(|escalation| serde_json::to_string(&escalation.payload).expect("payload serializes"));
        let connection = self.lock();
        let known = connection.query_row("SELECT 1 FROM conversations WHERE id = ?1", [record.conversation_id], |_| Ok(())).optional()?;
        if known.is_none() {
            return Err(StoreError::NoSuchConversation(record.conversation_id));
        }
        let mut statement = connection.prepare_cached(
            "INSERT INTO questions (conversation_id, asked_at_ms, question, citations_json, local_model, local_answer,
                verifier_value, local_latency_ms, verify_latency_ms, route_decision, route_reason, expected_utilities_json,
                lambda, estimated_cost_nanos, remote_model, payload_json, remote_answer, prompt_tokens, completion_tokens,
                usage_estimated, cost_nanos, currency, remote_latency_ms, remote_error, total_latency_ms, local_confidence, escalated_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)",
        )?;
        statement.execute(params![
            record.conversation_id,
            record.asked_at_ms,
            record.question,
            citations,
            record.local.model,
            record.local.text,
            record.local.verifier_value,
            record.local.latency_ms as i64,
            record.local.verify_latency_ms as i64,
            record.routing.decision.as_str(),
            record.routing.reason,
            utilities,
            record.routing.lambda,
            record.routing.estimated_cost.map(|cost| cost.nanos),
            escalation.map(|escalation| escalation.model.as_str()),
            payload,
            escalation.and_then(|escalation| escalation.answer.as_deref()),
            escalation.and_then(|escalation| escalation.usage).map(|usage| usage.prompt_tokens as i64),
            escalation.and_then(|escalation| escalation.usage).map(|usage| usage.completion_tokens as i64),
            escalation.is_some_and(|escalation| escalation.usage_estimated),
            escalation.map_or(0, |escalation| escalation.cost.nanos),
            escalation.map(|escalation| escalation.currency.as_str()),
            escalation.map(|escalation| escalation.latency_ms as i64),
            escalation.and_then(|escalation| escalation.error.as_deref()),
            record.total_latency_ms as i64,
            record.routing.local_confidence,
            escalation.map(|_| record.asked_at_ms),
        ])?;
        let id = connection.last_insert_rowid();
        drop(statement);
        drop(connection);
        if let Some(checkpointer) = &self.checkpointer {
            if self.recorded.fetch_add(1, Ordering::Relaxed) % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1 {
                checkpointer.nudge();
            }
        }
        Ok(id)
    }

    /// Sets or clears the user's 👍/👎 on a question.
    pub fn set_feedback(&self, question_id: i64, feedback: Option<Feedback>) -> Result<(), StoreError> {
        let value = feedback.map(Feedback::to_column);
        let changed = self.lock().execute("UPDATE questions SET feedback = ?1 WHERE id = ?2", params![value, question_id])?;
        if changed == 0 {
            return Err(StoreError::NoSuchQuestion(question_id));
        }
        Ok(())
    }

    /// One question by id.
    pub fn question(&self, question_id: i64) -> Result<StoredQuestion, StoreError> {
        self.query_questions(&format!("SELECT {QUESTION_COLUMNS} FROM questions WHERE id = ?1"), params![question_id])?
            .pop()
            .ok_or(StoreError::NoSuchQuestion(question_id))
    }

    /// The questions of a conversation, oldest first.
    pub fn conversation(&self, conversation_id: i64) -> Result<Vec<StoredQuestion>, StoreError> {
        self.query_questions(&format!("SELECT {QUESTION_COLUMNS} FROM questions WHERE conversation_id = ?1 ORDER BY asked_at_ms, id"), params![conversation_id])
    }

    /// Records an escalation the user asked for after the answer was recorded, with the
    /// routing as it now stands.
    pub fn attach_escalation(&self, question_id: i64, routing: &Routing, escalation: &Escalation, escalated_at_ms: i64) -> Result<(), StoreError> {
        let payload = serde_json::to_string(&escalation.payload).expect("payload serializes");
        let changed = self.lock().execute(
            "UPDATE questions SET route_decision = ?2, route_reason = ?3, estimated_cost_nanos = ?4, remote_model = ?5,
                payload_json = ?6, remote_answer = ?7, prompt_tokens = ?8, completion_tokens = ?9, usage_estimated = ?10,
                cost_nanos = ?11, currency = ?12, remote_latency_ms = ?13, remote_error = ?14, escalated_at_ms = ?15
             WHERE id = ?1",
            params![
                question_id,
                routing.decision.as_str(),
                routing.reason,
                routing.estimated_cost.map(|cost| cost.nanos),
                escalation.model,
                payload,
                escalation.answer,
                escalation.usage.map(|usage| usage.prompt_tokens as i64),
                escalation.usage.map(|usage| usage.completion_tokens as i64),
                escalation.usage_estimated,
                escalation.cost.nanos,
                escalation.currency,
                escalation.latency_ms as i64,
                escalation.error,
                escalated_at_ms,
            ],
        )?;
        if changed == 0 {
            return Err(StoreError::NoSuchQuestion(question_id));
        }
        Ok(())
    }

    /// Replaces a question's routing (a pending escalation the user kept local).
    pub fn update_routing(&self, question_id: i64, routing: &Routing) -> Result<(), StoreError> {
        let changed = self.lock().execute(
            "UPDATE questions SET route_decision = ?2, route_reason = ?3 WHERE id = ?1",
            params![question_id, routing.decision.as_str(), routing.reason],
        )?;
        if changed == 0 {
            return Err(StoreError::NoSuchQuestion(question_id));
        }
        Ok(())
    }

    /// Questions newest first, optionally only those the remote model answered and only those
    /// whose question or answers contain `search` (case-insensitive for ASCII), at most `limit`.
    pub fn list(&self, escalated_only: bool, search: &str, limit: usize) -> Result<Vec<StoredQuestion>, StoreError> {
        self.query_questions(
            &format!("SELECT {QUESTION_COLUMNS} FROM questions WHERE {LIST_FILTER} ORDER BY asked_at_ms DESC, id DESC LIMIT ?3"),
            params![escalated_only, like_pattern(search), limit as i64],
        )
    }

    /// How many questions [`History::list`] would find without its limit, how many of them the
    /// remote model answered, and what they cost.
    pub fn totals(&self, escalated_only: bool, search: &str) -> Result<ListTotals, StoreError> {
        let connection = self.lock();
        let mut statement =
            connection.prepare_cached(&format!("SELECT count(*), count(remote_answer), coalesce(sum(cost_nanos), 0) FROM questions WHERE {LIST_FILTER}"))?;
        Ok(statement.query_row(params![escalated_only, like_pattern(search)], |row| {
            Ok(ListTotals { answers: row.get::<_, i64>(0)? as u64, escalated: row.get::<_, i64>(1)? as u64, cost: Cost::from_nanos(row.get(2)?) })
        })?)
    }

    /// Questions asked in a UTC month (`YYYY-MM`, as the budget's months), oldest first.
    pub fn in_month(&self, month: &str) -> Result<Vec<StoredQuestion>, StoreError> {
        self.query_questions(
            &format!("SELECT {QUESTION_COLUMNS} FROM questions WHERE strftime('%Y-%m', asked_at_ms / 1000, 'unixepoch') = ?1 ORDER BY asked_at_ms, id"),
            params![month],
        )
    }

    /// How many questions were ever recorded.
    pub fn count(&self) -> Result<u64, StoreError> {
        Ok(self.lock().query_row("SELECT count(*) FROM questions", [], |row| row.get::<_, i64>(0))? as u64)
    }

    /// What use has shown about local answers asked after `since_ms`, oldest first, in one query:
    /// each answer with its remote answer (if any) and the user's feedback (if any); answers with
    /// neither are left out.
    pub fn judged_local_answers(&self, since_ms: i64) -> Result<Vec<JudgedAnswer>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(
            "SELECT local_answer, remote_answer, feedback FROM questions
             WHERE asked_at_ms > ?1 AND (remote_answer IS NOT NULL OR feedback IS NOT NULL)
             ORDER BY asked_at_ms, id",
        )?;
        let rows = statement.query_map([since_ms], |row| {
            Ok(JudgedAnswer { local_answer: row.get(0)?, remote_answer: row.get(1)?, feedback: Feedback::from_column(row.get(2)?) })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every escalated question, newest first.
    pub fn escalated(&self) -> Result<Vec<StoredQuestion>, StoreError> {
        self.query_questions(&format!("SELECT {QUESTION_COLUMNS} FROM questions WHERE remote_model IS NOT NULL ORDER BY asked_at_ms DESC, id DESC"), params![])
    }

    /// Remote spending per UTC day of the remote call, oldest first.
    pub fn spend_per_day(&self) -> Result<Vec<PeriodSpend>, StoreError> {
        self.spend_by("%Y-%m-%d")
    }

    /// Remote spending per UTC month, oldest first.
    pub fn spend_per_month(&self) -> Result<Vec<PeriodSpend>, StoreError> {
        self.spend_by("%Y-%m")
    }

    fn spend_by(&self, period_format: &str) -> Result<Vec<PeriodSpend>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(
            "SELECT strftime(?1, coalesce(escalated_at_ms, asked_at_ms) / 1000, 'unixepoch') AS period, currency, SUM(cost_nanos), COUNT(remote_answer)
             FROM questions WHERE remote_model IS NOT NULL
             GROUP BY period, currency ORDER BY period, currency",
        )?;
        let rows = statement.query_map([period_format], |row| {
            Ok(PeriodSpend {
                period: row.get(0)?,
                currency: row.get::<_, Option<String>>(1)?.unwrap_or_default(),
                cost: Cost::from_nanos(row.get(2)?),
                escalations: row.get::<_, i64>(3)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn query_questions(&self, sql: &str, parameters: &[&dyn rusqlite::ToSql]) -> Result<Vec<StoredQuestion>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(sql)?;
        let rows = statement.query_map(parameters, RawQuestion::from_row)?;
        rows.map(|row| row.map_err(StoreError::from).and_then(RawQuestion::into_stored)).collect()
    }
}
