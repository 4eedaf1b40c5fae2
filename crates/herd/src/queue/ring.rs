//! The items of a first-in first-out queue: a bounded lock-free array, the
//! design of crossbeam's `ArrayQueue` and concurrent-queue (Dmitry Vyukov's
//! bounded queue), with two things those do not give:
//!
//! - How many items were ever pushed, read from the tail, so the queue's
//!   work accounting (`join`) costs a send nothing: unfinished items are
//!   those pushed minus those marked done.
//! - Orderings the wait sets can lean on, stated here and checked by the
//!   loom models: every push and pop that succeeds moves the tail or the
//!   head with one `SeqCst` read-modify-write, and a waiter that joins a
//!   line performs a read-modify-write on the same end
//!   ([`Ring::sync_tail`], [`Ring::sync_head`]) before it looks again. So
//!   a sender that moved the tail and then reads a line's waiter count
//!   without a fence either sees the waiter or is seen by it.
//!
//! Positions pack a lap, a closed mark and an index: `{ lap, mark, index }`,
//! with `index < capacity`, the mark bit the next power of two above the
//! capacity, and one lap twice that. Each slot carries a stamp: `tail` when
//! it is free for the push at `tail`, `head + 1` when it holds the item for
//! the pop at `head`.

use std::mem::MaybeUninit;

use super::wait_set::Backoff;
use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::loom::cell::UnsafeCell;

/// Why a push did not queue its item; the item comes back.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PushError<T> {
    Full(T),
    Closed(T),
}

/// Why a pop found nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PopError {
    Empty,
    Closed,
}

