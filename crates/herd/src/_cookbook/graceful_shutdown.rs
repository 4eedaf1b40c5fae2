//! # Graceful shutdown in four steps
//!
//! **The problem.** On SIGTERM a service should stop taking new work, give
//! the work in flight a bounded time to finish, cancel whatever is still
//! running after that, and only then close its connections and flush its
//! logs, in that order.
//!
//! **With herd.** [`Shutdown`](crate::shutdown::Shutdown) holds the four
//! steps. Its [`token`](crate::shutdown::Shutdown::token) is cancelled when
//! shutdown begins (a signal with [`with_signals`](crate::shutdown::Shutdown::with_signals),
//! or [`trigger`](crate::shutdown::Shutdown::trigger)): the accept loop
//! watches it (step 1). Its [`force_token`](crate::shutdown::Shutdown::force_token)
//! is the parent of the scopes and pools doing the work, and is cancelled
//! only when the grace period runs out or a second signal comes.
//! [`drain`](crate::shutdown::Shutdown::drain) waits for the work up to the
//! grace period (step 2), cancels the rest (step 3), runs the clean-up
//! steps registered with [`on_cleanup`](crate::shutdown::Shutdown::on_cleanup)
//! (step 4), and reports what happened.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use herd::shutdown::Shutdown;
//! use herd::task::{Policy, Scope};
//! use tokio::time::sleep;
//!
//! let shutdown = Shutdown::new(); // Shutdown::with_signals() in a real service
//! let log = Arc::new(Mutex::new(Vec::new()));
//! let requests = Scope::<String, String>::builder()
//!     .name("requests")
//!     .policy(Policy::Supervise)
//!     .parent(shutdown.force_token())
//!     .build();
//! let db = log.clone();
//! shutdown.on_cleanup(move || async move { db.lock().unwrap().push("database closed".to_string()) });
//!
//! // A SIGTERM, two and a half seconds in.
//! let signal = shutdown.clone();
//! tokio::spawn(async move { sleep(Duration::from_millis(2500)).await; signal.trigger("SIGTERM") });
//!
//! // Step 1: accept a request a second until shutdown begins. Request 1 is
//! // a report that would take a minute.
//! let accepting = shutdown.token().clone();
//! let mut accepted = 0;
//! while accepting.run_until_cancelled(sleep(Duration::from_secs(1))).await.is_ok() {
//!     let (n, log) = (accepted, log.clone());
//!     let secs = if n == 1 { 60 } else { 2 };
//!     let request = async move {
//!         sleep(Duration::from_secs(secs)).await;
//!         log.lock().unwrap().push(format!("request {n} done"));
//!         Ok(format!("response {n}"))
//!     };
//!     requests.spawn(request).await.unwrap();
//!     accepted += 1;
//! }
//! assert_eq!(accepted, 2, "nothing accepted after the signal");
//!
//! // Steps 2 to 4: five seconds for what is in flight, then cancel, then clean up.
//! let mut outcomes = Vec::new();
//! let report = shutdown.drain(Duration::from_secs(5), async { outcomes = requests.join_all().await }).await;
//!
//! assert_eq!(outcomes[0], Ok("response 0".to_string()), "finished within the grace period");
//! let cut = outcomes[1].clone().unwrap_err();
//! assert_eq!(cut.to_string(), "task 1 was stopped: cancelled: the shutdown grace of 5s ran out");
//! assert!(!report.drained && !report.abandoned);
//! assert_eq!(report.took, Duration::from_secs(5));
//! assert_eq!(*log.lock().unwrap(), ["request 0 done", "database closed"], "clean-up came last");
//! # }
//! ```
//!
//! A [`WorkerPool`](crate::pool::WorkerPool) takes part the same way: give
//! its builder `shutdown.force_token()` as its
//! [`parent`](crate::pool::WorkerPoolBuilder::parent), and pass
//! `pool.shutdown(grace)` to `drain` as the work; every job it accepted
//! then ends with its value or a "cancelled" error. In a real
//! service a second Ctrl-C calls [`force`](crate::shutdown::Shutdown::force),
//! which skips the rest of the grace period.
//!
//! **The pitfall this avoids.** The guides list the four steps and then
//! cancel every task first and wait afterwards, so in-flight work gets no
//! chance to finish (flaw 11 of the seeds' list); and a pool that shuts
//! down by setting a flag leaves queued jobs whose futures never resolve
//! (flaw 4). Here the two tokens keep the steps apart: stopping intake
//! cancels nothing, cancellation waits for the grace period, clean-up waits
//! for the work to end (or to be abandoned after a second grace period),
//! and the report says which of these happened.
//!
//! **When to use something else.** To stop one group of tasks, cancel its
//! [`Scope`](crate::task::Scope)'s token; to stop one pool, its own
//! [`shutdown`](crate::pool::WorkerPool::shutdown). How the work below the
//! force token is bound to each request: [`request_cancellation`](super::request_cancellation).
//! Why every task needs an owner for this to work: [`owned_tasks`](super::owned_tasks).
