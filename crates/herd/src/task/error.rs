//! What can go wrong with a task, and how herd says so.

use std::any::Any;
use std::error::Error;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::CancelReason;

/// Which task an outcome belongs to: its position (spawn order in a
/// [`Scope`](super::Scope), input order in a combinator) and its name, if it
/// was given one.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use herd::task::{Scope, TaskError};
///
/// let mut scope = Scope::<(), &str>::new();
/// scope.spawn_named("fetch", async { Err("refused") }).await.unwrap();
/// let Err(TaskError::Failed { task, .. }) = scope.join().await else { panic!() };
/// assert_eq!((task.index(), task.name()), (0, Some("fetch")));
/// assert_eq!(task.to_string(), "task 0 \"fetch\"");
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TaskId {
    index: usize,
    name: Option<Arc<str>>,
}

impl TaskId {
    pub(crate) fn new(index: usize, name: Option<Arc<str>>) -> TaskId {
        TaskId { index, name }
    }

    /// The task's position: spawn order in a scope, input order in a combinator.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let halve = |n: u32| async move { if n % 2 == 0 { Ok(n / 2) } else { Err(n) } };
    /// let err = herd::task::all([4, 6, 7].map(halve)).await.unwrap_err();
    /// assert_eq!(err.task().index(), 2);
    /// # }
    /// ```
    pub fn index(&self) -> usize {
        self.index
    }

    /// The task's name, if it was spawned with one.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let scope = herd::task::Scope::<(), ()>::new();
    /// scope.spawn_named("loader", async { Err(()) }).await.unwrap();
    /// assert_eq!(scope.join().await.unwrap_err().task().name(), Some("loader"));
    /// # }
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "task {} \"{name}\"", self.index),
            None => write!(f, "task {}", self.index),
        }
    }
}

/// How a task ended, when it did not end with a value.
///
/// `E` is the task's own error type. A panic is caught and becomes
/// [`Panicked`](TaskError::Panicked) with the panic message; it never takes
/// the process or the scope's owner down.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use herd::task::{Scope, TaskError};
///
/// let mut scope = Scope::<u32, String>::new();
/// scope.spawn(async { panic!("index out of range") }).await.unwrap();
/// match scope.join().await {
///     Err(TaskError::Panicked { message, .. }) => assert_eq!(message, "index out of range"),
///     other => panic!("unexpected {other:?}"),
/// }
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskError<E> {
    /// The task returned `Err(error)`.
    Failed {
        /// Which task.
        task: TaskId,
        /// What it returned.
        error: E,
    },
    /// The task panicked.
    Panicked {
        /// Which task.
        task: TaskId,
        /// The panic message, or a placeholder if the payload was not a string.
        message: String,
    },
    /// The task was cancelled before it finished.
    Cancelled {
        /// Which task.
        task: TaskId,
        /// Why.
        reason: CancelReason,
    },
    /// The task was cancelled because a scope's deadline passed.
    TimedOut {
        /// Which task.
        task: TaskId,
        /// The name of the scope whose deadline passed, if it had one.
        scope: Option<Arc<str>>,
        /// When the deadline was.
        deadline: Instant,
    },
}

impl<E> TaskError<E> {
    /// The error for a task stopped by a cancelled token: `TimedOut` when the
    /// reason is a deadline, `Cancelled` otherwise.
    pub(crate) fn stopped(task: TaskId, reason: CancelReason) -> TaskError<E> {
        match reason {
            CancelReason::DeadlineExceeded { scope, deadline } => TaskError::TimedOut {
                task,
                scope,
                deadline,
            },
            reason => TaskError::Cancelled { task, reason },
        }
    }

