//! `ThreadPool`: blocking closures on a fixed set of named OS threads, over
//! a bounded priority queue.

use std::any::Any;
use std::fmt;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle as Thread;
use std::time::Duration;

use tokio::sync::oneshot;

use super::core::{Core, Counts, Job};
use super::worker::{DEFAULT_QUEUE, default_workers};
use super::{JobError, JobHandle, Stats, SubmitError, dropped_reason};
use crate::loom::{Mutex, lock};
use crate::task::{CancelReason, CancelToken};

type Boxed = Box<dyn Call>;

/// A blocking job with its reply, type-erased.
trait Call: Send + 'static {
    fn call(self: Box<Self>, counts: &Counts);
    fn cancel(self: Box<Self>, reason: CancelReason, counts: &Counts);
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

struct Closure<F, T, E> {
    f: F,
    reply: oneshot::Sender<Result<T, JobError<E>>>,
}

impl<F, T, E> Call for Closure<F, T, E>
where
    F: FnOnce() -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    fn call(self: Box<Self>, counts: &Counts) {
        let Closure { f, reply } = *self;
        let outcome = match catch_unwind(AssertUnwindSafe(f)) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(JobError::Failed(error)),
            Err(payload) => Err(JobError::panicked(payload)),
        };
        counts.settle(reply, outcome, true);
    }

    fn cancel(self: Box<Self>, reason: CancelReason, counts: &Counts) {
        let Closure { f, reply } = *self;
        // Dropping the closure runs its captures' destructors.
        let outcome = match catch_unwind(AssertUnwindSafe(|| drop(f))) {
            Ok(()) => Err(JobError::Cancelled(reason)),
            Err(payload) => Err(JobError::panicked(payload)),
        };
        counts.settle(reply, outcome, false);
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

impl Job for Boxed {
    fn cancel(self, reason: CancelReason, counts: &Counts) {
        Call::cancel(self, reason, counts);
    }
}

/// Blocking closures on a fixed set of named OS threads, over a bounded
/// queue: the same face as [`WorkerPool`](super::WorkerPool).
///
/// Unlike [`tokio::task::spawn_blocking`], which queues without bound and
/// starts up to 512 threads, the pool has exactly
/// [`threads`](ThreadPoolBuilder::threads) threads and a queue of fixed
/// size, so a burst of work waits (asynchronously, or blocking on a
/// thread) instead of piling up. Results can be awaited or
/// [joined](JobHandle::join) from a thread.
///
/// A running closure cannot be interrupted: cancellation (shutdown, drop,
/// the parent token) resolves queued jobs as cancelled and lets running
/// ones finish. Closures that should stop early can watch
/// [`token`](ThreadPool::token). Dropping the pool waits for the running
/// closures and joins the threads.
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// use herd::pool::ThreadPool;
///
/// let pool = ThreadPool::builder().threads(2).name("hash").build().unwrap();
/// let job = pool.submit(|| {
///     let data = vec![7u8; 1 << 20];
///     Ok::<_, String>(data.iter().map(|&b| b as u64).sum::<u64>())
/// }).await.unwrap();
/// assert_eq!(job.await, Ok(7 << 20));
/// # }
/// ```
pub struct ThreadPool {
    core: Arc<Core<Boxed>>,
    threads: Mutex<Vec<Thread<()>>>,
}

/// Configures a [`ThreadPool`]; made by [`ThreadPool::builder`].
///
/// # Examples
///
/// ```
/// let pool = herd::pool::ThreadPool::builder().threads(2).queue(64).build().unwrap();
/// assert_eq!((pool.stats().workers, pool.capacity()), (2, 64));
/// ```
#[derive(Clone, Debug)]
pub struct ThreadPoolBuilder {
    name: Option<Arc<str>>,
    threads: usize,
    queue: usize,
    parent: Option<CancelToken>,
}

impl ThreadPoolBuilder {
    /// How many threads. Default: the number of cores.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = herd::pool::ThreadPool::builder().threads(3).build().unwrap();
    /// assert_eq!(pool.stats().workers, 3);
    /// ```
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// How many jobs may wait in the queue. Default: 1024.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = herd::pool::ThreadPool::builder().queue(10).build().unwrap();
    /// assert_eq!(pool.capacity(), 10);
    /// ```
    pub fn queue(mut self, capacity: usize) -> Self {
        self.queue = capacity;
        self
    }

    /// Names the pool; its threads are called `<name>-0`, `<name>-1`, ...
    /// (`herd-pool-0`, ... without a name).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = herd::pool::ThreadPool::builder().threads(1).name("zip").build().unwrap();
    /// let job = pool.submit_blocking(|| Ok::<_, ()>(std::thread::current().name().map(String::from))).unwrap();
    /// assert_eq!(job.join().unwrap().as_deref(), Some("zip-0"));
    /// ```
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Ties the pool to a parent token: once the parent is cancelled,
    /// queued jobs resolve as cancelled (running closures finish).
    ///
    /// # Examples
    ///
    /// ```
    /// use herd::task::CancelToken;
    ///
    /// let app = CancelToken::new();
    /// let pool = herd::pool::ThreadPool::builder().parent(&app).build().unwrap();
    /// app.cancel("stop");
    /// assert!(pool.token().is_cancelled());
    /// ```
    pub fn parent(mut self, parent: &CancelToken) -> Self {
        self.parent = Some(parent.clone());
        self
    }

    /// Starts the threads. Needs no runtime.
    ///
    /// # Errors
    ///
    /// The operating system's error if a thread could not be started; the
    /// threads already started are stopped.
    ///
    /// # Panics
    ///
    /// If the thread count or the queue capacity is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = herd::pool::ThreadPool::builder().threads(2).build().unwrap();
    /// assert_eq!(pool.submit_blocking(|| Ok::<_, ()>(1)).unwrap().join(), Ok(1));
    /// ```
    pub fn build(self) -> io::Result<ThreadPool> {
        let token = self
            .parent
            .as_ref()
            .map_or_else(CancelToken::new, CancelToken::child);
        let core = Core::new("ThreadPool", self.name, self.threads, self.queue, token);
        let pool = ThreadPool {
            core: core.clone(),
            threads: Mutex::new(Vec::with_capacity(core.workers())),
        };
        let prefix = core.name.as_deref().unwrap_or("herd-pool").to_owned();
        for index in 0..core.workers() {
            let enlisted = core.enlist();
            let core = core.clone();
            let thread = std::thread::Builder::new()
                .name(format!("{prefix}-{index}"))
                .spawn(move || {
                    let _enlisted = enlisted;
                    while let Some(job) = core.next_blocking() {
                        job.call(&core.counts);
                    }
                })?;
            lock(&pool.threads).push(thread);
        }
        Ok(pool)
    }
}

impl ThreadPool {
    /// A builder, to set the thread count, queue capacity, name and parent
    /// token.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = herd::pool::ThreadPool::builder().threads(1).build().unwrap();
    /// assert_eq!(pool.stats().workers, 1);
    /// ```
    pub fn builder() -> ThreadPoolBuilder {
        ThreadPoolBuilder {
            name: None,
            threads: default_workers(),
            queue: DEFAULT_QUEUE,
            parent: None,
        }
    }

    /// Queues a closure, waiting (asynchronously) while the queue is full.
    /// Priority 0.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future before it finishes drops the closure
    /// without running it.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = herd::pool::ThreadPool::builder().build().unwrap();
    /// let job = pool.submit(|| Ok::<_, ()>(2 + 2)).await.unwrap();
    /// assert_eq!(job.await, Ok(4));
    /// # }
    /// ```
    pub async fn submit<F, T, E>(&self, job: F) -> Result<JobHandle<T, E>, SubmitError<F>>
    where
        F: FnOnce() -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        self.submit_with(0, job).await
    }

    /// As [`submit`](ThreadPool::submit), with a priority: a greater one
    /// runs first; equal ones in the order they were submitted.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = herd::pool::ThreadPool::builder().build().unwrap();
    /// let job = pool.submit_with(3, || Ok::<_, ()>("urgent")).await.unwrap();
    /// assert_eq!(job.await, Ok("urgent"));
    /// # }
    /// ```
    pub async fn submit_with<F, T, E>(
        &self,
        priority: i32,
        job: F,
    ) -> Result<JobHandle<T, E>, SubmitError<F>>
    where
        F: FnOnce() -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let (boxed, handle) = self.wrap(job);
        let submitted = self.core.submit(priority, boxed).await;
        submitted
            .map(|()| handle)
            .map_err(|refused| refused.map(unwrap::<F, T, E>))
    }

    /// Queues a closure if there is room now; otherwise hands it back in
    /// [`SubmitError::Full`].
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = herd::pool::ThreadPool::builder().build().unwrap();
    /// let job = pool.try_submit(|| Ok::<_, ()>(1)).unwrap();
    /// assert_eq!(job.join(), Ok(1));
    /// ```
    pub fn try_submit<F, T, E>(&self, job: F) -> Result<JobHandle<T, E>, SubmitError<F>>
    where
        F: FnOnce() -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let (boxed, handle) = self.wrap(job);
        let submitted = self.core.try_submit(0, boxed);
        submitted
            .map(|()| handle)
            .map_err(|refused| refused.map(unwrap::<F, T, E>))
    }

    /// Queues a closure from a thread, blocking while the queue is full.
    /// For threads, not async code.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = herd::pool::ThreadPool::builder().threads(2).queue(2).build().unwrap();
    /// let handles: Vec<_> = (0..10u64)
    ///     .map(|n| pool.submit_blocking(move || Ok::<_, ()>(n * 2)).unwrap())
    ///     .collect();
    /// let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    /// assert_eq!(sum, 90);
    /// ```
    pub fn submit_blocking<F, T, E>(&self, job: F) -> Result<JobHandle<T, E>, SubmitError<F>>
    where
        F: FnOnce() -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let (boxed, handle) = self.wrap(job);
        let submitted = self.core.submit_blocking(0, boxed);
        submitted
            .map(|()| handle)
            .map_err(|refused| refused.map(unwrap::<F, T, E>))
    }

    fn wrap<F, T, E>(&self, f: F) -> (Boxed, JobHandle<T, E>)
    where
        F: FnOnce() -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let (reply, result) = oneshot::channel();
        let handle = JobHandle {
            result,
            pool: self.core.name.clone(),
        };
        (Box::new(Closure { f, reply }), handle)
    }

    /// Stops taking jobs, lets queued and running ones finish for up to
    /// `grace`, then resolves the still-queued ones as cancelled and waits
    /// for the running closures; returns the final counters.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = herd::pool::ThreadPool::builder().threads(2).build().unwrap();
    /// for _ in 0..5 {
    ///     let _ = pool.submit(|| Ok::<_, ()>(())).await.unwrap();
    /// }
    /// let stats = pool.shutdown(std::time::Duration::from_secs(5)).await;
    /// assert_eq!(stats.done, 5);
    /// # }
    /// ```
    pub async fn shutdown(&self, grace: Duration) -> Stats {
        let stats = self.core.shutdown(grace).await;
        self.join_threads();
        stats
    }

    /// Stops at once: queued jobs resolve as cancelled; returns when the
    /// running closures have finished.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = herd::pool::ThreadPool::builder().threads(1).build().unwrap();
    /// let stats = pool.shutdown_now().await;
    /// assert_eq!(stats.running, 0);
    /// assert!(pool.try_submit(|| Ok::<_, ()>(())).is_err());
    /// # }
    /// ```
    pub async fn shutdown_now(&self) -> Stats {
        let stats = self.core.shutdown_now().await;
        self.join_threads();
        stats
    }

    /// Stops taking jobs; queued and running ones go on. Returns whether
    /// this call closed it.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = herd::pool::ThreadPool::builder().build().unwrap();
    /// assert!(pool.close());
    /// assert!(!pool.close());
    /// ```
    pub fn close(&self) -> bool {
        self.core.close()
    }

    /// The counters now.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = herd::pool::ThreadPool::builder().threads(1).build().unwrap();
    /// pool.submit_blocking(|| -> Result<(), ()> { panic!("bad input") }).unwrap().join().unwrap_err();
    /// assert_eq!(pool.stats().failed, 1);
    /// ```
    pub fn stats(&self) -> Stats {
        self.core.stats()
    }

    /// How many jobs the queue holds at most.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::pool::ThreadPool::builder().build().unwrap().capacity(), 1024);
    /// ```
    pub fn capacity(&self) -> usize {
        self.core.capacity()
    }

    /// The pool's cancel token, for closures that should stop early on
    /// shutdown.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = herd::pool::ThreadPool::builder().threads(1).build().unwrap();
    /// let token = pool.token().clone();
    /// let job = pool.submit(move || {
    ///     let mut rounds = 0u64;
    ///     while !token.is_cancelled() {
    ///         rounds += 1;
    ///         std::thread::yield_now();
    ///     }
    ///     Ok::<_, ()>(rounds)
    /// }).await.unwrap();
    /// while pool.stats().running == 0 {
    ///     tokio::task::yield_now().await; // until a thread has taken the job
    /// }
    /// pool.shutdown_now().await;
    /// assert!(job.await.is_ok(), "the closure saw the token and returned");
    /// # }
    /// ```
    pub fn token(&self) -> &CancelToken {
        &self.core.token
    }

    /// Joins the threads, which have left their loops (or are about to).
    fn join_threads(&self) {
        let threads = std::mem::take(&mut *lock(&self.threads));
        let me = std::thread::current().id();
        for thread in threads {
            // A job that drops its own pool must not join its own thread.
            if thread.thread().id() != me {
                let _ = thread.join();
            }
        }
    }
}

fn unwrap<F: 'static, T: 'static, E: 'static>(boxed: Boxed) -> F {
    let job = boxed
        .into_any()
        .downcast::<Closure<F, T, E>>()
        .expect("a refused job comes back as the type it went in as");
    job.f
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.core.cancel(dropped_reason(self.core.name.as_deref()));
        self.join_threads();
    }
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPool")
            .field("name", &self.core.name)
            .field("stats", &self.stats())
            .finish()
    }
}
