//! `Retry`: attempts with backoff and full jitter, a per-attempt timeout,
//! an overall deadline, a predicate, a budget, and a server's Retry-After.

use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::task::{CancelReason, CancelToken};

/// What to do about one failed attempt, as a [`Retry::retry_if`] predicate
/// decides.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use herd::resilience::Verdict;
///
/// // HTTP-style: 429 and 503 carry the server's wait, 5xx retry, 4xx do not.
/// let classify = |status: &(u16, Option<u64>)| match status {
///     (429 | 503, Some(secs)) => Verdict::RetryAfter(Duration::from_secs(*secs)),
///     (500..=599, _) => Verdict::Retry,
///     _ => Verdict::Stop,
/// };
/// assert_eq!(classify(&(503, Some(2))), Verdict::RetryAfter(Duration::from_secs(2)));
/// assert_eq!(classify(&(404, None)), Verdict::Stop);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Worth another attempt, after the backoff.
    Retry,
    /// Worth another attempt after this long (a server's Retry-After),
    /// instead of the backoff; capped by [`Retry::max_retry_after`].
    RetryAfter(Duration),
    /// Not worth retrying: return this error now.
    Stop,
}

/// How one attempt failed.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use herd::resilience::Failure;
///
/// let failure: Failure<&str> = Failure::TimedOut(Duration::from_secs(1));
/// assert_eq!(failure.to_string(), "the attempt timed out after 1s");
/// assert_eq!(Failure::Error("refused").into_error(), Some("refused"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure<E> {
    /// The operation returned this error.
    Error(E),
    /// The attempt ran past [`Retry::attempt_timeout`] and was dropped.
    TimedOut(Duration),
}

impl<E> Failure<E> {
    /// The operation's error, if the attempt did not time out.
    ///
    /// # Examples
    ///
    /// ```
    /// use herd::resilience::Failure;
    ///
    /// assert_eq!(Failure::<u8>::TimedOut(std::time::Duration::ZERO).into_error(), None);
    /// ```
    pub fn into_error(self) -> Option<E> {
        match self {
            Failure::Error(error) => Some(error),
            Failure::TimedOut(_) => None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for Failure<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Error(error) => error.fmt(f),
            Failure::TimedOut(after) => write!(f, "the attempt timed out after {after:?}"),
        }
    }
}

/// Why [`Retry::run`] gave up. Every variant says how many attempts were
/// made.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use herd::resilience::{Retry, RetryError};
///
/// let err = Retry::new().attempts(3).run(|_| async { Err::<(), _>("down") }).await.unwrap_err();
/// assert_eq!(err.attempts(), 3);
/// assert_eq!(err.to_string(), "gave up after 3 attempts: down");
/// assert!(matches!(err, RetryError::Exhausted { .. }));
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryError<E> {
    /// Every allowed attempt failed; the last failure.
    Exhausted {
        /// Attempts made.
        attempts: u32,
        /// How the last one failed.
        last: Failure<E>,
    },
    /// The predicate said the error is not worth retrying.
    Stopped {
        /// Attempts made.
        attempts: u32,
        /// The error.
        error: E,
    },
    /// The overall deadline came, or would pass before the next attempt
    /// could start.
    DeadlineExceeded {
        /// Attempts made.
        attempts: u32,
        /// How the last attempt failed, if one ran.
        last: Option<Failure<E>>,
    },
    /// The retry budget had no retry to spare.
    BudgetExhausted {
        /// Attempts made.
        attempts: u32,
        /// How the last one failed.
        last: Failure<E>,
    },
    /// The token given to [`Retry::token`] was cancelled: no attempt is
    /// started or waited for after that.
    Cancelled {
        /// Attempts made.
        attempts: u32,
        /// Why.
        reason: CancelReason,
    },
}

impl<E> RetryError<E> {
    /// How many attempts were made.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use herd::resilience::{Retry, Verdict};
    ///
    /// let err = Retry::new()
    ///     .retry_if(|_: &&str| Verdict::Stop)
    ///     .run(|_| async { Err::<(), _>("bad request") })
    ///     .await
    ///     .unwrap_err();
    /// assert_eq!(err.attempts(), 1);
    /// # }
    /// ```
    pub fn attempts(&self) -> u32 {
        match self {
            RetryError::Exhausted { attempts, .. }
            | RetryError::Stopped { attempts, .. }
            | RetryError::DeadlineExceeded { attempts, .. }
            | RetryError::BudgetExhausted { attempts, .. }
            | RetryError::Cancelled { attempts, .. } => *attempts,
        }
    }

