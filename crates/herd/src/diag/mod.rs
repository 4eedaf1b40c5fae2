//! Diagnostics that explain a hang: who holds what, who waits for what,
//! deadlocks named the moment they form, locks taken out of order, tasks
//! that block their thread, and a dump of it all.
//!
//! # When to use it
//!
//! Switch it on with [`enable`] (or `HERD_DIAG=1` in the environment) in
//! development, in tests, or in production while you chase a hang. Then:
//!
//! - A wait on herd's [`Mutex`](crate::sync::Mutex),
//!   [`RwLock`](crate::sync::RwLock) or [`Semaphore`](crate::sync::Semaphore)
//!   that would close a cycle (two tasks each holding what the other wants,
//!   three in a ring, a task waiting for a lock it holds) is refused at
//!   once with [`AcquireError::Deadlock`](crate::sync::AcquireError::Deadlock),
//!   naming every task and lock in the cycle with where each was acquired.
//!   Forms that cannot fail (`lock().await`) panic with that report
//!   instead of hanging forever; or choose [`OnDeadlock`] to only log.
//! - Locks taken out of order are reported as [`LockOrder`]: against
//!   levels you give ([`Mutex::with_level`](crate::sync::Mutex::with_level)),
//!   and, like Linux's lockdep, against the order herd has seen: after `a`
//!   then `b`, the first `b` then `a` is reported even if that run did not
//!   hang.
//! - A herd task whose single poll runs longer than a threshold (10 ms by
//!   default) is reported as [`SlowPoll`] with its name and spawn site; a
//!   wait that lasts longer than another (1 s) as [`Stalled`], with who
//!   holds the resource and what they are doing (idle across an `.await`,
//!   waiting for something else, or finished: a leaked guard).
//!   [`watch_lag`] reports how late a periodic tick runs.
//! - [`dump`] shows the live tree of tasks, what each holds and waits for
//!   and since when, as text or JSON: print it on a signal in a hung
//!   service.
//!
//! Reports go to `tracing` (target `herd::diag`: deadlocks at `error`, the
//! rest at `warn`) and to [`recent`].
//!
//! Off, each acquisition and release pays one relaxed atomic load and each
//! poll of a herd task a branch. On, an uncontended lock and unlock costs a
//! few tens of nanoseconds more (BENCHMARKS.md), and each wait is checked
//! under one global lock.
//!
//! # What it sees, and what it does not
//!
//! Parties are herd tasks (named, with their scope and spawn site), other
//! tokio tasks (by tokio's id), and threads. Holds are keyed by the party
//! that acquired them: a guard moved to another task is still charged to
//! the first until released. Owned permits
//! ([`Semaphore::acquire_owned`](crate::sync::Semaphore::acquire_owned))
//! move by design, so they never count as proof of a deadlock. Waits
//! outside herd's locks (a channel, I/O, a std mutex) are not in the
//! graph: a cycle through them is not detected, though [`Stalled`] and
//! [`dump`] still show who holds the herd lock and that it is idle.
//!
//! Use something else for: data races (Miri, ThreadSanitizer),
//! per-future stack traces (tokio's task dumps under `tokio_unstable`),
//! metrics over time (tokio-metrics, tokio-console).
//!
//! # Examples
//!
//! ```
//! # #[tokio::main]
//! # async fn main() {
//! use std::sync::Arc;
//! use herd::sync::{AcquireError, Mutex};
//! use herd::task::Scope;
//!
//! herd::diag::enable();
//! let a = Arc::new(Mutex::named("abba-a", ()));
//! let b = Arc::new(Mutex::named("abba-b", ()));
//! let gate = Arc::new(tokio::sync::Barrier::new(2));
//! let scope = Scope::<(), AcquireError>::builder().name("bank").build();
//! for (name, first, second) in [("a-then-b", &a, &b), ("b-then-a", &b, &a)] {
//!     let (first, second, gate) = (first.clone(), second.clone(), gate.clone());
//!     scope.spawn_named(name, async move {
//!         let _first = first.lock().await;
//!         gate.wait().await; // both hold their first lock
//!         let _second = second.lock_timeout(std::time::Duration::from_secs(60)).await?;
//!         Ok(())
//!     }).await.unwrap();
//! }
//! // One of the two closes the cycle and is refused at once.
//! let err = scope.join().await.unwrap_err();
//! let text = err.to_string();
//! assert!(text.contains("deadlock"), "{text}");
//! assert!(text.contains("abba-a") && text.contains("abba-b"), "{text}");
//! # }
//! ```

