//! `herd run --queue` and `herd worker`: the jobs of a GNU-style command
//! line enqueued on herd's PostgreSQL queue ([`herd::dist::PgQueue`]), run
//! by `herd worker`s on any number of machines, their output and exit
//! status collected by `herd run --queue ... --wait`.
//!
//! A job's payload is one JSON line (run, seq, command line, timeout,
//! --term-seq) and then its `--pipe` block; its result is one JSON line
//! (exit, signal, times, host, stdout length) and then its standard output
//! and standard error. Each job's idempotency key is `RUN:SEQ`, so the same
//! run enqueued again (`--resume`) adds only the jobs it lacks.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use clap::Args;
use futures_util::stream::{BoxStream, StreamExt};
use herd::dist::{Job, JobFailure, JobRecord, JobState, NewJob, PgQueue};
use herd::pool::WorkerPool;
use serde_json::json;

use super::template::{Template, fill_slot};
use super::{
    DEFAULT_TERM_SEQ, Exit, Finished, Halt, RunArgs, Runner, Timeout, Turns, halted, parse_jobs,
    parse_term_seq, pipe, tagged,
};

/// How many jobs go to the database in one statement.
const CHUNK: usize = 1000;

/// Attempts a job may lose with a dead or silent worker, beyond its
/// `--retries`: a job whose worker is killed runs again, but one that
/// kills every worker that runs it (a poison job) does not loop forever.
const LOST_ATTEMPTS: u32 = 2;

/// What a worker needs to run a job.
struct Spec {
    seq: u64,
    /// `--retries`: tries in all (0: until one succeeds). A failed try
    /// at or past this is not retried.
    tries: u32,
    command: String,
    timeout: Option<Duration>,
    term_seq: Vec<(i32, Duration)>,
}

fn encode_job(run: &str, spec: &Spec, stdin: Option<&[u8]>) -> Vec<u8> {
    let term_seq: Vec<(i32, u64)> = spec
        .term_seq
        .iter()
        .map(|&(signal, wait)| (signal, u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)))
        .collect();
    let header = json!({
        "run": run,
        "seq": spec.seq,
        "tries": spec.tries,
        "command": spec.command,
        "timeout": spec.timeout.map(|t| t.as_secs_f64()),
        "term_seq": term_seq,
        "stdin": stdin.is_some(),
    });
    let mut payload = header.to_string().into_bytes();
    payload.push(b'\n');
    payload.extend_from_slice(stdin.unwrap_or_default());
    payload
}

fn decode_job(payload: &[u8]) -> Result<(Spec, Option<bytes::Bytes>), String> {
    let bad = |why: &str| format!("not a herd run job ({why})");
    let split = payload
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| bad("no header line"))?;
    let header: serde_json::Value =
        serde_json::from_slice(&payload[..split]).map_err(|e| bad(&e.to_string()))?;
    let seq = header["seq"].as_u64().ok_or_else(|| bad("no seq"))?;
    let tries = header["tries"]
        .as_u64()
        .and_then(|t| u32::try_from(t).ok())
        .unwrap_or(1);
    let command = header["command"]
        .as_str()
        .ok_or_else(|| bad("no command"))?
        .to_owned();
    let timeout = header["timeout"]
        .as_f64()
        .and_then(|t| Duration::try_from_secs_f64(t).ok());
    let term_seq = match header["term_seq"].as_array() {
        Some(steps) if !steps.is_empty() => steps
            .iter()
            .map(|step| {
                let signal = step[0].as_i64().and_then(|s| i32::try_from(s).ok());
                let wait = step[1].as_u64();
                signal
                    .zip(wait)
                    .map(|(signal, wait)| (signal, Duration::from_millis(wait)))
                    .ok_or_else(|| bad("bad term_seq"))
            })
            .collect::<Result<_, _>>()?,
        _ => parse_term_seq(DEFAULT_TERM_SEQ)?,
    };
    let stdin = header["stdin"]
        .as_bool()
        .unwrap_or(false)
        .then(|| bytes::Bytes::copy_from_slice(&payload[split + 1..]));
    Ok((
        Spec {
            seq,
            tries,
            command,
            timeout,
            term_seq,
        },
        stdin,
    ))
}

