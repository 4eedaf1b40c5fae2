//! `herd run`: GNU parallel's command line, on herd's bounded map, rate
//! limiter and process groups.

pub(crate) mod input;
mod pipe;
pub(crate) mod queue;
mod template;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use clap::Args;
use futures_util::stream::{BoxStream, StreamExt};
use herd::limit::{Quota, RateLimiter};
use herd::resilience::{Failure, Retry, RetryError};
use tokio::io::AsyncReadExt;

use input::{Records, Source};
use template::Template;

/// The exit status of a usage error, as GNU parallel's.
pub const USAGE: i32 = 255;

/// GNU parallel options herd does not have yet, refused by name rather than
/// ignored.
const UNSUPPORTED: &[&str] = &[
    "--pipepart",
    "--round-robin",
    "--cat",
    "--fifo",
    "--regexp",
    "-S",
    "--sshlogin",
    "--slf",
    "--sshloginfile",
    "--sql",
    "--sqlmaster",
    "--sqlworker",
    "--tmux",
    "--tmuxpane",
    "--onall",
    "--nonall",
    "--transfer",
    "--return",
    "--cleanup",
];

const EXAMPLES: &str = "Examples:
  herd run echo ::: a b c                 # one job per argument
  herd run -j 4 gzip ::: *.log            # at most 4 at once
  seq 10 | herd run -k 'echo {}; sleep 0.{}'  # output in input order
  herd run --dry-run mv {} {.}.txt ::: a.md b.md
  herd run --rate 5/s curl -sO ::: $(cat urls)";

/// Runs a command for each input, many at once, as GNU parallel does.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES, disable_help_flag = false)]
pub struct RunArgs {
    /// Jobs at once: N, N% of the cores, +N or -N relative to the cores,
    /// 0 for as many as possible. Default: the number of cores.
    #[arg(
        short = 'j',
        long = "jobs",
        visible_alias = "max-procs",
        short_alias = 'P',
        value_name = "N",
        allow_hyphen_values = true
    )]
    jobs: Option<String>,
    /// Print each job's output in input order (a job's output waits for
    /// the jobs before it).
    #[arg(short = 'k', long = "keep-order")]
    keep_order: bool,
    /// Do not group output: jobs write straight to the terminal, lines of
    /// different jobs may mix.
    #[arg(short = 'u', long = "ungroup")]
    ungroup: bool,
    /// Print each output line as soon as it is complete (lines of different
    /// jobs never mix within a line).
    #[arg(long = "line-buffer", visible_alias = "lb")]
    line_buffer: bool,
    /// Show progress on standard error (only when it is a terminal):
    /// --bar, --eta and --progress all show jobs done, running and failed,
    /// and the time left at the current pace.
    #[arg(long, visible_alias = "eta", alias = "progress")]
    bar: bool,
    /// Save each job's output in DIR, in GNU's layout, instead of printing
    /// it.
    #[arg(long, visible_alias = "res", value_name = "DIR")]
    results: Option<String>,
    /// Prefix each output line with the job's arguments and a tab.
    #[arg(long)]
    tag: bool,
    /// Prefix each output line with this string (replacement strings work).
    #[arg(long, value_name = "STR")]
    tagstring: Option<String>,
    /// Print each command instead of running it.
    #[arg(long = "dry-run", visible_alias = "dryrun")]
    dry_run: bool,
    /// Read arguments from FILE (`-` is standard input); may be repeated.
    #[arg(short = 'a', long = "arg-file", value_name = "FILE")]
    arg_files: Vec<String>,
    /// Pair the sources' n-th values instead of every combination; shorter
    /// sources start over.
    #[arg(long, visible_alias = "xapply")]
    link: bool,
    /// Records end with NUL, not newline.
    #[arg(short = '0', long = "null")]
    null: bool,
    /// Records end with this character (`\n`, `\t` and `\0` are understood).
    #[arg(short = 'd', long = "delimiter", value_name = "DELIM")]
    delimiter: Option<String>,
    /// Input ends at a record equal to this.
    #[arg(short = 'E', value_name = "EOF")]
    eof: Option<String>,
    /// Skip empty records.
    #[arg(short = 'r', long = "no-run-if-empty")]
    no_run_if_empty: bool,
    /// Use STR instead of `{}` for the argument.
    #[arg(short = 'I', value_name = "STR")]
    replace: Option<String>,
    /// Kill a job (its whole process group) after this many seconds, or
    /// N% of the median runtime of the jobs that succeeded; it counts as
    /// failed.
    #[arg(long, value_name = "SECS")]
    timeout: Option<String>,
    /// Signals for a timed-out job, each with a wait in milliseconds.
    /// Default: TERM,200,TERM,100,TERM,50,KILL,25 (GNU's).
    #[arg(long = "term-seq", value_name = "SIG,MS,...")]
    term_seq: Option<String>,
    /// Try a failing job up to N times in all (GNU's count); 0 retries
    /// until it succeeds.
    #[arg(long, value_name = "N")]
    retries: Option<u32>,
    /// Log each job in GNU's tab-separated format; `+FILE` appends.
    #[arg(long, value_name = "FILE")]
    joblog: Option<String>,
    /// Skip the jobs the joblog shows as run (matched by sequence number,
    /// as GNU does); the log is appended to.
    #[arg(long)]
    resume: bool,
    /// As --resume, but run again the jobs the joblog shows as failed.
    #[arg(long = "resume-failed")]
    resume_failed: bool,
    /// Stop on a condition: now|soon,fail|success|done=N or N%.
    #[arg(long, value_name = "WHEN,RULE")]
    halt: Option<String>,
    /// Give each job up to N records' arguments at once.
    #[arg(short = 'n', long = "max-args", value_name = "N")]
    max_args: Option<usize>,
    /// As -n, with {1}..{N} naming each record's argument; -N0 runs the
    /// command once per record with no argument.
    #[arg(short = 'N', value_name = "N")]
    max_records: Option<usize>,
    /// Several arguments per job, as many as the command line takes (-s);
    /// at the end of the input the last ones are spread over the job
    /// slots. `{}` stands for them all, joined by spaces.
    #[arg(short = 'm')]
    multiple: bool,
    /// As -m, with each word holding a replacement string repeated once
    /// per argument (`pre{}post` with a, b: `preapost prebpost`).
    #[arg(short = 'X')]
    context_replace: bool,
    /// As many arguments per job as the command line takes (-s), without
    /// spreading them over the slots.
    #[arg(long)]
    xargs: bool,
    /// The longest command line -m, -X and --xargs build, in characters
    /// (default and most: 63,664, GNU parallel's on Linux).
    #[arg(short = 's', long = "max-chars", value_name = "SIZE")]
    max_chars: Option<usize>,
    /// Cut standard input into blocks of whole records,
    /// each the standard input of one job (with -N: N records a block).
    #[arg(long, visible_alias = "spreadstdin")]
    pipe: bool,
    /// --pipe's block size: bytes, or with K, M, G (powers of 1024) or k,
    /// m, g (of 1000). Default 1M. A record is never split.
    #[arg(long, visible_alias = "block-size", value_name = "SIZE")]
    block: Option<String>,
    /// --pipe: what ends a record (default a newline).
    #[arg(long, value_name = "STR")]
    recend: Option<String>,
    /// --pipe: what starts a record (default nothing).
    #[arg(long, value_name = "STR")]
    recstart: Option<String>,
    /// Quote the command words too (as GNU -q), so shell syntax in them
    /// reaches the program as text.
    #[arg(short = 'q', long = "quote")]
    quote: bool,
    /// Trim white space from arguments: n (none), l, r, lr or rl.
    #[arg(long, value_name = "WHERE")]
    trim: Option<String>,
    /// Split each argument into columns on this regular expression; the
    /// columns are the positional arguments.
    #[arg(long, short = 'C', value_name = "REGEX")]
    colsep: Option<String>,
    /// Wait between tries (herd): this many seconds, doubling each time,
    /// with full jitter.
    #[arg(long = "retry-delay", value_name = "SECS")]
    retry_delay: Option<f64>,
    /// Print one JSON line per finished job (herd) instead of its output:
    /// seq, command, exit_code, signal, start, runtime, attempts, stdout,
    /// stderr.
    #[arg(long)]
    json: bool,
    /// Also GNU's --plus replacement strings: {##} (the number of jobs),
    /// {..} {...} {/..} {/...} (fewer extensions), {+/} {+.} {+..} {+...}.
    #[arg(long)]
    plus: bool,
    /// `--header :`: the first value of each source (with --colsep, each
    /// column of the first record) names its column, usable as {name}.
    #[arg(long, value_name = ":")]
    header: Option<String>,
    /// Start at most this many jobs a second (herd): N/s, N/m or N/h.
    #[arg(long, value_name = "RATE")]
    rate: Option<String>,
    /// Wait this many seconds between job starts, even with free slots.
    #[arg(long, value_name = "SECS")]
    delay: Option<f64>,
    /// Enqueue the jobs on this PostgreSQL queue (`postgres://...`) for
    /// `herd worker`s on any machine to run, instead of running them here.
    #[arg(long, value_name = "URL")]
    queue: Option<String>,
    /// With --queue: the queue's name, as the workers were given it.
    #[arg(long = "queue-name", value_name = "NAME", default_value = "herd-run")]
    queue_name: String,
    /// With --queue: trust the CA certificates in FILE (PEM) for the
    /// queue's TLS (with `?sslmode=require` in the URL), instead of the
    /// system's.
    #[arg(long = "queue-ca", value_name = "FILE")]
    queue_ca: Option<String>,
    /// With --queue: this run's name. Default: one made from the command
    /// line, so running it again with --resume finds it.
    #[arg(long = "run-id", value_name = "ID")]
    run_id: Option<String>,
    /// With --queue: wait for the jobs, print their output in input order
    /// and exit as a local run would.
    #[arg(long)]
    wait: bool,
    /// The command, then its sources: `::: values`, `:::: files`, and
    /// `:::+` / `::::+` to link a source to the one before.
    #[arg(trailing_var_arg = true, value_name = "COMMAND")]
    command: Vec<String>,
}

