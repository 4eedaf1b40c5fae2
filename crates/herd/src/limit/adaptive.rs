//! `AdaptiveLimit`: a concurrency limit that finds the capacity of what it
//! protects from latency and overload signals (AIMD, Gradient2).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::loom::{Mutex, lock};
use crate::sync::{AcquireError, OwnedPermit, Semaphore};

/// How an [`AdaptiveLimit`] moves its limit.
///
/// # Examples
///
/// ```
/// use herd::limit::Algorithm;
///
/// let aimd = Algorithm::aimd();
/// let gradient = Algorithm::gradient2();
/// assert_ne!(aimd, gradient);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Algorithm {
    /// Additive increase, multiplicative decrease: +1 per limit's worth of
    /// successes (about one per round trip) while the limit is at least
    /// half used; × `backoff` on an overload signal (or a call slower than
    /// `timeout`), at most once per round trip.
    Aimd {
        /// The factor a drop multiplies the limit by (0.9).
        backoff: f64,
        /// Calls slower than this count as drops, if set.
        timeout: Option<Duration>,
    },
    /// Netflix's Gradient2: once per window of samples (at least 1 s and
    /// 10 calls), compares the window's average latency with a long-term
    /// average over `long_window` windows; the limit grows while they agree
    /// and shrinks as queueing makes calls slower. Overload signals
    /// multiply it by 0.9.
    Gradient2 {
        /// How much slower than the long-term latency calls may get before
        /// the limit shrinks (1.0: none beyond the `queue_size` headroom;
        /// Netflix uses 1.5, which lets a queueing server run at about one
        /// and a half times its capacity).
        tolerance: f64,
        /// The weight of a new estimate against the current limit (0.2).
        smoothing: f64,
        /// Windows in the long-term average (600).
        long_window: u32,
        /// Headroom added to the estimate, so the limit can grow (4).
        queue_size: usize,
    },
}

impl Algorithm {
    /// AIMD with a backoff of 0.9 and no timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(matches!(herd::limit::Algorithm::aimd(), herd::limit::Algorithm::Aimd { .. }));
    /// ```
    pub fn aimd() -> Algorithm {
        Algorithm::Aimd {
            backoff: 0.9,
            timeout: None,
        }
    }

    /// Gradient2 with a tolerance of 1.0 and Netflix's other defaults:
    /// smoothing 0.2, a long window of 600 windows, a queue of 4.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(matches!(herd::limit::Algorithm::gradient2(), herd::limit::Algorithm::Gradient2 { .. }));
    /// ```
    pub fn gradient2() -> Algorithm {
        Algorithm::Gradient2 {
            tolerance: 1.0,
            smoothing: 0.2,
            long_window: 600,
            queue_size: 4,
        }
    }
}

/// Configures an [`AdaptiveLimit`]; made by [`AdaptiveLimit::builder`].
///
/// # Examples
///
/// ```
/// use herd::limit::{AdaptiveLimit, Algorithm};
///
/// let limit = AdaptiveLimit::builder(Algorithm::gradient2()).min(2).max(200).initial(10).build();
/// assert_eq!(limit.limit(), 10);
/// ```
#[derive(Clone, Debug)]
pub struct AdaptiveLimitBuilder {
    algorithm: Algorithm,
    min: usize,
    max: usize,
    initial: usize,
}

impl AdaptiveLimitBuilder {
    /// The lowest the limit goes. Default: 1.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = herd::limit::AdaptiveLimit::builder(herd::limit::Algorithm::aimd()).min(4);
    /// # drop(builder);
    /// ```
    pub fn min(mut self, min: usize) -> Self {
        self.min = min.max(1);
        self
    }

    /// The highest the limit goes. Default: 1,000.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = herd::limit::AdaptiveLimit::builder(herd::limit::Algorithm::aimd()).max(64);
    /// # drop(builder);
    /// ```
    pub fn max(mut self, max: usize) -> Self {
        self.max = max;
        self
    }

