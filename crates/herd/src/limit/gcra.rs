//! The generic cell rate algorithm on one atomic word, shared by the
//! direct and the keyed rate limiters.
//!
//! The state is the theoretical arrival time (TAT): the moment, in
//! nanoseconds since the limiter's origin, at which the bucket would be
//! empty again. A request of cost `n` at time `now` is allowed when
//! `max(TAT, now) + n·T - now <= burst·T`, where `T` is the emission
//! interval (the period divided by the rate); it moves TAT to
//! `max(TAT, now) + n·T`. A rejection only reads.

use std::time::Duration;

use tokio::time::Instant;

use crate::loom::atomic::{AtomicU64, Ordering};

use super::{Quota, RateError};

/// A reservation made: when its slot comes, and what to undo to give it
/// back.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reserved {
    /// The slot, in nanoseconds since the origin.
    pub(crate) slot: u64,
    /// The TAT this reservation wrote.
    tat: u64,
    /// What it added.
    increment: u64,
}

/// A decision that did not grant now: how long until it would.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Denied {
    /// Wait this many nanoseconds and the same request is granted.
    Wait(u64),
    /// The cost is more than the burst: never granted.
    TooCostly,
}

/// A quota as the algorithm uses it, changeable at runtime.
pub(crate) struct Params {
    /// Nanoseconds per cell.
    interval: AtomicU64,
    /// `burst * interval`: how far TAT may run ahead of now.
    tolerance: AtomicU64,
}

impl Params {
    pub(crate) fn new(quota: Quota) -> Params {
        let (interval, tolerance) = quota.gcra();
        Params {
            interval: AtomicU64::new(interval),
            tolerance: AtomicU64::new(tolerance),
        }
    }

    /// Switches to `quota`; returns the old and the new interval, for
    /// [`Cell::rescale`].
    pub(crate) fn set(&self, quota: Quota) -> (u64, u64) {
        let (interval, tolerance) = quota.gcra();
        let old = self.interval.swap(interval, Ordering::Relaxed);
        self.tolerance.store(tolerance, Ordering::Relaxed);
        (old, interval)
    }

    fn costs(&self, cost: u32) -> Result<(u64, u64), Denied> {
        let interval = self.interval.load(Ordering::Relaxed);
        let tolerance = self.tolerance.load(Ordering::Relaxed);
        let increment = interval.saturating_mul(u64::from(cost));
        if increment > tolerance {
            return Err(Denied::TooCostly);
        }
        Ok((increment, tolerance))
    }
}

/// One GCRA state word and the quota it is held to. The keyed limiter
/// keeps words alone in its table and shares one `Params` among them.
#[derive(Clone, Copy)]
pub(crate) struct Cell<'a> {
    pub(crate) tat: &'a AtomicU64,
    pub(crate) params: &'a Params,
}