/// Refuses, by name, GNU options herd does not have, before clap sees
/// them; only options before the command count.
pub fn refuse_unsupported(args: &[String]) -> Result<(), String> {
    for arg in args {
        if !arg.starts_with('-') || arg == "-" {
            // The command starts here (options come before it).
            return Ok(());
        }
        let name = arg.split('=').next().unwrap_or(arg);
        let short = if name.len() > 2 && !name.starts_with("--") {
            &name[..2]
        } else {
            name
        };
        for flag in [name, short] {
            if UNSUPPORTED.contains(&flag) {
                return Err(format!(
                    "{flag} is a GNU parallel option herd run does not support"
                ));
            }
        }
    }
    Ok(())
}

/// `--trim` and `--colsep`: how each argument is shaped before use.
struct Shape {
    trim_left: bool,
    trim_right: bool,
    colsep: Option<regex::Regex>,
}

impl Shape {
    fn new(args: &RunArgs) -> Result<Shape, String> {
        let (trim_left, trim_right) = match args.trim.as_deref() {
            None | Some("n") => (false, false),
            Some("l") => (true, false),
            Some("r") => (false, true),
            Some("lr" | "rl") => (true, true),
            Some(other) => return Err(format!("--trim {other}: expected n, l, r, lr or rl")),
        };
        let colsep = match &args.colsep {
            None => None,
            Some(pattern) => {
                Some(regex::Regex::new(pattern).map_err(|e| format!("--colsep {pattern}: {e}"))?)
            }
        };
        Ok(Shape {
            trim_left,
            trim_right,
            colsep,
        })
    }

    fn apply(&self, args: Vec<String>) -> Vec<String> {
        let args = match &self.colsep {
            None => args,
            Some(colsep) => args
                .iter()
                .flat_map(|arg| colsep.split(arg).map(str::to_owned).collect::<Vec<_>>())
                .collect(),
        };
        if !self.trim_left && !self.trim_right {
            return args;
        }
        args.into_iter()
            .map(|arg| {
                let arg = if self.trim_left {
                    arg.trim_start()
                } else {
                    &arg
                };
                let arg = if self.trim_right { arg.trim_end() } else { arg };
                arg.to_owned()
            })
            .collect()
    }
}

/// How a job's process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    fn failed(self) -> bool {
        self != Exit::Code(0)
    }
}

/// A finished job, for its output, the joblog and the exit status.
struct Finished {
    seq: u64,
    /// The job's arguments, for `--results`.
    args: Vec<String>,
    command: String,
    start: SystemTime,
    runtime: Duration,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    exit: Exit,
    /// Whether the last try ran out of `--timeout`.
    timed_out: bool,
    /// Tries made (`--retries`).
    attempts: u32,
    /// Where it ran, for the joblog: `:` here, a worker's host name for a
    /// job run from a queue.
    host: String,
}

impl Finished {
    /// `--json`: the job as one line of JSON, its output included.
    fn json_line(&self) -> String {
        let start = self
            .start
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let (code, signal) = match self.exit {
            Exit::Code(code) => (Some(code), None),
            Exit::Signal(signal) => (None, Some(signal)),
        };
        let line = serde_json::json!({
            "seq": self.seq,
            "command": self.command,
            "exit_code": code,
            "signal": signal,
            "start": start,
            "runtime": self.runtime.as_secs_f64(),
            "attempts": self.attempts,
            "stdout": String::from_utf8_lossy(&self.stdout),
            "stderr": String::from_utf8_lossy(&self.stderr),
        });
        format!("{line}\n")
    }

