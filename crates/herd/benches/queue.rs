//! Throughput of herd's bounded queue next to tokio's `mpsc`,
//! async-channel, flume, kanal and crossbeam-channel.
//!
//! Every queue holds at most [`CAP`] `u64`s. One iteration makes a queue,
//! starts the producers and consumers, moves [`M`] messages from the first
//! to the second and waits until every message is received and every
//! producer and consumer has finished. The async groups run producer and
//! consumer tasks on a two-worker multi-thread runtime (the iteration
//! itself runs in a task on a worker); `blocking_mpmc_4_4` runs OS threads
//! with blocking calls, from the bench thread. Each group holds herd and
//! its peers, measured one after another in the same process, and each
//! benchmark is run once and checked before it is timed: exactly [`M`]
//! messages arrive (or, under drop-oldest, arrive or come back evicted),
//! and their sum is that of `0..M`.
//!
//! `herd` is the default queue, which uses tokio's cooperative task budget
//! (a unit per completed send and receive, as tokio's `mpsc` does);
//! `herd_no_budget` is built with `cooperative(false)`, as the other peers
//! run (they do not use the budget).
//! `stall_mpmc_4_4` reports not throughput but, per iteration of
//! `mpmc_4_4`, the longest wait for a turn of a probe task on the same
//! runtime.
//!
//! Run with `cargo bench -p herd --bench queue`.

use std::future::Future;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput};
use herd::queue::{Builder, Overflow, Sent};
use tokio::runtime::Runtime;

mod common;
use common::{bench_async, once, runtime};

/// Capacity of every queue.
const CAP: usize = 1024;
/// Messages per iteration.
const M: u64 = 100_000;

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(M));
}

/// What one iteration moved: messages received by the consumers, messages
/// handed back to the producers as evicted, and the sum of both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Tally {
    received: u64,
    evicted: u64,
    sum: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.received += other.received;
        self.evicted += other.evicted;
        self.sum += other.sum;
    }
}

/// Checks one iteration's result before the benchmark is timed. Only a
/// drop-oldest queue may evict.
fn check(name: &str, tally: Tally, may_evict: bool) {
    assert_eq!(
        tally.received + tally.evicted,
        M,
        "{name}: messages received + evicted"
    );
    assert_eq!(
        tally.sum,
        (0..M).sum::<u64>(),
        "{name}: sum of the messages"
    );
    if may_evict {
        eprintln!(
            "{name}: check run received {} and evicted {} of {M}",
            tally.received, tally.evicted
        );
    } else {
        assert_eq!(tally.evicted, 0, "{name}: evicted under backpressure");
    }
}

/// The messages producer `p` of `producers` sends: its share of `0..M`.
fn share(p: u64, producers: u64) -> std::ops::Range<u64> {
    p * M / producers..(p + 1) * M / producers
}

/// `rx` and `consumers - 1` clones of it.
fn fan<R: Clone>(rx: R, consumers: u64) -> Vec<R> {
    let mut rxs: Vec<R> = (1..consumers).map(|_| rx.clone()).collect();
    rxs.push(rx);
    rxs
}

// ---- async producers and consumers ----------------------------------------

/// The sending side of an async queue.
trait AsyncTx: Clone + Send + 'static {
    /// Sends `v`, waiting for room; returns an item the queue evicted.
    fn put(&self, v: u64) -> impl Future<Output = Option<u64>> + Send;
}

/// The receiving side of an async queue.
trait AsyncRx: Send + 'static {
    /// Waits for a message; `None` once every sender is gone and the queue
    /// is drained.
    fn take(&mut self) -> impl Future<Output = Option<u64>> + Send;
}

impl AsyncTx for herd::queue::Sender<u64> {
    async fn put(&self, v: u64) -> Option<u64> {
        match self.send(v).await.expect("herd send") {
            Sent::Queued => None,
            Sent::Evicted(old) => Some(old),
            Sent::Dropped(_) => panic!("herd dropped a message"),
        }
    }
}

impl AsyncRx for herd::queue::Receiver<u64> {
    async fn take(&mut self) -> Option<u64> {
        self.recv().await.ok()
    }
}

impl AsyncTx for tokio::sync::mpsc::Sender<u64> {
    async fn put(&self, v: u64) -> Option<u64> {
        self.send(v).await.expect("tokio send");
        None
    }
}

