//! `herd::queue` behaviour: every policy, every close path, the work
//! accounting, cancellation. Timing runs on tokio's paused clock.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::SeqCst;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures::StreamExt;
use herd::queue::{Abandoned, Builder, Overflow, RecvError, SendError, Sent, bounded};

mod common;

use common::{flag_raised_by_another_task, pending_at_a_spent_budget};

fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    Pin::new(fut).poll(&mut Context::from_waker(Waker::noop()))
}

#[tokio::test]
async fn items_come_out_in_order() {
    let (tx, rx) = bounded(8);
    for n in 0..8 {
        assert_eq!(tx.send(n).await, Ok(Sent::Queued));
    }
    for n in 0..8 {
        assert_eq!(rx.recv().await, Ok(n));
    }
}

#[tokio::test]
async fn block_policy_makes_the_sender_wait_for_room() {
    let (tx, rx) = bounded(1);
    tx.send(1).await.unwrap();
    let mut second = tx.send(2);
    assert!(
        poll_once(&mut second).is_pending(),
        "full: the sender waits"
    );
    assert_eq!(rx.recv().await, Ok(1));
    assert_eq!(poll_once(&mut second), Poll::Ready(Ok(Sent::Queued)));
    assert_eq!(rx.try_recv(), Ok(2));
}

#[tokio::test]
async fn drop_oldest_hands_the_evicted_item_back() {
    let (tx, rx) = Builder::new(2).overflow(Overflow::DropOldest).build();
    tx.send(1).await.unwrap();
    tx.send(2).await.unwrap();
    assert_eq!(tx.send(3).await, Ok(Sent::Evicted(1)));
    assert_eq!(tx.send_blocking(4), Ok(Sent::Evicted(2)));
    assert_eq!(rx.recv().await, Ok(3));
    assert_eq!(rx.recv().await, Ok(4));
}

#[tokio::test]
async fn drop_newest_hands_the_new_item_back() {
    let (tx, rx) = Builder::new(1).overflow(Overflow::DropNewest).build();
    tx.send(1).await.unwrap();
    assert_eq!(tx.send(2).await, Ok(Sent::Dropped(2)));
    assert_eq!(rx.recv().await, Ok(1));
    assert_eq!(rx.try_recv(), Err(RecvError::Empty));
}

#[tokio::test]
async fn reject_fails_with_the_item() {
    let (tx, rx) = Builder::new(1).overflow(Overflow::Reject).build();
    tx.send(1).await.unwrap();
    let err = tx.send(2).await.unwrap_err();
    assert_eq!(err, SendError::Full(2));
    assert_eq!(err.to_string(), "the queue is full");
    assert_eq!(rx.recv().await, Ok(1));
}

#[tokio::test]
async fn close_wakes_blocked_senders_with_their_items_and_receivers_drain() {
    let (tx, rx) = bounded(1);
    tx.send(1).await.unwrap();
    let waiting: Vec<_> = (2..5)
        .map(|n| {
            let tx = tx.clone();
            tokio::spawn(async move { tx.send(n).await })
        })
        .collect();
    tokio::task::yield_now().await;
    assert!(rx.close());
    for (n, sender) in (2..5).zip(waiting) {
        assert_eq!(sender.await.unwrap(), Err(SendError::Closed(n)));
    }
    assert_eq!(rx.recv().await, Ok(1), "buffered items still drain");
    assert_eq!(rx.recv().await, Err(RecvError::Closed));
    assert_eq!(rx.recv().await, Err(RecvError::Closed), "and stays closed");
}

#[tokio::test]
async fn the_last_sender_dropped_ends_the_stream() {
    let (tx, rx) = bounded(4);
    let other = tx.clone();
    tx.send(1).await.unwrap();
    drop(tx);
    other.send(2).await.unwrap();
    assert!(!rx.is_closed(), "one sender is left");
    drop(other);
    assert_eq!(rx.collect::<Vec<_>>().await, [1, 2]);
}

