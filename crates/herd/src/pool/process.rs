//! `ProcessPool`: jobs run in worker processes that speak a small framed
//! protocol over their standard input and output, so a crash, a leak or a
//! hang costs one job and one process, never the caller. The protocol is
//! described on [`ProcessPool`].

use std::convert::Infallible;
use std::fmt;
use std::io::{self, Read, Write};
use std::marker::PhantomData;
use std::os::fd::FromRawFd;
use std::os::unix::process::ExitStatusExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::oneshot;

use super::core::{Core, Counts, Job};
use super::worker::{DEFAULT_QUEUE, default_workers};
use super::{JobError, JobHandle, Stats, SubmitError, dropped_reason, panic_message};
use crate::loom::{Mutex, lock};
use crate::task::{CancelReason, CancelToken, Policy, Scope};

/// The environment variable that turns a program into a pool worker: the
/// pool sets it to the pool's name, and [`serve_if_worker`] serves when it
/// matches.
///
/// # Examples
///
/// ```
/// // A worker command for another program: it serves the pool "resize".
/// let mut worker = std::process::Command::new("/usr/local/bin/resizer");
/// worker.env(herd::pool::WORKER_ENV, "resize");
/// assert_eq!(herd::pool::WORKER_ENV, "HERD_POOL_WORKER");
/// ```
pub const WORKER_ENV: &str = "HERD_POOL_WORKER";

/// The largest frame either side accepts: 256 MiB. A larger length means
/// a broken protocol, not a large job.
const MAX_FRAME: usize = 256 << 20;

/// How long a retiring worker may take to exit after its input closes
/// before its process group is killed.
const RETIRE_GRACE: Duration = Duration::from_secs(5);

/// A worker's answer to one job.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Reply<T, E> {
    Ok(T),
    Err(E),
    Panic(String),
    Invalid(String),
}

/// Serves pool jobs on standard input and output, then exits, if this
/// process was started as a worker of the pool named `name`; returns at once
/// otherwise. Call it first thing in `main`, so the pool can start the
/// program's own binary as its worker.
///
/// Each job is decoded as `In` and passed to `handler`; its `Ok`, its `Err`
/// and its panic each go back to the pool as that job's result, and the
/// worker goes on to the next job. A job that cannot be decoded as `In` is
/// answered as invalid. While serving, the process's standard output is
/// redirected to standard error, so a stray `println!` in a handler cannot
/// corrupt the protocol. The process exits with status 0 when the pool
/// closes its input, and 1 if the pipe breaks.
///
/// # Examples
///
/// ```rust,standalone_crate
/// # #[tokio::main]
/// # async fn main() {
/// // In the program's main, before anything else:
/// herd::pool::serve_if_worker("square", |n: u64| Ok::<_, String>(n * n));
///
/// // Not started as a worker, so it returned; the pool starts this same
/// // binary with HERD_POOL_WORKER=square.
/// let pool = herd::pool::ProcessPool::<u64, u64>::builder("square").workers(1).build().await.unwrap();
/// let job = pool.submit(12).await.unwrap();
/// assert_eq!(job.await, Ok(144));
/// # }
/// ```
pub fn serve_if_worker<In, Out, E, H>(name: &str, handler: H)
where
    In: DeserializeOwned,
    Out: Serialize,
    E: Serialize,
    H: FnMut(In) -> Result<Out, E>,
{
    match std::env::var_os(WORKER_ENV) {
        Some(value) if value == name => {}
        _ => return,
    }
    let code = match serve(handler) {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("herd pool worker \"{name}\": {error}");
            1
        }
    };
    std::process::exit(code);
}

fn serve<In, Out, E, H>(mut handler: H) -> io::Result<()>
where
    In: DeserializeOwned,
    Out: Serialize,
    E: Serialize,
    H: FnMut(In) -> Result<Out, E>,
{
    let mut output = private_stdout()?;
    let mut input = io::stdin().lock();
    while let Some(frame) = read_frame(&mut input)? {
        let reply = match serde_json::from_slice::<In>(&frame) {
            Err(error) => Reply::Invalid(format!("could not decode the job: {error}")),
            Ok(job) => match catch_unwind(AssertUnwindSafe(|| handler(job))) {
                Ok(Ok(value)) => Reply::Ok(value),
                Ok(Err(error)) => Reply::Err(error),
                Err(payload) => Reply::Panic(panic_message(payload)),
            },
        };
        let encoded = match serde_json::to_vec(&reply) {
            Ok(encoded) if encoded.len() <= MAX_FRAME => encoded,
            Ok(encoded) => invalid(format!(
                "the result encodes to {} bytes, over the frame limit of {MAX_FRAME}",
                encoded.len()
            ))?,
            Err(error) => invalid(format!("could not encode the result: {error}"))?,
        };
        output.write_all(&frame_header(encoded.len())?)?;
        output.write_all(&encoded)?;
        output.flush()?;
    }
    Ok(())
}

/// An `invalid` reply, encoded.
fn invalid(message: String) -> io::Result<Vec<u8>> {
    Ok(serde_json::to_vec(&Reply::<(), ()>::Invalid(message))?)
}

/// Takes file descriptor 1 for the protocol and points 1 at standard error.
fn private_stdout() -> io::Result<std::fs::File> {
    io::stdout().flush()?;
    // SAFETY: dup and dup2 on the process's own standard descriptors; the
    // new descriptor is owned by the File returned, and nothing else in
    // the process refers to it.
    unsafe {
        // Close-on-exec: processes the handler starts must not hold the
        // protocol pipe, or the pool could not see this worker die.
        let protocol = libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3);
        if protocol < 0 || libc::dup2(2, 1) < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(std::fs::File::from_raw_fd(protocol))
    }
}

