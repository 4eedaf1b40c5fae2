//! loom models of the queue's wake-ups, of close racing send and receive,
//! of `join` racing the last `done`, and of the ring's eviction. The ring's
//! atomics are loom's under `--cfg loom`, so the models see every
//! interleaving of the ring and the lines together.
//!
//! Each racing side runs in a thread of its own; the model's main thread
//! only sets up, joins and checks the books. (loom explores far fewer
//! interleavings of a race the main thread takes part in: a model written
//! that way passed even with the code it guards broken.)
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --lib loom`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use loom::future::block_on;
use loom::thread;

use super::ring::{PopError, PushError, Ring};
use super::{Builder, Overflow, Receiver, RecvError, SendError, Sent, bounded};
use crate::loom::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    Pin::new(fut).poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn loom_a_send_wakes_a_waiting_receiver() {
    loom::model(|| {
        let (tx, rx) = bounded::<u8>(1);
        let receiver = {
            let rx = rx.clone();
            thread::spawn(move || block_on(rx.recv()))
        };
        let sender = {
            let tx = tx.clone();
            thread::spawn(move || tx.try_send(1))
        };
        assert_eq!(sender.join().unwrap(), Ok(Sent::Queued));
        assert_eq!(receiver.join().unwrap(), Ok(1));
        assert_eq!(rx.try_recv(), Err(RecvError::Empty), "taken once");
    });
}

#[test]
fn loom_a_receive_wakes_a_sender_waiting_for_room() {
    loom::model(|| {
        let (tx, rx) = bounded::<u8>(1);
        tx.try_send(1).unwrap();
        let sender = {
            let tx = tx.clone();
            thread::spawn(move || block_on(tx.send(2)))
        };
        let receiver = {
            let rx = rx.clone();
            thread::spawn(move || rx.try_recv())
        };
        assert_eq!(receiver.join().unwrap(), Ok(1));
        assert_eq!(sender.join().unwrap(), Ok(Sent::Queued));
        assert_eq!(rx.try_recv(), Ok(2));
        assert_eq!(rx.try_recv(), Err(RecvError::Empty));
    });
}

#[test]
fn loom_close_racing_a_waiting_receiver_ends_it() {
    loom::model(|| {
        let (tx, rx) = bounded::<u8>(1);
        let receiver = {
            let rx = rx.clone();
            thread::spawn(move || block_on(rx.recv()))
        };
        let closer = {
            let tx = tx.clone();
            thread::spawn(move || tx.close())
        };
        assert!(closer.join().unwrap(), "the first close");
        assert_eq!(receiver.join().unwrap(), Err(RecvError::Closed));
        assert_eq!(rx.try_recv(), Err(RecvError::Closed));
    });
}

#[test]
fn loom_close_racing_a_blocked_sender_returns_its_item() {
    loom::model(|| {
        let (tx, rx) = bounded::<u8>(1);
        tx.try_send(1).unwrap();
        let sender = {
            let tx = tx.clone();
            thread::spawn(move || block_on(tx.send(2)))
        };
        let closer = {
            let rx = rx.clone();
            thread::spawn(move || rx.close())
        };
        assert!(closer.join().unwrap(), "the first close");
        assert_eq!(sender.join().unwrap(), Err(SendError::Closed(2)));
        assert_eq!(rx.try_recv(), Ok(1), "what was queued still drains");
        assert_eq!(rx.try_recv(), Err(RecvError::Closed));
    });
}

#[test]
fn loom_a_dropped_receiver_future_passes_its_wake_up_on() {
    loom::model(|| {
        let (tx, rx) = bounded::<u8>(1);
        // Leaked, so the waiters' futures can move to other threads; a few
        // bytes per iteration.
        let waiters: &'static Receiver<u8> = Box::leak(Box::new(rx.clone()));
        // `leaves` is first in line, so the send wakes it, unless it has
        // left already.
        let mut leaves = waiters.recv();
        let mut stays = waiters.recv();
        assert!(poll_once(&mut leaves).is_pending());
        assert!(poll_once(&mut stays).is_pending());
        let quitter = thread::spawn(move || drop(leaves));
        let sender = {
            let tx = tx.clone();
            thread::spawn(move || tx.try_send(7))
        };
        // Waits for a wake-up: a lost one leaves it blocked for good, which
        // loom reports as a deadlock.
        let stayer = thread::spawn(move || block_on(stays));
        quitter.join().unwrap();
        assert_eq!(sender.join().unwrap(), Ok(Sent::Queued));
        assert_eq!(stayer.join().unwrap(), Ok(7));
        assert_eq!(rx.try_recv(), Err(RecvError::Empty), "taken once");
    });
}

#[test]
fn loom_join_resolves_only_after_the_last_done() {
    loom::model(|| {
        let (tx, rx) = bounded::<u8>(1);
        tx.try_send(1).unwrap();
        let worked = Arc::new(AtomicBool::new(false));
        let worker = {
            let (rx, worked) = (rx.clone(), worked.clone());
            thread::spawn(move || {
                assert_eq!(rx.try_recv(), Ok(1));
                worked.store(true, Ordering::Relaxed);
                rx.done();
            })
        };
        let joiner = {
            let (tx, worked) = (tx.clone(), worked.clone());
            // A lost wake-up leaves it blocked for good: a loom deadlock.
            thread::spawn(move || {
                block_on(tx.join()).unwrap();
                assert!(worked.load(Ordering::Relaxed), "join before the work");
            })
        };
        worker.join().unwrap();
        joiner.join().unwrap();
    });
}

#[test]
fn loom_an_eviction_racing_a_receive_loses_and_doubles_nothing() {
    loom::model(|| {
        let (tx, rx) = Builder::new(1).overflow(Overflow::DropOldest).build::<u8>();
        tx.try_send(1).unwrap();
        let sender = {
            let tx = tx.clone();
            thread::spawn(move || tx.try_send(2).unwrap())
        };
        let receiver = {
            let rx = rx.clone();
            thread::spawn(move || rx.try_recv())
        };
        let sent = sender.join().unwrap();
        let mut received: Vec<u8> = receiver.join().unwrap().into_iter().collect();
        received.extend(rx.try_recv().ok());
        let mut books = received.clone();
        if let Sent::Evicted(old) = sent {
            books.push(old);
        }
        books.sort();
        assert_eq!(books, [1, 2], "each item received or evicted, once");
        // An eviction counts as done; what was received is marked done
        // here, and then nothing is unfinished.
        for _ in &received {
            rx.done();
        }
        assert_eq!(poll_once(&mut tx.join()), Poll::Ready(Ok(())));
    });
}

#[test]
fn loom_a_close_racing_an_eviction_stays_closed() {
    loom::model(|| {
        let ring = Arc::new(Ring::new(1));
        ring.push(1u8).unwrap();
        let evicter = {
            let ring = ring.clone();
            thread::spawn(move || ring.force_push(2))
        };
        let closer = {
            let ring = ring.clone();
            thread::spawn(move || ring.close())
        };
        let evicted = evicter.join().unwrap();
        assert!(closer.join().unwrap());
        assert!(ring.is_closed(), "the eviction's tail move kept the mark");
        assert_eq!(ring.push(3), Err(PushError::Closed(3)));
        match evicted {
            Ok(Some(1)) => assert_eq!(ring.pop(), Ok(2)),
            Err(2) => assert_eq!(ring.pop(), Ok(1)),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(ring.pop(), Err(PopError::Closed));
    });
}

#[test]
fn loom_a_receiver_that_finds_an_item_after_joining_passes_on_its_wake_up() {
    // Two receivers in line, two items: a receiver whose own look after
    // joining the line takes the first item, while the second item's send
    // wakes it as the front of the line, must hand that wake-up on, or
    // the other receiver sleeps beside the second item. Modelled on the
    // priority queue: on the ring, a receiver spinning on a half-done
    // push makes loom exceed its branch limit with two receivers.
    loom::model(|| {
        let (tx, rx) = Builder::new(2).priority::<u8>().build();
        let first = {
            let rx = rx.clone();
            thread::spawn(move || block_on(rx.recv()))
        };
        let second = {
            let rx = rx.clone();
            thread::spawn(move || block_on(rx.recv()))
        };
        let sender = {
            let tx = tx.clone();
            thread::spawn(move || {
                assert_eq!(tx.try_send(1), Ok(Sent::Queued));
                assert_eq!(tx.try_send(2), Ok(Sent::Queued));
            })
        };
        sender.join().unwrap();
        let mut got = [
            first.join().unwrap().unwrap(),
            second.join().unwrap().unwrap(),
        ];
        got.sort();
        assert_eq!(got, [1, 2]);
    });
}
