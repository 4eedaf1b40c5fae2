//! Scopes under contention on a multi-thread runtime, with the books
//! counted at the end: nothing lost, nothing run twice, the limit exact.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use herd::task::{Policy, Scope, TaskError};

mod common;

use common::{DropGuard, Gauge};
use tokio::sync::{Barrier, Notify};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_children_under_a_limit_of_64() {
    const CHILDREN: usize = 10_000;
    const LIMIT: usize = 64;
    let runs: Arc<Vec<AtomicU8>> = Arc::new((0..CHILDREN).map(|_| AtomicU8::new(0)).collect());
    let gauge = Arc::new(Gauge::default());
    // The first 64 children wait for each other, so the limit is reached for
    // certain; the rest just yield a few times.
    let first_wave = Arc::new(Barrier::new(LIMIT));
    let scope = Scope::<usize, ()>::builder().limit(LIMIT).build();
    for n in 0..CHILDREN {
        let (runs, gauge, first_wave) = (runs.clone(), gauge.clone(), first_wave.clone());
        let index = scope
            .spawn(async move {
                gauge.enter();
                runs[n].fetch_add(1, Ordering::SeqCst);
                if n < LIMIT {
                    first_wave.wait().await;
                }
                for _ in 0..n % 4 {
                    tokio::task::yield_now().await;
                }
                gauge.leave();
                Ok(n)
            })
            .await
            .unwrap();
        assert_eq!(index, n);
    }
    let values = scope.join().await.unwrap();
    assert_eq!(
        values,
        (0..CHILDREN).collect::<Vec<_>>(),
        "none lost, in spawn order"
    );
    assert!(
        runs.iter().all(|runs| runs.load(Ordering::SeqCst) == 1),
        "none ran twice"
    );
    assert_eq!(
        gauge.max.load(Ordering::SeqCst),
        LIMIT,
        "the limit was reached and never passed"
    );
    assert_eq!(gauge.now.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_spawners_through_handles_lose_and_duplicate_nothing() {
    const SPAWNERS: usize = 8;
    const EACH: usize = 500;
    let gauge = Arc::new(Gauge::default());
    let scope = Scope::<(usize, usize), ()>::builder().limit(16).build();
    let feeders = Scope::<Vec<usize>, ()>::new();
    for spawner in 0..SPAWNERS {
        let (handle, gauge) = (scope.handle(), gauge.clone());
        feeders
            .spawn(async move {
                let mut indexes = Vec::new();
                for n in 0..EACH {
                    let gauge = gauge.clone();
                    let index = handle
                        .spawn(async move {
                            gauge.enter();
                            tokio::task::yield_now().await;
                            gauge.leave();
                            Ok((spawner, n))
                        })
                        .await
                        .unwrap();
                    indexes.push(index);
                }
                Ok(indexes)
            })
            .await
            .unwrap();
    }
    let indexes: Vec<usize> = feeders
        .join()
        .await
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    let values = scope.join().await.unwrap();
    assert_eq!(values.len(), SPAWNERS * EACH);
    let distinct: HashSet<_> = values.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        SPAWNERS * EACH,
        "every child ran exactly once"
    );
    let distinct_indexes: HashSet<_> = indexes.iter().copied().collect();
    assert_eq!(
        distinct_indexes.len(),
        SPAWNERS * EACH,
        "every index given out once"
    );
    for index in indexes {
        assert!(index < values.len());
    }
    assert!(gauge.max.load(Ordering::SeqCst) <= 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failure_under_load_accounts_for_every_child_exactly_once() {
    const CHILDREN: usize = 2_000;
    let finished = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    let scope = Scope::<(), usize>::new();
    let mut spawned = 0;
    let mut refused = 0;
    for n in 0..CHILDREN {
        let guard = DropGuard(dropped.clone());
        let finished = finished.clone();
        let child = async move {
            let _guard = guard;
            if n == 700 {
                return Err(n);
            }
            for _ in 0..n % 8 {
                tokio::task::yield_now().await;
            }
            finished.fetch_add(1, Ordering::SeqCst);
            Ok(())
        };
        if scope.spawn(child).await.is_err() {
            refused += 1; // the failure closed the scope; the child was dropped unstarted
            break;
        }
        spawned += 1;
    }
    let outcomes = scope.join_all().await;
    assert_eq!(outcomes.len(), spawned);
    let ok = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    let cancelled = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Err(TaskError::Cancelled { .. })))
        .count();
    let failed = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Err(TaskError::Failed { error: 700, .. })))
        .count();
    assert_eq!(failed, 1);
    assert_eq!(
        ok + cancelled + failed,
        spawned,
        "every child has exactly one outcome"
    );
    assert_eq!(ok, finished.load(Ordering::SeqCst));
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        spawned + refused,
        "every child future was dropped, started or not"
    );
}

