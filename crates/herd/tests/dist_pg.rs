//! `herd::dist::PgQueue` against a real PostgreSQL server each test starts
//! on 127.0.0.1 (Debian's `postgresql`, installed by `.ci/run`; run as the
//! `postgres` user when the tests run as root): order, idempotency,
//! transactional enqueue, retries and dead letter, heartbeats and the
//! rescuer, NOTIFY wake-ups, cancellation, a server restart, and two
//! workers draining one queue with every job done exactly once.
#![cfg(feature = "postgres")]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use herd::dist::{JobFailure, JobState, NewJob, PgQueue, WorkStats};
use herd::pool::WorkerPool;
use herd::task::CancelToken;

#[path = "support/pg_server.rs"]
mod pg_server;

use pg_server::PgServer;

/// Every wait in these tests is bounded: a hang fails the test instead.
const PATIENCE: Duration = Duration::from_secs(60);

async fn queue(server: &PgServer, name: &str) -> PgQueue {
    PgQueue::builder(server.url(), name)
        .backoff(Duration::from_millis(5), Duration::from_millis(20))
        .poll_interval(Duration::from_millis(200))
        .build()
        .await
        .expect("the queue connects and migrates")
}

/// Runs `queue` on a pool of `workers`, as a task, until `stop` is
/// cancelled.
fn spawn_worker<H, F>(
    queue: &PgQueue,
    workers: usize,
    handler: H,
    stop: &CancelToken,
) -> tokio::task::JoinHandle<WorkStats>
where
    H: Fn(herd::dist::Job) -> F + Send + Sync + 'static,
    F: std::future::Future<Output = Result<Vec<u8>, JobFailure>> + Send + 'static,
{
    let (queue, stop) = (queue.clone(), stop.clone());
    tokio::spawn(async move {
        let pool = WorkerPool::builder().workers(workers).build();
        queue.run(&pool, handler, &stop).await
    })
}

