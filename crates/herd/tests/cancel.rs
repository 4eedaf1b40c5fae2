//! Behaviour of `CancelToken`, `timeout` and `deadline`.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Waker};
use std::time::Duration;

use herd::task::{CancelReason, CancelToken, deadline, timeout};
use tokio::time::{Instant, sleep};

mod common;

use common::DropGuard;

#[test]
fn cancelling_a_parent_cancels_every_descendant_with_its_reason() {
    let root = CancelToken::new();
    let child = root.child();
    let grandchild = child.child();
    let sibling = root.child();
    root.cancel("restart");
    for token in [&child, &grandchild, &sibling] {
        assert_eq!(token.reason(), Some(CancelReason::from("restart")));
    }
}

#[test]
fn cancelling_a_child_never_touches_its_parent_or_siblings() {
    let root = CancelToken::new();
    let child = root.child();
    let sibling = root.child();
    let grandchild = child.child();
    child.cancel("only this branch");
    assert!(grandchild.is_cancelled());
    assert!(!root.is_cancelled());
    assert!(!sibling.is_cancelled());
}

#[test]
fn the_first_reason_stays() {
    let token = CancelToken::new();
    let child = token.child();
    child.cancel("child first");
    token.cancel("parent later");
    assert_eq!(child.reason(), Some(CancelReason::from("child first")));
    assert_eq!(token.reason(), Some(CancelReason::from("parent later")));
}

#[test]
fn a_child_of_a_cancelled_token_is_born_cancelled() {
    let token = CancelToken::new();
    token.cancel(String::from("gone"));
    assert_eq!(token.child().reason(), Some(CancelReason::from("gone")));
}

#[test]
fn dropped_children_do_not_keep_a_long_lived_parent_busy() {
    let root = CancelToken::new();
    for _ in 0..100_000 {
        let child = root.child();
        drop(child.child());
    }
    // Cancelling walks only live children; the dropped ones unlinked.
    let live = root.child();
    root.cancel("done");
    assert!(live.is_cancelled());
}

#[tokio::test]
async fn every_waiter_wakes_with_the_reason() {
    let token = CancelToken::new();
    let mut waiters = Vec::new();
    for _ in 0..8 {
        let token = token.child();
        waiters.push(tokio::spawn(async move { token.cancelled().await }));
    }
    tokio::task::yield_now().await;
    token.cancel("all of you");
    for waiter in waiters {
        assert_eq!(waiter.await.unwrap(), CancelReason::from("all of you"));
    }
}

/// Polls `fut` `polls` times with a no-op waker, then drops it.
fn poll_then_drop<F: Future>(fut: F, polls: usize) {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..polls {
        if fut.as_mut().poll(&mut cx).is_ready() {
            return;
        }
    }
}

#[test]
fn a_dropped_waiter_at_any_point_does_not_disturb_the_others() {
    for polls in 0..3 {
        let token = CancelToken::new();
        let woken = Arc::new(AtomicUsize::new(0));
        let keep = token.cancelled();
        let mut keep = pin!(keep);
        let waker = Waker::from(Arc::new(CountingWaker(woken.clone())));
        let mut cx = Context::from_waker(&waker);
        assert!(keep.as_mut().poll(&mut cx).is_pending());

        poll_then_drop(token.cancelled(), polls);
        token.cancel("after the drop");
        assert_eq!(woken.load(Ordering::SeqCst), 1, "polls = {polls}");
        assert!(keep.as_mut().poll(&mut cx).is_ready());
        // Dropping a waiter after the cancel is fine too.
        poll_then_drop(token.cancelled(), polls);
    }
}

struct CountingWaker(Arc<AtomicUsize>);

