//! # Shared state between processes
//!
//! **The problem.** Work spread over several processes often has to build
//! one result together: counts, an index, a set of items already seen.
//! Python offers `multiprocessing.Manager`, a dict or list that every
//! process can change through a proxy. What is the Rust answer, and what
//! does herd provide?
//!
//! **With herd.** First, check whether you need processes at all. Python
//! uses them to get around the GIL, but Rust threads run in parallel and
//! share memory safely. State that many threads update goes in an
//! `Arc<Mutex<T>>`, with herd's [`sync::Mutex`](crate::sync::Mutex). The
//! same lock works in async tasks (`lock().await`) and on threads
//! ([`lock_blocking`](crate::sync::Mutex::lock_blocking)):
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::collections::BTreeMap;
//! use std::sync::Arc;
//! use herd::pool::ThreadPool;
//!
//! let totals = Arc::new(herd::sync::Mutex::new(BTreeMap::<String, u32>::new()));
//! let pool = ThreadPool::builder().threads(2).build().unwrap();
//! let mut handles = Vec::new();
//! for text in ["the cat sat", "The dog sat down", "a cat"] {
//!     let totals = totals.clone();
//!     let count = move || {
//!         let mut totals = totals.lock_blocking();
//!         for word in text.split_whitespace() {
//!             *totals.entry(word.to_lowercase()).or_default() += 1;
//!         }
//!         Ok::<_, String>(())
//!     };
//!     handles.push(pool.submit(count).await.unwrap());
//! }
//! for handle in handles {
//!     handle.await.unwrap();
//! }
//! let totals = totals.lock().await;
//! assert_eq!((totals["the"], totals["cat"], totals["sat"], totals["dog"]), (2, 2, 2, 1));
//! # }
//! ```
//!
//! When the work does need processes (for isolation; see
//! [CPU-bound work](crate::_cookbook::cpu_bound)), do not share mutable
//! state between them: pass messages. With a
//! [`pool::ProcessPool`](crate::pool::ProcessPool) (Unix), each job's input goes
//! to a worker and its result comes back, both as JSON. The parent owns the
//! state and folds the results into it, so only one process ever writes and
//! no lock is needed. (This is a doc test of its own, marked
//! `standalone_crate`, because the pool re-executes this example's binary
//! as its workers.)
//!
//! ```rust,standalone_crate
//! # #[tokio::main]
//! # async fn main() {
//! use std::collections::BTreeMap;
//! use herd::pool::ProcessPool;
//!
//! type Counts = BTreeMap<String, u32>;
//!
//! // In a worker process: count one text's words and send the counts back.
//! herd::pool::serve_if_worker("count-words", |text: String| {
//!     let mut counts = Counts::new();
//!     for word in text.split_whitespace() {
//!         *counts.entry(word.to_lowercase()).or_default() += 1;
//!     }
//!     Ok::<_, String>((std::process::id(), counts))
//! });
//!
//! let pool = ProcessPool::<String, (u32, Counts)>::builder("count-words")
//!     .workers(2)
//!     .build()
//!     .await
//!     .unwrap();
//! let mut handles = Vec::new();
//! for text in ["the cat sat", "The dog sat down", "a cat"] {
//!     handles.push(pool.submit(text.to_string()).await.unwrap());
//! }
//! // The state lives here, in the parent; the workers only send results.
//! let mut totals = Counts::new();
//! for handle in handles {
//!     let (worker, counts) = handle.await.unwrap();
//!     assert_ne!(worker, std::process::id(), "counted in another process");
//!     for (word, n) in counts {
//!         *totals.entry(word).or_default() += n;
//!     }
//! }
//! assert_eq!((totals["the"], totals["cat"], totals["sat"], totals["dog"]), (2, 2, 2, 1));
//! pool.shutdown(std::time::Duration::from_secs(5)).await;
//! # }
//! ```
//!
//! State that must outlive the processes, or be shared by programs that do
//! not start one another, belongs in a file or a database. For a file,
//! write a temporary file in the same directory and `rename` it over the old
//! one, so readers see either the old version or the new, never half of one. For a database,
//! let its transactions do the locking: SQLite on one machine, a database
//! server across several.
//!
//! herd provides the in-process locks, and the process pool for message
//! passing. It does not provide shared memory between processes, a lock or
//! semaphore that works across processes, proxy objects like `Manager`'s,
//! or a rate limit shared between processes or machines. A
//! [`sync::Mutex`](crate::sync::Mutex) in a worker process is a different
//! lock from the one in the parent, because the processes share no memory.
//!
//! **The pitfall this avoids.** A `Manager` dict looks like shared memory,
//! but each access is a round trip to a server process, with pickling.
//! `d[key] += 1` is two such trips, a read and a write, with nothing
//! holding the two together. Two processes can both read 0 and both write
//! 1: the read-modify-write race the guides warn about for threads,
//! repeated between processes. With message passing, there is nothing to
//! race on. Each job's result arrives once, and a worker that crashes in
//! the middle of a job leaves no half-made update behind; its job fails
//! with [`JobError::Crashed`](crate::pool::JobError::Crashed).
//!
//! **When to use something else.** For state read often and written
//! rarely, use [`sync::RwLock`](crate::sync::RwLock) (see
//! [read-write lock](crate::_cookbook::read_write_lock)), or replace a
//! snapshot as in [copy-on-write](crate::_cookbook::copy_on_write). For a
//! stream of results from long-lived workers of your own, use a
//! [queue](crate::_cookbook::producer_consumer) between threads. For a
//! counter or a flag, an atomic is enough (see
//! [compare-and-swap](crate::_cookbook::compare_and_swap)).
