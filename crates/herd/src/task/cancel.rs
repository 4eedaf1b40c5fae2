//! `CancelToken`: a tree of cancellation flags that carry a reason.

use std::fmt;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_util::future::{Either, select};
use slab::Slab;
use tokio::time::Instant;

use super::TaskId;
use crate::loom::atomic::{AtomicBool, Ordering};
use crate::loom::{Mutex, lock};

/// Why a [`CancelToken`] was cancelled.
///
/// Every observer of a token, and every token below it in the tree, reads the
/// same reason: the root cause, not the path it took to get there.
///
/// # Examples
///
/// ```
/// use herd::task::{CancelReason, CancelToken};
///
/// let token = CancelToken::new();
/// token.cancel("user pressed stop");
/// assert_eq!(token.reason(), Some(CancelReason::from("user pressed stop")));
/// assert_eq!(token.reason().unwrap().to_string(), "cancelled: user pressed stop");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelReason {
    /// [`CancelToken::cancel`] was called with this message.
    Requested(Arc<str>),
    /// The deadline of a scope passed.
    DeadlineExceeded {
        /// The name of the scope whose deadline it was, if it had one.
        scope: Option<Arc<str>>,
        /// When the deadline was.
        deadline: Instant,
    },
    /// A sibling in a fail-fast scope failed or panicked.
    SiblingFailed {
        /// The child whose failure cancelled the scope.
        task: TaskId,
    },
    /// The scope was dropped before it finished.
    ScopeDropped {
        /// The name of the dropped scope, if it had one.
        scope: Option<Arc<str>>,
    },
    /// The tokio runtime shut down while the task was running.
    RuntimeShutdown,
}

impl From<&str> for CancelReason {
    fn from(message: &str) -> Self {
        CancelReason::Requested(message.into())
    }
}

impl From<String> for CancelReason {
    fn from(message: String) -> Self {
        CancelReason::Requested(message.into())
    }
}

impl fmt::Display for CancelReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CancelReason::Requested(message) => write!(f, "cancelled: {message}"),
            CancelReason::DeadlineExceeded {
                scope: Some(scope), ..
            } => {
                write!(f, "deadline of scope \"{scope}\" exceeded")
            }
            CancelReason::DeadlineExceeded { scope: None, .. } => {
                write!(f, "deadline of scope exceeded")
            }
            CancelReason::SiblingFailed { task } => write!(f, "cancelled because {task} failed"),
            CancelReason::ScopeDropped { scope: Some(scope) } => {
                write!(f, "scope \"{scope}\" was dropped before it finished")
            }
            CancelReason::ScopeDropped { scope: None } => {
                write!(f, "scope was dropped before it finished")
            }
            CancelReason::RuntimeShutdown => write!(f, "the runtime shut down"),
        }
    }
}

/// A cancellation flag shared by a tree of tasks, with the reason attached.
///
/// Cloning a token gives another handle to the same flag. [`child`] makes a
/// new token below this one: cancelling a parent cancels every descendant,
/// with the parent's reason; cancelling a child never touches its parent or
/// siblings. A dropped child unlinks itself from its parent, so a long-lived
/// parent does not accumulate dead children.
///
/// Cancellation is cooperative: a token changes nothing by itself. Work
/// observes it with [`is_cancelled`], [`cancelled`] or
/// [`run_until_cancelled`]. A [`Scope`](super::Scope) hands its token to its
/// children and, after its grace period, aborts the ones that did not stop.
///
/// A token may carry a deadline, set by the [`Scope`](super::Scope) that owns
/// it and inherited (as the earliest) by every token below;
/// [`remaining`](CancelToken::remaining) tells work how much time it has.
///
/// [`child`]: CancelToken::child
/// [`is_cancelled`]: CancelToken::is_cancelled
/// [`cancelled`]: CancelToken::cancelled
/// [`run_until_cancelled`]: CancelToken::run_until_cancelled
///
/// # Examples
///
/// ```
/// use herd::task::CancelToken;
///
/// let parent = CancelToken::new();
/// let child = parent.child();
/// child.cancel("only the child");
/// assert!(child.is_cancelled());
/// assert!(!parent.is_cancelled());
///
/// let other = parent.child();
/// parent.cancel("everything");
/// assert_eq!(other.reason().unwrap().to_string(), "cancelled: everything");
/// ```
#[derive(Clone)]
pub struct CancelToken {
    node: Arc<Node>,
}

