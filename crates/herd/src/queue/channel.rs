//! The bounded multi-producer multi-consumer queue.

use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use std::cmp::Ordering as Order;

use futures_util::Stream;
use tokio::task::coop;

use super::ring::{PopError, PushError};
use super::store::Store;
use super::wait_set::{Backoff, WaitSet};
use crate::diag::graph::{Tracked as Watched, Waiting};
use crate::diag::{self, Site};
use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::sync::Resource;
use crate::sync::line::{Wake, park};

/// What a full queue does with one more item. Chosen when the queue is
/// built; whatever happens, the sender learns it, and gets back any item
/// that was not queued.
///
/// # Examples
///
/// ```
/// use herd::queue::{Builder, Overflow, Sent};
///
/// let (tx, rx) = Builder::new(2).overflow(Overflow::DropOldest).build();
/// tx.try_send(1).unwrap();
/// tx.try_send(2).unwrap();
/// assert_eq!(tx.try_send(3), Ok(Sent::Evicted(1)), "the oldest came back");
/// assert_eq!(rx.try_recv(), Ok(2));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Overflow {
    /// The sender waits for room: backpressure. The default.
    #[default]
    Block,
    /// The oldest queued item is evicted and handed back to the sender as
    /// [`Sent::Evicted`]; the new one is queued.
    DropOldest,
    /// The new item is not queued and is handed back as [`Sent::Dropped`].
    DropNewest,
    /// The send fails with [`SendError::Full`] carrying the item.
    Reject,
}

/// How a send went, when it did not fail.
///
/// # Examples
///
/// ```
/// let (tx, _rx) = herd::queue::bounded(1);
/// assert_eq!(tx.try_send("a"), Ok(herd::queue::Sent::Queued));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sent<T> {
    /// The item is in the queue.
    Queued,
    /// The item is in the queue; to make room, this older one was taken
    /// out ([`Overflow::DropOldest`]).
    Evicted(T),
    /// The queue was full and the item was not queued
    /// ([`Overflow::DropNewest`]).
    Dropped(T),
}

/// Why an item was not sent; the item comes back in every case.
///
/// # Examples
///
/// ```
/// let (tx, rx) = herd::queue::bounded(1);
/// drop(rx);
/// assert_eq!(tx.try_send(5), Err(herd::queue::SendError::Closed(5)));
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError<T> {
    /// The queue is full: [`Overflow::Reject`], or a `try_send` that would
    /// have had to wait.
    Full(T),
    /// The queue is closed, or every receiver is gone.
    Closed(T),
    /// A `_timeout` form waited its whole budget for room.
    TimedOut(T),
}

impl<T> SendError<T> {
    /// The item that was not sent.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = herd::queue::SendError::Full("job");
    /// assert_eq!(err.into_inner(), "job");
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            SendError::Full(item) | SendError::Closed(item) | SendError::TimedOut(item) => item,
        }
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            SendError::Full(_) => "Full",
            SendError::Closed(_) => "Closed",
            SendError::TimedOut(_) => "TimedOut",
        };
        write!(f, "{what}(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::Full(_) => "the queue is full",
            SendError::Closed(_) => "the queue is closed",
            SendError::TimedOut(_) => "timed out waiting for room in the queue",
        })
    }
}

impl<T> std::error::Error for SendError<T> {}

/// Why nothing was received.
///
/// # Examples
///
/// ```
/// let (tx, rx) = herd::queue::bounded::<u8>(1);
/// assert_eq!(rx.try_recv(), Err(herd::queue::RecvError::Empty));
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(herd::queue::RecvError::Closed));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecvError {
    /// Closed (explicitly or because every sender is gone) and drained:
    /// nothing more will come.
    Closed,
    /// A `try_recv` found nothing, but more may come.
    Empty,
    /// A `_timeout` form waited its whole budget.
    TimedOut,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecvError::Closed => "the queue is closed and drained",
            RecvError::Empty => "the queue is empty",
            RecvError::TimedOut => "timed out waiting for an item",
        })
    }
}

impl std::error::Error for RecvError {}

/// [`Receiver::join`] could not finish: every receiver is gone while items
/// were still unfinished.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (tx, rx) = herd::queue::bounded(4);
/// tx.try_send(1).unwrap();
/// let join = tx.join();
/// drop(rx);
/// assert_eq!(join.await, Err(herd::queue::Abandoned { unfinished: 1 }));
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Abandoned {
    /// Items sent and not marked done.
    pub unfinished: usize,
}

impl fmt::Display for Abandoned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "every receiver is gone with {} items unfinished",
            self.unfinished
        )
    }
}

impl std::error::Error for Abandoned {}

struct Shared<T> {
    items: Store<T>,
    overflow: Overflow,
    /// Whether sends and receives use tokio's task budget.
    cooperative: bool,
    resource: Resource,
    /// Receivers waiting for an item.
    takers: WaitSet,
    /// Senders waiting for room.
    givers: WaitSet,
    /// Callers of `join`.
    joiners: WaitSet,
    senders: AtomicUsize,
    receivers: AtomicUsize,
    /// Items marked done, evicted ones included. Unfinished items are
    /// those ever pushed (which the store counts, at no cost to a send)
    /// minus these; only `done` and evictions write it.
    done: AtomicUsize,
    /// What diagnostics know of this queue, made on its first wait while
    /// they are on.
    tracked: OnceLock<Arc<Watched>>,
}

