//! A small thread pool in which the calling thread works too, for the kernels' parallel loops.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

/// A job: items `0..total` handed out one at a time to whichever thread asks first.
struct Job {
    work: *const (dyn Fn(usize) + Sync),
    next: AtomicUsize,
    done: AtomicUsize,
    total: usize,
    /// The first panic of an item, re-raised on the calling thread once every item is done.
    panic: Mutex<Option<Box<dyn std::any::Any + Send>>>,
}

// SAFETY: `work` is only called for claimed items below `total`, and `Pool::run` does not return
// or unwind (so the closure stays alive) until every such item is done: a panicking item is
// caught and still counted as done.
unsafe impl Send for Job {}
// SAFETY: as for `Send`; its other fields are atomics and a mutex, and `work` is `Sync`.
unsafe impl Sync for Job {}

impl Job {
    /// Runs items until none are left to claim.
    fn help(&self) {
        loop {
            let item = self.next.fetch_add(1, Ordering::Relaxed);
            if item >= self.total {
                return;
            }
            // SAFETY: see the impl Send above.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe { (*self.work)(item) }));
            if let Err(payload) = outcome {
                self.panic.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(payload);
            }
            self.done.fetch_add(1, Ordering::Release);
        }
    }
}

#[derive(Default)]
struct Slot {
    job: Option<Arc<Job>>,
    sleeping: usize,
}

#[derive(Default)]
struct Shared {
    slot: Mutex<Slot>,
    wake: Condvar,
    generation: AtomicU64,
}

/// Workers plus the calling thread share each job through an item counter, so a worker the OS
/// has descheduled delays nobody: its items are taken by the others (unlike a fixed split).
pub(crate) struct Pool {
    shared: Arc<Shared>,
    workers: usize,
    /// One job at a time; a second concurrent caller runs its job alone.
    running: Mutex<()>,
}

/// Waits this many rounds for the next job (or the last item) before sleeping: decode issues one
/// every few µs.
const SPINS: u32 = 20_000;
/// Of those, the first rounds only spin; later ones yield the CPU, so that when the machine is
/// oversubscribed a waiting thread lets the thread it waits for (or other work) run.
const PURE_SPINS: u32 = 1_000;

fn back_off(round: u32) {
    if round < PURE_SPINS {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

pub(crate) fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool::new(candle_core::utils::get_num_threads().saturating_sub(1)))
}

impl Pool {
    fn new(workers: usize) -> Self {
        let shared = Arc::new(Shared::default());
        let workers = (0..workers)
            .filter(|i| {
                let shared = shared.clone();
                std::thread::Builder::new().name(format!("automix-llm-{i}")).spawn(move || worker(&shared)).is_ok()
            })
            .count();
        Self { shared, workers, running: Mutex::new(()) }
    }

    /// Threads that take part in a job: the workers and the caller.
    pub(crate) fn threads(&self) -> usize {
        self.workers + 1
    }

    /// Calls `work(item)` for every item in `0..total`, on this thread and the workers.
    pub(crate) fn run(&self, total: usize, work: &(dyn Fn(usize) + Sync)) {
        let guard = if self.workers > 0 && total > 1 { self.running.try_lock().ok() } else { None };
        if guard.is_none() {
            (0..total).for_each(work);
            return;
        }
        // SAFETY: the lifetime is erased only for the duration of this call; see `Job`.
        let work: *const (dyn Fn(usize) + Sync) = unsafe { std::mem::transmute(work) };
        let job = Arc::new(Job { work, next: AtomicUsize::new(0), done: AtomicUsize::new(0), total, panic: Mutex::new(None) });
        let wake = {
            let mut slot = self.shared.slot.lock().unwrap_or_else(|e| e.into_inner());
            slot.job = Some(job.clone());
            self.shared.generation.fetch_add(1, Ordering::Release);
            slot.sleeping > 0
        };
        if wake {
            self.shared.wake.notify_all();
        }
        job.help();
        let mut round = 0u32;
        while job.done.load(Ordering::Acquire) < total {
            back_off(round);
            round = round.saturating_add(1);
        }
        let panic = job.panic.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(payload) = panic {
            std::panic::resume_unwind(payload);
        }
    }
}

fn worker(shared: &Shared) {
    let mut seen = 0;
    loop {
        let mut round = 0u32;
        while shared.generation.load(Ordering::Acquire) == seen && round < SPINS {
            back_off(round);
            round += 1;
        }
        let job = {
            let mut slot = shared.slot.lock().unwrap_or_else(|e| e.into_inner());
            while shared.generation.load(Ordering::Acquire) == seen {
                slot.sleeping += 1;
                slot = shared.wake.wait(slot).unwrap_or_else(|e| e.into_inner());
                slot.sleeping -= 1;
            }
            seen = shared.generation.load(Ordering::Acquire);
            slot.job.clone()
        };
        if let Some(job) = job {
            job.help();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A panicking item reaches the caller, after every claimed item has finished, and the pool
    /// keeps working (no worker thread dies, no later job waits forever).
    #[test]
    fn a_panicking_item_is_re_raised_on_the_caller_and_the_pool_survives() {
        let finished = AtomicUsize::new(0);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool().run(64, &|item| {
                assert!(item != 13, "item 13 fails");
                finished.fetch_add(1, Ordering::Relaxed);
            })
        }));
        assert!(outcome.is_err(), "the panic must reach the caller");
        // (How many other items ran depends on whether another test held the pool.)
        assert!(finished.load(Ordering::Relaxed) >= 13);
        let sum = AtomicUsize::new(0);
        pool().run(100, &|item| {
            sum.fetch_add(item, Ordering::Relaxed);
        });
        assert_eq!(sum.load(Ordering::Relaxed), 4950);
    }
}
