//! `herd::limit` under contention on a multi-thread runtime: however the
//! threads interleave and however many waiters are cancelled, the limiter
//! never grants more than its quota allows, and cancelled reservations
//! leave no debt behind.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use herd::limit::{KeyedRateLimiter, Quota, RateError, RateLimiter};
use tokio::time::Instant;

/// The most cells a quota can grant in `elapsed`: the burst, plus one per
/// interval.
fn ceiling(quota: Quota, elapsed: Duration) -> u64 {
    u64::from(quota.burst_size()) + (elapsed.as_nanos() / quota.interval().as_nanos()) as u64 + 1
}

/// A tiny xorshift, for cancellation points that differ between tasks.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_checks_never_exceed_the_quota() {
    let quota = Quota::per_second(200_000).burst(100);
    let limit = RateLimiter::new(quota);
    let granted = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (limit, granted) = (limit.clone(), granted.clone());
            tokio::spawn(async move {
                for _ in 0..50_000 {
                    if limit.check().is_ok() {
                        granted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let granted = granted.load(Ordering::Relaxed);
    assert!(granted > 0);
    assert!(
        granted <= ceiling(quota, start.elapsed()),
        "{granted} granted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancelled_waiters_leave_no_debt() {
    let quota = Quota::per_second(20_000).burst(5);
    let limit = RateLimiter::new(quota);
    let granted = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..16u64)
        .map(|n| {
            let (limit, granted) = (limit.clone(), granted.clone());
            tokio::spawn(async move {
                let mut seed = n * 7919 + 1;
                for _ in 0..300 {
                    let patience = Duration::from_micros(next(&mut seed) % 400);
                    if tokio::time::timeout(patience, limit.acquire())
                        .await
                        .is_ok()
                    {
                        granted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let granted = granted.load(Ordering::Relaxed);
    assert!(
        granted <= ceiling(quota, start.elapsed()),
        "{granted} granted"
    );
    // Every reservation was used or handed back: nothing is owed beyond
    // the burst, so the next cell is at most one interval away.
    match limit.check() {
        Ok(()) => {}
        Err(RateError::Limited { retry_after }) => {
            assert!(
                retry_after <= quota.interval(),
                "{retry_after:?} still owed"
            )
        }
        Err(other) => panic!("{other}"),
    }
}

/// Threads on a keyed limiter: with room for every key, no key ever gets
/// more than its quota; under churn of far more keys than room, the map
/// never grows past its bound.
#[test]
fn keyed_checks_from_threads_stay_within_every_bound() {
    let quota = Quota::per_second(1000).burst(10);
    let limit = KeyedRateLimiter::builder(quota).max_keys(128).build();
    let per_key: Arc<Vec<AtomicU64>> = Arc::new((0..100).map(|_| AtomicU64::new(0)).collect());
    let start = std::time::Instant::now();
    let run = |keys: u64, count: bool| {
        let threads: Vec<_> = (0..8u64)
            .map(|n| {
                let (limit, per_key) = (limit.clone(), per_key.clone());
                std::thread::spawn(move || {
                    let mut seed = n + 11;
                    for _ in 0..50_000 {
                        let key = next(&mut seed) % keys;
                        if limit.check(&key).is_ok() && count {
                            per_key[key as usize].fetch_add(1, Ordering::Relaxed);
                        }
                        let len = limit.len();
                        assert!(len <= limit.max_keys(), "{len} keys");
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
    };
    run(100, true);
    let bound = ceiling(quota, start.elapsed());
    for (key, granted) in per_key.iter().enumerate() {
        let granted = granted.load(Ordering::Relaxed);
        assert!(
            granted <= bound,
            "key {key}: {granted} granted, at most {bound}"
        );
    }
    run(1_000_000, false);
    assert!(limit.len() <= 128);
}
