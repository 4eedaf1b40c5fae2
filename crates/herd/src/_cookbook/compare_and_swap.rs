//! # Compare-and-swap
//!
//! **The problem.** A counter, a flag or a small bounded number updated
//! from many threads needs each read-modify-write to happen as one step,
//! and a lock is more than such a small update needs.
//!
//! **With herd.** Nothing from herd: the standard library's atomics
//! ([`std::sync::atomic`]) are the hardware's compare-and-swap, with no
//! package to add. `fetch_add`, `fetch_sub`, `fetch_max` and friends
//! cover arithmetic in one instruction; for any other update,
//! `compare_exchange_weak` in a loop (or `fetch_update`, which writes the
//! loop for you) reads the value, computes the next one, and stores it
//! only if nobody changed it meanwhile, else tries again with what is
//! there now. herd is built on the same atomics (its
//! [`RateLimiter`](crate::limit::RateLimiter) is one atomic word updated
//! this way); a wrapper type would only hide the memory ordering you
//! should choose.
//!
//! ```
//! use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
//!
//! // A counter: one instruction per increment, no lock.
//! let requests = AtomicU64::new(0);
//! std::thread::scope(|s| {
//!     for _ in 0..8 {
//!         s.spawn(|| for _ in 0..10_000 { requests.fetch_add(1, Ordering::Relaxed); });
//!     }
//! });
//! assert_eq!(requests.load(Ordering::Relaxed), 80_000);
//!
//! // A bounded update (sell a seat only while seats are left): the CAS loop.
//! const SEATS: usize = 500;
//! let sold = AtomicUsize::new(0);
//! let sell = || -> bool {
//!     let mut seen = sold.load(Ordering::Relaxed);
//!     loop {
//!         if seen == SEATS {
//!             return false; // sold out: refuse, do not wait
//!         }
//!         match sold.compare_exchange_weak(seen, seen + 1, Ordering::AcqRel, Ordering::Relaxed) {
//!             Ok(_) => return true,
//!             Err(now) => seen = now, // someone sold one meanwhile: retry from there
//!         }
//!     }
//! };
//! let tickets: usize = std::thread::scope(|s| {
//!     let buyers: Vec<_> = (0..8)
//!         .map(|_| s.spawn(|| (0..100).filter(|_| sell()).count()))
//!         .collect();
//!     buyers.into_iter().map(|b| b.join().unwrap()).sum()
//! });
//! assert_eq!(tickets, SEATS, "800 tries, exactly 500 seats sold");
//! assert_eq!(sold.load(Ordering::Relaxed), SEATS);
//!
//! // `fetch_update` is the same loop, written for you.
//! let one_more = sold.fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| {
//!     (n < SEATS).then_some(n + 1)
//! });
//! assert_eq!(one_more, Err(SEATS), "sold out: refused, value unchanged");
//! ```
//!
//! `Relaxed` is enough for a count read after the threads are joined
//! (joining orders everything before it). When the atomic says that other
//! data is ready, store with `Release` and load with `Acquire`.
//!
//! **The pitfall this avoids.** "Load, add one, store" as two separate
//! atomic operations is still a race: two threads load 7 and both store 8.
//! The exchange stores only if the value is still the one it read. Safe
//! Rust will not compile the unsynchronised version at all:
//!
//! ```compile_fail,E0499
//! let mut count = 0;
//! std::thread::scope(|s| {
//!     s.spawn(|| count += 1);
//!     s.spawn(|| count += 1); // error: `count` borrowed mutably twice
//! });
//! ```
//!
//! One guide lists a thread-local under "atomic operations"; a
//! thread-local is not shared at all, so a count kept in one counts only
//! its own thread (flaw 12 of the seeds' README; see
//! [thread-local state](super::thread_local)).
//!
//! **When to use something else.** An update that spans more than one
//! value, or awaits in the middle: a [`Mutex`](crate::sync::Mutex) (see
//! [run-exclusive](super::run_exclusive)). A caller that should *wait*
//! for a slot rather than be refused: a
//! [`Semaphore`](crate::sync::Semaphore), whose waiters are woken in
//! order instead of spinning. A counter so hot that every core fighting
//! over one cache line shows in a profile: per-thread counts summed at
//! the end. Pointers swapped by CAS meet the ABA problem; share an `Arc`
//! snapshot instead (see [copy-on-write](super::copy_on_write)).
