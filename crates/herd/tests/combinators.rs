//! Behaviour of `all`, `all_settled`, `race`, `first_ok` and `at_most`.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use herd::task::{TaskError, all, all_settled, at_most, first_ok, race};
use tokio::time::{Instant, sleep};

mod common;

use common::DropGuard;

/// Finishes after `ms` milliseconds with `Ok(ms)`, or `Err(ms)` if `fail`.
async fn after(ms: u64, fail: bool) -> Result<u64, u64> {
    sleep(Duration::from_millis(ms)).await;
    if fail { Err(ms) } else { Ok(ms) }
}

#[tokio::test(start_paused = true)]
async fn all_returns_values_in_input_order() {
    let values = all([30, 10, 20].map(|ms| after(ms, false))).await;
    assert_eq!(values, Ok(vec![30, 10, 20]));
}

#[tokio::test(start_paused = true)]
async fn all_of_nothing_is_an_empty_list() {
    let none: Vec<std::future::Ready<Result<(), ()>>> = Vec::new();
    assert_eq!(all(none).await, Ok(vec![]));
}

#[tokio::test(start_paused = true)]
async fn all_fails_fast_and_drops_the_rest_at_once() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let futures = (0..4).map(|n| {
        let guard = DropGuard(dropped.clone());
        async move {
            let _guard = guard;
            if n == 2 {
                sleep(Duration::from_millis(5)).await;
                return Err(format!("job {n} failed"));
            }
            sleep(Duration::from_secs(3600)).await;
            Ok(n)
        }
    });
    let err = all(futures).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_millis(5));
    assert_eq!(err.task().index(), 2);
    assert_eq!(err.into_failure().as_deref(), Some("job 2 failed"));
    assert_eq!(dropped.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_future_is_an_error_not_a_crash() {
    let futures = (0..3u32).map(|n| async move {
        if n == 1 {
            panic!("future {n} exploded");
        }
        Ok::<_, ()>(n)
    });
    match all(futures).await {
        Err(TaskError::Panicked { task, message }) => {
            assert_eq!(task.index(), 1);
            assert_eq!(message, "future 1 exploded");
        }
        other => panic!("expected a panic, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn all_settled_keeps_every_outcome_in_input_order() {
    let outcomes =
        all_settled([(30, false), (10, true), (20, false)].map(|(ms, fail)| after(ms, fail))).await;
    assert_eq!(outcomes[0], Ok(30));
    assert_eq!(outcomes[1].clone().unwrap_err().into_failure(), Some(10));
    assert_eq!(outcomes[2], Ok(20));
}

#[tokio::test(start_paused = true)]
async fn race_returns_the_first_to_finish_even_a_failure_and_drops_the_rest() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let futures = [(50, false), (10, true), (30, false)].map(|(ms, fail)| {
        let guard = DropGuard(dropped.clone());
        async move {
            let _guard = guard;
            after(ms, fail).await
        }
    });
    let start = Instant::now();
    let first = race(futures).await;
    assert_eq!(first.unwrap_err().into_failure(), Some(10));
    assert_eq!(start.elapsed(), Duration::from_millis(10));
    assert_eq!(dropped.load(Ordering::SeqCst), 3);
}

#[tokio::test]
#[should_panic(expected = "race: no futures to race")]
async fn race_over_nothing_panics_with_a_clear_message() {
    let none: Vec<std::future::Ready<Result<(), ()>>> = Vec::new();
    let _ = race(none).await;
}

#[tokio::test(start_paused = true)]
async fn first_ok_skips_failures_and_takes_the_first_success() {
    let start = Instant::now();
    let winner =
        first_ok([(5, true), (20, false), (10, false)].map(|(ms, fail)| after(ms, fail))).await;
    assert_eq!(winner, Ok(10));
    assert_eq!(start.elapsed(), Duration::from_millis(10));
}

#[tokio::test(start_paused = true)]
async fn first_ok_without_a_success_returns_every_error_in_input_order() {
    let errors = first_ok([30, 10, 20].map(|ms| after(ms, true)))
        .await
        .unwrap_err();
    let failures: Vec<_> = errors
        .into_iter()
        .map(|error| (error.task().index(), error.into_failure()))
        .collect();
    assert_eq!(failures, [(0, Some(30)), (1, Some(10)), (2, Some(20))]);
}

#[tokio::test(start_paused = true)]
async fn at_most_keeps_the_limit_exactly_and_creates_futures_lazily() {
    let running = Cell::new(0usize);
    let max = Cell::new(0usize);
    let created = Cell::new(0usize);
    let futures = (0..25u64).map(|n| {
        created.set(created.get() + 1);
        // Never more futures exist than may run.
        assert!(created.get() <= n as usize + 1);
        let (running, max) = (&running, &max);
        async move {
            running.set(running.get() + 1);
            max.set(max.get().max(running.get()));
            sleep(Duration::from_millis(1 + n % 7)).await;
            running.set(running.get() - 1);
            Ok::<_, ()>(n)
        }
    });
    let values = at_most(4).all(futures).await.unwrap();
    assert_eq!(values, (0..25).collect::<Vec<_>>());
    assert_eq!(
        max.get(),
        4,
        "the futures borrow local state: no Send or 'static needed"
    );
}

#[tokio::test(start_paused = true)]
async fn at_most_pulls_the_next_future_only_when_a_slot_frees() {
    let created = AtomicUsize::new(0);
    let futures = (0..10u64).map(|ms| {
        created.fetch_add(1, Ordering::SeqCst);
        after(10 * (ms + 1), false)
    });
    let mut run = std::pin::pin!(at_most(3).all(futures));
    assert!(futures::poll!(run.as_mut()).is_pending());
    assert_eq!(created.load(Ordering::SeqCst), 3);
    sleep(Duration::from_millis(10)).await;
    assert!(futures::poll!(run.as_mut()).is_pending());
    assert_eq!(created.load(Ordering::SeqCst), 4);
    assert_eq!(run.await.unwrap().len(), 10);
}

#[tokio::test(start_paused = true)]
async fn bounded_race_and_first_ok_start_later_futures_only_as_needed() {
    let started = AtomicUsize::new(0);
    let futures = [(5, true), (5, true), (5, false), (5, false)].map(|(ms, fail)| {
        let started = &started;
        async move {
            started.fetch_add(1, Ordering::SeqCst);
            after(ms, fail).await
        }
    });
    assert_eq!(at_most(1).first_ok(futures).await, Ok(5));
    assert_eq!(
        started.load(Ordering::SeqCst),
        3,
        "the fourth never started"
    );

    let outcomes = at_most(2)
        .all_settled([1, 2, 3].map(|ms| after(ms, ms == 2)))
        .await;
    assert_eq!(outcomes.iter().filter(|outcome| outcome.is_ok()).count(), 2);
    assert!(at_most(2).race([7, 3].map(|ms| after(ms, false))).await == Ok(3));
}

#[test]
#[should_panic(expected = "at_most: the limit must be at least 1, got 0")]
fn at_most_zero_is_refused_with_a_clear_message() {
    let _ = at_most(0);
}
