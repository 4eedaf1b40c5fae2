//! Graceful shutdown in four steps: stop accepting, let in-flight work
//! finish up to a deadline, cancel what remains, clean up.
//!
//! A [`Shutdown`] hands out two cancel tokens. [`token`](Shutdown::token)
//! is cancelled when shutdown begins (a signal, or [`trigger`](Shutdown::trigger)):
//! accept loops watch it and stop taking new work. [`force_token`](Shutdown::force_token)
//! is cancelled when in-flight work must stop (the grace period ran out, or
//! a second signal came): give it to scopes and pools as their parent, so
//! they cancel their running work. [`drain`](Shutdown::drain) runs steps two
//! to four and reports what happened.
//!
//! When to use something else: to stop one group of tasks, cancel its
//! [`Scope`](crate::task::Scope)'s token; to stop one pool, its own
//! `shutdown`.
//!
//! # Examples
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::time::Duration;
//! use herd::pool::WorkerPool;
//! use herd::shutdown::Shutdown;
//!
//! let shutdown = Shutdown::new(); // Shutdown::with_signals() in a real program
//! let pool = WorkerPool::builder().workers(2).parent(shutdown.force_token()).build();
//!
//! // Step 1: the accept loop stops when shutdown begins.
//! let accepting = shutdown.token().clone();
//! let trigger = shutdown.clone();
//! tokio::spawn(async move {
//!     tokio::time::sleep(Duration::from_secs(5)).await;
//!     trigger.trigger("deploy");
//! });
//! let mut accepted = 0;
//! while !accepting.is_cancelled() {
//!     let job = pool.submit(async { tokio::time::sleep(Duration::from_secs(1)).await; Ok::<_, ()>(()) });
//!     drop(job.await.unwrap());
//!     accepted += 1;
//!     tokio::time::sleep(Duration::from_millis(500)).await;
//! }
//!
//! // Steps 2 to 4: in-flight jobs get 10 s, then are cancelled; then clean up.
//! let report = shutdown.drain(Duration::from_secs(10), async { pool.shutdown(Duration::MAX).await; }).await;
//! assert!(report.drained, "every job finished within the grace period");
//! assert_eq!(pool.stats().done, accepted);
//! # }
//! ```

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::time::Instant;

use crate::loom::{Mutex, lock};
use crate::task::{CancelReason, CancelToken};

type Cleanup = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// Coordinates a graceful shutdown; clones share it. See the
/// [module](self) for the four steps.
///
/// # Examples
///
/// ```
/// use herd::shutdown::Shutdown;
///
/// let shutdown = Shutdown::new();
/// assert!(!shutdown.is_triggered());
/// shutdown.trigger("maintenance");
/// assert!(shutdown.token().is_cancelled());
/// assert!(!shutdown.force_token().is_cancelled(), "in-flight work still runs");
/// ```
#[derive(Clone)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

struct Inner {
    stop: CancelToken,
    force: CancelToken,
    cleanups: Mutex<Vec<Cleanup>>,
    /// Kills the signal listener when the last handle goes.
    listener: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(listener) = lock(&self.listener).take() {
            listener.abort();
        }
    }
}

/// What [`Shutdown::drain`] saw.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
///
/// let shutdown = herd::shutdown::Shutdown::new();
/// shutdown.trigger("test");
/// let report = shutdown.drain(Duration::from_secs(1), async {}).await;
/// assert!(report.drained);
/// assert_eq!(report.reason.unwrap().to_string(), "cancelled: test");
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// Why shutdown began, if it was triggered.
    pub reason: Option<CancelReason>,
    /// Whether in-flight work finished within the grace period, without
    /// being cancelled.
    pub drained: bool,
    /// Why in-flight work was cancelled, if it was.
    pub forced: Option<CancelReason>,
    /// Whether the work was still not done after being cancelled and was
    /// abandoned at the hard limit.
    pub abandoned: bool,
    /// How long steps two to four took.
    pub took: Duration,
}

