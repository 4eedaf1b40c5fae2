//! `Scope`: a group of tasks that never outlives its owner.

use std::fmt;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, Location};
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::{Either, select};
use tokio::task::{AbortHandle, JoinHandle};

use super::cancel::Deadline;
use super::ledger::{ChildHandle, Handles, Ledger};
use super::{CancelReason, CancelToken, Policy, ScopeBuilder, SpawnError, TaskError, TaskId};
use crate::diag::{self, Traced};
use crate::sync::{OwnedPermit, Resource, Semaphore};

/// A task group that owns its children: when it is joined, every child has
/// finished or been cancelled and awaited; when it is dropped, every child is
/// cancelled. There is no way to leave a child running behind it.
///
/// Children are futures spawned on the current tokio runtime, so they run in
/// parallel on a multi-thread runtime; they must be `Send + 'static` and
/// return `Result<T, E>`. Results come back in spawn order.
///
/// - **Policy**: [`Policy::FailFast`] (default) cancels every sibling when one
///   child fails or panics; [`Policy::Supervise`] lets every child finish.
/// - **Limit**: at most N children run at once; `spawn` waits for a slot
///   (FIFO), `try_spawn` refuses.
/// - **Deadline**: on expiry the children are cancelled and end as
///   [`TaskError::TimedOut`]; nested scopes inherit it.
/// - **Cancellation** is two-phase: the scope's [`CancelToken`] is cancelled
///   with a reason, children get the [grace period](ScopeBuilder::grace) to
///   finish, and the rest are aborted.
///
/// Children spawn siblings through a [`ScopeHandle`].
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// use herd::task::Scope;
///
/// let scope = Scope::<usize, std::io::Error>::builder().limit(2).build();
/// for word in ["structured", "bounded", "cancellable"] {
///     scope.spawn(async move { Ok(word.len()) }).await.unwrap();
/// }
/// assert_eq!(scope.join().await.unwrap(), vec![10, 7, 11]);
/// # }
/// ```
#[must_use = "a scope cancels its children when dropped; call `join` to wait for them"]
pub struct Scope<T, E> {
    handle: ScopeHandle<T, E>,
    /// Enforces the deadline, for scopes that have one.
    watchdog: Option<AbortHandle>,
    joined: bool,
}

/// A cloneable, sendable handle that spawns children into a [`Scope`], for
/// children that spawn siblings or for other tasks feeding the scope.
///
/// A handle does not keep the scope alive: once the scope is joined,
/// spawning through the handle fails with [`SpawnError::Closed`]; once it is
/// dropped (or cancelled), with [`SpawnError::Cancelled`].
///
/// Under a limit, a child that spawns a sibling with [`spawn`](ScopeHandle::spawn)
/// waits for a slot while holding its own: if every running child does
/// that, none can proceed. Children that spawn under a limit should use
/// [`try_spawn`](ScopeHandle::try_spawn), or leave spawning to a task
/// outside the limit.
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// use herd::task::Scope;
///
/// let scope = Scope::<u32, ()>::new();
/// let handle = scope.handle();
/// scope
///     .spawn(async move {
///         handle.spawn(async { Ok(2) }).await.unwrap();
///         Ok(1)
///     })
///     .await
///     .unwrap();
/// assert_eq!(scope.join().await.unwrap(), vec![1, 2]);
/// # }
/// ```
pub struct ScopeHandle<T, E> {
    shared: Arc<Shared<T, E>>,
}

impl<T, E> Clone for ScopeHandle<T, E> {
    fn clone(&self) -> Self {
        ScopeHandle {
            shared: self.shared.clone(),
        }
    }
}

type Outcome<T, E> = Result<T, TaskError<E>>;

/// What a [`ScopeBuilder`] hands over to make a scope.
pub(super) struct Parts {
    pub(super) name: Option<Arc<str>>,
    pub(super) policy: Policy,
    pub(super) grace: Duration,
    pub(super) limit: Option<usize>,
    pub(super) token: CancelToken,
}