struct Node {
    /// Set once, when `reason` is set; read without the lock on hot paths.
    cancelled: AtomicBool,
    deadline: Option<Deadline>,
    parent: Option<Arc<Node>>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    reason: Option<CancelReason>,
    /// Live children; each removes its own entry when dropped.
    children: Slab<Weak<Node>>,
    /// Our key in `parent.state.children`.
    key_in_parent: Option<usize>,
    waiters: Slab<Waker>,
}

/// A deadline and the scope that set it, so every scope below that enforces
/// it gives the same reason.
#[derive(Clone, Debug)]
pub(crate) struct Deadline {
    pub(crate) at: Instant,
    pub(crate) scope: Option<Arc<str>>,
}

impl Deadline {
    pub(crate) fn reason(&self) -> CancelReason {
        CancelReason::DeadlineExceeded {
            scope: self.scope.clone(),
            deadline: self.at,
        }
    }
}

impl Node {
    fn new(parent: Option<Arc<Node>>, deadline: Option<Deadline>) -> Node {
        Node {
            cancelled: AtomicBool::new(false),
            deadline,
            parent,
            state: Mutex::new(State::default()),
        }
    }

    /// Sets the reason unless one is set, wakes every waiter, and returns
    /// the children to cancel next. Holds only this node's lock, and wakes
    /// nothing while holding it.
    fn set_reason(&self, reason: &CancelReason) -> Option<Slab<Weak<Node>>> {
        let (waiters, children) = {
            let mut state = lock(&self.state);
            if state.reason.is_some() {
                return None;
            }
            state.reason = Some(reason.clone());
            self.cancelled.store(true, Ordering::Release);
            (
                std::mem::take(&mut state.waiters),
                std::mem::take(&mut state.children),
            )
        };
        for (_, waker) in waiters {
            waker.wake();
        }
        Some(children)
    }

    /// Cancels this node and everything below it with `reason`. Walks the
    /// tree with a work list, not recursion, so no depth overflows the stack;
    /// one node's lock at a time, so it cannot deadlock with a child being
    /// dropped.
    fn cancel(&self, reason: &CancelReason) -> bool {
        let Some(children) = self.set_reason(reason) else {
            return false;
        };
        let mut pending: Vec<Arc<Node>> = Vec::new();
        pending.extend(
            children
                .into_iter()
                .filter_map(|(_, child)| child.upgrade()),
        );
        while let Some(node) = pending.pop() {
            if let Some(children) = node.set_reason(reason) {
                pending.extend(
                    children
                        .into_iter()
                        .filter_map(|(_, child)| child.upgrade()),
                );
            }
        }
        true
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // Unlink from the parent; if that was the parent's last reference,
        // unlink and free it here too, in a loop rather than by recursion,
        // so dropping a long chain cannot overflow the stack.
        let mut key = lock(&self.state).key_in_parent;
        let mut parent = self.parent.take();
        while let Some(node) = parent {
            if let Some(key) = key {
                // A cancelled parent has already taken its children, and
                // nothing is inserted after that: the key names no one else.
                lock(&node.state).children.try_remove(key);
            }
            (key, parent) = match Arc::try_unwrap(node) {
                Ok(mut node) => (lock(&node.state).key_in_parent, node.parent.take()),
                Err(_) => (None, None),
            };
        }
    }
}

impl Default for CancelToken {
    fn default() -> Self {
        CancelToken::new()
    }
}

