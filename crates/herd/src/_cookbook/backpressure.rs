//! # The three backpressure choices: block, drop, rate
//!
//! **The problem.** When a producer outruns its consumer, the backlog has to
//! go somewhere. You can make the producer wait, you can throw items away
//! (the oldest or the newest), or you can slow the producer to a rate. The
//! wrong default is a queue with no limit, which turns a slow consumer into
//! growing memory.
//!
//! **With herd.** Every queue has a capacity. What a full queue does is set
//! once on [`queue::Builder`](crate::queue::Builder), with an
//! [`Overflow`](crate::queue::Overflow) policy:
//!
//! - [`Block`](crate::queue::Overflow::Block) (the default) makes the sender
//!   wait for room. This is backpressure proper: nothing is lost, and the
//!   producer slows down. [`send_timeout`](crate::queue::Sender::send_timeout)
//!   gives up after a while and returns the item.
//! - [`DropOldest`](crate::queue::Overflow::DropOldest) queues the new item
//!   and evicts the oldest, which suits the latest readings or status. The
//!   evicted item comes back as
//!   [`Sent::Evicted`](crate::queue::Sent::Evicted).
//! - [`DropNewest`](crate::queue::Overflow::DropNewest) keeps what is queued
//!   and returns the new item as
//!   [`Sent::Dropped`](crate::queue::Sent::Dropped).
//! - [`Reject`](crate::queue::Overflow::Reject) fails the send with
//!   [`SendError::Full`](crate::queue::SendError::Full), carrying the item,
//!   so the caller can answer "busy" (an HTTP 503, say).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::time::Duration;
//! use herd::queue::{Builder, Overflow, SendError, Sent};
//!
//! // Block: a full queue holds the sender; a timeout hands the item back.
//! let (tx, _rx) = Builder::new(2).build();
//! tx.send(1).await.unwrap();
//! tx.send(2).await.unwrap();
//! let late = tx.send_timeout(3, Duration::from_millis(50)).await;
//! assert_eq!(late, Err(SendError::TimedOut(3)));
//!
//! // Drop oldest: keep the three latest readings, and see what was evicted.
//! let (tx, rx) = Builder::new(3).overflow(Overflow::DropOldest).build();
//! let mut evicted = Vec::new();
//! for reading in 1..=5 {
//!     if let Sent::Evicted(old) = tx.send(reading).await.unwrap() {
//!         evicted.push(old);
//!     }
//! }
//! assert_eq!(evicted, [1, 2]);
//! assert_eq!([rx.try_recv(), rx.try_recv(), rx.try_recv()], [Ok(3), Ok(4), Ok(5)]);
//!
//! // Drop newest: what is queued stays; the newcomer comes back.
//! let (tx, _rx) = Builder::new(1).overflow(Overflow::DropNewest).build();
//! assert_eq!(tx.send("first").await, Ok(Sent::Queued));
//! assert_eq!(tx.send("second").await, Ok(Sent::Dropped("second")));
//!
//! // Reject: the send fails, and the item is in the error.
//! let (tx, _rx) = Builder::new(1).overflow(Overflow::Reject).build();
//! tx.send("a").await.unwrap();
//! assert_eq!(tx.send("b").await, Err(SendError::Full("b")));
//! # }
//! ```
//!
//! The third choice sets the producer's pace, not the queue's. A
//! [`RateLimiter`](crate::limit::RateLimiter) in front of the send spaces
//! items evenly, and the queue behind it never has to fill up:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::time::Duration;
//! use herd::limit::{Quota, RateLimiter};
//!
//! let (tx, rx) = herd::queue::bounded(100);
//! let rate = RateLimiter::new(Quota::per_second(10).burst(1)); // one per 100 ms
//! let start = tokio::time::Instant::now();
//! for n in 0..5 {
//!     rate.acquire().await.unwrap();
//!     tx.send(n).await.unwrap();
//! }
//! assert_eq!(start.elapsed(), Duration::from_millis(400));
//! assert_eq!(rx.len(), 5);
//! # }
//! ```
//!
//! **The pitfall this avoids.** The guides name all three choices but show
//! only the first, or a loop that sends fixed batches and waits for the
//! slowest item of each batch before starting the next one. Hand-written
//! drop policies usually discard in silence, so nobody can count the
//! losses or put the items somewhere else. Here every send reports what
//! happened: `Queued`, `Evicted(old)`, `Dropped(new)` or an error carrying
//! the item, and dropped items are not counted as outstanding work by
//! [`Sender::join`](crate::queue::Sender::join). When you rate-limit work
//! that also has a concurrency limit, do not sleep for the rate while
//! holding a concurrency permit (flaw 10):
//! [`limit::Limiter`](crate::limit::Limiter) waits for the rate first and
//! only then takes a permit.
//!
//! **When to use something else.** For the full producer-consumer loop with
//! `join`, see [producer-consumer](crate::_cookbook::producer_consumer). A
//! [`WorkerPool`](crate::pool::WorkerPool) already blocks in `submit` and
//! refuses in `try_submit` when its queue is full. To process a large input
//! in batches with a bound on memory, use
//! [`pool::chunks`](crate::pool::chunks) with
//! [`pool::for_each`](crate::pool::for_each). For quotas per host or per
//! user, use [`KeyedRateLimiter`](crate::limit::KeyedRateLimiter). To run
//! once per burst of events instead of queueing each one, see
//! [debounce and throttle](crate::_cookbook::debounce_throttle).
