//! The flaws found in the snippets of the guides herd grew from, each
//! turned into a test that herd must keep passing.
//!
//! The seeds' README lists thirteen mistakes in those sketches: polling for
//! a slot, a "limit N" loop that loses count, a throttle that drops calls,
//! pool shutdowns that leave jobs hanging, and more. Each `flaw_NN_*` test
//! below sets up the situation the snippet gets wrong and asserts the
//! outcome a user of herd relies on instead. Timing is checked on tokio's
//! paused clock, so every instant is exact and a hang fails at once instead
//! of stalling the run; contention runs on a multi-thread runtime and checks
//! that the books balance at the end. Flaw 13 switches herd's diagnostics on
//! for the whole process, which only makes the other tests here stricter:
//! their locks are taken in a safe order, and its own checks pick out its
//! reports by resource name.

mod common;

use std::cell::Cell;
use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use common::{DropGuard, Gauge, HOUR};
use futures::StreamExt;
use futures::stream;
use herd::diag::{self, Report};
use herd::limit::{Limiter, Quota};
use herd::pool::{JobError, SubmitError, ThreadPool, WorkerPool};
use herd::queue::{Builder, RecvError, SendError, bounded};
use herd::resilience::{Debounce, Dropped, SingleFlight, throttle};
use herd::shutdown::Shutdown;
use herd::sync::{Mutex, RwLock, Semaphore};
use tokio::task::yield_now;
use tokio::time::{Instant, sleep};

const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);

/// Lets every spawned task on the current-thread runtime run until it waits.
async fn settle() {
    for _ in 0..10 {
        yield_now().await;
    }
}

/// Awaits `fut`, or fails the test if it never resolves. On the paused
/// clock a future that would hang meets this month-long deadline as soon as
/// nothing else can run, so a hang shows at once as a failure.
async fn resolved<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(30 * 24 * HOUR, fut)
        .await
        .expect("it never resolved: a hang")
}

/// A waiter that polls for a free slot on a timer burns wake-ups while it
/// waits and notices a freed slot only at its next tick.
#[tokio::test(start_paused = true)]
async fn flaw_01_a_waiter_is_woken_exactly_when_a_slot_frees() {
    let slots = Arc::new(Semaphore::named("seed01-slots", 1));
    let start = Instant::now();
    let held = slots.acquire().await.unwrap();
    let polls: Arc<Vec<AtomicUsize>> = Arc::new((0..3).map(|_| AtomicUsize::new(0)).collect());
    let mut waiters = Vec::new();
    for id in 0..3 {
        let (slots, polls) = (slots.clone(), polls.clone());
        waiters.push(tokio::spawn(async move {
            let mut acquire = pin!(slots.acquire());
            // Every poll of the wait is one wake-up.
            let permit = poll_fn(|cx| {
                polls[id].fetch_add(1, Ordering::SeqCst);
                acquire.as_mut().poll(cx)
            })
            .await
            .unwrap();
            let granted = start.elapsed();
            // Held for 7 ms: off any 10 ms tick a poller would wake on.
            sleep(7 * MS).await;
            drop(permit);
            granted
        }));
        settle().await; // each joins the line before the next
    }
    let registered: Vec<_> = polls.iter().map(|p| p.load(Ordering::SeqCst)).collect();
    sleep(HOUR).await;
    let after_an_hour: Vec<_> = polls.iter().map(|p| p.load(Ordering::SeqCst)).collect();
    assert_eq!(
        registered, after_an_hour,
        "nobody was woken while the slot stayed taken"
    );
    assert!(waiters.iter().all(|w| !w.is_finished()));

    drop(held);
    let mut granted = Vec::new();
    for waiter in waiters {
        granted.push(resolved(waiter).await.unwrap());
    }
    // Each got the slot the instant the one before let go.
    assert_eq!(granted, [HOUR, HOUR + 7 * MS, HOUR + 14 * MS]);
    for (id, poll) in polls.iter().enumerate() {
        assert_eq!(
            poll.load(Ordering::SeqCst) - registered[id],
            1,
            "waiter {id} was woken once, to take its slot"
        );
    }
    assert_eq!(slots.available_permits(), 1);
}

