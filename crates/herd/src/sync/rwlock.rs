//! `RwLock`: many readers or one writer, and no writer starves.

use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::permits::{Acquire, Caller, Permits, infallible};
use super::{AcquireError, Resource};

/// Readers at once at most; a writer takes all of them.
const MAX_READERS: usize = (u32::MAX >> 3) as usize;

/// A reader-writer lock for async code and threads: any number of readers,
/// or one writer.
///
/// Fairness: first-in first-out across readers and writers. A waiting
/// writer gets the lock before any reader that arrived after it, so a
/// steady stream of readers cannot starve a writer; readers queued behind
/// a writer go in together once it is done.
///
/// Each side comes four ways, as [`Mutex`](super::Mutex): `read`/`write`
/// (async), `_blocking`, `try_`, and `_timeout` (async and blocking).
///
/// When to use something else: if writes are about as common as reads, a
/// [`Mutex`](super::Mutex) is simpler and as fast; for data replaced
/// wholesale and read often, an `Arc` swapped under a `Mutex`
/// (copy-on-write) keeps readers off the lock entirely.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let config = herd::sync::RwLock::named("config", vec!["a"]);
/// {
///     let one = config.read().await;
///     let two = config.read().await;
///     assert_eq!(one.len() + two.len(), 2);
/// }
/// config.write().await.push("b");
/// assert_eq!(*config.read().await, ["a", "b"]);
/// # }
/// ```
pub struct RwLock<T: ?Sized> {
    permits: Permits,
    value: UnsafeCell<T>,
}

// SAFETY: the writer holds every permit, so it alone can reach the value;
// readers share `&T`, which needs `T: Sync`.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

impl<T> RwLock<T> {
    /// An unlocked lock holding `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::sync::RwLock::new(3).into_inner(), 3);
    /// ```
    pub fn new(value: T) -> RwLock<T> {
        RwLock::build(None, value)
    }

    /// An unlocked lock with a name, which errors and diagnostics report.
    ///
    /// # Examples
    ///
    /// ```
    /// let routes = herd::sync::RwLock::named("routes", ());
    /// assert_eq!(routes.resource().to_string(), "RwLock \"routes\"");
    /// ```
    pub fn named(name: impl Into<Arc<str>>, value: T) -> RwLock<T> {
        RwLock::build(Some(name.into()), value)
    }

    fn build(name: Option<Arc<str>>, value: T) -> RwLock<T> {
        RwLock {
            permits: Permits::new(MAX_READERS, Resource::new("RwLock", name)),
            value: UnsafeCell::new(value),
        }
    }

    /// The value, taking the lock apart.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::sync::RwLock::new("x").into_inner(), "x");
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Gives this lock a lock-order level. While one resource with a
    /// level is held, [diagnostics](crate::diag) expect only resources of a
    /// higher level to be acquired, and report any other as a
    /// [`LockOrder`](crate::diag::LockOrder): number your locks in the order
    /// they must be taken.
    ///
    /// # Examples
    ///
    /// ```
    /// let accounts = herd::sync::RwLock::named("accounts", 0).with_level(1);
    /// assert_eq!(accounts.resource().level(), Some(1));
    /// ```
    pub fn with_level(mut self, level: u32) -> Self
    where
        Self: Sized,
    {
        self.permits.set_level(level);
        self
    }

    /// What errors and diagnostics call this lock.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::sync::RwLock::new(()).resource().kind(), "RwLock");
    /// ```
    pub fn resource(&self) -> &Resource {
        self.permits.resource()
    }