use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

mod actor;
mod dump;
pub(crate) mod graph;
mod holds;
#[cfg(all(test, loom))]
mod loom_tests;
mod report;
mod watch;

pub(crate) use actor::{Traced, task};
pub use dump::{Dump, HeldDump, ResourceDump, TaskDump, WaitDump};
pub(crate) use report::hold_back;
pub use report::{
    Deadlock, Holding, Lag, Link, LockOrder, OrderRule, Party, PartyKind, PartyState, Report, Site,
    SlowPoll, Stalled,
};
pub use watch::{LagMonitor, watch_lag};

/// What a wait that would close a deadlock does.
///
/// # Examples
///
/// ```
/// use herd::diag::{Config, OnDeadlock};
///
/// let config = Config::default().on_deadlock(OnDeadlock::Panic);
/// assert_eq!(config.deadlock_policy(), OnDeadlock::Panic);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnDeadlock {
    /// Fallible forms (`acquire`, `try_`/`_timeout` forms) return
    /// [`AcquireError::Deadlock`](crate::sync::AcquireError::Deadlock);
    /// forms that cannot fail (`lock().await`, `read`, `write`,
    /// `lock_blocking`) panic with the report, since they could only hang.
    #[default]
    Error,
    /// Every form panics with the report.
    Panic,
    /// The report is logged and the wait goes ahead (and hangs).
    Log,
}

/// Thresholds and choices for the diagnostics, given to [`enable_with`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use herd::diag::Config;
///
/// let config = Config::default().slow_poll(Duration::from_millis(50));
/// assert_eq!(config.slow_poll_threshold(), Duration::from_millis(50));
/// assert_eq!(config.stalled_wait_threshold(), Duration::from_secs(1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    slow_poll: Duration,
    stalled_wait: Duration,
    on_deadlock: OnDeadlock,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            slow_poll: Duration::from_millis(10),
            stalled_wait: Duration::from_secs(1),
            on_deadlock: OnDeadlock::Error,
        }
    }
}

impl Config {
    /// A herd task whose single poll runs longer than this is reported as
    /// [`SlowPoll`]. Default 10 ms. The watchdog looks four times per
    /// threshold (at most every 50 ms), so a poll longer than 1.25 times the
    /// threshold is always caught.
    ///
    /// # Panics
    ///
    /// If `threshold` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = herd::diag::Config::default().slow_poll(std::time::Duration::from_millis(5));
    /// assert_eq!(config.slow_poll_threshold().as_millis(), 5);
    /// ```
    pub fn slow_poll(mut self, threshold: Duration) -> Self {
        assert!(
            !threshold.is_zero(),
            "the slow-poll threshold must not be zero"
        );
        self.slow_poll = threshold;
        self
    }

    /// A wait for a herd resource lasting longer than this is reported as
    /// [`Stalled`], once. Default 1 s.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = herd::diag::Config::default().stalled_wait(std::time::Duration::from_millis(200));
    /// assert_eq!(config.stalled_wait_threshold().as_millis(), 200);
    /// ```
    pub fn stalled_wait(mut self, threshold: Duration) -> Self {
        self.stalled_wait = threshold;
        self
    }

    /// What a wait that would close a deadlock does. Default
    /// [`OnDeadlock::Error`].
    ///
    /// # Examples
    ///
    /// ```
    /// use herd::diag::{Config, OnDeadlock};
    /// assert_eq!(Config::default().on_deadlock(OnDeadlock::Log).deadlock_policy(), OnDeadlock::Log);
    /// ```
    pub fn on_deadlock(mut self, policy: OnDeadlock) -> Self {
        self.on_deadlock = policy;
        self
    }

    /// See [`slow_poll`](Config::slow_poll).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::diag::Config::default().slow_poll_threshold().as_millis(), 10);
    /// ```
    pub fn slow_poll_threshold(&self) -> Duration {
        self.slow_poll
    }

    /// See [`stalled_wait`](Config::stalled_wait).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::diag::Config::default().stalled_wait_threshold().as_secs(), 1);
    /// ```
    pub fn stalled_wait_threshold(&self) -> Duration {
        self.stalled_wait
    }

    /// See [`on_deadlock`](Config::on_deadlock).
    ///
    /// # Examples
    ///
    /// ```
    /// use herd::diag::{Config, OnDeadlock};
    /// assert_eq!(Config::default().deadlock_policy(), OnDeadlock::Error);
    /// ```
    pub fn deadlock_policy(&self) -> OnDeadlock {
        self.on_deadlock
    }
}

