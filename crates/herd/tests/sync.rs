//! `herd::sync` behaviour: order, timeouts, cancellation, resizing, closing.
//! Timing runs on tokio's paused clock.

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex as StdMutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use herd::sync::{AcquireError, Mutex, RwLock, Semaphore};
use tokio::task::yield_now;

mod common;

use common::{flag_raised_by_another_task, pending_at_a_spent_budget};

/// Polls `fut` once with a waker that does nothing.
fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    std::pin::Pin::new(fut).poll(&mut Context::from_waker(Waker::noop()))
}

/// Lets every spawned task on the current-thread runtime run until it waits.
async fn settle() {
    for _ in 0..10 {
        yield_now().await;
    }
}

// ---- Mutex ------------------------------------------------------------------

#[tokio::test]
async fn mutex_waiters_are_served_in_arrival_order() {
    let lock = Arc::new(Mutex::new(()));
    let order = Arc::new(StdMutex::new(Vec::new()));
    let held = lock.lock().await;
    let mut tasks = Vec::new();
    for id in 0..5 {
        let (lock, order) = (lock.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            let _guard = lock.lock().await;
            order.lock().unwrap().push(id);
        }));
        settle().await; // each one queues before the next arrives
    }
    drop(held);
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3, 4]);
}

#[tokio::test]
async fn mutex_try_lock_does_not_jump_the_line() {
    let lock = Arc::new(Mutex::new(0));
    let held = lock.lock().await;
    let waiter = tokio::spawn({
        let lock = lock.clone();
        async move { *lock.lock().await += 1 }
    });
    settle().await;
    drop(held);
    // The lock went to the waiter, not to whoever asks next.
    assert!(lock.try_lock().is_none());
    waiter.await.unwrap();
    assert_eq!(*lock.try_lock().unwrap(), 1);
}

#[tokio::test(start_paused = true)]
async fn mutex_lock_timeout_names_the_lock_and_leaves_it_usable() {
    let lock = Mutex::named("ledger", 0);
    let held = lock.lock().await;
    let started = tokio::time::Instant::now();
    let err = lock
        .lock_timeout(Duration::from_millis(250))
        .await
        .unwrap_err();
    assert_eq!(started.elapsed(), Duration::from_millis(250));
    assert_eq!(
        err,
        AcquireError::TimedOut {
            resource: lock.resource().clone(),
            waited: Duration::from_millis(250),
        }
    );
    assert_eq!(
        err.to_string(),
        "timed out after 250ms waiting for Mutex \"ledger\""
    );
    drop(held);
    // The timed-out waiter left the line: the lock is free at once.
    assert!(lock.try_lock().is_some());
}

