//! `herd fetch` as a process, against an HTTP server (hyper) this test
//! starts on 127.0.0.1, whose routes answer, answer slowly, hang, reset the
//! connection, send 429 with Retry-After, fail and then succeed, redirect
//! in a loop and send oversized bodies. Every run checks that each URL is
//! reported exactly once with the right outcome, and the server counts the
//! requests it had at once.

mod common;

use common::eventually;

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;

/// What the server saw.
#[derive(Default)]
struct Seen {
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// Requests per path (with query).
    hits: Mutex<HashMap<String, u32>>,
    /// When each request arrived.
    arrivals: Mutex<Vec<Instant>>,
    /// `/gate/*` answers once this is open.
    gate: tokio::sync::Notify,
    gate_open: std::sync::atomic::AtomicBool,
    /// 429 answers given by `/busy`.
    busy_refusals: AtomicUsize,
}

struct Server {
    addr: SocketAddr,
    seen: Arc<Seen>,
    _runtime: tokio::runtime::Runtime,
}

impl Server {
    fn start() -> Server {
        Server::serve(None)
    }

    /// The same routes over TLS, with a self-signed certificate for
    /// 127.0.0.1, offering HTTP/2 and HTTP/1.1 by ALPN.
    fn start_tls() -> Server {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let key = tokio_rustls::rustls::pki_types::PrivateKeyDer::Pkcs8(
            certified.signing_key.serialize_der().into(),
        );
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let mut config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![certified.cert.der().clone()], key)
            .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Server::serve(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
    }

    fn serve(tls: Option<tokio_rustls::TlsAcceptor>) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let seen = Arc::new(Seen::default());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = seen.clone();
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let seen = accepted.clone();
                let fd = stream.as_raw_fd();
                match tls.clone() {
                    None => {
                        tokio::spawn(connection(stream, fd, seen));
                    }
                    Some(acceptor) => {
                        tokio::spawn(async move {
                            // A client that refuses the certificate ends
                            // here.
                            if let Ok(stream) = acceptor.accept(stream).await {
                                connection(stream, fd, seen).await;
                            }
                        });
                    }
                }
            }
        });
        Server {
            addr,
            seen,
            _runtime: runtime,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn https_url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    fn hits(&self, path: &str) -> u32 {
        self.seen
            .hits
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    fn max_in_flight(&self) -> usize {
        self.seen.max_in_flight.load(Ordering::SeqCst)
    }

    fn open_gate(&self) {
        self.seen.gate_open.store(true, Ordering::SeqCst);
        self.seen.gate.notify_waiters();
    }
}

/// One connection, HTTP/1.1 or (prior knowledge) HTTP/2. `/reset` drops
/// it with SO_LINGER 0, so the client gets a TCP reset.
async fn connection<S>(stream: S, fd: i32, seen: Arc<Seen>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let reset = Arc::new(tokio::sync::Notify::new());
    let service = {
        let reset = reset.clone();
        hyper::service::service_fn(move |request| {
            let (seen, reset) = (seen.clone(), reset.clone());
            async move { Ok::<_, Infallible>(answer(request, &seen, fd, &reset).await) }
        })
    };
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let serving = builder.serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = serving => {}
        () = reset.notified() => {}
    }
}

/// Counts the requests in flight while it lives.
struct InFlight<'a>(&'a Seen);

