//! A producer-consumer pipeline with a graceful shutdown: a producer feeds
//! a bounded queue, four workers transform each item and pass it on, a
//! collector totals the results, and shutdown runs its four steps (stop
//! accepting, let in-flight work finish within a grace period, cancel what
//! is left, clean up). Every item produced is accounted for at the end.
//!
//! Run it with `cargo run --example pipeline`; Ctrl-C shuts it down early,
//! and the books still balance.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use herd::queue::{self, RecvError};
use herd::shutdown::Shutdown;
use herd::task::Scope;

/// Items the producer offers before it stops by itself (as if the input
/// ended); Ctrl-C stops it sooner.
const ITEMS: u64 = 2_000;

#[tokio::main]
async fn main() {
    let shutdown = Shutdown::with_signals();
    // Small queues: a slow stage holds the one before it back
    // (backpressure) instead of letting items pile up in memory.
    let (jobs, job_queue) = queue::bounded::<u64>(16);
    let (results, result_queue) = queue::bounded::<(usize, u64)>(16);
    let produced = Arc::new(AtomicU64::new(0));
    let done_by: Arc<Vec<AtomicU64>> = Arc::new((0..4).map(|_| AtomicU64::new(0)).collect());

    let scope = Scope::<(), String>::builder().name("pipeline").build();

    // Step one of shutdown, on the producer's side: stop accepting work.
    let stop = shutdown.token().clone();
    let counter = produced.clone();
    scope
        .spawn_named("producer", async move {
            for n in 1..=ITEMS {
                let sent = tokio::select! {
                    sent = jobs.send(n) => sent,
                    _ = stop.cancelled() => break,
                };
                sent.map_err(|e| format!("the workers are gone: {e}"))?;
                counter.fetch_add(1, Ordering::SeqCst);
            }
            // Dropping the last sender closes the queue: the workers drain
            // what is buffered, then see `Closed`.
            Ok(())
        })
        .await
        .expect("the scope is open");

    // Workers: each takes items until the queue is closed and drained.
    // A forced shutdown (the second Ctrl-C) cancels them mid-item.
    for worker in 0..4 {
        let (jobs, results, done_by) = (job_queue.clone(), results.clone(), done_by.clone());
        let force = shutdown.force_token().clone();
        scope
            .spawn_named(format!("worker-{worker}"), async move {
                loop {
                    let n = match jobs.recv().await {
                        Ok(n) => n,
                        Err(RecvError::Closed) => return Ok(()),
                        Err(other) => return Err(other.to_string()),
                    };
                    // Stand-in for real I/O: a short wait, then the answer.
                    let squared = force
                        .run_until_cancelled(async {
                            tokio::time::sleep(Duration::from_micros(200)).await;
                            n * n
                        })
                        .await
                        .map_err(|reason| reason.to_string())?;
                    results
                        .send((worker, squared))
                        .await
                        .map_err(|e| format!("the collector is gone: {e}"))?;
                    done_by[worker].fetch_add(1, Ordering::SeqCst);
                }
            })
            .await
            .expect("the scope is open");
    }
    drop((job_queue, results));

    // The collector: one place owns the running total.
    let total = Arc::new(AtomicU64::new(0));
    let collected = Arc::new(AtomicU64::new(0));
    let (sum, count) = (total.clone(), collected.clone());
    scope
        .spawn_named("collector", async move {
            while let Ok((_, squared)) = result_queue.recv().await {
                sum.fetch_add(squared, Ordering::SeqCst);
                count.fetch_add(1, Ordering::SeqCst);
            }
            Ok(())
        })
        .await
        .expect("the scope is open");

    // Step four: clean-up, after the work has ended.
    shutdown.on_cleanup(|| async { println!("clean-up: results flushed, connections closed") });

    // The pipeline ends on its own when the producer runs out; a Ctrl-C
    // (SIGINT or SIGTERM) ends it sooner, through steps two to four.
    let work = scope.join();
    tokio::pin!(work);
    let ended_alone = tokio::select! {
        biased;
        result = &mut work => Some(result),
        _ = shutdown.triggered() => None,
    };
    let report = match ended_alone {
        Some(ref result) => {
            say_if_failed(result);
            shutdown.drain(Duration::from_secs(5), async {}).await
        }
        None => {
            let rest = async { say_if_failed(&(&mut work).await) };
            shutdown.drain(Duration::from_secs(5), rest).await
        }
    };

    let produced = produced.load(Ordering::SeqCst);
    let collected = collected.load(Ordering::SeqCst);
    let per_worker: Vec<u64> = done_by.iter().map(|n| n.load(Ordering::SeqCst)).collect();
    println!("produced {produced} items; the workers did {per_worker:?}; collected {collected}");
    match ended_alone {
        Some(_) => println!("the input ended; the pipeline drained by itself"),
        None => println!(
            "shut down ({}): drained within the grace period: {}, forced: {}",
            report.reason.map_or(String::new(), |r| r.to_string()),
            report.drained,
            report.forced.is_some(),
        ),
    }
    let expected: u64 = (1..=produced).map(|n| n * n).sum();
    if report.forced.is_none() {
        // Nothing was cancelled: every item went through exactly once.
        assert_eq!(collected, produced, "an item was lost or duplicated");
        assert_eq!(per_worker.iter().sum::<u64>(), produced);
        assert_eq!(total.load(Ordering::SeqCst), expected);
        println!("sum of squares {expected}: every item accounted for");
    } else {
        assert!(collected <= produced);
        println!("forced: {} items were cut short", produced - collected);
    }
}

fn say_if_failed(result: &Result<Vec<()>, herd::task::TaskError<String>>) {
    if let Err(error) = result {
        println!("the pipeline failed: {error}");
    }
}