    /// The last error the operation returned, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let err = herd::resilience::Retry::new().attempts(2).run(|_| async { Err::<(), _>(7) }).await.unwrap_err();
    /// assert_eq!(err.into_last_error(), Some(7));
    /// # }
    /// ```
    pub fn into_last_error(self) -> Option<E> {
        match self {
            RetryError::Exhausted { last, .. } | RetryError::BudgetExhausted { last, .. } => {
                last.into_error()
            }
            RetryError::Stopped { error, .. } => Some(error),
            RetryError::DeadlineExceeded { last, .. } => last.and_then(Failure::into_error),
            RetryError::Cancelled { .. } => None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for RetryError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.attempts();
        let plural = if n == 1 { "" } else { "s" };
        match self {
            RetryError::Exhausted { last, .. } => {
                write!(f, "gave up after {n} attempt{plural}: {last}")
            }
            RetryError::Stopped { error, .. } => {
                write!(f, "not retried after {n} attempt{plural}: {error}")
            }
            RetryError::DeadlineExceeded {
                last: Some(last), ..
            } => {
                write!(f, "deadline exceeded after {n} attempt{plural}: {last}")
            }
            RetryError::DeadlineExceeded { last: None, .. } => {
                write!(f, "deadline exceeded after {n} attempt{plural}")
            }
            RetryError::BudgetExhausted { last, .. } => {
                write!(
                    f,
                    "retry budget exhausted after {n} attempt{plural}: {last}"
                )
            }
            RetryError::Cancelled { reason, .. } => {
                write!(f, "stopped after {n} attempt{plural}: {reason}")
            }
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for RetryError<E> {}

/// A budget that keeps retries to a share of first attempts, shared by
/// every [`Retry`] given it: when a dependency is down, retries stop piling
/// on (a retry storm) once they exceed `ratio` of the calls made, beyond a
/// reserve of `reserve` retries.
///
/// # Examples
///
/// ```
/// use herd::resilience::RetryBudget;
///
/// // Retries may be 20 % of calls, and 10 more.
/// let budget = RetryBudget::new(0.2, 10);
/// for _ in 0..10 {
///     assert!(budget.try_withdraw());
/// }
/// assert!(!budget.try_withdraw(), "the reserve is spent");
/// for _ in 0..5 {
///     budget.deposit(); // five calls earn one retry
/// }
/// assert!(budget.try_withdraw());
/// ```
#[derive(Clone, Debug)]
pub struct RetryBudget {
    inner: Arc<BudgetInner>,
}

#[derive(Debug)]
struct BudgetInner {
    /// In thousandths of a retry.
    balance: AtomicI64,
    deposit: i64,
    cap: i64,
}

const RETRY: i64 = 1000;

impl RetryBudget {
    /// Retries may be `ratio` of first attempts (0.0 to 1.0 or more), plus
    /// `reserve`; the unspent balance is capped at `reserve` plus what 100
    /// calls earn, so a quiet spell does not bank an unbounded storm.
    ///
    /// # Panics
    ///
    /// If `ratio` is negative or not finite.
    ///
    /// # Examples
    ///
    /// ```
    /// let budget = herd::resilience::RetryBudget::new(0.1, 0);
    /// assert!(!budget.try_withdraw());
    /// ```
    pub fn new(ratio: f64, reserve: u32) -> RetryBudget {
        assert!(
            ratio.is_finite() && ratio >= 0.0,
            "RetryBudget: the ratio must be a finite number >= 0, got {ratio}"
        );
        let deposit = (ratio * RETRY as f64).round() as i64;
        let reserve = i64::from(reserve) * RETRY;
        RetryBudget {
            inner: Arc::new(BudgetInner {
                balance: AtomicI64::new(reserve),
                deposit,
                cap: reserve + deposit * 100,
            }),
        }
    }

    /// Records a first attempt, earning `ratio` of a retry.
    ///
    /// # Examples
    ///
    /// ```
    /// let budget = herd::resilience::RetryBudget::new(1.0, 0);
    /// budget.deposit();
    /// assert!(budget.try_withdraw());
    /// ```
    pub fn deposit(&self) {
        let inner = &*self.inner;
        let _ = inner
            .balance
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |balance| {
                Some((balance + inner.deposit).min(inner.cap.max(balance)))
            });
    }

    /// Takes one retry from the budget, if it has one.
    ///
    /// # Examples
    ///
    /// ```
    /// let budget = herd::resilience::RetryBudget::new(0.0, 1);
    /// assert!(budget.try_withdraw());
    /// assert!(!budget.try_withdraw());
    /// ```
    pub fn try_withdraw(&self) -> bool {
        self.inner
            .balance
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |balance| {
                (balance >= RETRY).then_some(balance - RETRY)
            })
            .is_ok()
    }
}

/// Retries an async operation: exponential backoff with full jitter by
/// default, a limit on attempts, a timeout per attempt and an overall
/// deadline, a predicate that decides which errors are worth another try
/// (and can pass on a server's Retry-After), and an optional shared
/// [`RetryBudget`].
///
/// Defaults: 3 attempts; backoff from 100 ms doubling up to 10 s, each wait
/// drawn uniformly from zero to that (full jitter, which spreads a crowd of
/// clients best); every error retried; a Retry-After capped at 60 s; no
/// timeouts. All waits are on tokio's clock.
///
/// Cancellation is never retried: dropping the future stops everything at
/// once, and a [token](Retry::token) cancelled mid-attempt or mid-wait ends
/// the run with [`RetryError::Cancelled`].
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::time::Duration;
/// use herd::resilience::Retry;
///
/// let calls = AtomicU32::new(0);
/// let value = Retry::new()
///     .attempts(5)
///     .attempt_timeout(Duration::from_secs(2))
///     .run(|attempt| {
///         calls.fetch_add(1, Ordering::SeqCst);
///         async move { if attempt < 3 { Err("flaky") } else { Ok(attempt) } }
///     })
///     .await
///     .unwrap();
/// assert_eq!((value, calls.load(Ordering::SeqCst)), (3, 3));
/// # }
/// ```
#[derive(Clone)]
pub struct Retry<P = RetryAll> {
    attempts: u32,
    base: Duration,
    factor: u32,
    max_delay: Duration,
    jitter: bool,
    attempt_timeout: Option<Duration>,
    deadline: Option<Duration>,
    max_retry_after: Duration,
    budget: Option<RetryBudget>,
    token: Option<CancelToken>,
    predicate: P,
}

impl Retry {
    /// The defaults: 3 attempts, jittered exponential backoff from 100 ms to
    /// 10 s, every error retried.
    ///
    /// # Examples
    ///
    /// ```
    /// let retry = herd::resilience::Retry::new();
    /// assert_eq!(retry.max_attempts(), 3);
    /// ```
    pub fn new() -> Retry {
        Retry {
            attempts: 3,
            base: Duration::from_millis(100),
            factor: 2,
            max_delay: Duration::from_secs(10),
            jitter: true,
            attempt_timeout: None,
            deadline: None,
            max_retry_after: Duration::from_secs(60),
            budget: None,
            token: None,
            predicate: RetryAll,
        }
    }
}

/// Decides about an error; see [`Retry::retry_if`]. Closures
/// `Fn(&E) -> Verdict` implement it, and so does [`RetryAll`].
///
/// # Examples
///
/// ```
/// use herd::resilience::{Classify, Verdict};
///
/// struct OnlyTimeouts;
/// impl Classify<std::io::Error> for OnlyTimeouts {
///     fn classify(&self, error: &std::io::Error) -> Verdict {
///         match error.kind() {
///             std::io::ErrorKind::TimedOut => Verdict::Retry,
///             _ => Verdict::Stop,
///         }
///     }
/// }
/// let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
/// assert_eq!(OnlyTimeouts.classify(&refused), Verdict::Stop);
/// ```
pub trait Classify<E> {
    /// What to do about `error`.
    fn classify(&self, error: &E) -> Verdict;
}

/// The default rule: every error is worth another attempt.
///
/// # Examples
///
/// ```
/// use herd::resilience::{Classify, RetryAll, Verdict};
///
/// assert_eq!(RetryAll.classify(&"any error"), Verdict::Retry);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct RetryAll;

impl<E> Classify<E> for RetryAll {
    fn classify(&self, _: &E) -> Verdict {
        Verdict::Retry
    }
}

impl<E, F: Fn(&E) -> Verdict> Classify<E> for F {
    fn classify(&self, error: &E) -> Verdict {
        self(error)
    }
}

impl Default for Retry {
    fn default() -> Self {
        Retry::new()
    }
}

/// A fresh random number in `0..=bound`: std's randomly keyed hasher over
/// a counter, which is enough for jitter.
pub(crate) fn random_up_to(bound: u64) -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        static KEYS: RandomState = RandomState::new();
    }
    if bound == 0 {
        return 0;
    }
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    KEYS.with(|keys| keys.hash_one(n)) % (bound + 1)
}