    /// GNU's joblog line (a job killed by a signal logs its Exitval as GNU
    /// does: -1 after a timeout, as the shell saw it otherwise).
    fn joblog_line(&self) -> String {
        let start = self
            .start
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let (exitval, signal) = match self.exit {
            Exit::Code(code) => (code, 0),
            Exit::Signal(signal) if self.timed_out => (-1, signal),
            Exit::Signal(signal) => (0, signal),
        };
        format!(
            "{}\t{}\t{start:.3}\t{:10.3}\t0\t{}\t{exitval}\t{signal}\t{}\n",
            self.seq,
            self.host,
            self.runtime.as_secs_f64(),
            self.stdout.len() + self.stderr.len(),
            self.command
        )
    }
}

/// A running job's process group, known to the runner so that a halt or
/// a second Ctrl-C can kill every job; killed if dropped before its
/// process was reaped (the job's future was cancelled).
struct Group<'a> {
    pgid: i32,
    running: &'a Mutex<HashSet<i32>>,
    reaped: bool,
}

impl<'a> Group<'a> {
    fn new(pid: u32, running: &'a Mutex<HashSet<i32>>) -> Group<'a> {
        let pgid = pid as i32;
        running.lock().unwrap().insert(pgid);
        Group {
            pgid,
            running,
            reaped: false,
        }
    }

    fn signal(&self, signal: i32) {
        kill_group(self.pgid, signal);
    }
}

impl Drop for Group<'_> {
    fn drop(&mut self) {
        self.running.lock().unwrap().remove(&self.pgid);
        if !self.reaped {
            kill_group(self.pgid, libc::SIGKILL);
        }
    }
}

fn kill_group(pgid: i32, signal: i32) {
    // SAFETY: a plain signal to a process group this runner created.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

/// `--bar`, `--eta`, `--progress`: one line on a terminal's standard
/// error, rewritten as jobs finish.
struct Progress {
    started: std::time::Instant,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            started: std::time::Instant::now(),
        }
    }

    fn update(&mut self, done: u64, failed: u64, running: usize) {
        let pace = self.started.elapsed().as_secs_f64() / done.max(1) as f64;
        let _ = write!(
            std::io::stderr().lock(),
            "\r\x1b[K{done} done ({failed} failed), {running} running, {pace:.3}s a job"
        );
    }

    fn finish(self) {
        let _ = writeln!(std::io::stderr().lock());
    }
}

/// `--timeout`: seconds, or N% of the median runtime of successful jobs.
#[derive(Clone, Copy, Debug)]
enum Timeout {
    Fixed(Duration),
    OfMedian(f64),
}

fn parse_timeout(timeout: &str) -> Result<Timeout, String> {
    let bad = || format!("--timeout {timeout}: expected seconds or N%");
    match timeout.strip_suffix('%') {
        Some(percent) => {
            let percent: f64 = percent.parse().map_err(|_| bad())?;
            if !percent.is_finite() || percent <= 0.0 {
                return Err(bad());
            }
            Ok(Timeout::OfMedian(percent))
        }
        None => {
            let secs: f64 = timeout.parse().map_err(|_| bad())?;
            Duration::try_from_secs_f64(secs)
                .map(Timeout::Fixed)
                .map_err(|_| bad())
        }
    }
}

/// GNU's default `--term-seq`.
const DEFAULT_TERM_SEQ: &str = "TERM,200,TERM,100,TERM,50,KILL,25";

/// `--term-seq SIG,MS,SIG,MS...`: signals by name, waits in milliseconds.
fn parse_term_seq(seq: &str) -> Result<Vec<(i32, Duration)>, String> {
    let bad = || format!("--term-seq {seq}: expected SIGNAL,MS pairs, such as TERM,200,KILL,25");
    let parts: Vec<&str> = seq.split(',').collect();
    if !parts.len().is_multiple_of(2) || parts.is_empty() {
        return Err(bad());
    }
    parts
        .chunks(2)
        .map(|pair| {
            let signal = match pair[0].trim_start_matches("SIG") {
                "TERM" => libc::SIGTERM,
                "KILL" => libc::SIGKILL,
                "INT" => libc::SIGINT,
                "HUP" => libc::SIGHUP,
                "QUIT" => libc::SIGQUIT,
                "USR1" => libc::SIGUSR1,
                "USR2" => libc::SIGUSR2,
                _ => return Err(bad()),
            };
            let ms: u64 = pair[1].parse().map_err(|_| bad())?;
            Ok((signal, Duration::from_millis(ms)))
        })
        .collect()
}

