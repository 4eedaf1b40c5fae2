//! Worker pools and bounded maps: many jobs, a fixed number of workers, a
//! bounded queue in front, and a result for every job.
//!
//! | you have | use |
//! | --- | --- |
//! | a stream of async jobs from many producers, over the life of a service | [`WorkerPool`]: N async workers over a bounded priority queue |
//! | blocking or CPU-heavy closures (a sync driver, compression, hashing) | [`ThreadPool`]: named OS threads, a bounded queue, awaitable or joinable results |
//! | work that may crash, leak or must be killable (native code, untrusted input) | [`ProcessPool`] (Unix): each job in a worker process; a crash fails that job only |
//! | one collection or stream to transform, at most N at a time | [`map`] (input order), [`map_unordered`], [`for_each`], and [`chunks`] for batches |
//!
//! Every pool has the same face. `submit` waits for room in the queue
//! (backpressure) and hands back a [`JobHandle`]; `try_submit` refuses at
//! once when the queue is full; the `_with` forms take a priority (greater
//! first, first in first out among equals). A refused job comes back to the
//! caller inside the [`SubmitError`]. Every handle resolves: with the job's
//! value, or a [`JobError`] saying it failed, panicked, was cancelled, timed
//! out or crashed. A job's error or panic is that job's result; the worker
//! lives on, so the pool never shrinks.
//!
//! Shutdown comes in two forms. [`WorkerPool::shutdown`] stops accepting,
//! lets queued and running jobs finish within a grace period, then cancels
//! the rest; [`WorkerPool::shutdown_now`] resolves queued jobs as cancelled
//! and cancels the running ones. Dropping a pool is `shutdown_now` without
//! the wait. [`Stats`] counts queued, running, done, failed and cancelled
//! jobs at any time.
//!
//! When to use something else: for a fixed group of tasks with one owner
//! that waits for all of them, a [`Scope`](crate::task::Scope); for a few
//! futures in the current task, [`task::at_most`](crate::task::at_most);
//! for data-parallel CPU work over a slice, rayon.
//!
//! # Examples
//!
//! ```
//! # #[tokio::main]
//! # async fn main() {
//! use herd::pool::{JobError, WorkerPool};
//!
//! let pool = WorkerPool::builder().workers(4).queue(16).name("thumbs").build();
//! let ok = pool.submit(async { Ok::<_, String>(21 * 2) }).await.unwrap();
//! let bad = pool.submit(async { Err::<u32, _>("no such file".to_string()) }).await.unwrap();
//! let boom = pool.submit(async { panic!("corrupt image") as Result<u32, String> }).await.unwrap();
//!
//! assert_eq!(ok.await, Ok(42));
//! assert_eq!(bad.await, Err(JobError::Failed("no such file".to_string())));
//! assert_eq!(boom.await, Err(JobError::Panicked("corrupt image".to_string())));
//!
//! // The panic cost one job, not a worker.
//! let stats = pool.shutdown(std::time::Duration::from_secs(5)).await;
//! assert_eq!((stats.workers, stats.done, stats.failed), (4, 1, 2));
//! # }
//! ```

mod core;
mod map;
#[cfg(all(unix, not(loom)))]
mod process;
mod thread;
mod worker;

#[cfg(all(test, loom))]
mod loom_tests;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::task::CancelReason;
pub(crate) use crate::task::panic_message;

pub use map::{Map, chunks, for_each, map, map_unordered};
#[cfg(all(unix, not(loom)))]
pub use process::{Crash, ProcessPool, ProcessPoolBuilder, WORKER_ENV, serve_if_worker};
pub use thread::{ThreadPool, ThreadPoolBuilder};
pub use worker::{WorkerPool, WorkerPoolBuilder};