impl CancelToken {
    /// Creates a root token: not cancelled, no deadline.
    ///
    /// # Examples
    ///
    /// ```
    /// let token = herd::task::CancelToken::new();
    /// assert!(!token.is_cancelled());
    /// assert_eq!(token.deadline(), None);
    /// ```
    pub fn new() -> CancelToken {
        CancelToken {
            node: Arc::new(Node::new(None, None)),
        }
    }

    /// A root token with a deadline, for a scope that has no parent.
    pub(crate) fn root(deadline: Option<Deadline>) -> CancelToken {
        CancelToken {
            node: Arc::new(Node::new(None, deadline)),
        }
    }

    /// Creates a token below this one. It is cancelled when this one is (at
    /// once, if this one already is), and inherits this one's deadline.
    ///
    /// # Examples
    ///
    /// ```
    /// let parent = herd::task::CancelToken::new();
    /// parent.cancel("done");
    /// assert!(parent.child().is_cancelled());
    /// ```
    pub fn child(&self) -> CancelToken {
        self.child_with_deadline(None)
    }

    /// Creates a child whose deadline is the earlier of `deadline` and this
    /// token's own. Only a scope sets deadlines: it is also what enforces them.
    pub(crate) fn child_with_deadline(&self, deadline: Option<Deadline>) -> CancelToken {
        let deadline = match (&self.node.deadline, deadline) {
            (Some(inherited), Some(own)) if inherited.at <= own.at => Some(inherited.clone()),
            (inherited, own) => own.or_else(|| inherited.clone()),
        };
        let child = Arc::new(Node::new(Some(self.node.clone()), deadline));
        let slot = {
            let mut parent = lock(&self.node.state);
            match &parent.reason {
                Some(reason) => Err(reason.clone()),
                None => Ok(parent.children.insert(Arc::downgrade(&child))),
            }
        };
        match slot {
            Ok(key) => lock(&child.state).key_in_parent = Some(key),
            Err(reason) => {
                child.cancel(&reason);
            }
        }
        CancelToken { node: child }
    }

    /// Cancels this token and every token below it, with `reason`.
    ///
    /// Returns `true` if this call cancelled the token, `false` if it was
    /// already cancelled; the first reason stays.
    ///
    /// # Examples
    ///
    /// ```
    /// let token = herd::task::CancelToken::new();
    /// assert!(token.cancel("first"));
    /// assert!(!token.cancel("second"));
    /// assert_eq!(token.reason().unwrap().to_string(), "cancelled: first");
    /// ```
    pub fn cancel(&self, reason: impl Into<CancelReason>) -> bool {
        self.node.cancel(&reason.into())
    }