#[tokio::test]
async fn a_receiver_waiting_on_an_empty_queue_sees_the_close() {
    let (tx, rx) = bounded::<u8>(1);
    let waiter = tokio::spawn(async move { rx.recv().await });
    tokio::task::yield_now().await;
    drop(tx);
    assert_eq!(waiter.await.unwrap(), Err(RecvError::Closed));
}

#[tokio::test]
async fn the_last_receiver_dropped_fails_sends_with_the_item() {
    let (tx, rx) = bounded(1);
    tx.send(1).await.unwrap();
    let mut blocked = tx.send(2);
    assert!(poll_once(&mut blocked).is_pending());
    drop(rx);
    assert_eq!(
        poll_once(&mut blocked),
        Poll::Ready(Err(SendError::Closed(2)))
    );
    assert_eq!(tx.try_send(3), Err(SendError::Closed(3)));
    assert!(tx.is_closed());
}

#[tokio::test(start_paused = true)]
async fn timeouts_return_the_item_and_leave_the_line() {
    let (tx, rx) = bounded(1);
    tx.send(1).await.unwrap();
    let started = tokio::time::Instant::now();
    assert_eq!(
        tx.send_timeout(2, Duration::from_millis(300)).await,
        Err(SendError::TimedOut(2))
    );
    assert_eq!(started.elapsed(), Duration::from_millis(300));
    assert_eq!(rx.recv().await, Ok(1));
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(1)).await,
        Err(RecvError::TimedOut)
    );
    // The timed-out sender is not in line: a new send goes straight in.
    assert_eq!(tx.try_send(3), Ok(Sent::Queued));
}

#[tokio::test]
async fn a_dropped_receive_passes_its_wake_up_on() {
    let (tx, rx) = bounded(4);
    let mut first = rx.recv();
    let mut second = rx.recv();
    // A receive that finds the queue empty joins the line at once.
    assert!(poll_once(&mut first).is_pending());
    assert!(poll_once(&mut second).is_pending());
    tx.try_send(1).unwrap(); // wakes `first`, which never looks
    drop(first);
    assert_eq!(
        poll_once(&mut second),
        Poll::Ready(Ok(1)),
        "nothing stranded"
    );
}

/// Counts the wake-ups it is given.
struct Counter(std::sync::atomic::AtomicUsize);

