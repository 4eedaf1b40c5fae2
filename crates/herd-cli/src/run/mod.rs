//! `herd run`: GNU parallel's command line, on herd's bounded map, rate
//! limiter and process groups.

mod input;
mod template;

use std::io::Write;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Args;
use futures_util::stream::StreamExt;
use herd::limit::{Quota, RateLimiter};
use tokio::io::AsyncReadExt;

use input::{Records, Source};
use template::Template;

/// The exit status of a usage error, as GNU parallel's.
pub const USAGE: i32 = 255;

/// GNU parallel options herd does not have yet, refused by name rather than
/// ignored.
const UNSUPPORTED: &[&str] = &[
    "--pipe",
    "--pipepart",
    "-S",
    "--sshlogin",
    "--slf",
    "--sshloginfile",
    "--sql",
    "--sqlmaster",
    "--sqlworker",
    "--tmux",
    "--tmuxpane",
    "-X",
    "-m",
    "--xargs",
    "-n",
    "-N",
    "--max-args",
    "--colsep",
    "-C",
    "--header",
    "--results",
    "--res",
    "--line-buffer",
    "--lb",
    "--bar",
    "--eta",
    "--progress",
    "--resume",
    "--resume-failed",
    "--plus",
    "-q",
    "--quote",
    "--trim",
    "--term-seq",
    "--onall",
    "--nonall",
    "--transfer",
    "--return",
    "--cleanup",
    "--block",
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
    /// Start at most this many jobs a second (herd): N/s, N/m or N/h.
    #[arg(long, value_name = "RATE")]
    rate: Option<String>,
    /// Wait this many seconds between job starts, even with free slots.
    #[arg(long, value_name = "SECS")]
    delay: Option<f64>,
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

/// How a job ended.
struct Finished {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    failed: bool,
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

fn parse_rate(rate: &str) -> Result<Quota, String> {
    let bad = || format!("--rate {rate}: expected N/s, N/m or N/h");
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
        starts.push(RateLimiter::new(parse_rate(rate)?));
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
    let jobs = input::jobs(sources, &records, args.link).map_err(|e| e.to_string())?;
    let template = Template::parse(&command, args.replace.as_deref());
    let tag = match (&args.tagstring, args.tag) {
        (Some(tagstring), _) => Some(Template::parse(
            std::slice::from_ref(tagstring),
            args.replace.as_deref(),
        )),
        (None, true) => Some(Template::parse(&["{}".to_owned()], None)),
        (None, false) => None,
    };
    let runner = Arc::new(Runner {
        template,
        tag,
        dry_run: args.dry_run,
        ungroup: args.ungroup,
        free_slots: Mutex::new((1..=slots).rev().collect()),
        starts,
    });
    let mut seq = 0u64;
    let numbered = jobs.map(move |job| {
        seq += 1;
        (seq, job)
    });
    let call = {
        let runner = runner.clone();
        move |(seq, job): (u64, std::io::Result<Vec<String>>)| {
            let runner = runner.clone();
            async move {
                match job {
                    Ok(args) => Ok(runner.job(seq, args).await),
                    Err(error) => Err(error.to_string()),
                }
            }
        }
    };
    let mut failed = 0u64;
    // --dry-run prints in input order, as GNU does.
    let mut outcomes = if args.keep_order || args.dry_run {
        herd::pool::map(slots, numbered, call).boxed()
    } else {
        herd::pool::map_unordered(slots, numbered, call).boxed()
    };
    while let Some(outcome) = outcomes.next().await {
        match outcome {
            Ok(finished) => {
                runner.print(&finished);
                failed += u64::from(finished.failed);
            }
            Err(error) => {
                let message = error
                    .into_failure()
                    .unwrap_or_else(|| "a job panicked".into());
                return Err(message);
            }
        }
    }
    Ok(i32::try_from(failed.min(101)).expect("at most 101"))
}

/// What every job shares.
struct Runner {
    template: Template,
    tag: Option<Template>,
    dry_run: bool,
    ungroup: bool,
    /// Free job slots (`{%}`, `$PARALLEL_JOBSLOT`), the lowest on top.
    free_slots: Mutex<Vec<usize>>,
    /// Limits on job starts: `--rate`, `--delay`.
    starts: Vec<RateLimiter>,
}

impl Runner {
    async fn job(&self, seq: u64, args: Vec<String>) -> Finished {
        let slot = self
            .free_slots
            .lock()
            .unwrap()
            .pop()
            .expect("a free slot per running job");
        let finished = self.run(seq, slot, args).await;
        let mut free = self.free_slots.lock().unwrap();
        free.push(slot);
        free.sort_unstable_by(|a, b| b.cmp(a));
        finished
    }

    async fn run(&self, seq: u64, slot: usize, args: Vec<String>) -> Finished {
        let line = self.template.render(&args, seq, slot);
        let tag = self
            .tag
            .as_ref()
            .map(|tag| tag.render_tag(&args, seq, slot));
        for limit in &self.starts {
            limit.acquire().await.expect("a cost of one fits any burst");
        }
        if self.dry_run {
            let mut stdout = line.into_bytes();
            stdout.push(b'\n');
            return Finished {
                stdout: tagged(tag.as_deref(), stdout),
                stderr: Vec::new(),
                failed: false,
            };
        }
        let mut command = tokio::process::Command::new("/bin/sh");
        command
            .arg("-c")
            .arg(&line)
            .env("PARALLEL_SEQ", seq.to_string())
            .env("PARALLEL_JOBSLOT", slot.to_string())
            .stdin(Stdio::null())
            .process_group(0)
            .kill_on_drop(true);
        if !self.ungroup {
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(error) => {
                return Finished {
                    stdout: Vec::new(),
                    stderr: format!("herd run: could not start /bin/sh: {error}\n").into_bytes(),
                    failed: true,
                };
            }
        };
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let out = child.stdout.take();
        let err = child.stderr.take();
        let read_out = async {
            if let Some(mut out) = out {
                let _ = out.read_to_end(&mut stdout).await;
            }
        };
        let read_err = async {
            if let Some(mut err) = err {
                let _ = err.read_to_end(&mut stderr).await;
            }
        };
        let ((), (), status) = tokio::join!(read_out, read_err, child.wait());
        let failed = status.map_or(true, |status| !status.success());
        Finished {
            stdout: tagged(tag.as_deref(), stdout),
            stderr: tagged(tag.as_deref(), stderr),
            failed,
        }
    }

    /// Writes a finished job's output: all of its standard output, then
    /// all of its standard error, never mixed with another job's.
    fn print(&self, finished: &Finished) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&finished.stdout);
        let _ = out.flush();
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(&finished.stderr);
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