    /// Where the limit starts. Default: 20 (start near a sane level: from 1,
    /// additive increase takes long to ramp up).
    ///
    /// # Examples
    ///
    /// ```
    /// let limit = herd::limit::AdaptiveLimit::builder(herd::limit::Algorithm::aimd()).initial(5).build();
    /// assert_eq!(limit.limit(), 5);
    /// ```
    pub fn initial(mut self, initial: usize) -> Self {
        self.initial = initial;
        self
    }

    /// Makes the limit.
    ///
    /// # Panics
    ///
    /// If `min` is above `max`.
    ///
    /// # Examples
    ///
    /// ```
    /// let limit = herd::limit::AdaptiveLimit::builder(herd::limit::Algorithm::aimd()).build();
    /// assert_eq!(limit.limit(), 20);
    /// ```
    pub fn build(self) -> AdaptiveLimit {
        assert!(
            self.min <= self.max,
            "AdaptiveLimit: min {} is above max {}",
            self.min,
            self.max
        );
        let initial = self.initial.clamp(self.min, self.max);
        AdaptiveLimit {
            inner: Arc::new(Inner {
                slots: Arc::new(Semaphore::new(initial)),
                state: Mutex::new(Estimate {
                    limit: initial as f64,
                    last_decrease: None,
                    long_rtt: None,
                    window: Window::default(),
                }),
                limit: AtomicUsize::new(initial),
                in_flight: AtomicUsize::new(0),
                latency: AtomicU64::new(0),
                algorithm: self.algorithm,
                min: self.min,
                max: self.max,
            }),
        }
    }
}

/// A concurrency limit that adapts: it lets calls through up to its current
/// limit, learns from each call's latency and outcome, and moves the limit
/// toward the capacity of what it protects, between a minimum and a
/// maximum.
///
/// Each admitted call holds an [`Admitted`] and reports how it went:
/// [`success`](Admitted::success) (its latency is measured from admission),
/// [`overloaded`](Admitted::overloaded) (a 429 or 503, a timeout, a rejected
/// connection), or nothing, by being dropped (a cancelled call says nothing
/// about the server). The limit lives in a herd [`Semaphore`] resized as it
/// moves (held permits are reclaimed as they come back), so waiting is first
/// in first out and cancel-safe. [`limit`](AdaptiveLimit::limit),
/// [`in_flight`](AdaptiveLimit::in_flight) and
/// [`latency`](AdaptiveLimit::latency) are gauges.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use herd::limit::{AdaptiveLimit, Algorithm};
///
/// let limit = AdaptiveLimit::builder(Algorithm::aimd()).initial(10).build();
/// let call = limit.acquire().await.unwrap();
/// call.overloaded(); // the server said 503
/// assert_eq!(limit.limit(), 9);
/// # }
/// ```
#[derive(Clone)]
pub struct AdaptiveLimit {
    inner: Arc<Inner>,
}

struct Inner {
    slots: Arc<Semaphore>,
    state: Mutex<Estimate>,
    limit: AtomicUsize,
    in_flight: AtomicUsize,
    /// The latest latency sample, in nanoseconds.
    latency: AtomicU64,
    algorithm: Algorithm,
    min: usize,
    max: usize,
}

struct Estimate {
    /// The limit as a real number; the semaphore holds its floor.
    limit: f64,
    /// When the limit last shrank for a drop: drops of calls admitted
    /// before then were caused by the old limit and are not counted again
    /// (at most one decrease per round trip, as in TCP).
    last_decrease: Option<Instant>,
    /// Gradient2's long-term latency average, in nanoseconds.
    long_rtt: Option<f64>,
    /// Gradient2's window of samples so far.
    window: Window,
}

/// Samples gathered for one Gradient2 update.
#[derive(Default)]
struct Window {
    started: Option<Instant>,
    calls: u32,
    rtt_sum: f64,
    max_in_flight: usize,
}

/// A Gradient2 window closes after this long and this many calls.
const WINDOW_TIME: Duration = Duration::from_secs(1);
const WINDOW_CALLS: u32 = 10;

/// One call admitted by an [`AdaptiveLimit`]; report its outcome, or drop
/// it to report nothing.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let limit = herd::limit::AdaptiveLimit::builder(herd::limit::Algorithm::aimd()).initial(1).build();
/// let call = limit.acquire().await.unwrap();
/// assert_eq!(limit.in_flight(), 1);
/// call.success();
/// assert_eq!(limit.in_flight(), 0);
/// # }
/// ```
#[must_use = "report the call with success() or overloaded(); dropping it reports nothing"]
pub struct Admitted {
    limit: AdaptiveLimit,
    started: Instant,
    in_flight: usize,
    _permit: OwnedPermit,
}