impl<P> Retry<P> {
    /// At most `attempts` attempts in all (the first one included).
    ///
    /// # Panics
    ///
    /// If `attempts` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::resilience::Retry::new().attempts(5).max_attempts(), 5);
    /// ```
    pub fn attempts(mut self, attempts: u32) -> Self {
        assert!(attempts > 0, "Retry: at least one attempt, got 0");
        self.attempts = attempts;
        self
    }

    /// The attempts allowed.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::resilience::Retry::new().max_attempts(), 3);
    /// ```
    pub fn max_attempts(&self) -> u32 {
        self.attempts
    }

    /// Exponential backoff: the wait after attempt `n` (from 1) is
    /// `base · factorⁿ⁻¹`, at most `max`, before jitter.
    ///
    /// # Panics
    ///
    /// If `factor` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    ///
    /// let start = tokio::time::Instant::now();
    /// let _ = herd::resilience::Retry::new()
    ///     .attempts(4)
    ///     .backoff(Duration::from_secs(1), 3, Duration::from_secs(5))
    ///     .no_jitter()
    ///     .run(|_| async { Err::<(), _>(()) })
    ///     .await;
    /// // 1 s, 3 s, then 9 s capped at 5 s.
    /// assert_eq!(start.elapsed(), Duration::from_secs(9));
    /// # }
    /// ```
    pub fn backoff(mut self, base: Duration, factor: u32, max: Duration) -> Self {
        assert!(
            factor > 0,
            "Retry: the backoff factor must be at least 1, got 0"
        );
        self.base = base;
        self.factor = factor;
        self.max_delay = max;
        self
    }

