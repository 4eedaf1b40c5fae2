//! `ScopeBuilder` and `Policy`: how a scope is configured.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use crate::sync::Semaphore;
use tokio::time::Instant;

use super::cancel::Deadline;
use super::scope::Parts;
use super::{CancelToken, Scope};

/// What a scope does when a child fails or panics.
///
/// # Examples
///
/// ```
/// use herd::task::{Policy, Scope};
///
/// let scope = Scope::<(), ()>::builder().policy(Policy::Supervise).build();
/// assert_eq!(scope.policy(), Policy::Supervise);
/// assert_eq!(Policy::default(), Policy::FailFast);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Policy {
    /// The first failure or panic cancels the scope: its siblings are
    /// stopped and no new child starts. The default.
    #[default]
    FailFast,
    /// Every child runs to its own end; failures are only collected.
    Supervise,
}

/// Configures a [`Scope`]: its name, policy, concurrency limit, deadline,
/// grace period and parent token.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use herd::task::{Policy, Scope};
///
/// let scope = Scope::<u32, ()>::builder()
///     .name("crawl")
///     .policy(Policy::Supervise)
///     .limit(8)
///     .timeout(Duration::from_secs(30))
///     .grace(Duration::from_millis(100))
///     .build();
/// assert_eq!(scope.name(), Some("crawl"));
/// assert_eq!(scope.limit(), Some(8));
/// # }
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct ScopeBuilder<T, E> {
    name: Option<Arc<str>>,
    policy: Policy,
    limit: Option<usize>,
    deadline: Option<Instant>,
    grace: Duration,
    parent: Option<CancelToken>,
    children: PhantomData<fn() -> (T, E)>,
}

impl<T, E> Default for ScopeBuilder<T, E> {
    fn default() -> Self {
        ScopeBuilder {
            name: None,
            policy: Policy::default(),
            limit: None,
            deadline: None,
            grace: Duration::ZERO,
            parent: None,
            children: PhantomData,
        }
    }
}

impl<T, E> fmt::Debug for ScopeBuilder<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeBuilder")
            .field("name", &self.name)
            .field("policy", &self.policy)
            .field("limit", &self.limit)
            .field("deadline", &self.deadline)
            .field("grace", &self.grace)
            .field("parent", &self.parent)
            .finish()
    }
}

