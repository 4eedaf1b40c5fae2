//! The locks and atomics herd's own primitives are built on: from `std`
//! normally and from [loom](https://docs.rs/loom) under `--cfg loom`, so the
//! same source is model-checked.
//!
//! `Arc` and `Weak` always come from `std`: loom has no `Weak`, and reference
//! counting is not where herd's races are; the locks and flags are.

#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard, atomic};
#[cfg(not(loom))]
pub(crate) use std::thread;

#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard, atomic};
#[cfg(loom)]
pub(crate) use loom::thread;

/// Locks `mutex`, ignoring poisoning: every critical section in herd leaves
/// its state consistent before anything that can panic runs.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// `UnsafeCell` with loom's access API (`with_mut`), so the same code
/// compiles against both and loom checks every access under `--cfg loom`.
#[cfg(not(loom))]
pub(crate) mod cell {
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }

        /// Calls `f` with a pointer to the value; the caller's `unsafe`
        /// block answers for the access.
        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

#[cfg(loom)]
pub(crate) use loom::cell;
