//! Who holds what and who waits for what, across herd's `Mutex`, `RwLock`
//! and `Semaphore`: the wait-for graph that finds a deadlock the moment its
//! last wait forms, and the order graph that finds one that could form.
//!
//! Each resource keeps its holders (`Tracked::holds`); each party keeps
//! what it holds (`Actor::held`) and what it waits for (`Actor::state`).
//! Both hold sets are written without a lock (`holds.rs`). A wait is checked
//! under one global lock (`DETECT`), so of the waits that close a cycle the
//! last to register sees all the others.
//!
//! The two sides name each other by id, not by reference: recording or
//! dropping a hold, the hot path, clones nothing, and a check or a dump
//! finds parties and resources in their registries.
//!
//! Locks inside diagnostics are taken in one order and never the other way:
//! a resource's own queue lock, then `DETECT`, then any one party's
//! `state` lock or hold set's spill lock at a time (each is let go before
//! the next is taken), then
//! the registries (parties, foreign tasks before parties, resources, the
//! order graph), which take nothing further. So diagnostics cannot
//! deadlock themselves.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::actor::{self, Actor, Wait, lock, stamp};
use super::holds::{HoldSet, Record};
use super::report::{self, Deadlock, Holding, Link, LockOrder, OrderRule, Report, Site};
use super::{OnDeadlock, on_deadlock};
use crate::sync::Resource;

/// One watched resource: made the first time diagnostics see it used.
pub(crate) struct Tracked {
    pub(crate) id: u64,
    pub(crate) resource: Resource,
    /// Its holders, keyed by party id.
    pub(crate) holds: HoldSet,
}

/// Every tracked resource by id, for dumps and for naming the resources
/// parties hold.
static RESOURCES: Mutex<Option<HashMap<u64, Weak<Tracked>>>> = Mutex::new(None);

impl Tracked {
    pub(crate) fn new(resource: Resource) -> Arc<Tracked> {
        static IDS: AtomicU64 = AtomicU64::new(1);
        let tracked = Arc::new(Tracked {
            id: IDS.fetch_add(1, Ordering::Relaxed),
            resource,
            holds: HoldSet::new(),
        });
        lock(&RESOURCES)
            .get_or_insert_with(HashMap::new)
            .insert(tracked.id, Arc::downgrade(&tracked));
        tracked
    }

    pub(crate) fn holdings(&self) -> Vec<Holding> {
        self.holds
            .all()
            .into_iter()
            // A holder not found has let go since.
            .filter_map(|hold| {
                let actor = actor::find(hold.key)?;
                Some(Holding {
                    party: actor.party.clone(),
                    state: actor.state(),
                    permits: hold.n,
                    at: hold.at,
                    held: actor::since(hold.since),
                    owned: hold.owned,
                })
            })
            .collect()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(all) = lock(&RESOURCES).as_mut() {
            all.remove(&self.id);
        }
        forget_order(self.id);
    }
}

pub(crate) fn resources() -> Vec<Arc<Tracked>> {
    let all: Vec<Weak<Tracked>> = lock(&RESOURCES)
        .as_ref()
        .map(|all| all.values().cloned().collect())
        .unwrap_or_default();
    // Upgraded with the registry let go: the last one dropped removes
    // itself from it.
    all.iter().filter_map(Weak::upgrade).collect()
}

/// The resource with this id, if it still exists.
fn resource(id: u64) -> Option<Resource> {
    let weak = lock(&RESOURCES).as_ref()?.get(&id).cloned()?;
    let tracked = weak.upgrade()?;
    Some(tracked.resource.clone())
}

/// A wait in progress, kept by the waiter in the resource's line; it turns
/// into a hold when the permits are handed over.
pub(crate) struct Waiting {
    actor: Arc<Actor>,
    tracked: Arc<Tracked>,
    n: usize,
    at: Site,
    owned: bool,
    granted: bool,
}

impl Waiting {
    /// The permits were handed over (under the resource's queue lock).
    pub(crate) fn granted(&mut self) {
        if self.granted {
            return;
        }
        self.granted = true;
        // The hold first, then the wait goes: the party is never seen
        // holding and waiting for nothing in between (and forgotten).
        let reports = hold(&self.actor, &self.tracked, self.n, self.at, self.owned);
        let wait = crate::loom::lock(&self.actor.state).waiting.take();
        drop(wait);
        reports.into_iter().for_each(report::emit);
    }

