//! The queue's memory promise: once its lines have grown to the number of
//! waiters, moving items allocates nothing, whether they go in at once,
//! wait for room, or go through the `Sink`. Counted by a global allocator
//! that tallies the allocations of the thread that makes them; each test
//! runs its tasks on its own thread (a current-thread runtime).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use futures::{SinkExt, StreamExt};

struct Counting;

thread_local! {
    // Const-initialised and without a destructor: reading it never
    // allocates, so the allocator itself may use it.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is passed to the system allocator unchanged; the
// count is a thread-local `Cell`, touched by no other thread.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract is `System::alloc`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is `System::dealloc`'s.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract is `System::realloc`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

const CAPACITY: usize = 8;
const ITEMS: u64 = 10_000;

/// Moves `ITEMS` items from a producer task to a consumer task through a
/// small queue, so both keep waiting in line for each other; returns the
/// allocations made while they ran, after a first round that lets the
/// lines grow.
async fn allocations_moving_items(through_sink: bool) -> usize {
    let (tx, rx) = herd::queue::bounded::<u64>(CAPACITY);
    let mut sink = tx.clone().into_sink();
    let consumer = tokio::spawn(async move {
        let mut sum = 0;
        while let Ok(item) = rx.recv().await {
            sum += item;
        }
        sum
    });
    let mut made = 0;
    for round in 0..2 {
        tokio::task::yield_now().await;
        let before = allocations();
        if through_sink {
            let mut items = futures::stream::iter(0..ITEMS).map(Ok);
            sink.send_all(&mut items).await.unwrap();
        } else {
            for item in 0..ITEMS {
                tx.send(item).await.unwrap();
            }
        }
        if round == 1 {
            made = allocations() - before;
        }
    }
    sink.close().await.unwrap();
    drop(tx);
    assert_eq!(
        consumer.await.unwrap(),
        2 * (0..ITEMS).sum::<u64>(),
        "every item arrived once"
    );
    made
}

#[tokio::test(flavor = "current_thread")]
async fn sends_and_receives_that_wait_allocate_nothing() {
    assert_eq!(allocations_moving_items(false).await, 0);
}

#[tokio::test(flavor = "current_thread")]
async fn a_sink_whose_items_wait_for_room_allocates_nothing() {
    assert_eq!(allocations_moving_items(true).await, 0);
}
