//! # Immutable and copy-on-write data
//!
//! **The problem.** Data read by many threads and changed rarely (a
//! config, a routing table) should be readable without waiting on
//! writers, and a reader should never see half of an update.
//!
//! **With herd.** Nothing from herd: an [`Arc`](std::sync::Arc) is
//! immutable shared data, and std alone makes it copy-on-write. Keep the
//! current version in a slot, `Mutex<Arc<T>>`. A reader takes a snapshot
//! (the lock is held only to clone the `Arc`) and reads it as long as it
//! likes, lock-free; it never changes under it. A writer, under the slot's
//! lock, calls [`Arc::make_mut`](std::sync::Arc::make_mut): if no reader
//! holds the current version it is edited in place, otherwise it is
//! copied first and the copy becomes current, while the readers keep the
//! old one until they drop it.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//!
//! #[derive(Clone, Debug)]
//! struct Config {
//!     version: u32,
//!     hosts: Vec<String>, // one host added per version
//! }
//!
//! let current = Mutex::new(Arc::new(Config { version: 0, hosts: Vec::new() }));
//! let snapshot = || Arc::clone(&current.lock().unwrap());
//! let update = |change: &dyn Fn(&mut Config)| {
//!     let mut slot = current.lock().unwrap(); // read, copy, write: one writer at a time
//!     change(Arc::make_mut(&mut slot));
//! };
//!
//! let before = snapshot();
//! update(&|c| { c.version += 1; c.hosts.push("a".into()) });
//! assert_eq!(before.version, 0, "a snapshot never changes under its reader");
//! assert_eq!(snapshot().version, 1);
//!
//! // With no snapshot out, `make_mut` edits in place: no copy.
//! drop(before);
//! let address = Arc::as_ptr(&snapshot());
//! update(&|c| { c.version += 1; c.hosts.push("b".into()) });
//! assert_eq!(Arc::as_ptr(&snapshot()), address);
//!
//! // Readers on four threads, a writer on a fifth: every snapshot is whole.
//! std::thread::scope(|s| {
//!     for _ in 0..4 {
//!         s.spawn(|| {
//!             let mut last = 0;
//!             while last < 102 {
//!                 let config = snapshot();
//!                 assert_eq!(config.hosts.len(), config.version as usize, "never half an update");
//!                 assert!(config.version >= last, "versions only move forward");
//!                 last = config.version;
//!             }
//!         });
//!     }
//!     s.spawn(|| for n in 0..100 {
//!         update(&|c| { c.version += 1; c.hosts.push(format!("host-{n}")) });
//!     });
//! });
//! assert_eq!(snapshot().hosts.len(), 102);
//! ```
//!
//! Immutability itself is checked by the compiler: an `Arc` hands out only
//! shared references, so changing shared data in place does not compile.
//!
//! ```compile_fail,E0596
//! let shared = std::sync::Arc::new(vec![1, 2]);
//! shared.push(3); // error: cannot borrow data in an `Arc` as mutable
//! ```
//!
//! **The pitfall this avoids.** The guide's copy-on-write list reads its
//! field with no lock while a writer replaces it, relying on Python
//! swapping a reference atomically; in Rust that is a data race, so the
//! slot is read under a lock held for one `Arc` clone. The guide also
//! rebuilds the whole tuple on every append; `make_mut` copies only when a
//! reader still holds the old version. And the writer's read, copy and
//! write happen under one lock: two writers that each copy the same
//! version and store their own lose one update.
//!
//! **When to use something else.** Readers that must also be told when a
//! new version is out: `tokio::sync::watch`, the same snapshot idea with
//! a wake-up. Large data changed often, where copying costs more than
//! waiting: a [`RwLock`](crate::sync::RwLock) (see
//! [the read-write lock](super::read_write_lock)). A value made once and
//! never changed: a [singleton](super::singleton). Reads so frequent that
//! the slot's brief lock shows in a profile: the `arc-swap` crate makes
//! the load lock-free (it is not among herd's dependencies).
