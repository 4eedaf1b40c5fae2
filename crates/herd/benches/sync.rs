//! Cost of herd's locks and semaphore next to tokio's, async-lock's,
//! parking_lot's and std's.
//!
//! Uncontended async acquisitions are priced without an executor: the
//! future is polled once with [`Waker::noop`] (it must be ready) and the
//! guard dropped. Blocking acquisitions run on the bench thread, outside
//! any runtime. The contended groups run 8 tasks on a two-worker
//! multi-thread runtime, or 4 OS threads, all incrementing one counter.
//! Each group holds herd and its peers, measured one after another in the
//! same process, and each benchmark checks its result once before it is
//! timed.
//!
//! Run with `cargo bench -p herd --bench sync`.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput};
use tokio::runtime::Runtime;

mod common;
use common::{bench_async, once, runtime};

/// Tasks in `mutex_contended_tasks`.
const TASKS: u64 = 8;
/// Lock/increment/unlock rounds per task.
const PER_TASK: u64 = 1_000;
/// OS threads in `mutex_contended_threads`.
const THREADS: u64 = 4;
/// Lock/increment/unlock rounds per thread.
const PER_THREAD: u64 = 10_000;
/// Rounds of the correctness checks of the uncontended groups.
const CHECK_ROUNDS: u64 = 1_000;

/// Polls `future` once with a no-op waker; an uncontended acquisition must
/// be ready at once.
fn poll_once<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("an uncontended acquisition was not ready on its first poll"),
    }
}

/// Whether `future` is still pending after one poll (it is then dropped).
fn stays_pending<F: Future>(future: F) -> bool {
    let mut future = pin!(future);
    future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
        .is_pending()
}

/// Settings of the nanosecond-scale groups.
fn configure_fast(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(1));
}

/// Settings of the contended groups, whose iterations take milliseconds.
fn configure_contended(group: &mut BenchmarkGroup<'_, WallTime>, elements: u64) {
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(elements));
}

// ---- mutex_uncontended_async ----------------------------------------------

/// Checks an async mutex before it is timed: each round locks, increments and
/// unlocks; while held, a second lock stays pending; at the end the counter
/// holds every increment.
macro_rules! check_async_mutex {
    ($mutex:expr) => {{
        let mutex = $mutex;
        for _ in 0..CHECK_ROUNDS {
            *poll_once(mutex.lock()) += 1;
        }
        let held = poll_once(mutex.lock());
        assert!(stays_pending(mutex.lock()), "a held mutex was locked again");
        drop(held);
        assert_eq!(*poll_once(mutex.lock()), CHECK_ROUNDS);
    }};
}

fn mutex_uncontended_async(c: &mut Criterion) {
    let herd = herd::sync::Mutex::new(0_u64);
    let tokio = tokio::sync::Mutex::new(0_u64);
    let async_lock = async_lock::Mutex::new(0_u64);
    check_async_mutex!(&herd);
    check_async_mutex!(&tokio);
    check_async_mutex!(&async_lock);

    let mut group = c.benchmark_group("mutex_uncontended_async");
    configure_fast(&mut group);
    group.bench_function("herd", |b| {
        b.iter(|| drop(black_box(poll_once(black_box(&herd).lock()))));
    });
    group.bench_function("tokio", |b| {
        b.iter(|| drop(black_box(poll_once(black_box(&tokio).lock()))));
    });
    group.bench_function("async_lock", |b| {
        b.iter(|| drop(black_box(poll_once(black_box(&async_lock).lock()))));
    });
    group.finish();
}

// ---- mutex_uncontended_blocking -------------------------------------------

/// Checks a blocking lock before it is timed: `$lock` locks, `$try_lock`
/// returns whether the lock could be taken without waiting.
macro_rules! check_blocking_mutex {
    ($mutex:expr, $lock:expr, $try_lock:expr) => {{
        let mutex = $mutex;
        for _ in 0..CHECK_ROUNDS {
            *$lock(mutex) += 1;
        }
        let held = $lock(mutex);
        assert!(!$try_lock(mutex), "a held mutex was locked again");
        drop(held);
        assert!($try_lock(mutex), "a released mutex stayed locked");
        assert_eq!(*$lock(mutex), CHECK_ROUNDS);
    }};
}

