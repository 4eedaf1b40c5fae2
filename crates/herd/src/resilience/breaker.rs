//! `CircuitBreaker`: stop calling what is failing, then probe it carefully.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::loom::atomic::{AtomicU8, AtomicU64, Ordering};
use crate::loom::{Mutex, lock};

/// Where a breaker stands.
///
/// # Examples
///
/// ```
/// let breaker = herd::resilience::CircuitBreaker::builder().build();
/// assert_eq!(breaker.state(), herd::resilience::BreakerState::Closed);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BreakerState {
    /// Calls go through; outcomes are counted.
    Closed,
    /// Calls are refused until the cool-down ends.
    Open,
    /// A few probe calls go through; the rest are refused.
    HalfOpen,
}

const CLOSED: u8 = 0;
const OPEN: u8 = 1;
const HALF_OPEN: u8 = 2;

/// The low 32 bits of a generation, which tag a half-open spell.
fn spell_of(generation: u64) -> u32 {
    generation as u32
}

fn unpack(packed: u64) -> (u32, u32) {
    ((packed >> 32) as u32, packed as u32)
}

fn state_of(raw: u8) -> BreakerState {
    match raw {
        CLOSED => BreakerState::Closed,
        OPEN => BreakerState::Open,
        _ => BreakerState::HalfOpen,
    }
}

/// A call the breaker refused, or one that failed.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use herd::resilience::{BreakerError, CircuitBreaker};
///
/// let breaker = CircuitBreaker::builder().minimum_calls(1).build();
/// let failed = breaker.call(async { Err::<(), _>("timeout") }).await;
/// assert_eq!(failed, Err(BreakerError::Failed("timeout")));
/// let refused = breaker.call(async { Ok::<_, &str>(()) }).await.unwrap_err();
/// assert!(matches!(refused, BreakerError::Open { .. }));
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreakerError<E> {
    /// The breaker is open (or half-open with every probe taken); the call
    /// was not made.
    Open {
        /// How long until the breaker lets probes through, if it is open.
        retry_after: Option<Duration>,
    },
    /// The call was made and failed.
    Failed(E),
}

impl<E: fmt::Display> fmt::Display for BreakerError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BreakerError::Open {
                retry_after: Some(after),
            } => write!(f, "circuit open: retry after {after:?}"),
            BreakerError::Open { retry_after: None } => {
                f.write_str("circuit half-open: every probe is taken")
            }
            BreakerError::Failed(error) => error.fmt(f),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for BreakerError<E> {}

type Listener = Box<dyn Fn(BreakerState, BreakerState) + Send + Sync>;

/// Configures a [`CircuitBreaker`]; made by [`CircuitBreaker::builder`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let breaker = herd::resilience::CircuitBreaker::builder()
///     .failure_rate(0.25)
///     .window(50)
///     .minimum_calls(10)
///     .open_for(Duration::from_secs(5))
///     .probes(2)
///     .build();
/// # drop(breaker);
/// ```
pub struct BreakerBuilder {
    rate: f64,
    window: usize,
    minimum: usize,
    open_for: Duration,
    probes: u32,
    listeners: Vec<Listener>,
}

impl BreakerBuilder {
    /// The share of failed calls in the window that opens the breaker.
    /// Default: 0.5.
    ///
    /// # Panics
    ///
    /// Unless `rate` is above 0 and at most 1.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = herd::resilience::CircuitBreaker::builder().failure_rate(0.8);
    /// # drop(builder);
    /// ```
    pub fn failure_rate(mut self, rate: f64) -> Self {
        assert!(
            rate > 0.0 && rate <= 1.0,
            "CircuitBreaker: the failure rate must be in (0, 1], got {rate}"
        );
        self.rate = rate;
        self
    }