impl AsyncRx for tokio::sync::mpsc::Receiver<u64> {
    async fn take(&mut self) -> Option<u64> {
        self.recv().await
    }
}

impl AsyncTx for async_channel::Sender<u64> {
    async fn put(&self, v: u64) -> Option<u64> {
        self.send(v).await.expect("async-channel send");
        None
    }
}

impl AsyncRx for async_channel::Receiver<u64> {
    async fn take(&mut self) -> Option<u64> {
        self.recv().await.ok()
    }
}

impl AsyncTx for flume::Sender<u64> {
    async fn put(&self, v: u64) -> Option<u64> {
        self.send_async(v).await.expect("flume send");
        None
    }
}

impl AsyncRx for flume::Receiver<u64> {
    async fn take(&mut self) -> Option<u64> {
        self.recv_async().await.ok()
    }
}

impl AsyncTx for kanal::AsyncSender<u64> {
    async fn put(&self, v: u64) -> Option<u64> {
        self.send(v).await.expect("kanal send");
        None
    }
}

impl AsyncRx for kanal::AsyncReceiver<u64> {
    async fn take(&mut self) -> Option<u64> {
        self.recv().await.ok()
    }
}

/// Spawns one task per receiver in `rxs` and `producers` tasks that send
/// their shares of `0..M` through clones of `tx`; waits for all of them.
async fn run_async<S: AsyncTx, R: AsyncRx>(tx: S, rxs: Vec<R>, producers: u64) -> Tally {
    let consumers: Vec<_> = rxs
        .into_iter()
        .map(|mut rx| {
            tokio::spawn(async move {
                let mut tally = Tally::default();
                while let Some(v) = rx.take().await {
                    tally.received += 1;
                    tally.sum += v;
                }
                tally
            })
        })
        .collect();
    let producers: Vec<_> = (0..producers)
        .map(|p| {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut tally = Tally::default();
                for v in share(p, producers) {
                    if let Some(old) = tx.put(v).await {
                        tally.evicted += 1;
                        tally.sum += old;
                    }
                }
                tally
            })
        })
        .collect();
    drop(tx);
    let mut tally = Tally::default();
    for handle in producers.into_iter().chain(consumers) {
        tally.add(handle.await.expect("producer or consumer panicked"));
    }
    tally
}

async fn herd_async(producers: u64, consumers: u64) -> Tally {
    let (tx, rx) = herd::queue::bounded(CAP);
    run_async(tx, fan(rx, consumers), producers).await
}

/// herd without tokio's cooperative budget, as the peers other than tokio
/// run: what the budget costs when nothing else waits.
async fn herd_no_budget(producers: u64, consumers: u64) -> Tally {
    let (tx, rx) = Builder::new(CAP).cooperative(false).build();
    run_async(tx, fan(rx, consumers), producers).await
}

async fn herd_drop_oldest(producers: u64, consumers: u64) -> Tally {
    let (tx, rx) = Builder::new(CAP).overflow(Overflow::DropOldest).build();
    run_async(tx, fan(rx, consumers), producers).await
}

async fn tokio_mpsc(producers: u64, consumers: u64) -> Tally {
    assert_eq!(consumers, 1, "tokio's mpsc has one receiver");
    let (tx, rx) = tokio::sync::mpsc::channel(CAP);
    run_async(tx, vec![rx], producers).await
}

async fn async_channel_async(producers: u64, consumers: u64) -> Tally {
    let (tx, rx) = async_channel::bounded(CAP);
    run_async(tx, fan(rx, consumers), producers).await
}

async fn flume_async(producers: u64, consumers: u64) -> Tally {
    let (tx, rx) = flume::bounded(CAP);
    run_async(tx, fan(rx, consumers), producers).await
}

async fn kanal_async(producers: u64, consumers: u64) -> Tally {
    let (tx, rx) = kanal::bounded_async(CAP);
    run_async(tx, fan(rx, consumers), producers).await
}

