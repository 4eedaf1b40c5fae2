//! Throughput of herd's pools next to what people use instead.
//!
//! - `async_jobs`: [`N`] trivial async jobs, each with its result awaited,
//!   through `WorkerPool` (2 and 64 workers, queue 1024) next to
//!   `tokio::spawn` under a `Semaphore` of 64 and `futures`'
//!   `buffer_unordered(64)`. On the two-worker runtime of `common`.
//! - `blocking_jobs`: [`N`] trivial blocking closures submitted from one
//!   thread, each result joined, through `ThreadPool` (2 threads, queue
//!   1024) next to rayon (`scope` + `spawn` on a 2-thread pool) and
//!   `spawn_blocking` (default cap of 512 threads, and capped at 2).
//! - `process_round_trip`: one trivial job at a time through a warm
//!   `ProcessPool` worker (this benchmark binary is its own worker), next to
//!   spawning and waiting for `/bin/true`.
//!
//! Each benchmark is run once and checked before it is timed: every job's
//! result arrives and their sum is right.
//!
//! Run with `cargo bench -p herd --bench pool`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use futures::StreamExt;
use herd::pool::{ProcessPool, ThreadPool, WorkerPool, serve_if_worker};
use tokio::runtime::Runtime;

mod common;
use common::{bench_async, once, runtime};

/// Jobs per iteration.
const N: u64 = 100_000;
/// The concurrency bound of the peers, and the big pool's worker count.
const LIMIT: usize = 64;
/// The sum of `0..N`, which every benchmark must produce.
const SUM: u64 = N * (N - 1) / 2;

fn check(name: &str, sum: u64) {
    assert_eq!(sum, SUM, "{name}: wrong sum of job results");
}

async fn herd_worker_pool(workers: usize) -> u64 {
    let pool = WorkerPool::builder().workers(workers).queue(1024).build();
    let mut handles = Vec::with_capacity(N as usize);
    for n in 0..N {
        handles.push(pool.submit(async move { Ok::<_, ()>(n) }).await.unwrap());
    }
    let mut sum = 0;
    for handle in handles {
        sum += handle.await.unwrap();
    }
    sum
}

async fn tokio_spawn_semaphore() -> u64 {
    let limit = Arc::new(tokio::sync::Semaphore::new(LIMIT));
    let mut handles = Vec::with_capacity(N as usize);
    for n in 0..N {
        let permit = limit.clone().acquire_owned().await.unwrap();
        handles.push(tokio::spawn(async move {
            let _permit = permit;
            n
        }));
    }
    let mut sum = 0;
    for handle in handles {
        sum += handle.await.unwrap();
    }
    sum
}

async fn futures_buffer_unordered() -> u64 {
    futures::stream::iter(0..N)
        .map(|n| async move { n })
        .buffer_unordered(LIMIT)
        .fold(0, |sum, n| async move { sum + n })
        .await
}

async fn herd_map_unordered() -> u64 {
    let mapped = herd::pool::map_unordered(LIMIT, futures::stream::iter(0..N), |n| async move {
        Ok::<_, ()>(n)
    });
    mapped
        .fold(0, |sum, n| async move { sum + n.unwrap() })
        .await
}

fn async_jobs(c: &mut Criterion, rt: &Runtime) {
    check("herd_worker_pool_2", once(rt, || herd_worker_pool(2)));
    check("herd_worker_pool_64", once(rt, || herd_worker_pool(LIMIT)));
    check("tokio_spawn_semaphore", once(rt, tokio_spawn_semaphore));
    check(
        "futures_buffer_unordered",
        once(rt, futures_buffer_unordered),
    );
    check("herd_map_unordered", once(rt, herd_map_unordered));

    let mut group = c.benchmark_group("async_jobs");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(N));
    bench_async(&mut group, rt, "herd_worker_pool_2", || herd_worker_pool(2));
    bench_async(&mut group, rt, "herd_worker_pool_64", || {
        herd_worker_pool(LIMIT)
    });
    bench_async(
        &mut group,
        rt,
        "tokio_spawn_semaphore",
        tokio_spawn_semaphore,
    );
    bench_async(
        &mut group,
        rt,
        "futures_buffer_unordered",
        futures_buffer_unordered,
    );
    bench_async(&mut group, rt, "herd_map_unordered", herd_map_unordered);
    group.finish();
}