impl Shutdown {
    /// A shutdown that begins only by [`trigger`](Shutdown::trigger).
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = herd::shutdown::Shutdown::new();
    /// assert!(!shutdown.is_triggered());
    /// ```
    pub fn new() -> Shutdown {
        Shutdown {
            inner: Arc::new(Inner {
                stop: CancelToken::new(),
                force: CancelToken::new(),
                cleanups: Mutex::new(Vec::new()),
                listener: Mutex::new(None),
            }),
        }
    }

    /// A shutdown that also begins on SIGINT (Ctrl-C) or SIGTERM; a second
    /// signal cancels in-flight work at once. The listener is a task on the
    /// current runtime, stopped when the last handle is dropped. tokio keeps
    /// its signal handlers installed for the life of the process, so after
    /// that the two signals no longer end the process by default: make one
    /// `Shutdown` for the whole program.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or if the signal handlers cannot be
    /// installed.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let shutdown = herd::shutdown::Shutdown::with_signals();
    /// assert!(!shutdown.is_triggered());
    /// # }
    /// ```
    #[cfg(all(unix, not(loom)))]
    pub fn with_signals() -> Shutdown {
        use tokio::signal::unix::{SignalKind, signal};

        let shutdown = Shutdown::new();
        let mut interrupt = signal(SignalKind::interrupt()).expect("installing a SIGINT handler");
        let mut terminate = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
        let weak = Arc::downgrade(&shutdown.inner);
        let listener = tokio::spawn(async move {
            for round in 0.. {
                let name = poll_fn(|cx| {
                    if interrupt.poll_recv(cx).is_ready() {
                        return Poll::Ready("SIGINT");
                    }
                    terminate.poll_recv(cx).map(|_| "SIGTERM")
                })
                .await;
                let Some(inner) = weak.upgrade() else { return };
                let shutdown = Shutdown { inner };
                if round == 0 {
                    shutdown.trigger(format!("{name} received"));
                } else {
                    shutdown.force(format!("a second signal ({name}) received"));
                }
            }
        });
        *lock(&shutdown.inner.listener) = Some(listener.abort_handle());
        shutdown
    }

    /// Begins shutdown: [`token`](Shutdown::token) is cancelled with
    /// `reason`. Returns whether this call began it.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = herd::shutdown::Shutdown::new();
    /// assert!(shutdown.trigger("first"));
    /// assert!(!shutdown.trigger("second"));
    /// assert_eq!(shutdown.token().reason().unwrap().to_string(), "cancelled: first");
    /// ```
    pub fn trigger(&self, reason: impl Into<CancelReason>) -> bool {
        self.inner.stop.cancel(reason)
    }

    /// Cancels in-flight work now (and begins shutdown, if it had not
    /// begun): [`force_token`](Shutdown::force_token) is cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = herd::shutdown::Shutdown::new();
    /// shutdown.force("operator said so");
    /// assert!(shutdown.is_triggered());
    /// assert!(shutdown.force_token().is_cancelled());
    /// ```
    pub fn force(&self, reason: impl Into<CancelReason>) -> bool {
        let reason = reason.into();
        self.inner.stop.cancel(reason.clone());
        self.inner.force.cancel(reason)
    }

    /// Whether shutdown has begun.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = herd::shutdown::Shutdown::new();
    /// shutdown.trigger("done");
    /// assert!(shutdown.is_triggered());
    /// ```
    pub fn is_triggered(&self) -> bool {
        self.inner.stop.is_cancelled()
    }

    /// Cancelled when shutdown begins: stop accepting new work.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let shutdown = herd::shutdown::Shutdown::new();
    /// let token = shutdown.token().clone();
    /// shutdown.trigger("bye");
    /// token.cancelled().await; // an accept loop's select arm
    /// # }
    /// ```
    pub fn token(&self) -> &CancelToken {
        &self.inner.stop
    }

