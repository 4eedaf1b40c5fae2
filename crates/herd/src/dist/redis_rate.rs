//! [`RedisRateLimiter`]: GCRA in one Lua script, one round trip a
//! decision, shared by every process that uses the same Redis and name.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::ConnectionManager;
use tokio::time::Instant;

use crate::limit::{KeyedRateLimiter, Quota, RateError, RateLimit};

/// The decision, in Redis: the key's theoretical arrival time (`tat`) and
/// the latest time any caller reported (`seen`), in microseconds since the
/// Unix epoch, in one hash. Time comes from the caller (`ARGV[1]`), so
/// managed Redis that refuses `TIME` in scripts runs it; a caller whose
/// clock lags the latest seen by more than `ARGV[5]` counts as lagging by
/// that much only, so a slow clock can take at most that much of the
/// capacity that went unused before. A refusal writes nothing. Returns `{1, 0}` when granted, `{0, wait}` (in
/// microseconds) when not.
const SCRIPT: &str = r"
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local skew = tonumber(ARGV[5])
local state = redis.call('HMGET', KEYS[1], 'tat', 'seen')
local tat = tonumber(state[1]) or 0
local seen = tonumber(state[2]) or now
if now < seen - skew then now = seen - skew end
if now > seen then seen = now end
if tat < now then tat = now end
local new_tat = tat + cost * interval
local allow_at = new_tat - tolerance
if allow_at > now then
  return {0, math.ceil(allow_at - now)}
end
redis.call('HSET', KEYS[1], 'tat', new_tat, 'seen', seen)
redis.call('PEXPIRE', KEYS[1], math.ceil((new_tat - now) / 1000) + 1000)
return {1, 0}
";

/// What a [`RedisRateLimiter`] does when Redis does not answer in time or
/// fails: the caller chooses, at construction, and every such decision is
/// also logged (`tracing`, warn).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// Grant: availability over the limit (the service keeps serving, the
    /// shared quota may be overrun while Redis is away).
    Open,
    /// Refuse with [`RateError::Unavailable`]: the limit over availability.
    Closed,
    /// Decide locally, with the same quota per key in this process alone
    /// (so N processes may together grant up to N times the quota).
    Local,
}

/// A rate limiter shared by every process that uses the same Redis (or
/// Valkey) and the same name: GCRA, the algorithm of herd's local
/// [`RateLimiter`](crate::limit::RateLimiter), as one Lua script, so each
/// decision is one round trip and atomic.
///
/// - **Keys**: each call names a key (a host, a user, an API key); each
///   key has the limiter's quota or its own ([`RedisRateLimiterBuilder::quota_for`]).
///   Redis keys are `herd:{NAME:KEY}`: the braces are a hash tag, so on
///   Redis Cluster each key's state lives in one slot. Idle keys expire.
/// - **Time** is the caller's (the script never calls `TIME`, which some
///   managed Redis forbid in scripts), with a bound on clock skew
///   ([`max_skew`](RedisRateLimiterBuilder::max_skew)).
/// - **Weighted**: a call may cost more than one; a cost above the burst is
///   [`RateError::TooCostly`] at once, without a round trip.
/// - **Refusals** say how long to wait ([`RateError::Limited`]), the same
///   answer the local limiter gives, so a server can send `Retry-After`.
///   Unless turned off, a refused key is remembered in this process until
///   its retry time, and refused again locally without a round trip; with
///   [`lease`](RedisRateLimiterBuilder::lease), tokens are taken in
///   batches and handed out locally.
/// - **Failures**: every call has a timeout (default 50 ms); when Redis is
///   slow or down, the [`Fallback`] chosen at construction applies. Never a
///   hang, never a panic.
///
/// Waiting ([`acquire`](RedisRateLimiter::acquire)) is by asking again
/// after the wait Redis named: fair enough, not first-in first-out across
/// processes. [`for_key`](RedisRateLimiter::for_key) gives a
/// [`RateLimit`] for one key, which a [`Limiter`](crate::limit::Limiter)
/// composes with a concurrency limit.
///
/// # Examples
///
/// ```
/// # #[path = "../../tests/support/redis_server.rs"]
/// # mod redis_server;
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = redis_server::RedisServer::start();
/// # let url = server.url();
/// use herd::dist::{Fallback, RedisRateLimiter};
/// use herd::limit::{Quota, RateError};
///
/// let client = redis::Client::open(url)?; // "redis://127.0.0.1:6379/"
/// // 2 a second per API key, burst 2, across every process of the service.
/// // (Slow enough that a loaded machine cannot let an interval pass
/// // between the checks below: Redis's clock is real.)
/// let quota = Quota::per_second(2).burst(2);
/// let limit = RedisRateLimiter::builder(client, "api", quota, Fallback::Local)
///     .build()
///     .await?;
/// assert_eq!(limit.name(), "api");
/// assert_eq!(limit.check("key-42").await, Ok(()));
/// assert_eq!(limit.check("key-42").await, Ok(()));
/// match limit.check("key-42").await {
///     Ok(()) => panic!("the burst is spent"),
///     Err(refused) => {
///         // A 429 with Retry-After: at most one interval (500 ms).
///         let wait = refused.retry_after().unwrap();
///         assert!(wait <= std::time::Duration::from_millis(500));
///         assert!(matches!(refused, RateError::Limited { .. }));
///     }
/// }
/// limit.acquire("key-42", 1).await?; // waits as long as Redis says
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisRateLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    connection: ConnectionManager,
    script: redis::Script,
    quota: Quota,
    quotas: HashMap<String, Quota>,
    timeout: Duration,
    max_skew: Duration,
    fallback: Fallback,
    local: KeyedRateLimiter<String>,
    /// Keys refused until this instant, when remembered.
    refused: Option<Mutex<HashMap<String, Instant>>>,
    /// Tokens taken per round trip (`lease`); 1 when not leasing.
    lease: u32,
    /// Tokens taken ahead and not yet handed out, per key, until when.
    leased: Mutex<HashMap<String, (u32, Instant)>>,
}

