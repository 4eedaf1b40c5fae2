//! `Event`: a flag tasks and threads wait on, as `asyncio.Event`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::line::{Line, Wake, Wakes, park};
use super::{AcquireError, Resource};
use crate::loom::atomic::{AtomicBool, Ordering};
use crate::loom::{Mutex, lock};

/// A flag that can be set, cleared and waited for, by tasks and threads.
///
/// [`set`](Event::set) wakes every waiter; waiting on a set event returns
/// at once; [`clear`](Event::clear) makes later waits block again. A waiter
/// woken by `set` returns even if the event was cleared again before it
/// ran, so no wake-up is lost in between.
///
/// When to use something else: to stop work, a
/// [`CancelToken`](crate::task::CancelToken) carries a reason and a tree;
/// to hand over a value once, a `tokio::sync::oneshot`.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::Arc;
///
/// let ready = Arc::new(herd::sync::Event::named("config loaded"));
/// let worker = tokio::spawn({
///     let ready = ready.clone();
///     async move {
///         ready.wait().await;
///         "started"
///     }
/// });
/// ready.set();
/// assert_eq!(worker.await.unwrap(), "started");
/// # }
/// ```
pub struct Event {
    set: AtomicBool,
    waiters: Mutex<Line<Option<Wake>>>,
    resource: Resource,
}

impl Event {
    /// An event, not set.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!herd::sync::Event::new().is_set());
    /// ```
    pub fn new() -> Event {
        Event::build(None)
    }

    /// An event with a name, which errors and diagnostics report.
    ///
    /// # Examples
    ///
    /// ```
    /// let done = herd::sync::Event::named("done");
    /// assert_eq!(done.resource().name(), Some("done"));
    /// ```
    pub fn named(name: impl Into<Arc<str>>) -> Event {
        Event::build(Some(name.into()))
    }

    fn build(name: Option<Arc<str>>) -> Event {
        Event {
            set: AtomicBool::new(false),
            waiters: Mutex::new(Line::new()),
            resource: Resource::new("Event", name),
        }
    }

    /// What errors and diagnostics call this event.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::sync::Event::new().resource().kind(), "Event");
    /// ```
    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// Sets the event and wakes every waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = herd::sync::Event::new();
    /// event.set();
    /// assert!(event.is_set());
    /// ```
    pub fn set(&self) {
        // Set before taking the lock: a waiter that registers after we
        // drained the line sees the flag under the same lock.
        self.set.store(true, Ordering::Release);
        let mut wakes = Wakes::default();
        lock(&self.waiters).drain(|wake| wakes.push(wake.take()));
        wakes.wake_all();
    }

    /// Clears the event: waits from now on block until the next `set`.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = herd::sync::Event::new();
    /// event.set();
    /// event.clear();
    /// assert!(!event.is_set());
    /// ```
    pub fn clear(&self) {
        self.set.store(false, Ordering::Release);
    }

    /// Whether the event is set.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!herd::sync::Event::new().is_set());
    /// ```
    pub fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    /// Waits until the event is set.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future removes the waiter; nothing else changes.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let event = herd::sync::Event::new();
    /// event.set();
    /// event.wait().await; // returns at once
    /// # }
    /// ```
    pub fn wait(&self) -> EventWait<'_> {
        EventWait {
            event: self,
            key: None,
        }
    }

    /// Waits up to `timeout` for the event, on tokio's clock.
    ///
    /// # Errors
    ///
    /// [`AcquireError::TimedOut`] naming this event.
    ///
    /// # Cancel safety
    ///
    /// As [`wait`](Event::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    ///
    /// let event = herd::sync::Event::named("ready");
    /// let err = event.wait_timeout(Duration::from_secs(1)).await.unwrap_err();
    /// assert_eq!(err.to_string(), "timed out after 1s waiting for Event \"ready\"");
    /// # }
    /// ```
    pub async fn wait_timeout(&self, timeout: Duration) -> Result<(), AcquireError> {
        self.resource.within(timeout, self.wait()).await
    }

    /// Waits on this thread until the event is set. For threads, not async
    /// code.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let event = Arc::new(herd::sync::Event::new());
    /// let waiter = std::thread::spawn({
    ///     let event = event.clone();
    ///     move || event.wait_blocking()
    /// });
    /// event.set();
    /// waiter.join().unwrap();
    /// ```
    pub fn wait_blocking(&self) {
        self.block(None)
            .expect("a wait without a deadline ends only when set");
    }

    /// Waits on this thread up to `timeout` for the event.
    ///
    /// # Errors
    ///
    /// [`AcquireError::TimedOut`] naming this event.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let event = herd::sync::Event::new();
    /// assert!(event.wait_blocking_timeout(Duration::from_millis(10)).is_err());
    /// event.set();
    /// assert!(event.wait_blocking_timeout(Duration::from_millis(10)).is_ok());
    /// ```
    pub fn wait_blocking_timeout(&self, timeout: Duration) -> Result<(), AcquireError> {
        self.block(Some(std::time::Instant::now() + timeout))
            .map_err(|()| self.resource.timed_out(timeout))
    }

    fn block(&self, deadline: Option<std::time::Instant>) -> Result<(), ()> {
        let key = {
            let mut waiters = lock(&self.waiters);
            if self.is_set() {
                return Ok(());
            }
            waiters.push_back(Some(Wake::this_thread()))
        };
        loop {
            {
                let mut waiters = lock(&self.waiters);
                if !waiters.is_linked(key) {
                    waiters.remove(key);
                    return Ok(());
                }
            }
            if !park(deadline) {
                let mut waiters = lock(&self.waiters);
                // Set just as time ran out counts as set.
                let set = !waiters.is_linked(key);
                waiters.remove(key);
                return if set { Ok(()) } else { Err(()) };
            }
        }
    }
}

impl Default for Event {
    fn default() -> Self {
        Event::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("resource", &self.resource)
            .field("set", &self.is_set())
            .finish()
    }
}

/// The future of [`Event::wait`].
///
/// # Cancel safety
///
/// Dropping it removes the waiter; nothing else changes.
/// # Examples
///
/// ```
/// use std::future::Future;
///
/// let event = herd::sync::Event::new();
/// let mut wait = event.wait();
/// let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// assert!(std::pin::Pin::new(&mut wait).poll(&mut cx).is_pending());
/// event.set();
/// assert!(std::pin::Pin::new(&mut wait).poll(&mut cx).is_ready());
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct EventWait<'a> {
    event: &'a Event,
    key: Option<usize>,
}

impl Future for EventWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.key.is_none() && this.event.is_set() {
            return Poll::Ready(());
        }
        let mut waiters = lock(&this.event.waiters);
        match this.key {
            None => {
                if this.event.is_set() {
                    return Poll::Ready(());
                }
                this.key = Some(waiters.push_back(Some(Wake::Task(cx.waker().clone()))));
                Poll::Pending
            }
            Some(key) if !waiters.is_linked(key) => {
                waiters.remove(key);
                this.key = None;
                Poll::Ready(())
            }
            Some(key) => {
                Wake::update(waiters.get_mut(key), cx.waker());
                Poll::Pending
            }
        }
    }
}

impl Drop for EventWait<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            lock(&self.event.waiters).remove(key);
        }
    }
}

impl fmt::Debug for EventWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventWait").finish_non_exhaustive()
    }
}
