//! The background WAL checkpoint of the history file.

use std::path::Path;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;

use rusqlite::Connection;

use crate::error::StoreError;

/// Records between background checkpoints.
pub(crate) const CHECKPOINT_EVERY: u64 = 64;

/// Copies the WAL back into the database on a thread of its own, so the fsyncs of a
/// checkpoint never land on the question being answered.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    wake: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    pub(crate) fn start(path: &Path) -> Result<Self, StoreError> {
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

    pub(crate) fn nudge(&self) {
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
