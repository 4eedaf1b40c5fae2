//! The books a scope keeps on its children: one outcome per child in spawn
//! order, how many still run, and the waker of the owner waiting for them.
//!
//! A spawn takes its slot with one atomic step, without the lock, so the
//! spawning thread never contends with children finishing on other workers;
//! a finishing child takes the lock once, to file its outcome.
//!
//! Kept apart from `scope.rs`, free of tokio, so loom can check it.

use std::task::{Context, Poll, Waker};

use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::loom::{Mutex, lock};

/// Set in [`Ledger::state`] once no child may be added: the scope was
/// joined or dropped.
const CLOSED: usize = 1;
/// One running child in [`Ledger::state`]; the count sits above the flag.
const ONE: usize = 2;

/// `O` is a child's outcome.
pub(crate) struct Ledger<O> {
    /// `CLOSED`, plus `ONE` per child reserved and not yet finished. Only
    /// [`reserve`](Ledger::reserve) changes it outside the lock, and only
    /// upwards, so under the lock a count of zero can only grow.
    state: AtomicUsize,
    /// The index the next reserved child gets.
    next: AtomicUsize,
    book: Mutex<Book<O>>,
}

struct Book<O> {
    /// Indexed by child; `None` until that child finishes.
    outcomes: Vec<Option<O>>,
    /// The child whose failure is the scope's error.
    root_failure: Option<usize>,
    joiner: Option<Waker>,
}

impl<O> Ledger<O> {
    pub(crate) fn new() -> Self {
        Ledger {
            state: AtomicUsize::new(0),
            next: AtomicUsize::new(0),
            book: Mutex::new(Book {
                outcomes: Vec::new(),
                root_failure: None,
                joiner: None,
            }),
        }
    }

    /// Takes a slot for a new child, or `None` if the ledger is closed.
    /// Every slot taken must be [`finish`](Ledger::finish)ed exactly once.
    pub(crate) fn reserve(&self) -> Option<usize> {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & CLOSED != 0 {
                return None;
            }
            match self.state.compare_exchange_weak(
                state,
                state + ONE,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        // The count taken above keeps the ledger open until this child
        // finishes, so its index is always filed before the outcomes are read.
        Some(self.next.fetch_add(1, Ordering::Relaxed))
    }

    /// Records a child's outcome. `root` marks the failure that is the
    /// scope's error, if no earlier one was.
    pub(crate) fn finish(&self, index: usize, outcome: O, root: bool) {
        let joiner = {
            let mut book = lock(&self.book);
            if book.outcomes.len() <= index {
                book.outcomes.resize_with(index + 1, || None);
            }
            debug_assert!(book.outcomes[index].is_none(), "a child finished twice");
            book.outcomes[index] = Some(outcome);
            if root && book.root_failure.is_none() {
                book.root_failure = Some(index);
            }
            // Under the lock, so the owner, which checks the count under the
            // lock too, either sees this child gone or has left its waker.
            let before = self.state.fetch_sub(ONE, Ordering::Relaxed);
            if before / ONE == 1 {
                book.joiner.take()
            } else {
                None
            }
        };
        if let Some(joiner) = joiner {
            joiner.wake();
        }
    }

    /// Ready once no child runs; then closes the ledger, so no child can be
    /// added after the owner saw it drained.
    pub(crate) fn poll_drained(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut book = lock(&self.book);
        let mut state = self.state.load(Ordering::Relaxed);
        while state / ONE == 0 {
            // A spawn may take a slot at the same moment; then the count is
            // not zero any more and we wait for that child too.
            match self.state.compare_exchange_weak(
                state,
                state | CLOSED,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Poll::Ready(()),
                Err(actual) => state = actual,
            }
        }
        match &mut book.joiner {
            Some(joiner) => joiner.clone_from(cx.waker()),
            None => book.joiner = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// No child can be added from now on; those already in keep running.
    pub(crate) fn close(&self) {
        self.state.fetch_or(CLOSED, Ordering::Relaxed);
    }

    /// Every outcome in spawn order, and the index of the root failure.
    /// Call only once drained.
    pub(crate) fn take_outcomes(&self) -> (Vec<O>, Option<usize>) {
        let mut book = lock(&self.book);
        assert_eq!(
            self.state.load(Ordering::Relaxed) / ONE,
            0,
            "outcomes taken while children run"
        );
        let outcomes = std::mem::take(&mut book.outcomes)
            .into_iter()
            .map(|outcome| outcome.expect("every reserved child has finished"))
            .collect();
        (outcomes, book.root_failure)
    }
}

/// What the scope needs of a child's task handle.
pub(crate) trait ChildHandle {
    /// Stops the child at its next await, and before its first poll if it
    /// has not started.
    fn abort(&self);
    /// Whether the child's task has completed.
    fn is_finished(&self) -> bool;
}

/// The handles of a scope's children. Kept by the scope, not the children:
/// so aborting every child needs no bookkeeping on the children's side, and
/// a finished child's task is freed by the thread that spawns or joins,
/// which is the thread that allocated it (freeing on another thread costs
/// the allocator a lock: a scope child measured 1.36–1.52x a `JoinSet`
/// child that way, and 0.88–0.92x this way; BENCHMARKS.md).
pub(crate) struct Handles<H> {
    list: Mutex<HandleList<H>>,
}

struct HandleList<H> {
    handles: Vec<H>,
    /// Every child is being aborted: one that starts now is aborted at once.
    aborting: bool,
}

impl<H: ChildHandle> Handles<H> {
    pub(crate) fn new() -> Self {
        Handles {
            list: Mutex::new(HandleList {
                handles: Vec::new(),
                aborting: false,
            }),
        }
    }

    /// Keeps the handle of a child that just started, or aborts the child
    /// if every child is being aborted. Handles of finished children are
    /// dropped whenever the list would otherwise grow, so the list holds
    /// at most about twice the children running.
    pub(crate) fn push(&self, handle: H) {
        let mut list = lock(&self.list);
        if list.aborting {
            drop(list);
            handle.abort();
            return;
        }
        if list.handles.len() == list.handles.capacity() {
            list.handles.retain(|handle| !handle.is_finished());
        }
        list.handles.push(handle);
    }

    /// Aborts every child, and every child that starts from now on.
    pub(crate) fn abort_all(&self) {
        let handles = {
            let mut list = lock(&self.list);
            list.aborting = true;
            std::mem::take(&mut list.handles)
        };
        // Outside the lock: aborting schedules the child on its runtime.
        for handle in &handles {
            handle.abort();
        }
        lock(&self.list).handles.extend(handles);
    }

    /// Takes every handle, for the owner to drop once the children are done.
    pub(crate) fn take(&self) -> Vec<H> {
        std::mem::take(&mut lock(&self.list).handles)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    struct Fake<'a>(&'a AtomicBool);

    impl ChildHandle for Fake<'_> {
        fn abort(&self) {}

        fn is_finished(&self) -> bool {
            self.0.load(Ordering::Relaxed)
        }
    }

    #[test]
    fn handles_of_finished_children_do_not_accumulate() {
        let finished = AtomicBool::new(true);
        let handles = Handles::new();
        for _ in 0..100_000 {
            handles.push(Fake(&finished));
        }
        // A long-lived scope whose children finish keeps a short list.
        assert!(handles.take().len() <= 4);
    }

    #[test]
    fn handles_of_running_children_are_all_kept() {
        let running = AtomicBool::new(false);
        let handles = Handles::new();
        for _ in 0..1_000 {
            handles.push(Fake(&running));
        }
        assert_eq!(handles.take().len(), 1_000);
    }
}
