//! Behaviour of `Scope`, on tokio's paused clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use herd::task::{CancelReason, Policy, Scope, SpawnError, TaskError};
use tokio::time::{Instant, sleep};

mod common;

use common::{DropGuard, Gauge, HOUR, hang, stuck};

#[tokio::test(start_paused = true)]
async fn results_come_back_in_spawn_order_not_completion_order() {
    let scope = Scope::<u64, ()>::new();
    for n in 0..5u64 {
        scope
            .spawn(async move {
                sleep(Duration::from_millis(100 * (5 - n))).await;
                Ok(n)
            })
            .await
            .unwrap();
    }
    assert_eq!(scope.join().await, Ok(vec![0, 1, 2, 3, 4]));
}

#[tokio::test(start_paused = true)]
async fn first_error_cancels_siblings_without_waiting_for_their_sleeps() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let scope = Scope::<(), &str>::new();
    for _ in 0..3 {
        scope
            .spawn(stuck(DropGuard(dropped.clone())))
            .await
            .unwrap();
    }
    scope
        .spawn_named("failing", async {
            sleep(Duration::from_millis(10)).await;
            Err("boom")
        })
        .await
        .unwrap();

    let err = scope.join().await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_millis(10));
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        3,
        "every sibling was dropped"
    );
    match err {
        TaskError::Failed { task, error } => {
            assert_eq!(
                (task.index(), task.name(), error),
                (3, Some("failing"), "boom")
            );
        }
        other => panic!("expected the failure, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn the_error_is_the_first_to_fail_not_the_first_spawned() {
    let scope = Scope::<(), &str>::builder()
        .policy(Policy::Supervise)
        .build();
    scope
        .spawn(async {
            sleep(Duration::from_secs(2)).await;
            Err("late")
        })
        .await
        .unwrap();
    scope
        .spawn(async {
            sleep(Duration::from_secs(1)).await;
            Err("early")
        })
        .await
        .unwrap();
    assert_eq!(
        scope.join().await.unwrap_err().into_failure(),
        Some("early")
    );
}

#[tokio::test(start_paused = true)]
async fn siblings_cancelled_by_a_failure_say_who_failed() {
    let scope = Scope::<(), &str>::new();
    scope.spawn_named("slow", hang()).await.unwrap();
    scope.spawn_named("bad", async { Err("no") }).await.unwrap();
    let outcomes = scope.join_all().await;
    match &outcomes[0] {
        Err(TaskError::Cancelled {
            reason: CancelReason::SiblingFailed { task },
            ..
        }) => assert_eq!(task.name(), Some("bad")),
        other => panic!("expected a cancellation, got {other:?}"),
    }
    assert!(matches!(outcomes[1], Err(TaskError::Failed { .. })));
}

#[tokio::test(start_paused = true)]
async fn a_panicking_child_is_an_error_with_its_message_and_the_owner_lives_on() {
    let scope = Scope::<u32, ()>::new();
    scope
        .spawn(async {
            sleep(HOUR).await;
            Ok(1)
        })
        .await
        .unwrap();
    scope
        .spawn_named("parser", async {
            let input: Vec<u32> = Vec::new();
            Ok(input[3])
        })
        .await
        .unwrap();
    match scope.join().await {
        Err(TaskError::Panicked { task, message }) => {
            assert_eq!(task.name(), Some("parser"));
            assert!(message.contains("index out of bounds"), "{message}");
        }
        other => panic!("expected a panic, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_panic_with_a_formatted_message_keeps_the_message() {
    let scope = Scope::<(), ()>::new();
    scope
        .spawn(async {
            let id = 7;
            panic!("job {id} went wrong")
        })
        .await
        .unwrap();
    let Err(TaskError::Panicked { message, .. }) = scope.join().await else {
        panic!("expected a panic");
    };
    assert_eq!(message, "job 7 went wrong");
}

#[tokio::test(start_paused = true)]
async fn supervise_collects_every_outcome_in_spawn_order() {
    let scope = Scope::<u32, String>::builder()
        .policy(Policy::Supervise)
        .build();
    scope
        .spawn(async {
            sleep(Duration::from_secs(3)).await;
            Ok(1)
        })
        .await
        .unwrap();
    scope
        .spawn(async { Err("bad input".to_string()) })
        .await
        .unwrap();
    scope.spawn(async { panic!("bug") }).await.unwrap();
    scope
        .spawn(async {
            sleep(Duration::from_secs(1)).await;
            Ok(4)
        })
        .await
        .unwrap();

    let outcomes = scope.join_all().await;
    assert_eq!(outcomes.len(), 4);
    assert_eq!(
        outcomes[0],
        Ok(1),
        "a failure did not cancel the slow sibling"
    );
    assert_eq!(
        outcomes[1].clone().unwrap_err().into_failure().as_deref(),
        Some("bad input")
    );
    assert!(matches!(&outcomes[2], Err(TaskError::Panicked { message, .. }) if message == "bug"));
    assert_eq!(outcomes[3], Ok(4));
}

#[tokio::test(start_paused = true)]
async fn dropping_the_scope_cancels_every_child_and_runs_its_drop_guard() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let scope = Scope::<(), ()>::new();
    for _ in 0..10 {
        scope
            .spawn(stuck(DropGuard(dropped.clone())))
            .await
            .unwrap();
    }
    tokio::task::yield_now().await;
    drop(scope);
    // Aborted tasks are dropped by the runtime at its next turn.
    sleep(Duration::from_millis(1)).await;
    assert_eq!(dropped.load(Ordering::SeqCst), 10, "no orphans");
}

#[tokio::test(start_paused = true)]
async fn dropping_the_join_future_cancels_every_child() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let scope = Scope::<(), ()>::new();
    let token = scope.token().clone();
    for _ in 0..4 {
        scope
            .spawn(stuck(DropGuard(dropped.clone())))
            .await
            .unwrap();
    }
    let joined = herd::task::timeout(Duration::from_secs(1), scope.join()).await;
    assert!(joined.is_err());
    sleep(Duration::from_millis(1)).await;
    assert_eq!(dropped.load(Ordering::SeqCst), 4);
    assert_eq!(
        token.reason(),
        Some(CancelReason::ScopeDropped { scope: None })
    );
}

#[tokio::test(start_paused = true)]
async fn the_limit_is_honoured_exactly_and_every_child_runs() {
    let gauge = Arc::new(Gauge::default());
    let scope = Scope::<usize, ()>::builder().limit(3).build();
    for n in 0..20 {
        let gauge = gauge.clone();
        scope
            .spawn(async move {
                gauge.enter();
                sleep(Duration::from_millis(10 + (n % 4) as u64)).await;
                gauge.leave();
                Ok(n)
            })
            .await
            .unwrap();
    }
    let values = scope.join().await.unwrap();
    assert_eq!(values, (0..20).collect::<Vec<_>>());
    assert_eq!(gauge.max.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn spawners_waiting_for_a_slot_are_served_first_come_first_served() {
    let scope = Scope::<&str, ()>::builder().limit(1).build();
    scope
        .spawn(async {
            sleep(Duration::from_secs(1)).await;
            Ok("first")
        })
        .await
        .unwrap();
    let mut waiting = Vec::new();
    for name in ["second", "third", "fourth"] {
        let handle = scope.handle();
        waiting.push(tokio::spawn(async move {
            handle.spawn(async move { Ok(name) }).await
        }));
        // Let this spawner take its place in line before the next one.
        tokio::task::yield_now().await;
    }
    for (spawner, expected_index) in waiting.into_iter().zip(1..) {
        assert_eq!(spawner.await.unwrap(), Ok(expected_index));
    }
    assert_eq!(
        scope.join().await.unwrap(),
        ["first", "second", "third", "fourth"]
    );
}

#[tokio::test(start_paused = true)]
async fn try_spawn_at_capacity_refuses_and_a_freed_slot_admits_again() {
    let scope = Scope::<(), ()>::builder().limit(2).build();
    for _ in 0..2 {
        scope
            .try_spawn(async {
                sleep(Duration::from_secs(1)).await;
                Ok(())
            })
            .unwrap();
    }
    assert_eq!(
        scope.try_spawn(async { Ok(()) }),
        Err(SpawnError::AtCapacity { limit: 2 })
    );
    sleep(Duration::from_secs(2)).await;
    assert_eq!(scope.try_spawn_named("late", async { Ok(()) }), Ok(2));
    assert_eq!(scope.join().await.unwrap().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_spawn_waiting_for_a_slot_loses_no_slot() {
    let scope = Scope::<u32, ()>::builder().limit(1).build();
    scope
        .spawn(async {
            sleep(Duration::from_secs(1)).await;
            Ok(1)
        })
        .await
        .unwrap();
    // Give up waiting for a slot, at several points in the wait.
    for wait_ms in [0, 1, 500] {
        let gave_up = herd::task::timeout(
            Duration::from_millis(wait_ms),
            scope.spawn(async { Ok(99) }),
        )
        .await;
        assert!(gave_up.is_err(), "the slot is still taken");
    }
    sleep(Duration::from_secs(1)).await;
    assert_eq!(scope.try_spawn(async { Ok(2) }), Ok(1));
    assert_eq!(scope.join().await, Ok(vec![1, 2]), "no abandoned spawn ran");
}

#[tokio::test(start_paused = true)]
async fn the_deadline_cancels_children_and_the_scope_times_out() {
    let start = Instant::now();
    let scope = Scope::<(), ()>::builder()
        .name("request")
        .timeout(Duration::from_secs(2))
        .build();
    scope.spawn(hang()).await.unwrap();
    match scope.join().await {
        Err(TaskError::TimedOut {
            scope, deadline, ..
        }) => {
            assert_eq!(scope.as_deref(), Some("request"));
            assert_eq!(deadline, start + Duration::from_secs(2));
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(start.elapsed(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn children_that_finish_before_the_deadline_keep_their_values() {
    let scope = Scope::<u32, ()>::builder()
        .policy(Policy::Supervise)
        .timeout(Duration::from_secs(2))
        .build();
    scope.spawn(async { Ok(1) }).await.unwrap();
    scope
        .spawn(async {
            sleep(Duration::from_secs(3)).await;
            Ok(2)
        })
        .await
        .unwrap();
    let outcomes = scope.join_all().await;
    assert_eq!(outcomes[0], Ok(1));
    assert!(matches!(outcomes[1], Err(TaskError::TimedOut { .. })));
}

#[tokio::test(start_paused = true)]
async fn the_deadline_is_inherited_three_scopes_deep() {
    let start = Instant::now();
    let seen = Arc::new(std::sync::Mutex::new(None));
    let outer = Scope::<(), ()>::builder()
        .name("outer")
        .timeout(Duration::from_secs(1))
        // Time for the nested scopes to report, rather than being dropped.
        .grace(Duration::from_secs(1))
        .build();
    let outer_token = outer.token().clone();
    let seen_inside = seen.clone();
    outer
        .spawn(async move {
            let middle = Scope::<(), ()>::builder()
                .name("middle")
                .parent(&outer_token)
                .grace(Duration::from_secs(1))
                .build();
            let middle_token = middle.token().clone();
            middle
                .spawn(async move {
                    let inner = Scope::<(), ()>::builder()
                        .name("inner")
                        .parent(&middle_token)
                        .timeout(Duration::from_secs(5))
                        .build();
                    let deadline = inner.token().deadline();
                    inner.spawn(hang()).await.unwrap();
                    let err = inner.join().await.unwrap_err();
                    *seen_inside.lock().unwrap() = Some((deadline, err, start.elapsed()));
                    Ok(())
                })
                .await
                .unwrap();
            middle.join().await.map(drop).map_err(drop)
        })
        .await
        .unwrap();
    // The middle child handled the timeout and returned a value, so the
    // outer scope has every value it asked for.
    assert_eq!(outer.join().await, Ok(vec![()]));
    assert_eq!(start.elapsed(), Duration::from_secs(1));

    let (deadline, inner_err, inner_elapsed) =
        seen.lock().unwrap().take().expect("the inner scope ended");
    assert_eq!(
        deadline,
        Some(start + Duration::from_secs(1)),
        "the earlier deadline wins"
    );
    assert!(
        matches!(&inner_err, TaskError::TimedOut { scope: Some(s), .. } if &**s == "outer"),
        "{inner_err:?}"
    );
    assert_eq!(inner_elapsed, Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn an_inner_deadline_earlier_than_the_parents_fires_on_its_own() {
    let outer = Scope::<(), ()>::builder()
        .timeout(Duration::from_secs(10))
        .build();
    let inner = Scope::<(), ()>::builder()
        .name("inner")
        .parent(outer.token())
        .timeout(Duration::from_secs(1))
        .build();
    inner.spawn(hang()).await.unwrap();
    let err = inner.join().await.unwrap_err();
    assert!(matches!(&err, TaskError::TimedOut { scope: Some(s), .. } if &**s == "inner"));
    assert!(
        !outer.token().is_cancelled(),
        "a child never cancels its parent"
    );
}

#[tokio::test(start_paused = true)]
async fn cancelling_the_parent_token_cancels_a_nested_scope_with_the_reason() {
    let parent = herd::task::CancelToken::new();
    let scope = Scope::<(), ()>::builder().parent(&parent).build();
    scope.spawn(hang()).await.unwrap();
    let canceller = parent.clone();
    tokio::spawn(async move {
        sleep(Duration::from_secs(1)).await;
        canceller.cancel("shutting down");
    });
    match scope.join().await {
        Err(TaskError::Cancelled { reason, .. }) => {
            assert_eq!(reason, CancelReason::from("shutting down"));
        }
        other => panic!("expected a cancellation, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn cooperative_children_finish_within_the_grace_period_and_the_rest_are_aborted() {
    let start = Instant::now();
    let dropped = Arc::new(AtomicUsize::new(0));
    let scope = Scope::<&str, ()>::builder()
        .policy(Policy::Supervise)
        .grace(Duration::from_secs(5))
        .build();
    let token = scope.token().clone();
    scope
        .spawn(async move {
            token.cancelled().await;
            sleep(Duration::from_secs(1)).await; // flushing
            Ok("flushed")
        })
        .await
        .unwrap();
    let guard = DropGuard(dropped.clone());
    scope
        .spawn(async move {
            let _guard = guard;
            sleep(HOUR).await;
            Ok("ignored the token")
        })
        .await
        .unwrap();
    let canceller = scope.token().clone();
    tokio::spawn(async move {
        sleep(Duration::from_secs(1)).await;
        canceller.cancel("stop");
    });

    let outcomes = scope.join_all().await;
    assert_eq!(outcomes[0], Ok("flushed"));
    assert!(matches!(
        &outcomes[1],
        Err(TaskError::Cancelled { reason, .. }) if *reason == CancelReason::from("stop")
    ));
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(6),
        "cancelled at 1s, aborted after the 5s grace"
    );
}

#[tokio::test(start_paused = true)]
async fn grace_ends_early_when_every_child_has_stopped() {
    let start = Instant::now();
    let scope = Scope::<(), ()>::builder()
        .grace(Duration::from_secs(30))
        .build();
    let token = scope.token().clone();
    scope
        .spawn(async move {
            token.cancelled().await;
            Ok(())
        })
        .await
        .unwrap();
    tokio::task::yield_now().await;
    scope.token().cancel("stop");
    let _ = scope.join().await;
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn an_explicitly_cancelled_scope_returns_the_reason() {
    let scope = Scope::<(), ()>::new();
    scope.spawn(hang()).await.unwrap();
    scope.token().cancel("user abort");
    match scope.join().await {
        Err(TaskError::Cancelled { reason, .. }) => {
            assert_eq!(reason.to_string(), "cancelled: user abort");
        }
        other => panic!("expected a cancellation, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_scope_refuses_new_children_and_a_waiting_spawn_gives_up() {
    let scope = Scope::<(), ()>::builder().limit(1).build();
    scope.spawn(hang()).await.unwrap();
    let handle = scope.handle();
    let waiting = tokio::spawn(async move { handle.spawn(async { Ok(()) }).await });
    tokio::task::yield_now().await;
    scope.token().cancel("closing");
    assert_eq!(
        waiting.await.unwrap(),
        Err(SpawnError::Cancelled(CancelReason::from("closing")))
    );
    assert!(matches!(
        scope.try_spawn(async { Ok(()) }),
        Err(SpawnError::Cancelled(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn a_fail_fast_failure_refuses_later_spawns() {
    let scope = Scope::<(), &str>::new();
    scope.spawn(async { Err("boom") }).await.unwrap();
    sleep(Duration::from_millis(1)).await;
    let refused = scope.spawn(async { Ok(()) }).await;
    assert!(matches!(
        refused,
        Err(SpawnError::Cancelled(CancelReason::SiblingFailed { .. }))
    ));
    assert_eq!(scope.join().await.unwrap_err().into_failure(), Some("boom"));
}

#[tokio::test(start_paused = true)]
async fn children_spawn_siblings_and_join_waits_for_all_of_them() {
    let scope = Scope::<u32, ()>::new();
    let handle = scope.handle();
    scope
        .spawn(async move {
            for n in 1..=3 {
                let handle2 = handle.clone();
                handle
                    .spawn(async move {
                        sleep(Duration::from_secs(n as u64)).await;
                        if n == 3 {
                            handle2.spawn(async { Ok(100) }).await.unwrap();
                        }
                        Ok(n)
                    })
                    .await
                    .unwrap();
            }
            Ok(0)
        })
        .await
        .unwrap();
    assert_eq!(scope.join().await, Ok(vec![0, 1, 2, 3, 100]));
}

#[tokio::test(start_paused = true)]
async fn a_handle_cannot_spawn_into_a_joined_scope() {
    let scope = Scope::<(), ()>::new();
    let handle = scope.handle();
    assert_eq!(scope.join().await, Ok(vec![]));
    assert_eq!(
        handle.spawn(async { Ok(()) }).await,
        Err(SpawnError::Closed)
    );
    assert_eq!(handle.try_spawn(async { Ok(()) }), Err(SpawnError::Closed));
}

#[tokio::test(start_paused = true)]
async fn every_child_failing_under_supervise_reports_the_first_failure_from_join() {
    let scope = Scope::<(), usize>::builder()
        .policy(Policy::Supervise)
        .build();
    for n in 0..5 {
        scope
            .spawn(async move {
                sleep(Duration::from_secs(5 - n as u64)).await;
                Err(n)
            })
            .await
            .unwrap();
    }
    assert_eq!(scope.join().await.unwrap_err().into_failure(), Some(4));
}

#[test]
#[should_panic(expected = "Scope limit must be at least 1, got 0")]
fn a_zero_limit_is_refused_with_a_clear_message() {
    let _ = Scope::<(), ()>::builder().limit(0);
}

#[test]
fn a_scope_without_a_deadline_builds_outside_a_runtime() {
    let scope = Scope::<(), ()>::builder().name("later").limit(2).build();
    assert_eq!(scope.token().deadline(), None);
    assert_eq!(scope.limit(), Some(2));
}

#[tokio::test(start_paused = true)]
async fn the_deadline_aborts_stubborn_children_even_before_join() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let scope = Scope::<(), ()>::builder()
        .timeout(Duration::from_secs(1))
        .build();
    scope
        .spawn(stuck(DropGuard(dropped.clone())))
        .await
        .unwrap();
    // The owner is busy elsewhere; the deadline does not wait for `join`.
    sleep(Duration::from_secs(1) + Duration::from_millis(1)).await;
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert!(matches!(
        scope.join().await,
        Err(TaskError::TimedOut { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn a_fail_fast_failure_aborts_siblings_even_before_join() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let scope = Scope::<(), &str>::new();
    scope
        .spawn(stuck(DropGuard(dropped.clone())))
        .await
        .unwrap();
    scope.spawn(async { Err("boom") }).await.unwrap();
    sleep(Duration::from_millis(1)).await;
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        1,
        "aborted while the owner slept"
    );
    assert_eq!(scope.join().await.unwrap_err().into_failure(), Some("boom"));
}

#[tokio::test(start_paused = true)]
async fn a_nested_scope_keeps_its_inherited_deadline_after_the_parent_is_joined() {
    let start = Instant::now();
    let outer = Scope::<(), ()>::builder()
        .name("outer")
        .timeout(Duration::from_secs(1))
        .build();
    let inner = Scope::<(), ()>::builder()
        .parent(outer.token())
        .timeout(Duration::from_secs(10))
        .build();
    inner.spawn(hang()).await.unwrap();
    assert_eq!(outer.join().await, Ok(vec![]));
    let err = inner.join().await.unwrap_err();
    assert!(
        matches!(&err, TaskError::TimedOut { scope: Some(s), .. } if &**s == "outer"),
        "{err:?}"
    );
    assert_eq!(start.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn a_panic_during_cleanup_is_reported_not_folded_into_the_cancellation() {
    let scope = Scope::<(), ()>::builder()
        .policy(Policy::Supervise)
        .grace(Duration::from_secs(1))
        .build();
    let token = scope.token().clone();
    scope
        .spawn(async move {
            token.cancelled().await;
            panic!("cleanup failed")
        })
        .await
        .unwrap();
    tokio::task::yield_now().await;
    scope.token().cancel("shutdown");
    match scope.join().await {
        Err(TaskError::Panicked { message, .. }) => assert_eq!(message, "cleanup failed"),
        other => panic!("expected the panic, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_handle_spawning_into_a_dropped_scope_is_told_why() {
    let scope = Scope::<(), ()>::builder().name("gone").build();
    let handle = scope.handle();
    drop(scope);
    assert_eq!(
        handle.spawn(async { Ok(()) }).await,
        Err(SpawnError::Cancelled(CancelReason::ScopeDropped {
            scope: Some("gone".into())
        }))
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_join_during_the_grace_period_aborts_the_children() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let scope = Scope::<(), ()>::builder()
        .grace(Duration::from_secs(10))
        .build();
    scope
        .spawn(stuck(DropGuard(dropped.clone())))
        .await
        .unwrap();
    scope.token().cancel("stop");
    let gave_up = herd::task::timeout(Duration::from_secs(1), scope.join()).await;
    assert!(gave_up.is_err(), "still in the grace period");
    sleep(Duration::from_millis(1)).await;
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

#[test]
fn a_runtime_shutting_down_ends_children_with_a_runtime_shutdown_outcome() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let scope = runtime.block_on(async {
        let scope = Scope::<(), ()>::new();
        scope.spawn(std::future::pending()).await.unwrap();
        scope
    });
    drop(runtime);
    let other = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let outcomes = other.block_on(scope.join_all());
    assert!(matches!(
        &outcomes[0],
        Err(TaskError::Cancelled {
            reason: CancelReason::RuntimeShutdown,
            ..
        })
    ));
}

#[test]
fn join_needs_no_timer_when_the_grace_is_zero() {
    // A runtime without the time driver: a cancelled scope still joins.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let err = runtime.block_on(async {
        let scope = Scope::<(), &str>::new();
        scope.spawn(std::future::pending()).await.unwrap();
        scope.spawn(async { Err("boom") }).await.unwrap();
        scope.join().await.unwrap_err()
    });
    assert_eq!(err.into_failure(), Some("boom"));
}
