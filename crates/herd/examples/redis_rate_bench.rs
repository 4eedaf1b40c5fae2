//! Decisions a second of `herd::dist::RedisRateLimiter` against a
//! redis-server this program starts on 127.0.0.1: one task asking in
//! turn (each decision a round trip), then 64 tasks on one multiplexed
//! connection, and, for scale, the local `RateLimiter` in the same run.
//! Every decision is granted (the quota is far above the load), so each one
//! is a full script run.
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

        let local = RateLimiter::new(quota);
        let m = 10_000_000;
        let start = Instant::now();
        for _ in 0..m {
            std::hint::black_box(local.check().is_ok());
        }
        let local_rate = m as f64 / start.elapsed().as_secs_f64();
        println!(
            "round {round}: Redis, one at a time {sequential:>8.0}/s ({:.1} µs each); 64 tasks {parallel:>8.0}/s; local RateLimiter {:.0}M/s",
            1e6 / sequential,
            local_rate / 1e6
        );
    }
    drop(server);
    Ok(())
}
