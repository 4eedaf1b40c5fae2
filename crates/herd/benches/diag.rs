//! What diagnostics cost: an uncontended `Mutex` lock and unlock with them
//! off (the price every user pays) and on, beside async-lock's mutex as the
//! fixed point that makes runs comparable; and two nested locks, where
//! diagnostics also check the order.
//!
//! Diagnostics cannot be switched off again, so every "off" case runs
//! before the first "on" case.
//!
//! Run: `cargo bench -p herd --bench diag`

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::{BenchmarkGroup, Criterion, Throughput, measurement::WallTime};
use herd::sync::Mutex;

/// Polls `future` once with a no-op waker; an uncontended lock is ready at
/// once.
fn poll_once<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("an uncontended lock was not ready on its first poll"),
    }
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(1));
}

/// One lock, increment, unlock.
fn single(c: &mut Criterion, name: &str, lock: &Mutex<u64>) {
    let mut group = c.benchmark_group("diag_mutex_uncontended");
    configure(&mut group);
    group.bench_function(name, |b| b.iter(|| *poll_once(black_box(lock).lock()) += 1));
    group.finish();
}

/// Two locks, always in the same order.
fn nested(c: &mut Criterion, name: &str, (a, b): &(Mutex<u64>, Mutex<u64>)) {
    let mut group = c.benchmark_group("diag_mutex_nested");
    configure(&mut group);
    group.bench_function(name, |bench| {
        bench.iter(|| {
            let mut a = poll_once(black_box(a).lock());
            let mut b = poll_once(black_box(b).lock());
            *a += 1;
            *b += 1;
        })
    });
    group.finish();
}

// `criterion_group!` would define an undocumented `pub fn`, which the
// workspace's `missing_docs` lint rejects; this is what it and
// `criterion_main!` expand to.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let c = &mut criterion;
    let peer = async_lock::Mutex::new(0u64);
    let mut group = c.benchmark_group("diag_mutex_uncontended");
    configure(&mut group);
    group.bench_function("async-lock", |b| {
        b.iter(|| *poll_once(black_box(&peer).lock()) += 1)
    });
    group.finish();

    let (one, two) = (Mutex::new(0), (Mutex::new(0), Mutex::new(0)));
    assert!(!herd::diag::is_enabled());
    single(c, "herd diag off", &one);
    nested(c, "herd diag off", &two);
    herd::diag::enable();
    single(c, "herd diag on", &one);
    nested(c, "herd diag on", &two);

    // The locks did their work, and diagnostics saw nothing wrong: a lock
    // order kept every time is no inversion.
    assert!(*poll_once(one.lock()) > 0 && *poll_once(two.0.lock()) > 0);
    assert!(
        herd::diag::recent().is_empty(),
        "{:?}",
        herd::diag::recent()
    );
    criterion.final_summary();
}
