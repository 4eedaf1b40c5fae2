//! # CPU-bound work off the async runtime: threads and processes
//!
//! **The problem.** An async runtime runs many tasks on a few threads, and
//! a task gives its thread back only at an `.await`. A long computation
//! inside a task (parsing, compression, hashing, image work) or a blocking
//! call holds its thread the whole time, and every other task on that
//! thread waits. The work has to run somewhere else, and the async code has
//! to be able to await the result.
//!
//! **With herd.** In Rust, threads run truly in parallel (there is no GIL),
//! so the default answer is a [`pool::ThreadPool`](crate::pool::ThreadPool):
//! a fixed number of named threads, sized to the cores, behind a bounded
//! queue. [`submit`](crate::pool::ThreadPool::submit) waits
//! asynchronously for room, and the handle is awaited like any future.
//! Processes are needed only for isolation: work that may crash the
//! process (native code, untrusted input), leak memory, or need a hard kill
//! on timeout. For that, a [`pool::ProcessPool`](crate::pool::ProcessPool)
//! (Unix only) runs each job in a worker process.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use herd::pool::ThreadPool;
//!
//! let pool = ThreadPool::builder().threads(2).name("crunch").build().unwrap();
//! let (go, wait) = std::sync::mpsc::channel();
//! let job = pool
//!     .submit(move || {
//!         wait.recv().unwrap(); // blocks this pool thread until the task below runs
//!         Ok::<_, String>((1..=1_000_000u64).map(|n| n % 7).sum::<u64>())
//!     })
//!     .await
//!     .unwrap();
//! // The runtime has a single thread, and it stays free while the job blocks.
//! let other = tokio::spawn(async move { go.send(()).unwrap() });
//! other.await.unwrap();
//! assert_eq!(job.await, Ok(2_999_998));
//! # }
//! ```
//!
//! A process pool starts this program's own binary as its workers;
//! [`serve_if_worker`](crate::pool::serve_if_worker), first thing in
//! `main`, makes it serve jobs when the pool started it. Inputs and results
//! cross the process boundary as JSON. A job that kills its process fails
//! alone, with a [`Crash`](crate::pool::Crash), and a fresh worker takes
//! its place. (This example is a doc test of its own, marked
//! `standalone_crate`, so that the binary the pool re-executes is this
//! example. It runs on tokio's real clock, as the workers are real
//! processes, and nothing in it waits on a timer.)
//!
//! ```rust,standalone_crate
//! # #[tokio::main]
//! # async fn main() {
//! use herd::pool::{JobError, ProcessPool};
//!
//! /// How many steps `n` takes to reach 1 in the Collatz sequence.
//! fn collatz(mut n: u64) -> u64 {
//!     let mut steps = 0;
//!     while n != 1 {
//!         n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
//!         steps += 1;
//!     }
//!     steps
//! }
//! // As a worker, this serves jobs and exits; otherwise it returns at once.
//! herd::pool::serve_if_worker("collatz", |n: u64| match n {
//!     0 => std::process::exit(70), // stands in for a crash in native code
//!     n => Ok::<_, String>(collatz(n)),
//! });
//!
//! let pool = ProcessPool::<u64, u64>::builder("collatz").workers(2).build().await.unwrap();
//! assert!(!pool.pids().contains(&std::process::id()), "the jobs run in other processes");
//! let crash = pool.submit(0).await.unwrap();
//! let fine = pool.submit(27).await.unwrap();
//! let Err(JobError::Crashed(crash)) = crash.await else { panic!("expected a crash") };
//! assert_eq!(crash.code(), Some(70));
//! assert_eq!(fine.await, Ok(111), "the other job was not affected");
//! assert_eq!(pool.submit(97).await.unwrap().await, Ok(118), "a fresh worker took over");
//! let stats = pool.shutdown(std::time::Duration::from_secs(5)).await;
//! assert_eq!((stats.workers, stats.done, stats.failed), (2, 2, 1));
//! # }
//! ```
//!
//! The runnable test `crates/herd/tests/process_pool.rs` (run it with
//! `cargo test -p herd --test process_pool`) covers the rest on real
//! processes: timeouts that kill a worker's whole process group
//! ([`job_timeout`](crate::pool::ProcessPoolBuilder::job_timeout)),
//! recycling after a number of jobs, and a shutdown that leaves no child
//! behind.
//!
//! **The pitfall this avoids.** The guides send CPU work to processes
//! because of Python's GIL, and call `run_in_executor` with a fresh process
//! pool each time. In Rust, moving work to another process costs start-up
//! and the encoding of every input and result, for parallelism that threads
//! already give. In async code
//! the common mistake is the opposite one: the computation runs inline and
//! stalls the runtime (the debugging table's "slow despite async").
//! `tokio::task::spawn_blocking` moves it off the runtime, but its queue is
//! unbounded and it starts up to 512 threads, so a burst of CPU jobs
//! oversubscribes the cores. A `ThreadPool` has exactly the threads it was
//! given and applies backpressure when its queue is full. Its failures are
//! results, as in every herd pool (see
//! [worker pools](crate::_cookbook::worker_pools)).
//!
//! **When to use something else.** For data-parallel work over a slice or
//! an iterator, rayon's `par_iter` splits it across cores better than one
//! job per item. For async jobs (I/O with a little CPU), use a
//! [`WorkerPool`](crate::pool::WorkerPool). To keep state across processes,
//! see [shared state between processes](crate::_cookbook::shared_state_processes).
//! To find a task that blocks its thread, use herd's
//! [diagnostics](crate::diag) (see [debugging](crate::_cookbook::debugging)).
