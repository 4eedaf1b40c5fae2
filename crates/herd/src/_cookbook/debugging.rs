//! # The debugging table
//!
//! **The problem.** A concurrency bug shows up as a symptom (a hang,
//! a slowdown, a wrong total) far from its cause. Each symptom has a
//! usual suspect, and we want a tool that names the culprit: which task,
//! which lock, which line.
//!
//! **With herd.** Switch [diagnostics](crate::diag) on with
//! [`diag::enable`](crate::diag::enable), or `HERD_DIAG=1` in the
//! environment, in development, in tests, or in production while you
//! chase a hang. Every finding is a [`Report`](crate::diag::Report), logged
//! through `tracing` (target `herd::diag`) and kept in
//! [`diag::recent`](crate::diag::recent); name your scopes and tasks
//! ([`Scope::spawn_named`](crate::task::Scope::spawn_named)) and your
//! locks (`Mutex::named`) so the reports read well. Each `bug-` example
//! in `crates/herd/examples/bugs/` commits one bug and prints what herd
//! says about it: `cargo run -p herd --example bug-abba`.
//!
//! | symptom | likely cause | herd tool | what it prints |
//! | --- | --- | --- | --- |
//! | hangs; tasks or threads each wait for a lock | deadlock: two locks taken in opposite orders, a ring of three, a lock taken again by its holder | the wait-for graph: the wait that closes the cycle fails with [`AcquireError::Deadlock`](crate::sync::AcquireError::Deadlock), or panics with the report (`bug-abba`, `bug-ring`; [deadlock detection](super::deadlock_detection)) | `deadlock: task "b" (#4 in scope "bank", spawned at src/bank.rs:31:9) waits for Mutex "checking" at src/bank.rs:34:25, held by "a" (#3) since src/bank.rs:33:25; task "a" ...` |
//! | hangs now and then, or only under load | two paths nest the same locks in opposite orders; this run was lucky | [`LockOrder`](crate::diag::LockOrder), from levels ([`Mutex::with_level`](crate::sync::Mutex::with_level)) or from the order seen ([lock ordering](super::lock_ordering)) | `lock order: task "t" (...) acquired Mutex "a" at ... while holding Mutex "b" (acquired at ...); the opposite order was taken at ... then ...: the two paths can deadlock` |
//! | hangs; one task waits for a lock, no cycle | the holder keeps the lock across a slow `.await` (an upstream call) | [`Stalled`](crate::diag::Stalled), once a wait passes [`Config::stalled_wait`](crate::diag::Config::stalled_wait) (1 s), with each holder and what it is doing (`bug-held-across-await`) | `stalled: task "read" (...) has waited 1s for Mutex "cache" at ...; held by task "refresh" (...), idle for 1s, held 1s since src/cache.rs:20:38` |
//! | a pool runs dry over hours; callers queue for permits that never come back | a leaked permit or guard: `mem::forget`, a guard kept in a long-lived struct | [`Stalled`](crate::diag::Stalled) or [`diag::dump`](crate::diag::dump): the holder has finished (`bug-leaked-permit`) | `held by task "import" (...), finished, held 2s since src/import.rs:24:50 - leaked: a guard was forgotten` |
//! | hangs waiting on a herd queue: a consumer for an item that never comes, a producer for room | nobody sends any more (a producer died without closing), or the consumers stopped | [`diag::dump`](crate::diag::dump) lists the queue's waiters with where each waits and for how long (never reported as a stall: waiting on a queue is a worker's normal state) | under `resources:`, `Queue "jobs"`, then `waited for by task "worker-2" (...) for 40s at src/worker.rs:18` |
//! | hangs on something else: a foreign channel, I/O, a future that never resolves | an await with no bound; a sender or reply that never comes | [`task::timeout`](crate::task::timeout) or a scope's [`timeout`](crate::task::ScopeBuilder::timeout) on every external wait; [`diag::dump`](crate::diag::dump) shows the task idle | `timed out after 30s`; `task 3 "fetch" timed out: deadline of scope "request" passed`; in the dump, `task "fetch" (...): idle for 30s` |
//! | a lock wait gave up, but which lock? | contention, or any of the above | the `_timeout` forms ([a timeout on acquisition](super::acquire_timeout)): [`AcquireError::TimedOut`](crate::sync::AcquireError::TimedOut) names the resource | `timed out after 5s waiting for Mutex "ledger"` |
//! | slow despite async; every task stalls at once | a blocking call or CPU work inside a task: `std::thread::sleep`, sync I/O, a long loop | [`SlowPoll`](crate::diag::SlowPoll) from the watchdog (a poll over 10 ms names its task; `bug-blocking-sleep`); [`diag::watch_lag`](crate::diag::watch_lag) for the runtime as a whole | `blocking: task "resize-image" (...) has been inside one poll for 200ms; move blocking or CPU work to a thread`; `event loop lag: a 5ms tick ran 195ms late; something blocked the runtime` |
//! | inconsistent results, lost updates | a race: a read-modify-write split by an `.await`, check-then-act | no report: safe Rust rules out data races at compile time; a logic race is fixed by holding one guard across the whole update ([run-exclusive](super::run_exclusive)) or a compare-and-swap ([compare-and-swap](super::compare_and_swap)), and caught by tests on a multi-thread runtime and loom | (nothing: the one row diagnostics cannot name) |
//! | work that never happens, errors nobody sees | a future never awaited; a task spawned and forgotten | the compiler for the first (a future does nothing until awaited); a [`Scope`](crate::task::Scope) for the second: every child's error or panic comes back from [`join`](crate::task::Scope::join) | `warning: unused implementer of Future that must be used`; `task 2 "notify" failed: ...` |
//! | memory grows | unbounded queues, or tasks spawned and forgotten | [`diag::dump`](crate::diag::dump) counts every live task, by scope; the fixes are [`queue::bounded`](crate::queue::bounded) and a [`Scope`](crate::task::Scope) that owns its tasks | `herd: 10412 tasks and threads`, then the tree of scopes and tasks |
//!
//! When a service hangs and you do not know why, print
//! [`diag::dump`](crate::diag::dump) (on a signal, say): every live task,
//! what it holds and waits for and since when, as text or
//! [JSON](crate::diag::Dump::to_json). Here one task holds a lock across
//! an await, one waits for it, and one leaked a permit:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use herd::sync::{Mutex, Semaphore};
//! use herd::task::Scope;
//!
//! herd::diag::enable();
//! let cache = Arc::new(Mutex::named("cache", 0));
//! let connections = Arc::new(Semaphore::named("connections", 2));
//! let upstream = Arc::new(tokio::sync::Notify::new());
//! let server = Scope::<(), ()>::builder().name("server").build();
//! let (c, up) = (cache.clone(), upstream.clone());
//! server.spawn_named("refresh", async move {
//!     let mut cache = c.lock().await;
//!     up.notified().await; // a slow upstream call, lock still held
//!     *cache += 1;
//!     Ok(())
//! }).await.unwrap();
//! let c = cache.clone();
//! server.spawn_named("read", async move { drop(c.lock().await); Ok(()) }).await.unwrap();
//! let pool = connections.clone();
//! server.spawn_named("import", async move {
//!     std::mem::forget(pool.acquire().await.unwrap()); // meant to keep it "until later"
//!     Ok(())
//! }).await.unwrap();
//! tokio::time::sleep(Duration::from_millis(1)).await; // all three go as far as they can
//!
//! let dump = herd::diag::dump();
//! let text = dump.to_string();
//! println!("{text}");
//! let has = |part: &str| assert!(text.contains(part), "{part:?} missing from\n{text}");
//! has("task \"refresh\""); // holds the cache, idle across its await
//! has("holds Mutex \"cache\" since");
//! has("task \"read\"");
//! has("waiting for Mutex \"cache\"");
//! has("Semaphore \"connections\""); // held by a task that has ended:
//! has("finished");
//! has("leaked: a guard was forgotten");
//! assert!(dump.to_json().contains("\"cache\""));
//!
//! upstream.notify_one();
//! server.join().await.unwrap();
//! assert_eq!(*cache.lock().await, 1);
//! assert_eq!(connections.available_permits(), 1, "the leaked permit never comes back");
//! # }
//! ```
//!
//! Left hung for two seconds, the same program's dump reads:
//!
//! ```text
//! herd: 2 tasks and threads
//!   task "refresh" (#1 in scope "server", spawned at src/main.rs:13:8): idle for 2s
//!     holds Mutex "cache" since src/main.rs:14
//!   task "read" (#2 in scope "server", spawned at src/main.rs:20:8): waiting for Mutex "cache" for 2s
//! resources:
//!   Mutex "cache"
//!     held by task "refresh" (#1 in scope "server", spawned at src/main.rs:13:8), idle for 2s, held 2s since src/main.rs:14:23
//!     waited for by task "read" (#2 in scope "server", spawned at src/main.rs:20:8) for 2s at src/main.rs:20
//!   Semaphore "connections"
//!     held by task "import" (#3 in scope "server", spawned at src/main.rs:22:8), finished, held 2s since src/main.rs:23:27 - leaked: a guard was forgotten
//! ```
//!
//! **The pitfall this avoids.** The guides' advice for a hang is to add
//! timeouts and log task states by hand; a timeout says that something
//! waited, not who held it, and hand-written logs miss the task that
//! matters. herd's locks record every hold and wait as they happen, so
//! the report names the holder, the waiter, the resource and the line,
//! including holders that are gone (a leaked permit) and waits that have
//! not yet hung (a lock-order inversion).
//!
//! **When to use something else.** Data races in `unsafe` code: Miri and
//! ThreadSanitizer. A stack trace for every future: tokio's task dumps
//! (under `tokio_unstable`). Metrics over time, poll histograms:
//! tokio-console and tokio-metrics. Waits outside herd's locks (std's
//! mutex, a channel) are not in the wait-for graph; a dump still shows
//! the herd locks their tasks hold.
