//! `all`, `all_settled`, `race`, `first_ok`: many futures awaited in the
//! current task, optionally at most N at a time.

use std::future::Future;
use std::ops::ControlFlow;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use futures_util::stream::{FuturesUnordered, StreamExt};

use super::{TaskError, TaskId};

/// Runs the combinators with at most `limit` futures in flight: the next
/// future is started only when one finishes, in input order.
///
/// # Panics
///
/// If `limit` is zero: nothing could ever run.
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// let pages = (1..=5).map(|n| async move { Ok::<_, ()>(n * 10) });
/// let sizes = herd::task::at_most(2).all(pages).await.unwrap();
/// assert_eq!(sizes, [10, 20, 30, 40, 50]);
/// # }
/// ```
pub fn at_most(limit: usize) -> Bounded {
    assert!(limit > 0, "at_most: the limit must be at least 1, got 0");
    Bounded { limit: Some(limit) }
}

/// The combinators with a concurrency limit, made by [`at_most`].
///
/// Futures are taken from the iterator lazily, so a limit also bounds how
/// many exist at once: an iterator of a million requests holds only `limit`.
/// Everything runs inside the task that awaits the combinator (no spawning),
/// so the futures may borrow and need not be `Send`; use a
/// [`Scope`](super::Scope) to run them in parallel on several threads.
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// let bounded = herd::task::at_most(4);
/// assert_eq!(bounded.limit(), Some(4));
/// let halve = |n: u32| async move { if n % 2 == 0 { Ok(n / 2) } else { Err(n) } };
/// let outcomes = bounded.all_settled([2, 3].map(halve)).await;
/// assert_eq!(outcomes[0], Ok(1));
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounded {
    limit: Option<usize>,
}

const UNBOUNDED: Bounded = Bounded { limit: None };

impl Bounded {
    /// The limit, or `None` for the free functions' unbounded form.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::task::at_most(3).limit(), Some(3));
    /// ```
    pub fn limit(&self) -> Option<usize> {
        self.limit
    }

    /// As [`all`](super::all), at most `limit` at a time.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let halve = |n: u32| async move { if n % 2 == 0 { Ok(n / 2) } else { Err(n) } };
    /// let result = herd::task::at_most(1).all([2, 3, 4].map(halve)).await;
    /// assert_eq!(result.unwrap_err().into_failure(), Some(3));
    /// # }
    /// ```
    pub async fn all<I, F, T, E>(self, futures: I) -> Result<Vec<T>, TaskError<E>>
    where
        I: IntoIterator<Item = F>,
        F: Future<Output = Result<T, E>>,
    {
        let mut values = Vec::new();
        let mut failure = None;
        drive(self.limit, futures, |index, outcome| match outcome {
            Ok(value) => {
                store(&mut values, index, value);
                ControlFlow::Continue(())
            }
            Err(error) => {
                failure = Some(error);
                ControlFlow::Break(())
            }
        })
        .await;
        match failure {
            Some(error) => Err(error),
            None => Ok(values
                .into_iter()
                .map(|value| value.expect("every future finished"))
                .collect()),
        }
    }

    /// As [`all_settled`](super::all_settled), at most `limit` at a time.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let halve = |n: u32| async move { if n % 2 == 0 { Ok(n / 2) } else { Err(n) } };
    /// let outcomes = herd::task::at_most(1).all_settled([3, 4].map(halve)).await;
    /// assert_eq!(outcomes.len(), 2);
    /// assert_eq!(outcomes[1], Ok(2));
    /// # }
    /// ```
    pub async fn all_settled<I, F, T, E>(self, futures: I) -> Vec<Result<T, TaskError<E>>>
    where
        I: IntoIterator<Item = F>,
        F: Future<Output = Result<T, E>>,
    {
        let mut outcomes = Vec::new();
        drive(self.limit, futures, |index, outcome| {
            store(&mut outcomes, index, outcome);
            ControlFlow::Continue(())
        })
        .await;
        outcomes
            .into_iter()
            .map(|outcome| outcome.expect("every future finished"))
            .collect()
    }

    /// As [`race`](super::race), at most `limit` at a time.
    ///
    /// # Panics
    ///
    /// If `futures` is empty: there is no first to finish.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// // With a limit of one, the first future runs alone and wins.
    /// let echo = |name: &'static str| async move { Ok::<_, ()>(name) };
    /// let winner = herd::task::at_most(1).race(["a", "b"].map(echo)).await;
    /// assert_eq!(winner, Ok("a"));
    /// # }
    /// ```
    pub async fn race<I, F, T, E>(self, futures: I) -> Result<T, TaskError<E>>
    where
        I: IntoIterator<Item = F>,
        F: Future<Output = Result<T, E>>,
    {
        let mut first = None;
        drive(self.limit, futures, |_, outcome| {
            first = Some(outcome);
            ControlFlow::Break(())
        })
        .await;
        first.expect("race: no futures to race")
    }