#[tokio::test(start_paused = true)]
async fn mutex_lock_timeout_succeeds_when_released_in_time() {
    let lock = Arc::new(Mutex::new(0));
    let (locked_tx, locked_rx) = tokio::sync::oneshot::channel();
    tokio::spawn({
        let lock = lock.clone();
        async move {
            let _guard = lock.lock().await;
            locked_tx.send(()).unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    locked_rx.await.unwrap();
    let started = tokio::time::Instant::now();
    let guard = lock.lock_timeout(Duration::from_secs(1)).await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_millis(100));
    assert_eq!(*guard, 0);
}

#[tokio::test]
async fn dropping_a_waiting_lock_future_skips_nobody() {
    let lock = Arc::new(Mutex::new(0));
    let held = lock.lock().await;
    // Three waiters; the middle one is dropped while waiting.
    let mut first = lock.lock();
    let mut middle = lock.lock();
    let mut last = lock.lock();
    assert!(poll_once(&mut first).is_pending());
    assert!(poll_once(&mut middle).is_pending());
    assert!(poll_once(&mut last).is_pending());
    drop(middle);
    drop(held);
    let guard = match poll_once(&mut first) {
        Poll::Ready(guard) => guard,
        Poll::Pending => panic!("the first waiter should hold the lock"),
    };
    assert!(poll_once(&mut last).is_pending());
    drop(guard);
    assert!(poll_once(&mut last).is_ready());
}

#[tokio::test]
async fn a_lock_granted_to_a_dropped_future_passes_on() {
    let lock = Mutex::new(0);
    let held = lock.lock().await;
    let mut granted = lock.lock();
    let mut next = lock.lock();
    assert!(poll_once(&mut granted).is_pending());
    assert!(poll_once(&mut next).is_pending());
    drop(held); // hands the lock to `granted`, which never looks
    drop(granted);
    assert!(poll_once(&mut next).is_ready(), "the lock was passed on");
}

#[tokio::test]
async fn a_panic_while_holding_the_lock_releases_it() {
    let lock = Arc::new(Mutex::new(1));
    let crashed = tokio::spawn({
        let lock = lock.clone();
        async move {
            let _guard = lock.lock().await;
            panic!("boom");
        }
    })
    .await;
    assert!(crashed.unwrap_err().is_panic());
    assert_eq!(*lock.lock().await, 1, "not poisoned, not stuck");
}

#[test]
fn mutex_blocking_forms_work_across_threads() {
    let lock = Arc::new(Mutex::named("shared", 0));
    let held = lock.lock_blocking();
    let waiter = std::thread::spawn({
        let lock = lock.clone();
        move || {
            *lock.lock_blocking() += 1;
        }
    });
    let err = {
        let lock = lock.clone();
        std::thread::spawn(move || {
            lock.lock_blocking_timeout(Duration::from_millis(20))
                .map(|_| ())
        })
        .join()
        .unwrap()
        .unwrap_err()
    };
    assert!(matches!(err, AcquireError::TimedOut { .. }));
    drop(held);
    waiter.join().unwrap();
    assert_eq!(*lock.lock_blocking(), 1);
}

#[tokio::test]
async fn a_thread_and_a_task_share_one_mutex() {
    let lock = Arc::new(Mutex::new(Vec::new()));
    let held = lock.lock().await;
    let thread = std::thread::spawn({
        let lock = lock.clone();
        move || lock.lock_blocking().push("thread")
    });
    drop(held);
    lock.lock().await.push("task");
    thread.join().unwrap();
    let mut seen = lock.lock().await.clone();
    seen.sort_unstable();
    assert_eq!(seen, ["task", "thread"]);
}

// ---- RwLock -----------------------------------------------------------------

#[tokio::test]
async fn readers_share_and_a_writer_excludes() {
    let lock = RwLock::new(0);
    let one = lock.read().await;
    let two = lock.read().await;
    assert!(lock.try_write().is_none());
    drop((one, two));
    let writing = lock.write().await;
    assert!(lock.try_read().is_none());
    drop(writing);
    assert!(lock.try_read().is_some());
}

#[tokio::test]
async fn a_waiting_writer_goes_before_later_readers() {
    let lock = RwLock::new(0);
    let early_reader = lock.read().await;
    let mut writer = lock.write();
    assert!(poll_once(&mut writer).is_pending());
    // A reader arriving after the writer queues behind it, even though
    // only readers hold the lock.
    assert!(lock.try_read().is_none());
    let mut late_reader = lock.read();
    assert!(poll_once(&mut late_reader).is_pending());
    drop(early_reader);
    let mut guard = match poll_once(&mut writer) {
        Poll::Ready(guard) => guard,
        Poll::Pending => panic!("the writer should hold the lock"),
    };
    *guard = 1;
    assert!(poll_once(&mut late_reader).is_pending());
    drop(guard);
    match poll_once(&mut late_reader) {
        Poll::Ready(guard) => assert_eq!(*guard, 1, "the reader saw the write"),
        Poll::Pending => panic!("the reader should have the lock"),
    }
}

#[tokio::test]
async fn a_dropped_waiting_writer_lets_the_readers_behind_it_in() {
    let lock = RwLock::new(0);
    let reader = lock.read().await;
    let mut writer = lock.write();
    assert!(poll_once(&mut writer).is_pending());
    let mut behind = lock.read();
    assert!(poll_once(&mut behind).is_pending());
    // The writer collected read permits as readers left; dropping it must
    // give them to the reader behind.
    drop(reader);
    drop(writer);
    assert!(poll_once(&mut behind).is_ready());
}

#[tokio::test(start_paused = true)]
async fn rwlock_timeouts_name_the_lock() {
    let lock = RwLock::named("routes", ());
    let reading = lock.read().await;
    let err = lock
        .write_timeout(Duration::from_secs(3))
        .await
        .unwrap_err();
    assert_eq!(err.resource().name(), Some("routes"));
    drop(reading);
    let writing = lock.write_timeout(Duration::from_secs(3)).await.unwrap();
    assert!(lock.read_timeout(Duration::from_secs(1)).await.is_err());
    drop(writing);
    assert!(lock.read_timeout(Duration::from_secs(1)).await.is_ok());
}

#[test]
fn rwlock_blocking_forms_work_across_threads() {
    let lock = Arc::new(RwLock::new(0));
    let writing = lock.write_blocking();
    let reader = std::thread::spawn({
        let lock = lock.clone();
        move || *lock.read_blocking()
    });
    assert!(
        lock.read_blocking_timeout(Duration::from_millis(10))
            .is_err()
    );
    drop(writing);
    assert_eq!(reader.join().unwrap(), 0);
    *lock.write_blocking_timeout(Duration::from_secs(5)).unwrap() = 3;
    assert_eq!(*lock.read_blocking(), 3);
}

// ---- Semaphore --------------------------------------------------------------

#[tokio::test]
async fn a_large_request_is_not_overtaken_by_small_ones() {
    let pool = Semaphore::new(3);
    let held = pool.acquire_many(2).await.unwrap();
    let mut big = pool.acquire_many(3);
    assert!(poll_once(&mut big).is_pending());
    // One permit is free, but the big request is first in line.
    assert!(pool.try_acquire().is_err());
    let mut small = pool.acquire();
    assert!(poll_once(&mut small).is_pending());
    drop(held);
    let big = match poll_once(&mut big) {
        Poll::Ready(permit) => permit.unwrap(),
        Poll::Pending => panic!("the big request should be served first"),
    };
    assert!(poll_once(&mut small).is_pending());
    drop(big);
    assert!(poll_once(&mut small).is_ready());
}

#[tokio::test]
async fn asking_for_more_than_exists_fails_at_once() {
    let pool = Semaphore::named("slots", 2);
    let err = pool.acquire_many(3).await.unwrap_err();
    assert_eq!(
        err,
        AcquireError::TooMany {
            resource: pool.resource().clone(),
            requested: 3,
            capacity: 2,
        }
    );
    assert_eq!(
        err.to_string(),
        "asked Semaphore \"slots\" for 3 permits; it has 2"
    );
    assert!(matches!(
        pool.try_acquire_many(3),
        Err(AcquireError::TooMany { .. })
    ));
    assert!(pool.acquire_many_blocking(3).is_err());
}

#[tokio::test]
async fn close_wakes_every_waiter_with_closed() {
    let pool = Arc::new(Semaphore::named("jobs", 1));
    let held = pool.acquire().await.unwrap();
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move { pool.acquire().await.map(|_| ()) })
        })
        .collect();
    settle().await;
    pool.close();
    for waiter in waiters {
        assert_eq!(
            waiter.await.unwrap(),
            Err(AcquireError::Closed {
                resource: pool.resource().clone()
            })
        );
    }
    drop(held);
    assert_eq!(pool.available_permits(), 1, "held permits still come back");
    assert!(matches!(
        pool.try_acquire(),
        Err(AcquireError::Closed { .. })
    ));
}

