//! Rate and concurrency limits: how often, and how many at once.
//!
//! | you need | use |
//! | --- | --- |
//! | at most N requests per period, with a burst, waiting or refusing | [`RateLimiter`] (GCRA: one atomic word, first-in first-out waiting by reservation) |
//! | the same, per host, per user or per API key, with bounded memory | [`KeyedRateLimiter`] |
//! | at most N at once, resizable | [`sync::Semaphore`](crate::sync::Semaphore) |
//! | at most as many at once as the other side can take, found from latency and 429/503 answers | [`AdaptiveLimit`] (AIMD or Gradient2) |
//! | a rate and a concurrency limit together, without the rate wait eating the concurrency budget | [`Limiter`] |
//!
//! Every limiter reads tokio's clock, so on the paused test clock it is
//! exact; every wait is cancel-safe (a cancelled waiter hands its
//! reservation back to the next one) and comes with a timeout form; every
//! refusal says how long to wait, so a server can answer `Retry-After`.
//! Handles are cheap clones of one shared state.
//!
//! When to use something else: to smooth work already queued, a
//! [`WorkerPool`](crate::pool::WorkerPool) bounds concurrency by itself; to
//! share one limit between machines, `herd::dist`'s Redis limiter (feature
//! `redis`), which a [`Limiter`] composes like a local one ([`RateLimit`]).
//!
//! # Examples
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::time::Duration;
//! use herd::limit::{Quota, RateLimiter};
//!
//! // 10 a second, at most 2 at once after a pause.
//! let limit = RateLimiter::new(Quota::per_second(10).burst(2));
//! let start = tokio::time::Instant::now();
//! for _ in 0..12 {
//!     limit.acquire().await.unwrap();
//! }
//! // 2 at once, then one every 100 ms.
//! assert_eq!(start.elapsed(), Duration::from_secs(1));
//! # }
//! ```

mod adaptive;
mod gcra;
mod keyed;
mod limiter;
mod rate;

#[cfg(all(test, loom))]
mod loom_tests;

use std::fmt;
use std::time::Duration;

pub use adaptive::{AdaptiveLimit, AdaptiveLimitBuilder, Admitted, Algorithm};
pub use keyed::{KeyedRateLimiter, KeyedRateLimiterBuilder};
pub use limiter::{LimitError, Limiter, Pass, RateLimit};
pub use rate::RateLimiter;

/// How much a rate limiter lets through: `count` cells per `period`,
/// evenly spaced, and up to `burst` at once after a quiet spell.
///
/// The burst defaults to the count, so `per_second(100)` lets 100 through
/// at once after a second of quiet, then one every 10 ms; `.burst(1)`
/// spaces every request evenly.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use herd::limit::Quota;
///
/// let quota = Quota::per_second(50).burst(5);
/// assert_eq!(quota.interval(), Duration::from_millis(20));
/// assert_eq!((quota.count(), quota.burst_size()), (50, 5));
/// assert_eq!(Quota::new(3, Duration::from_secs(60)), Quota::per_minute(3));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Quota {
    count: u32,
    period: Duration,
    burst: u32,
}

impl Quota {
    /// `count` cells per `period`, with a burst of `count`.
    ///
    /// # Panics
    ///
    /// If `count` is zero, `period` is shorter than `count` nanoseconds (no
    /// cell could be spaced), or `period` is more than 290 years.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let quota = herd::limit::Quota::new(4, Duration::from_secs(2));
    /// assert_eq!(quota.interval(), Duration::from_millis(500));
    /// ```
    pub fn new(count: u32, period: Duration) -> Quota {
        assert!(count > 0, "Quota: the count must be at least 1, got 0");
        assert!(
            period.as_nanos() >= u128::from(count),
            "Quota: a period of {period:?} cannot hold {count} cells"
        );
        Quota {
            count,
            period,
            burst: 1,
        }
        .burst(count)
    }

    /// `count` a second.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::limit::Quota::per_second(4).interval().as_millis(), 250);
    /// ```
    pub fn per_second(count: u32) -> Quota {
        Quota::new(count, Duration::from_secs(1))
    }

