//! # A thread-safe singleton
//!
//! **The problem.** One instance of something (a parsed config, a client,
//! a connection pool) made on first use and shared by everyone after. When
//! several threads or tasks ask at once, exactly one must build it, the
//! rest must wait for that one, and nobody may see it half-built.
//!
//! **With herd.** Three tools, by how the value is made:
//!
//! | made by | use |
//! | --- | --- |
//! | code known when the program is written, that cannot fail | [`std::sync::LazyLock`] in a `static` |
//! | a value decided at runtime (from arguments, say), set once | [`std::sync::OnceLock`] |
//! | an `async` initialiser, or one that may fail and be retried | [`herd::sync::OnceCell`](crate::sync::OnceCell) |
//!
//! All three run one initialiser under contention and make every later
//! read a single atomic load. [`OnceCell`](crate::sync::OnceCell) adds
//! what `async` needs: the others wait without blocking their thread, and
//! an initialiser that fails, panics or is cancelled stores nothing, so
//! the next caller runs its own.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::{Arc, LazyLock};
//! use std::time::Duration;
//! use herd::sync::OnceCell;
//!
//! // Synchronous and infallible: a static LazyLock, raced by eight threads.
//! static BUILT: AtomicUsize = AtomicUsize::new(0);
//! static ROUTES: LazyLock<Vec<&str>> = LazyLock::new(|| {
//!     BUILT.fetch_add(1, Ordering::SeqCst);
//!     vec!["/", "/health"]
//! });
//! std::thread::scope(|s| {
//!     for _ in 0..8 {
//!         s.spawn(|| assert_eq!(ROUTES.len(), 2));
//!     }
//! });
//! assert_eq!(BUILT.load(Ordering::SeqCst), 1);
//!
//! // Async, and it can fail: a OnceCell.
//! let connects = Arc::new(AtomicUsize::new(0));
//! let db = Arc::new(OnceCell::named("db client"));
//! let connect = |connects: Arc<AtomicUsize>| async move {
//!     tokio::time::sleep(Duration::from_millis(100)).await; // the handshake
//!     match connects.fetch_add(1, Ordering::SeqCst) {
//!         0 => Err("connection refused"), // the first attempt fails
//!         n => Ok(format!("client #{n}")),
//!     }
//! };
//! let callers: Vec<_> = (0..8)
//!     .map(|_| {
//!         let (db, connects) = (db.clone(), connects.clone());
//!         tokio::spawn(async move {
//!             db.get_or_try_init(|| connect(connects)).await.cloned()
//!         })
//!     })
//!     .collect();
//! let mut answers = Vec::new();
//! for caller in callers {
//!     answers.push(caller.await.unwrap());
//! }
//! // One caller saw the failure; the next one in line tried again and
//! // succeeded; the other six waited and shared its client.
//! assert_eq!(answers.iter().filter(|a| a.is_err()).count(), 1);
//! assert!(answers.iter().flatten().all(|client| client == "client #1"));
//! assert_eq!(connects.load(Ordering::SeqCst), 2, "two handshakes, not eight");
//! assert_eq!(db.get().map(String::as_str), Some("client #1"));
//! # }
//! ```
//!
//! [`OnceCell::new`](crate::sync::OnceCell::new) is not a `const fn`; for
//! a global, put the cell in a
//! `static DB: LazyLock<OnceCell<Client>> = LazyLock::new(OnceCell::new);`,
//! or better, make it in `main` and pass an `Arc` of it to whoever needs it.
//!
//! **The pitfall this avoids.** The guide's singleton checks a field,
//! takes a lock, and checks again (double-checked locking). It leans on
//! Python's interpreter lock; in Rust the first, unlocked check is a data
//! race, and a plain `static mut` will not even compile without `unsafe`.
//! `LazyLock`, `OnceLock` and `OnceCell` make that first check an atomic
//! load with the right ordering. With an async initialiser, a check that
//! is not repeated after the wait runs the initialiser once per caller
//! (eight handshakes above, not two), and an initialiser that fails must
//! leave the slot empty rather than half set; `OnceCell` does both, and
//! hands the turn to the next caller in line.
//!
//! **When to use something else.** A global that changes is shared
//! mutable state with a hiding place; one of the guides lists it as an
//! anti-pattern. Prefer a value made in `main` and passed down, wrapped in
//! a [`Mutex`](crate::sync::Mutex) if it must change, or replaced whole
//! (see [copy-on-write](super::copy_on_write)). Many keys, each made once
//! (a cache): one cell per key, or
//! [`SingleFlight`](crate::resilience::SingleFlight), so keys never wait
//! on each other.
