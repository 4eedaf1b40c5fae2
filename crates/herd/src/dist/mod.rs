//! Limits shared between machines, on an engine the service already runs:
//! with feature `redis`, [`RedisRateLimiter`], herd's GCRA rate limit kept
//! in Redis (or Valkey) so that every process using it counts against one
//! quota, and [`RedisSemaphore`], at most N holders across processes, with
//! leases that free the permits of a process that dies and fencing tokens.
//!
//! When to use it: a quota that belongs to the whole service (an upstream
//! API's limit, a per-customer plan) while the service runs as several
//! processes. When to use something else: one process, or a limit that may
//! be per process, is herd's local [`RateLimiter`](crate::limit::RateLimiter)
//! (nanoseconds a decision, against a round trip of tens of microseconds
//! here); a lock that must never be held twice at once needs more than
//! leases (see [`RedisSemaphore`] on fencing).
//!
//! # Examples
//!
//! ```no_run
//! # #[tokio::main]
//! # async fn main() -> Result<(), redis::RedisError> {
//! use herd::dist::{Fallback, RedisRateLimiter};
//! use herd::limit::Quota;
//!
//! let client = redis::Client::open("redis://127.0.0.1/")?;
//! let limit = RedisRateLimiter::builder(client, "upstream", Quota::per_second(20), Fallback::Local)
//!     .build()
//!     .await?;
//! limit.acquire("all", 1).await.unwrap(); // waits as long as Redis says
//! # Ok(())
//! # }
//! ```
//!
//! (Not run here: it needs a Redis server; `tests/dist_redis.rs` starts
//! one.)

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
