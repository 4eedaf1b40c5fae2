//! `WorkerPool`: N async workers over a bounded priority queue of jobs.

use std::any::Any;
use std::convert::Infallible;
use std::fmt;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::sync::oneshot;

use super::core::{Core, Counts, Job};
use super::{JobError, JobHandle, Stats, SubmitError, dropped_reason};
use crate::task::{CancelReason, CancelToken, Policy, Scope};

/// A job as the queue holds it: boxed once, pinned when a worker starts it.
type Boxed = Box<dyn Run>;

/// An async job with its reply, type-erased.
trait Run: Send + 'static {
    /// Polls the job; when it finishes (or panics) the outcome is settled.
    fn poll_run(self: Pin<&mut Self>, cx: &mut Context<'_>, counts: &Counts) -> Poll<()>;
    /// Drops the running job's future and settles it as cancelled.
    fn stop(self: Pin<&mut Self>, reason: CancelReason, counts: &Counts);
    /// Settles a job that never started as cancelled.
    fn cancel(self: Box<Self>, reason: CancelReason, counts: &Counts);
    /// The job's own type, to hand a refused job back.
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Pending { #[pin] fut: F },
        Finished,
    }
}

pin_project! {
    struct AsyncJob<F, T, E> {
        #[pin]
        state: State<F>,
        reply: Option<oneshot::Sender<Result<T, JobError<E>>>>,
    }
}

impl<F, T, E> AsyncJob<F, T, E> {
    fn settle(
        self: Pin<&mut Self>,
        outcome: Result<T, JobError<E>>,
        counts: &Counts,
        running: bool,
    ) {
        let mut this = self.project();
        // Dropping the job's future runs its destructors: a panic there is
        // the job's, not the worker's.
        let dropped = catch_unwind(AssertUnwindSafe(|| this.state.set(State::Finished)));
        let outcome = match dropped {
            Ok(()) => outcome,
            Err(payload) => Err(JobError::panicked(payload)),
        };
        if let Some(reply) = this.reply.take() {
            counts.settle(reply, outcome, running);
        }
    }
}

impl<F, T, E> Run for AsyncJob<F, T, E>
where
    F: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    fn poll_run(mut self: Pin<&mut Self>, cx: &mut Context<'_>, counts: &Counts) -> Poll<()> {
        let outcome = match self.as_mut().project().state.project() {
            StateProj::Pending { fut } => match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
                Ok(Poll::Pending) => return Poll::Pending,
                Ok(Poll::Ready(Ok(value))) => Ok(value),
                Ok(Poll::Ready(Err(error))) => Err(JobError::Failed(error)),
                Err(payload) => Err(JobError::panicked(payload)),
            },
            StateProj::Finished => return Poll::Ready(()),
        };
        self.settle(outcome, counts, true);
        Poll::Ready(())
    }

    fn stop(self: Pin<&mut Self>, reason: CancelReason, counts: &Counts) {
        self.settle(Err(JobError::Cancelled(reason)), counts, true);
    }

    fn cancel(self: Box<Self>, reason: CancelReason, counts: &Counts) {
        let job = Box::into_pin(self);
        let mut job = job;
        job.as_mut()
            .settle(Err(JobError::Cancelled(reason)), counts, false);
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

impl Job for Boxed {
    fn cancel(self, reason: CancelReason, counts: &Counts) {
        Run::cancel(self, reason, counts);
    }
}

/// N async workers over a bounded queue of jobs, each with a priority; a
/// result for every job.
///
/// A job is a future returning `Result<T, E>`; jobs of different types
/// share one pool. Workers run one job at a time each, so at most
/// [`workers`](WorkerPoolBuilder::workers) jobs run at once, and at most
/// [`queue`](WorkerPoolBuilder::queue) more wait. A job's error or panic
/// settles its own handle; the worker goes on to the next job.
///
/// The pool owns its workers: dropping it cancels running jobs and resolves
/// queued ones as cancelled. [`shutdown`](WorkerPool::shutdown) is the
/// graceful way out. A pool must be built inside a tokio runtime.
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// use herd::pool::WorkerPool;
///
/// let pool = WorkerPool::builder().workers(2).queue(4).build();
/// let mut handles = Vec::new();
/// for n in 0..10u64 {
///     // Waits while 4 jobs are queued: backpressure.
///     handles.push(pool.submit(async move { Ok::<_, String>(n * n) }).await.unwrap());
/// }
/// let mut sum = 0;
/// for handle in handles {
///     sum += handle.await.unwrap();
/// }
/// assert_eq!(sum, 285);
/// # }
/// ```
pub struct WorkerPool {
    core: Arc<Core<Boxed>>,
    /// The workers, as herd tasks (named in diagnostics); dropping the
    /// scope aborts any still running.
    _workers: Scope<(), Infallible>,
}

/// Configures a [`WorkerPool`]; made by [`WorkerPool::builder`].
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// let pool = herd::pool::WorkerPool::builder().workers(3).queue(100).name("mailer").build();
/// assert_eq!(pool.stats().workers, 3);
/// assert_eq!(pool.capacity(), 100);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct WorkerPoolBuilder {
    name: Option<Arc<str>>,
    workers: usize,
    queue: usize,
    parent: Option<CancelToken>,
}