/// Runs a worker on `queue` with `workers` workers until `done` says stop,
/// checked whenever a job ends; returns its stats.
async fn drain_until<H, F>(
    queue: &PgQueue,
    workers: usize,
    handler: H,
    done: impl Fn(herd::dist::QueueCounts) -> bool,
) -> WorkStats
where
    H: Fn(herd::dist::Job) -> F + Send + Sync + 'static,
    F: std::future::Future<Output = Result<Vec<u8>, JobFailure>> + Send + 'static,
{
    let stop = CancelToken::new();
    let worker = spawn_worker(queue, workers, handler, &stop);
    tokio::time::timeout(PATIENCE, async {
        while !done(queue.counts().await.unwrap()) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the queue drains in time");
    stop.cancel("drained");
    tokio::time::timeout(PATIENCE, worker)
        .await
        .expect("run returns once stopped")
        .unwrap()
}

#[tokio::test]
async fn jobs_run_by_priority_then_in_order_and_their_results_are_stored() {
    let server = PgServer::start();
    let queue = PgQueue::builder(server.url(), "order")
        .batch(1)
        .build()
        .await
        .unwrap();
    let mut ids = Vec::new();
    for (priority, name) in [
        (0, "low 1"),
        (5, "high 1"),
        (0, "low 2"),
        (5, "high 2"),
        (1, "mid"),
    ] {
        let job = queue
            .enqueue(NewJob::new(name).priority(priority))
            .await
            .unwrap();
        assert!(job.created);
        ids.push(job.id);
    }
    let order = Arc::new(Mutex::new(Vec::new()));
    let seen = order.clone();
    let stats = drain_until(
        &queue,
        1,
        move |job| {
            let seen = seen.clone();
            async move {
                let name = String::from_utf8(job.payload).unwrap();
                seen.lock().unwrap().push(name.clone());
                Ok(name.to_uppercase().into_bytes())
            }
        },
        |counts| counts.done == 5,
    )
    .await;
    assert_eq!(
        *order.lock().unwrap(),
        ["high 1", "high 2", "mid", "low 1", "low 2"]
    );
    assert_eq!(stats.done, 5);
    let records = queue.jobs(&ids).await.unwrap();
    assert_eq!(records.len(), 5);
    for record in records {
        assert_eq!(record.state, JobState::Done);
        assert_eq!(record.attempts, 1);
        let upper = String::from_utf8(record.payload).unwrap().to_uppercase();
        assert_eq!(record.result.unwrap(), upper.as_bytes());
    }
}

#[tokio::test]
async fn an_idempotency_key_enqueues_a_job_once() {
    let server = PgServer::start();
    let queue = queue(&server, "idem").await;
    let first = queue
        .enqueue(NewJob::new("a").idempotency_key("k1"))
        .await
        .unwrap();
    let again = queue
        .enqueue(NewJob::new("other payload").idempotency_key("k1"))
        .await
        .unwrap();
    assert!(first.created && !again.created);
    assert_eq!(first.id, again.id);
    // In a batch: taken keys give the existing id, new ones ascend in
    // input order, keyless ones too.
    let batch = queue
        .enqueue_many([
            NewJob::new("b"),
            NewJob::new("a again").idempotency_key("k1"),
            NewJob::new("c").idempotency_key("k2"),
            NewJob::new("d"),
        ])
        .await
        .unwrap();
    assert_eq!(batch.len(), 4);
    assert_eq!(batch[1].id, first.id);
    assert!(!batch[1].created);
    assert!(batch[0].created && batch[2].created && batch[3].created);
    assert!(batch[0].id < batch[2].id && batch[2].id < batch[3].id);
    // The same key in another queue is another job.
    let elsewhere = queue_named(&server, "idem-2")
        .await
        .enqueue(NewJob::new("a").idempotency_key("k1"))
        .await
        .unwrap();
    assert!(elsewhere.created);
    let counts = queue.counts().await.unwrap();
    assert_eq!(counts.available, 4);
    let payloads: Vec<Vec<u8>> = queue
        .jobs(&[first.id])
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.payload)
        .collect();
    assert_eq!(payloads, [b"a".to_vec()], "the first payload is kept");
}

async fn queue_named(server: &PgServer, name: &str) -> PgQueue {
    queue(server, name).await
}

#[tokio::test]
async fn a_job_enqueued_in_a_transaction_exists_only_if_it_commits() {
    let server = PgServer::start();
    let queue = queue(&server, "tx").await;
    let (mut client, connection) = tokio_postgres::connect(&server.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute("CREATE TABLE orders (id int PRIMARY KEY)")
        .await
        .unwrap();

    let tx = client.transaction().await.unwrap();
    tx.execute("INSERT INTO orders VALUES (1)", &[])
        .await
        .unwrap();
    let dropped = queue.enqueue_in(&tx, NewJob::new("ship 1")).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(queue.jobs(&[dropped.id]).await.unwrap().is_empty());

    let tx = client.transaction().await.unwrap();
    tx.execute("INSERT INTO orders VALUES (2)", &[])
        .await
        .unwrap();
    let kept = queue.enqueue_in(&tx, NewJob::new("ship 2")).await.unwrap();
    // Not visible to others before the commit.
    assert!(queue.jobs(&[kept.id]).await.unwrap().is_empty());
    tx.commit().await.unwrap();
    let records = queue.jobs(&[kept.id]).await.unwrap();
    assert_eq!(records[0].state, JobState::Available);
    assert_eq!(records[0].payload, b"ship 2");
}

#[tokio::test]
async fn failures_are_retried_with_backoff_then_dead_lettered() {
    let server = PgServer::start();
    let queue = queue(&server, "fail").await;
    let flaky = queue
        .enqueue(NewJob::new("flaky").max_attempts(3))
        .await
        .unwrap();
    let hopeless = queue
        .enqueue(NewJob::new("hopeless").max_attempts(3))
        .await
        .unwrap();
    let bad_input = queue
        .enqueue(NewJob::new("bad input").max_attempts(3))
        .await
        .unwrap();
    let panics = queue
        .enqueue(NewJob::new("panics").max_attempts(2))
        .await
        .unwrap();
    let attempts: Arc<Mutex<HashMap<String, Vec<u32>>>> = Arc::default();
    let seen = attempts.clone();
    let stats = drain_until(
        &queue,
        2,
        move |job| {
            let seen = seen.clone();
            async move {
                let name = String::from_utf8(job.payload).unwrap();
                seen.lock()
                    .unwrap()
                    .entry(name.clone())
                    .or_default()
                    .push(job.attempt);
                match name.as_str() {
                    "flaky" if job.attempt < 3 => Err(JobFailure::new("not yet")),
                    "flaky" => Ok(b"third time".to_vec()),
                    "hopeless" => Err(JobFailure::new(format!("failed {}", job.attempt))
                        .output(b"some output".to_vec())),
                    "bad input" => Err(JobFailure::new("cannot parse").permanent()),
                    _ => panic!("boom on attempt {}", job.attempt),
                }
            }
        },
        |counts| counts.done == 1 && counts.failed == 3,
    )
    .await;
    let attempts = attempts.lock().unwrap().clone();
    assert_eq!(attempts["flaky"], [1, 2, 3]);
    assert_eq!(attempts["hopeless"], [1, 2, 3]);
    assert_eq!(
        attempts["bad input"],
        [1],
        "a permanent failure is not retried"
    );
    assert_eq!(attempts["panics"], [1, 2]);
    assert_eq!(stats.done, 1);
    assert_eq!(stats.failed, 3);
    assert_eq!(stats.retried, 2 + 2 + 1);

    let records = queue
        .jobs(&[flaky.id, hopeless.id, bad_input.id, panics.id])
        .await
        .unwrap();
    assert_eq!(records[0].state, JobState::Done);
    assert_eq!(records[0].result.as_deref(), Some(&b"third time"[..]));
    assert_eq!(records[1].state, JobState::Failed);
    assert_eq!(records[1].attempts, 3);
    assert_eq!(records[1].last_error.as_deref(), Some("failed 3"));
    assert_eq!(records[1].result.as_deref(), Some(&b"some output"[..]));
    assert_eq!(records[2].state, JobState::Failed);
    assert_eq!(records[2].attempts, 1);
    assert_eq!(records[3].state, JobState::Failed);
    assert!(
        records[3]
            .last_error
            .as_deref()
            .unwrap()
            .contains("boom on attempt 2"),
        "{:?}",
        records[3].last_error
    );

    // Dead letter can be sent back.
    assert!(queue.retry(hopeless.id).await.unwrap());
    assert!(
        !queue.retry(flaky.id).await.unwrap(),
        "a done job stays done"
    );
    let record = &queue.jobs(&[hopeless.id]).await.unwrap()[0];
    assert_eq!((record.state, record.attempts), (JobState::Available, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_keep_a_long_job_leased_past_its_lease_length() {
    let server = PgServer::start();
    let build = || {
        PgQueue::builder(server.url(), "long")
            .lease(Duration::from_millis(300))
            .poll_interval(Duration::from_millis(50))
            .build()
    };
    let queue = build().await.unwrap();
    // A second worker, rescuing and claiming as hard as it can.
    let other = build().await.unwrap();
    let job = queue.enqueue(NewJob::new("slow")).await.unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let handler = {
        let runs = runs.clone();
        move |_job: herd::dist::Job| {
            let runs = runs.clone();
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                // Five lease lengths.
                tokio::time::sleep(Duration::from_millis(1500)).await;
                Ok(Vec::new())
            }
        }
    };
    let stop = CancelToken::new();
    let second = spawn_worker(&other, 2, handler.clone(), &stop);
    let stats = drain_until(&queue, 2, handler, |counts| counts.done == 1).await;
    stop.cancel("done");
    let other_stats = second.await.unwrap();
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "never rescued, never run twice"
    );
    assert_eq!(stats.done + other_stats.done, 1);
    assert_eq!(stats.lost + other_stats.lost, 0);
    assert_eq!(queue.jobs(&[job.id]).await.unwrap()[0].attempts, 1);
}

#[tokio::test]
async fn a_lease_not_renewed_goes_to_the_rescuer_and_the_stale_outcome_is_refused() {
    let server = PgServer::start();
    let queue = PgQueue::builder(server.url(), "rescue")
        .lease(Duration::from_millis(200))
        .max_attempts(2)
        .build()
        .await
        .unwrap();
    let job = queue.enqueue(NewJob::new("x")).await.unwrap();
    // Claimed by hand: nothing heartbeats it, as for a worker that hung.
    let stale = queue.claim(5).await.unwrap();
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0].job().attempt, 1);
    assert!(
        queue.claim(5).await.unwrap().is_empty(),
        "leased, so skipped"
    );
    assert_eq!(queue.rescue().await.unwrap(), 0, "not expired yet");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(queue.rescue().await.unwrap(), 1);
    let record = &queue.jobs(&[job.id]).await.unwrap()[0];
    assert_eq!((record.state, record.attempts), (JobState::Available, 1));
    assert!(
        record
            .last_error
            .as_deref()
            .unwrap()
            .contains("stopped heartbeating"),
        "{:?}",
        record.last_error
    );
    // The second claim is attempt 2; the first worker's late outcome and
    // renewal are refused, the second's counts.
    let fresh = queue.claim(5).await.unwrap();
    assert_eq!(fresh[0].job().attempt, 2);
    assert!(!queue.complete(&stale[0], b"late").await.unwrap());
    assert!(!queue.extend(&stale[0]).await.unwrap());
    assert!(queue.extend(&fresh[0]).await.unwrap());
    assert!(queue.complete(&fresh[0], b"on time").await.unwrap());
    let record = &queue.jobs(&[job.id]).await.unwrap()[0];
    assert_eq!(record.state, JobState::Done);
    assert_eq!(record.result.as_deref(), Some(&b"on time"[..]));

    // A job whose last attempt's worker died is dead letter, not lost.
    let last = queue
        .enqueue(NewJob::new("y").max_attempts(1))
        .await
        .unwrap();
    assert_eq!(queue.claim(1).await.unwrap().len(), 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(queue.rescue().await.unwrap(), 1);
    assert_eq!(
        queue.jobs(&[last.id]).await.unwrap()[0].state,
        JobState::Failed
    );
}

#[tokio::test]
async fn an_idle_worker_is_woken_by_notify_not_by_polling() {
    let server = PgServer::start();
    let queue = PgQueue::builder(server.url(), "wake")
        .poll_interval(Duration::from_secs(3600))
        .build()
        .await
        .unwrap();
    let stop = CancelToken::new();
    let worker = spawn_worker(&queue, 1, |job| async move { Ok(job.payload) }, &stop);
    // Let the worker find the queue empty and go to sleep.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let job = queue.enqueue(NewJob::new("wake up")).await.unwrap();
    // An hour's poll interval, so only a NOTIFY can have woken both the
    // worker and this wait in time.
    let records = tokio::time::timeout(Duration::from_secs(20), queue.wait(&[job.id]))
        .await
        .expect("woken by NOTIFY")
        .unwrap();
    assert_eq!(records[0].state, JobState::Done);
    stop.cancel("done");
    assert_eq!(worker.await.unwrap().done, 1);
}

#[tokio::test]
async fn cancelled_jobs_never_run_and_a_running_one_is_dropped() {
    let server = PgServer::start();
    let queue = PgQueue::builder(server.url(), "cancel")
        .lease(Duration::from_millis(300))
        .build()
        .await
        .unwrap();
    let waiting = queue
        .enqueue(NewJob::new("waiting").delay(Duration::from_secs(3600)))
        .await
        .unwrap();
    let running = queue.enqueue(NewJob::new("running")).await.unwrap();
    assert_eq!(queue.cancel(&[waiting.id]).await.unwrap(), [waiting.id]);

    struct Dropped(Arc<AtomicUsize>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(tokio::sync::Notify::new());
    let stop = CancelToken::new();
    let worker = {
        let (dropped, started) = (dropped.clone(), started.clone());
        let hang = move |_job| {
            let guard = Dropped(dropped.clone());
            let started = started.clone();
            async move {
                let _guard = guard;
                started.notify_one();
                std::future::pending::<()>().await;
                Ok(Vec::new())
            }
        };
        spawn_worker(&queue, 2, hang, &stop)
    };
    tokio::time::timeout(PATIENCE, started.notified())
        .await
        .unwrap();
    assert_eq!(queue.cancel(&[running.id]).await.unwrap(), [running.id]);
    let records = tokio::time::timeout(PATIENCE, queue.wait(&[waiting.id, running.id]))
        .await
        .unwrap()
        .unwrap();
    assert!(records.iter().all(|r| r.state == JobState::Cancelled));
    // The worker drops the running job at its next heartbeat.
    tokio::time::timeout(PATIENCE, async {
        while dropped.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the cancelled job's future is dropped");
    stop.cancel("done");
    let stats = worker.await.unwrap();
    assert_eq!((stats.lost, stats.done), (1, 0));
    assert!(queue.cancel(&[running.id]).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_rides_out_a_server_restart() {
    let mut server = PgServer::start();
    let queue = queue(&server, "restart").await;
    let runs: Arc<Mutex<HashMap<i64, usize>>> = Arc::default();
    let stop = CancelToken::new();
    let worker = {
        let runs = runs.clone();
        let count = move |job: herd::dist::Job| {
            let runs = runs.clone();
            async move {
                *runs.lock().unwrap().entry(job.id).or_default() += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
                Ok(Vec::new())
            }
        };
        spawn_worker(&queue, 4, count, &stop)
    };
    let before = queue
        .enqueue_many((0..200).map(|i| NewJob::new(format!("before {i}"))))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop();
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.restart();
    // Enqueueing reconnects too.
    let after = tokio::time::timeout(PATIENCE, async {
        loop {
            match queue
                .enqueue_many((0..200).map(|i| NewJob::new(format!("after {i}"))))
                .await
            {
                Ok(after) => return after,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
    .await
    .unwrap();
    let ids: Vec<i64> = before.iter().chain(&after).map(|e| e.id).collect();
    let records = tokio::time::timeout(PATIENCE, queue.wait(&ids))
        .await
        .expect("every job finishes after the restart")
        .unwrap();
    assert_eq!(records.len(), 400);
    assert!(records.iter().all(|r| r.state == JobState::Done));
    stop.cancel("done");
    worker.await.unwrap();
    let runs = runs.lock().unwrap();
    assert_eq!(runs.len(), 400);
    // A job whose outcome was lost with the old server runs again only
    // after its lease (30 s), which this test does not reach.
    assert!(runs.values().all(|&n| n == 1), "no job ran twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_drain_two_thousand_jobs_each_done_exactly_once() {
    let server = PgServer::start();
    let first = queue(&server, "stress").await;
    let second = queue(&server, "stress").await;
    let ids: Vec<i64> = first
        .enqueue_many((0..2000).map(|i| NewJob::new(i.to_string()).priority(i % 3)))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    let runs: Arc<Mutex<HashMap<i64, usize>>> = Arc::default();
    let handler = {
        let runs = runs.clone();
        move |job: herd::dist::Job| {
            let runs = runs.clone();
            async move {
                *runs.lock().unwrap().entry(job.id).or_default() += 1;
                if job.attempt == 1 && job.id % 10 == 0 {
                    // Every tenth fails once, to mix retries in.
                    return Err(JobFailure::new("first attempt fails"));
                }
                Ok(job.payload)
            }
        }
    };
    let stop = CancelToken::new();
    let other = spawn_worker(&second, 4, handler.clone(), &stop);
    let stats = drain_until(&first, 4, handler, |counts| counts.done == 2000).await;
    stop.cancel("drained");
    let other = other.await.unwrap();
    assert_eq!(stats.done + other.done, 2000);
    assert_eq!(stats.lost + other.lost + stats.failed + other.failed, 0);
    assert_eq!(stats.retried + other.retried, 200);
    assert!(
        other.done > 0 && stats.done > 0,
        "both took part: {stats:?} {other:?}"
    );
    let runs = runs.lock().unwrap().clone();
    for id in &ids {
        let expected = if id % 10 == 0 { 2 } else { 1 };
        assert_eq!(runs.get(id), Some(&expected), "job {id}");
    }
    for record in first.jobs(&ids).await.unwrap() {
        assert_eq!(record.state, JobState::Done);
        assert_eq!(record.result.unwrap(), record.payload);
    }
}

#[tokio::test]
async fn stopping_a_worker_finishes_what_it_started_and_hands_back_nothing_half_done() {
    let server = PgServer::start();
    let queue = queue(&server, "stop").await;
    queue
        .enqueue_many((0..100).map(|i| NewJob::new(i.to_string())))
        .await
        .unwrap();
    let stop = CancelToken::new();
    let started = Arc::new(AtomicUsize::new(0));
    let worker = {
        let started = started.clone();
        let slow = move |_job| {
            let started = started.clone();
            async move {
                started.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok(Vec::new())
            }
        };
        spawn_worker(&queue, 3, slow, &stop)
    };
    while started.load(Ordering::SeqCst) < 10 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.cancel("shutting down");
    let stats = tokio::time::timeout(PATIENCE, worker)
        .await
        .unwrap()
        .unwrap();
    let counts = queue.counts().await.unwrap();
    assert_eq!(counts.running, 0, "nothing left leased");
    assert_eq!(counts.done, stats.done);
    assert_eq!(
        u64::try_from(started.load(Ordering::SeqCst)).unwrap(),
        stats.done
    );
    assert_eq!(counts.done + counts.available, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_starting_together_migrate_once() {
    let server = PgServer::start();
    let url = server.url();
    let builds = (0..8).map(|i| {
        let url = url.clone();
        tokio::spawn(async move { PgQueue::builder(url, format!("m{i}")).build().await })
    });
    for build in futures::future::join_all(builds).await {
        build.unwrap().expect("every one connects");
    }
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let rows = client
        .query("SELECT version FROM herd.migrations", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, i32>(0), 1);
}

#[tokio::test]
async fn tls_is_used_when_the_url_requires_it_and_the_server_is_verified() {
    let server = PgServer::start_tls();
    let url = format!("{}?sslmode=require", server.url());
    // The platform's roots do not know this self-signed server: refused.
    let unverified = PgQueue::builder(&url, "tls").build().await.unwrap_err();
    assert!(
        unverified.to_string().contains("certificate"),
        "{unverified}"
    );
    // Trusting its certificate, the queue works over TLS.
    let pem = std::fs::read(server.tls_cert()).unwrap();
    use rustls::pki_types::pem::PemObject;
    let cert = rustls::pki_types::CertificateDer::from_pem_slice(&pem).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let queue = PgQueue::builder(&url, "tls")
        .tls(config)
        .build()
        .await
        .unwrap();
    let job = queue.enqueue(NewJob::new("over tls")).await.unwrap();
    let stop = CancelToken::new();
    let worker = spawn_worker(&queue, 1, |job| async move { Ok(job.payload) }, &stop);
    let records = tokio::time::timeout(PATIENCE, queue.wait(&[job.id]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(records[0].result.as_deref(), Some(&b"over tls"[..]));
    // The server saw only TLS connections from the queue (its listener
    // included).
    let (client, connection) = tokio_postgres::connect(
        &format!("{}?sslmode=disable", server.url()),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl)
             FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
             WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    let (tls, plain): (i64, i64) = (row.get(0), row.get(1));
    assert!(tls >= 2, "the queue's connections and its listener: {tls}");
    assert_eq!(plain, 0);
    stop.cancel("done");
    worker.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_a_cancelled_pool_drops_go_back_unfinished_and_uncounted() {
    let server = PgServer::start();
    let queue = queue(&server, "shutdown").await;
    let ids: Vec<i64> = queue
        .enqueue_many((0..10).map(|i| NewJob::new(i.to_string())))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    let pool = Arc::new(WorkerPool::builder().workers(2).build());
    let stop = CancelToken::new();
    let worker = {
        let (queue, pool, stop) = (queue.clone(), pool.clone(), stop.clone());
        tokio::spawn(async move {
            let hang = |_job| async { std::future::pending::<Result<Vec<u8>, JobFailure>>().await };
            queue.run(&pool, hang, &stop).await
        })
    };
    tokio::time::timeout(PATIENCE, async {
        while queue.counts().await.unwrap().running < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    // The pool is cancelled under the worker: its running jobs are
    // dropped, and the worker stops claiming.
    pool.shutdown_now().await;
    let stats = tokio::time::timeout(PATIENCE, worker)
        .await
        .expect("run returns when its pool is gone")
        .unwrap();
    // The two it ran, and any it claimed before the pool refused it.
    assert!(stats.released >= 2, "{stats:?}");
    assert_eq!((stats.done, stats.failed, stats.lost), (0, 0, 0));
    assert!(!stop.is_cancelled(), "the caller's token is left alone");
    let counts = queue.counts().await.unwrap();
    assert_eq!((counts.available, counts.running), (10, 0));
    for record in queue.jobs(&ids).await.unwrap() {
        assert_eq!(
            record.attempts, 0,
            "an attempt that never ran is not counted"
        );
    }
}
