//! One request at a time on the local model, a bounded queue behind it, and a 429 beyond.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

pub(crate) struct Admission {
    /// Requests answering or waiting.
    admitted: AtomicUsize,
    /// How many may wait behind the one answering.
    queue_limit: usize,
    model: Arc<Semaphore>,
    /// Recent answer time (ms, moving average): what `Retry-After` is estimated from.
    recent_answer_ms: AtomicU64,
}

/// A place in the queue; leaving (answered, refused or disconnected) frees it.
pub(crate) struct Ticket {
    admission: Arc<Admission>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.admission.admitted.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Admission {
    pub(crate) fn new(queue_limit: usize) -> Arc<Self> {
        Arc::new(Admission { admitted: AtomicUsize::new(0), queue_limit, model: Arc::new(Semaphore::new(1)), recent_answer_ms: AtomicU64::new(2_000) })
    }

    /// A place, or a 429 saying when to try again.
    pub(crate) fn enter(self: &Arc<Self>) -> Result<Ticket, ApiError> {
        let capacity = 1 + self.queue_limit;
        let admitted = self.admitted.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |admitted| (admitted < capacity).then_some(admitted + 1));
        match admitted {
            Ok(_) => Ok(Ticket { admission: self.clone() }),
            Err(admitted) => {
                let per_answer = self.recent_answer_ms.load(Ordering::Relaxed);
                let retry_after = (admitted as u64 * per_answer).div_ceil(1000).max(1);
                Err(ApiError::queue_full(self.queue_limit, retry_after))
            }
        }
    }

    /// Waits for the local model (first come, first served).
    pub(crate) async fn model(&self) -> OwnedSemaphorePermit {
        self.model.clone().acquire_owned().await.expect("the model's semaphore is never closed")
    }

    pub(crate) fn answered_in(&self, ms: u64) {
        let previous = self.recent_answer_ms.load(Ordering::Relaxed);
        self.recent_answer_ms.store((previous * 3 + ms) / 4, Ordering::Relaxed);
    }

    #[cfg(test)]
    pub(crate) fn admitted(&self) -> usize {
        self.admitted.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_admits_one_answering_and_its_limit_waiting_then_refuses_until_a_place_frees() {
        let admission = Admission::new(2);
        let mut tickets: Vec<Ticket> = (0..3).map(|_| admission.enter().unwrap()).collect();
        let refused = admission.enter().err().unwrap();
        assert_eq!((refused.status.as_u16(), refused.code), (429, "queue_full"));
        assert!(refused.retry_after.unwrap() >= 1);
        tickets.pop();
        assert_eq!(admission.admitted(), 2);
        assert!(admission.enter().is_ok(), "a freed place is taken again");
    }
}
