//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test file uses its own subset

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

pub const HOUR: Duration = Duration::from_secs(3600);

/// Counts its drops: proof that a cancelled future was dropped.
pub struct DropGuard(pub Arc<AtomicUsize>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A child that holds `guard` and sleeps for an hour: it ends early only by
/// being cancelled, and its guard says when it was dropped.
pub async fn stuck<E>(guard: DropGuard) -> Result<(), E> {
    let _guard = guard;
    hang().await
}

/// A child that sleeps for an hour: it ends early only by being cancelled.
pub async fn hang<E>() -> Result<(), E> {
    tokio::time::sleep(HOUR).await;
    Ok(())
}

/// Tracks how many tasks run at once and the most that ever did.
#[derive(Default)]
pub struct Gauge {
    pub now: AtomicUsize,
    pub max: AtomicUsize,
}

impl Gauge {
    pub fn enter(&self) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
    }

    pub fn leave(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs a test with herd's diagnostics on, and fails it if they reported a
/// deadlock or a lock-order problem: stress tests take locks in a safe
/// order, so any such report is a false positive.
pub struct Watched;

impl Watched {
    pub fn start() -> Watched {
        herd::diag::enable();
        Watched
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let false_alarms: Vec<_> = herd::diag::recent()
            .into_iter()
            .filter(|r| {
                matches!(
                    r,
                    herd::diag::Report::Deadlock(_) | herd::diag::Report::LockOrder(_)
                )
            })
            .collect();
        assert!(false_alarms.is_empty(), "{false_alarms:#?}");
    }
}

/// Spawns a task on the current thread that raises a flag when it first
/// runs; the flag tells a loop on the same thread whether it yielded.
pub fn flag_raised_by_another_task() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let raise = flag.clone();
    tokio::spawn(async move { raise.store(true, Ordering::SeqCst) });
    flag
}

/// Polls `fut` once after spending what is left of the task's tokio
/// budget in this poll; whether it returned `Pending`.
pub async fn pending_at_a_spent_budget<F: std::future::Future + Unpin>(fut: &mut F) -> bool {
    std::future::poll_fn(|cx| {
        while let std::task::Poll::Ready(unit) = tokio::task::coop::poll_proceed(cx) {
            unit.made_progress();
        }
        std::task::Poll::Ready(std::pin::Pin::new(&mut *fut).poll(cx).is_pending())
    })
    .await
}
