//! # A timeout on acquisition
//!
//! **The problem.** A wait for a lock or a permit with no bound turns any
//! mistake elsewhere (a holder stuck on a slow call, a leaked guard, a
//! deadlock) into a caller that hangs forever. Every wait should be able
//! to give up, say what it gave up on, and leave the lock as it found it.
//!
//! **With herd.** Every lock and semaphore in [`sync`](crate::sync) has
//! `_timeout` forms on tokio's clock (so do the waits of
//! [`Event`](crate::sync::Event), [`Notify`](crate::sync::Notify) and
//! [`Barrier`](crate::sync::Barrier)):
//! [`Mutex::lock_timeout`](crate::sync::Mutex::lock_timeout),
//! [`RwLock::read_timeout`](crate::sync::RwLock::read_timeout) and
//! [`write_timeout`](crate::sync::RwLock::write_timeout),
//! [`Semaphore::acquire_timeout`](crate::sync::Semaphore::acquire_timeout)
//! and [`acquire_many_timeout`](crate::sync::Semaphore::acquire_many_timeout);
//! threads have the `_blocking_timeout` forms. A wait that runs out
//! returns [`AcquireError::TimedOut`](crate::sync::AcquireError::TimedOut),
//! naming the resource and how long it waited, and leaves the line: the
//! waiters behind it move up and nothing is held on its behalf.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use herd::sync::{AcquireError, Mutex, Semaphore};
//! use tokio::time::{Instant, sleep};
//!
//! let ledger = Arc::new(Mutex::named("ledger", 0));
//! let held = ledger.lock().await; // a holder that will take a while
//!
//! let start = Instant::now();
//! let err = ledger.lock_timeout(Duration::from_secs(5)).await.unwrap_err();
//! assert!(matches!(err, AcquireError::TimedOut { .. }));
//! assert_eq!(err.to_string(), "timed out after 5s waiting for Mutex \"ledger\"");
//! assert_eq!(start.elapsed(), Duration::from_secs(5));
//!
//! // A waiter that gives up does not hold up the ones behind it.
//! let impatient = tokio::spawn({
//!     let ledger = ledger.clone();
//!     async move { ledger.lock_timeout(Duration::from_secs(1)).await.map(|mut l| *l += 10) }
//! });
//! sleep(Duration::from_millis(1)).await; // `impatient` is first in line
//! let patient = tokio::spawn({
//!     let ledger = ledger.clone();
//!     async move { *ledger.lock().await += 1 }
//! });
//! sleep(Duration::from_secs(2)).await;
//! assert!(impatient.await.unwrap().is_err());
//! drop(held);
//! patient.await.unwrap();
//! assert_eq!(*ledger.lock().await, 1);
//!
//! // A semaphore wait for several permits that times out takes none of them.
//! let memory = Semaphore::named("memory MiB", 512);
//! let big = memory.acquire_many(400).await.unwrap();
//! let err = memory.acquire_many_timeout(200, Duration::from_millis(50)).await.unwrap_err();
//! assert_eq!(err.resource().name(), Some("memory MiB"));
//! assert_eq!(memory.available_permits(), 112, "nothing set aside was kept");
//! drop(big);
//!
//! // To bound the whole critical section, not only the wait, wrap it.
//! let bounded = herd::task::timeout(Duration::from_secs(1), async {
//!     let mut l = ledger.lock().await;
//!     sleep(Duration::from_secs(3)).await; // a slow call made while holding it
//!     *l += 100;
//! });
//! assert!(bounded.await.is_err());
//! assert_eq!(*ledger.try_lock().unwrap(), 1, "the guard was dropped, the write never made");
//! # }
//! ```
//!
//! The plain futures ([`lock`](crate::sync::Mutex::lock),
//! [`acquire`](crate::sync::Semaphore::acquire), ...) are cancel-safe, so
//! [`task::timeout`](crate::task::timeout), `tokio::select!`, or a
//! scope's [deadline](crate::task::ScopeBuilder::timeout) can drop them
//! too: a lock handed to a waiter in the instant it was dropped passes to
//! the next in line.
//!
//! **The pitfall this avoids.** The guide's TypeScript version races the
//! acquisition against a timer. The timer wins, the caller moves on, but
//! the acquisition is still queued; when it later succeeds, it takes the
//! lock for a caller that has gone, and nobody ever releases it. The
//! timeout turns a hang now into a hang later. Dropping a herd wait takes
//! it out of the line, or hands on what it was given. The Python version
//! raises every timeout as a deadlock error; a herd timeout says only
//! which resource it waited for and for how long, and with
//! [diagnostics](crate::diag) on, a real deadlock is refused at once as
//! [`AcquireError::Deadlock`](crate::sync::AcquireError::Deadlock) rather
//! than after the timeout (see [deadlock detection](super::deadlock_detection)).
//!
//! **When to use something else.** Not waiting at all:
//! [`try_lock`](crate::sync::Mutex::try_lock) and the other `try_` forms,
//! which fail while others wait rather than jump the line. A time budget
//! for a whole request: a [`Scope`](crate::task::Scope) with a
//! [`timeout`](crate::task::ScopeBuilder::timeout), which cancels every
//! wait inside it. Finding out *why* a wait ran long: a
//! [`Stalled`](crate::diag::Stalled) report names the holder and what it
//! is doing (see [the debugging table](super::debugging)).
