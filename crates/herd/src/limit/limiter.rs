//! `Limiter`: a rate limit and a concurrency limit taken together, in the
//! order that keeps one from starving the other.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{Quota, RateError, RateLimiter};
use crate::sync::{AcquireError, OwnedPermit, Semaphore};

/// A rate limit and a concurrency limit as one: [`acquire`](Limiter::acquire)
/// waits for the rate first and only then takes a concurrency permit, so
/// callers waiting for their turn in the rate never hold a concurrency slot
/// (the mistake of taking the semaphore first and sleeping inside it, which
/// leaves slots idle while work queues).
///
/// The rate is spent when a caller starts waiting for a slot, not when it
/// gets one: while the concurrency limit is what holds callers back, several
/// can be waiting for slots at once and start closer together than the
/// rate's interval when slots free up together. Over any stretch the count
/// still keeps to the quota (each start spent one unit of rate), but a server
/// that polices the spacing of single requests may see bursts up to the
/// concurrency limit. Where the spacing itself must hold, acquire the rate
/// again after the slot (a [`RateLimiter`] of its own, burst 1), at the cost
/// of holding the slot while waiting.
///
/// The concurrency part is a herd [`Semaphore`], so it can be resized
/// while in use ([`Semaphore::add_permits`], [`Semaphore::forget_permits`]).
/// Either part may be left out. Clones share both.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use herd::limit::{Limiter, Quota};
///
/// // At most 10 requests a second, and at most 3 in flight.
/// let limit = Limiter::new().rate(Quota::per_second(10)).concurrency(3);
/// let first = limit.acquire().await.unwrap();
/// let second = limit.acquire().await.unwrap();
/// let third = limit.acquire().await.unwrap();
/// assert!(limit.try_acquire().is_err(), "three in flight");
/// drop((first, second, third));
/// assert!(limit.try_acquire().is_ok());
/// # }
/// ```
#[derive(Clone, Default)]
pub struct Limiter {
    rate: Option<RateLimiter>,
    /// A rate limit of another kind (shared between machines), after the
    /// local one.
    shared: Option<Arc<dyn RateLimit>>,
    concurrency: Option<Arc<Semaphore>>,
}

/// A rate limit a [`Limiter`] can compose: herd's own [`RateLimiter`], or
/// one shared between machines (`herd::dist`'s Redis limiter, feature
/// `redis`). One method: take `cost` by `deadline` (none: wait as long as
/// it takes), or say why not.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::future::Future;
/// use std::pin::Pin;
/// use herd::limit::{Limiter, Quota, RateError, RateLimit, RateLimiter};
///
/// // A rate limit that refuses everything, for a test.
/// struct Never;
/// impl RateLimit for Never {
///     fn acquire_until(
///         &self,
///         _cost: u32,
///         _deadline: Option<tokio::time::Instant>,
///     ) -> Pin<Box<dyn Future<Output = Result<(), RateError>> + Send + '_>> {
///         Box::pin(async { Err(RateError::Unavailable { reason: "never" }) })
///     }
/// }
/// let limit = Limiter::new().rate_from(Never).concurrency(2);
/// assert!(limit.acquire().await.is_err());
/// // herd's own limiter is one too.
/// let local = RateLimiter::new(Quota::per_second(5));
/// assert!(local.acquire_until(1, None).await.is_ok());
/// # }
/// ```
pub trait RateLimit: Send + Sync + 'static {
    /// Takes `cost` from the limit, waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// [`RateError::Limited`] if it could not be granted by the deadline
    /// (with how long it would have taken), [`RateError::TooCostly`], or
    /// [`RateError::Unavailable`] for a shared limit whose store failed.
    fn acquire_until(
        &self,
        cost: u32,
        deadline: Option<Instant>,
    ) -> Pin<Box<dyn Future<Output = Result<(), RateError>> + Send + '_>>;
}

impl RateLimit for RateLimiter {
    fn acquire_until(
        &self,
        cost: u32,
        deadline: Option<Instant>,
    ) -> Pin<Box<dyn Future<Output = Result<(), RateError>> + Send + '_>> {
        Box::pin(async move {
            match deadline {
                None => self.acquire_n(cost).await,
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    self.acquire_timeout(cost, left).await
                }
            }
        })
    }
}

/// Leave to go ahead, from a [`Limiter`]: holds the concurrency permit, if
/// the limiter has a concurrency limit, until dropped.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let limit = herd::limit::Limiter::new().concurrency(1);
/// let pass = limit.acquire().await.unwrap();
/// assert!(limit.try_acquire().is_err());
/// drop(pass);
/// assert!(limit.try_acquire().is_ok());
/// # }
/// ```
#[must_use = "the concurrency permit is released as soon as the pass is dropped"]
#[derive(Debug)]
pub struct Pass {
    _permit: Option<OwnedPermit>,
}