/// Counts live children and wakes a waiter when the last one is dropped.
struct Live {
    count: AtomicUsize,
    zero: Notify,
}

struct LiveGuard(Arc<Live>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.zero.notify_one();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dropping_a_busy_scope_leaves_no_child_running() {
    for round in 0..5 {
        let live = Arc::new(Live {
            count: AtomicUsize::new(0),
            zero: Notify::new(),
        });
        let scope = Scope::<(), ()>::builder().policy(Policy::Supervise).build();
        for n in 0..1_000 {
            live.count.fetch_add(1, Ordering::SeqCst);
            let guard = LiveGuard(live.clone());
            scope
                .spawn(async move {
                    let _guard = guard;
                    loop {
                        if n % 2 == 0 {
                            tokio::task::yield_now().await;
                        } else {
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                    }
                })
                .await
                .unwrap();
        }
        let zero = live.zero.notified();
        drop(scope);
        if live.count.load(Ordering::SeqCst) != 0 {
            tokio::time::timeout(Duration::from_secs(30), zero)
                .await
                .unwrap_or_else(|_| panic!("round {round}: children outlived their scope"));
        }
        assert_eq!(live.count.load(Ordering::SeqCst), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancelling_while_spawners_wait_for_slots_refuses_them_all_cleanly() {
    let scope = Scope::<(), ()>::builder().limit(4).build();
    let started = Arc::new(Mutex::new(Vec::new()));
    let spawners: Vec<_> = (0..32)
        .map(|n| {
            let (handle, started) = (scope.handle(), started.clone());
            tokio::spawn(async move {
                handle
                    .spawn(async move {
                        started.lock().unwrap().push(n);
                        std::future::pending::<()>().await;
                        Ok(())
                    })
                    .await
            })
        })
        .collect();
    while started.lock().unwrap().len() < 4 {
        tokio::task::yield_now().await;
    }
    scope.token().cancel("stop");
    let mut admitted = 0;
    for spawner in spawners {
        match spawner.await.unwrap() {
            Ok(_) => admitted += 1,
            Err(herd::task::SpawnError::Cancelled(_)) => {}
            Err(other) => panic!("unexpected {other}"),
        }
    }
    let outcomes = scope.join_all().await;
    assert_eq!(
        outcomes.len(),
        admitted,
        "each admitted child has its outcome"
    );
    assert!(
        outcomes
            .iter()
            .all(|outcome| matches!(outcome, Err(TaskError::Cancelled { .. })))
    );
    assert!(
        started.lock().unwrap().len() <= admitted,
        "only admitted children ran"
    );
}

#[test]
fn handles_spawning_while_the_owner_joins_never_panic_or_lose_a_child() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    for _ in 0..5_000 {
        let scope = Scope::<u32, ()>::new();
        let handle = scope.handle();
        let runtime_handle = runtime.handle().clone();
        // A plain thread feeds the scope while the owner joins it: the child
        // can finish, and the owner take the results, before the feeder's
        // `spawn` has returned.
        let feeder = std::thread::spawn(move || {
            let _entered = runtime_handle.enter();
            let mut admitted = 0;
            for n in 0..2 {
                match futures::executor::block_on(handle.spawn(async move { Ok(n) })) {
                    Ok(_) => admitted += 1,
                    Err(herd::task::SpawnError::Closed) => break,
                    Err(other) => panic!("unexpected {other}"),
                }
            }
            admitted
        });
        let values = runtime.block_on(scope.join()).unwrap();
        let admitted = feeder.join().expect("the feeder did not panic");
        assert_eq!(
            values.len(),
            admitted,
            "every admitted child is in the results"
        );
    }
}
