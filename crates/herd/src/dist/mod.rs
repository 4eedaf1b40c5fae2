//! Beyond one machine, on engines a service already runs.
//!
//! With feature `redis`: [`RedisRateLimiter`], herd's GCRA rate limit kept
//! in Redis (or Valkey) so that every process using it counts against one
//! quota, and [`RedisSemaphore`], at most N holders across processes, with
//! leases that free the permits of a process that dies and fencing tokens.
//!
//! With feature `postgres`: [`PgQueue`], a durable job queue in tables
//! herd creates and migrates itself. Enqueue anywhere (in your own
//! transaction, if you like: the job exists only if it commits); drain it
//! from any number of processes with [`PgQueue::run`] on a
//! [`WorkerPool`](crate::pool::WorkerPool): claims skip rows others are
//! claiming (`FOR UPDATE SKIP LOCKED`), idle workers sleep until `NOTIFY`
//! wakes them, a running job's lease is renewed by heartbeats (never a
//! fixed visibility timeout that re-runs long jobs), and the leases of dead
//! workers are rescued. Delivery is at least once; each job ends exactly
//! once as done, failed (dead letter, after its attempts with backoff) or
//! cancelled, with its result stored. `herd run --queue` and `herd worker`
//! are built on it.
//!
//! When to use it: a quota that belongs to the whole service (an upstream
//! API's limit, a per-customer plan) while the service runs as several
//! processes; jobs that must survive a restart, or more work than one
//! machine can do. When to use something else: one process, or a limit
//! that may be per process, is herd's local
//! [`RateLimiter`](crate::limit::RateLimiter) (nanoseconds a decision,
//! against a round trip of tens of microseconds here); jobs that may be
//! lost with the process are a [`WorkerPool`](crate::pool::WorkerPool)'s
//! (a million a second, against about ten thousand here); a lock that must
//! never be held twice at once needs more than leases (see
//! [`RedisSemaphore`] on fencing).
//!
//! # Examples
//!
//! ```no_run
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use herd::dist::{Fallback, NewJob, PgQueue, RedisRateLimiter};
//! use herd::limit::Quota;
//! use herd::pool::WorkerPool;
//! use herd::task::CancelToken;
//!
//! let client = redis::Client::open("redis://127.0.0.1/")?;
//! let limit = RedisRateLimiter::builder(client, "upstream", Quota::per_second(20), Fallback::Local)
//!     .build()
//!     .await?;
//! limit.acquire("all", 1).await?; // waits as long as Redis says
//!
//! let queue = PgQueue::builder("postgres://app@127.0.0.1/app", "mail").build().await?;
//! queue.enqueue(NewJob::new("welcome 42").idempotency_key("welcome-42")).await?;
//! let pool = WorkerPool::builder().workers(4).build();
//! let stop = CancelToken::new();
//! # stop.cancel("example");
//! queue.run(&pool, |job| async move { Ok(job.payload) }, &stop).await;
//! # Ok(())
//! # }
//! ```
//!
//! (Not run here: it needs the servers; `tests/dist_redis.rs` and
//! `tests/dist_pg.rs` start their own on 127.0.0.1.)

#[cfg(feature = "postgres")]
mod pg_queue;
#[cfg(feature = "redis")]
mod redis_rate;
#[cfg(feature = "redis")]
mod redis_semaphore;

#[cfg(feature = "postgres")]
pub use pg_queue::{
    Enqueued, Job, JobFailure, JobRecord, JobState, Lease, NewJob, PgQueue, PgQueueBuilder,
    PgQueueError, QueueCounts, WorkStats,
};
#[cfg(feature = "redis")]
pub use redis_rate::{Fallback, RedisKey, RedisRateLimiter, RedisRateLimiterBuilder};
#[cfg(feature = "redis")]
pub use redis_semaphore::{RedisPermit, RedisSemaphore};

/// An id unique across processes and machines: a random 64-bit number
/// drawn once per process (std's randomly keyed hasher over the pid and
/// the time), then `n`, a counter of the caller's.
#[cfg(any(feature = "redis", feature = "postgres"))]
fn unique_id(n: u64) -> String {
    use std::hash::{BuildHasher, RandomState};
    use std::sync::OnceLock;
    use std::time::SystemTime;
    static PROCESS: OnceLock<u64> = OnceLock::new();
    let process = *PROCESS
        .get_or_init(|| RandomState::new().hash_one((std::process::id(), SystemTime::now())));
    format!("{process:016x}-{n}")
}
