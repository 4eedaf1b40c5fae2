//! [`PgQueue`]: a durable job queue in PostgreSQL tables herd creates and
//! migrates itself. Workers claim with `FOR UPDATE SKIP LOCKED`, wake on
//! `LISTEN/NOTIFY`, hold leases extended by heartbeats while a job runs, and
//! rescue the jobs of workers that stopped heartbeating.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_postgres::types::ToSql;
use tokio_postgres::{AsyncMessage, Client, Config, GenericClient, NoTls, Row, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::pool::{JobError, WorkerPool};
use crate::sync::Semaphore;
use crate::task::CancelToken;

/// The channel every enqueue and rescue notifies, with the queue's name as
/// the payload; idle workers `LISTEN` on it.
const JOBS_CHANNEL: &str = "herd_jobs";
/// The channel a job's end (done, failed for good, cancelled) notifies,
/// with the queue's name; [`PgQueue::wait`] listens on it.
const DONE_CHANNEL: &str = "herd_done";

/// The schema, one migration a version, applied in order under an advisory
/// lock so that workers starting together migrate once.
const MIGRATIONS: &[&str] = &[r"
CREATE TABLE herd.jobs (
    id              bigserial PRIMARY KEY,
    queue           text        NOT NULL,
    payload         bytea       NOT NULL,
    priority        int4        NOT NULL DEFAULT 0,
    state           text        NOT NULL DEFAULT 'available'
                    CHECK (state IN ('available', 'running', 'done', 'failed', 'cancelled')),
    attempts        int4        NOT NULL DEFAULT 0,
    max_attempts    int4        NOT NULL CHECK (max_attempts >= 1),
    run_at          timestamptz NOT NULL DEFAULT now(),
    lease_owner     text,
    lease_expires   timestamptz,
    idempotency_key text,
    result          bytea,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE INDEX jobs_claim ON herd.jobs (queue, priority DESC, id) WHERE state = 'available';
CREATE INDEX jobs_leases ON herd.jobs (lease_expires) WHERE state = 'running';
CREATE UNIQUE INDEX jobs_idempotency ON herd.jobs (queue, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
"];

const ENQUEUE: &str = "
WITH ins AS (
    INSERT INTO herd.jobs (queue, payload, priority, max_attempts, run_at, idempotency_key)
    VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5), $6)
    ON CONFLICT (queue, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id
), woken AS (SELECT pg_notify('herd_jobs', $1) FROM ins)
SELECT id, (SELECT count(*) FROM woken) FROM ins";

const ENQUEUE_MANY: &str = "
WITH ins AS (
    INSERT INTO herd.jobs (queue, payload, priority, max_attempts, run_at, idempotency_key)
    SELECT $1, p, pr, ma, now() + make_interval(secs => d), k
    FROM unnest($2::bytea[], $3::int4[], $4::int4[], $5::float8[], $6::text[]) AS t(p, pr, ma, d, k)
    ON CONFLICT (queue, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id, idempotency_key
), woken AS (SELECT pg_notify('herd_jobs', $1) WHERE EXISTS (SELECT 1 FROM ins))
SELECT id, idempotency_key, (SELECT count(*) FROM woken) FROM ins";

const EXISTING: &str =
    "SELECT id, idempotency_key FROM herd.jobs WHERE queue = $1 AND idempotency_key = ANY($2)";

const CLAIM: &str = "
UPDATE herd.jobs j
SET state = 'running', attempts = j.attempts + 1, lease_owner = $2,
    lease_expires = now() + make_interval(secs => $3)
FROM (
    SELECT id FROM herd.jobs
    WHERE queue = $1 AND state = 'available' AND run_at <= now()
    ORDER BY priority DESC, id
    LIMIT $4
    FOR UPDATE SKIP LOCKED
) c
WHERE j.id = c.id
RETURNING j.id, j.payload, j.priority, j.attempts, j.max_attempts, j.idempotency_key";

const NEXT_RUN: &str = "
SELECT extract(epoch FROM min(run_at) - now())::float8
FROM herd.jobs WHERE queue = $1 AND state = 'available'";

const COMPLETE: &str = "
WITH done AS (
    UPDATE herd.jobs
    SET state = 'done', result = $4, finished_at = now(), lease_owner = NULL, lease_expires = NULL
    WHERE id = $1 AND lease_owner = $2 AND attempts = $3 AND state = 'running'
    RETURNING queue
), woken AS (SELECT pg_notify('herd_done', queue) FROM done)
SELECT (SELECT count(*) FROM woken)";

/// Many completions of one worker in one statement: the worker's
/// outcomes are batched while the previous batch is on the wire.
const COMPLETE_MANY: &str = "
WITH input AS (
    SELECT * FROM unnest($2::int8[], $3::int4[], $4::bytea[]) AS t(id, attempt, result)
), done AS (
    UPDATE herd.jobs j
    SET state = 'done', result = i.result, finished_at = now(), lease_owner = NULL, lease_expires = NULL
    FROM input i
    WHERE j.id = i.id AND j.lease_owner = $1 AND j.attempts = i.attempt AND j.state = 'running'
    RETURNING j.id, j.queue
), woken AS (SELECT pg_notify('herd_done', q) FROM (SELECT DISTINCT queue AS q FROM done) d)
SELECT id, (SELECT count(*) FROM woken) FROM done";

/// A failure goes back to `available` after its backoff, unless it was the
/// last attempt or marked permanent: then `failed`, the dead-letter state.
const FAIL: &str = "
WITH f AS (
    UPDATE herd.jobs
    SET state = CASE WHEN attempts >= max_attempts OR $6 THEN 'failed' ELSE 'available' END,
        run_at = now() + make_interval(secs => $4),
        last_error = $5, result = $7, lease_owner = NULL, lease_expires = NULL,
        finished_at = CASE WHEN attempts >= max_attempts OR $6 THEN now() END
    WHERE id = $1 AND lease_owner = $2 AND attempts = $3 AND state = 'running'
    RETURNING queue, state
), woken AS (SELECT pg_notify('herd_done', queue) FROM f WHERE state = 'failed')
SELECT state, (SELECT count(*) FROM woken) FROM f";

/// A claimed job that never ran (its worker stopped first) goes back
/// untouched: the attempt is not counted.
const RELEASE: &str = "
WITH r AS (
    UPDATE herd.jobs
    SET state = 'available', attempts = attempts - 1, lease_owner = NULL, lease_expires = NULL
    WHERE id = $1 AND lease_owner = $2 AND attempts = $3 AND state = 'running'
    RETURNING queue
), woken AS (SELECT pg_notify('herd_jobs', queue) FROM r)
SELECT (SELECT count(*) FROM woken)";

const HEARTBEAT: &str = "
UPDATE herd.jobs SET lease_expires = now() + make_interval(secs => $2)
WHERE lease_owner = $1 AND state = 'running'
RETURNING id, attempts";

/// Every worker runs this now and then, for every queue: a lease that
/// expired belongs to a worker that stopped heartbeating (killed, hung,
/// cut off), so its job goes back (or to `failed` after its last attempt).
const RESCUE: &str = "
WITH r AS (
    UPDATE herd.jobs
    SET state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'available' END,
        last_error = 'lease of worker ' || lease_owner || ' expired: the worker stopped heartbeating',
        lease_owner = NULL, lease_expires = NULL, run_at = now(),
        finished_at = CASE WHEN attempts >= max_attempts THEN now() END
    WHERE state = 'running' AND lease_expires < now()
    RETURNING queue, state
), woken AS (
    SELECT pg_notify(CASE WHEN state = 'available' THEN 'herd_jobs' ELSE 'herd_done' END, queue)
    FROM (SELECT DISTINCT queue, state FROM r) q
)
SELECT (SELECT count(*) FROM r), (SELECT count(*) FROM woken)";

const CANCEL: &str = "
WITH c AS (
    UPDATE herd.jobs
    SET state = 'cancelled', lease_owner = NULL, lease_expires = NULL, finished_at = now()
    WHERE queue = $1 AND id = ANY($2)
      AND (state = 'available' OR (state = 'running' AND NOT $3))
    RETURNING id
), woken AS (SELECT pg_notify('herd_done', $1) WHERE EXISTS (SELECT 1 FROM c))
SELECT id, (SELECT count(*) FROM woken) FROM c";

const RETRY: &str = "
WITH r AS (
    UPDATE herd.jobs
    SET state = 'available', attempts = 0, run_at = now(), finished_at = NULL
    WHERE queue = $1 AND id = $2 AND state IN ('failed', 'cancelled')
    RETURNING id
), woken AS (SELECT pg_notify('herd_jobs', $1) FROM r)
SELECT id, (SELECT count(*) FROM woken) FROM r";

const JOBS: &str = "
SELECT id, state, payload, priority, attempts, max_attempts, idempotency_key, result, last_error
FROM herd.jobs WHERE queue = $1 AND id = ANY($2) ORDER BY id";

const JOBS_BY_KEY: &str = "
SELECT id, state, payload, priority, attempts, max_attempts, idempotency_key, result, last_error
FROM herd.jobs WHERE queue = $1 AND idempotency_key = ANY($2) ORDER BY id";

const COUNTS: &str = "SELECT state, count(*) FROM herd.jobs WHERE queue = $1 GROUP BY state";

/// An error from the queue: what herd was doing, and the database's
/// error (or, for a schema newer than this herd, what it found).
#[derive(Debug)]
pub struct PgQueueError {
    doing: &'static str,
    source: Result<tokio_postgres::Error, String>,
}

impl PgQueueError {
    fn new(doing: &'static str) -> impl FnOnce(tokio_postgres::Error) -> PgQueueError {
        move |source| PgQueueError {
            doing,
            source: Ok(source),
        }
    }

    /// The database client's error, if the database gave one.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // Nothing listens on port 1.
    /// let err = herd::dist::PgQueue::builder("postgres://herd@127.0.0.1:1/postgres", "q")
    ///     .build()
    ///     .await
    ///     .unwrap_err();
    /// assert!(err.to_string().starts_with("connecting to PostgreSQL:"));
    /// assert!(err.source_error().unwrap().as_db_error().is_none());
    /// # }
    /// ```
    pub fn source_error(&self) -> Option<&tokio_postgres::Error> {
        self.source.as_ref().ok()
    }
}

impl fmt::Display for PgQueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Ok(source) => {
                write!(f, "{}: {source}", self.doing)?;
                // The client's error often says only what failed ("error
                // performing TLS handshake"); its causes say why.
                let mut cause = std::error::Error::source(source);
                while let Some(inner) = cause {
                    write!(f, ": {inner}")?;
                    cause = inner.source();
                }
                Ok(())
            }
            Err(detail) => write!(f, "{}: {detail}", self.doing),
        }
    }
}

impl std::error::Error for PgQueueError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .ok()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A job's place in its life: `available` (waiting, perhaps for its retry
/// time), `running` (leased to a worker), then one of `done`, `failed`
/// (the dead-letter state: its last attempt failed, or it failed for good)
/// or `cancelled`.
///
/// # Examples
///
/// ```
/// use herd::dist::JobState;
///
/// assert_eq!(JobState::Done.as_str(), "done");
/// assert!(JobState::Failed.is_finished() && !JobState::Running.is_finished());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Waiting for a worker.
    Available,
    /// Leased to a worker that heartbeats it.
    Running,
    /// Finished; its result is stored.
    Done,
    /// Its last attempt failed, or it failed for good: dead letter.
    Failed,
    /// Cancelled before it finished.
    Cancelled,
}

