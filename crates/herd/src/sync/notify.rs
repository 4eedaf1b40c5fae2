//! `Notify`: wake one waiter, or all of them, without a value.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::line::{Line, Wake, Wakes, park};
use super::{AcquireError, Resource};
use crate::loom::{Mutex, lock};

/// Wakes waiting tasks or threads: [`notify_one`](Notify::notify_one) the
/// one that has waited longest, [`notify_waiters`](Notify::notify_waiters)
/// every one waiting now.
///
/// `notify_one` with nobody waiting stores one permit, so the next
/// [`notified`](Notify::notified) returns at once: a notification sent
/// just before the wait begins is not lost. At most one permit is stored.
/// `notify_waiters` stores none.
///
/// A waiter that was picked by `notify_one` but dropped before it saw it
/// passes the notification on to the next waiter (or stores it), so none
/// is lost to cancellation.
///
/// When to use something else: to wait for a condition that stays true,
/// an [`Event`](super::Event); to pass values, a channel.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::Arc;
///
/// let work = Arc::new(herd::sync::Notify::new());
/// let worker = tokio::spawn({
///     let work = work.clone();
///     async move {
///         work.notified().await;
///         "woke"
///     }
/// });
/// work.notify_one();
/// assert_eq!(worker.await.unwrap(), "woke");
/// # }
/// ```
pub struct Notify {
    state: Mutex<State>,
    resource: Resource,
}

struct State {
    /// A `notify_one` that found nobody waiting.
    permit: bool,
    waiting: Line<Waiter>,
}

struct Waiter {
    wake: Option<Wake>,
    /// Picked by `notify_one` (as opposed to `notify_waiters`): passed on
    /// if dropped unseen.
    by_one: bool,
}

impl State {
    /// Wakes the longest waiter, or stores the permit.
    fn notify_one(&mut self) -> Option<Wake> {
        match self.waiting.front() {
            Some(key) => {
                self.waiting.unlink(key);
                let waiter = self.waiting.get_mut(key);
                waiter.by_one = true;
                waiter.wake.take()
            }
            None => {
                self.permit = true;
                None
            }
        }
    }
}

impl Notify {
    /// A `Notify` with no stored permit.
    ///
    /// # Examples
    ///
    /// ```
    /// let notify = herd::sync::Notify::new();
    /// notify.notify_one(); // stored for the next waiter
    /// ```
    pub fn new() -> Notify {
        Notify::build(None)
    }

    /// A `Notify` with a name, which errors and diagnostics report.
    ///
    /// # Examples
    ///
    /// ```
    /// let jobs = herd::sync::Notify::named("new jobs");
    /// assert_eq!(jobs.resource().name(), Some("new jobs"));
    /// ```
    pub fn named(name: impl Into<Arc<str>>) -> Notify {
        Notify::build(Some(name.into()))
    }

    fn build(name: Option<Arc<str>>) -> Notify {
        Notify {
            state: Mutex::new(State {
                permit: false,
                waiting: Line::new(),
            }),
            resource: Resource::new("Notify", name),
        }
    }

    /// What errors and diagnostics call this `Notify`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::sync::Notify::new().resource().kind(), "Notify");
    /// ```
    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// Wakes the waiter that has waited longest, or, with nobody waiting,
    /// stores a permit for the next one.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let notify = herd::sync::Notify::new();
    /// notify.notify_one();
    /// notify.notified().await; // the stored permit
    /// # }
    /// ```
    pub fn notify_one(&self) {
        let wake = lock(&self.state).notify_one();
        if let Some(wake) = wake {
            wake.wake();
        }
    }

    /// Wakes every waiter waiting now; stores nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::sync::Arc;
    ///
    /// let notify = Arc::new(herd::sync::Notify::new());
    /// let waiters: Vec<_> = (0..3)
    ///     .map(|_| {
    ///         let notify = notify.clone();
    ///         tokio::spawn(async move { notify.notified().await })
    ///     })
    ///     .collect();
    /// tokio::task::yield_now().await; // let them start waiting
    /// notify.notify_waiters();
    /// for waiter in waiters {
    ///     waiter.await.unwrap();
    /// }
    /// # }
    /// ```
    pub fn notify_waiters(&self) {
        let mut wakes = Wakes::default();
        lock(&self.state)
            .waiting
            .drain(|waiter| wakes.push(waiter.wake.take()));
        wakes.wake_all();
    }