#[tokio::test]
async fn close_returns_permits_a_waiter_had_collected() {
    let pool = Semaphore::new(2);
    let one = pool.acquire().await.unwrap();
    let mut two = pool.acquire_many(2);
    assert!(poll_once(&mut two).is_pending()); // holds the free permit aside
    pool.close();
    assert!(matches!(poll_once(&mut two), Poll::Ready(Err(_))));
    drop(one);
    assert_eq!(pool.available_permits(), 2);
}

#[tokio::test]
async fn add_permits_wakes_waiters_in_order() {
    let pool = Semaphore::new(2);
    let held = pool.acquire_many(2).await.unwrap();
    let mut first = pool.acquire_many(2);
    let mut second = pool.acquire();
    assert!(poll_once(&mut first).is_pending());
    assert!(poll_once(&mut second).is_pending());
    pool.add_permits(1);
    // One new permit is set aside for the head, which needs two.
    assert!(poll_once(&mut first).is_pending());
    assert!(poll_once(&mut second).is_pending());
    pool.add_permits(1);
    let first = poll_once(&mut first); // kept: dropping it would release
    assert!(first.is_ready());
    assert!(poll_once(&mut second).is_pending());
    pool.add_permits(1);
    assert!(poll_once(&mut second).is_ready());
    drop((held, first));
    assert_eq!(pool.capacity(), 5);
}