    /// `count` a minute.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::limit::Quota::per_minute(60).interval().as_secs(), 1);
    /// ```
    pub fn per_minute(count: u32) -> Quota {
        Quota::new(count, Duration::from_secs(60))
    }

    /// `count` an hour.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::limit::Quota::per_hour(3600).interval().as_secs(), 1);
    /// ```
    pub fn per_hour(count: u32) -> Quota {
        Quota::new(count, Duration::from_secs(3600))
    }

    /// Sets how many cells may go at once after a quiet spell.
    ///
    /// # Panics
    ///
    /// If `burst` is zero, or the burst spans more than 290 years of the
    /// rate.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::limit::Quota::per_second(10).burst(1).burst_size(), 1);
    /// ```
    pub fn burst(mut self, burst: u32) -> Quota {
        assert!(burst > 0, "Quota: the burst must be at least 1, got 0");
        // The algorithm counts in nanoseconds in a u64: about 584 years.
        assert!(
            u128::from(self.interval_nanos()) * u128::from(burst) < u128::from(u64::MAX / 2),
            "Quota: a burst of {burst} at one per {:?} spans more than 290 years",
            self.interval()
        );
        self.burst = burst;
        self
    }

    /// The cells per period.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::limit::Quota::per_second(7).count(), 7);
    /// ```
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The period.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::limit::Quota::per_minute(1).period().as_secs(), 60);
    /// ```
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The burst: cells that may go at once.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::limit::Quota::per_second(7).burst_size(), 7);
    /// ```
    pub fn burst_size(&self) -> u32 {
        self.burst
    }

    /// The time between two cells at the steady rate.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::limit::Quota::per_second(1000).interval().as_micros(), 1000);
    /// ```
    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.interval_nanos())
    }

    fn interval_nanos(&self) -> u64 {
        (self.period.as_nanos() / u128::from(self.count)).min(u128::from(u64::MAX)) as u64
    }

    /// The algorithm's parameters: the emission interval and the tolerance
    /// (burst times interval), in nanoseconds.
    fn gcra(&self) -> (u64, u64) {
        let interval = self.interval_nanos();
        (interval, interval.saturating_mul(u64::from(self.burst)))
    }
}

/// Why a rate limiter did not grant a request.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use herd::limit::{Quota, RateError, RateLimiter};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let limit = RateLimiter::new(Quota::per_second(2).burst(1));
/// limit.check().unwrap();
/// let err = limit.check().unwrap_err();
/// assert_eq!(err, RateError::Limited { retry_after: Duration::from_millis(500) });
/// assert_eq!(err.retry_after(), Some(Duration::from_millis(500)));
/// assert_eq!(err.to_string(), "rate limited: retry after 500ms");
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RateError {
    /// Not now: the same request is granted after `retry_after` (if nothing
    /// else takes the capacity first). A server can send it as
    /// `Retry-After`.
    Limited {
        /// How long until the request would conform.
        retry_after: Duration,
    },
    /// The request costs more than the burst, so it can never be granted.
    TooCostly {
        /// What was asked for.
        cost: u32,
        /// The most one request may cost.
        burst: u32,
    },
    /// A shared limit's store (Redis) did not answer in time or failed,
    /// and its limiter was told to fail closed: refused, with why.
    Unavailable {
        /// Why, in a few words (the store's own error is logged).
        reason: &'static str,
    },
}

impl RateError {
    /// How long to wait before trying again, if waiting can help.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = herd::limit::RateError::TooCostly { cost: 20, burst: 10 };
    /// assert_eq!(err.retry_after(), None);
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            RateError::Limited { retry_after } => Some(*retry_after),
            RateError::TooCostly { .. } | RateError::Unavailable { .. } => None,
        }
    }
}

impl fmt::Display for RateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateError::Limited { retry_after } => {
                write!(f, "rate limited: retry after {retry_after:?}")
            }
            RateError::TooCostly { cost, burst } => write!(
                f,
                "a cost of {cost} is more than the burst of {burst}: it can never be granted"
            ),
            RateError::Unavailable { reason } => {
                write!(f, "the shared rate limit is unavailable: {reason}")
            }
        }
    }
}

impl std::error::Error for RateError {}
