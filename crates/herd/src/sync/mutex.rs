//! `Mutex`: one lock for async code and threads alike.

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

/// A mutual-exclusion lock usable from async code and from threads, served
/// first-in first-out.
///
/// The lock comes four ways: [`lock`](Mutex::lock)`.await` in async code,
/// [`lock_blocking`](Mutex::lock_blocking) on a thread,
/// [`try_lock`](Mutex::try_lock) without waiting, and with a timeout
/// ([`lock_timeout`](Mutex::lock_timeout),
/// [`lock_blocking_timeout`](Mutex::lock_blocking_timeout)) whose error
/// names the lock. The guard may be held across `.await` and released on
/// another thread.
///
/// Fairness: waiters get the lock in the order they started waiting; a
/// `try_lock` fails while anyone waits. A panic while the lock is held
/// releases it without poisoning: keep the data consistent before anything
/// that can panic, as with tokio's and parking_lot's locks.
///
/// When to use something else: for a hot lock touched only by threads,
/// in short critical sections, `std::sync::Mutex` or parking_lot's. They
/// let a running thread take the lock ahead of sleeping ones; this lock
/// keeps strict order, which with more threads than cores costs a thread
/// wake-up per contended acquisition (about 100x slower in BENCHMARKS.md).
/// For a counter, an atomic.
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// use std::sync::Arc;
///
/// let total = Arc::new(herd::sync::Mutex::named("total", 0));
/// let tasks: Vec<_> = (0..8)
///     .map(|_| {
///         let total = total.clone();
///         tokio::spawn(async move {
///             for _ in 0..100 {
///                 *total.lock().await += 1;
///             }
///         })
///     })
///     .collect();
/// for task in tasks {
///     task.await.unwrap();
/// }
/// assert_eq!(*total.lock().await, 800);
/// # }
/// ```
pub struct Mutex<T: ?Sized> {
    permits: Permits,
    value: UnsafeCell<T>,
}