    /// The waiter left the line: without its permits, or, if they had been
    /// handed over already, giving them back.
    pub(crate) fn left(self) {
        if self.granted {
            release_from(&self.tracked, Some(&*self.actor), self.n);
            return;
        }
        let wait = crate::loom::lock(&self.actor.state).waiting.take();
        drop(wait);
        actor::settle(&self.actor);
    }
}

/// Records that the current party took `n` permits of `tracked` at once.
#[inline]
pub(crate) fn acquired(tracked: &Arc<Tracked>, n: usize, at: Site, owned: bool) {
    let reports = actor::with_current(|me| hold(me, tracked, n, at, owned));
    // Reported with no party lent: a subscriber may take herd locks too.
    if !reports.is_empty() {
        reports.into_iter().for_each(report::emit);
    }
}

/// Records a hold on both sides: the resource's holders and the party's
/// holds. Returns the lock-order reports the hold calls for.
#[inline]
pub(super) fn hold(
    actor: &Actor,
    tracked: &Tracked,
    n: usize,
    at: Site,
    owned: bool,
) -> Vec<Report> {
    let since = stamp();
    tracked.holds.insert(Record {
        key: actor.party.id,
        n,
        at,
        since,
        level: None,
        owned,
    });
    // What it held already, to check the order against: usually nothing.
    // Owned permits move between tasks by design: no order to learn.
    let before = if owned {
        Vec::new()
    } else {
        actor
            .held
            .matching(|held| !held.owned && held.key != tracked.id)
    };
    actor.held.insert(Record {
        key: tracked.id,
        n,
        at,
        since,
        level: tracked.resource.level(),
        owned,
    });
    if before.is_empty() {
        return Vec::new();
    }
    before
        .into_iter()
        .filter_map(|earlier| check_order(actor, earlier, tracked, at))
        .collect()
}

/// Records that `n` permits of `tracked` came back, from the current party
/// if it holds some, else from whoever does (a guard may have moved).
#[inline]
pub(crate) fn released(tracked: &Arc<Tracked>, n: usize) {
    actor::with_existing(|me| release_from(tracked, me, n));
}

#[inline]
pub(super) fn release_from(tracked: &Tracked, me: Option<&Actor>, n: usize) {
    let by = me.map(|me| me.party.id);
    let holds = &tracked.holds;
    let hold = by
        .and_then(|by| holds.remove(Some(by), |h| h.n == n))
        .or_else(|| holds.remove(None, |h| h.owned && h.n == n))
        .or_else(|| holds.remove(None, |h| h.n == n));
    // A hold taken before diagnostics were on is not known: nothing to do.
    // (The last fallback may take another holder's record of as many
    // permits when this one's is not found: the count stays right, the
    // names may not.)
    let Some(hold) = hold else { return };
    let unhold = |holder: &Actor| {
        let id = Some(tracked.id);
        let removed = holder
            .held
            .remove(id, |h| h.n == n && h.owned == hold.owned);
        if removed.is_none() {
            holder.held.remove(id, |_| true);
        }
        actor::settle(holder);
    };
    match me {
        Some(me) if me.party.id == hold.key => unhold(me),
        _ => {
            if let Some(holder) = actor::find(hold.key) {
                unhold(&holder);
            }
        }
    }
}

/// Serializes the wait checks: of the waits that close a cycle, the last to
/// register here sees the others.
#[cfg(not(loom))]
static DETECT: crate::loom::Mutex<()> = crate::loom::Mutex::new(());

// The checks read hold sets (loom's atomics) with it held: under loom it is
// loom's lock, made anew for each run of a model.
#[cfg(loom)]
loom::lazy_static! {
    static ref DETECT: crate::loom::Mutex<()> = crate::loom::Mutex::new(());
}

/// Registers a wait by the current party for `n` permits of `tracked`,
/// after checking it would not close a cycle. With [`OnDeadlock::Log`] the
/// cycle is reported and the wait goes ahead.
pub(crate) fn wait(
    tracked: &Arc<Tracked>,
    n: usize,
    at: Site,
    owned: bool,
) -> Result<Waiting, Arc<Deadlock>> {
    wait_as(actor::current(), tracked, n, at, owned)
}