impl<T, E> ScopeBuilder<T, E>
where
    T: Send + 'static,
    E: Send + 'static,
{
    /// Names the scope; the name appears in cancellation reasons and errors.
    ///
    /// # Examples
    ///
    /// ```
    /// use herd::task::{CancelReason, Scope};
    ///
    /// // A dropped scope cancels its token, naming itself.
    /// let scope = Scope::<(), ()>::builder().name("import").build();
    /// let token = scope.token().clone();
    /// drop(scope);
    /// assert_eq!(token.reason(), Some(CancelReason::ScopeDropped { scope: Some("import".into()) }));
    /// ```
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Chooses what a failing child does to its siblings. Default: [`Policy::FailFast`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use herd::task::{Policy, Scope};
    ///
    /// let scope = Scope::<u8, &str>::builder().policy(Policy::Supervise).build();
    /// scope.spawn(async { Err("one bad") }).await.unwrap();
    /// scope.spawn(async { Ok(2) }).await.unwrap();
    /// let outcomes = scope.join_all().await;
    /// assert_eq!(outcomes[1], Ok(2), "the failure cancelled nothing");
    /// # }
    /// ```
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// At most `limit` children run at once. [`Scope::spawn`] beyond it
    /// waits, first come first served, for a running child to end;
    /// [`Scope::try_spawn`] returns [`SpawnError::AtCapacity`](super::SpawnError::AtCapacity) instead.
    ///
    /// # Panics
    ///
    /// If `limit` is zero (no child could ever run) or above
    /// [`Semaphore::MAX_PERMITS`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use herd::task::{Scope, SpawnError};
    ///
    /// let scope = Scope::<(), ()>::builder().limit(1).build();
    /// scope.try_spawn(std::future::pending()).unwrap();
    /// assert_eq!(scope.try_spawn(async { Ok(()) }), Err(SpawnError::AtCapacity { limit: 1 }));
    /// # }
    /// ```
    pub fn limit(mut self, limit: usize) -> Self {
        assert!(limit > 0, "Scope limit must be at least 1, got 0");
        assert!(
            limit <= Semaphore::MAX_PERMITS,
            "Scope limit must be at most {}, got {limit}",
            Semaphore::MAX_PERMITS
        );
        self.limit = Some(limit);
        self
    }

    /// Cancels the scope at `deadline`: running children are stopped and
    /// end as [`TaskError::TimedOut`](super::TaskError::TimedOut). A parent's earlier deadline wins.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use herd::task::{Scope, TaskError};
    /// use tokio::time::{Instant, sleep};
    ///
    /// let at = Instant::now() + Duration::from_secs(1);
    /// let scope = Scope::<(), ()>::builder().deadline(at).build();
    /// scope.spawn(async { sleep(Duration::from_secs(60)).await; Ok(()) }).await.unwrap();
    /// let Err(TaskError::TimedOut { deadline, .. }) = scope.join().await else { panic!() };
    /// assert_eq!(deadline, at);
    /// # }
    /// ```
    pub fn deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Cancels the scope `timeout` from now: shorthand for
    /// `deadline(Instant::now() + timeout)`. A timeout too large to add to
    /// the current time sets no deadline.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use herd::task::Scope;
    ///
    /// let scope = Scope::<(), ()>::builder().timeout(Duration::from_secs(5)).build();
    /// assert_eq!(scope.token().remaining(), Some(Duration::from_secs(5)));
    /// # }
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        if let Some(deadline) = Instant::now().checked_add(timeout) {
            self.deadline = Some(deadline);
        }
        self
    }

    /// How long children have, once the scope is cancelled, to finish on
    /// their own before they are aborted (dropped at their next `.await`).
    ///
    /// Default: zero, so a cancelled scope stops its children at once, the
    /// way dropping a future does. Give a grace period when children watch
    /// [`Scope::token`] and have cleanup worth waiting for (flush, commit,
    /// say goodbye); the scope waits at most that long for them.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use herd::task::Scope;
    /// use tokio::time::sleep;
    ///
    /// let scope = Scope::<&str, ()>::builder().grace(Duration::from_secs(1)).build();
    /// let token = scope.token().clone();
    /// scope
    ///     .spawn(async move {
    ///         token.cancelled().await;
    ///         sleep(Duration::from_millis(10)).await; // flush
    ///         Ok("flushed")
    ///     })
    ///     .await
    ///     .unwrap();
    /// tokio::task::yield_now().await;
    /// scope.token().cancel("stop");
    /// assert_eq!(scope.join().await, Ok(vec!["flushed"]));
    /// # }
    /// ```
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Nests the scope under `parent`: cancelling `parent` cancels the
    /// scope, and the scope inherits `parent`'s deadline if it is earlier.
    /// Pass the outer scope's token to a child that opens a scope of its own.
    ///
    /// # Examples
    ///
    /// ```
    /// use herd::task::{CancelToken, Scope};
    ///
    /// let service = CancelToken::new();
    /// let request = Scope::<(), ()>::builder().parent(&service).build();
    /// service.cancel("shutting down");
    /// assert!(request.token().is_cancelled());
    /// ```
    pub fn parent(mut self, parent: &CancelToken) -> Self {
        self.parent = Some(parent.clone());
        self
    }

    /// Builds the scope.
    ///
    /// # Panics
    ///
    /// If the scope has a deadline (its own or its parent's) and this is
    /// called outside a tokio runtime with timers enabled: the scope spawns a
    /// task that enforces the deadline.
    ///
    /// # Examples
    ///
    /// ```
    /// let scope = herd::task::Scope::<u8, ()>::builder().name("batch").limit(4).build();
    /// assert_eq!((scope.name(), scope.limit()), (Some("batch"), Some(4)));
    /// ```
    pub fn build(self) -> Scope<T, E> {
        crate::diag::from_env();
        let own = self.deadline.map(|at| Deadline {
            at,
            scope: self.name.clone(),
        });
        let token = match &self.parent {
            Some(parent) => parent.child_with_deadline(own),
            None => CancelToken::root(own),
        };
        Scope::assemble(Parts {
            name: self.name,
            policy: self.policy,
            grace: self.grace,
            limit: self.limit,
            token,
        })
    }
}
