//! Shared by the bug programs: diagnostics on, and a wait for the report.

use std::time::{Duration, Instant};

use herd::diag::{self, Config, Report};

/// Diagnostics on, with a wait reported as stalled after 250 ms.
pub fn enable() {
    diag::enable_with(Config::default().stalled_wait(Duration::from_millis(250)));
}

/// The first report `matching` picks out, waiting up to one second for
/// the watchdog to make it.
pub fn report(matching: impl Fn(&Report) -> bool) -> Option<Report> {
    let until = Instant::now() + Duration::from_secs(1);
    loop {
        if let Some(found) = diag::recent().into_iter().find(|r| matching(r)) {
            return Some(found);
        }
        if Instant::now() > until {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
