//! `herd::pool` under contention: many producers submit while the pool is
//! shut down mid-stream. Every job is accounted for exactly once: it ran
//! once and its handle has its value, or it never ran and its handle says
//! cancelled, or the pool refused it and handed it back unrun.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use herd::pool::{JobError, SubmitError, ThreadPool, WorkerPool};

const PRODUCERS: usize = 4;
const JOBS: usize = 100_000;

/// How each job ended, from the producers' side.
#[derive(Default)]
struct Books {
    ok: usize,
    cancelled: usize,
    refused: usize,
}

/// Checks that every job ran at most once, and exactly once if its handle
/// says it did.
fn audit(runs: &[AtomicU8], outcomes: &[Vec<(usize, Outcome)>]) -> Books {
    let mut books = Books::default();
    let mut seen = vec![0u8; JOBS];
    for &(id, outcome) in outcomes.iter().flatten() {
        seen[id] += 1;
        let ran = runs[id].load(Ordering::SeqCst);
        match outcome {
            Outcome::Ok => {
                assert_eq!(ran, 1, "job {id} has a value but ran {ran} times");
                books.ok += 1;
            }
            Outcome::Cancelled => {
                assert_eq!(ran, 0, "job {id} was cancelled but ran");
                books.cancelled += 1;
            }
            Outcome::Refused => {
                assert_eq!(ran, 0, "job {id} was refused but ran");
                books.refused += 1;
            }
        }
    }
    let lost = seen.iter().filter(|&&n| n == 0).count();
    let twice = seen.iter().filter(|&&n| n > 1).count();
    assert_eq!((lost, twice), (0, 0), "jobs lost, jobs accounted twice");
    books
}

#[derive(Clone, Copy, Debug)]
enum Outcome {
    Ok,
    Cancelled,
    Refused,
}

fn outcome<T>(id: usize, result: Result<usize, JobError<T>>) -> Outcome {
    match result {
        Ok(value) => {
            assert_eq!(value, id);
            Outcome::Ok
        }
        Err(JobError::Cancelled(_)) => Outcome::Cancelled,
        Err(_) => panic!("job {id} failed"),
    }
}

async fn worker_pool_round(immediate: bool) {
    let pool = Arc::new(WorkerPool::builder().workers(8).queue(256).build());
    let runs: Arc<Vec<AtomicU8>> = Arc::new((0..JOBS).map(|_| AtomicU8::new(0)).collect());
    let submitted = Arc::new(AtomicUsize::new(0));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let (pool, runs, submitted) = (pool.clone(), runs.clone(), submitted.clone());
            tokio::spawn(async move {
                let mut handles = Vec::new();
                let mut refused = Vec::new();
                for id in (p..JOBS).step_by(PRODUCERS) {
                    let runs = runs.clone();
                    let job = async move {
                        // A cancellation point before the job's effect.
                        tokio::task::yield_now().await;
                        runs[id].fetch_add(1, Ordering::SeqCst);
                        Ok::<_, ()>(id)
                    };
                    match pool.submit_with((id % 5) as i32, job).await {
                        Ok(handle) => handles.push((id, handle)),
                        Err(SubmitError::Closed(job)) => {
                            drop(job);
                            refused.push((id, Outcome::Refused));
                        }
                        Err(SubmitError::Full(_)) => unreachable!("submit waits for room"),
                    }
                    submitted.fetch_add(1, Ordering::Relaxed);
                }
                let mut books = refused;
                for (id, handle) in handles {
                    books.push((id, outcome(id, handle.await)));
                }
                books
            })
        })
        .collect();
    // Shut down mid-stream.
    while submitted.load(Ordering::Relaxed) < JOBS / 2 {
        tokio::task::yield_now().await;
    }
    let stats = if immediate {
        pool.shutdown_now().await
    } else {
        pool.shutdown(Duration::from_millis(1)).await
    };
    let mut outcomes = Vec::new();
    for producer in producers {
        outcomes.push(producer.await.unwrap());
    }
    let books = audit(&runs, &outcomes);
    assert!(books.refused > 0, "the shutdown came mid-stream");
    assert_eq!(
        (stats.done as usize, stats.cancelled as usize),
        (books.ok, books.cancelled)
    );
    assert_eq!((stats.running, stats.queued, stats.failed), (0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn worker_pool_graceful_shutdown_mid_stream_accounts_for_every_job() {
    worker_pool_round(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn worker_pool_shutdown_now_mid_stream_accounts_for_every_job() {
    worker_pool_round(true).await;
}

#[test]
fn thread_pool_shutdown_mid_stream_accounts_for_every_job() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let pool = Arc::new(ThreadPool::builder().threads(4).queue(256).build().unwrap());
    let runs: Arc<Vec<AtomicU8>> = Arc::new((0..JOBS).map(|_| AtomicU8::new(0)).collect());
    let submitted = Arc::new(AtomicUsize::new(0));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let (pool, runs, submitted) = (pool.clone(), runs.clone(), submitted.clone());
            std::thread::spawn(move || {
                let mut handles = Vec::new();
                let mut books = Vec::new();
                for id in (p..JOBS).step_by(PRODUCERS) {
                    let runs = runs.clone();
                    let job = move || {
                        runs[id].fetch_add(1, Ordering::SeqCst);
                        Ok::<_, ()>(id)
                    };
                    match pool.submit_blocking(job) {
                        Ok(handle) => handles.push((id, handle)),
                        Err(SubmitError::Closed(_)) => books.push((id, Outcome::Refused)),
                        Err(SubmitError::Full(_)) => unreachable!("submit_blocking waits for room"),
                    }
                    submitted.fetch_add(1, Ordering::Relaxed);
                }
                for (id, handle) in handles {
                    books.push((id, outcome(id, handle.join())));
                }
                books
            })
        })
        .collect();
    while submitted.load(Ordering::Relaxed) < JOBS / 2 {
        std::thread::yield_now();
    }
    let stats = runtime.block_on(pool.shutdown_now());
    let outcomes: Vec<_> = producers.into_iter().map(|p| p.join().unwrap()).collect();
    let books = audit(&runs, &outcomes);
    assert!(books.refused > 0, "the shutdown came mid-stream");
    assert_eq!(
        (stats.done as usize, stats.cancelled as usize),
        (books.ok, books.cancelled)
    );
    assert_eq!((stats.running, stats.queued), (0, 0));
}