struct Slot<T> {
    stamp: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// Keeps the head and the tail on cache lines of their own: producers
/// write one, consumers the other.
#[repr(align(128))]
struct Padded<T>(T);

pub(crate) struct Ring<T> {
    head: Padded<AtomicUsize>,
    tail: Padded<AtomicUsize>,
    slots: Box<[Slot<T>]>,
    /// Set in the tail once the ring is closed.
    mark_bit: usize,
    one_lap: usize,
}

// SAFETY: an item is written by the one push that claimed its slot (by
// moving the tail) and read by the one pop that claimed it (by moving the
// head); the stamps order the two. Items move between threads, so `T: Send`.
unsafe impl<T: Send> Send for Ring<T> {}
// SAFETY: as above; no `&T` is ever shared.
unsafe impl<T: Send> Sync for Ring<T> {}

impl<T> Ring<T> {
    /// A ring of `capacity` slots.
    ///
    /// # Panics
    ///
    /// If `capacity` is zero or so large that positions cannot be packed.
    pub(crate) fn new(capacity: usize) -> Self {
        assert!(capacity > 0, "a ring needs at least one slot");
        let mark_bit = (capacity + 1)
            .checked_next_power_of_two()
            .expect("queue capacity too large");
        let one_lap = mark_bit.checked_mul(2).expect("queue capacity too large");
        let slots = (0..capacity)
            .map(|i| Slot {
                stamp: AtomicUsize::new(i),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        Ring {
            head: Padded(AtomicUsize::new(0)),
            tail: Padded(AtomicUsize::new(0)),
            slots,
            mark_bit,
            one_lap,
        }
    }

    /// A ring whose positions start at the last lap a position can count,
    /// for tests of the wrap.
    #[cfg(all(test, not(loom)))]
    fn at_last_lap(capacity: usize) -> Self {
        let ring = Ring::new(capacity);
        let start = (usize::MAX / ring.one_lap) * ring.one_lap;
        ring.head.0.store(start, Ordering::Relaxed);
        ring.tail.0.store(start, Ordering::Relaxed);
        for (i, slot) in ring.slots.iter().enumerate() {
            slot.stamp.store(start + i, Ordering::Relaxed);
        }
        ring
    }

    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The position after `at`.
    #[inline]
    fn next(&self, at: usize) -> usize {
        let index = at & (self.mark_bit - 1);
        if index + 1 < self.slots.len() {
            at + 1
        } else {
            (at & !(self.one_lap - 1)).wrapping_add(self.one_lap)
        }
    }

    /// Pushes `value`, or hands it back if the ring is full or closed.
    #[inline]
    pub(crate) fn push(&self, value: T) -> Result<(), PushError<T>> {
        self.push_or_evict(value, false).map(|evicted| {
            debug_assert!(evicted.is_none());
        })
    }

    /// Pushes `value`; if the ring is full, takes the oldest item out to
    /// make room and returns it. Hands `value` back only if closed.
    #[inline]
    pub(crate) fn force_push(&self, value: T) -> Result<Option<T>, T> {
        self.push_or_evict(value, true).map_err(|err| match err {
            PushError::Closed(value) | PushError::Full(value) => value,
        })
    }

    #[inline]
    fn push_or_evict(&self, value: T, evict: bool) -> Result<Option<T>, PushError<T>> {
        let mut backoff = Backoff::new();
        let mut tail = self.tail.0.load(Ordering::Relaxed);
        loop {
            if tail & self.mark_bit != 0 {
                return Err(PushError::Closed(value));
            }
            let new_tail = self.next(tail);
            let slot = &self.slots[tail & (self.mark_bit - 1)];
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == tail {
                // The slot is free for this lap: claim it by moving the tail.
                match self.tail.0.compare_exchange_weak(
                    tail,
                    new_tail,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: moving the tail made this slot ours, and
                        // its stamp says the last pop from it is finished.
                        slot.value.with_mut(|cell| unsafe { (*cell).write(value) });
                        slot.stamp.store(tail + 1, Ordering::Release);
                        return Ok(None);
                    }
                    Err(now) => tail = now,
                }
            } else if stamp.wrapping_add(self.one_lap) == tail + 1 {
                // The slot still holds the item of the lap before: full,
                // unless a pop has just moved the head. Look at the head
                // after a fence, so a pop's move is seen.
                full_fence();
                let head = self.head.0.load(Ordering::Relaxed);
                if head.wrapping_add(self.one_lap) == tail {
                    if !evict {
                        return Err(PushError::Full(value));
                    }
                    // Full: take the oldest item by moving the head past
                    // it, then move the tail (keeping a close that came
                    // meanwhile) and swap the new item in.
                    if self
                        .head
                        .0
                        .compare_exchange_weak(
                            head,
                            self.next(head),
                            Ordering::SeqCst,
                            Ordering::Relaxed,
                        )
                        .is_ok()
                    {
                        self.tail
                            .0
                            .fetch_add(new_tail.wrapping_sub(tail), Ordering::SeqCst);
                        // SAFETY: moving the head made the oldest item ours
                        // (no pop can claim it), and no push can claim the
                        // slot before its stamp moves on below.
                        let old = slot.value.with_mut(|cell| unsafe {
                            std::mem::replace(&mut *cell, MaybeUninit::new(value)).assume_init()
                        });
                        slot.stamp.store(tail + 1, Ordering::Release);
                        return Ok(Some(old));
                    }
                }
                wait_out(&mut backoff);
                tail = self.tail.0.load(Ordering::Relaxed);
            } else {
                // A push or pop of this slot is half done: its position has
                // moved but its stamp not yet. It finishes in a few
                // instructions.
                wait_out(&mut backoff);
                tail = self.tail.0.load(Ordering::Relaxed);
            }
        }
    }

    /// Takes the oldest item.
    #[inline]
    pub(crate) fn pop(&self) -> Result<T, PopError> {
        let mut backoff = Backoff::new();
        let mut head = self.head.0.load(Ordering::Relaxed);
        loop {
            let slot = &self.slots[head & (self.mark_bit - 1)];
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == head + 1 {
                // The slot holds this lap's item: claim it by moving the head.
                match self.head.0.compare_exchange_weak(
                    head,
                    self.next(head),
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: moving the head made this item ours, and
                        // its stamp says its push is finished.
                        let value = slot
                            .value
                            .with_mut(|cell| unsafe { (*cell).assume_init_read() });
                        slot.stamp
                            .store(head.wrapping_add(self.one_lap), Ordering::Release);
                        return Ok(value);
                    }
                    Err(now) => head = now,
                }
            } else if stamp == head {
                // No item here yet: empty, unless a push has just moved the
                // tail. Look at the tail after a fence, so its move is seen.
                full_fence();
                let tail = self.tail.0.load(Ordering::Relaxed);
                if tail & !self.mark_bit == head {
                    return Err(if tail & self.mark_bit != 0 {
                        PopError::Closed
                    } else {
                        PopError::Empty
                    });
                }
                wait_out(&mut backoff);
                head = self.head.0.load(Ordering::Relaxed);
            } else {
                wait_out(&mut backoff);
                head = self.head.0.load(Ordering::Relaxed);
            }
        }
    }

