//! What diagnostics report: the parties (tasks and threads), the findings,
//! and where they go (`tracing`, and a ring of recent reports).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::panic::Location;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};

use crate::sync::Resource;

/// Where in the source something happened: `file:line:column`.
///
/// # Examples
///
/// ```
/// let here: herd::diag::Site = std::panic::Location::caller();
/// assert!(here.file().ends_with(".rs"));
/// ```
pub type Site = &'static Location<'static>;

fn site(at: &Site, s: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(s, "{}:{}:{}", at.file(), at.line(), at.column())
}

/// Serializes a [`Site`] as `"file:line:column"`.
pub(crate) fn serialize_site<S: Serializer>(at: &Site, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{}:{}:{}", at.file(), at.line(), at.column()))
}

fn serialize_opt_site<S: Serializer>(at: &Option<Site>, s: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serialize_site(at, s),
        None => s.serialize_none(),
    }
}

pub(crate) fn millis<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1e3)
}

impl Serialize for Resource {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_struct("Resource", 3)?;
        out.serialize_field("kind", self.kind())?;
        out.serialize_field("name", &self.name())?;
        out.serialize_field("level", &self.level())?;
        out.end()
    }
}

/// What kind of party a [`Party`] is.
///
/// # Examples
///
/// ```
/// herd::diag::enable();
/// let lock = herd::sync::Mutex::named("ex-kind", ());
/// let _held = lock.lock_blocking(); // on a plain thread
/// let dump = herd::diag::dump();
/// let r = dump.resources.iter().find(|r| r.resource.name() == Some("ex-kind")).unwrap();
/// assert_eq!(r.holders[0].party.kind, herd::diag::PartyKind::Thread);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartyKind {
    /// A task spawned in a herd [`Scope`](crate::task::Scope).
    Task,
    /// A tokio task spawned outside herd.
    TokioTask,
    /// An OS thread outside any task (blocking forms).
    Thread,
}

/// A task or thread, as reports name it.
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// let scope = herd::task::Scope::<(), ()>::builder().name("jobs").build();
/// herd::diag::enable();
/// scope.spawn_named("worker", std::future::pending()).await.unwrap();
/// tokio::task::yield_now().await;
/// let dump = herd::diag::dump();
/// let worker = dump.tasks.iter().find(|t| t.party.name.as_deref() == Some("worker")).unwrap();
/// assert_eq!(worker.party.kind, herd::diag::PartyKind::Task);
/// assert_eq!(worker.party.scope.as_deref(), Some("jobs"));
/// assert!(worker.party.to_string().starts_with("task \"worker\""));
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Party {
    /// Unique for the life of the process.
    pub id: u64,
    /// Task, tokio task or thread.
    pub kind: PartyKind,
    /// The task's or thread's name, if it has one.
    pub name: Option<String>,
    /// The name of the scope that owns the task, if it has one.
    pub scope: Option<String>,
    /// Where the task was spawned.
    #[serde(serialize_with = "serialize_opt_site")]
    pub spawned_at: Option<Site>,
}

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            PartyKind::Task => "task",
            PartyKind::TokioTask => "tokio task",
            PartyKind::Thread => "thread",
        };
        write!(f, "{kind}")?;
        if let Some(name) = &self.name {
            write!(f, " \"{name}\"")?;
        }
        write!(f, " (#{}", self.id)?;
        if let Some(scope) = &self.scope {
            write!(f, " in scope \"{scope}\"")?;
        }
        if let Some(at) = &self.spawned_at {
            write!(f, ", spawned at ")?;
            site(at, f)?;
        }
        write!(f, ")")
    }
}

/// One step of a [`Deadlock`]: a party waits for a resource another party
/// holds.
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// use herd::sync::{AcquireError, Mutex};
///
/// herd::diag::enable();
/// let lock = Mutex::named("ex-link", ());
/// let _held = lock.lock().await;
/// let err = lock.lock_timeout(std::time::Duration::from_secs(60)).await.unwrap_err();
/// let AcquireError::Deadlock { deadlock, .. } = err else { panic!("{err}") };
/// let link = &deadlock.cycle[0];
/// assert_eq!(link.resource.name(), Some("ex-link"));
/// assert_eq!(link.waiter, link.holder);
/// assert!(link.wait_at.line() > link.held_at.line());
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Link {
    /// Who waits.
    pub waiter: Party,
    /// For what.
    pub resource: Resource,
    /// Where the wait began.
    #[serde(serialize_with = "serialize_site")]
    pub wait_at: Site,
    /// Who holds it (may be the waiter itself).
    pub holder: Party,
    /// Where the holder acquired it.
    #[serde(serialize_with = "serialize_site")]
    pub held_at: Site,
}

