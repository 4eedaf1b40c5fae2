//! # Debounce and throttle
//!
//! **The problem.** Some events arrive in bursts: keystrokes in a search
//! box, window resizes, edits to a document that should be saved. Running
//! the handler for every one wastes work. *Debounce* runs it once the burst
//! has been quiet for a while. *Throttle* runs it at most once per interval
//! while the burst goes on. Either way, the last event must not be lost.
//!
//! **With herd.** [`resilience::Debounce`](crate::resilience::Debounce) and
//! [`resilience::throttle`](crate::resilience::throttle) wrap an async
//! function with lodash's timing rules. [`Debounce::new`] runs on the
//! trailing edge, `wait` after the last call, with the latest arguments.
//! [`Debounce::with_options`] adds a leading edge (run at the start of a
//! burst) and a `max_wait`. `throttle` is a debounce with both edges on and
//! `max_wait` equal to `wait`. Every
//! [`call`](crate::resilience::Debounce::call) returns a future of what
//! became of that call: the result of the run that covered it, or a
//! [`Dropped`] giving the reason there was none.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::time::Duration;
//! use tokio::time::{Instant, sleep};
//! use herd::resilience::Debounce;
//!
//! // Search 300 ms after the user stops typing.
//! let start = Instant::now();
//! let search = Debounce::new(Duration::from_millis(300), move |query: String| async move {
//!     (format!("results for {query}"), start.elapsed())
//! });
//! let mut calls = Vec::new();
//! for query in ["r", "ru", "rus", "rust"] {
//!     calls.push(search.call(query.to_string())); // a key every 100 ms
//!     sleep(Duration::from_millis(100)).await;
//! }
//! for call in calls {
//!     // One search, 300 ms after the last key, answers all four calls.
//!     let expected = ("results for rust".to_string(), Duration::from_millis(600));
//!     assert_eq!(call.await, Ok(expected));
//! }
//! assert_eq!(search.runs(), 1);
//! # }
//! ```
//!
//! A throttle runs during the burst too, and still runs the last call:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::time::Duration;
//! use tokio::time::{Instant, sleep};
//! use herd::resilience::{Debounce, Dropped, throttle};
//!
//! // Autosave at most once a second while edits come every 100 ms.
//! let start = Instant::now();
//! let save = throttle(Duration::from_secs(1), move |version: u32| async move {
//!     (version, start.elapsed().as_secs())
//! });
//! let mut calls = Vec::new();
//! for version in 1..=25 {
//!     calls.push(save.call(version));
//!     sleep(Duration::from_millis(100)).await;
//! }
//! let mut outcomes = Vec::new();
//! for call in calls {
//!     outcomes.push(call.await.expect("every call is answered"));
//! }
//! assert_eq!(outcomes[0], (1, 0), "the leading edge: the first edit at once");
//! assert_eq!(outcomes[1], (11, 1), "edits 2 to 11 were saved together, as version 11");
//! assert_eq!(outcomes[24], (25, 3), "the trailing edge: the last edit is saved");
//! assert_eq!(save.runs(), 4);
//!
//! // No max_wait, leading edge on, trailing edge off: the calls the trailing
//! // edge would have run are told they were dropped.
//! let wait = Duration::from_secs(1);
//! let click = Debounce::with_options(wait, None, true, false, |n: u8| async move { n });
//! let (first, second) = (click.call(1), click.call(2));
//! assert_eq!(first.await, Ok(1));
//! assert_eq!(second.await, Err(Dropped::NoTrailing));
//! # }
//! ```
//!
//! **The pitfall this avoids.** Flaw 3 of the guides' list: their throttle
//! returns nothing for a call that falls inside the interval, and it has no
//! trailing edge, so the last save of a burst is never made. Their debounce
//! cancels the previous task, so a caller cannot learn whether its call ran,
//! and an exception in the delayed function lands in a task nobody awaits.
//! Here each call resolves. It gets the result of its own run, or of the
//! later run that took over its place with newer arguments, or a reason:
//! [`Dropped::NoTrailing`], [`Dropped::Cancelled`] (after
//! [`cancel`](crate::resilience::Debounce::cancel), or when the debouncer
//! is dropped) or [`Dropped::Panicked`]. Runs never overlap, so a handler
//! slower than the interval does not pile up runs.
//!
//! **When to use something else.** When every call must run, only spaced
//! out, use a [`RateLimiter`](crate::limit::RateLimiter) (see
//! [backpressure](crate::_cookbook::backpressure)). To keep the latest N
//! events for a consumer, use a queue with
//! [`Overflow::DropOldest`](crate::queue::Overflow::DropOldest). To share
//! one in-flight call among concurrent callers of the same key, use
//! [`SingleFlight`](crate::resilience::SingleFlight). To retry a call that
//! failed, use [`Retry`](crate::resilience::Retry).
//!
//! [`Debounce::new`]: crate::resilience::Debounce::new
//! [`Debounce::with_options`]: crate::resilience::Debounce::with_options
//! [`Dropped`]: crate::resilience::Dropped
//! [`Dropped::NoTrailing`]: crate::resilience::Dropped::NoTrailing
//! [`Dropped::Cancelled`]: crate::resilience::Dropped::Cancelled
//! [`Dropped::Panicked`]: crate::resilience::Dropped::Panicked