    /// Closes; `true` if this call did. Pushes fail from now on; pops
    /// drain what is left.
    pub(crate) fn close(&self) -> bool {
        self.tail.0.fetch_or(self.mark_bit, Ordering::SeqCst) & self.mark_bit == 0
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.tail.0.load(Ordering::SeqCst) & self.mark_bit != 0
    }

    /// Items in the ring now.
    pub(crate) fn len(&self) -> usize {
        loop {
            let tail = self.tail.0.load(Ordering::SeqCst);
            let head = self.head.0.load(Ordering::SeqCst);
            // A tail that did not move meanwhile makes the pair consistent.
            if self.tail.0.load(Ordering::SeqCst) == tail {
                let (hix, tix) = (head & (self.mark_bit - 1), tail & (self.mark_bit - 1));
                return if hix < tix {
                    tix - hix
                } else if hix > tix {
                    self.slots.len() - hix + tix
                } else if tail & !self.mark_bit == head {
                    0
                } else {
                    self.slots.len()
                };
            }
        }
    }

    /// How many items were ever pushed (counting those force-pushed),
    /// modulo [`cycle`](Ring::cycle), read from the tail: laps times
    /// capacity plus the index.
    pub(crate) fn pushed(&self) -> usize {
        let tail = self.tail.0.load(Ordering::SeqCst) & !self.mark_bit;
        (tail / self.one_lap) * self.slots.len() + (tail & (self.mark_bit - 1))
    }

    /// After how many pushes [`pushed`](Ring::pushed) starts again at 0:
    /// the number of laps a position can count times the capacity. Less
    /// than half of `usize::MAX` (one lap is more than twice the capacity),
    /// so counts modulo it add without overflow.
    pub(crate) fn cycle(&self) -> usize {
        (usize::MAX / self.one_lap + 1) * self.slots.len()
    }

    /// A read-modify-write on the tail that changes nothing: a receiver
    /// that joined the line calls it before it looks for an item again.
    /// Either a push that it then misses moved the tail after this, and so
    /// reads the line's waiter count after the receiver raised it, or the
    /// receiver sees that push.
    pub(crate) fn sync_tail(&self) {
        self.tail.0.fetch_add(0, Ordering::SeqCst);
    }

    /// As [`sync_tail`](Ring::sync_tail), on the head, for a sender that
    /// joined the line of those waiting for room.
    pub(crate) fn sync_head(&self) {
        self.head.0.fetch_add(0, Ordering::SeqCst);
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        while self.pop().is_ok() {}
    }
}

/// Waits out another thread's half-done push or pop: the queue's
/// [`Backoff`] (spins, then yields of the core), and once it would park,
/// a yield each time (the other thread may have been preempted between its
/// two steps; under loom, as loom requires).
fn wait_out(backoff: &mut Backoff) {
    if !backoff.snooze() {
        crate::loom::thread::yield_now();
    }
}

/// A `SeqCst` fence. On x86 a locked read-modify-write on a local is one,
/// and costs less than `mfence`; elsewhere, and under loom, the fence.
#[inline]
pub(crate) fn full_fence() {
    #[cfg(all(any(target_arch = "x86", target_arch = "x86_64"), not(loom)))]
    {
        let dummy = AtomicUsize::new(0);
        let _ = dummy.compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst);
    }
    #[cfg(not(all(any(target_arch = "x86", target_arch = "x86_64"), not(loom))))]
    crate::loom::atomic::fence(Ordering::SeqCst);
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn first_in_first_out_across_many_laps() {
        let ring = Ring::new(3);
        let mut next_out = 0;
        for n in 0..100 {
            ring.push(n).unwrap();
            if n % 3 == 2 {
                assert_eq!(ring.push(999), Err(PushError::Full(999)));
                for _ in 0..3 {
                    assert_eq!(ring.pop(), Ok(next_out));
                    next_out += 1;
                }
                assert_eq!(ring.pop(), Err(PopError::Empty));
            }
        }
        assert_eq!(ring.pushed(), 100);
    }

    #[test]
    fn pushed_counts_every_push_and_len_what_is_held() {
        for capacity in [1, 2, 3, 4, 7] {
            let ring = Ring::new(capacity);
            for n in 0..50usize {
                ring.push(n).unwrap();
                assert_eq!(ring.len(), 1);
                assert_eq!(ring.pushed(), n + 1, "capacity {capacity}");
                assert_eq!(ring.pop(), Ok(n));
                assert_eq!(ring.len(), 0);
            }
        }
    }