/// Why a [`Limiter`] did not let a caller through.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use herd::limit::{LimitError, Limiter, Quota};
///
/// let limit = Limiter::new().rate(Quota::per_second(1));
/// let _pass = limit.try_acquire().unwrap();
/// let err = limit.try_acquire().unwrap_err();
/// assert!(matches!(err, LimitError::Rate(_)));
/// assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(1)));
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitError {
    /// The rate limit refused (or, for a timeout form, would not have
    /// granted within the timeout).
    Rate(RateError),
    /// Every concurrency permit is in use (`try_acquire`), or none came
    /// free within the timeout, or the semaphore was closed.
    Concurrency(AcquireError),
}

impl LimitError {
    /// How long until the rate would allow the request, when the rate
    /// refused.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let limit = herd::limit::Limiter::new().concurrency(1);
    /// let _pass = limit.acquire().await.unwrap();
    /// assert_eq!(limit.try_acquire().unwrap_err().retry_after(), None);
    /// # }
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            LimitError::Rate(error) => error.retry_after(),
            LimitError::Concurrency(_) => None,
        }
    }
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitError::Rate(error) => error.fmt(f),
            LimitError::Concurrency(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for LimitError {}

impl Limiter {
    /// A limiter with no limits yet; add them with
    /// [`rate`](Limiter::rate) and [`concurrency`](Limiter::concurrency).
    ///
    /// # Examples
    ///
    /// ```
    /// let open = herd::limit::Limiter::new();
    /// assert!(open.try_acquire().is_ok());
    /// ```
    pub fn new() -> Limiter {
        Limiter::default()
    }

    /// Adds a rate limit of `quota`.
    ///
    /// # Examples
    ///
    /// ```
    /// let limit = herd::limit::Limiter::new().rate(herd::limit::Quota::per_second(5));
    /// assert!(limit.rate_limiter().is_some());
    /// ```
    pub fn rate(self, quota: Quota) -> Limiter {
        self.rate_limiter_from(RateLimiter::new(quota))
    }

    /// Uses `limiter` (shared with its other clones) as the rate limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use herd::limit::{Limiter, Quota, RateLimiter};
    ///
    /// let shared = RateLimiter::new(Quota::per_second(5));
    /// let a = Limiter::new().rate_limiter_from(shared.clone()).concurrency(2);
    /// let b = Limiter::new().rate_limiter_from(shared).concurrency(8);
    /// # drop((a, b));
    /// ```
    pub fn rate_limiter_from(mut self, limiter: RateLimiter) -> Limiter {
        self.rate = Some(limiter);
        self
    }

    /// Adds a rate limit of another kind, asked after the local one and
    /// before the concurrency permit: typically one shared between
    /// machines, so that every machine's calls count against one quota.
    /// [`try_acquire`](Limiter::try_acquire) cannot ask it (it answers over
    /// the network) and refuses with [`RateError::Unavailable`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use herd::limit::{Limiter, Quota, RateLimiter};
    ///
    /// // Any RateLimit; here herd's own, standing in for a shared one.
    /// let limit = Limiter::new()
    ///     .rate_from(RateLimiter::new(Quota::per_second(10).burst(1)))
    ///     .concurrency(4);
    /// let start = tokio::time::Instant::now();
    /// for _ in 0..3 {
    ///     drop(limit.acquire().await.unwrap());
    /// }
    /// assert_eq!(start.elapsed(), std::time::Duration::from_millis(200));
    /// # }
    /// ```
    pub fn rate_from(mut self, limit: impl RateLimit) -> Limiter {
        self.shared = Some(Arc::new(limit));
        self
    }

    /// Adds a concurrency limit of `limit` in flight at once.
    ///
    /// # Panics
    ///
    /// If `limit` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// let limit = herd::limit::Limiter::new().concurrency(4);
    /// assert_eq!(limit.semaphore().unwrap().capacity(), 4);
    /// ```
    pub fn concurrency(self, limit: usize) -> Limiter {
        assert!(
            limit > 0,
            "Limiter: the concurrency limit must be at least 1, got 0"
        );
        self.semaphore_from(Arc::new(Semaphore::new(limit)))
    }

    /// Uses `semaphore` (shared, resizable) as the concurrency limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let slots = Arc::new(herd::sync::Semaphore::new(2));
    /// let limit = herd::limit::Limiter::new().semaphore_from(slots.clone());
    /// slots.add_permits(1);
    /// assert_eq!(limit.semaphore().unwrap().capacity(), 3);
    /// ```
    pub fn semaphore_from(mut self, semaphore: Arc<Semaphore>) -> Limiter {
        self.concurrency = Some(semaphore);
        self
    }

    /// The rate limit, if there is one.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(herd::limit::Limiter::new().rate_limiter().is_none());
    /// ```
    pub fn rate_limiter(&self) -> Option<&RateLimiter> {
        self.rate.as_ref()
    }

    /// The concurrency limit, if there is one.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(herd::limit::Limiter::new().semaphore().is_none());
    /// ```
    pub fn semaphore(&self) -> Option<&Arc<Semaphore>> {
        self.concurrency.as_ref()
    }

    /// Waits for the rate, then for a concurrency permit.
    ///
    /// # Errors
    ///
    /// [`LimitError::Concurrency`] if the semaphore was closed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future while it waits for the rate hands its reserved
    /// slot back; while it waits for a permit, it leaves the line. (A slot
    /// of the rate already granted is spent.)
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use herd::limit::{Limiter, Quota};
    ///
    /// let limit = Limiter::new().rate(Quota::per_second(2).burst(1)).concurrency(10);
    /// let start = tokio::time::Instant::now();
    /// let _a = limit.acquire().await.unwrap();
    /// let _b = limit.acquire().await.unwrap();
    /// assert_eq!(start.elapsed().as_millis(), 500);
    /// # }
    /// ```
    pub async fn acquire(&self) -> Result<Pass, LimitError> {
        if let Some(rate) = &self.rate {
            rate.acquire().await.map_err(LimitError::Rate)?;
        }
        if let Some(shared) = &self.shared {
            shared
                .acquire_until(1, None)
                .await
                .map_err(LimitError::Rate)?;
        }
        let permit = match &self.concurrency {
            Some(semaphore) => Some(
                semaphore
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(LimitError::Concurrency)?,
            ),
            None => None,
        };
        Ok(Pass { _permit: permit })
    }

    /// As [`acquire`](Limiter::acquire), giving up after `timeout` in all.
    ///
    /// # Errors
    ///
    /// [`LimitError::Rate`] if the rate would not grant within the timeout
    /// (nothing is reserved), [`LimitError::Concurrency`] if no permit came
    /// free in the time left.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    ///
    /// let limit = herd::limit::Limiter::new().concurrency(1);
    /// let _held = limit.acquire().await.unwrap();
    /// let err = limit.acquire_timeout(Duration::from_millis(50)).await.unwrap_err();
    /// assert_eq!(err.to_string(), "timed out after 50ms waiting for a Semaphore");
    /// # }
    /// ```
    pub async fn acquire_timeout(&self, timeout: Duration) -> Result<Pass, LimitError> {
        // A timeout too long to add to the clock is no timeout.
        let deadline = Instant::now().checked_add(timeout);
        if let Some(rate) = &self.rate {
            rate.acquire_timeout(1, timeout)
                .await
                .map_err(LimitError::Rate)?;
        }
        if let Some(shared) = &self.shared {
            shared
                .acquire_until(1, deadline)
                .await
                .map_err(LimitError::Rate)?;
        }
        let permit = match &self.concurrency {
            Some(semaphore) => {
                let left = deadline.map_or(Duration::MAX, |deadline| {
                    deadline.saturating_duration_since(Instant::now())
                });
                match tokio::time::timeout(left, semaphore.clone().acquire_owned()).await {
                    Ok(permit) => Some(permit.map_err(LimitError::Concurrency)?),
                    Err(_) => {
                        return Err(LimitError::Concurrency(AcquireError::TimedOut {
                            resource: semaphore.resource().clone(),
                            waited: timeout,
                        }));
                    }
                }
            }
            None => None,
        };
        Ok(Pass { _permit: permit })
    }

    /// Goes ahead only if both limits allow it now: the concurrency permit
    /// is taken first (it can be given back), then the rate is checked.
    ///
    /// # Errors
    ///
    /// [`LimitError::Concurrency`] when every permit is in use,
    /// [`LimitError::Rate`] with the wait when the rate refuses.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use herd::limit::{Limiter, Quota};
    ///
    /// let limit = Limiter::new().rate(Quota::per_second(1)).concurrency(1);
    /// let pass = limit.try_acquire().unwrap();
    /// drop(pass);
    /// assert!(limit.try_acquire().unwrap_err().retry_after().is_some(), "the rate refuses");
    /// assert_eq!(limit.semaphore().unwrap().available_permits(), 1, "the permit came back");
    /// # }
    /// ```
    pub fn try_acquire(&self) -> Result<Pass, LimitError> {
        let permit = match &self.concurrency {
            Some(semaphore) => Some(
                semaphore
                    .clone()
                    .try_acquire_owned()
                    .map_err(LimitError::Concurrency)?,
            ),
            None => None,
        };
        if let Some(rate) = &self.rate {
            rate.check().map_err(LimitError::Rate)?;
        }
        if self.shared.is_some() {
            // A shared limit answers over the network: only `acquire`
            // can ask it, and passing it by unasked would break it.
            return Err(LimitError::Rate(RateError::Unavailable {
                reason: "a shared rate limit is asked by acquire, not try_acquire",
            }));
        }
        Ok(Pass { _permit: permit })
    }
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiter")
            .field("rate", &self.rate)
            .field("shared", &self.shared.is_some())
            .field(
                "concurrency",
                &self.concurrency.as_ref().map(|s| s.capacity()),
            )
            .finish()
    }
}
