//! `KeyedRateLimiter`: one GCRA cell per key, in a sharded map with a
//! bound on the number of keys.

use crate::loom::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hash, RandomState};
use std::marker::PhantomData;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use std::time::Duration;

use super::gcra::{Cell, Denied, Gcra, Origin, Params, Reserved, denial, is_idle};
use super::{Quota, RateError};

/// A rate limit per key (per host, per user, per API key), each key with
/// its own [`Quota`]: the default, or one set for that key.
///
/// Memory is bounded: at most [`max_keys`](KeyedRateLimiterBuilder::max_keys)
/// keys are tracked. A key whose bucket has refilled carries no state a
/// fresh key would not, so such idle keys are dropped first when room is
/// needed; only if every tracked key is in debt does the one closest to
/// refilled go (it may then get up to its remaining debt early). The map is
/// sharded and hashed with the standard library's keyed SipHash, so a flood
/// of chosen keys can neither collide nor grow it.
///
/// Waiting is by reservation: [`acquire`](KeyedRateLimiter::acquire)
/// reserves the key's next slot with one atomic step and sleeps once until
/// it, so waiters on one key go in arrival order and different keys never
/// wait on each other. A cancelled waiter hands its cells back to the key.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use herd::limit::{KeyedRateLimiter, Quota};
///
/// let per_host = KeyedRateLimiter::new(Quota::per_second(2));
/// per_host.set_quota_for("api.example.com", Quota::per_second(10));
/// for _ in 0..2 {
///     per_host.check(&"slow.example.com").unwrap();
/// }
/// assert!(per_host.check(&"slow.example.com").is_err());
/// for _ in 0..10 {
///     per_host.check(&"api.example.com").unwrap(); // its own quota
/// }
/// # }
/// ```
pub struct KeyedRateLimiter<K> {
    inner: Arc<Keyed<K>>,
}

impl<K> Clone for KeyedRateLimiter<K> {
    fn clone(&self) -> Self {
        KeyedRateLimiter {
            inner: self.inner.clone(),
        }
    }
}

/// One shard of the key map: each key with its GCRA word alone (16 bytes
/// for a `u64` key), stored inline and found by a hash computed once per
/// call. Keys on the default quota live here and share its parameters.
type Shard<K> = RwLock<HashTable<(K, AtomicU64)>>;

struct Keyed<K> {
    shards: Box<[Shard<K>]>,
    hasher: RandomState,
    default: RwLock<Quota>,
    /// The default quota as the algorithm reads it, shared by every key in
    /// the shards.
    params: Params,
    /// Keys with a quota of their own, each with its own word and
    /// parameters; never evicted (their number is the caller's).
    quotas: RwLock<HashMap<K, Gcra>>,
    /// `quotas.len()`, read without the lock on the hot path.
    quota_count: AtomicUsize,
    max_keys: usize,
    /// Keys in the map, counted before insertion so the bound holds
    /// however many threads insert at once.
    count: AtomicUsize,
    origin: Origin,
}

/// Configures a [`KeyedRateLimiter`]; made by [`KeyedRateLimiter::builder`].
///
/// # Examples
///
/// ```
/// use herd::limit::{KeyedRateLimiter, Quota};
///
/// let limit = KeyedRateLimiter::<String>::builder(Quota::per_minute(60)).max_keys(10_000).build();
/// assert_eq!(limit.max_keys(), 10_000);
/// ```
pub struct KeyedRateLimiterBuilder<K> {
    quota: Quota,
    max_keys: usize,
    keys: PhantomData<fn(K)>,
}

impl<K> fmt::Debug for KeyedRateLimiterBuilder<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedRateLimiterBuilder")
            .field("quota", &self.quota)
            .field("max_keys", &self.max_keys)
            .finish()
    }
}

/// Shards of the key map: enough that threads on different keys rarely
/// meet on one lock.
const SHARDS: usize = 64;

impl<K: Hash + Eq + Clone> KeyedRateLimiterBuilder<K> {
    /// The most keys tracked at once. Default: 100,000.
    ///
    /// # Panics
    ///
    /// If `max_keys` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// let limit = herd::limit::KeyedRateLimiter::<u32>::builder(herd::limit::Quota::per_second(1))
    ///     .max_keys(64)
    ///     .build();
    /// assert_eq!(limit.max_keys(), 64);
    /// ```
    pub fn max_keys(mut self, max_keys: usize) -> Self {
        assert!(
            max_keys > 0,
            "KeyedRateLimiter: max_keys must be at least 1, got 0"
        );
        self.max_keys = max_keys;
        self
    }