    /// The same wait after every attempt.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    ///
    /// let start = tokio::time::Instant::now();
    /// let _ = herd::resilience::Retry::new()
    ///     .constant(Duration::from_millis(250))
    ///     .no_jitter()
    ///     .run(|_| async { Err::<(), _>(()) })
    ///     .await;
    /// assert_eq!(start.elapsed(), Duration::from_millis(500));
    /// # }
    /// ```
    pub fn constant(self, delay: Duration) -> Self {
        self.backoff(delay, 1, delay)
    }

    /// Waits exactly the backoff, without jitter: predictable, but a crowd
    /// of clients retries in lockstep. For tests and single clients.
    ///
    /// # Examples
    ///
    /// ```
    /// let retry = herd::resilience::Retry::new().no_jitter();
    /// # drop(retry);
    /// ```
    pub fn no_jitter(mut self) -> Self {
        self.jitter = false;
        self
    }

    /// Gives each attempt at most `timeout`; an attempt over it is dropped
    /// and counts as failed ([`Failure::TimedOut`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use herd::resilience::{Failure, Retry, RetryError};
    ///
    /// let err = Retry::new()
    ///     .attempts(2)
    ///     .attempt_timeout(Duration::from_secs(1))
    ///     .run(|_| async { tokio::time::sleep(Duration::from_secs(60)).await; Ok::<_, ()>(()) })
    ///     .await
    ///     .unwrap_err();
    /// assert!(matches!(err, RetryError::Exhausted { attempts: 2, last: Failure::TimedOut(_) }));
    /// # }
    /// ```
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// Bounds the whole run, attempts and waits, to `total` from the start
    /// of [`run`](Retry::run): the attempt in flight is cut at the deadline,
    /// and no wait is started that would end past it.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use herd::resilience::{Retry, RetryError};
    ///
    /// let start = tokio::time::Instant::now();
    /// let err = Retry::new()
    ///     .attempts(100)
    ///     .constant(Duration::from_secs(1))
    ///     .no_jitter()
    ///     .deadline(Duration::from_millis(3500))
    ///     .run(|_| async { Err::<(), _>("down") })
    ///     .await
    ///     .unwrap_err();
    /// assert!(matches!(err, RetryError::DeadlineExceeded { attempts: 4, .. }));
    /// assert_eq!(start.elapsed(), Duration::from_secs(3), "no pointless last wait");
    /// # }
    /// ```
    pub fn deadline(mut self, total: Duration) -> Self {
        self.deadline = Some(total);
        self
    }

