//! Tasks and threads waiting for one side of a queue: for an item, for
//! room, or for the work to be done. The fast paths never take its lock:
//! a notifier reads one counter and returns when nobody waits.
//!
//! The protocol, which the loom models check: a waiter registers (counter
//! up), then looks at the queue again before it sleeps; a notifier changes
//! the queue, then reads the counter. At least one of them must see the
//! other, so no wake-up is lost. Two ways make sure of it:
//!
//! - For items and room ([`notify_one`](WaitSet::notify_one)), no fence on
//!   the notifier's side, which every send and receive pays: its change is
//!   a read-modify-write on the ring's tail or head (or made under the
//!   priority heap's lock), and the waiter performs one on the same end
//!   after registering (`Store::sync_for_taker`, `sync_for_giver`). The
//!   later of the two reads from the earlier, so either the notifier's
//!   count read comes after the registration, or the waiter's look comes
//!   after the change.
//! - For close and for `join` ([`notify_all`](WaitSet::notify_all)), a
//!   `SeqCst` fence on each side.

use std::task::Waker;

use super::ring::full_fence;
use crate::diag::graph::Waiting;
use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::loom::{Mutex, lock};
use crate::sync::line::{Line, Wake, Wakes};

/// One waiter: how to wake it, and its wait as diagnostics know it (when
/// they are on), ended when the waiter leaves the line.
struct Slot {
    wake: Option<Wake>,
    watch: Option<Waiting>,
}

impl Slot {
    fn end(self) {
        if let Some(watch) = self.watch {
            watch.left();
        }
    }
}

pub(crate) struct WaitSet {
    line: Mutex<Line<Slot>>,
    /// Waiters still in the line.
    waiting: AtomicUsize,
}

impl WaitSet {
    pub(crate) fn new() -> Self {
        WaitSet {
            line: Mutex::new(Line::new()),
            waiting: AtomicUsize::new(0),
        }
    }

    /// Joins the line. The caller must look at the queue again afterwards
    /// and only sleep if it still has to.
    pub(crate) fn register(&self, wake: Wake, watch: Option<Waiting>) -> usize {
        let key = {
            let mut line = lock(&self.line);
            let key = line.push_back(Slot {
                wake: Some(wake),
                watch,
            });
            self.waiting.fetch_add(1, Ordering::SeqCst);
            key
        };
        full_fence();
        key
    }

    /// For a registered task polled again: `true` if it is still waiting
    /// (its waker is updated), `false` if it was woken (its entry removed;
    /// it should look at the queue).
    pub(crate) fn still_waiting(&self, key: usize, waker: &Waker) -> bool {
        let mut line = lock(&self.line);
        if line.is_linked(key) {
            Wake::update(&mut line.get_mut(key).wake, waker);
            true
        } else {
            let slot = line.remove(key);
            drop(line);
            slot.end();
            false
        }
    }

    /// For a registered thread: `true` if it is still waiting.
    pub(crate) fn is_waiting(&self, key: usize) -> bool {
        lock(&self.line).is_linked(key)
    }

    /// Leaves the line for good. Returns whether this waiter had been woken
    /// (and so, if it will not act on it, should pass the wake-up on).
    pub(crate) fn leave(&self, key: usize) -> bool {
        let mut line = lock(&self.line);
        let woken = !line.is_linked(key);
        if !woken {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
        }
        let slot = line.remove(key);
        drop(line);
        slot.end();
        woken
    }

    /// Leaves the line after a look of its own succeeded (an item taken,
    /// room used). A wake-up it was given meanwhile was meant for another
    /// item or another slot of room, which this look did not use: it goes
    /// to the next waiter, or that one could sleep beside it.
    pub(crate) fn leave_after_success(&self, key: usize) {
        if self.leave(key) {
            self.notify_one();
        }
    }

    /// Wakes the longest waiter, if any. Call after a push or pop (see the
    /// module doc for why that needs no fence), or after leaving the line
    /// with a wake-up not acted on (the line's lock orders that with every
    /// registration).
    #[inline]
    pub(crate) fn notify_one(&self) {
        if self.waiting.load(Ordering::SeqCst) != 0 {
            self.wake_first();
        }
    }

    #[cold]
    #[inline(never)]
    fn wake_first(&self) {
        let wake = {
            let mut line = lock(&self.line);
            match line.front() {
                Some(key) => {
                    line.unlink(key);
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                    line.get_mut(key).wake.take()
                }
                None => None,
            }
        };
        if let Some(wake) = wake {
            wake.wake();
        }
    }

    /// Wakes every waiter.
    pub(crate) fn notify_all(&self) {
        full_fence();
        if self.waiting.load(Ordering::SeqCst) == 0 {
            return;
        }
        let mut wakes = Wakes::default();
        {
            let mut line = lock(&self.line);
            line.drain(|slot| wakes.push(slot.wake.take()));
            self.waiting.store(0, Ordering::SeqCst);
        }
        wakes.wake_all();
    }
}

/// How long a blocked thread tries again before it joins the line and
/// parks: a few rounds of spinning, then of yielding the core. Another
/// thread usually makes room or sends within that time, and a park and
/// wake-up cost microseconds each. None under loom. The ring waits out
/// another thread's half-done step with it too.
pub(crate) struct Backoff(u32);

#[cfg(not(loom))]
const SPIN_ROUNDS: u32 = 6;
#[cfg(not(loom))]
const YIELD_ROUNDS: u32 = 10;
#[cfg(loom)]
const SPIN_ROUNDS: u32 = 0;
#[cfg(loom)]
const YIELD_ROUNDS: u32 = 0;

impl Backoff {
    pub(crate) fn new() -> Self {
        Backoff(0)
    }

    /// Waits a little; `false` once it is time to park instead.
    pub(crate) fn snooze(&mut self) -> bool {
        if self.0 < SPIN_ROUNDS {
            for _ in 0..1u32 << self.0 {
                std::hint::spin_loop();
            }
        } else if self.0 < SPIN_ROUNDS + YIELD_ROUNDS {
            std::thread::yield_now();
        } else {
            return false;
        }
        self.0 += 1;
        true
    }
}