impl<T> Shared<T> {
    /// A wait beginning at `at`, for diagnostics' dumps, if they are on.
    #[inline]
    fn watch(&self, at: Site) -> Option<Waiting> {
        if !diag::on() {
            return None;
        }
        self.watched(at)
    }

    #[cold]
    #[inline(never)]
    fn watched(&self, at: Site) -> Option<Waiting> {
        let tracked = self
            .tracked
            .get_or_init(|| Watched::new(self.resource.clone()));
        Some(diag::graph::watch(tracked, at))
    }

    /// Takes a unit of tokio's task budget for a send or receive about to
    /// be tried, if the queue is cooperative; pending when the budget is
    /// spent (tokio polls the task again after the worker's other tasks).
    /// Call `made_progress` on what it gives if the operation completes.
    #[inline]
    fn poll_budget(&self, cx: &mut Context<'_>) -> Poll<Option<coop::RestoreOnPending>> {
        if self.cooperative {
            coop::poll_proceed(cx).map(Some)
        } else {
            Poll::Ready(None)
        }
    }

    fn close(&self) -> bool {
        let first = self.items.close();
        if first {
            self.takers.notify_all();
            self.givers.notify_all();
            self.joiners.notify_all();
        }
        first
    }

    /// One attempt to send, without waiting. `Err(item)` means full under
    /// `Overflow::Block`.
    #[inline]
    fn try_send(&self, item: T) -> Result<Result<Sent<T>, SendError<T>>, T> {
        let sent = match self.overflow {
            Overflow::DropOldest => match self.items.force_push(item) {
                Ok(None) => Ok(Sent::Queued),
                Ok(Some(evicted)) => {
                    self.finished();
                    Ok(Sent::Evicted(evicted))
                }
                Err(item) => Err(SendError::Closed(item)),
            },
            policy => match self.items.push(item) {
                Ok(()) => Ok(Sent::Queued),
                Err(PushError::Closed(item)) => Err(SendError::Closed(item)),
                Err(PushError::Full(item)) => match policy {
                    Overflow::DropNewest => Ok(Sent::Dropped(item)),
                    Overflow::Reject => Err(SendError::Full(item)),
                    _ => return Err(item),
                },
            },
        };
        if let Ok(Sent::Queued | Sent::Evicted(_)) = &sent {
            self.takers.notify_one();
        }
        Ok(sent)
    }

    #[inline]
    fn try_recv(&self) -> Result<T, RecvError> {
        match self.items.pop() {
            Ok(item) => {
                self.givers.notify_one();
                Ok(item)
            }
            Err(PopError::Empty) => Err(RecvError::Empty),
            Err(PopError::Closed) => Err(RecvError::Closed),
        }
    }

    /// Joins the line of receivers waiting for an item. The caller looks
    /// again before it sleeps.
    fn wait_for_item(&self, wake: Wake, at: Site) -> usize {
        let key = self.takers.register(wake, self.watch(at));
        self.items.sync_for_taker();
        key
    }

    /// Joins the line of senders waiting for room. The caller tries again
    /// before it sleeps.
    fn wait_for_room(&self, wake: Wake, at: Site) -> usize {
        let key = self.givers.register(wake, self.watch(at));
        self.items.sync_for_giver();
        key
    }

    /// Items pushed and not marked done. The done count is read first: an
    /// item counted done was pushed before, so its push is counted too.
    /// Both counts run modulo the store's cycle.
    fn unfinished(&self) -> usize {
        let done = self.done.load(Ordering::SeqCst);
        let cycle = self.items.cycle();
        (self.items.pushed() + cycle - done) % cycle
    }

    /// One pushed item will not be worked on any more (done or evicted).
    fn finished(&self) {
        let cycle = self.items.cycle();
        let step = |by: usize| move |done: usize| Some((done + by) % cycle);
        let before = self
            .done
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, step(1))
            .expect("the step always gives a value");
        // Every item counted done was pushed before, so this read of the
        // pushed count includes them: more done than pushed is misuse,
        // and shows as a count past half the cycle.
        let unfinished = (self.items.pushed() + cycle - (before + 1) % cycle) % cycle;
        if unfinished > cycle / 2 {
            let _ = self
                .done
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, step(cycle - 1));
            panic!("done() called more times than items were sent");
        }
        if unfinished == 0 {
            self.joiners.notify_all();
        }
    }

    fn abandoned(&self) -> Option<Abandoned> {
        (self.receivers.load(Ordering::Acquire) == 0).then(|| Abandoned {
            unfinished: self.unfinished(),
        })
    }

    fn poll_join(
        &self,
        key: &mut Option<usize>,
        at: Site,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Abandoned>> {
        loop {
            if self.unfinished() == 0 {
                return Poll::Ready(Ok(()));
            }
            if let Some(abandoned) = self.abandoned() {
                return Poll::Ready(Err(abandoned));
            }
            match *key {
                None => {
                    let watch = self.watch(at);
                    *key = Some(self.joiners.register(Wake::Task(cx.waker().clone()), watch));
                }
                Some(waiting) => {
                    if self.joiners.still_waiting(waiting, cx.waker()) {
                        return Poll::Pending;
                    }
                    *key = None;
                }
            }
        }
    }
}

