//! # The cookbook: the guides' patterns, in Rust with herd
//!
//! For readers who know these patterns from Python's `asyncio`,
//! `threading` and `multiprocessing`, or from TypeScript's promises and
//! workers: one page per pattern, each with the problem in a sentence or
//! two, the herd code that solves it as a test that runs and asserts, the
//! pitfall it avoids, and what to use instead when it is not the right
//! tool. Where the answer needs no herd type (compare-and-swap,
//! thread-local state, a singleton), the page answers with `std` or tokio
//! and says why.
//!
//! The larger programs of the guides run as examples (`cargo run --example
//! NAME` in `crates/herd`): `pipeline` (producer-consumer with a four-step
//! shutdown), `bank` (transfers under contention, a reversed lock order
//! named), `scraper` (rate-limited, against a server it starts itself) and
//! `mixed_pipeline` (async fetches feeding a process pool).
//!
//! # The pages
//!
//! **Tasks and limits**
//!
//! - [Concurrent calls with a limit and a timeout](limit_and_timeout)
//! - [Partial failures](partial_failures)
//! - [Task groups, gather and all-settled](groups_gather_settled)
//! - [Fire-and-forget versus owned tasks](owned_tasks)
//! - [Cancellation bound to a request](request_cancellation)
//! - [A promise pool](promise_pool)
//! - [Rate limits, retries and a rate-limited scraper](rate_limits_and_retries)
//! - [A single-flight cache](single_flight)
//! - [Graceful shutdown in four steps](graceful_shutdown)
//!
//! **Shared state and locks**
//!
//! - [A mutex with run-exclusive](run_exclusive)
//! - [A read-write lock](read_write_lock)
//! - [Lock ordering](lock_ordering)
//! - [A timeout on acquisition](acquire_timeout)
//! - [Deadlock detection](deadlock_detection)
//! - [Compare-and-swap](compare_and_swap)
//! - [Thread-local state](mod@thread_local)
//! - [Immutable and copy-on-write data](copy_on_write)
//! - [A thread-safe singleton](singleton)
//!
//! **Queues, pools and processes**
//!
//! - [Producer-consumer with backpressure](producer_consumer)
//! - [The three backpressure choices: block, drop, rate](backpressure)
//! - [Debounce and throttle](debounce_throttle)
//! - [Thread, async and priority worker pools](worker_pools)
//! - [Go-style channels with close](channels)
//! - [CPU-bound work off the async runtime](cpu_bound)
//! - [Shared state between processes](shared_state_processes)
//!
//! **When something goes wrong**
//!
//! - [The debugging table: each symptom, and the herd tool that names its cause](debugging)
//!
//! # Every section of the five guides, and its page
//!
//! The guides are the five files behind herd (in the project's shared
//! notes); a section is named by its heading, `›` marking a subsection of
//! the one above.
//!
//! ## `000_f02d308bb916df4c.txt`: the basic vocabulary
//!
//! | section | page |
//! | --- | --- |
//! | Core Concepts | [groups_gather_settled], [cpu_bound] |
//! | Python Async/Await › Basic Pattern | [groups_gather_settled] |
//! | › Concurrency Primitives (semaphore, lock, event) | [limit_and_timeout], [run_exclusive], [request_cancellation] |
//! | › Task Management | [limit_and_timeout], [partial_failures], [request_cancellation] |
//! | › Common Anti-Patterns | [owned_tasks], [debugging] |
//! | › Threading (CPU-bound with GIL release) | [cpu_bound], [run_exclusive] |
//! | › Multiprocessing (True Parallelism) | [cpu_bound], [shared_state_processes] |
//! | JavaScript/TypeScript Async › Basic Pattern | [groups_gather_settled], [partial_failures] |
//! | › Concurrency Control | [limit_and_timeout], [run_exclusive] |
//! | › Batch Processing | [limit_and_timeout] |
//! | › Web Workers (True Parallelism) | [cpu_bound] |
//! | Race Condition Prevention › The Problem, › Solutions | [run_exclusive], [compare_and_swap], [thread_local](mod@thread_local), [copy_on_write] |
//! | Common Patterns › Producer-Consumer | [producer_consumer] |
//! | › Debounce & Throttle | [debounce_throttle] |
//! | Debugging Tips | [debugging], [limit_and_timeout], [groups_gather_settled] |
//!
//! ## `001_d32e63ed225a6751.txt`: choosing a model, backpressure, shutdown, debugging
//!
//! | section | page |
//! | --- | --- |
//! | Concurrency Decision Framework | [cpu_bound] |
//! | Python Concurrency Selection | [cpu_bound] |
//! | › I/O-Bound: asyncio | [limit_and_timeout], [partial_failures], [rate_limits_and_retries] |
//! | › CPU-Bound: multiprocessing | [cpu_bound] |
//! | › Mixed: Async + Process Pool | [cpu_bound] |
//! | › Python Anti-Patterns | [owned_tasks], [run_exclusive], [shared_state_processes], [debugging] |
//! | JavaScript Concurrency Selection | [cpu_bound] |
//! | › I/O-Bound: async/await | [limit_and_timeout], [partial_failures] |
//! | › CPU-Bound: Workers | [cpu_bound] |
//! | › JavaScript Anti-Patterns | [partial_failures], [request_cancellation], [cpu_bound] |
//! | Race Condition Prevention | [run_exclusive], [compare_and_swap], [copy_on_write], [singleton] |
//! | Common Patterns › Backpressure (Don't overwhelm downstream) | [backpressure], [producer_consumer] |
//! | › Graceful Shutdown | [graceful_shutdown] |
//! | Debugging Concurrency Issues | [debugging], [backpressure], [cpu_bound] |
//! | Related Skills | pointers to other guides; nothing to answer |
//!
//! ## `002_67866ede34980d42.txt`: the widest catalogue, and the rate-limited scraper
//!
//! | section | page |
//! | --- | --- |
//! | Overview, Instructions | this index |
//! | 1. Async/Await Patterns › Python Async Patterns | [limit_and_timeout], [partial_failures], [rate_limits_and_retries], [channels] |
//! | › TypeScript Async Patterns | [limit_and_timeout], [partial_failures], [groups_gather_settled], [promise_pool], [producer_consumer] |
//! | 2. Parallelism vs Concurrency | [cpu_bound] |
//! | 3. Race Conditions and Prevention | [run_exclusive], [read_write_lock], [compare_and_swap], [single_flight] |
//! | 4. Deadlock Detection and Prevention | [lock_ordering], [acquire_timeout], [deadlock_detection] |
//! | 5. Thread Safety Patterns | [thread_local](mod@thread_local), [copy_on_write], [singleton], [run_exclusive] |
//! | 6. Work Queues and Worker Pools | [worker_pools], [graceful_shutdown] |
//! | Best Practices | [cpu_bound], [lock_ordering], [debugging] |
//! | Examples › Complete Async Web Scraper with Rate Limiting | [rate_limits_and_retries], and the runnable `examples/scraper.rs` |
//!
//! ## `003_3b0920000bac917e.txt`: the principles, anti-patterns and a checklist
//!
//! | section | page |
//! | --- | --- |
//! | Contents, Quick Reference | [limit_and_timeout], [request_cancellation], [cpu_bound] |
//! | Core Principles | [groups_gather_settled], [copy_on_write], [limit_and_timeout], [request_cancellation], [debugging] |
//! | Concurrency Models › Threads vs Async vs Multiprocess, › Choosing the Right Model | [cpu_bound], [shared_state_processes] |
//! | Async/Await Patterns › Proper Async Usage | [owned_tasks] |
//! | › Error Handling in Async Code | [partial_failures], [groups_gather_settled] |
//! | Race Conditions › Common Patterns, › Prevention Strategies | [compare_and_swap], [run_exclusive], [copy_on_write] |
//! | Deadlock Prevention › Lock Ordering | [lock_ordering] |
//! | › Timeout on Acquisition | [acquire_timeout] |
//! | Structured Concurrency › Task Groups and Scopes | [groups_gather_settled], [owned_tasks] |
//! | › Cancellation Propagation | [request_cancellation] |
//! | Bounded Parallelism › Semaphores | [limit_and_timeout], [promise_pool] |
//! | › Worker Pools | [worker_pools], [cpu_bound] |
//! | Anti-Patterns | [owned_tasks], [limit_and_timeout], [request_cancellation], [single_flight], [thread_local](mod@thread_local), [cpu_bound] |
//! | Red Flags | [debugging], [limit_and_timeout], [owned_tasks], [partial_failures], [acquire_timeout] |
//! | Checklist | [debugging], [lock_ordering], [acquire_timeout], [limit_and_timeout], [graceful_shutdown] |
//! | See Also | [rate_limits_and_retries] |
//!
//! ## `004_a07c0f0f0beda961.txt`: promise pool, mutex and semaphore, worker pools, channels
//!
//! | section | page |
//! | --- | --- |
//! | Overview, When to Use | [cpu_bound], [worker_pools] |
//! | Implementation Examples › 1. Promise Pool (TypeScript) | [promise_pool] |
//! | › 2. Mutex and Semaphore (TypeScript) | [run_exclusive], [limit_and_timeout] |
//! | › 3. Worker Pool (Node.js) | [worker_pools], [cpu_bound] |
//! | › 4. Python Threading Patterns | [run_exclusive], [worker_pools] |
//! | › 5. Async Patterns (Python asyncio) | [promise_pool], [producer_consumer] |
//! | › 6. Go-Style Channels (Simulation) | [channels] |
//! | Best Practices › DO, › DON'T | [copy_on_write], [run_exclusive], [promise_pool], [graceful_shutdown] |
//! | Resources | pointers elsewhere; nothing to answer |
//!
//! # The guides' flaws, and where herd proves it does not repeat them
//!
//! Each is a test in `crates/herd/tests/seed_flaws.rs`, named by its
//! number, and a page that shows the right way.
//!
//! | flaw | the mistake | test | page |
//! | --- | --- | --- | --- |
//! | 1 | a waiter polls for a free slot | `flaw_01_...` | [limit_and_timeout] |
//! | 2 | a hand-rolled limit loses the limit or the order | `flaw_02_...` | [promise_pool] |
//! | 3 | a throttle drops calls without saying so | `flaw_03_...` | [debounce_throttle] |
//! | 4 | shutdown leaves queued jobs hanging | `flaw_04_...` | [worker_pools] |
//! | 5 | a failing job kills its worker | `flaw_05_...` | [worker_pools] |
//! | 6 | equal priorities tie or reorder | `flaw_06_...` | [worker_pools] |
//! | 7 | readers starve a writer | `flaw_07_...` | [read_write_lock] |
//! | 8 | one cache lock held across the factory | `flaw_08_...` | [single_flight] |
//! | 9 | close leaves senders blocked, closed looks like a value | `flaw_09_...` | [channels] |
//! | 10 | the rate wait holds the concurrency permit | `flaw_10_...` | [rate_limits_and_retries] |
//! | 11 | shutdown cancels everything at once | `flaw_11_...` | [graceful_shutdown] |
//! | 12 | an atomic called thread-local | `flaw_12_...` | [thread_local](mod@thread_local) |
//! | 13 | lock-order bookkeeping that races | `flaw_13_...` | [lock_ordering] |

pub mod acquire_timeout;
pub mod backpressure;
pub mod channels;
pub mod compare_and_swap;
pub mod copy_on_write;
pub mod cpu_bound;
pub mod deadlock_detection;
pub mod debounce_throttle;
pub mod debugging;
pub mod graceful_shutdown;
pub mod groups_gather_settled;
pub mod limit_and_timeout;
pub mod lock_ordering;
pub mod owned_tasks;
pub mod partial_failures;
pub mod producer_consumer;
pub mod promise_pool;
pub mod rate_limits_and_retries;
pub mod read_write_lock;
pub mod request_cancellation;
pub mod run_exclusive;
pub mod shared_state_processes;
pub mod single_flight;
pub mod singleton;
pub mod thread_local;
pub mod worker_pools;