/// [`wait`], by the party `me`.
pub(super) fn wait_as(
    me: Arc<Actor>,
    tracked: &Arc<Tracked>,
    n: usize,
    at: Site,
    owned: bool,
) -> Result<Waiting, Arc<Deadlock>> {
    // Dropped after `_detect`: a deadlock report goes out once the lock is
    // released (a subscriber may take herd locks).
    let _reports = report::hold_back();
    let _detect = crate::loom::lock(&DETECT);
    if let Some(cycle) = cycle_from(&me, tracked, at) {
        let deadlock = Arc::new(Deadlock { cycle });
        report::emit(Report::Deadlock(deadlock.clone()));
        if on_deadlock() != OnDeadlock::Log {
            return Err(deadlock);
        }
    }
    crate::loom::lock(&me.state).waiting = Some(Wait {
        tracked: tracked.clone(),
        at,
        since: stamp(),
        reported: false,
    });
    Ok(Waiting {
        actor: me,
        tracked: tracked.clone(),
        n,
        at,
        owned,
        granted: false,
    })
}

/// Registers a wait by the current party on a queue (for an item, for
/// room, for its work to be done), for dumps only: a queue has no holders,
/// so the wait cannot close a cycle, and waiting on a queue is a worker's
/// normal state, so it is never reported as stalled.
pub(crate) fn watch(tracked: &Arc<Tracked>, at: Site) -> Waiting {
    let me = actor::current();
    crate::loom::lock(&me.state).waiting = Some(Wait {
        tracked: tracked.clone(),
        at,
        since: stamp(),
        reported: true,
    });
    Waiting {
        actor: me,
        tracked: tracked.clone(),
        n: 0,
        at,
        owned: false,
        granted: false,
    }
}

/// If `me`, about to wait for `tracked` at `at`, could never be served:
/// the cycle of waits that proves it. A resource blocks `me` for good when
/// every one of its holders is `me`, or waits (directly or through others)
/// for something only `me` can release. An owned permit among the holders
/// could be released by anyone, so it proves nothing.
fn cycle_from(me: &Arc<Actor>, tracked: &Arc<Tracked>, at: Site) -> Option<Vec<Link>> {
    let mut links = Vec::new();
    let mut seen = HashSet::new();
    blocked(me, me, tracked, at, &mut seen, &mut links).then_some(links)
}

/// Does `waiter`'s wait for `tracked` at `at` lead back to `me` through
/// every holder? Pushes the links of the first path found.
fn blocked(
    me: &Arc<Actor>,
    waiter: &Arc<Actor>,
    tracked: &Arc<Tracked>,
    at: Site,
    seen: &mut HashSet<u64>,
    links: &mut Vec<Link>,
) -> bool {
    if !seen.insert(tracked.id) {
        return false;
    }
    let holds: Vec<(u64, Site, bool)> = tracked
        .holds
        .all()
        .into_iter()
        .map(|h| (h.key, h.at, h.owned))
        .collect();
    if holds.is_empty() || holds.iter().any(|(_, _, owned)| *owned) {
        return false;
    }
    let depth = links.len();
    for (holder, held_at, _) in holds {
        // A holder not found has let go since: it blocks nobody.
        let holder = if holder == me.party.id {
            me.clone()
        } else {
            match actor::find(holder) {
                Some(holder) => holder,
                None => {
                    links.truncate(depth);
                    return false;
                }
            }
        };
        let link = Link {
            waiter: waiter.party.clone(),
            resource: tracked.resource.clone(),
            wait_at: at,
            holder: holder.party.clone(),
            held_at,
        };
        if Arc::ptr_eq(&holder, me) {
            if links.len() == depth {
                links.push(link);
            }
            continue;
        }
        let next = crate::loom::lock(&holder.state)
            .waiting
            .as_ref()
            .map(|w| (w.tracked.clone(), w.at));
        let Some((next, next_at)) = next else {
            links.truncate(depth);
            return false;
        };
        let first = links.len() == depth;
        if first {
            links.push(link);
        }
        let mark = links.len();
        if !blocked(me, &holder, &next, next_at, seen, links) {
            links.truncate(depth);
            return false;
        }
        if !first {
            // Another holder's path: proven, but only the first is shown.
            links.truncate(mark);
        }
    }
    true
}