/// Makes a queue of `capacity` items whose senders wait when it is full.
///
/// # Panics
///
/// If `capacity` is zero.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (tx, rx) = herd::queue::bounded(16);
/// let producer = tokio::spawn(async move {
///     for n in 0..100 {
///         tx.send(n).await.unwrap();
///     }
/// });
/// let mut total = 0;
/// while let Ok(n) = rx.recv().await {
///     total += n;
/// }
/// producer.await.unwrap();
/// assert_eq!(total, 4950, "every item, then Closed once the sender is gone");
/// # }
/// ```
pub fn bounded<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    Builder::new(capacity).build()
}

/// Configures a queue: capacity, overflow policy, name.
///
/// # Examples
///
/// ```
/// use herd::queue::{Builder, Overflow};
///
/// let (tx, rx) = Builder::new(100).overflow(Overflow::Reject).name("events").build::<u32>();
/// assert_eq!(tx.capacity(), 100);
/// assert_eq!(rx.resource().name(), Some("events"));
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    capacity: usize,
    overflow: Overflow,
    name: Option<Arc<str>>,
    cooperative: bool,
}

/// A [`Builder`] for a priority queue: the same queue, but items come out
/// highest first, and first in first out among equals.
///
/// # Examples
///
/// ```
/// let (tx, rx) = herd::queue::Builder::new(8)
///     .priority_by(|a: &(u8, &str), b| a.0.cmp(&b.0))
///     .build();
/// tx.try_send((1, "low")).unwrap();
/// tx.try_send((9, "urgent")).unwrap();
/// tx.try_send((1, "low, later")).unwrap();
/// assert_eq!(rx.try_recv().unwrap().1, "urgent");
/// assert_eq!(rx.try_recv().unwrap().1, "low");
/// assert_eq!(rx.try_recv().unwrap().1, "low, later");
/// ```
#[derive(Debug)]
pub struct PriorityBuilder<T> {
    base: Builder,
    order: fn(&T, &T) -> Order,
}

impl Builder {
    /// A queue of `capacity` items, blocking when full, unnamed.
    ///
    /// # Panics
    ///
    /// If `capacity` is zero: a queue must hold at least one item.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = herd::queue::Builder::new(8).build::<()>();
    /// assert_eq!(tx.capacity(), 8);
    /// ```
    pub fn new(capacity: usize) -> Builder {
        assert!(
            capacity > 0,
            "a queue needs a capacity of at least 1, got 0"
        );
        Builder {
            capacity,
            overflow: Overflow::Block,
            name: None,
            cooperative: true,
        }
    }

    /// What a full queue does with one more item.
    ///
    /// # Examples
    ///
    /// ```
    /// use herd::queue::{Builder, Overflow, Sent};
    ///
    /// let (tx, _rx) = Builder::new(1).overflow(Overflow::DropNewest).build();
    /// tx.try_send(1).unwrap();
    /// assert_eq!(tx.try_send(2), Ok(Sent::Dropped(2)));
    /// ```
    pub fn overflow(mut self, overflow: Overflow) -> Builder {
        self.overflow = overflow;
        self
    }

    /// A name for errors and diagnostics.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = herd::queue::Builder::new(1).name("jobs").build::<u8>();
    /// assert_eq!(tx.resource().to_string(), "Queue \"jobs\"");
    /// ```
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Whether sends and receives use tokio's cooperative task budget (on
    /// by default; see the [module doc](crate::queue)). Off, a loop over a
    /// queue that is always ready keeps its worker thread until it waits,
    /// and each send and receive saves a look at the budget: for loops that
    /// wait or yield on their own and need every nanosecond.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    ///
    /// for cooperative in [true, false] {
    ///     let (tx, rx) = herd::queue::Builder::new(1_000).cooperative(cooperative).build();
    ///     let other_ran = Arc::new(AtomicBool::new(false));
    ///     let flag = other_ran.clone();
    ///     tokio::spawn(async move { flag.store(true, Ordering::SeqCst) });
    ///     for n in 0..1_000 {
    ///         tx.send(n).await.unwrap(); // room for all: never waits
    ///     }
    ///     // The other task had a turn only if the loop yielded.
    ///     assert_eq!(other_ran.load(Ordering::SeqCst), cooperative);
    ///     drop(rx);
    ///     tokio::task::yield_now().await;
    /// }
    /// # }
    /// ```
    pub fn cooperative(mut self, cooperative: bool) -> Builder {
        self.cooperative = cooperative;
        self
    }

    /// Makes it a priority queue of `T: Ord`: the greatest item comes out
    /// first; equal items in the order they were sent.
    ///
    /// Under [`Overflow::DropOldest`] a full priority queue evicts the item
    /// that would come out last (the lowest, the newest among equals); if
    /// that is the new item itself, it comes back as [`Sent::Evicted`] too.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = herd::queue::Builder::new(4).priority::<u32>().build();
    /// for n in [3, 7, 5] {
    ///     tx.try_send(n).unwrap();
    /// }
    /// assert_eq!(rx.try_recv(), Ok(7));
    /// ```
    pub fn priority<T: Ord>(self) -> PriorityBuilder<T> {
        self.priority_by(T::cmp)
    }