/// A cycle of waits that can never end: each party waits for a resource the
/// next one holds, and the last waits for the first.
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// use herd::sync::{AcquireError, Semaphore};
///
/// herd::diag::enable();
/// let pool = Semaphore::named("pool", 1);
/// let _mine = pool.acquire().await.unwrap();
/// // Waiting for a permit this task already holds the last of.
/// let err = pool.acquire().await.unwrap_err();
/// let AcquireError::Deadlock { deadlock, .. } = err else { panic!("{err}") };
/// assert_eq!(deadlock.cycle.len(), 1);
/// assert_eq!(deadlock.cycle[0].resource.name(), Some("pool"));
/// assert_eq!(deadlock.cycle[0].waiter, deadlock.cycle[0].holder);
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Deadlock {
    /// The waits, in order: `cycle[i].holder` is `cycle[i + 1].waiter`, and
    /// the last holder is the first waiter.
    pub cycle: Vec<Link>,
}

impl fmt::Display for Deadlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "deadlock: ")?;
        for (i, link) in self.cycle.iter().enumerate() {
            if i > 0 {
                write!(f, "; ")?;
            }
            write!(f, "{} waits for {} at ", link.waiter, link.resource)?;
            site(&link.wait_at, f)?;
            if link.holder == link.waiter {
                write!(f, ", which it already holds since ")?;
            } else {
                write!(f, ", held by {} since ", link.holder.name_or_id())?;
            }
            site(&link.held_at, f)?;
        }
        Ok(())
    }
}

impl Party {
    /// The short form used after a party was named once in a report.
    fn name_or_id(&self) -> String {
        match &self.name {
            Some(name) => format!("\"{name}\" (#{})", self.id),
            None => format!("#{}", self.id),
        }
    }
}

/// Which rule a [`LockOrder`] report broke.
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// use herd::diag::{OrderRule, Report};
/// use herd::sync::Mutex;
///
/// herd::diag::enable();
/// let outer = Mutex::named("ex-outer", ()).with_level(2);
/// let inner = Mutex::named("ex-inner", ()).with_level(1);
/// let _outer = outer.lock().await;
/// let _inner = inner.lock().await; // level 1 after level 2
/// assert!(herd::diag::recent().iter().any(|r| matches!(r,
///     Report::LockOrder(o) if o.rule == OrderRule::Level { held: 2, acquiring: 1 })));
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum OrderRule {
    /// Both resources carry a level, and the one taken second has a level
    /// no higher than the one held.
    Level {
        /// The held resource's level.
        held: u32,
        /// The level of the one being acquired.
        acquiring: u32,
    },
    /// Earlier, the two were taken in the opposite order (possibly through
    /// others in between): run both paths at once and they can deadlock.
    Inversion {
        /// Where the opposite order was first seen: the first lock taken.
        #[serde(serialize_with = "serialize_site")]
        first_at: Site,
        /// ... and the second.
        #[serde(serialize_with = "serialize_site")]
        then_at: Site,
    },
}

/// A resource acquired out of order while another is held: a deadlock that
/// did not happen this time, but can.
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// use herd::diag::{self, OrderRule, Report};
/// use herd::sync::Mutex;
///
/// diag::enable();
/// let (a, b) = (Mutex::named("order-a", ()), Mutex::named("order-b", ()));
/// {
///     let _a = a.lock().await;
///     let _b = b.lock().await; // learned: a, then b
/// }
/// let _b = b.lock().await;
/// let _a = a.lock().await; // b, then a: reported
/// let found = diag::recent().into_iter().any(|r| matches!(r,
///     Report::LockOrder(o) if o.held.name() == Some("order-b")
///         && o.acquiring.name() == Some("order-a")
///         && matches!(o.rule, OrderRule::Inversion { .. })));
/// assert!(found);
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LockOrder {
    /// Who acquired out of order.
    pub party: Party,
    /// What it held.
    pub held: Resource,
    /// Where it acquired that.
    #[serde(serialize_with = "serialize_site")]
    pub held_at: Site,
    /// What it acquired while holding it.
    pub acquiring: Resource,
    /// Where.
    #[serde(serialize_with = "serialize_site")]
    pub acquiring_at: Site,
    /// The rule broken.
    #[serde(flatten)]
    pub rule: OrderRule,
}

