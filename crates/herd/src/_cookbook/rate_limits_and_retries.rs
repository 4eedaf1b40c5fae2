//! # Rate limits, retries and a rate-limited scraper
//!
//! **The problem.** A scraper must stay under the site's quota (requests a
//! second) and a cap on open connections, retry what failed for a passing
//! reason (a 503) but not what never will (a 404), and stop hammering a
//! host that is down.
//!
//! **With herd.** Three pieces, each doing one job:
//! [`Limiter`](crate::limit::Limiter) takes a rate ([`Quota`](crate::limit::Quota))
//! and a concurrency cap together, and waits for the rate before it takes a
//! connection slot; [`Retry`](crate::resilience::Retry) retries with
//! jittered exponential backoff, asking a predicate which errors are worth
//! it; [`CircuitBreaker`](crate::resilience::CircuitBreaker) refuses calls
//! at once while a dependency is failing. Put the limiter inside the
//! retried operation, so retries count against the quota too.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::sync::Mutex;
//! use std::time::Duration;
//! use herd::limit::{Limiter, Quota};
//! use herd::resilience::{Retry, RetryError, Verdict};
//! use herd::task::all_settled;
//! use tokio::time::{Instant, sleep};
//!
//! // The site: 300 ms an answer; /flaky fails once with a 503; /missing is gone.
//! async fn get(url: &str, attempt: u32) -> Result<String, u16> {
//!     sleep(Duration::from_millis(300)).await;
//!     match (url, attempt) {
//!         ("/flaky", 1) => Err(503),
//!         ("/missing", _) => Err(404),
//!         _ => Ok(format!("<html>{url}</html>")),
//!     }
//! }
//!
//! // 4 requests a second, evenly spaced, and never more than 2 in flight.
//! let limit = Limiter::new().rate(Quota::per_second(4).burst(1)).concurrency(2);
//! let retry = Retry::new().attempts(3).retry_if(|status: &u16| match status {
//!     429 | 500..=599 => Verdict::Retry,
//!     _ => Verdict::Stop,
//! });
//! let sent = Mutex::new(Vec::new());
//! let scrape = |url: &'static str| {
//!     let (limit, retry, sent) = (&limit, &retry, &sent);
//!     retry.run(move |attempt| async move {
//!         let _pass = limit.acquire().await.expect("the limiter is never closed");
//!         sent.lock().unwrap().push(Instant::now());
//!         get(url, attempt).await
//!     })
//! };
//!
//! let urls = ["/", "/about", "/flaky", "/missing", "/blog", "/contact"];
//! let (pages, free_slots) = tokio::join!(all_settled(urls.map(scrape)), async {
//!     sleep(Duration::from_millis(100)).await;
//!     limit.semaphore().unwrap().available_permits()
//! });
//!
//! assert_eq!(pages[2], Ok("<html>/flaky</html>".to_string()), "retried after its 503");
//! let missing = pages[3].clone().unwrap_err().into_failure();
//! assert_eq!(missing, Some(RetryError::Stopped { attempts: 1, error: 404 }), "a 404 is not retried");
//! // Seven requests (six pages and one retry), never two within 250 ms.
//! let sent = sent.into_inner().unwrap();
//! assert_eq!(sent.len(), 7);
//! assert!(sent.windows(2).all(|pair| pair[1] - pair[0] >= Duration::from_millis(250)));
//! // At 100 ms one request was in flight and five waited for the rate:
//! // they held no connection slot while they waited.
//! assert_eq!(free_slots, 1);
//! # }
//! ```
//!
//! The rate is counted when a caller leaves the rate's line, before it
//! takes a slot: when the slot cap binds rather than the rate, two requests
//! may leave closer together than the interval (on average they keep to
//! the quota).
//!
//! A host that is down should not get every request of the crawl. A
//! breaker per host opens once enough calls have failed, refuses the rest
//! without making them (saying how long until it tries again), then lets a
//! probe through and closes when the probe succeeds.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
//! use std::time::Duration;
//! use herd::resilience::{BreakerError, BreakerState, CircuitBreaker};
//!
//! // Opens when half of the last calls failed, once there are four.
//! let breaker = CircuitBreaker::builder().minimum_calls(4).open_for(Duration::from_secs(30)).probes(1).build();
//! let (up, calls) = (AtomicBool::new(false), AtomicU32::new(0));
//! let get = || async {
//!     calls.fetch_add(1, Ordering::SeqCst);
//!     if up.load(Ordering::SeqCst) { Ok("page") } else { Err(503) }
//! };
//!
//! let mut refused = 0;
//! for _ in 0..20 {
//!     if let Err(BreakerError::Open { retry_after }) = breaker.call(get()).await {
//!         assert_eq!(retry_after, Some(Duration::from_secs(30)));
//!         refused += 1;
//!     }
//! }
//! assert_eq!((calls.load(Ordering::SeqCst), refused), (4, 16), "16 calls spared");
//!
//! up.store(true, Ordering::SeqCst);
//! tokio::time::advance(Duration::from_secs(30)).await;
//! assert_eq!(breaker.call(get()).await, Ok("page"), "the probe");
//! assert_eq!(breaker.state(), BreakerState::Closed);
//! # }
//! ```
//!
//! **The pitfall this avoids.** The guides' scraper takes the semaphore
//! first and then sleeps for the rate inside it, under a lock: every caller
//! queued for the rate holds a connection slot doing nothing, so the
//! concurrency budget is spent on waiting (flaw 10 of the seeds' list).
//! [`Limiter::acquire`](crate::limit::Limiter::acquire) waits for the rate
//! holding nothing, in a first-in first-out line with one timer, and only
//! then takes a slot. The scraper never retries, and a naive retry loop
//! retries a 404 like a 503 and, without jitter, in lockstep with every
//! other client. [`Retry`](crate::resilience::Retry) asks the predicate,
//! can honour a server's Retry-After
//! ([`Verdict::RetryAfter`](crate::resilience::Verdict::RetryAfter)), and a
//! [`RetryBudget`](crate::resilience::RetryBudget) caps retries in an outage.
//!
//! **When to use something else.** A quota per host or per key:
//! [`KeyedRateLimiter`](crate::limit::KeyedRateLimiter). A cap that finds
//! the other side's capacity from latency and 429s:
//! [`AdaptiveLimit`](crate::limit::AdaptiveLimit). Refusing rather than
//! waiting (a server sending `Retry-After`):
//! [`RateLimiter::check`](crate::limit::RateLimiter::check). Only a cap and
//! a timeout per call: [`limit_and_timeout`](super::limit_and_timeout).