fn frame_header(len: usize) -> io::Result<[u8; 4]> {
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a frame of {len} bytes is over the limit of {MAX_FRAME}"),
        ));
    }
    Ok((len as u32).to_be_bytes())
}

fn frame_len(header: [u8; 4]) -> io::Result<usize> {
    let len = u32::from_be_bytes(header) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a frame header announces {len} bytes, over the limit of {MAX_FRAME}"),
        ));
    }
    Ok(len)
}

/// One frame, or `None` at a clean end of input.
fn read_frame(input: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut header = [0; 4];
    match input.read_exact(&mut header) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(error),
    }
    let mut frame = vec![0; frame_len(header)?];
    input.read_exact(&mut frame)?;
    Ok(Some(frame))
}

/// How a worker process died.
///
/// # Examples
///
/// ```rust,standalone_crate
/// # #[tokio::main]
/// # async fn main() {
/// # herd::pool::serve_if_worker("crashy", |code: i32| -> Result<(), String> { std::process::exit(code) });
/// use herd::pool::{JobError, ProcessPool};
///
/// // A worker whose job calls exit(3).
/// let pool = ProcessPool::<i32, ()>::builder("crashy").workers(1).build().await.unwrap();
/// let Err(JobError::Crashed(crash)) = pool.submit(3).await.unwrap().await else { panic!() };
/// assert_eq!((crash.code(), crash.signal()), (Some(3), None));
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crash {
    pid: Option<u32>,
    code: Option<i32>,
    signal: Option<i32>,
    detail: String,
}

impl Crash {
    fn exited(pid: Option<u32>, status: ExitStatus) -> Crash {
        let detail = match (status.code(), status.signal()) {
            (_, Some(signal)) => format!("killed by signal {signal} ({})", signal_name(signal)),
            (Some(code), None) => format!("exited with status {code} in the middle of a job"),
            (None, None) => format!("ended with {status}"),
        };
        Crash {
            pid,
            code: status.code(),
            signal: status.signal(),
            detail,
        }
    }

    fn unstarted(error: &io::Error) -> Crash {
        Crash {
            pid: None,
            code: None,
            signal: None,
            detail: format!("could not be started: {error}"),
        }
    }

    /// The worker's process id, if it was started.
    ///
    /// # Examples
    ///
    /// ```rust,standalone_crate
    /// # #[tokio::main]
    /// # async fn main() {
    /// # herd::pool::serve_if_worker("pid", |code: i32| -> Result<(), String> { std::process::exit(code) });
    /// # let pool = herd::pool::ProcessPool::<i32, ()>::builder("pid").workers(1).build().await.unwrap();
    /// # let Err(herd::pool::JobError::Crashed(crash)) = pool.submit(1).await.unwrap().await else { panic!() };
    /// assert!(crash.pid().is_some());
    /// # }
    /// ```
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// The exit status, if the worker exited.
    ///
    /// # Examples
    ///
    /// ```rust,standalone_crate
    /// # #[tokio::main]
    /// # async fn main() {
    /// # herd::pool::serve_if_worker("code", |code: i32| -> Result<(), String> { std::process::exit(code) });
    /// # let pool = herd::pool::ProcessPool::<i32, ()>::builder("code").workers(1).build().await.unwrap();
    /// # let Err(herd::pool::JobError::Crashed(crash)) = pool.submit(7).await.unwrap().await else { panic!() };
    /// assert_eq!(crash.code(), Some(7));
    /// # }
    /// ```
    pub fn code(&self) -> Option<i32> {
        self.code
    }

    /// The signal that killed the worker, if one did.
    ///
    /// # Examples
    ///
    /// ```rust,standalone_crate
    /// # #[tokio::main]
    /// # async fn main() {
    /// # herd::pool::serve_if_worker("abort", |_: ()| -> Result<(), String> { std::process::abort() });
    /// # let pool = herd::pool::ProcessPool::<(), ()>::builder("abort").workers(1).build().await.unwrap();
    /// let Err(herd::pool::JobError::Crashed(crash)) = pool.submit(()).await.unwrap().await else { panic!() };
    /// assert_eq!(crash.signal(), Some(6)); // SIGABRT
    /// assert!(crash.to_string().contains("SIGABRT"));
    /// # }
    /// ```
    pub fn signal(&self) -> Option<i32> {
        self.signal
    }
}

impl fmt::Display for Crash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pid {
            Some(pid) => write!(f, "worker process {pid} {}", self.detail),
            None => write!(f, "worker process {}", self.detail),
        }
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        _ => "unnamed signal",
    }
}

/// A queued job: its input and where its result goes.
struct ProcJob<In, Out, E> {
    input: In,
    reply: oneshot::Sender<Result<Out, JobError<E>>>,
}

impl<In, Out, E> Job for ProcJob<In, Out, E>
where
    In: Send + 'static,
    Out: Send + 'static,
    E: Send + 'static,
{
    fn cancel(self, reason: CancelReason, counts: &Counts) {
        counts.settle(self.reply, Err(JobError::Cancelled(reason)), false);
    }
}

/// How to start a worker, and the pool's rules for them.
struct Spec {
    program: PathBuf,
    args: Vec<std::ffi::OsString>,
    envs: Vec<(std::ffi::OsString, Option<std::ffi::OsString>)>,
    dir: Option<PathBuf>,
    name: Arc<str>,
    max_jobs: Option<u64>,
    timeout: Option<Duration>,
}