/// `--halt`: when to stop, and how.
#[derive(Clone, Copy, Debug)]
struct Halt {
    now: bool,
    on: HaltOn,
    threshold: Threshold,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HaltOn {
    Fail,
    Success,
    Done,
}

#[derive(Clone, Copy, Debug)]
enum Threshold {
    Count(u64),
    Percent(f64),
}

fn parse_halt(halt: &str) -> Result<Halt, String> {
    let bad = || format!("--halt {halt}: expected now|soon,fail|success|done=N or N%");
    let (when, rule) = halt.split_once(',').ok_or_else(bad)?;
    let now = match when {
        "now" => true,
        "soon" => false,
        _ => return Err(bad()),
    };
    let (on, value) = rule.split_once('=').ok_or_else(bad)?;
    let on = match on {
        "fail" => HaltOn::Fail,
        "success" => HaltOn::Success,
        "done" => HaltOn::Done,
        _ => return Err(bad()),
    };
    let threshold = match value.strip_suffix('%') {
        Some(percent) => Threshold::Percent(percent.parse().map_err(|_| bad())?),
        None => Threshold::Count(value.parse().map_err(|_| bad())?),
    };
    Ok(Halt { now, on, threshold })
}

/// Runs `herd run`; returns the process's exit status.
pub async fn run(args: RunArgs) -> i32 {
    match prepare(args).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("herd run: {message}");
            USAGE
        }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// GNU's `-j`: N, N%, +N, -N, 0.
fn parse_jobs(jobs: Option<&str>) -> Result<usize, String> {
    let Some(jobs) = jobs else { return Ok(cores()) };
    let bad = || format!("-j {jobs}: expected N, N%, +N, -N or 0");
    let n = |s: &str| s.parse::<usize>().map_err(|_| bad());
    let slots = if let Some(percent) = jobs.strip_suffix('%') {
        (cores() * n(percent)? / 100).max(1)
    } else if let Some(more) = jobs.strip_prefix('+') {
        cores() + n(more)?
    } else if let Some(fewer) = jobs.strip_prefix('-') {
        cores().saturating_sub(n(fewer)?).max(1)
    } else {
        match n(jobs)? {
            0 => 1024,
            slots => slots,
        }
    };
    Ok(slots)
}

fn parse_delimiter(delimiter: &str) -> Result<u8, String> {
    match delimiter {
        "\\n" => Ok(b'\n'),
        "\\t" => Ok(b'\t'),
        "\\0" => Ok(0),
        d if d.len() == 1 => Ok(d.as_bytes()[0]),
        d => Err(format!("-d {d}: the delimiter must be one character")),
    }
}

/// `--rate` (and herd fetch's rates): N/s, N/m or N/h, evenly spaced
/// (a burst of one).
pub(crate) fn parse_rate(flag: &str, rate: &str) -> Result<Quota, String> {
    let bad = || format!("{flag} {rate}: expected N/s, N/m or N/h");
    let (count, unit) = rate.split_once('/').ok_or_else(bad)?;
    let count = count.parse::<u32>().map_err(|_| bad())?;
    if count == 0 {
        return Err(bad());
    }
    Ok(match unit {
        "s" => Quota::per_second(count),
        "m" => Quota::per_minute(count),
        "h" => Quota::per_hour(count),
        _ => return Err(bad()),
    }
    .burst(1))
}

/// The longest command line `-m`, `-X` and `--xargs` build: GNU
/// parallel's on Linux, (its measured limit - 3000) / 2, 63,664 with a
/// usual environment. One job's command goes to `sh -c` as one argument,
/// which Linux caps at 128 KiB.
const MAX_CHARS: usize = 63_664;

/// `-m`, `-X`, `--xargs`: records packed into jobs as GNU parallel packs
/// them. A job takes records while its command line stays shorter than
/// `max_chars` (and, with `-n`/`-N`, up to that many); a single record too
/// long for it is an error. With `spread` (the job slots; `-m` and `-X`),
/// the job being built when the input ends is split evenly over the slots,
/// once: 5 records at `-j 2` make jobs of 3 and 2.
fn pack(
    rows: BoxStream<'static, std::io::Result<Vec<String>>>,
    template: Template,
    max_chars: usize,
    per_job: Option<usize>,
    spread: Option<usize>,
) -> BoxStream<'static, std::io::Result<Vec<String>>> {
    struct Packer {
        rows: futures_util::stream::Peekable<BoxStream<'static, std::io::Result<Vec<String>>>>,
        held: Option<Vec<String>>,
        ready: std::collections::VecDeque<Vec<Vec<String>>>,
        /// The template's fixed lengths, computed once.
        sizes: template::Sizes,
        template: Template,
        max_chars: usize,
        per_job: Option<usize>,
        spread: Option<usize>,
        read: u64,
        failed: bool,
    }
    let packer = Packer {
        rows: rows.peekable(),
        held: None,
        ready: std::collections::VecDeque::new(),
        sizes: template.sizes(),
        template,
        max_chars,
        per_job: per_job.filter(|&n| n > 0),
        spread,
        read: 0,
        failed: false,
    };
    futures_util::stream::unfold(packer, |mut p| async move {
        loop {
            if let Some(job) = p.ready.pop_front() {
                return Some((Ok(job.concat()), p));
            }
            if p.failed {
                return None;
            }
            let mut job: Vec<Vec<String>> = Vec::new();
            let mut len = 0;
            loop {
                let row = match p.held.take() {
                    Some(row) => row,
                    None => match p.rows.next().await {
                        None => break,
                        Some(Err(error)) => return Some((Err(error), p)),
                        Some(Ok(row)) => {
                            p.read += 1;
                            row
                        }
                    },
                };
                let grown = match job.len() {
                    0 => p.sizes.base + p.template.growth(p.sizes, &row) - p.sizes.separators,
                    _ => len + p.template.growth(p.sizes, &row),
                };
                if grown >= p.max_chars {
                    if job.is_empty() {
                        p.failed = true;
                        let shown: String = row.join(" ").chars().take(50).collect();
                        let error = std::io::Error::other(format!(
                            "command line too long ({grown} >= {}) at input {}: {shown}",
                            p.max_chars, p.read
                        ));
                        return Some((Err(error), p));
                    }
                    p.held = Some(row);
                    break;
                }
                job.push(row);
                len = grown;
                if p.per_job.is_some_and(|n| job.len() >= n) {
                    break;
                }
            }
            if job.is_empty() {
                return None;
            }
            let ended = p.held.is_none() && std::pin::Pin::new(&mut p.rows).peek().await.is_none();
            match p.spread.take() {
                Some(slots) if ended && job.len() > 1 => {
                    let each = job.len().div_ceil(slots);
                    p.per_job = Some(each);
                    while !job.is_empty() {
                        let rest = job.split_off(each.min(job.len()));
                        p.ready.push_back(std::mem::replace(&mut job, rest));
                    }
                }
                other => {
                    // Not at the end yet (or a single record): spread later.
                    p.spread = if ended { None } else { other };
                    p.ready.push_back(job);
                }
            }
        }
    })
    .boxed()
}

/// The jobs' arguments, from the sources, as records packed into jobs
/// (`-n`, `-N`, `-m`, `-X`, `--xargs`), and the template that renders
/// them.
async fn argument_jobs(
    args: &RunArgs,
    sources: input::Sources,
    records: &Records,
    header: bool,
    command: Vec<String>,
    slots: usize,
) -> Result<
    (
        BoxStream<'static, std::io::Result<Vec<String>>>,
        Template,
        Vec<String>,
    ),
    String,
> {
    let (jobs, headers) = input::jobs(sources, records, args.link, header)
        .await
        .map_err(|e| e.to_string())?;
    let shape = Shape::new(args)?;
    // Each header record, split into columns as the records will be.
    let names = shape.apply(headers);
    let mut template = Template::parse_named(&command, args.replace.as_deref(), &names, args.plus);
    let mut jobs = jobs
        .map(move |row| row.map(|args| shape.apply(args)))
        .peekable();
    let per_job = args.max_records.or(args.max_args);
    let jobs = if args.multiple || args.context_replace || args.xargs {
        if args.context_replace {
            // A record's width, for repeating each word once per record.
            let width = match std::pin::Pin::new(&mut jobs).peek().await {
                Some(Ok(row)) => row.len(),
                _ => 1,
            };
            template.set_context_replace(width);
        }
        let max_chars = match args.max_chars {
            Some(0) => return Err("-s 0: a command line needs at least one character".into()),
            Some(size) if size > MAX_CHARS => {
                eprintln!("herd run: -s {size}: the most is {MAX_CHARS}; using that");
                MAX_CHARS
            }
            Some(size) => size,
            None => MAX_CHARS,
        };
        let spread = (!args.xargs).then_some(slots);
        pack(jobs.boxed(), template.clone(), max_chars, per_job, spread)
    } else {
        match per_job.unwrap_or(1) {
            // -N0: one job per record, with no argument.
            0 => jobs.map(|row| row.map(|_| Vec::new())).boxed(),
            1 => jobs.boxed(),
            n => jobs
                .chunks(n)
                .map(|rows| {
                    let mut args = Vec::new();
                    for row in rows {
                        args.extend(row?);
                    }
                    Ok(args)
                })
                .boxed(),
        }
    };
    // {##} needs every job counted first.
    let jobs = if template.uses_total() {
        let all: Vec<_> = jobs.collect().await;
        template.set_total(all.len() as u64);
        futures_util::stream::iter(all).boxed()
    } else {
        jobs
    };
    Ok((jobs, template, names))
}