/// One async group: `producers` producer tasks and `consumers` consumer
/// tasks, for herd and its peers (tokio's `mpsc` only with one consumer).
fn async_group(c: &mut Criterion, rt: &Runtime, name: &str, producers: u64, consumers: u64) {
    // Each peer's body is its own future type, so the cases are listed by
    // a macro rather than in an array.
    macro_rules! cases {
        ($each:ident) => {
            $each!("herd", herd_async);
            $each!("herd_no_budget", herd_no_budget);
            if consumers == 1 {
                $each!("tokio_mpsc", tokio_mpsc);
            }
            $each!("async_channel", async_channel_async);
            $each!("flume", flume_async);
            $each!("kanal", kanal_async);
        };
    }
    macro_rules! check_case {
        ($id:expr, $body:expr) => {
            check(
                &format!("{name}/{}", $id),
                once(rt, move || $body(producers, consumers)),
                false,
            )
        };
    }
    cases!(check_case);

    let mut group = c.benchmark_group(name);
    configure(&mut group);
    macro_rules! bench_case {
        ($id:expr, $body:expr) => {
            bench_async(&mut group, rt, $id, move || $body(producers, consumers))
        };
    }
    cases!(bench_case);
    group.finish();
}

// ---- stall_mpmc_4_4 ---------------------------------------------------------

/// Runs `body` beside a probe task that only yields, and returns `body`'s
/// tally with the longest time the probe waited for a turn: how long the
/// queue's tasks kept a worker from the other tasks (and timers) queued
/// on it.
async fn with_probe<F: Future<Output = Tally>>(body: F) -> (Tally, Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let probe = tokio::spawn({
        let stop = stop.clone();
        async move {
            let mut longest = Duration::ZERO;
            let mut last = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                tokio::task::yield_now().await;
                let now = Instant::now();
                longest = longest.max(now - last);
                last = now;
            }
            longest
        }
    });
    let tally = body.await;
    stop.store(true, Ordering::Relaxed);
    (tally, probe.await.expect("probe panicked"))
}

/// `mpmc_4_4` again, each iteration beside a probe task; the time reported
/// is not the iteration's but the probe's longest wait for a turn in it.
fn stall_mpmc(c: &mut Criterion, rt: &Runtime) {
    let mut group = c.benchmark_group("stall_mpmc_4_4");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    macro_rules! cases {
        ($each:ident) => {
            $each!("herd", herd_async);
            $each!("herd_no_budget", herd_no_budget);
            $each!("async_channel", async_channel_async);
            $each!("flume", flume_async);
            $each!("kanal", kanal_async);
        };
    }
    macro_rules! bench_case {
        ($id:expr, $body:expr) => {
            group.bench_function($id, |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async move {
                        tokio::spawn(async move {
                            let mut stalls = Duration::ZERO;
                            for _ in 0..iters {
                                let (tally, stall) = with_probe($body(4, 4)).await;
                                assert_eq!(tally.received, M);
                                stalls += stall;
                            }
                            stalls
                        })
                        .await
                        .expect("benchmark body panicked")
                    })
                })
            })
        };
    }
    cases!(bench_case);
    group.finish();
}

// ---- policy_spsc ----------------------------------------------------------

fn policy_spsc(c: &mut Criterion, rt: &Runtime) {
    check(
        "policy_spsc/herd_block",
        once(rt, || herd_async(1, 1)),
        false,
    );
    check(
        "policy_spsc/herd_drop_oldest",
        once(rt, || herd_drop_oldest(1, 1)),
        true,
    );

    let mut group = c.benchmark_group("policy_spsc");
    configure(&mut group);
    bench_async(&mut group, rt, "herd_block", || herd_async(1, 1));
    bench_async(&mut group, rt, "herd_drop_oldest", || {
        herd_drop_oldest(1, 1)
    });
    group.finish();
}

// ---- blocking_mpmc_4_4 ----------------------------------------------------

/// The sending side of a queue, used from threads.
trait BlockingTx: Clone + Send {
    /// Sends `v`, blocking for room.
    fn put(&self, v: u64);
}

/// The receiving side of a queue, used from threads.
trait BlockingRx: Clone + Send {
    /// Blocks for a message; `None` once every sender is gone and the queue
    /// is drained.
    fn take(&self) -> Option<u64>;
}

impl BlockingTx for herd::queue::Sender<u64> {
    fn put(&self, v: u64) {
        let sent = self.send_blocking(v).expect("herd send_blocking");
        assert_eq!(sent, Sent::Queued, "herd did not queue a message");
    }
}

impl BlockingRx for herd::queue::Receiver<u64> {
    fn take(&self) -> Option<u64> {
        self.recv_blocking().ok()
    }
}

impl BlockingTx for crossbeam_channel::Sender<u64> {
    fn put(&self, v: u64) {
        self.send(v).expect("crossbeam send");
    }
}

impl BlockingRx for crossbeam_channel::Receiver<u64> {
    fn take(&self) -> Option<u64> {
        self.recv().ok()
    }
}