struct Shared<T, E> {
    name: Option<Arc<str>>,
    policy: Policy,
    grace: Duration,
    limit: Option<(usize, Arc<Semaphore>)>,
    token: CancelToken,
    ledger: Ledger<Outcome<T, E>>,
    children: Handles<JoinHandle<()>>,
}

impl<T, E> Scope<T, E>
where
    T: Send + 'static,
    E: Send + 'static,
{
    pub(super) fn assemble(parts: Parts) -> Scope<T, E> {
        let shared = Arc::new(Shared {
            limit: parts.limit.map(|limit| {
                let resource = Resource::new("Scope limit", parts.name.clone());
                (limit, Arc::new(Semaphore::of(resource, limit)))
            }),
            name: parts.name,
            policy: parts.policy,
            grace: parts.grace,
            token: parts.token,
            ledger: Ledger::new(),
            children: Handles::new(),
        });
        let watchdog = shared
            .token
            .deadline_origin()
            .cloned()
            .map(|deadline| tokio::spawn(enforce(shared.clone(), deadline)).abort_handle());
        Scope {
            handle: ScopeHandle { shared },
            watchdog,
            joined: false,
        }
    }

    /// A fail-fast scope with no limit, no deadline and no name.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let scope = herd::task::Scope::<(), ()>::new();
    /// assert_eq!(scope.join().await, Ok(vec![]));
    /// # }
    /// ```
    pub fn new() -> Scope<T, E> {
        ScopeBuilder::default().build()
    }
}

impl<T, E> Default for Scope<T, E>
where
    T: Send + 'static,
    E: Send + 'static,
{
    fn default() -> Self {
        Scope::new()
    }
}