impl JobState {
    /// The state's name, as stored.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::dist::JobState::Available.as_str(), "available");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Available => "available",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// Done, failed or cancelled: nothing more will happen to it.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(herd::dist::JobState::Cancelled.is_finished());
    /// ```
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Done | JobState::Failed | JobState::Cancelled
        )
    }

    fn parse(state: &str) -> JobState {
        match state {
            "available" => JobState::Available,
            "running" => JobState::Running,
            "done" => JobState::Done,
            "failed" => JobState::Failed,
            _ => JobState::Cancelled,
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job to enqueue: its payload (bytes herd never reads) and how to run it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use herd::dist::NewJob;
///
/// let job = NewJob::new(b"send mail 42".to_vec())
///     .priority(5)
///     .max_attempts(3)
///     .delay(Duration::from_secs(10))
///     .idempotency_key("mail-42");
/// assert_eq!(job.payload(), b"send mail 42");
/// ```
#[derive(Clone, Debug)]
pub struct NewJob {
    payload: Vec<u8>,
    priority: i32,
    max_attempts: Option<u32>,
    delay: Duration,
    key: Option<String>,
}

impl NewJob {
    /// A job with this payload, priority 0, the queue's attempts, no delay
    /// and no idempotency key.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::dist::NewJob::new("x").payload(), b"x");
    /// ```
    pub fn new(payload: impl Into<Vec<u8>>) -> NewJob {
        NewJob {
            payload: payload.into(),
            priority: 0,
            max_attempts: None,
            delay: Duration::ZERO,
            key: None,
        }
    }

    /// Greater runs first; equal priorities run first in, first out.
    ///
    /// # Examples
    ///
    /// ```
    /// let urgent = herd::dist::NewJob::new("x").priority(10);
    /// # drop(urgent);
    /// ```
    pub fn priority(mut self, priority: i32) -> NewJob {
        self.priority = priority;
        self
    }

    /// At most this many attempts (1 = never retried); the queue's
    /// default otherwise.
    ///
    /// # Panics
    ///
    /// If `attempts` is 0 or above `i32::MAX`.
    ///
    /// # Examples
    ///
    /// ```
    /// let once = herd::dist::NewJob::new("x").max_attempts(1);
    /// # drop(once);
    /// ```
    pub fn max_attempts(mut self, attempts: u32) -> NewJob {
        self.max_attempts = Some(valid_attempts(attempts));
        self
    }

    /// Not before `delay` from now (the database's clock).
    ///
    /// # Examples
    ///
    /// ```
    /// let later = herd::dist::NewJob::new("x").delay(std::time::Duration::from_secs(60));
    /// # drop(later);
    /// ```
    pub fn delay(mut self, delay: Duration) -> NewJob {
        self.delay = delay;
        self
    }

    /// At most one job with this key in the queue, ever: enqueueing it
    /// again returns the first job's id with [`Enqueued::created`] false,
    /// whatever state it is in.
    ///
    /// # Examples
    ///
    /// ```
    /// let once = herd::dist::NewJob::new("x").idempotency_key("order-7");
    /// # drop(once);
    /// ```
    pub fn idempotency_key(mut self, key: impl Into<String>) -> NewJob {
        self.key = Some(key.into());
        self
    }

    /// The payload.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(herd::dist::NewJob::new(vec![1, 2]).payload(), &[1, 2]);
    /// ```
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }
}

/// What an enqueue did: the job's id, and whether it was new (false when
/// a job with the same idempotency key was already there).
///
/// # Examples
///
/// ```
/// let enqueued = herd::dist::Enqueued { id: 7, created: true };
/// assert!(enqueued.created);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Enqueued {
    /// The job's id.
    pub id: i64,
    /// False when the idempotency key was already taken.
    pub created: bool,
}

/// A job as a worker runs it.
///
/// # Examples
///
/// ```
/// fn describe(job: &herd::dist::Job) -> String {
///     format!("job {} attempt {}/{}", job.id, job.attempt, job.max_attempts)
/// }
/// # drop(describe);
/// ```
#[derive(Clone, Debug)]
pub struct Job {
    /// The job's id.
    pub id: i64,
    /// The payload it was enqueued with.
    pub payload: Vec<u8>,
    /// Its priority.
    pub priority: i32,
    /// This attempt, from 1; attempts of workers that died count.
    pub attempt: u32,
    /// Its attempts in all.
    pub max_attempts: u32,
    /// Its idempotency key, if it has one.
    pub idempotency_key: Option<String>,
}

impl Job {
    fn from_row(row: &Row) -> Job {
        Job {
            id: row.get(0),
            payload: row.get(1),
            priority: row.get(2),
            attempt: count(row.get::<_, i32>(3)),
            max_attempts: count(row.get::<_, i32>(4)),
            idempotency_key: row.get(5),
        }
    }
}

/// `attempts`, if the table can hold it (at least 1, at most `i32::MAX`).
fn valid_attempts(attempts: u32) -> u32 {
    assert!(
        attempts >= 1 && i32::try_from(attempts).is_ok(),
        "max_attempts must be at least 1 (and fit an i32), got {attempts}"
    );
    attempts
}

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

/// A job's stored record: its state, attempts, result and last error.
///
/// # Examples
///
/// ```
/// fn finished(record: &herd::dist::JobRecord) -> bool {
///     record.state.is_finished()
/// }
/// # drop(finished);
/// ```
#[derive(Clone, Debug)]
pub struct JobRecord {
    /// The job's id.
    pub id: i64,
    /// Its state.
    pub state: JobState,
    /// Its payload.
    pub payload: Vec<u8>,
    /// Its priority.
    pub priority: i32,
    /// Attempts started so far.
    pub attempts: u32,
    /// Its attempts in all.
    pub max_attempts: u32,
    /// Its idempotency key.
    pub idempotency_key: Option<String>,
    /// What the worker returned: on success, or with a failure that
    /// carried output.
    pub result: Option<Vec<u8>>,
    /// The last failure's message (a panic's, a lost lease's).
    pub last_error: Option<String>,
}

/// A failed attempt: a message, output worth keeping, and whether another
/// attempt could help.
///
/// # Examples
///
/// ```
/// use herd::dist::JobFailure;
///
/// let failure = JobFailure::new("exit 3").output(b"partial".to_vec()).permanent();
/// assert_eq!(failure.to_string(), "exit 3");
/// ```
#[derive(Clone, Debug)]
pub struct JobFailure {
    message: String,
    output: Option<Vec<u8>>,
    permanent: bool,
}

impl JobFailure {
    /// A failure that is retried while attempts remain.
    ///
    /// # Examples
    ///
    /// ```
    /// let failure = herd::dist::JobFailure::new("upstream 503");
    /// assert_eq!(failure.to_string(), "upstream 503");
    /// ```
    pub fn new(message: impl Into<String>) -> JobFailure {
        JobFailure {
            message: message.into(),
            output: None,
            permanent: false,
        }
    }

    /// Keeps `output` as the job's result, as a success's would be.
    ///
    /// # Examples
    ///
    /// ```
    /// let failure = herd::dist::JobFailure::new("exit 1").output(b"log".to_vec());
    /// # drop(failure);
    /// ```
    pub fn output(mut self, output: Vec<u8>) -> JobFailure {
        self.output = Some(output);
        self
    }

    /// No retry: the job goes to `failed` now.
    ///
    /// # Examples
    ///
    /// ```
    /// let failure = herd::dist::JobFailure::new("bad input").permanent();
    /// # drop(failure);
    /// ```
    pub fn permanent(mut self) -> JobFailure {
        self.permanent = true;
        self
    }
}

impl fmt::Display for JobFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E: fmt::Display> From<E> for JobFailure
where
    E: std::error::Error,
{
    fn from(error: E) -> JobFailure {
        JobFailure::new(error.to_string())
    }
}

/// How many jobs of a queue are in each state.
///
/// # Examples
///
/// ```
/// let counts = herd::dist::QueueCounts::default();
/// assert_eq!(counts.unfinished(), 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// Waiting for a worker.
    pub available: u64,
    /// Leased to a worker.
    pub running: u64,
    /// Finished.
    pub done: u64,
    /// Dead letter.
    pub failed: u64,
    /// Cancelled.
    pub cancelled: u64,
}

impl QueueCounts {
    /// Available plus running.
    ///
    /// # Examples
    ///
    /// ```
    /// let counts = herd::dist::QueueCounts { available: 2, running: 1, ..Default::default() };
    /// assert_eq!(counts.unfinished(), 3);
    /// ```
    pub fn unfinished(&self) -> u64 {
        self.available + self.running
    }
}

/// What [`PgQueue::run`] did, counted by this worker.
///
/// # Examples
///
/// ```
/// let stats = herd::dist::WorkStats::default();
/// assert_eq!(stats.done + stats.failed, 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkStats {
    /// Jobs this worker finished.
    pub done: u64,
    /// Attempts that failed and will be retried.
    pub retried: u64,
    /// Jobs whose last attempt failed here (now dead letter).
    pub failed: u64,
    /// Jobs whose lease this worker lost (the rescuer gave them to another
    /// worker, or they were cancelled) and whose outcome was discarded.
    pub lost: u64,
    /// Jobs claimed but handed back unrun because the worker stopped.
    pub released: u64,
}

/// A job leased to a worker by [`PgQueue::claim`]: its outcome counts only
/// while the lease holds (same owner, same attempt, still running).
///
/// # Examples
///
/// ```
/// fn id(lease: &herd::dist::Lease) -> i64 {
///     lease.job().id
/// }
/// # drop(id);
/// ```
#[derive(Debug)]
pub struct Lease {
    job: Job,
    owner: Arc<str>,
}