    /// A finished task's outcome: its value, or its failure or panic as an error.
    pub(crate) fn settle<T>(
        task: TaskId,
        outcome: std::thread::Result<Result<T, E>>,
    ) -> Result<T, TaskError<E>> {
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(TaskError::Failed { task, error }),
            Err(payload) => Err(TaskError::panicked(task, payload)),
        }
    }

    fn panicked(task: TaskId, payload: Box<dyn Any + Send>) -> TaskError<E> {
        TaskError::Panicked {
            task,
            message: panic_message(payload),
        }
    }

    /// The task this outcome belongs to.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let halve = |n: u32| async move { if n % 2 == 0 { Ok(n / 2) } else { Err(n) } };
    /// let result = herd::task::all([2, 3].map(halve)).await;
    /// assert_eq!(result.unwrap_err().task().index(), 1);
    /// # }
    /// ```
    pub fn task(&self) -> &TaskId {
        match self {
            TaskError::Failed { task, .. }
            | TaskError::Panicked { task, .. }
            | TaskError::Cancelled { task, .. }
            | TaskError::TimedOut { task, .. } => task,
        }
    }

    /// The task's own error, if it returned one (rather than panicking or
    /// being cancelled).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let result = herd::task::all([async { Err::<(), _>("no") }]).await;
    /// assert_eq!(result.unwrap_err().into_failure(), Some("no"));
    /// # }
    /// ```
    pub fn into_failure(self) -> Option<E> {
        match self {
            TaskError::Failed { error, .. } => Some(error),
            _ => None,
        }
    }

    /// Whether the task was cancelled or timed out, rather than failing on
    /// its own.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use herd::task::Scope;
    ///
    /// let mut scope = Scope::<(), ()>::builder().timeout(Duration::from_secs(1)).build();
    /// scope.spawn(async { tokio::time::sleep(Duration::from_secs(60)).await; Ok(()) }).await.unwrap();
    /// assert!(scope.join().await.unwrap_err().is_cancellation());
    /// # }
    /// ```
    pub fn is_cancellation(&self) -> bool {
        matches!(
            self,
            TaskError::Cancelled { .. } | TaskError::TimedOut { .. }
        )
    }
}

impl<E: fmt::Display> fmt::Display for TaskError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Failed { task, error } => write!(f, "{task} failed: {error}"),
            TaskError::Panicked { task, message } => write!(f, "{task} panicked: {message}"),
            TaskError::Cancelled { task, reason } => write!(f, "{task} was stopped: {reason}"),
            TaskError::TimedOut {
                task,
                scope: Some(scope),
                ..
            } => write!(f, "{task} timed out: deadline of scope \"{scope}\" passed"),
            TaskError::TimedOut {
                task, scope: None, ..
            } => write!(f, "{task} timed out: its scope's deadline passed"),
        }
    }
}

impl<E: Error + 'static> Error for TaskError<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            TaskError::Failed { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// The message of a caught panic, or a placeholder if its payload is not a
/// string.
pub(crate) fn panic_message(payload: Box<dyn Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(message) => (*message).to_owned(),
            Err(_) => "panic payload is not a string".to_owned(),
        },
    }
}

/// Why [`Scope::spawn`](super::Scope::spawn) or one of its siblings did not
/// start a child. The child's future is dropped without being polled.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use herd::task::{Scope, SpawnError};
///
/// let scope = Scope::<(), ()>::new();
/// scope.token().cancel("closing");
/// let refused = scope.spawn(async { Ok(()) }).await;
/// assert!(matches!(refused, Err(SpawnError::Cancelled(_))));
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpawnError {
    /// The scope has finished joining (or was dropped); it takes no new children.
    Closed,
    /// The scope was cancelled; it starts no new children.
    Cancelled(CancelReason),
    /// `try_spawn` found every slot of the scope's limit taken.
    AtCapacity {
        /// The scope's concurrency limit.
        limit: usize,
    },
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::Closed => f.write_str("scope is closed: it has already been joined"),
            SpawnError::Cancelled(reason) => write!(f, "scope is cancelled ({reason})"),
            SpawnError::AtCapacity { limit } => {
                write!(f, "scope is at its limit of {limit} running children")
            }
        }
    }
}

impl Error for SpawnError {}

/// The error of [`timeout`](super::timeout) and [`deadline`](super::deadline):
/// the future did not finish in time and was dropped.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
///
/// let slow = tokio::time::sleep(Duration::from_secs(10));
/// let err = herd::task::timeout(Duration::from_millis(250), slow).await.unwrap_err();
/// assert_eq!(err.budget(), Duration::from_millis(250));
/// assert_eq!(err.to_string(), "timed out after 250ms");
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed {
    budget: Duration,
    deadline: Instant,
}

impl Elapsed {
    pub(crate) fn new(budget: Duration, deadline: Instant) -> Elapsed {
        Elapsed { budget, deadline }
    }

    /// How long the future was given.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    ///
    /// let err = herd::task::timeout(Duration::from_secs(2), std::future::pending::<()>()).await.unwrap_err();
    /// assert_eq!(err.budget(), Duration::from_secs(2));
    /// # }
    /// ```
    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// When its time ran out.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use tokio::time::Instant;
    ///
    /// let at = Instant::now() + Duration::from_secs(1);
    /// let err = herd::task::deadline(at, std::future::pending::<()>()).await.unwrap_err();
    /// assert_eq!(err.deadline(), at);
    /// # }
    /// ```
    pub fn deadline(&self) -> Instant {
        self.deadline
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "timed out after {:?}", self.budget)
    }
}

impl Error for Elapsed {}
