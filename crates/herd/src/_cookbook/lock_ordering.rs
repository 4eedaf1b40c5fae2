//! # Lock ordering
//!
//! **The problem.** Code that holds one lock while taking another
//! deadlocks as soon as two paths take the same pair in opposite orders.
//! The cure is one global order for every lock; the difficulty is
//! noticing when some path breaks it, usually long before it hangs.
//!
//! **With herd.** Derive the order from the data (here, account numbers),
//! write it down as levels with
//! [`Mutex::with_level`](crate::sync::Mutex::with_level) (also on
//! [`RwLock`](crate::sync::RwLock::with_level) and
//! [`Semaphore`](crate::sync::Semaphore::with_level)), and switch
//! [diagnostics](crate::diag) on in development and tests. While a
//! resource with a level is held, taking one whose level is not higher is
//! reported as a [`LockOrder`](crate::diag::LockOrder). Locks without
//! levels are checked too, against the order herd has seen: after `a`
//! then `b`, the first `b` then `a` is reported, even on a run that did
//! not hang.
//!
//! ```
//! use herd::diag::{self, OrderRule, Report};
//! use herd::sync::Mutex;
//!
//! diag::enable();
//! // Levels follow account numbers: always lock the lower number first.
//! let accounts: Vec<Mutex<i64>> = (0..3)
//!     .map(|n| Mutex::named(format!("account {n}"), 1_000).with_level(n + 1))
//!     .collect();
//!
//! fn transfer(accounts: &[Mutex<i64>], from: usize, to: usize, amount: i64) {
//!     let (low, high) = (from.min(to), from.max(to));
//!     let mut first = accounts[low].lock_blocking();
//!     let mut second = accounts[high].lock_blocking();
//!     let (source, target) = if from == low { (&mut *first, &mut *second) }
//!         else { (&mut *second, &mut *first) };
//!     *source -= amount;
//!     *target += amount;
//! }
//!
//! // Opposite transfers on four threads at once: no deadlock.
//! std::thread::scope(|s| {
//!     for (from, to) in [(0, 1), (1, 0), (1, 2), (2, 0)] {
//!         let accounts = &accounts;
//!         s.spawn(move || for _ in 0..500 { transfer(accounts, from, to, 1) });
//!     }
//! });
//! let total: i64 = accounts.iter().map(|a| *a.lock_blocking()).sum();
//! assert_eq!(total, 3_000);
//! let broken = |r: &Report| matches!(r, Report::LockOrder(o)
//!     if o.acquiring.name().is_some_and(|n| n.starts_with("account ")));
//! assert!(!diag::recent().iter().any(broken), "the order was kept");
//!
//! // A path that forgets the order is reported the first time it runs,
//! // naming both locks and where each was taken.
//! let _high = accounts[2].lock_blocking();
//! let _low = accounts[0].lock_blocking();
//! let report = diag::recent().into_iter().find(broken).unwrap();
//! let Report::LockOrder(order) = &report else { unreachable!() };
//! assert_eq!(order.rule, OrderRule::Level { held: 3, acquiring: 1 });
//! assert_eq!(order.held.name(), Some("account 2"));
//! assert!(report.to_string().contains("level 1 after level 3; levels must rise"));
//! ```
//!
//! Reports go to `tracing` (target `herd::diag`, level `warn`) and to
//! [`diag::recent`](crate::diag::recent); a test can assert that none
//! was made, as above. The acquisition itself goes ahead: out of order is
//! a deadlock that can happen, not one that has.
//!
//! **The pitfall this avoids.** The guide's checker keeps its per-thread
//! table of held locks in a plain dictionary that every thread updates
//! without its lock, so under contention the checker itself races (flaw
//! 13 of the seeds' README); herd keeps the order it has seen under one
//! lock and each party's holds under its own, so the four threads above
//! check each other safely. It also tracks threads only, where a task
//! migrates between threads and many tasks share one; herd charges each
//! hold to the task or thread that took it. And it ranks locks by the
//! order they were registered, which need not match any order the code
//! follows; levels here are the order you chose, written where the lock
//! is made.
//!
//! **When to use something else.** If a cycle does form, herd refuses the
//! wait that closes it (see [deadlock detection](super::deadlock_detection)).
//! Often the better fix is to need only one lock: put the data two locks
//! guard under one [`Mutex`](crate::sync::Mutex), or copy what you need
//! out of the first lock and release it before taking the second. A wait
//! that must give up: [a timeout on acquisition](super::acquire_timeout).