/// Builds a [`RedisRateLimiter`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use herd::dist::{Fallback, RedisRateLimiter};
/// use herd::limit::Quota;
///
/// let client = redis::Client::open("redis://127.0.0.1:6379/").unwrap();
/// let builder = RedisRateLimiter::builder(client, "api", Quota::per_second(100), Fallback::Closed)
///     .timeout(Duration::from_millis(20))
///     .quota_for("batch-user", Quota::per_second(5));
/// # drop(builder);
/// ```
pub struct RedisRateLimiterBuilder {
    client: redis::Client,
    name: String,
    quota: Quota,
    quotas: HashMap<String, Quota>,
    timeout: Duration,
    max_skew: Duration,
    fallback: Fallback,
    remember_refusals: bool,
    lease: u32,
}

impl RedisRateLimiter {
    /// The Lua script each decision runs (`KEYS[1]` the key; `ARGV`: now,
    /// interval, tolerance, cost and the skew bound, in microseconds), for
    /// running it by hand with `redis-cli --eval` or measuring it bare.
    ///
    /// # Examples
    ///
    /// ```
    /// let script = herd::dist::RedisRateLimiter::script();
    /// assert!(script.contains("HMGET") && script.contains("PEXPIRE"));
    /// ```
    pub fn script() -> &'static str {
        SCRIPT
    }

    /// A builder for the limiter `name` (every process using the same Redis
    /// and name shares it), with `quota` for every key and `fallback` for
    /// when Redis fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use herd::dist::{Fallback, RedisRateLimiter};
    /// use herd::limit::Quota;
    ///
    /// let client = redis::Client::open("redis://127.0.0.1/").unwrap();
    /// let _ = RedisRateLimiter::builder(client, "logins", Quota::per_minute(10), Fallback::Closed);
    /// ```
    pub fn builder(
        client: redis::Client,
        name: impl Into<String>,
        quota: Quota,
        fallback: Fallback,
    ) -> RedisRateLimiterBuilder {
        RedisRateLimiterBuilder {
            client,
            name: name.into(),
            quota,
            quotas: HashMap::new(),
            timeout: Duration::from_millis(50),
            max_skew: Duration::from_secs(1),
            fallback,
            remember_refusals: true,
            lease: 1,
        }
    }

    /// Takes one from `key`'s quota now, or says how long to wait.
    ///
    /// # Errors
    ///
    /// [`RateError::Limited`] with the wait; [`RateError::Unavailable`]
    /// when Redis failed and the fallback is [`Fallback::Closed`].
    ///
    /// # Examples
    ///
    /// See [`RedisRateLimiter`].
    pub async fn check(&self, key: &str) -> Result<(), RateError> {
        self.check_n(key, 1).await
    }

    /// Takes `cost` from `key`'s quota now, or says how long to wait.
    ///
    /// # Errors
    ///
    /// As [`check`](RedisRateLimiter::check), and
    /// [`RateError::TooCostly`] (without asking Redis) if `cost` is more
    /// than the key's burst.
    ///
    /// # Examples
    ///
    /// See [`RedisRateLimiter`].
    pub async fn check_n(&self, key: &str, cost: u32) -> Result<(), RateError> {
        let inner = &*self.inner;
        let quota = inner.quota_for(key);
        if cost > quota.burst_size() {
            return Err(RateError::TooCostly {
                cost,
                burst: quota.burst_size(),
            });
        }
        if inner.take_leased(key, cost) {
            return Ok(());
        }
        if let Some(until) = inner.refused_until(key) {
            return Err(RateError::Limited {
                retry_after: until.saturating_duration_since(Instant::now()),
            });
        }
        // Leasing: ask for a batch first; if it does not fit, for `cost`.
        let batch = inner.lease.min(quota.burst_size()).max(cost);
        if batch > cost {
            let asked = tokio::time::timeout(inner.timeout, inner.ask(key, quota, batch)).await;
            if let Ok(Ok((1, _))) = asked {
                inner.keep_leased(key, quota, batch - cost);
                return Ok(());
            }
        }
        let asked = tokio::time::timeout(inner.timeout, inner.ask(key, quota, cost)).await;
        let reason = match asked {
            Ok(Ok(decision)) => return inner.decided(key, decision),
            Ok(Err(error)) => {
                tracing::warn!(limiter = %inner.name, %error, "herd: Redis rate limit failed");
                "Redis returned an error"
            }
            Err(_) => {
                tracing::warn!(limiter = %inner.name, timeout = ?inner.timeout, "herd: Redis rate limit did not answer in time");
                "Redis did not answer in time"
            }
        };
        match inner.fallback {
            Fallback::Open => Ok(()),
            Fallback::Closed => Err(RateError::Unavailable { reason }),
            Fallback::Local => inner.local.check_n(&key.to_owned(), cost),
        }
    }

    /// Takes `cost` from `key`'s quota, waiting as long as Redis says
    /// (asking again after each wait).
    ///
    /// Waiters are not queued in Redis: each wakes when told and asks
    /// again, so a wake-up that comes late (the timer's millisecond grain,
    /// a busy machine) is capacity lost when the burst is 1. Give the
    /// quota a burst of a few intervals to deliver the full rate: four
    /// processes sharing 200/s with a burst of 10 were granted 2,009 in
    /// 10 s in `tests/dist_redis.rs`; with a burst of 1, about 1,620.
    ///
    /// # Errors
    ///
    /// [`RateError::TooCostly`], or [`RateError::Unavailable`] (fallback
    /// [`Fallback::Closed`]).
    ///
    /// # Examples
    ///
    /// See [`RedisRateLimiter`].
    pub async fn acquire(&self, key: &str, cost: u32) -> Result<(), RateError> {
        self.acquire_until(key, cost, None).await
    }

    /// As [`acquire`](RedisRateLimiter::acquire), giving up at `deadline`
    /// with [`RateError::Limited`] when the wait would pass it.
    ///
    /// # Errors
    ///
    /// As [`acquire`](RedisRateLimiter::acquire), and
    /// [`RateError::Limited`] at the deadline.
    ///
    /// # Examples
    ///
    /// See [`RedisRateLimiter`].
    pub async fn acquire_until(
        &self,
        key: &str,
        cost: u32,
        deadline: Option<Instant>,
    ) -> Result<(), RateError> {
        loop {
            match self.check_n(key, cost).await {
                Err(RateError::Limited { retry_after }) => {
                    let wake = Instant::now() + retry_after;
                    if deadline.is_some_and(|deadline| wake > deadline) {
                        return Err(RateError::Limited { retry_after });
                    }
                    tokio::time::sleep_until(wake).await;
                }
                done => return done,
            }
        }
    }

    /// A [`RateLimit`] for `key`, to compose with a concurrency limit in a
    /// [`Limiter`](crate::limit::Limiter).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[path = "../../tests/support/redis_server.rs"]
    /// # mod redis_server;
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = redis_server::RedisServer::start();
    /// use herd::dist::{Fallback, RedisRateLimiter};
    /// use herd::limit::{Limiter, Quota};
    ///
    /// let client = redis::Client::open(server.url())?;
    /// let shared = RedisRateLimiter::builder(client, "crawl", Quota::per_second(50), Fallback::Local)
    ///     .build()
    ///     .await?;
    /// // 50 a second to example.com across every crawler, 8 at once here.
    /// let limit = Limiter::new().rate_from(shared.for_key("example.com")).concurrency(8);
    /// let pass = limit.acquire().await;
    /// assert!(pass.is_ok());
    /// # Ok(())
    /// # }
    /// ```
    pub fn for_key(&self, key: impl Into<String>) -> RedisKey {
        RedisKey {
            limiter: self.clone(),
            key: key.into(),
        }
    }

    /// The limiter's name, shared by every process using it.
    ///
    /// # Examples
    ///
    /// See [`RedisRateLimiter`].
    pub fn name(&self) -> &str {
        &self.inner.name
    }
}