impl BlockingTx for flume::Sender<u64> {
    fn put(&self, v: u64) {
        self.send(v).expect("flume send");
    }
}

impl BlockingRx for flume::Receiver<u64> {
    fn take(&self) -> Option<u64> {
        self.recv().ok()
    }
}

impl BlockingTx for kanal::Sender<u64> {
    fn put(&self, v: u64) {
        self.send(v).expect("kanal send");
    }
}

impl BlockingRx for kanal::Receiver<u64> {
    fn take(&self) -> Option<u64> {
        self.recv().ok()
    }
}

impl BlockingTx for async_channel::Sender<u64> {
    fn put(&self, v: u64) {
        self.send_blocking(v).expect("async-channel send_blocking");
    }
}

impl BlockingRx for async_channel::Receiver<u64> {
    fn take(&self) -> Option<u64> {
        self.recv_blocking().ok()
    }
}

/// Producer and consumer threads in `blocking_mpmc_4_4`, each.
const THREADS: u64 = 4;

/// Starts [`THREADS`] consumer threads on clones of `rx` and [`THREADS`]
/// producer threads that send their shares of `0..M` through clones of
/// `tx`, all together (a `Barrier`); waits for all of them.
fn run_threads<S: BlockingTx, R: BlockingRx>(tx: S, rx: R) -> Tally {
    let start = Barrier::new(2 * THREADS as usize);
    let start = &start;
    std::thread::scope(|scope| {
        let consumers: Vec<_> = fan(rx, THREADS)
            .into_iter()
            .map(|rx| {
                scope.spawn(move || {
                    start.wait();
                    let mut tally = Tally::default();
                    while let Some(v) = rx.take() {
                        tally.received += 1;
                        tally.sum += v;
                    }
                    tally
                })
            })
            .collect();
        let producers: Vec<_> = fan(tx, THREADS)
            .into_iter()
            .enumerate()
            .map(|(p, tx)| {
                scope.spawn(move || {
                    start.wait();
                    for v in share(p as u64, THREADS) {
                        tx.put(v);
                    }
                })
            })
            .collect();
        for producer in producers {
            producer.join().expect("producer panicked");
        }
        let mut tally = Tally::default();
        for consumer in consumers {
            tally.add(consumer.join().expect("consumer panicked"));
        }
        tally
    })
}

fn herd_threads() -> Tally {
    let (tx, rx) = herd::queue::bounded(CAP);
    run_threads(tx, rx)
}

fn crossbeam_threads() -> Tally {
    let (tx, rx) = crossbeam_channel::bounded(CAP);
    run_threads(tx, rx)
}

fn flume_threads() -> Tally {
    let (tx, rx) = flume::bounded(CAP);
    run_threads(tx, rx)
}

fn kanal_threads() -> Tally {
    let (tx, rx) = kanal::bounded(CAP);
    run_threads(tx, rx)
}

fn async_channel_threads() -> Tally {
    let (tx, rx) = async_channel::bounded(CAP);
    run_threads(tx, rx)
}

/// A benchmark of `blocking_mpmc_4_4`: its name and its body.
type ThreadCase = (&'static str, fn() -> Tally);

fn blocking_mpmc(c: &mut Criterion) {
    let cases: [ThreadCase; 5] = [
        ("herd_blocking", herd_threads),
        ("crossbeam_channel", crossbeam_threads),
        ("flume", flume_threads),
        ("kanal", kanal_threads),
        ("async_channel_blocking", async_channel_threads),
    ];
    for (name, body) in cases {
        check(&format!("blocking_mpmc_4_4/{name}"), body(), false);
    }

    let mut group = c.benchmark_group("blocking_mpmc_4_4");
    configure(&mut group);
    for (name, body) in cases {
        group.bench_function(name, |b| b.iter(|| black_box(body())));
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    let rt = runtime();
    async_group(c, &rt, "spsc", 1, 1);
    async_group(c, &rt, "mpsc_4_1", 4, 1);
    async_group(c, &rt, "mpmc_4_4", 4, 4);
    stall_mpmc(c, &rt);
    blocking_mpmc(c);
    policy_spsc(c, &rt);
}

// `criterion_group!` would define an undocumented `pub fn`, which the
// workspace's `missing_docs` lint rejects; this is what it and
// `criterion_main!` expand to.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    benches(&mut criterion);
    criterion.final_summary();
}
