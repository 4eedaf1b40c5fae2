//! A mixed I/O and CPU pipeline: async tasks fetch 60 documents from a
//! server this program starts on 127.0.0.1 (at most 8 at once), and each
//! body goes to a pool of two worker processes for the CPU-heavy part
//! (word counts and a many-round digest), so the async runtime is never
//! blocked and a crash in the CPU code would cost one job, not the
//! program. Every result is checked against the same work done here.
//!
//! Run it with `cargo run --release --example mixed_pipeline`.

#[path = "support/http.rs"]
mod http;

use std::time::Instant;

use futures::StreamExt;
use herd::pool::{ProcessPool, serve_if_worker};
use http::Answer;

const DOCUMENTS: usize = 60;

/// The CPU-bound part: words, and a digest of the text hashed many times
/// over (FNV-1a), standing in for parsing or compression.
fn digest(text: &str) -> (usize, u64) {
    let words = text.split_whitespace().count();
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for round in 0..100u64 {
        for byte in text.bytes().chain(round.to_le_bytes()) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    (words, hash)
}

/// Document `n`: a few hundred words, different for each.
fn document(n: usize) -> String {
    (0..200 + n * 7)
        .map(|i| format!("w{}", (i * 31 + n * 17) % 997))
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    // First thing: when the pool starts this binary as its worker, serve.
    serve_if_worker("digest", |text: String| Ok::<_, String>(digest(&text)));

    let server = http::serve(|path| async move {
        match path.strip_prefix("/doc/").and_then(|n| n.parse().ok()) {
            Some(n) => Answer::ok(document(n)),
            None => Answer::status(404),
        }
    })
    .await?;
    let pool = std::sync::Arc::new(
        ProcessPool::<String, (usize, u64), String>::builder("digest")
            .workers(2)
            .queue(8)
            .build()
            .await?,
    );
    println!("worker processes: {:?}", pool.pids());

    let started = Instant::now();
    // Fetch (I/O, async, 8 at once) then digest (CPU, in the pool); the
    // pool's bounded queue holds the fetchers back when the workers lag.
    let results: Vec<_> = herd::pool::map_unordered(8, futures::stream::iter(1..=DOCUMENTS), |n| {
        let pool = pool.clone();
        async move {
            let answer = http::get(server, &format!("/doc/{n}"))
                .await
                .map_err(|e| format!("document {n}: {e}"))?;
            let text = String::from_utf8(answer.body).map_err(|e| e.to_string())?;
            let job = pool
                .submit(text)
                .await
                .map_err(|e| format!("document {n}: {e}"))?;
            let (words, hash) = job.await.map_err(|e| format!("document {n}: {e}"))?;
            Ok::<_, String>((n, words, hash))
        }
    })
    .collect()
    .await;

    let mut total_words = 0;
    for result in &results {
        let (n, words, hash) = result
            .as_ref()
            .expect("every document is fetched and digested");
        assert_eq!((*words, *hash), digest(&document(*n)), "document {n}");
        total_words += words;
    }
    let stats = pool.shutdown(std::time::Duration::from_secs(5)).await;
    println!(
        "{} documents fetched and digested in {:.2?}: {total_words} words; every digest matches",
        results.len(),
        started.elapsed()
    );
    println!("pool: {stats:?}");
    assert_eq!(results.len(), DOCUMENTS);
    Ok(())
}