impl Inner {
    fn quota_for(&self, key: &str) -> Quota {
        self.quotas.get(key).copied().unwrap_or(self.quota)
    }

    /// Hands out `cost` of `key`'s leased tokens, if enough are left and
    /// their lease has not run out.
    fn take_leased(&self, key: &str, cost: u32) -> bool {
        if self.lease <= 1 {
            return false;
        }
        let mut leased = self.leased.lock().unwrap();
        match leased.get_mut(key) {
            Some((left, until)) if *until > Instant::now() && *left >= cost => {
                *left -= cost;
                true
            }
            Some((_, until)) if *until <= Instant::now() => {
                leased.remove(key);
                false
            }
            _ => false,
        }
    }

    /// Keeps `left` tokens of `key` taken ahead, for as long as they take
    /// to accrue (after that they would have been free anyway).
    fn keep_leased(&self, key: &str, quota: Quota, left: u32) {
        let span = quota.interval().saturating_mul(left.max(1));
        let mut leased = self.leased.lock().unwrap();
        if leased.len() >= 4096 {
            let now = Instant::now();
            leased.retain(|_, (_, until)| *until > now);
        }
        leased.insert(key.to_owned(), (left, Instant::now() + span));
    }

    /// When `key` was last refused, if that refusal still stands.
    fn refused_until(&self, key: &str) -> Option<Instant> {
        let mut refused = self.refused.as_ref()?.lock().unwrap();
        match refused.get(key) {
            Some(&until) if until > Instant::now() => Some(until),
            Some(_) => {
                refused.remove(key);
                None
            }
            None => None,
        }
    }

