//! # Concurrent calls with a limit and a timeout
//!
//! **The problem.** You have a list of calls to make (URLs, queries, RPCs).
//! One at a time is too slow, all at once opens thousands of sockets and
//! trips the other side's limits, and a single call that never answers must
//! not hold up the rest forever.
//!
//! **With herd.** [`task::at_most`](crate::task::at_most) runs the calls
//! inside the current task with at most `n` in flight: the next one starts
//! the moment one finishes, not when a whole batch is done, and the results
//! come back in input order. Wrap each call in
//! [`task::timeout`](crate::task::timeout) so a hung call turns into an
//! [`Elapsed`](crate::task::Elapsed) error that says how long it was given.
//! Use [`all_settled`](crate::task::Bounded::all_settled) to keep every
//! outcome, or [`all`](crate::task::Bounded::all) to stop at the first
//! failure.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::time::Duration;
//! use herd::task::{at_most, timeout};
//! use tokio::time::{Instant, sleep};
//!
//! // A remote call: one second, except call 7, which never answers.
//! async fn fetch(id: u32) -> Result<String, String> {
//!     let secs = if id == 7 { 3600 } else { 1 };
//!     sleep(Duration::from_secs(secs)).await;
//!     Ok(format!("page {id}"))
//! }
//!
//! let (in_flight, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
//! let calls = (0..10).map(|id| {
//!     let (in_flight, peak) = (&in_flight, &peak);
//!     async move {
//!         let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
//!         peak.fetch_max(now, Ordering::SeqCst);
//!         // The timeout's clock starts here, when the call starts, not
//!         // while it waits for a slot.
//!         let page = timeout(Duration::from_secs(2), fetch(id)).await;
//!         in_flight.fetch_sub(1, Ordering::SeqCst);
//!         page.map_err(|elapsed| elapsed.to_string())?
//!     }
//! });
//!
//! let start = Instant::now();
//! let pages = at_most(3).all_settled(calls).await;
//!
//! assert_eq!(peak.load(Ordering::SeqCst), 3, "never more than three at once");
//! assert_eq!(pages[0], Ok("page 0".to_string()), "results in input order");
//! let hung = pages[7].clone().unwrap_err();
//! assert_eq!(hung.into_failure(), Some("timed out after 2s".to_string()));
//! assert_eq!(pages.iter().filter(|page| page.is_ok()).count(), 9);
//! // Ten one-second calls, three at a time, one cut at two seconds: 4 s in
//! // all, where one at a time would take 11 s and batches of three 5 s.
//! assert_eq!(start.elapsed(), Duration::from_secs(4));
//! # }
//! ```
//!
//! A deadline for the whole batch, on top of the one per call, is a
//! [`Scope`](crate::task::Scope) with a [`limit`](crate::task::ScopeBuilder::limit)
//! and a [`timeout`](crate::task::ScopeBuilder::timeout): its children run on
//! tokio's threads, and when the time is up they are cancelled and the error
//! names the first one that had not finished.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::time::Duration;
//! use herd::task::{Scope, TaskError};
//! use tokio::time::sleep;
//!
//! let scope = Scope::<u64, String>::builder().limit(3).timeout(Duration::from_secs(5)).build();
//! for secs in [1, 2, 30, 1] {
//!     scope.spawn(async move { sleep(Duration::from_secs(secs)).await; Ok(secs) }).await.unwrap();
//! }
//! let Err(TaskError::TimedOut { task, .. }) = scope.join().await else { panic!("no deadline") };
//! assert_eq!(task.index(), 2, "the 30-second call ran out of time");
//! # }
//! ```
//!
//! **The pitfall this avoids.** The guides' unbounded `gather` over every
//! URL opens as many connections as there are URLs; their batch loop
//! (`Promise.all` on slices of ten) leaves slots idle while each batch waits
//! for its slowest call; and their hand-rolled "limit N" loop removes the
//! wrong pending entry and returns results in completion order (flaw 2 of
//! the seeds' list). `at_most` keeps exactly `n` in flight, pulls the
//! futures from the iterator lazily (a million URLs hold only `n` futures),
//! and puts each result at its input's position. The guides' `with_timeout`
//! returns `None` on a timeout, indistinguishable from a call that answered
//! nothing; here the timeout is an error with the budget in it. One trap
//! remains yours: [`timeout`](crate::task::timeout) starts its clock when it
//! is called, so create it inside the call's future (as above), not while
//! building a list of futures that then wait for slots.
//!
//! **When to use something else.** To run the calls in parallel on several
//! threads, or to spawn them from different places, a
//! [`Scope`](crate::task::Scope) with a limit. For a stream of inputs, each
//! call on its own task, [`pool::map`](crate::pool::map). When the other side
//! also has a quota per second, a [`limit::Limiter`](crate::limit::Limiter)
//! (see [`rate_limits_and_retries`](super::rate_limits_and_retries)). When a
//! timed-out call is worth another try,
//! [`Retry::attempt_timeout`](crate::resilience::Retry::attempt_timeout).
//! To share one limit among unrelated call sites, a
//! [`sync::Semaphore`](crate::sync::Semaphore).
