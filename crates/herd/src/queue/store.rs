//! Where a queue keeps its items: a lock-free ring for first-in first-out,
//! or a binary heap under a lock for priorities. Both answer with the
//! ring's result types and count every item pushed, so the channel above
//! them is the same code.

use std::cmp::Ordering;

use super::ring::{PopError, PushError, Ring};
use crate::loom::{Mutex, lock};

// One per queue, inside its `Arc`: the size does not matter, while boxing
// the array would put a pointer chase on every send and receive.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Store<T> {
    Fifo(Ring<T>),
    Priority(Mutex<Heap<T>>),
}

/// The heap's push count starts again at 0 after this many: a quarter of
/// the `usize` range, so counts modulo it add without overflow.
const HEAP_CYCLE: usize = 1 << (usize::BITS - 2);

/// Items by priority; among equals, first in first out.
pub(crate) struct Heap<T> {
    /// A binary max-heap of (item, arrival number).
    entries: Vec<(T, u64)>,
    capacity: usize,
    arrivals: u64,
    /// Items ever pushed modulo [`HEAP_CYCLE`], counting a newcomer turned
    /// away by a full queue under drop-oldest (pushed, then evicted).
    pushed: usize,
    closed: bool,
    /// `Greater` means "comes out first".
    order: fn(&T, &T) -> Ordering,
}

impl<T> Heap<T> {
    /// Whether `a` comes out before `b`.
    fn before(&self, a: usize, b: usize) -> bool {
        let ((x, x_arrival), (y, y_arrival)) = (&self.entries[a], &self.entries[b]);
        match (self.order)(x, y) {
            Ordering::Greater => true,
            Ordering::Less => false,
            Ordering::Equal => x_arrival < y_arrival,
        }
    }

    fn sift_up(&mut self, mut at: usize) {
        while at > 0 {
            let parent = (at - 1) / 2;
            if !self.before(at, parent) {
                break;
            }
            self.entries.swap(at, parent);
            at = parent;
        }
    }

    fn sift_down(&mut self, mut at: usize) {
        loop {
            let (left, right) = (2 * at + 1, 2 * at + 2);
            let mut first = at;
            if left < self.entries.len() && self.before(left, first) {
                first = left;
            }
            if right < self.entries.len() && self.before(right, first) {
                first = right;
            }
            if first == at {
                return;
            }
            self.entries.swap(at, first);
            at = first;
        }
    }

    fn insert(&mut self, item: T) {
        self.entries.push((item, self.arrivals));
        self.arrivals += 1;
        self.pushed = (self.pushed + 1) % HEAP_CYCLE;
        let last = self.entries.len() - 1;
        self.sift_up(last);
    }

    fn remove(&mut self, at: usize) -> T {
        let (item, _) = self.entries.swap_remove(at);
        if at < self.entries.len() {
            self.sift_down(at);
            self.sift_up(at);
        }
        item
    }

    /// The entry that would come out last: a leaf.
    fn last_out(&self) -> usize {
        let leaves = self.entries.len() / 2..self.entries.len();
        leaves
            .reduce(|last, at| if self.before(last, at) { at } else { last })
            .expect("a full heap has leaves")
    }
}

impl<T> Store<T> {
    pub(crate) fn fifo(capacity: usize) -> Self {
        Store::Fifo(Ring::new(capacity))
    }

    pub(crate) fn priority(capacity: usize, order: fn(&T, &T) -> Ordering) -> Self {
        Store::Priority(Mutex::new(Heap {
            entries: Vec::with_capacity(capacity),
            capacity,
            arrivals: 0,
            pushed: 0,
            closed: false,
            order,
        }))
    }

    #[inline]
    pub(crate) fn push(&self, item: T) -> Result<(), PushError<T>> {
        match self {
            Store::Fifo(queue) => queue.push(item),
            Store::Priority(heap) => {
                let mut heap = lock(heap);
                if heap.closed {
                    Err(PushError::Closed(item))
                } else if heap.entries.len() == heap.capacity {
                    Err(PushError::Full(item))
                } else {
                    heap.insert(item);
                    Ok(())
                }
            }
        }
    }

    /// Pushes, evicting when full: the oldest item of a first-in first-out
    /// queue; for priorities, the item that would come out last, which may
    /// be the new one itself. Hands the item back only if closed.
    #[inline]
    pub(crate) fn force_push(&self, item: T) -> Result<Option<T>, T> {
        match self {
            Store::Fifo(queue) => queue.force_push(item),
            Store::Priority(heap) => {
                let mut heap = lock(heap);
                if heap.closed {
                    return Err(item);
                }
                if heap.entries.len() < heap.capacity {
                    heap.insert(item);
                    return Ok(None);
                }
                let last = heap.last_out();
                // The newcomer arrives after every queued item, so it goes
                // out last among equals: it must strictly outrank the last.
                if (heap.order)(&item, &heap.entries[last].0) == Ordering::Greater {
                    let evicted = heap.remove(last);
                    heap.insert(item);
                    Ok(Some(evicted))
                } else {
                    heap.pushed = (heap.pushed + 1) % HEAP_CYCLE;
                    Ok(Some(item))
                }
            }
        }
    }

    #[inline]
    pub(crate) fn pop(&self) -> Result<T, PopError> {
        match self {
            Store::Fifo(queue) => queue.pop(),
            Store::Priority(heap) => {
                let mut heap = lock(heap);
                if heap.entries.is_empty() {
                    Err(if heap.closed {
                        PopError::Closed
                    } else {
                        PopError::Empty
                    })
                } else {
                    Ok(heap.remove(0))
                }
            }
        }
    }

    /// Closes; `true` if this call did.
    pub(crate) fn close(&self) -> bool {
        match self {
            Store::Fifo(queue) => queue.close(),
            Store::Priority(heap) => !std::mem::replace(&mut lock(heap).closed, true),
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        match self {
            Store::Fifo(queue) => queue.is_closed(),
            Store::Priority(heap) => lock(heap).closed,
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Store::Fifo(queue) => queue.len(),
            Store::Priority(heap) => lock(heap).entries.len(),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        match self {
            Store::Fifo(queue) => queue.capacity(),
            Store::Priority(heap) => lock(heap).capacity,
        }
    }

    /// How many items were ever pushed, modulo [`cycle`](Store::cycle):
    /// with the count of items marked done, what `join` waits on.
    pub(crate) fn pushed(&self) -> usize {
        match self {
            Store::Fifo(queue) => queue.pushed(),
            Store::Priority(heap) => lock(heap).pushed,
        }
    }

    /// After how many pushes [`pushed`](Store::pushed) starts again at 0;
    /// under half of `usize::MAX`.
    pub(crate) fn cycle(&self) -> usize {
        match self {
            Store::Fifo(queue) => queue.cycle(),
            Store::Priority(_) => HEAP_CYCLE,
        }
    }

    /// For a receiver that joined the line, before it looks again: see
    /// [`Ring::sync_tail`]. The heap's lock does the same for it.
    pub(crate) fn sync_for_taker(&self) {
        if let Store::Fifo(queue) = self {
            queue.sync_tail();
        }
    }

    /// For a sender that joined the line: see [`Ring::sync_head`].
    pub(crate) fn sync_for_giver(&self) {
        if let Store::Fifo(queue) = self {
            queue.sync_head();
        }
    }
}