    /// How many of the latest calls the rate is taken over. Default: 100.
    ///
    /// # Panics
    ///
    /// If `calls` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = herd::resilience::CircuitBreaker::builder().window(20);
    /// # drop(builder);
    /// ```
    pub fn window(mut self, calls: usize) -> Self {
        assert!(
            calls > 0,
            "CircuitBreaker: the window must hold at least one call"
        );
        self.window = calls;
        self
    }

    /// How many calls the window must hold before the rate can open the
    /// breaker, so three failures at start-up do not. Default: 20; never
    /// more than the window.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = herd::resilience::CircuitBreaker::builder().minimum_calls(5);
    /// # drop(builder);
    /// ```
    pub fn minimum_calls(mut self, calls: usize) -> Self {
        self.minimum = calls.max(1);
        self
    }

    /// How long the breaker stays open before it lets probes through.
    /// Default: 30 s.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = herd::resilience::CircuitBreaker::builder().open_for(std::time::Duration::from_secs(1));
    /// # drop(builder);
    /// ```
    pub fn open_for(mut self, cool_down: Duration) -> Self {
        self.open_for = cool_down;
        self
    }

    /// How many probe calls half-open lets through; all must succeed to
    /// close the breaker, one failure reopens it. Default: 3.
    ///
    /// # Panics
    ///
    /// If `probes` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = herd::resilience::CircuitBreaker::builder().probes(1);
    /// # drop(builder);
    /// ```
    pub fn probes(mut self, probes: u32) -> Self {
        assert!(probes > 0, "CircuitBreaker: at least one probe, got 0");
        self.probes = probes;
        self
    }

    /// Calls `listener(from, to)` on every change of state, on the thread
    /// that caused it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use herd::resilience::{BreakerState, CircuitBreaker};
    ///
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// let breaker = CircuitBreaker::builder()
    ///     .minimum_calls(1)
    ///     .on_state_change(move |from, to| log.lock().unwrap().push((from, to)))
    ///     .build();
    /// breaker.try_acquire().unwrap().failure();
    /// assert_eq!(*seen.lock().unwrap(), [(BreakerState::Closed, BreakerState::Open)]);
    /// ```
    pub fn on_state_change(
        mut self,
        listener: impl Fn(BreakerState, BreakerState) + Send + Sync + 'static,
    ) -> Self {
        self.listeners.push(Box::new(listener));
        self
    }

    /// Makes the breaker, closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let breaker = herd::resilience::CircuitBreaker::builder().build();
    /// assert!(breaker.try_acquire().is_ok());
    /// ```
    pub fn build(self) -> CircuitBreaker {
        CircuitBreaker {
            inner: Arc::new(Inner {
                state: AtomicU8::new(CLOSED),
                generation: AtomicU64::new(0),
                opened_at: AtomicU64::new(0),
                probes_left: AtomicU64::new(0),
                probes_passed: AtomicU64::new(0),
                window: Mutex::new(Window {
                    outcomes: VecDeque::with_capacity(self.window),
                    failures: 0,
                }),
                origin: Instant::now(),
                rate: self.rate,
                size: self.window,
                // A minimum above the window could never be reached.
                minimum: self.minimum.min(self.window),
                open_for: self.open_for,
                probes: self.probes,
                listeners: self.listeners,
            }),
        }
    }
}