impl std::task::Wake for Counter {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn a_receive_on_an_empty_queue_waits_in_line_without_spinning() {
    use std::sync::atomic::Ordering::SeqCst;
    let (tx, rx) = bounded(4);
    let counter = std::sync::Arc::new(Counter(Default::default()));
    let waker = Waker::from(counter.clone());
    let mut cx = Context::from_waker(&waker);
    let mut recv = rx.recv();
    for _ in 0..3 {
        assert!(Pin::new(&mut recv).poll(&mut cx).is_pending());
    }
    assert_eq!(
        counter.0.load(SeqCst),
        0,
        "in line, never woken for nothing"
    );
    tx.try_send(9).unwrap();
    assert_eq!(counter.0.load(SeqCst), 1, "woken by the send");
    assert_eq!(Pin::new(&mut recv).poll(&mut cx), Poll::Ready(Ok(9)));
    // A send that finds the queue full waits the same way.
    let (tx, rx) = bounded(1);
    tx.try_send(1).unwrap();
    let mut send = tx.send(2);
    for _ in 0..3 {
        assert!(Pin::new(&mut send).poll(&mut cx).is_pending());
    }
    assert_eq!(
        counter.0.load(SeqCst),
        1,
        "in line, never woken for nothing"
    );
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(counter.0.load(SeqCst), 2, "woken by the receive");
    assert_eq!(
        Pin::new(&mut send).poll(&mut cx),
        Poll::Ready(Ok(Sent::Queued))
    );
}

#[tokio::test]
async fn a_dropped_send_loses_nothing_else() {
    let (tx, rx) = bounded(1);
    tx.send(1).await.unwrap();
    let mut first = tx.send(2);
    let mut second = tx.send(3);
    // A send that finds the queue full joins the line at once.
    assert!(poll_once(&mut first).is_pending());
    assert!(poll_once(&mut second).is_pending());
    assert_eq!(rx.recv().await, Ok(1)); // wakes `first`
    drop(first); // which gives up: its wake-up goes to `second`
    assert_eq!(poll_once(&mut second), Poll::Ready(Ok(Sent::Queued)));
    assert_eq!(rx.recv().await, Ok(3));
}

#[tokio::test]
async fn join_waits_for_every_item_to_be_done() {
    let (tx, rx) = bounded(4);
    tx.send(1).await.unwrap();
    tx.send(2).await.unwrap();
    let mut join = tx.join();
    assert!(poll_once(&mut join).is_pending());
    let first = rx.recv_tracked().await.unwrap();
    let _second = rx.recv().await.unwrap();
    drop(first);
    assert!(poll_once(&mut join).is_pending(), "one is still unfinished");
    rx.done();
    assert_eq!(poll_once(&mut join), Poll::Ready(Ok(())));
}

#[tokio::test]
async fn a_panicking_worker_still_marks_its_item_done() {
    let (tx, rx) = bounded(4);
    tx.send(1).await.unwrap();
    let worker = tokio::spawn(async move {
        let _job = rx.recv_tracked().await.unwrap();
        panic!("worker crashed");
    });
    assert!(worker.await.unwrap_err().is_panic());
    // The receiver died with the worker, but the item had been marked done.
    assert_eq!(tx.join().await, Ok(()));
}

#[tokio::test]
async fn join_fails_when_every_receiver_is_gone_with_work_left() {
    let (tx, rx) = bounded(4);
    tx.send(1).await.unwrap();
    tx.send(2).await.unwrap();
    let _ = rx.recv().await.unwrap();
    drop(rx);
    assert_eq!(tx.join().await, Err(Abandoned { unfinished: 2 }));
}

#[tokio::test]
async fn evicted_and_dropped_items_do_not_count_as_work() {
    let (tx, rx) = Builder::new(1).overflow(Overflow::DropOldest).build();
    tx.send(1).await.unwrap();
    assert_eq!(tx.send(2).await, Ok(Sent::Evicted(1)));
    let _ = rx.recv().await.unwrap();
    rx.done();
    assert_eq!(tx.join().await, Ok(()), "the evicted item was never owed");
}

#[test]
#[should_panic(expected = "done() called more times than items were sent")]
fn too_many_dones_is_a_bug_caught_loudly() {
    let (_tx, rx) = bounded::<u8>(1);
    rx.done();
}

#[test]
#[should_panic(expected = "a queue needs a capacity of at least 1, got 0")]
fn a_zero_capacity_is_refused() {
    let _ = bounded::<u8>(0);
}

#[test]
fn threads_and_tasks_share_one_queue() {
    let (tx, rx) = bounded(2);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let producer = runtime.spawn({
        let tx = tx.clone();
        async move {
            for n in 0..1_000u64 {
                tx.send(n).await.unwrap();
            }
        }
    });
    let thread = std::thread::spawn({
        let tx = tx.clone();
        move || {
            for n in 1_000..2_000u64 {
                tx.send_blocking(n).unwrap();
            }
        }
    });
    drop(tx);
    let mut total = 0;
    while let Ok(n) = rx.recv_blocking() {
        total += n;
    }
    thread.join().unwrap();
    runtime.block_on(producer).unwrap();
    assert_eq!(total, (0..2_000).sum::<u64>());
}

#[test]
fn blocking_timeouts_return_the_item() {
    let (tx, rx) = bounded(1);
    tx.send_blocking(1).unwrap();
    assert_eq!(
        tx.send_blocking_timeout(2, Duration::from_millis(10)),
        Err(SendError::TimedOut(2))
    );
    assert_eq!(rx.recv_blocking_timeout(Duration::from_millis(10)), Ok(1));
    assert_eq!(
        rx.recv_blocking_timeout(Duration::from_millis(10)),
        Err(RecvError::TimedOut)
    );
}

// ---- priority queue ---------------------------------------------------------

#[tokio::test]
async fn priorities_come_out_highest_first_and_equals_in_arrival_order() {
    let (tx, rx) = Builder::new(64)
        .priority_by(|a: &(u8, u32), b| a.0.cmp(&b.0))
        .build();
    // Many equal priorities, interleaved: the heap must not reorder them.
    for seq in 0..60u32 {
        tx.send(((seq % 3) as u8, seq)).await.unwrap();
    }
    drop(tx);
    let out: Vec<_> = rx.collect().await;
    for level in [2u8, 1, 0] {
        let seqs: Vec<_> = out
            .iter()
            .filter(|(p, _)| *p == level)
            .map(|(_, s)| *s)
            .collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "FIFO among equals at {level}"
        );
    }
    let levels: Vec<_> = out.iter().map(|(p, _)| *p).collect();
    assert!(levels.windows(2).all(|w| w[0] >= w[1]), "highest first");
}

