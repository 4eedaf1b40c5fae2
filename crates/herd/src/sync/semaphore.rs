//! `Semaphore`: a counted, resizable, first-in first-out permit pool.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::permits::{Acquire, Caller, Holder, Permits};
use super::{AcquireError, Resource};

/// A pool of permits: at most its capacity are held at once.
///
/// Waiters are served first-in first-out: a waiter asking for many permits
/// is not overtaken by later ones asking for fewer, and a newcomer never
/// takes a permit while others wait. Every acquisition comes as a future
/// ([`acquire`](Semaphore::acquire)), a blocking call for threads
/// ([`acquire_blocking`](Semaphore::acquire_blocking)), an immediate attempt
/// ([`try_acquire`](Semaphore::try_acquire)) and with a timeout
/// ([`acquire_timeout`](Semaphore::acquire_timeout),
/// [`acquire_blocking_timeout`](Semaphore::acquire_blocking_timeout)); each
/// has a `_many` form for several permits at once.
///
/// The capacity can change while permits are held:
/// [`add_permits`](Semaphore::add_permits) grows it and wakes waiters;
/// [`forget_permits`](Semaphore::forget_permits) shrinks it, taking free
/// permits now and held ones as they come back.
///
/// Asking for more permits than the capacity fails at once with
/// [`AcquireError::TooMany`] instead of waiting forever.
///
/// # Examples
///
/// A connection pool of two: the third caller waits for a release.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let pool = herd::sync::Semaphore::named("db", 2);
/// let a = pool.acquire().await.unwrap();
/// let _b = pool.acquire().await.unwrap();
/// assert!(pool.try_acquire().is_err());
/// drop(a);
/// assert!(pool.try_acquire().is_ok());
/// # }
/// ```
pub struct Semaphore {
    permits: Permits,
}

impl Semaphore {
    /// The most permits a semaphore can hold.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(herd::sync::Semaphore::MAX_PERMITS >= u32::MAX as usize);
    /// ```
    pub const MAX_PERMITS: usize = super::permits::MAX_PERMITS;

    /// A semaphore with `permits` permits.
    ///
    /// # Panics
    ///
    /// If `permits` exceeds `usize::MAX >> 2`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::sync::Semaphore::new(3).available_permits(), 3);
    /// ```
    pub fn new(permits: usize) -> Semaphore {
        Semaphore {
            permits: Permits::new(permits, Resource::new("Semaphore", None)),
        }
    }

    /// A semaphore with a name, which errors and diagnostics report.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = herd::sync::Semaphore::named("db", 3);
    /// assert_eq!(pool.resource().to_string(), "Semaphore \"db\"");
    /// ```
    pub fn named(name: impl Into<Arc<str>>, permits: usize) -> Semaphore {
        Semaphore {
            permits: Permits::new(permits, Resource::new("Semaphore", Some(name.into()))),
        }
    }

    /// A semaphore reporting as another primitive, for those built on one.
    pub(crate) fn of(resource: Resource, permits: usize) -> Semaphore {
        Semaphore {
            permits: Permits::new(permits, resource),
        }
    }

    /// Gives this semaphore a lock-order level. While one resource with a
    /// level is held, [diagnostics](crate::diag) expect only resources of a
    /// higher level to be acquired, and report any other as a
    /// [`LockOrder`](crate::diag::LockOrder): number your locks in the order
    /// they must be taken.
    ///
    /// # Examples
    ///
    /// ```
    /// let accounts = herd::sync::Semaphore::named("accounts", 4).with_level(1);
    /// assert_eq!(accounts.resource().level(), Some(1));
    /// ```
    pub fn with_level(mut self, level: u32) -> Self {
        self.permits.set_level(level);
        self
    }

    /// What errors and diagnostics call this semaphore.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::sync::Semaphore::new(1).resource().name(), None);
    /// ```
    pub fn resource(&self) -> &Resource {
        self.permits.resource()
    }

