//! `SingleFlight`: concurrent calls for one key share one computation.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared, WeakShared};

use crate::loom::{Mutex, lock};
use crate::pool::panic_message;

/// A computation: its result, or the message of its panic.
type Work<T, E> = BoxFuture<'static, Result<Result<T, E>, String>>;

/// A computation in flight, shared by its callers.
type Flight<T, E> = Shared<Work<T, E>>;

/// Deduplicates concurrent work by key: while a call for a key is in
/// flight, every other call for that key waits for it and gets a clone of
/// its result, instead of starting its own (the cache-stampede fix, Go's
/// `singleflight`).
///
/// Nothing is cached: once a computation ends, the next call for its key
/// starts a new one, so an error is never served twice. Calls for
/// different keys never wait on each other. The computation runs inside
/// whichever of its callers is being polled, and lives exactly as long as
/// one of them waits: if the first caller is cancelled the others carry it
/// on; if all are cancelled it is dropped, and the next call starts afresh.
/// A panic in the computation panics every caller waiting on it, with the
/// same message.
///
/// `T` and `E` are cloned for each caller; wrap large values in an `Arc`.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::time::Duration;
/// use herd::resilience::SingleFlight;
///
/// let flights = SingleFlight::new();
/// let loads = AtomicU32::new(0);
/// let load = || {
///     loads.fetch_add(1, Ordering::SeqCst);
///     async {
///         tokio::time::sleep(Duration::from_millis(20)).await; // a slow query
///         Ok::<_, String>("user 42")
///     }
/// };
/// let (a, b, c) = tokio::join!(
///     flights.run("user:42", load),
///     flights.run("user:42", load),
///     flights.run("user:42", load),
/// );
/// assert_eq!((a, b, c), (Ok("user 42"), Ok("user 42"), Ok("user 42")));
/// assert_eq!(loads.load(Ordering::SeqCst), 1, "one load for three callers");
/// # }
/// ```
pub struct SingleFlight<K, T, E> {
    flights: Mutex<HashMap<K, WeakShared<Work<T, E>>>>,
}

impl<K, T, E> SingleFlight<K, T, E>
where
    K: Hash + Eq + Clone,
    T: Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + 'static,
{
    /// An empty set of flights.
    ///
    /// # Examples
    ///
    /// ```
    /// let flights = herd::resilience::SingleFlight::<String, u32, ()>::new();
    /// assert_eq!(flights.in_flight(), 0);
    /// ```
    pub fn new() -> SingleFlight<K, T, E> {
        SingleFlight {
            flights: Mutex::new(HashMap::new()),
        }
    }

    /// Runs `work` for `key`, or joins the run already in flight for it.
    ///
    /// `work` is called under the lock that finds the key's flight, only to
    /// make the future: keep it to that, and do the work inside the future,
    /// or a slow `work` delays other keys' lookups.
    ///
    /// # Errors
    ///
    /// The computation's error, cloned to every caller that shared it.
    ///
    /// # Panics
    ///
    /// If the shared computation panicked, with its message.
    ///
    /// # Cancel safety
    ///
    /// Dropping one caller's future leaves the computation to the others;
    /// dropping the last one drops the computation.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let flights = herd::resilience::SingleFlight::new();
    /// assert_eq!(flights.run(1, || async { Err::<(), _>("down") }).await, Err("down"));
    /// // Not cached: the next call runs again.
    /// assert_eq!(flights.run(1, || async { Ok::<_, &str>(()) }).await, Ok(()));
    /// # }
    /// ```
    pub async fn run<F, Fut>(&self, key: K, work: F) -> Result<T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let _tidy = Tidy {
            flights: self,
            key: &key,
        };
        let flight: Flight<T, E> = {
            let mut flights = lock(&self.flights);
            match flights.get(&key).and_then(WeakShared::upgrade) {
                Some(flight) => flight,
                None => {
                    let fresh = AssertUnwindSafe(work())
                        .catch_unwind()
                        .map(|outcome| outcome.map_err(panic_message))
                        .boxed()
                        .shared();
                    let weak = fresh.downgrade().expect("a fresh flight has not finished");
                    flights.insert(key.clone(), weak);
                    fresh
                }
            }
        };
        match flight.await {
            Ok(result) => result,
            Err(message) => panic!("{message}"),
        }
    }

    /// How many keys have a computation in flight (or one whose last
    /// caller is leaving).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let flights = herd::resilience::SingleFlight::<u8, (), ()>::new();
    /// flights.run(1, || async { Ok(()) }).await.unwrap();
    /// assert_eq!(flights.in_flight(), 0, "nothing outlives its callers");
    /// # }
    /// ```
    pub fn in_flight(&self) -> usize {
        lock(&self.flights).len()
    }
}

/// Removes a key's entry when its computation is over or has no caller
/// left; runs when a caller returns or is dropped.
struct Tidy<'a, K: Hash + Eq, T, E> {
    flights: &'a SingleFlight<K, T, E>,
    key: &'a K,
}

impl<K: Hash + Eq, T, E> Drop for Tidy<'_, K, T, E> {
    fn drop(&mut self) {
        let mut flights = lock(&self.flights.flights);
        let over = flights
            .get(self.key)
            .is_some_and(|weak| match weak.upgrade() {
                // Another caller still waits on an unfinished computation.
                Some(flight) => flight.peek().is_some(),
                None => true,
            });
        if over {
            flights.remove(self.key);
        }
    }
}

impl<K, T, E> Default for SingleFlight<K, T, E>
where
    K: Hash + Eq + Clone,
    T: Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + 'static,
{
    fn default() -> Self {
        SingleFlight::new()
    }
}

impl<K, T, E> fmt::Debug for SingleFlight<K, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SingleFlight")
            .field("in_flight", &lock(&self.flights).len())
            .finish()
    }
}