/// How a pool job ended, when it did not end with a value.
///
/// `E` is the job's own error type.
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// use herd::pool::{JobError, WorkerPool};
///
/// let pool = WorkerPool::builder().workers(1).build();
/// let job = pool.submit(async { Err::<(), _>("disk full") }).await.unwrap();
/// let err = job.await.unwrap_err();
/// assert_eq!(err, JobError::Failed("disk full"));
/// assert_eq!(err.to_string(), "job failed: disk full");
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobError<E> {
    /// The job returned `Err(error)`.
    Failed(E),
    /// The job panicked; the message, or a placeholder if the payload was
    /// not a string.
    Panicked(String),
    /// The job was cancelled before it finished (shutdown, or the pool was
    /// dropped), or never started.
    Cancelled(CancelReason),
    /// The job ran longer than its pool's job timeout and was stopped.
    TimedOut(Duration),
    /// The worker process running the job died: it exited, was killed by a
    /// signal, or could not be started ([`ProcessPool`] only).
    #[cfg(all(unix, not(loom)))]
    Crashed(Crash),
    /// The job or its result could not be encoded or decoded, or the worker
    /// process broke the framing protocol ([`ProcessPool`] only). The worker
    /// is replaced when it broke the protocol.
    Protocol(String),
}

impl<E> JobError<E> {
    /// The job's own error, if it returned one.
    ///
    /// # Examples
    ///
    /// ```
    /// use herd::pool::JobError;
    ///
    /// assert_eq!(JobError::Failed(7).into_failure(), Some(7));
    /// assert_eq!(JobError::<u8>::Panicked("x".into()).into_failure(), None);
    /// ```
    pub fn into_failure(self) -> Option<E> {
        match self {
            JobError::Failed(error) => Some(error),
            _ => None,
        }
    }

    /// Whether the job was cancelled, rather than failing on its own.
    ///
    /// # Examples
    ///
    /// ```
    /// use herd::pool::JobError;
    ///
    /// assert!(JobError::<()>::Cancelled("stop".into()).is_cancelled());
    /// assert!(!JobError::Failed(()).is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self, JobError::Cancelled(_))
    }

    pub(crate) fn panicked(payload: Box<dyn std::any::Any + Send>) -> JobError<E> {
        JobError::Panicked(panic_message(payload))
    }
}

impl<E: fmt::Display> fmt::Display for JobError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobError::Failed(error) => write!(f, "job failed: {error}"),
            JobError::Panicked(message) => write!(f, "job panicked: {message}"),
            JobError::Cancelled(reason) => write!(f, "job was not finished: {reason}"),
            JobError::TimedOut(after) => write!(f, "job timed out after {after:?}"),
            #[cfg(all(unix, not(loom)))]
            JobError::Crashed(crash) => write!(f, "job lost its worker: {crash}"),
            JobError::Protocol(message) => write!(
                f,
                "job could not be passed to or from its worker: {message}"
            ),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for JobError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JobError::Failed(error) => Some(error),
            _ => None,
        }
    }
}

/// Why a pool did not take a job. The job comes back untouched:
/// [`into_inner`](SubmitError::into_inner) returns it.
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// use herd::pool::{SubmitError, WorkerPool};
///
/// let pool = WorkerPool::builder().workers(1).build();
/// pool.shutdown_now().await;
/// let refused = pool.submit(async { Ok::<_, ()>(1) }).await.unwrap_err();
/// assert!(matches!(refused, SubmitError::Closed(_)));
/// assert_eq!(refused.into_inner().await, Ok(1)); // the job itself, never run
/// # }
/// ```
#[derive(PartialEq, Eq)]
pub enum SubmitError<J> {
    /// `try_submit` found the queue full.
    Full(J),
    /// The pool is shutting down or shut down; it takes no new jobs.
    Closed(J),
}

impl<J> SubmitError<J> {
    /// The job that was refused.
    ///
    /// # Examples
    ///
    /// ```
    /// let refused = herd::pool::SubmitError::Full("job");
    /// assert_eq!(refused.into_inner(), "job");
    /// ```
    pub fn into_inner(self) -> J {
        match self {
            SubmitError::Full(job) | SubmitError::Closed(job) => job,
        }
    }

