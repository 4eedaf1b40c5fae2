//! Locks and semaphores for async code and threads alike, first-in
//! first-out, with timeouts that name what timed out.
//!
//! | need | use |
//! | --- | --- |
//! | one holder at a time, across `.await` or on threads | [`Mutex`] |
//! | many readers or one writer, writers never starved | [`RwLock`] |
//! | at most N holders (connection pool, memory budget, resizable limit) | [`Semaphore`] |
//! | wait until something has happened (set / clear / wait) | [`Event`] |
//! | wake one waiter or all, no value | [`Notify`] |
//! | n parties meet, then go on together | [`Barrier`] |
//! | a value made once, by one initialiser, maybe async | [`OnceCell`] |
//!
//! Every acquisition comes four ways: a future (`lock().await`), a blocking
//! call for threads (`lock_blocking()`), an immediate attempt
//! (`try_lock()`), and with a timeout (`lock_timeout(d).await`,
//! `lock_blocking_timeout(d)`) whose [`AcquireError`] names the resource,
//! so one type serves async and thread code. Each primitive can be named
//! (`Mutex::named("accounts", value)`); the name shows in errors and
//! `Debug`.
//!
//! Fairness: waiters are served in the order they started waiting, across
//! tasks and threads; `try_` forms fail while others wait, so nobody jumps
//! the line. Dropping a waiting future never leaks a permit and never
//! skips a waiter: permits set aside for it pass to the next in line.
//!
//! On tokio, every acquisition of a [`Mutex`], [`RwLock`] or [`Semaphore`]
//! that completes uses one unit of the task's cooperative budget, as
//! tokio's own locks do: a loop that takes a free lock over and over never
//! waits, and would otherwise keep its worker thread (and the tasks and
//! timers queued there) until it ended; with the budget it yields every so
//! often. Wrap a loop in `tokio::task::coop::unconstrained` to opt out.
//! Blocking and `try_` forms, and code outside tokio, are unaffected.
//!
//! When to use something else: a value only touched in short critical
//! sections on threads, never across `.await`, can use `std::sync::Mutex`;
//! a counter wants an atomic; a value shared read-only wants an `Arc`.
//! To bound how many tasks run, prefer a scope's limit
//! ([`ScopeBuilder::limit`](crate::task::ScopeBuilder::limit)) to a
//! semaphore taken by hand.
//!
//! # Examples
//!
//! A bank transfer that takes both account locks in one global order (by
//! account number), so two opposite transfers cannot deadlock:
//!
//! ```
//! # #[tokio::main]
//! # async fn main() {
//! use std::sync::Arc;
//! use herd::sync::Mutex;
//!
//! let accounts: Arc<Vec<Mutex<i64>>> =
//!     Arc::new((0..2).map(|n| Mutex::named(format!("account {n}"), 100)).collect());
//!
//! async fn transfer(accounts: &[Mutex<i64>], from: usize, to: usize, amount: i64) {
//!     let (first, second) = if from < to { (from, to) } else { (to, from) };
//!     let mut a = accounts[first].lock().await;
//!     let mut b = accounts[second].lock().await;
//!     let (source, target) = if from < to { (&mut *a, &mut *b) } else { (&mut *b, &mut *a) };
//!     *source -= amount;
//!     *target += amount;
//! }
//!
//! let there = tokio::spawn({
//!     let accounts = accounts.clone();
//!     async move { for _ in 0..100 { transfer(&accounts, 0, 1, 1).await } }
//! });
//! let back = tokio::spawn({
//!     let accounts = accounts.clone();
//!     async move { for _ in 0..100 { transfer(&accounts, 1, 0, 1).await } }
//! });
//! there.await.unwrap();
//! back.await.unwrap();
//! let total = *accounts[0].lock().await + *accounts[1].lock().await;
//! assert_eq!(total, 200, "money is neither made nor lost");
//! # }
//! ```

mod barrier;
mod error;
mod event;
pub(crate) mod line;
#[cfg(all(test, loom))]
mod loom_tests;
mod mutex;
mod notify;
mod once_cell;
pub(crate) mod permits;
mod rwlock;
mod semaphore;

pub use barrier::{Barrier, BarrierResult, BarrierWait};
pub use error::{AcquireError, Resource};
pub use event::{Event, EventWait};
pub use mutex::{Lock, Mutex, MutexGuard};
pub use notify::{Notified, Notify};
pub use once_cell::OnceCell;
pub use rwlock::{Read, ReadGuard, RwLock, Write, WriteGuard};
pub use semaphore::{AcquireFuture, AcquireOwnedFuture, OwnedPermit, Permit, Semaphore};
