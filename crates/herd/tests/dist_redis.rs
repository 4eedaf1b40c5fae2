//! `herd::dist::RedisRateLimiter` against a real Redis server this test
//! starts on 127.0.0.1 (`redis-server`, installed by `.ci/run` from
//! Debian): one quota shared by several limiters (as by several processes),
//! exact under contention, refusals with their wait, weighted and keyed
//! quotas, and each fallback when the server goes away.
#![cfg(feature = "redis")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use herd::dist::{Fallback, RedisRateLimiter, RedisSemaphore};
use herd::limit::{Limiter, Quota, RateError};

#[path = "support/redis_server.rs"]
mod redis_server;

/// A Redis server of the test's own, and clients for it.
struct Server(redis_server::RedisServer);

impl Server {
    fn start() -> Server {
        Server(redis_server::RedisServer::start())
    }

    fn client(&self) -> redis::Client {
        redis::Client::open(self.0.url()).unwrap()
    }

    fn stop(&mut self) {
        self.0.stop();
    }
}

async fn limiter(
    server: &Server,
    name: &str,
    quota: Quota,
    fallback: Fallback,
) -> RedisRateLimiter {
    RedisRateLimiter::builder(server.client(), name, quota, fallback)
        .timeout(Duration::from_millis(200))
        .build()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_limiters_share_one_quota_exactly_under_contention() {
    let server = Server::start();
    // A burst of 200, then about one every 18 s: over the test's few
    // seconds, the grants are the burst, plus at most one.
    let quota = Quota::per_hour(200);
    let granted = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for instance in 0..4 {
        // Four limiters: as four processes of one service.
        let limit = limiter(&server, "shared", quota, Fallback::Closed).await;
        for _ in 0..8 {
            let (limit, granted, refused) = (limit.clone(), granted.clone(), refused.clone());
            tasks.push(tokio::spawn(async move {
                for _ in 0..50 {
                    match limit.check("the-key").await {
                        Ok(()) => granted.fetch_add(1, Ordering::SeqCst),
                        Err(RateError::Limited { .. }) => refused.fetch_add(1, Ordering::SeqCst),
                        Err(other) => panic!("instance {instance}: {other}"),
                    };
                }
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    let granted = granted.load(Ordering::SeqCst);
    assert!((200..=201).contains(&granted), "granted {granted}");
    assert_eq!(granted + refused.load(Ordering::SeqCst), 4 * 8 * 50);
}

#[tokio::test]
async fn a_refusal_says_how_long_to_wait_and_writes_nothing() {
    let server = Server::start();
    let limit = RedisRateLimiter::builder(
        server.client(),
        "wait",
        Quota::per_minute(1),
        Fallback::Closed,
    )
    .remember_refusals(false)
    .build()
    .await
    .unwrap();
    assert_eq!(limit.check("k").await, Ok(()));
    let Err(RateError::Limited { retry_after }) = limit.check("k").await else {
        panic!("the second of one a minute is refused")
    };
    assert!(
        retry_after > Duration::from_secs(50) && retry_after <= Duration::from_secs(60),
        "{retry_after:?}"
    );
    // Refusals did not move the next grant further away.
    let Err(RateError::Limited { retry_after: again }) = limit.check("k").await else {
        panic!()
    };
    assert!(again <= retry_after);
    // Another key is untouched.
    assert_eq!(limit.check("other").await, Ok(()));
}

#[tokio::test]
async fn costs_and_per_key_quotas() {
    let server = Server::start();
    let limit = RedisRateLimiter::builder(
        server.client(),
        "costs",
        Quota::per_hour(10),
        Fallback::Closed,
    )
    .quota_for("small", Quota::per_hour(2))
    .build()
    .await
    .unwrap();
    assert_eq!(limit.check_n("big", 6).await, Ok(()));
    assert_eq!(limit.check_n("big", 4).await, Ok(()));
    assert!(matches!(
        limit.check_n("big", 1).await,
        Err(RateError::Limited { .. })
    ));
    assert_eq!(
        limit.check_n("big", 11).await,
        Err(RateError::TooCostly {
            cost: 11,
            burst: 10
        })
    );
    assert_eq!(limit.check_n("small", 2).await, Ok(()));
    assert!(matches!(
        limit.check("small").await,
        Err(RateError::Limited { .. })
    ));
}

#[tokio::test(start_paused = false)]
async fn acquire_waits_as_long_as_redis_says() {
    let server = Server::start();
    // 20 a second, one at a time: the fifth starts at least 150 ms after
    // the first (a lower bound: noise only makes it later).
    let limit = limiter(
        &server,
        "acquire",
        Quota::per_second(20).burst(1),
        Fallback::Closed,
    )
    .await;
    let start = std::time::Instant::now();
    for _ in 0..5 {
        limit.acquire("k", 1).await.unwrap();
    }
    assert!(
        start.elapsed() >= Duration::from_millis(150),
        "{:?}",
        start.elapsed()
    );
    // With a deadline too near, it says how long instead of waiting.
    let near = tokio::time::Instant::now() + Duration::from_millis(1);
    limit.acquire("slow", 1).await.unwrap();
    assert!(matches!(
        limit.acquire_until("slow", 1, Some(near)).await,
        Err(RateError::Limited { .. })
    ));
}

#[tokio::test]
async fn a_limiter_composes_the_shared_rate_with_a_concurrency_limit() {
    let server = Server::start();
    let shared = limiter(&server, "composed", Quota::per_hour(3), Fallback::Closed).await;
    let limit = Limiter::new()
        .rate_from(shared.for_key("host"))
        .concurrency(2);
    let first = limit.acquire().await.unwrap();
    let second = limit.acquire().await.unwrap();
    drop((first, second));
    let _third = limit.acquire().await.unwrap();
    // The quota of 3 an hour is spent: the fourth would wait ~20 minutes.
    let refused = limit
        .acquire_timeout(Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(refused.retry_after().unwrap() > Duration::from_secs(60));
    // try_acquire cannot ask Redis, and says so rather than skip it.
    assert!(matches!(
        limit.try_acquire(),
        Err(herd::limit::LimitError::Rate(RateError::Unavailable { .. }))
    ));
}

#[tokio::test]
async fn when_redis_goes_away_each_fallback_applies_and_nothing_hangs() {
    let mut server = Server::start();
    let quota = Quota::per_hour(2);
    let open = limiter(&server, "down", quota, Fallback::Open).await;
    let closed = limiter(&server, "down", quota, Fallback::Closed).await;
    let local = limiter(&server, "down", quota, Fallback::Local).await;
    // A refusal made while Redis was up is remembered, and answered
    // locally afterwards.
    let remembering = limiter(&server, "remember", Quota::per_hour(1), Fallback::Open).await;
    remembering.check("k").await.unwrap();
    assert!(matches!(
        remembering.check("k").await,
        Err(RateError::Limited { .. })
    ));
    server.stop();

    let start = std::time::Instant::now();
    for _ in 0..3 {
        assert_eq!(open.check("k").await, Ok(()), "fail open grants");
    }
    assert!(matches!(
        closed.check("k").await,
        Err(RateError::Unavailable { .. })
    ));
    // Local: the same quota, in this process alone.
    assert_eq!(local.check("k").await, Ok(()));
    assert_eq!(local.check("k").await, Ok(()));
    assert!(matches!(
        local.check("k").await,
        Err(RateError::Limited { .. })
    ));
    assert!(matches!(
        remembering.check("k").await,
        Err(RateError::Limited { .. })
    ));
    // Eight decisions against a dead server: each bounded by its timeout
    // (200 ms), so well under this generous ceiling.
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );

    // Redis comes back (empty): every limiter decides in Redis again,
    // after reconnecting by itself.
    server.0.restart();
    let back = std::time::Instant::now();
    while closed.check("warm").await.is_err() {
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "never reconnected"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Each limiter reconnects on its first call after the restart (which
    // its fallback answers if the connection is not back yet).
    let _ = open.check("warm").await;
    let _ = local.check("warm").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The shared quota (2 an hour) holds again across the limiters: two
    // grants, then refusals, whatever the fallback.
    assert_eq!(closed.check("after").await, Ok(()));
    assert_eq!(open.check("after").await, Ok(()));
    assert!(matches!(
        local.check("after").await,
        Err(RateError::Limited { .. })
    ));
    assert!(matches!(
        open.check("after").await,
        Err(RateError::Limited { .. })
    ));
}

/// `now` for the script, in microseconds.
const SECOND: u64 = 1_000_000;

#[tokio::test]
async fn a_lagging_clock_counts_as_lagging_by_the_skew_bound_only() {
    let server = Server::start();
    let mut connection = server
        .client()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let script = redis::Script::new(RedisRateLimiter::script());
    // One a second, burst 1, a skew bound of 1 s: as herd passes them.
    let decide = |now: u64| {
        let mut invocation = script.key("herd:{skew:k}");
        invocation
            .arg(now)
            .arg(SECOND)
            .arg(SECOND)
            .arg(1)
            .arg(SECOND);
        invocation
    };
    let t = 1_000_000 * SECOND;
    let granted: (u8, u64) = decide(t).invoke_async(&mut connection).await.unwrap();
    assert_eq!(granted, (1, 0));
    // A caller whose clock is 100 s behind is told to wait as if it were
    // 1 s behind (2 s), not 101 s.
    let lagging: (u8, u64) = decide(t - 100 * SECOND)
        .invoke_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(lagging, (0, 2 * SECOND));
    // And a clock 100 s ahead cannot take 100 s of unused capacity: it
    // gets one grant (the burst), then a refusal.
    let ahead: (u8, u64) = decide(t + 100 * SECOND)
        .invoke_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(ahead, (1, 0));
    let again: (u8, u64) = decide(t + 100 * SECOND)
        .invoke_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(again.0, 0);
}

/// Set in the child processes of the test below, to the server's URL and
/// the Unix time (ms) at which to start.
const SHARE_CHILD: &str = "HERD_TEST_REDIS_SHARE";

#[test]
fn four_processes_sharing_200_a_second_for_10_s_get_2000() {
    if let Ok(spec) = std::env::var(SHARE_CHILD) {
        return share_child(&spec);
    }
    let server = Server::start();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let start_at = now_ms + 2_000;
    let children: Vec<std::process::Child> = (0..4)
        .map(|_| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "four_processes_sharing_200_a_second_for_10_s_get_2000",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(SHARE_CHILD, format!("{} {start_at}", server.0.url()))
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut total = 0u64;
    let mut each = Vec::new();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success());
        let stdout = String::from_utf8(output.stdout).unwrap();
        let granted: u64 = stdout
            .lines()
            .find_map(|line| line.split("granted ").nth(1))
            .unwrap_or_else(|| panic!("no count from a child: {stdout}"))
            .trim()
            .parse()
            .unwrap();
        each.push(granted);
        total += granted;
    }
    println!("granted {total} in 10 s (each process: {each:?})");
    // 2,000 in 10 s, plus the burst of 10 at the start; within 2%.
    assert!(
        (1970..=2050).contains(&total),
        "{total} granted in 10 s at 200/s (each process: {each:?})"
    );
    assert!(
        each.iter().all(|&n| n > 0),
        "every process took part: {each:?}"
    );
}

/// One of the four processes: acquires from the shared limit from
/// `start_at` for 10 s and prints how many it was granted.
fn share_child(spec: &str) {
    let (url, start_at) = spec.split_once(' ').unwrap();
    let start_at = std::time::UNIX_EPOCH + Duration::from_millis(start_at.parse().unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let granted = runtime.block_on(async {
        let client = redis::Client::open(url).unwrap();
        // A burst of ten intervals: a waiter wakes up to a millisecond
        // late (the timer's grain), and with a burst of one that lateness
        // is capacity lost for good (about 19% of 200/s here).
        let quota = Quota::per_second(200).burst(10);
        // A generous timeout: this test is about the sharing, on a machine
        // busy with the other tests.
        let limit = RedisRateLimiter::builder(client, "share", quota, Fallback::Closed)
            .timeout(Duration::from_secs(2))
            .build()
            .await
            .unwrap();
        let wait = start_at
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default();
        tokio::time::sleep(wait).await;
        let end = start_at + Duration::from_secs(10);
        let mut granted = 0u64;
        loop {
            let outcome = limit.acquire("k", 1).await;
            if std::time::SystemTime::now() >= end {
                return granted;
            }
            match outcome {
                Ok(()) => granted += 1,
                // Redis too slow to answer: nothing granted, try again.
                Err(RateError::Unavailable { .. }) => {}
                Err(other) => panic!("{other}"),
            }
        }
    });
    println!("\ngranted {granted}");
}

#[tokio::test]
async fn leased_tokens_come_out_of_the_shared_quota_in_batches() {
    let server = Server::start();
    let quota = Quota::per_hour(100);
    let leasing = RedisRateLimiter::builder(server.client(), "lease", quota, Fallback::Closed)
        .lease(10)
        .build()
        .await
        .unwrap();
    // 25 decisions here take three batches of 10 from Redis...
    for _ in 0..25 {
        leasing.check("k").await.unwrap();
    }
    // ...so another process finds exactly 70 left.
    let other = limiter(&server, "lease", quota, Fallback::Closed).await;
    let mut granted = 0;
    while other.check("k").await.is_ok() {
        granted += 1;
    }
    assert_eq!(granted, 70);
    // The 5 still leased are handed out here without asking; then it is
    // refused like everyone else.
    for _ in 0..5 {
        leasing.check("k").await.unwrap();
    }
    assert!(matches!(
        leasing.check("k").await,
        Err(RateError::Limited { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_semaphore_across_processes_never_has_more_holders_than_permits() {
    let server = Server::start();
    let holding = Arc::new(AtomicU64::new(0));
    let most = Arc::new(AtomicU64::new(0));
    let fences = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for _ in 0..3 {
        // Three instances: as three processes.
        let semaphore = RedisSemaphore::new(server.client(), "exports", 2, Duration::from_secs(5))
            .await
            .unwrap();
        for _ in 0..4 {
            let (semaphore, holding, most, fences) = (
                semaphore.clone(),
                holding.clone(),
                most.clone(),
                fences.clone(),
            );
            tasks.push(tokio::spawn(async move {
                for _ in 0..5 {
                    let permit = semaphore.acquire().await.unwrap();
                    let now = holding.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    fences.lock().unwrap().push(permit.fence());
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    holding.fetch_sub(1, Ordering::SeqCst);
                    drop(permit);
                }
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert!(
        most.load(Ordering::SeqCst) <= 2,
        "{}",
        most.load(Ordering::SeqCst)
    );
    let mut fences = fences.lock().unwrap().clone();
    assert_eq!(fences.len(), 60);
    fences.sort_unstable();
    fences.dedup();
    assert_eq!(fences.len(), 60, "every permit has its own fence");
}

#[tokio::test]
async fn a_dead_holders_permit_frees_itself_and_the_next_fence_is_greater() {
    let server = Server::start();
    let ttl = Duration::from_millis(300);
    let a = RedisSemaphore::new(server.client(), "licence", 1, ttl)
        .await
        .unwrap();
    let b = RedisSemaphore::new(server.client(), "licence", 1, ttl)
        .await
        .unwrap();
    let held = a.acquire().await.unwrap();
    let old_fence = held.fence();
    assert!(b.try_acquire().await.unwrap().is_none(), "one permit");
    // Renewed while held: still held well past one lease.
    tokio::time::sleep(ttl * 2).await;
    assert!(!held.is_lost());
    assert!(b.try_acquire().await.unwrap().is_none());
    // The holder "dies": no release, no renewal. The waiter gets the
    // permit once the lease runs out, with a greater fence.
    held.abandon();
    let taken = tokio::time::timeout(Duration::from_secs(10), b.acquire())
        .await
        .expect("the lease runs out")
        .unwrap();
    assert!(taken.fence() > old_fence);
    // A release wakes a waiter without waiting for the lease.
    let waiter = tokio::spawn({
        let a = a.clone();
        async move { a.acquire().await.unwrap().fence() }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(taken);
    let next = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("woken by the release")
        .unwrap();
    assert!(next > old_fence + 1);
}
