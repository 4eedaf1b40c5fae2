//! # Fire-and-forget versus owned tasks
//!
//! **The problem.** A handler starts a side job (send a notification, write
//! an audit record) and returns without waiting. Nobody sees the job's
//! error, nobody can stop it when the handler's work is abandoned, and at
//! shutdown nobody knows it is still running.
//!
//! **With herd.** Every task gets an owner. Work that belongs to the caller
//! goes into a [`Scope`](crate::task::Scope): [`join`](crate::task::Scope::join)
//! waits for it and returns its error, and dropping the scope (an early
//! return, a `?`, the caller's future being dropped) cancels it. Work that
//! should outlive the caller is handed to an owner that lives longer, such
//! as a service-wide [`WorkerPool`](crate::pool::WorkerPool), which runs it,
//! counts it and waits for it at shutdown.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use std::time::Duration;
//! use herd::task::{Scope, TaskError};
//! use tokio::time::sleep;
//!
//! // Owned: the side job's failure reaches the handler.
//! async fn handle(user: u32) -> Result<&'static str, TaskError<String>> {
//!     let scope = Scope::<(), String>::new();
//!     scope
//!         .spawn_named("notify", async move { Err(format!("mail server refused user {user}")) })
//!         .await
//!         .unwrap();
//!     scope.join().await?;
//!     Ok("200 OK")
//! }
//! let err = handle(7).await.unwrap_err();
//! assert_eq!(err.to_string(), "task 0 \"notify\" failed: mail server refused user 7");
//!
//! // Owned: a scope dropped before it is joined cancels what it started.
//! let sent = Arc::new(AtomicBool::new(false));
//! let scope = Scope::<(), String>::builder().name("request").build();
//! let token = scope.token().clone();
//! let flag = sent.clone();
//! scope
//!     .spawn(async move { sleep(Duration::from_secs(1)).await; flag.store(true, Ordering::SeqCst); Ok(()) })
//!     .await
//!     .unwrap();
//! drop(scope); // the handler gave up early
//! sleep(Duration::from_secs(5)).await;
//! assert!(!sent.load(Ordering::SeqCst));
//! assert_eq!(token.reason().unwrap().to_string(), "scope \"request\" was dropped before it finished");
//!
//! // Fire-and-forget: dropping a tokio JoinHandle detaches the task, which
//! // runs on with no owner, and its error or panic goes nowhere.
//! let ran = Arc::new(AtomicBool::new(false));
//! let flag = ran.clone();
//! drop(tokio::spawn(async move { sleep(Duration::from_secs(1)).await; flag.store(true, Ordering::SeqCst) }));
//! sleep(Duration::from_secs(5)).await;
//! assert!(ran.load(Ordering::SeqCst), "still ran after its owner let go");
//! # }
//! ```
//!
//! When the handler really should not wait, hand the job to the service's
//! pool. Dropping a [`JobHandle`](crate::pool::JobHandle) does not cancel
//! the job: the pool owns it, and [`shutdown`](crate::pool::WorkerPool::shutdown)
//! lets it finish within a grace period.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::time::Duration;
//! use herd::pool::WorkerPool;
//! use tokio::time::sleep;
//!
//! let audit = WorkerPool::builder().name("audit").workers(2).queue(100).build();
//! for request in 0..3 {
//!     let write = async move { sleep(Duration::from_secs(2)).await; Ok::<_, String>(request) };
//!     drop(audit.submit(write).await.unwrap()); // answer the request now
//! }
//! let stats = audit.shutdown(Duration::from_secs(10)).await;
//! assert_eq!((stats.done, stats.failed, stats.cancelled), (3, 0, 0));
//! # }
//! ```
//!
//! **The pitfall this avoids.** The guides' fire-and-forget `create_task`
//! (whose task may even be garbage-collected mid-flight) and the floating
//! promise swallow errors, leak work past the request that started it, and
//! leave graceful shutdown nothing to wait for. tokio's `spawn` has the
//! same shape: a dropped `JoinHandle` detaches the task. A scope has no way
//! to leave a child behind, and a pool resolves every job it accepted with
//! a value, an error or a cancellation (flaw 4 of the seeds' list), so
//! "forget" only ever means "someone else owns it now".
//!
//! **When to use something else.** Side work bounded by a request's
//! deadline or cancelled with it: [`request_cancellation`](super::request_cancellation).
//! Children that spawn siblings: [`ScopeHandle`](crate::task::ScopeHandle).
//! Stopping the long-lived owners in order: [`graceful_shutdown`](super::graceful_shutdown).
//! With tokio alone, a `tokio::task::JoinSet` that you keep and join also
//! owns its tasks (it aborts them when dropped), without names, limits or
//! deadlines.
