//! loom models of the wait-for graph: the hold sets every acquisition and
//! release write without a lock, the check that a wait closes a cycle,
//! and the race between a party ending and its last hold being released,
//! over every interleaving up to `LOOM_MAX_PREEMPTIONS`.
//!
//! The parties are made explicitly (`party_for_model`): loom runs every
//! model thread on one OS thread, so thread-locals cannot tell them apart.
//! Each side of a race runs in a thread of its own: loom explores far
//! fewer orders between the model's main thread and one it spawned (a
//! probe with a load racing a compare-and-swap and a store saw one order
//! that way, 23 from two spawned threads).
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --lib loom`.

use std::panic::Location;
use std::sync::Arc;

use loom::thread;

use super::actor::{self, party_for_model};
use super::graph::{self, Tracked};
use super::holds::{HoldSet, Record};
use crate::sync::Resource;

fn record(key: u64) -> Record {
    // Every field follows from the key, so a torn read shows.
    Record {
        key,
        n: key as usize * 10,
        at: Location::caller(),
        since: key + 1,
        level: Some(key as u32 + 2),
        owned: key % 2 == 0,
    }
}

fn whole(r: &Record) -> bool {
    *r == Record {
        at: r.at,
        ..record(r.key)
    }
}

fn lock(name: &str) -> Arc<Tracked> {
    Tracked::new(Resource::new("Mutex", Some(name.into())))
}

#[test]
fn loom_hold_set_readers_never_see_half_a_record() {
    loom::model(|| {
        let set = Arc::new(HoldSet::new());
        set.insert(record(1));
        let writer = {
            let set = set.clone();
            thread::spawn(move || {
                set.insert(record(2));
                assert_eq!(set.remove(Some(1), |_| true), Some(record(1)));
                set.insert(record(3));
            })
        };
        let reader = {
            let set = set.clone();
            thread::spawn(move || {
                for seen in set.all() {
                    assert!(whole(&seen), "torn: {seen:?}");
                }
            })
        };
        writer.join().unwrap();
        reader.join().unwrap();
        let mut keys: Vec<u64> = set.all().iter().map(|r| r.key).collect();
        keys.sort();
        assert_eq!(keys, [2, 3]);
    });
}

#[test]
fn loom_hold_set_two_removers_take_one_record_once() {
    loom::model(|| {
        let set = Arc::new(HoldSet::new());
        set.insert(record(1));
        set.insert(record(3));
        let removers: Vec<_> = (0..2)
            .map(|_| {
                let set = set.clone();
                thread::spawn(move || set.remove(None, |r| r.n >= 10))
            })
            .collect();
        let taken: Vec<Record> = removers
            .into_iter()
            .map(|remover| {
                remover
                    .join()
                    .unwrap()
                    .expect("two records for two removers")
            })
            .collect();
        assert_ne!(taken[0].key, taken[1].key, "one record taken twice");
        assert!(set.is_empty());
    });
}

#[test]
fn loom_hold_set_concurrent_inserts_keep_both() {
    loom::model(|| {
        let set = Arc::new(HoldSet::new());
        let inserters: Vec<_> = [5, 7]
            .into_iter()
            .map(|key| {
                let set = set.clone();
                thread::spawn(move || set.insert(record(key)))
            })
            .collect();
        for inserter in inserters {
            inserter.join().unwrap();
        }
        assert_eq!(set.remove(Some(5), |_| true), Some(record(5)));
        assert_eq!(set.remove(Some(7), |_| true), Some(record(7)));
        assert!(set.is_empty());
    });
}

/// Two parties each hold one lock and wait for the other's: whichever
/// order the waits register in, at least one is refused as a deadlock.
#[test]
fn loom_abba_waits_one_is_refused() {
    loom::model(|| {
        let (a, b) = (lock("model-a"), lock("model-b"));
        let (one, two) = (party_for_model("one"), party_for_model("two"));
        let at = Location::caller();
        let first = {
            let (a, b, one) = (a.clone(), b.clone(), one.clone());
            thread::spawn(move || {
                graph::hold(&one, &a, 1, at, false);
                graph::wait_as(one, &b, 1, at, false)
            })
        };
        let second = {
            let (a, b, two) = (a.clone(), b.clone(), two.clone());
            thread::spawn(move || {
                graph::hold(&two, &b, 1, at, false);
                graph::wait_as(two, &a, 1, at, false)
            })
        };
        let here = first.join().unwrap();
        let there = second.join().unwrap();
        assert!(here.is_err() || there.is_err(), "a deadlock went unseen");
        for wait in [here, there].into_iter().flatten() {
            wait.left();
        }
        graph::release_from(&a, Some(&one), 1);
        graph::release_from(&b, Some(&two), 1);
        actor::retire(&one);
        actor::retire(&two);
        assert!(actor::find(one.party.id).is_none());
    });
}

/// A holder that lets go instead of waiting: the other wait is never
/// refused, however the release and the check interleave.
#[test]
fn loom_no_deadlock_reported_when_the_holder_lets_go() {
    loom::model(|| {
        let (a, b) = (lock("free-a"), lock("free-b"));
        let (one, two) = (party_for_model("one"), party_for_model("two"));
        let at = Location::caller();
        graph::hold(&one, &a, 1, at, false);
        graph::hold(&two, &b, 1, at, false);
        let letting_go = {
            let (b, two) = (b.clone(), two.clone());
            thread::spawn(move || graph::release_from(&b, Some(&two), 1))
        };
        let waiting = {
            let (b, one) = (b.clone(), one.clone());
            thread::spawn(move || graph::wait_as(one, &b, 1, at, false))
        };
        letting_go.join().unwrap();
        let wait = waiting.join().unwrap();
        assert!(wait.is_ok(), "a false deadlock");
        wait.unwrap().left();
        graph::release_from(&a, Some(&one), 1);
        actor::retire(&one);
        actor::retire(&two);
    });
}

/// A party ends while another party releases the last hold it took (a
/// moved guard): whichever goes first, the hold is gone from both sides,
/// and the party is forgotten at once or by the watchdog's next tick.
#[test]
fn loom_an_ended_party_is_forgotten_after_its_last_release() {
    loom::model(|| {
        let a = lock("moved");
        let (one, two) = (party_for_model("one"), party_for_model("two"));
        graph::hold(&one, &a, 1, Location::caller(), false);
        let ending = {
            let one = one.clone();
            thread::spawn(move || actor::retire(&one))
        };
        let releasing = {
            let (a, two) = (a.clone(), two.clone());
            thread::spawn(move || graph::release_from(&a, Some(&two), 1))
        };
        ending.join().unwrap();
        releasing.join().unwrap();
        assert!(one.held.is_empty() && a.holds.is_empty());
        // What the watchdog does for an ended party, on this model's own.
        actor::forget_if_idle(&one);
        assert!(
            actor::find(one.party.id).is_none(),
            "an ended party that holds nothing stayed registered"
        );
        actor::retire(&two);
    });
}

/// A task that ends while in a resource's line is kept only because it
/// waits; the release that hands it the permits races the watchdog's
/// forgetting: the hold is recorded before the wait goes, so a party is
/// never forgotten while a hold names it.
#[test]
fn loom_a_party_is_never_forgotten_while_a_hold_names_it() {
    loom::model(|| {
        let a = lock("handed");
        let one = party_for_model("one");
        let at = Location::caller();
        let mut wait = graph::wait_as(one.clone(), &a, 1, at, false).unwrap();
        actor::retire(&one);
        assert!(actor::find(one.party.id).is_some(), "kept: it waits");
        let forgetting = {
            let one = one.clone();
            thread::spawn(move || actor::forget_if_idle(&one))
        };
        let handing = thread::spawn(move || {
            wait.granted();
            wait
        });
        forgetting.join().unwrap();
        let wait = handing.join().unwrap();
        assert!(
            actor::find(one.party.id).is_some(),
            "forgotten while a hold names it"
        );
        wait.left();
        assert!(actor::find(one.party.id).is_none(), "forgotten once idle");
    });
}
