//! `RateLimiter`: one GCRA cell, with first-in first-out waiting by
//! reservation.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::gcra::{Denied, Gcra, HandBack, Origin, denial};
use super::{Quota, RateError};
use crate::sync::Semaphore;

/// A rate limiter: at most a [`Quota`] of cells per period, with a burst.
///
/// The state is one atomic word (the generic cell rate algorithm), so a
/// [`check`](RateLimiter::check) is one read and, when granted, one
/// compare-and-swap; a refusal writes nothing and says how long to wait.
///
/// Waiting ([`acquire`](RateLimiter::acquire)) is first-in first-out and by
/// reservation: the waiter at the head of the line reserves its slot with
/// one atomic step and sleeps once, until that slot; the others wait in
/// line without timers or polling. A waiter cancelled while it sleeps
/// hands its slot back, so the next one gets it.
///
/// Clones share one state. Time is tokio's, so on the paused test clock
/// the limiter is exact.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use herd::limit::{Quota, RateLimiter};
///
/// let limit = RateLimiter::new(Quota::per_second(100).burst(10));
/// let start = tokio::time::Instant::now();
/// for _ in 0..10_000 {
///     limit.acquire().await.unwrap();
/// }
/// // 10 at once, then 9,990 at 10 ms apart.
/// assert_eq!(start.elapsed(), Duration::from_millis(99_900));
/// # }
/// ```
#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    gcra: Gcra,
    origin: Origin,
    /// The line of waiters: whoever holds its one permit is the head,
    /// reserving and sleeping for its slot.
    turnstile: Semaphore,
}

impl RateLimiter {
    /// A limiter granting `quota`, with a full bucket.
    ///
    /// # Examples
    ///
    /// ```
    /// use herd::limit::{Quota, RateLimiter};
    ///
    /// let limit = RateLimiter::new(Quota::per_second(3));
    /// assert_eq!(limit.available(), 3);
    /// ```
    pub fn new(quota: Quota) -> RateLimiter {
        RateLimiter::build(None, quota)
    }

    /// A limiter with a name, which diagnostics show for its waiters.
    ///
    /// # Examples
    ///
    /// ```
    /// let limit = herd::limit::RateLimiter::named("github", herd::limit::Quota::per_hour(5000));
    /// assert_eq!(limit.name(), Some("github"));
    /// ```
    pub fn named(name: impl Into<Arc<str>>, quota: Quota) -> RateLimiter {
        RateLimiter::build(Some(name.into()), quota)
    }

    fn build(name: Option<Arc<str>>, quota: Quota) -> RateLimiter {
        let turnstile = match name {
            Some(name) => Semaphore::named(name, 1),
            None => Semaphore::new(1),
        };
        RateLimiter {
            inner: Arc::new(Inner {
                gcra: Gcra::new(quota),
                origin: Origin::now(),
                turnstile,
            }),
        }
    }