impl<T, E> Scope<T, E>
where
    T: Send + 'static,
    E: Send + 'static,
{
    /// Starts configuring a scope.
    ///
    /// # Examples
    ///
    /// ```
    /// let scope = herd::task::Scope::<u8, String>::builder().name("jobs").build();
    /// assert_eq!(scope.name(), Some("jobs"));
    /// ```
    pub fn builder() -> ScopeBuilder<T, E> {
        ScopeBuilder::default()
    }

    /// Spawns `fut` as a child. With a limit, waits (FIFO) until fewer than
    /// `limit` children run. Returns the child's index: its position in the
    /// results of [`join`](Scope::join) and [`join_all`](Scope::join_all).
    ///
    /// # Errors
    ///
    /// [`SpawnError::Cancelled`] if the scope is cancelled before the child
    /// starts (a fail-fast sibling failed, the deadline passed, the parent was
    /// cancelled), [`SpawnError::Closed`] if it was already joined.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future while it waits for a slot gives up
    /// its place in line and starts nothing; `fut` is dropped unpolled.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let scope = herd::task::Scope::<&str, ()>::new();
    /// assert_eq!(scope.spawn(async { Ok("first") }).await, Ok(0));
    /// assert_eq!(scope.spawn(async { Ok("second") }).await, Ok(1));
    /// assert_eq!(scope.join().await.unwrap(), ["first", "second"]);
    /// # }
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, fut: F) -> impl Future<Output = Result<usize, SpawnError>> + '_
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        self.handle.spawn(fut)
    }

    /// Spawns a child with a name, which its [`TaskId`] and errors carry.
    /// Otherwise as [`spawn`](Scope::spawn).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let scope = herd::task::Scope::<(), &str>::new();
    /// scope.spawn_named("db", async { Err("connection refused") }).await.unwrap();
    /// let err = scope.join().await.unwrap_err();
    /// assert_eq!(err.to_string(), "task 0 \"db\" failed: connection refused");
    /// # }
    /// ```
    #[track_caller]
    pub fn spawn_named<F>(
        &self,
        name: impl Into<Arc<str>>,
        fut: F,
    ) -> impl Future<Output = Result<usize, SpawnError>> + '_
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        self.handle.spawn_named(name, fut)
    }

    /// Spawns `fut` if a slot is free now, without waiting.
    ///
    /// # Errors
    ///
    /// [`SpawnError::AtCapacity`] when `limit` children are running, and the
    /// errors of [`spawn`](Scope::spawn).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// use herd::task::{Scope, SpawnError};
    ///
    /// let scope = Scope::<(), ()>::builder().limit(1).build();
    /// scope.try_spawn(std::future::pending()).unwrap();
    /// assert_eq!(scope.try_spawn(async { Ok(()) }), Err(SpawnError::AtCapacity { limit: 1 }));
    /// # }
    /// ```
    #[track_caller]
    pub fn try_spawn<F>(&self, fut: F) -> Result<usize, SpawnError>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        self.handle.try_spawn(fut)
    }

    /// [`try_spawn`](Scope::try_spawn) with a name.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let scope = herd::task::Scope::<u8, ()>::new();
    /// assert_eq!(scope.try_spawn_named("probe", async { Ok(1) }), Ok(0));
    /// assert_eq!(scope.join().await, Ok(vec![1]));
    /// # }
    /// ```
    #[track_caller]
    pub fn try_spawn_named<F>(&self, name: impl Into<Arc<str>>, fut: F) -> Result<usize, SpawnError>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        self.handle.try_spawn_named(name, fut)
    }

    /// A handle through which children (or anyone) can spawn into this scope.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let scope = herd::task::Scope::<(), ()>::new();
    /// let handle = scope.handle();
    /// drop(scope);
    /// assert!(handle.spawn(async { Ok(()) }).await.is_err());
    /// # }
    /// ```
    pub fn handle(&self) -> ScopeHandle<T, E> {
        self.handle.clone()
    }

    /// The scope's cancellation token. Children clone it to watch for
    /// cancellation; cancelling it cancels the scope; a nested scope takes it
    /// as its [`parent`](ScopeBuilder::parent).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let scope = herd::task::Scope::<&str, ()>::new();
    /// let token = scope.token().clone();
    /// scope
    ///     .spawn(async move {
    ///         let reason = token.cancelled().await;
    ///         assert_eq!(reason.to_string(), "cancelled: stop");
    ///         Ok("cleaned up")
    ///     })
    ///     .await
    ///     .unwrap();
    /// tokio::task::yield_now().await;
    /// scope.token().cancel("stop");
    /// # }
    /// ```
    pub fn token(&self) -> &CancelToken {
        &self.handle.shared.token
    }

    /// The scope's name, if it has one.
    ///
    /// # Examples
    ///
    /// ```
    /// let scope = herd::task::Scope::<(), ()>::builder().name("sync").build();
    /// assert_eq!(scope.name(), Some("sync"));
    /// assert_eq!(herd::task::Scope::<(), ()>::new().name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.handle.shared.name.as_deref()
    }

    /// The scope's policy.
    ///
    /// # Examples
    ///
    /// ```
    /// use herd::task::{Policy, Scope};
    ///
    /// assert_eq!(Scope::<(), ()>::new().policy(), Policy::FailFast);
    /// ```
    pub fn policy(&self) -> Policy {
        self.handle.shared.policy
    }

    /// The scope's concurrency limit, if it has one.
    ///
    /// # Examples
    ///
    /// ```
    /// use herd::task::Scope;
    ///
    /// assert_eq!(Scope::<(), ()>::builder().limit(16).build().limit(), Some(16));
    /// assert_eq!(Scope::<(), ()>::new().limit(), None);
    /// ```
    pub fn limit(&self) -> Option<usize> {
        self.handle.shared.limit.as_ref().map(|(limit, _)| *limit)
    }

    /// Waits for every child and returns their values in spawn order, or the
    /// scope's error.
    ///
    /// The error is the first failure or panic (the first to fail, not the
    /// first spawned) that happened while the scope was not cancelled: under
    /// [`Policy::FailFast`] the one that cancelled it. A scope cancelled for
    /// another reason (its deadline passed, its token or parent was
    /// cancelled) returns [`TimedOut`](TaskError::TimedOut) or
    /// [`Cancelled`](TaskError::Cancelled) with that reason, naming the first
    /// child, in spawn order, that did not return a value; errors children
    /// return after the cancellation are taken as its consequence. If every
    /// child returned a value, those are returned, cancelled or not.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the scope, which cancels every child.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let scope = herd::task::Scope::<u8, &str>::new();
    /// scope.spawn(async { Ok(1) }).await.unwrap();
    /// scope.spawn(async { Err("broken") }).await.unwrap();
    /// assert_eq!(scope.join().await.unwrap_err().into_failure(), Some("broken"));
    /// # }
    /// ```
    pub async fn join(self) -> Result<Vec<T>, TaskError<E>> {
        let token = self.handle.shared.token.clone();
        let (mut outcomes, root) = self.finish().await;
        let Some(first) = root.or_else(|| outcomes.iter().position(Result::is_err)) else {
            return Ok(outcomes
                .into_iter()
                .map(|outcome| outcome.ok().expect("no errors"))
                .collect());
        };
        let panic = outcomes
            .iter()
            .position(|outcome| matches!(outcome, Err(TaskError::Panicked { .. })));
        match (root, token.reason()) {
            (Some(root), _) => Err(outcomes.swap_remove(root).err().expect("an error")),
            // A panic is a bug, never folded into a cancellation.
            (None, _) if panic.is_some() => Err(outcomes
                .swap_remove(panic.expect("a panic"))
                .err()
                .expect("an error")),
            // Failures after the scope was cancelled are its consequence:
            // the scope's error is the cancellation itself.
            (None, Some(reason)) => {
                let task = outcomes[first]
                    .as_ref()
                    .err()
                    .expect("an error")
                    .task()
                    .clone();
                Err(TaskError::stopped(task, reason))
            }
            (None, None) => Err(outcomes.swap_remove(first).err().expect("an error")),
        }
    }

    /// Waits for every child and returns every outcome in spawn order:
    /// values, failures, panics and cancellations alike.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the scope, which cancels every child.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// use herd::task::{Policy, Scope};
    ///
    /// let scope = Scope::<u8, &str>::builder().policy(Policy::Supervise).build();
    /// scope.spawn(async { Err("broken") }).await.unwrap();
    /// scope.spawn(async { Ok(2) }).await.unwrap();
    /// let outcomes = scope.join_all().await;
    /// assert!(outcomes[0].is_err());
    /// assert_eq!(outcomes[1], Ok(2));
    /// # }
    /// ```
    pub async fn join_all(self) -> Vec<Result<T, TaskError<E>>> {
        self.finish().await.0
    }

    async fn finish(mut self) -> (Vec<Outcome<T, E>>, Option<usize>) {
        let shared = &self.handle.shared;
        let drained = pin!(poll_fn(|cx| shared.ledger.poll_drained(cx)));
        let cancelled = pin!(shared.token.cancelled());
        if let Either::Right(_) = select(drained, cancelled).await {
            let drained = pin!(poll_fn(|cx| shared.ledger.poll_drained(cx)));
            if let Either::Right(_) = select(drained, pin!(shared.reap())).await {
                poll_fn(|cx| shared.ledger.poll_drained(cx)).await;
            }
        }
        self.joined = true;
        // Every child is done: free their tasks here, on the owner's thread.
        drop(shared.children.take());
        shared.ledger.take_outcomes()
    }
}