/// A finished try as a worker stores it.
struct Outcome {
    exit: Exit,
    timed_out: bool,
    start: SystemTime,
    runtime: Duration,
    host: String,
    /// The worker's job slot it ran in (`{%}`).
    slot: usize,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

fn encode_result(outcome: &Outcome) -> Vec<u8> {
    let (code, signal) = match outcome.exit {
        Exit::Code(code) => (Some(code), None),
        Exit::Signal(signal) => (None, Some(signal)),
    };
    let header = json!({
        "exit": code,
        "signal": signal,
        "timed_out": outcome.timed_out,
        "start": outcome.start.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs_f64(),
        "runtime": outcome.runtime.as_secs_f64(),
        "host": outcome.host,
        "slot": outcome.slot,
        "stdout": outcome.stdout.len(),
    });
    let mut result = header.to_string().into_bytes();
    result.push(b'\n');
    result.extend_from_slice(&outcome.stdout);
    result.extend_from_slice(&outcome.stderr);
    result
}

fn decode_result(result: &[u8]) -> Option<Outcome> {
    let split = result.iter().position(|&b| b == b'\n')?;
    let header: serde_json::Value = serde_json::from_slice(&result[..split]).ok()?;
    let exit = match (header["exit"].as_i64(), header["signal"].as_i64()) {
        (_, Some(signal)) => Exit::Signal(i32::try_from(signal).ok()?),
        (Some(code), None) => Exit::Code(i32::try_from(code).ok()?),
        (None, None) => return None,
    };
    let body = &result[split + 1..];
    let stdout_len = usize::try_from(header["stdout"].as_u64()?).ok()?;
    let (stdout, stderr) = body.split_at_checked(stdout_len)?;
    Some(Outcome {
        exit,
        timed_out: header["timed_out"].as_bool().unwrap_or(false),
        start: SystemTime::UNIX_EPOCH
            + Duration::try_from_secs_f64(header["start"].as_f64()?).ok()?,
        runtime: Duration::try_from_secs_f64(header["runtime"].as_f64()?).ok()?,
        host: header["host"].as_str().unwrap_or("?").to_owned(),
        slot: header["slot"]
            .as_u64()
            .and_then(|slot| usize::try_from(slot).ok())
            .unwrap_or(1),
        stdout: stdout.to_vec(),
        stderr: stderr.to_vec(),
    })
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned())
}