#[tokio::test]
async fn a_full_priority_queue_blocks_and_closes_like_any_queue() {
    let (tx, rx) = Builder::new(1).priority::<u32>().build();
    tx.send(1).await.unwrap();
    let mut blocked = tx.send(5);
    assert!(poll_once(&mut blocked).is_pending());
    rx.close();
    assert_eq!(
        poll_once(&mut blocked),
        Poll::Ready(Err(SendError::Closed(5)))
    );
    assert_eq!(rx.recv().await, Ok(1));
    assert_eq!(rx.recv().await, Err(RecvError::Closed));
}

#[tokio::test]
async fn drop_oldest_on_priorities_evicts_what_would_come_out_last() {
    let (tx, rx) = Builder::new(2)
        .overflow(Overflow::DropOldest)
        .priority::<u32>()
        .build();
    tx.send(5).await.unwrap();
    tx.send(3).await.unwrap();
    assert_eq!(tx.send(9).await, Ok(Sent::Evicted(3)), "the lowest goes");
    assert_eq!(
        tx.send(1).await,
        Ok(Sent::Evicted(1)),
        "a newcomer that is lowest goes itself"
    );
    assert_eq!(rx.recv().await, Ok(9));
    assert_eq!(rx.recv().await, Ok(5));
}

#[tokio::test]
async fn join_fails_when_the_last_receiver_leaves_a_closed_queue() {
    // Found in review: "send everything, close, join" must not hang if the
    // workers die.
    let (tx, rx) = bounded(4);
    tx.send(1).await.unwrap();
    tx.close();
    let mut join = tx.join();
    assert!(poll_once(&mut join).is_pending());
    drop(rx);
    assert_eq!(
        poll_once(&mut join),
        Poll::Ready(Err(Abandoned { unfinished: 1 }))
    );
}

// ---- Sender::into_sink: the queue as a futures Sink ----

#[tokio::test(start_paused = true)]
async fn a_sink_waits_for_room_and_holds_at_most_one_item_back() {
    use futures::SinkExt;
    use std::future::Future;

    let (tx, rx) = herd::queue::bounded::<u32>(2);
    let mut sink = tx.into_sink();
    sink.send(1).await.unwrap();
    sink.send(2).await.unwrap();
    // Full: the third item is accepted but waits in line; the sink is not
    // ready for a fourth until it is in.
    sink.feed(3).await.unwrap();
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    {
        let mut ready = std::pin::pin!(futures::future::poll_fn(|cx| {
            futures::Sink::<u32>::poll_ready(std::pin::Pin::new(&mut sink), cx)
        }));
        assert!(ready.as_mut().poll(&mut cx).is_pending());
    }
    assert_eq!(rx.recv().await, Ok(1));
    sink.flush().await.unwrap();
    assert_eq!(rx.len(), 2);
    drop(sink);
    let rest: Vec<u32> = futures::StreamExt::collect(rx).await;
    assert_eq!(rest, [2, 3]);
}

