//! A lock held across a slow `.await`: the holder sits idle waiting for I/O
//! while another task waits for the lock. Nothing is deadlocked, so nothing
//! errors; the watchdog reports the stalled wait with the holder, where it
//! took the lock, and that it is idle.
//!
//! Run: `cargo run --example bug-held-across-await`

#[path = "common.rs"]
mod common;

use std::sync::Arc;

use herd::diag::Report;
use herd::sync::Mutex;
use herd::task::Scope;

/// Runs the holder and the waiter; returns the stall report.
pub fn run() -> Report {
    common::enable();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let cache = Arc::new(Mutex::named("cache", 0));
        let reply = Arc::new(tokio::sync::Notify::new());
        let locked = Arc::new(tokio::sync::Barrier::new(2));
        let scope = Scope::<(), ()>::builder().name("server").build();
        scope
            .spawn_named("refresh", {
                let (cache, reply, locked) = (cache.clone(), reply.clone(), locked.clone());
                async move {
                    let mut cache = cache.lock().await;
                    locked.wait().await;
                    reply.notified().await; // a slow upstream call, lock still held
                    *cache += 1;
                    Ok(())
                }
            })
            .await
            .unwrap();
        locked.wait().await;
        scope
            .spawn_named("read", {
                let cache = cache.clone();
                async move {
                    let _ = *cache.lock().await;
                    Ok(())
                }
            })
            .await
            .unwrap();
        let found = tokio::task::spawn_blocking(|| {
            common::report(
                |r| matches!(r, Report::Stalled(s) if s.resource.name() == Some("cache")),
            )
        })
        .await
        .unwrap();
        reply.notify_one(); // the upstream answers; everything finishes
        scope.join().await.unwrap();
        found.expect("the stalled wait is reported")
    })
}

#[allow(dead_code)]
fn main() {
    println!("{}", run());
}