/// The run's default name: a hash (FNV-1a, 64 bits) of herd run's
/// arguments, so the same command line names the same run. Left out: the
/// options that only say where the queue is or how to wait and resume
/// (`--queue`, `--queue-ca`, `--wait`, `--resume`, `--resume-failed`), and
/// only among the options, never among the command's own words.
fn default_run_id(argv: &[String], command_words: usize) -> String {
    let options = &argv[..argv.len().saturating_sub(command_words)];
    let mut kept: Vec<&str> = Vec::new();
    let mut skip_value = false;
    for arg in options {
        if std::mem::take(&mut skip_value) {
            continue;
        }
        match arg.as_str() {
            "--queue" | "--queue-ca" => skip_value = true,
            "--wait" | "--resume" | "--resume-failed" => {}
            other if other.starts_with("--queue=") || other.starts_with("--queue-ca=") => {}
            other => kept.push(other),
        }
    }
    let words = argv[options.len()..].iter().map(String::as_str);
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for arg in kept.into_iter().chain(words) {
        for byte in arg.bytes().chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// One job of this run, as `herd run` keeps it while it waits.
struct Entry {
    seq: u64,
    id: i64,
    args: Vec<String>,
    command: String,
    tag: Option<String>,
    /// Finished before this invocation (`--resume`): neither printed nor
    /// counted, as a local resumed run skips what its joblog shows.
    finished_before: bool,
}

/// `herd run --queue URL`: enqueues the jobs; with `--wait`, waits for
/// them and prints and counts them as a local run would.
pub(super) async fn submit(
    url: &str,
    args: &RunArgs,
    mut jobs: BoxStream<'static, std::io::Result<pipe::Job>>,
    runner: Arc<Runner>,
    halt: Option<Halt>,
    mut joblog: Option<File>,
) -> Result<i32, String> {
    for (set, flag) in [
        (args.ungroup, "--ungroup"),
        (args.line_buffer, "--line-buffer"),
        (args.rate.is_some(), "--rate"),
        (args.delay.is_some(), "--delay"),
        (args.retry_delay.is_some(), "--retry-delay"),
    ] {
        if set {
            return Err(format!(
                "{flag} is not available with --queue (jobs start on the workers)"
            ));
        }
    }
    if joblog.is_some() && !args.wait {
        return Err("--joblog with --queue needs --wait (the log is written as jobs end)".into());
    }
    let timeout = match runner.timeout {
        None => None,
        Some(Timeout::Fixed(limit)) => Some(limit),
        Some(Timeout::OfMedian(_)) => {
            return Err("--timeout N% is not available with --queue; give seconds".into());
        }
    };
    let queue = builder(url, &args.queue_name, args.queue_ca.as_deref())?
        .build()
        .await
        .map_err(|e| format!("--queue: {e}"))?;
    let run = args.run_id.clone().unwrap_or_else(|| {
        let argv: Vec<String> = std::env::args().skip(2).collect();
        default_run_id(&argv, args.command.len())
    });
    let key = |seq: u64| format!("{run}:{seq}");
    let resuming = args.resume || args.resume_failed;
    if !resuming
        && !queue
            .jobs_by_key(&[&key(1)])
            .await
            .map_err(|e| format!("--queue: {e}"))?
            .is_empty()
    {
        return Err(format!(
            "run {run} is already on queue {}: add --resume to run only its unfinished jobs \
             (--resume-failed: and its failed ones), or give --run-id to start another run",
            args.queue_name
        ));
    }
    let attempts = match runner.retries {
        0 => i32::MAX.unsigned_abs(),
        n => n.saturating_add(LOST_ATTEMPTS).min(i32::MAX.unsigned_abs()),
    };
    let mut entries: Vec<Entry> = Vec::new();
    let mut chunk: Vec<NewJob> = Vec::new();
    let mut seq = 0u64;
    let mut ended = false;
    while !ended {
        match jobs.next().await {
            Some(job) => {
                let (job_args, stdin) = job.map_err(|e| e.to_string())?;
                seq += 1;
                // `{%}` is the slot of the worker that runs it.
                let command = runner.template.render_queued(&job_args, seq);
                let tag = runner
                    .tag
                    .as_ref()
                    .map(|t| t.render_tag_queued(&job_args, seq));
                let spec = Spec {
                    seq,
                    tries: runner.retries,
                    command: command.clone(),
                    timeout,
                    term_seq: runner.term_seq.clone(),
                };
                chunk.push(
                    NewJob::new(encode_job(&run, &spec, stdin.as_deref()))
                        .idempotency_key(key(seq))
                        .max_attempts(attempts),
                );
                entries.push(Entry {
                    seq,
                    id: 0,
                    args: job_args,
                    command,
                    tag,
                    finished_before: false,
                });
            }
            None => ended = true,
        }
        if chunk.len() == CHUNK || (ended && !chunk.is_empty()) {
            let first = entries.len() - chunk.len();
            let enqueued = queue
                .enqueue_many(std::mem::take(&mut chunk))
                .await
                .map_err(|e| format!("--queue: {e}"))?;
            let mut existing = Vec::new();
            for (entry, enqueued) in entries[first..].iter_mut().zip(&enqueued) {
                entry.id = enqueued.id;
                if !enqueued.created {
                    existing.push(enqueued.id);
                }
            }
            if !existing.is_empty() {
                resume(&queue, &mut entries[first..], &existing, args.resume_failed).await?;
            }
        }
    }
    if !args.wait {
        let new = entries.iter().filter(|e| !e.finished_before).count();
        eprintln!(
            "herd run: run {run}: {} jobs on queue {} ({new} to run); `herd worker --queue URL` runs them, \
             `herd run --queue URL --resume --wait ...` waits for them",
            entries.len(),
            args.queue_name
        );
        return Ok(0);
    }
    wait(&queue, &runner, entries, halt, joblog.as_mut()).await
}

/// The jobs of a resumed run that were there already: finished ones are
/// skipped (failed ones too, unless `failed_again`); cancelled ones (a
/// halt stopped them) and, with `failed_again`, failed ones run again.
async fn resume(
    queue: &PgQueue,
    entries: &mut [Entry],
    existing: &[i64],
    failed_again: bool,
) -> Result<(), String> {
    let records = queue
        .jobs(existing)
        .await
        .map_err(|e| format!("--queue: {e}"))?;
    let states: HashMap<i64, JobState> = records.iter().map(|r| (r.id, r.state)).collect();
    for entry in entries.iter_mut() {
        let again = match states.get(&entry.id) {
            Some(JobState::Cancelled) => true,
            Some(JobState::Failed) => failed_again,
            Some(JobState::Done) => false,
            _ => continue,
        };
        if again {
            queue
                .retry(entry.id)
                .await
                .map_err(|e| format!("--queue: {e}"))?;
        } else {
            entry.finished_before = true;
        }
    }
    Ok(())
}

/// Waits for the run's jobs and reports each in input order: its output
/// (grouped, tagged, as `--json` or into `--results`), its joblog line,
/// and the exit status and `--halt` as a local run.
async fn wait(
    queue: &PgQueue,
    runner: &Runner,
    entries: Vec<Entry>,
    halt: Option<Halt>,
    mut joblog: Option<&mut File>,
) -> Result<i32, String> {
    let mut entries: Vec<Entry> = entries.into_iter().filter(|e| !e.finished_before).collect();
    let mut records: HashMap<i64, JobRecord> = HashMap::new();
    let mut next = 0;
    let (mut done, mut failed) = (0u64, 0u64);
    let mut status = None;
    let mut interrupted = std::pin::pin!(tokio::signal::ctrl_c());
    while next < entries.len() {
        let pending: Vec<i64> = entries[next..]
            .iter()
            .map(|e| e.id)
            .filter(|id| !records.contains_key(id))
            .collect();
        tokio::select! {
            finished = queue.wait_any(&pending) => {
                for record in finished.map_err(|e| format!("--queue: {e}"))? {
                    records.insert(record.id, record);
                }
            }
            _ = &mut interrupted => {
                eprintln!(
                    "herd run: stopped waiting; the jobs go on. Wait again with the same command and --resume"
                );
                return Ok(130);
            }
        }
        while let Some(record) = entries.get(next).and_then(|e| records.remove(&e.id)) {
            let entry = &mut entries[next];
            next += 1;
            let Some(finished) = finished(entry, &record) else {
                continue; // cancelled: not run, not counted
            };
            runner.print(&finished);
            if let Some(log) = joblog.as_mut() {
                let _ = log.write_all(finished.joblog_line().as_bytes());
            }
            done += 1;
            failed += u64::from(finished.exit.failed());
            if let Some(halt) = halt
                && status.is_none()
                && let Some(code) = halted(halt, &finished, done, failed)
            {
                status = Some(code);
                let rest: Vec<i64> = entries[next..].iter().map(|e| e.id).collect();
                let cancel = if halt.now {
                    queue.cancel(&rest).await
                } else {
                    queue.cancel_waiting(&rest).await
                };
                cancel.map_err(|e| format!("--queue: {e}"))?;
                if halt.now {
                    return Ok(code);
                }
            }
        }
    }
    Ok(status.unwrap_or_else(|| i32::try_from(failed.min(101)).expect("at most 101")))
}

/// A finished job's report from its record; `None` for a cancelled one.
fn finished(entry: &mut Entry, record: &JobRecord) -> Option<Finished> {
    let outcome = record.result.as_deref().and_then(decode_result);
    let (exit, timed_out, start, runtime, host, slot, stdout, stderr) =
        match (record.state, outcome) {
            (JobState::Cancelled, _) => return None,
            (_, Some(o)) => (
                o.exit,
                o.timed_out,
                o.start,
                o.runtime,
                o.host,
                o.slot,
                o.stdout,
                o.stderr,
            ),
            // No result: its last worker died or lost its lease.
            (_, None) => (
                Exit::Signal(libc::SIGKILL),
                false,
                SystemTime::now(),
                Duration::ZERO,
                "?".to_owned(),
                1,
                Vec::new(),
                format!(
                    "herd run: job {} did not finish: {}\n",
                    entry.seq,
                    record.last_error.as_deref().unwrap_or("no result")
                )
                .into_bytes(),
            ),
        };
    let tag = entry.tag.as_deref().map(|tag| fill_slot(tag, slot));
    Some(Finished {
        seq: entry.seq,
        args: std::mem::take(&mut entry.args),
        command: fill_slot(&entry.command, slot),
        start,
        runtime,
        stdout: tagged(tag.as_deref(), stdout),
        stderr: tagged(tag.as_deref(), stderr),
        exit,
        timed_out,
        attempts: record.attempts,
        host,
    })
}

/// The queue's builder; with `--queue-ca FILE`, TLS that trusts the
/// certificates in FILE (PEM) instead of the platform's.
fn builder(url: &str, name: &str, ca: Option<&str>) -> Result<herd::dist::PgQueueBuilder, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let builder = PgQueue::builder(url, name);
    let Some(ca) = ca else { return Ok(builder) };
    let bad = |e: &dyn std::fmt::Display| format!("--queue-ca {ca}: {e}");
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).map_err(|e| bad(&e))? {
        roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
    }
    if roots.is_empty() {
        return Err(bad(&"no certificate in the file"));
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| bad(&e))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(builder.tls(config))
}

