//! Answer history in SQLite: every question with its retrieved chunks, local answer, verifier
//! value, routing decision, escalation (payload, answer, tokens, cost), latencies and feedback.
//! Its schema is versioned with the migration scheme the ledger and the library share
//! (`automix_sqlite::migrate`).
//!
//! Times are Unix milliseconds; day and month groupings are in UTC, like the budget's months.
//!
//! Modules use each other in layers, never in a circle: `records` (what is stored), `error` and
//! `schema` (the history's steps) use no other module; `checkpoint` (the background WAL checkpoint) uses `error`;
//! `rows` (reading a row back) uses `error` and `records`; `history` (the handle, opening) uses
//! `checkpoint` and `schema`; `queries` (every read and write of answers) and `network` (the network log) use `history`, `rows` and below.
//! The crate root only declares and re-exports.

mod checkpoint;
mod error;
mod history;
mod network;
mod queries;
mod records;
mod rows;
mod schema;

pub use automix_types::{NetworkPurpose, NetworkRequest, RouteDecision, SourceLocation};
pub use error::StoreError;
pub use history::History;
pub use records::{Citation, Conversation, Escalation, Feedback, JudgedAnswer, ListTotals, LocalAnswer, PeriodSpend, QuestionRecord, Routing, StoredQuestion};
