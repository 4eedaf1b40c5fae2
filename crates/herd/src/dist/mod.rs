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
//! ```
//! # #[path = "../../tests/support/redis_server.rs"]
//! # mod redis_server;
//! # #[path = "../../tests/support/pg_server.rs"]
//! # mod pg_server;
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let (redis_server, pg_server) = (redis_server::RedisServer::start(), pg_server::PgServer::start());
//! # let (redis_url, pg_url) = (redis_server.url(), pg_server.url());
//! use herd::dist::{Fallback, JobState, NewJob, PgQueue, RedisRateLimiter};
//! use herd::limit::Quota;
//! use herd::pool::WorkerPool;
//! use herd::task::CancelToken;
//!
//! // A quota shared by every process: 20 a second to the upstream API.
//! let client = redis::Client::open(redis_url)?; // "redis://127.0.0.1/"
//! let limit = RedisRateLimiter::builder(client, "upstream", Quota::per_second(20), Fallback::Local)
//!     .build()
//!     .await?;
//! limit.acquire("all", 1).await?; // waits as long as Redis says
//!
//! // Jobs that survive a restart, run by whichever worker is free.
//! let queue = PgQueue::builder(&pg_url, "mail").build().await?; // "postgres://app@db/app"
//! let job = queue.enqueue(NewJob::new("welcome 42").idempotency_key("welcome-42")).await?;
//! let stop = CancelToken::new();
//! let worker = {
//!     let (queue, stop) = (queue.clone(), stop.clone());
//!     let pool = WorkerPool::builder().workers(4).build();
//!     tokio::spawn(async move { queue.run(&pool, |job| async move { Ok(job.payload) }, &stop).await })
//! };
//! assert_eq!(queue.wait(&[job.id]).await?[0].state, JobState::Done);
//! stop.cancel("done");
//! worker.await?;
//! # Ok(())
//! # }
//! ```

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
