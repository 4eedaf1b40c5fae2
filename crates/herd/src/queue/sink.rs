//! [`SendSink`]: a [`Sender`] as a `futures` `Sink`, so a queue can be the
//! end of `stream.forward(..)` or `sink.send_all(..)`.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_sink::Sink;

use super::channel::PendingSend;
use super::{Overflow, SendError, Sender, Sent};
use crate::diag::Site;

/// A [`Sender`] as a `futures` [`Sink`], made by [`Sender::into_sink`].
///
/// It keeps the queue's overflow policy: under [`Overflow::Block`] it waits
/// for room (`poll_ready` is pending while the last item waits), under
/// [`Overflow::Reject`] a full queue is an error carrying the item, and
/// under the two drop policies the item it displaces (the oldest, or the new
/// one) is counted in [`displaced`](SendSink::displaced) and handed to
/// [`on_displaced`](SendSink::on_displaced)'s function if one is set, since a
/// `Sink` has no other way to give it back. Closing the sink drops its
/// sender, which closes the queue if it was the last. An item sent to a
/// closed queue comes back in [`SendError::Closed`].
///
/// Each item accepted takes one unit of tokio's task budget, in
/// `poll_ready`, as a [`Sender::send`] does.
///
/// An item goes in at once when there is room; an item that must wait
/// waits inside the sink, in the senders' line, as a [`Sender::send`]
/// future would. Neither allocates. Dropping the sink while an item waits
/// drops that item unsent and gives up its place in line, as dropping a
/// `send` future does. `start_send` without a ready `poll_ready` while an
/// item waits (a breach of the `Sink` contract) returns the new item in
/// [`SendError::Full`] and keeps the waiting one first.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use futures::{SinkExt, StreamExt};
///
/// let (tx, rx) = herd::queue::bounded(4);
/// let consumer = tokio::spawn(rx.collect::<Vec<u32>>());
/// let mut sink = tx.into_sink();
/// sink.send_all(&mut futures::stream::iter(1..=100).map(Ok)).await.unwrap();
/// sink.close().await.unwrap(); // the last sender: the queue closes
/// assert_eq!(consumer.await.unwrap(), (1..=100).collect::<Vec<_>>());
/// # }
/// ```
pub struct SendSink<T> {
    sender: Option<Sender<T>>,
    block: bool,
    /// The item waiting for room, under [`Overflow::Block`].
    pending: Option<PendingSend<T>>,
    /// Where the sink was made, for diagnostics of its waits.
    at: Site,
    displaced: u64,
    on_displaced: Option<Box<dyn FnMut(T) + Send>>,
}

impl<T> Sender<T> {
    /// This sender as a `futures` `Sink`; see [`SendSink`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use futures::SinkExt;
    ///
    /// let (tx, rx) = herd::queue::bounded(2);
    /// let mut sink = tx.into_sink();
    /// sink.send(7).await.unwrap();
    /// assert_eq!(rx.recv().await, Ok(7));
    /// # }
    /// ```
    #[track_caller]
    pub fn into_sink(self) -> SendSink<T> {
        SendSink {
            block: self.overflow_policy() == Overflow::Block,
            sender: Some(self),
            pending: None,
            at: std::panic::Location::caller(),
            displaced: 0,
            on_displaced: None,
        }
    }
}

impl<T> SendSink<T> {
    /// How many items the queue's drop policy displaced through this sink
    /// (under [`Overflow::DropOldest`], older items taken out to make room;
    /// under [`Overflow::DropNewest`], items not queued).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use futures::SinkExt;
    /// use herd::queue::{Builder, Overflow};
    ///
    /// let (tx, rx) = Builder::new(2).overflow(Overflow::DropOldest).build::<u8>();
    /// let mut sink = tx.into_sink();
    /// for n in 1..=5 {
    ///     sink.send(n).await.unwrap();
    /// }
    /// assert_eq!(sink.displaced(), 3);
    /// assert_eq!((rx.recv().await, rx.recv().await), (Ok(4), Ok(5)));
    /// # }
    /// ```
    pub fn displaced(&self) -> u64 {
        self.displaced
    }

    /// Hands each displaced item to `f` (to log it, count it, send it
    /// elsewhere), instead of dropping it.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::sync::{Arc, Mutex};
    /// use futures::SinkExt;
    /// use herd::queue::{Builder, Overflow};
    ///
    /// let (tx, _rx) = Builder::new(1).overflow(Overflow::DropNewest).build::<&str>();
    /// let dropped = Arc::new(Mutex::new(Vec::new()));
    /// let kept = dropped.clone();
    /// let mut sink = tx.into_sink().on_displaced(move |item| kept.lock().unwrap().push(item));
    /// sink.send("first").await.unwrap();
    /// sink.send("second").await.unwrap(); // the queue is full: not queued
    /// assert_eq!(*dropped.lock().unwrap(), ["second"]);
    /// # }
    /// ```
    pub fn on_displaced(mut self, f: impl FnMut(T) + Send + 'static) -> Self {
        self.on_displaced = Some(Box::new(f));
        self
    }

    fn settle(&mut self, sent: Sent<T>) {
        match sent {
            Sent::Queued => {}
            Sent::Evicted(item) | Sent::Dropped(item) => {
                self.displaced += 1;
                if let Some(f) = self.on_displaced.as_mut() {
                    f(item);
                }
            }
        }
    }
}

impl<T> Sink<T> for SendSink<T> {
    type Error = SendError<T>;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), SendError<T>>> {
        let this = self.get_mut();
        // An item still waiting for room goes in first (taking no unit: it
        // took its own when it was accepted).
        ready!(Pin::new(&mut *this).poll_flush(cx))?;
        if let Some(sender) = this.sender.as_ref() {
            // The item about to be accepted takes its unit of the task's
            // budget here, as a send does, so forwarding a stream that is
            // always ready still lets the thread's other tasks run.
            ready!(sender.poll_budget(cx));
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, item: T) -> Result<(), SendError<T>> {
        let this = self.get_mut();
        let Some(sender) = this.sender.as_ref() else {
            return Err(SendError::Closed(item));
        };
        if this.pending.is_some() {
            // Called without a ready `poll_ready`: the item before it still
            // waits, and goes first. This one comes back.
            return Err(SendError::Full(item));
        }
        match sender.try_send(item) {
            Ok(sent) => {
                this.settle(sent);
                Ok(())
            }
            // Room may come: wait for it in line, as `send` does.
            Err(SendError::Full(item)) if this.block => {
                this.pending = Some(PendingSend::new(item, this.at));
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), SendError<T>>> {
        let this = self.get_mut();
        if let (Some(pending), Some(sender)) = (this.pending.as_mut(), this.sender.as_ref()) {
            // The item's budget unit was taken when the sink accepted it.
            let result = ready!(sender.poll_pending(pending, cx));
            this.pending = None;
            this.settle(result?);
        }
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), SendError<T>>> {
        let this = self.get_mut();
        ready!(Pin::new(&mut *this).poll_flush(cx))?;
        this.sender = None;
        Poll::Ready(Ok(()))
    }
}

impl<T> fmt::Debug for SendSink<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendSink")
            .field("open", &self.sender.is_some())
            .field("waiting", &self.pending.is_some())
            .field("displaced", &self.displaced)
            .finish()
    }
}

impl<T> Drop for SendSink<T> {
    fn drop(&mut self) {
        if let (Some(pending), Some(sender)) = (self.pending.as_mut(), self.sender.as_ref()) {
            sender.give_up_pending(pending);
        }
    }
}