impl Cell<'_> {
    /// Keeps the debt across a change of interval from `old` to `new`,
    /// counted in cells: cells granted under the old quota count against
    /// the new burst, so a change never grants a fresh burst by itself,
    /// and the new rate applies at once.
    pub(crate) fn rescale(&self, (old, new): (u64, u64), now: u64) {
        let _ = self
            .tat
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |tat| {
                let debt = u128::from(tat.saturating_sub(now));
                let rescaled = debt * u128::from(new) / u128::from(old.max(1));
                Some(now.saturating_add(rescaled.min(u128::from(u64::MAX)) as u64))
            });
    }

    /// Grants `cost` cells at `now` if they conform; a refusal writes
    /// nothing.
    pub(crate) fn check(&self, cost: u32, now: u64) -> Result<(), Denied> {
        let (increment, tolerance) = self.params.costs(cost)?;
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let next = tat.max(now).saturating_add(increment);
            if next - now > tolerance {
                return Err(Denied::Wait(next - tolerance - now));
            }
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(actual) => tat = actual,
            }
        }
    }

    /// Reserves `cost` cells for a request made at `at` (a waiter passes
    /// when it arrived, so a timer that fires late never costs the line a
    /// slot), at the earliest conforming moment, unless that is more than
    /// `max_wait` after `at` (then nothing is written).
    pub(crate) fn reserve(&self, cost: u32, at: u64, max_wait: u64) -> Result<Reserved, Denied> {
        let (increment, tolerance) = self.params.costs(cost)?;
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let next = tat.max(at).saturating_add(increment);
            let wait = (next - at).saturating_sub(tolerance);
            if wait > max_wait {
                return Err(Denied::Wait(wait));
            }
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => {
                    return Ok(Reserved {
                        slot: at + wait,
                        tat: next,
                        increment,
                    });
                }
                Err(actual) => tat = actual,
            }
        }
    }

    /// Gives back a reservation that will not be used (its waiter was
    /// cancelled before its slot), if nothing was reserved after it: then
    /// the next request gets the same slot. If something was, the cells are
    /// left spent, since taking them back would move a later reservation's
    /// slot under it and grant twice.
    pub(crate) fn release(&self, reserved: &Reserved) {
        let _ = self.tat.compare_exchange(
            reserved.tat,
            reserved.tat - reserved.increment,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// How many cells could be granted at `now` without waiting.
    pub(crate) fn available(&self, now: u64) -> u64 {
        let interval = self.params.interval.load(Ordering::Relaxed).max(1);
        let tolerance = self.params.tolerance.load(Ordering::Relaxed);
        let debt = self.tat().saturating_sub(now);
        tolerance.saturating_sub(debt) / interval
    }

    /// How long a request of `cost` would wait at `now`; writes nothing.
    pub(crate) fn wait(&self, cost: u32, now: u64) -> Result<u64, Denied> {
        let (increment, tolerance) = self.params.costs(cost)?;
        let next = self.tat().max(now).saturating_add(increment);
        Ok((next - now).saturating_sub(tolerance))
    }

    pub(crate) fn tat(&self) -> u64 {
        self.tat.load(Ordering::Relaxed)
    }
}

/// A reservation whose waiter is still asleep: dropping it (the waiter
/// was cancelled) gives the cells back, unless the slot has already come
/// (then the cell's moment has passed and giving it back would grant it
/// twice).
pub(crate) struct HandBack<'a> {
    pub(crate) cell: Cell<'a>,
    pub(crate) reserved: Reserved,
    pub(crate) slot: Instant,
}

impl Drop for HandBack<'_> {
    fn drop(&mut self) {
        if Instant::now() < self.slot {
            self.cell.release(&self.reserved);
        }
    }
}

/// Whether a bucket whose TAT is `tat` is full again at `now`: such a key
/// holds nothing a fresh one would not.
pub(crate) fn is_idle(tat: &AtomicU64, now: u64) -> bool {
    tat.load(Ordering::Relaxed) <= now
}

/// A state word with a quota of its own: the direct limiter, and keys with
/// a quota set for them.
pub(crate) struct Gcra {
    tat: AtomicU64,
    params: Params,
    /// The quota in force, for errors and reports.
    quota: crate::loom::Mutex<Quota>,
}

impl Gcra {
    pub(crate) fn new(quota: Quota) -> Gcra {
        Gcra::with_tat(quota, 0)
    }

    pub(crate) fn with_tat(quota: Quota, tat: u64) -> Gcra {
        Gcra {
            tat: AtomicU64::new(tat),
            params: Params::new(quota),
            quota: crate::loom::Mutex::new(quota),
        }
    }

    pub(crate) fn cell(&self) -> Cell<'_> {
        Cell {
            tat: &self.tat,
            params: &self.params,
        }
    }

    /// Changes the quota at `now`, keeping the debt (see [`Cell::rescale`]).
    pub(crate) fn set(&self, quota: Quota, now: u64) {
        let mut current = crate::loom::lock(&self.quota);
        let intervals = self.params.set(quota);
        self.cell().rescale(intervals, now);
        *current = quota;
    }

    pub(crate) fn quota(&self) -> Quota {
        *crate::loom::lock(&self.quota)
    }
}

/// The limiter's zero on tokio's clock (so the paused test clock drives
/// it), and conversions to and from nanoseconds since then.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Origin(Instant);

impl Origin {
    pub(crate) fn now() -> Origin {
        Origin(Instant::now())
    }

    /// Nanoseconds from the origin to `at` (zero for earlier instants).
    pub(crate) fn nanos(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.0)
            .as_nanos()
            .min(u128::from(u64::MAX)) as u64
    }

    pub(crate) fn elapsed(&self) -> u64 {
        self.nanos(Instant::now())
    }

    pub(crate) fn instant(&self, nanos: u64) -> Instant {
        self.0 + Duration::from_nanos(nanos)
    }
}

/// The error a denial becomes.
pub(crate) fn denial(denied: Denied, cost: u32, quota: Quota) -> RateError {
    match denied {
        Denied::Wait(nanos) => RateError::Limited {
            retry_after: Duration::from_nanos(nanos),
        },
        Denied::TooCostly => RateError::TooCostly {
            cost,
            burst: quota.burst_size(),
        },
    }
}