/// When each call of a greedy `limit`-slot schedule ends: every input
/// starts the moment a slot frees, in input order.
fn greedy_finish_times(limit: usize, delays: &[u64]) -> Vec<u64> {
    let mut free_at = vec![0u64; limit];
    delays
        .iter()
        .map(|&delay| {
            let slot = (0..limit).min_by_key(|&s| free_at[s]).unwrap();
            free_at[slot] += delay;
            free_at[slot]
        })
        .collect()
}

/// A hand-rolled "N at a time" loop that loses track of which call ended
/// runs more or fewer than N at once, and hands back results in the order
/// they finished rather than the order they were asked for.
#[tokio::test(start_paused = true)]
async fn flaw_02_bounded_map_keeps_its_limit_and_input_order() {
    const LIMIT: usize = 3;
    let delays = [70u64, 20, 50, 10, 45, 35, 60, 15, 25, 5];
    let call = |gauge: &Arc<Gauge>, finished: &Arc<StdMutex<Vec<u64>>>| {
        let (gauge, finished) = (gauge.clone(), finished.clone());
        move |ms: u64| {
            let (gauge, finished) = (gauge.clone(), finished.clone());
            async move {
                gauge.enter();
                sleep(Duration::from_millis(ms)).await;
                gauge.leave();
                finished.lock().unwrap().push(ms);
                Ok::<_, String>(ms)
            }
        }
    };

    // In input order, though they finish in another.
    let gauge = Arc::new(Gauge::default());
    let finished = Arc::new(StdMutex::new(Vec::new()));
    let mapped = herd::pool::map(LIMIT, stream::iter(delays), call(&gauge, &finished));
    assert_eq!(mapped.all().await.unwrap(), delays);
    assert_ne!(
        *finished.lock().unwrap(),
        delays,
        "they did finish out of order"
    );
    assert_eq!(
        gauge.max.load(Ordering::SeqCst),
        LIMIT,
        "never more, and the limit was used"
    );

    // Unordered: each result as it comes, and a freed slot is refilled at once.
    let gauge = Arc::new(Gauge::default());
    let finished = Arc::new(StdMutex::new(Vec::new()));
    let start = Instant::now();
    let mapped = herd::pool::map_unordered(LIMIT, stream::iter(delays), call(&gauge, &finished));
    let results: Vec<u64> = mapped.map(Result::unwrap).collect().await;
    let ends = greedy_finish_times(LIMIT, &delays);
    let mut by_end: Vec<_> = delays.iter().zip(&ends).collect();
    by_end.sort_by_key(|&(_, end)| *end);
    let expected: Vec<u64> = by_end.into_iter().map(|(&ms, _)| ms).collect();
    assert_eq!(results, expected, "completion order");
    assert_eq!(results, *finished.lock().unwrap());
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(*ends.iter().max().unwrap()),
        "no slot stood idle"
    );
    assert_eq!(gauge.max.load(Ordering::SeqCst), LIMIT);
}

/// Calls `debounced` with 1, 2 and 3, 100 ms apart, and waits for every
/// answer.
async fn burst_of_three(debounced: &Debounce<u32, u32>) -> Vec<Result<u32, Dropped>> {
    let mut calls = Vec::new();
    for n in 1..=3 {
        calls.push(debounced.call(n));
        sleep(100 * MS).await;
    }
    resolved(futures::future::join_all(calls)).await
}

type RunLog = Arc<StdMutex<Vec<(Duration, u32)>>>;

/// A function to debounce that logs when each run starts and with what.
fn logged(
    start: Instant,
) -> (
    RunLog,
    impl FnMut(u32) -> std::future::Ready<u32> + Send + 'static,
) {
    let runs = RunLog::default();
    let log = runs.clone();
    (runs, move |n| {
        log.lock().unwrap().push((start.elapsed(), n));
        std::future::ready(n)
    })
}

