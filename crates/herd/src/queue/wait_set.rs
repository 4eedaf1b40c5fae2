//! Tasks and threads waiting for one side of a queue: for an item, for
//! room, or for the work to be done. The fast paths never take its lock:
//! a notifier reads one counter and returns when nobody waits.
//!
//! The protocol, which the loom models check: a waiter registers (counter
//! up), then looks at the queue again before it sleeps; a notifier changes
//! the queue, then reads the counter. A `SeqCst` fence on each side means
//! at least one of them sees the other, so no wake-up is lost.

use std::task::Waker;

use crate::diag::graph::Waiting;
#[cfg(not(all(any(target_arch = "x86", target_arch = "x86_64"), not(loom))))]
use crate::loom::atomic::fence;
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

    /// Wakes the longest waiter, if any. Call after changing the queue.
    pub(crate) fn notify_one(&self) {
        full_fence();
        if self.waiting.load(Ordering::SeqCst) == 0 {
            return;
        }
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

/// A `SeqCst` fence. On x86 a locked read-modify-write is one, and costs
/// less than `mfence`, which every send and receive would otherwise pay;
/// elsewhere, and under loom, the fence itself.
#[inline]
fn full_fence() {
    #[cfg(all(any(target_arch = "x86", target_arch = "x86_64"), not(loom)))]
    {
        let dummy = AtomicUsize::new(0);
        let _ = dummy.compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst);
    }
    #[cfg(not(all(any(target_arch = "x86", target_arch = "x86_64"), not(loom))))]
    fence(Ordering::SeqCst);
}

/// How long a blocked thread tries again before it joins the line and
/// parks: a few rounds of spinning, then of yielding the core. Another
/// thread usually makes room or sends within that time, and a park and
/// wake-up cost microseconds each. None under loom.
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