    /// Permits free right now.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = herd::sync::Semaphore::new(2);
    /// let _held = pool.try_acquire().unwrap();
    /// assert_eq!(pool.available_permits(), 1);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.permits.available()
    }

    /// Permits in existence: free plus held, after every add and forget.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = herd::sync::Semaphore::new(2);
    /// let _held = pool.try_acquire().unwrap();
    /// assert_eq!(pool.capacity(), 2);
    /// ```
    pub fn capacity(&self) -> usize {
        self.permits.capacity()
    }

    /// Waits for one permit.
    /// On tokio, an acquisition that completes uses a unit of the task's
    /// budget and may yield first (see the [module doc](crate::sync)).
    ///
    /// # Errors
    ///
    /// [`AcquireError::Closed`] if the semaphore is closed before the permit
    /// is granted; [`AcquireError::TooMany`] if its capacity is zero.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future gives up its place in line; a permit granted to
    /// it but not yet seen goes to the next waiter. Nothing leaks and no
    /// waiter is skipped.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let pool = herd::sync::Semaphore::new(1);
    /// let permit = pool.acquire().await.unwrap();
    /// assert_eq!(permit.count(), 1);
    /// # }
    /// ```
    #[track_caller]
    pub fn acquire(&self) -> AcquireFuture<'_> {
        self.acquire_many(1)
    }

    /// Waits for `n` permits, taken together.
    /// On tokio, an acquisition that completes uses a unit of the task's
    /// budget and may yield first (see the [module doc](crate::sync)).
    ///
    /// # Errors
    ///
    /// As [`acquire`](Semaphore::acquire); `TooMany` if `n` exceeds the
    /// capacity.
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Semaphore::acquire): permits already set aside for this
    /// waiter go to the next ones.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let memory = herd::sync::Semaphore::named("memory MiB", 512);
    /// let big = memory.acquire_many(300).await.unwrap();
    /// assert_eq!(memory.available_permits(), 212);
    /// assert!(memory.acquire_many(1024).await.is_err(), "more than exists");
    /// drop(big);
    /// # }
    /// ```
    #[track_caller]
    pub fn acquire_many(&self, n: usize) -> AcquireFuture<'_> {
        AcquireFuture {
            semaphore: self,
            acquire: Acquire::new(&self.permits, n),
        }
    }

    /// Waits for one permit, owned: it keeps the semaphore alive and can
    /// move into a spawned task.
    ///
    /// # Errors
    ///
    /// As [`acquire`](Semaphore::acquire).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Semaphore::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::sync::Arc;
    ///
    /// let pool = Arc::new(herd::sync::Semaphore::new(1));
    /// let permit = pool.clone().acquire_owned().await.unwrap();
    /// let job = tokio::spawn(async move {
    ///     let _permit = permit;
    ///     "done"
    /// });
    /// assert_eq!(job.await.unwrap(), "done");
    /// assert_eq!(pool.available_permits(), 1);
    /// # }
    /// ```
    #[track_caller]
    pub fn acquire_owned(self: Arc<Self>) -> AcquireOwnedFuture {
        self.acquire_many_owned(1)
    }

    /// Waits for `n` permits, owned.
    /// On tokio, an acquisition that completes uses a unit of the task's
    /// budget and may yield first (see the [module doc](crate::sync)).
    ///
    /// # Errors
    ///
    /// As [`acquire_many`](Semaphore::acquire_many).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Semaphore::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::sync::Arc;
    ///
    /// let pool = Arc::new(herd::sync::Semaphore::new(4));
    /// let permit = pool.clone().acquire_many_owned(3).await.unwrap();
    /// assert_eq!(permit.count(), 3);
    /// # }
    /// ```
    #[track_caller]
    pub fn acquire_many_owned(self: Arc<Self>, n: usize) -> AcquireOwnedFuture {
        AcquireOwnedFuture {
            acquire: Acquire::new(Owner(self), n),
        }
    }

    /// Takes one permit if one is free and nobody waits ahead.
    ///
    /// # Errors
    ///
    /// [`AcquireError::WouldBlock`] if none is free or others wait first,
    /// `Closed`, or `TooMany` if the capacity is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = herd::sync::Semaphore::new(1);
    /// let held = pool.try_acquire().unwrap();
    /// assert!(pool.try_acquire().is_err());
    /// drop(held);
    /// assert!(pool.try_acquire().is_ok());
    /// ```
    #[track_caller]
    pub fn try_acquire(&self) -> Result<Permit<'_>, AcquireError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if they are free and nobody waits ahead.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Semaphore::try_acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = herd::sync::Semaphore::new(3);
    /// assert_eq!(pool.try_acquire_many(2).unwrap().count(), 2);
    /// ```
    #[track_caller]
    pub fn try_acquire_many(&self, n: usize) -> Result<Permit<'_>, AcquireError> {
        self.permits
            .try_acquire(n, Caller::here())
            .map(|()| Permit::new(self, n))
            .map_err(|refused| self.permits.error(refused, n))
    }

    /// Takes one owned permit if one is free and nobody waits ahead.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Semaphore::try_acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let pool = Arc::new(herd::sync::Semaphore::new(1));
    /// let permit = pool.clone().try_acquire_owned().unwrap();
    /// assert_eq!(pool.available_permits(), 0);
    /// drop(permit);
    /// assert_eq!(pool.available_permits(), 1);
    /// ```
    #[track_caller]
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedPermit, AcquireError> {
        match self.permits.try_acquire(1, Caller::here().owned()) {
            Ok(()) => Ok(OwnedPermit {
                semaphore: self,
                count: 1,
            }),
            Err(refused) => Err(self.permits.error(refused, 1)),
        }
    }

    /// Waits on this thread for one permit. For threads, not async code:
    /// it blocks the thread it runs on.
    ///
    /// # Errors
    ///
    /// As [`acquire`](Semaphore::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let pool = Arc::new(herd::sync::Semaphore::new(1));
    /// let held = pool.acquire_blocking().unwrap();
    /// let other = std::thread::spawn({
    ///     let pool = pool.clone();
    ///     move || pool.acquire_blocking().map(|permit| permit.count())
    /// });
    /// drop(held);
    /// assert_eq!(other.join().unwrap(), Ok(1));
    /// ```
    #[track_caller]
    pub fn acquire_blocking(&self) -> Result<Permit<'_>, AcquireError> {
        self.acquire_many_blocking(1)
    }

    /// Waits on this thread for `n` permits.
    ///
    /// # Errors
    ///
    /// As [`acquire_many`](Semaphore::acquire_many).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = herd::sync::Semaphore::new(3);
    /// assert_eq!(pool.acquire_many_blocking(3).unwrap().count(), 3);
    /// ```
    #[track_caller]
    pub fn acquire_many_blocking(&self, n: usize) -> Result<Permit<'_>, AcquireError> {
        self.permits
            .wait_blocking(n, None, Caller::here())
            .map(|()| Permit::new(self, n))
    }

    /// Waits up to `timeout` for one permit, on tokio's clock.
    ///
    /// # Errors
    ///
    /// [`AcquireError::TimedOut`] naming this semaphore, or as
    /// [`acquire`](Semaphore::acquire).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Semaphore::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    ///
    /// let pool = herd::sync::Semaphore::named("db", 1);
    /// let _held = pool.acquire().await.unwrap();
    /// let err = pool.acquire_timeout(Duration::from_secs(1)).await.unwrap_err();
    /// assert_eq!(err.to_string(), "timed out after 1s waiting for Semaphore \"db\"");
    /// # }
    /// ```
    #[track_caller]
    pub fn acquire_timeout(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<Permit<'_>, AcquireError>> + '_ {
        self.acquire_many_timeout(1, timeout)
    }

    /// Waits up to `timeout` for `n` permits, on tokio's clock.
    ///
    /// # Errors
    ///
    /// As [`acquire_timeout`](Semaphore::acquire_timeout) and
    /// [`acquire_many`](Semaphore::acquire_many).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Semaphore::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    ///
    /// let pool = herd::sync::Semaphore::new(2);
    /// let _one = pool.acquire().await.unwrap();
    /// assert!(pool.acquire_many_timeout(2, Duration::from_secs(1)).await.is_err());
    /// assert_eq!(pool.available_permits(), 1, "nothing leaked");
    /// # }
    /// ```
    #[track_caller]
    pub fn acquire_many_timeout(
        &self,
        n: usize,
        timeout: Duration,
    ) -> impl Future<Output = Result<Permit<'_>, AcquireError>> + '_ {
        let wait = self.resource().within(timeout, self.acquire_many(n));
        async move { wait.await? }
    }

    /// Waits on this thread up to `timeout` for one permit.
    ///
    /// # Errors
    ///
    /// As [`acquire_timeout`](Semaphore::acquire_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = herd::sync::Semaphore::new(1);
    /// let _held = pool.try_acquire().unwrap();
    /// assert!(pool.acquire_blocking_timeout(Duration::from_millis(10)).is_err());
    /// ```
    #[track_caller]
    pub fn acquire_blocking_timeout(&self, timeout: Duration) -> Result<Permit<'_>, AcquireError> {
        self.acquire_many_blocking_timeout(1, timeout)
    }

    /// Waits on this thread up to `timeout` for `n` permits.
    ///
    /// # Errors
    ///
    /// As [`acquire_many_timeout`](Semaphore::acquire_many_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = herd::sync::Semaphore::new(2);
    /// let permit = pool.acquire_many_blocking_timeout(2, Duration::from_secs(1)).unwrap();
    /// assert_eq!(permit.count(), 2);
    /// ```
    #[track_caller]
    pub fn acquire_many_blocking_timeout(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Permit<'_>, AcquireError> {
        self.permits
            .wait_blocking(n, Some(timeout), Caller::here())
            .map(|()| Permit::new(self, n))
    }

    /// Adds `n` permits, waking waiters they satisfy.
    ///
    /// # Panics
    ///
    /// If the capacity would exceed `usize::MAX >> 2`.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = herd::sync::Semaphore::new(1);
    /// pool.add_permits(2);
    /// assert_eq!((pool.capacity(), pool.available_permits()), (3, 3));
    /// ```
    pub fn add_permits(&self, n: usize) {
        self.permits.add(n);
    }

    /// Shrinks the capacity by `n` (at most to zero): free permits are
    /// removed now, held ones as their holders release them, before any
    /// waiter gets them. Returns how many were removed at once.
    ///
    /// # Examples
    ///
    /// Resizing a limit of 4 down to 2 while 3 are in use:
    ///
    /// ```
    /// let limit = herd::sync::Semaphore::new(4);
    /// let held: Vec<_> = (0..3).map(|_| limit.try_acquire().unwrap()).collect();
    /// assert_eq!(limit.forget_permits(2), 1, "one was free");
    /// assert_eq!(limit.capacity(), 2);
    /// drop(held);
    /// assert_eq!(limit.available_permits(), 2);
    /// ```
    pub fn forget_permits(&self, n: usize) -> usize {
        self.permits.forget(n)
    }

    /// Closes the semaphore: every waiter and every later acquisition fails
    /// with [`AcquireError::Closed`]. Held permits stay valid.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let pool = herd::sync::Semaphore::new(1);
    /// pool.close();
    /// assert!(matches!(pool.acquire().await, Err(herd::sync::AcquireError::Closed { .. })));
    /// assert!(pool.is_closed());
    /// # }
    /// ```
    pub fn close(&self) {
        self.permits.close();
    }

    /// Whether [`close`](Semaphore::close) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!herd::sync::Semaphore::new(1).is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.permits.is_closed()
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("resource", self.resource())
            .field("available", &self.available_permits())
            .field("capacity", &self.capacity())
            .finish()
    }
}