    async fn ask(&self, key: &str, quota: Quota, cost: u32) -> redis::RedisResult<(u8, u64)> {
        let micros = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let interval = micros(quota.interval()).max(1);
        let tolerance = interval.saturating_mul(u64::from(quota.burst_size()));
        let mut connection = self.connection.clone();
        self.script
            .key(format!("herd:{{{}:{key}}}", self.name))
            .arg(micros(now))
            .arg(interval)
            .arg(tolerance)
            .arg(cost)
            .arg(micros(self.max_skew))
            .invoke_async(&mut connection)
            .await
    }

    fn decided(&self, key: &str, (granted, wait): (u8, u64)) -> Result<(), RateError> {
        if granted == 1 {
            return Ok(());
        }
        let retry_after = Duration::from_micros(wait);
        if let Some(refused) = &self.refused {
            let mut refused = refused.lock().unwrap();
            // Bounded: forget expired refusals before the map grows past
            // the keys actually being refused.
            if refused.len() >= 4096 {
                let now = Instant::now();
                refused.retain(|_, until| *until > now);
            }
            if refused.len() < 4096 {
                refused.insert(key.to_owned(), Instant::now() + retry_after);
            }
        }
        Err(RateError::Limited { retry_after })
    }
}

impl RedisRateLimiterBuilder {
    /// A quota of its own for `key` (an important customer, a slow host).
    ///
    /// # Examples
    ///
    /// See [`RedisRateLimiterBuilder`].
    pub fn quota_for(mut self, key: impl Into<String>, quota: Quota) -> Self {
        self.quotas.insert(key.into(), quota);
        self
    }

