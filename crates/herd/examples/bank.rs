//! Bank transfers under contention: tasks on two runtime workers and two
//! plain threads move money between eight accounts, each behind its own
//! herd `Mutex`, taking the two locks of a transfer in account order. The
//! total never changes, nothing deadlocks, and herd's diagnostics (on for
//! the whole run) report nothing. Then one transfer takes its locks the
//! other way round: it does not hang this time, but herd has learned the
//! order and names the reversal as a potential deadlock.
//!
//! Run it with `cargo run --example bank`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use herd::diag::Report;
use herd::sync::Mutex;
use herd::task::Scope;

const ACCOUNTS: usize = 8;
const OPENING: u64 = 1_000;
const TASKS: usize = 8;
const THREADS: usize = 2;
const TRANSFERS: usize = 5_000;

type Accounts = Arc<Vec<Mutex<u64>>>;

/// A small deterministic generator, so each run makes the same transfers.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }

    /// Two different accounts and an amount.
    fn transfer(&mut self) -> (usize, usize, u64) {
        let from = self.roll(ACCOUNTS as u64) as usize;
        let to = (from + 1 + self.roll(ACCOUNTS as u64 - 1) as usize) % ACCOUNTS;
        (from, to, 1 + self.roll(200))
    }
}

/// Counts of what happened.
#[derive(Default)]
struct Books {
    moved: AtomicU64,
    refused: AtomicU64,
}

impl Books {
    /// Records a transfer: moves `amount` if `from` has it.
    fn settle(&self, from: &mut u64, to: &mut u64, amount: u64) {
        if *from >= amount {
            *from -= amount;
            *to += amount;
            self.moved.fetch_add(1, Ordering::Relaxed);
        } else {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    herd::diag::enable();
    let accounts: Accounts = Arc::new(
        (0..ACCOUNTS)
            .map(|i| Mutex::named(format!("account-{i}"), OPENING))
            .collect(),
    );
    let books = Arc::new(Books::default());

    // Async transfers: lock the lower-numbered account first, always.
    let scope = Scope::<(), String>::builder().name("bank").build();
    for task in 0..TASKS {
        let (accounts, books) = (accounts.clone(), books.clone());
        scope
            .spawn_named(format!("teller-{task}"), async move {
                let mut dice = Dice(0x9E37_79B9 + task as u64);
                for _ in 0..TRANSFERS {
                    let (from, to, amount) = dice.transfer();
                    let (first, second) = (from.min(to), from.max(to));
                    let mut a = accounts[first].lock().await;
                    let mut b = accounts[second].lock().await;
                    let (from_balance, to_balance) = if from == first {
                        (&mut *a, &mut *b)
                    } else {
                        (&mut *b, &mut *a)
                    };
                    books.settle(from_balance, to_balance, amount);
                    drop((a, b));
                    tokio::task::yield_now().await;
                }
                Ok(())
            })
            .await
            .expect("the scope is open");
    }
    // Threads use the same locks, blocking, in the same order.
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (accounts, books) = (accounts.clone(), books.clone());
            std::thread::Builder::new()
                .name(format!("batch-{t}"))
                .spawn(move || {
                    let mut dice = Dice(0xC0FF_EE00 + t as u64);
                    for _ in 0..TRANSFERS {
                        let (from, to, amount) = dice.transfer();
                        let (first, second) = (from.min(to), from.max(to));
                        let mut a = accounts[first].lock_blocking();
                        let mut b = accounts[second].lock_blocking();
                        if from == first {
                            books.settle(&mut a, &mut b, amount);
                        } else {
                            books.settle(&mut b, &mut a, amount);
                        }
                    }
                })
                .expect("starting a thread")
        })
        .collect();
    scope.join().await.expect("no teller fails");
    for thread in threads {
        thread.join().expect("no batch thread panics");
    }

    let balances: Vec<u64> = accounts.iter().map(|a| *a.lock_blocking()).collect();
    let total: u64 = balances.iter().sum();
    let moved = books.moved.load(Ordering::Relaxed);
    let refused = books.refused.load(Ordering::Relaxed);
    println!("balances: {balances:?}");
    println!(
        "{} transfers: {moved} moved money, {refused} refused for want of funds",
        moved + refused
    );
    println!("total: {total} (opened with {})", OPENING * ACCOUNTS as u64);
    assert_eq!(total, OPENING * ACCOUNTS as u64, "money was made or lost");
    assert_eq!(moved + refused, ((TASKS + THREADS) * TRANSFERS) as u64);
    let problems = |reports: &[Report]| {
        reports
            .iter()
            .filter(|r| matches!(r, Report::Deadlock(_) | Report::LockOrder(_)))
            .count()
    };
    let reports = herd::diag::recent();
    println!(
        "diagnostics: {} deadlock or lock-order reports",
        problems(&reports)
    );
    assert_eq!(problems(&reports), 0, "{reports:?}");

    // One transfer the other way round: account-5, then account-2.
    {
        let _late = accounts[5].lock().await;
        let _early = accounts[2].lock().await;
    }
    let reversed: Vec<Report> = herd::diag::recent()
        .into_iter()
        .filter(|r| matches!(r, Report::LockOrder(_)))
        .collect();
    println!("after one transfer with its locks reversed:");
    for report in &reversed {
        println!("  {report}");
    }
    assert_eq!(reversed.len(), 1, "the reversal is named once");
}