impl std::task::Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_repolled_waiter_is_woken_through_its_latest_waker() {
    let token = CancelToken::new();
    let first = Arc::new(AtomicUsize::new(0));
    let second = Arc::new(AtomicUsize::new(0));
    let mut waiting = pin!(token.cancelled());
    let waker = Waker::from(Arc::new(CountingWaker(first.clone())));
    assert!(
        waiting
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
    );
    let waker = Waker::from(Arc::new(CountingWaker(second.clone())));
    assert!(
        waiting
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
    );
    token.cancel("now");
    assert_eq!(
        (first.load(Ordering::SeqCst), second.load(Ordering::SeqCst)),
        (0, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn run_until_cancelled_drops_the_work_and_returns_the_reason() {
    let token = CancelToken::new();
    let canceller = token.clone();
    tokio::spawn(async move {
        sleep(Duration::from_secs(1)).await;
        canceller.cancel("enough");
    });
    let start = Instant::now();
    let result = token
        .run_until_cancelled(sleep(Duration::from_secs(60)))
        .await;
    assert_eq!(result, Err(CancelReason::from("enough")));
    assert_eq!(start.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn timeout_drops_the_future_and_names_the_budget() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let guard = DropGuard(dropped.clone());
    let start = Instant::now();
    let err = timeout(Duration::from_millis(300), async move {
        let _guard = guard;
        sleep(Duration::from_secs(60)).await;
    })
    .await
    .unwrap_err();
    assert_eq!(err.budget(), Duration::from_millis(300));
    assert_eq!(err.deadline(), start + Duration::from_millis(300));
    assert_eq!(start.elapsed(), Duration::from_millis(300));
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_future_finishing_exactly_at_its_timeout_keeps_its_value() {
    let value = timeout(Duration::from_secs(1), async {
        sleep(Duration::from_secs(1)).await;
        "made it"
    })
    .await;
    assert_eq!(value, Ok("made it"));
}

#[tokio::test(start_paused = true)]
async fn an_enormous_timeout_means_no_timeout() {
    assert_eq!(timeout(Duration::MAX, async { 5 }).await, Ok(5));
}

#[tokio::test(start_paused = true)]
async fn a_deadline_in_the_past_gives_a_pending_future_no_time() {
    let past = Instant::now();
    sleep(Duration::from_secs(1)).await;
    let err = deadline(past, std::future::pending::<()>())
        .await
        .unwrap_err();
    assert_eq!(err.budget(), Duration::ZERO);
    assert_eq!(err.to_string(), "timed out after 0ns");
    // A ready future still returns its value.
    assert_eq!(deadline(past, async { 1 }).await, Ok(1));
}

#[test]
fn cancelled_is_cancel_safe_under_many_threads() {
    // Threads register, drop and re-register waiters while another cancels:
    // every waiter left standing is woken, and nothing panics.
    for _ in 0..50 {
        let token = CancelToken::new();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let token = token.child();
                std::thread::spawn(move || {
                    for polls in 0..20 {
                        poll_then_drop(token.cancelled(), polls % 3);
                    }
                    futures::executor::block_on(token.cancelled())
                })
            })
            .collect();
        token.cancel("race");
        for thread in threads {
            assert_eq!(thread.join().unwrap(), CancelReason::from("race"));
        }
    }
}

#[test]
fn children_made_and_dropped_on_many_threads_during_a_cancel_all_end_cancelled() {
    for _ in 0..50 {
        let root = CancelToken::new();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let root = root.clone();
                std::thread::spawn(move || {
                    let mut kept = Vec::new();
                    for n in 0..200 {
                        let child = root.child();
                        if n % 2 == 0 {
                            kept.push(child);
                        }
                    }
                    kept
                })
            })
            .collect();
        root.cancel("stop");
        for thread in threads {
            for child in thread.join().unwrap() {
                assert!(child.is_cancelled(), "a child escaped its parent's cancel");
            }
        }
    }
}

#[test]
fn a_chain_of_a_hundred_thousand_tokens_cancels_and_drops_without_overflowing() {
    let root = CancelToken::new();
    let mut leaf = root.child();
    for _ in 0..100_000 {
        leaf = leaf.child();
    }
    root.cancel("deep");
    assert_eq!(leaf.reason(), Some(CancelReason::from("deep")));
    drop(root);
    drop(leaf);

    // Dropping an uncancelled chain from its leaf frees every node.
    let mut leaf = CancelToken::new();
    for _ in 0..100_000 {
        leaf = leaf.child();
    }
    drop(leaf);
}