/// A circuit breaker: when the share of failed calls over the latest
/// [`window`](BreakerBuilder::window) reaches the
/// [`failure_rate`](BreakerBuilder::failure_rate), it opens and refuses
/// calls at once for [`open_for`](BreakerBuilder::open_for), sparing the
/// failing dependency and the caller's time; then it half-opens and lets
/// exactly [`probes`](BreakerBuilder::probes) calls through, reserved one
/// by one with an atomic step so a crowd waiting for the cool-down cannot
/// stampede. If they all succeed it closes; one failure reopens it.
///
/// [`call`](CircuitBreaker::call) wraps a future (an `Err` is a failure);
/// [`try_acquire`](CircuitBreaker::try_acquire) hands out a [`BreakerPermit`]
/// for callers that judge outcomes themselves (a 404 is not the server
/// failing). A call dropped before its verdict counts for nothing, and a
/// dropped probe gives its place back. Clones share one breaker.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use herd::resilience::{BreakerState, CircuitBreaker};
///
/// let breaker = CircuitBreaker::builder()
///     .minimum_calls(4)
///     .failure_rate(0.5)
///     .open_for(Duration::from_secs(10))
///     .probes(1)
///     .build();
/// for ok in [true, false, true, false] {
///     let _ = breaker.call(async move { if ok { Ok(()) } else { Err("503") } }).await;
/// }
/// assert_eq!(breaker.state(), BreakerState::Open);
/// tokio::time::advance(Duration::from_secs(10)).await;
/// breaker.call(async { Ok::<_, &str>(()) }).await.unwrap(); // the probe
/// assert_eq!(breaker.state(), BreakerState::Closed);
/// # }
/// ```
#[derive(Clone)]
pub struct CircuitBreaker {
    inner: Arc<Inner>,
}

struct Inner {
    state: AtomicU8,
    /// Bumped on every change of state, so a verdict from an older state
    /// (a slow call from before the breaker opened) changes nothing.
    generation: AtomicU64,
    /// When the breaker last opened, in nanoseconds since `origin`.
    opened_at: AtomicU64,
    /// The probes left in this half-open spell, in the low 32 bits, and the
    /// spell's generation in the high 32: one compare-and-swap reserves a
    /// probe of this spell and no other.
    probes_left: AtomicU64,
    /// Probes of this spell that succeeded, packed like `probes_left`.
    probes_passed: AtomicU64,
    window: Mutex<Window>,
    origin: Instant,
    rate: f64,
    size: usize,
    minimum: usize,
    open_for: Duration,
    probes: u32,
    listeners: Vec<Listener>,
}

struct Window {
    /// The latest outcomes, `true` for a failure.
    outcomes: VecDeque<bool>,
    failures: usize,
}

/// Leave to make one call through a [`CircuitBreaker`]: report how it went
/// with [`success`](BreakerPermit::success) or
/// [`failure`](BreakerPermit::failure). Dropping it reports nothing (a
/// cancelled call says nothing about the dependency).
///
/// # Examples
///
/// ```
/// let breaker = herd::resilience::CircuitBreaker::builder().build();
/// let permit = breaker.try_acquire().unwrap();
/// permit.success();
/// ```
#[must_use = "report the call's outcome with success() or failure()"]
pub struct BreakerPermit {
    breaker: CircuitBreaker,
    generation: u64,
    probe: bool,
    settled: bool,
}

impl CircuitBreaker {
    /// A builder with the defaults: opens at a failure rate of 0.5 over the
    /// latest 100 calls once 20 have been made, stays open 30 s, then lets
    /// 3 probes through.
    ///
    /// # Examples
    ///
    /// ```
    /// let breaker = herd::resilience::CircuitBreaker::builder().build();
    /// assert_eq!(breaker.state(), herd::resilience::BreakerState::Closed);
    /// ```
    pub fn builder() -> BreakerBuilder {
        BreakerBuilder {
            rate: 0.5,
            window: 100,
            minimum: 20,
            open_for: Duration::from_secs(30),
            probes: 3,
            listeners: Vec::new(),
        }
    }

    /// The state now (an open breaker whose cool-down has ended reads as
    /// open until the next call half-opens it).
    ///
    /// # Examples
    ///
    /// ```
    /// let breaker = herd::resilience::CircuitBreaker::builder().minimum_calls(1).build();
    /// breaker.try_acquire().unwrap().failure();
    /// assert_eq!(breaker.state(), herd::resilience::BreakerState::Open);
    /// ```
    pub fn state(&self) -> BreakerState {
        state_of(self.inner.state.load(Ordering::Acquire))
    }

