//! `Barrier`: n parties wait until all have arrived, then go on together.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::line::{Line, Wake, Wakes, park};
use super::{AcquireError, Resource};
use crate::loom::{Mutex, lock};

/// A meeting point for `n` tasks or threads: each [`wait`](Barrier::wait)
/// blocks until `n` have arrived, then all go on, and the barrier is ready
/// for the next round. One of each round is told it is the leader.
///
/// Unlike tokio's, waiting is cancel-safe: a waiter that gives up (dropped,
/// or timed out) leaves the round, which then needs another arrival.
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// use std::sync::Arc;
///
/// let start = Arc::new(herd::sync::Barrier::new(3));
/// let runners: Vec<_> = (0..3)
///     .map(|_| {
///         let start = start.clone();
///         tokio::spawn(async move { start.wait().await.is_leader() })
///     })
///     .collect();
/// let mut leaders = 0;
/// for runner in runners {
///     leaders += usize::from(runner.await.unwrap());
/// }
/// assert_eq!(leaders, 1);
/// # }
/// ```
pub struct Barrier {
    parties: usize,
    round: Mutex<Round>,
    resource: Resource,
}

struct Round {
    arrived: usize,
    waiting: Line<Option<Wake>>,
}

/// What a waiter at a [`Barrier`] learns when its round completes.
///
/// # Examples
///
/// ```
/// let alone = herd::sync::Barrier::new(1);
/// assert!(alone.wait_blocking().is_leader());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BarrierResult {
    leader: bool,
}

impl BarrierResult {
    /// Whether this waiter completed the round (exactly one per round).
    ///
    /// # Examples
    ///
    /// ```
    /// let alone = herd::sync::Barrier::new(1);
    /// assert!(alone.wait_blocking().is_leader());
    /// ```
    pub fn is_leader(&self) -> bool {
        self.leader
    }
}

impl Barrier {
    /// A barrier for `parties` waiters.
    ///
    /// # Panics
    ///
    /// If `parties` is zero: nobody could ever complete a round.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::sync::Barrier::new(4).parties(), 4);
    /// ```
    pub fn new(parties: usize) -> Barrier {
        Barrier::build(None, parties)
    }

    /// A barrier with a name, which errors and diagnostics report.
    ///
    /// # Panics
    ///
    /// If `parties` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// let start = herd::sync::Barrier::named("start", 2);
    /// assert_eq!(start.resource().name(), Some("start"));
    /// ```
    pub fn named(name: impl Into<Arc<str>>, parties: usize) -> Barrier {
        Barrier::build(Some(name.into()), parties)
    }

    fn build(name: Option<Arc<str>>, parties: usize) -> Barrier {
        assert!(parties > 0, "a Barrier needs at least 1 party, got 0");
        Barrier {
            parties,
            round: Mutex::new(Round {
                arrived: 0,
                waiting: Line::new(),
            }),
            resource: Resource::new("Barrier", name),
        }
    }

