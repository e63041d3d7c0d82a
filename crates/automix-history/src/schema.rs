//! The history's schema: its steps (`migrations/history/*.sql`) and how a history written before
//! `schema_versions` is recognised.

use rusqlite::Connection;

use automix_sqlite::migrate::{column_exists, table_exists, user_version, Migration, Schema};

/// The history's tables, versioned as `history` in `schema_versions`.
pub(crate) const HISTORY: Schema = Schema {
    name: "history",
    migrations: &[
        Migration::sql("0001_conversations_and_questions.sql", include_str!("../migrations/history/0001_conversations_and_questions.sql")),
        Migration::sql("0002_local_confidence.sql", include_str!("../migrations/history/0002_local_confidence.sql")),
        Migration::sql("0003_escalated_at.sql", include_str!("../migrations/history/0003_escalated_at.sql")),
        Migration::sql("0004_network_requests.sql", include_str!("../migrations/history/0004_network_requests.sql")),
        Migration::sql("0005_api_client.sql", include_str!("../migrations/history/0005_api_client.sql")),
    ],
    adopt: adopt_history,
};

/// Before `schema_versions`, rusqlite_migration kept the number of steps applied in `PRAGMA
/// user_version`, set in each step's own transaction (the ledger, sharing the file, never touched
/// it). Without a `questions` table there is no history yet. A history table with no version is
/// read from its columns, should such a file ever turn up.
fn adopt_history(connection: &Connection) -> rusqlite::Result<i64> {
    if !table_exists(connection, "questions")? {
        return Ok(0);
    }
    let version = user_version(connection)?;
    if version > 0 {
        return Ok(version);
    }
    Ok(if column_exists(connection, "conversations", "api_client")? {
        5
    } else if table_exists(connection, "network_requests")? {
        4
    } else if column_exists(connection, "questions", "escalated_at_ms")? {
        3
    } else if column_exists(connection, "questions", "local_confidence")? {
        2
    } else {
        1
    })
}