/// One live worker process.
struct Worker {
    child: Child,
    pid: u32,
    /// Taken (closed) when the worker retires.
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    jobs: u64,
    /// Set once the process has been waited for; until then, dropping the
    /// worker kills its process group.
    reaped: bool,
}

/// What came first while a job ran: its reply, or its worker's exit.
enum Step {
    Replied(io::Result<Vec<u8>>),
    Exited(io::Result<ExitStatus>),
}

/// How long a worker whose pipe closed has to exit before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// Why a job did not get a reply from its worker; the worker is gone.
enum Fault {
    TimedOut(Duration),
    Cancelled(CancelReason),
    Died(Crash),
    Protocol(String),
}

impl Spec {
    fn start(&self) -> io::Result<Worker> {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .env(WORKER_ENV, &*self.name)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            // Its own process group, so a timeout kills what it started too.
            .process_group(0);
        for (key, value) in &self.envs {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        let mut child = command.spawn()?;
        let pid = child
            .id()
            .expect("a child just spawned has not been reaped");
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        Ok(Worker {
            child,
            pid,
            stdin: Some(stdin),
            stdout,
            jobs: 0,
            reaped: false,
        })
    }
}

impl Worker {
    /// Sends one job and waits for its reply, its timeout, or the pool's
    /// cancellation. On any fault the worker is killed and reaped.
    async fn run(
        &mut self,
        input: &[u8],
        timeout: Option<Duration>,
        token: &CancelToken,
    ) -> Result<Vec<u8>, Fault> {
        self.jobs += 1;
        let raced_outcome = {
            let Worker {
                child,
                stdin,
                stdout,
                ..
            } = &mut *self;
            let exchange = std::pin::pin!(async {
                let mut frame = Vec::with_capacity(4 + input.len());
                frame.extend_from_slice(&frame_header(input.len())?);
                frame.extend_from_slice(input);
                let stdin = stdin.as_mut().expect("a working worker has its input open");
                stdin.write_all(&frame).await?;
                stdin.flush().await?;
                let mut header = [0; 4];
                stdout.read_exact(&mut header).await?;
                let mut reply = vec![0; frame_len(header)?];
                stdout.read_exact(&mut reply).await?;
                Ok::<_, io::Error>(reply)
            });
            // The worker's exit is watched too, not only its pipe: a process it
            // started may hold the pipe open after the worker itself died.
            let exited = std::pin::pin!(child.wait());
            let (mut exchange, mut exited) = (exchange, exited);
            let raced = std::future::poll_fn(|cx| {
                if let Poll::Ready(replied) = exchange.as_mut().poll(cx) {
                    return Poll::Ready(Step::Replied(replied));
                }
                exited.as_mut().poll(cx).map(Step::Exited)
            });
            let limited = async {
                match timeout {
                    Some(limit) => tokio::time::timeout(limit, raced)
                        .await
                        .map_err(|_| Fault::TimedOut(limit)),
                    None => Ok(raced.await),
                }
            };
            token.run_until_cancelled(limited).await
        };
        let step = match raced_outcome {
            Ok(Ok(step)) => step,
            Ok(Err(fault)) => {
                self.kill().await;
                return Err(fault);
            }
            Err(reason) => {
                self.kill().await;
                return Err(Fault::Cancelled(reason));
            }
        };
        let status = match step {
            Step::Replied(Ok(reply)) => return Ok(reply),
            Step::Replied(Err(error)) if error.kind() == io::ErrorKind::InvalidData => {
                self.kill().await;
                return Err(Fault::Protocol(format!(
                    "worker process {}: {error}",
                    self.pid
                )));
            }
            // The pipe closed or broke: the worker is dying, or closed its
            // pipes and lives on; it gets a moment, then its group is killed.
            Step::Replied(Err(_)) => match tokio::time::timeout(EXIT_GRACE, self.reap()).await {
                Ok(status) => status,
                Err(_) => {
                    self.kill().await;
                    return Err(Fault::Protocol(format!(
                        "worker process {} closed its pipe but did not exit; it was killed",
                        self.pid
                    )));
                }
            },
            Step::Exited(status) => {
                self.reaped = status.is_ok();
                // What it started may live on in its group.
                self.kill_group_members();
                status
            }
        };
        Err(match status {
            Ok(status) if !status.success() => Fault::Died(Crash::exited(Some(self.pid), status)),
            Ok(status) => Fault::Died(Crash {
                pid: Some(self.pid),
                code: status.code(),
                signal: None,
                detail: "exited with status 0 in the middle of a job".into(),
            }),
            Err(error) => Fault::Died(Crash {
                pid: Some(self.pid),
                code: None,
                signal: None,
                detail: format!("could not be waited for: {error}"),
            }),
        })
    }

    /// Kills the worker's process group and reaps the worker.
    async fn kill(&mut self) {
        self.kill_group();
        let _ = self.reap().await;
    }

    /// Kills what is left of a reaped worker's process group (the group
    /// id outlives its leader while members remain).
    fn kill_group_members(&self) {
        // SAFETY: plain system call. The group was the worker's own; with
        // the leader reaped the id could only be reused once the group is
        // empty, and then there is nothing to signal.
        unsafe {
            libc::kill(-(self.pid as libc::pid_t), libc::SIGKILL);
        }
    }

    fn kill_group(&self) {
        if !self.reaped {
            // SAFETY: plain system call; the group id is the unreaped
            // worker's pid, which cannot have been reused.
            unsafe {
                libc::kill(-(self.pid as libc::pid_t), libc::SIGKILL);
            }
        }
    }

