//! A first-in first-out line of waiters, tasks or threads, with removal
//! from anywhere in O(1): a doubly linked list threaded through a slab, so
//! a waiter costs no allocation once the slab has grown, and no `unsafe`.
//!
//! Every primitive in `sync` keeps its waiters in one, under its own lock.

use std::task::Waker;

use slab::Slab;

use crate::loom::thread::{self, Thread};

/// How to wake a waiter: a task's waker or a parked thread.
pub(crate) enum Wake {
    Task(Waker),
    Thread(Thread),
}

impl Wake {
    /// The current thread, for blocking waits.
    pub(crate) fn this_thread() -> Wake {
        Wake::Thread(thread::current())
    }

    pub(crate) fn wake(self) {
        match self {
            Wake::Task(waker) => waker.wake(),
            Wake::Thread(thread) => thread.unpark(),
        }
    }

    /// Points a task waiter at the waker of its latest poll.
    pub(crate) fn update(slot: &mut Option<Wake>, waker: &Waker) {
        match slot {
            Some(Wake::Task(old)) => old.clone_from(waker),
            other => *other = Some(Wake::Task(waker.clone())),
        }
    }
}

/// Wakes collected under a lock, to be woken after it is released. The
/// first is kept inline: a release that wakes one waiter, the common case,
/// allocates nothing.
#[derive(Default)]
pub(crate) struct Wakes {
    first: Option<Wake>,
    rest: Vec<Wake>,
}

impl Wakes {
    pub(crate) fn push(&mut self, wake: Option<Wake>) {
        let Some(wake) = wake else { return };
        if self.first.is_none() {
            self.first = Some(wake);
        } else {
            self.rest.push(wake);
        }
    }

    /// Adds every wake of `other`.
    pub(crate) fn extend(&mut self, other: Wakes) {
        self.push(other.first);
        self.rest.extend(other.rest);
    }

    pub(crate) fn wake_all(self) {
        if let Some(first) = self.first {
            first.wake();
        }
        for wake in self.rest {
            wake.wake();
        }
    }
}

pub(crate) struct Line<T> {
    nodes: Slab<Node<T>>,
    head: Option<usize>,
    tail: Option<usize>,
}

struct Node<T> {
    value: T,
    prev: Option<usize>,
    next: Option<usize>,
    /// Still in the line; an unlinked node stays until its owner removes it.
    linked: bool,
}

impl<T> Line<T> {
    pub(crate) fn new() -> Self {
        Line {
            nodes: Slab::new(),
            head: None,
            tail: None,
        }
    }

    /// Joins the back of the line; the key names this place.
    pub(crate) fn push_back(&mut self, value: T) -> usize {
        let prev = self.tail;
        let key = self.nodes.insert(Node {
            value,
            prev,
            next: None,
            linked: true,
        });
        match prev {
            Some(prev) => self.nodes[prev].next = Some(key),
            None => self.head = Some(key),
        }
        self.tail = Some(key);
        key
    }

    /// The first waiter still in line.
    pub(crate) fn front(&self) -> Option<usize> {
        self.head
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    pub(crate) fn is_linked(&self, key: usize) -> bool {
        self.nodes[key].linked
    }

    pub(crate) fn get(&self, key: usize) -> &T {
        &self.nodes[key].value
    }

    pub(crate) fn get_mut(&mut self, key: usize) -> &mut T {
        &mut self.nodes[key].value
    }

    /// The waiters in line, front first.
    pub(crate) fn keys(&self) -> Vec<usize> {
        let mut keys = Vec::new();
        let mut at = self.head;
        while let Some(key) = at {
            keys.push(key);
            at = self.nodes[key].next;
        }
        keys
    }

    /// Takes a waiter out of the line but keeps its entry, for its owner to
    /// find the outcome and [`remove`](Line::remove) it.
    pub(crate) fn unlink(&mut self, key: usize) {
        let node = &mut self.nodes[key];
        if !node.linked {
            return;
        }
        node.linked = false;
        let (prev, next) = (node.prev.take(), node.next.take());
        match prev {
            Some(prev) => self.nodes[prev].next = next,
            None => self.head = next,
        }
        match next {
            Some(next) => self.nodes[next].prev = prev,
            None => self.tail = prev,
        }
    }

    /// Removes an entry, unlinking it first if it is still in line.
    pub(crate) fn remove(&mut self, key: usize) -> T {
        self.unlink(key);
        self.nodes.remove(key).value
    }

    /// Unlinks every waiter still in line, front first, handing each to `f`.
    pub(crate) fn drain(&mut self, mut f: impl FnMut(&mut T)) {
        while let Some(key) = self.head {
            self.unlink(key);
            f(&mut self.nodes[key].value);
        }
    }
}

/// Parks the thread until unparked or `deadline`; `false` once the deadline
/// has passed.
#[cfg(not(loom))]
pub(crate) fn park(deadline: Option<std::time::Instant>) -> bool {
    match deadline {
        None => thread::park(),
        Some(deadline) => {
            let now = std::time::Instant::now();
            if now >= deadline {
                return false;
            }
            thread::park_timeout(deadline - now);
        }
    }
    true
}

/// loom has no timed park; models use no deadline.
#[cfg(loom)]
pub(crate) fn park(_deadline: Option<std::time::Instant>) -> bool {
    thread::park();
    true
}
