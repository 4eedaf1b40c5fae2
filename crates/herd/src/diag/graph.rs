//! Who holds what and who waits for what, across herd's `Mutex`, `RwLock`
//! and `Semaphore`: the wait-for graph that finds a deadlock the moment its
//! last wait forms, and the order graph that finds one that could form.
//!
//! Each resource keeps its holders (`Tracked::holds`); each party keeps
//! what it waits for and what it holds (`Actor::state`). A wait is checked
//! under one global lock (`DETECT`), so of the waits that close a cycle the
//! last to register sees all the others.
//!
//! Locks inside diagnostics are taken in one order and never the other way:
//! a resource's own queue lock, then `DETECT`, then any one `holds` or
//! `state` lock at a time (each is let go before the next is taken); the
//! order graph's lock is taken with none of these held. So diagnostics
//! cannot deadlock themselves.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::actor::{self, Actor, ActorState, Held, Wait, lock, stamp};
use super::report::{self, Deadlock, Holding, Link, LockOrder, OrderRule, Report, Site};
use super::{OnDeadlock, on_deadlock};
use crate::sync::Resource;

/// One watched resource: made the first time diagnostics see it used.
pub(crate) struct Tracked {
    pub(crate) id: u64,
    pub(crate) resource: Resource,
    pub(crate) holds: Mutex<Vec<Hold>>,
}

pub(crate) struct Hold {
    pub(crate) actor: Arc<Actor>,
    pub(crate) n: usize,
    pub(crate) at: Site,
    pub(crate) since: u64,
    /// Through an owned permit, which may move to another task: never
    /// taken as proof that its holder blocks anyone.
    pub(crate) owned: bool,
}

/// Every tracked resource, for dumps; pruned as it grows.
static RESOURCES: Mutex<Vec<Weak<Tracked>>> = Mutex::new(Vec::new());

impl Tracked {
    pub(crate) fn new(resource: Resource) -> Arc<Tracked> {
        static IDS: AtomicU64 = AtomicU64::new(1);
        let tracked = Arc::new(Tracked {
            id: IDS.fetch_add(1, Ordering::Relaxed),
            resource,
            holds: Mutex::new(Vec::new()),
        });
        let mut all = lock(&RESOURCES);
        if all.len() == all.capacity() {
            all.retain(|weak| weak.strong_count() > 0);
        }
        all.push(Arc::downgrade(&tracked));
        tracked
    }

    pub(crate) fn holdings(&self) -> Vec<Holding> {
        let holds: Vec<_> = lock(&self.holds)
            .iter()
            .map(|h| (h.actor.clone(), h.n, h.at, h.since, h.owned))
            .collect();
        holds
            .into_iter()
            .map(|(actor, permits, at, since, owned)| Holding {
                party: actor.party.clone(),
                state: actor.state(),
                permits,
                at,
                held: actor::since(since),
                owned,
            })
            .collect()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        forget_order(self.id);
    }
}

pub(crate) fn resources() -> Vec<Arc<Tracked>> {
    lock(&RESOURCES).iter().filter_map(Weak::upgrade).collect()
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
        let mut state = lock(&self.actor.state);
        state.waiting = None;
        drop(state);
        hold(&self.actor, &self.tracked, self.n, self.at, self.owned);
    }

    /// The waiter left the line: without its permits, or, if they had been
    /// handed over already, giving them back.
    pub(crate) fn left(self) {
        if self.granted {
            release_from(&self.tracked, Some(self.actor.party.id), self.n);
            return;
        }
        let mut state = lock(&self.actor.state);
        state.waiting = None;
        actor::settle_foreign(&self.actor, &state);
    }
}

/// Records that the current party took `n` permits of `tracked` at once.
pub(crate) fn acquired(tracked: &Arc<Tracked>, n: usize, at: Site, owned: bool) {
    hold(&actor::current(), tracked, n, at, owned);
}

