//! # Deadlock detection
//!
//! **The problem.** When tasks or threads each hold a lock the next one
//! wants, all of them wait forever, and nothing says so: the program just
//! stops. We want the wait that closes the cycle to fail at once, with an
//! error that names every party and lock in it and where each was taken.
//!
//! **With herd.** Switch [diagnostics](crate::diag) on with
//! [`diag::enable`](crate::diag::enable) (or `HERD_DIAG=1`). herd then
//! keeps a wait-for graph of its own [`Mutex`](crate::sync::Mutex),
//! [`RwLock`](crate::sync::RwLock) and
//! [`Semaphore`](crate::sync::Semaphore): who holds what, who waits for
//! what. A wait that would close a cycle is refused before it starts,
//! with [`AcquireError::Deadlock`](crate::sync::AcquireError::Deadlock)
//! carrying the [`Deadlock`](crate::diag::Deadlock): each
//! [`Link`](crate::diag::Link) is one party waiting for a resource the
//! next one holds. Forms that cannot fail (`lock().await`,
//! `lock_blocking()`) panic with the same report instead of hanging;
//! [`OnDeadlock`](crate::diag::OnDeadlock) chooses otherwise.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use herd::sync::{AcquireError, Mutex};
//! use herd::task::{Policy, Scope, TaskError};
//!
//! herd::diag::enable();
//! let checking = Arc::new(Mutex::named("checking", 100));
//! let savings = Arc::new(Mutex::named("savings", 100));
//! let both_hold = Arc::new(tokio::sync::Barrier::new(2));
//! let bank = Scope::<(), AcquireError>::builder()
//!     .name("bank")
//!     .policy(Policy::Supervise)
//!     .build();
//! let transfers = [("to-savings", &checking, &savings), ("to-checking", &savings, &checking)];
//! for (name, from, to) in transfers {
//!     let (from, to, both_hold) = (from.clone(), to.clone(), both_hold.clone());
//!     bank.spawn_named(name, async move {
//!         let mut from = from.lock().await;
//!         both_hold.wait().await; // each holds its first lock
//!         let mut to = to.lock_timeout(Duration::from_secs(60)).await?; // opposite orders
//!         *from -= 10;
//!         *to += 10;
//!         Ok(())
//!     })
//!     .await
//!     .unwrap();
//! }
//! let start = tokio::time::Instant::now();
//! let outcomes = bank.join_all().await;
//!
//! // The second wait closed the cycle: refused at once, not after 60 s.
//! assert_eq!(start.elapsed(), Duration::ZERO);
//! let refused: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
//! assert_eq!(refused.len(), 1);
//! let TaskError::Failed { error: AcquireError::Deadlock { deadlock, .. }, .. } = refused[0] else {
//!     panic!("{:?}", refused[0]);
//! };
//! // Two links: each task waits for the lock the other holds.
//! assert_eq!(deadlock.cycle.len(), 2);
//! assert_eq!(deadlock.cycle[0].holder, deadlock.cycle[1].waiter);
//! assert_eq!(deadlock.cycle[1].holder, deadlock.cycle[0].waiter);
//! // Reads e.g. `deadlock: task "to-checking" (#4 in scope "bank", spawned at
//! // src/main.rs:20:5) waits for Mutex "checking" at src/main.rs:23:37, held by ...`
//! let text = deadlock.to_string();
//! for name in ["\"to-savings\"", "\"to-checking\"", "Mutex \"checking\"", "Mutex \"savings\""] {
//!     assert!(text.contains(name), "{name} missing from {text}");
//! }
//! // The refused task let go of its first lock, so the other finished.
//! assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1);
//! assert_eq!(*checking.lock().await + *savings.lock().await, 200);
//! # }
//! ```
//!
//! Threads are parties too, and a lock is not re-entrant: waiting for a
//! lock you already hold is a cycle of one.
//!
//! ```
//! use std::sync::Barrier;
//! use std::time::Duration;
//! use herd::sync::{AcquireError, Mutex};
//!
//! herd::diag::enable();
//! let (left, right) = (Mutex::named("left fork", ()), Mutex::named("right fork", ()));
//! let both_hold = Barrier::new(2);
//! let refused = std::thread::scope(|s| {
//!     let diners = [(&left, &right), (&right, &left)].map(|(a, b)| {
//!         let both_hold = &both_hold;
//!         s.spawn(move || {
//!             let _a = a.lock_blocking();
//!             both_hold.wait();
//!             b.lock_blocking_timeout(Duration::from_secs(60)).map(drop)
//!         })
//!     });
//!     diners.map(|d| d.join().unwrap()).iter().filter(|r| r.is_err()).count()
//! });
//! assert_eq!(refused, 1, "one diner refused, the other ate");
//!
//! let _held = left.lock_blocking();
//! let err = left.lock_blocking_timeout(Duration::from_secs(60)).unwrap_err();
//! let AcquireError::Deadlock { deadlock, .. } = err else { panic!("{err}") };
//! assert_eq!(deadlock.cycle.len(), 1);
//! assert!(deadlock.to_string().contains("which it already holds"));
//! ```
//!
//! **The pitfall this avoids.** The guide's detector is a map from each
//! thread to the one thread it waits for, filled in by hand: code must
//! remember to call it around every wait, and one forgotten call hides the
//! cycle. Its error says only that a deadlock exists, not between whom.
//! It knows threads only, where thousands of tasks share a few threads,
//! and it assumes a lock has one holder, where a read lock or a
//! semaphore has many. herd records every wait and hold inside the locks
//! themselves, keyed by task or thread, and refuses a wait only when
//! every holder of the resource is stuck in the cycle.
//!
//! **When to use something else.** Preventing the cycle is better than
//! catching it: one order for every lock (see
//! [lock ordering](super::lock_ordering), whose reports come before any
//! hang). Waits outside herd's locks (a channel, I/O, a std mutex) are not
//! in the graph: a cycle through them is not detected, but a
//! [timeout](super::acquire_timeout) bounds it and
//! [`diag::dump`](crate::diag::dump) shows who waits (see
//! [the debugging table](super::debugging)). Data races are not deadlocks:
//! Miri and ThreadSanitizer find those.
