//! Bounded maps: one function over a stream of inputs, at most N calls at
//! once, each on its own tokio task.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_util::stream::{FuturesOrdered, FuturesUnordered, Stream, StreamExt};
use pin_project_lite::pin_project;
use tokio::task::JoinHandle;

use crate::task::{CancelReason, TaskError, TaskId};

/// Calls `f` on every item of `input`, at most `limit` calls at once, each
/// on its own tokio task (so they run in parallel on a multi-thread
/// runtime), and yields the results in input order.
///
/// Inputs are pulled lazily: at most `limit` calls are in flight and, to
/// keep the order, at most `limit` results wait behind a slow one, so a
/// stream of a million inputs runs in bounded memory. Each call's error or
/// panic is its item's result ([`TaskError`] with the input's position);
/// the rest go on. Dropping the stream aborts the calls in flight.
///
/// Choose the failure rule by how you consume it:
/// [`all`](Map::all) stops at the first failure (fail-fast),
/// [`all_settled`](Map::all_settled) collects every outcome (collect-all).
/// For an iterator, pass `futures::stream::iter(items)`.
///
/// # Panics
///
/// If `limit` is zero; when polled outside a tokio runtime.
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// use futures::stream;
///
/// let lengths = herd::pool::map(2, stream::iter(["a", "bbb", "cc"]), |word| async move {
///     Ok::<_, ()>(word.len())
/// });
/// assert_eq!(lengths.all().await, Ok(vec![1, 3, 2]));
/// # }
/// ```
pub fn map<S, F, Fut, T, E>(limit: usize, input: S, f: F) -> Map<S, F, T, E>
where
    S: Stream,
    F: FnMut(S::Item) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    Map::new(limit, input, f, Lanes::Ordered(FuturesOrdered::new()))
}

/// As [`map`], but yields each result as soon as its call finishes, so one
/// slow call never holds back the others' results.
///
/// # Panics
///
/// If `limit` is zero; when polled outside a tokio runtime.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use futures::{StreamExt, stream};
///
/// let naps = herd::pool::map_unordered(3, stream::iter([30, 10, 20]), |ms: u64| async move {
///     tokio::time::sleep(Duration::from_millis(ms)).await;
///     Ok::<_, ()>(ms)
/// });
/// let order: Vec<u64> = naps.map(Result::unwrap).collect().await;
/// assert_eq!(order, [10, 20, 30]);
/// # }
/// ```
pub fn map_unordered<S, F, Fut, T, E>(limit: usize, input: S, f: F) -> Map<S, F, T, E>
where
    S: Stream,
    F: FnMut(S::Item) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    Map::new(limit, input, f, Lanes::Unordered(FuturesUnordered::new()))
}

/// Calls `f` on every item of `input`, at most `limit` at once, and stops
/// at the first failure: no new call starts, the ones in flight are aborted,
/// and the failure is returned.
///
/// # Panics
///
/// If `limit` is zero, or outside a tokio runtime.
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use futures::stream;
///
/// let total = Arc::new(AtomicU64::new(0));
/// let added = herd::pool::for_each(4, stream::iter(1..=100u64), |n| {
///     let total = total.clone();
///     async move {
///         total.fetch_add(n, Ordering::Relaxed);
///         Ok::<_, String>(())
///     }
/// })
/// .await;
/// assert_eq!(added, Ok(()));
/// assert_eq!(total.load(Ordering::Relaxed), 5050);
/// # }
/// ```
pub async fn for_each<S, F, Fut, E>(limit: usize, input: S, f: F) -> Result<(), TaskError<E>>
where
    S: Stream,
    F: FnMut(S::Item) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Send + 'static,
{
    let mut calls = std::pin::pin!(map_unordered(limit, input, f));
    while let Some(outcome) = calls.next().await {
        outcome?;
    }
    Ok(())
}

/// Groups a stream's items into batches of `size` (the last may be
/// shorter), for jobs that work best on many items at once: bulk inserts,
/// batched requests. Feed the batches to [`map`] or a pool.
///
/// # Panics
///
/// If `size` is zero.
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// use futures::stream;
///
/// let rows = stream::iter(1..=7u32);
/// let sums = herd::pool::map(2, herd::pool::chunks(rows, 3), |batch: Vec<u32>| async move {
///     Ok::<_, ()>(batch.iter().sum::<u32>())
/// });
/// assert_eq!(sums.all().await, Ok(vec![6, 15, 7]));
/// # }
/// ```
pub fn chunks<S: Stream>(input: S, size: usize) -> impl Stream<Item = Vec<S::Item>> {
    assert!(
        size > 0,
        "chunks: a batch must hold at least one item, got 0"
    );
    input.chunks(size)
}

pin_project! {
    /// The stream of [`map`] (results in input order) and [`map_unordered`]
    /// (results as they finish). Each item is one call's outcome; dropping
    /// the stream aborts the calls in flight.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// use futures::stream;
    ///
    /// let halves = herd::pool::map(4, stream::iter([2, 3, 4]), |n: u32| async move {
    ///     if n % 2 == 0 { Ok(n / 2) } else { Err(format!("{n} is odd")) }
    /// });
    /// let outcomes = halves.all_settled().await;
    /// assert_eq!(outcomes[0], Ok(1));
    /// assert_eq!(outcomes[1].clone().unwrap_err().into_failure(), Some("3 is odd".to_string()));
    /// assert_eq!(outcomes[2], Ok(2));
    /// # }
    /// ```
    #[must_use = "a map does nothing unless polled"]
    pub struct Map<S, F, T, E> {
        #[pin]
        input: futures_util::stream::Fuse<S>,
        f: F,
        limit: usize,
        started: usize,
        running: Lanes<T, E>,
    }
}