fn herd_thread_pool(pool: &ThreadPool) -> u64 {
    let handles: Vec<_> = (0..N)
        .map(|n| {
            pool.submit_blocking(move || Ok::<_, ()>(black_box(n)))
                .unwrap()
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).sum()
}

fn rayon_scope(pool: &rayon::ThreadPool) -> u64 {
    let sum = std::sync::atomic::AtomicU64::new(0);
    pool.scope(|scope| {
        for n in 0..N {
            let sum = &sum;
            scope.spawn(move |_| {
                sum.fetch_add(black_box(n), std::sync::atomic::Ordering::Relaxed);
            });
        }
    });
    sum.into_inner()
}

async fn tokio_spawn_blocking() -> u64 {
    let handles: Vec<_> = (0..N)
        .map(|n| tokio::task::spawn_blocking(move || black_box(n)))
        .collect();
    let mut sum = 0;
    for handle in handles {
        sum += handle.await.unwrap();
    }
    sum
}

fn blocking_jobs(c: &mut Criterion, rt: &Runtime) {
    let pool = ThreadPool::builder()
        .threads(2)
        .queue(1024)
        .build()
        .unwrap();
    let rayon = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let capped = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(2)
        .build()
        .unwrap();
    check("herd_thread_pool", herd_thread_pool(&pool));
    check("rayon_scope_spawn", rayon_scope(&rayon));
    check("tokio_spawn_blocking_512", once(rt, tokio_spawn_blocking));
    check(
        "tokio_spawn_blocking_2",
        once(&capped, tokio_spawn_blocking),
    );

    let mut group = c.benchmark_group("blocking_jobs");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(N));
    group.bench_function("herd_thread_pool", |b| b.iter(|| herd_thread_pool(&pool)));
    group.bench_function("rayon_scope_spawn", |b| b.iter(|| rayon_scope(&rayon)));
    bench_async(
        &mut group,
        rt,
        "tokio_spawn_blocking_512",
        tokio_spawn_blocking,
    );
    bench_async(
        &mut group,
        &capped,
        "tokio_spawn_blocking_2",
        tokio_spawn_blocking,
    );
    group.finish();
}

fn process_round_trip(c: &mut Criterion, rt: &Runtime) {
    let pool = rt.block_on(async {
        ProcessPool::<u64, u64>::builder("bench")
            .workers(1)
            .build()
            .await
            .unwrap()
    });
    let pool = Arc::new(pool);
    let one = {
        let pool = pool.clone();
        move || {
            let pool = pool.clone();
            async move { pool.submit(41).await.unwrap().await.unwrap() }
        }
    };
    assert_eq!(once(rt, one.clone()), 42, "process_round_trip: wrong reply");

    let mut group = c.benchmark_group("process_round_trip");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(1));
    bench_async(&mut group, rt, "herd_process_pool_warm", one);
    group.bench_function("spawn_and_wait_bin_true", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let status = std::process::Command::new("/bin/true").status().unwrap();
                assert!(status.success());
            }
            start.elapsed()
        })
    });
    group.finish();
    rt.block_on(pool.shutdown(Duration::from_secs(5)));
}

fn main() {
    serve_if_worker("bench", |n: u64| Ok::<_, String>(n + 1));
    let rt = runtime();
    let mut criterion = Criterion::default().configure_from_args();
    async_jobs(&mut criterion, &rt);
    blocking_jobs(&mut criterion, &rt);
    process_round_trip(&mut criterion, &rt);
    criterion.final_summary();
}