fn mutex_uncontended_blocking(c: &mut Criterion) {
    let herd = herd::sync::Mutex::new(0_u64);
    let parking_lot = parking_lot::Mutex::new(0_u64);
    let std_mutex = std::sync::Mutex::new(0_u64);
    let async_lock = async_lock::Mutex::new(0_u64);
    let tokio = tokio::sync::Mutex::new(0_u64);
    check_blocking_mutex!(
        &herd,
        herd::sync::Mutex::lock_blocking,
        |m: &herd::sync::Mutex<u64>| m.try_lock().is_some()
    );
    check_blocking_mutex!(
        &parking_lot,
        parking_lot::Mutex::lock,
        |m: &parking_lot::Mutex<u64>| m.try_lock().is_some()
    );
    let std_free = |m: &std::sync::Mutex<u64>| m.try_lock().is_ok();
    check_blocking_mutex!(&std_mutex, std_lock, std_free);
    check_blocking_mutex!(
        &async_lock,
        async_lock::Mutex::lock_blocking,
        |m: &async_lock::Mutex<u64>| m.try_lock().is_some()
    );
    check_blocking_mutex!(
        &tokio,
        tokio::sync::Mutex::blocking_lock,
        |m: &tokio::sync::Mutex<u64>| m.try_lock().is_ok()
    );

    let mut group = c.benchmark_group("mutex_uncontended_blocking");
    configure_fast(&mut group);
    group.bench_function("herd_lock_blocking", |b| {
        b.iter(|| drop(black_box(black_box(&herd).lock_blocking())));
    });
    group.bench_function("parking_lot", |b| {
        b.iter(|| drop(black_box(black_box(&parking_lot).lock())));
    });
    group.bench_function("std", |b| {
        b.iter(|| drop(black_box(std_lock(black_box(&std_mutex)))));
    });
    group.bench_function("async_lock_lock_blocking", |b| {
        b.iter(|| drop(black_box(black_box(&async_lock).lock_blocking())));
    });
    group.bench_function("tokio_blocking_lock", |b| {
        b.iter(|| drop(black_box(black_box(&tokio).blocking_lock())));
    });
    group.finish();
}

// ---- mutex_contended_tasks ------------------------------------------------