#[tokio::test]
async fn forget_permits_shrinks_a_live_limit() {
    let limit = Semaphore::new(4);
    let held: Vec<_> = (0..4).map(|_| limit.try_acquire().unwrap()).collect();
    let mut waiter = limit.acquire();
    assert!(poll_once(&mut waiter).is_pending());
    assert_eq!(limit.forget_permits(2), 0, "none free to take now");
    assert_eq!(limit.capacity(), 2);
    let mut held = held.into_iter();
    // The first two releases pay the debt; the waiter gets the third.
    drop(held.next());
    drop(held.next());
    assert!(poll_once(&mut waiter).is_pending());
    drop(held.next());
    let permit = match poll_once(&mut waiter) {
        Poll::Ready(permit) => permit.unwrap(),
        Poll::Pending => panic!("the third release should reach the waiter"),
    };
    drop(held);
    drop(permit);
    assert_eq!(limit.available_permits(), 2);
    assert_eq!(limit.capacity(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_many_request_gives_back_what_it_collected() {
    let pool = Semaphore::new(3);
    let held = pool.acquire_many(2).await.unwrap();
    let err = pool
        .acquire_many_timeout(3, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(matches!(err, AcquireError::TimedOut { .. }));
    assert_eq!(pool.available_permits(), 1, "the collected permit is back");
    drop(held);
    assert_eq!(pool.available_permits(), 3);
}

#[test]
fn semaphore_blocking_timeout_then_grant() {
    let pool = Arc::new(Semaphore::new(1));
    let held = pool.acquire_blocking().unwrap();
    assert!(matches!(
        pool.acquire_blocking_timeout(Duration::from_millis(10)),
        Err(AcquireError::TimedOut { .. })
    ));
    let waiter = std::thread::spawn({
        let pool = pool.clone();
        move || {
            pool.acquire_many_blocking_timeout(1, Duration::from_secs(60))
                .is_ok()
        }
    });
    drop(held);
    assert!(waiter.join().unwrap());
    assert_eq!(pool.available_permits(), 1);
}

#[tokio::test]
async fn owned_permits_move_into_tasks() {
    let pool = Arc::new(Semaphore::new(2));
    let mut jobs = Vec::new();
    for _ in 0..6 {
        let permit = pool.clone().acquire_owned().await.unwrap();
        jobs.push(tokio::spawn(async move {
            yield_now().await;
            drop(permit);
        }));
    }
    for job in jobs {
        job.await.unwrap();
    }
    assert_eq!(pool.available_permits(), 2);
}

#[tokio::test]
async fn a_forgotten_permit_shrinks_the_capacity() {
    let pool = Semaphore::new(2);
    pool.acquire().await.unwrap().forget();
    assert_eq!((pool.capacity(), pool.available_permits()), (1, 1));
}

#[tokio::test]
async fn connection_pool_semaphore_bounds_concurrent_use() {
    // The guides' connection pool: at most 3 of 20 tasks hold a connection.
    let pool = Arc::new(Semaphore::named("connections", 3));
    let in_use = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (pool, in_use, most) = (pool.clone(), in_use.clone(), most.clone());
            tokio::spawn(async move {
                let _connection = pool.acquire().await.unwrap();
                let now = in_use.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                most.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                yield_now().await;
                in_use.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(most.load(std::sync::atomic::Ordering::SeqCst), 3);
    assert_eq!(pool.available_permits(), 3);
}

#[tokio::test]
async fn select_against_a_lock_cancels_cleanly() {
    let lock = Mutex::new(0);
    let held = lock.lock().await;
    {
        let mut pending = pin!(lock.lock());
        tokio::select! {
            biased;
            _ = &mut pending => unreachable!("the lock is held"),
            _ = std::future::ready(()) => {}
        }
        // The losing branch is queued; the lock is handed to it on release.
        drop(held);
    } // and the queued future is dropped here, passing the lock on
    assert!(lock.try_lock().is_some());
}

// ---- Event, Notify, Barrier, OnceCell -------------------------------------

#[tokio::test]
async fn event_set_wakes_every_waiter_and_clear_blocks_new_ones() {
    let event = Arc::new(herd::sync::Event::new());
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let event = event.clone();
            tokio::spawn(async move { event.wait().await })
        })
        .collect();
    settle().await;
    event.set();
    event.clear(); // already-woken waiters still return
    for waiter in waiters {
        waiter.await.unwrap();
    }
    let mut late = event.wait();
    assert!(poll_once(&mut late).is_pending());
    event.set();
    assert!(poll_once(&mut late).is_ready());
}

#[tokio::test(start_paused = true)]
async fn event_wait_timeout_and_blocking_forms() {
    let event = Arc::new(herd::sync::Event::named("ready"));
    let err = event
        .wait_timeout(Duration::from_secs(2))
        .await
        .unwrap_err();
    assert_eq!(err.resource().name(), Some("ready"));
    let thread = std::thread::spawn({
        let event = event.clone();
        move || event.wait_blocking()
    });
    event.set();
    thread.join().unwrap();
    assert!(event.wait_timeout(Duration::from_secs(2)).await.is_ok());
}

#[tokio::test]
async fn notify_one_wakes_the_longest_waiter_and_stores_one_permit() {
    let notify = herd::sync::Notify::new();
    notify.notify_one();
    notify.notify_one(); // at most one permit is stored
    assert!(poll_once(&mut notify.notified()).is_ready());
    let mut first = notify.notified();
    let mut second = notify.notified();
    assert!(poll_once(&mut first).is_pending());
    assert!(poll_once(&mut second).is_pending());
    notify.notify_one();
    assert!(poll_once(&mut first).is_ready());
    assert!(poll_once(&mut second).is_pending());
}

#[tokio::test]
async fn a_notification_received_by_a_dropped_waiter_passes_on() {
    let notify = herd::sync::Notify::new();
    let mut picked = notify.notified();
    let mut next = notify.notified();
    assert!(poll_once(&mut picked).is_pending());
    assert!(poll_once(&mut next).is_pending());
    notify.notify_one(); // goes to `picked`
    drop(picked); // which never saw it
    assert!(poll_once(&mut next).is_ready(), "passed on, not lost");
}

#[tokio::test]
async fn notify_waiters_wakes_the_current_ones_and_stores_nothing() {
    let notify = herd::sync::Notify::new();
    let mut a = notify.notified();
    let mut b = notify.notified();
    assert!(poll_once(&mut a).is_pending());
    assert!(poll_once(&mut b).is_pending());
    notify.notify_waiters();
    assert!(poll_once(&mut a).is_ready());
    assert!(poll_once(&mut b).is_ready());
    assert!(poll_once(&mut notify.notified()).is_pending());
}

#[test]
fn notify_blocking_forms() {
    let notify = Arc::new(herd::sync::Notify::new());
    assert!(
        notify
            .notified_blocking_timeout(Duration::from_millis(10))
            .is_err()
    );
    let thread = std::thread::spawn({
        let notify = notify.clone();
        move || notify.notified_blocking()
    });
    // Until the thread waits, the notification is stored; either way it
    // reaches the thread.
    notify.notify_one();
    thread.join().unwrap();
}

#[tokio::test]
async fn barrier_rounds_repeat_with_one_leader_each() {
    let barrier = Arc::new(herd::sync::Barrier::new(3));
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                let mut leads = 0;
                for _ in 0..5 {
                    leads += usize::from(barrier.wait().await.is_leader());
                }
                leads
            })
        })
        .collect();
    let mut leads = 0;
    for task in tasks {
        leads += task.await.unwrap();
    }
    assert_eq!(leads, 5, "one leader per round");
}

