//! `timeout` and `deadline`: bound how long one future may take.

use std::future::{Future, IntoFuture};
use std::time::Duration;

use tokio::time::Instant;

use super::Elapsed;

/// Runs `fut` for at most `duration`, counted from this call. If it has not
/// finished by then it is dropped and [`Elapsed`] says how long it was given.
///
/// The future is polled before the timer, so a future that finishes in the
/// same instant its time runs out still returns its value. A `duration` too
/// large to add to the current time means no timeout.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use herd::task::timeout;
///
/// assert_eq!(timeout(Duration::from_secs(1), async { 42 }).await, Ok(42));
/// let hung = std::future::pending::<()>();
/// assert!(timeout(Duration::from_secs(1), hung).await.is_err());
/// # }
/// ```
pub fn timeout<F: IntoFuture>(
    duration: Duration,
    fut: F,
) -> impl Future<Output = Result<F::Output, Elapsed>> {
    // The clock starts now, at the call, not at the first poll.
    let at = Instant::now().checked_add(duration);
    let fut = fut.into_future();
    async move {
        match at {
            Some(at) => bounded(duration, at, fut).await,
            None => Ok(fut.await),
        }
    }
}

/// Runs `fut` until `at` at the latest. If it has not finished by then it is
/// dropped; [`Elapsed`] carries the deadline and the budget it had when this
/// was called (zero if `at` had already passed).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use tokio::time::{Instant, sleep};
///
/// let at = Instant::now() + Duration::from_secs(3);
/// let err = herd::task::deadline(at, sleep(Duration::from_secs(5))).await.unwrap_err();
/// assert_eq!(err.deadline(), at);
/// assert_eq!(err.budget(), Duration::from_secs(3));
/// # }
/// ```
pub fn deadline<F: IntoFuture>(
    at: Instant,
    fut: F,
) -> impl Future<Output = Result<F::Output, Elapsed>> {
    bounded(
        at.saturating_duration_since(Instant::now()),
        at,
        fut.into_future(),
    )
}

async fn bounded<F: Future>(budget: Duration, at: Instant, fut: F) -> Result<F::Output, Elapsed> {
    tokio::time::timeout_at(at, fut)
        .await
        .map_err(|_| Elapsed::new(budget, at))
}