    /// Whether this token has been cancelled. One atomic load.
    ///
    /// # Examples
    ///
    /// ```
    /// let token = herd::task::CancelToken::new();
    /// assert!(!token.is_cancelled());
    /// token.clone().cancel("stop");
    /// assert!(token.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.node.cancelled.load(Ordering::Acquire)
    }

    /// Why this token was cancelled, or `None` if it has not been.
    ///
    /// # Examples
    ///
    /// ```
    /// let token = herd::task::CancelToken::new();
    /// assert_eq!(token.reason(), None);
    /// token.cancel("stop");
    /// assert!(token.reason().is_some());
    /// ```
    pub fn reason(&self) -> Option<CancelReason> {
        if !self.is_cancelled() {
            return None;
        }
        lock(&self.node.state).reason.clone()
    }

    /// The deadline the owning scope enforces on this token, if any: the
    /// earliest of its own and every ancestor's.
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
    /// assert!(scope.token().deadline().is_some());
    /// # }
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        self.node.deadline.as_ref().map(|deadline| deadline.at)
    }

    /// The deadline with the scope that set it.
    pub(crate) fn deadline_origin(&self) -> Option<&Deadline> {
        self.node.deadline.as_ref()
    }

    /// How long until [`deadline`](CancelToken::deadline), or `None` without
    /// one. Zero once it has passed. Use it to give a nested call the budget
    /// that is left rather than a fresh timeout.
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
    /// tokio::time::sleep(Duration::from_secs(2)).await;
    /// assert_eq!(scope.token().remaining(), Some(Duration::from_secs(3)));
    /// # }
    /// ```
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline()
            .map(|deadline| deadline.saturating_duration_since(Instant::now()))
    }

    /// Waits until this token is cancelled and returns the reason.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future unregisters its waker and changes
    /// nothing else.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let token = herd::task::CancelToken::new();
    /// let observer = token.clone();
    /// let waiting = tokio::spawn(async move { observer.cancelled().await });
    /// token.cancel("enough");
    /// assert_eq!(waiting.await.unwrap().to_string(), "cancelled: enough");
    /// # }
    /// ```
    pub fn cancelled(&self) -> Cancelled<'_> {
        Cancelled {
            node: &self.node,
            registered: None,
        }
    }

    /// Runs `fut` until it completes or this token is cancelled, whichever
    /// comes first. On cancellation `fut` is dropped and the reason returned.
    /// If both are ready at once, cancellation wins.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let token = herd::task::CancelToken::new();
    /// assert_eq!(token.run_until_cancelled(async { 7 }).await, Ok(7));
    ///
    /// token.cancel("stop");
    /// let never = std::future::pending::<()>();
    /// assert!(token.run_until_cancelled(never).await.is_err());
    /// # }
    /// ```
    pub async fn run_until_cancelled<F: Future>(&self, fut: F) -> Result<F::Output, CancelReason> {
        if let Some(reason) = self.reason() {
            return Err(reason);
        }
        match select(pin!(self.cancelled()), pin!(fut)).await {
            Either::Left((reason, _)) => Err(reason),
            Either::Right((output, _)) => Ok(output),
        }
    }
}

impl fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelToken")
            .field("reason", &self.reason())
            .field("deadline", &self.deadline())
            .finish()
    }
}

/// The future returned by [`CancelToken::cancelled`].
///
/// # Cancel safety
///
/// Cancel-safe: dropping it unregisters its waker and changes nothing else.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let token = herd::task::CancelToken::new();
/// let waiting: herd::task::Cancelled<'_> = token.cancelled();
/// token.cancel("done");
/// assert_eq!(waiting.await.to_string(), "cancelled: done");
/// # }
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Cancelled<'a> {
    node: &'a Node,
    /// Our place in the node's waiter list, and the waker left there.
    registered: Option<(usize, Waker)>,
}

impl Future for Cancelled<'_> {
    type Output = CancelReason;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<CancelReason> {
        let this = self.get_mut();
        // Polled again by the same task and not cancelled: the waker we
        // left is still the right one, and the lock is not needed. `cancel`
        // sets the flag before it wakes, so a wake is never missed.
        if let Some((_, waker)) = &this.registered
            && waker.will_wake(cx.waker())
            && !this.node.cancelled.load(Ordering::Acquire)
        {
            return Poll::Pending;
        }
        let mut state = lock(&this.node.state);
        if let Some(reason) = &state.reason {
            // The waiter list was taken by `cancel`; our key is gone with it.
            this.registered = None;
            return Poll::Ready(reason.clone());
        }
        match &mut this.registered {
            Some((key, waker)) => {
                waker.clone_from(cx.waker());
                state.waiters[*key].clone_from(cx.waker());
            }
            None => {
                let key = state.waiters.insert(cx.waker().clone());
                this.registered = Some((key, cx.waker().clone()));
            }
        }
        Poll::Pending
    }
}

impl Drop for Cancelled<'_> {
    fn drop(&mut self) {
        if let Some((key, _)) = self.registered {
            let mut state = lock(&self.node.state);
            if state.reason.is_none() {
                state.waiters.remove(key);
            }
        }
    }
}

impl fmt::Debug for Cancelled<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancelled").finish_non_exhaustive()
    }
}