/// The calls in flight, kept in input order or taken as they finish.
enum Lanes<T, E> {
    Ordered(FuturesOrdered<Call<T, E>>),
    Unordered(FuturesUnordered<Call<T, E>>),
}

impl<T, E> Lanes<T, E> {
    fn len(&self) -> usize {
        match self {
            Lanes::Ordered(calls) => calls.len(),
            Lanes::Unordered(calls) => calls.len(),
        }
    }

    fn push(&mut self, call: Call<T, E>) {
        match self {
            Lanes::Ordered(calls) => calls.push_back(call),
            Lanes::Unordered(calls) => calls.push(call),
        }
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, TaskError<E>>>> {
        match self {
            Lanes::Ordered(calls) => calls.poll_next_unpin(cx),
            Lanes::Unordered(calls) => calls.poll_next_unpin(cx),
        }
    }
}

impl<S, F, Fut, T, E> Map<S, F, T, E>
where
    S: Stream,
    F: FnMut(S::Item) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    fn new(limit: usize, input: S, f: F, running: Lanes<T, E>) -> Self {
        assert!(limit > 0, "pool::map: the limit must be at least 1, got 0");
        Map {
            input: input.fuse(),
            f,
            limit,
            started: 0,
            running,
        }
    }

    /// Every value, in the stream's order; or the first failure, after
    /// which no new call starts and the ones in flight are aborted
    /// (fail-fast).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// use futures::stream;
    ///
    /// let checked = herd::pool::map(2, stream::iter([1, 2, -3, 4]), |n: i32| async move {
    ///     if n > 0 { Ok(n) } else { Err(n) }
    /// });
    /// let err = checked.all().await.unwrap_err();
    /// assert_eq!((err.task().index(), err.into_failure()), (2, Some(-3)));
    /// # }
    /// ```
    pub async fn all(self) -> Result<Vec<T>, TaskError<E>> {
        let mut calls = std::pin::pin!(self);
        let mut values = Vec::new();
        while let Some(outcome) = calls.next().await {
            values.push(outcome?);
        }
        Ok(values)
    }

    /// Every outcome, good and bad, in the stream's order (collect-all);
    /// nothing is cut short.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// use futures::stream;
    ///
    /// let checked = herd::pool::map_unordered(2, stream::iter([1, -2, 3]), |n: i32| async move {
    ///     if n > 0 { Ok(n) } else { Err(n) }
    /// });
    /// let outcomes = checked.all_settled().await;
    /// assert_eq!(outcomes.len(), 3);
    /// assert_eq!(outcomes.iter().filter(|o| o.is_err()).count(), 1);
    /// # }
    /// ```
    pub async fn all_settled(self) -> Vec<Result<T, TaskError<E>>> {
        self.collect().await
    }
}

impl<S, F, Fut, T, E> Stream for Map<S, F, T, E>
where
    S: Stream,
    F: FnMut(S::Item) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    type Item = Result<T, TaskError<E>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        // Start calls while there is room and input is ready.
        while this.running.len() < *this.limit {
            match this.input.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    let call = Call::spawn(*this.started, (this.f)(item));
                    *this.started += 1;
                    this.running.push(call);
                }
                Poll::Ready(None) | Poll::Pending => break,
            }
        }
        match ready!(this.running.poll_next(cx)) {
            // A slot freed: the consumer's next poll starts another call.
            Some(outcome) => Poll::Ready(Some(outcome)),
            None if this.input.is_done() => Poll::Ready(None),
            // Nothing in flight and the input is not ready: its waker is set.
            None => Poll::Pending,
        }
    }
}

impl<S, F, T, E> fmt::Debug for Map<S, F, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("ordered", &matches!(self.running, Lanes::Ordered(_)))
            .field("limit", &self.limit)
            .field("in_flight", &self.running.len())
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

/// One call on its own task; aborted if dropped before it finishes.
struct Call<T, E> {
    index: usize,
    task: JoinHandle<Result<T, E>>,
}

impl<T: Send + 'static, E: Send + 'static> Call<T, E> {
    fn spawn<Fut>(index: usize, fut: Fut) -> Call<T, E>
    where
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        Call {
            index,
            task: tokio::spawn(fut),
        }
    }
}

impl<T, E> Future for Call<T, E> {
    type Output = Result<T, TaskError<E>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let joined = ready!(Pin::new(&mut self.task).poll(cx));
        let task = TaskId::new(self.index, None);
        Poll::Ready(match joined {
            Ok(outcome) => TaskError::settle(task, Ok(outcome)),
            Err(error) if error.is_panic() => TaskError::settle(task, Err(error.into_panic())),
            // Only the runtime shutting down cancels a call's task.
            Err(_) => Err(TaskError::Cancelled {
                task,
                reason: CancelReason::RuntimeShutdown,
            }),
        })
    }
}

impl<T, E> Drop for Call<T, E> {
    fn drop(&mut self) {
        self.task.abort();
    }
}