// SAFETY: the permit gives one holder at a time access to the value, so the
// value only needs to move between threads, not be shared.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above; `&Mutex` hands out `&mut T` to one holder at a time.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = herd::sync::Mutex::new(5);
    /// assert_eq!(lock.into_inner(), 5);
    /// ```
    pub fn new(value: T) -> Mutex<T> {
        Mutex::build(None, value)
    }

    /// An unlocked mutex with a name, which errors and diagnostics report.
    ///
    /// # Examples
    ///
    /// ```
    /// let accounts = herd::sync::Mutex::named("accounts", Vec::<u64>::new());
    /// assert_eq!(accounts.resource().name(), Some("accounts"));
    /// ```
    pub fn named(name: impl Into<Arc<str>>, value: T) -> Mutex<T> {
        Mutex::build(Some(name.into()), value)
    }

    fn build(name: Option<Arc<str>>, value: T) -> Mutex<T> {
        Mutex {
            permits: Permits::new(1, Resource::new("Mutex", name)),
            value: UnsafeCell::new(value),
        }
    }

    /// The value, taking the mutex apart.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::sync::Mutex::new("x").into_inner(), "x");
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Gives this mutex a lock-order level. While one resource with a
    /// level is held, [diagnostics](crate::diag) expect only resources of a
    /// higher level to be acquired, and report any other as a
    /// [`LockOrder`](crate::diag::LockOrder): number your locks in the order
    /// they must be taken.
    ///
    /// # Examples
    ///
    /// ```
    /// let accounts = herd::sync::Mutex::named("accounts", 0).with_level(1);
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
    /// assert_eq!(herd::sync::Mutex::new(()).resource().kind(), "Mutex");
    /// ```
    pub fn resource(&self) -> &Resource {
        self.permits.resource()
    }

    /// Waits for the lock.
    /// On tokio, an acquisition that completes uses a unit of the task's
    /// budget and may yield first (see the [module doc](crate::sync)).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future gives up its place in line; if the lock was
    /// handed to it meanwhile, it passes to the next waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = herd::sync::Mutex::new(1);
    /// *lock.lock().await += 1;
    /// assert_eq!(*lock.lock().await, 2);
    /// # }
    /// ```
    #[track_caller]
    pub fn lock(&self) -> Lock<'_, T> {
        Lock {
            mutex: self,
            acquire: Acquire::new(&self.permits, 1),
        }
    }

    /// Waits on this thread for the lock. For threads, not async code: it
    /// blocks the thread it runs on.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let total = Arc::new(herd::sync::Mutex::new(0));
    /// let threads: Vec<_> = (0..4)
    ///     .map(|_| {
    ///         let total = total.clone();
    ///         std::thread::spawn(move || *total.lock_blocking() += 1)
    ///     })
    ///     .collect();
    /// for thread in threads {
    ///     thread.join().unwrap();
    /// }
    /// assert_eq!(*total.lock_blocking(), 4);
    /// ```
    #[track_caller]
    pub fn lock_blocking(&self) -> MutexGuard<'_, T> {
        infallible(self.permits.wait_blocking(1, None, Caller::here()));
        MutexGuard { mutex: self }
    }

    /// Takes the lock if it is free and nobody waits for it.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = herd::sync::Mutex::new(0);
    /// let held = lock.try_lock().unwrap();
    /// assert!(lock.try_lock().is_none());
    /// drop(held);
    /// assert!(lock.try_lock().is_some());
    /// ```
    #[track_caller]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.permits
            .try_acquire(1, Caller::here())
            .ok()
            .map(|()| MutexGuard { mutex: self })
    }

    /// Waits up to `timeout` for the lock, on tokio's clock.
    ///
    /// # Errors
    ///
    /// [`AcquireError::TimedOut`] naming this lock.
    ///
    /// # Cancel safety
    ///
    /// As [`lock`](Mutex::lock).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    ///
    /// let lock = herd::sync::Mutex::named("config", 0);
    /// let held = lock.lock().await;
    /// assert!(lock.lock_timeout(Duration::from_secs(1)).await.is_err());
    /// drop(held);
    /// assert!(lock.lock_timeout(Duration::from_secs(1)).await.is_ok());
    /// # }
    /// ```
    #[track_caller]
    pub fn lock_timeout(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<MutexGuard<'_, T>, AcquireError>> + '_ {
        let wait = self.permits.wait_within(1, timeout);
        async move { wait.await.map(|()| MutexGuard { mutex: self }) }
    }

    /// Waits on this thread up to `timeout` for the lock.
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
    /// let lock = herd::sync::Mutex::named("config", 0);
    /// let _held = lock.lock_blocking();
    /// let err = lock.lock_blocking_timeout(Duration::from_millis(10)).unwrap_err();
    /// assert_eq!(err.resource().name(), Some("config"));
    /// ```
    #[track_caller]
    pub fn lock_blocking_timeout(
        &self,
        timeout: Duration,
    ) -> Result<MutexGuard<'_, T>, AcquireError> {
        self.permits
            .wait_blocking(1, Some(timeout), Caller::here())
            .map(|()| MutexGuard { mutex: self })
    }

    /// The value, through `&mut self`: no locking needed.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lock = herd::sync::Mutex::new(1);
    /// *lock.get_mut() = 2;
    /// assert_eq!(lock.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Mutex");
        out.field("resource", self.resource());
        match self.try_lock() {
            Some(guard) => out.field("value", &&*guard),
            None => out.field("value", &format_args!("<locked>")),
        };
        out.finish()
    }
}

/// The lock of a [`Mutex`], held until dropped.
///
/// # Examples
///
/// ```
/// let lock = herd::sync::Mutex::new(String::new());
/// let mut guard = lock.try_lock().unwrap();
/// guard.push_str("hi");
/// drop(guard);
/// assert_eq!(lock.into_inner(), "hi");
/// ```
#[clippy::has_significant_drop]
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
}

// SAFETY: the guard gives `&T` (and `&mut T`) access; sharing it is sharing
// `&T`, which needs `T: Sync`.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this guard holds the mutex's only permit.
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: this guard holds the mutex's only permit.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.permits.release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// The future of [`Mutex::lock`].
///
/// # Cancel safety
///
/// Dropping it gives up its place in line; a lock handed to it meanwhile
/// passes to the next waiter.
/// # Examples
///
/// ```
/// use std::future::Future;
///
/// let lock = herd::sync::Mutex::new(0);
/// let held = lock.try_lock().unwrap();
/// let mut waiting = lock.lock();
/// let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// assert!(std::pin::Pin::new(&mut waiting).poll(&mut cx).is_pending());
/// drop(held); // hands the lock to `waiting`...
/// drop(waiting); // ...which gives it up: it passes on
/// assert!(lock.try_lock().is_some());
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Lock<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    acquire: Acquire<&'a Permits>,
}

impl<'a, T: ?Sized> Future for Lock<'a, T> {
    type Output = MutexGuard<'a, T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        Pin::new(&mut this.acquire).poll(cx).map(|acquired| {
            infallible(acquired);
            MutexGuard { mutex: this.mutex }
        })
    }
}

impl<T: ?Sized> fmt::Debug for Lock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock").finish_non_exhaustive()
    }
}