impl<'a> InFlight<'a> {
    fn enter(seen: &'a Seen) -> InFlight<'a> {
        let now = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        seen.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(seen)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

fn with_header(
    mut response: Response<Full<Bytes>>,
    name: &'static str,
    value: &str,
) -> Response<Full<Bytes>> {
    response.headers_mut().insert(name, value.parse().unwrap());
    response
}

fn respond(status: u16, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    response
}

async fn answer(
    request: Request<Incoming>,
    seen: &Seen,
    fd: i32,
    reset: &tokio::sync::Notify,
) -> Response<Full<Bytes>> {
    let path = request
        .uri()
        .path_and_query()
        .map_or("/".into(), |p| p.as_str().to_owned());
    let hit = {
        let mut hits = seen.hits.lock().unwrap();
        let hit = hits.entry(path.clone()).or_default();
        *hit += 1;
        *hit
    };
    seen.arrivals.lock().unwrap().push(Instant::now());
    let _in_flight = InFlight::enter(seen);
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["ok", ..] => respond(200, format!("ok {path}")),
        ["bytes", n] => respond(200, vec![b'x'; n.parse().unwrap()]),
        ["slow", ms, ..] => {
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap())).await;
            respond(200, "slow")
        }
        ["hang", ..] => std::future::pending().await,
        ["reset", ..] => {
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: setsockopt on this connection's socket, still open
            // (the connection task owns it until `reset` fires).
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&raw const linger).cast(),
                    size_of::<libc::linger>() as u32,
                );
            }
            reset.notify_one();
            std::future::pending().await
        }
        // First answer 429 with Retry-After: 1, then 200.
        ["429", ..] if hit == 1 => with_header(respond(429, "slow down"), "retry-after", "1"),
        ["429", ..] => respond(200, "thanks for waiting"),
        // `/503/SECS`: always 503, with Retry-After: SECS.
        ["503", secs] => with_header(respond(503, "come back later"), "retry-after", secs),
        // `/flaky/N/...`: 503 N times (no Retry-After), then 200.
        ["flaky", n, ..] if hit <= n.parse().unwrap() => respond(503, "unavailable"),
        ["flaky", ..] => respond(200, "recovered"),
        ["loop"] => with_header(respond(302, ""), "location", "/loop"),
        ["redirect"] => with_header(respond(301, ""), "location", "/ok/landed"),
        ["gzip"] => {
            let text = "hello, compressed world\n".repeat(1000);
            let accepts = request
                .headers()
                .get("accept-encoding")
                .is_some_and(|v| v.to_str().unwrap().contains("gzip"));
            if !accepts {
                return respond(200, text);
            }
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(text.as_bytes()).unwrap();
            with_header(
                respond(200, encoder.finish().unwrap()),
                "content-encoding",
                "gzip",
            )
        }
        ["status", code] => respond(code.parse().unwrap(), "status"),
        ["version"] => respond(200, format!("{:?}", request.version())),
        ["gate", ..] => {
            while !seen.gate_open.load(Ordering::SeqCst) {
                let notified = seen.gate.notified();
                if seen.gate_open.load(Ordering::SeqCst) {
                    break;
                }
                notified.await;
            }
            respond(200, "through the gate")
        }
        // A server that can take 4 at once: past that, 429.
        ["busy", ..] => {
            if seen.in_flight.load(Ordering::SeqCst) > 4 {
                seen.busy_refusals.fetch_add(1, Ordering::SeqCst);
                return respond(429, "busy");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            respond(200, "served")
        }
        _ => respond(404, "no such route"),
    }
}

/// A path for a test's output directory, nothing there yet.
fn fresh_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("herd-fetch-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn herd() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_herd"));
    command.arg("fetch");
    // The test server is on loopback: no proxy from the environment.
    for proxy in ["http_proxy", "https_proxy", "all_proxy"] {
        command.env_remove(proxy).env_remove(proxy.to_uppercase());
    }
    command
}

struct Run {
    code: i32,
    /// Each `--json` line, by URL; a URL reported twice fails the run.
    records: HashMap<String, Value>,
    stderr: String,
}

fn parse(code: i32, stdout: &[u8], stderr: &[u8]) -> Run {
    let mut records = HashMap::new();
    for line in String::from_utf8_lossy(stdout).lines() {
        let record: Value = serde_json::from_str(line).unwrap();
        let url = record["url"].as_str().unwrap().to_owned();
        assert!(
            records.insert(url.clone(), record).is_none(),
            "{url} reported twice"
        );
    }
    Run {
        code,
        records,
        stderr: String::from_utf8_lossy(stderr).into_owned(),
    }
}

/// `herd fetch --json ARGS` with `urls` on standard input.
fn fetch(args: &[&str], urls: &[String]) -> Run {
    let mut child = herd()
        .arg("--json")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = urls.join("\n");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    parse(
        output.status.code().unwrap_or(-1),
        &output.stdout,
        &output.stderr,
    )
}

impl Run {
    fn get(&self, url: &str) -> &Value {
        self.records
            .get(url)
            .unwrap_or_else(|| panic!("{url} not reported; stderr: {}", self.stderr))
    }

    fn class(&self, url: &str) -> &str {
        self.get(url)["class"].as_str().unwrap()
    }

    fn attempts(&self, url: &str) -> u64 {
        self.get(url)["attempts"].as_u64().unwrap()
    }
}

