//! `herd::pool::ProcessPool` with real worker processes: this test binary is
//! its own worker (`serve_if_worker` first thing in `main`), as a user's
//! program would be. The tests run one after another, so each can check
//! that the pool leaves no child process behind.
//!
//! Processes run on the wall clock; the tests wait for outcomes, never
//! assert a duration.

use std::path::{Path, PathBuf};
use std::time::Duration;

use herd::pool::{JobError, ProcessPool, serve_if_worker};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
enum Task {
    Echo(String),
    Fail(String),
    Panic(String),
    Sleep(u64),
    Exit(i32),
    Abort,
    /// Prints to standard output (which must not reach the protocol), then
    /// answers.
    Chatty(String),
    /// Starts `sleep 1000` in the worker's process group, writes its pid to
    /// the file, then hangs.
    SpawnAndHang(PathBuf),
    Pid,
}

fn handle(task: Task) -> Result<String, String> {
    match task {
        Task::Echo(text) => Ok(text),
        Task::Fail(why) => Err(why),
        Task::Panic(why) => panic!("{why}"),
        Task::Sleep(ms) => {
            std::thread::sleep(Duration::from_millis(ms));
            Ok(format!("slept {ms} ms"))
        }
        Task::Exit(code) => std::process::exit(code),
        Task::Abort => std::process::abort(),
        Task::Chatty(text) => {
            println!("this line goes to stderr, not into a frame");
            Ok(text)
        }
        Task::SpawnAndHang(path) => {
            // Never waited for: the timeout kills it with its group.
            #[allow(clippy::zombie_processes)]
            let child = std::process::Command::new("sleep")
                .arg("1000")
                .spawn()
                .unwrap();
            std::fs::write(&path, child.id().to_string()).unwrap();
            std::thread::sleep(Duration::from_secs(1000));
            Ok("never".into())
        }
        Task::Pid => Ok(std::process::id().to_string()),
    }
}

type Pool = ProcessPool<Task, String, String>;

async fn pool(workers: usize) -> Pool {
    Pool::builder("test")
        .workers(workers)
        .build()
        .await
        .unwrap()
}

type Test = fn() -> std::pin::Pin<Box<dyn Future<Output = ()>>>;

macro_rules! tests {
    ($($name:ident),* $(,)?) => {
        &[$((stringify!($name), || Box::pin($name()))),*]
    };
}

fn main() {
    serve_if_worker("test", handle);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let tests: &[(&str, Test)] = tests![
        results_errors_and_panics_come_back,
        a_sigkilled_worker_fails_only_its_job_and_is_replaced,
        exits_and_aborts_are_crashes_with_their_status,
        a_timeout_kills_the_workers_process_group,
        workers_are_recycled_after_max_jobs,
        stdout_in_a_handler_does_not_break_the_protocol,
        a_job_the_worker_cannot_decode_fails_alone,
        shutdown_now_kills_running_jobs_and_leaves_no_children,
        dropping_the_pool_kills_and_reaps_its_workers,
        a_missing_command_is_a_clear_error,
        jobs_through_killed_workers_are_each_accounted_once,
        any_program_that_speaks_the_protocol_is_a_worker,
        a_worker_that_closes_its_pipe_but_lives_is_killed,
        a_crash_is_seen_even_if_a_grandchild_holds_the_pipe,
    ];
    let filter = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    let mut ran = 0;
    for (name, test) in tests {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        eprint!("test {name} ... ");
        runtime.block_on(test());
        assert_no_children(name);
        eprintln!("ok");
        ran += 1;
    }
    eprintln!("test result: ok. {ran} passed");
}

/// The pids of this process's children, from /proc.
fn children() -> Vec<u32> {
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces, so split after ')'.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let ppid = rest
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(me) {
            found.push(pid);
        }
    }
    found
}

fn assert_no_children(test: &str) {
    let left = children();
    assert!(
        left.is_empty(),
        "{test} left child processes behind: {left:?}"
    );
}

fn alive(pid: u32) -> bool {
    // A zombie still has a /proc entry; "Z" in its state means it is dead.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Waits (up to 10 s of wall clock) until `done` holds.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("gave up waiting: {what}");
}

async fn results_errors_and_panics_come_back() {
    let pool = pool(2).await;
    let pids = pool.pids();
    let ok = pool.submit(Task::Echo("hi".into())).await.unwrap();
    let failed = pool.submit(Task::Fail("no".into())).await.unwrap();
    let panicked = pool.submit(Task::Panic("boom".into())).await.unwrap();
    assert_eq!(ok.await, Ok("hi".into()));
    assert_eq!(failed.await, Err(JobError::Failed("no".into())));
    assert_eq!(panicked.await, Err(JobError::Panicked("boom".into())));
    assert_eq!(pool.pids(), pids, "a panic costs a job, not a worker");
    let stats = pool.shutdown(Duration::from_secs(10)).await;
    assert_eq!((stats.done, stats.failed), (1, 2));
    assert!(pool.pids().is_empty());
}

