//! # A promise pool
//!
//! **The problem.** Run one async function over a long list (a hundred
//! item IDs, a million rows) with at most `n` calls in flight, and get the
//! results back in the list's order. The list may be too long to turn into
//! futures all at once.
//!
//! **With herd.** [`pool::map`](crate::pool::map) is the promise pool's
//! `map`: it pulls inputs from a stream as slots free, runs each call on
//! its own tokio task, and yields results in input order;
//! [`all`](crate::pool::Map::all) collects them (stopping at the first
//! failure) and [`all_settled`](crate::pool::Map::all_settled) keeps every
//! outcome. A call waiting for a slot is woken the moment one frees, so the
//! schedule below is exact to the millisecond.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::time::Duration;
//! use futures::stream;
//! use tokio::time::{Instant, sleep};
//!
//! let in_flight = Arc::new(AtomicUsize::new(0));
//! let peak = Arc::new(AtomicUsize::new(0));
//! let start = Instant::now();
//!
//! let items = herd::pool::map(5, stream::iter(0..100u32), |id| {
//!     let (in_flight, peak) = (in_flight.clone(), peak.clone());
//!     async move {
//!         let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
//!         peak.fetch_max(now, Ordering::SeqCst);
//!         sleep(Duration::from_millis(10)).await; // GET /items/{id}
//!         in_flight.fetch_sub(1, Ordering::SeqCst);
//!         Ok::<_, String>(format!("item {id}"))
//!     }
//! })
//! .all()
//! .await
//! .unwrap();
//!
//! assert_eq!(items.len(), 100);
//! assert_eq!((items[0].as_str(), items[99].as_str()), ("item 0", "item 99"));
//! assert_eq!(peak.load(Ordering::SeqCst), 5);
//! // 100 calls of 10 ms, 5 at a time: 20 rounds and not a moment lost
//! // between them to polling.
//! assert_eq!(start.elapsed(), Duration::from_millis(200));
//! # }
//! ```
//!
//! The pool's other face, `add(fn)`, where callers from all over a program
//! submit work to one shared limit and each awaits its own result, is a
//! [`WorkerPool`](crate::pool::WorkerPool): [`submit`](crate::pool::WorkerPool::submit)
//! waits while its bounded queue is full and returns a handle that
//! resolves to the job's value or a [`JobError`](crate::pool::JobError).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::time::Duration;
//! use herd::pool::WorkerPool;
//! use tokio::time::{Instant, sleep};
//!
//! let pool = WorkerPool::builder().workers(5).queue(64).build();
//! let start = Instant::now();
//! let mut handles = Vec::new();
//! for n in 0..10u64 {
//!     let job = async move { sleep(Duration::from_secs(1)).await; Ok::<_, String>(n * n) };
//!     handles.push(pool.submit(job).await.unwrap());
//! }
//! let mut squares = Vec::new();
//! for handle in handles {
//!     squares.push(handle.await.unwrap());
//! }
//! assert_eq!(squares[9], 81);
//! assert_eq!(start.elapsed(), Duration::from_secs(2), "ten jobs, five workers");
//! # }
//! ```
//!
//! **The pitfall this avoids.** The guides' promise pool waits for a free
//! slot by checking a counter on a 10 ms timer: it burns wakeups while the
//! pool is busy and adds up to 10 ms of dead time to every handover (flaw 1
//! of the seeds' list). Its `map` also turns the whole list into promises
//! up front, so a million inputs mean a million pending promises. herd's
//! waiters sleep until a slot is handed to them, first come first served,
//! and `pool::map` holds at most `n` calls and `n` finished results at any
//! moment, whatever the input's length. The results are in input order,
//! not completion order (flaw 2).
//!
//! **When to use something else.** When one slow call must not hold back
//! the others' results, [`pool::map_unordered`](crate::pool::map_unordered)
//! (the ordered form keeps at most `n` results waiting behind the slow
//! one). For a few futures that borrow local data or are not `Send`,
//! [`task::at_most`](crate::task::at_most), which polls them in the current
//! task. For side effects only, [`pool::for_each`](crate::pool::for_each).
//! For CPU-heavy calls, a [`ThreadPool`](crate::pool::ThreadPool). With a
//! timeout on each call, see [`limit_and_timeout`](super::limit_and_timeout).
