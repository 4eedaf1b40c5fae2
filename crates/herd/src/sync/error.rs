//! The one error every acquisition in `sync` returns, naming what failed.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// A lock, semaphore or other primitive, as errors and diagnostics name it:
/// its kind and the name it was given, if any.
///
/// # Examples
///
/// ```
/// let accounts = herd::sync::Mutex::named("accounts", 0);
/// assert_eq!(accounts.resource().to_string(), "Mutex \"accounts\"");
/// assert_eq!(herd::sync::Mutex::new(0).resource().to_string(), "a Mutex");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    kind: &'static str,
    name: Option<Arc<str>>,
    level: Option<u32>,
}

impl Resource {
    pub(crate) fn new(kind: &'static str, name: Option<Arc<str>>) -> Self {
        Resource {
            kind,
            name,
            level: None,
        }
    }

    pub(crate) fn set_level(&mut self, level: u32) {
        self.level = Some(level);
    }

    /// The lock-order level given with `with_level`, if any: while holding
    /// a resource with a level, diagnostics expect only higher levels to be
    /// taken.
    ///
    /// # Examples
    ///
    /// ```
    /// let accounts = herd::sync::Mutex::named("accounts", ()).with_level(2);
    /// assert_eq!(accounts.resource().level(), Some(2));
    /// assert_eq!(herd::sync::Mutex::new(()).resource().level(), None);
    /// ```
    pub fn level(&self) -> Option<u32> {
        self.level
    }

    /// The error of a wait on this resource that used up `waited`.
    pub(crate) fn timed_out(&self, waited: Duration) -> AcquireError {
        AcquireError::TimedOut {
            resource: self.clone(),
            waited,
        }
    }

    /// Runs a wait on this resource for at most `timeout` of tokio's clock;
    /// the one place every async `_timeout` form goes through.
    pub(crate) async fn within<F: Future>(
        &self,
        timeout: Duration,
        wait: F,
    ) -> Result<F::Output, AcquireError> {
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| self.timed_out(timeout))
    }

    /// `"Mutex"`, `"RwLock"`, `"Semaphore"`, ...
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::sync::Semaphore::new(1).resource().kind(), "Semaphore");
    /// ```
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The name given at construction, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = herd::sync::Semaphore::named("db", 4);
    /// assert_eq!(pool.resource().name(), Some("db"));
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{} \"{name}\"", self.kind),
            None => write!(f, "a {}", self.kind),
        }
    }
}

/// Why an acquisition did not get its lock or permits.
///
/// Every variant names the resource, so a timeout in a log says which lock
/// it was.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use herd::sync::{AcquireError, Mutex};
///
/// let accounts = Mutex::named("accounts", 0);
/// let _held = accounts.lock().await;
/// let err = accounts.lock_timeout(Duration::from_millis(50)).await.unwrap_err();
/// assert!(matches!(err, AcquireError::TimedOut { .. }));
/// assert_eq!(err.to_string(), "timed out after 50ms waiting for Mutex \"accounts\"");
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AcquireError {
    /// A `try_` form found the lock held, or too few permits, or others
    /// already waiting (they are served first).
    WouldBlock {
        /// What was asked.
        resource: Resource,
    },
    /// A `_timeout` form waited its whole budget.
    TimedOut {
        /// What was asked.
        resource: Resource,
        /// How long it waited.
        waited: Duration,
    },
    /// The semaphore was closed.
    Closed {
        /// What was asked.
        resource: Resource,
    },
    /// More permits were asked for than the semaphore has: the wait could
    /// never end, so it is refused at once.
    TooMany {
        /// What was asked.
        resource: Resource,
        /// Permits asked for.
        requested: usize,
        /// Permits the semaphore has.
        capacity: usize,
    },
    /// Waiting would have closed a cycle of waits that can never end;
    /// refused at once instead. Only while [diagnostics](crate::diag) are
    /// on.
    Deadlock {
        /// What was asked.
        resource: Resource,
        /// The cycle, naming every party and resource in it.
        deadlock: Arc<crate::diag::Deadlock>,
    },
}

impl AcquireError {
    /// The resource the acquisition was for.
    ///
    /// # Examples
    ///
    /// ```
    /// let gate = herd::sync::Semaphore::named("gate", 0);
    /// assert_eq!(gate.try_acquire().unwrap_err().resource().name(), Some("gate"));
    /// ```
    pub fn resource(&self) -> &Resource {
        match self {
            AcquireError::WouldBlock { resource }
            | AcquireError::TimedOut { resource, .. }
            | AcquireError::Closed { resource }
            | AcquireError::TooMany { resource, .. }
            | AcquireError::Deadlock { resource, .. } => resource,
        }
    }
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcquireError::WouldBlock { resource } => write!(f, "{resource} is not available now"),
            AcquireError::TimedOut { resource, waited } => {
                write!(f, "timed out after {waited:?} waiting for {resource}")
            }
            AcquireError::Closed { resource } => write!(f, "{resource} is closed"),
            AcquireError::TooMany {
                resource,
                requested,
                capacity,
            } => write!(
                f,
                "asked {resource} for {requested} permits; it has {capacity}"
            ),
            AcquireError::Deadlock { deadlock, .. } => deadlock.fmt(f),
        }
    }
}

impl std::error::Error for AcquireError {}
