//! The parties that hold and wait: herd tasks (registered when spawned),
//! foreign tokio tasks and threads (registered when they first touch a
//! watched resource), and the coarse clock every record is stamped with.

use std::cell::{Cell, OnceCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::graph::Tracked;
use super::holds::HoldSet;
use super::report::{Party, PartyKind, PartyState, Site};

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Milliseconds since diagnostics started, advanced by the watchdog each
/// tick and by [`now`] callers that need it fresh: stamping a hold or a wait
/// costs a relaxed load, not a clock read.
static COARSE_MS: AtomicU64 = AtomicU64::new(0);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// The coarse time, as stamped on holds and waits.
pub(crate) fn stamp() -> u64 {
    COARSE_MS.load(Ordering::Relaxed)
}

/// Reads the clock and advances the coarse time.
pub(crate) fn tick() -> u64 {
    let now = epoch().elapsed().as_millis() as u64;
    COARSE_MS.fetch_max(now, Ordering::Relaxed);
    now
}

pub(crate) fn since(stamp: u64) -> Duration {
    Duration::from_millis(COARSE_MS.load(Ordering::Relaxed).saturating_sub(stamp))
}

/// A task or thread that can hold and wait.
pub(crate) struct Actor {
    pub(crate) party: Party,
    /// The herd task that spawned this one, if any.
    pub(crate) parent: Option<u64>,
    /// What it holds, keyed by resource id, for the lock-order check and
    /// dumps.
    pub(crate) held: HoldSet,
    /// What it waits for. Loom's lock under loom, so the models see the
    /// order it gives.
    pub(crate) state: crate::loom::Mutex<ActorState>,
    /// Herd tasks: bumped as each poll starts and ends, so odd while inside
    /// a poll. The watchdog samples it; a poll pays two relaxed adds.
    pub(crate) polls: AtomicU64,
    /// Coarse time the last poll ended.
    pub(crate) idle_since: AtomicU64,
    pub(crate) alive: AtomicBool,
}

#[derive(Default)]
pub(crate) struct ActorState {
    pub(crate) waiting: Option<Wait>,
}

pub(crate) struct Wait {
    pub(crate) tracked: Arc<Tracked>,
    pub(crate) at: Site,
    pub(crate) since: u64,
    /// The watchdog already reported this wait as stalled.
    pub(crate) reported: bool,
}

impl Actor {
    fn new(kind: PartyKind, name: Option<String>) -> Arc<Actor> {
        static IDS: AtomicU64 = AtomicU64::new(1);
        Arc::new(Actor {
            party: Party {
                id: IDS.fetch_add(1, Ordering::Relaxed),
                kind,
                name,
                scope: None,
                spawned_at: None,
            },
            parent: None,
            held: HoldSet::new(),
            state: crate::loom::Mutex::new(ActorState::default()),
            polls: AtomicU64::new(0),
            idle_since: AtomicU64::new(stamp()),
            alive: AtomicBool::new(true),
        })
    }

    pub(crate) fn state(&self) -> PartyState {
        if !self.alive.load(Ordering::Relaxed) {
            return PartyState::Finished;
        }
        if let Some(wait) = &crate::loom::lock(&self.state).waiting {
            return PartyState::Waiting {
                resource: wait.tracked.resource.clone(),
                waited: since(wait.since),
            };
        }
        if self.party.kind != PartyKind::Task || self.polls.load(Ordering::Relaxed) % 2 == 1 {
            return PartyState::Running;
        }
        PartyState::Idle {
            idle: since(self.idle_since.load(Ordering::Relaxed)),
        }
    }
}

/// Every live party, by id: herd tasks from spawn to end, foreign tasks
/// while they hold or wait, threads from first use to exit; and any of
/// them that ended still holding something (a forgotten guard), until it
/// is released. Holds name their holder by id and find it here.
static ACTORS: Mutex<Option<HashMap<u64, Arc<Actor>>>> = Mutex::new(None);

/// Foreign tokio tasks by tokio's id.
static FOREIGN: Mutex<Option<HashMap<tokio::task::Id, Arc<Actor>>>> = Mutex::new(None);

pub(crate) fn actors() -> Vec<Arc<Actor>> {
    lock(&ACTORS)
        .as_ref()
        .map(|all| all.values().cloned().collect())
        .unwrap_or_default()
}

/// The party with this id, if it is live or still holds something.
pub(crate) fn find(id: u64) -> Option<Arc<Actor>> {
    lock(&ACTORS).as_ref()?.get(&id).cloned()
}

fn register(actor: &Arc<Actor>) {
    lock(&ACTORS)
        .get_or_insert_with(HashMap::new)
        .insert(actor.party.id, actor.clone());
}

fn unregister(actor: &Actor) {
    if let Some(all) = lock(&ACTORS).as_mut() {
        all.remove(&actor.party.id);
    }
}

thread_local! {
    /// The herd task being polled on this thread, if any: set by
    /// [`Polling`] for the length of one poll. No destructor, so reading it
    /// is one load.
    static TASK: Cell<*const Actor> = const { Cell::new(ptr::null()) };
    /// This thread's party, once made (owned by `HERE`); null before, and
    /// again once `HERE` is torn down.
    static THREAD: Cell<*const Actor> = const { Cell::new(ptr::null()) };
    /// Owns this thread's party, and retires it when the thread exits.
    static HERE: Here = const { Here(OnceCell::new()) };
}

struct Here(OnceCell<Arc<Actor>>);

impl Drop for Here {
    fn drop(&mut self) {
        if let Some(actor) = self.0.get() {
            let _ = THREAD.try_with(|thread| thread.set(ptr::null()));
            retire(actor);
        }
    }
}

/// The herd task being polled here: a pointer into its `Arc<Actor>`, or
/// null.
///
/// Non-null only while a `Polling` guard lives: it points into the
/// `Arc<Actor>` of the `Traced` future being polled, which the guard
/// borrows, and the guard puts back the previous value when dropped
/// (unwinding included). Callers make a reference from it only for the
/// length of their own call, inside that poll.
#[inline]
fn task_here() -> *const Actor {
    TASK.try_with(Cell::get).unwrap_or(ptr::null())
}

/// This thread's party, once made and until torn down: a pointer into the
/// `Arc<Actor>` owned by this thread's `HERE`, set once it is made and
/// cleared before `HERE` lets go of it; or null.
#[inline]
fn thread_here() -> *const Actor {
    THREAD.try_with(Cell::get).unwrap_or(ptr::null())
}

/// Calls `f` with the party running now, if it is one already, without
/// making it one: the herd task being polled, else the tokio task, else
/// the thread.
#[inline]
pub(crate) fn with_existing<R>(f: impl FnOnce(Option<&Actor>) -> R) -> R {
    // SAFETY (both): see `task_here` and `thread_here`; the reference
    // lives only for the call to `f`.
    if let Some(task) = unsafe { task_here().as_ref() } {
        return f(Some(task));
    }
    if let Some(id) = tokio::task::try_id() {
        let foreign = lock(&FOREIGN)
            .as_ref()
            .and_then(|all| all.get(&id).cloned());
        return f(foreign.as_deref());
    }
    f(unsafe { thread_here().as_ref() })
}

/// Calls `f` with the party running now (the herd task being polled, else
/// the tokio task, else the thread), made a party on first use. The hot
/// path of every acquisition: for a herd task or a thread, a load or two
/// and nothing cloned; a foreign tokio task is looked up under a global
/// lock.
#[inline]
pub(crate) fn with_current<R>(f: impl FnOnce(&Actor) -> R) -> R {
    // SAFETY (both): see `task_here` and `thread_here`; the reference
    // lives only for the call to `f`.
    if let Some(task) = unsafe { task_here().as_ref() } {
        return f(task);
    }
    if let Some(id) = tokio::task::try_id() {
        return f(&foreign(id));
    }
    match unsafe { thread_here().as_ref() } {
        Some(thread) => f(thread),
        None => f(&this_thread()),
    }
}

/// The foreign tokio task with this id as a party, made on first use.
fn foreign(id: tokio::task::Id) -> Arc<Actor> {
    lock(&FOREIGN)
        .get_or_insert_with(HashMap::new)
        .entry(id)
        .or_insert_with(|| {
            let actor = Actor::new(PartyKind::TokioTask, None);
            register(&actor);
            actor
        })
        .clone()
}

/// This thread as a party, made and registered on first use.
#[cold]
fn this_thread() -> Arc<Actor> {
    HERE.try_with(|here| {
        here.0
            .get_or_init(|| {
                let name = std::thread::current().name().map(str::to_owned);
                let actor = Actor::new(PartyKind::Thread, name);
                register(&actor);
                let _ = THREAD.try_with(|thread| thread.set(Arc::as_ptr(&actor)));
                actor
            })
            .clone()
    })
    // The thread is exiting: a party of its own, unregistered.
    .unwrap_or_else(|_| Actor::new(PartyKind::Thread, None))
}

/// The party running now, as [`with_current`] finds it, cloned: for waits,
/// which keep it.
pub(crate) fn current() -> Arc<Actor> {
    let task = task_here();
    if !task.is_null() {
        // SAFETY: `task` came from `Arc::as_ptr` of a live `Arc<Actor>`
        // (see `task_here`), with the provenance of the whole allocation;
        // one more strong count is taken for the new `Arc`.
        return unsafe {
            Arc::increment_strong_count(task);
            Arc::from_raw(task)
        };
    }
    if let Some(id) = tokio::task::try_id() {
        return foreign(id);
    }
    this_thread()
}

/// A thread party of its own, registered, for the loom models (which run
/// every model thread on one OS thread, so thread-locals cannot tell them
/// apart).
#[cfg(all(test, loom))]
pub(crate) fn party_for_model(name: &str) -> Arc<Actor> {
    let actor = Actor::new(PartyKind::Thread, Some(name.to_owned()));
    register(&actor);
    actor
}

/// Marks a party ended, and forgets it at once if it holds and waits for
/// nothing; otherwise it stays findable (its holds name it) until its
/// last hold is released.
pub(crate) fn retire(actor: &Actor) {
    actor.alive.store(false, Ordering::Relaxed);
    forget_if_idle(actor);
}

/// After a hold of `actor`'s was released: forgets it if it ended and now
/// holds and waits for nothing, or if it is a foreign tokio task that
/// holds and waits for nothing (it may have ended, and nothing tells us).
///
/// An ending and a last release racing on two threads can each miss the
/// other's change; the watchdog forgets ended, idle parties each tick.
#[inline]
pub(crate) fn settle(actor: &Actor) {
    if actor.party.kind == PartyKind::TokioTask || !actor.alive.load(Ordering::Relaxed) {
        forget_if_idle(actor);
    }
}

/// Forgets `actor` if it holds and waits for nothing. A wait becomes a
/// hold (`Waiting::granted`) by recording the hold before clearing the
/// wait, so looking at the holds again under the state lock leaves no gap.
pub(crate) fn forget_if_idle(actor: &Actor) {
    if !actor.held.is_empty() {
        return;
    }
    let state = crate::loom::lock(&actor.state);
    if state.waiting.is_some() || !actor.held.is_empty() {
        return;
    }
    if actor.party.kind == PartyKind::TokioTask {
        let mut foreign = lock(&FOREIGN);
        if let Some(foreign) = foreign.as_mut() {
            foreign.retain(|_, other| other.party.id != actor.party.id);
        }
    }
    drop(state);
    unregister(actor);
}

/// Registers a herd task about to be spawned.
pub(crate) fn task(name: Option<&str>, scope: Option<&str>, at: Site) -> Arc<Actor> {
    // SAFETY: see `task_here`; used within this call only.
    let parent = unsafe { task_here().as_ref() }.map(|task| task.party.id);
    let mut actor = Actor::new(PartyKind::Task, name.map(str::to_owned));
    let inner = Arc::get_mut(&mut actor).expect("just made");
    inner.party.scope = scope.map(str::to_owned);
    inner.party.spawned_at = Some(at);
    inner.parent = parent;
    register(&actor);
    actor
}

pin_project_lite::pin_project! {
    /// A herd task's future, watched: each poll is counted for the watchdog
    /// and runs as this task's party. Without a party (diagnostics off when
    /// spawned) it only forwards.
    pub(crate) struct Traced<F> {
        actor: Option<Arc<Actor>>,
        #[pin]
        inner: F,
    }

    impl<F> PinnedDrop for Traced<F> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(actor) = &this.actor {
                retire(actor);
            }
        }
    }
}

impl<F> Traced<F> {
    pub(crate) fn new(actor: Option<Arc<Actor>>, inner: F) -> Self {
        Traced { actor, inner }
    }
}

impl<F: Future> Future for Traced<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let Some(actor) = this.actor else {
            return this.inner.poll(cx);
        };
        let _polling = Polling::start(actor);
        this.inner.poll(cx)
    }
}

/// One poll of a watched task: the task is the current party and its poll
/// count is odd until this is dropped, even if the poll panics.
struct Polling<'a> {
    actor: &'a Arc<Actor>,
    outer: *const Actor,
}

impl<'a> Polling<'a> {
    fn start(actor: &'a Arc<Actor>) -> Self {
        actor.polls.fetch_add(1, Ordering::Relaxed);
        let outer = TASK.with(|task| task.replace(Arc::as_ptr(actor)));
        Polling { actor, outer }
    }
}

impl Drop for Polling<'_> {
    fn drop(&mut self) {
        let _ = TASK.try_with(|task| task.set(self.outer));
        self.actor.idle_since.store(stamp(), Ordering::Relaxed);
        self.actor.polls.fetch_add(1, Ordering::Relaxed);
    }
}
