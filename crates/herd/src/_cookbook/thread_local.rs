//! # Thread-local state
//!
//! **The problem.** Some state belongs to one thread or one request, not
//! to everyone: a scratch buffer, a per-thread cache, the id of the
//! request being served. Keeping it per thread (or per task) needs no
//! lock, because nothing else can see it.
//!
//! **With herd.** Nothing from herd. On threads, std's
//! [`thread_local!`](std::thread_local) gives each thread its own copy,
//! reached with `with` (a [`Cell`](std::cell::Cell) or
//! [`RefCell`](std::cell::RefCell) inside for mutation). In async code a
//! thread is the wrong unit: one thread runs many tasks in turn, and on a
//! multi-thread runtime a task moves between threads at each `.await`.
//! tokio's [`task_local!`](tokio::task_local) keys the value to a future
//! instead: `KEY.scope(value, future)` sets it for as long as that future
//! runs, on whatever thread polls it.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::cell::Cell;
//! use std::time::Duration;
//!
//! thread_local! {
//!     static HANDLED: Cell<u32> = const { Cell::new(0) };
//! }
//!
//! // Each thread counts its own: four threads, four separate counts.
//! let counts: Vec<u32> = std::thread::scope(|s| {
//!     let threads: Vec<_> = (0..4)
//!         .map(|_| s.spawn(|| {
//!             for _ in 0..1_000 {
//!                 HANDLED.with(|n| n.set(n.get() + 1));
//!             }
//!             HANDLED.with(Cell::get)
//!         }))
//!         .collect();
//!     threads.into_iter().map(|t| t.join().unwrap()).collect()
//! });
//! assert_eq!(counts, [1_000; 4], "not 4_000: nothing is shared");
//! assert_eq!(HANDLED.with(Cell::get), 0, "this thread never counted");
//!
//! // Per request in async code: a task-local, set for one future.
//! tokio::task_local! {
//!     static REQUEST_ID: u64;
//! }
//! async fn log_line(message: &str) -> String {
//!     format!("[request {}] {message}", REQUEST_ID.get())
//! }
//! let (a, b) = tokio::join!(
//!     REQUEST_ID.scope(1, async {
//!         tokio::time::sleep(Duration::from_millis(20)).await; // b runs meanwhile
//!         log_line("done").await
//!     }),
//!     REQUEST_ID.scope(2, async {
//!         tokio::time::sleep(Duration::from_millis(10)).await;
//!         log_line("done").await
//!     }),
//! );
//! // Both ran on this one thread, interleaved; each kept its own id.
//! assert_eq!((a.as_str(), b.as_str()), ("[request 1] done", "[request 2] done"));
//!
//! // A task-local does not follow work into a spawned task: pass it along.
//! let lost = REQUEST_ID
//!     .scope(3, async { tokio::spawn(async { REQUEST_ID.try_with(|id| *id) }).await.unwrap() })
//!     .await;
//! assert!(lost.is_err());
//! let kept = REQUEST_ID
//!     .scope(3, async {
//!         let id = REQUEST_ID.get();
//!         tokio::spawn(REQUEST_ID.scope(id, async { REQUEST_ID.get() })).await.unwrap()
//!     })
//!     .await;
//! assert_eq!(kept, 3);
//! # }
//! ```
//!
//! **The pitfall this avoids.** One guide offers a thread-local as a way
//! to make a shared counter safe (flaw 12 of the seeds' README). It is
//! safe only because it is not shared: each thread counts its own, and
//! the totals never meet, as the first assertion shows. A count shared by
//! all wants an atomic (see [compare-and-swap](super::compare_and_swap)).
//! The other trap is a `thread_local!` used for per-request state in async
//! code: two requests served in turn on one thread overwrite each other's
//! value, and a request that moves threads at an `.await` finds another
//! request's value, or none.
//!
//! **When to use something else.** Best of all, pass the state as an
//! argument: explicit, testable, and it crosses `spawn` without help. For
//! cancellation, pass a [`CancelToken`](crate::task::CancelToken) (or
//! spawn into a [`Scope`](crate::task::Scope), which cancels its children
//! with it); for names in logs and dumps, name the task with
//! [`Scope::spawn_named`](crate::task::Scope::spawn_named), which
//! [`diag::dump`](crate::diag::dump) and every report show. State shared
//! by all threads: an atomic, a [`Mutex`](crate::sync::Mutex), or an
//! immutable `Arc` (see [copy-on-write](super::copy_on_write)).
