//! What every pool shares: the bounded priority queue of jobs, the
//! counters, the cancel token, and the shutdown rules. A pool kind only says
//! what a job is and how a worker runs one.

use std::cmp::Ordering as Order;
use std::sync::Arc;
use std::time::Duration;

use crate::loom::atomic::{AtomicU64, AtomicUsize, Ordering};
use crate::queue::{self, Receiver, SendError, Sender};
use crate::sync::Event;
use crate::task::{CancelReason, CancelToken};

use tokio::sync::oneshot;

use super::{JobError, Stats, SubmitError};

/// A queued job that can be resolved as cancelled without running.
pub(crate) trait Job: Send + 'static {
    /// Resolves the job's handle with `JobError::Cancelled(reason)`, counted.
    fn cancel(self, reason: CancelReason, counts: &Counts);
}

/// A job and its priority: greater first, first in first out among equals
/// (the queue keeps arrival order for ties).
pub(crate) struct Queued<J> {
    priority: i32,
    job: J,
}

fn by_priority<J>(a: &Queued<J>, b: &Queued<J>) -> Order {
    a.priority.cmp(&b.priority)
}

/// How many jobs are running and how the finished ones ended.
pub(crate) struct Counts {
    running: AtomicUsize,
    done: AtomicU64,
    failed: AtomicU64,
    cancelled: AtomicU64,
}

/// How a job ended, for the counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    Done,
    Failed,
    Cancelled,
}

impl Counts {
    fn new() -> Counts {
        Counts {
            running: AtomicUsize::new(0),
            done: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
        }
    }

    /// Counts how `outcome` ended and hands it to the job's handle (which
    /// may have been dropped: then only the count remains). A job that was
    /// `running` leaves the running count first, so whoever sees the result
    /// sees the counters already moved.
    pub(crate) fn settle<T, E>(
        &self,
        reply: oneshot::Sender<Result<T, JobError<E>>>,
        outcome: Result<T, JobError<E>>,
        running: bool,
    ) {
        if running {
            self.stopped();
        }
        self.ended(match &outcome {
            Ok(_) => Ended::Done,
            Err(JobError::Cancelled(_)) => Ended::Cancelled,
            Err(_) => Ended::Failed,
        });
        let _ = reply.send(outcome);
    }

