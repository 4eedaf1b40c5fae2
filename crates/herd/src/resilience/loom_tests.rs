//! loom models of the circuit breaker's half-open spell: probes are
//! reserved exactly, and a dropped probe's place goes back to its own
//! spell only.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --lib loom`.

use std::time::Duration;

use loom::thread;

use super::{BreakerState, CircuitBreaker};

fn opened(probes: u32) -> CircuitBreaker {
    let breaker = CircuitBreaker::builder()
        .minimum_calls(1)
        .probes(probes)
        .open_for(Duration::ZERO)
        .build();
    breaker.try_acquire().unwrap().failure();
    breaker
}

#[test]
fn loom_two_threads_racing_for_one_probe_get_one() {
    loom::model(|| {
        let breaker = opened(1);
        let other = {
            let breaker = breaker.clone();
            thread::spawn(move || breaker.try_acquire().ok())
        };
        let mine = breaker.try_acquire().ok();
        let theirs = other.join().unwrap();
        assert_eq!(
            usize::from(mine.is_some()) + usize::from(theirs.is_some()),
            1
        );
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
    });
}

#[test]
fn loom_a_failed_probe_racing_a_dropped_one_leaves_the_breaker_open() {
    loom::model(|| {
        let breaker = opened(2);
        let first = breaker.try_acquire().unwrap();
        let second = breaker.try_acquire().unwrap();
        let dropper = thread::spawn(move || drop(second));
        first.failure();
        dropper.join().unwrap();
        // The spell ended with the failure; the dropped probe's place went
        // nowhere, and the next spell starts full.
        assert_eq!(breaker.state(), BreakerState::Open);
        let next: Vec<_> = (0..3).filter_map(|_| breaker.try_acquire().ok()).collect();
        assert_eq!(next.len(), 2);
    });
}