    #[test]
    fn positions_and_the_push_count_cross_the_wrap() {
        for capacity in [1, 3, 4] {
            let ring = Ring::at_last_lap(capacity);
            let (cycle, first) = (ring.cycle(), ring.pushed());
            assert_eq!(first, cycle - capacity, "the last lap's first push");
            for n in 0..3 * capacity + 1 {
                ring.push(n).unwrap();
                assert_eq!(ring.pop(), Ok(n), "first in first out across the wrap");
                assert_eq!((ring.pushed() + cycle - first) % cycle, n + 1);
            }
            assert!(ring.pushed() < first, "the count started again at 0");
            for n in 0..capacity {
                ring.push(n).unwrap();
            }
            assert_eq!(ring.len(), capacity);
            assert_eq!(ring.push(99), Err(PushError::Full(99)));
            assert_eq!(ring.force_push(100), Ok(Some(0)));
        }
    }

    #[test]
    fn force_push_evicts_the_oldest_and_counts_as_a_push() {
        let ring = Ring::new(2);
        assert_eq!(ring.force_push(1), Ok(None));
        assert_eq!(ring.force_push(2), Ok(None));
        assert_eq!(ring.force_push(3), Ok(Some(1)));
        assert_eq!(ring.force_push(4), Ok(Some(2)));
        assert_eq!(ring.len(), 2);
        assert_eq!(ring.pushed(), 4);
        assert_eq!(ring.pop(), Ok(3));
        assert_eq!(ring.pop(), Ok(4));
        assert_eq!(ring.pop(), Err(PopError::Empty));
    }

    #[test]
    fn close_refuses_pushes_and_lets_pops_drain() {
        let ring = Ring::new(4);
        ring.push("a").unwrap();
        assert!(ring.close());
        assert!(!ring.close(), "only the first close reports it");
        assert!(ring.is_closed());
        assert_eq!(ring.push("b"), Err(PushError::Closed("b")));
        assert_eq!(ring.force_push("c"), Err("c"));
        assert_eq!(ring.pop(), Ok("a"));
        assert_eq!(ring.pop(), Err(PopError::Closed));
        assert_eq!(ring.pushed(), 1);
    }

    #[test]
    fn items_left_in_a_dropped_ring_are_dropped() {
        let item = std::sync::Arc::new(());
        let ring = Ring::new(4);
        ring.push(item.clone()).unwrap();
        ring.push(item.clone()).unwrap();
        drop(ring);
        assert_eq!(std::sync::Arc::strong_count(&item), 1);
    }

    #[test]
    fn threads_move_every_item_exactly_once() {
        const PER: usize = 50_000;
        let ring = std::sync::Arc::new(Ring::new(64));
        let taken = std::sync::Arc::new(AtomicUsize::new(0));
        let seen = std::sync::Arc::new(std::sync::Mutex::new(vec![0u8; 4 * PER]));
        let mut threads = Vec::new();
        for p in 0..4 {
            let ring = ring.clone();
            threads.push(std::thread::spawn(move || {
                for n in p * PER..(p + 1) * PER {
                    let mut item = n;
                    // Half the producers evict when full; what they get
                    // back they push again, so nothing leaves the books.
                    loop {
                        let pushed = if p % 2 == 0 {
                            ring.push(item).map_err(|e| match e {
                                PushError::Full(v) | PushError::Closed(v) => v,
                            })
                        } else {
                            match ring.force_push(item) {
                                Ok(None) => Ok(()),
                                Ok(Some(old)) => Err(old),
                                Err(v) => Err(v),
                            }
                        };
                        match pushed {
                            Ok(()) => break,
                            Err(back) => {
                                item = back;
                                std::thread::yield_now();
                            }
                        }
                    }
                }
            }));
        }
        for _ in 0..4 {
            let (ring, taken, seen) = (ring.clone(), taken.clone(), seen.clone());
            threads.push(std::thread::spawn(move || {
                let mut mine = Vec::new();
                while taken.load(Ordering::SeqCst) < 4 * PER {
                    if let Ok(n) = ring.pop() {
                        taken.fetch_add(1, Ordering::SeqCst);
                        mine.push(n);
                    } else {
                        std::thread::yield_now();
                    }
                }
                let mut seen = seen.lock().unwrap();
                for n in mine {
                    seen[n] += 1;
                }
            }));
        }
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(ring.pop(), Err(PopError::Empty));
        let seen = seen.lock().unwrap();
        assert!(seen.iter().all(|&count| count == 1), "each item once");
        assert!(ring.pushed() >= 4 * PER, "evicted items were pushed again");
    }
}