    /// How many waiters complete a round.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::sync::Barrier::new(2).parties(), 2);
    /// ```
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// What errors and diagnostics call this barrier.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::sync::Barrier::new(1).resource().kind(), "Barrier");
    /// ```
    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// Arrives and waits for the rest of the round.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before the round completes takes back its
    /// arrival; the round then needs another.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let barrier = herd::sync::Barrier::new(1);
    /// assert!(barrier.wait().await.is_leader());
    /// # }
    /// ```
    pub fn wait(&self) -> BarrierWait<'_> {
        BarrierWait {
            barrier: self,
            key: None,
        }
    }

    /// Waits up to `timeout` for the round, on tokio's clock; on timeout
    /// the arrival is taken back.
    ///
    /// # Errors
    ///
    /// [`AcquireError::TimedOut`] naming this barrier.
    ///
    /// # Cancel safety
    ///
    /// As [`wait`](Barrier::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    ///
    /// let pair = herd::sync::Barrier::new(2);
    /// assert!(pair.wait_timeout(Duration::from_secs(1)).await.is_err());
    /// # }
    /// ```
    pub async fn wait_timeout(&self, timeout: Duration) -> Result<BarrierResult, AcquireError> {
        self.resource.within(timeout, self.wait()).await
    }

    /// Arrives and waits on this thread. For threads, not async code.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let barrier = Arc::new(herd::sync::Barrier::new(2));
    /// let other = std::thread::spawn({
    ///     let barrier = barrier.clone();
    ///     move || barrier.wait_blocking().is_leader()
    /// });
    /// let me = barrier.wait_blocking().is_leader();
    /// assert!(me ^ other.join().unwrap(), "exactly one leader");
    /// ```
    pub fn wait_blocking(&self) -> BarrierResult {
        self.block(None)
            .expect("a wait without a deadline ends only with its round")
    }

    /// Arrives and waits on this thread up to `timeout`; on timeout the
    /// arrival is taken back.
    ///
    /// # Errors
    ///
    /// [`AcquireError::TimedOut`] naming this barrier.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pair = herd::sync::Barrier::new(2);
    /// assert!(pair.wait_blocking_timeout(Duration::from_millis(10)).is_err());
    /// ```
    pub fn wait_blocking_timeout(&self, timeout: Duration) -> Result<BarrierResult, AcquireError> {
        self.block(Some(std::time::Instant::now() + timeout))
            .map_err(|()| self.resource.timed_out(timeout))
    }

    /// Arrives: completes the round (`Err` with the wakes of the others),
    /// or joins it (`Ok` with its place).
    fn arrive(&self, wake: Wake) -> Result<usize, Wakes> {
        let mut round = lock(&self.round);
        round.arrived += 1;
        if round.arrived < self.parties {
            return Ok(round.waiting.push_back(Some(wake)));
        }
        round.arrived = 0;
        let mut wakes = Wakes::default();
        round.waiting.drain(|wake| wakes.push(wake.take()));
        Err(wakes)
    }

    /// Leaves a round before it completed; `false` if it completed first.
    fn leave(&self, key: usize) -> bool {
        let mut round = lock(&self.round);
        let still_waiting = round.waiting.is_linked(key);
        round.waiting.remove(key);
        if still_waiting {
            round.arrived -= 1;
        }
        still_waiting
    }

    fn block(&self, deadline: Option<std::time::Instant>) -> Result<BarrierResult, ()> {
        let key = match self.arrive(Wake::this_thread()) {
            Ok(key) => key,
            Err(wakes) => {
                wakes.wake_all();
                return Ok(BarrierResult { leader: true });
            }
        };
        loop {
            {
                let mut round = lock(&self.round);
                if !round.waiting.is_linked(key) {
                    round.waiting.remove(key);
                    return Ok(BarrierResult { leader: false });
                }
            }
            if !park(deadline) {
                return if self.leave(key) {
                    Err(())
                } else {
                    Ok(BarrierResult { leader: false })
                };
            }
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("resource", &self.resource)
            .field("parties", &self.parties)
            .finish_non_exhaustive()
    }
}

/// The future of [`Barrier::wait`].
///
/// # Cancel safety
///
/// Dropping it before its round completes takes back its arrival.
/// # Examples
///
/// ```
/// use std::future::Future;
///
/// let pair = herd::sync::Barrier::new(2);
/// let mut first = pair.wait();
/// let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// assert!(std::pin::Pin::new(&mut first).poll(&mut cx).is_pending());
/// drop(first); // gives up: its arrival is taken back
/// let mut again = pair.wait();
/// assert!(std::pin::Pin::new(&mut again).poll(&mut cx).is_pending(), "one of two arrived");
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct BarrierWait<'a> {
    barrier: &'a Barrier,
    key: Option<usize>,
}

impl Future for BarrierWait<'_> {
    type Output = BarrierResult;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<BarrierResult> {
        let this = self.get_mut();
        let Some(key) = this.key else {
            return match this.barrier.arrive(Wake::Task(cx.waker().clone())) {
                Ok(key) => {
                    this.key = Some(key);
                    Poll::Pending
                }
                Err(wakes) => {
                    wakes.wake_all();
                    Poll::Ready(BarrierResult { leader: true })
                }
            };
        };
        let mut round = lock(&this.barrier.round);
        if round.waiting.is_linked(key) {
            Wake::update(round.waiting.get_mut(key), cx.waker());
            return Poll::Pending;
        }
        round.waiting.remove(key);
        this.key = None;
        Poll::Ready(BarrierResult { leader: false })
    }
}

impl Drop for BarrierWait<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            self.barrier.leave(key);
        }
    }
}

impl fmt::Debug for BarrierWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierWait").finish_non_exhaustive()
    }
}