/// A throttle that ignores calls inside its window loses the last one
/// without telling its caller.
#[tokio::test(start_paused = true)]
async fn flaw_03_throttle_and_debounce_answer_every_call() {
    // Throttle: the first at once, the latest at the end of the window; the
    // call in between is answered by the trailing run that replaced it.
    let start = Instant::now();
    let (runs, f) = logged(start);
    let throttled = throttle(SEC, f);
    assert_eq!(burst_of_three(&throttled).await, [Ok(1), Ok(3), Ok(3)]);
    assert_eq!(*runs.lock().unwrap(), [(Duration::ZERO, 1), (SEC, 3)]);

    // Trailing edge only: one run with the latest arguments, 300 ms after
    // the last call.
    let start = Instant::now();
    let (runs, f) = logged(start);
    let debounced = Debounce::new(300 * MS, f);
    assert_eq!(burst_of_three(&debounced).await, [Ok(3), Ok(3), Ok(3)]);
    assert_eq!(*runs.lock().unwrap(), [(500 * MS, 3)]);

    // Leading edge only: the calls the burst swallowed are told so.
    let start = Instant::now();
    let (runs, f) = logged(start);
    let debounced = Debounce::with_options(300 * MS, None, true, false, f);
    assert_eq!(
        burst_of_three(&debounced).await,
        [Ok(1), Err(Dropped::NoTrailing), Err(Dropped::NoTrailing)]
    );
    assert_eq!(*runs.lock().unwrap(), [(Duration::ZERO, 1)]);

    // Max wait: a burst that never pauses still runs at least every 450 ms,
    // and its last call still runs, 250 ms after it was made.
    let start = Instant::now();
    let (runs, f) = logged(start);
    let debounced = Debounce::with_options(250 * MS, Some(450 * MS), false, true, f);
    let mut calls = Vec::new();
    for n in 0..20 {
        calls.push(debounced.call(n));
        sleep(100 * MS).await;
    }
    let outcomes = resolved(futures::future::join_all(calls)).await;
    let runs = runs.lock().unwrap().clone();
    for (n, outcome) in (0..).zip(&outcomes) {
        let value = outcome.clone().unwrap();
        assert!(
            value >= n,
            "call {n} was answered by an earlier run: {value}"
        );
        assert!(
            runs.iter().any(|&(_, ran)| ran == value),
            "{value} never ran"
        );
    }
    let mut previous = Duration::ZERO;
    for &(at, _) in &runs {
        assert!(
            at - previous <= 450 * MS,
            "a gap of {:?} in {runs:?}",
            at - previous
        );
        previous = at;
    }
    assert_eq!(runs.last(), Some(&(1900 * MS + 250 * MS, 19)));
}

/// A pool whose shutdown only sets a flag leaves the callers of queued
/// jobs awaiting results that never come.
#[tokio::test(start_paused = true)]
async fn flaw_04_pool_shutdown_resolves_every_job() {
    let pool = WorkerPool::builder().workers(2).queue(16).build();
    let drops = Arc::new(AtomicUsize::new(0));
    // Two quick jobs, two that outlast the grace, two that never start.
    let plan = [SEC, SEC, HOUR, HOUR, SEC, SEC];
    let mut handles = Vec::new();
    for (n, &runs_for) in plan.iter().enumerate() {
        let guard = DropGuard(drops.clone());
        let job = async move {
            let _guard = guard;
            sleep(runs_for).await;
            Ok::<_, String>(n)
        };
        handles.push(pool.submit(job).await.unwrap());
    }
    let start = Instant::now();
    let stats = pool.shutdown(10 * SEC).await;
    assert_eq!(
        start.elapsed(),
        10 * SEC,
        "the grace, and not a moment more"
    );
    assert_eq!(
        (stats.done, stats.cancelled, stats.queued, stats.running),
        (2, 4, 0, 0)
    );
    assert_eq!(
        drops.load(Ordering::SeqCst),
        plan.len(),
        "no job was leaked"
    );
    let mut outcomes = Vec::new();
    for handle in handles {
        outcomes.push(resolved(handle).await);
    }
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
    // A job offered after shutdown comes back to its caller, unrun.
    let late = pool
        .submit(async { Ok::<_, String>(99) })
        .await
        .unwrap_err();
    assert!(matches!(late, SubmitError::Closed(_)));
    assert_eq!(late.into_inner().await, Ok(99));

    // Dropping a pool without a shutdown resolves its jobs too.
    let pool = WorkerPool::builder().workers(1).queue(4).build();
    let mut handles = Vec::new();
    for _ in 0..3 {
        handles.push(pool.submit(common::hang::<String>()).await.unwrap());
    }
    yield_now().await;
    drop(pool);
    for handle in handles {
        let outcome = resolved(handle).await;
        assert!(outcome.unwrap_err().is_cancelled());
    }
}