#[tokio::test(start_paused = true)]
async fn a_waiter_that_gives_up_leaves_the_round() {
    let barrier = herd::sync::Barrier::named("pair", 2);
    assert!(barrier.wait_timeout(Duration::from_secs(1)).await.is_err());
    // The timed-out arrival was taken back: one more alone does not
    // complete the round.
    let mut alone = barrier.wait();
    assert!(poll_once(&mut alone).is_pending());
    let mut partner = barrier.wait();
    assert!(poll_once(&mut partner).is_ready());
    assert!(poll_once(&mut alone).is_ready());
}

#[tokio::test]
#[should_panic(expected = "a Barrier needs at least 1 party, got 0")]
async fn a_barrier_of_zero_is_refused() {
    let _ = herd::sync::Barrier::new(0);
}

#[tokio::test]
async fn once_cell_runs_one_initialiser_under_contention() {
    let cell = Arc::new(herd::sync::OnceCell::new());
    let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let (cell, runs) = (cell.clone(), runs.clone());
            tokio::spawn(async move {
                *cell
                    .get_or_init(|| async move {
                        runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        yield_now().await;
                        i
                    })
                    .await
            })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.unwrap());
    }
    assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(
        seen.windows(2).all(|pair| pair[0] == pair[1]),
        "one value for all"
    );
}

