//! The history's error type.

use std::path::PathBuf;

use automix_sqlite::migrate::MigrationError;

/// Errors opening or using the history database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error("cannot open the history database {path}: {source}; check the folder exists and is writable")]
    Open { path: PathBuf, source: rusqlite::Error },
    /// The schema could not be brought up to date (the message names the file and the step).
    #[error(transparent)]
    Migration(#[from] MigrationError),
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
