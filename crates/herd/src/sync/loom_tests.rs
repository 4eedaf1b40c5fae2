//! loom models of the permit queue behind `Mutex`, `RwLock` and
//! `Semaphore`: wakeups, permit accounting, and cancellation racing a
//! release, over every interleaving up to `LOOM_MAX_PREEMPTIONS`.
//!
//! Each racing side runs in a thread of its own; the model's main thread
//! only sets up, joins and checks the books. (loom explores far fewer
//! interleavings of a race the main thread takes part in: a model written
//! that way passed even with the code it guards broken.)
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --lib loom`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use loom::future::block_on;
use loom::thread::{self, JoinHandle};

use super::permits::{Acquire, Caller, Holder, Permits, Refused};
use super::{Barrier, Event, Notify, Resource};

struct Shared(Arc<Permits>);

impl Holder for Shared {
    fn permits(&self) -> &Permits {
        &self.0
    }
}

fn permits(n: usize) -> Arc<Permits> {
    Arc::new(Permits::new(n, Resource::new("Semaphore", None)))
}

/// Runs `f` on a thread of its own with a handle to `sem`.
fn on_thread<T: Send + 'static>(
    sem: &Arc<Permits>,
    f: impl FnOnce(Arc<Permits>) -> T + Send + 'static,
) -> JoinHandle<T> {
    let sem = sem.clone();
    thread::spawn(move || f(sem))
}

fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    Pin::new(fut).poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn loom_release_wakes_a_waiting_task() {
    loom::model(|| {
        let sem = permits(1);
        sem.try_acquire(1, Caller::here()).unwrap();
        let waiter = on_thread(&sem, |sem| block_on(Acquire::new(Shared(sem), 1)).is_ok());
        let releaser = on_thread(&sem, |sem| sem.release(1));
        releaser.join().unwrap();
        assert!(waiter.join().unwrap(), "the waiter got the permit");
        assert_eq!(sem.available(), 0, "the waiter holds the permit");
        sem.release(1);
        assert_eq!(sem.available(), 1, "and it comes back");
    });
}

#[test]
fn loom_release_unparks_a_blocked_thread() {
    loom::model(|| {
        let sem = permits(1);
        sem.try_acquire(1, Caller::here()).unwrap();
        let waiter = on_thread(&sem, |sem| {
            sem.acquire_blocking(1, None, Caller::here()).is_ok()
        });
        let releaser = on_thread(&sem, |sem| sem.release(1));
        releaser.join().unwrap();
        assert!(waiter.join().unwrap(), "the blocked thread got the permit");
        assert_eq!(sem.available(), 0, "the waiter holds the permit");
        sem.release(1);
        assert_eq!(sem.available(), 1);
    });
}

#[test]
fn loom_a_waiter_dropped_while_released_to_loses_no_permit() {
    loom::model(|| {
        let sem = permits(1);
        sem.try_acquire(1, Caller::here()).unwrap();
        let quitter = on_thread(&sem, |sem| {
            let mut acquire = Acquire::new(Shared(sem.clone()), 1);
            if let Poll::Ready(Ok(_)) = poll_once(&mut acquire) {
                // Got it at once (the release came first): give it back.
                sem.release(1);
            }
            drop(acquire);
        });
        let releaser = on_thread(&sem, |sem| sem.release(1));
        quitter.join().unwrap();
        releaser.join().unwrap();
        assert_eq!(sem.available(), 1, "the permit is back");
        assert_eq!(
            sem.try_acquire(1, Caller::here()),
            Ok(()),
            "and nobody is left in line"
        );
    });
}

#[test]
fn loom_try_acquire_never_takes_a_permit_meant_for_a_waiter() {
    loom::model(|| {
        let sem = permits(1);
        sem.try_acquire(1, Caller::here()).unwrap();
        let mut waiting = Acquire::new(Shared(sem.clone()), 1);
        assert!(poll_once(&mut waiting).is_pending());
        let barger = on_thread(&sem, |sem| sem.try_acquire(1, Caller::here()));
        let releaser = on_thread(&sem, |sem| sem.release(1));
        releaser.join().unwrap();
        assert_eq!(barger.join().unwrap(), Err(Refused::Busy));
        assert!(matches!(poll_once(&mut waiting), Poll::Ready(Ok(_))));
        assert_eq!(sem.available(), 0, "the waiter holds the only permit");
    });
}

#[test]
fn loom_forget_racing_a_release_keeps_the_count_true() {
    loom::model(|| {
        let sem = permits(2);
        sem.try_acquire(2, Caller::here()).unwrap();
        let forgetter = on_thread(&sem, |sem| sem.forget(1));
        let releaser = on_thread(&sem, |sem| sem.release(1));
        releaser.join().unwrap();
        let taken_now = forgetter.join().unwrap();
        assert!(taken_now <= 1);
        assert_eq!(sem.capacity(), 1);
        assert_eq!(sem.available(), 0, "the one permit left is still held");
        sem.release(1);
        assert_eq!(sem.capacity(), 1);
        assert_eq!(sem.available(), 1);
    });
}

#[test]
fn loom_close_racing_a_waiter_fails_it_and_keeps_permits() {
    loom::model(|| {
        let sem = permits(1);
        sem.try_acquire(1, Caller::here()).unwrap();
        let waiter = on_thread(&sem, |sem| block_on(Acquire::new(Shared(sem), 1)).is_ok());
        let closer = on_thread(&sem, |sem| sem.close());
        closer.join().unwrap();
        assert!(!waiter.join().unwrap(), "closed before any release");
        sem.release(1);
        assert_eq!(sem.available(), 1);
        assert_eq!(sem.try_acquire(1, Caller::here()), Err(Refused::Closed));
    });
}

#[test]
fn loom_event_set_wakes_a_waiter_that_is_registering() {
    loom::model(|| {
        let event = Arc::new(Event::new());
        let waiter = {
            let event = event.clone();
            thread::spawn(move || block_on(event.wait()))
        };
        let setter = {
            let event = event.clone();
            thread::spawn(move || event.set())
        };
        setter.join().unwrap();
        waiter.join().unwrap();
        assert!(event.is_set());
    });
}

#[test]
fn loom_a_notification_racing_a_dropped_waiter_is_not_lost() {
    loom::model(|| {
        // Leaked, so the waiters' futures can move to other threads; a few
        // bytes per iteration.
        let notify: &'static Notify = Box::leak(Box::new(Notify::new()));
        let mut dropped = notify.notified();
        let mut next = notify.notified();
        assert!(poll_once(&mut dropped).is_pending());
        assert!(poll_once(&mut next).is_pending());
        let quitter = thread::spawn(move || drop(dropped));
        let notifier = thread::spawn(move || notify.notify_one());
        quitter.join().unwrap();
        notifier.join().unwrap();
        assert!(
            poll_once(&mut next).is_ready(),
            "the notification reached `next`"
        );
        let mut later = notify.notified();
        assert!(
            poll_once(&mut later).is_pending(),
            "and was not also stored"
        );
    });
}

#[test]
fn loom_a_barrier_round_has_exactly_one_leader() {
    loom::model(|| {
        let barrier = Arc::new(Barrier::new(2));
        let party = || {
            let barrier = barrier.clone();
            thread::spawn(move || block_on(barrier.wait()).is_leader())
        };
        let (a, b) = (party(), party());
        assert!(a.join().unwrap() ^ b.join().unwrap());
    });
}

#[test]
fn loom_a_forgotten_permit_and_a_release_racing_a_debt_agree_on_the_capacity() {
    loom::model(|| {
        let sem = permits(2);
        sem.try_acquire(2, Caller::here()).unwrap();
        assert_eq!(sem.forget(1), 0); // owed: one of the two held
        let forgetter = on_thread(&sem, |sem| sem.forget_held(1));
        let releaser = on_thread(&sem, |sem| sem.release(1));
        forgetter.join().unwrap();
        releaser.join().unwrap();
        // Two shrinks of one from two, whatever the order.
        assert_eq!((sem.capacity(), sem.available()), (0, 0));
        sem.add(1);
        assert_eq!(
            sem.try_acquire(1, Caller::here()),
            Ok(()),
            "nothing left owed"
        );
    });
}