impl Lease {
    /// The job.
    ///
    /// # Examples
    ///
    /// ```
    /// fn payload(lease: &herd::dist::Lease) -> &[u8] {
    ///     &lease.job().payload
    /// }
    /// # drop(payload);
    /// ```
    pub fn job(&self) -> &Job {
        &self.job
    }
}

/// Builds a [`PgQueue`].
///
/// # Examples
///
/// ```
/// # #[path = "../../tests/support/pg_server.rs"]
/// # mod pg_server;
/// # #[tokio::main]
/// # async fn main() -> Result<(), herd::dist::PgQueueError> {
/// # let server = pg_server::PgServer::start();
/// # let url = server.url();
/// use std::time::Duration;
/// use herd::dist::{NewJob, PgQueue};
///
/// // url: "postgres://app@db/app"
/// let queue = PgQueue::builder(&url, "emails")
///     .lease(Duration::from_secs(30))
///     .max_attempts(5)
///     .build()
///     .await?;
/// assert_eq!(queue.name(), "emails");
/// let job = queue.enqueue(NewJob::new("hi")).await?;
/// assert_eq!(queue.jobs(&[job.id]).await?[0].max_attempts, 5);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct PgQueueBuilder {
    url: String,
    queue: String,
    connections: usize,
    lease: Duration,
    max_attempts: u32,
    backoff: (Duration, Duration),
    poll: Duration,
    batch: usize,
    tls: Option<rustls::ClientConfig>,
}

impl PgQueueBuilder {
    /// Connects with TLS configured so (your own roots, a client
    /// certificate): always when the URL says `sslmode=require`, and
    /// when the server offers it under `sslmode=prefer` (the default);
    /// never under `sslmode=disable`. Without this, `sslmode=require`
    /// verifies the server against the platform's certificates, and
    /// `prefer` connects without TLS.
    ///
    /// # Examples
    ///
    /// ```
    /// let roots = rustls::RootCertStore::empty(); // add your CA's certificate
    /// let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
    ///     rustls::crypto::ring::default_provider(),
    /// ))
    /// .with_safe_default_protocol_versions()
    /// .unwrap()
    /// .with_root_certificates(roots)
    /// .with_no_client_auth();
    /// let builder = herd::dist::PgQueue::builder("postgres://db/app?sslmode=require", "q").tls(config);
    /// # drop(builder);
    /// ```
    pub fn tls(mut self, config: rustls::ClientConfig) -> Self {
        self.tls = Some(config);
        self
    }

    /// Connections to the database for claims, results and heartbeats
    /// (requests are pipelined on each; default 2). One more listens.
    ///
    /// # Panics
    ///
    /// If `n` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = herd::dist::PgQueue::builder("postgres://db/app", "q").connections(4);
    /// # drop(builder);
    /// ```
    pub fn connections(mut self, n: usize) -> Self {
        assert!(n > 0, "a queue needs at least one connection");
        self.connections = n;
        self
    }

    /// A running job's lease (default 30 s): its worker renews it every
    /// third of that while the job runs, and a lease not renewed in time
    /// is taken back by the rescuer. Shorter finds dead workers sooner;
    /// longer tolerates longer pauses (a stalled database, a stopped
    /// process) before a job runs twice.
    ///
    /// # Panics
    ///
    /// If `lease` is under 100 ms.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = herd::dist::PgQueue::builder("postgres://db/app", "q")
    ///     .lease(std::time::Duration::from_secs(10));
    /// # drop(builder);
    /// ```
    pub fn lease(mut self, lease: Duration) -> Self {
        assert!(
            lease >= Duration::from_millis(100),
            "a lease under 100 ms cannot be renewed reliably, got {lease:?}"
        );
        self.lease = lease;
        self
    }

    /// Attempts for jobs that do not set their own (default 3).
    ///
    /// # Panics
    ///
    /// If `attempts` is 0 or above `i32::MAX`.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = herd::dist::PgQueue::builder("postgres://db/app", "q").max_attempts(10);
    /// # drop(builder);
    /// ```
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = valid_attempts(attempts);
        self
    }

    /// The backoff before a failed job's next attempt: `base` doubled each
    /// attempt, at most `max`, with full jitter (default 1 s and 10 min).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = herd::dist::PgQueue::builder("postgres://db/app", "q")
    ///     .backoff(Duration::from_millis(100), Duration::from_secs(60));
    /// # drop(builder);
    /// ```
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.backoff = (base, max.max(base));
        self
    }

    /// How long an idle worker waits at most before it looks again
    /// (default 1 s). New jobs wake workers at once by `NOTIFY`; this
    /// bounds how late a retry whose backoff ended on another machine, or
    /// a delayed job, starts.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = herd::dist::PgQueue::builder("postgres://db/app", "q")
    ///     .poll_interval(std::time::Duration::from_millis(200));
    /// # drop(builder);
    /// ```
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll = interval.max(Duration::from_millis(1));
        self
    }

    /// At most this many jobs claimed in one statement (default 32; never
    /// more than the pool has free workers).
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = herd::dist::PgQueue::builder("postgres://db/app", "q").batch(1);
    /// # drop(builder);
    /// ```
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// Connects, creates or migrates herd's tables (once, under an
    /// advisory lock, when several start together), and prepares the
    /// queue's statements.
    ///
    /// # Errors
    ///
    /// When the database cannot be reached, the URL is invalid, or its
    /// schema is newer than this herd knows.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let bad = herd::dist::PgQueue::builder("not a url", "q").build().await;
    /// assert!(bad.unwrap_err().to_string().starts_with("reading the PostgreSQL URL"));
    /// # }
    /// ```
    pub async fn build(self) -> Result<PgQueue, PgQueueError> {
        let config: Config = self
            .url
            .parse()
            .map_err(PgQueueError::new("reading the PostgreSQL URL"))?;
        let tls = tls_for(&config, self.tls)?;
        let first = Conn::connect(&config, &tls).await?;
        let mut conns = vec![tokio::sync::Mutex::new(Some(Arc::new(first)))];
        for _ in 1..self.connections {
            conns.push(tokio::sync::Mutex::new(None));
        }
        let inner = Arc::new(Inner {
            config,
            tls,
            queue: self.queue,
            conns,
            next: AtomicUsize::new(0),
            jobs_woken: Notify::new(),
            done_woken: Notify::new(),
            listener: Mutex::new(None),
            lease: self.lease,
            max_attempts: self.max_attempts,
            backoff: self.backoff,
            poll: self.poll,
            batch: self.batch,
        });
        Ok(PgQueue { inner })
    }
}

/// A durable job queue in PostgreSQL: enqueue from anywhere (in your own
/// transaction if you like), and drain it from any number of processes
/// and machines with [`run`](PgQueue::run) on a [`WorkerPool`].
///
/// Delivery is at least once: a job runs again when its worker dies
/// mid-job, loses its lease (stops heartbeating for the lease's length),
/// or fails with attempts left. A job's outcome is recorded only by the
/// worker whose lease it is (fenced by owner and attempt), so it is done
/// or failed exactly once; make side effects idempotent, or key them by
/// [`Job::id`] and [`Job::attempt`].
///
/// Handles are cheap clones of one set of connections.
///
/// # Examples
///
/// ```
/// # #[path = "../../tests/support/pg_server.rs"]
/// # mod pg_server;
/// # #[tokio::main]
/// # async fn main() -> Result<(), herd::dist::PgQueueError> {
/// # let server = pg_server::PgServer::start();
/// # let url = server.url();
/// use herd::dist::{JobFailure, JobState, NewJob, PgQueue};
/// use herd::pool::WorkerPool;
/// use herd::task::CancelToken;
///
/// // url: "postgres://app@db/app"
/// let queue = PgQueue::builder(&url, "thumbnails").build().await?;
/// let cat = queue.enqueue(NewJob::new("cat.jpg").idempotency_key("cat.jpg")).await?;
///
/// let pool = WorkerPool::builder().workers(8).build();
/// let stop = CancelToken::new(); // cancel it (on SIGTERM, say) to stop claiming
/// let worker = {
///     let (queue, stop) = (queue.clone(), stop.clone());
///     tokio::spawn(async move {
///         queue
///             .run(&pool, |job| async move {
///                 let name = String::from_utf8(job.payload)
///                     .map_err(|_| JobFailure::new("not UTF-8").permanent())?;
///                 Ok(format!("thumb-{name}").into_bytes())
///             }, &stop)
///             .await
///     })
/// };
/// let done = queue.wait(&[cat.id]).await?;
/// assert_eq!(done[0].state, JobState::Done);
/// assert_eq!(done[0].result.as_deref(), Some(&b"thumb-cat.jpg"[..]));
/// stop.cancel("shutting down");
/// assert_eq!(worker.await.unwrap().done, 1);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PgQueue {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    tls: Option<MakeRustlsConnect>,
    queue: String,
    /// Connections, made again when one breaks (a restarted server).
    conns: Vec<tokio::sync::Mutex<Option<Arc<Conn>>>>,
    next: AtomicUsize,
    /// Woken on `NOTIFY herd_jobs` for this queue (and when the listener
    /// reconnects, since notifications may have been missed).
    jobs_woken: Notify,
    /// Woken on `NOTIFY herd_done` for this queue.
    done_woken: Notify,
    listener: Mutex<Option<JoinHandle<()>>>,
    lease: Duration,
    max_attempts: u32,
    backoff: (Duration, Duration),
    poll: Duration,
    batch: usize,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(listener) = self
            .listener
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            listener.abort();
        }
    }
}

/// One connection and the queue's statements prepared on it.
struct Conn {
    client: Client,
    enqueue: Statement,
    enqueue_many: Statement,
    existing: Statement,
    claim: Statement,
    next_run: Statement,
    complete: Statement,
    complete_many: Statement,
    fail: Statement,
    release: Statement,
    heartbeat: Statement,
    rescue: Statement,
}

