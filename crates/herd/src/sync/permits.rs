//! The one waiter queue behind herd's `Semaphore`, `Mutex` and `RwLock`: a
//! count of permits in one atomic word for the fast path, and a first-in
//! first-out queue of waiters (tasks or threads) under a lock for the slow
//! path.
//!
//! Invariant: while the `SLOW` flag is set (someone waits, or forgotten
//! permits are still owed) the word holds no available permits, so no
//! newcomer can take permits ahead of a waiter, and every release goes
//! through the lock, which hands permits to waiters in order.
//!
//! Free of tokio, so loom can check it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use std::sync::{Arc, OnceLock};

use tokio::task::coop;

use super::line::{Line, Wake, Wakes, park};
use super::{AcquireError, Resource};
use crate::diag::{self, Deadlock, Site, graph::Tracked, graph::Waiting};
use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::loom::{Mutex, lock};

/// Releases must take the lock: someone waits, or permits are owed.
const SLOW: usize = 1;
/// No permit will ever be granted again.
const CLOSED: usize = 2;
const SHIFT: usize = 2;

/// The most permits a semaphore can hold.
pub(crate) const MAX_PERMITS: usize = usize::MAX >> SHIFT;

pub(crate) struct Permits {
    /// Available permits `<< SHIFT`, `| SLOW`, `| CLOSED`.
    state: AtomicUsize,
    /// Permits in existence: available plus held. Changes only with
    /// `add`/`forget`.
    capacity: AtomicUsize,
    /// The line. Every function that locks it first takes
    /// `diag::hold_back()`, dropped when the function returns: reports made
    /// under the lock (the hold of a waiter handed permits, a deadlock
    /// found as a waiter joins) go out after the lock is released and its
    /// waiters woken, since a `tracing` subscriber may take herd locks,
    /// this one included.
    queue: Mutex<Queue>,
    /// Bumped whenever a waiter is let go (granted or closed out), so a
    /// spinning thread can watch for its turn without taking the lock.
    released: AtomicUsize,
    resource: Resource,
    /// What diagnostics know of this resource, made on first use while
    /// they are on.
    tracked: OnceLock<Arc<Tracked>>,
}

/// Who asks for permits, for diagnostics: where, and whether the permits
/// may move to another task (an owned permit).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Caller {
    pub(crate) at: Site,
    pub(crate) owned: bool,
}

impl Caller {
    /// The caller of the `#[track_caller]` chain this is called from.
    #[track_caller]
    pub(crate) fn here() -> Caller {
        Caller {
            at: std::panic::Location::caller(),
            owned: false,
        }
    }

    /// The same caller, asking for an owned permit.
    pub(crate) fn owned(self) -> Caller {
        Caller {
            owned: true,
            ..self
        }
    }
}

struct Queue {
    line: Line<Waiter>,
    /// Forgotten permits not yet returned by their holders.
    debt: usize,
}

struct Waiter {
    /// Permits asked for.
    wanted: usize,
    /// Permits still missing; zero once granted.
    missing: usize,
    /// Taken when the waiter is woken for good.
    wake: Option<Wake>,
    /// Why it was let go without its permits: closed, or the capacity
    /// shrank below what it asked for.
    refused: Refused,
    /// Its wait, as diagnostics know it (when on).
    watch: Option<Waiting>,
}

/// Why an acquisition failed, before the caller names the resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// `try_` form: not enough permits now, or others wait first.
    Busy,
    Closed,
    /// More permits than the semaphore has.
    TooMany {
        capacity: usize,
    },
    /// Waiting would close a cycle of waits.
    Deadlock(Arc<Deadlock>),
}

impl Permits {
    pub(crate) fn new(permits: usize, resource: Resource) -> Self {
        assert!(
            permits <= MAX_PERMITS,
            "a semaphore holds at most {MAX_PERMITS} permits, got {permits}"
        );
        #[cfg(not(loom))]
        diag::from_env();
        Permits {
            state: AtomicUsize::new(permits << SHIFT),
            capacity: AtomicUsize::new(permits),
            queue: Mutex::new(Queue {
                line: Line::new(),
                debt: 0,
            }),
            released: AtomicUsize::new(0),
            resource,
            tracked: OnceLock::new(),
        }
    }

