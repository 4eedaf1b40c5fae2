//! A permit leaked by a forgotten guard: a worker `mem::forget`s its
//! permit and ends; the pool has one permit fewer for good, and the next
//! caller waits forever. The watchdog names the finished task that took it
//! and where.
//!
//! Run: `cargo run --example bug-leaked-permit`

#[path = "common.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use herd::diag::Report;
use herd::sync::Semaphore;
use herd::task::Scope;

/// Runs the leaky worker and a later caller; returns the stall report.
pub fn run() -> Report {
    common::enable();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let connections = Arc::new(Semaphore::named("connections", 1));
        let scope = Scope::<(), ()>::builder().name("workers").build();
        scope
            .spawn_named("import", {
                let connections = connections.clone();
                async move {
                    let permit = connections.acquire().await.unwrap();
                    std::mem::forget(permit); // meant to keep it "until later"
                    Ok(())
                }
            })
            .await
            .unwrap();
        scope.join().await.unwrap();
        let next = tokio::spawn({
            let connections = connections.clone();
            async move {
                connections
                    .acquire_timeout(Duration::from_secs(2))
                    .await
                    .map(drop)
            }
        });
        let found = tokio::task::spawn_blocking(|| {
            common::report(
                |r| matches!(r, Report::Stalled(s) if s.resource.name() == Some("connections")),
            )
        })
        .await
        .unwrap();
        println!("the next caller: {:?}", next.await.unwrap());
        found.expect("the leaked permit is reported")
    })
}

#[allow(dead_code)]
fn main() {
    println!("{}", run());
}
