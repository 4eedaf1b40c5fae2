//! GNU parallel compatibility: every case in `tests/compat/cases.txt` is
//! run with `parallel` standing for `herd run`, and its standard output
//! and exit status must match what GNU parallel itself produced
//! (`tests/compat/expected/`, recorded by `tests/compat/record.sh`).

use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn herd_run_matches_gnu_parallel_on_every_case() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat");
    let cases = std::fs::read_to_string(here.join("cases.txt")).unwrap();
    let herd = env!("CARGO_BIN_EXE_herd");
    let mut failures = Vec::new();
    let mut count = 0;
    for line in cases.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, command) = line.split_once('\t').expect("name<TAB>command");
        count += 1;
        let work = std::env::temp_dir().join(format!("herd-compat-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&work).unwrap();
        let script = format!("parallel() {{ \"{herd}\" run \"$@\"; }}; {command}");
        let output = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(&work)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .unwrap();
        std::fs::remove_dir_all(&work).unwrap();
        let got = format!(
            "{}exit:{}",
            String::from_utf8_lossy(&output.stdout),
            output.status.code().unwrap_or(-1)
        );
        let expected = std::fs::read_to_string(here.join("expected").join(name)).unwrap();
        if got != expected {
            failures.push(format!(
                "--- {name}: {command}\nexpected:\n{expected}\ngot:\n{got}"
            ));
        }
    }
    assert!(count >= 50, "only {count} cases");
    assert!(
        failures.is_empty(),
        "{} of {count} cases differ from GNU parallel:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