    /// Makes it a priority queue ordered by `order`: an item for which
    /// `order(item, other)` is `Greater` comes out first; equal items in
    /// the order they were sent.
    ///
    /// # Examples
    ///
    /// ```
    /// // Shortest job first.
    /// let (tx, rx) = herd::queue::Builder::new(4)
    ///     .priority_by(|a: &String, b| b.len().cmp(&a.len()))
    ///     .build();
    /// tx.try_send("long job".to_string()).unwrap();
    /// tx.try_send("job".to_string()).unwrap();
    /// assert_eq!(rx.try_recv().unwrap(), "job");
    /// ```
    pub fn priority_by<T>(self, order: fn(&T, &T) -> Order) -> PriorityBuilder<T> {
        PriorityBuilder { base: self, order }
    }

    /// Makes the queue: one sender and one receiver, each cloneable.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = herd::queue::Builder::new(4).build();
    /// tx.try_send('x').unwrap();
    /// assert_eq!(rx.try_recv(), Ok('x'));
    /// ```
    pub fn build<T>(self) -> (Sender<T>, Receiver<T>) {
        let items = Store::fifo(self.capacity);
        self.assemble(items)
    }

    fn assemble<T>(self, items: Store<T>) -> (Sender<T>, Receiver<T>) {
        let shared = Arc::new(Shared {
            items,
            overflow: self.overflow,
            cooperative: self.cooperative,
            resource: Resource::new("Queue", self.name),
            takers: WaitSet::new(),
            givers: WaitSet::new(),
            joiners: WaitSet::new(),
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
            done: AtomicUsize::new(0),
            tracked: OnceLock::new(),
        });
        (
            Sender {
                shared: shared.clone(),
            },
            Receiver { shared, next: None },
        )
    }
}

impl<T> PriorityBuilder<T> {
    /// Makes the priority queue: one sender and one receiver, each
    /// cloneable, with the face and close rules of every herd queue.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = herd::queue::Builder::new(2).priority::<u8>().build();
    /// tx.try_send(1).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// assert_eq!(rx.try_recv(), Err(herd::queue::RecvError::Closed));
    /// ```
    pub fn build(self) -> (Sender<T>, Receiver<T>) {
        let items = Store::priority(self.base.capacity, self.order);
        self.base.assemble(items)
    }
}