impl Conn {
    async fn connect(
        config: &Config,
        tls: &Option<MakeRustlsConnect>,
    ) -> Result<Conn, PgQueueError> {
        let err = PgQueueError::new("connecting to PostgreSQL");
        let client = match tls {
            None => {
                let (client, connection) = config.connect(NoTls).await.map_err(err)?;
                tokio::spawn(drive(connection));
                client
            }
            Some(tls) => {
                let (client, connection) = config.connect(tls.clone()).await.map_err(err)?;
                tokio::spawn(drive(connection));
                client
            }
        };
        migrate(&client).await?;
        let prepare = |sql| client.prepare(sql);
        let prepared = futures_util::future::try_join_all([
            prepare(ENQUEUE),
            prepare(ENQUEUE_MANY),
            prepare(EXISTING),
            prepare(CLAIM),
            prepare(NEXT_RUN),
            prepare(COMPLETE),
            prepare(COMPLETE_MANY),
            prepare(FAIL),
            prepare(RELEASE),
            prepare(HEARTBEAT),
            prepare(RESCUE),
        ])
        .await
        .map_err(PgQueueError::new("preparing the queue's statements"))?;
        let [
            enqueue,
            enqueue_many,
            existing,
            claim,
            next_run,
            complete,
            complete_many,
            fail,
            release,
            heartbeat,
            rescue,
        ] = <[Statement; 11]>::try_from(prepared)
            .unwrap_or_else(|_| unreachable!("eleven statements"));
        Ok(Conn {
            client,
            enqueue,
            enqueue_many,
            existing,
            claim,
            next_run,
            complete,
            complete_many,
            fail,
            release,
            heartbeat,
            rescue,
        })
    }
}

/// Runs a connection until it closes.
async fn drive<F: Future<Output = Result<(), tokio_postgres::Error>>>(connection: F) {
    if let Err(error) = connection.await {
        tracing::debug!(%error, "herd::dist::PgQueue connection closed");
    }
}

/// The TLS a queue connects with: none when the URL says
/// `sslmode=disable`, or says `prefer` (the default) and no configuration
/// was given; the given configuration; or, for `sslmode=require` without
/// one, rustls with the platform's certificate verifier.
fn tls_for(
    config: &Config,
    given: Option<rustls::ClientConfig>,
) -> Result<Option<MakeRustlsConnect>, PgQueueError> {
    use rustls_platform_verifier::BuilderVerifierExt;
    use tokio_postgres::config::SslMode;
    let platform = || {
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_platform_verifier())
        .map(|builder| builder.with_no_client_auth())
        .map_err(|error| PgQueueError {
            doing: "setting up TLS",
            source: Err(error.to_string()),
        })
    };
    Ok(match (config.get_ssl_mode(), given) {
        (SslMode::Disable, _) => None,
        (_, Some(given)) => Some(MakeRustlsConnect::new(given)),
        (SslMode::Require, None) => Some(MakeRustlsConnect::new(platform()?)),
        (_, None) => None,
    })
}

/// Creates herd's schema or brings it up to date, once per database
/// whoever calls it first; the table `herd.migrations` says which
/// versions are applied.
async fn migrate(client: &Client) -> Result<(), PgQueueError> {
    let err = PgQueueError::new("migrating herd's tables");
    let known = i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX);
    // The usual case, a migrated database, costs one read and no lock.
    if let Ok(row) = client
        .query_one("SELECT max(version) FROM herd.migrations", &[])
        .await
        && row.get::<_, Option<i32>>(0) == Some(known)
    {
        return Ok(());
    }
    client.batch_execute("BEGIN").await.map_err(err)?;
    let outcome = async {
        client
            .batch_execute(
                "SELECT pg_advisory_xact_lock(hashtext('herd.migrations'));
                 CREATE SCHEMA IF NOT EXISTS herd;
                 CREATE TABLE IF NOT EXISTS herd.migrations (
                     version int4 PRIMARY KEY,
                     applied_at timestamptz NOT NULL DEFAULT now()
                 );",
            )
            .await?;
        let row = client
            .query_one("SELECT coalesce(max(version), 0) FROM herd.migrations", &[])
            .await?;
        let applied: i32 = row.get(0);
        for (version, sql) in (1..)
            .zip(MIGRATIONS)
            .skip(usize::try_from(applied).unwrap_or(0))
        {
            client.batch_execute(sql).await?;
            client
                .execute(
                    "INSERT INTO herd.migrations (version) VALUES ($1)",
                    &[&version],
                )
                .await?;
        }
        Ok::<i32, tokio_postgres::Error>(applied)
    }
    .await;
    match outcome {
        Ok(applied) => {
            client
                .batch_execute("COMMIT")
                .await
                .map_err(PgQueueError::new("migrating herd's tables"))?;
            if applied > known {
                // A newer herd migrated this database; refuse rather than
                // misread its tables.
                return Err(PgQueueError {
                    doing: "migrating herd's tables",
                    source: Err(format!(
                        "the database is at schema version {applied}; this herd knows up to {known}"
                    )),
                });
            }
            Ok(())
        }
        Err(source) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(PgQueueError::new("migrating herd's tables")(source))
        }
    }
}

/// Listens on one connection until it breaks, waking `inner`'s waiters;
/// false once the queue is gone (the listener should stop).
async fn listen_on<T>(
    client: Client,
    mut connection: tokio_postgres::Connection<tokio_postgres::Socket, T>,
    inner: &std::sync::Weak<Inner>,
    queue: &str,
    delay: &mut Duration,
) -> bool
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    let listening = client.batch_execute("LISTEN herd_jobs; LISTEN herd_done");
    // The connection must be driven for LISTEN to finish.
    let ready = {
        tokio::pin!(listening);
        loop {
            tokio::select! {
                done = &mut listening => break done.is_ok(),
                message = messages.next() => if message.is_none() { break false },
            }
        }
    };
    if !ready {
        return true;
    }
    *delay = Duration::from_millis(50);
    // Anything enqueued while not listening is claimable now.
    let Some(strong) = inner.upgrade() else {
        return false;
    };
    strong.jobs_woken.notify_waiters();
    strong.done_woken.notify_waiters();
    drop(strong);
    while let Some(Ok(message)) = messages.next().await {
        let AsyncMessage::Notification(note) = message else {
            continue;
        };
        if note.payload() != queue {
            continue;
        }
        let Some(inner) = inner.upgrade() else {
            return false;
        };
        match note.channel() {
            JOBS_CHANNEL => inner.jobs_woken.notify_waiters(),
            DONE_CHANNEL => inner.done_woken.notify_waiters(),
            _ => {}
        }
    }
    drop(client);
    true
}

/// This worker's lease owner: host, process and a number unique in the
/// process, so a lease names who held it.
fn owner_id() -> Arc<str> {
    static WORKERS: AtomicU64 = AtomicU64::new(0);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".to_owned());
    format!(
        "{host}:{}:{}",
        std::process::id(),
        super::unique_id(WORKERS.fetch_add(1, Ordering::Relaxed))
    )
    .into()
}