    /// Gives the resource a lock-order level; before first use only.
    pub(crate) fn set_level(&mut self, level: u32) {
        self.resource.set_level(level);
    }

    pub(crate) fn resource(&self) -> &Resource {
        &self.resource
    }

    pub(crate) fn error(&self, refused: Refused, requested: usize) -> AcquireError {
        if let Refused::Deadlock(deadlock) = &refused
            && diag::on_deadlock() == diag::OnDeadlock::Panic
        {
            panic!("{deadlock}");
        }
        let resource = self.resource.clone();
        match refused {
            Refused::Busy => AcquireError::WouldBlock { resource },
            Refused::Closed => AcquireError::Closed { resource },
            Refused::TooMany { capacity } => AcquireError::TooMany {
                resource,
                requested,
                capacity,
            },
            Refused::Deadlock(deadlock) => AcquireError::Deadlock { resource, deadlock },
        }
    }

    /// Waits up to `timeout` of tokio's clock for `n` permits: the async
    /// `_timeout` form of every lock, which unlike `lock().await` returns a
    /// deadlock as an error.
    #[track_caller]
    pub(crate) fn wait_within(
        &self,
        n: usize,
        timeout: std::time::Duration,
    ) -> impl Future<Output = Result<(), AcquireError>> + '_ {
        let wait = self.resource.within(timeout, Acquire::new(self, n));
        async move { wait.await?.map(drop) }
    }

    /// [`acquire_blocking`](Permits::acquire_blocking) with the error named.
    pub(crate) fn wait_blocking(
        &self,
        n: usize,
        timeout: Option<std::time::Duration>,
        caller: Caller,
    ) -> Result<(), AcquireError> {
        let deadline = timeout.map(|timeout| std::time::Instant::now() + timeout);
        self.acquire_blocking(n, deadline, caller)
            .map_err(|refused| match refused {
                BlockingRefused::Refused(refused) => self.error(refused, n),
                BlockingRefused::TimedOut => self.resource.timed_out(timeout.unwrap_or_default()),
            })
    }

    pub(crate) fn available(&self) -> usize {
        self.state.load(Ordering::Acquire) >> SHIFT
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity.load(Ordering::Acquire)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSED != 0
    }

    fn check(&self, n: usize) -> Result<(), Refused> {
        let capacity = self.capacity();
        if n > capacity {
            return Err(Refused::TooMany { capacity });
        }
        Ok(())
    }

    /// What diagnostics know of this resource, if they are on.
    #[inline]
    fn tracked(&self) -> Option<&Arc<Tracked>> {
        if !diag::on() {
            return None;
        }
        Some(self.track())
    }

    #[cold]
    #[inline(never)]
    fn track(&self) -> &Arc<Tracked> {
        self.tracked
            .get_or_init(|| Tracked::new(self.resource.clone()))
    }

    /// Tells diagnostics the caller took `n` permits without waiting.
    #[inline]
    fn took(&self, n: usize, caller: Caller) {
        if diag::on() {
            self.took_watched(n, caller);
        }
    }

    #[cold]
    #[inline(never)]
    fn took_watched(&self, n: usize, caller: Caller) {
        let tracked = self.tracked.get().unwrap_or_else(|| self.track());
        diag::graph::acquired(tracked, n, caller.at, caller.owned);
    }

    /// Tells diagnostics `n` permits are about to come back.
    #[inline]
    fn returning(&self, n: usize) {
        if diag::on() {
            self.returning_watched(n);
        }
    }

    #[cold]
    #[inline(never)]
    fn returning_watched(&self, n: usize) {
        let tracked = self.tracked.get().unwrap_or_else(|| self.track());
        diag::graph::released(tracked, n);
    }

    /// Takes `n` permits if they are free and nobody waits for them first.
    pub(crate) fn try_acquire(&self, n: usize, caller: Caller) -> Result<(), Refused> {
        let taken = self.try_take(n);
        if taken.is_ok() {
            self.took(n, caller);
        }
        taken
    }

    fn try_take(&self, n: usize) -> Result<(), Refused> {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            if state & CLOSED != 0 {
                return Err(Refused::Closed);
            }
            if state & SLOW != 0 || state >> SHIFT < n {
                self.check(n)?;
                return Err(Refused::Busy);
            }
            match self.state.compare_exchange_weak(
                state,
                state - (n << SHIFT),
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => state = actual,
            }
        }
    }

    /// Returns `n` permits: to the waiters first, in order.
    pub(crate) fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        // Before the permits go back, so no one sees a holder that is not.
        self.returning(n);
        let mut state = self.state.load(Ordering::Relaxed);
        while state & SLOW == 0 {
            match self.state.compare_exchange_weak(
                state,
                state + (n << SHIFT),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => state = actual,
            }
        }
        let _reports = diag::hold_back();
        let mut queue = lock(&self.queue);
        let wakes = self.hand_out(&mut queue, n);
        drop(queue);
        wakes.wake_all();
    }

    /// Under the lock: pays the debt, then fills waiters from the head,
    /// then stores what is left. Clears `SLOW` when nobody is owed anything.
    fn hand_out(&self, queue: &mut Queue, mut n: usize) -> Wakes {
        let mut wakes = Wakes::default();
        let paid = n.min(queue.debt);
        queue.debt -= paid;
        n -= paid;
        while n > 0 {
            let Some(key) = queue.line.front() else { break };
            let waiter = queue.line.get_mut(key);
            let given = n.min(waiter.missing);
            waiter.missing -= given;
            n -= given;
            if waiter.missing > 0 {
                break;
            }
            if let Some(watch) = &mut waiter.watch {
                watch.granted();
            }
            wakes.push(waiter.wake.take());
            queue.line.unlink(key);
            self.released.fetch_add(1, Ordering::Release);
        }
        self.settle(queue, n);
        wakes
    }

    /// Under the lock: stores `n` spare permits and clears `SLOW` if nobody
    /// waits and nothing is owed. While anyone waits, `n` is zero: the
    /// permits went to the head of the line.
    fn settle(&self, queue: &Queue, n: usize) {
        let idle = queue.line.is_empty() && queue.debt == 0;
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            let mut next = state + (n << SHIFT);
            if idle {
                next &= !SLOW;
            }
            match self.state.compare_exchange_weak(
                state,
                next,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => state = actual,
            }
        }
    }

    /// Under the lock, with `SLOW` about to be set: takes every available
    /// permit out of the word, so nobody barges while we wait.
    fn take_all(&self) -> usize {
        let before = self.state.fetch_or(SLOW, Ordering::Acquire);
        let taken = before >> SHIFT;
        if taken > 0 {
            self.state.fetch_sub(taken << SHIFT, Ordering::Acquire);
        }
        taken
    }

    /// Adds `n` permits to the semaphore.
    pub(crate) fn add(&self, n: usize) {
        let grown = self
            .capacity
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |capacity| {
                capacity.checked_add(n).filter(|&sum| sum <= MAX_PERMITS)
            });
        assert!(
            grown.is_ok(),
            "a semaphore holds at most {MAX_PERMITS} permits"
        );
        self.release(n);
    }

    /// Removes `n` permits from the semaphore (at most its capacity): the
    /// free ones now, the held ones as they are released. Returns how many
    /// were free.
    pub(crate) fn forget(&self, n: usize) -> usize {
        let _reports = diag::hold_back();
        let mut queue = lock(&self.queue);
        let n = n.min(self.capacity.load(Ordering::Relaxed));
        self.capacity.fetch_sub(n, Ordering::AcqRel);
        let mut state = self.state.load(Ordering::Relaxed);
        let free = loop {
            let free = (state >> SHIFT).min(n);
            let mut next = state - (free << SHIFT);
            if free < n {
                next |= SLOW;
            }
            match self
                .state
                .compare_exchange_weak(state, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => break free,
                Err(actual) => state = actual,
            }
        };
        queue.debt += n - free;
        let wakes = self.refuse_oversized(&mut queue);
        drop(queue);
        wakes.wake_all();
        free
    }

    /// Held permits that will not come back: the capacity shrinks by `n`,
    /// on top of any `forget` still owed. It cannot go below zero: the part
    /// that would is taken off what is owed instead, since these permits
    /// can no longer pay it. (Throughout, capacity = available + held -
    /// owed.)
    pub(crate) fn forget_held(&self, n: usize) {
        self.returning(n);
        let _reports = diag::hold_back();
        let mut queue = lock(&self.queue);
        let capacity = self.capacity.load(Ordering::Acquire);
        let shrink = n.min(capacity);
        self.capacity.fetch_sub(shrink, Ordering::AcqRel);
        queue.debt -= n - shrink;
        let mut wakes = self.refuse_oversized(&mut queue);
        // Nothing may be owed or waited for any more: then SLOW clears.
        wakes.extend(self.hand_out(&mut queue, 0));
        drop(queue);
        wakes.wake_all();
    }

    /// Under the lock, after the capacity shrank: lets go of every waiter
    /// asking for more than the capacity now, refused with `TooMany`, so
    /// it cannot hold up the line forever; what they had collected goes to
    /// the others.
    fn refuse_oversized(&self, queue: &mut Queue) -> Wakes {
        let capacity = self.capacity.load(Ordering::Acquire);
        let mut wakes = Wakes::default();
        let mut returned = 0;
        for key in queue.line.keys() {
            let waiter = queue.line.get_mut(key);
            if waiter.wanted <= capacity {
                continue;
            }
            returned += waiter.wanted - waiter.missing;
            waiter.missing = waiter.wanted;
            waiter.refused = Refused::TooMany { capacity };
            wakes.push(waiter.wake.take());
            queue.line.unlink(key);
            self.released.fetch_add(1, Ordering::Release);
        }
        wakes.extend(self.hand_out(queue, returned));
        wakes
    }

    /// No permit is granted from now on; every waiter is woken to see it.
    pub(crate) fn close(&self) {
        let _reports = diag::hold_back();
        let mut queue = lock(&self.queue);
        self.state.fetch_or(CLOSED, Ordering::AcqRel);
        let mut wakes = Wakes::default();
        queue.line.drain(|waiter| wakes.push(waiter.wake.take()));
        self.released.fetch_add(1, Ordering::Release);
        drop(queue);
        wakes.wake_all();
    }

    /// Asks for `n` permits for a task. `key` is the caller's place in line,
    /// `None` before the first call; the caller must call
    /// [`cancel`](Permits::cancel) with it if it stops waiting early.
    pub(crate) fn poll_acquire(
        &self,
        n: usize,
        key: &mut Option<usize>,
        caller: Caller,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Refused>> {
        match *key {
            None => match self.try_take(n) {
                Err(Refused::Busy) => {
                    match self.enqueue(n, Wake::Task(cx.waker().clone()), caller) {
                        Ok(None) => {}
                        Ok(Some(waiting)) => {
                            *key = Some(waiting);
                            return Poll::Pending;
                        }
                        Err(refused) => return Poll::Ready(Err(refused)),
                    }
                }
                Err(refused) => return Poll::Ready(Err(refused)),
                Ok(()) => {}
            },
            Some(waiting) => {
                let _reports = diag::hold_back();
                let mut queue = lock(&self.queue);
                if queue.line.get(waiting).missing == 0 {
                    // Handed over, and diagnostics were told then.
                    queue.line.remove(waiting);
                    *key = None;
                    return Poll::Ready(Ok(()));
                } else if !queue.line.is_linked(waiting) {
                    *key = None;
                    let refused = queue.line.get(waiting).refused.clone();
                    let wakes = self.leave(&mut queue, waiting);
                    drop(queue);
                    wakes.wake_all();
                    return Poll::Ready(Err(refused));
                } else {
                    Wake::update(&mut queue.line.get_mut(waiting).wake, cx.waker());
                    return Poll::Pending;
                }
            }
        }
        self.took(n, caller);
        Poll::Ready(Ok(()))
    }

    /// Joins the line for `n` permits, or takes them if they came free
    /// meanwhile (`Ok(None)`).
    fn enqueue(&self, n: usize, wake: Wake, caller: Caller) -> Result<Option<usize>, Refused> {
        self.check(n)?;
        let _reports = diag::hold_back();
        let mut queue = lock(&self.queue);
        // Re-check under the lock: a release may have come in between. A
        // close takes the lock, so none can happen from here on.
        match self.try_take(n) {
            Err(Refused::Busy) => {}
            done => return done.map(|()| None),
        }
        let taken = self.take_all();
        if taken >= n {
            // A lock-free release landed after the re-check: enough now.
            let wakes = self.hand_out(&mut queue, taken - n);
            drop(queue);
            wakes.wake_all();
            return Ok(None);
        }
        // Diagnostics see the wait before anyone can hand it permits.
        let watch = match self.tracked() {
            None => None,
            Some(tracked) => match diag::graph::wait(tracked, n, caller.at, caller.owned) {
                Ok(watch) => Some(watch),
                Err(deadlock) => {
                    let wakes = self.hand_out(&mut queue, taken);
                    drop(queue);
                    wakes.wake_all();
                    return Err(Refused::Deadlock(deadlock));
                }
            },
        };
        // Permits can only have been free with nobody ahead of us.
        debug_assert!(taken == 0 || queue.line.is_empty());
        Ok(Some(queue.line.push_back(Waiter {
            wanted: n,
            missing: n - taken,
            wake: Some(wake),
            refused: Refused::Closed,
            watch,
        })))
    }

    /// Leaves the line: permits already handed to this waiter go to the
    /// next ones; if it was granted in full but never saw it, all it asked
    /// for go back.
    pub(crate) fn cancel(&self, key: usize) {
        let _reports = diag::hold_back();
        let mut queue = lock(&self.queue);
        let wakes = self.leave(&mut queue, key);
        drop(queue);
        wakes.wake_all();
    }

    fn leave(&self, queue: &mut Queue, key: usize) -> Wakes {
        let waiter = queue.line.remove(key);
        if let Some(watch) = waiter.watch {
            watch.left();
        }
        self.hand_out(queue, waiter.wanted - waiter.missing)
    }

    /// Waits on this thread for `n` permits, until `deadline` if one is given.
    pub(crate) fn acquire_blocking(
        &self,
        n: usize,
        deadline: Option<std::time::Instant>,
        caller: Caller,
    ) -> Result<(), BlockingRefused> {
        let key = match self.try_acquire(n, caller) {
            Err(Refused::Busy) => match self.enqueue(n, Wake::this_thread(), caller) {
                Ok(None) => {
                    self.took(n, caller);
                    return Ok(());
                }
                Ok(Some(key)) => key,
                Err(refused) => return Err(BlockingRefused::Refused(refused)),
            },
            done => return done.map_err(BlockingRefused::Refused),
        };
        loop {
            let seen = self.released.load(Ordering::Acquire);
            let next_in_line = {
                let _reports = diag::hold_back();
                let mut queue = lock(&self.queue);
                if queue.line.get(key).missing == 0 {
                    queue.line.remove(key);
                    return Ok(());
                }
                if !queue.line.is_linked(key) {
                    let refused = queue.line.get(key).refused.clone();
                    let wakes = self.leave(&mut queue, key);
                    drop(queue);
                    wakes.wake_all();
                    return Err(BlockingRefused::Refused(refused));
                }
                queue.line.front() == Some(key)
            };
            // Only the next in line spins: the others would burn the cores
            // the holder and the next one need.
            if next_in_line && self.spin_until_released(seen) {
                continue;
            }
            if !park(deadline) {
                // Timed out; a grant may have raced in, and `cancel` then
                // gives those permits on.
                self.cancel(key);
                return Err(BlockingRefused::TimedOut);
            }
        }
    }
}