    /// Runs `call` if the breaker lets it through, and counts its outcome:
    /// `Ok` a success, `Err` a failure.
    ///
    /// # Errors
    ///
    /// [`BreakerError::Open`] without running `call`, or
    /// [`BreakerError::Failed`] with its error.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let breaker = herd::resilience::CircuitBreaker::builder().build();
    /// assert_eq!(breaker.call(async { Ok::<_, ()>(5) }).await, Ok(5));
    /// # }
    /// ```
    pub async fn call<F, T, E>(&self, call: F) -> Result<T, BreakerError<E>>
    where
        F: Future<Output = Result<T, E>>,
    {
        let permit = self
            .try_acquire()
            .map_err(|retry_after| BreakerError::Open { retry_after })?;
        match call.await {
            Ok(value) => {
                permit.success();
                Ok(value)
            }
            Err(error) => {
                permit.failure();
                Err(BreakerError::Failed(error))
            }
        }
    }

    /// Lets one call through, if the breaker allows it now.
    ///
    /// # Errors
    ///
    /// When refused: how long until probes are let through (`None` when
    /// half-open with every probe taken).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    ///
    /// let breaker = herd::resilience::CircuitBreaker::builder()
    ///     .minimum_calls(1)
    ///     .open_for(Duration::from_secs(30))
    ///     .build();
    /// breaker.try_acquire().unwrap().failure();
    /// tokio::time::advance(Duration::from_secs(10)).await;
    /// assert_eq!(breaker.try_acquire().err(), Some(Some(Duration::from_secs(20))));
    /// # }
    /// ```
    pub fn try_acquire(&self) -> Result<BreakerPermit, Option<Duration>> {
        let inner = &*self.inner;
        loop {
            let generation = inner.generation.load(Ordering::Acquire);
            match inner.state.load(Ordering::Acquire) {
                CLOSED => return Ok(self.permit(generation, false)),
                OPEN => {
                    let since = self
                        .now()
                        .saturating_sub(inner.opened_at.load(Ordering::Acquire));
                    let open_for = inner.open_for.as_nanos().min(u128::from(u64::MAX)) as u64;
                    if since < open_for {
                        return Err(Some(Duration::from_nanos(open_for - since)));
                    }
                    // The cool-down is over: one caller half-opens it.
                    self.transition(generation, OPEN, HALF_OPEN);
                }
                _ => {
                    let reserved = inner.probes_left.fetch_update(
                        Ordering::AcqRel,
                        Ordering::Acquire,
                        |packed| {
                            let (spell, left) = unpack(packed);
                            (spell == spell_of(generation) && left > 0).then(|| packed - 1)
                        },
                    );
                    match reserved {
                        Ok(_) => return Ok(self.permit(generation, true)),
                        // Every probe of this spell is out.
                        Err(packed) if unpack(packed).0 == spell_of(generation) => {
                            return Err(None);
                        }
                        // The state moved on since we looked: look again.
                        Err(_) => {}
                    }
                }
            }
        }
    }

    fn permit(&self, generation: u64, probe: bool) -> BreakerPermit {
        BreakerPermit {
            breaker: self.clone(),
            generation,
            probe,
            settled: false,
        }
    }

    fn now(&self) -> u64 {
        self.inner
            .origin
            .elapsed()
            .as_nanos()
            .min(u128::from(u64::MAX)) as u64
    }