fn secs(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

/// The jobs this worker runs: id to (attempt, token cancelled when its
/// lease is lost).
type Running = Arc<Mutex<HashMap<i64, (u32, CancelToken)>>>;

/// Jobs being handed back, which [`PgQueue::run`] waits for before it
/// returns.
type Releases = Arc<Mutex<Vec<JoinHandle<()>>>>;

impl PgQueue {
    /// A builder for the queue `queue` in the database at `url` (a
    /// `postgres://user:password@host:port/database` URL or a
    /// `host=... user=...` string). Many queues share herd's tables;
    /// each name is its own queue.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = herd::dist::PgQueue::builder("postgres://app@localhost/app", "emails");
    /// # drop(builder);
    /// ```
    pub fn builder(url: impl Into<String>, queue: impl Into<String>) -> PgQueueBuilder {
        PgQueueBuilder {
            url: url.into(),
            queue: queue.into(),
            connections: 2,
            lease: Duration::from_secs(30),
            max_attempts: 3,
            backoff: (Duration::from_secs(1), Duration::from_secs(600)),
            poll: Duration::from_secs(1),
            batch: 32,
            tls: None,
        }
    }

    /// The queue's name.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[path = "../../tests/support/pg_server.rs"]
    /// # mod pg_server;
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), herd::dist::PgQueueError> {
    /// # let server = pg_server::PgServer::start();
    /// # let url = server.url();
    /// let queue = herd::dist::PgQueue::builder(&url, "emails").build().await?;
    /// println!("draining {}", queue.name());
    /// assert_eq!(queue.name(), "emails");
    /// # Ok(())
    /// # }
    /// ```
    pub fn name(&self) -> &str {
        &self.inner.queue
    }

    /// A working connection, made again if the last one broke.
    async fn conn(&self) -> Result<Arc<Conn>, PgQueueError> {
        let slots = &self.inner.conns;
        let slot = &slots[self.inner.next.fetch_add(1, Ordering::Relaxed) % slots.len()];
        let mut slot = slot.lock().await;
        if let Some(conn) = &*slot
            && !conn.client.is_closed()
        {
            return Ok(conn.clone());
        }
        let conn = Arc::new(Conn::connect(&self.inner.config, &self.inner.tls).await?);
        *slot = Some(conn.clone());
        Ok(conn)
    }

    fn max_attempts(&self, job: &NewJob) -> i32 {
        i32::try_from(job.max_attempts.unwrap_or(self.inner.max_attempts)).unwrap_or(i32::MAX)
    }

    /// Adds a job, and wakes idle workers when it commits.
    ///
    /// # Errors
    ///
    /// When the database fails the statement.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[path = "../../tests/support/pg_server.rs"]
    /// # mod pg_server;
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), herd::dist::PgQueueError> {
    /// # let server = pg_server::PgServer::start();
    /// # let url = server.url();
    /// # let queue = herd::dist::PgQueue::builder(&url, "q").build().await?;
    /// use herd::dist::NewJob;
    /// let first = queue.enqueue(NewJob::new("a").idempotency_key("a")).await?;
    /// let again = queue.enqueue(NewJob::new("a").idempotency_key("a")).await?;
    /// assert!(first.created);
    /// assert_eq!((first.id, again.created), (again.id, false));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn enqueue(&self, job: NewJob) -> Result<Enqueued, PgQueueError> {
        let conn = self.conn().await?;
        self.enqueue_on(&conn.client, &conn.enqueue, &conn.existing, job)
            .await
    }

    /// Adds a job within the caller's transaction (or on their
    /// connection): it exists, and workers hear of it, only if that
    /// transaction commits.
    ///
    /// # Errors
    ///
    /// When the database fails the statement.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[path = "../../tests/support/pg_server.rs"]
    /// # mod pg_server;
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = pg_server::PgServer::start();
    /// # let url = server.url();
    /// use herd::dist::{NewJob, PgQueue};
    /// use tokio_postgres::NoTls;
    ///
    /// let queue = PgQueue::builder(&url, "shipping").build().await?;
    /// let (mut client, connection) = tokio_postgres::connect(&url, NoTls).await?;
    /// tokio::spawn(connection);
    /// client.execute("CREATE TABLE orders (id int PRIMARY KEY)", &[]).await?;
    ///
    /// let tx = client.transaction().await?;
    /// tx.execute("INSERT INTO orders (id) VALUES (7)", &[]).await?;
    /// let job = queue.enqueue_in(&tx, NewJob::new("ship order 7")).await?;
    /// tx.commit().await?; // the order and its job, or neither
    /// assert_eq!(queue.jobs(&[job.id]).await?[0].payload, b"ship order 7");
    ///
    /// let tx = client.transaction().await?;
    /// tx.execute("INSERT INTO orders (id) VALUES (8)", &[]).await?;
    /// let job = queue.enqueue_in(&tx, NewJob::new("ship order 8")).await?;
    /// tx.rollback().await?; // neither
    /// assert!(queue.jobs(&[job.id]).await?.is_empty());
    /// let orders = client.query_one("SELECT count(*) FROM orders", &[]).await?;
    /// assert_eq!(orders.get::<_, i64>(0), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn enqueue_in<C: GenericClient>(
        &self,
        client: &C,
        job: NewJob,
    ) -> Result<Enqueued, PgQueueError> {
        self.enqueue_on(client, ENQUEUE, EXISTING, job).await
    }

    async fn enqueue_on<C, S>(
        &self,
        client: &C,
        enqueue: &S,
        existing: &S,
        job: NewJob,
    ) -> Result<Enqueued, PgQueueError>
    where
        C: GenericClient,
        S: tokio_postgres::ToStatement + Send + Sync + ?Sized,
    {
        let err = PgQueueError::new("enqueueing a job");
        let max_attempts = self.max_attempts(&job);
        let params: [&(dyn ToSql + Sync); 6] = [
            &self.inner.queue,
            &job.payload,
            &job.priority,
            &max_attempts,
            &secs(job.delay),
            &job.key,
        ];
        if let Some(row) = client.query_opt(enqueue, &params).await.map_err(err)? {
            return Ok(Enqueued {
                id: row.get(0),
                created: true,
            });
        }
        // The key was taken: the job that holds it.
        let keys = [job.key.unwrap_or_default()];
        let row = client
            .query_one(existing, &[&self.inner.queue, &&keys[..]])
            .await
            .map_err(PgQueueError::new(
                "finding the job with that idempotency key",
            ))?;
        Ok(Enqueued {
            id: row.get(0),
            created: false,
        })
    }

    /// Adds many jobs in one statement, in order (ids ascend with the
    /// input, so equal priorities run in input order); one result per job.
    ///
    /// # Errors
    ///
    /// When the database fails the statement; then none was added.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[path = "../../tests/support/pg_server.rs"]
    /// # mod pg_server;
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), herd::dist::PgQueueError> {
    /// # let server = pg_server::PgServer::start();
    /// # let url = server.url();
    /// # let queue = herd::dist::PgQueue::builder(&url, "q").build().await?;
    /// use herd::dist::NewJob;
    /// let jobs = (0..1000).map(|i| NewJob::new(format!("job {i}")));
    /// let enqueued = queue.enqueue_many(jobs).await?;
    /// assert_eq!(enqueued.len(), 1000);
    /// assert!(enqueued.windows(2).all(|w| w[0].id < w[1].id)); // in input order
    /// assert_eq!(queue.counts().await?.available, 1000);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn enqueue_many(
        &self,
        jobs: impl IntoIterator<Item = NewJob>,
    ) -> Result<Vec<Enqueued>, PgQueueError> {
        let jobs: Vec<NewJob> = jobs.into_iter().collect();
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let payloads: Vec<&[u8]> = jobs.iter().map(|j| &j.payload[..]).collect();
        let priorities: Vec<i32> = jobs.iter().map(|j| j.priority).collect();
        let attempts: Vec<i32> = jobs.iter().map(|j| self.max_attempts(j)).collect();
        let delays: Vec<f64> = jobs.iter().map(|j| secs(j.delay)).collect();
        let keys: Vec<Option<&str>> = jobs.iter().map(|j| j.key.as_deref()).collect();
        let conn = self.conn().await?;
        let rows = conn
            .client
            .query(
                &conn.enqueue_many,
                &[
                    &self.inner.queue,
                    &payloads,
                    &priorities,
                    &attempts,
                    &delays,
                    &keys,
                ],
            )
            .await
            .map_err(PgQueueError::new("enqueueing jobs"))?;
        // Rows with a key are matched by key; rows without one took ids
        // in input order (the insert draws them as unnest yields rows).
        let mut by_key: HashMap<String, Enqueued> = HashMap::new();
        let mut keyless: Vec<i64> = Vec::new();
        for row in &rows {
            let id: i64 = row.get(0);
            match row.get::<_, Option<String>>(1) {
                Some(key) => {
                    by_key.insert(key, Enqueued { id, created: true });
                }
                None => keyless.push(id),
            }
        }
        keyless.sort_unstable();
        let taken: Vec<&str> = keys
            .iter()
            .flatten()
            .copied()
            .filter(|k| !by_key.contains_key(*k))
            .collect();
        if !taken.is_empty() {
            let rows = conn
                .client
                .query(&conn.existing, &[&self.inner.queue, &taken])
                .await
                .map_err(PgQueueError::new(
                    "finding the jobs with those idempotency keys",
                ))?;
            for row in rows {
                by_key.insert(
                    row.get(1),
                    Enqueued {
                        id: row.get(0),
                        created: false,
                    },
                );
            }
        }
        let mut keyless = keyless.into_iter();
        Ok(keys
            .iter()
            .map(|key| match key {
                Some(key) => by_key[*key],
                None => Enqueued {
                    id: keyless.next().expect("one id per keyless job"),
                    created: true,
                },
            })
            .collect())
    }

    /// Leases up to `n` available jobs to a new owner, highest priority
    /// first, first in first out among equals, skipping rows other
    /// workers are claiming. For a loop of your own; [`run`](PgQueue::run)
    /// claims, heartbeats and records outcomes for you. The leases are not
    /// renewed: extend them with [`extend`](PgQueue::extend).
    ///
    /// # Errors
    ///
    /// When the database fails the statement.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[path = "../../tests/support/pg_server.rs"]
    /// # mod pg_server;
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), herd::dist::PgQueueError> {
    /// # let server = pg_server::PgServer::start();
    /// # let url = server.url();
    /// # let queue = herd::dist::PgQueue::builder(&url, "q").build().await?;
    /// use herd::dist::NewJob;
    /// let enqueued = queue.enqueue_many(["a", "b"].map(NewJob::new)).await?;
    /// for lease in queue.claim(10).await? {
    ///     let output = lease.job().payload.to_ascii_uppercase();
    ///     queue.complete(&lease, &output).await?;
    /// }
    /// let ids: Vec<i64> = enqueued.iter().map(|job| job.id).collect();
    /// let records = queue.jobs(&ids).await?;
    /// let results: Vec<_> = records.into_iter().map(|r| r.result).collect();
    /// assert_eq!(results, [Some(b"A".to_vec()), Some(b"B".to_vec())]);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn claim(&self, n: usize) -> Result<Vec<Lease>, PgQueueError> {
        let owner = owner_id();
        let jobs = self.claim_as(&owner, n).await?;
        Ok(jobs
            .into_iter()
            .map(|job| Lease {
                job,
                owner: owner.clone(),
            })
            .collect())
    }

    async fn claim_as(&self, owner: &str, n: usize) -> Result<Vec<Job>, PgQueueError> {
        let conn = self.conn().await?;
        let limit = i64::try_from(n).unwrap_or(i64::MAX);
        let rows = conn
            .client
            .query(
                &conn.claim,
                &[&self.inner.queue, &owner, &secs(self.inner.lease), &limit],
            )
            .await
            .map_err(PgQueueError::new("claiming jobs"))?;
        let mut jobs: Vec<Job> = rows.iter().map(Job::from_row).collect();
        jobs.sort_by_key(|job| (std::cmp::Reverse(job.priority), job.id));
        Ok(jobs)
    }

    /// Records a leased job as done with `result`. Returns false, and
    /// records nothing, when the lease was lost (rescued, or cancelled).
    ///
    /// # Errors
    ///
    /// When the database fails the statement.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[path = "../../tests/support/pg_server.rs"]
    /// # mod pg_server;
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), herd::dist::PgQueueError> {
    /// # let server = pg_server::PgServer::start();
    /// # let url = server.url();
    /// # let queue = herd::dist::PgQueue::builder(&url, "q").build().await?;
    /// use herd::dist::{JobState, NewJob};
    /// let id = queue.enqueue(NewJob::new("x")).await?.id;
    /// let lease = queue.claim(1).await?.remove(0);
    /// assert!(queue.complete(&lease, b"ok").await?);
    /// let record = &queue.jobs(&[id]).await?[0];
    /// assert_eq!(record.state, JobState::Done);
    /// assert_eq!(record.result.as_deref(), Some(&b"ok"[..]));
    /// // The lease ended with the job: a second outcome is not recorded.
    /// assert!(!queue.complete(&lease, b"again").await?);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn complete(&self, lease: &Lease, result: &[u8]) -> Result<bool, PgQueueError> {
        self.complete_as(&lease.owner, &lease.job, result).await
    }

    async fn complete_as(
        &self,
        owner: &str,
        job: &Job,
        result: &[u8],
    ) -> Result<bool, PgQueueError> {
        let conn = self.conn().await?;
        let attempt = i32::try_from(job.attempt).unwrap_or(i32::MAX);
        let row = conn
            .client
            .query_one(&conn.complete, &[&job.id, &owner, &attempt, &result])
            .await
            .map_err(PgQueueError::new("recording a job done"))?;
        Ok(row.get::<_, i64>(0) == 1)
    }

    /// Records many of `owner`'s jobs done in one statement; returns the
    /// ids whose leases held (the others were lost and are not recorded).
    async fn complete_many(
        &self,
        owner: &str,
        done: &[Completion],
    ) -> Result<std::collections::HashSet<i64>, PgQueueError> {
        let conn = self.conn().await?;
        let ids: Vec<i64> = done.iter().map(|c| c.id).collect();
        let attempts: Vec<i32> = done.iter().map(|c| c.attempt).collect();
        let results: Vec<&[u8]> = done.iter().map(|c| &c.result[..]).collect();
        let rows = conn
            .client
            .query(&conn.complete_many, &[&owner, &ids, &attempts, &results])
            .await
            .map_err(PgQueueError::new("recording jobs done"))?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    /// Records a leased job's failed attempt: back to `available` after
    /// the backoff while attempts remain and the failure is not permanent,
    /// else `failed`. Returns the job's new state, or `None` when the
    /// lease was lost.
    ///
    /// # Errors
    ///
    /// When the database fails the statement.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[path = "../../tests/support/pg_server.rs"]
    /// # mod pg_server;
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), herd::dist::PgQueueError> {
    /// # let server = pg_server::PgServer::start();
    /// # let url = server.url();
    /// # let queue = herd::dist::PgQueue::builder(&url, "q").build().await?;
    /// use herd::dist::{JobFailure, JobState, NewJob};
    /// let id = queue.enqueue(NewJob::new("x").max_attempts(3)).await?.id;
    /// let lease = queue.claim(1).await?.remove(0);
    /// let state = queue.fail(&lease, JobFailure::new("upstream 503")).await?;
    /// assert_eq!(state, Some(JobState::Available)); // two attempts left
    /// let record = &queue.jobs(&[id]).await?[0];
    /// assert_eq!(record.last_error.as_deref(), Some("upstream 503"));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn fail(
        &self,
        lease: &Lease,
        failure: JobFailure,
    ) -> Result<Option<JobState>, PgQueueError> {
        self.fail_as(&lease.owner, &lease.job, failure).await
    }

    async fn fail_as(
        &self,
        owner: &str,
        job: &Job,
        failure: JobFailure,
    ) -> Result<Option<JobState>, PgQueueError> {
        let conn = self.conn().await?;
        let attempt = i32::try_from(job.attempt).unwrap_or(i32::MAX);
        let backoff = self.backoff(job.attempt);
        let row = conn
            .client
            .query_opt(
                &conn.fail,
                &[
                    &job.id,
                    &owner,
                    &attempt,
                    &secs(backoff),
                    &failure.message,
                    &failure.permanent,
                    &failure.output,
                ],
            )
            .await
            .map_err(PgQueueError::new("recording a failed attempt"))?;
        Ok(row.map(|row| JobState::parse(row.get(0))))
    }

    /// Full jitter over `base * 2^(attempt - 1)`, at most `max`.
    fn backoff(&self, attempt: u32) -> Duration {
        let (base, max) = self.inner.backoff;
        let growth = 1u128 << attempt.saturating_sub(1).min(64);
        let nanos = base.as_nanos().saturating_mul(growth).min(max.as_nanos());
        Duration::from_nanos(crate::resilience::random_up_to(
            u64::try_from(nanos).unwrap_or(u64::MAX),
        ))
    }

    async fn release_as(&self, owner: &str, job: &Job) -> Result<bool, PgQueueError> {
        let conn = self.conn().await?;
        let attempt = i32::try_from(job.attempt).unwrap_or(i32::MAX);
        let row = conn
            .client
            .query_one(&conn.release, &[&job.id, &owner, &attempt])
            .await
            .map_err(PgQueueError::new("handing a job back"))?;
        Ok(row.get::<_, i64>(0) == 1)
    }

    /// Renews a lease from [`claim`](PgQueue::claim) for another lease
    /// length. Returns false when it was already lost.
    ///
    /// # Errors
    ///
    /// When the database fails the statement.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[path = "../../tests/support/pg_server.rs"]
    /// # mod pg_server;
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), herd::dist::PgQueueError> {
    /// # let server = pg_server::PgServer::start();
    /// # let url = server.url();
    /// # let queue = herd::dist::PgQueue::builder(&url, "q").build().await?;
    /// # queue.enqueue(herd::dist::NewJob::new("x")).await?;
    /// let lease = queue.claim(1).await?.remove(0);
    /// assert!(queue.extend(&lease).await?, "still ours");
    /// queue.complete(&lease, b"").await?;
    /// assert!(!queue.extend(&lease).await?, "finished: nothing to renew");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn extend(&self, lease: &Lease) -> Result<bool, PgQueueError> {
        let held = self.heartbeat_as(&lease.owner).await?;
        Ok(held.get(&lease.job.id) == Some(&lease.job.attempt))
    }

    /// Renews every lease `owner` holds; returns them (id to attempt).
    async fn heartbeat_as(&self, owner: &str) -> Result<HashMap<i64, u32>, PgQueueError> {
        let conn = self.conn().await?;
        let rows = conn
            .client
            .query(&conn.heartbeat, &[&owner, &secs(self.inner.lease)])
            .await
            .map_err(PgQueueError::new("renewing leases"))?;
        Ok(rows
            .iter()
            .map(|row| (row.get(0), count(row.get(1))))
            .collect())
    }

    /// Takes back every expired lease, of every queue: those jobs go back
    /// to `available` (or to `failed` after their last attempt). Returns
    /// how many. Every [`run`](PgQueue::run) does this once a lease length.
    ///
    /// # Errors
    ///
    /// When the database fails the statement.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[path = "../../tests/support/pg_server.rs"]
    /// # mod pg_server;
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), herd::dist::PgQueueError> {
    /// # let server = pg_server::PgServer::start();
    /// # let url = server.url();
    /// use std::time::Duration;
    /// use herd::dist::{JobState, NewJob, PgQueue};
    ///
    /// let queue = PgQueue::builder(&url, "q")
    ///     .lease(Duration::from_millis(100))
    ///     .build()
    ///     .await?;
    /// let id = queue.enqueue(NewJob::new("x")).await?.id;
    /// assert_eq!(queue.claim(1).await?.len(), 1); // then its worker dies
    /// tokio::time::sleep(Duration::from_millis(300)).await;
    /// let rescued = queue.rescue().await?;
    /// println!("{rescued} jobs of dead workers returned");
    /// assert_eq!(rescued, 1);
    /// assert_eq!(queue.jobs(&[id]).await?[0].state, JobState::Available);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn rescue(&self) -> Result<u64, PgQueueError> {
        let conn = self.conn().await?;
        let row = conn
            .client
            .query_one(&conn.rescue, &[])
            .await
            .map_err(PgQueueError::new("rescuing expired leases"))?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }

    /// Cancels these jobs of the queue if they have not finished: waiting
    /// ones never run, and a running one's worker drops it at its next
    /// heartbeat. Returns the ids cancelled.
    ///
    /// # Errors
    ///
    /// When the database fails the statement.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[path = "../../tests/support/pg_server.rs"]
    /// # mod pg_server;
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), herd::dist::PgQueueError> {
    /// # let server = pg_server::PgServer::start();
    /// # let url = server.url();
    /// # let queue = herd::dist::PgQueue::builder(&url, "q").build().await?;
    /// use herd::dist::{JobState, NewJob};
    /// let id = queue.enqueue(NewJob::new("x")).await?.id;
    /// let cancelled = queue.cancel(&[id]).await?;
    /// assert_eq!(cancelled, [id]);
    /// assert_eq!(queue.jobs(&[id]).await?[0].state, JobState::Cancelled);
    /// assert!(queue.cancel(&[id]).await?.is_empty()); // already finished
    /// # Ok(())
    /// # }
    /// ```
    pub async fn cancel(&self, ids: &[i64]) -> Result<Vec<i64>, PgQueueError> {
        self.cancel_where(ids, false).await
    }

    /// As [`cancel`](PgQueue::cancel), for the jobs still waiting only:
    /// running ones finish.
    ///
    /// # Errors
    ///
    /// When the database fails the statement.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[path = "../../tests/support/pg_server.rs"]
    /// # mod pg_server;
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), herd::dist::PgQueueError> {
    /// # let server = pg_server::PgServer::start();
    /// # let url = server.url();
    /// # let queue = herd::dist::PgQueue::builder(&url, "q").build().await?;
    /// use herd::dist::NewJob;
    /// let a = queue.enqueue(NewJob::new("a")).await?.id;
    /// let b = queue.enqueue(NewJob::new("b")).await?.id;
    /// let running = queue.claim(1).await?; // `a` starts
    /// let never_started = queue.cancel_waiting(&[a, b]).await?;
    /// println!("{} jobs will not start", never_started.len());
    /// assert_eq!(never_started, [b]);
    /// assert!(queue.complete(&running[0], b"").await?); // `a` finishes
    /// # Ok(())
    /// # }
    /// ```
    pub async fn cancel_waiting(&self, ids: &[i64]) -> Result<Vec<i64>, PgQueueError> {
        self.cancel_where(ids, true).await
    }

    async fn cancel_where(
        &self,
        ids: &[i64],
        waiting_only: bool,
    ) -> Result<Vec<i64>, PgQueueError> {
        let conn = self.conn().await?;
        let rows = conn
            .client
            .query(CANCEL, &[&self.inner.queue, &ids, &waiting_only])
            .await
            .map_err(PgQueueError::new("cancelling jobs"))?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    /// Puts a failed (dead-letter) or cancelled job back to `available`
    /// with its attempts reset. Returns false when it was not in one of
    /// those states.
    ///
    /// # Errors
    ///
    /// When the database fails the statement.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[path = "../../tests/support/pg_server.rs"]
    /// # mod pg_server;
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), herd::dist::PgQueueError> {
    /// # let server = pg_server::PgServer::start();
    /// # let url = server.url();
    /// # let queue = herd::dist::PgQueue::builder(&url, "q").build().await?;
    /// use herd::dist::{JobFailure, JobState, NewJob};
    /// let id = queue.enqueue(NewJob::new("x").max_attempts(1)).await?.id;
    /// let lease = queue.claim(1).await?.remove(0);
    /// queue.fail(&lease, JobFailure::new("boom")).await?; // dead letter now
    /// assert!(queue.retry(id).await?);
    /// let record = &queue.jobs(&[id]).await?[0];
    /// assert_eq!((record.state, record.attempts), (JobState::Available, 0));
    /// assert!(!queue.retry(id).await?); // waiting, not failed
    /// # Ok(())
    /// # }
    /// ```
    pub async fn retry(&self, id: i64) -> Result<bool, PgQueueError> {
        let conn = self.conn().await?;
        let rows = conn
            .client
            .query(RETRY, &[&self.inner.queue, &id])
            .await
            .map_err(PgQueueError::new("retrying a job"))?;
        Ok(!rows.is_empty())
    }

    /// The records of these jobs of the queue, by id (missing ids are
    /// left out).
    ///
    /// # Errors
    ///
    /// When the database fails the statement.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[path = "../../tests/support/pg_server.rs"]
    /// # mod pg_server;
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), herd::dist::PgQueueError> {
    /// # let server = pg_server::PgServer::start();
    /// # let url = server.url();
    /// # let queue = herd::dist::PgQueue::builder(&url, "q").build().await?;
    /// use herd::dist::{JobState, NewJob};
    /// let id = queue.enqueue(NewJob::new("x")).await?.id;
    /// let records = queue.jobs(&[id, id + 1]).await?; // there is no job id + 1
    /// for record in &records {
    ///     println!("{} {} after {} attempts", record.id, record.state, record.attempts);
    /// }
    /// assert_eq!(records.len(), 1);
    /// assert_eq!(records[0].state, JobState::Available);
    /// assert_eq!(records[0].attempts, 0);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn jobs(&self, ids: &[i64]) -> Result<Vec<JobRecord>, PgQueueError> {
        self.records(JOBS, &ids).await
    }

    /// The records of the queue's jobs with these idempotency keys, by id.
    ///
    /// # Errors
    ///
    /// When the database fails the statement.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[path = "../../tests/support/pg_server.rs"]
    /// # mod pg_server;
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), herd::dist::PgQueueError> {
    /// # let server = pg_server::PgServer::start();
    /// # let url = server.url();
    /// # let queue = herd::dist::PgQueue::builder(&url, "q").build().await?;
    /// use herd::dist::NewJob;
    /// let job = NewJob::new("ship order 7").idempotency_key("order-7");
    /// let order = queue.enqueue(job).await?;
    /// let found = queue.jobs_by_key(&["order-7", "order-8"]).await?;
    /// assert_eq!(found.len(), 1);
    /// assert_eq!(found[0].id, order.id);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn jobs_by_key(&self, keys: &[&str]) -> Result<Vec<JobRecord>, PgQueueError> {
        self.records(JOBS_BY_KEY, &keys).await
    }

    async fn records(
        &self,
        sql: &str,
        which: &(dyn ToSql + Sync),
    ) -> Result<Vec<JobRecord>, PgQueueError> {
        let conn = self.conn().await?;
        let rows = conn
            .client
            .query(sql, &[&self.inner.queue, which])
            .await
            .map_err(PgQueueError::new("reading jobs"))?;
        Ok(rows
            .iter()
            .map(|row| JobRecord {
                id: row.get(0),
                state: JobState::parse(row.get(1)),
                payload: row.get(2),
                priority: row.get(3),
                attempts: count(row.get(4)),
                max_attempts: count(row.get(5)),
                idempotency_key: row.get(6),
                result: row.get(7),
                last_error: row.get(8),
            })
            .collect())
    }

    /// How many of the queue's jobs are in each state.
    ///
    /// # Errors
    ///
    /// When the database fails the statement.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[path = "../../tests/support/pg_server.rs"]
    /// # mod pg_server;
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), herd::dist::PgQueueError> {
    /// # let server = pg_server::PgServer::start();
    /// # let url = server.url();
    /// # let queue = herd::dist::PgQueue::builder(&url, "q").build().await?;
    /// use herd::dist::{JobFailure, NewJob};
    /// queue.enqueue(NewJob::new("bad").max_attempts(1)).await?;
    /// queue.enqueue(NewJob::new("good")).await?;
    /// let lease = queue.claim(1).await?.remove(0); // "bad": first in
    /// queue.fail(&lease, JobFailure::new("boom")).await?;
    /// let counts = queue.counts().await?;
    /// println!("{} waiting, {} dead letter", counts.available, counts.failed);
    /// assert_eq!((counts.available, counts.failed), (1, 1));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn counts(&self) -> Result<QueueCounts, PgQueueError> {
        let conn = self.conn().await?;
        let rows = conn
            .client
            .query(COUNTS, &[&self.inner.queue])
            .await
            .map_err(PgQueueError::new("counting jobs"))?;
        let mut counts = QueueCounts::default();
        for row in rows {
            let n = u64::try_from(row.get::<_, i64>(1)).unwrap_or(0);
            match JobState::parse(row.get(0)) {
                JobState::Available => counts.available = n,
                JobState::Running => counts.running = n,
                JobState::Done => counts.done = n,
                JobState::Failed => counts.failed = n,
                JobState::Cancelled => counts.cancelled = n,
            }
        }
        Ok(counts)
    }

    /// Waits until every one of these jobs has finished (done, failed or
    /// cancelled) and returns their records in the order of `ids`.
    ///
    /// # Errors
    ///
    /// Never for a database that goes away: the check is retried until it
    /// answers (bound the wait with a timeout if that matters).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[path = "../../tests/support/pg_server.rs"]
    /// # mod pg_server;
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), herd::dist::PgQueueError> {
    /// # let server = pg_server::PgServer::start();
    /// # let url = server.url();
    /// # let queue = herd::dist::PgQueue::builder(&url, "q").build().await?;
    /// use herd::dist::{JobState, NewJob, PgQueueError};
    /// let job = queue.enqueue(NewJob::new("x")).await?;
    /// let worker = queue.clone();
    /// let worker = tokio::spawn(async move {
    ///     for lease in worker.claim(1).await? {
    ///         worker.complete(&lease, b"ok").await?;
    ///     }
    ///     Ok::<_, PgQueueError>(())
    /// });
    /// let records = queue.wait(&[job.id]).await?;
    /// println!("{}", records[0].state);
    /// assert_eq!(records[0].state, JobState::Done);
    /// # worker.await.unwrap()?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn wait(&self, ids: &[i64]) -> Result<Vec<JobRecord>, PgQueueError> {
        let mut finished: HashMap<i64, JobRecord> = HashMap::new();
        let mut pending: Vec<i64> = ids.to_vec();
        while !pending.is_empty() {
            for record in self.wait_any(&pending).await? {
                finished.insert(record.id, record);
            }
            pending.retain(|id| !finished.contains_key(id));
        }
        Ok(ids
            .iter()
            .filter_map(|id| finished.get(id).cloned())
            .collect())
    }

    /// Waits until at least one of these jobs has finished, and returns
    /// the records of all that have (by id). Woken by `NOTIFY` as jobs
    /// end, and looks again every poll interval in case one was missed;
    /// an empty `ids` returns at once.
    ///
    /// # Errors
    ///
    /// Never for a database that goes away: the check is retried until it
    /// answers (bound the wait with a timeout if that matters).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[path = "../../tests/support/pg_server.rs"]
    /// # mod pg_server;
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), herd::dist::PgQueueError> {
    /// # let server = pg_server::PgServer::start();
    /// # let url = server.url();
    /// # let queue = herd::dist::PgQueue::builder(&url, "q").build().await?;
    /// use herd::dist::{JobState, NewJob, PgQueueError};
    /// let jobs = queue.enqueue_many(["a", "b"].map(NewJob::new)).await?;
    /// let ids: Vec<i64> = jobs.iter().map(|job| job.id).collect();
    /// let worker = queue.clone();
    /// let worker = tokio::spawn(async move {
    ///     for lease in worker.claim(2).await? {
    ///         worker.complete(&lease, b"ok").await?;
    ///     }
    ///     Ok::<_, PgQueueError>(())
    /// });
    /// let mut pending = ids;
    /// let mut finished = Vec::new();
    /// while !pending.is_empty() {
    ///     for record in queue.wait_any(&pending).await? {
    ///         println!("job {} {}", record.id, record.state);
    ///         pending.retain(|&id| id != record.id);
    ///         finished.push(record.state);
    ///     }
    /// }
    /// assert_eq!(finished, [JobState::Done, JobState::Done]);
    /// # worker.await.unwrap()?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn wait_any(&self, ids: &[i64]) -> Result<Vec<JobRecord>, PgQueueError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.listen();
        loop {
            let woken = self.inner.done_woken.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            match self.jobs(ids).await {
                Ok(records) => {
                    let finished: Vec<JobRecord> = records
                        .into_iter()
                        .filter(|r| r.state.is_finished())
                        .collect();
                    if !finished.is_empty() {
                        return Ok(finished);
                    }
                }
                Err(error) => tracing::warn!(%error, "herd::dist::PgQueue::wait: will look again"),
            }
            let _ = tokio::time::timeout(self.inner.poll, woken).await;
        }
    }

    /// Starts the listener (once): a connection of its own that `LISTEN`s
    /// and wakes this queue's waiters, made again when it breaks.
    fn listen(&self) {
        let mut listener = self
            .inner
            .listener
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if listener.is_some() {
            return;
        }
        let inner = Arc::downgrade(&self.inner);
        let config = self.inner.config.clone();
        let queue = self.inner.queue.clone();
        let tls = self.inner.tls.clone();
        *listener = Some(tokio::spawn(async move {
            let mut delay = Duration::from_millis(50);
            loop {
                let listened = match &tls {
                    None => match config.connect(NoTls).await {
                        Ok((client, connection)) => {
                            listen_on(client, connection, &inner, &queue, &mut delay).await
                        }
                        Err(_) => true,
                    },
                    Some(tls) => match config.connect(tls.clone()).await {
                        Ok((client, connection)) => {
                            listen_on(client, connection, &inner, &queue, &mut delay).await
                        }
                        Err(_) => true,
                    },
                };
                if !listened || inner.strong_count() == 0 {
                    return;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }));
    }

    /// Drains the queue into `pool` until `stop` is cancelled: claims as
    /// many jobs as the pool has idle workers, runs `handler` on each,
    /// renews their leases every third of a lease while they run, records
    /// each outcome (a panic is a failed attempt), and rescues expired
    /// leases of dead workers once a lease length. Idle, it sleeps until
    /// a `NOTIFY` says a job arrived (or the poll interval passes).
    ///
    /// When `stop` is cancelled it claims no more and returns once the jobs
    /// it started have finished and been recorded. A job whose lease is
    /// lost while it runs (cancelled, or rescued after the database was
    /// out of reach for a lease length) has its future dropped, and its
    /// outcome is not recorded. Database errors are logged and retried
    /// with backoff; a restarted server is reconnected to.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[path = "../../tests/support/pg_server.rs"]
    /// # mod pg_server;
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), herd::dist::PgQueueError> {
    /// # let server = pg_server::PgServer::start();
    /// # let url = server.url();
    /// # let queue = herd::dist::PgQueue::builder(&url, "q").build().await?;
    /// use herd::dist::NewJob;
    /// use herd::pool::WorkerPool;
    /// use herd::task::CancelToken;
    ///
    /// let pool = WorkerPool::builder().workers(4).build();
    /// let stop = CancelToken::new();
    /// let worker = {
    ///     let (queue, stop) = (queue.clone(), stop.clone());
    ///     tokio::spawn(async move {
    ///         queue.run(&pool, |job| async move { Ok(job.payload) }, &stop).await
    ///     })
    /// };
    /// let job = queue.enqueue(NewJob::new("echo")).await?;
    /// let records = queue.wait(&[job.id]).await?;
    /// assert_eq!(records[0].result.as_deref(), Some(&b"echo"[..]));
    /// stop.cancel("shutting down");
    /// let stats = worker.await.unwrap();
    /// assert_eq!((stats.done, stats.lost), (1, 0));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn run<H, F>(&self, pool: &WorkerPool, handler: H, stop: &CancelToken) -> WorkStats
    where
        H: Fn(Job) -> F + Send + Sync + 'static,
        F: Future<Output = Result<Vec<u8>, JobFailure>> + Send + 'static,
    {
        self.listen();
        let owner = owner_id();
        let workers = pool.stats().workers.max(1);
        let slots = Arc::new(Semaphore::new(workers));
        let running: Running = Arc::default();
        let stats = Arc::new(Mutex::new(WorkStats::default()));
        let handler = Arc::new(handler);
        let releases: Releases = Arc::default();
        let (completer, completions) = crate::queue::bounded::<Completion>(workers);
        let recorder = tokio::spawn(self.clone().record_done(owner.clone(), completions));
        let keeper = tokio::spawn(self.clone().keep_leases(owner.clone(), running.clone()));
        // Cancelled by the caller's token, or here if the pool shuts down
        // (the caller's own token is left alone).
        let stop = stop.child();
        let mut errors = 0u32;
        while !stop.is_cancelled() {
            let first = tokio::select! {
                permit = slots.clone().acquire_owned() => permit.expect("never closed"),
                _ = stop.cancelled() => break,
            };
            let mut permits = vec![first];
            while permits.len() < self.inner.batch {
                match slots.clone().try_acquire_owned() {
                    Ok(permit) => permits.push(permit),
                    Err(_) => break,
                }
            }
            let woken = self.inner.jobs_woken.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let jobs = match self.claim_as(&owner, permits.len()).await {
                Ok(jobs) => {
                    errors = 0;
                    jobs
                }
                Err(error) => {
                    errors += 1;
                    tracing::warn!(%error, "herd::dist::PgQueue::run: claiming failed; will retry");
                    drop(permits);
                    let pause = self.backoff(errors.min(8)).max(Duration::from_millis(10));
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        _ = stop.cancelled() => break,
                    }
                    continue;
                }
            };
            if jobs.is_empty() {
                drop(permits);
                let idle = self.next_run().await.unwrap_or(self.inner.poll);
                tokio::select! {
                    () = &mut woken => {}
                    () = tokio::time::sleep(idle.min(self.inner.poll)) => {}
                    _ = stop.cancelled() => break,
                }
                continue;
            }
            permits.truncate(jobs.len());
            for (job, permit) in jobs.into_iter().zip(permits) {
                let lost = CancelToken::new();
                running
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(job.id, (job.attempt, lost.clone()));
                let guard = Held {
                    queue: self.clone(),
                    owner: owner.clone(),
                    job: Some(job.clone()),
                    running: running.clone(),
                    stats: stats.clone(),
                    releases: releases.clone(),
                    completer: completer.clone(),
                };
                let priority = job.priority;
                let work = handler(job);
                let task = async move {
                    let _permit = permit;
                    let mut guard = guard;
                    let outcome = tokio::select! {
                        outcome = AssertUnwindSafe(work).catch_unwind() => outcome,
                        _ = lost.cancelled() => {
                            guard.lost();
                            return Ok::<(), std::convert::Infallible>(());
                        }
                    };
                    let outcome = outcome.map_err(|panic| {
                        JobFailure::new(JobError::<String>::panicked(panic).to_string())
                    });
                    guard.record(outcome.and_then(|r| r)).await;
                    Ok(())
                };
                if let Err(refused) = pool.submit_with(priority, task).await {
                    // The pool was shut down: the job's guard hands it back.
                    drop(refused);
                    stop.cancel("the pool was shut down");
                }
            }
        }
        // Wait for the jobs started here to be recorded, and those dropped
        // unrun (the pool was cancelled) to be handed back.
        drop(slots.acquire_many(workers).await);
        keeper.abort();
        drop(completer);
        let _ = recorder.await;
        let handing_back: Vec<JoinHandle<()>> = releases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect();
        let _ = tokio::time::timeout(
            self.inner.lease,
            futures_util::future::join_all(handing_back),
        )
        .await;
        *stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Seconds until the queue's next delayed job, if one is waiting.
    async fn next_run(&self) -> Option<Duration> {
        let conn = self.conn().await.ok()?;
        let row = conn
            .client
            .query_one(&conn.next_run, &[&self.inner.queue])
            .await
            .ok()?;
        let secs: f64 = row.get::<_, Option<f64>>(0)?;
        Some(Duration::from_secs_f64(secs.max(0.001)))
    }

    /// Records the worker's successes in batches: whatever has arrived
    /// while the last batch was on the wire goes in the next statement.
    async fn record_done(self, owner: Arc<str>, completions: crate::queue::Receiver<Completion>) {
        while let Ok(first) = completions.recv().await {
            let mut batch = vec![first];
            while batch.len() < 512 {
                match completions.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            match self.complete_many(&owner, &batch).await {
                Ok(recorded) => {
                    for done in batch {
                        let _ = done.reply.send(Ok(recorded.contains(&done.id)));
                    }
                }
                Err(error) => {
                    for done in batch {
                        let _ = done.reply.send(Err(error.to_string()));
                    }
                }
            }
        }
    }

    /// Renews this worker's leases every third of a lease (dropping jobs
    /// whose lease was lost), and rescues expired ones once a lease.
    async fn keep_leases(self, owner: Arc<str>, running: Running) {
        let every = self.inner.lease / 3;
        let mut ticks = 0u32;
        loop {
            tokio::time::sleep(every).await;
            ticks += 1;
            let held: Vec<(i64, u32)> = running
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .map(|(id, (attempt, _))| (*id, *attempt))
                .collect();
            if !held.is_empty() {
                match self.heartbeat_as(&owner).await {
                    Ok(renewed) => {
                        let running = running.lock().unwrap_or_else(|e| e.into_inner());
                        for (id, attempt) in held {
                            if renewed.get(&id) != Some(&attempt)
                                && let Some((now, lost)) = running.get(&id)
                                && *now == attempt
                            {
                                lost.cancel("the job's lease was lost");
                            }
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "herd::dist::PgQueue: renewing leases failed; will retry");
                    }
                }
            }
            if ticks.is_multiple_of(3)
                && let Err(error) = self.rescue().await
            {
                tracing::warn!(%error, "herd::dist::PgQueue: rescuing expired leases failed");
            }
        }
    }
}

/// A success on its way to [`PgQueue::record_done`]; the reply says
/// whether the lease held (or why the statement failed).
struct Completion {
    id: i64,
    attempt: i32,
    result: Vec<u8>,
    reply: tokio::sync::oneshot::Sender<Result<bool, String>>,
}

/// A job running under this worker's lease. Records its outcome, or, if
/// dropped unrecorded (the pool dropped it unrun, or shut down), hands it
/// back; either way it leaves the heartbeat's set.
struct Held {
    queue: PgQueue,
    owner: Arc<str>,
    job: Option<Job>,
    running: Running,
    stats: Arc<Mutex<WorkStats>>,
    releases: Releases,
    completer: crate::queue::Sender<Completion>,
}

impl Held {
    fn forget(&mut self) -> Option<Job> {
        let job = self.job.take()?;
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&job.id);
        Some(job)
    }

    fn count(&self, f: impl FnOnce(&mut WorkStats)) {
        f(&mut self.stats.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// A success, recorded in the worker's next batch.
    async fn complete(&self, job: &Job, result: Vec<u8>) -> Result<Option<JobState>, String> {
        let (reply, replied) = tokio::sync::oneshot::channel();
        let done = Completion {
            id: job.id,
            attempt: i32::try_from(job.attempt).unwrap_or(i32::MAX),
            result,
            reply,
        };
        if self.completer.send(done).await.is_err() {
            return Err("the worker is stopping".into());
        }
        match replied.await {
            Ok(Ok(held)) => Ok(held.then_some(JobState::Done)),
            Ok(Err(error)) => Err(error),
            Err(_) => Err("the recorder stopped".into()),
        }
    }

    fn lost(&mut self) {
        self.forget();
        self.count(|s| s.lost += 1);
    }

    /// Records the outcome, retrying through database errors for up to a
    /// lease length (after that the lease is gone and the rescuer runs the
    /// job again: at least once, never lost).
    async fn record(&mut self, outcome: Result<Vec<u8>, JobFailure>) {
        let Some(job) = self.job.clone() else { return };
        let give_up = tokio::time::Instant::now() + self.queue.inner.lease;
        let mut pause = Duration::from_millis(20);
        loop {
            let recorded = match &outcome {
                Ok(result) => self.complete(&job, result.clone()).await,
                Err(failure) => self
                    .queue
                    .fail_as(&self.owner, &job, failure.clone())
                    .await
                    .map_err(|e| e.to_string()),
            };
            match recorded {
                Ok(state) => {
                    self.forget();
                    self.count(|s| match state {
                        Some(JobState::Done) => s.done += 1,
                        Some(JobState::Available) => s.retried += 1,
                        Some(_) => s.failed += 1,
                        None => s.lost += 1,
                    });
                    return;
                }
                Err(error) if tokio::time::Instant::now() < give_up => {
                    tracing::warn!(%error, job = job.id, "herd::dist::PgQueue: recording an outcome failed; will retry");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
                Err(error) => {
                    tracing::error!(%error, job = job.id, "herd::dist::PgQueue: could not record an outcome within a lease; the rescuer will run the job again");
                    self.lost();
                    return;
                }
            }
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(job) = self.forget() else { return };
        self.count(|s| s.released += 1);
        let queue = self.queue.clone();
        let owner = self.owner.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let release = runtime.spawn(async move {
                if let Err(error) = queue.release_as(&owner, &job).await {
                    tracing::warn!(%error, job = job.id, "herd::dist::PgQueue: handing a job back failed; its lease will expire");
                }
            });
            self.releases
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(release);
        }
    }
}

impl fmt::Debug for PgQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgQueue")
            .field("queue", &self.inner.queue)
            .field("lease", &self.inner.lease)
            .field("max_attempts", &self.inner.max_attempts)
            .finish_non_exhaustive()
    }
}
