//! Cost of herd's task primitives next to the tokio and `futures` patterns
//! they replace.
//!
//! Every async body runs inside a task spawned on a two-worker multi-thread
//! runtime (not in `block_on`), so spawning happens from a worker thread, as
//! it does in a real program. Each group holds herd and its peers, measured
//! one after another in the same process on the same runtime.
//!
//! Run with `cargo bench -p herd --bench task`.

use std::future::ready;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput};
use herd::task::{CancelToken, Scope};
use tokio::runtime::Runtime;

mod common;
use common::{bench_async, once, runtime};
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};

/// Children per iteration.
const N: u64 = 10_000;
/// Concurrency limit for the `limit_64` group.
const LIMIT: usize = 64;

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
}

fn expected_sum() -> u64 {
    (0..N).sum()
}

// ---- spawn_join_10k -------------------------------------------------------

async fn herd_scope(limit: Option<usize>) -> Vec<u64> {
    let scope = match limit {
        Some(limit) => Scope::<u64, ()>::builder().limit(limit).build(),
        None => Scope::<u64, ()>::new(),
    };
    for i in 0..N {
        scope.spawn(async move { Ok(i) }).await.expect("spawn");
    }
    scope.join().await.expect("join")
}

fn joinset_spawn(n: u64) -> JoinSet<Result<u64, ()>> {
    let mut set = JoinSet::new();
    for i in 0..n {
        set.spawn(async move { Ok::<u64, ()>(i) });
    }
    set
}

async fn joinset_join_all() -> Vec<Result<u64, ()>> {
    joinset_spawn(N).join_all().await
}

async fn joinset_join_next() -> Vec<u64> {
    let mut set = joinset_spawn(N);
    let mut out = Vec::with_capacity(N as usize);
    while let Some(joined) = set.join_next().await {
        out.push(joined.expect("child panicked").expect("child failed"));
    }
    out
}

async fn tokio_spawn_vec() -> Vec<u64> {
    let handles: Vec<JoinHandle<Result<u64, ()>>> = (0..N)
        .map(|i| tokio::spawn(async move { Ok::<u64, ()>(i) }))
        .collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.expect("child panicked").expect("child failed"));
    }
    out
}

fn spawn_join(c: &mut Criterion, rt: &Runtime) {
    let in_order: Vec<u64> = (0..N).collect();
    assert_eq!(once(rt, || herd_scope(None)), in_order);
    assert_eq!(once(rt, tokio_spawn_vec), in_order);
    let mut joined = once(rt, joinset_join_next);
    joined.sort_unstable();
    assert_eq!(joined, in_order);
    let all = once(rt, joinset_join_all);
    assert_eq!(all.len(), N as usize);
    assert_eq!(
        all.into_iter().map(Result::unwrap).sum::<u64>(),
        expected_sum()
    );

    let mut group = c.benchmark_group("spawn_join_10k");
    configure(&mut group);
    group.throughput(Throughput::Elements(N));
    bench_async(&mut group, rt, "herd_scope", || herd_scope(None));
    bench_async(&mut group, rt, "joinset_join_all", joinset_join_all);
    bench_async(&mut group, rt, "joinset_join_next", joinset_join_next);
    bench_async(&mut group, rt, "tokio_spawn_vec", tokio_spawn_vec);
    group.finish();
}

// ---- spawn_join_10k_limit_64 ----------------------------------------------

async fn joinset_semaphore() -> Vec<Result<u64, ()>> {
    let semaphore = Arc::new(Semaphore::new(LIMIT));
    let mut set = JoinSet::new();
    for i in 0..N {
        let permit = semaphore
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore closed");
        set.spawn(async move {
            let _permit = permit;
            Ok::<u64, ()>(i)
        });
    }
    set.join_all().await
}

fn spawn_join_limited(c: &mut Criterion, rt: &Runtime) {
    let in_order: Vec<u64> = (0..N).collect();
    assert_eq!(once(rt, || herd_scope(Some(LIMIT))), in_order);
    let all = once(rt, joinset_semaphore);
    assert_eq!(all.len(), N as usize);
    assert_eq!(
        all.into_iter().map(Result::unwrap).sum::<u64>(),
        expected_sum()
    );

    let mut group = c.benchmark_group("spawn_join_10k_limit_64");
    configure(&mut group);
    group.throughput(Throughput::Elements(N));
    bench_async(&mut group, rt, "herd_scope_limit", || {
        herd_scope(Some(LIMIT))
    });
    bench_async(&mut group, rt, "joinset_semaphore", joinset_semaphore);
    group.finish();
}

// ---- all_10k_ready --------------------------------------------------------

async fn herd_all() -> Vec<u64> {
    herd::task::all((0..N).map(|i| ready(Ok::<u64, ()>(i))))
        .await
        .expect("all")
}

async fn futures_join_all() -> Vec<Result<u64, ()>> {
    futures::future::join_all((0..N).map(|i| ready(Ok::<u64, ()>(i)))).await
}

async fn futures_try_join_all() -> Vec<u64> {
    futures::future::try_join_all((0..N).map(|i| ready(Ok::<u64, ()>(i))))
        .await
        .expect("try_join_all")
}

fn all_ready(c: &mut Criterion, rt: &Runtime) {
    let in_order: Vec<u64> = (0..N).collect();
    assert_eq!(once(rt, herd_all), in_order);
    assert_eq!(once(rt, futures_try_join_all), in_order);
    let all = once(rt, futures_join_all);
    assert_eq!(
        all.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
        in_order
    );

    let mut group = c.benchmark_group("all_10k_ready");
    configure(&mut group);
    group.throughput(Throughput::Elements(N));
    bench_async(&mut group, rt, "herd_all", herd_all);
    bench_async(&mut group, rt, "futures_join_all", futures_join_all);
    bench_async(&mut group, rt, "futures_try_join_all", futures_try_join_all);
    group.finish();
}

// ---- cancel_token ---------------------------------------------------------

fn cancel_token(c: &mut Criterion) {
    let parent = CancelToken::new();
    let child = parent.child();
    assert!(!child.is_cancelled());
    drop(child);

    let mut group = c.benchmark_group("cancel_token");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(1));
    group.bench_function("child_create_drop", |b| {
        b.iter(|| drop(black_box(black_box(&parent).child())));
    });
    group.bench_function("is_cancelled", |b| {
        b.iter(|| black_box(&parent).is_cancelled());
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let rt = runtime();
    spawn_join(c, &rt);
    spawn_join_limited(c, &rt);
    all_ready(c, &rt);
    cancel_token(c);
}

// `criterion_group!` would define an undocumented `pub fn`, which the
// workspace's `missing_docs` lint rejects; this is what it and
// `criterion_main!` expand to.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    benches(&mut criterion);
    criterion.final_summary();
}
