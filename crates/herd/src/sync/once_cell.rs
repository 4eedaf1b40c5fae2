//! `OnceCell`: a value set once, by exactly one initialiser, async or not.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, OnceLock};

use super::permits::infallible;
use super::{Resource, Semaphore};

/// A value initialised at most once, by the first caller that needs it.
///
/// Under contention exactly one initialiser runs; the others wait for its
/// value. If it fails, panics or is cancelled, nothing is stored and the
/// next waiting caller runs its own initialiser. After that, reading the
/// value is one atomic load.
///
/// When to use something else: a value computable without `.await` and
/// without failure can use `std::sync::OnceLock` or `LazyLock`; a cache of
/// many keys wants one cell per key, so keys never wait on each other.
///
/// # Examples
///
/// A connection made once, shared by every task:
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// let connects = Arc::new(AtomicUsize::new(0));
/// let conn = Arc::new(herd::sync::OnceCell::named("db connection"));
/// let tasks: Vec<_> = (0..8)
///     .map(|_| {
///         let (conn, connects) = (conn.clone(), connects.clone());
///         tokio::spawn(async move {
///             *conn
///                 .get_or_init(|| async move {
///                     connects.fetch_add(1, Ordering::SeqCst);
///                     42
///                 })
///                 .await
///         })
///     })
///     .collect();
/// for task in tasks {
///     assert_eq!(task.await.unwrap(), 42);
/// }
/// assert_eq!(connects.load(Ordering::SeqCst), 1);
/// # }
/// ```
pub struct OnceCell<T> {
    value: OnceLock<T>,
    /// One permit: held by the caller running its initialiser.
    init: Semaphore,
}

impl<T> OnceCell<T> {
    /// An empty cell.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::sync::OnceCell::<u8>::new().get(), None);
    /// ```
    pub fn new() -> OnceCell<T> {
        OnceCell {
            value: OnceLock::new(),
            init: Semaphore::of(Resource::new("OnceCell", None), 1),
        }
    }

    /// An empty cell with a name, which errors and diagnostics report
    /// (waiting initialisers wait on it).
    ///
    /// # Examples
    ///
    /// ```
    /// let cell = herd::sync::OnceCell::<u8>::named("config");
    /// assert_eq!(cell.resource().name(), Some("config"));
    /// ```
    pub fn named(name: impl Into<Arc<str>>) -> OnceCell<T> {
        OnceCell {
            value: OnceLock::new(),
            init: Semaphore::of(Resource::new("OnceCell", Some(name.into())), 1),
        }
    }

    /// What errors and diagnostics call this cell.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::sync::OnceCell::<u8>::new().resource().kind(), "OnceCell");
    /// ```
    pub fn resource(&self) -> &Resource {
        self.init.resource()
    }

    /// The value, if it is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let cell = herd::sync::OnceCell::new();
    /// cell.set(3).unwrap();
    /// assert_eq!(cell.get(), Some(&3));
    /// ```
    pub fn get(&self) -> Option<&T> {
        self.value.get()
    }

    /// Sets the value if it is not set yet.
    ///
    /// # Errors
    ///
    /// Gives `value` back if the cell was already set.
    ///
    /// # Examples
    ///
    /// ```
    /// let cell = herd::sync::OnceCell::new();
    /// assert_eq!(cell.set(1), Ok(()));
    /// assert_eq!(cell.set(2), Err(2));
    /// ```
    pub fn set(&self, value: T) -> Result<(), T> {
        self.value.set(value)
    }

    /// The value, running `init` to make it if the cell is empty. Exactly
    /// one caller's `init` runs at a time; the others wait and then read
    /// its value.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future while `init` runs drops `init`; the next waiting
    /// caller then runs its own. Dropping it while waiting gives up the
    /// place in line.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let cell = herd::sync::OnceCell::new();
    /// assert_eq!(*cell.get_or_init(|| async { 1 }).await, 1);
    /// assert_eq!(*cell.get_or_init(|| async { 2 }).await, 1, "set once");
    /// # }
    /// ```
    pub async fn get_or_init<F, Fut>(&self, init: F) -> &T
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        match self
            .get_or_try_init(|| async { Ok::<T, std::convert::Infallible>(init().await) })
            .await
        {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }

    /// The value, running the fallible `init` to make it if the cell is
    /// empty. On `Err` nothing is stored and the error is returned; the
    /// next caller tries again.
    ///
    /// # Errors
    ///
    /// The error of this caller's `init`, if it ran and failed.
    ///
    /// # Cancel safety
    ///
    /// As [`get_or_init`](OnceCell::get_or_init).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let cell = herd::sync::OnceCell::new();
    /// assert_eq!(cell.get_or_try_init(|| async { Err("down") }).await, Err("down"));
    /// assert_eq!(cell.get(), None, "a failure stores nothing");
    /// assert_eq!(cell.get_or_try_init(|| async { Ok::<_, &str>(5) }).await, Ok(&5));
    /// # }
    /// ```
    pub async fn get_or_try_init<E, F, Fut>(&self, init: F) -> Result<&T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(value) = self.value.get() {
            return Ok(value);
        }
        let _turn = infallible(self.init.acquire().await);
        if let Some(value) = self.value.get() {
            return Ok(value);
        }
        let value = init().await?;
        Ok(self.store(value))
    }

    /// The value, running `init` on this thread to make it if the cell is
    /// empty. For threads, not async code.
    ///
    /// # Examples
    ///
    /// ```
    /// let cell = herd::sync::OnceCell::new();
    /// assert_eq!(*cell.get_or_init_blocking(|| "made"), "made");
    /// ```
    pub fn get_or_init_blocking(&self, init: impl FnOnce() -> T) -> &T {
        if let Some(value) = self.value.get() {
            return value;
        }
        let _turn = infallible(self.init.acquire_blocking());
        if let Some(value) = self.value.get() {
            return value;
        }
        self.store(init())
    }

    /// The value, taking the cell apart.
    ///
    /// # Examples
    ///
    /// ```
    /// let cell = herd::sync::OnceCell::new();
    /// cell.set("x").unwrap();
    /// assert_eq!(cell.into_inner(), Some("x"));
    /// ```
    pub fn into_inner(self) -> Option<T> {
        self.value.into_inner()
    }

    /// Stores the value made while holding the turn.
    fn store(&self, value: T) -> &T {
        // Only the holder of the turn initialises, but `set` may have
        // stored a value meanwhile; that one wins, as `set` documents.
        let _ = self.value.set(value);
        self.value.get().expect("set just now")
    }
}

impl<T> Default for OnceCell<T> {
    fn default() -> Self {
        OnceCell::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnceCell")
            .field("value", &self.value.get())
            .finish()
    }
}