impl AdaptiveLimit {
    /// A builder for `algorithm`, with a minimum of 1, a maximum of 1,000
    /// and an initial limit of 20.
    ///
    /// # Examples
    ///
    /// ```
    /// let limit = herd::limit::AdaptiveLimit::builder(herd::limit::Algorithm::gradient2()).build();
    /// assert_eq!(limit.limit(), 20);
    /// ```
    pub fn builder(algorithm: Algorithm) -> AdaptiveLimitBuilder {
        AdaptiveLimitBuilder {
            algorithm,
            min: 1,
            max: 1000,
            initial: 20,
        }
    }

    /// Waits for room under the current limit.
    ///
    /// # Errors
    ///
    /// Only if the limit's semaphore was closed, which herd never does.
    ///
    /// # Cancel safety
    ///
    /// As [`Semaphore::acquire`]: a dropped wait leaves the line.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let limit = herd::limit::AdaptiveLimit::builder(herd::limit::Algorithm::aimd()).build();
    /// let call = limit.acquire().await.unwrap();
    /// call.success();
    /// # }
    /// ```
    pub async fn acquire(&self) -> Result<Admitted, AcquireError> {
        let permit = self.inner.slots.clone().acquire_owned().await?;
        Ok(self.admit(permit))
    }

    /// Goes ahead only if there is room now: the "reject" choice, for
    /// servers that shed load rather than queue it.
    ///
    /// # Errors
    ///
    /// [`AcquireError::WouldBlock`] at the limit.
    ///
    /// # Examples
    ///
    /// ```
    /// let limit = herd::limit::AdaptiveLimit::builder(herd::limit::Algorithm::aimd()).initial(1).build();
    /// let call = limit.try_acquire().unwrap();
    /// assert!(limit.try_acquire().is_err());
    /// drop(call);
    /// ```
    pub fn try_acquire(&self) -> Result<Admitted, AcquireError> {
        let permit = self.inner.slots.clone().try_acquire_owned()?;
        Ok(self.admit(permit))
    }

    fn admit(&self, permit: OwnedPermit) -> Admitted {
        let in_flight = self.inner.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
        Admitted {
            limit: self.clone(),
            started: Instant::now(),
            in_flight,
            _permit: permit,
        }
    }

    /// The current limit.
    ///
    /// # Examples
    ///
    /// ```
    /// let limit = herd::limit::AdaptiveLimit::builder(herd::limit::Algorithm::aimd()).initial(7).build();
    /// assert_eq!(limit.limit(), 7);
    /// ```
    pub fn limit(&self) -> usize {
        self.inner.limit.load(Ordering::Acquire)
    }