/// A worker that dies with its job's exception shrinks the pool, and once
/// every worker is dead, waiting for the queued work hangs forever.
#[tokio::test(start_paused = true)]
async fn flaw_05_a_panicking_job_is_its_own_result_and_workers_live_on() {
    const WORKERS: usize = 2;
    let pool = WorkerPool::builder().workers(WORKERS).queue(32).build();
    // Every worker panics at once: the jobs meet before they blow up.
    let meet = Arc::new(tokio::sync::Barrier::new(WORKERS));
    let mut panics = Vec::new();
    for n in 0..WORKERS {
        let meet = meet.clone();
        let job = async move {
            meet.wait().await;
            panic!("job {n} blew up") as Result<(), String>
        };
        panics.push(pool.submit(job).await.unwrap());
    }
    for (n, handle) in panics.into_iter().enumerate() {
        assert_eq!(
            resolved(handle).await,
            Err(JobError::Panicked(format!("job {n} blew up")))
        );
    }
    // Then a mix: each outcome is its own job's.
    let mut handles = Vec::new();
    for n in 0..12u32 {
        let job = async move {
            match n % 3 {
                0 => Ok(n),
                1 => Err(format!("job {n} failed")),
                _ => panic!("job {n} panicked"),
            }
        };
        handles.push(pool.submit(job).await.unwrap());
    }
    for (n, handle) in (0u32..).zip(handles) {
        let expected = match n % 3 {
            0 => Ok(n),
            1 => Err(JobError::Failed(format!("job {n} failed"))),
            _ => Err(JobError::Panicked(format!("job {n} panicked"))),
        };
        assert_eq!(resolved(handle).await, expected);
    }
    // Full strength: two jobs that can only finish together both finish.
    let meet = Arc::new(tokio::sync::Barrier::new(WORKERS));
    let mut pair = Vec::new();
    for _ in 0..WORKERS {
        let meet = meet.clone();
        let job = async move {
            meet.wait().await;
            Ok::<_, String>(())
        };
        pair.push(pool.submit(job).await.unwrap());
    }
    for handle in pair {
        assert_eq!(resolved(handle).await, Ok(()));
    }
    let stats = resolved(pool.shutdown(HOUR)).await;
    assert_eq!(
        (stats.workers, stats.done, stats.failed),
        (WORKERS, 4 + 2, 2 + 8)
    );

    // The same on OS threads.
    let threads = ThreadPool::builder()
        .threads(WORKERS)
        .queue(8)
        .name("seed05")
        .build()
        .unwrap();
    let meet = Arc::new(std::sync::Barrier::new(WORKERS));
    let mut panics = Vec::new();
    for _ in 0..WORKERS {
        let meet = meet.clone();
        let job = move || -> Result<(), ()> {
            meet.wait();
            panic!("thread job blew up");
        };
        panics.push(threads.submit(job).await.unwrap());
    }
    for handle in panics {
        assert_eq!(
            handle.await,
            Err(JobError::Panicked("thread job blew up".into()))
        );
    }
    let mut pair = Vec::new();
    for _ in 0..WORKERS {
        let meet = meet.clone();
        let job = move || {
            meet.wait();
            Ok::<_, ()>(std::thread::current().name().unwrap().to_owned())
        };
        pair.push(threads.submit(job).await.unwrap());
    }
    let mut names = Vec::new();
    for handle in pair {
        names.push(handle.await.unwrap());
    }
    names.sort();
    assert_eq!(names, ["seed05-0", "seed05-1"], "both threads are alive");
    assert_eq!(threads.stats().workers, WORKERS);
}

/// A job: its priority, and a payload that cannot be compared at all.
struct Job {
    priority: u8,
    run: Box<dyn FnOnce() -> String + Send>,
}