static ON: AtomicBool = AtomicBool::new(false);
static SLOW_POLL_US: AtomicU64 = AtomicU64::new(10_000);
static STALLED_WAIT_US: AtomicU64 = AtomicU64::new(1_000_000);
static ON_DEADLOCK: AtomicU8 = AtomicU8::new(0);
static WATCHDOG: Once = Once::new();

/// Whether diagnostics are on: the one check every operation pays.
#[inline]
pub(crate) fn on() -> bool {
    #[cfg(loom)]
    return false;
    #[cfg(not(loom))]
    ON.load(Ordering::Relaxed)
}

/// Switches diagnostics on if `HERD_DIAG` is set to anything but `0` or
/// empty; looked up once, when the first resource or scope is made.
pub(crate) fn from_env() {
    static CHECKED: Once = Once::new();
    CHECKED.call_once(|| {
        if std::env::var_os("HERD_DIAG").is_some_and(|v| !v.is_empty() && v != "0") {
            enable();
        }
    });
}

pub(crate) fn slow_poll() -> Duration {
    Duration::from_micros(SLOW_POLL_US.load(Ordering::Relaxed))
}

pub(crate) fn stalled_wait() -> Duration {
    Duration::from_micros(STALLED_WAIT_US.load(Ordering::Relaxed))
}

pub(crate) fn on_deadlock() -> OnDeadlock {
    match ON_DEADLOCK.load(Ordering::Relaxed) {
        0 => OnDeadlock::Error,
        1 => OnDeadlock::Panic,
        _ => OnDeadlock::Log,
    }
}

/// Switches diagnostics on for the rest of the process, with the default
/// [`Config`]. Tasks spawned and waits begun from now on are watched;
/// calling it again changes nothing.
///
/// # Examples
///
/// ```
/// herd::diag::enable();
/// assert!(herd::diag::is_enabled());
/// ```
pub fn enable() {
    if !is_enabled() {
        enable_with(Config::default());
    }
}

/// Switches diagnostics on with `config`, or changes the config if they are
/// on already.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// herd::diag::enable_with(herd::diag::Config::default().stalled_wait(Duration::from_secs(5)));
/// assert!(herd::diag::is_enabled());
/// ```
pub fn enable_with(config: Config) {
    SLOW_POLL_US.store(config.slow_poll.as_micros() as u64, Ordering::Relaxed);
    STALLED_WAIT_US.store(config.stalled_wait.as_micros() as u64, Ordering::Relaxed);
    let policy = match config.on_deadlock {
        OnDeadlock::Error => 0,
        OnDeadlock::Panic => 1,
        OnDeadlock::Log => 2,
    };
    ON_DEADLOCK.store(policy, Ordering::Relaxed);
    actor::tick();
    ON.store(true, Ordering::Relaxed);
    WATCHDOG.call_once(watch::start);
}

/// Whether diagnostics are on.
///
/// # Examples
///
/// ```
/// herd::diag::enable();
/// assert!(herd::diag::is_enabled());
/// ```
pub fn is_enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// The reports made so far, oldest first (the last 1024 are kept).
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// use herd::diag::Report;
/// use herd::sync::Mutex;
///
/// herd::diag::enable();
/// let m = Mutex::named("recent-self", ());
/// let _held = m.lock().await;
/// assert!(m.lock_timeout(std::time::Duration::from_secs(1)).await.is_err());
/// assert!(herd::diag::recent().iter().any(|r| matches!(r, Report::Deadlock(d)
///     if d.cycle[0].resource.name() == Some("recent-self"))));
/// # }
/// ```
pub fn recent() -> Vec<Report> {
    report::recent()
}

/// A snapshot of every live herd task and every resource with holders or
/// waiters. Empty while diagnostics are off.
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// let scope = herd::task::Scope::<(), ()>::builder().name("dumped").build();
/// herd::diag::enable();
/// scope.spawn_named("sleeper", std::future::pending()).await.unwrap();
/// tokio::task::yield_now().await;
/// let text = herd::diag::dump().to_string();
/// assert!(text.contains("task \"sleeper\""), "{text}");
/// assert!(text.contains("in scope \"dumped\""), "{text}");
/// # }
/// ```
pub fn dump() -> Dump {
    dump::dump()
}
