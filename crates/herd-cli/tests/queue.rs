//! `herd run --queue` and `herd worker` against a real PostgreSQL server
//! each test starts on 127.0.0.1 (Debian's `postgresql`, installed by
//! `.ci/run`): workers as separate processes, one SIGKILLed or SIGSTOPped
//! mid-job, every job accounted for exactly once in the database and in
//! the waiting run's output; a run resumed after every worker stopped.

use std::io::Read;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;

#[path = "../../herd/tests/support/pg_server.rs"]
mod pg_server;

use common::eventually;
use pg_server::PgServer;

fn herd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_herd"))
}

/// One value from the database, by `psql`.
fn sql(server: &PgServer, query: &str) -> String {
    let output = Command::new("psql")
        .args([&server.url(), "-Atc", query])
        .output()
        .expect("psql (Debian's postgresql-client) is installed");
    assert!(
        output.status.success(),
        "{query}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Waits (up to 20 s) until the queue's tables exist, i.e. a worker or a
/// run has connected.
fn migrated(server: &PgServer) {
    eventually("herd's tables exist", || {
        sql(
            server,
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'herd'",
        ) == "2"
    });
}

fn worker(server: &PgServer, jobs: &str, lease: &str) -> Child {
    herd()
        .args([
            "worker",
            "--queue",
            &server.url(),
            "-j",
            jobs,
            "--lease",
            lease,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn signal(child: &Child, signal: i32) {
    // SAFETY: a signal to our own child, which has not been reaped.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
}

/// Stops a worker with SIGTERM (it finishes its running jobs) and returns
/// its closing summary line.
fn stop(mut worker: Child) -> String {
    signal(&worker, libc::SIGTERM);
    let start = Instant::now();
    while worker.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "worker did not stop"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut err = String::new();
    worker
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    err
}

fn lines(output: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(output)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn four_workers_drain_ten_thousand_jobs_while_one_is_killed_mid_job() {
    let server = PgServer::start();
    let workers: Vec<Child> = (0..4).map(|_| worker(&server, "4", "2")).collect();
    let dir = std::env::temp_dir().join(format!("herd-queue-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let joblog = dir.join("joblog");
    // Every 500th job sleeps 3 s, so a worker can be caught mid-job.
    let mut run = herd()
        .args(["run", "--queue", &server.url(), "--run-id", "big", "--wait"])
        .arg("--joblog")
        .arg(&joblog)
        .arg("case {} in *500|*000) sleep 3;; esac; echo {}")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input: String = (1..=10_000).map(|i| format!("{i}\n")).collect();
    std::io::Write::write_all(&mut run.stdin.take().unwrap(), input.as_bytes()).unwrap();
    migrated(&server);
    // Kill the worker that runs a sleeping job, once a thousand are done.
    let pids: Vec<u32> = workers.iter().map(Child::id).collect();
    let mut caught = None;
    eventually("a worker mid-job after 1,000 done", || {
        if sql(
            &server,
            "SELECT count(*) FROM herd.jobs WHERE state = 'done'",
        )
        .parse::<u64>()
        .unwrap()
            < 1000
        {
            return false;
        }
        // Owners are HOST:PID:ID; keys RUN:SEQ.
        let sleepers = sql(
            &server,
            "SELECT id || ' ' || split_part(lease_owner, ':', 2) FROM herd.jobs \
             WHERE state = 'running' AND split_part(idempotency_key, ':', 2)::int % 500 = 0",
        );
        caught = sleepers.lines().find_map(|line| {
            let (id, pid) = line.split_once(' ')?;
            let victim = pids.iter().position(|&p| p.to_string() == pid)?;
            Some((id.to_owned(), victim))
        });
        caught.is_some()
    });
    let (job, victim) = caught.unwrap();
    let mut workers: Vec<Option<Child>> = workers.into_iter().map(Some).collect();
    let mut killed = workers[victim].take().unwrap();
    signal(&killed, libc::SIGKILL);
    killed.wait().unwrap();

    let output = wait_output(run, Duration::from_secs(300));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Every job reported once, in input order.
    let expected: Vec<String> = (1..=10_000).map(|i| i.to_string()).collect();
    assert_eq!(lines(&output.stdout), expected);
    // And in the database: all done, none twice; the killed worker's jobs
    // ran again, their attempt counted.
    assert_eq!(
        sql(
            &server,
            "SELECT state, count(*) FROM herd.jobs GROUP BY state"
        ),
        "done|10000"
    );
    let rerun: u64 = sql(&server, "SELECT count(*) FROM herd.jobs WHERE attempts = 2")
        .parse()
        .unwrap();
    assert!(
        rerun >= 1,
        "the killed worker's running jobs were run again"
    );
    assert_eq!(
        sql(
            &server,
            &format!("SELECT attempts FROM herd.jobs WHERE id = {job}")
        ),
        "2",
        "the job it was running ran again, its attempt counted"
    );
    assert_eq!(
        sql(&server, "SELECT max(attempts) FROM herd.jobs"),
        "2",
        "no job ran more than twice"
    );
    let log = std::fs::read_to_string(&joblog).unwrap();
    assert_eq!(log.lines().count(), 10_001, "a header and a line a job");
    assert!(
        log.lines()
            .skip(1)
            .all(|line| line.split('\t').nth(1) != Some(":"))
    );
    for worker in workers.into_iter().flatten() {
        let summary = stop(worker);
        assert!(summary.contains("0 lost"), "{summary}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn wait_output(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        stdout.read_to_end(&mut out).unwrap();
        out
    });
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("herd run --wait did not finish in {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut stderr = Vec::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    Output {
        status: child.wait().unwrap(),
        stdout: reader.join().unwrap(),
        stderr,
    }
}

#[test]
fn a_stopped_worker_loses_its_lease_to_the_rescuer_and_its_late_result_is_refused() {
    let server = PgServer::start();
    let dir = std::env::temp_dir().join(format!("herd-stopped-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let starts = dir.join("starts");
    let first = worker(&server, "1", "1");
    let run = herd()
        .args(["run", "--queue", &server.url(), "--wait"])
        .arg(format!(
            "echo start >> {}; sleep 2; echo done {{}}",
            starts.display()
        ))
        .args([":::", "x"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    migrated(&server);
    eventually("the first worker runs the job", || {
        sql(
            &server,
            "SELECT count(*) FROM herd.jobs WHERE state = 'running'",
        ) == "1"
    });
    // Stopped: it neither heartbeats nor finishes, as a hung machine.
    signal(&first, libc::SIGSTOP);
    let second = worker(&server, "1", "1");
    let output = wait_output(run, Duration::from_secs(60));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(lines(&output.stdout), ["done x"]);
    assert_eq!(
        sql(&server, "SELECT state || ' ' || attempts FROM herd.jobs"),
        "done 2",
        "rescued and run again as attempt 2"
    );
    // Woken, the first worker's job ends, and its outcome is refused.
    signal(&first, libc::SIGCONT);
    eventually("the first worker's job ends", || {
        std::fs::read_to_string(&starts).unwrap().lines().count() == 2
    });
    std::thread::sleep(Duration::from_millis(2500));
    let summary = stop(first);
    assert!(summary.contains("1 lost"), "{summary}");
    assert!(stop(second).contains("1 done"));
    assert_eq!(
        sql(&server, "SELECT state || ' ' || attempts FROM herd.jobs"),
        "done 2"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_run_resumed_after_every_worker_stopped_runs_only_what_had_not_finished() {
    let server = PgServer::start();
    let dir = std::env::temp_dir().join(format!("herd-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ran = dir.join("ran");
    let command = format!("echo {{}} >> {}; sleep 0.05; echo {{}}", ran.display());
    let inputs: Vec<String> = (1..=100).map(|i| i.to_string()).collect();
    let run = |resume: bool| {
        let mut run = herd();
        run.args(["run", "--queue", &server.url(), "--wait"]);
        if resume {
            run.arg("--resume");
        }
        run.arg(&command)
            .arg(":::")
            .args(&inputs)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let workers = [worker(&server, "2", "30"), worker(&server, "2", "30")];
    let first = run(false);
    eventually("30 jobs ran", || {
        std::fs::read_to_string(&ran).is_ok_and(|r| r.lines().count() >= 30)
    });
    // Every worker stops (finishing what it runs), and so does the wait.
    for worker in workers {
        stop(worker);
    }
    signal(&first, libc::SIGINT);
    let interrupted = wait_output(first, Duration::from_secs(30));
    assert_eq!(interrupted.status.code(), Some(130));
    let before: Vec<String> = lines(&std::fs::read(&ran).unwrap());
    assert!(before.len() < 100, "stopped part way: {}", before.len());
    assert_eq!(
        sql(
            &server,
            "SELECT count(*) FROM herd.jobs WHERE state = 'done'"
        ),
        before.len().to_string(),
        "nothing was left half done"
    );

    // Run again without --resume: refused, nothing enqueued twice.
    let again = herd()
        .args(["run", "--queue", &server.url(), "--wait"])
        .arg(&command)
        .arg(":::")
        .args(&inputs)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(255));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--resume"));

    // The worker starts only once the resumed run has looked at the jobs
    // (it listens for their ends after that): a job a worker finished
    // before that look counts as finished before the resume and is not
    // printed, so a worker started earlier would make the count below
    // depend on timing.
    let looked_after = sql(&server, "SELECT clock_timestamp()");
    let resumed = run(true);
    eventually("the resumed run waits for its jobs", || {
        sql(
            &server,
            &format!(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE query LIKE 'LISTEN%' AND backend_start > '{looked_after}'"
            ),
        ) != "0"
    });
    let worker = worker(&server, "4", "30");
    let resumed = wait_output(resumed, Duration::from_secs(60));
    assert!(resumed.status.success());
    let printed = lines(&resumed.stdout);
    assert_eq!(printed.len(), 100 - before.len(), "only what had not run");
    let mut all: Vec<u64> = lines(&std::fs::read(&ran).unwrap())
        .iter()
        .map(|l| l.parse().unwrap())
        .collect();
    all.sort_unstable();
    assert_eq!(all, (1..=100).collect::<Vec<u64>>(), "each job ran once");
    for line in &printed {
        assert!(!before.contains(line), "{line} ran before the resume");
    }
    stop(worker);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_halt_cancels_the_rest_and_the_exit_status_is_a_local_runs() {
    let server = PgServer::start();
    let worker = worker(&server, "1", "30");
    let output = herd()
        .args([
            "run",
            "--queue",
            &server.url(),
            "--wait",
            "--halt",
            "soon,fail=1",
        ])
        .args([
            "sleep 0.3; echo {}; exit {}",
            ":::",
            "0",
            "0",
            "3",
            "0",
            "0",
            "0",
        ])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(3),
        "the failing job's exit value"
    );
    let printed = lines(&output.stdout);
    assert_eq!(&printed[..3], ["0", "0", "3"]);
    assert!(printed.len() < 6, "the rest were cancelled: {printed:?}");
    assert!(
        sql(
            &server,
            "SELECT count(*) FROM herd.jobs WHERE state = 'cancelled'"
        )
        .parse::<u64>()
        .unwrap()
            >= 1
    );
    // Without a halt, the status counts the failures.
    let output = herd()
        .args(["run", "--queue", &server.url(), "--wait", "--run-id", "two"])
        .args(["exit {}", ":::", "0", "1", "2"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    stop(worker);
}

#[test]
fn bad_queue_usage_is_refused_with_a_message() {
    let refused = herd()
        .args([
            "run",
            "--queue",
            "postgres://herd@127.0.0.1:1/x",
            "--rate",
            "5/s",
        ])
        .args(["echo", ":::", "a"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(255));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--rate is not available with --queue")
    );
    let unreachable = herd()
        .args([
            "run",
            "--queue",
            "postgres://herd@127.0.0.1:1/x",
            "echo",
            ":::",
            "a",
        ])
        .output()
        .unwrap();
    assert_eq!(unreachable.status.code(), Some(255));
    assert!(
        String::from_utf8_lossy(&unreachable.stderr).contains("connecting to PostgreSQL"),
        "{}",
        String::from_utf8_lossy(&unreachable.stderr)
    );
    let worker = herd()
        .args(["worker", "--queue", "postgres://herd@127.0.0.1:1/x"])
        .output()
        .unwrap();
    assert_eq!(worker.status.code(), Some(255));
    assert!(String::from_utf8_lossy(&worker.stderr).contains("herd worker: --queue"));
}

#[test]
fn workers_and_runs_reach_a_tls_queue_trusting_the_given_ca() {
    let server = PgServer::start_tls();
    let url = format!("{}?sslmode=require", server.url());
    let ca = server.tls_cert();
    let untrusted = herd()
        .args(["run", "--queue", &url, "echo", ":::", "a"])
        .output()
        .unwrap();
    assert_eq!(untrusted.status.code(), Some(255));
    assert!(
        String::from_utf8_lossy(&untrusted.stderr).contains("certificate"),
        "{}",
        String::from_utf8_lossy(&untrusted.stderr)
    );
    let worker = herd()
        .args(["worker", "--queue", &url, "-j", "2", "--queue-ca"])
        .arg(&ca)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let output = herd()
        .args(["run", "--queue", &url, "--wait", "--queue-ca"])
        .arg(&ca)
        .args(["echo", ":::", "a", "b", "c"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(lines(&output.stdout), ["a", "b", "c"]);
    assert!(stop(worker).contains("3 done"));
}

#[test]
fn a_queued_jobs_slot_is_the_one_it_runs_in_on_its_worker() {
    let server = PgServer::start();
    let worker = worker(&server, "3", "30");
    let output = herd()
        .args(["run", "--queue", &server.url(), "--wait", "--tag"])
        .args(["--tagstring", "slot {%}"])
        .args(["sleep 0.5; echo {%}", ":::", "a", "b", "c", "d", "e", "f"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let printed = lines(&output.stdout);
    assert_eq!(printed.len(), 6, "{printed:?}");
    let mut slots: Vec<usize> = Vec::new();
    for line in &printed {
        // The tag names the same slot the command printed.
        let (tag, slot) = line.split_once('\t').expect("tagged");
        assert_eq!(tag, format!("slot {slot}"), "{line:?}");
        slots.push(slot.parse().expect("a number, not a placeholder"));
    }
    assert!(slots.iter().all(|&s| (1..=3).contains(&s)), "{slots:?}");
    slots.sort();
    slots.dedup();
    assert!(
        slots.len() > 1,
        "three jobs at once on one worker take three slots: {slots:?}"
    );
    stop(worker);
}
