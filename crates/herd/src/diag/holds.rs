//! The records of who holds what, kept twice (by each resource: its
//! holders; by each party: what it holds) and written on every acquisition
//! and release while diagnostics are on: the hot path, so it takes no lock.
//!
//! A [`HoldSet`] is a few slots, each a record behind a sequence number (a
//! seqlock per slot), and a locked list beside them for when every slot is
//! taken. A writer claims a free slot with one compare-and-swap, writes the
//! record and publishes it; a remover takes a published record with one
//! compare-and-swap on the sequence number it read it under, so two
//! removers never take the same record and a record changed meanwhile is
//! never taken. Readers (checks, dumps) copy a record and keep it only if
//! its sequence number did not move: they never see half of one.
//!
//! Sequence numbers only grow; their value mod 4 says what a slot holds.

use std::panic::Location;

use super::report::Site;
use crate::loom::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering, fence};
use crate::loom::{Mutex, lock};

/// Most resources have one holder and most parties hold one or two things.
const SLOTS: usize = 4;
const FREE: u64 = 0;
const WRITING: u64 = 1;
const FULL: u64 = 2;

/// One hold: by a resource, `key` is the holder's party id; by a party,
/// the resource's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) key: u64,
    /// Permits held.
    pub(crate) n: usize,
    /// Where they were acquired.
    pub(crate) at: Site,
    /// Coarse time they were acquired.
    pub(crate) since: u64,
    /// The resource's lock-order level (kept by parties).
    pub(crate) level: Option<u32>,
    /// Through an owned permit, which may move to another task.
    pub(crate) owned: bool,
}

struct Slot {
    seq: AtomicU64,
    key: AtomicU64,
    n: AtomicUsize,
    /// Only ever a `&'static Location`, so always valid to read.
    at: AtomicPtr<Location<'static>>,
    since: AtomicU64,
    /// `level | has level << 32 | owned << 33`.
    meta: AtomicU64,
}

const HAS_LEVEL: u64 = 1 << 32;
const OWNED: u64 = 1 << 33;

impl Slot {
    fn new() -> Self {
        Slot {
            seq: AtomicU64::new(FREE),
            key: AtomicU64::new(0),
            n: AtomicUsize::new(0),
            at: AtomicPtr::new(site_ptr(Location::caller())),
            since: AtomicU64::new(0),
            meta: AtomicU64::new(0),
        }
    }

    /// Writes `record`; the slot is claimed (`WRITING`).
    #[inline]
    fn write(&self, record: &Record) {
        self.key.store(record.key, Ordering::Relaxed);
        self.n.store(record.n, Ordering::Relaxed);
        self.at.store(site_ptr(record.at), Ordering::Relaxed);
        self.since.store(record.since, Ordering::Relaxed);
        let level = record.level.map_or(0, |level| u64::from(level) | HAS_LEVEL);
        let owned = if record.owned { OWNED } else { 0 };
        self.meta.store(level | owned, Ordering::Relaxed);
    }

    /// The record published here and the sequence number it was read
    /// under, if one was published and stayed put while it was read.
    #[inline]
    fn read(&self) -> Option<(u64, Record)> {
        let seq = self.seq.load(Ordering::Acquire);
        if seq % 4 != FULL {
            return None;
        }
        let key = self.key.load(Ordering::Relaxed);
        let n = self.n.load(Ordering::Relaxed);
        let at = self.at.load(Ordering::Relaxed);
        let since = self.since.load(Ordering::Relaxed);
        let meta = self.meta.load(Ordering::Relaxed);
        // Orders the loads above before the re-check: if any of them saw a
        // later writer's store, the re-check sees that writer's claim.
        fence(Ordering::Acquire);
        if self.seq.load(Ordering::Relaxed) != seq {
            return None;
        }
        // SAFETY: `at` only ever holds pointers made from a
        // `&'static Location<'static>` (see `site_ptr` and `Slot::new`).
        let at: Site = unsafe { &*at };
        let record = Record {
            key,
            n,
            at,
            since,
            level: (meta & HAS_LEVEL != 0).then_some(meta as u32),
            owned: meta & OWNED != 0,
        };
        Some((seq, record))
    }
}

fn site_ptr(at: Site) -> *mut Location<'static> {
    (at as *const Location<'static>).cast_mut()
}

/// A set of hold records, added and removed without a lock while few.
pub(crate) struct HoldSet {
    slots: [Slot; SLOTS],
    /// Records that found every slot taken.
    spill: Mutex<Vec<Record>>,
    /// How many records are in `spill`: readers look there only if any.
    spilled: AtomicUsize,
}

impl HoldSet {
    pub(crate) fn new() -> Self {
        HoldSet {
            slots: std::array::from_fn(|_| Slot::new()),
            spill: Mutex::new(Vec::new()),
            spilled: AtomicUsize::new(0),
        }
    }

