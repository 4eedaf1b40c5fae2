//! [`RedisSemaphore`]: at most N holders across every process using the
//! same Redis and name; permits are leases with a time to live, renewed
//! while held, each with a fencing token.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Takes a permit if fewer than `ARGV[3]` unexpired leases are held: the
/// holders are a sorted set of lease ids scored by expiry (milliseconds,
/// the caller's clock); expired ones are removed first. Returns
/// `{1, fence}` (a counter that only grows) or `{0, ms until the earliest
/// lease expires}`.
const ACQUIRE: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), ARGV[4])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
  return {1, redis.call('INCR', KEYS[2])}
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, math.max(0, tonumber(first[2]) - tonumber(ARGV[1]))}
";

/// Extends a lease still held; 0 if it was lost (expired and taken).
const RENEW: &str = r"
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then
  redis.call('ZADD', KEYS[1], 'XX', tonumber(ARGV[1]) + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
  return 1
end
return 0
";

/// Gives a lease back and tells the waiters.
const RELEASE: &str = r"
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('PUBLISH', KEYS[3], 'released')
return removed
";

/// At most `permits` holders at once across every process that uses the
/// same Redis and name: a concurrency limit for a shared resource (an
/// upstream's connection cap, a licence count).
///
/// A permit is a lease: it lives `ttl` unless renewed, and its holder
/// renews it every third of that on a task of its own while it is held, so
/// a process that dies frees its permits within `ttl`. Each permit carries
/// a fencing token, a number that only grows: a resource that remembers the
/// highest token it has seen can refuse a holder whose lease ran out (a long
/// pause, a partition) after a newer one was granted. This is an efficiency
/// limit, not a correctness lock: a paused holder can outlive its lease, so
/// anything that must never run twice at once needs the fence checked where
/// the work lands.
///
/// Waiting is on Redis pub/sub: a release wakes the waiters at once, and a
/// waiter also wakes when the earliest lease would expire (a holder that
/// died says nothing). Time is the callers' clocks (milliseconds): keep
/// them in sync well within `ttl`.
///
/// # Examples
///
/// ```
/// # #[path = "../../tests/support/redis_server.rs"]
/// # mod redis_server;
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = redis_server::RedisServer::start();
/// use std::time::Duration;
/// use herd::dist::RedisSemaphore;
///
/// let client = redis::Client::open(server.url())?; // "redis://127.0.0.1/"
/// // At most 4 exports at once, across the whole service.
/// let exports = RedisSemaphore::new(client, "exports", 4, Duration::from_secs(10)).await?;
/// let first = exports.acquire().await?;
/// let second = exports.acquire().await?;
/// assert!(second.fence() > first.fence(), "fencing tokens only grow");
/// drop(first); // released at once; waiters are told
/// # drop(second);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisSemaphore {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    permits: u32,
    ttl: Duration,
    connection: ConnectionManager,
    acquire: redis::Script,
    renew: redis::Script,
    release: redis::Script,
    released: Arc<Notify>,
    listener: JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// A permit of a [`RedisSemaphore`]: renewed while held, released when
/// dropped.
pub struct RedisPermit {
    semaphore: RedisSemaphore,
    id: String,
    fence: u64,
    lost: Arc<AtomicBool>,
    renewer: Option<JoinHandle<()>>,
}

/// A lease id unique across processes and machines.
fn lease_id() -> String {
    static LEASES: AtomicU64 = AtomicU64::new(0);
    super::unique_id(LEASES.fetch_add(1, Ordering::Relaxed))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
        .try_into()
        .unwrap_or(u64::MAX)
}

impl RedisSemaphore {
    /// Connects to the semaphore `name` with `permits` and leases of
    /// `ttl` (every process using it must give the same two).
    ///
    /// # Errors
    ///
    /// Redis's error if it cannot be reached.
    ///
    /// # Panics
    ///
    /// If `permits` is zero or `ttl` is under 30 ms (a lease must outlive
    /// the round trips that renew it).
    ///
    /// # Examples
    ///
    /// See [`RedisSemaphore`].
    pub async fn new(
        client: redis::Client,
        name: impl Into<String>,
        permits: u32,
        ttl: Duration,
    ) -> redis::RedisResult<RedisSemaphore> {
        assert!(permits > 0, "RedisSemaphore: at least one permit");
        assert!(
            ttl >= Duration::from_millis(30),
            "RedisSemaphore: a lease of {ttl:?} is too short to renew"
        );
        let name = name.into();
        let connection = ConnectionManager::new(client.clone()).await?;
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(channel(&name)).await?;
        let released = Arc::new(Notify::new());
        let listener = {
            let released = released.clone();
            tokio::spawn(async move {
                let mut messages = pubsub.on_message();
                while messages.next().await.is_some() {
                    released.notify_waiters();
                }
            })
        };
        Ok(RedisSemaphore {
            inner: Arc::new(Inner {
                name,
                permits,
                ttl,
                connection,
                acquire: redis::Script::new(ACQUIRE),
                renew: redis::Script::new(RENEW),
                release: redis::Script::new(RELEASE),
                released,
                listener,
            }),
        })
    }

    /// Takes a permit now, if one is free.
    ///
    /// # Errors
    ///
    /// Redis's error if the call fails.
    ///
    /// # Examples
    ///
    /// See [`RedisSemaphore`].
    pub async fn try_acquire(&self) -> redis::RedisResult<Option<RedisPermit>> {
        Ok(self.attempt().await?.ok())
    }

    /// Waits for a permit: woken by a release anywhere, or when the
    /// earliest lease would expire.
    ///
    /// # Errors
    ///
    /// Redis's error if a call fails.
    ///
    /// # Examples
    ///
    /// See [`RedisSemaphore`].
    pub async fn acquire(&self) -> redis::RedisResult<RedisPermit> {
        loop {
            // Listen before asking, so a release in between is not missed.
            let released = self.inner.released.notified();
            match self.attempt().await? {
                Ok(permit) => return Ok(permit),
                Err(expires_in) => {
                    tokio::select! {
                        () = released => {}
                        () = tokio::time::sleep(expires_in) => {}
                    }
                }
            }
        }
    }

    /// One try: the permit, or how long until the earliest lease expires.
    async fn attempt(&self) -> redis::RedisResult<Result<RedisPermit, Duration>> {
        let inner = &*self.inner;
        let id = lease_id();
        let mut connection = inner.connection.clone();
        let (granted, value): (u8, u64) = inner
            .acquire
            .key(holders(&inner.name))
            .key(fences(&inner.name))
            .arg(now_ms())
            .arg(millis(inner.ttl))
            .arg(inner.permits)
            .arg(&id)
            .invoke_async(&mut connection)
            .await?;
        if granted == 0 {
            // At least a millisecond: a lease expiring now is removed by
            // the next try.
            return Ok(Err(Duration::from_millis(value.max(1))));
        }
        let lost = Arc::new(AtomicBool::new(false));
        let renewer = tokio::spawn(renew(self.clone(), id.clone(), lost.clone()));
        Ok(Ok(RedisPermit {
            semaphore: self.clone(),
            id,
            fence: value,
            lost,
            renewer: Some(renewer),
        }))
    }

    /// The semaphore's name, shared by every process using it.
    ///
    /// # Examples
    ///
    /// See [`RedisSemaphore`].
    pub fn name(&self) -> &str {
        &self.inner.name
    }
}

/// Renews the lease every third of its time to live until it is dropped
/// or lost.
async fn renew(semaphore: RedisSemaphore, id: String, lost: Arc<AtomicBool>) {
    let inner = &*semaphore.inner;
    let mut connection = inner.connection.clone();
    loop {
        tokio::time::sleep(inner.ttl / 3).await;
        let renewed: redis::RedisResult<u8> = inner
            .renew
            .key(holders(&inner.name))
            .arg(now_ms())
            .arg(millis(inner.ttl))
            .arg(&id)
            .invoke_async(&mut connection)
            .await;
        match renewed {
            Ok(1) => {}
            // Gone: expired and perhaps taken by another.
            Ok(_) => {
                lost.store(true, Ordering::SeqCst);
                tracing::warn!(semaphore = %inner.name, "herd: a Redis semaphore lease was lost");
                return;
            }
            // Redis is away: try again next time; the lease may run out.
            Err(error) => {
                tracing::warn!(semaphore = %inner.name, %error, "herd: renewing a Redis semaphore lease failed");
            }
        }
    }
}

impl RedisPermit {
    /// The fencing token: greater than every token granted before it.
    ///
    /// # Examples
    ///
    /// See [`RedisSemaphore`].
    pub fn fence(&self) -> u64 {
        self.fence
    }

    /// Whether the lease was found gone when renewing (it expired, and
    /// another may hold the permit now): stop, or rely on the fence.
    ///
    /// # Examples
    ///
    /// See [`RedisSemaphore`].
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Stops renewing without releasing, as a process that dies does: the
    /// permit frees itself when its lease runs out. For tests of what
    /// others see.
    ///
    /// # Examples
    ///
    /// See [`RedisSemaphore`].
    pub fn abandon(mut self) {
        if let Some(renewer) = self.renewer.take() {
            renewer.abort();
        }
        self.id.clear();
    }
}

impl Drop for RedisPermit {
    fn drop(&mut self) {
        if let Some(renewer) = self.renewer.take() {
            renewer.abort();
        }
        if self.id.is_empty() {
            return; // abandoned
        }
        // Released at once when a runtime is at hand; otherwise the lease
        // runs out by itself.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (semaphore, id) = (self.semaphore.clone(), std::mem::take(&mut self.id));
            runtime.spawn(async move {
                let inner = &*semaphore.inner;
                let mut connection = inner.connection.clone();
                let _: redis::RedisResult<u8> = inner
                    .release
                    .key(holders(&inner.name))
                    .key(fences(&inner.name))
                    .key(channel(&inner.name))
                    .arg(&id)
                    .invoke_async(&mut connection)
                    .await;
            });
        }
    }
}

fn holders(name: &str) -> String {
    format!("herd:{{{name}}}:holders")
}

fn fences(name: &str) -> String {
    format!("herd:{{{name}}}:fence")
}

fn channel(name: &str) -> String {
    format!("herd:{{{name}}}:released")
}

fn millis(d: Duration) -> u64 {
    d.as_millis().try_into().unwrap_or(u64::MAX)
}

impl fmt::Debug for RedisSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSemaphore")
            .field("name", &self.inner.name)
            .field("permits", &self.inner.permits)
            .field("ttl", &self.inner.ttl)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RedisPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisPermit")
            .field("semaphore", &self.semaphore.inner.name)
            .field("fence", &self.fence)
            .field("lost", &self.is_lost())
            .finish()
    }
}
