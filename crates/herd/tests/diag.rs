//! Diagnostics: deadlocks named as they form, lock order, the watchdog, the
//! dump. Diagnostics are process-wide, so every test here runs with them on
//! and picks out its own reports by the unique names of its resources.

use std::sync::{Arc, Once};
use std::time::Duration;

use herd::diag::{self, Config, OrderRule, PartyKind, PartyState, Report};
use herd::sync::{AcquireError, Mutex, RwLock, Semaphore};
use herd::task::Scope;
use tokio::sync::Barrier;

// The bug programs' helper: the first matching report, waiting up to one
// second of wall time for the watchdog to make it.
#[path = "../examples/bugs/common.rs"]
#[allow(dead_code)]
mod bugs;
use bugs::report as report_within;

fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        diag::enable_with(
            Config::default()
                .slow_poll(Duration::from_millis(20))
                .stalled_wait(Duration::from_millis(200)),
        );
    });
}

fn names(report: &Report) -> String {
    report.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abba_between_two_tasks_is_refused_when_it_forms_naming_both() {
    setup();
    let a = Arc::new(Mutex::named("abba-1", 0));
    let b = Arc::new(Mutex::named("abba-2", 0));
    let both_hold = Arc::new(Barrier::new(2));
    let scope = Scope::<(), AcquireError>::builder()
        .name("abba")
        .policy(herd::task::Policy::Supervise)
        .build();
    for (name, first, second) in [("left", &a, &b), ("right", &b, &a)] {
        let (first, second, both_hold) = (first.clone(), second.clone(), both_hold.clone());
        scope
            .spawn_named(name, async move {
                let _first = first.lock().await;
                both_hold.wait().await;
                let _second = second.lock_timeout(Duration::from_secs(3600)).await?;
                Ok(())
            })
            .await
            .unwrap();
    }
    let outcomes = scope.join_all().await;
    let refused: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    assert_eq!(
        refused.len(),
        1,
        "exactly one wait closes the cycle: {outcomes:?}"
    );
    let herd::task::TaskError::Failed {
        error: AcquireError::Deadlock { deadlock, .. },
        ..
    } = refused[0]
    else {
        panic!("{:?}", refused[0])
    };
    assert_eq!(deadlock.cycle.len(), 2);
    let waiters: Vec<_> = deadlock
        .cycle
        .iter()
        .map(|l| l.waiter.name.clone().unwrap())
        .collect();
    assert!(waiters.contains(&"left".into()) && waiters.contains(&"right".into()));
    for link in &deadlock.cycle {
        assert_eq!(link.waiter.kind, PartyKind::Task);
        assert_eq!(link.waiter.scope.as_deref(), Some("abba"));
        assert!(link.waiter.spawned_at.unwrap().file().ends_with("diag.rs"));
        assert!(link.wait_at.file().ends_with("diag.rs"));
        assert!(link.held_at.file().ends_with("diag.rs"));
    }
    // Each link's holder waits in the next link.
    assert_eq!(deadlock.cycle[0].holder, deadlock.cycle[1].waiter);
    assert_eq!(deadlock.cycle[1].holder, deadlock.cycle[0].waiter);
    let text = deadlock.to_string();
    assert!(
        text.contains("Mutex \"abba-1\"") && text.contains("Mutex \"abba-2\""),
        "{text}"
    );
    // The other task got its lock once the refused one let go.
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1);
}

