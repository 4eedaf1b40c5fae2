//! loom models of the pool core: a shutdown racing the workers resolves
//! every job exactly once (run, or cancelled unrun), counts it once, and
//! the last worker out wakes whoever waits for the pool to stop.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --lib loom`.

use std::sync::Arc;

use loom::future::block_on;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

use super::core::{Core, Counts, Job};
use crate::task::{CancelReason, CancelToken};

/// A job that records how it ended: `ran` or `cancelled`.
struct Probe {
    ran: Arc<AtomicUsize>,
    cancelled: Arc<AtomicUsize>,
}

impl Job for Probe {
    fn cancel(self, _reason: CancelReason, counts: &Counts) {
        self.cancelled.fetch_add(1, Ordering::SeqCst);
        counts.ended(super::core::Ended::Cancelled);
    }
}

struct Setup {
    core: Arc<Core<Probe>>,
    ran: Arc<AtomicUsize>,
    cancelled: Arc<AtomicUsize>,
}

fn setup(workers: usize, jobs: usize) -> Setup {
    let core = Core::new("loom", None, workers, 2, CancelToken::new());
    let ran = Arc::new(AtomicUsize::new(0));
    let cancelled = Arc::new(AtomicUsize::new(0));
    for _ in 0..jobs {
        let probe = Probe {
            ran: ran.clone(),
            cancelled: cancelled.clone(),
        };
        assert!(core.try_submit(0, probe).is_ok());
    }
    Setup {
        core,
        ran,
        cancelled,
    }
}

/// A worker as the pools run one: take, run, count, until none is left.
fn worker(core: Arc<Core<Probe>>) -> thread::JoinHandle<()> {
    let enlisted = core.enlist();
    thread::spawn(move || {
        let _enlisted = enlisted;
        while let Some(job) = block_on(core.next()) {
            job.ran.fetch_add(1, Ordering::SeqCst);
            core.counts.ended(super::core::Ended::Done);
            core.counts.stopped();
        }
    })
}

#[test]
fn loom_cancel_racing_a_worker_resolves_each_job_once() {
    loom::model(|| {
        let Setup {
            core,
            ran,
            cancelled,
        } = setup(1, 2);
        let working = worker(core.clone());
        core.cancel("stop".into());
        block_on(core.stopped().wait());
        let (ran, cancelled) = (ran.load(Ordering::SeqCst), cancelled.load(Ordering::SeqCst));
        assert_eq!(ran + cancelled, 2, "ran {ran}, cancelled {cancelled}");
        let stats = core.stats();
        assert_eq!(
            (stats.done, stats.cancelled),
            (ran as u64, cancelled as u64)
        );
        assert_eq!((stats.running, stats.queued), (0, 0));
        working.join().unwrap();
    });
}

#[test]
fn loom_close_lets_two_workers_drain_and_the_last_out_reports_stopped() {
    loom::model(|| {
        let Setup {
            core,
            ran,
            cancelled,
        } = setup(2, 2);
        let workers = [worker(core.clone()), worker(core.clone())];
        core.close();
        block_on(core.stopped().wait());
        assert_eq!(ran.load(Ordering::SeqCst), 2);
        assert_eq!(cancelled.load(Ordering::SeqCst), 0);
        assert_eq!(core.stats().running, 0);
        for working in workers {
            working.join().unwrap();
        }
    });
}
