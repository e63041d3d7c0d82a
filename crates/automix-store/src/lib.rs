//! Answer history in SQLite: every question with its retrieved chunks, local answer, verifier
//! value, routing decision, escalation (payload, answer, tokens, cost), latencies and feedback.
//!
//! Times are Unix milliseconds; day and month groupings are in UTC, like the budget's months.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Mutex, MutexGuard};
use std::thread::JoinHandle;

pub use automix_types::RouteDecision;
use automix_types::{Cost, EscalationPayload, Usage};
use rusqlite::{params, Connection, OptionalExtension, Row};
use rusqlite_migration::{Migrations, M};
use serde::{Deserialize, Serialize};

/// Errors opening or using the history database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error("cannot open the history database {path}: {source}; check the folder exists and is writable")]
    Open { path: PathBuf, source: rusqlite::Error },
    /// The schema could not be brought up to date.
    #[error("cannot upgrade the history database schema: {0}; the file may come from a newer AutoMix, or be damaged (move it aside to start afresh)")]
    Migration(#[from] rusqlite_migration::Error),
    /// A query failed.
    #[error("history database query failed: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A stored JSON column does not parse.
    #[error("history row {id} has an unreadable `{column}` column: {source}")]
    Corrupt { id: i64, column: &'static str, source: serde_json::Error },
    /// No question with this id.
    #[error("no question with id {0} in the history")]
    NoSuchQuestion(i64),
    /// No conversation with this id.
    #[error("no conversation with id {0} in the history")]
    NoSuchConversation(i64),
}

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
    pub location: Option<CitationLocation>,
}

/// The document, pages and section a cited chunk comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CitationLocation {
    pub document_id: i64,
    pub path: String,
    pub title: String,
    pub page_start: Option<u32>,
    pub page_end: Option<u32>,
    /// Printed page labels, where they differ from the physical numbers (absent in old rows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_label_start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_label_end: Option<String>,
    pub section: Option<String>,
    pub char_start: usize,
    pub char_end: usize,
}

/// The user's verdict on an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feedback {
    /// 👍
    Up,
    /// 👎
    Down,
}