    pub(crate) fn ended(&self, ended: Ended) {
        let counter = match ended {
            Ended::Done => &self.done,
            Ended::Failed => &self.failed,
            Ended::Cancelled => &self.cancelled,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn started(&self) {
        self.running.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn stopped(&self) {
        self.running.fetch_sub(1, Ordering::Relaxed);
    }
}

pub(crate) struct Core<J> {
    pub(crate) name: Option<Arc<str>>,
    tx: Sender<Queued<J>>,
    rx: Receiver<Queued<J>>,
    /// Cancelled by `shutdown_now`, by a graceful shutdown whose grace ran
    /// out, and when the pool is dropped; running jobs watch it.
    pub(crate) token: CancelToken,
    pub(crate) counts: Counts,
    workers: usize,
    /// Workers not yet exited; the last one out sets `stopped`.
    live: AtomicUsize,
    stopped: Event,
}

impl<J: Job> Core<J> {
    /// # Panics
    ///
    /// If `workers` or `queue` is zero.
    pub(crate) fn new(
        kind: &str,
        name: Option<Arc<str>>,
        workers: usize,
        queue: usize,
        token: CancelToken,
    ) -> Arc<Core<J>> {
        assert!(
            workers > 0,
            "{kind}: a pool needs at least one worker, got 0"
        );
        assert!(
            queue > 0,
            "{kind}: the queue needs room for at least one job, got 0"
        );
        let mut builder = queue::Builder::new(queue);
        if let Some(name) = &name {
            builder = builder.name(name.clone());
        }
        let (tx, rx) = builder.priority_by(by_priority::<J>).build();
        Arc::new(Core {
            name,
            tx,
            rx,
            token,
            counts: Counts::new(),
            workers,
            live: AtomicUsize::new(workers),
            stopped: Event::new(),
        })
    }

    pub(crate) async fn submit(&self, priority: i32, job: J) -> Result<(), SubmitError<J>> {
        let sent = self.tx.send(Queued { priority, job }).await;
        sent.map(drop).map_err(refused)
    }

    pub(crate) fn try_submit(&self, priority: i32, job: J) -> Result<(), SubmitError<J>> {
        let sent = self.tx.try_send(Queued { priority, job });
        sent.map(drop).map_err(refused)
    }

    pub(crate) fn submit_blocking(&self, priority: i32, job: J) -> Result<(), SubmitError<J>> {
        let sent = self.tx.send_blocking(Queued { priority, job });
        sent.map(drop).map_err(refused)
    }

    /// The next job for a worker, counted as running; `None` when the pool
    /// is closed and drained. A job taken after the pool was cancelled is
    /// resolved as cancelled instead of run.
    pub(crate) async fn next(&self) -> Option<J> {
        loop {
            let queued = self.rx.recv().await.ok()?;
            if let Some(job) = self.admit(queued.job) {
                return Some(job);
            }
        }
    }

    /// As [`next`](Core::next), on a thread.
    pub(crate) fn next_blocking(&self) -> Option<J> {
        loop {
            let queued = self.rx.recv_blocking().ok()?;
            if let Some(job) = self.admit(queued.job) {
                return Some(job);
            }
        }
    }

    fn admit(&self, job: J) -> Option<J> {
        match self.token.reason() {
            Some(reason) => {
                job.cancel(reason, &self.counts);
                None
            }
            None => {
                self.counts.started();
                Some(job)
            }
        }
    }

    /// Held by each worker while it lives; dropping it (on exit or panic)
    /// counts the worker out.
    pub(crate) fn enlist(self: &Arc<Self>) -> Enlisted<J> {
        Enlisted { core: self.clone() }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.tx.capacity()
    }

    pub(crate) fn workers(&self) -> usize {
        self.workers
    }

    pub(crate) fn stats(&self) -> Stats {
        Stats {
            workers: self.workers,
            queued: self.rx.len(),
            running: self.counts.running.load(Ordering::Relaxed),
            done: self.counts.done.load(Ordering::Relaxed),
            failed: self.counts.failed.load(Ordering::Relaxed),
            cancelled: self.counts.cancelled.load(Ordering::Relaxed),
        }
    }

    /// Stops taking jobs; queued ones still run.
    pub(crate) fn close(&self) -> bool {
        self.tx.close()
    }

    /// Cancels the running jobs and resolves every queued one as cancelled.
    pub(crate) fn cancel(&self, reason: CancelReason) {
        self.close();
        self.token.cancel(reason);
        let reason = self.token.reason().expect("the token was just cancelled");
        while let Ok(queued) = self.rx.try_recv() {
            queued.job.cancel(reason.clone(), &self.counts);
        }
    }

    /// Set when the last worker has exited.
    pub(crate) fn stopped(&self) -> &Event {
        &self.stopped
    }

    pub(crate) async fn shutdown(&self, grace: Duration) -> Stats {
        self.close();
        if self.stopped().wait_timeout(grace).await.is_err() {
            self.cancel(format!("the pool's shutdown grace of {grace:?} ran out").into());
        }
        self.stopped().wait().await;
        self.stats()
    }

    pub(crate) async fn shutdown_now(&self) -> Stats {
        self.cancel("the pool was shut down".into());
        self.stopped().wait().await;
        self.stats()
    }
}

fn refused<J>(error: SendError<Queued<J>>) -> SubmitError<J> {
    match error {
        SendError::Full(queued) => SubmitError::Full(queued.job),
        // A pool's queue is never given a timeout.
        SendError::Closed(queued) | SendError::TimedOut(queued) => SubmitError::Closed(queued.job),
    }
}

/// A live worker's place in the count; see [`Core::enlist`].
pub(crate) struct Enlisted<J: Job> {
    core: Arc<Core<J>>,
}

impl<J: Job> Drop for Enlisted<J> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // A worker died of a panic outside any job's guard: rather than
            // leave jobs queued for a pool that is a worker short, or for
            // none at all, stop the pool and resolve every queued job.
            self.core
                .cancel("a pool worker panicked; the pool was stopped".into());
        }
        if self.core.live.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.core.stopped.set();
        }
    }
}
