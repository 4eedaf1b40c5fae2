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