impl Feedback {
    /// The `feedback` column's value (1 or -1; anything else is no feedback).
    fn from_column(value: Option<i64>) -> Option<Feedback> {
        match value {
            Some(1) => Some(Feedback::Up),
            Some(-1) => Some(Feedback::Down),
            _ => None,
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
}

/// A conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    /// Row id.
    pub id: i64,
    /// Title shown in the list.
    pub title: String,
    /// Creation time (Unix ms).
    pub created_at_ms: i64,
}

/// The filter of [`History::list`] and [`History::totals`]: ?1 escalated only, ?2 a LIKE pattern.
const LIST_FILTER: &str = "(?1 = 0 OR remote_answer IS NOT NULL)
    AND (question LIKE ?2 ESCAPE '\\' OR local_answer LIKE ?2 ESCAPE '\\' OR coalesce(remote_answer, '') LIKE ?2 ESCAPE '\\')";

fn like_pattern(search: &str) -> String {
    format!("%{}%", search.trim().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
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

const MIGRATIONS: &[M<'static>] = &[
    M::up(
        "CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL
    );
    CREATE TABLE questions (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        asked_at_ms INTEGER NOT NULL,
        question TEXT NOT NULL,
        citations_json TEXT NOT NULL,
        local_model TEXT NOT NULL,
        local_answer TEXT NOT NULL,
        verifier_value REAL,
        local_latency_ms INTEGER NOT NULL,
        verify_latency_ms INTEGER NOT NULL,
        route_decision TEXT NOT NULL,
        route_reason TEXT NOT NULL,
        expected_utilities_json TEXT NOT NULL,
        lambda REAL,
        estimated_cost_nanos INTEGER,
        remote_model TEXT,
        payload_json TEXT,
        remote_answer TEXT,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        usage_estimated INTEGER NOT NULL DEFAULT 0,
        cost_nanos INTEGER NOT NULL DEFAULT 0,
        currency TEXT,
        remote_latency_ms INTEGER,
        remote_error TEXT,
        total_latency_ms INTEGER NOT NULL,
        feedback INTEGER CHECK (feedback IN (-1, 1))
    );
    CREATE INDEX questions_by_conversation ON questions(conversation_id, asked_at_ms);
    CREATE INDEX questions_escalated ON questions(asked_at_ms) WHERE remote_model IS NOT NULL;",
    ),
    M::up("ALTER TABLE questions ADD COLUMN local_confidence REAL;"),
    // When the remote call was made: a question escalated on request days later is charged then.
    M::up(
        "ALTER TABLE questions ADD COLUMN escalated_at_ms INTEGER;
       UPDATE questions SET escalated_at_ms = asked_at_ms WHERE remote_model IS NOT NULL;",
    ),
];

/// The history database. One `History` can be shared between threads.
#[derive(Debug)]
pub struct History {
    connection: Mutex<Connection>,
    recorded: AtomicU64,
    checkpointer: Option<Checkpointer>,
}

/// Copies the WAL back into the database on a thread of its own, so the fsyncs of a
/// checkpoint never land on the question being answered.
#[derive(Debug)]
struct Checkpointer {
    wake: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// Records between background checkpoints.
const CHECKPOINT_EVERY: u64 = 64;

impl Checkpointer {
    fn start(path: &Path) -> Result<Self, StoreError> {
        let connection = Connection::open(path).map_err(|source| StoreError::Open { path: path.into(), source })?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        let (wake, woken) = sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("automix-history-checkpoint".into())
            .spawn(move || {
                while woken.recv().is_ok() {
                    // PASSIVE never blocks writers; if it cannot finish, the next wake-up retries.
                    let _ = connection.execute_batch("PRAGMA wal_checkpoint(PASSIVE)");
                }
            })
            .map_err(|source| StoreError::Open { path: path.into(), source: rusqlite::Error::ToSqlConversionFailure(Box::new(source)) })?;
        Ok(Checkpointer { wake: Some(wake), thread: Some(thread) })
    }

    fn nudge(&self) {
        if let Some(wake) = &self.wake {
            // A full channel means a checkpoint is already pending, which is enough.
            let _ = wake.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.wake.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

const QUESTION_COLUMNS: &str = "id, conversation_id, asked_at_ms, question, citations_json, local_model, local_answer,
    verifier_value, local_latency_ms, verify_latency_ms, route_decision, route_reason, expected_utilities_json,
    lambda, estimated_cost_nanos, remote_model, payload_json, remote_answer, prompt_tokens, completion_tokens,
    usage_estimated, cost_nanos, currency, remote_latency_ms, remote_error, total_latency_ms, feedback, local_confidence";

impl History {
    /// Opens (creating and migrating as needed) the history at `path`, in WAL mode.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let connection = Connection::open(path).map_err(|source| StoreError::Open { path: path.into(), source })?;
        let mut history = Self::prepare(connection)?;
        history.checkpointer = Some(Checkpointer::start(path)?);
        Ok(history)
    }

    /// A throwaway in-memory history.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::prepare(Connection::open_in_memory()?)
    }

    fn prepare(mut connection: Connection) -> Result<Self, StoreError> {
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        // WAL lets the UI read history while a question is being recorded; NORMAL sync is
        // durable against process crashes, which is what the history needs.
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        // Checkpoints run on the checkpointer thread instead of inside a commit.
        connection.pragma_update(None, "wal_autocheckpoint", 0)?;
        Migrations::from_slice(MIGRATIONS).to_latest(&mut connection)?;
        Ok(History { connection: Mutex::new(connection), recorded: AtomicU64::new(0), checkpointer: None })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // rusqlite rolls back an unfinished transaction when it is dropped during a panic,
        // so the connection behind a poisoned lock is still consistent.
        self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts a conversation; returns its id.
    pub fn new_conversation(&self, title: &str, created_at_ms: i64) -> Result<i64, StoreError> {
        let connection = self.lock();
        connection.execute("INSERT INTO conversations (title, created_at_ms) VALUES (?1, ?2)", params![title, created_at_ms])?;
        Ok(connection.last_insert_rowid())
    }

    /// All conversations, newest first.
    pub fn conversations(&self) -> Result<Vec<Conversation>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached("SELECT id, title, created_at_ms FROM conversations ORDER BY created_at_ms DESC, id DESC")?;
        let rows = statement.query_map([], |row| Ok(Conversation { id: row.get(0)?, title: row.get(1)?, created_at_ms: row.get(2)? }))?;
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
        let value = feedback.map(|feedback| match feedback {
            Feedback::Up => 1,
            Feedback::Down => -1,
        });
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

/// A row before its JSON columns are parsed (parsing errors are ours, not rusqlite's).
struct RawQuestion {
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
}

impl RawQuestion {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
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
        })
    }

    fn into_stored(self) -> Result<StoredQuestion, StoreError> {
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
        })
    }
}