    #[inline(always)]
    pub(crate) fn insert(&self, record: Record) {
        for slot in &self.slots {
            let seq = slot.seq.load(Ordering::Relaxed);
            if seq % 4 != FREE {
                continue;
            }
            if slot
                .seq
                .compare_exchange(seq, seq + WRITING, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            // Orders the claim before the writes: a reader that sees any
            // of them sees the claim too, and drops what it read.
            fence(Ordering::Release);
            slot.write(&record);
            slot.seq.store(seq + FULL, Ordering::Release);
            return;
        }
        let mut spill = lock(&self.spill);
        spill.push(record);
        self.spilled.store(spill.len(), Ordering::Release);
    }

    /// Removes and returns a record with this `key` (any, if `None`) that
    /// `matches` accepts, if there is one.
    #[inline]
    pub(crate) fn remove(
        &self,
        key: Option<u64>,
        matches: impl Fn(&Record) -> bool,
    ) -> Option<Record> {
        'scan: loop {
            for slot in &self.slots {
                // Most slots are passed over on their key alone.
                if key.is_some_and(|key| slot.key.load(Ordering::Relaxed) != key) {
                    continue;
                }
                let Some((seq, record)) = slot.read() else {
                    continue;
                };
                if key.is_some_and(|key| record.key != key) {
                    continue;
                }
                if !matches(&record) {
                    continue;
                }
                let freed = seq - FULL + 4; // FREE, one round on
                if slot
                    .seq
                    .compare_exchange(seq, freed, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
                {
                    return Some(record);
                }
                // Another remover took it: look again, from the start.
                continue 'scan;
            }
            break;
        }
        if self.spilled.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut spill = lock(&self.spill);
        let index = spill
            .iter()
            .position(|r| key.is_none_or(|key| r.key == key) && matches(r))?;
        let record = spill.remove(index);
        self.spilled.store(spill.len(), Ordering::Release);
        Some(record)
    }

    /// Copies of the records `keep` accepts, slots first. Allocates only if
    /// one is accepted.
    #[inline]
    pub(crate) fn matching(&self, keep: impl Fn(&Record) -> bool) -> Vec<Record> {
        let mut found = Vec::new();
        for slot in &self.slots {
            if let Some((_, record)) = slot.read()
                && keep(&record)
            {
                found.push(record);
            }
        }
        if self.spilled.load(Ordering::Acquire) > 0 {
            found.extend(lock(&self.spill).iter().filter(|r| keep(r)).copied());
        }
        found
    }

    /// Every record, slots first.
    pub(crate) fn all(&self) -> Vec<Record> {
        self.matching(|_| true)
    }

    /// Whether no record is held (or being written).
    pub(crate) fn is_empty(&self) -> bool {
        self.slots
            .iter()
            .all(|slot| slot.seq.load(Ordering::Acquire) % 4 == FREE)
            && self.spilled.load(Ordering::Acquire) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: u64, n: usize) -> Record {
        Record {
            key,
            n,
            at: Location::caller(),
            since: 7,
            level: Some(3),
            owned: key.is_multiple_of(2),
        }
    }

    #[test]
    fn records_come_back_as_written_and_leave_once() {
        let set = HoldSet::new();
        for key in 1..=SLOTS as u64 + 3 {
            set.insert(record(key, key as usize * 10));
        }
        let mut all = set.all();
        all.sort_by_key(|r| r.key);
        let expected: Vec<_> = (1..=SLOTS as u64 + 3)
            .map(|k| record(k, k as usize * 10))
            .collect();
        assert_eq!(
            all.iter().map(|r| (r.key, r.n)).collect::<Vec<_>>(),
            expected.iter().map(|r| (r.key, r.n)).collect::<Vec<_>>()
        );
        assert!(all.iter().all(|r| r.level == Some(3) && r.since == 7));
        assert_eq!(all.iter().filter(|r| r.owned).count(), 3);
        for key in 1..=SLOTS as u64 + 3 {
            let gone = set.remove(Some(key), |_| true).unwrap();
            assert_eq!(gone.n, key as usize * 10);
            assert_eq!(set.remove(Some(key), |_| true), None, "removed once");
        }
        assert!(set.is_empty());
        assert!(set.all().is_empty());
    }

    #[test]
    fn a_freed_slot_is_used_again_and_the_spill_drains() {
        let set = HoldSet::new();
        for key in 1..=SLOTS as u64 + 1 {
            set.insert(record(key, 1));
        }
        assert_eq!(set.spilled.load(Ordering::Relaxed), 1);
        set.remove(Some(1), |_| true).unwrap();
        set.insert(record(99, 1));
        assert_eq!(
            set.spilled.load(Ordering::Relaxed),
            1,
            "the freed slot took it"
        );
        set.remove(None, |r| r.key == SLOTS as u64 + 1).unwrap();
        assert_eq!(set.spilled.load(Ordering::Relaxed), 0);
        assert_eq!(set.matching(|r| r.key == 99).len(), 1);
    }

    #[test]
    fn threads_adding_and_removing_lose_and_duplicate_nothing() {
        let set = std::sync::Arc::new(HoldSet::new());
        let workers: Vec<_> = (0..4u64)
            .map(|t| {
                let set = set.clone();
                std::thread::spawn(move || {
                    for i in 0..20_000u64 {
                        let key = t * 1_000_000 + i;
                        set.insert(record(key, 1));
                        if i % 3 == 0 {
                            let seen = set.matching(|r| r.key == key);
                            assert_eq!(seen.len(), 1, "its own record, whole");
                            assert_eq!(seen[0].since, 7);
                        }
                        assert!(set.remove(Some(key), |r| r.n == 1).is_some());
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        assert!(set.is_empty());
    }
}