/// The sending side of a queue. Clone it for more producers; when the last
/// one is dropped, the queue closes and receivers drain what is left.
///
/// # Examples
///
/// ```
/// let (tx, rx) = herd::queue::bounded(4);
/// let other = tx.clone();
/// other.try_send(1).unwrap();
/// drop((tx, other));
/// assert_eq!(rx.try_recv(), Ok(1));
/// assert_eq!(rx.try_recv(), Err(herd::queue::RecvError::Closed));
/// ```
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// What this queue does when it is full.
    pub(super) fn overflow_policy(&self) -> Overflow {
        self.shared.overflow
    }

    /// For the sink: a unit of the task budget for an item about to go in.
    pub(super) fn poll_budget(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.shared
            .poll_budget(cx)
            .map(|budget| budget.map_or((), |budget| budget.made_progress()))
    }

    /// For the sink: drives a send waiting for room, with no budget (the
    /// sink took the item's unit when it accepted it).
    pub(super) fn poll_pending(
        &self,
        pending: &mut PendingSend<T>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Sent<T>, SendError<T>>> {
        pending.poll(&self.shared, cx)
    }

    /// For the sink: gives up a send waiting for room; see
    /// [`PendingSend::give_up`].
    pub(super) fn give_up_pending(&self, pending: &mut PendingSend<T>) -> Option<T> {
        pending.give_up(&self.shared)
    }

    /// Sends `item`; under [`Overflow::Block`] waits for room. On tokio,
    /// a send that completes uses a unit of the task's budget and may
    /// yield first (see the [module doc](crate::queue)).
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] if the queue is closed or every receiver is
    /// gone (including while waiting); [`SendError::Full`] under
    /// [`Overflow::Reject`]. The item comes back either way.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes drops the item unsent and
    /// gives up its place in line; the wake-up it may have received passes
    /// to the next waiting sender. Use [`send_timeout`](Sender::send_timeout)
    /// to get the item back after a deadline.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (tx, rx) = herd::queue::bounded(1);
    /// assert_eq!(tx.send(1).await, Ok(herd::queue::Sent::Queued));
    /// assert_eq!(rx.recv().await, Ok(1));
    /// # }
    /// ```
    #[track_caller]
    pub fn send(&self, item: T) -> SendFuture<'_, T> {
        SendFuture {
            shared: &self.shared,
            pending: PendingSend::new(item, std::panic::Location::caller()),
        }
    }

    /// Sends `item` if it can without waiting.
    ///
    /// # Errors
    ///
    /// [`SendError::Full`] if the queue is full under [`Overflow::Block`]
    /// or [`Overflow::Reject`]; [`SendError::Closed`].
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = herd::queue::bounded(1);
    /// tx.try_send(1).unwrap();
    /// assert_eq!(tx.try_send(2), Err(herd::queue::SendError::Full(2)));
    /// ```
    pub fn try_send(&self, item: T) -> Result<Sent<T>, SendError<T>> {
        self.shared
            .try_send(item)
            .unwrap_or_else(|item| Err(SendError::Full(item)))
    }

    /// Sends `item`, waiting up to `timeout` (tokio's clock) for room.
    ///
    /// # Errors
    ///
    /// [`SendError::TimedOut`] with the item, or as [`send`](Sender::send).
    ///
    /// # Cancel safety
    ///
    /// As [`send`](Sender::send).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    ///
    /// let (tx, _rx) = herd::queue::bounded(1);
    /// tx.send(1).await.unwrap();
    /// let late = tx.send_timeout(2, Duration::from_secs(1)).await;
    /// assert_eq!(late, Err(herd::queue::SendError::TimedOut(2)), "the item comes back");
    /// # }
    /// ```
    pub async fn send_timeout(&self, item: T, timeout: Duration) -> Result<Sent<T>, SendError<T>> {
        let mut send = self.send(item);
        match tokio::time::timeout(timeout, &mut send).await {
            Ok(sent) => sent,
            Err(_) => Err(SendError::TimedOut(
                send.pending
                    .give_up(send.shared)
                    .expect("an unfinished send holds its item"),
            )),
        }
    }

    /// Sends `item` from a thread, waiting for room under
    /// [`Overflow::Block`]. For threads, not async code.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = herd::queue::bounded(1);
    /// let producer = std::thread::spawn(move || {
    ///     for n in 0..10 {
    ///         tx.send_blocking(n).unwrap();
    ///     }
    /// });
    /// let got: Vec<_> = std::iter::from_fn(|| rx.recv_blocking().ok()).collect();
    /// producer.join().unwrap();
    /// assert_eq!(got, (0..10).collect::<Vec<_>>());
    /// ```
    #[track_caller]
    pub fn send_blocking(&self, item: T) -> Result<Sent<T>, SendError<T>> {
        self.send_blocking_until(item, None, std::panic::Location::caller())
    }

    /// As [`send_blocking`](Sender::send_blocking), waiting at most
    /// `timeout`.
    ///
    /// # Errors
    ///
    /// [`SendError::TimedOut`] with the item, or as [`send`](Sender::send).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let (tx, _rx) = herd::queue::bounded(1);
    /// tx.send_blocking(1).unwrap();
    /// let late = tx.send_blocking_timeout(2, Duration::from_millis(10));
    /// assert_eq!(late, Err(herd::queue::SendError::TimedOut(2)));
    /// ```
    #[track_caller]
    pub fn send_blocking_timeout(
        &self,
        item: T,
        timeout: Duration,
    ) -> Result<Sent<T>, SendError<T>> {
        self.send_blocking_until(
            item,
            Some(Instant::now() + timeout),
            std::panic::Location::caller(),
        )
    }

    fn send_blocking_until(
        &self,
        mut item: T,
        deadline: Option<Instant>,
        at: Site,
    ) -> Result<Sent<T>, SendError<T>> {
        let shared = &*self.shared;
        let mut key = None;
        let mut backoff = Backoff::new();
        loop {
            match shared.try_send(item) {
                Ok(sent) => {
                    if let Some(key) = key {
                        shared.givers.leave_after_success(key);
                    }
                    return sent;
                }
                Err(back) => item = back,
            }
            if key.is_none() && backoff.snooze() {
                continue;
            }
            match key {
                None => key = Some(shared.wait_for_room(Wake::this_thread(), at)),
                Some(waiting) => {
                    if !shared.givers.is_waiting(waiting) {
                        // Woken: our entry is done; try again, and join the
                        // line again if the room went to someone else.
                        shared.givers.leave(waiting);
                        key = None;
                        continue;
                    }
                    if !park(deadline) {
                        if shared.givers.leave(waiting) {
                            shared.givers.notify_one();
                        }
                        return Err(SendError::TimedOut(item));
                    }
                }
            }
        }
    }

    /// Closes the queue: waiting senders fail at once with their items,
    /// receivers drain what is queued and then see [`RecvError::Closed`].
    /// Returns `false` if it was already closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = herd::queue::bounded(2);
    /// tx.try_send(1).unwrap();
    /// assert!(tx.close());
    /// assert_eq!(tx.try_send(2), Err(herd::queue::SendError::Closed(2)));
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// assert_eq!(rx.try_recv(), Err(herd::queue::RecvError::Closed));
    /// ```
    pub fn close(&self) -> bool {
        self.shared.close()
    }

    /// Waits until every item sent has been marked done (see
    /// [`Receiver::recv_tracked`] and [`Receiver::done`]), as
    /// `asyncio.Queue.join`.
    ///
    /// # Errors
    ///
    /// [`Abandoned`] if every receiver is gone with work unfinished.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future changes nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (tx, rx) = herd::queue::bounded(4);
    /// tx.send("job").await.unwrap();
    /// let worker = tokio::spawn(async move {
    ///     let job = rx.recv_tracked().await.unwrap();
    ///     assert_eq!(*job, "job");
    /// }); // the guard marks the job done when dropped
    /// tx.join().await.unwrap();
    /// worker.await.unwrap();
    /// # }
    /// ```
    #[track_caller]
    pub fn join(&self) -> Join<'_, T> {
        Join {
            shared: &self.shared,
            key: None,
            at: std::panic::Location::caller(),
        }
    }

    /// Items queued now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = herd::queue::bounded(4);
    /// tx.try_send(1).unwrap();
    /// assert_eq!(tx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.shared.items.len()
    }

    /// Whether nothing is queued now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = herd::queue::bounded::<u8>(4);
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.shared.items.len() == 0
    }

    /// The most items the queue holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = herd::queue::bounded::<u8>(4);
    /// assert_eq!(tx.capacity(), 4);
    /// ```
    pub fn capacity(&self) -> usize {
        self.shared.items.capacity()
    }

    /// Whether the queue is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = herd::queue::bounded::<u8>(4);
    /// drop(rx);
    /// assert!(tx.is_closed(), "the last receiver closes it");
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.items.is_closed()
    }

    /// What errors and diagnostics call this queue.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = herd::queue::bounded::<u8>(1);
    /// assert_eq!(tx.resource().kind(), "Queue");
    /// ```
    pub fn resource(&self) -> &Resource {
        &self.shared.resource
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.close();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("resource", &self.shared.resource)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

/// The future of [`Sender::send`].
///
/// # Cancel safety
///
/// Dropping it drops the item unsent and gives up its place in line; a
/// wake-up it received passes to the next waiting sender.
/// # Examples
///
/// ```
/// use std::future::Future;
///
/// let (tx, rx) = herd::queue::bounded(1);
/// tx.try_send(1).unwrap();
/// let mut send = tx.send(2);
/// let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// assert!(std::pin::Pin::new(&mut send).poll(&mut cx).is_pending(), "full");
/// assert_eq!(rx.try_recv(), Ok(1));
/// assert!(std::pin::Pin::new(&mut send).poll(&mut cx).is_ready());
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct SendFuture<'a, T> {
    shared: &'a Shared<T>,
    pending: PendingSend<T>,
}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<Sent<T>, SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let budget = ready!(this.shared.poll_budget(cx));
        let sent = ready!(this.pending.poll(this.shared, cx));
        if let Some(budget) = budget {
            budget.made_progress();
        }
        Poll::Ready(sent)
    }
}