#[test]
fn every_url_is_reported_once_with_its_outcome() {
    let server = Server::start();
    let url = |path: &str| server.url(path);
    let oks: Vec<String> = (0..20).map(|n| url(&format!("/ok/{n}"))).collect();
    let mut urls = oks.clone();
    let cases = [
        ("/slow/100", "ok"),
        ("/hang", "timeout"),
        ("/reset", "connection"),
        ("/429/a", "ok"),
        ("/flaky/2/a", "ok"),
        ("/flaky/5/b", "http_5xx"),
        ("/loop", "redirects"),
        ("/redirect", "ok"),
        ("/bytes/2000000", "too_large"),
        ("/bytes/1000", "ok"),
        ("/status/404", "http_4xx"),
        ("/gzip", "ok"),
    ];
    urls.extend(cases.iter().map(|(path, _)| url(path)));
    urls.push("not a url".into());
    urls.push("ftp://127.0.0.1/file".into());
    urls.push("http://127.0.0.1:1/closed-port".into());
    let run = fetch(
        &[
            "-c",
            "4",
            "--retries",
            "2",
            "--retry-delay",
            "0.01",
            "--timeout",
            "0.5",
            "--max-body",
            "1M",
            "--max-redirects",
            "5",
        ],
        &urls,
    );
    assert_eq!(run.records.len(), urls.len(), "{}", run.stderr);
    assert_eq!(run.code, 1, "some URLs failed: {}", run.stderr);
    for ok in &oks {
        assert_eq!(run.class(ok), "ok");
        assert_eq!(run.get(ok)["status"], 200);
        assert_eq!(run.attempts(ok), 1);
    }
    for (path, class) in cases {
        assert_eq!(
            run.class(&url(path)),
            class,
            "{path}: {:?}",
            run.get(&url(path))
        );
    }
    // Transient failures are retried, and then reported with their count.
    assert_eq!(run.attempts(&url("/hang")), 3);
    assert_eq!(run.attempts(&url("/reset")), 3);
    assert_eq!(run.attempts(&url("/flaky/2/a")), 3);
    assert_eq!(server.hits("/flaky/2/a"), 3);
    assert_eq!(run.attempts(&url("/flaky/5/b")), 3);
    assert_eq!(run.get(&url("/flaky/5/b"))["status"], 503);
    // The 429 waited its Retry-After and then succeeded.
    assert_eq!(run.attempts(&url("/429/a")), 2);
    assert!(run.get(&url("/429/a"))["time"].as_f64().unwrap() >= 1.0);
    // Permanent failures are not retried.
    assert_eq!(run.attempts(&url("/status/404")), 1);
    assert_eq!(server.hits("/status/404"), 1);
    assert_eq!(run.get(&url("/status/404"))["status"], 404);
    assert_eq!(server.hits("/bytes/2000000"), 1);
    // Redirects: followed, and the loop cut at the limit.
    assert_eq!(run.get(&url("/redirect"))["final_url"], url("/ok/landed"));
    assert_eq!(server.hits("/loop"), 6);
    // Bodies are counted decompressed.
    assert_eq!(run.get(&url("/gzip"))["bytes"], 24_000);
    assert_eq!(run.get(&url("/bytes/1000"))["bytes"], 1000);
    // Bad lines are reported per URL; they stop nothing.
    assert_eq!(run.class("not a url"), "invalid_url");
    assert_eq!(run.class("ftp://127.0.0.1/file"), "unsupported_scheme");
    assert_eq!(run.class("http://127.0.0.1:1/closed-port"), "connect");
    assert!(server.max_in_flight() <= 4, "{}", server.max_in_flight());
    // The summary counts every class.
    assert!(
        run.stderr.contains(&format!("{} URLs", urls.len())),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("1 too_large"), "{}", run.stderr);
}

#[test]
fn concurrency_holds_overall_and_per_host() {
    let (a, b) = (Server::start(), Server::start());
    let urls: Vec<String> = (0..30)
        .flat_map(|n| {
            [
                a.url(&format!("/slow/30/{n}")),
                b.url(&format!("/slow/30/{n}")),
            ]
        })
        .collect();
    let run = fetch(&["-c", "5"], &urls[..30]);
    assert_eq!((run.code, run.records.len()), (0, 30), "{}", run.stderr);
    assert!(a.max_in_flight() <= 5, "{}", a.max_in_flight());
    for server in [&a, &b] {
        server.seen.max_in_flight.store(0, Ordering::SeqCst);
    }
    let run = fetch(&["-c", "8", "--per-host-concurrency", "2"], &urls);
    assert_eq!((run.code, run.records.len()), (0, 60), "{}", run.stderr);
    assert!(a.max_in_flight() <= 2, "{}", a.max_in_flight());
    assert!(b.max_in_flight() <= 2, "{}", b.max_in_flight());
}