#[tokio::test]
async fn a_sink_gives_the_item_back_when_the_queue_is_closed_or_full() {
    use futures::SinkExt;
    use herd::queue::{Builder, Overflow, SendError};

    let (tx, rx) = herd::queue::bounded::<u32>(1);
    let mut sink = tx.into_sink();
    drop(rx);
    assert_eq!(sink.send(9).await, Err(SendError::Closed(9)));

    let (tx, _rx) = Builder::new(1).overflow(Overflow::Reject).build::<u32>();
    let mut sink = tx.into_sink();
    sink.send(1).await.unwrap();
    assert_eq!(sink.send(2).await, Err(SendError::Full(2)));

    // Closed while the item waits for room: it comes back from the flush.
    let (tx, rx) = herd::queue::bounded::<u32>(1);
    let mut sink = tx.into_sink();
    sink.send(1).await.unwrap();
    sink.feed(2).await.unwrap();
    rx.close();
    assert_eq!(sink.flush().await, Err(SendError::Closed(2)));
}

#[tokio::test]
async fn closing_the_last_sink_closes_the_queue_after_its_items() {
    use futures::SinkExt;

    let (tx, rx) = herd::queue::bounded::<u32>(8);
    let mut sink = tx.into_sink();
    for n in 0..5 {
        sink.feed(n).await.unwrap();
    }
    sink.close().await.unwrap();
    let all: Vec<u32> = futures::StreamExt::collect(rx).await;
    assert_eq!(all, [0, 1, 2, 3, 4]);
}

#[tokio::test]
async fn dropping_a_sink_with_an_item_in_line_loses_only_that_item() {
    use futures::SinkExt;

    let (tx, rx) = herd::queue::bounded::<u32>(1);
    let keep = tx.clone();
    let mut sink = tx.into_sink();
    sink.send(1).await.unwrap();
    sink.feed(2).await.unwrap(); // waits for room
    drop(sink);
    assert_eq!(rx.recv().await, Ok(1));
    // The line it left does not hold the next sender back.
    keep.send(3).await.unwrap();
    assert_eq!(rx.recv().await, Ok(3));
    assert_eq!(rx.try_recv(), Err(herd::queue::RecvError::Empty));
}

/// Spawns a send of `item` on the current thread and lets it join the line
/// of senders (behind one already waiting).
async fn second_in_line(
    tx: herd::queue::Sender<u32>,
    item: u32,
) -> tokio::task::JoinHandle<Result<Sent<u32>, SendError<u32>>> {
    let send = tokio::spawn(async move { tx.send(item).await });
    tokio::task::yield_now().await;
    send
}

/// Waits for a sender in line to finish; on the paused clock, a sender that
/// is never woken makes this fail at once instead of hanging.
async fn woken(send: tokio::task::JoinHandle<Result<Sent<u32>, SendError<u32>>>) {
    let sent = tokio::time::timeout(Duration::from_secs(1), send)
        .await
        .expect("the next sender was woken");
    assert_eq!(sent.unwrap(), Ok(Sent::Queued));
}