impl<T> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        self.pending.give_up(self.shared);
    }
}

/// A send that may have to wait for room: its item, and its place in the
/// line of senders once it has one. The one loop behind [`SendFuture`] and
/// the sink; it takes no unit of the task budget (its callers do).
pub(super) struct PendingSend<T> {
    item: Option<T>,
    key: Option<usize>,
    /// Where the send was called, for diagnostics.
    at: Site,
}

// The item is moved in and out, never pinned.
impl<T> Unpin for PendingSend<T> {}

impl<T> PendingSend<T> {
    pub(super) fn new(item: T, at: Site) -> Self {
        PendingSend {
            item: Some(item),
            key: None,
            at,
        }
    }

    /// Tries the send, and waits in line while the queue is full and its
    /// policy is to block.
    fn poll(
        &mut self,
        shared: &Shared<T>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Sent<T>, SendError<T>>> {
        loop {
            let item = self.item.take().expect("a send polled after completion");
            match shared.try_send(item) {
                Ok(sent) => {
                    if let Some(key) = self.key.take() {
                        shared.givers.leave_after_success(key);
                    }
                    return Poll::Ready(sent);
                }
                Err(item) => self.item = Some(item),
            }
            match self.key {
                None => {
                    self.key = Some(shared.wait_for_room(Wake::Task(cx.waker().clone()), self.at));
                }
                Some(key) => {
                    if shared.givers.still_waiting(key, cx.waker()) {
                        return Poll::Pending;
                    }
                    self.key = None;
                }
            }
        }
    }

    /// Takes the item back out of an unfinished send, leaving the line; a
    /// wake-up it received passes to the next waiting sender.
    fn give_up(&mut self, shared: &Shared<T>) -> Option<T> {
        if let Some(key) = self.key.take()
            && shared.givers.leave(key)
        {
            shared.givers.notify_one();
        }
        self.item.take()
    }
}

impl<T> Drop for PendingSend<T> {
    fn drop(&mut self) {
        // It cannot leave the line without the queue: whoever holds it
        // gives it up first.
        debug_assert!(self.key.is_none(), "a pending send dropped while in line");
    }
}

impl<T> fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendFuture").finish_non_exhaustive()
    }
}

/// The receiving side of a queue. Clone it for more consumers; each item
/// goes to exactly one. When the last one is dropped, the queue closes and
/// sends fail with their items.
///
/// It is also a [`Stream`] of items, ending when the queue is closed and
/// drained.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use futures::StreamExt;
///
/// let (tx, rx) = herd::queue::bounded(4);
/// for n in 1..=3 {
///     tx.send(n).await.unwrap();
/// }
/// drop(tx);
/// assert_eq!(rx.collect::<Vec<_>>().await, [1, 2, 3]);
/// # }
/// ```
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// The place in line of this receiver's [`Stream`] polling.
    next: Option<usize>,
}

