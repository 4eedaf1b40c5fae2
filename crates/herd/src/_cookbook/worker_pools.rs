//! # Thread, async and priority worker pools
//!
//! **The problem.** A service receives jobs from many places over its whole
//! life. It wants a fixed number of workers, a bounded queue in front of
//! them, urgent jobs first, a result for every job, and a shutdown that
//! finishes or cancels what is left without leaving any caller waiting.
//!
//! **With herd.** Pools differ in what a job is, and share one interface.
//! [`pool::WorkerPool`](crate::pool::WorkerPool) runs async jobs (futures
//! returning `Result`) on N tokio tasks.
//! [`pool::ThreadPool`](crate::pool::ThreadPool) runs blocking closures on N
//! named OS threads. [`pool::ProcessPool`](crate::pool::ProcessPool) runs
//! jobs in worker processes (see [CPU-bound work](crate::_cookbook::cpu_bound)).
//! `submit` waits for room in the queue, and `try_submit` refuses when the
//! queue is full. The `_with` forms take a priority: greater runs first, and
//! equal priorities run in the order they were submitted. Every
//! [`JobHandle`](crate::pool::JobHandle) resolves, with the value or with a
//! [`JobError`](crate::pool::JobError): `Failed`, `Panicked`, `Cancelled`,
//! and so on.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use herd::pool::{JobError, WorkerPool};
//!
//! let pool = WorkerPool::builder().workers(1).queue(16).build();
//! let ran = Arc::new(Mutex::new(Vec::new()));
//! let job = |label: &'static str| {
//!     let ran = ran.clone();
//!     async move {
//!         tokio::time::sleep(Duration::from_secs(1)).await;
//!         ran.lock().unwrap().push(label);
//!         Ok::<_, String>(label)
//!     }
//! };
//! // The top priority keeps the only worker busy while the others queue.
//! let _busy = pool.submit_with(10, job("busy")).await.unwrap();
//! let low = pool.submit_with(0, job("low")).await.unwrap();
//! let high_a = pool.submit_with(5, job("high a")).await.unwrap();
//! let high_b = pool.submit_with(5, job("high b")).await.unwrap();
//! let bad = async { Err::<&str, _>("bad input".to_string()) };
//! let failed = pool.submit_with(5, bad).await.unwrap();
//! let bug = async { panic!("bug") as Result<&str, String> };
//! let panicked = pool.submit_with(5, bug).await.unwrap();
//! let forever = std::future::pending::<Result<&str, String>>();
//! let endless = pool.submit_with(-1, forever).await.unwrap();
//!
//! // Finish what fits in 10 seconds, then cancel the rest.
//! let stats = pool.shutdown(Duration::from_secs(10)).await;
//! assert_eq!(*ran.lock().unwrap(), ["busy", "high a", "high b", "low"], "ties in order");
//! assert_eq!(failed.await, Err(JobError::Failed("bad input".to_string())));
//! assert_eq!(panicked.await, Err(JobError::Panicked("bug".to_string())));
//! assert_eq!((high_a.await, high_b.await, low.await), (Ok("high a"), Ok("high b"), Ok("low")));
//! assert!(endless.await.unwrap_err().is_cancelled(), "resolved, not left hanging");
//! // The panic cost one job; the one worker ran everything after it.
//! assert_eq!((stats.workers, stats.done, stats.failed, stats.cancelled), (1, 4, 2, 1));
//! # }
//! ```
//!
//! A [`ThreadPool`](crate::pool::ThreadPool) has the same interface and
//! needs no runtime: plain threads can submit with
//! [`submit_blocking`](crate::pool::ThreadPool::submit_blocking) and wait
//! with [`JobHandle::join`](crate::pool::JobHandle::join).
//!
//! ```
//! use herd::pool::{JobError, ThreadPool};
//!
//! let pool = ThreadPool::builder().threads(2).queue(4).name("resize").build().unwrap();
//! let handles: Vec<_> = (0..10u64)
//!     .map(|n| {
//!         // Blocks while 4 jobs are queued: backpressure for threads.
//!         pool.submit_blocking(move || match n {
//!             3 => panic!("corrupt image {n}"),
//!             7 => Err(format!("image {n} is empty")),
//!             _ => Ok(n * n),
//!         })
//!         .unwrap()
//!     })
//!     .collect();
//! let results: Vec<_> = handles.into_iter().map(|handle| handle.join()).collect();
//! assert_eq!(results[2], Ok(4));
//! assert_eq!(results[3], Err(JobError::Panicked("corrupt image 3".to_string())));
//! assert_eq!(results[7], Err(JobError::Failed("image 7 is empty".to_string())));
//! let stats = pool.stats();
//! assert_eq!((stats.workers, stats.done, stats.failed), (2, 8, 2));
//! ```
//!
//! **The pitfall this avoids.** The guides' pools have three flaws. A
//! shutdown that only sets a flag leaves queued jobs with futures that never
//! resolve (flaw 4). Here shutdown runs what it can within the grace period
//! and resolves every other job as cancelled. A job that raises kills its
//! worker, and once every worker is dead `join` hangs (flaw 5). Here a
//! failure or panic is that job's result, and the worker goes on to the next
//! job. A priority queue of `(priority, job)` pairs crashes when two
//! priorities tie, because it then compares the jobs, and it gives no order
//! among equals (flaw 6). Here the priority is a separate `i32`, and ties
//! run first in, first out. The guides' thread workers also poll the queue
//! every second to notice shutdown. herd's workers sleep until a job or the
//! close wakes them.
//!
//! **When to use something else.** For a fixed set of tasks that one owner
//! waits for, use a [`Scope`](crate::task::Scope) or
//! [`task::at_most`](crate::task::at_most) (see
//! [promise pool](crate::_cookbook::promise_pool)). To map one function over
//! a collection or stream at most N at a time, use
//! [`pool::map`](crate::pool::map). To consume items yourself instead of
//! submitting jobs, use a [queue](crate::_cookbook::producer_consumer). For
//! the order of a full service shutdown, see
//! [graceful shutdown](crate::_cookbook::graceful_shutdown).