#[test]
fn rates_space_the_requests() {
    let (a, b) = (Server::start(), Server::start());
    // 11 requests at 20/s: the last starts at least 0.5 s after the first.
    let span = |server: &Server| {
        let arrivals = server.seen.arrivals.lock().unwrap();
        *arrivals.iter().max().unwrap() - *arrivals.iter().min().unwrap()
    };
    let urls: Vec<String> = (0..11).map(|n| a.url(&format!("/ok/{n}"))).collect();
    let run = fetch(&["-c", "8", "--rate", "20/s"], &urls);
    assert_eq!((run.code, run.records.len()), (0, 11), "{}", run.stderr);
    assert!(span(&a) >= Duration::from_millis(480), "{:?}", span(&a));
    // Per host: each host at its own 20/s.
    a.seen.arrivals.lock().unwrap().clear();
    let urls: Vec<String> = (0..11)
        .flat_map(|n| [a.url(&format!("/ok/h{n}")), b.url(&format!("/ok/h{n}"))])
        .collect();
    let run = fetch(&["-c", "8", "--per-host-rate", "20/s"], &urls);
    assert_eq!((run.code, run.records.len()), (0, 22), "{}", run.stderr);
    assert!(span(&a) >= Duration::from_millis(480), "{:?}", span(&a));
    assert!(span(&b) >= Duration::from_millis(480), "{:?}", span(&b));
}

