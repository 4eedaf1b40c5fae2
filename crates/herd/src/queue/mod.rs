//! Queues with backpressure: producers and consumers, async or on threads,
//! that never hang on a closed queue and never lose an item silently.
//!
//! [`bounded`] (or [`Builder`]) makes a multi-producer multi-consumer queue
//! of fixed capacity. Senders and receivers are cloneable; each item goes
//! to one receiver. What a full queue does is chosen once, by [`Overflow`]:
//! wait (backpressure), drop the oldest, drop the newest, or reject; a
//! sender always learns which, and gets back any item not queued.
//!
//! Closing is explicit ([`Sender::close`], [`Receiver::close`]) or happens
//! when the last sender or the last receiver is dropped. Waiting senders
//! then fail at once with their items; receivers drain what is queued and
//! then get [`RecvError::Closed`], which is never confused with an item.
//!
//! A priority queue has the same face: [`Builder::priority`] (or
//! [`Builder::priority_by`]) makes one whose greatest items come out first,
//! and equal ones first in first out.
//!
//! For work accounting as in `asyncio.Queue`, [`Sender::join`] waits until
//! every item sent has been marked done, by [`Receiver::recv_tracked`]'s
//! guard (which marks it even if the worker panics) or [`Receiver::done`].
//!
//! Every operation comes as a future, a blocking call for threads, a
//! `try_` form, and with a timeout; the receiver is also a `Stream`, and
//! [`Sender::into_sink`] makes a sender a `Sink`.
//!
//! On tokio, every send and receive that completes (and every item a sink
//! takes) uses one unit of the task's cooperative budget, as tokio's own
//! channels do. A loop over a queue that always has items or room never
//! waits, so without it the loop would keep its worker thread, and the
//! tasks and timers queued there, until it ended; with it the loop yields
//! every so often, and another task waits a fraction of a millisecond for
//! its turn instead of the whole loop (BENCHMARKS.md, `stall_mpmc_4_4`).
//! The budget has a price where nothing else waits: a queue that must
//! not pay it is built with [`Builder::cooperative`]`(false)`, and one loop
//! can opt out with `tokio::task::coop::unconstrained`. Outside tokio
//! nothing changes.
//!
//! When to use something else: to hand one value to one task, a
//! `tokio::sync::oneshot`; to broadcast every item to every receiver,
//! `tokio::sync::broadcast`; to run jobs with a worker count, a result per
//! job and a graceful shutdown, a [`WorkerPool`](crate::pool::WorkerPool) rather than a queue and
//! workers by hand.
//!
//! # Examples
//!
//! Producers and consumers with backpressure, and `join` to wait for the
//! work:
//!
//! ```
//! # #[tokio::main]
//! # async fn main() {
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU64, Ordering};
//!
//! let (tx, rx) = herd::queue::Builder::new(8).name("jobs").build();
//! let total = Arc::new(AtomicU64::new(0));
//! let workers: Vec<_> = (0..3)
//!     .map(|_| {
//!         let (rx, total) = (rx.clone(), total.clone());
//!         tokio::spawn(async move {
//!             while let Ok(job) = rx.recv_tracked().await {
//!                 total.fetch_add(*job, Ordering::SeqCst);
//!             }
//!         })
//!     })
//!     .collect();
//! for n in 1..=100u64 {
//!     tx.send(n).await.unwrap(); // waits while 8 are queued
//! }
//! tx.join().await.unwrap();
//! assert_eq!(total.load(Ordering::SeqCst), 5050);
//! drop(tx); // closes the queue: the workers see Closed and stop
//! for worker in workers {
//!     worker.await.unwrap();
//! }
//! # }
//! ```

mod channel;
#[cfg(all(test, loom))]
mod loom_tests;
mod ring;
mod sink;
mod store;
mod wait_set;

pub use channel::{
    Abandoned, Builder, Join, Overflow, PriorityBuilder, Receiver, RecvError, RecvFuture,
    SendError, SendFuture, Sender, Sent, Tracked, bounded,
};
pub use sink::SendSink;
