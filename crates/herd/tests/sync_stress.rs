//! `herd::sync` under contention, on a multi-thread runtime and on plain
//! threads: the books must balance exactly at the end. Diagnostics are on
//! throughout, and a deadlock or lock-order report from them fails the test.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use herd::sync::{Mutex, RwLock, Semaphore};

mod common;
use common::{Gauge, Watched};

const WORKERS: usize = 16;
const INCREMENTS: usize = 100_000;

/// A read-modify-write that is wrong unless the lock excludes: read, yield
/// to the scheduler now and then, write back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_tasks_increment_exactly() {
    let _watched = Watched::start();
    let counter = Arc::new(Mutex::named("counter", 0usize));
    let tasks: Vec<_> = (0..WORKERS)
        .map(|_| {
            let counter = counter.clone();
            tokio::spawn(async move {
                for i in 0..INCREMENTS {
                    let mut value = counter.lock().await;
                    let read = *value;
                    if i % 1024 == 0 {
                        tokio::task::yield_now().await;
                    }
                    *value = read + 1;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(*counter.lock().await, WORKERS * INCREMENTS);
}

#[test]
fn sixteen_threads_increment_exactly() {
    let _watched = Watched::start();
    let counter = Arc::new(Mutex::new(0usize));
    let threads: Vec<_> = (0..WORKERS)
        .map(|_| {
            let counter = counter.clone();
            std::thread::spawn(move || {
                for _ in 0..INCREMENTS {
                    let mut value = counter.lock_blocking();
                    let read = *value;
                    *value = read + 1;
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(*counter.lock_blocking(), WORKERS * INCREMENTS);
}

#[test]
fn tasks_and_threads_share_one_counter() {
    let _watched = Watched::start();
    let counter = Arc::new(Mutex::new(0usize));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let counter = counter.clone();
            runtime.spawn(async move {
                for _ in 0..20_000 {
                    *counter.lock().await += 1;
                }
            })
        })
        .collect();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let counter = counter.clone();
            std::thread::spawn(move || {
                for _ in 0..20_000 {
                    *counter.lock_blocking() += 1;
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    runtime.block_on(async {
        for task in tasks {
            task.await.unwrap();
        }
    });
    assert_eq!(*counter.lock_blocking(), 8 * 20_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_semaphore_never_admits_more_than_its_permits() {
    let _watched = Watched::start();
    const PERMITS: usize = 5;
    let pool = Arc::new(Semaphore::new(PERMITS));
    let gauge = Arc::new(Gauge::default());
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let (pool, gauge) = (pool.clone(), gauge.clone());
            tokio::spawn(async move {
                for _ in 0..500 {
                    let n = 1 + i % 2; // a mix of single and double requests
                    let _permit = pool.acquire_many(n).await.unwrap();
                    for _ in 0..n {
                        gauge.enter();
                    }
                    tokio::task::yield_now().await;
                    for _ in 0..n {
                        gauge.leave();
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert!(gauge.max.load(Ordering::SeqCst) <= PERMITS);
    assert_eq!(
        gauge.max.load(Ordering::SeqCst),
        PERMITS,
        "the limit was reached"
    );
    assert_eq!(pool.available_permits(), PERMITS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_writer_is_served_under_a_reader_flood() {
    let _watched = Watched::start();
    let lock = Arc::new(RwLock::new(0u64));
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let (lock, stop) = (lock.clone(), stop.clone());
            tokio::spawn(async move {
                let mut reads = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let value = lock.read().await;
                    reads += *value;
                    tokio::task::yield_now().await;
                    drop(value);
                }
                reads
            })
        })
        .collect();
    // Every write must get through while readers keep arriving.
    for _ in 0..200 {
        *lock.write().await += 1;
        tokio::task::yield_now().await;
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.await.unwrap();
    }
    assert_eq!(*lock.read().await, 200);
}

/// Half the waiters give up at random moments; at the end every permit is
/// back and every finished holder counted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancelling_half_the_waiters_leaves_the_books_balanced() {
    let _watched = Watched::start();
    const PERMITS: usize = 3;
    let pool = Arc::new(Semaphore::new(PERMITS));
    let gauge = Arc::new(Gauge::default());
    let served = Arc::new(AtomicUsize::new(0));
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut tasks = Vec::new();
    for i in 0..2_000 {
        let (pool, gauge, served) = (pool.clone(), gauge.clone(), served.clone());
        let n = 1 + (next() % 3) as usize;
        let patience = if i % 2 == 0 {
            Some(Duration::from_micros(next() % 200))
        } else {
            None
        };
        tasks.push(tokio::spawn(async move {
            let acquire = pool.acquire_many(n);
            let permit = match patience {
                Some(patience) => match tokio::time::timeout(patience, acquire).await {
                    Ok(permit) => permit.unwrap(),
                    Err(_) => return false,
                },
                None => acquire.await.unwrap(),
            };
            gauge.enter();
            tokio::task::yield_now().await;
            gauge.leave();
            drop(permit);
            served.fetch_add(1, Ordering::SeqCst);
            true
        }));
    }
    let mut finished = 0;
    for task in tasks {
        finished += usize::from(task.await.unwrap());
    }
    assert_eq!(finished, served.load(Ordering::SeqCst));
    assert!(finished >= 1_000, "every patient waiter was served");
    assert_eq!(pool.available_permits(), PERMITS, "no permit leaked");
    assert_eq!(pool.capacity(), PERMITS);
    assert!(
        pool.try_acquire_many(PERMITS).is_ok(),
        "nobody left in line"
    );
}

#[test]
fn blocking_waiters_with_timeouts_leave_the_books_balanced() {
    let _watched = Watched::start();
    let pool = Arc::new(Semaphore::new(2));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let mut got = 0;
                for j in 0..2_000 {
                    let permit = if (i + j) % 3 == 0 {
                        pool.acquire_blocking_timeout(Duration::from_micros(50))
                            .ok()
                    } else {
                        Some(pool.acquire_blocking().unwrap())
                    };
                    got += usize::from(permit.is_some());
                }
                got
            })
        })
        .collect();
    let got: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(got >= 8 * 2_000 * 2 / 3);
    assert_eq!(pool.available_permits(), 2);
    assert!(pool.try_acquire_many(2).is_ok());
}
