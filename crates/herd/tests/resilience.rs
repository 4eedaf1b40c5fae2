//! `herd::resilience::Retry` on tokio's paused clock.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use common::DropGuard;
use herd::resilience::{Failure, Retry, RetryBudget, RetryError, Verdict};
use herd::task::CancelToken;
use tokio::time::{Instant, sleep};

const SEC: Duration = Duration::from_secs(1);

#[tokio::test(start_paused = true)]
async fn retries_until_success_and_passes_the_attempt_number() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let value = Retry::new()
        .attempts(5)
        .no_jitter()
        .run(|attempt| {
            seen.lock().unwrap().push(attempt);
            async move {
                if attempt < 4 {
                    Err(attempt)
                } else {
                    Ok("done")
                }
            }
        })
        .await;
    assert_eq!(value, Ok("done"));
    assert_eq!(*seen.lock().unwrap(), [1, 2, 3, 4]);
}

#[tokio::test(start_paused = true)]
async fn exponential_backoff_without_jitter_is_exact() {
    let start = Instant::now();
    let err = Retry::new()
        .attempts(5)
        .backoff(Duration::from_millis(100), 2, Duration::from_millis(500))
        .no_jitter()
        .run(|n| async move { Err::<(), _>(n) })
        .await
        .unwrap_err();
    // 100 + 200 + 400 + 500 (capped) ms.
    assert_eq!(start.elapsed(), Duration::from_millis(1200));
    assert_eq!(
        err,
        RetryError::Exhausted {
            attempts: 5,
            last: Failure::Error(5)
        }
    );
}

#[tokio::test(start_paused = true)]
async fn full_jitter_waits_between_zero_and_the_backoff() {
    let mut totals = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        let _ = Retry::new()
            .attempts(4)
            .backoff(SEC, 2, Duration::from_secs(60))
            .run(|_| async { Err::<(), _>(()) })
            .await;
        totals.push(start.elapsed());
    }
    // Without jitter: 1 + 2 + 4 = 7 s; with full jitter, anything up to it.
    assert!(
        totals.iter().all(|t| *t <= Duration::from_secs(7)),
        "{totals:?}"
    );
    totals.sort();
    totals.dedup();
    assert!(totals.len() > 10, "the waits are random: {totals:?}");
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_attempt_is_dropped_and_retried() {
    let drops = Arc::new(AtomicUsize::new(0));
    let value = Retry::new()
        .attempts(3)
        .attempt_timeout(SEC)
        .no_jitter()
        .constant(Duration::ZERO)
        .run(|attempt| {
            let guard = DropGuard(drops.clone());
            async move {
                let _guard = guard;
                if attempt == 1 {
                    sleep(Duration::from_secs(3600)).await;
                }
                Ok::<_, ()>(attempt)
            }
        })
        .await;
    assert_eq!(value, Ok(2));
    assert_eq!(
        drops.load(Ordering::SeqCst),
        2,
        "the hung attempt was dropped"
    );
}

