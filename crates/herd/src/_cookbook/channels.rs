//! # Go-style channels with close
//!
//! **The problem.** Go's channels connect goroutines with a buffer, a way
//! for the sender to say "no more" (`close`), and a receive that reports
//! whether the channel is still open (`v, ok := <-ch`). A copy of this in
//! another language has to handle close correctly: a sender blocked on a
//! full channel must wake up, and a receiver must be able to tell "closed"
//! apart from a value.
//!
//! **With herd.** [`queue::bounded`](crate::queue::bounded) is that channel,
//! with many senders and many receivers:
//!
//! | Go | herd |
//! | --- | --- |
//! | `ch := make(chan T, n)` | `let (tx, rx) = herd::queue::bounded::<T>(n);` |
//! | `ch <- v` | `tx.send(v).await` |
//! | `v, ok := <-ch` | `rx.recv().await`: `Ok(v)`, or `Err(RecvError::Closed)` |
//! | `for v := range ch` | `while let Ok(v) = rx.recv().await`, or `rx` as a `Stream` |
//! | `close(ch)` | [`tx.close()`](crate::queue::Sender::close), or drop every sender |
//! | `select` | `tokio::select!` over `recv()`, which is cancel-safe |
//!
//! [`close`](crate::queue::Sender::close) wakes every waiter at once.
//! Blocked senders fail with
//! [`SendError::Closed`](crate::queue::SendError::Closed), which carries
//! their item. Receivers first drain what is buffered, then get
//! [`RecvError::Closed`](crate::queue::RecvError::Closed), an error and
//! never a value.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use herd::queue::{RecvError, SendError};
//!
//! // `None` is a value here, to show it is never mistaken for "closed".
//! let (tx, rx) = herd::queue::bounded::<Option<u32>>(2);
//! tx.send(Some(1)).await.unwrap();
//! tx.send(None).await.unwrap();
//! let blocked = tokio::spawn({
//!     let tx = tx.clone();
//!     async move { tx.send(Some(3)).await } // full: waits for room
//! });
//! tokio::task::yield_now().await;
//! assert!(!blocked.is_finished());
//!
//! assert!(tx.close());
//! assert!(!tx.close(), "closing twice is not an error, only a no");
//! assert_eq!(blocked.await.unwrap(), Err(SendError::Closed(Some(3))), "woken, item back");
//! assert_eq!(rx.recv().await, Ok(Some(1)), "buffered items still drain");
//! assert_eq!(rx.recv().await, Ok(None));
//! assert_eq!(rx.recv().await, Err(RecvError::Closed));
//! assert_eq!(tx.send(Some(4)).await, Err(SendError::Closed(Some(4))));
//! # }
//! ```
//!
//! In a `select`, the branch that loses takes nothing from the channel:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let (tx, rx) = herd::queue::bounded(4);
//! let stop = herd::task::CancelToken::new();
//! tx.send("job").await.unwrap();
//! stop.cancel("shutting down");
//! tokio::select! {
//!     biased;
//!     _ = stop.cancelled() => {}
//!     _ = rx.recv() => unreachable!("stop was first"),
//! }
//! assert_eq!(rx.try_recv(), Ok("job"), "the dropped recv lost no item");
//! # }
//! ```
//!
//! **The pitfall this avoids.** This is flaw 9 of the guides' list. Their
//! channel's `close` resolves waiting receivers with `undefined` and leaves
//! blocked senders waiting forever, and a receiver cannot tell that
//! `undefined` from a value that was sent. Here close wakes every waiter
//! with a definite outcome, buffered items still drain, and "closed" is a
//! separate error variant. herd also differs from Go in three ways. Sending
//! on a closed channel, or closing one twice, returns an error or `false`
//! instead of panicking. A receiver may close the channel too, and dropping
//! the last receiver closes it, so producers stop instead of filling a
//! channel nobody reads. And there is no unbuffered channel: the capacity
//! must be at least 1. `bounded(1)` lets a sender get one item ahead of its
//! receiver, and a `tokio::sync::oneshot` covers a single handoff.
//!
//! **When to use something else.** To give every receiver every item, use
//! `tokio::sync::broadcast`. To publish only the latest value, use
//! `tokio::sync::watch`. To order items by priority, use
//! [`Builder::priority`](crate::queue::Builder::priority). To drop or
//! reject items when the channel is full, use an
//! [`Overflow`](crate::queue::Overflow) policy (see
//! [backpressure](crate::_cookbook::backpressure)). To wait until every
//! item has been processed, see
//! [producer-consumer](crate::_cookbook::producer_consumer).