    /// The limiter's name, if it was given one.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::limit::RateLimiter::new(herd::limit::Quota::per_second(1)).name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.inner.turnstile.resource().name()
    }

    /// Takes one cell if one is free now; never waits.
    ///
    /// # Errors
    ///
    /// [`RateError::Limited`] with how long until a cell is free.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let limit = herd::limit::RateLimiter::new(herd::limit::Quota::per_second(1));
    /// assert!(limit.check().is_ok());
    /// assert!(limit.check().is_err(), "the burst of 1 is spent");
    /// tokio::time::advance(std::time::Duration::from_secs(1)).await;
    /// assert!(limit.check().is_ok());
    /// # }
    /// ```
    pub fn check(&self) -> Result<(), RateError> {
        self.check_n(1)
    }

    /// Takes `cost` cells at once if they are free now; never waits.
    ///
    /// # Errors
    ///
    /// [`RateError::Limited`] with how long until they are free, or
    /// [`RateError::TooCostly`] if `cost` is more than the burst.
    ///
    /// # Examples
    ///
    /// ```
    /// use herd::limit::{Quota, RateError, RateLimiter};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let limit = RateLimiter::new(Quota::per_second(10));
    /// assert!(limit.check_n(6).is_ok());
    /// assert!(limit.check_n(6).is_err(), "only 4 left");
    /// assert_eq!(limit.check_n(11), Err(RateError::TooCostly { cost: 11, burst: 10 }));
    /// # }
    /// ```
    pub fn check_n(&self, cost: u32) -> Result<(), RateError> {
        let now = self.inner.origin.elapsed();
        self.inner
            .gcra
            .cell()
            .check(cost, now)
            .map_err(|denied| self.error(denied, cost))
    }

    /// As [`check_n`](RateLimiter::check_n), at a time the caller read:
    /// for callers that already hold the time, or decide for a moment
    /// other than now.
    ///
    /// # Errors
    ///
    /// As [`check_n`](RateLimiter::check_n).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tokio::time::Instant;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let limit = herd::limit::RateLimiter::new(herd::limit::Quota::per_second(1));
    /// let now = Instant::now();
    /// assert!(limit.check_at(1, now).is_ok());
    /// assert!(limit.check_at(1, now + Duration::from_secs(1)).is_ok());
    /// # }
    /// ```
    pub fn check_at(&self, cost: u32, at: Instant) -> Result<(), RateError> {
        let at = self.inner.origin.nanos(at);
        self.inner
            .gcra
            .cell()
            .check(cost, at)
            .map_err(|denied| self.error(denied, cost))
    }

    /// Waits for one cell, first in first out.
    ///
    /// # Errors
    ///
    /// None with a quota of at least one cell per burst; the `Result` is
    /// for [`acquire_n`](RateLimiter::acquire_n)'s sake.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future gives up its place in line, and hands back the
    /// slot it reserved, if it had reached the head.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let limit = herd::limit::RateLimiter::new(herd::limit::Quota::per_second(2).burst(1));
    /// let start = tokio::time::Instant::now();
    /// limit.acquire().await.unwrap();
    /// limit.acquire().await.unwrap();
    /// assert_eq!(start.elapsed().as_millis(), 500);
    /// # }
    /// ```
    pub async fn acquire(&self) -> Result<(), RateError> {
        self.acquire_n(1).await
    }

    /// Waits for `cost` cells at once, first in first out.
    ///
    /// # Errors
    ///
    /// [`RateError::TooCostly`] at once if `cost` is more than the burst.
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](RateLimiter::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// // A budget of 100 bytes a second, spent by size.
    /// let limit = herd::limit::RateLimiter::new(herd::limit::Quota::per_second(100));
    /// let start = tokio::time::Instant::now();
    /// limit.acquire_n(100).await.unwrap();
    /// limit.acquire_n(50).await.unwrap();
    /// assert_eq!(start.elapsed().as_millis(), 500);
    /// # }
    /// ```
    pub async fn acquire_n(&self, cost: u32) -> Result<(), RateError> {
        self.wait_for(cost, None).await
    }

    /// Waits up to `timeout` for `cost` cells. A request whose slot would
    /// come after the timeout is refused at once, without waiting and
    /// without reserving anything.
    ///
    /// # Errors
    ///
    /// [`RateError::Limited`] with how long the request would have had to
    /// wait (at least), or [`RateError::TooCostly`].
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](RateLimiter::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    ///
    /// let limit = herd::limit::RateLimiter::new(herd::limit::Quota::per_second(1));
    /// limit.acquire().await.unwrap();
    /// let err = limit.acquire_timeout(1, Duration::from_millis(100)).await.unwrap_err();
    /// assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
    /// assert!(limit.acquire_timeout(1, Duration::from_secs(2)).await.is_ok());
    /// # }
    /// ```
    pub async fn acquire_timeout(&self, cost: u32, timeout: Duration) -> Result<(), RateError> {
        self.wait_for(cost, Some(timeout)).await
    }

    async fn wait_for(&self, cost: u32, timeout: Option<Duration>) -> Result<(), RateError> {
        let inner = &*self.inner;
        let start = inner.origin.elapsed();
        // Nobody in line: take the cells now if they are free.
        if inner.turnstile.available_permits() > 0 {
            match inner.gcra.cell().check(cost, start) {
                Ok(()) => return Ok(()),
                Err(Denied::TooCostly) => return Err(self.error(Denied::TooCostly, cost)),
                Err(Denied::Wait(_)) => {}
            }
        }
        let turn = match timeout {
            None => inner.turnstile.acquire().await,
            Some(timeout) => inner.turnstile.acquire_timeout(timeout).await,
        };
        let Ok(_turn) = turn else {
            // Timed out in line: say how long a request would wait now.
            let now = inner.origin.elapsed();
            let wait = inner
                .gcra
                .cell()
                .wait(cost, now)
                .map_err(|d| self.error(d, cost))?;
            return Err(self.error(Denied::Wait(wait), cost));
        };
        // Reserve as of arrival: the slot follows the ones before it in
        // line, however late this task woke.
        let budget = timeout.map_or(u64::MAX, |timeout| {
            timeout.as_nanos().min(u128::from(u64::MAX)) as u64
        });
        let reserved = inner
            .gcra
            .cell()
            .reserve(cost, start, budget)
            .map_err(|denied| self.error(denied, cost))?;
        let slot = inner.origin.instant(reserved.slot);
        if slot > Instant::now() {
            let reservation = HandBack {
                cell: inner.gcra.cell(),
                reserved,
                slot,
            };
            tokio::time::sleep_until(slot).await;
            std::mem::forget(reservation);
        }
        Ok(())
    }

    /// Waits on this thread for `cost` cells, first in first out with the
    /// async waiters. For threads, not async code.
    ///
    /// # Errors
    ///
    /// [`RateError::TooCostly`] if `cost` is more than the burst.
    ///
    /// # Examples
    ///
    /// ```
    /// let limit = herd::limit::RateLimiter::new(herd::limit::Quota::per_second(1000).burst(1));
    /// let start = std::time::Instant::now();
    /// for _ in 0..3 {
    ///     limit.acquire_blocking(1).unwrap();
    /// }
    /// assert!(start.elapsed() >= std::time::Duration::from_millis(2));
    /// ```
    pub fn acquire_blocking(&self, cost: u32) -> Result<(), RateError> {
        let inner = &*self.inner;
        let start = inner.origin.elapsed();
        let _turn = inner
            .turnstile
            .acquire_blocking()
            .expect("a limiter's line is never closed");
        let reserved = inner
            .gcra
            .cell()
            .reserve(cost, start, u64::MAX)
            .map_err(|denied| self.error(denied, cost))?;
        let slot = inner.origin.instant(reserved.slot);
        let left = slot.saturating_duration_since(Instant::now());
        if !left.is_zero() {
            std::thread::sleep(left);
        }
        Ok(())
    }

    /// Changes the quota from now on. Cells already granted count against
    /// the new burst (the debt is kept, counted in cells), so a change never
    /// grants a fresh burst by itself; the new rate applies at once.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use herd::limit::{Quota, RateLimiter};
    ///
    /// let limit = RateLimiter::new(Quota::per_second(10));
    /// for _ in 0..10 {
    ///     limit.check().unwrap();
    /// }
    /// limit.set_quota(Quota::per_second(20));
    /// assert_eq!(limit.available(), 10, "the ten taken count against the new burst of 20");
    /// assert_eq!(limit.quota(), Quota::per_second(20));
    /// # }
    /// ```
    pub fn set_quota(&self, quota: Quota) {
        self.inner.gcra.set(quota, self.inner.origin.elapsed());
    }

    /// The quota in force.
    ///
    /// # Examples
    ///
    /// ```
    /// use herd::limit::{Quota, RateLimiter};
    ///
    /// assert_eq!(RateLimiter::new(Quota::per_minute(5)).quota(), Quota::per_minute(5));
    /// ```
    pub fn quota(&self) -> Quota {
        self.inner.gcra.quota()
    }

    /// Cells that could be taken now without waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let limit = herd::limit::RateLimiter::new(herd::limit::Quota::per_second(5));
    /// limit.check_n(2).unwrap();
    /// assert_eq!(limit.available(), 3);
    /// # }
    /// ```
    pub fn available(&self) -> u64 {
        self.inner
            .gcra
            .cell()
            .available(self.inner.origin.elapsed())
    }

    fn error(&self, denied: Denied, cost: u32) -> RateError {
        denial(denied, cost, self.quota())
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("name", &self.name())
            .field("quota", &self.quota())
            .field("available", &self.available())
            .finish()
    }
}
