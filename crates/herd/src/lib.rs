//! herd makes the concurrency patterns every backend and CLI needs safe by
//! default: tasks that never outlive their owner, bounded parallelism, and
//! cancellation and timeouts everywhere, on top of tokio.
//!
//! # Which tool for which workload
//!
//! | workload | in Rust, with herd | why |
//! | --- | --- | --- |
//! | I/O-bound: HTTP calls, database queries, sockets, files | async tasks in a [`task::Scope`] with a [`limit`](task::ScopeBuilder::limit), or [`task::at_most`]`(n).all(..)` | a task costs a few hundred nanoseconds and a few hundred bytes, so thousands wait on I/O at once; the limit keeps sockets and the remote side within bounds |
//! | many concurrent connections (servers, crawlers) | one task per connection, owned by a scope, each wait under a [`task::timeout`] | tasks, not threads, scale to tens of thousands of connections; a timeout on every external call keeps one slow peer from holding a slot forever |
//! | CPU-bound: parsing, compression, hashing, image work | a [`pool::ThreadPool`] sized to the cores | Rust has no GIL: threads run truly in parallel, so processes are only needed for isolation; CPU work inside an async task stalls every other task on that worker; the pool's queue is bounded, unlike `spawn_blocking`'s |
//! | a blocking library you cannot change (sync DB driver, `std::fs`, FFI) | a [`pool::ThreadPool`] with as many threads as the library tolerates | keeps the executor's workers free; the thread count bounds the blocking calls |
//! | a stream of jobs from many producers, for the life of a service | a [`pool::WorkerPool`] | N workers, a bounded queue with priorities, a result per job, graceful shutdown |
//! | mixed: fetch, then crunch | async for the I/O, a [`pool::ThreadPool`] for the CPU step, one scope owning both | never block the event loop; one owner cancels both halves together |
//! | calls to an API with a quota (per second, per host, per user) | a [`limit::RateLimiter`] or [`limit::KeyedRateLimiter`]; a [`limit::Limiter`] to bound concurrency too | waiters queue first in first out with one timer for the line, and a refusal says how long to wait |
//! | untrusted or crash-prone work | a [`pool::ProcessPool`] | a crash or leak stays in the child and fails one job; the worker is replaced |
//!
//! # Shared state
//!
//! | you share | use |
//! | --- | --- |
//! | data changed by many tasks or threads, held across `.await` | [`sync::Mutex`] (`lock().await` in tasks, `lock_blocking()` on threads) |
//! | data read often, written rarely | [`sync::RwLock`]: writers are never starved |
//! | a budget: connections, memory, a resizable limit | [`sync::Semaphore`] |
//! | a signal: ready, shut down, new work | [`sync::Event`], [`sync::Notify`], or a [`task::CancelToken`] to stop work |
//! | a value made once (a client, a config) | [`sync::OnceCell`] |
//! | a stream of work from producers to consumers, with backpressure | [`queue::bounded`], or [`queue::Builder`] for drop-oldest, drop-newest, reject, or priorities |
//!
//! # Error handling in a group
//!
//! | you want | use | on failure |
//! | --- | --- | --- |
//! | all or nothing | [`Scope::join`](task::Scope::join) with [`Policy::FailFast`](task::Policy::FailFast), or [`task::all`] | the first failure or panic cancels the siblings and is returned |
//! | every result, good and bad | [`Scope::join_all`](task::Scope::join_all) with [`Policy::Supervise`](task::Policy::Supervise), or [`task::all_settled`] | nothing is cancelled; each outcome is kept, in spawn or input order |
//! | the fastest answer | [`task::race`] | the first to finish wins; the rest are dropped |
//! | any one that works (mirrors, replicas) | [`task::first_ok`] | the first success wins; if none, every error |
//!
//! # Rules herd keeps
//!
//! - **Structured**: every task has an owner; no fire-and-forget spawn.
//! - **Bounded**: every group can carry a limit; waiting for room is
//!   asynchronous and first-come first-served, never polling.
//! - **Cancellable**: every wait can take a timeout or a deadline;
//!   cancellation flows from parent to child with a [reason](task::CancelReason).
//! - **Errors are values**: a failure, panic, cancellation or timeout is a
//!   [`TaskError`](task::TaskError); nothing hangs because something else failed.
//!
//! # Example
//!
//! ```
//! # #[tokio::main]
//! # async fn main() {
//! use herd::task::Scope;
//!
//! let scope = Scope::<usize, std::io::Error>::builder().limit(4).build();
//! for n in 1..=10 {
//!     scope.spawn(async move { Ok(n * n) }).await.unwrap();
//! }
//! let squares = scope.join().await.unwrap();
//! assert_eq!(squares.iter().sum::<usize>(), 385);
//! # }
//! ```

#![warn(missing_docs)]

pub mod _cookbook;
pub mod diag;
#[cfg(any(feature = "redis", feature = "postgres"))]
pub mod dist;
pub mod limit;
mod loom;
pub mod pool;
pub mod queue;
pub mod resilience;
pub mod shutdown;
pub mod sync;
pub mod task;

/// The README's example, compiled and run as a doc test so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
