//! `herd::limit` on tokio's paused clock: every timing rule is exact.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use herd::limit::{KeyedRateLimiter, LimitError, Limiter, Quota, RateError, RateLimiter};
use tokio::time::{Instant, advance, sleep};

const MS: Duration = Duration::from_millis(1);

#[tokio::test(start_paused = true)]
async fn ten_thousand_acquisitions_at_100_per_second_with_burst_10() {
    let limit = RateLimiter::new(Quota::per_second(100).burst(10));
    let start = Instant::now();
    for _ in 0..10_000 {
        limit.acquire().await.unwrap();
    }
    let took = start.elapsed();
    assert!(
        (Duration::from_millis(99_900)..=Duration::from_millis(100_100)).contains(&took),
        "{took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_refusal_writes_nothing_and_says_how_long_to_wait() {
    let limit = RateLimiter::new(Quota::per_second(4).burst(2));
    limit.check().unwrap();
    limit.check().unwrap();
    for _ in 0..100 {
        // Refused over and over: the wait does not grow.
        assert_eq!(
            limit.check(),
            Err(RateError::Limited {
                retry_after: 250 * MS
            })
        );
    }
    advance(100 * MS).await;
    assert_eq!(
        limit.check(),
        Err(RateError::Limited {
            retry_after: 150 * MS
        })
    );
    advance(150 * MS).await;
    limit.check().unwrap();
    // Weighted: two cells need two intervals of refill.
    assert_eq!(
        limit.check_n(2),
        Err(RateError::Limited {
            retry_after: 500 * MS
        })
    );
    assert_eq!(
        limit.check_n(3),
        Err(RateError::TooCostly { cost: 3, burst: 2 })
    );
    assert_eq!(
        limit.acquire_n(3).await,
        Err(RateError::TooCostly { cost: 3, burst: 2 })
    );
}

#[tokio::test(start_paused = true)]
async fn waiters_are_served_first_in_first_out() {
    let limit = RateLimiter::new(Quota::per_second(10).burst(1));
    limit.check().unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let waiters: Vec<_> = (0..8)
        .map(|n| {
            let (limit, order) = (limit.clone(), order.clone());
            tokio::spawn(async move {
                limit.acquire().await.unwrap();
                order.lock().unwrap().push((n, Instant::now()));
            })
        })
        .collect();
    let start = Instant::now();
    for waiter in waiters {
        waiter.await.unwrap();
    }
    let order = order.lock().unwrap();
    let served: Vec<_> = order.iter().map(|(n, _)| *n).collect();
    assert_eq!(served, (0..8).collect::<Vec<_>>());
    // One every 100 ms, starting 100 ms after the first cell.
    for (i, (_, at)) in order.iter().enumerate() {
        assert_eq!(*at - start, (i as u32 + 1) * 100 * MS);
    }
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_waiters_slot_goes_to_the_next_waiter() {
    let limit = RateLimiter::new(Quota::per_second(1).burst(1));
    limit.check().unwrap(); // the next cell is at 1 s
    let start = Instant::now();
    let head = tokio::spawn({
        let limit = limit.clone();
        async move { limit.acquire().await }
    });
    tokio::task::yield_now().await; // the head reserves the 1 s slot
    let next = tokio::spawn({
        let limit = limit.clone();
        async move {
            limit.acquire().await.unwrap();
            Instant::now()
        }
    });
    sleep(500 * MS).await;
    head.abort();
    assert!(head.await.unwrap_err().is_cancelled());
    let granted = next.await.unwrap();
    assert_eq!(
        granted - start,
        Duration::from_secs(1),
        "the head's slot, not the one after"
    );
    // And nothing else was lost or invented: the following cell is at 2 s.
    assert_eq!(
        limit.check(),
        Err(RateError::Limited {
            retry_after: Duration::from_secs(1)
        })
    );
}

#[tokio::test(start_paused = true)]
async fn a_timeout_that_cannot_be_met_reserves_nothing() {
    let limit = RateLimiter::new(Quota::per_second(1).burst(1));
    limit.check().unwrap();
    for _ in 0..5 {
        let refused = limit.acquire_timeout(1, 300 * MS).await;
        assert_eq!(
            refused,
            Err(RateError::Limited {
                retry_after: Duration::from_secs(1)
            })
        );
    }
    let start = Instant::now();
    limit
        .acquire_timeout(1, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(1),
        "the refusals took no slots"
    );
}

#[tokio::test(start_paused = true)]
async fn a_timeout_in_line_fails_without_reserving() {
    let limit = RateLimiter::new(Quota::per_second(1).burst(1));
    limit.check().unwrap();
    let head = tokio::spawn({
        let limit = limit.clone();
        async move { limit.acquire().await }
    });
    tokio::task::yield_now().await;
    // Second in line: the head holds the 1 s slot; 200 ms is not enough.
    let err = limit.acquire_timeout(1, 200 * MS).await.unwrap_err();
    assert!(matches!(err, RateError::Limited { .. }));
    head.await.unwrap().unwrap();
    let start = Instant::now();
    limit.acquire().await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn changing_the_quota_never_grants_a_second_burst() {
    let limit = RateLimiter::new(Quota::per_second(10));
    for _ in 0..10 {
        limit.check().unwrap();
    }
    // The ten cells just granted count against the new burst of ten.
    limit.set_quota(Quota::per_second(100).burst(10));
    assert_eq!(
        limit.check(),
        Err(RateError::Limited {
            retry_after: 10 * MS
        })
    );
    advance(100 * MS).await;
    assert_eq!(limit.available(), 10);
    let start = Instant::now();
    for _ in 0..30 {
        limit.acquire().await.unwrap();
    }
    assert_eq!(start.elapsed(), 200 * MS, "10 at once, then 20 at 10 ms");
    // Slowing down: the cells just taken weigh ten times as much.
    limit.set_quota(Quota::per_second(10).burst(10));
    assert_eq!(
        limit.check(),
        Err(RateError::Limited {
            retry_after: 100 * MS
        })
    );
}

#[tokio::test(start_paused = true)]
async fn clones_share_one_limit() {
    let a = RateLimiter::new(Quota::per_second(2));
    let b = a.clone();
    a.check().unwrap();
    b.check().unwrap();
    assert!(a.check().is_err());
    assert!(b.check().is_err());
}

/// Many waiters at 5,000/s get the whole rate: one timer for the head, no
/// polling.
#[tokio::test(start_paused = true)]
async fn ten_thousand_waiters_get_the_whole_rate() {
    for waiters in [10usize, 1000, 10_000] {
        let limit = RateLimiter::new(Quota::per_second(5000).burst(1));
        let granted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = Instant::now() + Duration::from_secs(2);
        let tasks: Vec<_> = (0..waiters)
            .map(|_| {
                let (limit, granted) = (limit.clone(), granted.clone());
                tokio::spawn(async move {
                    loop {
                        limit.acquire().await.unwrap();
                        if Instant::now() > stop {
                            break;
                        }
                        granted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let granted = granted.load(std::sync::atomic::Ordering::Relaxed);
        // 2 s at 5,000/s plus the burst of 1: 10,001 cells.
        assert!(
            (9_900..=10_001).contains(&granted),
            "{waiters} waiters: {granted}"
        );
    }
}

// Keyed

#[tokio::test(start_paused = true)]
async fn keys_have_their_own_buckets_and_quotas() {
    let limit = KeyedRateLimiter::new(Quota::per_second(2).burst(1));
    limit.set_quota_for("vip", Quota::per_second(100).burst(5));
    limit.check(&"a").unwrap();
    limit.check(&"b").unwrap();
    assert_eq!(
        limit.check(&"a"),
        Err(RateError::Limited {
            retry_after: 500 * MS
        })
    );
    for _ in 0..5 {
        limit.check(&"vip").unwrap();
    }
    assert_eq!(
        limit.check(&"vip"),
        Err(RateError::Limited {
            retry_after: 10 * MS
        })
    );
    assert_eq!(
        limit.check_n(&"a", 2),
        Err(RateError::TooCostly { cost: 2, burst: 1 })
    );
    let start = Instant::now();
    limit.acquire(&"a").await.unwrap();
    limit.acquire(&"a").await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn the_key_count_stays_bounded_under_churn() {
    let limit = KeyedRateLimiter::builder(Quota::per_second(1))
        .max_keys(64)
        .build();
    for key in 0..10_000u32 {
        // Every key in debt: room is made by dropping the closest to refilled.
        limit.check(&key).unwrap();
        assert!(limit.len() <= limit.max_keys());
    }
    assert!(limit.len() <= 64);
}

#[tokio::test(start_paused = true)]
async fn evicting_an_idle_key_loses_nothing() {
    let limit = KeyedRateLimiter::builder(Quota::per_second(1))
        .max_keys(1)
        .build();
    limit.check(&"old").unwrap();
    advance(Duration::from_secs(1)).await; // "old" has refilled: idle
    limit.check(&"new").unwrap(); // takes the only place
    assert_eq!(limit.len(), 1);
    // "old" comes back with a full bucket, as it would have had anyway.
    limit.check(&"old").unwrap();
    assert!(limit.check(&"old").is_err());
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_keyed_waiter_hands_its_cells_back() {
    let limit = KeyedRateLimiter::new(Quota::per_second(1).burst(1));
    limit.check(&"k").unwrap();
    let waiting = tokio::spawn({
        let limit = limit.clone();
        async move { limit.acquire(&"k").await }
    });
    tokio::task::yield_now().await;
    waiting.abort();
    assert!(waiting.await.unwrap_err().is_cancelled());
    assert_eq!(
        limit.check(&"k"),
        Err(RateError::Limited {
            retry_after: Duration::from_secs(1)
        }),
        "only the first cell is owed"
    );
}

// Limiter

#[tokio::test(start_paused = true)]
async fn waiting_for_the_rate_holds_no_concurrency_permit() {
    let limit = Limiter::new()
        .rate(Quota::per_second(1).burst(1))
        .concurrency(2);
    let first = limit.acquire().await.unwrap();
    let second = tokio::spawn({
        let limit = limit.clone();
        async move {
            let pass = limit.acquire().await.unwrap();
            (Instant::now(), pass)
        }
    });
    sleep(500 * MS).await;
    // The second caller waits for the rate; its permit is not taken yet.
    assert_eq!(limit.semaphore().unwrap().available_permits(), 1);
    let (at, pass) = second.await.unwrap();
    assert_eq!(at.elapsed(), Duration::ZERO);
    assert_eq!(limit.semaphore().unwrap().available_permits(), 0);
    drop((first, pass));
}

#[tokio::test(start_paused = true)]
async fn limiter_timeouts_and_refusals_say_which_limit() {
    let limit = Limiter::new()
        .rate(Quota::per_second(1).burst(1))
        .concurrency(1);
    let pass = limit.try_acquire().unwrap();
    assert!(matches!(
        limit.try_acquire(),
        Err(LimitError::Concurrency(_))
    ));
    drop(pass);
    assert!(matches!(limit.try_acquire(), Err(LimitError::Rate(_))));
    assert_eq!(
        limit.semaphore().unwrap().available_permits(),
        1,
        "the permit came back"
    );
    let err = limit.acquire_timeout(100 * MS).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
    let _held = limit.acquire_timeout(Duration::from_secs(2)).await.unwrap();
    advance(Duration::from_secs(1)).await;
    let err = limit.acquire_timeout(100 * MS).await.unwrap_err();
    assert!(matches!(err, LimitError::Concurrency(_)), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_limiter_without_a_rate_is_a_semaphore() {
    let limit = Limiter::new().concurrency(3);
    let passes: Vec<_> = (0..3).map(|_| limit.try_acquire().unwrap()).collect();
    assert!(limit.try_acquire().is_err());
    drop(passes);
    assert!(limit.try_acquire().is_ok());
}

#[test]
#[should_panic(expected = "the count must be at least 1")]
fn a_zero_quota_is_refused() {
    let _ = Quota::per_second(0);
}

#[test]
#[should_panic(expected = "the burst must be at least 1")]
fn a_zero_burst_is_refused() {
    let _ = Quota::per_second(5).burst(0);
}

// Adaptive concurrency

use herd::limit::{AdaptiveLimit, Algorithm};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A server that serves `capacity` calls at once in 10 ms; beyond that,
/// calls queue (latency grows with the load) and, if `sheds`, it answers
/// 503 to what it cannot serve at once. 200 clients call it through
/// `limit` for 60 virtual seconds; returns the limit's average over the
/// last 30.
async fn settle(limit: AdaptiveLimit, capacity: usize, sheds: bool) -> f64 {
    let load = Arc::new(AtomicUsize::new(0));
    let stop = Instant::now() + Duration::from_secs(60);
    let clients: Vec<_> = (0..200)
        .map(|_| {
            let (limit, load) = (limit.clone(), load.clone());
            tokio::spawn(async move {
                while Instant::now() < stop {
                    let call = limit.acquire().await.unwrap();
                    let now = load.fetch_add(1, Ordering::SeqCst) + 1;
                    let base = Duration::from_millis(10);
                    let latency = base.mul_f64((now as f64 / capacity as f64).max(1.0));
                    sleep(latency).await;
                    load.fetch_sub(1, Ordering::SeqCst);
                    if sheds && now > capacity {
                        call.overloaded();
                    } else {
                        call.success();
                    }
                }
            })
        })
        .collect();
    sleep(Duration::from_secs(30)).await;
    let (mut sum, mut samples) = (0.0, 0.0);
    while Instant::now() < stop {
        sum += limit.limit() as f64;
        samples += 1.0;
        sleep(100 * MS).await;
    }
    for client in clients {
        client.await.unwrap();
    }
    sum / samples
}

#[tokio::test(start_paused = true)]
async fn aimd_settles_near_a_shedding_servers_capacity() {
    let limit = AdaptiveLimit::builder(Algorithm::aimd())
        .initial(5)
        .max(500)
        .build();
    let settled = settle(limit, 40, true).await;
    println!("AIMD settled at {settled:.1} for a capacity of 40");
    assert!((32.0..=48.0).contains(&settled), "settled at {settled}");
}

#[tokio::test(start_paused = true)]
async fn gradient2_settles_near_a_queueing_servers_capacity() {
    let limit = AdaptiveLimit::builder(Algorithm::gradient2())
        .initial(5)
        .max(500)
        .build();
    let settled = settle(limit, 40, false).await;
    println!("Gradient2 settled at {settled:.1} for a capacity of 40");
    assert!((32.0..=48.0).contains(&settled), "settled at {settled}");
}

#[tokio::test(start_paused = true)]
async fn the_limit_is_the_semaphore_and_stays_within_bounds() {
    let limit = AdaptiveLimit::builder(Algorithm::aimd())
        .min(2)
        .max(4)
        .initial(3)
        .build();
    let held: Vec<_> = (0..3).map(|_| limit.try_acquire().unwrap()).collect();
    assert!(limit.try_acquire().is_err(), "three is the limit");
    assert_eq!(limit.in_flight(), 3);
    for call in held {
        call.success();
    }
    for _ in 0..5 {
        let held: Vec<_> = (0..limit.limit())
            .map(|_| limit.try_acquire().unwrap())
            .collect();
        held.into_iter().for_each(|call| call.success());
    }
    assert_eq!(limit.limit(), 4, "grew while fully used, up to the max");
    for _ in 0..10 {
        limit.acquire().await.unwrap().overloaded();
    }
    assert_eq!(limit.limit(), 2, "shrank to the min");
    let held: Vec<_> = (0..2).map(|_| limit.try_acquire().unwrap()).collect();
    assert!(limit.try_acquire().is_err());
    drop(held); // dropped: no verdict, no change
    assert_eq!((limit.limit(), limit.in_flight()), (2, 0));
}

#[tokio::test(start_paused = true)]
async fn moving_a_key_on_and_off_its_own_quota_keeps_its_debt() {
    let limit = KeyedRateLimiter::new(Quota::per_second(10));
    for _ in 0..10 {
        limit.check(&"k").unwrap();
    }
    // Ten cells taken count against the own quota's burst of 20...
    limit.set_quota_for("k", Quota::per_second(20));
    for _ in 0..10 {
        limit.check(&"k").unwrap();
    }
    assert!(limit.check(&"k").is_err(), "no second burst on the way on");
    // ...and back on the default, twenty cells are two seconds of debt.
    limit.clear_quota_for(&"k");
    assert_eq!(
        limit.check(&"k"),
        Err(RateError::Limited {
            retry_after: Duration::from_millis(1100)
        })
    );
    assert_eq!(limit.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_reservation_with_one_behind_it_grants_nothing_twice() {
    let limit = KeyedRateLimiter::new(Quota::per_second(1).burst(1));
    limit.check(&"k").unwrap(); // next cell at 1 s
    let waiter = |limit: KeyedRateLimiter<&'static str>| async move {
        limit.acquire(&"k").await.unwrap();
        Instant::now()
    };
    let a = tokio::spawn(waiter(limit.clone())); // slot 1 s
    tokio::task::yield_now().await;
    let b = tokio::spawn(waiter(limit.clone())); // slot 2 s
    tokio::task::yield_now().await;
    a.abort();
    assert!(a.await.unwrap_err().is_cancelled());
    let c = tokio::spawn(waiter(limit.clone()));
    let start = Instant::now();
    let (b, c) = (b.await.unwrap(), c.await.unwrap());
    assert_ne!(b, c, "never two cells at once with a burst of one");
    assert_eq!(b - start, Duration::from_secs(2));
    assert_eq!(c - start, Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn a_waiter_dropped_after_its_slot_gives_nothing_back() {
    let limit = RateLimiter::new(Quota::per_second(10).burst(1));
    limit.check().unwrap(); // next cell at 100 ms
    let mut waiting = Box::pin(limit.acquire());
    assert!(futures::poll!(waiting.as_mut()).is_pending()); // reserves the 100 ms slot
    advance(150 * MS).await; // the slot passes; the waiter is never polled again
    drop(waiting);
    assert!(
        limit.check().is_err(),
        "the 100 ms cell was spent, not handed back"
    );
    advance(50 * MS).await;
    limit.check().unwrap();
}

#[tokio::test(start_paused = true)]
async fn clearing_one_of_several_own_quotas_does_not_deadlock() {
    let limit = KeyedRateLimiter::new(Quota::per_second(1));
    limit.set_quota_for("a", Quota::per_second(5));
    limit.set_quota_for("b", Quota::per_second(5));
    limit.clear_quota_for(&"a");
    assert_eq!(limit.quota_for(&"a"), Quota::per_second(1));
    assert_eq!(limit.quota_for(&"b"), Quota::per_second(5));
}

#[tokio::test(start_paused = true)]
async fn unbounded_timeouts_are_no_timeouts_not_panics() {
    let limit = Limiter::new().rate(Quota::per_second(1)).concurrency(1);
    let pass = limit.acquire_timeout(Duration::MAX).await.unwrap();
    drop(pass);
    let rate = RateLimiter::new(Quota::per_second(1));
    rate.acquire_timeout(1, Duration::MAX).await.unwrap();
}

#[test]
#[should_panic(expected = "spans more than 290 years")]
fn a_burst_beyond_the_clock_is_refused() {
    let _ = Quota::per_minute(1).burst(1_000_000_000);
}
