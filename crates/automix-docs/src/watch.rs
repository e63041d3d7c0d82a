//! Watching the library's folders for changes (inotify, FSEvents or ReadDirectoryChangesW through
//! `notify`), so that [`Library::sync`](crate::Library::sync) runs when something changed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use notify::{EventKind, RecursiveMode, Watcher};

use crate::extract::DocumentFormat;

/// How often a wait looks at its cancel flag.
const CANCEL_POLL: Duration = Duration::from_millis(200);

/// Why folders could not be watched.
#[derive(Debug, thiserror::Error)]
#[error("cannot watch {path} for changes: {reason}; `automix docs sync` brings the library up to date by hand")]
pub struct WatchError {
    pub path: PathBuf,
    pub reason: String,
}

/// Watches folders recursively and reports batches of changed document paths.
pub struct FolderWatcher {
    // Kept alive for as long as events should arrive.
    _watcher: notify::RecommendedWatcher,
    events: Receiver<notify::Result<notify::Event>>,
}

impl FolderWatcher {
    pub fn new(folders: &[PathBuf]) -> Result<FolderWatcher, WatchError> {
        let (sender, events) = mpsc::channel();
        let mut watcher = notify::recommended_watcher(move |event| {
            // The receiver is gone only when the watcher is being dropped.
            let _ = sender.send(event);
        })
        .map_err(|error| WatchError { path: folders.first().cloned().unwrap_or_default(), reason: error.to_string() })?;
        for folder in folders {
            watcher.watch(folder, RecursiveMode::Recursive).map_err(|error| WatchError { path: folder.clone(), reason: error.to_string() })?;
        }
        Ok(FolderWatcher { _watcher: watcher, events })
    }

    /// Waits for a change to a document file (or a folder) and then until changes have stopped
    /// for `settle`, so that a file being written or a folder being copied is one batch. Returns
    /// the changed paths (empty when events were lost), or None when `cancel` was set or the
    /// watcher stopped.
    pub fn next_changes(&self, settle: Duration, cancel: &AtomicBool) -> Option<Vec<PathBuf>> {
        let mut changed: Vec<PathBuf> = Vec::new();
        let mut pending = false;
        let mut last_change = Instant::now();
        loop {
            if cancel.load(Ordering::Relaxed) {
                return None;
            }
            if pending && last_change.elapsed() >= settle {
                return Some(changed);
            }
            match self.events.recv_timeout(CANCEL_POLL.min(settle)) {
                // Reads are not changes: a sync opening every folder would otherwise wake the
                // next sync, forever.
                Ok(Ok(event)) if matches!(event.kind, EventKind::Access(_)) => {}
                Ok(Ok(event)) => {
                    for path in event.paths.into_iter().filter(|path| may_hold_documents(path)) {
                        if !changed.contains(&path) {
                            changed.push(path);
                        }
                        (pending, last_change) = (true, Instant::now());
                    }
                }
                // A lost event (queue overflow) means anything may have changed: a batch with no
                // paths still calls for a sync.
                Ok(Err(_)) => (pending, last_change) = (true, Instant::now()),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }
}

/// Document files and anything that may be a folder (no extension); not hidden entries, nor the
/// library's own database files should it live inside a watched folder.
fn may_hold_documents(path: &Path) -> bool {
    let hidden = path.file_name().is_some_and(|name| name.to_string_lossy().starts_with('.'));
    !hidden && (DocumentFormat::from_extension(path).is_some() || path.extension().is_none())
}
