//! The parties that hold and wait: herd tasks (registered when spawned),
//! foreign tokio tasks and threads (registered when they first touch a
//! watched resource), and the coarse clock every record is stamped with.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::graph::Tracked;
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
    pub(crate) state: Mutex<ActorState>,
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
    /// What it holds, oldest first, for the lock-order check.
    pub(crate) held: Vec<Held>,
}

pub(crate) struct Wait {
    pub(crate) tracked: Arc<Tracked>,
    pub(crate) at: Site,
    pub(crate) since: u64,
    /// The watchdog already reported this wait as stalled.
    pub(crate) reported: bool,
}

pub(crate) struct Held {
    pub(crate) tracked: Arc<Tracked>,
    pub(crate) at: Site,
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
            state: Mutex::default(),
            polls: AtomicU64::new(0),
            idle_since: AtomicU64::new(stamp()),
            alive: AtomicBool::new(true),
        })
    }

    pub(crate) fn state(&self) -> PartyState {
        if !self.alive.load(Ordering::Relaxed) {
            return PartyState::Finished;
        }
        if let Some(wait) = &lock(&self.state).waiting {
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
/// and threads while they hold or wait.
static ACTORS: Mutex<Option<HashMap<u64, Arc<Actor>>>> = Mutex::new(None);

/// Foreign tokio tasks by tokio's id.
static FOREIGN: Mutex<Option<HashMap<tokio::task::Id, Arc<Actor>>>> = Mutex::new(None);

pub(crate) fn actors() -> Vec<Arc<Actor>> {
    lock(&ACTORS)
        .as_ref()
        .map(|all| all.values().cloned().collect())
        .unwrap_or_default()
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
    /// The herd task being polled on this thread, if any.
    static CURRENT: RefCell<Option<Arc<Actor>>> = const { RefCell::new(None) };
    /// This thread as a party, made on first use.
    static THREAD: ThreadActor = const { ThreadActor(OnceLock::new()) };
}

struct ThreadActor(OnceLock<Arc<Actor>>);

impl Drop for ThreadActor {
    fn drop(&mut self) {
        if let Some(actor) = self.0.get() {
            actor.alive.store(false, Ordering::Relaxed);
            unregister(actor);
        }
    }
}

/// The id of the party running now, without making it a party if it is
/// not one yet.
pub(crate) fn current_id() -> Option<u64> {
    if let Some(id) = CURRENT.with(|current| current.borrow().as_ref().map(|a| a.party.id)) {
        return Some(id);
    }
    if let Some(id) = tokio::task::try_id() {
        let foreign = lock(&FOREIGN);
        return foreign.as_ref()?.get(&id).map(|a| a.party.id);
    }
    THREAD
        .try_with(|me| me.0.get().map(|a| a.party.id))
        .ok()
        .flatten()
}

/// The party running now: the herd task being polled, else the tokio task,
/// else the thread.
pub(crate) fn current() -> Arc<Actor> {
    if let Some(task) = CURRENT.with(|current| current.borrow().clone()) {
        return task;
    }
    if let Some(id) = tokio::task::try_id() {
        let mut foreign = lock(&FOREIGN);
        let actor = foreign
            .get_or_insert_with(HashMap::new)
            .entry(id)
            .or_insert_with(|| {
                let actor = Actor::new(PartyKind::TokioTask, None);
                register(&actor);
                actor
            });
        return actor.clone();
    }
    THREAD
        .try_with(|me| {
            me.0.get_or_init(|| {
                let name = std::thread::current().name().map(str::to_owned);
                let actor = Actor::new(PartyKind::Thread, name);
                register(&actor);
                actor
            })
            .clone()
        })
        // The thread is exiting: a party of its own, unregistered.
        .unwrap_or_else(|_| Actor::new(PartyKind::Thread, None))
}

/// Forgets a foreign tokio task that neither holds nor waits any more: it
/// may have ended, and nothing tells us.
pub(crate) fn settle_foreign(actor: &Actor, state: &ActorState) {
    if actor.party.kind != PartyKind::TokioTask || state.waiting.is_some() || !state.held.is_empty()
    {
        return;
    }
    let mut foreign = lock(&FOREIGN);
    if let Some(foreign) = foreign.as_mut() {
        foreign.retain(|_, other| other.party.id != actor.party.id);
    }
    drop(foreign);
    unregister(actor);
}

/// Registers a herd task about to be spawned.
pub(crate) fn task(name: Option<&str>, scope: Option<&str>, at: Site) -> Arc<Actor> {
    let parent = CURRENT.with(|current| current.borrow().as_ref().map(|a| a.party.id));
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
                actor.alive.store(false, Ordering::Relaxed);
                unregister(actor);
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
    outer: Option<Arc<Actor>>,
}

impl<'a> Polling<'a> {
    fn start(actor: &'a Arc<Actor>) -> Self {
        actor.polls.fetch_add(1, Ordering::Relaxed);
        let outer = CURRENT.with(|current| current.replace(Some(actor.clone())));
        Polling { actor, outer }
    }
}

impl Drop for Polling<'_> {
    fn drop(&mut self) {
        let outer = self.outer.take();
        CURRENT.with(|current| current.replace(outer));
        self.actor.idle_since.store(stamp(), Ordering::Relaxed);
        self.actor.polls.fetch_add(1, Ordering::Relaxed);
    }
}