    fn map<K>(self, f: impl FnOnce(J) -> K) -> SubmitError<K> {
        match self {
            SubmitError::Full(job) => SubmitError::Full(f(job)),
            SubmitError::Closed(job) => SubmitError::Closed(f(job)),
        }
    }
}

impl<J> fmt::Debug for SubmitError<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::Full(_) => f.write_str("Full(..)"),
            SubmitError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<J> fmt::Display for SubmitError<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::Full(_) => f.write_str("the pool's queue is full"),
            SubmitError::Closed(_) => f.write_str("the pool is shut down"),
        }
    }
}

impl<J> std::error::Error for SubmitError<J> {}

/// A pool's counters at one moment.
///
/// `done` counts jobs that returned a value; `failed` those that returned an
/// error, panicked, timed out or crashed; `cancelled` those cancelled before
/// they finished, including queued jobs a shutdown never started.
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// let pool = herd::pool::WorkerPool::builder().workers(2).queue(8).build();
/// let job = pool.submit(async { Ok::<_, ()>(()) }).await.unwrap();
/// job.await.unwrap();
/// let stats = pool.stats();
/// assert_eq!((stats.workers, stats.done, stats.queued, stats.running), (2, 1, 0, 0));
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Workers the pool keeps.
    pub workers: usize,
    /// Jobs waiting in the queue.
    pub queued: usize,
    /// Jobs running now.
    pub running: usize,
    /// Jobs that returned a value.
    pub done: u64,
    /// Jobs that returned an error, panicked, timed out or crashed.
    pub failed: u64,
    /// Jobs cancelled, running or still queued.
    pub cancelled: u64,
}

/// The result of one submitted job: a future, and a blocking
/// [`join`](JobHandle::join) for threads.
///
/// Dropping a handle does not cancel its job: the pool owns the job and
/// runs it; only the result is discarded. A handle always resolves, with
/// [`JobError::Cancelled`] if the pool dropped the job without running it.
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// let pool = herd::pool::ThreadPool::builder().threads(2).build().unwrap();
/// let job = pool.submit(|| Ok::<_, ()>(6 * 7)).await.unwrap();
/// assert_eq!(job.await, Ok(42));
/// # }
/// ```
#[must_use = "a handle does nothing unless awaited or joined; dropping it discards the result"]
pub struct JobHandle<T, E> {
    result: oneshot::Receiver<Result<T, JobError<E>>>,
    pool: Option<Arc<str>>,
}

impl<T, E> JobHandle<T, E> {
    /// Waits on this thread for the job's result. For threads, not async
    /// code: inside a tokio runtime it panics, as blocking there would stall
    /// the executor; `.await` the handle instead.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = herd::pool::ThreadPool::builder().threads(1).build().unwrap();
    /// let job = pool.submit_blocking(|| Ok::<_, ()>("done")).unwrap();
    /// assert_eq!(job.join(), Ok("done"));
    /// ```
    pub fn join(self) -> Result<T, JobError<E>> {
        let pool = self.pool;
        self.result
            .blocking_recv()
            .unwrap_or_else(|_| Err(dropped(pool)))
    }
}

fn dropped<E>(pool: Option<Arc<str>>) -> JobError<E> {
    JobError::Cancelled(dropped_reason(pool.as_deref()))
}

/// Why the jobs of a dropped pool did not finish.
fn dropped_reason(pool: Option<&str>) -> CancelReason {
    match pool {
        Some(name) => format!("pool \"{name}\" was dropped").into(),
        None => "the pool was dropped".into(),
    }
}

impl<T, E> Future for JobHandle<T, E> {
    type Output = Result<T, JobError<E>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.result)
            .poll(cx)
            .map(|result| result.unwrap_or_else(|_| Err(dropped(self.pool.clone()))))
    }
}

impl<T, E> fmt::Debug for JobHandle<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobHandle")
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}