    /// The longest a decision may take before the fallback applies.
    /// Default: 50 ms.
    ///
    /// # Examples
    ///
    /// See [`RedisRateLimiterBuilder`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How far behind the latest caller's clock another caller's may be
    /// and still count as it is; a clock further behind counts as this far
    /// behind, so it can take at most this much of the capacity that went
    /// unused before (a burst plus `max_skew`'s worth, at the worst). A clock
    /// ahead of the others cannot be told from the right one: it makes the
    /// others wait up to its lead. Default: 1 s. Keep machines' clocks in
    /// sync (NTP) well within it.
    ///
    /// # Examples
    ///
    /// ```
    /// # let client = redis::Client::open("redis://127.0.0.1/").unwrap();
    /// use std::time::Duration;
    /// use herd::dist::{Fallback, RedisRateLimiter};
    /// use herd::limit::Quota;
    ///
    /// let _ = RedisRateLimiter::builder(client, "api", Quota::per_second(10), Fallback::Open)
    ///     .max_skew(Duration::from_millis(200));
    /// ```
    pub fn max_skew(mut self, skew: Duration) -> Self {
        self.max_skew = skew;
        self
    }

    /// Whether a refused key is refused again locally, without a round
    /// trip, until its retry time (default: yes). Turn it off when other
    /// processes may change quotas at runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// # let client = redis::Client::open("redis://127.0.0.1/").unwrap();
    /// use herd::dist::{Fallback, RedisRateLimiter};
    /// use herd::limit::Quota;
    ///
    /// let _ = RedisRateLimiter::builder(client, "api", Quota::per_second(10), Fallback::Open)
    ///     .remember_refusals(false);
    /// ```
    pub fn remember_refusals(mut self, remember: bool) -> Self {
        self.remember_refusals = remember;
        self
    }

    /// Takes `tokens` from Redis per round trip and hands them out in this
    /// process until they run out or as long as they would take to accrue,
    /// so a busy key costs one round trip per `tokens` decisions. The price:
    /// tokens taken ahead and not used in time are lost to every process
    /// (each process may hold up to `tokens - 1` at a time), and they are
    /// handed out without asking, so this process may run up to `tokens`
    /// ahead of the shared spacing. Default 1 (no leasing); at most the
    /// burst is taken at once.
    ///
    /// # Examples
    ///
    /// ```
    /// # let client = redis::Client::open("redis://127.0.0.1/").unwrap();
    /// use herd::dist::{Fallback, RedisRateLimiter};
    /// use herd::limit::Quota;
    ///
    /// let _ = RedisRateLimiter::builder(client, "api", Quota::per_second(1000), Fallback::Local)
    ///     .lease(50);
    /// ```
    pub fn lease(mut self, tokens: u32) -> Self {
        self.lease = tokens.max(1);
        self
    }

    /// Connects (reconnecting by itself later, when Redis comes back) and
    /// makes the limiter.
    ///
    /// # Errors
    ///
    /// Redis's error if the first connection cannot be made within the
    /// timeout.
    ///
    /// # Examples
    ///
    /// See [`RedisRateLimiter`].
    pub async fn build(self) -> redis::RedisResult<RedisRateLimiter> {
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout.max(Duration::from_millis(100))))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1);
        let connection = ConnectionManager::new_with_config(self.client, config).await?;
        // Used only by Fallback::Local; until then it is an empty table.
        let local = KeyedRateLimiter::builder(self.quota)
            .max_keys(100_000)
            .build();
        for (key, quota) in &self.quotas {
            local.set_quota_for(key.clone(), *quota);
        }
        Ok(RedisRateLimiter {
            inner: Arc::new(Inner {
                name: self.name,
                connection,
                script: redis::Script::new(SCRIPT),
                quota: self.quota,
                quotas: self.quotas,
                timeout: self.timeout,
                max_skew: self.max_skew,
                fallback: self.fallback,
                local,
                refused: self.remember_refusals.then(|| Mutex::new(HashMap::new())),
                lease: self.lease,
                leased: Mutex::new(HashMap::new()),
            }),
        })
    }
}

/// One key of a [`RedisRateLimiter`], as a [`RateLimit`] (from
/// [`RedisRateLimiter::for_key`]).
#[derive(Clone)]
pub struct RedisKey {
    limiter: RedisRateLimiter,
    key: String,
}

impl RateLimit for RedisKey {
    fn acquire_until(
        &self,
        cost: u32,
        deadline: Option<Instant>,
    ) -> Pin<Box<dyn Future<Output = Result<(), RateError>> + Send + '_>> {
        Box::pin(self.limiter.acquire_until(&self.key, cost, deadline))
    }
}

impl fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("name", &self.inner.name)
            .field("quota", &self.inner.quota)
            .field("fallback", &self.inner.fallback)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RedisRateLimiterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRateLimiterBuilder")
            .field("name", &self.name)
            .field("quota", &self.quota)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RedisKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisKey")
            .field("limiter", &self.limiter.inner.name)
            .field("key", &self.key)
            .finish()
    }
}