    async fn reap(&mut self) -> io::Result<ExitStatus> {
        let status = self.child.wait().await;
        self.reaped = status.is_ok();
        status
    }

    /// Closes the worker's input, so it exits; kills its group if it has
    /// not exited within the grace period.
    async fn retire(mut self) {
        drop(self.stdin.take());
        if tokio::time::timeout(RETIRE_GRACE, self.reap())
            .await
            .is_err()
        {
            self.kill().await;
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Dropped unreaped (the pool was dropped mid-job): kill the group;
        // tokio reaps the child in the background (`kill_on_drop`).
        self.kill_group();
    }
}

/// Jobs in worker processes, for crash isolation: a worker that exits,
/// is killed or breaks the protocol fails only the job it was running, with
/// a [`Crash`] naming the exit status or signal, and is replaced at once, so
/// the pool keeps its strength.
///
/// Jobs and results cross the process boundary as JSON (see the module's
/// protocol); `In` is the job's input, `Out` its output and `E` its error,
/// as the worker's handler defines them. The worker is, by default, this
/// program's own binary started with [`WORKER_ENV`] set to the pool's name,
/// where [`serve_if_worker`] serves the jobs; any
/// [command](ProcessPoolBuilder::command) that speaks the protocol works.
///
/// Workers are started when the pool is built and kept warm; each is in a
/// process group of its own. A [job timeout](ProcessPoolBuilder::job_timeout)
/// kills the worker's whole group (so what the job started dies too) and
/// starts a fresh worker; [recycling](ProcessPoolBuilder::max_jobs_per_worker)
/// replaces a worker after a number of jobs, to bound leaks. Every worker
/// process is waited for: the pool leaves no zombies, and shutting it down
/// leaves no children.
///
/// # The protocol
///
/// Every message is a frame: a 4-byte big-endian length, then that many
/// bytes of JSON (at most 256 MiB). The pool writes one job frame to the
/// worker's standard input, the JSON of the job's input; the worker
/// answers with one reply frame on its standard output, one of
/// `{"ok": <output>}`, `{"err": <error>}`, `{"panic": "<message>"}` or
/// `{"invalid": "<why the job could not be decoded or its result
/// encoded>"}`, and then reads the next job. End of input means "exit now".
/// Anything the worker writes to standard error passes through to the
/// pool's standard error. [`serve_if_worker`] is the worker side in Rust;
/// any program that follows these rules can be a worker.
///
/// # Examples
///
/// ```rust,standalone_crate
/// # #[tokio::main]
/// # async fn main() {
/// use herd::pool::{JobError, ProcessPool};
///
/// herd::pool::serve_if_worker("parse", |text: String| text.trim().parse::<i64>().map_err(|e| e.to_string()));
///
/// let pool = ProcessPool::<String, i64>::builder("parse").workers(2).build().await.unwrap();
/// let good = pool.submit(" 42 ".to_string()).await.unwrap();
/// let bad = pool.submit("forty".to_string()).await.unwrap();
/// assert_eq!(good.await, Ok(42));
/// assert!(matches!(bad.await, Err(JobError::Failed(message)) if message.contains("invalid digit")));
/// pool.shutdown(std::time::Duration::from_secs(5)).await;
/// # }
/// ```
pub struct ProcessPool<In, Out, E = String>
where
    In: Send + 'static,
    Out: Send + 'static,
    E: Send + 'static,
{
    core: Arc<Core<ProcJob<In, Out, E>>>,
    pids: Arc<Mutex<Vec<Option<u32>>>>,
    /// The tasks that tend the workers; dropping the scope aborts them,
    /// which kills their processes.
    _tenders: Scope<(), Infallible>,
    types: PhantomData<fn(In) -> (Out, E)>,
}

/// Configures a [`ProcessPool`]; made by [`ProcessPool::builder`].
///
/// # Examples
///
/// ```rust,standalone_crate
/// # #[tokio::main]
/// # async fn main() {
/// # herd::pool::serve_if_worker("resize", |n: u32| Ok::<_, String>(n / 2));
/// use std::time::Duration;
///
/// let pool = herd::pool::ProcessPool::<u32, u32>::builder("resize")
///     .workers(2)
///     .queue(64)
///     .job_timeout(Duration::from_secs(30))
///     .max_jobs_per_worker(1000)
///     .build()
///     .await
///     .unwrap();
/// assert_eq!(pool.pids().len(), 2);
/// # }
/// ```
pub struct ProcessPoolBuilder<In, Out, E = String> {
    name: Arc<str>,
    command: Option<std::process::Command>,
    workers: usize,
    queue: usize,
    max_jobs: Option<u64>,
    timeout: Option<Duration>,
    parent: Option<CancelToken>,
    types: PhantomData<fn(In) -> (Out, E)>,
}

impl<In, Out, E> fmt::Debug for ProcessPoolBuilder<In, Out, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessPoolBuilder")
            .field("name", &self.name)
            .field("command", &self.command)
            .field("workers", &self.workers)
            .field("queue", &self.queue)
            .field("max_jobs", &self.max_jobs)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<In, Out, E> ProcessPoolBuilder<In, Out, E>
where
    In: Serialize + Send + 'static,
    Out: DeserializeOwned + Send + 'static,
    E: DeserializeOwned + Send + 'static,
{
    /// The worker command, instead of this program's own binary. The pool
    /// adds [`WORKER_ENV`] (set to the pool's name) to its environment and
    /// pipes its standard input and output; its arguments, environment and
    /// directory are kept.
    ///
    /// # Examples
    ///
    /// ```rust,standalone_crate
    /// # #[tokio::main]
    /// # async fn main() {
    /// # herd::pool::serve_if_worker("echo", |s: String| Ok::<_, String>(s));
    /// let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    /// command.env("RUST_LOG", "info");
    /// let pool = herd::pool::ProcessPool::<String, String>::builder("echo")
    ///     .command(command)
    ///     .workers(1)
    ///     .build()
    ///     .await
    ///     .unwrap();
    /// assert_eq!(pool.submit("hi".into()).await.unwrap().await, Ok("hi".into()));
    /// # }
    /// ```
    pub fn command(mut self, command: std::process::Command) -> Self {
        self.command = Some(command);
        self
    }

    /// How many worker processes. Default: the number of cores.
    ///
    /// # Examples
    ///
    /// ```rust,standalone_crate
    /// # #[tokio::main]
    /// # async fn main() {
    /// # herd::pool::serve_if_worker("three", |n: u8| Ok::<_, String>(n));
    /// let pool = herd::pool::ProcessPool::<u8, u8>::builder("three").workers(3).build().await.unwrap();
    /// assert_eq!(pool.stats().workers, 3);
    /// # }
    /// ```
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// How many jobs may wait in the queue. Default: 1024.
    ///
    /// # Examples
    ///
    /// ```rust,standalone_crate
    /// # #[tokio::main]
    /// # async fn main() {
    /// # herd::pool::serve_if_worker("q", |n: u8| Ok::<_, String>(n));
    /// let pool = herd::pool::ProcessPool::<u8, u8>::builder("q").workers(1).queue(5).build().await.unwrap();
    /// assert_eq!(pool.capacity(), 5);
    /// # }
    /// ```
    pub fn queue(mut self, capacity: usize) -> Self {
        self.queue = capacity;
        self
    }

    /// Replaces each worker after it has run `jobs` jobs, to bound what a
    /// leaky job can accumulate. Default: never.
    ///
    /// # Examples
    ///
    /// ```rust,standalone_crate
    /// # #[tokio::main]
    /// # async fn main() {
    /// herd::pool::serve_if_worker("whoami", |_: ()| Ok::<_, String>(std::process::id()));
    /// let pool = herd::pool::ProcessPool::<(), u32>::builder("whoami")
    ///     .workers(1)
    ///     .max_jobs_per_worker(2)
    ///     .build()
    ///     .await
    ///     .unwrap();
    /// let mut pids = Vec::new();
    /// for _ in 0..4 {
    ///     pids.push(pool.submit(()).await.unwrap().await.unwrap());
    /// }
    /// assert_eq!(pids[0], pids[1]);
    /// assert_ne!(pids[1], pids[2], "recycled after two jobs");
    /// assert_eq!(pids[2], pids[3]);
    /// # }
    /// ```
    pub fn max_jobs_per_worker(mut self, jobs: u64) -> Self {
        assert!(
            jobs > 0,
            "max_jobs_per_worker: a worker must be allowed at least one job, got 0"
        );
        self.max_jobs = Some(jobs);
        self
    }

    /// Limits each job's running time; a job over it fails with
    /// [`JobError::TimedOut`], and its worker's process group is killed and
    /// replaced. The time counts from when the job reaches a worker, not
    /// from when it was queued. Default: none.
    ///
    /// # Examples
    ///
    /// ```rust,standalone_crate
    /// # #[tokio::main]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use herd::pool::JobError;
    ///
    /// herd::pool::serve_if_worker("nap", |ms: u64| {
    ///     std::thread::sleep(Duration::from_millis(ms));
    ///     Ok::<_, String>(ms)
    /// });
    /// let pool = herd::pool::ProcessPool::<u64, u64>::builder("nap")
    ///     .workers(1)
    ///     .job_timeout(Duration::from_secs(1))
    ///     .build()
    ///     .await
    ///     .unwrap();
    /// let slow = pool.submit(60_000).await.unwrap();
    /// assert_eq!(slow.await, Err(JobError::TimedOut(Duration::from_secs(1))));
    /// let quick = pool.submit(0).await.unwrap();
    /// assert_eq!(quick.await, Ok(0), "a fresh worker took over");
    /// # }
    /// ```
    pub fn job_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Ties the pool to a parent token: when it is cancelled, running jobs
    /// are stopped (their workers' groups killed) and queued ones resolve as
    /// cancelled.
    ///
    /// # Examples
    ///
    /// ```rust,standalone_crate
    /// # #[tokio::main]
    /// # async fn main() {
    /// # herd::pool::serve_if_worker("p", |n: u8| Ok::<_, String>(n));
    /// let app = herd::task::CancelToken::new();
    /// let pool = herd::pool::ProcessPool::<u8, u8>::builder("p").workers(1).parent(&app).build().await.unwrap();
    /// app.cancel("stop");
    /// assert!(pool.token().is_cancelled());
    /// # }
    /// ```
    pub fn parent(mut self, parent: &CancelToken) -> Self {
        self.parent = Some(parent.clone());
        self
    }

    /// Starts the worker processes and waits until each has been started.
    ///
    /// # Errors
    ///
    /// The error of starting the first worker that could not be started
    /// (for example, the command does not exist); the ones already started
    /// are killed and reaped.
    ///
    /// # Panics
    ///
    /// If the worker count or the queue capacity is zero, or outside a
    /// tokio runtime.
    ///
    /// # Examples
    ///
    /// ```rust,standalone_crate
    /// # #[tokio::main]
    /// # async fn main() {
    /// let missing = std::process::Command::new("/nonexistent/worker");
    /// let built = herd::pool::ProcessPool::<u8, u8>::builder("x").command(missing).build().await;
    /// assert_eq!(built.unwrap_err().kind(), std::io::ErrorKind::NotFound);
    /// # }
    /// ```
    pub async fn build(self) -> io::Result<ProcessPool<In, Out, E>> {
        let command = match self.command {
            Some(command) => command,
            None => std::process::Command::new(std::env::current_exe()?),
        };
        let spec = Arc::new(Spec {
            program: command.get_program().into(),
            args: command.get_args().map(Into::into).collect(),
            envs: command
                .get_envs()
                .map(|(key, value)| (key.into(), value.map(Into::into)))
                .collect(),
            dir: command.get_current_dir().map(Into::into),
            name: self.name.clone(),
            max_jobs: self.max_jobs,
            timeout: self.timeout,
        });
        // Checks the counts before any process starts.
        let token = self
            .parent
            .as_ref()
            .map_or_else(CancelToken::new, CancelToken::child);
        let core = Core::new(
            "ProcessPool",
            Some(self.name.clone()),
            self.workers,
            self.queue,
            token,
        );
        let mut started = Vec::with_capacity(self.workers);
        for _ in 0..self.workers {
            match spec.start() {
                Ok(worker) => started.push(worker),
                Err(error) => {
                    for worker in started {
                        worker.retire().await;
                    }
                    return Err(error);
                }
            }
        }
        let pids = Arc::new(Mutex::new(
            started.iter().map(|w| Some(w.pid)).collect::<Vec<_>>(),
        ));
        // Supervised: one tender's end never cancels the others.
        let tenders = Scope::<(), Infallible>::builder()
            .name(self.name)
            .policy(Policy::Supervise)
            .build();
        for (slot, worker) in started.into_iter().enumerate() {
            let tending = Tender {
                core: core.clone(),
                spec: spec.clone(),
                pids: pids.clone(),
                slot,
            };
            let enlisted = core.enlist();
            let spawned = tenders.try_spawn_named(format!("worker {slot}"), async move {
                let _enlisted = enlisted;
                tending.tend(worker).await;
                Ok(())
            });
            spawned.expect("a new scope without a limit takes every child");
        }
        Ok(ProcessPool {
            core,
            pids,
            _tenders: tenders,
            types: PhantomData,
        })
    }
}

/// A reply, decoded; a panicking `Deserialize` is a decoding error too.
fn decode<Out: DeserializeOwned, E: DeserializeOwned>(
    reply: &[u8],
) -> Result<Reply<Out, E>, String> {
    match catch_unwind(AssertUnwindSafe(|| serde_json::from_slice(reply))) {
        Ok(decoded) => decoded.map_err(|error| error.to_string()),
        Err(payload) => Err(format!("decoding panicked: {}", panic_message(payload))),
    }
}

/// The task that keeps one worker slot filled and feeds it jobs.
struct Tender<In, Out, E> {
    core: Arc<Core<ProcJob<In, Out, E>>>,
    spec: Arc<Spec>,
    pids: Arc<Mutex<Vec<Option<u32>>>>,
    slot: usize,
}

impl<In, Out, E> Tender<In, Out, E>
where
    In: Serialize + Send + 'static,
    Out: DeserializeOwned + Send + 'static,
    E: DeserializeOwned + Send + 'static,
{
    async fn tend(&self, first: Worker) {
        let mut worker = Some(first);
        while let Some(job) = self.core.next().await {
            let ProcJob { input, reply } = job;
            let encoded = catch_unwind(AssertUnwindSafe(|| serde_json::to_vec(&input)));
            let outcome = match encoded.unwrap_or_else(|payload| {
                Err(serde::ser::Error::custom(format!(
                    "encoding panicked: {}",
                    panic_message(payload)
                )))
            }) {
                Err(error) => Err(JobError::Protocol(format!(
                    "could not encode the job: {error}"
                ))),
                // Refused before it reaches (and would break) a healthy worker.
                Ok(input) if input.len() > MAX_FRAME => Err(JobError::Protocol(format!(
                    "the job encodes to {} bytes, over the frame limit of {MAX_FRAME}",
                    input.len()
                ))),
                Ok(input) => match self.fill(&mut worker) {
                    Err(error) => Err(JobError::Crashed(Crash::unstarted(&error))),
                    Ok(()) => self.exchange(&mut worker, &input).await,
                },
            };
            self.core.counts.settle(reply, outcome, true);
            self.replenish(&mut worker).await;
        }
        if let Some(worker) = worker.take() {
            self.note(None);
            worker.retire().await;
        }
    }

    /// Starts a worker in the slot if it is empty.
    fn fill(&self, slot: &mut Option<Worker>) -> io::Result<()> {
        if slot.is_none() {
            let fresh = self.spec.start()?;
            self.note(Some(fresh.pid));
            *slot = Some(fresh);
        }
        Ok(())
    }

    /// Runs one encoded job on the slot's worker; a fault empties the slot.
    async fn exchange(&self, slot: &mut Option<Worker>, input: &[u8]) -> Result<Out, JobError<E>> {
        let worker = slot.as_mut().expect("the slot has a worker");
        match worker.run(input, self.spec.timeout, &self.core.token).await {
            Ok(reply) => match decode::<Out, E>(&reply) {
                Ok(Reply::Ok(value)) => Ok(value),
                Ok(Reply::Err(error)) => Err(JobError::Failed(error)),
                Ok(Reply::Panic(message)) => Err(JobError::Panicked(message)),
                Ok(Reply::Invalid(message)) => Err(JobError::Protocol(format!(
                    "worker process {}: {message}",
                    worker.pid
                ))),
                Err(error) => Err(JobError::Protocol(format!(
                    "could not decode the reply of worker process {}: {error}",
                    worker.pid
                ))),
            },
            Err(fault) => {
                *slot = None;
                self.note(None);
                Err(match fault {
                    Fault::TimedOut(limit) => JobError::TimedOut(limit),
                    Fault::Cancelled(reason) => JobError::Cancelled(reason),
                    Fault::Died(crash) => JobError::Crashed(crash),
                    Fault::Protocol(message) => JobError::Protocol(message),
                })
            }
        }
    }

    /// Keeps the slot warm: retires a worker that has done its share and
    /// starts a fresh one where the slot is empty (unless the pool is
    /// stopping).
    async fn replenish(&self, slot: &mut Option<Worker>) {
        let spent =
            matches!((slot.as_ref(), self.spec.max_jobs), (Some(w), Some(max)) if w.jobs >= max);
        if spent {
            self.note(None);
            slot.take().expect("a spent worker").retire().await;
        }
        if !self.core.token.is_cancelled() {
            // A failure to start is reported to the next job, which retries.
            let _ = self.fill(slot);
        }
    }

    fn note(&self, pid: Option<u32>) {
        lock(&self.pids)[self.slot] = pid;
    }
}

impl<In, Out, E> ProcessPool<In, Out, E>
where
    In: Serialize + Send + 'static,
    Out: DeserializeOwned + Send + 'static,
    E: DeserializeOwned + Send + 'static,
{
    /// A builder for a pool named `name`: the name selects the worker in
    /// [`serve_if_worker`] and names the pool in errors and diagnostics.
    ///
    /// # Examples
    ///
    /// ```rust,standalone_crate
    /// # #[tokio::main]
    /// # async fn main() {
    /// # herd::pool::serve_if_worker("named", |n: u8| Ok::<_, String>(n));
    /// let pool = herd::pool::ProcessPool::<u8, u8>::builder("named").workers(1).build().await.unwrap();
    /// assert_eq!(pool.name(), "named");
    /// # }
    /// ```
    pub fn builder(name: impl Into<Arc<str>>) -> ProcessPoolBuilder<In, Out, E> {
        ProcessPoolBuilder {
            name: name.into(),
            command: None,
            workers: default_workers(),
            queue: DEFAULT_QUEUE,
            max_jobs: None,
            timeout: None,
            parent: None,
            types: PhantomData,
        }
    }

    /// Queues a job, waiting while the queue is full. Priority 0.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future before it finishes drops the job
    /// without running it.
    ///
    /// # Examples
    ///
    /// ```rust,standalone_crate
    /// # #[tokio::main]
    /// # async fn main() {
    /// # herd::pool::serve_if_worker("len", |s: String| Ok::<_, String>(s.len()));
    /// let pool = herd::pool::ProcessPool::<String, usize>::builder("len").workers(1).build().await.unwrap();
    /// assert_eq!(pool.submit("four".into()).await.unwrap().await, Ok(4));
    /// # }
    /// ```
    pub async fn submit(&self, input: In) -> Result<JobHandle<Out, E>, SubmitError<In>> {
        self.submit_with(0, input).await
    }

    /// As [`submit`](ProcessPool::submit), with a priority: a greater one
    /// runs first; equal ones in the order they were submitted.
    ///
    /// # Examples
    ///
    /// ```rust,standalone_crate
    /// # #[tokio::main]
    /// # async fn main() {
    /// # herd::pool::serve_if_worker("prio", |n: i32| Ok::<_, String>(n));
    /// let pool = herd::pool::ProcessPool::<i32, i32>::builder("prio").workers(1).build().await.unwrap();
    /// assert_eq!(pool.submit_with(10, 10).await.unwrap().await, Ok(10));
    /// # }
    /// ```
    pub async fn submit_with(
        &self,
        priority: i32,
        input: In,
    ) -> Result<JobHandle<Out, E>, SubmitError<In>> {
        let (job, handle) = self.wrap(input);
        let submitted = self.core.submit(priority, job).await;
        submitted
            .map(|()| handle)
            .map_err(|refused| refused.map(|job| job.input))
    }

    /// Queues a job if there is room now; otherwise hands it back in
    /// [`SubmitError::Full`].
    ///
    /// # Examples
    ///
    /// ```rust,standalone_crate
    /// # #[tokio::main]
    /// # async fn main() {
    /// # herd::pool::serve_if_worker("try", |n: u8| Ok::<_, String>(n));
    /// let pool = herd::pool::ProcessPool::<u8, u8>::builder("try").workers(1).build().await.unwrap();
    /// assert_eq!(pool.try_submit(5).unwrap().await, Ok(5));
    /// # }
    /// ```
    pub fn try_submit(&self, input: In) -> Result<JobHandle<Out, E>, SubmitError<In>> {
        let (job, handle) = self.wrap(input);
        let submitted = self.core.try_submit(0, job);
        submitted
            .map(|()| handle)
            .map_err(|refused| refused.map(|job| job.input))
    }

    fn wrap(&self, input: In) -> (ProcJob<In, Out, E>, JobHandle<Out, E>) {
        let (reply, result) = oneshot::channel();
        let handle = JobHandle {
            result,
            pool: self.core.name.clone(),
        };
        (ProcJob { input, reply }, handle)
    }

    /// Stops taking jobs, lets queued and running ones finish for up to
    /// `grace`, then cancels the rest (killing their workers); every worker
    /// process has exited and been reaped when it returns.
    ///
    /// # Examples
    ///
    /// ```rust,standalone_crate
    /// # #[tokio::main]
    /// # async fn main() {
    /// # herd::pool::serve_if_worker("sd", |n: u8| Ok::<_, String>(n));
    /// let pool = herd::pool::ProcessPool::<u8, u8>::builder("sd").workers(2).build().await.unwrap();
    /// let job = pool.submit(1).await.unwrap();
    /// let stats = pool.shutdown(std::time::Duration::from_secs(5)).await;
    /// assert_eq!(job.await, Ok(1));
    /// assert_eq!(stats.done, 1);
    /// assert!(pool.pids().is_empty());
    /// # }
    /// ```
    pub async fn shutdown(&self, grace: Duration) -> Stats {
        self.core.shutdown(grace).await
    }

    /// Stops at once: queued jobs resolve as cancelled; running jobs'
    /// workers are killed (their whole process groups) and reaped.
    ///
    /// # Examples
    ///
    /// ```rust,standalone_crate
    /// # #[tokio::main]
    /// # async fn main() {
    /// # herd::pool::serve_if_worker("sn", |n: u8| Ok::<_, String>(n));
    /// let pool = herd::pool::ProcessPool::<u8, u8>::builder("sn").workers(1).build().await.unwrap();
    /// pool.shutdown_now().await;
    /// assert!(pool.pids().is_empty());
    /// assert!(pool.try_submit(1).is_err());
    /// # }
    /// ```
    pub async fn shutdown_now(&self) -> Stats {
        self.core.shutdown_now().await
    }

    /// The counters now.
    ///
    /// # Examples
    ///
    /// ```rust,standalone_crate
    /// # #[tokio::main]
    /// # async fn main() {
    /// # herd::pool::serve_if_worker("st", |n: u8| if n > 0 { Ok(n) } else { Err("zero".to_string()) });
    /// let pool = herd::pool::ProcessPool::<u8, u8>::builder("st").workers(1).build().await.unwrap();
    /// pool.submit(0).await.unwrap().await.unwrap_err();
    /// assert_eq!(pool.stats().failed, 1);
    /// # }
    /// ```
    pub fn stats(&self) -> Stats {
        self.core.stats()
    }

    /// How many jobs the queue holds at most.
    ///
    /// # Examples
    ///
    /// ```rust,standalone_crate
    /// # #[tokio::main]
    /// # async fn main() {
    /// # herd::pool::serve_if_worker("cap", |n: u8| Ok::<_, String>(n));
    /// let pool = herd::pool::ProcessPool::<u8, u8>::builder("cap").workers(1).build().await.unwrap();
    /// assert_eq!(pool.capacity(), 1024);
    /// # }
    /// ```
    pub fn capacity(&self) -> usize {
        self.core.capacity()
    }

    /// The pool's name, which selects its worker in [`serve_if_worker`].
    ///
    /// # Examples
    ///
    /// ```rust,standalone_crate
    /// # #[tokio::main]
    /// # async fn main() {
    /// # herd::pool::serve_if_worker("nm", |n: u8| Ok::<_, String>(n));
    /// let pool = herd::pool::ProcessPool::<u8, u8>::builder("nm").workers(1).build().await.unwrap();
    /// assert_eq!(pool.name(), "nm");
    /// # }
    /// ```
    pub fn name(&self) -> &str {
        self.core
            .name
            .as_deref()
            .expect("a process pool always has a name")
    }

    /// The process ids of the live workers, for monitoring (and for
    /// sending them signals).
    ///
    /// # Examples
    ///
    /// ```rust,standalone_crate
    /// # #[tokio::main]
    /// # async fn main() {
    /// # herd::pool::serve_if_worker("ids", |n: u8| Ok::<_, String>(n));
    /// let pool = herd::pool::ProcessPool::<u8, u8>::builder("ids").workers(2).build().await.unwrap();
    /// let pids = pool.pids();
    /// assert_eq!(pids.len(), 2);
    /// assert_ne!(pids[0], pids[1]);
    /// # }
    /// ```
    pub fn pids(&self) -> Vec<u32> {
        lock(&self.pids).iter().flatten().copied().collect()
    }

    /// The pool's cancel token: cancelled by `shutdown_now`, by a shutdown
    /// whose grace ran out, by the parent token, or when the pool is dropped.
    ///
    /// # Examples
    ///
    /// ```rust,standalone_crate
    /// # #[tokio::main]
    /// # async fn main() {
    /// # herd::pool::serve_if_worker("tok", |n: u8| Ok::<_, String>(n));
    /// let pool = herd::pool::ProcessPool::<u8, u8>::builder("tok").workers(1).build().await.unwrap();
    /// assert!(!pool.token().is_cancelled());
    /// # }
    /// ```
    pub fn token(&self) -> &CancelToken {
        &self.core.token
    }
}

impl<In, Out, E> Drop for ProcessPool<In, Out, E>
where
    In: Send + 'static,
    Out: Send + 'static,
    E: Send + 'static,
{
    fn drop(&mut self) {
        // Queued jobs resolve as cancelled; the tenders are aborted with the
        // scope, and each worker they held kills its process group.
        self.core.cancel(dropped_reason(self.core.name.as_deref()));
    }
}

impl<In, Out, E> fmt::Debug for ProcessPool<In, Out, E>
where
    In: Send + 'static,
    Out: Send + 'static,
    E: Send + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessPool")
            .field("name", &self.core.name)
            .field("pids", &*lock(&self.pids))
            .field("stats", &self.core.stats())
            .finish()
    }
}