impl Permits {
    /// Spins a short while for some waiter to be let go, before a thread
    /// parks: when the holder is running on another core, the turn often
    /// comes within the spin, and a park and unpark (a few microseconds
    /// each here) are saved. `true` if one was let go: look again.
    fn spin_until_released(&self, seen: usize) -> bool {
        for _ in 0..SPINS {
            std::hint::spin_loop();
            if self.released.load(Ordering::Acquire) != seen {
                return true;
            }
        }
        false
    }
}

/// Spins before parking; none under loom, whose models would only grow.
#[cfg(not(loom))]
const SPINS: u32 = 200;
#[cfg(loom)]
const SPINS: u32 = 0;

/// The result of an acquisition that cannot be refused (a mutex is never
/// closed, never asked for more than it has), except for a deadlock: a
/// form that cannot fail then panics with the report, rather than hang.
#[inline]
#[track_caller]
pub(crate) fn infallible<T>(acquired: Result<T, AcquireError>) -> T {
    match acquired {
        Ok(held) => held,
        Err(err) => refused(err),
    }
}

#[cold]
#[track_caller]
fn refused(err: AcquireError) -> ! {
    match err {
        AcquireError::Deadlock { deadlock, .. } => panic!("{deadlock}"),
        err => unreachable!("{err}"),
    }
}