async fn prepare(args: RunArgs) -> Result<i32, String> {
    let slots = parse_jobs(args.jobs.as_deref())?;
    let delimiter = match (&args.delimiter, args.null) {
        (Some(d), _) => parse_delimiter(d)?,
        (None, true) => 0,
        (None, false) => b'\n',
    };
    let records = Records {
        delimiter,
        eof: args.eof.clone(),
        skip_empty: args.no_run_if_empty,
    };
    let (command, mut sources) = input::split_command(&args.command)?;
    for file in args.arg_files.iter().rev() {
        sources.groups.insert(0, vec![Source::File(file.clone())]);
    }
    if sources.groups.is_empty() {
        sources.groups.push(vec![Source::File("-".into())]);
    }
    let mut starts = Vec::new();
    if let Some(rate) = &args.rate {
        starts.push(RateLimiter::new(parse_rate("--rate", rate)?));
    }
    if let Some(delay) = args.delay {
        let interval = Duration::try_from_secs_f64(delay)
            .map_err(|_| format!("--delay {delay}: expected seconds"))?;
        if !interval.is_zero() {
            let nanos = u32::try_from(interval.as_nanos()).unwrap_or(u32::MAX);
            let quota = Quota::new(1, Duration::from_nanos(u64::from(nanos.max(1)))).burst(1);
            starts.push(RateLimiter::new(quota));
        }
    }
    let header = match args.header.as_deref() {
        None => false,
        Some(":") => true,
        Some(other) => {
            return Err(format!("--header {other}: only `--header :` is supported"));
        }
    };
    let command: Vec<String> = if args.quote {
        command.iter().map(|word| template::quote(word)).collect()
    } else {
        command
    };
    if command.iter().any(|word| word.contains("{=")) {
        return Err("{= perl expression =} replacement strings are GNU parallel's and herd run does not support them".into());
    }
    let (jobs, template, names) = if args.pipe {
        let (jobs, template) = pipe::jobs(&args, &sources, &command)?;
        (jobs, template, Vec::new())
    } else {
        let (jobs, template, names) =
            argument_jobs(&args, sources, &records, header, command, slots).await?;
        (
            jobs.map(|job| job.map(|args| (args, None))).boxed(),
            template,
            names,
        )
    };
    let tag = match (&args.tagstring, args.tag) {
        (Some(tagstring), _) => Some(Template::parse(
            std::slice::from_ref(tagstring),
            args.replace.as_deref(),
        )),
        (None, true) => Some(Template::parse(&["{}".to_owned()], None)),
        (None, false) => None,
    };
    let timeout = args.timeout.as_deref().map(parse_timeout).transpose()?;
    let halt = args.halt.as_deref().map(parse_halt).transpose()?;
    let resuming = args.resume || args.resume_failed;
    let done_before = match (&args.joblog, resuming) {
        // A queued run's queue knows what finished.
        _ if args.queue.is_some() => HashSet::new(),
        (None, true) => return Err("--resume and --resume-failed need --joblog".into()),
        (Some(path), true) => read_joblog(path.trim_start_matches('+'), args.resume_failed)
            .map_err(|e| format!("--joblog {path}: {e}"))?,
        _ => HashSet::new(),
    };
    let mut joblog = match &args.joblog {
        None => None,
        Some(path) => {
            Some(open_joblog(path, resuming).map_err(|e| format!("--joblog {path}: {e}"))?)
        }
    };
    let runner = Arc::new(Runner {
        template,
        tag,
        dry_run: args.dry_run,
        ungroup: args.ungroup,
        free_slots: Mutex::new((1..=slots).map(Reverse).collect()),
        starts,
        retries: args.retries.unwrap_or(1),
        retry_delay: match args.retry_delay {
            Some(secs) => Some(
                Duration::try_from_secs_f64(secs)
                    .map_err(|_| format!("--retry-delay {secs}: expected seconds"))?,
            ),
            None => None,
        },
        json: args.json,
        line_buffer: args.line_buffer,
        turns: Mutex::new(Turns {
            ordered: args.keep_order,
            next: 1,
            held: HashMap::new(),
        }),
        results: args.results.clone().map(std::path::PathBuf::from),
        names: names.clone(),
        timeout,
        runtimes: Mutex::new(Vec::new()),
        term_seq: parse_term_seq(args.term_seq.as_deref().unwrap_or(DEFAULT_TERM_SEQ))?,
        groups: Mutex::new(HashSet::new()),
    });
    if let Some(url) = args.queue.as_deref()
        && !args.dry_run
    {
        return queue::submit(url, &args, jobs, runner, halt, joblog).await;
    }
    // Ctrl-C (or SIGTERM) once: start no new job; twice: kill the running
    // ones. A halt "soon" stops starting jobs the same way.
    let shutdown = herd::shutdown::Shutdown::with_signals();
    // Cancelled by the first signal (through the shutdown's token) or by a
    // halt "soon": the input ends at once, even if none is arriving.
    let stop_starting = shutdown.token().child();
    let mut seq = 0u64;
    let numbered = {
        let stop = stop_starting.clone();
        jobs.take_until(async move {
            stop.cancelled().await;
        })
        .map(move |job| {
            seq += 1;
            (seq, job)
        })
    };
    let done_before = Arc::new(done_before);
    let call = {
        let runner = runner.clone();
        move |(seq, job): (u64, std::io::Result<pipe::Job>)| {
            let (runner, done_before) = (runner.clone(), done_before.clone());
            async move {
                match job {
                    // Already in the joblog: not run again (--resume).
                    Ok(_) if done_before.contains(&seq) => Ok(None),
                    Ok((args, stdin)) => Ok(Some(runner.job(seq, args, stdin).await)),
                    Err(error) => Err(error.to_string()),
                }
            }
        }
    };
    let (mut done, mut failed) = (0u64, 0u64);
    let mut progress =
        (args.bar && std::io::IsTerminal::is_terminal(&std::io::stderr())).then(Progress::new);
    let mut status = None;
    // --dry-run prints in input order, as GNU does.
    let mut outcomes = if args.keep_order || args.dry_run {
        herd::pool::map(slots, numbered, call).boxed()
    } else {
        herd::pool::map_unordered(slots, numbered, call).boxed()
    };
    let force = shutdown.force_token().clone();
    // After the second Ctrl-C: the step of --term-seq reached, and when
    // the next one is due.
    let mut ending: Option<(usize, tokio::time::Instant)> = None;
    let mut yielded = 0u64;
    loop {
        let due = ending.map_or_else(tokio::time::Instant::now, |(_, due)| due);
        let next = tokio::select! {
            next = outcomes.next() => next,
            // The second Ctrl-C: every running job's group gets
            // --term-seq's signals (TERM, 200 ms, TERM, 100 ms, TERM,
            // 50 ms, KILL by default), then SIGKILL; jobs that end
            // meanwhile are printed and logged as usual.
            _ = force.cancelled(), if ending.is_none() => {
                stop_starting.cancel("interrupted twice");
                let (signal, wait) = runner.term_seq[0];
                runner.signal_all(signal);
                ending = Some((0, tokio::time::Instant::now() + wait));
                continue;
            }
            () = tokio::time::sleep_until(due), if ending.is_some() => {
                let step = ending.map_or(0, |(step, _)| step) + 1;
                match runner.term_seq.get(step) {
                    Some(&(signal, wait)) => {
                        runner.signal_all(signal);
                        ending = Some((step, tokio::time::Instant::now() + wait));
                        continue;
                    }
                    None => {
                        runner.kill_all();
                        break;
                    }
                }
            }
        };
        let Some(outcome) = next else { break };
        // -k yields jobs in order: the next one's turn to print live
        // (--line-buffer) has come.
        yielded += 1;
        runner.turns.lock().unwrap().advance(yielded + 1);
        let finished = outcome.map_err(|error| {
            error
                .into_failure()
                .unwrap_or_else(|| "a job panicked".into())
        })?;
        let Some(finished) = finished else { continue };
        runner.print(&finished);
        if let Some(log) = joblog.as_mut() {
            let line = finished.joblog_line();

            let _ = log.write_all(line.as_bytes());
        }
        if finished.exit == Exit::Code(0) {
            runner.runtimes.lock().unwrap().push(finished.runtime);
        }
        done += 1;
        failed += u64::from(finished.exit.failed());
        if let Some(progress) = progress.as_mut() {
            progress.update(done, failed, runner.groups.lock().unwrap().len());
        }
        if let Some(halt) = halt
            && status.is_none()
            && let Some(code) = halted(halt, &finished, done, failed)
        {
            status = Some(code);
            if halt.now {
                runner.kill_all();
                break;
            }
            stop_starting.cancel("--halt soon");
        }
    }
    drop(outcomes);
    if let Some(progress) = progress {
        progress.finish();
    }
    Ok(status.unwrap_or_else(|| i32::try_from(failed.min(101)).expect("at most 101")))
}