    /// As [`first_ok`](super::first_ok), at most `limit` at a time.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let probe = |(name, up): (&'static str, bool)| async move { if up { Ok(name) } else { Err("down") } };
    /// let mirrors = [("mirror 1", false), ("mirror 2", true)].map(probe);
    /// assert_eq!(herd::task::at_most(1).first_ok(mirrors).await, Ok("mirror 2"));
    /// # }
    /// ```
    pub async fn first_ok<I, F, T, E>(self, futures: I) -> Result<T, Vec<TaskError<E>>>
    where
        I: IntoIterator<Item = F>,
        F: Future<Output = Result<T, E>>,
    {
        let mut errors = Vec::new();
        let mut success = None;
        drive(self.limit, futures, |index, outcome| match outcome {
            Ok(value) => {
                success = Some(value);
                ControlFlow::Break(())
            }
            Err(error) => {
                store(&mut errors, index, error);
                ControlFlow::Continue(())
            }
        })
        .await;
        match success {
            Some(value) => Ok(value),
            None => Err(errors.into_iter().flatten().collect()),
        }
    }
}

/// Waits for every future and returns their values in input order; the first
/// failure or panic (in completion order) drops the others at once and is
/// returned.
///
/// Futures run concurrently inside the current task: they may borrow and
/// need not be `Send`. See [`at_most`] for a limit, and
/// [`Scope`](super::Scope) to run them on several threads.
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// let double = |n: u32| async move { Ok::<_, ()>(n * 2) };
/// assert_eq!(herd::task::all([1, 2].map(double)).await, Ok(vec![2, 4]));
/// # }
/// ```
pub async fn all<I, F, T, E>(futures: I) -> Result<Vec<T>, TaskError<E>>
where
    I: IntoIterator<Item = F>,
    F: Future<Output = Result<T, E>>,
{
    UNBOUNDED.all(futures).await
}

/// Waits for every future and returns every outcome in input order: values,
/// failures and panics alike. Nothing is cancelled.
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// let halve = |n: u32| async move { if n % 2 == 0 { Ok(n / 2) } else { Err(n) } };
/// let outcomes = herd::task::all_settled([2, 3].map(halve)).await;
/// assert_eq!(outcomes[0], Ok(1));
/// assert_eq!(outcomes[1].clone().unwrap_err().into_failure(), Some(3));
/// # }
/// ```
pub async fn all_settled<I, F, T, E>(futures: I) -> Vec<Result<T, TaskError<E>>>
where
    I: IntoIterator<Item = F>,
    F: Future<Output = Result<T, E>>,
{
    UNBOUNDED.all_settled(futures).await
}

/// Returns the outcome of the first future to finish, success or failure,
/// and drops the rest.
///
/// # Panics
///
/// If `futures` is empty: there is no first to finish.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use tokio::time::sleep;
///
/// async fn answer(after_secs: u64, name: &str) -> Result<&str, ()> {
///     sleep(Duration::from_secs(after_secs)).await;
///     Ok(name)
/// }
///
/// let winner = herd::task::race([answer(2, "slow"), answer(1, "fast")]).await;
/// assert_eq!(winner, Ok("fast"));
/// # }
/// ```
pub async fn race<I, F, T, E>(futures: I) -> Result<T, TaskError<E>>
where
    I: IntoIterator<Item = F>,
    F: Future<Output = Result<T, E>>,
{
    UNBOUNDED.race(futures).await
}

/// Returns the first success and drops the rest; if none succeeds, every
/// error, in input order (an empty list for no futures).
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// let probe = |name: &'static str| async move { Err::<(), _>(format!("{name} is down")) };
/// let errors = herd::task::first_ok(["a", "b"].map(probe)).await.unwrap_err();
/// assert_eq!(errors.len(), 2);
/// assert_eq!(errors[1].task().index(), 1);
/// # }
/// ```
pub async fn first_ok<I, F, T, E>(futures: I) -> Result<T, Vec<TaskError<E>>>
where
    I: IntoIterator<Item = F>,
    F: Future<Output = Result<T, E>>,
{
    UNBOUNDED.first_ok(futures).await
}

/// Polls the futures, at most `limit` at once, taking the next from the
/// iterator as one finishes, and hands each outcome to `on_outcome` with its
/// input index. Stops, dropping what is in flight, when it says `Break`.
async fn drive<I, F, T, E>(
    limit: Option<usize>,
    futures: I,
    mut on_outcome: impl FnMut(usize, Result<T, TaskError<E>>) -> ControlFlow<()>,
) where
    I: IntoIterator<Item = F>,
    F: Future<Output = Result<T, E>>,
{
    let limit = limit.unwrap_or(usize::MAX);
    let mut pending = futures.into_iter().enumerate();
    let mut running = FuturesUnordered::new();
    let start = |(index, fut): (usize, F)| async move {
        (index, AssertUnwindSafe(fut).catch_unwind().await)
    };
    running.extend(pending.by_ref().take(limit).map(start));
    while let Some((index, outcome)) = running.next().await {
        let outcome = TaskError::settle(TaskId::new(index, None), outcome);
        if on_outcome(index, outcome).is_break() {
            return;
        }
        running.extend(pending.next().map(start));
    }
}

/// Puts `value` at `index`, growing `slots` as futures arrive.
fn store<V>(slots: &mut Vec<Option<V>>, index: usize, value: V) {
    if slots.len() <= index {
        slots.resize_with(index + 1, || None);
    }
    slots[index] = Some(value);
}
