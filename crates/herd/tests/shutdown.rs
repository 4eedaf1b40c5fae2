//! `herd::shutdown`: the four steps on the paused clock, and real signals.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{DropGuard, HOUR};
use herd::pool::WorkerPool;
use herd::shutdown::Shutdown;
use tokio::time::{Instant, sleep};

const SEC: Duration = Duration::from_secs(1);

#[tokio::test(start_paused = true)]
async fn work_that_ends_within_the_grace_is_not_cancelled() {
    let shutdown = Shutdown::new();
    let pool = WorkerPool::builder()
        .workers(2)
        .parent(shutdown.force_token())
        .build();
    let mut jobs = Vec::new();
    for n in 0..6u64 {
        let job = async move {
            sleep(SEC * n as u32).await;
            Ok::<_, ()>(n)
        };
        jobs.push(pool.submit(job).await.unwrap());
    }
    shutdown.trigger("deploy");
    let report = shutdown
        .drain(Duration::from_secs(30), async {
            pool.shutdown(Duration::MAX).await;
        })
        .await;
    assert!(report.drained);
    assert_eq!(report.forced, None);
    assert_eq!(report.reason.unwrap().to_string(), "cancelled: deploy");
    for (n, job) in jobs.into_iter().enumerate() {
        assert_eq!(job.await, Ok(n as u64));
    }
}

#[tokio::test(start_paused = true)]
async fn past_the_grace_in_flight_work_is_cancelled_through_the_force_token() {
    let shutdown = Shutdown::new();
    let pool = WorkerPool::builder()
        .workers(2)
        .parent(shutdown.force_token())
        .build();
    let drops = Arc::new(AtomicUsize::new(0));
    let mut jobs = Vec::new();
    for _ in 0..4 {
        let guard = DropGuard(drops.clone());
        let job = async move {
            let _guard = guard;
            sleep(HOUR).await;
            Ok::<_, ()>(())
        };
        jobs.push(pool.submit(job).await.unwrap());
    }
    let start = Instant::now();
    let report = shutdown
        .drain(Duration::from_secs(10), async {
            pool.shutdown(Duration::MAX).await;
        })
        .await;
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    assert!(!report.drained && !report.abandoned);
    assert_eq!(
        report.forced.unwrap().to_string(),
        "cancelled: the shutdown grace of 10s ran out"
    );
    assert_eq!(drops.load(Ordering::SeqCst), 4);
    for job in jobs {
        assert!(job.await.unwrap_err().is_cancelled());
    }
}

#[tokio::test(start_paused = true)]
async fn work_that_ignores_cancellation_is_abandoned_at_twice_the_grace() {
    let shutdown = Shutdown::new();
    let report = shutdown.drain(SEC, sleep(HOUR)).await;
    assert!(report.abandoned);
    assert_eq!(report.took, 2 * SEC);
}

#[tokio::test(start_paused = true)]
async fn force_skips_the_rest_of_the_grace() {
    let shutdown = Shutdown::new();
    let forcer = shutdown.clone();
    tokio::spawn(async move {
        sleep(SEC).await;
        forcer.force("second Ctrl-C");
    });
    let force = shutdown.force_token().clone();
    let report = shutdown
        .drain(HOUR, async move {
            force.cancelled().await;
        })
        .await;
    assert_eq!(report.took, SEC);
    assert_eq!(
        report.forced.unwrap().to_string(),
        "cancelled: second Ctrl-C"
    );
}

#[tokio::test(start_paused = true)]
async fn cleanups_run_after_the_work_last_first() {
    let shutdown = Shutdown::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    for step in ["close db", "flush log"] {
        let log = log.clone();
        shutdown.on_cleanup(move || async move { log.lock().unwrap().push(step) });
    }
    let work_log = log.clone();
    shutdown
        .drain(
            SEC,
            async move { work_log.lock().unwrap().push("work done") },
        )
        .await;
    assert_eq!(*log.lock().unwrap(), ["work done", "flush log", "close db"]);
}

/// Real signals to this test process: the first begins shutdown, the
/// second forces it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_begins_shutdown_and_a_second_signal_forces_it() {
    let shutdown = Shutdown::with_signals();
    // SAFETY: plain signals to this process, whose handlers tokio installed.
    unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
    let reason = tokio::time::timeout(Duration::from_secs(10), shutdown.triggered()).await;
    assert_eq!(reason.unwrap().to_string(), "cancelled: SIGTERM received");
    assert!(!shutdown.force_token().is_cancelled());
    unsafe { libc::kill(libc::getpid(), libc::SIGINT) };
    let forced =
        tokio::time::timeout(Duration::from_secs(10), shutdown.force_token().cancelled()).await;
    assert_eq!(
        forced.unwrap().to_string(),
        "cancelled: a second signal (SIGINT) received"
    );
}
