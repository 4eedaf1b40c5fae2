//! A tour of herd's task core, doing real work and saying what happened.
//!
//! Run it with `cargo run --release --example tour`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use herd::task::{CancelToken, Policy, Scope, TaskError, at_most, first_ok, race, timeout};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, sleep};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    count_lines_with_a_limit().await?;
    fail_fast_cancels_the_siblings().await;
    a_deadline_for_the_whole_group().await;
    cancellation_with_a_reason_and_a_grace_period().await;
    combinators_over_real_sockets().await?;
    Ok(())
}

/// Reads every Rust file of this crate, at most 4 at a time, and counts lines.
async fn count_lines_with_a_limit() -> Result<(), Box<dyn std::error::Error>> {
    println!("== a scope with a limit: count the lines of herd's own source, 4 files at a time");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "src/task", "tests", "examples", "benches"] {
        let mut entries = tokio::fs::read_dir(root.join(dir)).await?;
        while let Some(entry) = entries.next_entry().await? {
            if entry.path().extension().is_some_and(|ext| ext == "rs") {
                files.push(entry.path());
            }
        }
    }
    files.sort();

    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let scope = Scope::<(PathBuf, usize), std::io::Error>::builder()
        .name("count-lines")
        .limit(4)
        .build();
    for file in files {
        let (running, most) = (running.clone(), most.clone());
        scope
            .spawn(async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let text = tokio::fs::read_to_string(&file).await;
                running.fetch_sub(1, Ordering::SeqCst);
                Ok((file, text?.lines().count()))
            })
            .await?;
    }
    let counted = scope.join().await?;
    for (file, lines) in &counted {
        let name = file.strip_prefix(root).unwrap_or(file);
        println!("  {lines:>5}  {}", name.display());
    }
    let total: usize = counted.iter().map(|(_, lines)| lines).sum();
    println!(
        "  {total:>5}  in {} files; at most {} read at once (limit 4)\n",
        counted.len(),
        most.load(Ordering::SeqCst)
    );
    Ok(())
}

/// One replica is down: the first failure cancels the slower checks at once.
async fn fail_fast_cancels_the_siblings() {
    println!("== fail-fast: one failing health check cancels the others");
    let started = Instant::now();
    let scope = Scope::<&str, String>::builder().name("health").build();
    for (replica, delay_ms, healthy) in [
        ("eu-1", 400, true),
        ("us-1", 50, false),
        ("ap-1", 900, true),
    ] {
        scope
            .spawn_named(replica, async move {
                sleep(Duration::from_millis(delay_ms)).await;
                if healthy {
                    Ok(replica)
                } else {
                    Err(format!("{replica} refused the connection"))
                }
            })
            .await
            .expect("the scope is open");
    }
    match scope.join().await {
        Err(error) => println!(
            "  scope failed after {:?}: {error}",
            round(started.elapsed())
        ),
        Ok(replicas) => println!("  all healthy: {replicas:?}"),
    }
    println!();
}

/// A deadline on the scope: what finished in time keeps its value.
async fn a_deadline_for_the_whole_group() {
    println!("== supervise with a deadline: 300 ms for the whole group");
    let scope = Scope::<u64, String>::builder()
        .name("batch")
        .policy(Policy::Supervise)
        .timeout(Duration::from_millis(300))
        .build();
    for delay_ms in [100, 200, 500, 800] {
        scope
            .spawn_named(format!("job-{delay_ms}ms"), async move {
                sleep(Duration::from_millis(delay_ms)).await;
                Ok(delay_ms)
            })
            .await
            .expect("the scope is open");
    }
    for outcome in scope.join_all().await {
        match outcome {
            Ok(delay_ms) => println!("  finished: job-{delay_ms}ms"),
            Err(error @ TaskError::TimedOut { .. }) => println!("  {error}"),
            Err(error) => println!("  failed: {error}"),
        }
    }
    println!();
}

/// A child that watches its token gets to clean up; one that does not is aborted.
async fn cancellation_with_a_reason_and_a_grace_period() {
    println!("== cancellation: a reason for everyone, and 200 ms of grace");
    let scope = Scope::<&str, String>::builder()
        .name("workers")
        .policy(Policy::Supervise)
        .grace(Duration::from_millis(200))
        .build();
    let token = scope.token().clone();
    scope
        .spawn_named("polite", async move {
            let reason = token.cancelled().await;
            println!("  polite worker saw \"{reason}\" and flushes its buffer");
            sleep(Duration::from_millis(50)).await;
            Ok("flushed")
        })
        .await
        .expect("the scope is open");
    scope
        .spawn_named("stubborn", async {
            sleep(Duration::from_secs(3600)).await;
            Ok("never")
        })
        .await
        .expect("the scope is open");
    let canceller: CancelToken = scope.token().clone();
    tokio::spawn(async move {
        sleep(Duration::from_millis(100)).await;
        canceller.cancel("operator asked to stop");
    });
    let started = Instant::now();
    for outcome in scope.join_all().await {
        match outcome {
            Ok(value) => println!("  ok: {value}"),
            Err(error) => println!("  {error}"),
        }
    }
    println!("  scope done after {:?}\n", round(started.elapsed()));
}

/// Real TCP servers on 127.0.0.1: race the mirrors, take the first that works.
async fn combinators_over_real_sockets() -> Result<(), Box<dyn std::error::Error>> {
    println!("== combinators over real sockets on 127.0.0.1");
    let servers = Scope::<(), std::io::Error>::builder()
        .name("servers")
        .build();
    let mut ports = Vec::new();
    for delay_ms in [120u64, 30, 60] {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        ports.push(listener.local_addr()?.port());
        servers
            .spawn(async move {
                loop {
                    let (socket, _) = listener.accept().await?;
                    tokio::spawn(async move {
                        sleep(Duration::from_millis(delay_ms)).await;
                        let _ = socket.try_write(b"hello");
                    });
                }
            })
            .await?;
    }
    // A port nothing listens on: bind one and close it again.
    let closed = TcpListener::bind("127.0.0.1:0").await?.local_addr()?.port();

    let greet = |port: u16| async move {
        let socket = TcpStream::connect(("127.0.0.1", port)).await?;
        socket.readable().await?;
        let mut buf = [0u8; 16];
        let n = socket.try_read(&mut buf)?;
        Ok::<_, std::io::Error>((port, String::from_utf8_lossy(&buf[..n]).into_owned()))
    };

    let (port, reply) = race(ports.iter().map(|&port| greet(port))).await?;
    println!("  race: port {port} answered first with {reply:?}");

    let mirrors = [closed, ports[0], ports[2]];
    match first_ok(mirrors.map(greet)).await {
        Ok((port, _)) => {
            println!("  first_ok: port {closed} was down; port {port} was the first that worked")
        }
        Err(errors) => println!("  first_ok: every mirror failed: {errors:?}"),
    }

    let everyone = at_most(2).all(ports.iter().map(|&port| greet(port)));
    let replies = timeout(Duration::from_secs(5), everyone).await??;
    println!(
        "  at_most(2).all: {} replies, in input order: {:?}",
        replies.len(),
        replies.iter().map(|(port, _)| port).collect::<Vec<_>>()
    );

    // Dropping the servers' scope stops every accept loop: nothing outlives main.
    drop(servers);
    Ok(())
}

fn round(elapsed: Duration) -> Duration {
    Duration::from_millis(elapsed.as_millis() as u64)
}
