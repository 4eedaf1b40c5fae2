//! Structured concurrency: tasks that never outlive their owner.
//!
//! # When to use what
//!
//! | you have | use |
//! | --- | --- |
//! | a handful to millions of independent jobs that should run in parallel, owned by one caller | [`Scope`]: spawned on tokio, results in spawn order, fail-fast or supervise, optional limit and deadline |
//! | a fixed list of futures to await together in the current task (they borrow, or are not `Send`) | [`all`], [`all_settled`], [`race`], [`first_ok`], and [`at_most`] for a limit |
//! | one future that must not take too long | [`timeout`], [`deadline`] |
//! | work that must stop when something else says so | [`CancelToken`]: pass it down, watch it with [`CancelToken::cancelled`] or [`CancelToken::run_until_cancelled`] |
//!
//! A [`Scope`] is the default for concurrent work. Its rules: when
//! [`Scope::join`] returns, every child has finished or been cancelled and
//! awaited; when a scope is dropped, every child is cancelled. A child's
//! failure, panic, cancellation or timeout is a [`TaskError`] value its owner
//! sees, never a hang and never a crash.
//!
//! Reach for something else when the work is not a group with one owner: a
//! long-lived stream of jobs fed by many producers is a
//! [`WorkerPool`](crate::pool::WorkerPool); CPU-heavy or blocking work
//! belongs on threads ([`ThreadPool`](crate::pool::ThreadPool)), not in a
//! child future, which would stall the executor.
//!
//! # Cancellation
//!
//! Cancelling a scope (explicitly through its token, because a fail-fast
//! sibling failed, because its deadline passed, or because its parent was
//! cancelled) happens in two phases: the scope's [`CancelToken`] is cancelled
//! with a [`CancelReason`], then after the scope's
//! [grace period](ScopeBuilder::grace) the children still running are
//! aborted, and the scope waits for them to be dropped. A nested scope built
//! with [`ScopeBuilder::parent`] is cancelled with its parent and never
//! outlives its parent's deadline.
//!
//! # Examples
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::time::Duration;
//! use herd::task::{Scope, TaskError};
//! use tokio::time::sleep;
//!
//! let scope = Scope::<&str, String>::builder().name("request").build();
//! scope.spawn_named("cache", async { Err("cache is down".to_string()) }).await.unwrap();
//! scope
//!     .spawn_named("db", async {
//!         sleep(Duration::from_secs(3600)).await;
//!         Ok("row")
//!     })
//!     .await
//!     .unwrap();
//!
//! // The cache's failure cancels the db query; the scope does not wait an hour.
//! match scope.join().await {
//!     Err(TaskError::Failed { task, error }) => {
//!         assert_eq!(task.name(), Some("cache"));
//!         assert_eq!(error, "cache is down");
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
//! # }
//! ```

mod builder;
mod cancel;
mod combinators;
mod error;
pub(crate) mod ledger;
mod scope;
mod time;

pub use builder::{Policy, ScopeBuilder};
pub use cancel::{CancelReason, CancelToken, Cancelled};
pub use combinators::{Bounded, all, all_settled, at_most, first_ok, race};
pub(crate) use error::panic_message;
pub use error::{Elapsed, SpawnError, TaskError, TaskId};
pub use scope::{Scope, ScopeHandle};
pub use time::{deadline, timeout};

#[cfg(all(test, loom))]
mod loom_tests;
