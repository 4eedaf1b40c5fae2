//! `herd::queue` under contention: every item is received exactly once or
//! handed back to its sender, whatever the policy, even when the queue is
//! closed mid-stream.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use herd::queue::{Builder, Overflow, SendError, Sent};

const PRODUCERS: usize = 4;
const CONSUMERS: usize = 4;
const ITEMS: usize = 1_000_000;

/// Checks that `received` and `returned` together hold every id below
/// `ITEMS` exactly once.
fn every_item_once(received: Vec<Vec<usize>>, returned: Vec<Vec<usize>>) {
    let mut seen = vec![0u8; ITEMS];
    for id in received.into_iter().chain(returned).flatten() {
        seen[id] += 1;
    }
    let lost = seen.iter().filter(|&&n| n == 0).count();
    let twice = seen.iter().filter(|&&n| n > 1).count();
    assert_eq!((lost, twice), (0, 0), "items lost, items seen twice");
}

async fn run(overflow: Overflow, close_after: usize) -> (usize, usize) {
    run_on(Builder::new(1024).overflow(overflow).build(), close_after).await
}

async fn run_on(
    (tx, rx): (herd::queue::Sender<usize>, herd::queue::Receiver<usize>),
    close_after: usize,
) -> (usize, usize) {
    let taken = Arc::new(AtomicUsize::new(0));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut back = Vec::new();
                for id in (p..ITEMS).step_by(PRODUCERS) {
                    match tx.send(id).await {
                        Ok(Sent::Queued) => {}
                        Ok(Sent::Evicted(old)) => back.push(old),
                        Ok(Sent::Dropped(id)) => back.push(id),
                        Err(err) => back.push(err.into_inner()),
                    }
                }
                back
            })
        })
        .collect();
    drop(tx);
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let (rx, taken) = (rx.clone(), taken.clone());
            tokio::spawn(async move {
                let mut got = Vec::new();
                while let Ok(id) = rx.recv().await {
                    got.push(id);
                    if taken.fetch_add(1, Ordering::Relaxed) + 1 == close_after {
                        rx.close(); // mid-stream: the rest drains or comes back
                    }
                }
                got
            })
        })
        .collect();
    drop(rx);
    let mut returned = Vec::new();
    for producer in producers {
        returned.push(producer.await.unwrap());
    }
    let mut received = Vec::new();
    for consumer in consumers {
        received.push(consumer.await.unwrap());
    }
    let counts = (
        received.iter().map(Vec::len).sum(),
        returned.iter().map(Vec::len).sum(),
    );
    every_item_once(received, returned);
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_million_items_through_four_by_four_with_a_close_mid_stream() {
    let (received, returned) = run(Overflow::Block, ITEMS / 2).await;
    assert!(received >= ITEMS / 2);
    assert!(returned > 0, "the close came before the producers finished");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_million_items_with_no_close_all_arrive() {
    let (received, returned) = run(Overflow::Block, usize::MAX).await;
    assert_eq!((received, returned), (ITEMS, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drop_oldest_under_contention_hands_back_every_eviction() {
    run(Overflow::DropOldest, ITEMS / 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reject_under_contention_hands_back_every_refusal() {
    run(Overflow::Reject, usize::MAX).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_priority_queue_under_contention_loses_nothing() {
    let queue = Builder::new(1024)
        .priority_by(|a: &usize, b| (a % 7).cmp(&(b % 7)))
        .build();
    run_on(queue, ITEMS / 2).await;
}

#[test]
fn threads_move_every_item_exactly_once() {
    const THREAD_ITEMS: usize = 200_000;
    let (tx, rx) = Builder::new(64).build::<usize>();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for id in (p..THREAD_ITEMS).step_by(PRODUCERS) {
                    if let Err(SendError::Closed(_)) = tx.send_blocking(id) {
                        panic!("nobody closed the queue");
                    }
                }
            })
        })
        .collect();
    drop(tx);
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let rx = rx.clone();
            std::thread::spawn(move || {
                std::iter::from_fn(|| rx.recv_blocking().ok()).collect::<Vec<_>>()
            })
        })
        .collect();
    drop(rx);
    for producer in producers {
        producer.join().unwrap();
    }
    let mut seen = vec![false; THREAD_ITEMS];
    for consumer in consumers {
        for id in consumer.join().unwrap() {
            assert!(!seen[id], "item {id} received twice");
            seen[id] = true;
        }
    }
    assert!(seen.iter().all(|&s| s), "every item received");
}
