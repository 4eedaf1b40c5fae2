//! `Debounce` and `throttle`: lodash's timing rules, for async functions,
//! with every call told what became of it.

use std::fmt;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

use crate::loom::{Mutex, lock};
use crate::pool::panic_message;

/// What became of a call that did not get a result.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use herd::resilience::{Debounce, Dropped};
///
/// let save = Debounce::new(Duration::from_secs(1), |text: String| async move { text.len() });
/// let call = save.call("draft".to_string());
/// save.cancel();
/// assert_eq!(call.await, Err(Dropped::Cancelled));
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dropped {
    /// Its burst ended with trailing calls switched off, so it never ran.
    NoTrailing,
    /// [`Debounce::cancel`] was called, or the debouncer was dropped,
    /// before it ran.
    Cancelled,
    /// The run that covered it panicked, with this message.
    Panicked(String),
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dropped::NoTrailing => {
                f.write_str("dropped: the burst ended and trailing calls are off")
            }
            Dropped::Cancelled => f.write_str("dropped: the debouncer was cancelled"),
            Dropped::Panicked(message) => write!(f, "the run panicked: {message}"),
        }
    }
}

impl std::error::Error for Dropped {}

type Reply<T> = oneshot::Sender<Result<T, Dropped>>;

/// A run the driver owes: the arguments, and every caller it answers.
struct Run<A, T> {
    args: A,
    callers: Vec<Reply<T>>,
}

/// The state of lodash's `debounce`, with times on tokio's clock.
struct State<A, T> {
    /// The latest call's arguments not yet run, and everyone waiting on
    /// them.
    pending: Option<Run<A, T>>,
    last_call: Option<Instant>,
    last_invoke: Option<Instant>,
    /// When the timer fires next, if it is set.
    timer: Option<Instant>,
    /// Runs decided and not yet started, in order.
    due: Vec<Run<A, T>>,
}

struct Shared<A, T> {
    state: Mutex<State<A, T>>,
    wake: Notify,
    wait: Duration,
    max_wait: Option<Duration>,
    leading: bool,
    trailing: bool,
}

/// A debounced async function, with lodash's `debounce` rules: a burst of
/// calls (each less than `wait` after the one before) becomes one run with
/// the latest arguments, `wait` after the last call (the trailing edge);
/// optionally also one run at the start of the burst (the leading edge);
/// and with a `max_wait` ([`Debounce::with_options`]), a run at least that often
/// during a long burst. [`throttle`] is the same with `max_wait = wait` and
/// both edges on.
///
/// Every [`call`](Debounce::call) returns a future of what became of it:
/// the result of the run that covered it (its own arguments, or a later
/// call's in the same burst), or a [`Dropped`] saying why there was none.
/// Nothing is dropped silently.
///
/// Runs never overlap: one that comes due while the previous one runs
/// starts when it ends. The runs happen on a task the debouncer owns;
/// dropping the debouncer cancels what is pending. A result is cloned to
/// every caller it answers.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use herd::resilience::Debounce;
///
/// // Search as the user types, 300 ms after the last key.
/// let search = Debounce::new(Duration::from_millis(300), |query: String| async move {
///     format!("results for {query}")
/// });
/// let h = search.call("h".into());
/// let he = search.call("he".into());
/// let hello = search.call("hello".into());
/// // One search ran, with the last query, and answered all three calls.
/// assert_eq!(h.await.unwrap(), "results for hello");
/// assert_eq!(he.await.unwrap(), "results for hello");
/// assert_eq!(hello.await.unwrap(), "results for hello");
/// assert_eq!(search.runs(), 1);
/// # }
/// ```
pub struct Debounce<A, T> {
    shared: Arc<Shared<A, T>>,
    runs: Arc<std::sync::atomic::AtomicU64>,
    driver: tokio::task::JoinHandle<()>,
}