/// The watchdog of a scope with a deadline: cancels the scope when the
/// deadline passes, and once the scope is cancelled for any reason, aborts
/// what is still running after the grace period, whether or not the owner
/// is in `join` yet.
async fn enforce<T, E>(shared: Arc<Shared<T, E>>, deadline: Deadline) {
    let expiry = pin!(tokio::time::sleep_until(deadline.at));
    if let Either::Left(_) = select(expiry, pin!(shared.token.cancelled())).await {
        shared.token.cancel(deadline.reason());
    }
    shared.reap().await;
}

impl<T, E> Shared<T, E> {
    /// The second phase of cancellation: after the grace period, aborts every
    /// child still running. Needs no timer when the grace is zero.
    async fn reap(&self) {
        if !self.grace.is_zero() {
            tokio::time::sleep(self.grace).await;
        }
        self.abort_all();
    }

    /// Stops every child at its next await, and every child that starts
    /// from now on before its first poll.
    fn abort_all(&self) {
        self.children.abort_all();
    }
}

impl<T, E> Drop for Scope<T, E> {
    fn drop(&mut self) {
        if let Some(watchdog) = self.watchdog.take() {
            watchdog.abort();
        }
        if self.joined {
            return;
        }
        let shared = &self.handle.shared;
        shared.token.cancel(CancelReason::ScopeDropped {
            scope: shared.name.clone(),
        });
        shared.ledger.close();
        shared.abort_all();
    }
}

