//! Helpers shared by the benchmarks: the runtime every async body runs on,
//! and running or timing a body inside a task on one of its workers.
#![allow(dead_code)] // each bench uses its own subset

use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::BenchmarkGroup;
use criterion::measurement::WallTime;
use tokio::runtime::Runtime;

/// A multi-thread runtime with 2 workers, as many as this machine has cores.
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Runs `body` once on a worker and returns its output, for the correctness
/// checks made before timing.
pub fn once<F, Fut, O>(rt: &Runtime, body: F) -> O
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = O> + Send + 'static,
    O: Send + 'static,
{
    rt.block_on(async move { tokio::spawn(body()).await.expect("benchmark body panicked") })
}

/// Times `iters` runs of `body`, all inside one task on a runtime worker.
pub fn timed<F, Fut, O>(rt: &Runtime, iters: u64, body: F) -> Duration
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = O> + Send + 'static,
    O: Send + 'static,
{
    rt.block_on(async move {
        tokio::spawn(async move {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(body().await);
            }
            start.elapsed()
        })
        .await
        .expect("benchmark body panicked")
    })
}

pub fn bench_async<F, Fut, O>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    id: &str,
    body: F,
) where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = O> + Send + 'static,
    O: Send + 'static,
{
    group.bench_function(id, |b| {
        b.iter_custom(|iters| timed(rt, iters, body.clone()))
    });
}