    /// Waits for a notification.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future removes the waiter; a `notify_one` it received
    /// but never saw passes to the next waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let notify = herd::sync::Notify::new();
    /// notify.notify_one();
    /// notify.notified().await;
    /// # }
    /// ```
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            key: None,
        }
    }

    /// Waits up to `timeout` for a notification, on tokio's clock.
    ///
    /// # Errors
    ///
    /// [`AcquireError::TimedOut`] naming this `Notify`.
    ///
    /// # Cancel safety
    ///
    /// As [`notified`](Notify::notified).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    ///
    /// let notify = herd::sync::Notify::new();
    /// assert!(notify.notified_timeout(Duration::from_secs(1)).await.is_err());
    /// # }
    /// ```
    pub async fn notified_timeout(&self, timeout: Duration) -> Result<(), AcquireError> {
        self.resource.within(timeout, self.notified()).await
    }

    /// Waits on this thread for a notification. For threads, not async code.
    ///
    /// # Examples
    ///
    /// ```
    /// let notify = herd::sync::Notify::new();
    /// notify.notify_one();
    /// notify.notified_blocking();
    /// ```
    pub fn notified_blocking(&self) {
        self.block(None)
            .expect("a wait without a deadline ends only when notified");
    }

    /// Waits on this thread up to `timeout` for a notification.
    ///
    /// # Errors
    ///
    /// [`AcquireError::TimedOut`] naming this `Notify`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let notify = herd::sync::Notify::new();
    /// assert!(notify.notified_blocking_timeout(Duration::from_millis(10)).is_err());
    /// ```
    pub fn notified_blocking_timeout(&self, timeout: Duration) -> Result<(), AcquireError> {
        self.block(Some(std::time::Instant::now() + timeout))
            .map_err(|()| self.resource.timed_out(timeout))
    }

    /// Takes the stored permit, or joins the line.
    fn start(&self, wake: Wake) -> Option<usize> {
        let mut state = lock(&self.state);
        if std::mem::take(&mut state.permit) {
            return None;
        }
        Some(state.waiting.push_back(Waiter {
            wake: Some(wake),
            by_one: false,
        }))
    }

    /// Leaves the line; a `notify_one` received unseen goes on.
    fn leave(&self, key: usize) {
        let wake = {
            let mut state = lock(&self.state);
            let picked = !state.waiting.is_linked(key);
            let waiter = state.waiting.remove(key);
            if picked && waiter.by_one {
                state.notify_one()
            } else {
                None
            }
        };
        if let Some(wake) = wake {
            wake.wake();
        }
    }

    fn block(&self, deadline: Option<std::time::Instant>) -> Result<(), ()> {
        let Some(key) = self.start(Wake::this_thread()) else {
            return Ok(());
        };
        loop {
            {
                let mut state = lock(&self.state);
                if !state.waiting.is_linked(key) {
                    state.waiting.remove(key);
                    return Ok(());
                }
            }
            if !park(deadline) {
                let mut state = lock(&self.state);
                if !state.waiting.is_linked(key) {
                    // Notified just as time ran out: take it.
                    state.waiting.remove(key);
                    return Ok(());
                }
                state.waiting.remove(key);
                return Err(());
            }
        }
    }
}

impl Default for Notify {
    fn default() -> Self {
        Notify::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notify")
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

/// The future of [`Notify::notified`].
///
/// # Cancel safety
///
/// Dropping it removes the waiter; a `notify_one` it received but never
/// saw passes to the next waiter.
/// # Examples
///
/// ```
/// use std::future::Future;
///
/// let notify = herd::sync::Notify::new();
/// let mut picked = notify.notified();
/// let mut next = notify.notified();
/// let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// assert!(std::pin::Pin::new(&mut picked).poll(&mut cx).is_pending());
/// assert!(std::pin::Pin::new(&mut next).poll(&mut cx).is_pending());
/// notify.notify_one(); // for `picked`, which is dropped unseen
/// drop(picked);
/// assert!(std::pin::Pin::new(&mut next).poll(&mut cx).is_ready(), "passed on");
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Notified<'a> {
    notify: &'a Notify,
    key: Option<usize>,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let Some(key) = this.key else {
            return match this.notify.start(Wake::Task(cx.waker().clone())) {
                None => Poll::Ready(()),
                Some(key) => {
                    this.key = Some(key);
                    Poll::Pending
                }
            };
        };
        let mut state = lock(&this.notify.state);
        if state.waiting.is_linked(key) {
            Wake::update(&mut state.waiting.get_mut(key).wake, cx.waker());
            return Poll::Pending;
        }
        state.waiting.remove(key);
        this.key = None;
        Poll::Ready(())
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            self.notify.leave(key);
        }
    }
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notified").finish_non_exhaustive()
    }
}
