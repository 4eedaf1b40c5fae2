//! The classic deadlock: two tasks take the same two locks in opposite
//! orders. Without diagnostics both wait forever; with them, the wait that
//! closes the cycle is refused (a `lock()` cannot return an error, so it
//! panics with the report) and the other task finishes.
//!
//! Run: `cargo run --example bug-abba`

#[path = "common.rs"]
mod common;

use std::sync::Arc;

use herd::diag::Report;
use herd::sync::Mutex;
use herd::task::{Policy, Scope};

/// Runs the two transfers; returns the deadlock report.
pub fn run() -> Report {
    common::enable();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let checking = Arc::new(Mutex::named("checking", 100));
        let savings = Arc::new(Mutex::named("savings", 100));
        let both_hold = Arc::new(tokio::sync::Barrier::new(2));
        let bank = Scope::<(), ()>::builder()
            .name("bank")
            .policy(Policy::Supervise)
            .build();
        for (name, from, to) in [
            ("checking->savings", &checking, &savings),
            ("savings->checking", &savings, &checking),
        ] {
            let (from, to, both_hold) = (from.clone(), to.clone(), both_hold.clone());
            bank.spawn_named(name, async move {
                let mut from = from.lock().await;
                both_hold.wait().await;
                let mut to = to.lock().await; // the second lock, in the other order
                *from -= 10;
                *to += 10;
                Ok(())
            })
            .await
            .unwrap();
        }
        let outcomes = bank.join_all().await;
        println!("outcomes: {outcomes:?}");
        let total = *checking.lock().await + *savings.lock().await;
        assert_eq!(total, 200, "no money made or lost");
    });
    common::report(|r| matches!(r, Report::Deadlock(d) if d.to_string().contains("\"checking\"")))
        .expect("the deadlock is reported")
}

#[allow(dead_code)]
fn main() {
    println!("{}", run());
}
