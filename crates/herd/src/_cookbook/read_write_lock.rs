//! # A read-write lock
//!
//! **The problem.** Data read constantly and written now and then (a
//! routing table, a config) should let readers in together, while a
//! writer gets it alone; and the writer must not wait forever behind a
//! steady stream of readers.
//!
//! **With herd.** [`RwLock`](crate::sync::RwLock) admits any number of
//! readers or one writer, first-in first-out across both: a reader that
//! arrives after a waiting writer queues behind it, so the writer waits
//! only for the readers already inside. The readers queued behind the
//! writer then go in together.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use herd::sync::RwLock;
//! use tokio::time::{Instant, sleep};
//!
//! let routes = Arc::new(RwLock::named("routes", vec!["/a"]));
//!
//! // Readers share the lock.
//! let one = routes.read().await;
//! let two = routes.read().await;
//! assert_eq!(one.len() + two.len(), 2);
//! drop(two);
//!
//! // A writer arrives while `one` reads; it waits.
//! let writer = tokio::spawn({
//!     let routes = routes.clone();
//!     async move { routes.write().await.push("/b") }
//! });
//! sleep(Duration::from_millis(1)).await; // the writer is now in line
//!
//! // A reader arriving now does not slip past the writer...
//! assert!(routes.try_read().is_none(), "a waiting writer holds new readers back");
//! let late_reader = tokio::spawn({
//!     let routes = routes.clone();
//!     async move { routes.read().await.len() }
//! });
//! // ...so once the reader inside leaves, the writer goes first,
//! drop(one);
//! writer.await.unwrap();
//! // and the late reader sees the write.
//! assert_eq!(late_reader.await.unwrap(), 2);
//!
//! // A steady stream of overlapping readers, each reading for 10 ms, one
//! // starting every 5 ms: there is never a moment with no reader inside.
//! let readers: Vec<_> = (0..40u64)
//!     .map(|i| {
//!         let routes = routes.clone();
//!         tokio::spawn(async move {
//!             sleep(Duration::from_millis(5 * i)).await;
//!             let _reading = routes.read().await;
//!             sleep(Duration::from_millis(10)).await;
//!         })
//!     })
//!     .collect();
//! sleep(Duration::from_millis(50)).await;
//! let asked = Instant::now();
//! routes.write().await.push("/c");
//! // The writer waited only for the readers inside when it asked (10 ms at
//! // most), not for the readers still to come.
//! assert!(asked.elapsed() <= Duration::from_millis(10));
//! for reader in readers {
//!     reader.await.unwrap();
//! }
//! assert_eq!(*routes.read().await, ["/a", "/b", "/c"]);
//! # }
//! ```
//!
//! Threads use the same lock through
//! [`read_blocking`](crate::sync::RwLock::read_blocking) and
//! [`write_blocking`](crate::sync::RwLock::write_blocking):
//!
//! ```
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use herd::sync::RwLock;
//!
//! let table = RwLock::named("table", 0u64);
//! let written = AtomicBool::new(false);
//! std::thread::scope(|s| {
//!     for _ in 0..4 {
//!         // Readers that never stop on their own.
//!         s.spawn(|| while !written.load(Ordering::Acquire) {
//!             let _reading = table.read_blocking();
//!         });
//!     }
//!     s.spawn(|| {
//!         *table.write_blocking() += 1; // served despite the readers
//!         written.store(true, Ordering::Release);
//!     });
//! });
//! assert_eq!(*table.read_blocking(), 1);
//! ```
//!
//! **The pitfall this avoids.** The guide's lock counts readers and lets a
//! writer in only when the count reaches zero, and readers never check for
//! a waiting writer: with overlapping readers the count never reaches
//! zero, and the writer starves (flaw 7 of the seeds' README). herd's
//! writer is served in bounded time: it waits for the readers ahead of it,
//! never for those behind.
//!
//! **When to use something else.** Writes about as common as reads, or
//! short critical sections: a [`Mutex`](crate::sync::Mutex) is simpler
//! and as fast. A value replaced wholesale and read very often: readers
//! take an `Arc` snapshot and read it with no lock held, while writers
//! swap in a new one (see
//! [copy-on-write](super::copy_on_write)). Data touched only by threads,
//! never across `.await`: `std::sync::RwLock`. A read that must not wait
//! long: [`read_timeout`](crate::sync::RwLock::read_timeout) (see
//! [a timeout on acquisition](super::acquire_timeout)).
