//! The watchdog thread: advances the coarse clock, reports polls that run
//! too long and waits that last too long. And the loop-lag monitor, a task
//! that reports how late its periodic tick runs.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::actor::{self, tick};
use super::graph;
use super::report::{self, Lag, PartyKind, Report, SlowPoll, Stalled};
use super::{slow_poll, stalled_wait};

/// Starts the watchdog thread; called once, by the first `enable`.
pub(crate) fn start() {
    std::thread::Builder::new()
        .name("herd-diag".into())
        .spawn(run)
        .expect("could not start the herd-diag watchdog thread");
}

fn run() {
    // Per task: the poll count last seen odd, and when it was first seen.
    let mut polling: HashMap<u64, (u64, u64, bool)> = HashMap::new();
    loop {
        let threshold = slow_poll();
        // A quarter of the threshold: a poll longer than 1.25x it is always
        // caught.
        let period = (threshold / 4).clamp(Duration::from_millis(1), Duration::from_millis(50));
        std::thread::sleep(period);
        let now = tick();
        let threshold_ms = threshold.as_millis() as u64;
        let mut alive = HashMap::with_capacity(polling.len());
        for task in actor::actors() {
            if !task.alive.load(Ordering::Acquire) {
                // Ended, and its last hold released since (or racing
                // that release): forgotten once idle.
                actor::forget_if_idle(&task);
                continue;
            }
            if task.party.kind != PartyKind::Task {
                continue;
            }
            let polls = task.polls.load(Ordering::Relaxed);
            if polls % 2 == 0 {
                continue;
            }
            let (seen, since, reported) = match polling.get(&task.party.id) {
                Some(&(seen, since, reported)) if seen == polls => (seen, since, reported),
                _ => (polls, now.saturating_sub(period.as_millis() as u64), false),
            };
            let running = now.saturating_sub(since);
            let report = !reported && running >= threshold_ms;
            if report {
                report::emit(Report::SlowPoll(SlowPoll {
                    task: task.party.clone(),
                    running: Duration::from_millis(running),
                }));
            }
            alive.insert(task.party.id, (seen, since, reported || report));
        }
        polling = alive;
        for (waiter, tracked, at, since) in graph::stalled(stalled_wait()) {
            report::emit(Report::Stalled(Stalled {
                waiter: waiter.party.clone(),
                resource: tracked.resource.clone(),
                wait_at: at,
                waited: actor::since(since),
                holders: tracked.holdings(),
            }));
        }
    }
}

/// Reports each time a tick of `period` runs more than `threshold` late on
/// the current tokio runtime: a blocked worker delays every task on it,
/// this one included. Stops when dropped.
///
/// It measures wall-clock time, so it reports only while diagnostics are
/// on; on tokio's paused clock it sees no lag.
///
/// # Panics
///
/// Outside a tokio runtime, or if `period` is zero.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// use herd::diag::{self, Report};
///
/// diag::enable();
/// let _monitor = diag::watch_lag(Duration::from_millis(5), Duration::from_millis(50));
/// tokio::time::sleep(Duration::from_millis(10)).await;
/// std::thread::sleep(Duration::from_millis(200)); // blocks the only worker
/// tokio::time::sleep(Duration::from_millis(10)).await;
/// let lag = diag::recent().into_iter().find_map(|r| match r {
///     Report::Lag(lag) => Some(lag),
///     _ => None,
/// });
/// assert!(lag.unwrap().late >= Duration::from_millis(100));
/// # }
/// ```
pub fn watch_lag(period: Duration, threshold: Duration) -> LagMonitor {
    assert!(
        !period.is_zero(),
        "the lag monitor's period must not be zero"
    );
    let task = tokio::spawn(async move {
        loop {
            let start = std::time::Instant::now();
            tokio::time::sleep(period).await;
            let late = start.elapsed().saturating_sub(period);
            if late > threshold && super::is_enabled() {
                report::emit(Report::Lag(Lag { late, period }));
            }
        }
    });
    LagMonitor(task.abort_handle())
}

/// The loop-lag monitor started by [`watch_lag`]; dropping it stops it.
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// let monitor = herd::diag::watch_lag(
///     std::time::Duration::from_millis(10),
///     std::time::Duration::from_millis(20),
/// );
/// drop(monitor); // stops the ticking task
/// # }
/// ```
#[derive(Debug)]
pub struct LagMonitor(tokio::task::AbortHandle);

impl Drop for LagMonitor {
    fn drop(&mut self) {
        self.0.abort();
    }
}
