//! loom models of the queue's wake-ups and of close racing send and
//! receive. Items live in concurrent-queue, whose atomics are loom's under
//! `--cfg loom`, so the models see every interleaving of both.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --lib loom`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use loom::future::block_on;
use loom::thread;

use super::{RecvError, SendError, Sent, bounded};

fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    Pin::new(fut).poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn loom_a_send_wakes_a_waiting_receiver() {
    loom::model(|| {
        let (tx, rx) = bounded::<u8>(1);
        let receiver = thread::spawn(move || block_on(rx.recv()));
        tx.try_send(1).unwrap();
        assert_eq!(receiver.join().unwrap(), Ok(1));
    });
}

#[test]
fn loom_a_receive_wakes_a_sender_waiting_for_room() {
    loom::model(|| {
        let (tx, rx) = bounded::<u8>(1);
        tx.try_send(1).unwrap();
        let sender = thread::spawn(move || block_on(tx.send(2)));
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(sender.join().unwrap(), Ok(Sent::Queued));
        assert_eq!(rx.try_recv(), Ok(2));
    });
}

#[test]
fn loom_close_racing_a_waiting_receiver_ends_it() {
    loom::model(|| {
        let (tx, rx) = bounded::<u8>(1);
        let receiver = thread::spawn(move || block_on(rx.recv()));
        tx.close();
        assert_eq!(receiver.join().unwrap(), Err(RecvError::Closed));
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
        rx.close();
        assert_eq!(sender.join().unwrap(), Err(SendError::Closed(2)));
        assert_eq!(rx.try_recv(), Ok(1), "what was queued still drains");
    });
}

#[test]
fn loom_a_dropped_receiver_future_passes_its_wake_up_on() {
    loom::model(|| {
        let (tx, rx) = bounded::<u8>(1);
        let mut stays = rx.recv();
        assert!(poll_once(&mut stays).is_pending());
        let quitter = {
            let rx = rx.clone();
            thread::spawn(move || {
                let mut leaves = rx.recv();
                match poll_once(&mut leaves) {
                    // Got the item first: hand it back for the check below.
                    Poll::Ready(Ok(item)) => Some(item),
                    _ => None,
                }
            })
        };
        tx.try_send(7).unwrap();
        let taken_by_quitter = quitter.join().unwrap();
        if taken_by_quitter.is_none() {
            // The item is for `stays`, whoever was woken.
            assert_eq!(block_on(stays), Ok(7));
        }
    });
}