impl<T, E> ScopeHandle<T, E>
where
    T: Send + 'static,
    E: Send + 'static,
{
    /// As [`Scope::spawn`].
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future while it waits for a slot gives up
    /// its place in line and starts nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let scope = herd::task::Scope::<u8, ()>::new();
    /// assert_eq!(scope.handle().spawn(async { Ok(9) }).await, Ok(0));
    /// assert_eq!(scope.join().await, Ok(vec![9]));
    /// # }
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, fut: F) -> impl Future<Output = Result<usize, SpawnError>> + '_
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        let at = Location::caller();
        async move {
            let permit = self.acquire_slot().await?;
            self.start(None, fut, permit, at)
        }
    }

    /// As [`Scope::spawn_named`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let scope = herd::task::Scope::<u8, ()>::new();
    /// scope.handle().spawn_named("nine", async { Ok(9) }).await.unwrap();
    /// assert_eq!(scope.join().await, Ok(vec![9]));
    /// # }
    /// ```
    #[track_caller]
    pub fn spawn_named<F>(
        &self,
        name: impl Into<Arc<str>>,
        fut: F,
    ) -> impl Future<Output = Result<usize, SpawnError>> + '_
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        let (at, name) = (Location::caller(), name.into());
        async move {
            let permit = self.acquire_slot().await?;
            self.start(Some(name), fut, permit, at)
        }
    }

    /// As [`Scope::try_spawn`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let scope = herd::task::Scope::<u8, ()>::new();
    /// assert_eq!(scope.handle().try_spawn(async { Ok(9) }), Ok(0));
    /// # }
    /// ```
    #[track_caller]
    pub fn try_spawn<F>(&self, fut: F) -> Result<usize, SpawnError>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        let permit = self.try_acquire_slot()?;
        self.start(None, fut, permit, Location::caller())
    }

    /// As [`Scope::try_spawn_named`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let scope = herd::task::Scope::<u8, ()>::new();
    /// assert_eq!(scope.handle().try_spawn_named("nine", async { Ok(9) }), Ok(0));
    /// # }
    /// ```
    #[track_caller]
    pub fn try_spawn_named<F>(&self, name: impl Into<Arc<str>>, fut: F) -> Result<usize, SpawnError>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        let permit = self.try_acquire_slot()?;
        self.start(Some(name.into()), fut, permit, Location::caller())
    }

    /// The scope's cancellation token.
    ///
    /// # Examples
    ///
    /// ```
    /// let scope = herd::task::Scope::<(), ()>::new();
    /// scope.handle().token().cancel("from a handle");
    /// assert!(scope.token().is_cancelled());
    /// ```
    pub fn token(&self) -> &CancelToken {
        &self.shared.token
    }

    async fn acquire_slot(&self) -> Result<Option<OwnedPermit>, SpawnError> {
        let shared = &self.shared;
        if let Some(reason) = shared.token.reason() {
            return Err(SpawnError::Cancelled(reason));
        }
        let Some((_, semaphore)) = &shared.limit else {
            return Ok(None);
        };
        // A free slot is taken without touching the token's lock.
        if let Ok(permit) = semaphore.clone().try_acquire_owned() {
            return Ok(Some(permit));
        }
        let acquire = semaphore.clone().acquire_owned();
        match select(pin!(acquire), pin!(shared.token.cancelled())).await {
            Either::Left((permit, _)) => {
                Ok(Some(permit.expect("the scope never closes its limit")))
            }
            Either::Right((reason, _)) => Err(SpawnError::Cancelled(reason)),
        }
    }

    fn try_acquire_slot(&self) -> Result<Option<OwnedPermit>, SpawnError> {
        let shared = &self.shared;
        if let Some(reason) = shared.token.reason() {
            return Err(SpawnError::Cancelled(reason));
        }
        match &shared.limit {
            None => Ok(None),
            Some((limit, semaphore)) => match semaphore.clone().try_acquire_owned() {
                Ok(permit) => Ok(Some(permit)),
                Err(_) => Err(SpawnError::AtCapacity { limit: *limit }),
            },
        }
    }

    fn start<F>(
        &self,
        name: Option<Arc<str>>,
        fut: F,
        permit: Option<OwnedPermit>,
        at: &'static Location<'static>,
    ) -> Result<usize, SpawnError>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        let shared = &self.shared;
        // The scope may have been cancelled while this spawn waited for a slot.
        if let Some(reason) = shared.token.reason() {
            return Err(SpawnError::Cancelled(reason));
        }
        let index = shared.ledger.reserve().ok_or(SpawnError::Closed)?;
        let watched = diag::on().then(|| diag::task(name.as_deref(), shared.name.as_deref(), at));
        let report = Report {
            shared: shared.clone(),
            task: TaskId::new(index, name),
            permit,
            done: false,
        };
        let child = tokio::spawn(Traced::new(watched, async move {
            let outcome = AssertUnwindSafe(fut).catch_unwind().await;
            report.finish(outcome);
        }));
        shared.children.push(child);
        Ok(index)
    }
}

