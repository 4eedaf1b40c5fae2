//! # Task groups, gather and all-settled
//!
//! **The problem.** Several pieces of work run together (users, orders,
//! inventory for one page) and the caller waits for them as a group. What
//! happens when one fails decides everything: is the whole answer void, and
//! do the siblings stop, or does every piece count on its own?
//!
//! **With herd.** Three answers, each with a herd form:
//!
//! | you want | the guides' tool | herd | a failure |
//! | --- | --- | --- | --- |
//! | all or nothing, siblings stopped | `TaskGroup` | [`Scope`](crate::task::Scope) (fail-fast by default), or [`task::all`](crate::task::all) in the current task | cancels the siblings at once and is returned |
//! | all or nothing | `gather`, `Promise.all` | [`task::all`](crate::task::all) | the same: herd has no form that leaves the siblings running unowned |
//! | every outcome | `allSettled`, `return_exceptions=True` | [`task::all_settled`](crate::task::all_settled), or a [`Policy::Supervise`](crate::task::Policy::Supervise) scope and [`join_all`](crate::task::Scope::join_all) | is kept as that entry's `Err`; nothing is cancelled |
//!
//! A scope spawns its children onto tokio (parallel on a multi-thread
//! runtime; they must be `Send + 'static`); the free functions poll the
//! futures inside the current task (they may borrow). Values come back in
//! spawn or input order either way.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use std::time::Duration;
//! use herd::task::{Scope, TaskError};
//! use tokio::time::{Instant, sleep};
//!
//! let orders_done = Arc::new(AtomicBool::new(false));
//! let page = Scope::<&str, String>::builder().name("page").build();
//! page.spawn_named("users", async { Ok("users") }).await.unwrap();
//! let done = orders_done.clone();
//! page.spawn_named("orders", async move {
//!     sleep(Duration::from_secs(30)).await; // a slow query
//!     done.store(true, Ordering::SeqCst);
//!     Ok("orders")
//! })
//! .await
//! .unwrap();
//! page.spawn_named("inventory", async {
//!     sleep(Duration::from_secs(1)).await;
//!     Err("inventory service is down".to_string())
//! })
//! .await
//! .unwrap();
//!
//! let start = Instant::now();
//! let Err(TaskError::Failed { task, error }) = page.join().await else { panic!("no failure") };
//! assert_eq!((task.name(), error.as_str()), (Some("inventory"), "inventory service is down"));
//! // The failure cancelled the slow sibling: `join` returned after one
//! // second, and the orders query never finished in the background.
//! assert_eq!(start.elapsed(), Duration::from_secs(1));
//! sleep(Duration::from_secs(60)).await;
//! assert!(!orders_done.load(Ordering::SeqCst));
//! # }
//! ```
//!
//! The same three inputs, awaited in the current task, fail fast with
//! [`all`](crate::task::all) or are all kept with
//! [`all_settled`](crate::task::all_settled):
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::time::Duration;
//! use herd::task::{all, all_settled};
//! use tokio::time::sleep;
//!
//! async fn part(name: &'static str, secs: u64, ok: bool) -> Result<&'static str, String> {
//!     sleep(Duration::from_secs(secs)).await;
//!     if ok { Ok(name) } else { Err(format!("{name} is down")) }
//! }
//! let parts = || [part("users", 0, true), part("orders", 30, true), part("inventory", 1, false)];
//!
//! let err = all(parts()).await.unwrap_err();
//! assert_eq!(err.task().index(), 2);
//!
//! let outcomes = all_settled(parts()).await;
//! assert_eq!(outcomes[0], Ok("users"));
//! assert_eq!(outcomes[1], Ok("orders"));
//! assert_eq!(outcomes[2].clone().unwrap_err().into_failure(), Some("inventory is down".to_string()));
//! # }
//! ```
//!
//! **The pitfall this avoids.** The guides' own table shows the trap:
//! after `gather` raises, or `Promise.all` rejects, the other calls run on
//! with nobody waiting for them, holding connections and writing results
//! no one reads; and `return_exceptions=True` turns the group into a list
//! where errors pass for values unless each is checked. In herd, a group
//! that gives up on its members stops them (a [`Scope`](crate::task::Scope)
//! cancels and awaits its children before [`join`](crate::task::Scope::join)
//! returns, [`all`](crate::task::all) drops the other futures), and a
//! settled group hands back `Result`s that must be matched. The results are
//! in input order, not completion order (flaw 2 of the seeds' list).
//!
//! **When to use something else.** For the fastest of several answers,
//! [`task::race`](crate::task::race); for the first success among mirrors,
//! [`task::first_ok`](crate::task::first_ok). To bound how many run at
//! once, [`ScopeBuilder::limit`](crate::task::ScopeBuilder::limit) or
//! [`task::at_most`](crate::task::at_most) (see
//! [`limit_and_timeout`](super::limit_and_timeout)). What to do with the
//! failures you kept: [`partial_failures`](super::partial_failures).