async fn a_sigkilled_worker_fails_only_its_job_and_is_replaced() {
    let pool = pool(1).await;
    let victim = pool.pids()[0];
    let job = pool.submit(Task::Sleep(60_000)).await.unwrap();
    let next = pool.submit(Task::Pid).await.unwrap();
    eventually("the job is running", || pool.stats().running == 1).await;
    // SAFETY: a plain signal to our own worker process.
    unsafe { libc::kill(victim as i32, libc::SIGKILL) };
    let Err(JobError::Crashed(crash)) = job.await else {
        panic!("the job should crash")
    };
    assert_eq!(
        (crash.pid(), crash.signal(), crash.code()),
        (Some(victim), Some(9), None)
    );
    assert!(
        crash.to_string().contains("killed by signal 9 (SIGKILL)"),
        "{crash}"
    );
    // The next job ran on a fresh worker.
    let fresh: u32 = next.await.unwrap().parse().unwrap();
    assert_ne!(fresh, victim);
    assert_eq!(pool.pids(), [fresh], "the pool kept its strength");
    let stats = pool.shutdown(Duration::from_secs(10)).await;
    assert_eq!((stats.done, stats.failed), (1, 1));
}

async fn exits_and_aborts_are_crashes_with_their_status() {
    let pool = pool(1).await;
    let exited = pool.submit(Task::Exit(3)).await.unwrap().await;
    let Err(JobError::Crashed(crash)) = exited else {
        panic!("{exited:?}")
    };
    assert_eq!((crash.code(), crash.signal()), (Some(3), None));
    let aborted = pool.submit(Task::Abort).await.unwrap().await;
    let Err(JobError::Crashed(crash)) = aborted else {
        panic!("{aborted:?}")
    };
    assert_eq!(crash.signal(), Some(libc::SIGABRT));
    assert_eq!(
        pool.submit(Task::Echo("alive".into())).await.unwrap().await,
        Ok("alive".into())
    );
    pool.shutdown(Duration::from_secs(10)).await;
}