fn hold(actor: &Arc<Actor>, tracked: &Arc<Tracked>, n: usize, at: Site, owned: bool) {
    lock(&tracked.holds).push(Hold {
        actor: actor.clone(),
        n,
        at,
        since: stamp(),
        owned,
    });
    if owned {
        // Owned permits move between tasks by design: no order to learn.
        return;
    }
    let mut state = lock(&actor.state);
    // Most acquisitions are not nested: nothing to check, nothing to copy.
    let nested = state.held.iter().any(|held| held.tracked.id != tracked.id);
    let before: Vec<(Arc<Tracked>, Site)> = if nested {
        state
            .held
            .iter()
            .filter(|held| held.tracked.id != tracked.id)
            .map(|held| (held.tracked.clone(), held.at))
            .collect()
    } else {
        Vec::new()
    };
    state.held.push(Held {
        tracked: tracked.clone(),
        at,
    });
    drop(state);
    for (earlier, earlier_at) in before {
        check_order(actor, &earlier, earlier_at, tracked, at);
    }
}

/// Records that `n` permits of `tracked` came back, from the current party
/// if it holds some, else from whoever does (a guard may have moved).
pub(crate) fn released(tracked: &Arc<Tracked>, n: usize) {
    release_from(tracked, actor::current_id(), n);
}

fn release_from(tracked: &Tracked, by: Option<u64>, n: usize) {
    let mut holds = lock(&tracked.holds);
    let mine = by.and_then(|by| {
        holds
            .iter()
            .position(|h| h.actor.party.id == by && h.n == n)
    });
    let index = mine
        .or_else(|| holds.iter().position(|h| h.owned && h.n == n))
        .or_else(|| holds.iter().position(|h| h.n == n));
    // A hold taken before diagnostics were on is not known: nothing to do.
    let Some(index) = index else { return };
    let hold = holds.remove(index);
    drop(holds);
    if hold.owned {
        return;
    }
    let mut state = lock(&hold.actor.state);
    if let Some(i) = state.held.iter().rposition(|h| h.tracked.id == tracked.id) {
        state.held.remove(i);
    }
    actor::settle_foreign(&hold.actor, &state);
}

/// Serializes the wait checks: of the waits that close a cycle, the last to
/// register here sees the others.
static DETECT: Mutex<()> = Mutex::new(());

/// Registers a wait by the current party for `n` permits of `tracked`,
/// after checking it would not close a cycle. With [`OnDeadlock::Log`] the
/// cycle is reported and the wait goes ahead.
pub(crate) fn wait(
    tracked: &Arc<Tracked>,
    n: usize,
    at: Site,
    owned: bool,
) -> Result<Waiting, Arc<Deadlock>> {
    let me = actor::current();
    let _detect = lock(&DETECT);
    if let Some(cycle) = cycle_from(&me, tracked, at) {
        let deadlock = Arc::new(Deadlock { cycle });
        report::emit(Report::Deadlock(deadlock.clone()));
        if on_deadlock() != OnDeadlock::Log {
            return Err(deadlock);
        }
    }
    lock(&me.state).waiting = Some(Wait {
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
    lock(&me.state).waiting = Some(Wait {
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
    let holds: Vec<(Arc<Actor>, Site, bool)> = lock(&tracked.holds)
        .iter()
        .map(|h| (h.actor.clone(), h.at, h.owned))
        .collect();
    if holds.is_empty() || holds.iter().any(|(_, _, owned)| *owned) {
        return false;
    }
    let depth = links.len();
    for (holder, held_at, _) in holds {
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
        let next = lock(&holder.state)
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

fn check_order(actor: &Actor, held: &Tracked, held_at: Site, taking: &Tracked, at: Site) {
    let rule = match (held.resource.level(), taking.resource.level()) {
        (Some(h), Some(t)) if t <= h => Some(OrderRule::Level {
            held: h,
            acquiring: t,
        }),
        _ => learn(held.id, held_at, taking.id, at),
    };
    if let Some(rule) = rule {
        report::emit(Report::LockOrder(LockOrder {
            party: actor.party.clone(),
            held: held.resource.clone(),
            held_at,
            acquiring: taking.resource.clone(),
            acquiring_at: at,
            rule,
        }));
    }
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
        let mut state = lock(&actor.state);
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
pub(crate) fn held_by(state: &ActorState) -> Vec<(Resource, Site)> {
    state
        .held
        .iter()
        .map(|h| (h.tracked.resource.clone(), h.at))
        .collect()
}
