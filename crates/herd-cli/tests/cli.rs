//! `herd run` as a process: refusals and usage errors, memory on a million
//! inputs, and Ctrl-C once and twice. (Output compatibility with GNU
//! parallel is `tests/compat.rs`.)

mod common;

use common::eventually;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn herd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_herd"))
}

fn run(args: &[&str]) -> (i32, String, String) {
    let output = herd()
        .arg("run")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn gnu_options_herd_lacks_are_refused_by_name() {
    for flag in [
        "--pipepart",
        "--onall",
        "--sql",
        "--tmux",
        "-S",
        "--round-robin",
    ] {
        let (code, stdout, stderr) = run(&[flag, "x", "echo", ":::", "a"]);
        assert_eq!(code, 255, "{flag}");
        assert!(stdout.is_empty(), "{flag}: nothing runs");
        assert!(stderr.contains(flag), "{flag}: {stderr}");
    }
    let (code, _, stderr) = run(&["echo", "{= $_ .= 1 =}", ":::", "a"]);
    assert_eq!(code, 255);
    assert!(stderr.contains("perl"), "{stderr}");
}

#[test]
fn invalid_arguments_are_named_and_nothing_runs() {
    let cases: [(&[&str], &str); 5] = [
        (&["-j", "abc", "echo", ":::", "a"], "-j abc"),
        (
            &["--halt", "sometimes", "echo", ":::", "a"],
            "--halt sometimes",
        ),
        (&["--rate", "fast", "echo", ":::", "a"], "--rate fast"),
        (
            &["echo", "::::", "/nonexistent/herd-input"],
            "/nonexistent/herd-input",
        ),
        (&["--no-such-flag", "echo", ":::", "a"], "--no-such-flag"),
    ];
    for (args, named) in cases {
        let (code, stdout, stderr) = run(args);
        assert_eq!(code, 255, "{args:?}");
        assert!(stdout.is_empty(), "{args:?}");
        assert!(stderr.contains(named), "{args:?}: {stderr}");
    }
}

#[test]
fn a_million_inputs_run_in_bounded_memory() {
    // Reaped by wait_with_peak below, which also gives its peak memory.
    #[allow(clippy::zombie_processes)]
    let mut child = herd()
        .args(["run", "-j", "4", "--dry-run", "echo"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let mut input = String::new();
        for n in 0..1_000_000 {
            input.push_str(&n.to_string());
            input.push('\n');
        }
        stdin.write_all(input.as_bytes()).unwrap();
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut lines = 0usize;
    let mut buffer = vec![0; 1 << 16];
    loop {
        let n = stdout.read(&mut buffer).unwrap();
        if n == 0 {
            break;
        }
        lines += buffer[..n].iter().filter(|&&b| b == b'\n').count();
    }
    writer.join().unwrap();
    let (exited_ok, peak_mb) = common::wait_with_peak(&child);
    assert!(exited_ok);
    assert_eq!(lines, 1_000_000);
    assert!(peak_mb < 50.0, "peak resident {peak_mb:.1} MB");
}

/// Processes whose command line holds `marker`.
fn processes_with(marker: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|entry| {
            std::fs::read(entry.path().join("cmdline"))
                .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains(marker))
        })
        .count()
}

#[test]
fn ctrl_c_once_lets_running_jobs_finish_and_starts_no_more() {
    let child = herd()
        .args([
            "run",
            "-j",
            "1",
            "-k",
            "sleep 1; echo {}",
            ":::",
            "1",
            "2",
            "3",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: a plain signal to the runner we started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "1\n",
        "the running job finished; no other started"
    );
}

#[test]
fn ctrl_c_twice_kills_every_job_and_leaves_no_process() {
    let marker = "3600.4242";
    let child = herd()
        .args([
            "run",
            "-j",
            "3",
            &format!("sleep {marker}; echo {{}}"),
            ":::",
            "1",
            "2",
            "3",
            "4",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    eventually("three jobs running", || processes_with(marker) >= 3);
    for _ in 0..2 {
        // SAFETY: plain signals to the runner we started.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().unwrap();
    assert!(output.stdout.is_empty(), "no job finished");
    eventually("no job process left", || processes_with(marker) == 0);
}

#[test]
fn json_gives_one_line_per_job_with_its_outcome() {
    let (code, stdout, _) = run(&["--json", "-k", "echo out{}; exit {}", ":::", "0", "3"]);
    assert_eq!(code, 1);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["seq"], 1);
    assert_eq!(lines[0]["exit_code"], 0);
    assert_eq!(lines[0]["stdout"], "out0\n");
    assert_eq!(lines[1]["exit_code"], 3);
    assert_eq!(lines[1]["command"], "echo out3; exit 3");
    assert_eq!(lines[1]["attempts"], 1);
    assert!(lines[1]["runtime"].as_f64().unwrap() >= 0.0);
}

#[test]
fn retries_with_a_delay_still_make_gnus_count_of_tries() {
    let dir = std::env::temp_dir().join(format!("herd-retry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("tries");
    let job = format!("date +%s.%N >> {}; false", log.display());
    let (code, stdout, _) = run(&[
        "--json",
        "--retries",
        "3",
        "--retry-delay",
        "0.2",
        &job,
        ":::",
        "1",
    ]);
    assert_eq!(code, 1);
    let line: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["attempts"], 3);
    let tries = std::fs::read_to_string(&log).unwrap();
    assert_eq!(tries.lines().count(), 3, "three tries in all");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn completions_and_the_man_page_come_from_the_same_definitions() {
    let completions = herd().args(["completions", "bash"]).output().unwrap();
    assert!(completions.status.success());
    let script = String::from_utf8_lossy(&completions.stdout);
    assert!(
        script.contains("--keep-order") && script.contains("--joblog"),
        "{script}"
    );
    let man = herd().arg("man").output().unwrap();
    assert!(man.status.success());
    let page = String::from_utf8_lossy(&man.stdout);
    assert!(
        page.starts_with(".ie") && page.contains(".TH herd 1"),
        "{page}"
    );
    let run_page = herd().args(["man", "run"]).output().unwrap();
    let run_page = String::from_utf8_lossy(&run_page.stdout);
    assert!(
        run_page.contains("herd\\-run") && run_page.contains("keep\\-order"),
        "{run_page}"
    );
    let fetch_page = herd().args(["man", "fetch"]).output().unwrap();
    let fetch_page = String::from_utf8_lossy(&fetch_page.stdout);
    assert!(
        fetch_page.contains("herd\\-fetch") && fetch_page.contains("per\\-host\\-rate"),
        "{fetch_page}"
    );
    let script = String::from_utf8_lossy(&completions.stdout);
    assert!(script.contains("--per-host-concurrency"), "{script}");
}

#[test]
fn ctrl_c_once_ends_the_run_even_while_input_is_still_open() {
    use std::io::Write;
    let mut child = herd()
        .args(["run", "-j", "2", "sleep 0.5; echo {}"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"first\n").unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: a plain signal to the runner we started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    // The input stays open (stdin is still held here): the runner must not
    // wait for more of it.
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the runner waited for input"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(stdin);
    assert!(status.success());
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out, "first\n");
}

#[test]
fn pipe_streams_a_hundred_megabytes_in_bounded_memory_and_loses_no_byte() {
    // Reaped by wait_with_peak below, which also gives its peak memory.
    #[allow(clippy::zombie_processes)]
    let mut child = herd()
        .args(["run", "--pipe", "--block", "1M", "-j", "2", "wc -c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let line = "a line of input, never split across two jobs\n".repeat(1000);
    let rounds = 100_000_000 / line.len();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        for _ in 0..rounds {
            stdin.write_all(line.as_bytes()).unwrap();
        }
    });
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        out.read_to_string(&mut text).unwrap();
        text
    });
    let (exited_ok, peak_mb) = common::wait_with_peak(&child);
    writer.join().unwrap();
    let text = reader.join().unwrap();
    assert!(exited_ok);
    let sizes: Vec<usize> = text.lines().map(|l| l.trim().parse().unwrap()).collect();
    let block_line = "a line of input, never split across two jobs\n".len();
    assert_eq!(sizes.iter().sum::<usize>(), rounds * 1000 * block_line);
    assert!(
        sizes.len() >= 90,
        "about 1 MiB a block: {} blocks",
        sizes.len()
    );
    assert!(
        sizes.iter().all(|size| size % block_line == 0),
        "a record was split"
    );
    assert!(peak_mb < 50.0, "peak resident {peak_mb:.1} MB");
}

#[test]
fn ctrl_c_twice_sends_term_first_and_logs_the_jobs_that_end_on_it() {
    let dir = std::env::temp_dir().join(format!("herd-term-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let joblog = dir.join("log");
    let marker = "3600.4343";
    // Each job says so when it gets TERM, and ends.
    let job = format!("trap 'echo TERM {{}}; exit 3' TERM; sleep {marker} & wait");
    let child = herd()
        .args(["run", "-j", "2", "--joblog", joblog.to_str().unwrap(), &job])
        .args([":::", "a", "b", "c"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    eventually("two jobs running", || processes_with(marker) >= 2);
    for _ in 0..2 {
        // SAFETY: plain signals to the runner we started.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("TERM a") && stdout.contains("TERM b"),
        "{stdout}"
    );
    assert!(!stdout.contains("TERM c"), "c never started: {stdout}");
    assert_eq!(output.status.code(), Some(2), "two jobs failed");
    let log = std::fs::read_to_string(&joblog).unwrap();
    assert_eq!(log.lines().count(), 3, "a header and both jobs: {log}");
    eventually("no job process left", || processes_with(marker) == 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn line_buffer_with_keep_order_prints_the_oldest_jobs_lines_as_they_come() {
    let dir = std::env::temp_dir().join(format!("herd-lb-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let flag = dir.join("flag");
    // Job 1 prints a line, then waits for the test to answer it; job 2
    // prints at once, but its line waits for its turn.
    let job = format!(
        "if [ {{}} = 1 ]; then echo first; while [ ! -e {} ]; do sleep 0.01; done; echo done; else echo second; fi",
        flag.display()
    );
    let mut child = herd()
        .args([
            "run",
            "-k",
            "--line-buffer",
            "-j",
            "2",
            &job,
            ":::",
            "1",
            "2",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            tx.send(line.unwrap()).unwrap();
        }
    });
    let wait = Duration::from_secs(20);
    // Seen while job 1 still runs: it could not have ended without the flag.
    assert_eq!(rx.recv_timeout(wait).unwrap(), "first");
    std::fs::write(&flag, "").unwrap();
    assert_eq!(rx.recv_timeout(wait).unwrap(), "done");
    assert_eq!(rx.recv_timeout(wait).unwrap(), "second");
    assert!(child.wait().unwrap().success());
    std::fs::remove_dir_all(&dir).unwrap();
}
