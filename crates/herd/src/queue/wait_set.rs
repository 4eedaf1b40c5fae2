//! Tasks and threads waiting for one side of a queue: for an item, for
//! room, or for the work to be done. The fast paths never take its lock:
//! a notifier reads one counter and returns when nobody waits.
//!
//! The protocol, which the loom models check: a waiter registers (counter
//! up), then looks at the queue again before it sleeps; a notifier changes
//! the queue, then reads the counter. A `SeqCst` fence on each side means
//! at least one of them sees the other, so no wake-up is lost.

use std::task::Waker;

use crate::loom::atomic::{AtomicUsize, Ordering, fence};
use crate::loom::{Mutex, lock};
use crate::sync::line::{Line, Wake, Wakes};

pub(crate) struct WaitSet {
    line: Mutex<Line<Option<Wake>>>,
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
    pub(crate) fn register(&self, wake: Wake) -> usize {
        let key = {
            let mut line = lock(&self.line);
            let key = line.push_back(Some(wake));
            self.waiting.fetch_add(1, Ordering::SeqCst);
            key
        };
        fence(Ordering::SeqCst);
        key
    }

    /// For a registered task polled again: `true` if it is still waiting
    /// (its waker is updated), `false` if it was woken (its entry removed;
    /// it should look at the queue).
    pub(crate) fn still_waiting(&self, key: usize, waker: &Waker) -> bool {
        let mut line = lock(&self.line);
        if line.is_linked(key) {
            Wake::update(line.get_mut(key), waker);
            true
        } else {
            line.remove(key);
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
        line.remove(key);
        woken
    }

    /// Wakes the longest waiter, if any. Call after changing the queue.
    pub(crate) fn notify_one(&self) {
        fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) == 0 {
            return;
        }
        let wake = {
            let mut line = lock(&self.line);
            match line.front() {
                Some(key) => {
                    line.unlink(key);
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                    line.get_mut(key).take()
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
        fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) == 0 {
            return;
        }
        let mut wakes = Wakes::default();
        {
            let mut line = lock(&self.line);
            line.drain(|wake| wakes.push(wake.take()));
            self.waiting.store(0, Ordering::SeqCst);
        }
        wakes.wake_all();
    }
}