/// Whether `--halt` is met by `finished`; if so, the exit status GNU gives:
/// the failing job's exit value for `fail=N`, the failed percentage for
/// `fail=N%`, 0 for `success`, the failed count for `done`. A percentage
/// is of the jobs finished so far (GNU, which reads all input first, takes
/// it of all jobs; herd streams its input and does not know them all).
fn halted(halt: Halt, finished: &Finished, done: u64, failed: u64) -> Option<i32> {
    let succeeded = done - failed;
    let (count, relevant) = match halt.on {
        HaltOn::Fail => (failed, finished.exit.failed()),
        HaltOn::Success => (succeeded, !finished.exit.failed()),
        HaltOn::Done => (done, true),
    };
    let total = done.max(1);
    let met = relevant
        && match halt.threshold {
            Threshold::Count(n) => count >= n,
            Threshold::Percent(p) => count as f64 * 100.0 / total as f64 >= p,
        };
    if !met {
        return None;
    }
    Some(match (halt.on, halt.threshold) {
        (HaltOn::Fail, Threshold::Count(_)) => match finished.exit {
            Exit::Code(code) => code,
            Exit::Signal(signal) => 128 + signal,
        },
        (HaltOn::Fail, Threshold::Percent(_)) => (failed * 100 / total) as i32,
        (HaltOn::Success, _) => 0,
        (HaltOn::Done, _) => failed.min(101) as i32,
    })
}

/// The first line of a joblog, as GNU writes it.
const JOBLOG_HEADER: &[u8] =
    b"Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n";

/// The sequence numbers a joblog shows as run: every one, or with
/// `failed_again` only those that succeeded (the failed ones run again).
/// A missing log is an empty one.
fn read_joblog(path: &str, failed_again: bool) -> std::io::Result<HashSet<u64>> {
    let log = match std::fs::read_to_string(path) {
        Ok(log) => log,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(error) => return Err(error),
    };
    let mut done = HashSet::new();
    for line in log.lines().skip_while(|line| line.starts_with("Seq\t")) {
        let fields: Vec<&str> = line.split('\t').collect();
        let (Some(seq), Some(exitval), Some(signal)) = (
            fields.first().and_then(|f| f.parse::<u64>().ok()),
            fields.get(6),
            fields.get(7),
        ) else {
            continue;
        };
        let succeeded = *exitval == "0" && *signal == "0";
        if succeeded || !failed_again {
            done.insert(seq);
        } else {
            done.remove(&seq);
        }
    }
    Ok(done)
}

/// Opens the joblog: `FILE` is written afresh with GNU's header; `+FILE`,
/// or any log being resumed, is appended to (with the header only if it
/// is new).
fn open_joblog(path: &str, resuming: bool) -> std::io::Result<File> {
    match path.strip_prefix('+') {
        Some(path) => OpenOptions::new().create(true).append(true).open(path),
        None if resuming => {
            let new = !std::path::Path::new(path).exists();
            let mut file = OpenOptions::new().create(true).append(true).open(path)?;
            if new {
                file.write_all(JOBLOG_HEADER)?;
            }
            Ok(file)
        }
        None => {
            let mut file = File::create(path)?;
            file.write_all(JOBLOG_HEADER)?;
            Ok(file)
        }
    }
}

/// What every job shares.
struct Runner {
    template: Template,
    tag: Option<Template>,
    dry_run: bool,
    ungroup: bool,
    /// Free job slots (`{%}`, `$PARALLEL_JOBSLOT`), the lowest on top.
    free_slots: Mutex<BinaryHeap<Reverse<usize>>>,
    /// Limits on job starts: `--rate`, `--delay`.
    starts: Vec<RateLimiter>,
    /// `--retries`: tries in all; 0 for until one succeeds.
    retries: u32,
    /// `--retry-delay`: the first backoff between tries.
    retry_delay: Option<Duration>,
    /// `--json`: one JSON line per job instead of its output.
    json: bool,
    /// `--line-buffer`: each output line as soon as it is complete.
    line_buffer: bool,
    /// `--line-buffer` with `-k`: the lines of jobs whose turn has not
    /// come yet.
    turns: Mutex<Turns>,
    /// `--results DIR`: output saved in files instead of printed.
    results: Option<std::path::PathBuf>,
    /// `--header :`'s column names.
    names: Vec<String>,
    timeout: Option<Timeout>,
    /// `--term-seq`: the signals a timed-out job gets, each with a wait.
    term_seq: Vec<(i32, Duration)>,
    /// Runtimes of the jobs that succeeded, for `--timeout N%`.
    runtimes: Mutex<Vec<Duration>>,
    /// The process groups of the running jobs.
    groups: Mutex<HashSet<i32>>,
}