impl fmt::Display for LockOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "lock order: {} acquired {} at ",
            self.party, self.acquiring
        )?;
        site(&self.acquiring_at, f)?;
        write!(f, " while holding {} (acquired at ", self.held)?;
        site(&self.held_at, f)?;
        match &self.rule {
            OrderRule::Level { held, acquiring } => write!(
                f,
                "): level {acquiring} after level {held}; levels must rise"
            ),
            OrderRule::Inversion { first_at, then_at } => {
                write!(f, "); the opposite order was taken at ")?;
                site(first_at, f)?;
                write!(f, " then ")?;
                site(then_at, f)?;
                write!(f, ": the two paths can deadlock")
            }
        }
    }
}

/// A task whose single poll ran longer than the threshold: it blocked the
/// worker thread (CPU work or a blocking call inside async code).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use herd::diag::{Config, Report};
///
/// herd::diag::enable_with(Config::default().slow_poll(Duration::from_millis(20)));
/// let rt = tokio::runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let scope = herd::task::Scope::<(), ()>::new();
///     scope.spawn_named("ex-blocker", async {
///         std::thread::sleep(Duration::from_millis(200)); // blocks its worker
///         Ok(())
///     }).await.unwrap();
///     scope.join().await.unwrap();
/// });
/// let until = std::time::Instant::now() + Duration::from_secs(5);
/// let slow = loop {
///     let found = herd::diag::recent().into_iter().find_map(|r| match r {
///         Report::SlowPoll(s) => Some(s),
///         _ => None,
///     });
///     if let Some(slow) = found.or_else(|| (std::time::Instant::now() > until).then(|| panic!())) {
///         break slow;
///     }
///     std::thread::sleep(Duration::from_millis(5));
/// };
/// assert_eq!(slow.task.name.as_deref(), Some("ex-blocker"));
/// assert!(slow.running >= Duration::from_millis(20));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SlowPoll {
    /// The task.
    pub task: Party,
    /// How long the poll had run when the watchdog saw it.
    #[serde(serialize_with = "millis", rename = "running_ms")]
    pub running: Duration,
}

impl fmt::Display for SlowPoll {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "blocking: {} has been inside one poll for {:?}; move blocking or CPU work to a thread",
            self.task, self.running
        )
    }
}

/// What a party is doing, as a dump or report shows it.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use herd::sync::Mutex;
/// use herd::task::Scope;
///
/// herd::diag::enable();
/// let lock = std::sync::Arc::new(Mutex::named("ex-lock", ()));
/// let held = lock.lock().await;
/// let scope = Scope::<(), ()>::builder().name("ex").build();
/// let waiter = lock.clone();
/// scope.spawn_named("ex-waiter", async move { drop(waiter.lock().await); Ok(()) }).await.unwrap();
/// tokio::task::yield_now().await;
/// let dump = herd::diag::dump();
/// let r = dump.resources.iter().find(|r| r.resource.name() == Some("ex-lock")).unwrap();
/// // The test's own thread holds the lock and is running this code.
/// assert_eq!(r.holders[0].state, herd::diag::PartyState::Running);
/// drop(held);
/// scope.join().await.unwrap();
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum PartyState {
    /// Inside a poll (tasks) or running (threads).
    Running,
    /// Waiting for a herd resource.
    Waiting {
        /// For what.
        resource: Resource,
        /// How long so far.
        #[serde(serialize_with = "millis", rename = "for_ms")]
        waited: Duration,
    },
    /// A task between polls, not waiting for any herd resource (for I/O, a
    /// timer, a channel, ...).
    Idle {
        /// Since its last poll ended.
        #[serde(serialize_with = "millis", rename = "for_ms")]
        idle: Duration,
    },
    /// The task has ended. A finished task that still holds a resource
    /// leaked it (a forgotten guard).
    Finished,
}

impl fmt::Display for PartyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartyState::Running => write!(f, "running"),
            PartyState::Waiting { resource, waited } => {
                write!(f, "waiting for {resource} for {waited:?}")
            }
            PartyState::Idle { idle } => write!(f, "idle for {idle:?}"),
            PartyState::Finished => write!(f, "finished"),
        }
    }
}

