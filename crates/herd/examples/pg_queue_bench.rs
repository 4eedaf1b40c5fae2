//! Jobs a second through `herd::dist::PgQueue`, enqueue to done, beside a
//! plain `FOR UPDATE SKIP LOCKED` loop written for the comparison, in one
//! run against a PostgreSQL server this program starts on 127.0.0.1
//! (fsync off, as in the tests: the figure is the queue's, not the disk's).
//!
//! Both enqueue the same no-op jobs in statements of 1,000 and drain them
//! with 4 workers: herd as four `PgQueue`s, each `run` on a `WorkerPool`
//! of 16; the plain loop as four connections, each taking one job at a
//! time in a transaction (`SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1`, mark
//! done, commit), the pattern most hand-written queues use. The clock runs
//! from the first enqueue to the last job done.
//!
//! Run it with `cargo run --release -p herd --features postgres --example pg_queue_bench`
//! (needs Debian's `postgresql`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[path = "../tests/support/pg_server.rs"]
mod pg_server;

use herd::dist::{NewJob, PgQueue};
use herd::pool::WorkerPool;
use herd::task::CancelToken;
use tokio_postgres::NoTls;

const JOBS: u64 = 20_000;
const WORKERS: usize = 4;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = pg_server::PgServer::start();
    let url = server.url();
    for round in 1..=3 {
        let herd = herd_queue(&url, round).await?;
        let plain = plain_loop(&url, round).await?;
        println!(
            "round {round}: {JOBS} jobs, {WORKERS} workers: herd PgQueue {herd:>7.0} jobs/s; plain SKIP LOCKED loop {plain:>7.0} jobs/s; {:.2}x",
            herd / plain
        );
    }
    drop(server);
    Ok(())
}

async fn herd_queue(url: &str, round: u32) -> Result<f64, Box<dyn std::error::Error>> {
    let name = format!("bench-{round}");
    let mut queues = Vec::new();
    for _ in 0..WORKERS {
        queues.push(PgQueue::builder(url, &name).build().await?);
    }
    let done = Arc::new(AtomicU64::new(0));
    let all_done = Arc::new(tokio::sync::Notify::new());
    let stop = CancelToken::new();
    let start = Instant::now();
    let mut workers = Vec::new();
    for queue in &queues {
        let (queue, stop, done, all_done) =
            (queue.clone(), stop.clone(), done.clone(), all_done.clone());
        workers.push(tokio::spawn(async move {
            let pool = WorkerPool::builder().workers(16).build();
            queue
                .run(
                    &pool,
                    move |job| {
                        let (done, all_done) = (done.clone(), all_done.clone());
                        async move {
                            if done.fetch_add(1, Ordering::Relaxed) + 1 == JOBS {
                                all_done.notify_one();
                            }
                            Ok(job.payload)
                        }
                    },
                    &stop,
                )
                .await
        }));
    }
    let finished = all_done.notified();
    for chunk in 0..JOBS / 1000 {
        queues[0]
            .enqueue_many((0..1000).map(|i| NewJob::new(format!("job {}", chunk * 1000 + i))))
            .await?;
    }
    finished.await;
    // Done means recorded: wait for the last outcomes to reach the table.
    while queues[0].counts().await?.done < JOBS {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let rate = JOBS as f64 / start.elapsed().as_secs_f64();
    stop.cancel("measured");
    for worker in workers {
        worker.await?;
    }
    Ok(rate)
}

async fn plain_loop(url: &str, round: u32) -> Result<f64, Box<dyn std::error::Error>> {
    let table = format!("plain_{round}");
    let (setup, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    setup
        .batch_execute(&format!(
            "CREATE TABLE {table} (
                 id bigserial PRIMARY KEY,
                 payload bytea NOT NULL,
                 state text NOT NULL DEFAULT 'available',
                 result bytea
             );
             CREATE INDEX ON {table} (id) WHERE state = 'available';"
        ))
        .await?;
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let (mut client, connection) = tokio_postgres::connect(url, NoTls).await?;
        tokio::spawn(connection);
        let (table, done) = (table.clone(), done.clone());
        workers.push(tokio::spawn(async move {
            let take = client
                .prepare(&format!(
                    "SELECT id, payload FROM {table} WHERE state = 'available' \
                     ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
                ))
                .await?;
            let finish = client
                .prepare(&format!(
                    "UPDATE {table} SET state = 'done', result = $2 WHERE id = $1"
                ))
                .await?;
            while done.load(Ordering::Relaxed) < JOBS {
                let tx = client.transaction().await?;
                match tx.query_opt(&take, &[]).await? {
                    Some(row) => {
                        let id: i64 = row.get(0);
                        let payload: Vec<u8> = row.get(1);
                        tx.execute(&finish, &[&id, &payload]).await?;
                        tx.commit().await?;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    None => {
                        tx.commit().await?;
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            }
            Ok::<_, tokio_postgres::Error>(())
        }));
    }
    let insert = setup
        .prepare(&format!(
            "INSERT INTO {table} (payload) SELECT unnest($1::bytea[])"
        ))
        .await?;
    for chunk in 0..JOBS / 1000 {
        let payloads: Vec<Vec<u8>> = (0..1000)
            .map(|i| format!("job {}", chunk * 1000 + i).into_bytes())
            .collect();
        setup.execute(&insert, &[&payloads]).await?;
    }
    for worker in workers {
        worker.await??;
    }
    Ok(JOBS as f64 / start.elapsed().as_secs_f64())
}
