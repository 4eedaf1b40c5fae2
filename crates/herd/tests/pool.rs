//! `herd::pool`: WorkerPool, ThreadPool and the bounded maps. Every
//! shutdown path resolves every handle; errors and panics never shrink a
//! pool; priorities run greatest first, ties in submission order.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{DropGuard, Gauge, HOUR, hang, stuck};
use futures::StreamExt;
use futures::stream;
use herd::pool::{JobError, JobHandle, SubmitError, ThreadPool, WorkerPool};
use herd::task::{CancelToken, TaskError};
use tokio::sync::Semaphore;
use tokio::time::sleep;

type Handle = JobHandle<usize, String>;

/// A job that holds its worker until `gate` gives it a permit.
fn gated(gate: &Arc<Semaphore>) -> impl Future<Output = Result<usize, String>> + Send + 'static {
    let gate = gate.clone();
    async move {
        gate.acquire().await.unwrap().forget();
        Ok(0)
    }
}

/// Submits `n` jobs that only end by being cancelled, each counting its
/// drop in `drops`, and lets the workers take what they can.
async fn submit_stuck(pool: &WorkerPool, drops: &Arc<AtomicUsize>, n: usize) -> Vec<Handle> {
    let mut handles = Vec::new();
    for _ in 0..n {
        let guard = DropGuard(drops.clone());
        let job = async move { stuck::<String>(guard).await.map(|()| 0) };
        handles.push(pool.submit(job).await.unwrap());
    }
    tokio::task::yield_now().await;
    handles
}

async fn settle_all(handles: Vec<Handle>) -> Vec<Result<usize, JobError<String>>> {
    let mut outcomes = Vec::new();
    for handle in handles {
        outcomes.push(handle.await);
    }
    outcomes
}

#[tokio::test]
async fn errors_and_panics_are_results_and_the_workers_live_on() {
    let pool = WorkerPool::builder().workers(2).queue(8).build();
    let mut handles = Vec::new();
    for n in 0..20usize {
        let job = async move {
            match n % 3 {
                0 => Ok(n),
                1 => Err(format!("job {n} failed")),
                _ => panic!("job {n} panicked"),
            }
        };
        handles.push(pool.submit(job).await.unwrap());
    }
    let outcomes = settle_all(handles).await;
    for (n, outcome) in outcomes.into_iter().enumerate() {
        match n % 3 {
            0 => assert_eq!(outcome, Ok(n)),
            1 => assert_eq!(outcome, Err(JobError::Failed(format!("job {n} failed")))),
            _ => assert_eq!(
                outcome,
                Err(JobError::Panicked(format!("job {n} panicked")))
            ),
        }
    }
    // Both workers still take jobs: two that wait for each other finish.
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let pair: Vec<_> = futures::future::join_all((0..2).map(|_| {
        let barrier = barrier.clone();
        pool.submit(async move {
            barrier.wait().await;
            Ok::<_, String>(())
        })
    }))
    .await;
    for handle in pair {
        handle.unwrap().await.unwrap();
    }
    let stats = pool.stats();
    assert_eq!((stats.workers, stats.done, stats.failed), (2, 9, 13));
}

#[tokio::test]
async fn priorities_run_greatest_first_and_ties_in_submission_order() {
    let pool = WorkerPool::builder().workers(1).queue(16).build();
    let gate = Arc::new(Semaphore::new(0));
    let blocker = pool.submit(gated(&gate)).await.unwrap();
    tokio::task::yield_now().await;
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut handles = Vec::new();
    let plan = [
        (1, "b1"),
        (3, "c1"),
        (1, "b2"),
        (-2, "a1"),
        (3, "c2"),
        (1, "b3"),
        (-2, "a2"),
    ];
    for (priority, label) in plan {
        let order = order.clone();
        let job = async move {
            order.lock().unwrap().push(label);
            Ok::<_, String>(0)
        };
        handles.push(pool.submit_with(priority, job).await.unwrap());
    }
    gate.add_permits(1);
    blocker.await.unwrap();
    settle_all(handles).await;
    assert_eq!(
        *order.lock().unwrap(),
        ["c1", "c2", "b1", "b2", "b3", "a1", "a2"]
    );
}