#[test]
fn bodies_are_saved_under_safe_names_and_never_overwrite() {
    let server = Server::start();
    let dir = fresh_dir("out");
    std::fs::create_dir_all(&dir).unwrap();
    // A file already there keeps its content.
    let first = vec![server.url("/ok/a.txt")];
    let run = fetch(&["-o", dir.to_str().unwrap()], &first);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let kept = run.get(&first[0])["file"].as_str().unwrap().to_owned();
    std::fs::write(&kept, "an earlier run's file").unwrap();
    let urls = vec![
        server.url("/ok/a.txt"),
        server.url("/ok/..%2f..%2fescape"),
        server.url("/ok/b?x=../../c"),
        server.url("/status/500"),
    ];
    let run = fetch(&["-o", dir.to_str().unwrap()], &urls);
    assert_eq!((run.code, run.records.len()), (1, 4), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(&kept).unwrap(),
        "an earlier run's file"
    );
    let mut files = Vec::new();
    for url in &urls[..3] {
        let file = std::path::PathBuf::from(run.get(url)["file"].as_str().unwrap());
        assert_eq!(file.parent().unwrap(), dir, "{url}");
        let body = std::fs::read_to_string(&file).unwrap();
        assert!(body.starts_with("ok /ok/"), "{url}: {body}");
        files.push(file);
    }
    assert_ne!(files[0], std::path::PathBuf::from(&kept));
    // The failed URL left no file; nothing else was written.
    assert!(run.get(&urls[3])["file"].is_null());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 4);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn http2_is_spoken_with_prior_knowledge() {
    let server = Server::start();
    let dir = fresh_dir("h2");
    for (flags, version) in [
        (vec!["--http2-prior-knowledge"], "HTTP/2.0"),
        (vec![], "HTTP/1.1"),
    ] {
        let urls = vec![server.url("/version")];
        let mut args = vec!["-o", dir.to_str().unwrap()];
        args.extend(flags);
        let run = fetch(&args, &urls);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let file = run.get(&urls[0])["file"].as_str().unwrap().to_owned();
        assert_eq!(std::fs::read_to_string(file).unwrap(), version);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tls_certificates_are_checked_unless_insecure_and_http2_is_negotiated() {
    let server = Server::start_tls();
    let dir = fresh_dir("tls");
    let urls = vec![server.https_url("/version")];
    // A self-signed certificate is refused, and named as such.
    let run = fetch(&[], &urls);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.class(&urls[0]), "tls", "{:?}", run.get(&urls[0]));
    assert_eq!(server.hits("/version"), 0);
    // With -k it is accepted, and ALPN picks HTTP/2.
    let run = fetch(&["-k", "-o", dir.to_str().unwrap()], &urls);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let file = run.get(&urls[0])["file"].as_str().unwrap().to_owned();
    assert_eq!(std::fs::read_to_string(file).unwrap(), "HTTP/2.0");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Sends SIGINT to `child`.
fn interrupt(child: &std::process::Child) {
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
}

/// Two gated requests in flight (at -c 2) and eight waiting; `signals`
/// SIGINTs; the gate opened after them.
fn interrupted(signals: usize) -> (Run, Vec<String>) {
    let server = Server::start();
    let mut urls = vec![server.url("/gate/1"), server.url("/gate/2")];
    urls.extend((0..8).map(|n| server.url(&format!("/ok/{n}"))));
    let child = herd()
        .args(["--json", "-c", "2"])
        .args(&urls)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    eventually("both gated requests in flight", || {
        server.seen.in_flight.load(Ordering::SeqCst) == 2
    });
    for _ in 0..signals {
        interrupt(&child);
        // Two signals sent at once may arrive as one.
        std::thread::sleep(Duration::from_millis(200));
    }
    server.open_gate();
    let output = child.wait_with_output().unwrap();
    let run = parse(
        output.status.code().unwrap_or(-1),
        &output.stdout,
        &output.stderr,
    );
    assert_eq!(server.hits("/ok/0"), 0, "no request started after Ctrl-C");
    (run, urls)
}

#[test]
fn ctrl_c_once_finishes_requests_in_flight_and_reports_the_rest_cancelled() {
    let (run, urls) = interrupted(1);
    assert_eq!(run.code, 130, "{}", run.stderr);
    assert_eq!(run.records.len(), 10, "{}", run.stderr);
    assert_eq!(run.class(&urls[0]), "ok");
    assert_eq!(run.class(&urls[1]), "ok");
    for url in &urls[2..] {
        assert_eq!(run.class(url), "cancelled");
        assert_eq!(run.attempts(url), 0);
    }
    assert!(run.stderr.contains("2 ok"), "{}", run.stderr);
    assert!(run.stderr.contains("8 cancelled"), "{}", run.stderr);
}

#[test]
fn ctrl_c_twice_cancels_requests_in_flight_too() {
    let (run, urls) = interrupted(2);
    assert_eq!(run.code, 130, "{}", run.stderr);
    assert_eq!(run.records.len(), 10, "{}", run.stderr);
    for url in &urls {
        assert_eq!(run.class(url), "cancelled", "{url}");
    }
    assert_eq!(run.attempts(&urls[0]), 1);
}

#[test]
fn ctrl_c_ends_a_wait_for_a_retry_at_once() {
    let server = Server::start();
    let urls = [server.url("/gate/1"), server.url("/503/3600")];
    let mut child = herd()
        .args([
            "--json",
            "-c",
            "2",
            "--retries",
            "3",
            "--retry-max-wait",
            "3600",
        ])
        .args(&urls)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    eventually("the gated request in flight and the 503 answered", || {
        server.seen.in_flight.load(Ordering::SeqCst) == 1 && server.hits("/503/3600") == 1
    });
    interrupt(&child);
    server.open_gate();
    // Not an hour: the wait for the retry ends with the signal.
    eventually("herd fetch to exit", || child.try_wait().unwrap().is_some());
    let output = child.wait_with_output().unwrap();
    let run = parse(
        output.status.code().unwrap_or(-1),
        &output.stdout,
        &output.stderr,
    );
    assert_eq!(run.code, 130, "{}", run.stderr);
    assert_eq!(run.class(&urls[0]), "ok");
    assert_eq!(run.class(&urls[1]), "cancelled");
    assert_eq!(run.attempts(&urls[1]), 1);
    assert_eq!(server.hits("/503/3600"), 1);
    let error = run.get(&urls[1])["error"].as_str().unwrap();
    assert!(error.contains("before a retry"), "{error}");
}

#[test]
fn a_closed_standard_output_stops_the_run() {
    let server = Server::start();
    let urls: Vec<String> = (0..1000)
        .map(|n| server.url(&format!("/slow/10/{n}")))
        .collect();
    let mut child = herd()
        .args(["-c", "2", "-q"])
        .args(&urls)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // `| head -1`: read one line, then go away.
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut first).unwrap();
    assert!(first.starts_with("ok\t200\t"), "{first}");
    drop(stdout);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let hits: u32 = (0..1000)
        .map(|n| server.hits(&format!("/slow/10/{n}")))
        .sum();
    assert!(hits < 100, "{hits} requests after the reader left");
}

#[test]
fn adaptive_concurrency_backs_off_a_server_that_sheds_load() {
    let urls = |server: &Server| -> Vec<String> {
        (0..300)
            .map(|n| server.url(&format!("/busy/{n}")))
            .collect()
    };
    let args = ["-c", "32", "--retries", "50", "--retry-delay", "0.005"];
    let fixed = Server::start();
    let run = fetch(&args, &urls(&fixed));
    assert_eq!((run.code, run.records.len()), (0, 300), "{}", run.stderr);
    let adaptive = Server::start();
    let mut adaptive_args = args.to_vec();
    adaptive_args.push("--adaptive");
    let run = fetch(&adaptive_args, &urls(&adaptive));
    assert_eq!((run.code, run.records.len()), (0, 300), "{}", run.stderr);
    let (fixed, adaptive) = (
        fixed.seen.busy_refusals.load(Ordering::SeqCst),
        adaptive.seen.busy_refusals.load(Ordering::SeqCst),
    );
    assert!(
        adaptive * 2 < fixed,
        "adaptive met {adaptive} refusals, fixed {fixed}"
    );
}

#[test]
fn usage_errors_exit_2_and_fetch_nothing() {
    let server = Server::start();
    let cases: [(&[&str], &str); 7] = [
        (&["-i", "/nonexistent/urls"], "/nonexistent/urls"),
        (&["-c", "0"], "-c 0"),
        (&["-H", "no colon"], "-H no colon"),
        (&["-X", "GE T"], "-X GE T"),
        (&["--rate", "fast"], "--rate fast"),
        (&["--max-body", "1X"], "--max-body 1X"),
        (&["--timeout=-1"], "--timeout -1"),
    ];
    for (args, named) in cases {
        let output = herd()
            .args(args)
            .arg(server.url("/ok/x"))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(named), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty());
    }
    assert_eq!(server.hits("/ok/x"), 0);
}