    /// Moves from `from` to `to` if the breaker is still in `from` at
    /// `generation`; the winner sets the new state up and tells listeners.
    fn transition(&self, generation: u64, from: u8, to: u8) -> bool {
        let inner = &*self.inner;
        let mut window = lock(&inner.window);
        if inner.generation.load(Ordering::Acquire) != generation
            || inner.state.load(Ordering::Acquire) != from
        {
            return false;
        }
        match to {
            OPEN => inner.opened_at.store(self.now(), Ordering::Release),
            HALF_OPEN => {
                let spell = u64::from(spell_of(generation + 1)) << 32;
                inner.probes_passed.store(spell, Ordering::Release);
                inner
                    .probes_left
                    .store(spell | u64::from(inner.probes), Ordering::Release);
            }
            _ => {
                window.outcomes.clear();
                window.failures = 0;
            }
        }
        // The generation moves first: a caller that sees the new state then
        // sees the new generation too, so it never loops waiting for it.
        inner.generation.fetch_add(1, Ordering::AcqRel);
        inner.state.store(to, Ordering::Release);
        drop(window);
        for listener in &inner.listeners {
            listener(state_of(from), state_of(to));
        }
        true
    }

    /// Counts a closed-state outcome; opens the breaker if the rate is
    /// reached.
    fn record(&self, generation: u64, failed: bool) {
        let inner = &*self.inner;
        let open = {
            let mut window = lock(&inner.window);
            if inner.generation.load(Ordering::Acquire) != generation {
                return;
            }
            if window.outcomes.len() == inner.size && window.outcomes.pop_front() == Some(true) {
                window.failures -= 1;
            }
            window.outcomes.push_back(failed);
            window.failures += usize::from(failed);
            let calls = window.outcomes.len();
            failed && calls >= inner.minimum && window.failures as f64 >= inner.rate * calls as f64
        };
        if open {
            self.transition(generation, CLOSED, OPEN);
        }
    }
}

impl BreakerPermit {
    /// The call succeeded.
    ///
    /// # Examples
    ///
    /// ```
    /// let breaker = herd::resilience::CircuitBreaker::builder().minimum_calls(2).build();
    /// breaker.try_acquire().unwrap().failure();
    /// breaker.try_acquire().unwrap().success();
    /// // One failure in two calls is the default rate of 0.5, but the
    /// // success came last: only a failure can open the breaker.
    /// assert_eq!(breaker.state(), herd::resilience::BreakerState::Closed);
    /// ```
    pub fn success(mut self) {
        self.settled = true;
        let breaker = &self.breaker;
        if !self.probe {
            breaker.record(self.generation, false);
            return;
        }
        let inner = &*breaker.inner;
        let spell = spell_of(self.generation);
        let counted =
            inner
                .probes_passed
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |packed| {
                    (unpack(packed).0 == spell).then(|| packed + 1)
                });
        // A probe of a spell that has ended counts for nothing.
        if let Ok(before) = counted
            && unpack(before).1 + 1 == inner.probes
        {
            breaker.transition(self.generation, HALF_OPEN, CLOSED);
        }
    }

    /// The call failed.
    ///
    /// # Examples
    ///
    /// ```
    /// let breaker = herd::resilience::CircuitBreaker::builder().minimum_calls(1).build();
    /// breaker.try_acquire().unwrap().failure();
    /// assert!(breaker.try_acquire().is_err());
    /// ```
    pub fn failure(mut self) {
        self.settled = true;
        if self.probe {
            self.breaker.transition(self.generation, HALF_OPEN, OPEN);
        } else {
            self.breaker.record(self.generation, true);
        }
    }
}

impl Drop for BreakerPermit {
    fn drop(&mut self) {
        let inner = &*self.breaker.inner;
        // A probe abandoned without a verdict gives its place back, to its
        // own spell only.
        if self.probe && !self.settled {
            let spell = spell_of(self.generation);
            let _ = inner
                .probes_left
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |packed| {
                    (unpack(packed).0 == spell).then(|| packed + 1)
                });
        }
    }
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for BreakerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerBuilder")
            .field("failure_rate", &self.rate)
            .field("window", &self.window)
            .field("minimum_calls", &self.minimum)
            .field("open_for", &self.open_for)
            .field("probes", &self.probes)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for BreakerPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerPermit")
            .field("probe", &self.probe)
            .finish_non_exhaustive()
    }
}