/// Why a blocking acquisition failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BlockingRefused {
    Refused(Refused),
    TimedOut,
}

/// Something that holds a [`Permits`]: a borrow, or an `Arc` of a semaphore
/// for owned permits.
pub(crate) trait Holder {
    /// Owned permits may move to another task.
    const OWNED: bool = false;
    fn permits(&self) -> &Permits;
}

impl Holder for &Permits {
    fn permits(&self) -> &Permits {
        self
    }
}

/// Waits for `n` permits of `H`; leaves the line if dropped first.
pub(crate) struct Acquire<H: Holder> {
    holder: Option<H>,
    n: usize,
    key: Option<usize>,
    /// Where the acquisition was asked for.
    at: Site,
}

impl<H: Holder> Acquire<H> {
    #[track_caller]
    pub(crate) fn new(holder: H, n: usize) -> Self {
        Acquire {
            holder: Some(holder),
            n,
            key: None,
            at: std::panic::Location::caller(),
        }
    }
}

impl<H: Holder> Acquire<H> {
    /// Permits asked for.
    pub(crate) fn wanted(&self) -> usize {
        self.n
    }
}

impl<H: Holder + Unpin> Future for Acquire<H> {
    /// The holder back, with the permits taken.
    type Output = Result<H, AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let holder = this
            .holder
            .as_ref()
            .expect("Acquire polled after completion");
        let permits = holder.permits();
        let caller = Caller {
            at: this.at,
            owned: H::OWNED,
        };
        // A unit of tokio's task budget, as tokio's own locks take: a loop
        // that acquires a free lock never waits, and would otherwise keep
        // its worker thread until it ends. A spent budget yields before the
        // line is touched; the unit comes back if the acquisition waits.
        let budget = ready!(coop::poll_proceed(cx));
        let outcome = ready!(permits.poll_acquire(this.n, &mut this.key, caller, cx));
        budget.made_progress();
        match outcome {
            Ok(()) => Poll::Ready(Ok(this.holder.take().expect("holder"))),
            Err(refused) => {
                let err = permits.error(refused, this.n);
                this.holder = None;
                Poll::Ready(Err(err))
            }
        }
    }
}

impl<H: Holder> Drop for Acquire<H> {
    fn drop(&mut self) {
        if let (Some(key), Some(holder)) = (self.key, &self.holder) {
            holder.permits().cancel(key);
        }
    }
}