    /// Calls admitted and not yet reported or dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let limit = herd::limit::AdaptiveLimit::builder(herd::limit::Algorithm::aimd()).build();
    /// assert_eq!(limit.in_flight(), 0);
    /// ```
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::Acquire)
    }

    /// The latency of the latest successful call.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    ///
    /// let limit = herd::limit::AdaptiveLimit::builder(herd::limit::Algorithm::aimd()).build();
    /// let call = limit.acquire().await.unwrap();
    /// tokio::time::sleep(Duration::from_millis(40)).await;
    /// call.success();
    /// assert_eq!(limit.latency(), Duration::from_millis(40));
    /// # }
    /// ```
    pub fn latency(&self) -> Duration {
        Duration::from_nanos(self.inner.latency.load(Ordering::Acquire))
    }

    /// Feeds one sample (a call admitted at `started`) to the algorithm
    /// and resizes the semaphore.
    fn update(&self, started: Instant, in_flight: usize, dropped: bool) {
        let inner = &*self.inner;
        let rtt = started.elapsed();
        let mut estimate = lock(&inner.state);
        let limit = estimate.limit;
        let dropped = dropped
            || matches!(inner.algorithm, Algorithm::Aimd { timeout: Some(timeout), .. } if rtt > timeout);
        if dropped {
            if estimate.last_decrease.is_some_and(|at| started < at) {
                return;
            }
            estimate.last_decrease = Some(Instant::now());
        }
        let next = match inner.algorithm {
            Algorithm::Aimd { backoff, .. } => {
                if dropped {
                    limit * backoff
                } else if in_flight * 2 >= limit as usize {
                    // One more per limit's worth of successes: about one
                    // per round trip, however busy.
                    limit + 1.0 / limit
                } else {
                    limit
                }
            }
            Algorithm::Gradient2 {
                tolerance,
                smoothing,
                long_window,
                queue_size,
            } => {
                if dropped {
                    limit * 0.9
                } else {
                    let now = Instant::now();
                    let window = &mut estimate.window;
                    let opened = *window.started.get_or_insert(now);
                    window.calls += 1;
                    window.rtt_sum += rtt.as_nanos() as f64;
                    window.max_in_flight = window.max_in_flight.max(in_flight);
                    if now - opened < WINDOW_TIME || window.calls < WINDOW_CALLS {
                        return;
                    }
                    let closed = std::mem::take(window);
                    let short = (closed.rtt_sum / f64::from(closed.calls)).max(1.0);
                    let alpha = 2.0 / (f64::from(long_window) + 1.0);
                    let mut long = match estimate.long_rtt {
                        Some(long) => long * (1.0 - alpha) + short * alpha,
                        None => short,
                    };
                    // A long average far above the latest calls lags a
                    // fall in latency; let it catch up, so a later rise is
                    // seen.
                    if long / short > 2.0 {
                        long *= 0.95;
                    }
                    estimate.long_rtt = Some(long);
                    if (closed.max_in_flight as f64) < limit / 2.0 {
                        // Not using what it has: no evidence either way.
                        limit
                    } else {
                        let gradient = (tolerance * long / short).clamp(0.5, 1.0);
                        let target = limit * gradient + queue_size as f64;
                        limit * (1.0 - smoothing) + target * smoothing
                    }
                }
            }
        };
        let next = next.clamp(inner.min as f64, inner.max as f64);
        estimate.limit = next;
        let (old, new) = (inner.limit.load(Ordering::Acquire), next as usize);
        if new > old {
            inner.slots.add_permits(new - old);
        } else if new < old {
            inner.slots.forget_permits(old - new);
        }
        inner.limit.store(new, Ordering::Release);
    }
}

impl Admitted {
    /// The call succeeded; its latency counts.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use herd::limit::{AdaptiveLimit, Algorithm};
    ///
    /// let limit = AdaptiveLimit::builder(Algorithm::aimd()).initial(4).build();
    /// // Two rounds with every slot in use: AIMD adds about one a round.
    /// for _ in 0..2 {
    ///     let mut calls = Vec::new();
    ///     for _ in 0..limit.limit() {
    ///         calls.push(limit.acquire().await.unwrap());
    ///     }
    ///     for call in calls {
    ///         call.success();
    ///     }
    /// }
    /// assert_eq!(limit.limit(), 5);
    /// # }
    /// ```
    pub fn success(self) {
        let rtt = self.started.elapsed();
        self.limit.inner.latency.store(
            rtt.as_nanos().min(u128::from(u64::MAX)) as u64,
            Ordering::Release,
        );
        self.limit.update(self.started, self.in_flight, false);
    }

    /// The call met overload: a 429 or 503, a timeout, a refused
    /// connection. The limit shrinks.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let limit = herd::limit::AdaptiveLimit::builder(herd::limit::Algorithm::gradient2()).initial(10).build();
    /// limit.acquire().await.unwrap().overloaded();
    /// assert_eq!(limit.limit(), 9);
    /// # }
    /// ```
    pub fn overloaded(self) {
        self.limit.update(self.started, self.in_flight, true);
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.limit.inner.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl fmt::Debug for AdaptiveLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdaptiveLimit")
            .field("algorithm", &self.inner.algorithm)
            .field("limit", &self.limit())
            .field("in_flight", &self.in_flight())
            .field("latency", &self.latency())
            .finish()
    }
}

impl fmt::Debug for Admitted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admitted")
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}