    /// Makes the limiter.
    ///
    /// # Examples
    ///
    /// ```
    /// let limit = herd::limit::KeyedRateLimiter::<u32>::builder(herd::limit::Quota::per_second(1)).build();
    /// assert_eq!(limit.len(), 0);
    /// ```
    pub fn build(self) -> KeyedRateLimiter<K> {
        let shards = SHARDS.min(self.max_keys);
        KeyedRateLimiter {
            inner: Arc::new(Keyed {
                shards: (0..shards).map(|_| RwLock::new(HashTable::new())).collect(),
                hasher: RandomState::new(),
                default: RwLock::new(self.quota),
                params: Params::new(self.quota),
                quotas: RwLock::new(HashMap::new()),
                quota_count: AtomicUsize::new(0),
                max_keys: self.max_keys,
                count: AtomicUsize::new(0),
                origin: Origin::now(),
            }),
        }
    }
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<K: Hash + Eq + Clone> KeyedRateLimiter<K> {
    /// A keyed limiter giving every key `quota`, tracking up to 100,000 keys.
    ///
    /// # Examples
    ///
    /// ```
    /// let limit = herd::limit::KeyedRateLimiter::<&str>::new(herd::limit::Quota::per_second(5));
    /// assert_eq!(limit.max_keys(), 100_000);
    /// ```
    pub fn new(quota: Quota) -> KeyedRateLimiter<K> {
        KeyedRateLimiter::builder(quota).build()
    }

    /// A builder, to set the bound on keys.
    ///
    /// # Examples
    ///
    /// ```
    /// let limit = herd::limit::KeyedRateLimiter::<u64>::builder(herd::limit::Quota::per_second(5))
    ///     .max_keys(1000)
    ///     .build();
    /// assert_eq!(limit.max_keys(), 1000);
    /// ```
    pub fn builder(quota: Quota) -> KeyedRateLimiterBuilder<K> {
        KeyedRateLimiterBuilder {
            quota,
            max_keys: 100_000,
            keys: PhantomData,
        }
    }

    /// Takes one cell for `key` if one is free now; never waits.
    ///
    /// # Errors
    ///
    /// [`RateError::Limited`] with how long until the key has a free cell.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let limit = herd::limit::KeyedRateLimiter::new(herd::limit::Quota::per_second(1));
    /// assert!(limit.check(&"alice").is_ok());
    /// assert!(limit.check(&"alice").is_err());
    /// assert!(limit.check(&"bob").is_ok(), "keys do not share");
    /// # }
    /// ```
    pub fn check(&self, key: &K) -> Result<(), RateError> {
        self.check_n(key, 1)
    }

    /// Takes `cost` cells for `key` if they are free now; never waits.
    ///
    /// # Errors
    ///
    /// [`RateError::Limited`], or [`RateError::TooCostly`] if `cost` is
    /// more than the key's burst.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let limit = herd::limit::KeyedRateLimiter::new(herd::limit::Quota::per_second(10));
    /// assert!(limit.check_n(&1, 10).is_ok());
    /// assert!(limit.check_n(&1, 1).is_err());
    /// # }
    /// ```
    pub fn check_n(&self, key: &K, cost: u32) -> Result<(), RateError> {
        let now = self.inner.origin.elapsed();
        let checked = self.with_cell(key, now, |cell| cell.check(cost, now));
        checked.map_err(|denied| self.error(key, denied, cost))
    }

    /// Waits for one cell for `key`.
    ///
    /// # Errors
    ///
    /// None with a burst of at least one; see
    /// [`acquire_n`](KeyedRateLimiter::acquire_n).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future hands its reserved cells back to the key.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let limit = herd::limit::KeyedRateLimiter::new(herd::limit::Quota::per_second(4).burst(1));
    /// let start = tokio::time::Instant::now();
    /// for _ in 0..3 {
    ///     limit.acquire(&"host").await.unwrap();
    /// }
    /// assert_eq!(start.elapsed().as_millis(), 500);
    /// # }
    /// ```
    pub async fn acquire(&self, key: &K) -> Result<(), RateError> {
        self.acquire_n(key, 1).await
    }

    /// Waits for `cost` cells for `key`.
    ///
    /// # Errors
    ///
    /// [`RateError::TooCostly`] at once if `cost` is more than the key's
    /// burst.
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](KeyedRateLimiter::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let limit = herd::limit::KeyedRateLimiter::new(herd::limit::Quota::per_second(10));
    /// assert!(limit.acquire_n(&"k", 11).await.is_err());
    /// assert!(limit.acquire_n(&"k", 10).await.is_ok());
    /// # }
    /// ```
    pub async fn acquire_n(&self, key: &K, cost: u32) -> Result<(), RateError> {
        self.wait_for(key, cost, u64::MAX).await
    }

    /// Waits up to `timeout` for `cost` cells for `key`; a request whose
    /// slot is further away is refused at once, reserving nothing.
    ///
    /// # Errors
    ///
    /// [`RateError::Limited`] with the wait it would have needed, or
    /// [`RateError::TooCostly`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    ///
    /// let limit = herd::limit::KeyedRateLimiter::new(herd::limit::Quota::per_second(1));
    /// limit.acquire(&7).await.unwrap();
    /// let err = limit.acquire_timeout(&7, 1, Duration::from_millis(10)).await.unwrap_err();
    /// assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
    /// # }
    /// ```
    pub async fn acquire_timeout(
        &self,
        key: &K,
        cost: u32,
        timeout: Duration,
    ) -> Result<(), RateError> {
        let budget = timeout.as_nanos().min(u128::from(u64::MAX)) as u64;
        self.wait_for(key, cost, budget).await
    }

    async fn wait_for(&self, key: &K, cost: u32, budget: u64) -> Result<(), RateError> {
        let now = self.inner.origin.elapsed();
        let reserved = self.with_cell(key, now, |cell| cell.reserve(cost, now, budget));
        let reserved = reserved.map_err(|denied| self.error(key, denied, cost))?;
        let slot = self.inner.origin.instant(reserved.slot);
        if slot > tokio::time::Instant::now() {
            let reservation = KeyHandBack {
                limiter: self,
                key,
                reserved,
                slot,
            };
            tokio::time::sleep_until(slot).await;
            std::mem::forget(reservation);
        }
        Ok(())
    }

    /// Gives `key` a quota of its own (or changes it), kept until
    /// [`clear_quota_for`](KeyedRateLimiter::clear_quota_for). The key's
    /// debt is kept: no fresh burst.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use herd::limit::{KeyedRateLimiter, Quota};
    ///
    /// let limit = KeyedRateLimiter::new(Quota::per_second(1));
    /// limit.set_quota_for("premium", Quota::per_second(100));
    /// assert_eq!(limit.quota_for(&"premium"), Quota::per_second(100));
    /// assert_eq!(limit.quota_for(&"free"), Quota::per_second(1));
    /// # }
    /// ```
    pub fn set_quota_for(&self, key: K, quota: Quota) {
        let now = self.inner.origin.elapsed();
        let mut quotas = write(&self.inner.quotas);
        if let Some(own) = quotas.get(&key) {
            own.set(quota, now);
            return;
        }
        // The key leaves the shared table with its debt, rescaled.
        let tat = self.take(&key).unwrap_or(0);
        let own = Gcra::with_tat(*read(&self.inner.default), tat);
        own.set(quota, now);
        quotas.insert(key, own);
        self.inner
            .quota_count
            .store(quotas.len(), Ordering::Release);
    }

    /// Puts `key` back on the default quota.
    ///
    /// # Examples
    ///
    /// ```
    /// use herd::limit::{KeyedRateLimiter, Quota};
    ///
    /// let limit = KeyedRateLimiter::new(Quota::per_second(1));
    /// limit.set_quota_for(5u8, Quota::per_second(9));
    /// limit.clear_quota_for(&5);
    /// assert_eq!(limit.quota_for(&5), Quota::per_second(1));
    /// ```
    pub fn clear_quota_for(&self, key: &K) {
        let now = self.inner.origin.elapsed();
        let mut quotas = write(&self.inner.quotas);
        let Some(own) = quotas.remove(key) else {
            return;
        };
        self.inner
            .quota_count
            .store(quotas.len(), Ordering::Release);
        // Let go of the side table before touching the shared one, whose
        // lookup may read the side table.
        drop(quotas);
        // Back to the shared table, with its debt rescaled to the default.
        own.set(*read(&self.inner.default), now);
        let tat = own.cell().tat();
        self.with_cell(key, now, |cell| cell.tat.fetch_max(tat, Ordering::Relaxed));
    }

    /// Changes the default quota, for every key without one of its own.
    ///
    /// # Examples
    ///
    /// ```
    /// use herd::limit::{KeyedRateLimiter, Quota};
    ///
    /// let limit = KeyedRateLimiter::<u8>::new(Quota::per_second(1));
    /// limit.set_default_quota(Quota::per_second(3));
    /// assert_eq!(limit.quota_for(&0), Quota::per_second(3));
    /// ```
    pub fn set_default_quota(&self, quota: Quota) {
        let mut default = write(&self.inner.default);
        let intervals = self.inner.params.set(quota);
        *default = quota;
        let now = self.inner.origin.elapsed();
        for shard in self.inner.shards.iter() {
            for (_, tat) in read(shard).iter() {
                let cell = Cell {
                    tat,
                    params: &self.inner.params,
                };
                cell.rescale(intervals, now);
            }
        }
    }

    /// The quota `key` is held to.
    ///
    /// # Examples
    ///
    /// ```
    /// let limit = herd::limit::KeyedRateLimiter::new(herd::limit::Quota::per_hour(10));
    /// assert_eq!(limit.quota_for(&"anyone"), herd::limit::Quota::per_hour(10));
    /// ```
    pub fn quota_for(&self, key: &K) -> Quota {
        match read(&self.inner.quotas).get(key) {
            Some(own) => own.quota(),
            None => *read(&self.inner.default),
        }
    }

    /// Keys tracked now. Takes every shard's lock at once: for monitoring,
    /// not for a hot path. Takes every shard's lock at once: for monitoring,
    /// not for a hot path.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let limit = herd::limit::KeyedRateLimiter::new(herd::limit::Quota::per_second(1));
    /// limit.check(&1).unwrap();
    /// limit.check(&2).unwrap();
    /// assert_eq!(limit.len(), 2);
    /// # }
    /// ```
    pub fn len(&self) -> usize {
        // Every shard held at once, for a count no insert or eviction is
        // half-way through (they hold one shard at a time).
        let shards: Vec<_> = self.inner.shards.iter().map(read).collect();
        shards.iter().map(|cells| cells.len()).sum()
    }

    /// Whether no key is tracked.
    ///
    /// # Examples
    ///
    /// ```
    /// let limit = herd::limit::KeyedRateLimiter::<u8>::new(herd::limit::Quota::per_second(1));
    /// assert!(limit.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most keys tracked at once.
    ///
    /// # Examples
    ///
    /// ```
    /// let limit = herd::limit::KeyedRateLimiter::<u8>::new(herd::limit::Quota::per_second(1));
    /// assert_eq!(limit.max_keys(), 100_000);
    /// ```
    pub fn max_keys(&self) -> usize {
        self.inner.max_keys
    }

    /// Drops every key whose bucket has refilled (it holds nothing a fresh
    /// key would not); returns how many went. Room is also made this way,
    /// one shard at a time, whenever a new key needs it.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let limit = herd::limit::KeyedRateLimiter::new(herd::limit::Quota::per_second(1));
    /// for user in 0..100 {
    ///     limit.check(&user).unwrap();
    /// }
    /// tokio::time::advance(std::time::Duration::from_secs(1)).await;
    /// assert_eq!(limit.evict_idle(), 100);
    /// assert!(limit.is_empty());
    /// # }
    /// ```
    pub fn evict_idle(&self) -> usize {
        let now = self.inner.origin.elapsed();
        let evicted = self
            .inner
            .shards
            .iter()
            .map(|shard| evict_idle(&mut write(shard), now))
            .sum();
        self.inner.count.fetch_sub(evicted, Ordering::Relaxed);
        evicted
    }

    fn hash(&self, key: &K) -> u64 {
        self.inner.hasher.hash_one(key)
    }

    /// The shard of a hash. Bits 32 and up pick it: the table inside uses
    /// the low bits for its buckets and the top seven for its tags, so
    /// keys in one shard still spread over both.
    fn shard_index(&self, hash: u64) -> usize {
        (hash >> 32) as usize % self.inner.shards.len()
    }

    fn shard(&self, hash: u64) -> &Shard<K> {
        &self.inner.shards[self.shard_index(hash)]
    }

    /// Runs `f` on `key`'s cell: its own, if it has a quota of its own;
    /// otherwise its word in the shared table, made (and room made for it)
    /// if need be.
    fn with_cell<R>(&self, key: &K, now: u64, f: impl FnOnce(Cell<'_>) -> R) -> R {
        if self.inner.quota_count.load(Ordering::Acquire) > 0
            && let Some(own) = read(&self.inner.quotas).get(key)
        {
            return f(own.cell());
        }
        let params = &self.inner.params;
        let hash = self.hash(key);
        let index = self.shard_index(hash);
        let shard = &self.inner.shards[index];
        if let Some((_, tat)) = read(shard).find(hash, |(k, _)| k == key) {
            return f(Cell { tat, params });
        }
        if self.inner.count.fetch_add(1, Ordering::Relaxed) >= self.inner.max_keys {
            self.make_room(index, now);
        }
        let mut cells = write(shard);
        let hasher = |(k, _): &(K, AtomicU64)| self.hash(k);
        let (result, made) = match cells.entry(hash, |(k, _)| k == key, hasher) {
            Entry::Occupied(entry) => (
                f(Cell {
                    tat: &entry.get().1,
                    params,
                }),
                false,
            ),
            Entry::Vacant(entry) => {
                let entry = entry.insert((key.clone(), AtomicU64::new(0)));
                (
                    f(Cell {
                        tat: &entry.get().1,
                        params,
                    }),
                    true,
                )
            }
        };
        if !made {
            // Another thread made it first; give the place back.
            self.inner.count.fetch_sub(1, Ordering::Relaxed);
        }
        result
    }

    /// Takes `key` out of the shared table; returns its word.
    fn take(&self, key: &K) -> Option<u64> {
        let hash = self.hash(key);
        let mut cells = write(self.shard(hash));
        let (_, tat) = cells.find_entry(hash, |(k, _)| k == key).ok()?.remove().0;
        self.inner.count.fetch_sub(1, Ordering::Relaxed);
        Some(tat.load(Ordering::Relaxed))
    }

    /// Frees at least one place: the idle keys of the key's own shard, or
    /// else its key closest to refilled, or, if that shard is empty, the
    /// closest in the first shard that is not.
    fn make_room(&self, preferred: usize, now: u64) {
        let shards = &self.inner.shards;
        let order = (preferred..shards.len()).chain(0..preferred);
        for index in order {
            let mut cells = write(&shards[index]);
            let mut freed = evict_idle(&mut cells, now);
            if freed == 0 {
                let closest = cells
                    .iter()
                    .min_by_key(|(_, tat)| tat.load(Ordering::Relaxed))
                    .map(|(key, _)| key.clone());
                if let Some(closest) = closest {
                    let hash = self.hash(&closest);
                    if let Ok(entry) = cells.find_entry(hash, |(k, _)| *k == closest) {
                        entry.remove();
                        freed = 1;
                    }
                }
            }
            if freed > 0 {
                self.inner.count.fetch_sub(freed, Ordering::Relaxed);
                return;
            }
        }
    }

    /// Hands a reservation back to `key`, if it is still tracked.
    fn release(&self, key: &K, reserved: &Reserved) {
        if let Some(own) = read(&self.inner.quotas).get(key) {
            own.cell().release(reserved);
            return;
        }
        let hash = self.hash(key);
        if let Some((_, tat)) = read(self.shard(hash)).find(hash, |(k, _)| k == key) {
            let params = &self.inner.params;
            Cell { tat, params }.release(reserved);
        }
    }

    fn error(&self, key: &K, denied: Denied, cost: u32) -> RateError {
        denial(denied, cost, self.quota_for(key))
    }
}

/// Drops the keys of one shard whose buckets have refilled; returns how
/// many.
fn evict_idle<K>(cells: &mut HashTable<(K, AtomicU64)>, now: u64) -> usize {
    let before = cells.len();
    cells.retain(|(_, tat)| !is_idle(tat, now));
    before - cells.len()
}

/// A key's reservation whose waiter is still asleep; dropping it before
/// the slot hands the cells back (see the direct limiter's).
struct KeyHandBack<'a, K: Hash + Eq + Clone> {
    limiter: &'a KeyedRateLimiter<K>,
    key: &'a K,
    reserved: Reserved,
    slot: tokio::time::Instant,
}

impl<K: Hash + Eq + Clone> Drop for KeyHandBack<'_, K> {
    fn drop(&mut self) {
        if tokio::time::Instant::now() < self.slot {
            self.limiter.release(self.key, &self.reserved);
        }
    }
}

impl<K> fmt::Debug for KeyedRateLimiter<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedRateLimiter")
            .field("default", &*read(&self.inner.default))
            .field("max_keys", &self.inner.max_keys)
            .finish_non_exhaustive()
    }
}
