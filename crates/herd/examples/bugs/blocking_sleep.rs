//! `std::thread::sleep` inside async code: the task blocks its worker
//! thread, and every other task on it waits. The watchdog names the task
//! and where it was spawned.
//!
//! Run: `cargo run --example bug-blocking-sleep`

#[path = "common.rs"]
mod common;

use std::time::Duration;

use herd::diag::Report;
use herd::task::Scope;

/// Runs the blocking task; returns the slow-poll report.
pub fn run() -> Report {
    common::enable();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let scope = Scope::<(), ()>::builder().name("handlers").build();
        scope
            .spawn_named("resize-image", async {
                std::thread::sleep(Duration::from_millis(200)); // should be spawn_blocking
                Ok(())
            })
            .await
            .unwrap();
        scope.join().await.unwrap();
    });
    common::report(
        |r| matches!(r, Report::SlowPoll(s) if s.task.name.as_deref() == Some("resize-image")),
    )
    .expect("the blocking poll is reported")
}

#[allow(dead_code)]
fn main() {
    println!("{}", run());
}
