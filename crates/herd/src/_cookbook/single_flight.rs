//! # A single-flight cache
//!
//! **The problem.** A cache in front of a slow load (a database row, a
//! remote config). When a popular key is missing, a hundred requests miss
//! at once and each starts the same load (a stampede); guard the cache with
//! one lock held across the load and every key waits for every other.
//!
//! **With herd.** [`SingleFlight`](crate::resilience::SingleFlight) makes
//! concurrent calls for one key share one computation, and lets calls for
//! different keys run independently. It caches nothing itself, so pair it
//! with a store: a plain map behind a std `Mutex` held only for a lookup or
//! an insert, never across an `.await`. A miss goes through the flight,
//! which checks the store once more (a flight starting just after another
//! one stored the value finds it there) and stores what it loads.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::collections::HashMap;
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use herd::resilience::SingleFlight;
//! use tokio::time::{Instant, sleep};
//!
//! static LOADS: AtomicU32 = AtomicU32::new(0);
//!
//! async fn load(key: String) -> Result<Arc<str>, String> {
//!     LOADS.fetch_add(1, Ordering::SeqCst);
//!     sleep(Duration::from_millis(if key == "slow" { 1000 } else { 10 })).await;
//!     if key == "broken" { Err(format!("{key}: row is locked")) } else { Ok(format!("value of {key}").into()) }
//! }
//!
//! #[derive(Default)]
//! struct Cache {
//!     values: Arc<Mutex<HashMap<String, Arc<str>>>>,
//!     flights: SingleFlight<String, Arc<str>, String>,
//! }
//!
//! impl Cache {
//!     async fn get(&self, key: &str) -> Result<Arc<str>, String> {
//!         let hit = self.values.lock().unwrap().get(key).cloned();
//!         if let Some(value) = hit {
//!             return Ok(value);
//!         }
//!         let (values, key) = (self.values.clone(), key.to_string());
//!         self.flights
//!             .run(key.clone(), move || async move {
//!                 let hit = values.lock().unwrap().get(&key).cloned();
//!                 if let Some(value) = hit {
//!                     return Ok(value);
//!                 }
//!                 let value = load(key.clone()).await?;
//!                 values.lock().unwrap().insert(key, value.clone());
//!                 Ok(value)
//!             })
//!             .await
//!     }
//! }
//!
//! let cache = Cache::default();
//! let start = Instant::now();
//! let (a, b, c, (quick, quick_at)) = tokio::join!(
//!     cache.get("slow"),
//!     cache.get("slow"),
//!     cache.get("slow"),
//!     async { (cache.get("quick").await, start.elapsed()) },
//! );
//! assert_eq!((a.as_deref(), b.as_deref(), c.as_deref()), (Ok("value of slow"), Ok("value of slow"), Ok("value of slow")));
//! assert_eq!(LOADS.load(Ordering::SeqCst), 2, "one load for three callers of one key, one for the other");
//! assert_eq!(quick.as_deref(), Ok("value of quick"));
//! assert_eq!(quick_at, Duration::from_millis(10), "a different key never waits for the slow one");
//!
//! assert!(cache.get("slow").await.is_ok());
//! assert_eq!(LOADS.load(Ordering::SeqCst), 2, "now a cache hit");
//!
//! // Errors are shared by the callers of one flight but never stored:
//! // the next call loads again.
//! assert!(cache.get("broken").await.is_err());
//! assert!(cache.get("broken").await.is_err());
//! assert_eq!(LOADS.load(Ordering::SeqCst), 4);
//! # }
//! ```
//!
//! **The pitfall this avoids.** The guides' `AsyncSafeCache.get_or_set`
//! awaits the factory while holding the cache's one lock: a slow load for
//! one key blocks reads and loads of every other key, hits included, and
//! the lock turns a concurrent cache into a serial one (flaw 8 of the
//! seeds' list). Dropping the lock fixes that but lets every concurrent
//! miss start its own load. Here the lock guards only the map, for the
//! length of a lookup; the wait happens in the shared flight, which is per
//! key. If the first caller is cancelled, the others carry the flight on;
//! an error is handed to everyone who shared the flight and then
//! forgotten, so a failure is never served from the cache.
//!
//! **When to use something else.** One value made once for the whole
//! program (a client, a config): [`sync::OnceCell`](crate::sync::OnceCell)
//! (see [`singleton`](super::singleton)). Expiry, size bounds or eviction:
//! a caching crate, with `SingleFlight` in front of its loads if it does
//! not coalesce them itself. A map read far more often than written:
//! [`sync::RwLock`](crate::sync::RwLock) in place of the `Mutex` (see
//! [`read_write_lock`](super::read_write_lock)).
