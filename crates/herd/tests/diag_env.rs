//! `HERD_DIAG` switches diagnostics on for a whole process, read once when
//! the first scope or lock is made. Each case runs this test binary again
//! as a fresh process with the variable set, so nothing is switched on in
//! the process running the tests.

use std::process::Command;

/// Runs only as a child of `herd_diag_switches_diagnostics_on`: reports
/// through its exit status whether diagnostics came on.
#[test]
fn child_reports_whether_diagnostics_are_on() {
    let Some(expected) = std::env::var_os("HERD_DIAG_EXPECT") else {
        return;
    };
    assert!(
        !herd::diag::is_enabled(),
        "nothing is on before the first scope"
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let scope = herd::task::Scope::<(), ()>::new();
        scope.join().await.unwrap();
    });
    assert_eq!(herd::diag::is_enabled(), expected == "on");
}

fn child(herd_diag: Option<&str>, expect: &str) -> bool {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--exact",
            "child_reports_whether_diagnostics_are_on",
            "--test-threads",
            "1",
        ])
        .env("HERD_DIAG_EXPECT", expect)
        .env_remove("HERD_DIAG");
    if let Some(value) = herd_diag {
        command.env("HERD_DIAG", value);
    }
    command.output().unwrap().status.success()
}

#[test]
fn herd_diag_switches_diagnostics_on() {
    assert!(child(Some("1"), "on"), "HERD_DIAG=1 turns them on");
    assert!(child(Some("0"), "off"), "HERD_DIAG=0 leaves them off");
    assert!(child(Some(""), "off"), "an empty HERD_DIAG leaves them off");
    assert!(child(None, "off"), "no HERD_DIAG leaves them off");
    // The child really checks: it fails when told the wrong thing.
    assert!(!child(Some("1"), "off"));
}