/// A heap of `(priority, job)` pairs compares the jobs when priorities tie,
/// which fails for jobs that cannot be compared and orders equals by
/// accident when they can.
#[tokio::test]
async fn flaw_06_equal_priorities_run_first_in_first_out() {
    let (tx, rx) = Builder::new(32)
        .priority_by(|a: &Job, b: &Job| a.priority.cmp(&b.priority))
        .build();
    for seq in 0..24 {
        let priority = [1, 5, 1, 3][seq % 4];
        let run = Box::new(move || format!("p{priority}-{seq}"));
        assert!(tx.try_send(Job { priority, run }).is_ok());
    }
    drop(tx);
    let ran: Vec<String> = rx.map(|job| (job.run)()).collect().await;
    let mut expected = Vec::new();
    for priority in [5, 3, 1] {
        for seq in 0..24 {
            if [1, 5, 1, 3][seq % 4] == priority {
                expected.push(format!("p{priority}-{seq}"));
            }
        }
    }
    assert_eq!(ran, expected, "greatest first, then in the order sent");

    // A worker pool's queue keeps the same order.
    let pool = WorkerPool::builder().workers(1).queue(16).build();
    let gate = Arc::new(tokio::sync::Notify::new());
    let blocker = pool
        .submit({
            let gate = gate.clone();
            async move {
                gate.notified().await;
                Ok::<_, ()>(())
            }
        })
        .await
        .unwrap();
    settle().await;
    let order = Arc::new(StdMutex::new(Vec::new()));
    let mut handles = Vec::new();
    for (priority, label) in [(0, "a"), (7, "b"), (0, "c"), (7, "d"), (0, "e"), (7, "f")] {
        let order = order.clone();
        let job = async move {
            order.lock().unwrap().push(label);
            Ok::<_, ()>(())
        };
        handles.push(pool.submit_with(priority, job).await.unwrap());
    }
    gate.notify_one();
    blocker.await.unwrap();
    for handle in handles {
        handle.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), ["b", "d", "f", "a", "c", "e"]);
}

/// A read-write lock that admits every new reader while any reader holds it
/// lets overlapping readers keep a writer out forever.
#[tokio::test(start_paused = true)]
async fn flaw_07_readers_cannot_starve_a_waiting_writer() {
    let table = Arc::new(RwLock::named("seed07-table", 0u32));
    let reading = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    // A reader every 40 ms, each reading for 100 ms: never a moment without
    // one, for two seconds.
    let stream = tokio::spawn({
        let (table, reading) = (table.clone(), reading.clone());
        async move {
            let mut readers = Vec::new();
            for _ in 0..50 {
                let (table, reading) = (table.clone(), reading.clone());
                readers.push(tokio::spawn(async move {
                    let arrived = start.elapsed();
                    let guard = table.read().await;
                    reading.fetch_add(1, Ordering::SeqCst);
                    let seen = *guard;
                    sleep(100 * MS).await;
                    reading.fetch_sub(1, Ordering::SeqCst);
                    drop(guard);
                    (arrived, seen)
                }));
                sleep(40 * MS).await;
            }
            let mut seen = Vec::new();
            for reader in readers {
                seen.push(reader.await.unwrap());
            }
            seen
        }
    });
    sleep(210 * MS).await;
    let mut guard = table.write().await;
    let granted = start.elapsed();
    assert_eq!(reading.load(Ordering::SeqCst), 0, "a writer writes alone");
    *guard = 1;
    sleep(10 * MS).await;
    drop(guard);
    // Readers that came at 120, 160 and 200 ms were inside; the last left at
    // 300 ms. Those that came later waited behind the writer.
    assert_eq!(granted, 300 * MS);
    let seen = resolved(stream).await.unwrap();
    assert_eq!(seen.len(), 50, "and the readers were not starved either");
    for (arrived, value) in seen {
        let expected = u32::from(arrived > 210 * MS);
        assert_eq!(value, expected, "the reader that came at {arrived:?}");
    }
}

/// A cache that holds one lock across the slow load makes every key wait
/// for whichever key is loading.
#[tokio::test(start_paused = true)]
async fn flaw_08_single_flight_is_per_key() {
    let flights: Arc<SingleFlight<&'static str, String, String>> = Arc::new(SingleFlight::new());
    let loads: Arc<StdMutex<HashMap<&'static str, u32>>> = Arc::default();
    let start = Instant::now();
    let mut callers = Vec::new();
    for n in 0..20 {
        let (key, takes) = if n % 2 == 0 {
            ("slow", HOUR)
        } else {
            ("fast", 10 * MS)
        };
        let (flights, loads) = (flights.clone(), loads.clone());
        callers.push(tokio::spawn(async move {
            let value = flights
                .run(key, || {
                    *loads.lock().unwrap().entry(key).or_default() += 1;
                    async move {
                        sleep(takes).await;
                        Ok(format!("{key} value"))
                    }
                })
                .await;
            (key, value, start.elapsed())
        }));
    }
    for caller in callers {
        let (key, value, at) = resolved(caller).await.unwrap();
        assert_eq!(value, Ok(format!("{key} value")));
        let expected = if key == "slow" { HOUR } else { 10 * MS };
        assert_eq!(at, expected, "a {key} caller waited for its own key only");
    }
    let loads = loads.lock().unwrap().clone();
    assert_eq!(
        loads,
        HashMap::from([("slow", 1), ("fast", 1)]),
        "one load per key"
    );
    assert_eq!(flights.in_flight(), 0);
}