impl Runner {
    /// Runs one job; `stdin` is its `--pipe` block.
    async fn job(&self, seq: u64, args: Vec<String>, stdin: Option<bytes::Bytes>) -> Finished {
        let slot = self.take_slot();
        let finished = self.run(seq, slot, args, stdin).await;
        self.give_slot(slot);
        finished
    }

    /// The lowest free job slot; there is one for every running job.
    fn take_slot(&self) -> usize {
        self.free_slots
            .lock()
            .unwrap()
            .pop()
            .expect("a free slot per running job")
            .0
    }

    fn give_slot(&self, slot: usize) {
        self.free_slots.lock().unwrap().push(Reverse(slot));
    }

    async fn run(
        &self,
        seq: u64,
        slot: usize,
        args: Vec<String>,
        stdin: Option<bytes::Bytes>,
    ) -> Finished {
        let line = self.template.render(&args, seq, slot);
        let tag = self
            .tag
            .as_ref()
            .map(|tag| tag.render_tag(&args, seq, slot));
        for limit in &self.starts {
            limit.acquire().await.expect("a cost of one fits any burst");
        }
        let start = SystemTime::now();
        let began = tokio::time::Instant::now();
        if self.dry_run {
            let mut stdout = line.clone().into_bytes();
            stdout.push(b'\n');
            return Finished {
                seq,
                args,
                command: line,
                start,
                runtime: Duration::ZERO,
                stdout: tagged(tag.as_deref(), stdout),
                stderr: Vec::new(),
                exit: Exit::Code(0),
                timed_out: false,
                attempts: 0,
                host: ":".into(),
            };
        }
        // herd's Retry runs the tries: GNU counts them in all, and 0 means
        // until one succeeds; --retry-delay adds jittered exponential
        // backoff between them.
        let tries = if self.retries == 0 {
            u32::MAX
        } else {
            self.retries
        };
        let retry = match self.retry_delay {
            Some(delay) => Retry::new()
                .attempts(tries)
                .backoff(delay, 2, delay.saturating_mul(64)),
            None => Retry::new()
                .attempts(tries)
                .constant(Duration::ZERO)
                .no_jitter(),
        };
        let mut attempts = 0;
        let outcome = retry
            .run(|_| {
                attempts += 1;
                async {
                    let tried = self
                        .attempt(
                            &line,
                            seq,
                            slot,
                            tag.as_deref(),
                            stdin.clone(),
                            self.timeout().map(|limit| (limit, &self.term_seq[..])),
                        )
                        .await;
                    if tried.2.failed() {
                        Err(tried)
                    } else {
                        Ok(tried)
                    }
                }
            })
            .await;
        let (stdout, stderr, exit, timed_out) = match outcome {
            Ok(done) => done,
            Err(RetryError::Exhausted {
                last: Failure::Error(failed),
                ..
            }) => failed,
            Err(other) => unreachable!("tries end only by success or exhaustion: {other:?}"),
        };
        Finished {
            seq,
            args,
            command: line,
            start,
            runtime: began.elapsed(),
            stdout: tagged(tag.as_deref(), stdout),
            stderr: tagged(tag.as_deref(), stderr),
            exit,
            timed_out,
            attempts,
            host: ":".into(),
        }
    }

