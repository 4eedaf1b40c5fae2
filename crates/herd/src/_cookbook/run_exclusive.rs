//! # A mutex with run-exclusive
//!
//! **The problem.** A read-modify-write on shared state that awaits in the
//! middle (read a balance, call out, write it back) loses updates when two
//! tasks interleave; and a hand-rolled "acquire, run, release" wrapper has
//! to release on every way out, errors and panics included.
//!
//! **With herd.** [`Mutex::lock`](crate::sync::Mutex::lock) returns a
//! guard; the block that holds the guard *is* the exclusive section, and
//! the lock is released when the guard is dropped: at the end of the block,
//! on an early return or `?`, or while a panic unwinds. No `run_exclusive(closure)` helper is
//! needed. The guard may be held across `.await`, and waiters are served in
//! the order they arrived. For "at most N at once" rather than one, the
//! same shape with a [`Semaphore`](crate::sync::Semaphore) permit:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::time::Duration;
//! use herd::sync::{Mutex, Semaphore};
//!
//! // One at a time: read, await, write back. No update is lost.
//! let balance = Arc::new(Mutex::named("balance", 0));
//! let deposits: Vec<_> = (0..10)
//!     .map(|_| {
//!         let balance = balance.clone();
//!         tokio::spawn(async move {
//!             let mut held = balance.lock().await;
//!             let read = *held;
//!             tokio::time::sleep(Duration::from_millis(5)).await; // a call out
//!             *held = read + 10;
//!         }) // `held` is dropped here: the lock goes to the next in line
//!     })
//!     .collect();
//! for deposit in deposits {
//!     deposit.await.unwrap();
//! }
//! assert_eq!(*balance.lock().await, 100);
//!
//! // An early return releases the lock too.
//! async fn withdraw(balance: &Mutex<i64>, amount: i64) -> Result<(), &'static str> {
//!     let mut held = balance.lock().await;
//!     if *held < amount {
//!         return Err("overdrawn"); // the guard is dropped on the way out
//!     }
//!     *held -= amount;
//!     Ok(())
//! }
//! assert_eq!(withdraw(&balance, 500).await, Err("overdrawn"));
//! assert!(balance.try_lock().is_some(), "released on the error path");
//!
//! // So does a panic: the next caller gets the lock (herd's locks do not poison).
//! # let hook = std::panic::take_hook();
//! # std::panic::set_hook(Box::new(|_| {})); // keep the test's output quiet
//! let panics = tokio::spawn({
//!     let balance = balance.clone();
//!     async move {
//!         let _held = balance.lock().await;
//!         panic!("bug while holding the lock");
//!     }
//! });
//! assert!(panics.await.is_err());
//! # std::panic::set_hook(hook);
//! assert_eq!(*balance.lock().await, 100);
//!
//! // At most two at once: the permit is the exclusive section.
//! let connections = Arc::new(Semaphore::named("db connections", 2));
//! let (now, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
//! let queries: Vec<_> = (0..6)
//!     .map(|_| {
//!         let (connections, now, peak) = (connections.clone(), now.clone(), peak.clone());
//!         tokio::spawn(async move {
//!             let _permit = connections.acquire().await.unwrap();
//!             peak.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
//!             tokio::time::sleep(Duration::from_millis(10)).await;
//!             now.fetch_sub(1, Ordering::SeqCst);
//!         })
//!     })
//!     .collect();
//! let start = tokio::time::Instant::now();
//! for query in queries {
//!     query.await.unwrap();
//! }
//! assert_eq!(peak.load(Ordering::SeqCst), 2);
//! // Three rounds of two: each waiter woke the moment a permit came back.
//! assert_eq!(start.elapsed(), Duration::from_millis(30));
//! assert_eq!(connections.available_permits(), 2);
//! # }
//! ```
//!
//! On threads, the same lock is taken with
//! [`lock_blocking`](crate::sync::Mutex::lock_blocking); one `Mutex` can
//! serve tasks and threads at once.
//!
//! **The pitfall this avoids.** Without the lock, two tasks read the same
//! balance and both write "read + 10": one deposit vanishes. A hand-rolled
//! mutex or semaphore with an explicit `release()` leaks the lock on any
//! path that skips it, and a second `release()` mints a permit that never
//! existed; a guard cannot be released twice or forgotten on an early
//! return. In one guide's mutex, unlocking clears a flag and wakes a
//! waiter, but a caller arriving before that waiter runs takes the lock
//! first, and the woken waiter goes back to the end of the line; herd
//! hands the lock straight to the first waiter, so nobody is overtaken.
//! Waiting is not polling either: a waiter is woken exactly when the lock
//! or a permit comes back (flaw 1 of the seeds' README).
//!
//! **When to use something else.** Short critical sections touched only
//! by threads, never across `.await`: `std::sync::Mutex`. A single counter
//! or flag: an atomic (see [compare-and-swap](super::compare_and_swap)).
//! Data read far more than written: [`RwLock`](crate::sync::RwLock) (see
//! [the read-write lock](super::read_write_lock)). To bound how many tasks
//! run at once, a scope's limit
//! ([`ScopeBuilder::limit`](crate::task::ScopeBuilder::limit)) or
//! [`task::at_most`](crate::task::at_most) instead of permits taken by
//! hand. A wait that must give up:
//! [a timeout on acquisition](super::acquire_timeout).