#[test]
fn text_lines_by_default_and_a_hundred_thousand_urls_in_bounded_memory() {
    let server = Server::start();
    let count = 100_000;
    // Reaped by wait_with_peak below, which also gives its peak memory.
    #[allow(clippy::zombie_processes)]
    let mut child = herd()
        .args(["-c", "64", "-q"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let base = server.url("/ok/");
    let writer = std::thread::spawn(move || {
        let mut input = String::new();
        for n in 0..count {
            input.push_str(&format!("{base}{n}\n"));
        }
        stdin.write_all(input.as_bytes()).unwrap();
    });
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut stdout = String::new();
        std::io::Read::read_to_string(&mut out, &mut stdout).unwrap();
        stdout
    });
    let (exited_ok, peak_mb) = common::wait_with_peak(&child);
    writer.join().unwrap();
    let stdout = reader.join().unwrap();
    assert!(exited_ok);
    let mut seen = std::collections::HashSet::new();
    for line in stdout.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(fields[..2], ["ok", "200"], "{line}");
        assert!(seen.insert(fields[5].to_owned()), "{line} twice");
    }
    assert_eq!(seen.len(), count);
    assert!(peak_mb < 50.0, "peak resident {peak_mb:.1} MB");
}

#[path = "../../herd/tests/support/redis_server.rs"]
mod redis_server;

#[test]
fn with_redis_two_runs_share_one_rate() {
    let server = Server::start();
    let redis = redis_server::RedisServer::start();
    let url = redis.url();
    // Two runs at once, 6 URLs each, both "at most 10 a second": sharing
    // the rate, the 12 requests span at least 1.1 s (alone, each run would
    // take about 0.5 s, side by side).
    let runs: Vec<_> = (0..2)
        .map(|run| {
            let urls: Vec<String> = (0..6)
                .map(|n| server.url(&format!("/ok/{run}-{n}")))
                .collect();
            let url = url.clone();
            std::thread::spawn(move || {
                fetch(&["-c", "4", "--rate", "10/s", "--redis", &url], &urls)
            })
        })
        .collect();
    for run in runs {
        let run = run.join().unwrap();
        assert_eq!((run.code, run.records.len()), (0, 6), "{}", run.stderr);
    }
    let arrivals = server.seen.arrivals.lock().unwrap();
    assert_eq!(arrivals.len(), 12);
    let span = *arrivals.iter().max().unwrap() - *arrivals.iter().min().unwrap();
    assert!(span >= Duration::from_millis(1050), "{span:?}");
}