/// Runs the jobs of `herd run --queue` from a PostgreSQL queue, here and on
/// as many machines as you start it on. It runs whatever command lines the
/// queue holds, as its own user: whoever can write to the database's
/// `herd.jobs` can run commands here.
#[derive(Args, Debug)]
pub struct WorkerArgs {
    /// The queue's database: a `postgres://user:password@host:port/db`
    /// URL.
    #[arg(long, value_name = "URL")]
    queue: String,
    /// The queue's name, as `herd run --queue-name` gave it.
    #[arg(long = "queue-name", value_name = "NAME", default_value = "herd-run")]
    queue_name: String,
    /// Trust the CA certificates in FILE (PEM) for the queue's TLS (with
    /// `?sslmode=require` in the URL), instead of the system's.
    #[arg(long = "queue-ca", value_name = "FILE")]
    queue_ca: Option<String>,
    /// Jobs at once on this machine: N, N% of the cores, +N or -N relative
    /// to the cores. Default: the number of cores.
    #[arg(
        short = 'j',
        long = "jobs",
        value_name = "N",
        allow_hyphen_values = true
    )]
    jobs: Option<String>,
    /// A running job's lease, in seconds: it is renewed every third of
    /// that while the job runs; a worker silent for that long (killed,
    /// stopped, cut off) has its jobs run again elsewhere.
    #[arg(long, value_name = "SECS", default_value = "30")]
    lease: f64,
}

