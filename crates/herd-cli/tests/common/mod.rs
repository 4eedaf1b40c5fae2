//! Helpers the CLI's test files share.

#![allow(dead_code)] // each test file uses the part it needs

use std::process::Child;
use std::time::{Duration, Instant};

/// Waits, polling every 10 ms, until `done`; fails the test after 20 s.
pub fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "gave up waiting: {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits for `child` (whose pipes the caller has taken) and returns
/// whether it exited 0, and its own peak resident size in MB, whatever
/// other tests' children use (`wait4`, not `RUSAGE_CHILDREN`).
pub fn wait_with_peak(child: &Child) -> (bool, f64) {
    // SAFETY: waits for our own child; wait4 fills both out-values.
    let (status, usage) = unsafe {
        let mut status = 0;
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
        let pid = libc::wait4(child.id() as i32, &mut status, 0, usage.as_mut_ptr());
        assert_eq!(pid, child.id() as i32);
        (status, usage.assume_init())
    };
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    (ok, usage.ru_maxrss as f64 / 1024.0)
}