#[test]
fn a_three_way_cycle_across_threads_is_refused_to_the_thread_that_closes_it() {
    setup();
    let locks: Arc<Vec<Mutex<()>>> = Arc::new(
        ["ring-0", "ring-1", "ring-2"]
            .into_iter()
            .map(|name| Mutex::named(name, ()))
            .collect(),
    );
    let all_hold = Arc::new(std::sync::Barrier::new(3));
    let threads: Vec<_> = (0..3)
        .map(|i| {
            let (locks, all_hold) = (locks.clone(), all_hold.clone());
            std::thread::Builder::new()
                .name(format!("ring-thread-{i}"))
                .spawn(move || {
                    let _mine = locks[i].lock_blocking();
                    all_hold.wait();
                    locks[(i + 1) % 3]
                        .lock_blocking_timeout(Duration::from_secs(3600))
                        .map(drop)
                })
                .unwrap()
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let refused: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(refused.len(), 1, "{results:?}");
    let AcquireError::Deadlock { deadlock, .. } = refused[0] else {
        panic!("{:?}", refused[0])
    };
    assert_eq!(deadlock.cycle.len(), 3);
    for link in &deadlock.cycle {
        assert_eq!(link.waiter.kind, PartyKind::Thread);
        assert!(
            link.waiter
                .name
                .as_deref()
                .unwrap()
                .starts_with("ring-thread-")
        );
        assert!(link.resource.name().unwrap().starts_with("ring-"));
    }
}

#[tokio::test]
async fn waiting_for_a_lock_this_task_holds_is_refused_or_panics() {
    setup();
    let lock = Mutex::named("self-held", 0);
    let held = lock.lock().await;
    let err = lock
        .lock_timeout(Duration::from_secs(3600))
        .await
        .unwrap_err();
    let AcquireError::Deadlock { deadlock, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(deadlock.cycle.len(), 1);
    assert_eq!(deadlock.cycle[0].waiter, deadlock.cycle[0].holder);
    assert!(err.to_string().contains("which it already holds"), "{err}");
    drop(held);
    // Nothing is left behind: the lock is free again.
    assert!(lock.try_lock().is_some());

    // `lock()` cannot return an error: it panics rather than hang.
    let lock = Arc::new(Mutex::named("self-held-panics", 0));
    let task = tokio::spawn({
        let lock = lock.clone();
        async move {
            let _held = lock.lock().await;
            let _again = lock.lock().await;
        }
    });
    let panic = task.await.unwrap_err().into_panic();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("Mutex \"self-held-panics\""), "{message}");
    assert!(
        lock.try_lock().is_some(),
        "the guard was dropped in the unwind"
    );
}

#[tokio::test]
async fn a_reader_asking_to_write_is_a_deadlock_on_itself() {
    setup();
    let lock = RwLock::named("upgrade", 0);
    let _read = lock.read().await;
    let err = lock
        .write_timeout(Duration::from_secs(3600))
        .await
        .unwrap_err();
    assert!(matches!(err, AcquireError::Deadlock { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owned_permits_moved_into_children_are_never_taken_for_a_deadlock() {
    setup();
    // The bounded-spawn loop: the parent takes each permit, a child frees it.
    let limit = Arc::new(Semaphore::named("spawn-limit", 2));
    let mut children = Vec::new();
    for _ in 0..200 {
        let permit = limit.clone().acquire_owned().await.unwrap();
        children.push(tokio::spawn(async move {
            tokio::task::yield_now().await;
            drop(permit);
        }));
    }
    for child in children {
        child.await.unwrap();
    }
    assert!(
        !diag::recent()
            .iter()
            .any(|r| names(r).contains("spawn-limit"))
    );
}

#[tokio::test]
async fn a_semaphore_permit_held_twice_by_one_task_is_a_deadlock_only_when_it_is_all() {
    setup();
    let pool = Semaphore::named("self-pool", 2);
    let first = pool.acquire().await.unwrap();
    let second = pool.acquire().await.unwrap();
    let err = pool.acquire().await.unwrap_err();
    assert!(matches!(err, AcquireError::Deadlock { .. }), "{err}");
    drop(second);
    // Another party holding a permit: it may release it, so no verdict.
    let shared = Arc::new(Semaphore::named("shared-pool", 1));
    let held_elsewhere = shared.clone().try_acquire_owned().unwrap();
    let waiter = tokio::spawn({
        let shared = shared.clone();
        async move { shared.acquire().await.map(drop) }
    });
    tokio::task::yield_now().await;
    drop(held_elsewhere);
    assert_eq!(waiter.await.unwrap(), Ok(()));
    drop(first);
}

#[tokio::test]
async fn levels_report_a_lock_taken_against_its_order() {
    setup();
    let low = Mutex::named("level-low", ()).with_level(1);
    let high = Mutex::named("level-high", ()).with_level(2);
    {
        let _low = low.lock().await;
        let _high = high.lock().await; // rising: fine
    }
    assert!(
        !diag::recent()
            .iter()
            .any(|r| names(r).contains("level-high"))
    );
    let _high = high.lock().await;
    let _low = low.lock().await;
    let found = diag::recent().into_iter().find_map(|r| match r {
        Report::LockOrder(o) if o.acquiring.name() == Some("level-low") => Some(o),
        _ => None,
    });
    let order = found.expect("a level violation is reported");
    assert_eq!(
        order.rule,
        OrderRule::Level {
            held: 2,
            acquiring: 1
        }
    );
    assert_eq!(order.held.name(), Some("level-high"));
}

#[tokio::test]
async fn an_order_seen_once_makes_the_opposite_a_report_even_without_a_hang() {
    setup();
    let a = Mutex::named("learn-a", ());
    let b = Mutex::named("learn-b", ());
    let c = Mutex::named("learn-c", ());
    {
        let _a = a.lock().await;
        let _b = b.lock().await;
    }
    {
        let _b = b.lock().await;
        let _c = c.lock().await;
    }
    // c then a closes a -> b -> c -> a through the graph.
    for _ in 0..3 {
        let _c = c.lock().await;
        let _a = a.lock().await;
    }
    let inversions: Vec<_> = diag::recent()
        .into_iter()
        .filter(|r| matches!(r, Report::LockOrder(o) if o.acquiring.name() == Some("learn-a")))
        .collect();
    assert_eq!(inversions.len(), 1, "reported once: {inversions:?}");
    let Report::LockOrder(order) = &inversions[0] else {
        unreachable!()
    };
    assert_eq!(order.held.name(), Some("learn-c"));
    assert!(matches!(order.rule, OrderRule::Inversion { .. }));
    assert!(order.to_string().contains("can deadlock"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_poll_is_reported_with_the_task_and_where_it_was_spawned() {
    setup();
    let scope = Scope::<(), ()>::builder().name("blockers").build();
    scope
        .spawn_named("sleeps-in-async", async {
            std::thread::sleep(Duration::from_millis(300));
            Ok(())
        })
        .await
        .unwrap();
    scope.join().await.unwrap();
    let found = report_within(
        |r| matches!(r, Report::SlowPoll(s) if s.task.name.as_deref() == Some("sleeps-in-async")),
    );
    let Some(Report::SlowPoll(slow)) = found else {
        panic!("no slow-poll report")
    };
    assert!(slow.running >= Duration::from_millis(20));
    assert_eq!(slow.task.scope.as_deref(), Some("blockers"));
    assert!(slow.task.spawned_at.unwrap().file().ends_with("diag.rs"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_on_a_lock_held_across_an_idle_await_is_reported_with_its_holder() {
    setup();
    let config = Arc::new(Mutex::named("held-across-await", 0));
    let release = Arc::new(tokio::sync::Notify::new());
    let scope = Scope::<(), ()>::builder().name("stall").build();
    let holding = Arc::new(Barrier::new(2));
    scope
        .spawn_named("holder", {
            let (config, release, holding) = (config.clone(), release.clone(), holding.clone());
            async move {
                let _guard = config.lock().await;
                holding.wait().await;
                release.notified().await; // an await while holding the lock
                Ok(())
            }
        })
        .await
        .unwrap();
    holding.wait().await;
    scope
        .spawn_named("waiter", {
            let config = config.clone();
            async move {
                *config.lock().await += 1;
                Ok(())
            }
        })
        .await
        .unwrap();
    let found = tokio::task::spawn_blocking(|| {
        report_within(
            |r| matches!(r, Report::Stalled(s) if s.resource.name() == Some("held-across-await")),
        )
    })
    .await
    .unwrap();
    let Some(Report::Stalled(stalled)) = found else {
        panic!("no stall report")
    };
    assert_eq!(stalled.waiter.name.as_deref(), Some("waiter"));
    assert_eq!(stalled.holders.len(), 1);
    assert_eq!(stalled.holders[0].party.name.as_deref(), Some("holder"));
    assert!(matches!(stalled.holders[0].state, PartyState::Idle { .. }));
    release.notify_one();
    scope.join().await.unwrap();
    assert_eq!(*config.lock().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permit_leaked_by_a_finished_task_is_named_when_someone_waits_for_it() {
    setup();
    let pool = Arc::new(Semaphore::named("leaky-pool", 1));
    let scope = Scope::<(), ()>::builder().name("leak").build();
    scope
        .spawn_named("forgetful", {
            let pool = pool.clone();
            async move {
                std::mem::forget(pool.acquire().await.unwrap());
                Ok(())
            }
        })
        .await
        .unwrap();
    scope.join().await.unwrap();
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move { pool.acquire_timeout(Duration::from_secs(2)).await.map(drop) }
    });
    let found = tokio::task::spawn_blocking(|| {
        report_within(
            |r| matches!(r, Report::Stalled(s) if s.resource.name() == Some("leaky-pool")),
        )
    })
    .await
    .unwrap();
    let Some(Report::Stalled(stalled)) = found else {
        panic!("no stall report")
    };
    assert_eq!(stalled.holders[0].party.name.as_deref(), Some("forgetful"));
    assert_eq!(stalled.holders[0].state, PartyState::Finished);
    assert!(stalled.to_string().contains("leaked"), "{stalled}");
    assert!(
        waiter.await.unwrap().is_err(),
        "the permit never comes back"
    );
}

#[tokio::test]
async fn the_dump_shows_tasks_what_they_hold_and_what_they_wait_for() {
    setup();
    let lock = Arc::new(Mutex::named("dumped-lock", ()));
    let scope = Scope::<(), ()>::builder().name("dumped-scope").build();
    let guard = lock.lock().await;
    scope
        .spawn_named("dumped-waiter", {
            let lock = lock.clone();
            async move {
                let _ = lock.lock().await;
                Ok(())
            }
        })
        .await
        .unwrap();
    tokio::task::yield_now().await;
    let dump = diag::dump();
    let waiter = dump
        .tasks
        .iter()
        .find(|t| t.party.name.as_deref() == Some("dumped-waiter"))
        .unwrap();
    assert!(
        matches!(&waiter.state, PartyState::Waiting { resource, .. } if resource.name() == Some("dumped-lock"))
    );
    let resource = dump
        .resources
        .iter()
        .find(|r| r.resource.name() == Some("dumped-lock"))
        .unwrap();
    assert_eq!(resource.holders.len(), 1);
    assert_eq!(resource.waiters.len(), 1);
    let json: serde_json::Value = serde_json::from_str(&dump.to_json()).unwrap();
    let task = json["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["party"]["name"] == "dumped-waiter")
        .unwrap();
    assert_eq!(task["state"]["state"], "waiting");
    assert_eq!(task["state"]["resource"]["name"], "dumped-lock");
    assert_eq!(task["party"]["scope"], "dumped-scope");
    let text = dump.to_string();
    assert!(text.contains("task \"dumped-waiter\""), "{text}");
    assert!(text.contains("waiting for Mutex \"dumped-lock\""), "{text}");
    drop(guard);
    scope.join().await.unwrap();
    // Finished tasks leave the dump; the free lock leaves the resources.
    let dump = diag::dump();
    assert!(
        !dump
            .tasks
            .iter()
            .any(|t| t.party.name.as_deref() == Some("dumped-waiter"))
    );
    assert!(
        !dump
            .resources
            .iter()
            .any(|r| r.resource.name() == Some("dumped-lock"))
    );
}

#[test]
fn a_dropped_wait_leaves_no_record_behind() {
    setup();
    use std::future::Future;
    use std::sync::mpsc::channel;
    let poll_once = |fut: std::pin::Pin<&mut herd::sync::Lock<'_, ()>>| {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        fut.poll(&mut cx).is_pending()
    };
    let a = Mutex::named("cancel-a", ());
    let held = a.lock_blocking();
    let a = &a;
    std::thread::scope(|s| {
        // Waiting on another thread, then dropped.
        s.spawn(move || assert!(poll_once(std::pin::pin!(a.lock()))))
            .join()
            .unwrap();
        // Handed the lock, then dropped before it saw it: the hold goes too.
        let (waiting, handed) = (channel(), channel());
        let waiter = s.spawn(move || {
            let mut granted = std::pin::pin!(a.lock());
            assert!(poll_once(granted.as_mut()));
            waiting.0.send(()).unwrap();
            handed.1.recv().unwrap();
        });
        waiting.1.recv().unwrap();
        drop(held);
        handed.0.send(()).unwrap();
        waiter.join().unwrap();
    });
    let dump = diag::dump();
    assert!(
        !dump
            .resources
            .iter()
            .any(|r| r.resource.name() == Some("cancel-a")),
        "no holder, no waiter: {dump}"
    );
    // And no stale record makes a later wait look like a deadlock.
    let _again = a.try_lock().expect("the lock came back");
    assert!(!diag::recent().iter().any(|r| names(r).contains("cancel-a")));
}

#[tokio::test(flavor = "current_thread")]
async fn the_lag_monitor_reports_a_blocked_runtime() {
    setup();
    let _monitor = diag::watch_lag(Duration::from_millis(5), Duration::from_millis(100));
    tokio::time::sleep(Duration::from_millis(10)).await;
    std::thread::sleep(Duration::from_millis(400));
    tokio::time::sleep(Duration::from_millis(10)).await;
    let lag = diag::recent().into_iter().find_map(|r| match r {
        Report::Lag(lag) if lag.late >= Duration::from_millis(300) => Some(lag),
        _ => None,
    });
    assert!(lag.is_some(), "a 400 ms block is at least 300 ms of lag");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dump_shows_tasks_and_threads_waiting_on_a_queue_and_forgets_them_after() {
    setup();
    let (tx, rx) = herd::queue::Builder::new(1)
        .name("dumped-queue")
        .build::<u32>();
    let scope = Scope::<(), ()>::builder().name("queue-scope").build();
    // A consumer waiting for an item, and (once the queue is full) a
    // producer thread waiting for room.
    scope
        .spawn_named("dumped-consumer", {
            let rx = rx.clone();
            async move {
                rx.recv().await.unwrap();
                Ok(())
            }
        })
        .await
        .unwrap();
    let waiting_on_queue = |name: &str| {
        let dump = diag::dump();
        dump.tasks.iter().any(|t| {
            t.party.name.as_deref() == Some(name)
                && matches!(&t.state, PartyState::Waiting { resource, .. }
                    if resource.name() == Some("dumped-queue"))
        })
    };
    for _ in 0..1000 {
        if waiting_on_queue("dumped-consumer") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(waiting_on_queue("dumped-consumer"), "{}", diag::dump());
    tx.send(1).await.unwrap(); // taken by the consumer
    scope.join().await.unwrap();
    assert!(!waiting_on_queue("dumped-consumer"));

    tx.send(2).await.unwrap(); // full now
    let producer = std::thread::Builder::new()
        .name("dumped-producer".into())
        .spawn({
            let tx = tx.clone();
            move || tx.send_blocking(3).unwrap()
        })
        .unwrap();
    let mut seen = false;
    for _ in 0..1000 {
        let dump = diag::dump();
        if let Some(queue) = dump
            .resources
            .iter()
            .find(|r| r.resource.name() == Some("dumped-queue"))
        {
            assert!(queue.holders.is_empty(), "a queue has no holders");
            let (party, wait) = &queue.waiters[0];
            assert_eq!(party.name.as_deref(), Some("dumped-producer"));
            assert!(wait.at.file().ends_with("diag.rs"), "{}", wait.at);
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(seen, "{}", diag::dump());
    // Past the stall threshold: waiting on a queue is not a stall.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(rx.recv().await, Ok(2));
    producer.join().unwrap();
    assert_eq!(rx.recv().await, Ok(3));
    assert!(
        !diag::recent()
            .iter()
            .any(|r| names(r).contains("dumped-queue")),
        "no report names the queue"
    );
    assert!(
        !diag::dump()
            .resources
            .iter()
            .any(|r| r.resource.name() == Some("dumped-queue"))
    );
}

#[test]
fn a_guard_released_by_another_thread_leaves_no_record_on_either_side() {
    setup();
    let a = Mutex::named("moved-a", ());
    let guard = std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("moved-taker".into())
            .spawn_scoped(s, || a.lock_blocking())
            .unwrap()
            .join()
            .unwrap()
    });
    // The taker has ended; its hold names it until the guard goes.
    let dump = diag::dump();
    let holders: Vec<_> = dump
        .resources
        .iter()
        .filter(|r| r.resource.name() == Some("moved-a"))
        .flat_map(|r| &r.holders)
        .collect();
    assert_eq!(holders.len(), 1, "{dump}");
    assert_eq!(holders[0].party.name.as_deref(), Some("moved-taker"));
    assert_eq!(holders[0].state, herd::diag::PartyState::Finished);
    drop(guard);
    let dump = diag::dump();
    assert!(
        !dump
            .resources
            .iter()
            .any(|r| r.resource.name() == Some("moved-a")),
        "{dump}"
    );
    assert!(
        !dump
            .tasks
            .iter()
            .any(|t| t.party.name.as_deref() == Some("moved-taker")),
        "an ended thread that holds nothing is forgotten: {dump}"
    );
    let _again = a.try_lock().expect("the lock came back");
}

/// A `tracing` subscriber that takes a herd lock for each of herd's
/// diagnostics reports, as a log writer guarded by one would, and counts
/// them.
struct TakesALock {
    lock: Arc<Mutex<()>>,
    reports: Arc<std::sync::atomic::AtomicUsize>,
}

impl tracing::Subscriber for TakesALock {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        if event.metadata().target() == "herd::diag" {
            drop(self.lock.lock_blocking());
            self.reports
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

// Handing a lock over records the new holder's hold under the lock's line
// lock, and a hold against the lock order makes a report right there. The
// report goes out only once the line lock is released, so a subscriber
// that takes that same lock while handling it waits its turn instead of
// deadlocking the thread that handed the lock over.
#[test]
fn a_subscriber_that_takes_a_herd_lock_on_a_report_does_not_deadlock() {
    setup();
    use std::sync::mpsc::channel;

    let log = Arc::new(Mutex::named("emit-log", ()).with_level(1));
    let high = Arc::new(Mutex::named("emit-high", ()).with_level(2));
    let reports = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let subscriber = TakesALock {
        lock: log.clone(),
        reports: reports.clone(),
    };
    let (finished, done) = channel();
    let releaser = std::thread::spawn(move || {
        tracing::subscriber::with_default(subscriber, || {
            let held = log.lock_blocking();
            std::thread::scope(|s| {
                let (in_line, waiting) = channel();
                let (log, high) = (&log, &high);
                let waiter = s.spawn(move || {
                    let _high = high.lock_blocking();
                    let mut lock = std::pin::pin!(log.lock());
                    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                    assert!(std::future::Future::poll(lock.as_mut(), &mut cx).is_pending());
                    in_line.send(()).unwrap();
                    drop(futures::executor::block_on(lock));
                });
                waiting.recv().unwrap();
                // Hands `log` to a waiter holding `high`: against the levels.
                drop(held);
                waiter.join().unwrap();
            });
        });
        finished.send(()).unwrap();
    });
    done.recv_timeout(Duration::from_secs(60))
        .expect("the thread that handed the lock over is deadlocked by its subscriber");
    releaser.join().unwrap();
    assert!(reports.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    assert!(diag::recent().iter().any(|r| matches!(
        r,
        Report::LockOrder(o) if o.acquiring.name() == Some("emit-log")
    )));
}