async fn a_timeout_kills_the_workers_process_group() {
    let pool = Pool::builder("test")
        .workers(1)
        .job_timeout(Duration::from_secs(2))
        .build()
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("herd-pool-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pid_file = dir.join("grandchild.pid");
    let outcome = pool
        .submit(Task::SpawnAndHang(pid_file.clone()))
        .await
        .unwrap()
        .await;
    assert_eq!(outcome, Err(JobError::TimedOut(Duration::from_secs(2))));
    let grandchild = read_pid(&pid_file);
    // Killed with its group; reaped by init (or a subreaper), not by us.
    eventually("the grandchild dies with its group", || !alive(grandchild)).await;
    assert_eq!(
        pool.submit(Task::Echo("next".into())).await.unwrap().await,
        Ok("next".into())
    );
    pool.shutdown(Duration::from_secs(10)).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

fn read_pid(path: &Path) -> u32 {
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

async fn workers_are_recycled_after_max_jobs() {
    let pool = Pool::builder("test")
        .workers(1)
        .max_jobs_per_worker(3)
        .build()
        .await
        .unwrap();
    let mut pids = Vec::new();
    for _ in 0..7 {
        pids.push(pool.submit(Task::Pid).await.unwrap().await.unwrap());
    }
    assert_eq!(
        pids[0..3],
        [pids[0].clone(), pids[0].clone(), pids[0].clone()]
    );
    assert_eq!(
        pids[3..6],
        [pids[3].clone(), pids[3].clone(), pids[3].clone()]
    );
    assert_ne!(pids[0], pids[3]);
    assert_ne!(pids[3], pids[6]);
    pool.shutdown(Duration::from_secs(10)).await;
}

async fn stdout_in_a_handler_does_not_break_the_protocol() {
    let pool = pool(1).await;
    for n in 0..5 {
        let text = format!("reply {n}");
        assert_eq!(
            pool.submit(Task::Chatty(text.clone())).await.unwrap().await,
            Ok(text)
        );
    }
    pool.shutdown(Duration::from_secs(10)).await;
}

async fn a_job_the_worker_cannot_decode_fails_alone() {
    // The pool sends numbers; the worker expects a `Task`.
    let pool = ProcessPool::<u64, String, String>::builder("test")
        .workers(1)
        .build()
        .await
        .unwrap();
    let pids = pool.pids();
    let outcome = pool.submit(7).await.unwrap().await;
    let Err(JobError::Protocol(message)) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(message.contains("could not decode the job"), "{message}");
    assert_eq!(pool.pids(), pids, "the worker is fine and stays");
    pool.shutdown(Duration::from_secs(10)).await;
}

async fn shutdown_now_kills_running_jobs_and_leaves_no_children() {
    let pool = pool(2).await;
    let mut handles = Vec::new();
    for _ in 0..5 {
        handles.push(pool.submit(Task::Sleep(60_000)).await.unwrap());
    }
    eventually("both workers are busy", || pool.stats().running == 2).await;
    let stats = pool.shutdown_now().await;
    assert_eq!((stats.cancelled, stats.running, stats.queued), (5, 0, 0));
    for handle in handles {
        assert!(handle.await.unwrap_err().is_cancelled());
    }
    assert!(pool.pids().is_empty());
}

async fn dropping_the_pool_kills_and_reaps_its_workers() {
    let pool = pool(2).await;
    let job = pool.submit(Task::Sleep(60_000)).await.unwrap();
    eventually("the job is running", || pool.stats().running == 1).await;
    drop(pool);
    assert!(job.await.unwrap_err().is_cancelled());
    // tokio reaps the killed workers in the background.
    eventually("the workers are reaped", || children().is_empty()).await;
}

async fn a_missing_command_is_a_clear_error() {
    let command = std::process::Command::new("/nonexistent/herd-worker");
    let built = Pool::builder("test")
        .command(command)
        .workers(2)
        .build()
        .await;
    assert_eq!(built.unwrap_err().kind(), std::io::ErrorKind::NotFound);
}

/// Under fire: workers are SIGKILLed while a stream of jobs runs through
/// the pool. Every job resolves exactly once, with its own echo or as a
/// crash, and the crashes are no more than the kills.
async fn jobs_through_killed_workers_are_each_accounted_once() {
    const JOBS: usize = 2000;
    const KILLS: usize = 10;
    let pool = std::sync::Arc::new(pool(2).await);
    let producer = tokio::spawn({
        let pool = pool.clone();
        async move {
            let mut handles = Vec::new();
            for n in 0..JOBS {
                handles.push(pool.submit(Task::Echo(n.to_string())).await.unwrap());
            }
            let mut outcomes = Vec::new();
            for handle in handles {
                outcomes.push(handle.await);
            }
            outcomes
        }
    });
    let mut killed = 0;
    while killed < KILLS && !producer.is_finished() {
        if let Some(&pid) = pool.pids().get(killed % 2) {
            // SAFETY: a plain signal to our own worker process.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            killed += 1;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let outcomes = producer.await.unwrap();
    assert_eq!(outcomes.len(), JOBS);
    let mut crashed = 0;
    for (n, outcome) in outcomes.into_iter().enumerate() {
        match outcome {
            Ok(echo) => assert_eq!(echo, n.to_string()),
            Err(JobError::Crashed(crash)) => {
                assert_eq!(crash.signal(), Some(libc::SIGKILL));
                crashed += 1;
            }
            Err(other) => panic!("job {n}: {other:?}"),
        }
    }
    assert!(crashed <= killed, "{crashed} crashes from {killed} kills");
    let stats = pool.shutdown(Duration::from_secs(10)).await;
    assert_eq!((stats.done + stats.failed) as usize, JOBS);
    assert_eq!(stats.failed as usize, crashed);
}

/// The protocol is the whole contract: a worker in Perl (part of every
/// Debian base system) that answers each job `{"ok": <the job>}`.
async fn any_program_that_speaks_the_protocol_is_a_worker() {
    let echo = r#"
        binmode STDIN; binmode STDOUT; $| = 1;
        while (read(STDIN, my $header, 4) == 4) {
            my $len = unpack("N", $header);
            read(STDIN, my $job, $len) == $len or exit 1;
            my $reply = "{\"ok\":" . $job . "}";
            print pack("N", length($reply)) . $reply;
        }
    "#;
    let mut command = std::process::Command::new("perl");
    command.arg("-e").arg(echo);
    let pool = ProcessPool::<Vec<u32>, Vec<u32>, String>::builder("perl")
        .command(command)
        .workers(2)
        .build()
        .await
        .unwrap();
    for n in 0..20u32 {
        let job = vec![n, n * 2];
        assert_eq!(pool.submit(job.clone()).await.unwrap().await, Ok(job));
    }
    let stats = pool.shutdown(Duration::from_secs(10)).await;
    assert_eq!(stats.done, 20);
}

fn shell(script: &str) -> std::process::Command {
    let mut command = std::process::Command::new("sh");
    command.arg("-c").arg(script);
    command
}

async fn a_worker_that_closes_its_pipe_but_lives_is_killed() {
    let pool = Pool::builder("test")
        .command(shell("exec 1>&-; exec sleep 30"))
        .workers(1)
        .build()
        .await
        .unwrap();
    let outcome = pool.submit(Task::Pid).await.unwrap().await;
    let Err(JobError::Protocol(message)) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(message.contains("did not exit; it was killed"), "{message}");
    pool.shutdown_now().await;
}

async fn a_crash_is_seen_even_if_a_grandchild_holds_the_pipe() {
    // The worker reads a header, leaves a sleeper holding its stdout, and
    // exits with 3.
    let pool = Pool::builder("test")
        .command(shell("head -c 4 >/dev/null; sleep 30 & exit 3"))
        .workers(1)
        .build()
        .await
        .unwrap();
    let outcome = pool.submit(Task::Pid).await.unwrap().await;
    let Err(JobError::Crashed(crash)) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(crash.code(), Some(3));
    pool.shutdown_now().await;
}