/// A channel whose close forgets the senders blocked on it leaves them
/// waiting forever, and one that signals the end with a value cannot be
/// told apart from that value.
#[tokio::test(start_paused = true)]
async fn flaw_09_close_wakes_every_waiter_and_buffered_items_drain() {
    // Senders blocked on a full queue. `None` is an item here, not the end.
    let (tx, rx) = bounded::<Option<u32>>(2);
    tx.send(Some(1)).await.unwrap();
    tx.send(None).await.unwrap();
    let senders: Vec<_> = (10..13)
        .map(|n| {
            let tx = tx.clone();
            tokio::spawn(async move { tx.send(Some(n)).await })
        })
        .collect();
    settle().await;
    assert!(
        senders.iter().all(|s| !s.is_finished()),
        "the queue is full"
    );
    assert!(tx.close());
    for (n, sender) in (10..13).zip(senders) {
        assert_eq!(
            resolved(sender).await.unwrap(),
            Err(SendError::Closed(Some(n))),
            "its item back"
        );
    }
    assert_eq!(rx.recv().await, Ok(Some(1)), "what was queued still drains");
    assert_eq!(rx.recv().await, Ok(None), "a None item is an item");
    assert_eq!(rx.recv().await, Err(RecvError::Closed));

    // Receivers blocked on an empty queue.
    let (tx, rx) = bounded::<u32>(2);
    let receivers: Vec<_> = (0..3)
        .map(|_| {
            let rx = rx.clone();
            tokio::spawn(async move { rx.recv().await })
        })
        .collect();
    settle().await;
    assert!(
        receivers.iter().all(|r| !r.is_finished()),
        "nothing to take"
    );
    assert!(rx.close());
    for receiver in receivers {
        assert_eq!(resolved(receiver).await.unwrap(), Err(RecvError::Closed));
    }
    assert_eq!(tx.try_send(5), Err(SendError::Closed(5)));
}

/// A limiter that takes the concurrency permit and then sleeps for the
/// rate keeps slots busy with callers that are only waiting.
#[tokio::test(start_paused = true)]
async fn flaw_10_waiting_for_the_rate_holds_no_permit() {
    let slots = Arc::new(Semaphore::named("seed10-slots", 2));
    let rated = Limiter::new()
        .rate(Quota::per_second(1).burst(1))
        .semaphore_from(slots.clone());
    // Other work bounded by the same slots, with no rate of its own.
    let unrated = Limiter::new().semaphore_from(slots.clone());
    let start = Instant::now();
    drop(rated.acquire().await.unwrap()); // spends the burst
    let callers: Vec<_> = (0..4)
        .map(|_| {
            let rated = rated.clone();
            tokio::spawn(async move {
                let pass = rated.acquire().await.unwrap();
                let granted = start.elapsed();
                sleep(100 * MS).await;
                drop(pass);
                granted
            })
        })
        .collect();
    sleep(500 * MS).await;
    // Four callers wait for the rate, and every slot is free for the rest.
    assert_eq!(slots.available_permits(), 2);
    let both = [unrated.try_acquire(), unrated.try_acquire()];
    assert!(both.iter().all(Result::is_ok), "{both:?}");
    drop(both);
    let mut granted = Vec::new();
    for caller in callers {
        granted.push(resolved(caller).await.unwrap());
    }
    assert_eq!(
        granted,
        [SEC, 2 * SEC, 3 * SEC, 4 * SEC],
        "the rate still holds"
    );
    assert_eq!(slots.available_permits(), 2);
}