/// lodash's `throttle`: at most one run per `wait`, the first call of a
/// burst at once (leading edge) and the latest one at the end of the
/// `wait` (trailing edge), as `debounce` with `max_wait = wait`.
///
/// # Panics
///
/// Outside a tokio runtime.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
///
/// // Save at most once a second while the user keeps typing.
/// let save = herd::resilience::throttle(Duration::from_secs(1), |doc: u32| async move { doc });
/// let mut calls = Vec::new();
/// for version in 1..=25 {
///     calls.push(save.call(version));
///     tokio::time::sleep(Duration::from_millis(100)).await;
/// }
/// assert_eq!(calls.remove(0).await, Ok(1), "the leading edge ran the first at once");
/// assert_eq!(calls.pop().unwrap().await, Ok(25), "the trailing edge ran the last");
/// assert_eq!(save.runs(), 4, "a run at 0 s, 1 s, 2 s and the trailing one");
/// # }
/// ```
pub fn throttle<A, T, F, Fut>(wait: Duration, f: F) -> Debounce<A, T>
where
    A: Send + 'static,
    T: Clone + Send + 'static,
    F: FnMut(A) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    Debounce::with_options(wait, Some(wait), true, true, f)
}

impl<A, T> Debounce<A, T>
where
    A: Send + 'static,
    T: Clone + Send + 'static,
{
    /// Debounces `f` by `wait`: trailing edge only, no maximum wait
    /// (lodash's defaults).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let d = herd::resilience::Debounce::new(std::time::Duration::from_millis(10), |n: u8| async move { n * 2 });
    /// assert_eq!(d.call(21).await, Ok(42));
    /// # }
    /// ```
    pub fn new<F, Fut>(wait: Duration, f: F) -> Debounce<A, T>
    where
        F: FnMut(A) -> Fut + Send + 'static,
        Fut: Future<Output = T> + Send + 'static,
    {
        Debounce::with_options(wait, None, false, true, f)
    }

    /// Debounces `f` with lodash's options: `max_wait` (the longest a call
    /// may be put off), `leading` (run at the start of a burst) and
    /// `trailing` (run at its end).
    ///
    /// # Panics
    ///
    /// If both edges are off (nothing would ever run), if `max_wait` is
    /// shorter than `wait`, or outside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use herd::resilience::{Debounce, Dropped};
    ///
    /// // Leading edge only: the first click of a burst counts, the rest are
    /// // told they were dropped.
    /// let click = Debounce::with_options(Duration::from_secs(1), None, true, false, |n: u8| async move { n });
    /// let first = click.call(1);
    /// let second = click.call(2);
    /// assert_eq!(first.await, Ok(1));
    /// assert_eq!(second.await, Err(Dropped::NoTrailing));
    /// # }
    /// ```
    pub fn with_options<F, Fut>(
        wait: Duration,
        max_wait: Option<Duration>,
        leading: bool,
        trailing: bool,
        f: F,
    ) -> Debounce<A, T>
    where
        F: FnMut(A) -> Fut + Send + 'static,
        Fut: Future<Output = T> + Send + 'static,
    {
        assert!(
            leading || trailing,
            "Debounce: with both edges off nothing would ever run"
        );
        if let Some(max_wait) = max_wait {
            assert!(
                max_wait >= wait,
                "Debounce: max_wait ({max_wait:?}) is shorter than wait ({wait:?})"
            );
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                pending: None,
                last_call: None,
                last_invoke: None,
                timer: None,
                due: Vec::new(),
            }),
            wake: Notify::new(),
            wait,
            max_wait,
            leading,
            trailing,
        });
        let runs = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let driver = tokio::spawn(drive(shared.clone(), runs.clone(), f));
        Debounce {
            shared,
            runs,
            driver,
        }
    }

    /// Calls the debounced function with `args`. The call is recorded at
    /// once; the returned future (which need not be awaited) says what
    /// became of it.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let d = herd::resilience::Debounce::new(std::time::Duration::from_millis(5), |s: &'static str| async move { s });
    /// drop(d.call("ignored result")); // still recorded
    /// assert_eq!(d.call("last").await, Ok("last"));
    /// assert_eq!(d.runs(), 1);
    /// # }
    /// ```
    pub fn call(&self, args: A) -> impl Future<Output = Result<T, Dropped>> + Send + 'static {
        let (reply, result) = oneshot::channel();
        let now = Instant::now();
        {
            let shared = &*self.shared;
            let mut state = lock(&shared.state);
            let invoking = shared.should_invoke(&state, now);
            // The new call's arguments replace any pending ones; their
            // callers will be answered by whichever run takes these.
            let mut callers = state
                .pending
                .take()
                .map(|run| run.callers)
                .unwrap_or_default();
            callers.push(reply);
            state.pending = Some(Run { args, callers });
            state.last_call = Some(now);
            if invoking {
                if state.timer.is_none() {
                    shared.leading_edge(&mut state, now);
                } else if shared.max_wait.is_some() {
                    state.timer = Some(now + shared.wait);
                    shared.invoke(&mut state, now);
                }
            } else if state.timer.is_none() {
                state.timer = Some(now + shared.wait);
            }
        }
        self.shared.wake.notify_one();
        async move { result.await.unwrap_or(Err(Dropped::Cancelled)) }
    }

    /// Drops the pending call, if any (its callers get
    /// [`Dropped::Cancelled`]), and resets the timing. A run already
    /// started finishes.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let d = herd::resilience::Debounce::new(std::time::Duration::from_secs(1), |n: u8| async move { n });
    /// let call = d.call(1);
    /// d.cancel();
    /// assert!(call.await.is_err());
    /// assert_eq!(d.runs(), 0);
    /// # }
    /// ```
    pub fn cancel(&self) {
        let dropped = {
            let mut state = lock(&self.shared.state);
            state.timer = None;
            state.last_call = None;
            state.last_invoke = None;
            state.pending.take()
        };
        if let Some(run) = dropped {
            answer(run.callers, Err(Dropped::Cancelled));
        }
        self.shared.wake.notify_one();
    }

    /// Runs the pending call now instead of at its trailing edge (if
    /// trailing calls are on), and resets the timer.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    ///
    /// let d = herd::resilience::Debounce::new(Duration::from_secs(60), |n: u8| async move { n });
    /// let call = d.call(9);
    /// d.flush();
    /// let start = tokio::time::Instant::now();
    /// assert_eq!(call.await, Ok(9));
    /// assert_eq!(start.elapsed(), Duration::ZERO, "no minute's wait");
    /// # }
    /// ```
    pub fn flush(&self) {
        {
            let shared = &*self.shared;
            let mut state = lock(&shared.state);
            if state.timer.is_some() {
                shared.trailing_edge(&mut state, Instant::now());
            }
        }
        self.shared.wake.notify_one();
    }

    /// How many runs have started.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let d = herd::resilience::Debounce::new(std::time::Duration::from_millis(1), |n: u8| async move { n });
    /// d.call(1).await.unwrap();
    /// assert_eq!(d.runs(), 1);
    /// # }
    /// ```
    pub fn runs(&self) -> u64 {
        self.runs.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl<A, T: Clone> Shared<A, T> {
    /// lodash's `shouldInvoke`.
    fn should_invoke(&self, state: &State<A, T>, now: Instant) -> bool {
        let Some(last_call) = state.last_call else {
            return true;
        };
        let since_call = now - last_call;
        let since_invoke = state.last_invoke.map_or(Duration::MAX, |at| now - at);
        since_call >= self.wait || self.max_wait.is_some_and(|max| since_invoke >= max)
    }

    /// lodash's `leadingEdge`.
    fn leading_edge(&self, state: &mut State<A, T>, now: Instant) {
        state.last_invoke = Some(now);
        state.timer = Some(now + self.wait);
        if self.leading {
            self.invoke(state, now);
        }
    }

    /// lodash's `remainingWait`.
    fn remaining(&self, state: &State<A, T>, now: Instant) -> Duration {
        let since_call = state.last_call.map_or(Duration::ZERO, |at| now - at);
        let waiting = self.wait.saturating_sub(since_call);
        match (self.max_wait, state.last_invoke) {
            (Some(max), Some(at)) => waiting.min(max.saturating_sub(now - at)),
            _ => waiting,
        }
    }

    /// lodash's `timerExpired`.
    fn timer_expired(&self, state: &mut State<A, T>, now: Instant) {
        if self.should_invoke(state, now) {
            self.trailing_edge(state, now);
        } else {
            state.timer = Some(now + self.remaining(state, now));
        }
    }

    /// lodash's `trailingEdge`; a pending call that trailing calls being
    /// off leaves unrun is answered with [`Dropped::NoTrailing`].
    fn trailing_edge(&self, state: &mut State<A, T>, now: Instant) {
        state.timer = None;
        if self.trailing && state.pending.is_some() {
            self.invoke(state, now);
        } else if let Some(run) = state.pending.take() {
            answer(run.callers, Err(Dropped::NoTrailing));
        }
    }

    /// lodash's `invokeFunc`: the pending call becomes a run that is due.
    /// A run already due and not yet started takes the newer arguments
    /// and callers instead of queueing a second one, so a function slower
    /// than `max_wait` cannot build a backlog.
    fn invoke(&self, state: &mut State<A, T>, now: Instant) {
        state.last_invoke = Some(now);
        if let Some(mut run) = state.pending.take() {
            if let Some(queued) = state.due.pop() {
                let mut callers = queued.callers;
                callers.append(&mut run.callers);
                run.callers = callers;
            }
            state.due.push(run);
        }
    }
}

fn answer<T: Clone>(callers: Vec<Reply<T>>, outcome: Result<T, Dropped>) {
    for caller in callers {
        let _ = caller.send(outcome.clone());
    }
}

/// The driver: fires the timer and runs what is due, one run at a time.
async fn drive<A, T, F, Fut>(
    shared: Arc<Shared<A, T>>,
    runs: Arc<std::sync::atomic::AtomicU64>,
    mut f: F,
) where
    T: Clone,
    F: FnMut(A) -> Fut,
    Fut: Future<Output = T>,
{
    loop {
        let (due, timer) = {
            let mut state = lock(&shared.state);
            let now = Instant::now();
            if state.timer.is_some_and(|at| at <= now) {
                shared.timer_expired(&mut state, now);
            }
            (std::mem::take(&mut state.due), state.timer)
        };
        for run in due {
            runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            // The closure's own call and its future may each panic.
            let outcome = match catch_unwind(AssertUnwindSafe(|| f(run.args))) {
                Ok(fut) => AssertUnwindSafe(fut).catch_unwind().await,
                Err(payload) => Err(payload),
            };
            answer(
                run.callers,
                outcome.map_err(|payload| Dropped::Panicked(panic_message(payload))),
            );
        }
        if lock(&shared.state).due.is_empty() {
            let mut woken = std::pin::pin!(shared.wake.notified());
            let mut sleep: Option<Pin<Box<tokio::time::Sleep>>> =
                timer.map(|at| Box::pin(tokio::time::sleep_until(at)));
            poll_fn(|cx| {
                if woken.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(());
                }
                match sleep.as_mut() {
                    Some(sleep) => sleep.as_mut().poll(cx),
                    None => Poll::Pending,
                }
            })
            .await;
        }
    }
}

impl<A, T> Drop for Debounce<A, T> {
    fn drop(&mut self) {
        // Pending callers see their reply dropped: Cancelled.
        self.driver.abort();
    }
}

impl<A, T> fmt::Debug for Debounce<A, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Debounce")
            .field("wait", &self.shared.wait)
            .field("max_wait", &self.shared.max_wait)
            .field("leading", &self.shared.leading)
            .field("trailing", &self.shared.trailing)
            .finish_non_exhaustive()
    }
}
