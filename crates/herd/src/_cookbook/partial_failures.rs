//! # Partial failures
//!
//! **The problem.** Of fifty calls made together, three fail. You want the
//! forty-seven results, and an account of the three failures that says
//! which call failed and how, without one failure throwing the others'
//! work away and without errors hiding among the values.
//!
//! **With herd.** [`task::all_settled`](crate::task::all_settled) waits for
//! every future and returns one `Result` per input, in input order. A
//! failure is a [`TaskError`](crate::task::TaskError) that names its input's
//! position and carries the call's own error; a panic is caught and becomes
//! [`TaskError::Panicked`](crate::task::TaskError::Panicked) for that call
//! alone. Nothing is cancelled, and the compiler will not let you use a
//! value without first deciding what an error means.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::time::Duration;
//! use herd::task::{TaskError, all_settled};
//! use tokio::time::{Instant, sleep};
//!
//! async fn load_profile(id: u32) -> Result<String, String> {
//!     match id {
//!         3 => Err("404 not found".to_string()),
//!         4 => panic!("corrupt record"),
//!         _ => {
//!             sleep(Duration::from_millis(100 * u64::from(id))).await;
//!             Ok(format!("profile {id}"))
//!         }
//!     }
//! }
//!
//! let start = Instant::now();
//! let outcomes = all_settled([1, 2, 3, 4, 5].map(load_profile)).await;
//!
//! let mut profiles = Vec::new();
//! let mut not_found = Vec::new();
//! let mut bugs = Vec::new();
//! for outcome in outcomes {
//!     match outcome {
//!         Ok(profile) => profiles.push(profile),
//!         Err(TaskError::Failed { task, error }) => not_found.push((task.index(), error)),
//!         Err(other) => bugs.push(other.to_string()),
//!     }
//! }
//! assert_eq!(profiles, ["profile 1", "profile 2", "profile 5"]);
//! assert_eq!(not_found, [(2, "404 not found".to_string())]);
//! assert_eq!(bugs, ["task 3 panicked: corrupt record"]);
//! // The early failures cut nothing short: the slowest call set the pace.
//! assert_eq!(start.elapsed(), Duration::from_millis(500));
//! # }
//! ```
//!
//! The same shape holds for work spawned onto tokio's threads: a
//! [`Scope`](crate::task::Scope) built with
//! [`Policy::Supervise`](crate::task::Policy::Supervise) lets every child
//! finish, and [`join_all`](crate::task::Scope::join_all) returns every
//! outcome in spawn order. For a stream of inputs,
//! [`pool::map`](crate::pool::map) with
//! [`Map::all_settled`](crate::pool::Map::all_settled) does the same, at
//! most `n` calls at once.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use herd::task::{Policy, Scope};
//!
//! let scope = Scope::<u32, String>::builder().policy(Policy::Supervise).build();
//! for n in [4, 7, 10] {
//!     scope
//!         .spawn(async move { if n % 2 == 0 { Ok(n / 2) } else { Err(format!("{n} is odd")) } })
//!         .await
//!         .unwrap();
//! }
//! let (halves, failures): (Vec<_>, Vec<_>) = scope.join_all().await.into_iter().partition(Result::is_ok);
//! assert_eq!(halves.len(), 2);
//! assert_eq!(failures[0].clone().unwrap_err().to_string(), "task 1 failed: 7 is odd");
//! # }
//! ```
//!
//! **The pitfall this avoids.** `Promise.all` throws away every result
//! when one call rejects; `gather(..., return_exceptions=True)` keeps them,
//! but mixes the exceptions into the list of values, and code that forgets
//! to check each element (a red flag in the guides) passes an exception
//! along as if it were data. Here every element is a `Result`: an error
//! cannot be mistaken for a value, and it says which input it belongs to.
//! As with a worker pool's jobs (flaw 5 of the seeds' list), a panic is one
//! call's result, not the end of the batch or of the process.
//!
//! **When to use something else.** When one failure makes the rest
//! pointless, fail fast with [`task::all`](crate::task::all) or a default
//! [`Scope`](crate::task::Scope), which cancel the siblings (see
//! [`groups_gather_settled`](super::groups_gather_settled)). When any one
//! success will do (mirrors, replicas), [`task::first_ok`](crate::task::first_ok).
//! When a failure is transient and worth another try, wrap the call in a
//! [`resilience::Retry`](crate::resilience::Retry) before settling.