    /// The longest a server's Retry-After is waited; a longer one is cut to
    /// this. Default: 60 s.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use herd::resilience::{Retry, Verdict};
    ///
    /// let start = tokio::time::Instant::now();
    /// let _ = Retry::new()
    ///     .attempts(2)
    ///     .max_retry_after(Duration::from_secs(5))
    ///     .retry_if(|_: &()| Verdict::RetryAfter(Duration::from_secs(3600)))
    ///     .run(|_| async { Err::<(), _>(()) })
    ///     .await;
    /// assert_eq!(start.elapsed(), Duration::from_secs(5));
    /// # }
    /// ```
    pub fn max_retry_after(mut self, cap: Duration) -> Self {
        self.max_retry_after = cap;
        self
    }

    /// Draws retries from a shared [`RetryBudget`]; each run deposits once.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use herd::resilience::{Retry, RetryBudget, RetryError};
    ///
    /// let budget = RetryBudget::new(0.0, 1);
    /// let retry = Retry::new().attempts(5).budget(&budget);
    /// let err = retry.run(|_| async { Err::<(), _>(()) }).await.unwrap_err();
    /// assert!(matches!(err, RetryError::BudgetExhausted { attempts: 2, .. }));
    /// # }
    /// ```
    pub fn budget(mut self, budget: &RetryBudget) -> Self {
        self.budget = Some(budget.clone());
        self
    }

    /// Stops at once, with [`RetryError::Cancelled`], when `token` is
    /// cancelled: the attempt in flight is dropped and no wait continues.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use herd::resilience::{Retry, RetryError};
    /// use herd::task::CancelToken;
    ///
    /// let token = CancelToken::new();
    /// token.cancel("request aborted");
    /// let err = Retry::new().token(&token).run(|_| async { Ok::<_, ()>(1) }).await.unwrap_err();
    /// assert!(matches!(err, RetryError::Cancelled { attempts: 0, .. }));
    /// # }
    /// ```
    pub fn token(mut self, token: &CancelToken) -> Self {
        self.token = Some(token.clone());
        self
    }

    /// Decides, per error, whether to retry, wait a server-given time, or
    /// stop. Without it, every error is retried ([`RetryAll`]). An attempt
    /// that timed out is always worth another.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use herd::resilience::{Retry, RetryError, Verdict};
    ///
    /// let err = Retry::new()
    ///     .retry_if(|status: &u16| if *status >= 500 { Verdict::Retry } else { Verdict::Stop })
    ///     .run(|_| async { Err::<(), _>(404u16) })
    ///     .await
    ///     .unwrap_err();
    /// assert!(matches!(err, RetryError::Stopped { attempts: 1, error: 404 }));
    /// # }
    /// ```
    pub fn retry_if<E, Q: Fn(&E) -> Verdict>(self, predicate: Q) -> Retry<Q> {
        Retry {
            attempts: self.attempts,
            base: self.base,
            factor: self.factor,
            max_delay: self.max_delay,
            jitter: self.jitter,
            attempt_timeout: self.attempt_timeout,
            deadline: self.deadline,
            max_retry_after: self.max_retry_after,
            budget: self.budget,
            token: self.token,
            predicate,
        }
    }

    /// The backoff before attempt `attempt + 1`, after jitter.
    fn delay(&self, attempt: u32) -> Duration {
        let growth = u128::from(self.factor).saturating_pow(attempt - 1);
        let nanos = self.base.as_nanos().saturating_mul(growth);
        let capped = nanos
            .min(self.max_delay.as_nanos())
            .min(u128::from(u64::MAX)) as u64;
        Duration::from_nanos(if self.jitter {
            random_up_to(capped)
        } else {
            capped
        })
    }