// A sink's waiting item is first in the senders' line; room made for it
// wakes the sink. Dropped before it looks, the sink passes that wake-up on,
// so the sender behind it is not left asleep beside free room.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_sink_dropped_after_its_wake_up_passes_it_to_the_next_sender() {
    use futures::SinkExt;

    let (tx, rx) = herd::queue::bounded::<u32>(1);
    let behind = tx.clone();
    let mut sink = tx.into_sink();
    sink.send(1).await.unwrap();
    sink.feed(2).await.unwrap();
    let mut cx = Context::from_waker(Waker::noop());
    let flush = futures::Sink::<u32>::poll_flush(Pin::new(&mut sink), &mut cx);
    assert!(flush.is_pending(), "first in line");
    let next = second_in_line(behind, 3).await;
    assert_eq!(rx.recv().await, Ok(1)); // wakes the sink
    drop(sink);
    woken(next).await;
    assert_eq!(rx.recv().await, Ok(3));
    assert_eq!(
        rx.try_recv(),
        Err(RecvError::Closed),
        "the sink's item 2 was dropped, nothing else"
    );
}

// Every item a sink accepts takes a unit of the task's budget, also when
// the item before it had to wait for room (and took none to finish): a
// loop whose items each wait, with room coming before the next, still
// yields.
#[tokio::test(flavor = "current_thread")]
async fn a_sink_whose_items_each_wait_still_uses_the_budget() {
    use futures::Sink;

    let (tx, rx) = herd::queue::bounded::<u32>(1);
    tx.try_send(u32::MAX).unwrap(); // full
    let mut sink = tx.into_sink();
    let accepted = std::future::poll_fn(|cx| {
        let mut n = 0;
        while n < 10_000 {
            match Pin::new(&mut sink).poll_ready(cx) {
                Poll::Pending => break,
                Poll::Ready(ready) => ready.unwrap(),
            }
            Pin::new(&mut sink).start_send(n).unwrap(); // waits in the sink
            assert!(Pin::new(&mut sink).poll_flush(cx).is_pending(), "in line");
            rx.try_recv().unwrap(); // room, which wakes the sink
            n += 1;
        }
        Poll::Ready(n)
    })
    .await;
    assert!(
        (1..1_000).contains(&accepted),
        "{accepted} items in one poll"
    );
}

// `start_send` without a ready `poll_ready` while an item waits breaks the
// `Sink` contract; the sink hands the new item back and keeps its place in
// line, so nothing is lost and the senders behind it are still woken.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn start_send_over_a_waiting_item_hands_the_new_one_back() {
    use futures::Sink;

    let (tx, rx) = herd::queue::bounded::<u32>(1);
    let behind = tx.clone();
    tx.try_send(0).unwrap();
    let mut sink = tx.into_sink();
    let mut cx = Context::from_waker(Waker::noop());
    assert!(Pin::new(&mut sink).poll_ready(&mut cx).is_ready());
    Pin::new(&mut sink).start_send(1).unwrap();
    assert!(
        Pin::new(&mut sink).poll_flush(&mut cx).is_pending(),
        "in line"
    );
    assert_eq!(Pin::new(&mut sink).start_send(2), Err(SendError::Full(2)));
    let next = second_in_line(behind, 3).await;
    assert_eq!(rx.recv().await, Ok(0));
    assert!(
        Pin::new(&mut sink).poll_flush(&mut cx).is_ready(),
        "1 went in"
    );
    assert_eq!(rx.recv().await, Ok(1));
    drop(sink);
    woken(next).await;
    assert_eq!(rx.recv().await, Ok(3));
}

