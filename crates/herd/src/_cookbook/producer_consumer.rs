//! # Producer-consumer with backpressure
//!
//! **The problem.** Producers make work faster than consumers can finish
//! it. The buffer between them must stay bounded, consumers must learn that
//! no more work is coming, and someone must be able to wait until everything
//! sent has been processed, not just taken off the queue.
//!
//! **With herd.** [`queue::bounded`](crate::queue::bounded) makes a
//! multi-producer multi-consumer queue of fixed capacity. While it is full,
//! [`Sender::send`](crate::queue::Sender::send) waits, so a fast producer
//! runs at the consumers' pace instead of filling memory. Consumers loop on
//! [`Receiver::recv_tracked`](crate::queue::Receiver::recv_tracked) until it
//! returns [`RecvError::Closed`](crate::queue::RecvError::Closed). That
//! happens once every sender is dropped (or
//! [`Sender::close`](crate::queue::Sender::close) is called) and the queue is
//! drained, so no sentinel value is needed. A tracked item marks itself done
//! when it is dropped, and [`Sender::join`](crate::queue::Sender::join)
//! waits until every item sent is done.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::time::Duration;
//! use tokio::time::{Instant, sleep};
//!
//! let (tx, rx) = herd::queue::bounded::<u32>(4);
//! let handled = Arc::new(AtomicUsize::new(0));
//!
//! // Three consumers; each takes 10 ms per item.
//! let consumers: Vec<_> = (0..3)
//!     .map(|_| {
//!         let (rx, handled) = (rx.clone(), handled.clone());
//!         tokio::spawn(async move {
//!             while let Ok(job) = rx.recv_tracked().await {
//!                 sleep(Duration::from_millis(10)).await;
//!                 handled.fetch_add(1, Ordering::SeqCst);
//!                 drop(job); // done (the end of the loop body would do it too)
//!             }
//!         })
//!     })
//!     .collect();
//! drop(rx);
//!
//! // One producer of 30 items, as fast as the queue lets it.
//! let start = Instant::now();
//! for n in 0..30 {
//!     tx.send(n).await.unwrap();
//!     assert!(tx.len() <= 4, "never more than the capacity waits");
//! }
//! // The producer was held to the consumers' pace: 3 items per 10 ms.
//! assert_eq!(start.elapsed(), Duration::from_millis(80));
//!
//! tx.join().await.unwrap(); // every item handled, not only received
//! assert_eq!(handled.load(Ordering::SeqCst), 30);
//! drop(tx); // the last sender: consumers drain, see Closed, and return
//! for consumer in consumers {
//!     consumer.await.unwrap();
//! }
//! # }
//! ```
//!
//! If the consumers die, `join` says so instead of waiting forever:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let (tx, rx) = herd::queue::bounded(8);
//! for n in 0..3 {
//!     tx.send(n).await.unwrap();
//! }
//! let consumer = tokio::spawn(async move {
//!     let job = rx.recv_tracked().await.unwrap();
//!     panic!("cannot handle job {}", *job); // the guard still marks it done
//! });
//! assert!(consumer.await.unwrap_err().is_panic());
//! // The only receiver is gone, with two items never taken.
//! assert_eq!(tx.join().await, Err(herd::queue::Abandoned { unfinished: 2 }));
//! # }
//! ```
//!
//! **The pitfall this avoids.** The usual sketch ends consumers by sending a
//! `None` sentinel. It needs one per consumer, so the producer must know how
//! many there are, and a producer that fails before sending them leaves the
//! consumers waiting forever. A sentinel also takes a value away from the
//! data: `None` can no longer be sent as an item. Here closing is out of
//! band, and dropping the last sender does it, even on an error path. An
//! unbounded queue (`asyncio.Queue()` with no `maxsize`, or a plain array
//! behind an async queue class) has no backpressure at all, and memory grows
//! with the backlog. Finally, `join` hangs if an exception skips a
//! `task_done`, or if every worker has died (flaw 5 of the guides' list).
//! Here the guard marks the item done even while a panic unwinds, and
//! `join` returns [`Abandoned`](crate::queue::Abandoned) once no receiver is
//! left.
//!
//! **When to use something else.** To run jobs and get each one's result,
//! with a worker count and a graceful shutdown, use a
//! [`WorkerPool`](crate::pool::WorkerPool) (see
//! [worker pools](crate::_cookbook::worker_pools)). To drop or reject items
//! when the queue is full instead of waiting, see
//! [backpressure](crate::_cookbook::backpressure). For urgent items first,
//! use [`Builder::priority`](crate::queue::Builder::priority). For producers
//! or consumers on OS threads, use
//! [`send_blocking`](crate::queue::Sender::send_blocking) and
//! [`recv_blocking`](crate::queue::Receiver::recv_blocking) on the same
//! queue. To process one stream at most N items at a time, use
//! [`pool::for_each`](crate::pool::for_each). For Go-style close semantics,
//! see [channels](crate::_cookbook::channels).
