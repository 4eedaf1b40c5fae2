//! The guides' rate-limited web scraper, against a server it starts itself
//! on 127.0.0.1 (so it runs without a network). 40 pages, at most 4
//! requests at once and 20 a second; some pages are slow, some answer 429
//! with a Retry-After, some fail twice with 503 before they answer, one is
//! missing. Every page ends with its outcome, in input order, and the
//! server's own count shows the limits held.
//!
//! Run it with `cargo run --example scraper`.

#[path = "support/http.rs"]
mod http;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use herd::limit::{Limiter, Quota};
use herd::resilience::{Failure, Retry, RetryError, Verdict};
use http::Answer;
use tokio::time::Instant;

const PAGES: usize = 40;
const AT_ONCE: usize = 4;
const PER_SECOND: u32 = 20;

/// What the server saw.
#[derive(Default)]
struct Seen {
    in_flight: AtomicUsize,
    most: AtomicUsize,
    hits: Mutex<HashMap<String, u32>>,
}

/// The site: page N is slow when N % 7 == 0, says 429 (retry after 1 s)
/// once when N % 10 == 0, fails with 503 twice when N % 13 == 0, and page
/// 37 does not exist.
async fn site(path: String, seen: Arc<Seen>) -> Answer {
    let now = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    seen.most.fetch_max(now, Ordering::SeqCst);
    let hit = {
        let mut hits = seen.hits.lock().unwrap();
        let hit = hits.entry(path.clone()).or_default();
        *hit += 1;
        *hit
    };
    let n: usize = path.trim_start_matches("/page/").parse().unwrap_or(0);
    let answer = if n == 37 {
        Answer::status(404)
    } else if n.is_multiple_of(10) && hit == 1 {
        Answer::status(429).header("Retry-After", "1")
    } else if n.is_multiple_of(13) && hit <= 2 {
        Answer::status(503)
    } else {
        if n.is_multiple_of(7) {
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        Answer::ok(format!("<title>page {n}</title>").repeat(n + 1))
    };
    seen.in_flight.fetch_sub(1, Ordering::SeqCst);
    answer
}

/// Why one attempt failed.
#[derive(Debug)]
enum Fetch {
    Io(std::io::Error),
    Status(u16, Option<Duration>),
}

impl std::fmt::Display for Fetch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fetch::Io(error) => write!(f, "{error}"),
            Fetch::Status(status, _) => write!(f, "HTTP {status}"),
        }
    }
}

/// 429 and 503 come back with the server's wait, other 5xx and broken
/// connections after the backoff; anything else (404) is final.
fn classify(error: &Fetch) -> Verdict {
    match error {
        Fetch::Status(429 | 503, Some(wait)) => Verdict::RetryAfter(*wait),
        Fetch::Status(500..=599 | 429, _) | Fetch::Io(_) => Verdict::Retry,
        Fetch::Status(..) => Verdict::Stop,
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let seen = Arc::new(Seen::default());
    let server = {
        let seen = seen.clone();
        http::serve(move |path| site(path, seen.clone())).await?
    };
    // One limiter for the rate and the concurrency: it waits for the rate
    // before it takes a concurrency slot, so waiting never holds a slot.
    let limiter = Arc::new(
        Limiter::new()
            .rate(Quota::per_second(PER_SECOND).burst(1))
            .concurrency(AT_ONCE),
    );
    let retry = Retry::new()
        .attempts(4)
        .backoff(Duration::from_millis(50), 2, Duration::from_secs(2))
        .attempt_timeout(Duration::from_secs(5))
        .max_retry_after(Duration::from_secs(5))
        .retry_if(classify as fn(&Fetch) -> Verdict);
    let started = Instant::now();
    let paths: Vec<String> = (1..=PAGES).map(|n| format!("/page/{n}")).collect();
    // At most AT_ONCE pages in progress (the limiter is the real bound on
    // requests); results come back in input order.
    let outcomes: Vec<_> = herd::pool::map(AT_ONCE, futures::stream::iter(paths.clone()), |path| {
        let (limiter, retry) = (limiter.clone(), retry.clone());
        async move {
            let outcome = retry
                .run(|_| {
                    let (limiter, path) = (limiter.clone(), path.clone());
                    async move {
                        let _pass = limiter.acquire().await.expect("no timeout was set");
                        let answer = http::get(server, &path).await.map_err(Fetch::Io)?;
                        match answer.status {
                            200 => Ok(answer.body.len()),
                            status => {
                                let wait = answer
                                    .get("Retry-After")
                                    .and_then(|s| s.parse().ok())
                                    .map(Duration::from_secs);
                                Err(Fetch::Status(status, wait))
                            }
                        }
                    }
                })
                .await;
            Ok::<_, std::convert::Infallible>((path, outcome))
        }
    })
    .collect()
    .await;

    let (mut ok, mut failed) = (0, 0);
    for outcome in outcomes {
        let (path, outcome) = outcome.expect("nothing panics");
        let tries = seen.hits.lock().unwrap()[&path];
        match outcome {
            Ok(bytes) => {
                ok += 1;
                println!("{path:>9}  ok      {bytes:>5} bytes  {tries} request(s)");
            }
            Err(RetryError::Stopped {
                error: Fetch::Status(status, _),
                ..
            }) => {
                failed += 1;
                println!("{path:>9}  failed  HTTP {status}, not retried");
            }
            Err(error) => {
                failed += 1;
                let last = match &error {
                    RetryError::Exhausted {
                        last: Failure::Error(e),
                        ..
                    } => e.to_string(),
                    other => format!("{other:?}"),
                };
                println!("{path:>9}  failed  after {tries} requests: {last}");
            }
        }
    }
    let requests: u32 = seen.hits.lock().unwrap().values().sum();
    let took = started.elapsed();
    println!(
        "{PAGES} pages: {ok} fetched, {failed} failed; {requests} requests in {took:.2?}, at most {} at once",
        seen.most.load(Ordering::SeqCst)
    );
    assert_eq!(ok + failed, PAGES, "every page has an outcome");
    assert_eq!(failed, 1, "only the missing page fails");
    assert!(seen.most.load(Ordering::SeqCst) <= AT_ONCE);
    // Evenly spaced at 20 a second: the last request starts no sooner than
    // (requests - 1) / 20 s after the first.
    let floor = Duration::from_secs_f64(f64::from(requests - 1) / f64::from(PER_SECOND));
    assert!(took >= floor, "{took:?} < {floor:?}");
    Ok(())
}