    /// Runs `operation` until it succeeds or the rules say stop. It is
    /// called with the attempt number, from 1.
    ///
    /// # Errors
    ///
    /// A [`RetryError`] saying why it stopped and how many attempts ran.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let ok = herd::resilience::Retry::new().run(|n| async move { Ok::<_, ()>(n * 10) }).await;
    /// assert_eq!(ok, Ok(10));
    /// # }
    /// ```
    pub async fn run<F, Fut, T, E>(&self, mut operation: F) -> Result<T, RetryError<E>>
    where
        P: Classify<E>,
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        // A deadline too far to add to the clock is no deadline.
        let deadline = self
            .deadline
            .and_then(|total| Instant::now().checked_add(total));
        if let Some(budget) = &self.budget {
            budget.deposit();
        }
        let mut attempt = 0;
        loop {
            if let Some(reason) = self.token.as_ref().and_then(CancelToken::reason) {
                return Err(RetryError::Cancelled {
                    attempts: attempt,
                    reason,
                });
            }
            attempt += 1;
            let failure = match self.attempt(operation(attempt), deadline).await {
                Outcome::Done(value) => return Ok(value),
                Outcome::Failed(failure) => failure,
                Outcome::Cancelled(reason) => {
                    return Err(RetryError::Cancelled {
                        attempts: attempt,
                        reason,
                    });
                }
                Outcome::Deadline => {
                    return Err(RetryError::DeadlineExceeded {
                        attempts: attempt,
                        last: None,
                    });
                }
            };
            let verdict = match &failure {
                Failure::Error(error) => self.predicate.classify(error),
                Failure::TimedOut(_) => Verdict::Retry,
            };
            let wait = match verdict {
                Verdict::Retry => self.delay(attempt),
                Verdict::RetryAfter(wait) => wait.min(self.max_retry_after),
                Verdict::Stop => {
                    let Failure::Error(error) = failure else {
                        unreachable!("timeouts are retried")
                    };
                    return Err(RetryError::Stopped {
                        attempts: attempt,
                        error,
                    });
                }
            };
            if attempt >= self.attempts {
                return Err(RetryError::Exhausted {
                    attempts: attempt,
                    last: failure,
                });
            }
            let wait_ends = Instant::now().checked_add(wait);
            if deadline.is_some_and(|deadline| wait_ends.is_none_or(|end| end >= deadline)) {
                return Err(RetryError::DeadlineExceeded {
                    attempts: attempt,
                    last: Some(failure),
                });
            }
            if let Some(budget) = &self.budget
                && !budget.try_withdraw()
            {
                return Err(RetryError::BudgetExhausted {
                    attempts: attempt,
                    last: failure,
                });
            }
            let slept = self.cancellable(tokio::time::sleep(wait)).await;
            if let Err(reason) = slept {
                return Err(RetryError::Cancelled {
                    attempts: attempt,
                    reason,
                });
            }
        }
    }

    /// One attempt, under the attempt timeout, the deadline and the token.
    async fn attempt<Fut, T, E>(&self, attempt: Fut, deadline: Option<Instant>) -> Outcome<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        let cut = match (self.attempt_timeout, deadline) {
            (Some(timeout), Some(deadline)) => Some(
                Instant::now()
                    .checked_add(timeout)
                    .map_or(deadline, |cut| cut.min(deadline)),
            ),
            (Some(timeout), None) => Instant::now().checked_add(timeout),
            (None, deadline) => deadline,
        };
        let timed = async {
            match cut {
                None => Ok(attempt.await),
                Some(cut) => tokio::time::timeout_at(cut, attempt).await.map_err(|_| cut),
            }
        };
        match self.cancellable(timed).await {
            Err(reason) => Outcome::Cancelled(reason),
            Ok(Ok(Ok(value))) => Outcome::Done(value),
            Ok(Ok(Err(error))) => Outcome::Failed(Failure::Error(error)),
            Ok(Err(cut)) if deadline == Some(cut) => Outcome::Deadline,
            Ok(Err(_)) => Outcome::Failed(Failure::TimedOut(
                self.attempt_timeout
                    .expect("only an attempt timeout cuts short of the deadline"),
            )),
        }
    }

    async fn cancellable<F: Future>(&self, fut: F) -> Result<F::Output, CancelReason> {
        match &self.token {
            Some(token) => token.run_until_cancelled(fut).await,
            None => Ok(fut.await),
        }
    }
}

enum Outcome<T, E> {
    Done(T),
    Failed(Failure<E>),
    Cancelled(CancelReason),
    Deadline,
}

impl<P> fmt::Debug for Retry<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("attempts", &self.attempts)
            .field("base", &self.base)
            .field("factor", &self.factor)
            .field("max_delay", &self.max_delay)
            .field("jitter", &self.jitter)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("deadline", &self.deadline)
            .field("max_retry_after", &self.max_retry_after)
            .finish_non_exhaustive()
    }
}
