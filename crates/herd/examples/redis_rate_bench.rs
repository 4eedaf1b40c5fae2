//! Decisions a second of `herd::dist::RedisRateLimiter` against a
//! redis-server this program starts on 127.0.0.1: one task asking in
//! turn (each decision a round trip), then 64 tasks on one multiplexed
//! connection, beside the bare script run by `redis-benchmark` (64
//! clients, EVALSHA, the same arguments) in the same run; then 64 tasks on
//! one hot key over its limit with the refusal cache on; and, for scale,
//! the local `RateLimiter`. In the first three every decision is granted
//! (the quota is far above the load), so each one is a full script run.
//!
//! Run it with `cargo run --release -p herd --features redis --example redis_rate_bench`
//! (needs `redis-server` on the PATH).

use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "../tests/support/redis_server.rs"]
mod redis_server;

use herd::dist::{Fallback, RedisRateLimiter};
use herd::limit::{Quota, RateLimiter};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = redis_server::RedisServer::start();
    let client = redis::Client::open(server.url())?;
    let quota = Quota::per_second(1_000_000_000).burst(1_000_000_000);
    let limit = RedisRateLimiter::builder(client, "bench", quota, Fallback::Closed)
        .timeout(Duration::from_secs(1))
        .remember_refusals(false)
        .build()
        .await?;

    for round in 1..=3 {
        // One at a time.
        let n = 20_000;
        let start = Instant::now();
        for _ in 0..n {
            limit.check("k").await?;
        }
        let sequential = n as f64 / start.elapsed().as_secs_f64();

        // 64 tasks, one connection, many keys.
        let limit = Arc::new(limit.clone());
        let per_task = 2_000;
        let start = Instant::now();
        let tasks: Vec<_> = (0..64)
            .map(|t| {
                let limit = limit.clone();
                tokio::spawn(async move {
                    let key = format!("key-{}", t % 16);
                    for _ in 0..per_task {
                        limit.check(&key).await.expect("granted");
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await?;
        }
        let parallel = (64 * per_task) as f64 / start.elapsed().as_secs_f64();

        // The bare script: redis-benchmark, 64 clients, EVALSHA on 16 keys
        // with the arguments herd passes.
        let bare = redis_benchmark(&server, 200_000, &["-c", "64"])?;
        // And pipelined on one connection, as herd's tasks share theirs.
        let piped = redis_benchmark(&server, 200_000, &["-c", "1", "-P", "64"])?;

        // A hot key over its limit: refusals answered from the cache.
        let hot = RedisRateLimiter::builder(
            redis::Client::open(server.url())?,
            format!("hot-{round}"),
            Quota::per_hour(1),
            Fallback::Closed,
        )
        .build()
        .await?;
        let hot = Arc::new(hot);
        let start = Instant::now();
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let hot = hot.clone();
                tokio::spawn(async move {
                    let mut granted = 0u32;
                    for _ in 0..20_000 {
                        granted += u32::from(hot.check("hot").await.is_ok());
                    }
                    granted
                })
            })
            .collect();
        let mut granted = 0;
        for task in tasks {
            granted += task.await?;
        }
        assert_eq!(granted, 1, "one grant an hour");
        let cached = (64.0 * 20_000.0) / start.elapsed().as_secs_f64();

        let local = RateLimiter::new(quota);
        let m = 10_000_000;
        let start = Instant::now();
        for _ in 0..m {
            std::hint::black_box(local.check().is_ok());
        }
        let local_rate = m as f64 / start.elapsed().as_secs_f64();
        println!(
            "round {round}: Redis, one at a time {sequential:>8.0}/s ({:.1} µs each); 64 tasks {parallel:>8.0}/s; \
             bare script (redis-benchmark -c 64) {bare:>8.0}/s = {:.2}x, (-c 1 -P 64) {piped:>8.0}/s = {:.2}x; \
             hot key over its limit, cached {cached:>10.0}/s = {:.1}x bare; local RateLimiter {:.0}M/s",
            1e6 / sequential,
            parallel / bare,
            parallel / piped,
            cached / bare,
            local_rate / 1e6
        );
    }
    drop(server);
    Ok(())
}

/// EVALSHA of the limiter's own script through `redis-benchmark` with
/// `clients` (its -c and -P), on keys spread as the 64 tasks spread
/// theirs; returns requests a second.
fn redis_benchmark(
    server: &redis_server::RedisServer,
    n: u32,
    clients: &[&str],
) -> Result<f64, Box<dyn std::error::Error>> {
    use std::process::Command;
    let port = server.port.to_string();
    let load = Command::new("redis-cli")
        .args(["-p", &port, "SCRIPT", "LOAD", RedisRateLimiter::script()])
        .output()?;
    let sha = String::from_utf8(load.stdout)?.trim().to_owned();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_micros()
        .to_string();
    let n = n.to_string();
    let output = Command::new("redis-benchmark")
        .args(["-p", &port, "-n", &n, "-r", "16", "--csv"])
        .args(clients)
        .args(["EVALSHA", &sha, "1", "herd:{bench:key-__rand_int__}"])
        // now, interval, tolerance, cost, skew: as herd passes them for
        // the quota above.
        .args([&now, "1", "1000000000", "1", "1000000"])
        .output()?;
    let csv = String::from_utf8(output.stdout)?;
    // "test","rps",...: the second line's second field.
    let rps = csv
        .lines()
        .nth(1)
        .and_then(|line| line.split(',').nth(1))
        .map(|field| field.trim_matches('"').parse::<f64>())
        .ok_or("redis-benchmark printed no figure")??;
    Ok(rps)
}