#[tokio::test]
async fn a_cancelled_or_panicking_initialiser_lets_the_next_caller_try() {
    let cell = Arc::new(herd::sync::OnceCell::new());
    // Cancelled mid-initialisation.
    {
        let mut stuck = pin!(cell.get_or_init(std::future::pending::<u8>));
        assert!(poll_once(&mut stuck).is_pending());
    }
    // Panicking.
    let crashed = tokio::spawn({
        let cell = cell.clone();
        async move { *cell.get_or_init(|| async { panic!("init failed") }).await }
    })
    .await;
    assert!(crashed.unwrap_err().is_panic());
    assert_eq!(cell.get(), None);
    assert_eq!(*cell.get_or_init(|| async { 7 }).await, 7);
}

#[test]
fn once_cell_blocking_form_from_threads() {
    let cell = Arc::new(herd::sync::OnceCell::new());
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let cell = cell.clone();
            std::thread::spawn(move || *cell.get_or_init_blocking(|| i))
        })
        .collect();
    let values: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(values.iter().all(|v| *v == values[0]));
}

// ---- shrinking below what is owed or asked (found in review) ----------------

#[tokio::test]
async fn a_held_permit_forgotten_after_forget_permits_pays_the_debt() {
    let pool = Semaphore::new(1);
    let held = pool.try_acquire().unwrap();
    assert_eq!(pool.forget_permits(1), 0, "the only permit is held");
    held.forget(); // the permit that was owed disappears: nothing is owed now
    assert_eq!(pool.capacity(), 0);
    pool.add_permits(1);
    assert_eq!(pool.capacity(), 1);
    assert!(
        pool.try_acquire().is_ok(),
        "not stuck behind a debt never paid"
    );
}

#[tokio::test]
async fn a_waiter_larger_than_the_shrunk_capacity_is_refused_not_stranded() {
    let pool = Semaphore::new(2);
    let held = pool.acquire_many(2).await.unwrap();
    let mut big = pool.acquire_many(2);
    assert!(poll_once(&mut big).is_pending());
    pool.forget_permits(1);
    assert!(matches!(
        poll_once(&mut big),
        Poll::Ready(Err(AcquireError::TooMany {
            requested: 2,
            capacity: 1,
            ..
        }))
    ));
    let mut small = pool.acquire();
    assert!(poll_once(&mut small).is_pending());
    drop(held); // one release pays the debt, the other reaches `small`
    assert!(poll_once(&mut small).is_ready(), "the line moves on");
}

#[tokio::test]
async fn forgetting_a_held_permit_refuses_a_waiter_that_can_no_longer_fit() {
    let pool = Semaphore::new(2);
    let one = pool.try_acquire().unwrap();
    let mut both = pool.acquire_many(2);
    assert!(poll_once(&mut both).is_pending()); // holds the free one aside
    one.forget();
    assert!(matches!(
        poll_once(&mut both),
        Poll::Ready(Err(AcquireError::TooMany { .. }))
    ));
    assert_eq!(pool.available_permits(), 1, "what it held aside came back");
}

// ---- tokio's task budget -----------------------------------------------------

/// Runs `step` until another task on the thread runs (or `limit` steps);
/// returns how many steps that took.
async fn steps_until_another_task_runs<F: Future<Output = ()>>(
    limit: usize,
    mut step: impl FnMut() -> F,
) -> usize {
    let flag = flag_raised_by_another_task();
    let mut steps = 0;
    while steps < limit && !flag.load(std::sync::atomic::Ordering::SeqCst) {
        step().await;
        steps += 1;
    }
    steps
}

