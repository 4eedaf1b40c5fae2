//! Each program in `examples/bugs/` hangs or misbehaves without herd's
//! diagnostics; with them, its report names the right tasks and locks
//! within one second of the bug forming. The programs run here as they do
//! from `cargo run --example`.

// Each program includes the shared `common.rs` itself, as it must to build
// as an example on its own.
#![allow(clippy::duplicate_mod)]

#[path = "../examples/bugs/abba.rs"]
mod abba;
#[path = "../examples/bugs/blocking_sleep.rs"]
mod blocking_sleep;
#[path = "../examples/bugs/held_across_await.rs"]
mod held_across_await;
#[path = "../examples/bugs/leaked_permit.rs"]
mod leaked_permit;
#[path = "../examples/bugs/ring.rs"]
mod ring;

use herd::diag::{PartyKind, PartyState, Report};

#[test]
fn abba_across_async_mutexes_names_both_tasks_and_both_locks() {
    let Report::Deadlock(deadlock) = abba::run() else {
        panic!()
    };
    assert_eq!(deadlock.cycle.len(), 2);
    let mut tasks: Vec<_> = deadlock
        .cycle
        .iter()
        .map(|l| l.waiter.name.clone().unwrap())
        .collect();
    tasks.sort();
    assert_eq!(tasks, ["checking->savings", "savings->checking"]);
    let mut locks: Vec<_> = deadlock
        .cycle
        .iter()
        .map(|l| l.resource.to_string())
        .collect();
    locks.sort();
    assert_eq!(locks, ["Mutex \"checking\"", "Mutex \"savings\""]);
    for link in &deadlock.cycle {
        assert_eq!(link.waiter.scope.as_deref(), Some("bank"));
        assert!(link.held_at.file().ends_with("abba.rs"), "{}", link.held_at);
    }
}

#[test]
fn a_three_way_cycle_across_threads_names_every_thread_and_lock() {
    let Report::Deadlock(deadlock) = ring::run() else {
        panic!()
    };
    assert_eq!(deadlock.cycle.len(), 3);
    for (i, link) in deadlock.cycle.iter().enumerate() {
        assert_eq!(link.waiter.kind, PartyKind::Thread);
        assert!(
            link.waiter
                .name
                .as_deref()
                .unwrap()
                .starts_with("philosopher-")
        );
        assert!(link.resource.name().unwrap().starts_with("fork-"));
        let next = &deadlock.cycle[(i + 1) % 3];
        assert_eq!(
            link.holder, next.waiter,
            "each holder waits in the next link"
        );
    }
}

#[test]
fn a_blocking_sleep_in_async_names_the_task_and_its_spawn_site() {
    let Report::SlowPoll(slow) = blocking_sleep::run() else {
        panic!()
    };
    assert_eq!(slow.task.name.as_deref(), Some("resize-image"));
    assert_eq!(slow.task.scope.as_deref(), Some("handlers"));
    assert!(
        slow.task
            .spawned_at
            .unwrap()
            .file()
            .ends_with("blocking_sleep.rs")
    );
}

#[test]
fn a_lock_held_across_an_await_names_the_idle_holder_and_the_waiter() {
    let Report::Stalled(stalled) = held_across_await::run() else {
        panic!()
    };
    assert_eq!(stalled.waiter.name.as_deref(), Some("read"));
    assert_eq!(stalled.holders.len(), 1);
    let holder = &stalled.holders[0];
    assert_eq!(holder.party.name.as_deref(), Some("refresh"));
    assert!(
        matches!(holder.state, PartyState::Idle { .. }),
        "{:?}",
        holder.state
    );
    assert!(holder.at.file().ends_with("held_across_await.rs"));
}

#[test]
fn a_leaked_permit_names_the_finished_task_that_took_it() {
    let Report::Stalled(stalled) = leaked_permit::run() else {
        panic!()
    };
    let holder = &stalled.holders[0];
    assert_eq!(holder.party.name.as_deref(), Some("import"));
    assert_eq!(holder.state, PartyState::Finished);
    assert!(stalled.to_string().contains("leaked"));
}