    /// Cancelled when in-flight work must stop: the parent for scopes and
    /// pools.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let shutdown = herd::shutdown::Shutdown::new();
    /// let scope = herd::task::Scope::<(), ()>::builder().parent(shutdown.force_token()).build();
    /// shutdown.force("now");
    /// assert!(scope.token().is_cancelled());
    /// # }
    /// ```
    pub fn force_token(&self) -> &CancelToken {
        &self.inner.force
    }

    /// Waits until shutdown begins.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let shutdown = herd::shutdown::Shutdown::new();
    /// shutdown.trigger("now");
    /// assert_eq!(shutdown.triggered().await.to_string(), "cancelled: now");
    /// # }
    /// ```
    pub async fn triggered(&self) -> CancelReason {
        self.inner.stop.cancelled().await
    }

    /// Registers a clean-up step (flush logs, close connections), run by
    /// [`drain`](Shutdown::drain) after the work has ended, last registered
    /// first.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::sync::{Arc, Mutex};
    ///
    /// let shutdown = herd::shutdown::Shutdown::new();
    /// let log = Arc::new(Mutex::new(Vec::new()));
    /// for name in ["database", "log file"] {
    ///     let log = log.clone();
    ///     shutdown.on_cleanup(move || async move { log.lock().unwrap().push(name) });
    /// }
    /// shutdown.drain(std::time::Duration::from_secs(1), async {}).await;
    /// assert_eq!(*log.lock().unwrap(), ["log file", "database"]);
    /// # }
    /// ```
    pub fn on_cleanup<F, Fut>(&self, cleanup: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        lock(&self.inner.cleanups).push(Box::new(move || Box::pin(cleanup())));
    }

    /// Steps two to four: lets `work` (the in-flight work: a pool's
    /// shutdown, a scope's join) run for up to `grace`; then, or at once on
    /// [`force`](Shutdown::force), cancels [`force_token`](Shutdown::force_token)
    /// and gives `work` as long again to end; abandons it if it still has
    /// not; then runs the clean-up steps. Begins shutdown if nothing had.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    ///
    /// let shutdown = herd::shutdown::Shutdown::new();
    /// let force = shutdown.force_token().clone();
    /// // Work that only stops when cancelled.
    /// let report = shutdown
    ///     .drain(Duration::from_secs(10), async move { force.cancelled().await; })
    ///     .await;
    /// assert!(!report.drained);
    /// assert!(!report.abandoned, "it stopped once cancelled");
    /// assert_eq!(report.took, Duration::from_secs(10));
    /// # }
    /// ```
    pub async fn drain<W: Future<Output = ()>>(&self, grace: Duration, work: W) -> Report {
        let start = Instant::now();
        self.trigger("shutdown was drained");
        let mut work = std::pin::pin!(work);
        let force = &self.inner.force;
        let mut forced = std::pin::pin!(force.cancelled());
        let mut timer = std::pin::pin!(tokio::time::sleep(grace));
        let drained = poll_fn(|cx| {
            if work.as_mut().poll(cx).is_ready() {
                return Poll::Ready(true);
            }
            if forced.as_mut().poll(cx).is_ready() || timer.as_mut().poll(cx).is_ready() {
                return Poll::Ready(false);
            }
            Poll::Pending
        })
        .await;
        let mut abandoned = false;
        if !drained {
            force.cancel(format!("the shutdown grace of {grace:?} ran out"));
            abandoned = tokio::time::timeout(grace, &mut work).await.is_err();
        }
        let cleanups = std::mem::take(&mut *lock(&self.inner.cleanups));
        for cleanup in cleanups.into_iter().rev() {
            cleanup().await;
        }
        Report {
            reason: self.inner.stop.reason(),
            drained,
            forced: force.reason(),
            abandoned,
            took: start.elapsed(),
        }
    }
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown")
            .field("triggered", &self.inner.stop.reason())
            .field("forced", &self.inner.force.reason())
            .finish_non_exhaustive()
    }
}