/// Permits held from a [`Semaphore`]; released when dropped.
///
/// # Examples
///
/// ```
/// let pool = herd::sync::Semaphore::new(2);
/// let permit = pool.try_acquire_many(2).unwrap();
/// assert_eq!(permit.count(), 2);
/// drop(permit);
/// assert_eq!(pool.available_permits(), 2);
/// ```
#[clippy::has_significant_drop]
#[must_use = "the permit is released as soon as it is dropped"]
pub struct Permit<'a> {
    semaphore: &'a Semaphore,
    count: usize,
}

impl<'a> Permit<'a> {
    fn new(semaphore: &'a Semaphore, count: usize) -> Self {
        Permit { semaphore, count }
    }

    /// How many permits this holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = herd::sync::Semaphore::new(1);
    /// assert_eq!(pool.try_acquire().unwrap().count(), 1);
    /// ```
    pub fn count(&self) -> usize {
        self.count
    }

    /// Keeps the permits out of the semaphore for good, shrinking its
    /// capacity.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = herd::sync::Semaphore::new(2);
    /// pool.try_acquire().unwrap().forget();
    /// assert_eq!((pool.capacity(), pool.available_permits()), (1, 1));
    /// ```
    pub fn forget(mut self) {
        self.semaphore.permits.forget_held(self.count);
        self.count = 0;
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.semaphore.permits.release(self.count);
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("count", &self.count)
            .finish()
    }
}

