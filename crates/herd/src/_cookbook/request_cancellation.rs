//! # Cancellation bound to a request
//!
//! **The problem.** A request starts work of its own: sub-queries, an audit
//! write, a call to another service. When the request runs out of time,
//! the client hangs up or the server shuts down, that work must stop too;
//! otherwise it runs on for no one, holding connections and memory.
//!
//! **With herd.** Give each request a [`Scope`](crate::task::Scope) built
//! with the service's [`CancelToken`](crate::task::CancelToken) as its
//! [`parent`](crate::task::ScopeBuilder::parent) and the request's budget
//! as its [`timeout`](crate::task::ScopeBuilder::timeout). The request's
//! work is the scope's children, and all three endings reach them: the
//! deadline cancels them, dropping the handler's future drops the scope
//! and cancels them, and cancelling the service's token cancels every
//! request below it, each child seeing the same reason.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::time::Duration;
//! use herd::task::{CancelToken, Scope, TaskError};
//! use tokio::time::{Instant, sleep, timeout};
//!
//! static QUERIES_DONE: AtomicUsize = AtomicUsize::new(0);
//!
//! async fn handle(service: &CancelToken, query_secs: u64) -> Result<Vec<&'static str>, TaskError<String>> {
//!     let request = Scope::<&str, String>::builder()
//!         .name("request")
//!         .parent(service)
//!         .timeout(Duration::from_secs(2))
//!         .build();
//!     request.spawn_named("audit", async { sleep(Duration::from_millis(100)).await; Ok("audited") }).await.unwrap();
//!     request
//!         .spawn_named("query", async move {
//!             sleep(Duration::from_secs(query_secs)).await;
//!             QUERIES_DONE.fetch_add(1, Ordering::SeqCst);
//!             Ok("rows")
//!         })
//!         .await
//!         .unwrap();
//!     request.join().await
//! }
//!
//! let service = CancelToken::new();
//! assert_eq!(handle(&service, 1).await, Ok(vec!["audited", "rows"]));
//!
//! // Over budget: the request's deadline stops its query.
//! let start = Instant::now();
//! let err = handle(&service, 60).await.unwrap_err();
//! assert!(matches!(&err, TaskError::TimedOut { task, .. } if task.name() == Some("query")));
//! assert_eq!(start.elapsed(), Duration::from_secs(2));
//!
//! // The client hung up: the server drops the handler's future, and the
//! // query it started never finishes behind its back.
//! assert!(timeout(Duration::from_millis(500), handle(&service, 1)).await.is_err());
//! sleep(Duration::from_secs(5)).await;
//! assert_eq!(QUERIES_DONE.load(Ordering::SeqCst), 1, "only the first request's query ran to the end");
//!
//! // The service stops: every request below its token is cancelled, with its reason.
//! let token = service.clone();
//! let in_flight = tokio::spawn(async move { handle(&token, 60).await });
//! sleep(Duration::from_millis(300)).await;
//! service.cancel("shutting down");
//! let err = in_flight.await.unwrap().unwrap_err();
//! assert_eq!(err.to_string(), "task 1 \"query\" was stopped: cancelled: shutting down");
//! # }
//! ```
//!
//! Work that is not a child of the scope takes the token itself: watch it
//! with [`CancelToken::run_until_cancelled`](crate::task::CancelToken::run_until_cancelled),
//! hand it to [`Retry::token`](crate::resilience::Retry::token) so no retry
//! outlives the request, and pass [`CancelToken::remaining`](crate::task::CancelToken::remaining)
//! to a downstream call as its timeout, so it gets what is left of the
//! request's budget rather than a fresh thirty seconds. A child that has
//! cleanup worth finishing (flush, commit) watches
//! [`Scope::token`](crate::task::Scope::token) and gets the scope's
//! [`grace`](crate::task::ScopeBuilder::grace) period before it is aborted.
//!
//! **The pitfall this avoids.** The guides' handler that calls
//! `create_task(audit_log(request))` and returns leaves the audit task
//! orphaned, still running when the server shuts down; their remedy,
//! `AbortController`, works only where someone remembers to thread the
//! signal through every call and to call `abort()` on every exit path.
//! Here the binding is structural: the request's work cannot outlive the
//! scope, whichever way the request ends, and the error says which one
//! (a deadline, a dropped request, or the service's own reason).
//!
//! **When to use something else.** Side work that should outlive the
//! request belongs to a longer-lived owner (see
//! [`owned_tasks`](super::owned_tasks)). The service token usually comes
//! from [`Shutdown::force_token`](crate::shutdown::Shutdown::force_token)
//! (see [`graceful_shutdown`](super::graceful_shutdown)). For a single call
//! with a time limit and no side work, [`task::timeout`](crate::task::timeout)
//! is enough; for a child token without a scope,
//! [`CancelToken::child`](crate::task::CancelToken::child).