#[tokio::test(start_paused = true)]
async fn the_deadline_cuts_the_attempt_in_flight() {
    let start = Instant::now();
    let err = Retry::new()
        .deadline(Duration::from_secs(3))
        .run(|_| async {
            sleep(Duration::from_secs(10)).await;
            Ok::<_, ()>(())
        })
        .await
        .unwrap_err();
    assert_eq!(
        err,
        RetryError::DeadlineExceeded {
            attempts: 1,
            last: None
        }
    );
    assert_eq!(start.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_and_capped_and_stop_stops() {
    let start = Instant::now();
    let mut answers = vec![Ok(()), Err(Some(600)), Err(Some(2))];
    let ok = Retry::new()
        .attempts(3)
        .max_retry_after(Duration::from_secs(30))
        .retry_if(|after: &Option<u64>| match after {
            Some(secs) => Verdict::RetryAfter(Duration::from_secs(*secs)),
            None => Verdict::Stop,
        })
        .run(|_| std::future::ready(answers.pop().unwrap()))
        .await;
    assert_eq!(ok, Ok(()));
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(32),
        "2 s, then 600 s capped to 30 s"
    );

    let calls = AtomicU32::new(0);
    let err = Retry::new()
        .retry_if(|after: &Option<u64>| {
            if after.is_some() {
                Verdict::Retry
            } else {
                Verdict::Stop
            }
        })
        .run(|_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), _>(None) }
        })
        .await
        .unwrap_err();
    assert_eq!(
        err,
        RetryError::Stopped {
            attempts: 1,
            error: None
        }
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_shared_budget_caps_retries_across_calls() {
    let budget = RetryBudget::new(0.5, 0);
    let retry = Retry::new().attempts(3).no_jitter().budget(&budget);
    let attempts = AtomicU32::new(0);
    for _ in 0..10 {
        let _ = retry
            .run(|_| {
                attempts.fetch_add(1, Ordering::SeqCst);
                async { Err::<(), _>(()) }
            })
            .await;
    }
    let attempts = attempts.load(Ordering::SeqCst);
    let retries = attempts - 10;
    assert!(
        retries <= 5,
        "10 calls at a ratio of 0.5 earn 5 retries, {retries} made"
    );
    assert!(retries >= 4);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_token_ends_the_wait_at_once_and_is_never_retried() {
    let token = CancelToken::new();
    let canceller = {
        let token = token.clone();
        tokio::spawn(async move {
            sleep(Duration::from_millis(1500)).await;
            token.cancel("client went away");
        })
    };
    let calls = AtomicU32::new(0);
    let start = Instant::now();
    let err = Retry::new()
        .attempts(10)
        .constant(SEC)
        .no_jitter()
        .token(&token)
        .run(|_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), _>("down") }
        })
        .await
        .unwrap_err();
    canceller.await.unwrap();
    assert!(
        matches!(err, RetryError::Cancelled { attempts: 2, .. }),
        "{err:?}"
    );
    assert_eq!(start.elapsed(), Duration::from_millis(1500));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        err.to_string(),
        "stopped after 2 attempts: cancelled: client went away"
    );
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_token_drops_the_attempt_in_flight() {
    let token = CancelToken::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let retry = Retry::new().token(&token);
    let run = retry.run(|_| {
        let guard = DropGuard(drops.clone());
        async move {
            let _guard = guard;
            sleep(Duration::from_secs(3600)).await;
            Ok::<_, ()>(())
        }
    });
    let cancel = async {
        sleep(SEC).await;
        token.cancel("shutdown");
    };
    let (err, ()) = tokio::join!(run, cancel);
    assert!(matches!(
        err,
        Err(RetryError::Cancelled { attempts: 1, .. })
    ));
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_run_stops_everything() {
    let calls = Arc::new(AtomicU32::new(0));
    let retry = Retry::new().attempts(10).constant(SEC).no_jitter();
    let run = retry.run(|_| {
        calls.fetch_add(1, Ordering::SeqCst);
        async { Err::<(), _>(()) }
    });
    let cut = tokio::time::timeout(Duration::from_millis(2500), run).await;
    assert!(cut.is_err());
    sleep(Duration::from_secs(60)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 3, "no attempt after the drop");
}

#[test]
#[should_panic(expected = "at least one attempt")]
fn zero_attempts_is_refused() {
    let _ = Retry::new().attempts(0);
}

// SingleFlight

use herd::resilience::SingleFlight;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_callers_share_one_computation() {
    let flights = Arc::new(SingleFlight::new());
    let runs = Arc::new(AtomicU32::new(0));
    let gate = Arc::new(tokio::sync::Barrier::new(101));
    let callers: Vec<_> = (0..100)
        .map(|_| {
            let (flights, runs, gate) = (flights.clone(), runs.clone(), gate.clone());
            tokio::spawn(async move {
                gate.wait().await;
                flights
                    .run("config", || {
                        runs.fetch_add(1, Ordering::SeqCst);
                        async {
                            sleep(Duration::from_millis(50)).await;
                            Ok::<_, String>(Arc::new(vec![1, 2, 3]))
                        }
                    })
                    .await
            })
        })
        .collect();
    gate.wait().await;
    for caller in callers {
        assert_eq!(*caller.await.unwrap().unwrap(), [1, 2, 3]);
    }
    // All 100 joined the first flight, or a later one if they arrived after
    // it ended: never one run per caller.
    assert!(
        runs.load(Ordering::SeqCst) < 10,
        "{} runs",
        runs.load(Ordering::SeqCst)
    );
    assert_eq!(flights.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn different_keys_never_wait_on_each_other() {
    let flights = SingleFlight::new();
    let slow = flights.run("slow", || async {
        sleep(Duration::from_secs(3600)).await;
        Ok::<_, ()>(1)
    });
    let fast = flights.run("fast", || async { Ok::<_, ()>(2) });
    let start = Instant::now();
    tokio::select! {
        _ = slow => panic!("the slow key finished first"),
        value = fast => assert_eq!(value, Ok(2)),
    }
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_first_caller_leaves_the_work_to_the_others() {
    let flights = Arc::new(SingleFlight::new());
    let runs = Arc::new(AtomicU32::new(0));
    let call = |flights: Arc<SingleFlight<&'static str, u32, ()>>, runs: Arc<AtomicU32>| async move {
        flights
            .run("k", || {
                runs.fetch_add(1, Ordering::SeqCst);
                async {
                    sleep(SEC).await;
                    Ok(7)
                }
            })
            .await
    };
    let first = tokio::spawn(call(flights.clone(), runs.clone()));
    tokio::task::yield_now().await;
    let second = tokio::spawn(call(flights.clone(), runs.clone()));
    sleep(Duration::from_millis(500)).await;
    first.abort();
    assert_eq!(second.await.unwrap(), Ok(7));
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "the second caller carried the first's run"
    );
    assert_eq!(flights.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn when_every_caller_leaves_the_work_is_dropped() {
    let flights = SingleFlight::<u8, (), ()>::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = DropGuard(drops.clone());
    let abandoned = tokio::time::timeout(
        SEC,
        flights.run(1, move || async move {
            let _guard = guard;
            sleep(Duration::from_secs(3600)).await;
            Ok(())
        }),
    )
    .await;
    assert!(abandoned.is_err());
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(flights.in_flight(), 0);
    // The next call starts afresh.
    assert_eq!(flights.run(1, || async { Ok(()) }).await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn a_panic_reaches_every_caller_and_is_not_kept() {
    let flights = Arc::new(SingleFlight::<u8, (), ()>::new());
    let call = |flights: Arc<SingleFlight<u8, (), ()>>| async move {
        flights
            .run(1, || async {
                sleep(SEC).await;
                panic!("corrupt row")
            })
            .await
    };
    let a = tokio::spawn(call(flights.clone()));
    let b = tokio::spawn(call(flights.clone()));
    for caller in [a, b] {
        let panic = caller.await.unwrap_err().into_panic();
        assert_eq!(*panic.downcast::<String>().unwrap(), "corrupt row");
    }
    assert_eq!(flights.in_flight(), 0);
    assert_eq!(flights.run(1, || async { Ok(()) }).await, Ok(()));
}

// CircuitBreaker

use herd::resilience::{BreakerError, BreakerState, CircuitBreaker};

fn breaker(probes: u32) -> CircuitBreaker {
    CircuitBreaker::builder()
        .window(10)
        .minimum_calls(5)
        .failure_rate(0.5)
        .open_for(Duration::from_secs(30))
        .probes(probes)
        .build()
}

#[tokio::test(start_paused = true)]
async fn the_breaker_opens_at_the_rate_once_enough_calls_are_in() {
    let breaker = breaker(1);
    // Four failures alone are under the minimum of five calls.
    for _ in 0..4 {
        breaker.try_acquire().unwrap().failure();
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
    breaker.try_acquire().unwrap().failure();
    assert_eq!(breaker.state(), BreakerState::Open);
    let refused = breaker.call(async { Ok::<_, ()>(()) }).await;
    assert_eq!(
        refused,
        Err(BreakerError::Open {
            retry_after: Some(Duration::from_secs(30))
        })
    );
}

#[tokio::test(start_paused = true)]
async fn the_window_slides() {
    let breaker = breaker(1);
    // 4 failures then 10 successes push the failures out of the window.
    for _ in 0..4 {
        breaker.try_acquire().unwrap().failure();
    }
    for _ in 0..10 {
        breaker.try_acquire().unwrap().success();
    }
    for _ in 0..4 {
        breaker.try_acquire().unwrap().failure();
    }
    assert_eq!(
        breaker.state(),
        BreakerState::Closed,
        "4 of the last 10 failed"
    );
    breaker.try_acquire().unwrap().failure();
    assert_eq!(
        breaker.state(),
        BreakerState::Open,
        "5 of the last 10 failed"
    );
}

async fn open(breaker: &CircuitBreaker) {
    while breaker.state() != BreakerState::Open {
        breaker.try_acquire().unwrap().failure();
    }
    tokio::time::advance(Duration::from_secs(30)).await;
}

#[tokio::test(start_paused = true)]
async fn half_open_admits_exactly_the_probes_and_they_close_it() {
    let breaker = breaker(3);
    open(&breaker).await;
    let probes: Vec<_> = (0..50).filter_map(|_| breaker.try_acquire().ok()).collect();
    assert_eq!(
        probes.len(),
        3,
        "a crowd after the cool-down gets three probes"
    );
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    assert_eq!(breaker.try_acquire().err(), Some(None));
    for probe in probes {
        probe.success();
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn one_failed_probe_reopens_and_stale_verdicts_count_for_nothing() {
    let breaker = breaker(2);
    let stale = breaker.try_acquire().unwrap(); // taken while closed
    open(&breaker).await;
    let first = breaker.try_acquire().unwrap();
    let second = breaker.try_acquire().unwrap();
    first.failure();
    assert_eq!(breaker.state(), BreakerState::Open);
    second.success(); // from the spell that ended: nothing
    stale.success();
    assert_eq!(breaker.state(), BreakerState::Open);
    assert_eq!(
        breaker.try_acquire().err(),
        Some(Some(Duration::from_secs(30)))
    );
}

#[tokio::test(start_paused = true)]
async fn a_dropped_probe_gives_its_place_back() {
    let breaker = breaker(1);
    open(&breaker).await;
    let probe = breaker.try_acquire().unwrap();
    assert!(breaker.try_acquire().is_err());
    drop(probe); // cancelled: no verdict
    let probe = breaker.try_acquire().expect("the place came back");
    probe.success();
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn state_changes_are_reported_in_order() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let breaker = CircuitBreaker::builder()
        .minimum_calls(1)
        .probes(1)
        .open_for(SEC)
        .on_state_change(move |from, to| log.lock().unwrap().push((from, to)))
        .build();
    breaker.try_acquire().unwrap().failure();
    tokio::time::advance(SEC).await;
    breaker.try_acquire().unwrap().failure();
    tokio::time::advance(SEC).await;
    breaker.try_acquire().unwrap().success();
    use BreakerState::*;
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (Closed, Open),
            (Open, HalfOpen),
            (HalfOpen, Open),
            (Open, HalfOpen),
            (HalfOpen, Closed)
        ]
    );
}

/// Threads racing for probes after the cool-down: each half-open spell
/// admits exactly its probes, however they interleave.
#[test]
fn racing_threads_never_get_more_probes_than_a_spell_allows() {
    for _ in 0..50 {
        let breaker = CircuitBreaker::builder()
            .minimum_calls(1)
            .probes(4)
            .open_for(Duration::ZERO)
            .build();
        breaker.try_acquire().unwrap().failure();
        let barrier = Arc::new(std::sync::Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (breaker, barrier) = (breaker.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    (0..10)
                        .filter_map(|_| breaker.try_acquire().ok())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let probes: Vec<_> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        assert_eq!(probes.len(), 4, "one spell, four probes");
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        drop(probes);
    }
}

// Debounce and throttle

use herd::resilience::{Debounce, Dropped, throttle};

const MS: Duration = Duration::from_millis(1);

/// When each run started, after the test's start, and with what.
type Runs = Arc<std::sync::Mutex<Vec<(Duration, u32)>>>;

/// A debounced function that records its runs.
fn recorder(
    start: Instant,
) -> (
    Runs,
    impl FnMut(u32) -> std::future::Ready<u32> + Send + 'static,
) {
    let runs = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = runs.clone();
    (runs, move |n| {
        log.lock().unwrap().push((start.elapsed(), n));
        std::future::ready(n)
    })
}

#[tokio::test(start_paused = true)]
async fn debounce_runs_once_after_the_burst_with_the_last_arguments() {
    let (runs, f) = recorder(Instant::now());
    let debounced = Debounce::new(300 * MS, f);
    let mut calls = Vec::new();
    for n in 1..=3 {
        calls.push(debounced.call(n));
        sleep(100 * MS).await;
    }
    for call in calls {
        assert_eq!(call.await, Ok(3));
    }
    assert_eq!(
        *runs.lock().unwrap(),
        [(500 * MS, 3)],
        "300 ms after the last call, at 200 ms"
    );
}

#[tokio::test(start_paused = true)]
async fn leading_and_trailing_edges_each_answer_their_callers() {
    let (runs, f) = recorder(Instant::now());
    let debounced = Debounce::with_options(300 * MS, None, true, true, f);
    let first = debounced.call(1);
    sleep(100 * MS).await;
    let second = debounced.call(2);
    sleep(100 * MS).await;
    let third = debounced.call(3);
    assert_eq!(first.await, Ok(1));
    assert_eq!((second.await, third.await), (Ok(3), Ok(3)));
    assert_eq!(*runs.lock().unwrap(), [(Duration::ZERO, 1), (500 * MS, 3)]);
    // A lone call with both edges on runs once, on the leading edge.
    sleep(Duration::from_secs(1)).await;
    assert_eq!(debounced.call(4).await, Ok(4));
    sleep(Duration::from_secs(1)).await;
    assert_eq!(runs.lock().unwrap().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn max_wait_bounds_how_long_a_long_burst_is_put_off() {
    let (runs, f) = recorder(Instant::now());
    let debounced = Debounce::with_options(250 * MS, Some(450 * MS), false, true, f);
    let mut last = None;
    for n in 0..30 {
        last = Some(debounced.call(n));
        sleep(100 * MS).await;
    }
    assert_eq!(last.unwrap().await, Ok(29));
    let runs = runs.lock().unwrap();
    let mut previous = Duration::ZERO;
    for (at, _) in runs.iter() {
        assert!(
            *at - previous <= 450 * MS,
            "a gap of {:?} in {runs:?}",
            *at - previous
        );
        previous = *at;
    }
    assert_eq!(
        runs.last().unwrap(),
        &(2900 * MS + 250 * MS, 29),
        "trailing: 250 ms after the last call"
    );
    assert!(runs.len() >= 6, "{runs:?}");
}

#[tokio::test(start_paused = true)]
async fn throttle_runs_at_most_once_per_wait_with_both_edges() {
    let (runs, f) = recorder(Instant::now());
    let throttled = throttle(Duration::from_secs(1), f);
    let mut calls = Vec::new();
    for n in 1..=25 {
        calls.push(throttled.call(n));
        sleep(100 * MS).await;
    }
    let last = calls.pop().unwrap();
    assert_eq!(calls.remove(0).await, Ok(1));
    assert_eq!(last.await, Ok(25));
    let runs = runs.lock().unwrap().clone();
    assert_eq!(runs.first().unwrap(), &(Duration::ZERO, 1));
    for pair in runs.windows(2) {
        assert!(pair[1].0 - pair[0].0 >= Duration::from_secs(1), "{runs:?}");
    }
    // Every call was answered by a run with its own or a later argument.
    for call in calls {
        let value = call.await.unwrap();
        assert!(runs.iter().any(|(_, n)| *n == value));
    }
}

#[tokio::test(start_paused = true)]
async fn cancel_flush_and_drop_each_say_what_happened() {
    let debounced = Debounce::new(Duration::from_secs(1), |n: u8| async move { n });
    let cancelled = debounced.call(1);
    debounced.cancel();
    assert_eq!(cancelled.await, Err(Dropped::Cancelled));
    let flushed = debounced.call(2);
    debounced.flush();
    let start = Instant::now();
    assert_eq!(flushed.await, Ok(2));
    assert_eq!(start.elapsed(), Duration::ZERO);
    let orphan = debounced.call(3);
    drop(debounced);
    assert_eq!(orphan.await, Err(Dropped::Cancelled));
}

#[tokio::test(start_paused = true)]
async fn a_panicking_run_is_reported_and_the_next_one_runs() {
    let debounced = Debounce::new(10 * MS, |n: u8| async move {
        assert!(n != 0, "zero is not allowed");
        n
    });
    assert_eq!(
        debounced.call(0).await,
        Err(Dropped::Panicked("zero is not allowed".into()))
    );
    assert_eq!(debounced.call(5).await, Ok(5));
}

#[tokio::test(start_paused = true)]
async fn runs_never_overlap() {
    let gauge = Arc::new(common::Gauge::default());
    let g = gauge.clone();
    let debounced = Debounce::with_options(10 * MS, None, true, true, move |n: u32| {
        let g = g.clone();
        async move {
            g.enter();
            sleep(Duration::from_secs(1)).await;
            g.leave();
            n
        }
    });
    let mut calls = Vec::new();
    for n in 0..20 {
        calls.push(debounced.call(n));
        sleep(50 * MS).await;
    }
    for call in calls {
        call.await.unwrap();
    }
    assert_eq!(gauge.max.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_debounced_closure_that_panics_before_its_future_is_reported() {
    let debounced = Debounce::new(10 * MS, |n: u8| {
        assert!(n != 0, "zero before any future");
        async move { n }
    });
    assert_eq!(
        debounced.call(0).await,
        Err(Dropped::Panicked("zero before any future".into()))
    );
    assert_eq!(debounced.call(3).await, Ok(3), "the driver lives on");
}

#[tokio::test(start_paused = true)]
async fn a_minimum_above_the_window_still_opens() {
    let breaker = CircuitBreaker::builder().window(10).build(); // minimum 20 by default
    for _ in 0..10 {
        breaker.try_acquire().unwrap().failure();
    }
    assert_eq!(breaker.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn an_endless_deadline_is_no_deadline() {
    let value = Retry::new()
        .deadline(Duration::MAX)
        .attempt_timeout(Duration::MAX)
        .run(|n| async move { if n < 2 { Err(()) } else { Ok(n) } })
        .await;
    assert_eq!(value, Ok(2));
}