/// The queue's capacity when the builder is not told.
pub(crate) const DEFAULT_QUEUE: usize = 1024;

/// The worker count when the builder is not told: the machine's cores.
pub(crate) fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl WorkerPoolBuilder {
    /// How many jobs run at once. Default: the number of cores.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = herd::pool::WorkerPool::builder().workers(16).build();
    /// assert_eq!(pool.stats().workers, 16);
    /// # }
    /// ```
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// How many jobs may wait in the queue. Default: 1024.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = herd::pool::WorkerPool::builder().queue(8).build();
    /// assert_eq!(pool.capacity(), 8);
    /// # }
    /// ```
    pub fn queue(mut self, capacity: usize) -> Self {
        self.queue = capacity;
        self
    }

    /// Names the pool: its workers, queue and errors carry the name.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = herd::pool::WorkerPool::builder().name("indexer").build();
    /// assert_eq!(pool.name(), Some("indexer"));
    /// # }
    /// ```
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Ties the pool to a parent token: when the parent is cancelled, so
    /// are the pool's running jobs, and queued jobs resolve as cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// use herd::task::CancelToken;
    ///
    /// let app = CancelToken::new();
    /// let pool = herd::pool::WorkerPool::builder().workers(1).parent(&app).build();
    /// let job = pool.submit(std::future::pending::<Result<(), ()>>()).await.unwrap();
    /// app.cancel("shutting down");
    /// assert!(job.await.unwrap_err().is_cancelled());
    /// # }
    /// ```
    pub fn parent(mut self, parent: &CancelToken) -> Self {
        self.parent = Some(parent.clone());
        self
    }

    /// Starts the workers.
    ///
    /// # Panics
    ///
    /// If the worker count or the queue capacity is zero, or outside a
    /// tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = herd::pool::WorkerPool::builder().build();
    /// assert!(pool.stats().workers >= 1);
    /// # }
    /// ```
    pub fn build(self) -> WorkerPool {
        let token = self
            .parent
            .as_ref()
            .map_or_else(CancelToken::new, CancelToken::child);
        let core = Core::new("WorkerPool", self.name, self.workers, self.queue, token);
        // Supervised: a worker's end never cancels the others.
        let mut scope = Scope::<(), Infallible>::builder().policy(Policy::Supervise);
        if let Some(name) = &core.name {
            scope = scope.name(name.clone());
        }
        let workers = scope.build();
        for index in 0..core.workers() {
            let (core, enlisted) = (core.clone(), core.enlist());
            let spawned = workers.try_spawn_named(format!("worker {index}"), async move {
                let _enlisted = enlisted;
                work(core).await;
                Ok(())
            });
            spawned.expect("a new scope without a limit takes every child");
        }
        WorkerPool {
            core,
            _workers: workers,
        }
    }
}

/// One worker: takes jobs until the queue is closed and drained, running
/// each until it finishes or the pool is cancelled.
async fn work(core: Arc<Core<Boxed>>) {
    while let Some(job) = core.next().await {
        let mut job = Box::into_pin(job);
        let mut cancelled = None;
        poll_fn(|cx| {
            if job.as_mut().poll_run(cx, &core.counts).is_ready() {
                return Poll::Ready(());
            }
            // Only a job that waits needs to watch the token.
            let cancelled = cancelled.get_or_insert_with(|| Box::pin(core.token.cancelled()));
            if cancelled.as_mut().poll(cx).is_ready() {
                let reason = core.token.reason().expect("the token is cancelled");
                job.as_mut().stop(reason, &core.counts);
                return Poll::Ready(());
            }
            Poll::Pending
        })
        .await;
    }
}