impl<T> Receiver<T> {
    /// Waits for an item. On tokio, a receive that completes uses a unit
    /// of the task's budget and may yield first (see the
    /// [module doc](crate::queue)).
    ///
    /// # Errors
    ///
    /// [`RecvError::Closed`] once the queue is closed and drained.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: an item is taken only when the future completes;
    /// dropped earlier, it takes nothing, and a wake-up it received passes
    /// to the next waiting receiver.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (tx, rx) = herd::queue::bounded(1);
    /// tx.send(7).await.unwrap();
    /// assert_eq!(rx.recv().await, Ok(7));
    /// # }
    /// ```
    #[track_caller]
    pub fn recv(&self) -> RecvFuture<'_, T> {
        RecvFuture {
            shared: &self.shared,
            key: None,
            at: std::panic::Location::caller(),
        }
    }

    /// Takes an item if one is queued.
    ///
    /// # Errors
    ///
    /// [`RecvError::Empty`] if none is, [`RecvError::Closed`] if none ever
    /// will be.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = herd::queue::bounded(1);
    /// tx.try_send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn try_recv(&self) -> Result<T, RecvError> {
        self.shared.try_recv()
    }

    /// Waits up to `timeout` (tokio's clock) for an item.
    ///
    /// # Errors
    ///
    /// [`RecvError::TimedOut`], or as [`recv`](Receiver::recv).
    ///
    /// # Cancel safety
    ///
    /// As [`recv`](Receiver::recv).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    ///
    /// let (_tx, rx) = herd::queue::bounded::<u8>(1);
    /// let nothing = rx.recv_timeout(Duration::from_secs(1)).await;
    /// assert_eq!(nothing, Err(herd::queue::RecvError::TimedOut));
    /// # }
    /// ```
    pub async fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvError> {
        tokio::time::timeout(timeout, self.recv())
            .await
            .unwrap_or(Err(RecvError::TimedOut))
    }

    /// Waits on this thread for an item. For threads, not async code.
    ///
    /// # Errors
    ///
    /// As [`recv`](Receiver::recv).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = herd::queue::bounded(1);
    /// std::thread::spawn(move || tx.send_blocking(3).unwrap());
    /// assert_eq!(rx.recv_blocking(), Ok(3));
    /// ```
    #[track_caller]
    pub fn recv_blocking(&self) -> Result<T, RecvError> {
        self.recv_blocking_until(None, std::panic::Location::caller())
    }

    /// As [`recv_blocking`](Receiver::recv_blocking), waiting at most
    /// `timeout`.
    ///
    /// # Errors
    ///
    /// [`RecvError::TimedOut`], or as [`recv`](Receiver::recv).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let (_tx, rx) = herd::queue::bounded::<u8>(1);
    /// let nothing = rx.recv_blocking_timeout(Duration::from_millis(10));
    /// assert_eq!(nothing, Err(herd::queue::RecvError::TimedOut));
    /// ```
    #[track_caller]
    pub fn recv_blocking_timeout(&self, timeout: Duration) -> Result<T, RecvError> {
        self.recv_blocking_until(
            Some(Instant::now() + timeout),
            std::panic::Location::caller(),
        )
    }

    fn recv_blocking_until(&self, deadline: Option<Instant>, at: Site) -> Result<T, RecvError> {
        let shared = &*self.shared;
        let mut key = None;
        let mut backoff = Backoff::new();
        loop {
            match shared.try_recv() {
                Err(RecvError::Empty) => {}
                done => {
                    if let Some(key) = key {
                        shared.takers.leave_after_success(key);
                    }
                    return done;
                }
            }
            if key.is_none() && backoff.snooze() {
                continue;
            }
            match key {
                None => key = Some(shared.wait_for_item(Wake::this_thread(), at)),
                Some(waiting) => {
                    if !shared.takers.is_waiting(waiting) {
                        shared.takers.leave(waiting);
                        key = None;
                        continue;
                    }
                    if !park(deadline) {
                        if shared.takers.leave(waiting) {
                            shared.takers.notify_one();
                        }
                        return Err(RecvError::TimedOut);
                    }
                }
            }
        }
    }

    /// Waits for an item wrapped in a guard that marks it done when
    /// dropped, for [`Sender::join`]: a worker that panics or returns early
    /// still marks its item done, so `join` cannot hang on it.
    ///
    /// # Errors
    ///
    /// As [`recv`](Receiver::recv).
    ///
    /// # Cancel safety
    ///
    /// As [`recv`](Receiver::recv).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (tx, rx) = herd::queue::bounded(1);
    /// tx.send(2).await.unwrap();
    /// let mut job = rx.recv_tracked().await.unwrap();
    /// *job *= 10;
    /// assert_eq!(*job, 20);
    /// drop(job);
    /// tx.join().await.unwrap();
    /// # }
    /// ```
    pub async fn recv_tracked(&self) -> Result<Tracked<T>, RecvError> {
        let item = self.recv().await?;
        Ok(Tracked {
            item,
            shared: self.shared.clone(),
        })
    }

    /// Marks one received item done, for [`Sender::join`], as
    /// `asyncio.Queue.task_done`.
    ///
    /// # Panics
    ///
    /// If called more times than items were sent: that is a bug in the
    /// caller's accounting.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (tx, rx) = herd::queue::bounded(1);
    /// tx.send(1).await.unwrap();
    /// let _one = rx.recv().await.unwrap();
    /// rx.done();
    /// tx.join().await.unwrap();
    /// # }
    /// ```
    pub fn done(&self) {
        self.shared.finished();
    }

    /// As [`Sender::join`].
    ///
    /// # Errors
    ///
    /// Never [`Abandoned`] while this receiver lives.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (_tx, rx) = herd::queue::bounded::<u8>(1);
    /// rx.join().await.unwrap(); // nothing was sent
    /// # }
    /// ```
    #[track_caller]
    pub fn join(&self) -> Join<'_, T> {
        Join {
            shared: &self.shared,
            key: None,
            at: std::panic::Location::caller(),
        }
    }

    /// As [`Sender::close`].
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = herd::queue::bounded::<u8>(1);
    /// rx.close();
    /// assert!(tx.try_send(1).is_err());
    /// ```
    pub fn close(&self) -> bool {
        self.shared.close()
    }

    /// Items queued now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = herd::queue::bounded(2);
    /// tx.try_send(1).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.shared.items.len()
    }

    /// Whether nothing is queued now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = herd::queue::bounded::<u8>(2);
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.shared.items.len() == 0
    }

    /// Whether the queue is closed (items may still be queued).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = herd::queue::bounded::<u8>(2);
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.items.is_closed()
    }

    /// What errors and diagnostics call this queue.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = herd::queue::bounded::<u8>(1);
    /// assert_eq!(rx.resource().kind(), "Queue");
    /// ```
    pub fn resource(&self) -> &Resource {
        &self.shared.resource
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.shared.receivers.fetch_add(1, Ordering::Relaxed);
        Receiver {
            shared: self.shared.clone(),
            next: None,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if let Some(key) = self.next.take()
            && self.shared.takers.leave(key)
        {
            self.shared.takers.notify_one();
        }
        if self.shared.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.close();
            // Even if the queue was closed before: `join` callers must
            // learn that nobody is left to finish the work.
            self.shared.joiners.notify_all();
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("resource", &self.shared.resource)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

/// Polls for an item: the one loop behind `recv` and the `Stream`.
fn poll_recv<T>(
    shared: &Shared<T>,
    key: &mut Option<usize>,
    at: Site,
    cx: &mut Context<'_>,
) -> Poll<Result<T, RecvError>> {
    let budget = ready!(shared.poll_budget(cx));
    loop {
        match shared.try_recv() {
            Err(RecvError::Empty) => {}
            done => {
                if let Some(key) = key.take() {
                    shared.takers.leave_after_success(key);
                }
                if let Some(budget) = budget {
                    budget.made_progress();
                }
                return Poll::Ready(done);
            }
        }
        match *key {
            None => *key = Some(shared.wait_for_item(Wake::Task(cx.waker().clone()), at)),
            Some(waiting) => {
                if shared.takers.still_waiting(waiting, cx.waker()) {
                    return Poll::Pending;
                }
                *key = None;
            }
        }
    }
}

/// Where a `Receiver` polled as a `Stream` waits, as diagnostics show it.
static STREAM: Site = {
    #[track_caller]
    const fn here() -> Site {
        std::panic::Location::caller()
    }
    here()
};

impl<T> Stream for Receiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        poll_recv(&this.shared, &mut this.next, STREAM, cx).map(Result::ok)
    }
}

