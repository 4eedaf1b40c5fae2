//! The cost of a rate-limit decision, herd beside governor, leaky-bucket
//! and tokio's `Semaphore`; and how much of a rate many waiters get, and
//! at what CPU cost.
//!
//! - `check_allowed`: one allowed decision on one thread (a quota so large
//!   it never refuses). herd's `check` reads tokio's clock; `check_at` is
//!   the same decision with the time passed in, to show what the clock
//!   read costs.
//! - `check_rejected`: one refused decision (the bucket is empty).
//! - `keyed`: one allowed decision for a key, with 1 key and with 100,000
//!   keys visited round-robin.
//! - `waiters` (not criterion: a fixed 2 s run each): N tasks loop on
//!   `acquire` against 5,000/s with burst 1 on the two-worker runtime;
//!   printed are the cells granted per second and the CPU the process used
//!   per second of wall time.
//!
//! Run with `cargo bench -p herd --bench limit`.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::Criterion;
use herd::limit::{KeyedRateLimiter, Quota, RateLimiter};

mod common;
use common::runtime;

/// A rate so high no benchmark run reaches it: a cell per nanosecond.
const HUGE: u32 = 1_000_000_000;

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

fn check_allowed(c: &mut Criterion) {
    let herd = RateLimiter::new(Quota::per_second(HUGE).burst(HUGE));
    let governor = governor::RateLimiter::direct(governor::Quota::per_second(nz(HUGE)));
    let semaphore = tokio::sync::Semaphore::new(1);
    let bucket = leaky_bucket::RateLimiter::builder()
        .initial(usize::MAX / 2)
        .max(usize::MAX / 2)
        .refill(1)
        .build();
    assert!(herd.check().is_ok() && governor.check().is_ok() && bucket.try_acquire(1));

    let mut group = c.benchmark_group("check_allowed");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("herd_check", |b| b.iter(|| black_box(herd.check()).is_ok()));
    let now = tokio::time::Instant::now();
    group.bench_function("herd_check_at", |b| {
        b.iter(|| black_box(herd.check_at(1, black_box(now))).is_ok())
    });
    group.bench_function("governor_check", |b| {
        b.iter(|| black_box(governor.check()).is_ok())
    });
    group.bench_function("leaky_bucket_try_acquire", |b| {
        b.iter(|| black_box(bucket.try_acquire(1)))
    });
    group.bench_function("tokio_semaphore_try_acquire", |b| {
        b.iter(|| drop(black_box(semaphore.try_acquire())))
    });
    group.finish();
}

fn check_rejected(c: &mut Criterion) {
    let herd = RateLimiter::new(Quota::per_hour(1));
    let governor = governor::RateLimiter::direct(governor::Quota::per_hour(nz(1)));
    herd.check().unwrap();
    governor.check().unwrap();
    assert!(herd.check().is_err() && governor.check().is_err());

    let mut group = c.benchmark_group("check_rejected");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("herd_check", |b| {
        b.iter(|| black_box(herd.check()).is_err())
    });
    group.bench_function("governor_check", |b| {
        b.iter(|| black_box(governor.check()).is_err())
    });
    group.finish();
}

fn keyed(c: &mut Criterion) {
    let mut group = c.benchmark_group("keyed");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for keys in [1u64, 100_000] {
        let herd = KeyedRateLimiter::builder(Quota::per_second(HUGE))
            .max_keys(200_000)
            .build();
        let governor = governor::RateLimiter::keyed(governor::Quota::per_second(nz(HUGE)));
        for key in 0..keys {
            herd.check(&key).unwrap();
            governor.check_key(&key).unwrap();
        }
        let mut next = 0u64;
        group.bench_function(format!("herd_{keys}_keys"), |b| {
            b.iter(|| {
                next = (next + 1) % keys;
                black_box(herd.check(&next)).is_ok()
            })
        });
        group.bench_function(format!("governor_{keys}_keys"), |b| {
            b.iter(|| {
                next = (next + 1) % keys;
                black_box(governor.check_key(&next)).is_ok()
            })
        });
    }
    group.finish();
}

/// CPU time this process has used, user plus system.
fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

const RATE: u32 = 5000;
const RUN: Duration = Duration::from_secs(2);

/// Runs `waiters` tasks looping on `acquire` for [`RUN`]; returns cells per
/// second and cores used.
fn waiting<F, Fut>(waiters: usize, acquire: F) -> (f64, f64)
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let rt = runtime();
    let granted = Arc::new(AtomicU64::new(0));
    let (cpu, start) = (cpu_time(), Instant::now());
    rt.block_on(async {
        let stop = tokio::time::Instant::now() + RUN;
        let tasks: Vec<_> = (0..waiters)
            .map(|_| {
                let (acquire, granted) = (acquire.clone(), granted.clone());
                tokio::spawn(async move {
                    while tokio::time::Instant::now() < stop {
                        acquire().await;
                        granted.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        tokio::time::sleep_until(stop).await;
        for task in tasks {
            task.abort();
        }
    });
    let wall = start.elapsed().as_secs_f64();
    let cores = (cpu_time() - cpu).as_secs_f64() / wall;
    let rate = granted.load(Ordering::Relaxed) as f64 / RUN.as_secs_f64();
    (rate, cores)
}

fn waiters() {
    println!("\nwaiters: {RATE}/s, burst 1, {RUN:?} each, two-worker runtime");
    println!(
        "{:>8} {:>22} {:>22}",
        "waiters", "herd (cells/s, cores)", "governor (cells/s, cores)"
    );
    for waiters in [10usize, 1000, 10_000] {
        let herd_limit = RateLimiter::new(Quota::per_second(RATE).burst(1));
        let herd = waiting(waiters, move || {
            let limit = herd_limit.clone();
            async move { limit.acquire().await.unwrap() }
        });
        let governor_limit = Arc::new(governor::RateLimiter::direct(
            governor::Quota::per_second(nz(RATE)).allow_burst(nz(1)),
        ));
        let governor = waiting(waiters, move || {
            let limit = governor_limit.clone();
            async move { limit.until_ready().await }
        });
        println!(
            "{waiters:>8} {:>12.0} {:>8.3} {:>14.0} {:>8.3}",
            herd.0, herd.1, governor.0, governor.1
        );
    }
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    check_allowed(&mut criterion);
    check_rejected(&mut criterion);
    keyed(&mut criterion);
    criterion.final_summary();
    waiters();
}