    /// Waits to read.
    /// On tokio, an acquisition that completes uses a unit of the task's
    /// budget and may yield first (see the [module doc](crate::sync)).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future gives up its place in line and never holds up
    /// the waiters behind it.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = herd::sync::RwLock::new(1);
    /// assert_eq!(*lock.read().await, 1);
    /// # }
    /// ```
    #[track_caller]
    pub fn read(&self) -> Read<'_, T> {
        Read {
            lock: self,
            acquire: Acquire::new(&self.permits, 1),
        }
    }

    /// Waits to write.
    /// On tokio, an acquisition that completes uses a unit of the task's
    /// budget and may yield first (see the [module doc](crate::sync)).
    ///
    /// # Cancel safety
    ///
    /// As [`read`](RwLock::read); read permits already set aside for a
    /// dropped writer go back to the waiters behind it.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = herd::sync::RwLock::new(1);
    /// *lock.write().await += 1;
    /// assert_eq!(*lock.read().await, 2);
    /// # }
    /// ```
    #[track_caller]
    pub fn write(&self) -> Write<'_, T> {
        Write {
            lock: self,
            acquire: Acquire::new(&self.permits, MAX_READERS),
        }
    }

    /// Waits on this thread to read. For threads, not async code.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = herd::sync::RwLock::new(1);
    /// assert_eq!(*lock.read_blocking(), 1);
    /// ```
    #[track_caller]
    pub fn read_blocking(&self) -> ReadGuard<'_, T> {
        infallible(self.permits.wait_blocking(1, None, Caller::here()));
        ReadGuard { lock: self }
    }

    /// Waits on this thread to write. For threads, not async code.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = herd::sync::RwLock::new(1);
    /// *lock.write_blocking() = 5;
    /// assert_eq!(*lock.read_blocking(), 5);
    /// ```
    #[track_caller]
    pub fn write_blocking(&self) -> WriteGuard<'_, T> {
        infallible(
            self.permits
                .wait_blocking(MAX_READERS, None, Caller::here()),
        );
        WriteGuard { lock: self }
    }

    /// Reads if no writer holds or waits for the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = herd::sync::RwLock::new(1);
    /// let writing = lock.try_write().unwrap();
    /// assert!(lock.try_read().is_none());
    /// drop(writing);
    /// assert!(lock.try_read().is_some());
    /// ```
    #[track_caller]
    pub fn try_read(&self) -> Option<ReadGuard<'_, T>> {
        self.permits
            .try_acquire(1, Caller::here())
            .ok()
            .map(|()| ReadGuard { lock: self })
    }

    /// Writes if nobody holds or waits for the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = herd::sync::RwLock::new(1);
    /// let reading = lock.try_read().unwrap();
    /// assert!(lock.try_write().is_none());
    /// drop(reading);
    /// assert!(lock.try_write().is_some());
    /// ```
    #[track_caller]
    pub fn try_write(&self) -> Option<WriteGuard<'_, T>> {
        self.permits
            .try_acquire(MAX_READERS, Caller::here())
            .ok()
            .map(|()| WriteGuard { lock: self })
    }

    /// Waits up to `timeout` to read, on tokio's clock.
    ///
    /// # Errors
    ///
    /// [`AcquireError::TimedOut`] naming this lock.
    ///
    /// # Cancel safety
    ///
    /// As [`read`](RwLock::read).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    ///
    /// let lock = herd::sync::RwLock::new(1);
    /// let _writing = lock.write().await;
    /// assert!(lock.read_timeout(Duration::from_secs(1)).await.is_err());
    /// # }
    /// ```
    #[track_caller]
    pub fn read_timeout(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<ReadGuard<'_, T>, AcquireError>> + '_ {
        let wait = self.permits.wait_within(1, timeout);
        async move { wait.await.map(|()| ReadGuard { lock: self }) }
    }

    /// Waits up to `timeout` to write, on tokio's clock.
    ///
    /// # Errors
    ///
    /// [`AcquireError::TimedOut`] naming this lock.
    ///
    /// # Cancel safety
    ///
    /// As [`write`](RwLock::write).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    ///
    /// let lock = herd::sync::RwLock::named("routes", 1);
    /// let _reading = lock.read().await;
    /// let err = lock.write_timeout(Duration::from_secs(2)).await.unwrap_err();
    /// assert_eq!(err.to_string(), "timed out after 2s waiting for RwLock \"routes\"");
    /// # }
    /// ```
    #[track_caller]
    pub fn write_timeout(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<WriteGuard<'_, T>, AcquireError>> + '_ {
        let wait = self.permits.wait_within(MAX_READERS, timeout);
        async move { wait.await.map(|()| WriteGuard { lock: self }) }
    }

    /// Waits on this thread up to `timeout` to read.
    ///
    /// # Errors
    ///
    /// [`AcquireError::TimedOut`] naming this lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lock = herd::sync::RwLock::new(1);
    /// let _writing = lock.write_blocking();
    /// assert!(lock.read_blocking_timeout(Duration::from_millis(10)).is_err());
    /// ```
    #[track_caller]
    pub fn read_blocking_timeout(
        &self,
        timeout: Duration,
    ) -> Result<ReadGuard<'_, T>, AcquireError> {
        self.permits
            .wait_blocking(1, Some(timeout), Caller::here())
            .map(|()| ReadGuard { lock: self })
    }

    /// Waits on this thread up to `timeout` to write.
    ///
    /// # Errors
    ///
    /// [`AcquireError::TimedOut`] naming this lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lock = herd::sync::RwLock::new(1);
    /// let _reading = lock.read_blocking();
    /// assert!(lock.write_blocking_timeout(Duration::from_millis(10)).is_err());
    /// ```
    #[track_caller]
    pub fn write_blocking_timeout(
        &self,
        timeout: Duration,
    ) -> Result<WriteGuard<'_, T>, AcquireError> {
        self.permits
            .wait_blocking(MAX_READERS, Some(timeout), Caller::here())
            .map(|()| WriteGuard { lock: self })
    }

    /// The value, through `&mut self`: no locking needed.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lock = herd::sync::RwLock::new(1);
    /// *lock.get_mut() += 1;
    /// assert_eq!(lock.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("RwLock");
        out.field("resource", self.resource());
        match self.try_read() {
            Some(guard) => out.field("value", &&*guard),
            None => out.field("value", &format_args!("<locked>")),
        };
        out.finish()
    }
}