/// Permits held from a [`Semaphore`] in an `Arc`; released when dropped.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
///
/// let pool = Arc::new(herd::sync::Semaphore::new(1));
/// let permit = pool.clone().try_acquire_owned().unwrap();
/// assert_eq!(permit.count(), 1);
/// ```
#[clippy::has_significant_drop]
#[must_use = "the permit is released as soon as it is dropped"]
pub struct OwnedPermit {
    semaphore: Arc<Semaphore>,
    count: usize,
}

impl OwnedPermit {
    /// How many permits this holds.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let pool = Arc::new(herd::sync::Semaphore::new(3));
    /// assert_eq!(pool.try_acquire_owned().unwrap().count(), 1);
    /// ```
    pub fn count(&self) -> usize {
        self.count
    }

    /// The semaphore the permits came from.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let pool = Arc::new(herd::sync::Semaphore::new(1));
    /// let permit = pool.clone().try_acquire_owned().unwrap();
    /// assert!(Arc::ptr_eq(permit.semaphore(), &pool));
    /// ```
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.semaphore
    }

    /// Keeps the permits out of the semaphore for good, shrinking its
    /// capacity.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let pool = Arc::new(herd::sync::Semaphore::new(2));
    /// pool.clone().try_acquire_owned().unwrap().forget();
    /// assert_eq!(pool.capacity(), 1);
    /// ```
    pub fn forget(mut self) {
        self.semaphore.permits.forget_held(self.count);
        self.count = 0;
    }
}