/// Carried by every child: records its outcome exactly once, whether it
/// finishes, panics, or is dropped (aborted, or its runtime shut down).
struct Report<T: Send + 'static, E: Send + 'static> {
    shared: Arc<Shared<T, E>>,
    task: TaskId,
    permit: Option<OwnedPermit>,
    done: bool,
}

impl<T: Send + 'static, E: Send + 'static> Report<T, E> {
    fn finish(mut self, outcome: std::thread::Result<Result<T, E>>) {
        let outcome = TaskError::settle(self.task.clone(), outcome);
        let failed = outcome.is_err();
        self.record(outcome, failed);
    }

    /// `failed`: the child failed or panicked, as opposed to being stopped.
    fn record(&mut self, outcome: Outcome<T, E>, failed: bool) {
        self.done = true;
        // Free the slot before anything else, so a waiting spawn starts promptly.
        drop(self.permit.take());
        let shared = &self.shared;
        let (root, reap) = match (failed, shared.policy) {
            (false, _) => (false, false),
            (true, Policy::FailFast) => {
                let first = shared.token.cancel(CancelReason::SiblingFailed {
                    task: self.task.clone(),
                });
                (first, first)
            }
            (true, Policy::Supervise) => (!shared.token.is_cancelled(), false),
        };
        shared.ledger.finish(self.task.index(), outcome, root);
        if reap {
            // Stop the siblings now, not when the owner gets to `join`.
            if shared.grace.is_zero() {
                shared.abort_all();
            } else {
                let shared = shared.clone();
                tokio::spawn(async move { shared.reap().await });
            }
        }
    }
}

impl<T: Send + 'static, E: Send + 'static> Drop for Report<T, E> {
    fn drop(&mut self) {
        if !self.done {
            let reason = self
                .shared
                .token
                .reason()
                .unwrap_or(CancelReason::RuntimeShutdown);
            let outcome = Err(TaskError::stopped(self.task.clone(), reason));
            self.record(outcome, false);
        }
    }
}

impl<T, E> fmt::Debug for Scope<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.handle.shared;
        f.debug_struct("Scope")
            .field("name", &shared.name)
            .field("policy", &shared.policy)
            .field("limit", &shared.limit.as_ref().map(|(limit, _)| limit))
            .field("token", &shared.token)
            .finish_non_exhaustive()
    }
}

impl<T, E> fmt::Debug for ScopeHandle<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeHandle")
            .field("name", &self.shared.name)
            .finish_non_exhaustive()
    }
}

impl ChildHandle for JoinHandle<()> {
    fn abort(&self) {
        JoinHandle::abort(self);
    }

    fn is_finished(&self) -> bool {
        JoinHandle::is_finished(self)
    }
}
