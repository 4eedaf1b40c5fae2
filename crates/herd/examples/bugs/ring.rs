//! A three-way cycle across OS threads: each holds one lock and wants the
//! next. The third wait closes the ring; it is refused with every thread
//! and lock named.
//!
//! Run: `cargo run --example bug-ring`

#[path = "common.rs"]
mod common;

use std::sync::{Arc, Barrier};

use herd::diag::Report;
use herd::sync::Mutex;

/// Runs the three threads; returns the deadlock report.
pub fn run() -> Report {
    common::enable();
    let forks: Arc<Vec<Mutex<()>>> = Arc::new(
        (0..3)
            .map(|i| Mutex::named(format!("fork-{i}"), ()))
            .collect(),
    );
    let all_hold = Arc::new(Barrier::new(3));
    let philosophers: Vec<_> = (0..3)
        .map(|i| {
            let (forks, all_hold) = (forks.clone(), all_hold.clone());
            std::thread::Builder::new()
                .name(format!("philosopher-{i}"))
                .spawn(move || {
                    let _left = forks[i].lock_blocking();
                    all_hold.wait();
                    let _right = forks[(i + 1) % 3].lock_blocking();
                })
                .unwrap()
        })
        .collect();
    let panicked = philosophers
        .into_iter()
        .map(|p| p.join())
        .filter(Result::is_err)
        .count();
    println!("{panicked} philosopher was refused; the others ate");
    common::report(|r| matches!(r, Report::Deadlock(d) if d.to_string().contains("\"fork-")))
        .expect("the deadlock is reported")
}

#[allow(dead_code)]
fn main() {
    println!("{}", run());
}