/// A shutdown that cancels everything the moment it begins throws away
/// work that would have finished within its own grace period.
#[tokio::test(start_paused = true)]
async fn flaw_11_shutdown_runs_its_four_steps_in_order() {
    let shutdown = Shutdown::new();
    let pool = Arc::new(
        WorkerPool::builder()
            .workers(2)
            .queue(8)
            .parent(shutdown.force_token())
            .build(),
    );
    let start = Instant::now();
    // Two workers: 0 and 1 start, 2 follows 0, 3 follows 2, and 4 waits.
    let plan = [SEC, HOUR, 2 * SEC, HOUR, SEC];
    let mut ends = Vec::new();
    for (n, &runs_for) in plan.iter().enumerate() {
        let job = async move {
            sleep(runs_for).await;
            Ok::<_, ()>(n)
        };
        let handle = pool.submit(job).await.unwrap();
        ends.push(tokio::spawn(async move {
            let outcome = handle.await;
            (start.elapsed(), outcome)
        }));
    }
    let cleaned_up = Arc::new(StdMutex::new(None));
    shutdown.on_cleanup({
        let (pool, cleaned_up) = (pool.clone(), cleaned_up.clone());
        move || async move {
            *cleaned_up.lock().unwrap() = Some((start.elapsed(), pool.stats()));
        }
    });
    // Looks in on the shutdown 1.5 s after it began.
    let probe = {
        let (shutdown, pool) = (shutdown.clone(), pool.clone());
        async move {
            sleep(1500 * MS).await;
            assert!(shutdown.token().is_cancelled(), "step 1: stop accepting");
            let refused = pool.try_submit(async { Ok::<_, ()>(9) }).unwrap_err();
            assert!(matches!(refused, SubmitError::Closed(_)));
            assert!(
                !shutdown.force_token().is_cancelled(),
                "step 2: not cancelled yet"
            );
            assert_eq!(pool.stats().running, 2, "in-flight work goes on");
        }
    };
    let report = shutdown
        .drain(10 * SEC, async {
            tokio::join!(pool.shutdown(Duration::MAX), probe);
        })
        .await;
    assert!(!report.drained && !report.abandoned);
    assert_eq!(report.took, 10 * SEC);
    assert_eq!(
        report.forced.unwrap().to_string(),
        "cancelled: the shutdown grace of 10s ran out"
    );
    let mut outcomes = Vec::new();
    for end in ends {
        outcomes.push(resolved(end).await.unwrap());
    }
    // Step 2: what could finish within the grace did.
    assert_eq!(outcomes[0], (SEC, Ok(0)));
    assert_eq!(outcomes[2], (3 * SEC, Ok(2)));
    // Step 3: the rest was cancelled when the grace ran out, not before.
    for n in [1, 3, 4] {
        let (at, outcome) = &outcomes[n];
        assert_eq!(*at, 10 * SEC, "job {n}");
        assert!(
            outcome.as_ref().unwrap_err().is_cancelled(),
            "job {n}: {outcome:?}"
        );
    }
    // Step 4: clean-up ran last, with nothing left running or queued.
    let (at, stats) = cleaned_up.lock().unwrap().expect("the clean-up ran");
    assert_eq!(at, 10 * SEC);
    assert_eq!(
        (stats.running, stats.queued, stats.done, stats.cancelled),
        (0, 0, 2, 3)
    );
}

/// A counter kept in thread-local storage is one counter per thread, not
/// a shared one; sharing needs an atomic (or a lock).
#[test]
fn flaw_12_thread_locals_are_not_shared_but_atomics_are() {
    const THREADS: usize = 4;
    const ADDS: u64 = 10_000;
    thread_local! {
        static PER_THREAD: Cell<u64> = const { Cell::new(0) };
    }
    let shared = AtomicU64::new(0);
    let all_running = std::sync::Barrier::new(THREADS);
    let per_thread: Vec<u64> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    all_running.wait();
                    for _ in 0..ADDS {
                        PER_THREAD.with(|count| count.set(count.get() + 1));
                        shared.fetch_add(1, Ordering::Relaxed);
                    }
                    PER_THREAD.with(Cell::get)
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert_eq!(
        per_thread, [ADDS; THREADS],
        "each thread counted only its own"
    );
    assert_eq!(
        PER_THREAD.with(Cell::get),
        0,
        "this thread's copy was never touched"
    );
    assert_eq!(
        shared.load(Ordering::SeqCst),
        ADDS * THREADS as u64,
        "one counter for all"
    );
}

/// Moves one unit between two accounts, taking the locks in one global
/// order (lower index first, then the ledger).
async fn transfer(accounts: &[Mutex<i64>], ledger: &RwLock<u64>, from: usize, to: usize) {
    let (first, second) = (from.min(to), from.max(to));
    let mut a = accounts[first].lock().await;
    let mut b = accounts[second].lock().await;
    let (source, target) = if from < to {
        (&mut *a, &mut *b)
    } else {
        (&mut *b, &mut *a)
    };
    *source -= 1;
    *target += 1;
    *ledger.write().await += 1;
}