/// Spawns [`TASKS`] tasks that each lock, increment and unlock one counter
/// [`PER_TASK`] times with `.await`; waits for all; returns the counter.
macro_rules! contended_tasks {
    ($mutex:expr) => {{
        let mutex = Arc::new($mutex);
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let mutex = Arc::clone(&mutex);
                tokio::spawn(async move {
                    for _ in 0..PER_TASK {
                        *mutex.lock().await += 1;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task panicked");
        }
        let total = *mutex.lock().await;
        total
    }};
}

async fn herd_tasks() -> u64 {
    contended_tasks!(herd::sync::Mutex::new(0_u64))
}

async fn tokio_tasks() -> u64 {
    contended_tasks!(tokio::sync::Mutex::new(0_u64))
}

async fn async_lock_tasks() -> u64 {
    contended_tasks!(async_lock::Mutex::new(0_u64))
}

fn mutex_contended_tasks(c: &mut Criterion, rt: &Runtime) {
    let expected = TASKS * PER_TASK;
    assert_eq!(once(rt, herd_tasks), expected);
    assert_eq!(once(rt, tokio_tasks), expected);
    assert_eq!(once(rt, async_lock_tasks), expected);

    let mut group = c.benchmark_group("mutex_contended_tasks");
    configure_contended(&mut group, expected);
    bench_async(&mut group, rt, "herd", herd_tasks);
    bench_async(&mut group, rt, "tokio", tokio_tasks);
    bench_async(&mut group, rt, "async_lock", async_lock_tasks);
    group.finish();
}

// ---- mutex_contended_threads ----------------------------------------------

/// Starts [`THREADS`] threads together that each lock, increment and unlock
/// one counter [`PER_THREAD`] times with `$lock`; waits for all; returns the
/// counter.
macro_rules! contended_threads {
    ($mutex:expr, $lock:expr) => {{
        let mutex = $mutex;
        let start = Barrier::new(THREADS as usize);
        std::thread::scope(|scope| {
            for _ in 0..THREADS {
                scope.spawn(|| {
                    start.wait();
                    for _ in 0..PER_THREAD {
                        *$lock(&mutex) += 1;
                    }
                });
            }
        });
        let total = *$lock(&mutex);
        total
    }};
}

fn herd_threads() -> u64 {
    contended_threads!(
        herd::sync::Mutex::new(0_u64),
        herd::sync::Mutex::lock_blocking
    )
}

fn parking_lot_threads() -> u64 {
    contended_threads!(parking_lot::Mutex::new(0_u64), parking_lot::Mutex::lock)
}

fn std_lock(mutex: &std::sync::Mutex<u64>) -> std::sync::MutexGuard<'_, u64> {
    mutex.lock().expect("poisoned")
}

fn std_threads() -> u64 {
    contended_threads!(std::sync::Mutex::new(0_u64), std_lock)
}

fn async_lock_threads() -> u64 {
    contended_threads!(
        async_lock::Mutex::new(0_u64),
        async_lock::Mutex::lock_blocking
    )
}

/// A benchmark of `mutex_contended_threads`: its name and its body.
type ThreadCase = (&'static str, fn() -> u64);

fn mutex_contended_threads(c: &mut Criterion) {
    let expected = THREADS * PER_THREAD;
    let cases: [ThreadCase; 4] = [
        ("herd_lock_blocking", herd_threads),
        ("parking_lot", parking_lot_threads),
        ("std", std_threads),
        ("async_lock_lock_blocking", async_lock_threads),
    ];
    for (name, body) in cases {
        assert_eq!(body(), expected, "{name}");
    }

    let mut group = c.benchmark_group("mutex_contended_threads");
    configure_contended(&mut group, expected);
    for (name, body) in cases {
        group.bench_function(name, |b| b.iter(body));
    }
    group.finish();
}

// ---- semaphore_uncontended ------------------------------------------------

fn semaphore_uncontended(c: &mut Criterion) {
    let herd = herd::sync::Semaphore::new(1);
    let tokio = tokio::sync::Semaphore::new(1);
    for _ in 0..CHECK_ROUNDS {
        drop(poll_once(herd.acquire()).expect("herd acquire"));
        drop(poll_once(tokio.acquire()).expect("tokio acquire"));
        drop(herd.try_acquire().expect("herd try_acquire"));
        drop(tokio.try_acquire().expect("tokio try_acquire"));
    }
    let held = poll_once(herd.acquire()).expect("herd acquire");
    assert_eq!(herd.available_permits(), 0);
    assert!(stays_pending(herd.acquire()));
    assert!(herd.try_acquire().is_err());
    drop(held);
    assert_eq!(herd.available_permits(), 1);
    let held = poll_once(tokio.acquire()).expect("tokio acquire");
    assert_eq!(tokio.available_permits(), 0);
    assert!(stays_pending(tokio.acquire()));
    assert!(tokio.try_acquire().is_err());
    drop(held);
    assert_eq!(tokio.available_permits(), 1);

    let mut group = c.benchmark_group("semaphore_uncontended");
    configure_fast(&mut group);
    group.bench_function("herd_acquire", |b| {
        b.iter(|| drop(black_box(poll_once(black_box(&herd).acquire()))));
    });
    group.bench_function("tokio_acquire", |b| {
        b.iter(|| drop(black_box(poll_once(black_box(&tokio).acquire()))));
    });
    group.bench_function("herd_try_acquire", |b| {
        b.iter(|| drop(black_box(black_box(&herd).try_acquire())));
    });
    group.bench_function("tokio_try_acquire", |b| {
        b.iter(|| drop(black_box(black_box(&tokio).try_acquire())));
    });
    group.finish();
}

// ---- rwlock_read_uncontended ----------------------------------------------

/// Checks an async read-write lock before it is timed: reads see the value,
/// two readers share it, a writer waits for them, and a reader for a
/// writer.
macro_rules! check_rwlock {
    ($lock:expr) => {{
        let lock = $lock;
        for _ in 0..CHECK_ROUNDS {
            assert_eq!(*poll_once(lock.read()), 7);
        }
        let first = poll_once(lock.read());
        let second = poll_once(lock.read());
        assert!(stays_pending(lock.write()), "a writer got in past readers");
        drop((first, second));
        let writer = poll_once(lock.write());
        assert!(stays_pending(lock.read()), "a reader got in past a writer");
        drop(writer);
        assert_eq!(*poll_once(lock.read()), 7);
    }};
}

fn rwlock_read_uncontended(c: &mut Criterion) {
    let herd = herd::sync::RwLock::new(7_u64);
    let tokio = tokio::sync::RwLock::new(7_u64);
    let async_lock = async_lock::RwLock::new(7_u64);
    check_rwlock!(&herd);
    check_rwlock!(&tokio);
    check_rwlock!(&async_lock);

    let mut group = c.benchmark_group("rwlock_read_uncontended");
    configure_fast(&mut group);
    group.bench_function("herd", |b| {
        b.iter(|| drop(black_box(poll_once(black_box(&herd).read()))));
    });
    group.bench_function("tokio", |b| {
        b.iter(|| drop(black_box(poll_once(black_box(&tokio).read()))));
    });
    group.bench_function("async_lock", |b| {
        b.iter(|| drop(black_box(poll_once(black_box(&async_lock).read()))));
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let rt = runtime();
    mutex_uncontended_async(c);
    mutex_uncontended_blocking(c);
    mutex_contended_tasks(c, &rt);
    mutex_contended_threads(c);
    semaphore_uncontended(c);
    rwlock_read_uncontended(c);
}

// `criterion_group!` would define an undocumented `pub fn`, which the
// workspace's `missing_docs` lint rejects; this is what it and
// `criterion_main!` expand to.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    benches(&mut criterion);
    criterion.final_summary();
}
