//! The history database handle: opening (WAL, schema brought up to date) and its connection.

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

use crate::checkpoint::Checkpointer;
use crate::error::StoreError;
use crate::schema::HISTORY;
use automix_sqlite::migrate;

/// The history database. One `History` can be shared between threads.
#[derive(Debug)]
pub struct History {
    connection: Mutex<Connection>,
    /// Questions recorded through this handle, to nudge the checkpointer every so often.
    pub(crate) recorded: AtomicU64,
    pub(crate) checkpointer: Option<Checkpointer>,
}

impl History {
    /// Opens (creating and migrating as needed) the history at `path`, in WAL mode.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let connection = automix_sqlite::open_creating_folder(path).map_err(|source| StoreError::Open { path: path.into(), source })?;
        let mut history = Self::prepare(connection)?;
        history.checkpointer = Some(Checkpointer::start(path)?);
        Ok(history)
    }

    /// The schema version this build writes (`history` in `schema_versions`).
    pub fn schema_version() -> i64 {
        HISTORY.latest()
    }

    /// A throwaway in-memory history.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::prepare(Connection::open_in_memory()?)
    }

    fn prepare(mut connection: Connection) -> Result<Self, StoreError> {
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        // WAL lets the UI read history while a question is being recorded; NORMAL sync is
        // durable against process crashes, which is what the history needs.
        automix_sqlite::enable_wal(&connection)?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        // Checkpoints run on the checkpointer thread instead of inside a commit.
        connection.pragma_update(None, "wal_autocheckpoint", 0)?;
        migrate::apply(&mut connection, &HISTORY)?;
        Ok(History { connection: Mutex::new(connection), recorded: AtomicU64::new(0), checkpointer: None })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        // rusqlite rolls back an unfinished transaction when it is dropped during a panic,
        // so the connection behind a poisoned lock is still consistent.
        self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