// A loop over a free lock or semaphore never waits; each acquisition takes
// a unit of tokio's task budget, as tokio's own locks do, so the loop still
// gives the thread's other tasks a turn instead of holding the thread until
// it ends. Every guard and permit is given back on the way.
#[tokio::test(flavor = "current_thread")]
async fn loops_over_a_free_lock_let_the_threads_other_tasks_run() {
    const LIMIT: usize = 10_000;
    let within = 1..1_000;

    let mutex = Mutex::new(0);
    let steps = steps_until_another_task_runs(LIMIT, || async { *mutex.lock().await += 1 }).await;
    assert!(
        within.contains(&steps),
        "mutex: another task ran after {steps}"
    );
    assert_eq!(*mutex.try_lock().expect("free"), steps);

    let lock = RwLock::new(0);
    let steps = steps_until_another_task_runs(LIMIT, || async { *lock.write().await += 1 }).await;
    assert!(
        within.contains(&steps),
        "write: another task ran after {steps}"
    );
    let steps = steps_until_another_task_runs(LIMIT, || async {
        drop(lock.read().await);
    })
    .await;
    assert!(
        within.contains(&steps),
        "read: another task ran after {steps}"
    );
    assert!(
        lock.try_write().is_some(),
        "every read guard was given back"
    );

    let pool = Semaphore::new(3);
    let steps = steps_until_another_task_runs(LIMIT, || async {
        drop(pool.acquire_many(2).await.unwrap());
    })
    .await;
    assert!(
        within.contains(&steps),
        "semaphore: another task ran after {steps}"
    );
    assert_eq!(pool.available_permits(), 3, "every permit came back");
}

// The budget is tokio's, so tokio's opt-out works: a loop wrapped in
// `unconstrained` keeps the thread until it ends.
#[tokio::test(flavor = "current_thread")]
async fn an_unconstrained_lock_loop_keeps_the_thread() {
    const N: usize = 10_000;
    let mutex = Mutex::new(0);
    let flag = flag_raised_by_another_task();
    tokio::task::coop::unconstrained(async {
        for _ in 0..N {
            *mutex.lock().await += 1;
        }
    })
    .await;
    assert!(!flag.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(*mutex.try_lock().unwrap(), N);
    yield_now().await;
    assert!(flag.load(std::sync::atomic::Ordering::SeqCst));
}

// A lock handed to a waiter whose next poll finds the budget spent stays
// set aside for it; dropped then, the waiter passes it to the next in line.
#[tokio::test(flavor = "current_thread")]
async fn a_lock_handed_to_a_waiter_at_a_spent_budget_passes_on_when_dropped() {
    let mutex = Mutex::new(0);
    let held = mutex.try_lock().unwrap();
    let mut first = mutex.lock();
    assert!(poll_once(&mut first).is_pending());
    let mut second = mutex.lock();
    assert!(poll_once(&mut second).is_pending());
    drop(held); // handed to `first`
    let pending = pending_at_a_spent_budget(&mut first).await;
    assert!(pending, "a spent budget makes it wait its turn");
    assert!(mutex.try_lock().is_none(), "still set aside for `first`");
    drop(first);
    yield_now().await; // a fresh budget
    let Poll::Ready(guard) = poll_once(&mut second) else {
        panic!("the lock passed to `second`")
    };
    drop(guard);
    drop(second);
    assert!(mutex.try_lock().is_some(), "nothing held");
}

// Permits handed to a waiter in part, then a spent budget, then a drop: all
// of them come back.
#[tokio::test(flavor = "current_thread")]
async fn permits_set_aside_for_a_waiter_at_a_spent_budget_come_back_when_dropped() {
    let pool = Semaphore::new(3);
    let held = pool.try_acquire_many(3).unwrap();
    let mut waiting = pool.acquire_many(2);
    assert!(poll_once(&mut waiting).is_pending());
    drop(held);
    let pending = pending_at_a_spent_budget(&mut waiting).await;
    assert!(pending);
    drop(waiting);
    assert_eq!(pool.available_permits(), 3);
}