/// `herd worker`: drains the queue until Ctrl-C or SIGTERM (once: no new
/// job starts, running ones finish; twice: running ones are killed and
/// handed back to the queue unfinished).
pub async fn worker(args: WorkerArgs) -> i32 {
    match work(args).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("herd worker: {message}");
            super::USAGE
        }
    }
}

async fn work(args: WorkerArgs) -> Result<i32, String> {
    let slots = match parse_jobs(args.jobs.as_deref())? {
        // -j 0 is "as many as possible" locally; a worker needs a number.
        0 => 64,
        n => n,
    };
    let lease = Duration::try_from_secs_f64(args.lease)
        .ok()
        .filter(|l| *l >= Duration::from_millis(100))
        .ok_or_else(|| format!("--lease {}: expected at least 0.1 seconds", args.lease))?;
    let queue = builder(&args.queue, &args.queue_name, args.queue_ca.as_deref())?
        .lease(lease)
        .backoff(Duration::from_millis(100), Duration::from_secs(10))
        .build()
        .await
        .map_err(|e| format!("--queue: {e}"))?;
    let runner = Arc::new(Runner {
        template: Template::parse(&[], None),
        tag: None,
        dry_run: false,
        ungroup: false,
        free_slots: Mutex::new((1..=slots).map(std::cmp::Reverse).collect()),
        starts: Vec::new(),
        retries: 1,
        retry_delay: None,
        json: false,
        line_buffer: false,
        turns: Mutex::new(Turns {
            ordered: false,
            next: 1,
            held: HashMap::new(),
        }),
        results: None,
        names: Vec::new(),
        timeout: None,
        term_seq: parse_term_seq(DEFAULT_TERM_SEQ)?,
        runtimes: Mutex::new(Vec::new()),
        groups: Mutex::new(std::collections::HashSet::new()),
    });
    let shutdown = herd::shutdown::Shutdown::with_signals();
    // The second signal cancels the pool: running jobs are dropped (their
    // process groups killed) and handed back unfinished.
    let pool = WorkerPool::builder()
        .workers(slots)
        .name("herd worker")
        .parent(shutdown.force_token())
        .build();
    let host = hostname();
    let handler = move |job: Job| {
        let runner = runner.clone();
        let host = host.clone();
        async move { execute(&runner, &host, &job).await }
    };
    let stats = queue.run(&pool, handler, shutdown.token()).await;
    eprintln!(
        "herd worker: {} done, {} failed, {} to be retried, {} handed back, {} lost",
        stats.done, stats.failed, stats.retried, stats.released, stats.lost
    );
    Ok(0)
}