    /// Starts a job's process in a process group of its own: `words` as a
    /// program and its arguments, or `/bin/sh -c line`.
    fn spawn(
        &self,
        words: Option<&Vec<String>>,
        line: &str,
        seq: u64,
        slot: usize,
        piped_in: bool,
    ) -> std::io::Result<tokio::process::Child> {
        let mut command = match words {
            Some(words) => {
                let mut command = tokio::process::Command::new(&words[0]);
                command.args(&words[1..]);
                command
            }
            None => {
                let mut command = tokio::process::Command::new("/bin/sh");
                command.arg("-c").arg(line);
                command
            }
        };
        command
            .env("PARALLEL_SEQ", seq.to_string())
            .env("PARALLEL_JOBSLOT", slot.to_string())
            .stdin(if piped_in {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .process_group(0)
            .kill_on_drop(true);
        if !self.ungroup {
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        command.spawn()
    }

    /// One try of a job: its line (directly, or by `/bin/sh -c`) in its
    /// own process group, with `stdin` (a `--pipe` block) written to its
    /// standard input; after `limit`'s time, its `--term-seq` signals.
    async fn attempt(
        &self,
        line: &str,
        seq: u64,
        slot: usize,
        tag: Option<&str>,
        stdin: Option<bytes::Bytes>,
        limit: Option<(Duration, &[(i32, Duration)])>,
    ) -> (Vec<u8>, Vec<u8>, Exit, bool) {
        // A line the shell would only split into words runs without it:
        // one exec a job instead of two. If that program cannot be
        // started (not found, not executable, a script without `#!`), the
        // shell runs the line after all, so what happens and what is
        // reported are the shell's, as in GNU parallel.
        let direct = template::simple_words(line);
        let spawned = match &direct {
            Some(words) => self.spawn(Some(words), line, seq, slot, stdin.is_some()),
            None => Err(std::io::ErrorKind::Other.into()),
        };
        let spawned = match spawned {
            Ok(child) => Ok(child),
            Err(_) => self.spawn(None, line, seq, slot, stdin.is_some()),
        };
        let mut child = match spawned {
            Ok(child) => child,
            Err(error) => {
                let message = format!("herd run: could not start /bin/sh: {error}\n");
                return (Vec::new(), message.into_bytes(), Exit::Code(127), false);
            }
        };
        let group = Group::new(child.id().expect("a child just spawned"), &self.groups);
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let out = child.stdout.take();
        let err = child.stderr.take();
        let line_buffer = self.line_buffer;
        let read_out = async {
            if let Some(out) = out {
                let live = line_buffer.then_some((&self.turns, seq, tag, false));
                read_pipe(out, &mut stdout, live).await;
            }
        };
        let read_err = async {
            if let Some(err) = err {
                let live = line_buffer.then_some((&self.turns, seq, tag, true));
                read_pipe(err, &mut stderr, live).await;
            }
        };
        // The block goes in while the output comes out, so a job that
        // writes before it has read everything cannot stall; a job that
        // exits without reading it all is not an error (as in GNU).
        let input = child.stdin.take();
        let write_in = async {
            if let (Some(mut input), Some(block)) = (input, stdin) {
                use tokio::io::AsyncWriteExt;
                let _ = input.write_all(&block).await;
            }
        };
        let waited = async {
            let (_, _, _, status) = tokio::join!(write_in, read_out, read_err, child.wait());
            status
        };
        let mut timed_out = false;
        let status = match limit {
            None => waited.await,
            Some((limit, term_seq)) => {
                let mut waited = std::pin::pin!(waited);
                match tokio::time::timeout(limit, &mut waited).await {
                    Ok(status) => status,
                    Err(_) => {
                        timed_out = true;
                        // --term-seq: each signal, then its wait; after the
                        // last, SIGKILL if the job still lingers.
                        let mut ended = None;
                        for &(signal, wait) in term_seq {
                            group.signal(signal);
                            if let Ok(status) = tokio::time::timeout(wait, &mut waited).await {
                                ended = Some(status);
                                break;
                            }
                        }
                        match ended {
                            Some(status) => status,
                            None => {
                                group.signal(libc::SIGKILL);
                                waited.await
                            }
                        }
                    }
                }
            }
        };
        let mut group = group;
        group.reaped = true;
        drop(group);
        let exit = match status {
            Ok(status) => match (status.code(), status.signal()) {
                (_, Some(signal)) => Exit::Signal(signal),
                (Some(code), None) => Exit::Code(code),
                (None, None) => Exit::Code(1),
            },
            Err(_) => Exit::Code(1),
        };
        (stdout, stderr, exit, timed_out)
    }

    /// This job's time limit: fixed, or a percentage of the median runtime
    /// of the jobs that succeeded so far (none until one has).
    fn timeout(&self) -> Option<Duration> {
        match self.timeout? {
            Timeout::Fixed(limit) => Some(limit),
            Timeout::OfMedian(percent) => {
                let mut runtimes = self.runtimes.lock().unwrap().clone();
                if runtimes.is_empty() {
                    return None;
                }
                runtimes.sort_unstable();
                let median = runtimes[runtimes.len() / 2];
                Some(median.mul_f64(percent / 100.0))
            }
        }
    }

    /// `--results DIR`: the job's output in GNU's layout,
    /// `DIR/<column>/<value>/.../{seq,stdout,stderr}`, a column being its
    /// number from 1 or its `--header` name, a value with `\` written `\\`
    /// and `/` written `\_`.
    fn save(&self, dir: &std::path::Path, finished: &Finished) -> std::io::Result<()> {
        let mut path = dir.to_path_buf();
        for (i, value) in finished.args.iter().enumerate() {
            let column = self
                .names
                .get(i)
                .cloned()
                .unwrap_or_else(|| (i + 1).to_string());
            path.push(column);
            path.push(value.replace('\\', "\\\\").replace('/', "\\_"));
        }
        std::fs::create_dir_all(&path)?;
        std::fs::write(path.join("seq"), finished.seq.to_string())?;
        std::fs::write(path.join("stdout"), &finished.stdout)?;
        std::fs::write(path.join("stderr"), &finished.stderr)
    }

    /// Kills every running job's process group at once.
    fn kill_all(&self) {
        self.signal_all(libc::SIGKILL);
    }

    /// Sends `signal` to every running job's process group.
    fn signal_all(&self, signal: i32) {
        for &pgid in self.groups.lock().unwrap().iter() {
            kill_group(pgid, signal);
        }
    }

    /// Writes a finished job's output: all of its standard output, then
    /// all of its standard error, never mixed with another job's.
    fn print(&self, finished: &Finished) {
        if let Some(dir) = &self.results {
            if let Err(error) = self.save(dir, finished) {
                eprintln!("herd run: --results {}: {error}", dir.display());
            }
            return;
        }
        let mut out = std::io::stdout().lock();
        if self.json {
            let _ = out.write_all(finished.json_line().as_bytes());
            let _ = out.flush();
            return;
        }
        let _ = out.write_all(&finished.stdout);
        let _ = out.flush();
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(&finished.stderr);
    }
}

/// Reads a job's pipe: all of it into `kept`, or with `--line-buffer`
/// (`live` is the tag and whether this is standard error) each complete
/// line straight to the runner's output, whole, as it comes.
async fn read_pipe(
    pipe: impl tokio::io::AsyncRead + Unpin,
    kept: &mut Vec<u8>,
    live: Option<(&Mutex<Turns>, u64, Option<&str>, bool)>,
) {
    let Some((turns, seq, tag, is_err)) = live else {
        let mut pipe = pipe;
        let _ = pipe.read_to_end(kept).await;
        return;
    };
    let mut lines = tokio::io::BufReader::new(pipe);
    let mut line = Vec::new();
    loop {
        line.clear();
        match tokio::io::AsyncBufReadExt::read_until(&mut lines, b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let out = tagged(tag, std::mem::take(&mut line));
                turns.lock().unwrap().line(seq, is_err, out);
            }
        }
    }
}

/// `--line-buffer`'s lines. Unordered, each is written as it comes. With
/// `-k`, only the oldest unfinished job's are: a later job's lines wait
/// here until its turn, when they are written at once and the rest of its
/// lines then go straight out.
struct Turns {
    ordered: bool,
    /// The job whose lines go straight out.
    next: u64,
    /// Lines of later jobs: their standard output, and their standard
    /// error, each in order.
    held: HashMap<u64, [Vec<u8>; 2]>,
}

impl Turns {
    fn line(&mut self, seq: u64, is_err: bool, line: Vec<u8>) {
        if self.ordered && seq != self.next {
            let held = self.held.entry(seq).or_default();
            held[usize::from(is_err)].extend_from_slice(&line);
            return;
        }
        write_line(is_err, &line);
    }

    /// Job `seq`'s turn: what it wrote meanwhile goes out now, its standard
    /// output and then its standard error, as GNU parallel writes them.
    fn advance(&mut self, seq: u64) {
        self.next = seq;
        if let Some([out, err]) = self.held.remove(&seq) {
            write_line(false, &out);
            write_line(true, &err);
        }
    }
}

fn write_line(is_err: bool, line: &[u8]) {
    if is_err {
        let _ = std::io::stderr().lock().write_all(line);
    } else {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(line);
        let _ = stdout.flush();
    }
}

/// `--tag`: each line prefixed with the tag and a tab.
fn tagged(tag: Option<&str>, output: Vec<u8>) -> Vec<u8> {
    let Some(tag) = tag else { return output };
    let mut tagged = Vec::with_capacity(output.len() + tag.len() + 1);
    for line in output.split_inclusive(|&b| b == b'\n') {
        tagged.extend_from_slice(tag.as_bytes());
        tagged.push(b'\t');
        tagged.extend_from_slice(line);
    }
    tagged
}
