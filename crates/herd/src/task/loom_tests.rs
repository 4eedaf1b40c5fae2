//! loom models of the token tree and the scope's ledger: every interleaving
//! of the threads below, up to `LOOM_MAX_PREEMPTIONS` preemptions, keeps the
//! invariants each model asserts.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --lib loom`.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;

use loom::future::block_on;
use loom::thread;

use loom::sync::atomic::{AtomicUsize, Ordering};

use super::ledger::{ChildHandle, Handles, Ledger};
use super::{CancelReason, CancelToken};

#[test]
fn loom_cancel_wakes_a_waiter_that_is_registering() {
    loom::model(|| {
        let token = CancelToken::new();
        let waiter = token.clone();
        let waiting = thread::spawn(move || block_on(waiter.cancelled()));
        token.cancel("stop");
        assert_eq!(waiting.join().unwrap(), CancelReason::from("stop"));
    });
}

#[test]
fn loom_child_made_while_parent_cancels_is_cancelled() {
    loom::model(|| {
        let parent = CancelToken::new();
        let maker = parent.clone();
        let made = thread::spawn(move || maker.child());
        parent.cancel("parent");
        let child = made.join().unwrap();
        assert!(child.is_cancelled());
        assert_eq!(child.reason(), Some(CancelReason::from("parent")));
    });
}

#[test]
fn loom_grandchild_waiter_is_woken_by_root_cancel() {
    loom::model(|| {
        let root = CancelToken::new();
        let grandchild = root.child().child();
        let waiting = thread::spawn(move || block_on(grandchild.cancelled()));
        root.cancel("root");
        assert_eq!(waiting.join().unwrap(), CancelReason::from("root"));
    });
}

#[test]
fn loom_child_dropped_while_parent_cancels_unlinks_cleanly() {
    loom::model(|| {
        let parent = CancelToken::new();
        let child = parent.child();
        let survivor = parent.child();
        let dropper = thread::spawn(move || drop(child));
        parent.cancel("parent");
        dropper.join().unwrap();
        assert!(survivor.is_cancelled());
    });
}

#[test]
fn loom_two_cancels_agree_on_one_reason() {
    loom::model(|| {
        let token = CancelToken::new();
        let other = token.clone();
        let first = thread::spawn(move || other.cancel("a"));
        let second = token.cancel("b");
        let first = first.join().unwrap();
        assert!(first ^ second, "exactly one cancel wins");
        let expected = if first { "a" } else { "b" };
        assert_eq!(token.reason(), Some(CancelReason::from(expected)));
    });
}

#[test]
fn loom_ledger_joiner_wakes_when_the_last_child_finishes() {
    loom::model(|| {
        let ledger = Arc::new(Ledger::<u32>::new());
        let a = ledger.reserve().unwrap();
        let b = ledger.reserve().unwrap();
        let children: Vec<_> = [(a, 10), (b, 20)]
            .into_iter()
            .map(|(index, value)| {
                let ledger = ledger.clone();
                thread::spawn(move || ledger.finish(index, value, false))
            })
            .collect();
        block_on(poll_fn(|cx| ledger.poll_drained(cx)));
        for child in children {
            child.join().unwrap();
        }
        assert_eq!(ledger.take_outcomes(), (vec![10, 20], None));
    });
}

#[test]
fn loom_ledger_spawn_racing_the_final_join_is_joined_or_refused() {
    loom::model(|| {
        let ledger = Arc::new(Ledger::<u32>::new());
        let spawner = {
            let ledger = ledger.clone();
            thread::spawn(move || {
                if let Some(index) = ledger.reserve() {
                    ledger.finish(index, 7, false);
                    true
                } else {
                    false
                }
            })
        };
        block_on(poll_fn(|cx| ledger.poll_drained(cx)));
        let spawned = spawner.join().unwrap();
        // A child that got a slot before the ledger closed is in the books;
        // one that came after was refused. None is lost either way.
        let (outcomes, _) = ledger.take_outcomes();
        assert_eq!(outcomes, if spawned { vec![7] } else { vec![] });
        assert_eq!(ledger.reserve(), None, "a drained ledger stays closed");
    });
}

#[test]
fn loom_ledger_close_racing_a_spawn_loses_no_child() {
    loom::model(|| {
        let ledger = Arc::new(Ledger::<u32>::new());
        let first = ledger.reserve().unwrap();
        let spawner = {
            let ledger = ledger.clone();
            thread::spawn(move || {
                let index = ledger.reserve();
                if let Some(index) = index {
                    ledger.finish(index, 2, false);
                }
                index.is_some()
            })
        };
        // The scope is dropped while a handle spawns: whatever got a slot
        // before the close is still counted, and the owner waits for it.
        ledger.close();
        ledger.finish(first, 1, false);
        let spawned = spawner.join().unwrap();
        block_on(poll_fn(|cx| ledger.poll_drained(cx)));
        let (outcomes, _) = ledger.take_outcomes();
        assert_eq!(outcomes, if spawned { vec![1, 2] } else { vec![1] });
        assert_eq!(ledger.reserve(), None);
    });
}

#[test]
fn loom_ledger_root_failure_is_the_first_filed() {
    loom::model(|| {
        let ledger = Arc::new(Ledger::<u32>::new());
        let a = ledger.reserve().unwrap();
        let b = ledger.reserve().unwrap();
        let other = {
            let ledger = ledger.clone();
            thread::spawn(move || ledger.finish(b, 20, true))
        };
        ledger.finish(a, 10, true);
        other.join().unwrap();
        block_on(poll_fn(|cx| ledger.poll_drained(cx)));
        let (outcomes, root) = ledger.take_outcomes();
        assert_eq!(outcomes, [10, 20]);
        assert!(matches!(root, Some(0 | 1)), "exactly one root, never lost");
    });
}

#[test]
fn loom_cancel_wakes_a_waiter_polled_again_by_the_same_task() {
    loom::model(|| {
        let token = CancelToken::new();
        let waiter = token.clone();
        let waiting = thread::spawn(move || {
            block_on(async move {
                let mut cancelled = pin!(waiter.cancelled());
                // The first poll registers; the later ones take the path
                // that skips the lock when the waker is unchanged.
                if let Poll::Ready(reason) =
                    poll_fn(|cx| Poll::Ready(cancelled.as_mut().poll(cx))).await
                {
                    return reason;
                }
                cancelled.await
            })
        });
        token.cancel("stop");
        assert_eq!(waiting.join().unwrap(), CancelReason::from("stop"));
    });
}

/// A child handle that counts how often it was aborted.
struct Counted(Arc<AtomicUsize>);

impl ChildHandle for Counted {
    fn abort(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    fn is_finished(&self) -> bool {
        false
    }
}

#[test]
fn loom_abort_catches_a_child_that_is_starting() {
    loom::model(|| {
        let handles = Arc::new(Handles::new());
        let aborts = Arc::new(AtomicUsize::new(0));
        let starter = {
            let handles = handles.clone();
            let child = Counted(aborts.clone());
            thread::spawn(move || handles.push(child))
        };
        handles.abort_all();
        starter.join().unwrap();
        // Aborted exactly once: by `abort_all`, or by `push` itself when it
        // came after.
        assert_eq!(aborts.load(Ordering::SeqCst), 1);
        assert!(handles.take().len() <= 1);
    });
}