/// A holder of a resource, as reports and dumps show it.
///
/// # Examples
///
/// ```
/// herd::diag::enable();
/// let pool = herd::sync::Semaphore::named("ex-holding", 3);
/// let _two = pool.try_acquire_many(2).unwrap();
/// let dump = herd::diag::dump();
/// let r = dump.resources.iter().find(|r| r.resource.name() == Some("ex-holding")).unwrap();
/// let holding = &r.holders[0];
/// assert_eq!((holding.permits, holding.owned), (2, false));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Holding {
    /// Who holds it.
    pub party: Party,
    /// What that party is doing now.
    pub state: PartyState,
    /// Permits held (1 for a mutex or a reader).
    pub permits: usize,
    /// Where it acquired them.
    #[serde(serialize_with = "serialize_site")]
    pub at: Site,
    /// For how long.
    #[serde(serialize_with = "millis", rename = "for_ms")]
    pub held: Duration,
    /// Held through an owned permit, which may have moved to another task.
    pub owned: bool,
}

impl fmt::Display for Holding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, {}, held {:?} since ",
            self.party, self.state, self.held
        )?;
        site(&self.at, f)?;
        if self.owned {
            write!(f, " (owned permit: may have moved)")?;
        }
        if self.state == PartyState::Finished {
            write!(f, " - leaked: a guard was forgotten")?;
        }
        Ok(())
    }
}

/// A wait that has lasted longer than the threshold, with who holds what it
/// waits for and what they are doing: a lock held across a slow `.await`,
/// or a permit leaked by a task that ended.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use herd::diag::{Config, Report};
///
/// herd::diag::enable_with(Config::default().stalled_wait(Duration::from_millis(50)));
/// let lock = herd::sync::Mutex::named("ex-stalled", ());
/// let held = lock.lock_blocking();
/// std::thread::scope(|s| {
///     // Another thread waits longer than the threshold, then gives up.
///     s.spawn(|| lock.lock_blocking_timeout(Duration::from_millis(500)).is_err());
/// });
/// drop(held);
/// let stalled = herd::diag::recent().into_iter().find_map(|r| match r {
///     Report::Stalled(s) if s.resource.name() == Some("ex-stalled") => Some(s),
///     _ => None,
/// });
/// let stalled = stalled.expect("a 500 ms wait over a 50 ms threshold is reported");
/// assert_eq!(stalled.holders.len(), 1);
/// assert!(stalled.waited >= Duration::from_millis(50));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Stalled {
    /// Who waits.
    pub waiter: Party,
    /// For what.
    pub resource: Resource,
    /// Where the wait began.
    #[serde(serialize_with = "serialize_site")]
    pub wait_at: Site,
    /// For how long so far.
    #[serde(serialize_with = "millis", rename = "waited_ms")]
    pub waited: Duration,
    /// Who holds the resource.
    pub holders: Vec<Holding>,
}

impl fmt::Display for Stalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stalled: {} has waited {:?} for {} at ",
            self.waiter, self.waited, self.resource
        )?;
        site(&self.wait_at, f)?;
        if self.holders.is_empty() {
            return write!(f, "; no holder is known");
        }
        write!(f, "; held by ")?;
        for (i, holding) in self.holders.iter().enumerate() {
            if i > 0 {
                write!(f, "; and by ")?;
            }
            write!(f, "{holding}")?;
        }
        Ok(())
    }
}

/// A periodic tick ran late: something kept the runtime's threads busy.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// use herd::diag::Report;
///
/// herd::diag::enable();
/// let _monitor = herd::diag::watch_lag(Duration::from_millis(5), Duration::from_millis(50));
/// tokio::time::sleep(Duration::from_millis(10)).await;
/// std::thread::sleep(Duration::from_millis(200));
/// tokio::time::sleep(Duration::from_millis(10)).await;
/// let lag = herd::diag::recent().into_iter().find_map(|r| match r {
///     Report::Lag(lag) => Some(lag),
///     _ => None,
/// }).unwrap();
/// assert_eq!(lag.period, Duration::from_millis(5));
/// assert!(lag.to_string().contains("late"));
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Lag {
    /// How late the tick ran.
    #[serde(serialize_with = "millis", rename = "late_ms")]
    pub late: Duration,
    /// The tick's period.
    #[serde(serialize_with = "millis", rename = "period_ms")]
    pub period: Duration,
}

impl fmt::Display for Lag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "event loop lag: a {:?} tick ran {:?} late; something blocked the runtime",
            self.period, self.late
        )
    }
}