/// The order in which resources were seen taken: an edge `a -> b` means `b`
/// was acquired while `a` was held, first at the two sites stored.
#[derive(Default)]
struct Order {
    after: HashMap<u64, HashMap<u64, (Site, Site)>>,
    before: HashMap<u64, HashSet<u64>>,
    /// Pairs already reported, so a loop reports once.
    reported: HashSet<(u64, u64)>,
}

static ORDER: Mutex<Option<Order>> = Mutex::new(None);

/// Checks taking `taking` at `at` while `held` (its id, level and site) is
/// held, against the levels and the order seen so far.
fn check_order(actor: &Actor, held: Record, taking: &Tracked, at: Site) -> Option<Report> {
    let (level, held, held_at) = (held.level, held.key, held.at);
    let rule = match (level, taking.resource.level()) {
        (Some(h), Some(t)) if t <= h => Some(OrderRule::Level {
            held: h,
            acquiring: t,
        }),
        _ => learn(held, held_at, taking.id, at),
    }?;
    Some(Report::LockOrder(LockOrder {
        party: actor.party.clone(),
        // Held, so it exists, unless its guard was forgotten and it dropped.
        held: resource(held)?,
        held_at,
        acquiring: taking.resource.clone(),
        acquiring_at: at,
        rule,
    }))
}

/// Learns `a -> b`, unless `b` already reaches `a`: then that earlier path
/// is the opposite order, reported once per pair.
fn learn(a: u64, a_at: Site, b: u64, b_at: Site) -> Option<OrderRule> {
    let mut order = lock(&ORDER);
    let order = order.get_or_insert_with(Order::default);
    if order
        .after
        .get(&a)
        .is_some_and(|next| next.contains_key(&b))
    {
        return None;
    }
    if let Some((first_at, then_at)) = path(order, b, a) {
        return order
            .reported
            .insert((a, b))
            .then_some(OrderRule::Inversion { first_at, then_at });
    }
    order.after.entry(a).or_default().insert(b, (a_at, b_at));
    order.before.entry(b).or_default().insert(a);
    None
}

/// A path `from ->* to` in the order graph: the sites of its first edge.
fn path(order: &Order, from: u64, to: u64) -> Option<(Site, Site)> {
    let mut stack: Vec<(u64, (Site, Site))> = order
        .after
        .get(&from)?
        .iter()
        .map(|(&next, &sites)| (next, sites))
        .collect();
    let mut seen = HashSet::from([from]);
    while let Some((node, first)) = stack.pop() {
        if node == to {
            return Some(first);
        }
        if !seen.insert(node) {
            continue;
        }
        if let Some(next) = order.after.get(&node) {
            stack.extend(next.keys().map(|&n| (n, first)));
        }
    }
    None
}

fn forget_order(id: u64) {
    let mut order = lock(&ORDER);
    let Some(order) = order.as_mut() else { return };
    if let Some(next) = order.after.remove(&id) {
        for b in next.keys() {
            if let Some(before) = order.before.get_mut(b) {
                before.remove(&id);
            }
        }
    }
    if let Some(before) = order.before.remove(&id) {
        for a in before {
            if let Some(after) = order.after.get_mut(&a) {
                after.remove(&id);
            }
        }
    }
    order.reported.retain(|&(a, b)| a != id && b != id);
}

/// Every wait older than `threshold` not reported yet, marked reported.
pub(crate) fn stalled(
    threshold: std::time::Duration,
) -> Vec<(Arc<Actor>, Arc<Tracked>, Site, u64)> {
    let mut found = Vec::new();
    for actor in actor::actors() {
        let mut state = crate::loom::lock(&actor.state);
        let Some(wait) = state.waiting.as_mut() else {
            continue;
        };
        if wait.reported || actor::since(wait.since) < threshold {
            continue;
        }
        wait.reported = true;
        let wait = (wait.tracked.clone(), wait.at, wait.since);
        drop(state);
        found.push((actor, wait.0, wait.1, wait.2));
    }
    found
}

/// What a party holds, oldest first, with where it acquired each.
pub(crate) fn held_by(actor: &Actor) -> Vec<(Resource, Site)> {
    let mut held = actor.held.all();
    held.sort_by_key(|h| h.since);
    held.into_iter()
        .filter_map(|h| Some((resource(h.key)?, h.at)))
        .collect()
}