impl Drop for OwnedPermit {
    fn drop(&mut self) {
        self.semaphore.permits.release(self.count);
    }
}

impl fmt::Debug for OwnedPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit")
            .field("count", &self.count)
            .finish()
    }
}

/// The future of [`Semaphore::acquire`] and [`Semaphore::acquire_many`].
///
/// # Cancel safety
///
/// Dropping it gives up its place in line; permits set aside for it go to
/// the next waiter.
/// # Examples
///
/// ```
/// use std::future::Future;
///
/// let pool = herd::sync::Semaphore::new(2);
/// let one = pool.try_acquire().unwrap();
/// let mut two = pool.acquire_many(2);
/// let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// assert!(std::pin::Pin::new(&mut two).poll(&mut cx).is_pending());
/// drop(two); // the free permit it had set aside comes back
/// assert_eq!(pool.available_permits(), 1);
/// drop(one);
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct AcquireFuture<'a> {
    semaphore: &'a Semaphore,
    acquire: Acquire<&'a Permits>,
}

impl<'a> Future for AcquireFuture<'a> {
    type Output = Result<Permit<'a>, AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let n = this.acquire.wanted();
        Pin::new(&mut this.acquire)
            .poll(cx)
            .map_ok(|_| Permit::new(this.semaphore, n))
    }
}

impl fmt::Debug for AcquireFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireFuture").finish_non_exhaustive()
    }
}

struct Owner(Arc<Semaphore>);

impl Holder for Owner {
    const OWNED: bool = true;

    fn permits(&self) -> &Permits {
        &self.0.permits
    }
}

/// The future of [`Semaphore::acquire_owned`] and
/// [`Semaphore::acquire_many_owned`].
///
/// # Cancel safety
///
/// As [`AcquireFuture`].
/// # Examples
///
/// ```
/// use std::future::Future;
///
/// use std::sync::Arc;
///
/// let pool = Arc::new(herd::sync::Semaphore::new(1));
/// let held = pool.try_acquire().unwrap();
/// let mut owned = pool.clone().acquire_owned();
/// let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// assert!(std::pin::Pin::new(&mut owned).poll(&mut cx).is_pending());
/// drop(held);
/// assert!(std::pin::Pin::new(&mut owned).poll(&mut cx).is_ready());
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct AcquireOwnedFuture {
    acquire: Acquire<Owner>,
}

impl Future for AcquireOwnedFuture {
    type Output = Result<OwnedPermit, AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let count = this.acquire.wanted();
        Pin::new(&mut this.acquire)
            .poll(cx)
            .map_ok(|Owner(semaphore)| OwnedPermit { semaphore, count })
    }
}

impl fmt::Debug for AcquireOwnedFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireOwnedFuture").finish_non_exhaustive()
    }
}