/// One finding of the diagnostics.
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// use herd::diag::Report;
///
/// herd::diag::enable();
/// let lock = herd::sync::Mutex::named("ex-report", ());
/// let _held = lock.lock().await;
/// let _ = lock.lock_timeout(std::time::Duration::from_secs(60)).await;
/// let report = herd::diag::recent().into_iter()
///     .find(|r| matches!(r, Report::Deadlock(_)))
///     .unwrap();
/// assert!(report.to_string().starts_with("deadlock: "));
/// assert!(serde_json::to_string(&report).unwrap().contains("\"report\":\"deadlock\""));
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "report")]
pub enum Report {
    /// A cycle of waits that can never end.
    Deadlock(Arc<Deadlock>),
    /// Resources acquired out of order.
    LockOrder(LockOrder),
    /// A task blocked its worker thread.
    SlowPoll(SlowPoll),
    /// A wait that has lasted too long, with its holders.
    Stalled(Stalled),
    /// The runtime's threads were kept busy.
    Lag(Lag),
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Report::Deadlock(r) => r.fmt(f),
            Report::LockOrder(r) => r.fmt(f),
            Report::SlowPoll(r) => r.fmt(f),
            Report::Stalled(r) => r.fmt(f),
            Report::Lag(r) => r.fmt(f),
        }
    }
}

/// How many reports [`recent`](super::recent) keeps.
const KEPT: usize = 1024;

static RECENT: Mutex<VecDeque<Report>> = Mutex::new(VecDeque::new());

thread_local! {
    /// How many [`HeldBack`] guards this thread has alive.
    static HOLDING_BACK: Cell<usize> = const { Cell::new(0) };
    /// Whether `HELD` has anything in it: the common case never reads it.
    static ANY_HELD: Cell<bool> = const { Cell::new(false) };
    /// Reports made while a guard was alive, in the order they were made.
    static HELD: RefCell<Vec<Report>> = const { RefCell::new(Vec::new()) };
}

/// Holds this thread's reports back until the guard is dropped (the
/// outermost one, when nested), then emits them in order. Taken before one
/// of herd's internal locks and dropped after it, so a `tracing` subscriber
/// that takes a herd lock while handling a report never runs while this
/// thread holds that lock's internals (which would deadlock it).
pub(crate) struct HeldBack {
    /// Not `Send`: the count it undoes is this thread's.
    _thread: PhantomData<*const ()>,
}

/// Starts holding this thread's reports back; see [`HeldBack`].
#[inline]
pub(crate) fn hold_back() -> HeldBack {
    HOLDING_BACK.with(|n| n.set(n.get() + 1));
    HeldBack {
        _thread: PhantomData,
    }
}

impl Drop for HeldBack {
    #[inline]
    fn drop(&mut self) {
        let left = HOLDING_BACK.with(|n| {
            n.set(n.get() - 1);
            n.get()
        });
        if left == 0 && ANY_HELD.with(|any| any.replace(false)) {
            release_held();
        }
    }
}

#[cold]
#[inline(never)]
fn release_held() {
    // Taken out first: a subscriber may make reports of its own.
    let held = HELD
        .try_with(|held| std::mem::take(&mut *held.borrow_mut()))
        .unwrap_or_default();
    held.into_iter().for_each(emit_now);
}

/// Logs `report` through `tracing` and keeps it for
/// [`recent`](super::recent); while a [`HeldBack`] guard is alive on this
/// thread, once the last one is dropped.
pub(crate) fn emit(report: Report) {
    if HOLDING_BACK.with(Cell::get) == 0 {
        return emit_now(report);
    }
    let mut report = Some(report);
    let kept = HELD.try_with(|held| held.borrow_mut().extend(report.take()));
    if kept.is_ok() {
        ANY_HELD.with(|any| any.set(true));
    } else if let Some(report) = report {
        // The thread is ending: nothing will be released later.
        emit_now(report);
    }
}

fn emit_now(report: Report) {
    match &report {
        Report::Deadlock(_) => tracing::error!(target: "herd::diag", "{report}"),
        _ => tracing::warn!(target: "herd::diag", "{report}"),
    }
    let mut recent = RECENT.lock().unwrap_or_else(|e| e.into_inner());
    if recent.len() == KEPT {
        recent.pop_front();
    }
    recent.push_back(report);
}

pub(crate) fn recent() -> Vec<Report> {
    let recent = RECENT.lock().unwrap_or_else(|e| e.into_inner());
    recent.iter().cloned().collect()
}