/// Read access to an [`RwLock`], held until dropped.
///
/// # Examples
///
/// ```
/// let lock = herd::sync::RwLock::new(7);
/// let guard = lock.try_read().unwrap();
/// assert_eq!(*guard, 7);
/// ```
#[clippy::has_significant_drop]
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct ReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

impl<T: ?Sized> Deref for ReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: a read permit is held, so no writer holds the lock.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> Drop for ReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.permits.release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for ReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Write access to an [`RwLock`], held until dropped.
///
/// # Examples
///
/// ```
/// let lock = herd::sync::RwLock::new(7);
/// *lock.try_write().unwrap() = 8;
/// assert_eq!(lock.into_inner(), 8);
/// ```
#[clippy::has_significant_drop]
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct WriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

// SAFETY: sharing the guard shares `&T`, which needs `T: Sync`.
unsafe impl<T: ?Sized + Sync> Sync for WriteGuard<'_, T> {}

impl<T: ?Sized> Deref for WriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this guard holds every permit.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> DerefMut for WriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: this guard holds every permit.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T: ?Sized> Drop for WriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.permits.release(MAX_READERS);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for WriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// The future of [`RwLock::read`].
///
/// # Cancel safety
///
/// Dropping it gives up its place in line.
/// # Examples
///
/// ```
/// use std::future::Future;
///
/// let lock = herd::sync::RwLock::new(1);
/// let writing = lock.try_write().unwrap();
/// let mut read = lock.read();
/// let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// assert!(std::pin::Pin::new(&mut read).poll(&mut cx).is_pending());
/// drop(writing);
/// assert!(std::pin::Pin::new(&mut read).poll(&mut cx).is_ready());
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Read<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    acquire: Acquire<&'a Permits>,
}

impl<'a, T: ?Sized> Future for Read<'a, T> {
    type Output = ReadGuard<'a, T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        Pin::new(&mut this.acquire).poll(cx).map(|acquired| {
            infallible(acquired);
            ReadGuard { lock: this.lock }
        })
    }
}

impl<T: ?Sized> fmt::Debug for Read<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Read").finish_non_exhaustive()
    }
}

/// The future of [`RwLock::write`].
///
/// # Cancel safety
///
/// Dropping it gives up its place in line; read permits set aside for it
/// go to the waiters behind it.
/// # Examples
///
/// ```
/// use std::future::Future;
///
/// let lock = herd::sync::RwLock::new(1);
/// let reading = lock.try_read().unwrap();
/// let mut write = lock.write();
/// let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// assert!(std::pin::Pin::new(&mut write).poll(&mut cx).is_pending());
/// drop(write); // a writer that gives up does not hold readers back
/// assert!(lock.try_read().is_some());
/// drop(reading);
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Write<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    acquire: Acquire<&'a Permits>,
}

impl<'a, T: ?Sized> Future for Write<'a, T> {
    type Output = WriteGuard<'a, T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        Pin::new(&mut this.acquire).poll(cx).map(|acquired| {
            infallible(acquired);
            WriteGuard { lock: this.lock }
        })
    }
}

impl<T: ?Sized> fmt::Debug for Write<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Write").finish_non_exhaustive()
    }
}
