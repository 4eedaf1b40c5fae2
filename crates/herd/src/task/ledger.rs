//! The books a scope keeps on its children: one slot per child in spawn
//! order, how many still run, and the waker of the owner waiting for them.
//!
//! Kept apart from `scope.rs`, free of tokio, so loom can check it.

use std::task::{Context, Poll, Waker};

use crate::loom::{Mutex, lock};

/// `O` is a child's outcome; `H` the handle that aborts it.
pub(crate) struct Ledger<O, H> {
    book: Mutex<Book<O, H>>,
}

struct Book<O, H> {
    slots: Vec<Slot<O, H>>,
    running: usize,
    /// No child may be added: the scope was joined or dropped.
    closed: bool,
    /// Children are being aborted: one that starts now is aborted at once.
    aborting: bool,
    /// The child whose failure is the scope's error.
    root_failure: Option<usize>,
    joiner: Option<Waker>,
}

enum Slot<O, H> {
    Running(Option<H>),
    Done(O),
}

impl<O, H> Ledger<O, H> {
    pub(crate) fn new() -> Self {
        Ledger {
            book: Mutex::new(Book {
                slots: Vec::new(),
                running: 0,
                closed: false,
                aborting: false,
                root_failure: None,
                joiner: None,
            }),
        }
    }

    /// Takes a slot for a new child, or `None` if the ledger is closed.
    pub(crate) fn reserve(&self) -> Option<usize> {
        let mut book = lock(&self.book);
        if book.closed {
            return None;
        }
        book.slots.push(Slot::Running(None));
        book.running += 1;
        Some(book.slots.len() - 1)
    }

    /// Records the abort handle of a started child. Gives it back if the
    /// children are being aborted, for the caller to abort the child now.
    pub(crate) fn started(&self, index: usize, handle: H) -> Option<H> {
        let mut book = lock(&self.book);
        if book.aborting {
            return Some(handle);
        }
        // The child may have finished, and the owner taken the outcomes,
        // before its spawner got here: then there is nothing to record.
        if let Some(Slot::Running(slot)) = book.slots.get_mut(index) {
            *slot = Some(handle);
        }
        None
    }

    /// Records a child's outcome. `root` marks the failure that is the
    /// scope's error, if no earlier one was.
    pub(crate) fn finish(&self, index: usize, outcome: O, root: bool) {
        let joiner = {
            let mut book = lock(&self.book);
            debug_assert!(matches!(book.slots[index], Slot::Running(_)));
            book.slots[index] = Slot::Done(outcome);
            book.running -= 1;
            if root && book.root_failure.is_none() {
                book.root_failure = Some(index);
            }
            if book.running == 0 {
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
        if book.running == 0 {
            book.closed = true;
            return Poll::Ready(());
        }
        match &mut book.joiner {
            Some(joiner) => joiner.clone_from(cx.waker()),
            None => book.joiner = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Takes the abort handles of every running child; a child that starts
    /// from now on is handed back by [`started`](Ledger::started). With
    /// `close`, no child can be added either.
    pub(crate) fn abort_all(&self, close: bool) -> Vec<H> {
        let mut book = lock(&self.book);
        book.aborting = true;
        book.closed |= close;
        book.slots
            .iter_mut()
            .filter_map(|slot| match slot {
                Slot::Running(handle) => handle.take(),
                Slot::Done(_) => None,
            })
            .collect()
    }

    /// Every outcome in spawn order, and the index of the root failure.
    /// Call only once drained.
    pub(crate) fn take_outcomes(&self) -> (Vec<O>, Option<usize>) {
        let mut book = lock(&self.book);
        assert_eq!(book.running, 0, "outcomes taken while children run");
        let outcomes = std::mem::take(&mut book.slots)
            .into_iter()
            .map(|slot| match slot {
                Slot::Done(outcome) => outcome,
                Slot::Running(_) => unreachable!("a running slot in a drained ledger"),
            })
            .collect();
        (outcomes, book.root_failure)
    }
}