// A sender woken in line whose next poll finds the budget spent returns
// `Pending`; dropped then, it passes the wake-up to the sender behind it.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_woken_send_dropped_at_a_spent_budget_passes_the_wake_up_on() {
    let (tx, rx) = bounded::<u32>(1);
    tx.try_send(0).unwrap();
    let behind = tx.clone();
    let mut first = tx.send(1);
    assert!(poll_once(&mut first).is_pending());
    let next = second_in_line(behind, 2).await;
    assert_eq!(rx.try_recv(), Ok(0)); // wakes `first`
    let pending = pending_at_a_spent_budget(&mut first).await;
    assert!(pending, "a spent budget makes it wait its turn");
    drop(first);
    woken(next).await;
    assert_eq!(rx.try_recv(), Ok(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sinks_under_contention_deliver_every_item_exactly_once() {
    use futures::{SinkExt, StreamExt};

    const SINKS: u64 = 4;
    const EACH: u64 = 10_000;
    let (tx, rx) = herd::queue::bounded::<u64>(16);
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let rx = rx.clone();
            tokio::spawn(async move { rx.collect::<Vec<u64>>().await })
        })
        .collect();
    drop(rx);
    let producers: Vec<_> = (0..SINKS)
        .map(|p| {
            let mut sink = tx.clone().into_sink();
            tokio::spawn(async move {
                let items = futures::stream::iter(p * EACH..(p + 1) * EACH).map(Ok);
                sink.send_all(&mut Box::pin(items)).await.unwrap();
                sink.close().await.unwrap();
            })
        })
        .collect();
    drop(tx);
    for producer in producers {
        producer.await.unwrap();
    }
    let mut all = Vec::new();
    for consumer in consumers {
        all.extend(consumer.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(all, (0..SINKS * EACH).collect::<Vec<_>>());
}

// A loop over a queue that is always ready (room to send, items to
// receive) never waits; each completed send and receive takes a unit of
// tokio's task budget, so the loop still gives the thread's other tasks a
// turn, as tokio's own channels do, instead of holding the thread until the
// loop ends.
#[tokio::test(flavor = "current_thread")]
async fn loops_over_a_ready_queue_let_the_threads_other_tasks_run() {
    const N: usize = 10_000;
    let (tx, mut rx) = bounded(N);

    let flag = flag_raised_by_another_task();
    let mut sent = 0;
    while sent < N && !flag.load(SeqCst) {
        tx.send(sent).await.unwrap();
        sent += 1;
    }
    assert!(
        (1..1_000).contains(&sent),
        "another task ran after {sent} sends"
    );
    for n in sent..N {
        tx.try_send(n).unwrap();
    }

    let flag = flag_raised_by_another_task();
    let mut received = 0;
    while received < N && !flag.load(SeqCst) {
        assert_eq!(rx.recv().await, Ok(received));
        received += 1;
    }
    assert!(
        (1..1_000).contains(&received),
        "another task ran after {received} receives"
    );

    let flag = flag_raised_by_another_task();
    let mut streamed = 0;
    while received + streamed < N && !flag.load(SeqCst) {
        assert_eq!(rx.next().await, Some(received + streamed));
        streamed += 1;
    }
    assert!(
        (1..1_000).contains(&streamed),
        "another task ran after {streamed} stream items"
    );
    assert_eq!(
        rx.len(),
        N - received - streamed,
        "nothing lost or taken twice"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_sink_fed_by_a_ready_stream_lets_the_threads_other_tasks_run() {
    use futures::SinkExt;

    let (tx, rx) = bounded(10_000);
    let mut sink = tx.into_sink();
    let flag = flag_raised_by_another_task();
    let mut fed = 0;
    while fed < 10_000 && !flag.load(SeqCst) {
        sink.feed(fed).await.unwrap();
        fed += 1;
    }
    assert!(
        (1..1_000).contains(&fed),
        "another task ran after {fed} items fed"
    );
    assert_eq!(rx.len(), fed);
    assert_eq!(rx.try_recv(), Ok(0));
}

// The budget is tokio's, so tokio's opt-out works: a loop wrapped in
// `unconstrained` keeps the thread until it ends.
#[tokio::test(flavor = "current_thread")]
async fn an_unconstrained_loop_keeps_the_thread() {
    const N: usize = 10_000;
    let (tx, rx) = bounded(N);
    let flag = flag_raised_by_another_task();
    tokio::task::coop::unconstrained(async {
        for n in 0..N {
            tx.send(n).await.unwrap();
            assert_eq!(rx.recv().await, Ok(n));
        }
    })
    .await;
    assert!(!flag.load(SeqCst));
    tokio::task::yield_now().await;
    assert!(flag.load(SeqCst));
}