fn transfer_blocking(accounts: &[Mutex<i64>], ledger: &RwLock<u64>, from: usize, to: usize) {
    let (first, second) = (from.min(to), from.max(to));
    let mut a = accounts[first].lock_blocking();
    let mut b = accounts[second].lock_blocking();
    let (source, target) = if from < to {
        (&mut *a, &mut *b)
    } else {
        (&mut *b, &mut *a)
    };
    *source -= 1;
    *target += 1;
    *ledger.write_blocking() += 1;
}

/// The accounts a round-`i` transfer of worker `w` moves between: always
/// two different ones.
fn pair(w: usize, i: usize, accounts: usize) -> (usize, usize) {
    let from = (w + i) % accounts;
    (from, (from + 1 + i % (accounts - 1)) % accounts)
}

/// A lock-order checker that keeps its bookkeeping in a map nobody guards
/// corrupts it when many threads take locks at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flaw_13_lock_order_checker_is_race_free_under_contention() {
    const ACCOUNTS: usize = 4;
    const TASKS: usize = 8;
    const THREADS: usize = 2;
    const TRANSFERS: usize = 1_000;
    const OPENING: i64 = 1_000;
    diag::enable();
    let accounts: Arc<Vec<Mutex<i64>>> = Arc::new(
        (0..ACCOUNTS)
            .map(|n| Mutex::named(format!("seed13-bank-account-{n}"), OPENING))
            .collect(),
    );
    let ledger = Arc::new(RwLock::named("seed13-bank-ledger", 0u64));
    let tasks: Vec<_> = (0..TASKS)
        .map(|w| {
            let (accounts, ledger) = (accounts.clone(), ledger.clone());
            tokio::spawn(async move {
                for i in 0..TRANSFERS {
                    let (from, to) = pair(w, i, ACCOUNTS);
                    transfer(&accounts, &ledger, from, to).await;
                    if i % 64 == 0 {
                        yield_now().await;
                    }
                }
            })
        })
        .collect();
    let threads: Vec<_> = (0..THREADS)
        .map(|w| {
            let (accounts, ledger) = (accounts.clone(), ledger.clone());
            std::thread::spawn(move || {
                for i in 0..TRANSFERS {
                    let (from, to) = pair(TASKS + w, i, ACCOUNTS);
                    transfer_blocking(&accounts, &ledger, from, to);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    tokio::task::spawn_blocking(move || {
        for thread in threads {
            thread.join().unwrap();
        }
    })
    .await
    .unwrap();

    // The books balance.
    let mut total = 0;
    for account in accounts.iter() {
        total += *account.lock().await;
    }
    assert_eq!(
        total,
        OPENING * ACCOUNTS as i64,
        "money is neither made nor lost"
    );
    assert_eq!(*ledger.read().await, ((TASKS + THREADS) * TRANSFERS) as u64);

    // The checker saw a consistent order and says nothing about it...
    let about_the_bank = |r: &Report| r.to_string().contains("seed13-bank-");
    let alarms: Vec<_> = diag::recent()
        .into_iter()
        .filter(|r| matches!(r, Report::Deadlock(_) | Report::LockOrder(_)))
        .filter(about_the_bank)
        .collect();
    assert!(alarms.is_empty(), "{alarms:#?}");
    // ...its records of who holds and waits for what all balanced out...
    let dump = diag::dump();
    assert!(
        !dump.resources.iter().any(|r| r
            .resource
            .name()
            .is_some_and(|n| n.starts_with("seed13-bank-"))),
        "a hold or wait was left behind: {dump}"
    );
    // ...and it was on all along: an inversion after the run is reported.
    let a = Mutex::named("seed13-probe-a", ());
    let b = Mutex::named("seed13-probe-b", ());
    {
        let _a = a.lock().await;
        let _b = b.lock().await;
    }
    {
        let _b = b.lock().await;
        let _a = a.lock().await;
    }
    let inversions: Vec<_> = diag::recent()
        .into_iter()
        .filter(
            |r| matches!(r, Report::LockOrder(o) if o.acquiring.name() == Some("seed13-probe-a")),
        )
        .collect();
    assert_eq!(inversions.len(), 1, "{inversions:#?}");
}