/// Runs one job from the queue as `herd run` runs a job here.
async fn execute(runner: &Runner, host: &str, job: &Job) -> Result<Vec<u8>, JobFailure> {
    let (spec, stdin) = decode_job(&job.payload).map_err(|e| JobFailure::new(e).permanent())?;
    let slot = runner.take_slot();
    let command = fill_slot(&spec.command, slot);
    let start = SystemTime::now();
    let began = tokio::time::Instant::now();
    let (stdout, stderr, exit, timed_out) = runner
        .attempt(
            &command,
            spec.seq,
            slot,
            None,
            stdin,
            spec.timeout.map(|limit| (limit, &spec.term_seq[..])),
        )
        .await;
    runner.give_slot(slot);
    let outcome = Outcome {
        exit,
        timed_out,
        start,
        runtime: began.elapsed(),
        host: host.to_owned(),
        slot,
        stdout,
        stderr,
    };
    let result = encode_result(&outcome);
    let failure = match exit {
        Exit::Code(0) => return Ok(result),
        Exit::Code(code) => JobFailure::new(format!("exit {code}")),
        Exit::Signal(signal) => JobFailure::new(format!("signal {signal}")),
    };
    let failure = failure.output(result);
    // The job's own tries are spent: no retry, whatever attempts the
    // queue would still allow for lost workers.
    if spec.tries != 0 && job.attempt >= spec.tries {
        return Err(failure.permanent());
    }
    Err(failure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_id_ignores_where_the_queue_is_and_how_to_wait_but_not_the_command() {
        let argv = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        let id = |words: &[&str], command: usize| default_run_id(&argv(words), command);
        let base = id(&["--queue", "postgres://a/x", "-k", "echo", ":::", "1"], 3);
        assert_eq!(
            base,
            id(
                &[
                    "--queue=postgres://b/x?sslmode=require",
                    "--queue-ca",
                    "ca.pem",
                    "-k",
                    "--wait",
                    "--resume",
                    "echo",
                    ":::",
                    "1"
                ],
                3
            )
        );
        assert_ne!(
            base,
            id(&["--queue", "postgres://a/x", "echo", ":::", "1"], 3),
            "-k counts"
        );
        assert_ne!(
            base,
            id(&["--queue", "postgres://a/x", "-k", "echo", ":::", "2"], 3)
        );
        // A command word that looks like an ignored option still counts.
        assert_ne!(
            id(&["--queue", "u", "cmd", "--wait", ":::", "1"], 4),
            id(&["--queue", "u", "cmd", ":::", "1"], 3)
        );
    }

    #[test]
    fn a_job_and_its_result_survive_the_round_trip() {
        let spec = Spec {
            seq: 42,
            tries: 3,
            command: "echo 'a b'".into(),
            timeout: Some(Duration::from_millis(1500)),
            term_seq: vec![(libc::SIGTERM, Duration::from_millis(5))],
        };
        let payload = encode_job("run1", &spec, Some(b"line 1\nline 2\n"));
        let (back, stdin) = decode_job(&payload).unwrap();
        assert_eq!((back.seq, back.command.as_str()), (42, "echo 'a b'"));
        assert_eq!(back.tries, 3);
        assert_eq!(back.timeout, Some(Duration::from_millis(1500)));
        assert_eq!(back.term_seq, spec.term_seq);
        assert_eq!(stdin.as_deref(), Some(&b"line 1\nline 2\n"[..]));
        let (_, none) = decode_job(&encode_job("r", &spec, None)).unwrap();
        assert!(none.is_none());
        assert!(decode_job(b"garbage").is_err());

        let outcome = Outcome {
            exit: Exit::Signal(9),
            timed_out: true,
            start: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            runtime: Duration::from_millis(250),
            host: "box-2".into(),
            slot: 3,
            stdout: b"out\n".to_vec(),
            stderr: b"err\nmore\n".to_vec(),
        };
        let back = decode_result(&encode_result(&outcome)).unwrap();
        assert_eq!(back.exit, Exit::Signal(9));
        assert!(back.timed_out);
        assert_eq!((back.host.as_str(), back.slot), ("box-2", 3));
        assert_eq!((back.stdout, back.stderr), (outcome.stdout, outcome.stderr));
        assert_eq!(back.runtime, Duration::from_millis(250));
        assert!(decode_result(b"{}\n").is_none());
    }
}