/// The future of [`Receiver::recv`].
///
/// # Cancel safety
///
/// Cancel-safe: it takes an item only when it completes; a wake-up it
/// received passes to the next waiting receiver.
/// # Examples
///
/// ```
/// use std::future::Future;
///
/// let (tx, rx) = herd::queue::bounded(1);
/// let mut recv = rx.recv();
/// let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// assert!(std::pin::Pin::new(&mut recv).poll(&mut cx).is_pending());
/// drop(recv); // took nothing
/// tx.try_send(5).unwrap();
/// assert_eq!(rx.try_recv(), Ok(5));
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct RecvFuture<'a, T> {
    shared: &'a Shared<T>,
    key: Option<usize>,
    /// Where it was called, for diagnostics.
    at: Site,
}

impl<T> Future for RecvFuture<'_, T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        poll_recv(this.shared, &mut this.key, this.at, cx)
    }
}

impl<T> Drop for RecvFuture<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take()
            && self.shared.takers.leave(key)
        {
            // Woken for an item it will not take: wake another receiver.
            self.shared.takers.notify_one();
        }
    }
}

impl<T> fmt::Debug for RecvFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvFuture").finish_non_exhaustive()
    }
}

/// The future of [`Sender::join`] and [`Receiver::join`].
///
/// # Cancel safety
///
/// Dropping it changes nothing.
/// # Examples
///
/// ```
/// use std::future::Future;
///
/// let (tx, rx) = herd::queue::bounded(1);
/// tx.try_send(1).unwrap();
/// let mut join = tx.join();
/// let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// assert!(std::pin::Pin::new(&mut join).poll(&mut cx).is_pending());
/// let _ = rx.try_recv();
/// rx.done();
/// assert!(std::pin::Pin::new(&mut join).poll(&mut cx).is_ready());
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Join<'a, T> {
    shared: &'a Shared<T>,
    key: Option<usize>,
    /// Where it was called, for diagnostics.
    at: Site,
}

impl<T> Future for Join<'_, T> {
    type Output = Result<(), Abandoned>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let polled = this.shared.poll_join(&mut this.key, this.at, cx);
        if polled.is_ready()
            && let Some(key) = this.key.take()
        {
            this.shared.joiners.leave(key);
        }
        polled
    }
}

impl<T> Drop for Join<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.shared.joiners.leave(key);
        }
    }
}

impl<T> fmt::Debug for Join<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Join").finish_non_exhaustive()
    }
}

/// An item from [`Receiver::recv_tracked`]; marks it done when dropped.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (tx, rx) = herd::queue::bounded(1);
/// tx.send(String::from("job")).await.unwrap();
/// let job = rx.recv_tracked().await.unwrap();
/// assert_eq!(job.len(), 3);
/// # }
/// ```
#[clippy::has_significant_drop]
pub struct Tracked<T> {
    item: T,
    shared: Arc<Shared<T>>,
}

impl<T> Deref for Tracked<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.item
    }
}

impl<T> DerefMut for Tracked<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.item
    }
}

impl<T> Drop for Tracked<T> {
    fn drop(&mut self) {
        self.shared.finished();
    }
}

impl<T: fmt::Debug> fmt::Debug for Tracked<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.item, f)
    }
}
