//! loom models of the GCRA word: concurrent grants never exceed the burst,
//! and a reservation handed back races a check without losing or
//! inventing a cell.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --lib loom`.

use std::sync::Arc;
use std::time::Duration;

use loom::thread;

use super::Quota;
use super::gcra::Gcra;

/// One cell every 10 ns, burst `burst`.
fn cell(burst: u32) -> Arc<Gcra> {
    Arc::new(Gcra::new(
        Quota::new(1, Duration::from_nanos(10)).burst(burst),
    ))
}

#[test]
fn loom_concurrent_checks_grant_at_most_the_burst() {
    loom::model(|| {
        let gcra = cell(2);
        let others: Vec<_> = (0..2)
            .map(|_| {
                let gcra = gcra.clone();
                thread::spawn(move || gcra.cell().check(1, 0).is_ok())
            })
            .collect();
        let mine = gcra.cell().check(1, 0).is_ok();
        let granted = others
            .into_iter()
            .map(|t| t.join().unwrap())
            .filter(|&ok| ok)
            .count()
            + usize::from(mine);
        assert_eq!(granted, 2, "exactly the burst, never more");
        assert_eq!(gcra.cell().tat(), 20);
    });
}

#[test]
fn loom_a_released_reservation_races_a_check_without_losing_a_cell() {
    loom::model(|| {
        let gcra = cell(1);
        gcra.cell().check(1, 0).unwrap(); // the one cell is taken: TAT = 10
        let waiter = {
            let gcra = gcra.clone();
            thread::spawn(move || {
                let reserved = gcra.cell().reserve(1, 0, u64::MAX).unwrap();
                assert!(reserved.slot >= 10);
                gcra.cell().release(&reserved); // cancelled before its slot
            })
        };
        let granted = gcra.cell().check(1, 10).is_ok();
        waiter.join().unwrap();
        // The reservation left no trace: the check's cell is the only one
        // taken after the first.
        assert_eq!(gcra.cell().tat(), 10 + 10 * u64::from(granted));
    });
}
