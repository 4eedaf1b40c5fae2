//! Resilience: retrying what failed, without making an outage worse.
//!
//! | you need | use |
//! | --- | --- |
//! | to retry a flaky call: backoff with jitter, per-attempt timeout, overall deadline, Retry-After, a budget | [`Retry`] |
//! | to load one thing once when many ask for it at the same moment (cache stampedes) | [`SingleFlight`] |
//! | to stop calling a dependency that is failing, and probe it before trusting it again | [`CircuitBreaker`] |
//! | to run once after a burst of calls settles (search-as-you-type, autosave) | [`Debounce`] |
//! | to run at most once per interval however often it is called | [`throttle`] |
//!
//! When to use something else: to bound how often or how many calls go
//! out in the first place, [`limit`](crate::limit); to give up on a slow
//! call without retrying, [`task::timeout`](crate::task::timeout).
//!
//! # Examples
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::time::Duration;
//! use herd::resilience::{Retry, Verdict};
//!
//! // A server that says "503, retry after 2 s" once, then answers.
//! let mut answers = vec![Ok("page"), Err((503, Some(2)))];
//! let start = tokio::time::Instant::now();
//! let page = Retry::new()
//!     .attempts(4)
//!     .retry_if(|&(status, after): &(u16, Option<u64>)| match (status, after) {
//!         (429 | 503, Some(secs)) => Verdict::RetryAfter(Duration::from_secs(secs)),
//!         (500..=599, _) => Verdict::Retry,
//!         _ => Verdict::Stop,
//!     })
//!     .run(|_| std::future::ready(answers.pop().unwrap()))
//!     .await;
//! assert_eq!(page, Ok("page"));
//! assert_eq!(start.elapsed(), Duration::from_secs(2));
//! # }
//! ```

mod breaker;
mod debounce;
mod retry;
mod single_flight;

#[cfg(all(test, loom))]
mod loom_tests;

pub use breaker::{BreakerBuilder, BreakerError, BreakerPermit, BreakerState, CircuitBreaker};
pub use debounce::{Debounce, Dropped, throttle};
#[cfg(feature = "postgres")]
pub(crate) use retry::random_up_to;
pub use retry::{Classify, Failure, Retry, RetryAll, RetryBudget, RetryError, Verdict};
pub use single_flight::SingleFlight;