impl WorkerPool {
    /// A builder, to set the worker count, queue capacity, name and parent
    /// token.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = herd::pool::WorkerPool::builder().workers(2).build();
    /// assert_eq!(pool.stats().workers, 2);
    /// # }
    /// ```
    pub fn builder() -> WorkerPoolBuilder {
        WorkerPoolBuilder {
            name: None,
            workers: default_workers(),
            queue: DEFAULT_QUEUE,
            parent: None,
        }
    }

    /// Queues a job, waiting while the queue is full, and returns its
    /// handle. Priority 0.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future before it finishes drops the job
    /// without running it; nothing is left queued.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = herd::pool::WorkerPool::builder().build();
    /// let job = pool.submit(async { Ok::<_, ()>("hello") }).await.unwrap();
    /// assert_eq!(job.await, Ok("hello"));
    /// # }
    /// ```
    pub fn submit<F, T, E>(
        &self,
        job: F,
    ) -> impl Future<Output = Result<JobHandle<T, E>, SubmitError<F>>> + '_
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        self.submit_with(0, job)
    }

    /// As [`submit`](WorkerPool::submit), with a priority: a greater one
    /// runs first; equal ones run in the order they were submitted.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// use std::sync::{Arc, Mutex};
    ///
    /// let pool = herd::pool::WorkerPool::builder().workers(1).build();
    /// let order = Arc::new(Mutex::new(Vec::new()));
    /// let gate = Arc::new(tokio::sync::Notify::new());
    /// // Hold the only worker, so the next jobs queue up.
    /// let blocker = pool.submit({
    ///     let gate = gate.clone();
    ///     async move { gate.notified().await; Ok::<_, ()>(()) }
    /// }).await.unwrap();
    /// let mut handles = Vec::new();
    /// for (priority, label) in [(0, "low"), (5, "urgent"), (0, "low 2"), (5, "urgent 2")] {
    ///     let order = order.clone();
    ///     let job = async move { order.lock().unwrap().push(label); Ok::<_, ()>(()) };
    ///     handles.push(pool.submit_with(priority, job).await.unwrap());
    /// }
    /// gate.notify_one();
    /// blocker.await.unwrap();
    /// for handle in handles {
    ///     handle.await.unwrap();
    /// }
    /// assert_eq!(*order.lock().unwrap(), ["urgent", "urgent 2", "low", "low 2"]);
    /// # }
    /// ```
    pub async fn submit_with<F, T, E>(
        &self,
        priority: i32,
        job: F,
    ) -> Result<JobHandle<T, E>, SubmitError<F>>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let (boxed, handle) = self.wrap(job);
        let submitted = self.core.submit(priority, boxed).await;
        submitted
            .map(|()| handle)
            .map_err(|refused| refused.map(unwrap::<F, T, E>))
    }

    /// Queues a job if there is room now; otherwise hands it back in
    /// [`SubmitError::Full`]. Priority 0.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use herd::pool::SubmitError;
    ///
    /// let pool = herd::pool::WorkerPool::builder().workers(1).queue(1).build();
    /// let hold = pool.try_submit(std::future::pending::<Result<(), ()>>()).unwrap();
    /// tokio::task::yield_now().await; // the worker takes it
    /// let queued = pool.try_submit(async { Ok::<_, ()>(()) }).unwrap();
    /// let refused = pool.try_submit(async { Ok::<_, ()>(()) });
    /// assert!(matches!(refused, Err(SubmitError::Full(_))));
    /// # drop((hold, queued));
    /// # }
    /// ```
    pub fn try_submit<F, T, E>(&self, job: F) -> Result<JobHandle<T, E>, SubmitError<F>>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        self.try_submit_with(0, job)
    }

    /// As [`try_submit`](WorkerPool::try_submit), with a priority.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = herd::pool::WorkerPool::builder().build();
    /// let job = pool.try_submit_with(9, async { Ok::<_, ()>(9) }).unwrap();
    /// assert_eq!(job.await, Ok(9));
    /// # }
    /// ```
    pub fn try_submit_with<F, T, E>(
        &self,
        priority: i32,
        job: F,
    ) -> Result<JobHandle<T, E>, SubmitError<F>>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let (boxed, handle) = self.wrap(job);
        let submitted = self.core.try_submit(priority, boxed);
        submitted
            .map(|()| handle)
            .map_err(|refused| refused.map(unwrap::<F, T, E>))
    }

    fn wrap<F, T, E>(&self, job: F) -> (Boxed, JobHandle<T, E>)
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let (reply, result) = oneshot::channel();
        let boxed = Box::new(AsyncJob {
            state: State::Pending { fut: job },
            reply: Some(reply),
        });
        let handle = JobHandle {
            result,
            pool: self.core.name.clone(),
        };
        (boxed, handle)
    }

    /// Stops taking jobs, lets queued and running ones finish for up to
    /// `grace`, then cancels what is left; returns when every worker has
    /// stopped, with the final counters. Every handle is resolved by then.
    /// Calling it again (or after [`shutdown_now`](WorkerPool::shutdown_now))
    /// waits for the same end.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use tokio::time::sleep;
    ///
    /// let pool = herd::pool::WorkerPool::builder().workers(1).build();
    /// let quick = pool.submit(async { sleep(Duration::from_secs(1)).await; Ok::<_, ()>(1) }).await.unwrap();
    /// let slow = pool.submit(async { sleep(Duration::from_secs(60)).await; Ok::<_, ()>(2) }).await.unwrap();
    /// let stats = pool.shutdown(Duration::from_secs(10)).await;
    /// assert_eq!(quick.await, Ok(1));
    /// assert!(slow.await.unwrap_err().is_cancelled());
    /// assert_eq!((stats.done, stats.cancelled), (1, 1));
    /// # }
    /// ```
    pub async fn shutdown(&self, grace: Duration) -> Stats {
        self.core.shutdown(grace).await
    }

    /// Stops at once: queued jobs resolve as cancelled and running ones are
    /// cancelled (dropped at their next `.await`). Returns when every worker
    /// has stopped, with the final counters.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = herd::pool::WorkerPool::builder().workers(1).build();
    /// let running = pool.submit(std::future::pending::<Result<(), ()>>()).await.unwrap();
    /// let queued = pool.submit(async { Ok::<_, ()>(()) }).await.unwrap();
    /// let stats = pool.shutdown_now().await;
    /// assert!(running.await.unwrap_err().is_cancelled());
    /// assert!(queued.await.unwrap_err().is_cancelled());
    /// assert_eq!(stats.cancelled, 2);
    /// # }
    /// ```
    pub async fn shutdown_now(&self) -> Stats {
        self.core.shutdown_now().await
    }

    /// Stops taking jobs (submits fail with [`SubmitError::Closed`]); queued
    /// and running jobs go on. Returns whether this call closed it.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = herd::pool::WorkerPool::builder().build();
    /// assert!(pool.close());
    /// assert!(pool.try_submit(async { Ok::<_, ()>(()) }).is_err());
    /// # }
    /// ```
    pub fn close(&self) -> bool {
        self.core.close()
    }

    /// The counters now.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = herd::pool::WorkerPool::builder().workers(1).build();
    /// pool.submit(async { Err::<(), _>("bad") }).await.unwrap().await.unwrap_err();
    /// assert_eq!(pool.stats().failed, 1);
    /// # }
    /// ```
    pub fn stats(&self) -> Stats {
        self.core.stats()
    }

    /// How many jobs the queue holds at most.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// assert_eq!(herd::pool::WorkerPool::builder().build().capacity(), 1024);
    /// # }
    /// ```
    pub fn capacity(&self) -> usize {
        self.core.capacity()
    }

    /// The pool's name, if it was given one.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// assert_eq!(herd::pool::WorkerPool::builder().build().name(), None);
    /// # }
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.core.name.as_deref()
    }

    /// The pool's cancel token: cancelled by `shutdown_now`, by a shutdown
    /// whose grace ran out, by the parent token, or when the pool is
    /// dropped. Jobs may watch it.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = herd::pool::WorkerPool::builder().build();
    /// let token = pool.token().clone();
    /// pool.shutdown_now().await;
    /// assert!(token.is_cancelled());
    /// # }
    /// ```
    pub fn token(&self) -> &CancelToken {
        &self.core.token
    }
}

/// A refused job, back as the caller's own future.
fn unwrap<F: 'static, T: 'static, E: 'static>(boxed: Boxed) -> F {
    let job = boxed
        .into_any()
        .downcast::<AsyncJob<F, T, E>>()
        .expect("a refused job comes back as the type it went in as");
    match job.state {
        State::Pending { fut } => fut,
        State::Finished => unreachable!("a refused job was never started"),
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        self.core.cancel(dropped_reason(self.name()));
    }
}

impl fmt::Debug for WorkerPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerPool")
            .field("name", &self.core.name)
            .field("stats", &self.stats())
            .finish()
    }
}