#[tokio::test]
async fn try_submit_refuses_when_full_and_hands_the_job_back() {
    let pool = WorkerPool::builder().workers(1).queue(2).build();
    let gate = Arc::new(Semaphore::new(0));
    let running = pool.try_submit(gated(&gate)).unwrap();
    tokio::task::yield_now().await;
    let queued = [
        pool.try_submit(gated(&gate)).unwrap(),
        pool.try_submit(gated(&gate)).unwrap(),
    ];
    let refused = pool.try_submit(async { Ok::<_, String>(7) }).unwrap_err();
    assert!(matches!(refused, SubmitError::Full(_)));
    assert_eq!(refused.to_string(), "the pool's queue is full");
    // The job came back whole and still works.
    assert_eq!(refused.into_inner().await, Ok(7));
    assert_eq!(pool.stats().queued, 2);
    gate.add_permits(3);
    running.await.unwrap();
    for handle in queued {
        handle.await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn graceful_shutdown_finishes_queued_work_within_the_grace() {
    let pool = WorkerPool::builder().workers(2).queue(16).build();
    let mut handles = Vec::new();
    for n in 0..10usize {
        let job = async move {
            sleep(Duration::from_secs(1)).await;
            Ok::<_, String>(n)
        };
        handles.push(pool.submit(job).await.unwrap());
    }
    let stats = pool.shutdown(Duration::from_secs(60)).await;
    assert_eq!(
        (stats.done, stats.cancelled, stats.queued, stats.running),
        (10, 0, 0, 0)
    );
    let outcomes = settle_all(handles).await;
    assert_eq!(outcomes, (0..10).map(Ok).collect::<Vec<_>>());
    // Closed: a late job comes back unrun.
    let late = pool
        .submit(async { Ok::<_, String>(99) })
        .await
        .unwrap_err();
    assert!(matches!(late, SubmitError::Closed(_)));
}

#[tokio::test(start_paused = true)]
async fn graceful_shutdown_cancels_what_the_grace_does_not_cover() {
    let pool = WorkerPool::builder().workers(2).queue(16).build();
    let drops = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for n in 0..6usize {
        let guard = DropGuard(drops.clone());
        let job = async move {
            let _guard = guard;
            sleep(Duration::from_secs(if n < 2 { 1 } else { 3600 })).await;
            Ok::<_, String>(n)
        };
        handles.push(pool.submit(job).await.unwrap());
    }
    let started = tokio::time::Instant::now();
    let stats = pool.shutdown(Duration::from_secs(10)).await;
    assert_eq!(started.elapsed(), Duration::from_secs(10));
    assert_eq!((stats.done, stats.cancelled), (2, 4));
    assert_eq!(
        drops.load(Ordering::SeqCst),
        6,
        "every job's future was dropped"
    );
    let outcomes = settle_all(handles).await;
    assert_eq!(outcomes[..2], [Ok(0), Ok(1)]);
    for outcome in &outcomes[2..] {
        let Err(JobError::Cancelled(reason)) = outcome else {
            panic!("{outcome:?}")
        };
        assert!(
            reason.to_string().contains("grace of 10s ran out"),
            "{reason}"
        );
    }
}

#[tokio::test]
async fn shutdown_now_cancels_running_and_queued_jobs() {
    let pool = WorkerPool::builder().workers(2).queue(16).build();
    let drops = Arc::new(AtomicUsize::new(0));
    let handles = submit_stuck(&pool, &drops, 8).await;
    let stats = pool.shutdown_now().await;
    assert_eq!((stats.cancelled, stats.running, stats.queued), (8, 0, 0));
    assert_eq!(drops.load(Ordering::SeqCst), 8);
    for outcome in settle_all(handles).await {
        assert!(outcome.unwrap_err().is_cancelled());
    }
    // A second shutdown, of either kind, returns the same end.
    assert_eq!(pool.shutdown(Duration::from_secs(1)).await, stats);
}

#[tokio::test]
async fn concurrent_shutdowns_all_return() {
    let pool = Arc::new(WorkerPool::builder().workers(2).build());
    for _ in 0..4 {
        drop(pool.submit(hang::<String>()).await.unwrap());
    }
    let (a, b) = tokio::join!(pool.shutdown(HOUR), pool.shutdown_now());
    assert_eq!(a, b);
    assert_eq!(a.cancelled, 4);
}

#[tokio::test]
async fn dropping_the_pool_resolves_every_handle() {
    let pool = WorkerPool::builder()
        .workers(1)
        .queue(8)
        .name("crawler")
        .build();
    let drops = Arc::new(AtomicUsize::new(0));
    let handles = submit_stuck(&pool, &drops, 5).await;
    drop(pool);
    for outcome in settle_all(handles).await {
        let Err(JobError::Cancelled(reason)) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(
            reason.to_string(),
            "cancelled: pool \"crawler\" was dropped"
        );
    }
    // The running job's future goes with its aborted worker.
    tokio::task::yield_now().await;
    assert_eq!(drops.load(Ordering::SeqCst), 5);
}

#[tokio::test]
async fn a_cancelled_parent_cancels_the_pools_jobs() {
    let app = CancelToken::new();
    let pool = WorkerPool::builder()
        .workers(1)
        .queue(4)
        .parent(&app)
        .build();
    let running = pool.submit(hang::<String>()).await.unwrap();
    let queued = pool.submit(async { Ok::<_, String>(()) }).await.unwrap();
    tokio::task::yield_now().await;
    app.cancel("deploy");
    assert_eq!(running.await, Err(JobError::Cancelled("deploy".into())));
    assert_eq!(queued.await, Err(JobError::Cancelled("deploy".into())));
}

#[tokio::test]
async fn a_dropped_handle_does_not_cancel_its_job() {
    let pool = WorkerPool::builder().workers(1).build();
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = ran.clone();
    drop(
        pool.submit(async move {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>(())
        })
        .await
        .unwrap(),
    );
    let stats = pool.shutdown(HOUR).await;
    assert_eq!((ran.load(Ordering::SeqCst), stats.done), (1, 1));
}

/// Cancellation: a submit that waits for room, dropped at any point, leaves
/// nothing behind; the jobs that were queued all run exactly once.
#[tokio::test(start_paused = true)]
async fn dropped_submits_lose_nothing() {
    for drop_after_ms in [0u64, 1, 5, 10, 20] {
        let pool = WorkerPool::builder().workers(1).queue(1).build();
        let ran = Arc::new(AtomicUsize::new(0));
        let job = |ran: Arc<AtomicUsize>| async move {
            sleep(Duration::from_millis(10)).await;
            ran.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>(())
        };
        let first = pool.submit(job(ran.clone())).await.unwrap();
        let second = pool.submit(job(ran.clone())).await.unwrap();
        // The queue is full: this one waits for room, and is dropped.
        let waited = tokio::time::timeout(
            Duration::from_millis(drop_after_ms),
            pool.submit(job(ran.clone())),
        )
        .await;
        let third = waited.ok().map(Result::unwrap);
        let stats = pool.shutdown(HOUR).await;
        let queued_third = usize::from(third.is_some());
        assert_eq!(
            ran.load(Ordering::SeqCst),
            2 + queued_third,
            "after {drop_after_ms} ms"
        );
        assert_eq!(stats.done as usize, 2 + queued_third);
        first.await.unwrap();
        second.await.unwrap();
        if let Some(third) = third {
            third.await.unwrap();
        }
    }
}

#[tokio::test]
#[should_panic(expected = "a pool needs at least one worker")]
async fn zero_workers_is_refused() {
    let _ = WorkerPool::builder().workers(0).build();
}

#[tokio::test]
#[should_panic(expected = "the queue needs room for at least one job")]
async fn a_zero_queue_is_refused() {
    let _ = ThreadPool::builder().queue(0).build();
}

// ThreadPool

#[test]
fn thread_pool_threads_are_named_and_survive_panics() {
    let pool = ThreadPool::builder()
        .threads(2)
        .queue(4)
        .name("crunch")
        .build()
        .unwrap();
    let mut handles = Vec::new();
    for n in 0..40u32 {
        handles.push(
            pool.submit_blocking(move || {
                if n % 4 == 0 {
                    panic!("bad row {n}");
                }
                Ok::<_, ()>(std::thread::current().name().unwrap().to_owned())
            })
            .unwrap(),
        );
    }
    let mut names = HashSet::new();
    let mut panics = 0;
    for handle in handles {
        match handle.join() {
            Ok(name) => {
                names.insert(name);
            }
            Err(JobError::Panicked(message)) => {
                assert!(message.starts_with("bad row"));
                panics += 1;
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(panics, 10);
    assert!(names.is_subset(&HashSet::from([
        "crunch-0".to_owned(),
        "crunch-1".to_owned()
    ])));
    let stats = pool.stats();
    assert_eq!((stats.workers, stats.done, stats.failed), (2, 30, 10));
}

#[test]
fn thread_pool_queue_is_bounded() {
    let pool = ThreadPool::builder().threads(1).queue(2).build().unwrap();
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let gate = Arc::new(Mutex::new(gate));
    let hold = {
        let gate = gate.clone();
        pool.submit_blocking(move || gate.lock().unwrap().recv().map_err(drop))
            .unwrap()
    };
    // Wait until the thread has taken it.
    while pool.stats().running == 0 {
        std::thread::yield_now();
    }
    let queued: Vec<_> = (0..2)
        .map(|n| pool.try_submit(move || Ok::<_, ()>(n)).unwrap())
        .collect();
    let refused = pool.try_submit(|| Ok::<_, ()>(9)).unwrap_err();
    assert_eq!(refused.into_inner()(), Ok(9));
    release.send(()).unwrap();
    hold.join().unwrap();
    let values: Vec<_> = queued.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(values, [0, 1]);
}

#[tokio::test]
async fn thread_pool_shutdown_now_cancels_queued_and_waits_for_running() {
    let pool = ThreadPool::builder().threads(1).queue(8).build().unwrap();
    let started = Arc::new(std::sync::Barrier::new(2));
    let running = {
        let (started, token) = (started.clone(), pool.token().clone());
        pool.submit(move || {
            started.wait();
            while !token.is_cancelled() {
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok::<_, ()>("saw the token")
        })
        .await
        .unwrap()
    };
    let queued: Vec<_> =
        futures::future::join_all((0..3).map(|_| pool.submit(|| Ok::<_, ()>("ran"))))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
    tokio::task::spawn_blocking(move || started.wait())
        .await
        .unwrap();
    let stats = pool.shutdown_now().await;
    assert_eq!(running.await, Ok("saw the token"));
    for handle in queued {
        assert!(handle.await.unwrap_err().is_cancelled());
    }
    assert_eq!((stats.done, stats.cancelled, stats.running), (1, 3, 0));
}

#[test]
fn dropping_a_thread_pool_joins_its_threads_and_resolves_every_handle() {
    let pool = ThreadPool::builder().threads(2).queue(64).build().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..50)
        .map(|_| {
            let ran = ran.clone();
            pool.submit_blocking(move || {
                std::thread::sleep(Duration::from_millis(1));
                ran.fetch_add(1, Ordering::SeqCst);
                Ok::<_, ()>(())
            })
            .unwrap()
        })
        .collect();
    drop(pool);
    let ran_at_drop = ran.load(Ordering::SeqCst);
    let mut done = 0;
    for handle in handles {
        match handle.join() {
            Ok(()) => done += 1,
            Err(error) => assert!(error.is_cancelled()),
        }
    }
    // The threads were joined: nothing ran after the drop returned.
    assert_eq!(ran.load(Ordering::SeqCst), ran_at_drop);
    assert_eq!(done, ran_at_drop);
}

// Bounded maps

#[tokio::test(start_paused = true)]
async fn map_keeps_input_order_and_its_limit() {
    let gauge = Arc::new(Gauge::default());
    let delays = [50u64, 10, 40, 20, 30, 5, 25, 15];
    let mapped = herd::pool::map(3, stream::iter(delays), |ms| {
        let gauge = gauge.clone();
        async move {
            gauge.enter();
            sleep(Duration::from_millis(ms)).await;
            gauge.leave();
            Ok::<_, String>(ms)
        }
    });
    assert_eq!(mapped.all().await.unwrap(), delays);
    assert_eq!(gauge.max.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn map_fails_fast_and_aborts_what_is_in_flight() {
    let started = Arc::new(AtomicUsize::new(0));
    let drops = Arc::new(AtomicUsize::new(0));
    let mapped = herd::pool::map_unordered(4, stream::iter(0..1000usize), |n| {
        started.fetch_add(1, Ordering::SeqCst);
        let guard = DropGuard(drops.clone());
        async move {
            let _guard = guard;
            if n == 5 {
                return Err(format!("item {n} is bad"));
            }
            sleep(HOUR).await;
            Ok(n)
        }
    });
    let err = mapped.all().await.unwrap_err();
    assert_eq!(
        (err.task().index(), err.into_failure()),
        (5, Some("item 5 is bad".to_owned()))
    );
    tokio::task::yield_now().await;
    let started = started.load(Ordering::SeqCst);
    assert!(
        started <= 9,
        "no call starts after the failure; {started} started"
    );
    assert_eq!(
        drops.load(Ordering::SeqCst),
        started,
        "every started call was dropped"
    );
}

#[tokio::test]
async fn map_collects_every_outcome_with_panics_as_values() {
    let outcomes = herd::pool::map(2, stream::iter(0..6u32), |n| async move {
        match n {
            2 => Err("two"),
            4 => panic!("four"),
            n => Ok(n),
        }
    })
    .all_settled()
    .await;
    assert_eq!(outcomes.len(), 6);
    assert!(matches!(
        &outcomes[2],
        Err(TaskError::Failed { error: "two", .. })
    ));
    assert!(
        matches!(&outcomes[4], Err(TaskError::Panicked { message, task }) if message == "four" && task.index() == 4)
    );
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 4);
}

#[tokio::test]
async fn map_pulls_its_input_lazily() {
    let pulled = Arc::new(AtomicUsize::new(0));
    let input = stream::iter(0..1_000_000usize).inspect({
        let pulled = pulled.clone();
        move |_| {
            pulled.fetch_add(1, Ordering::SeqCst);
        }
    });
    let mut mapped = std::pin::pin!(herd::pool::map(4, input, |n| async move { Ok::<_, ()>(n) }));
    for expected in 0..1000usize {
        assert_eq!(mapped.next().await, Some(Ok(expected)));
        let ahead = pulled.load(Ordering::SeqCst) - (expected + 1);
        assert!(ahead <= 4, "pulled {ahead} items ahead of the consumer");
    }
}

#[tokio::test]
async fn for_each_and_chunks_cover_every_item_once() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let batches = herd::pool::chunks(stream::iter(0..103u32), 10);
    herd::pool::for_each(3, batches, |batch| {
        let seen = seen.clone();
        async move {
            assert!(batch.len() <= 10);
            seen.lock().unwrap().extend(batch);
            Ok::<_, ()>(())
        }
    })
    .await
    .unwrap();
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, (0..103).collect::<Vec<_>>());
}

#[tokio::test]
#[should_panic(expected = "the limit must be at least 1")]
async fn a_zero_map_limit_is_refused() {
    let _ = herd::pool::map(0, stream::iter([1]), |n: i32| async move { Ok::<_, ()>(n) });
}

/// A job whose future panics when dropped: the panic is that job's result
/// and the worker lives on.
#[tokio::test]
async fn a_job_that_panics_in_drop_costs_only_that_job() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("boom in drop");
        }
    }
    let pool = WorkerPool::builder().workers(1).build();
    let bomb = Bomb;
    let job = pool
        .submit(async move {
            let _bomb = bomb;
            Ok::<_, String>(1)
        })
        .await
        .unwrap();
    assert_eq!(job.await, Err(JobError::Panicked("boom in drop".into())));
    let next = pool.submit(async { Ok::<_, String>(2) }).await.unwrap();
    assert_eq!(next.await, Ok(2));
    assert_eq!(pool.stats().workers, 1);
}
