//! `herd fetch`: many URLs at once, bounded, rate-limited and retried, with
//! one line of account for every URL. The HTTP is reqwest's; the limits,
//! retries, bounded map and shutdown are herd's library.

mod http;

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use futures_util::FutureExt;
use futures_util::stream::{self, BoxStream, StreamExt};
use herd::dist::{Fallback, RedisRateLimiter};
use herd::limit::{AdaptiveLimit, Admitted, Algorithm, KeyedRateLimiter, RateLimiter};
use herd::resilience::{Failure, Retry, RetryError, Verdict};
use herd::sync::{OwnedPermit, Semaphore};
use herd::task::CancelToken;
use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use http::{Answer, Class, Failed, Request};

/// Every URL succeeded.
pub const OK: i32 = 0;
/// At least one URL failed (or some input could not be read).
pub const FAILED: i32 = 1;
/// The command line is wrong, or an input file or the output directory
/// cannot be opened: nothing was fetched.
pub const USAGE: i32 = 2;
/// Interrupted (Ctrl-C or SIGTERM); every URL is still accounted for.
pub const INTERRUPTED: i32 = 130;

const EXAMPLES: &str = "Examples:
  herd fetch -c 32 -i urls.txt --json > report.jsonl
  herd fetch --rate 10/s --per-host-concurrency 2 --retries 3 -o pages/ < urls.txt
  herd fetch --adaptive -c 128 -i urls.txt

Each URL gets one line on standard output (tab-separated: class, status,
bytes, seconds, attempts, URL, and the error), or one JSON object with
--json. A summary goes to standard error. Exit status: 0 when every URL
succeeded, 1 when any failed, 2 for a usage error, 130 when interrupted.";

/// Fetches many URLs at once: bounded, rate-limited, retried, every URL
/// accounted for.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct FetchArgs {
    /// URLs to fetch. With none and no --input, they are read from
    /// standard input, one per line.
    #[arg(value_name = "URL")]
    urls: Vec<String>,
    /// Read URLs from FILE, one per line (`-` is standard input); blank
    /// lines and lines starting with `#` are skipped. May be repeated.
    #[arg(short = 'i', long = "input", value_name = "FILE")]
    inputs: Vec<String>,
    /// Requests at once (with --adaptive: the most at once).
    #[arg(short = 'c', long, value_name = "N", default_value_t = 16)]
    concurrency: usize,
    /// Adapt the concurrency to the servers: it grows while latency holds
    /// and shrinks on rising latency, 429, 503, timeouts and refused
    /// connections (herd's Gradient2 limit), between 1 and -c.
    #[arg(long)]
    adaptive: bool,
    /// Start at most this many requests in all (retries too): N/s, N/m or
    /// N/h, evenly spaced.
    #[arg(long, value_name = "RATE")]
    rate: Option<String>,
    /// Start at most this many requests to each host: N/s, N/m or N/h.
    #[arg(long, value_name = "RATE")]
    per_host_rate: Option<String>,
    /// At most this many requests at once to each host.
    #[arg(long, value_name = "N")]
    per_host_concurrency: Option<usize>,
    /// Share --rate and --per-host-rate with every herd fetch that uses
    /// this Redis (redis://HOST:PORT/) and --redis-name: each request
    /// counts in Redis. If Redis fails or is slow (50 ms), each process
    /// falls back to its own limits, and says so on standard error.
    #[arg(long, value_name = "URL")]
    redis: Option<String>,
    /// The name the shared limits go by in Redis.
    #[arg(long, value_name = "NAME", default_value = "herd-fetch")]
    redis_name: String,
    /// Seconds to wait for a connection.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    connect_timeout: f64,
    /// Seconds for one attempt: connect, answer and the whole body.
    #[arg(short = 't', long, value_name = "SECS", default_value_t = 30.0)]
    timeout: f64,
    /// Try again this many times after a timeout, a broken or refused
    /// connection, or a 408, 429, 500, 502, 503 or 504 (0: never).
    #[arg(long, value_name = "N", default_value_t = 0)]
    retries: u32,
    /// The first wait before a retry, in seconds; it doubles each time, up
    /// to 60 s, with full jitter. A 429's or 503's Retry-After replaces it.
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    retry_delay: f64,
    /// The longest Retry-After honoured, in seconds; a longer one is cut
    /// to this.
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    retry_max_wait: f64,
    /// Redirects followed per URL; one more is a failure (class
    /// `redirects`).
    #[arg(long, value_name = "N", default_value_t = 10)]
    max_redirects: usize,
    /// The longest body read: a longer one is cut off there and the URL
    /// fails (class `too_large`). A number of bytes, or with K, M or G.
    #[arg(long, value_name = "BYTES")]
    max_body: Option<String>,
    /// A request header, `Name: value`. May be repeated.
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    headers: Vec<String>,
    /// The request method.
    #[arg(
        short = 'X',
        long = "request",
        value_name = "METHOD",
        default_value = "GET"
    )]
    method: String,
    /// A request body: the text, or `@FILE` for a file's bytes.
    #[arg(short = 'd', long, value_name = "DATA")]
    data: Option<String>,
    /// Save each body in DIR under a name made from its URL (never
    /// outside DIR, never over another file). A file whose URL failed is
    /// removed.
    #[arg(short = 'o', long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// One JSON object per URL on standard output: url, final_url, status,
    /// bytes, time, attempts, class, error, file.
    #[arg(long)]
    json: bool,
    /// No progress line and no summary on standard error.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Accept any TLS certificate (self-signed, expired, other host).
    #[arg(short = 'k', long)]
    insecure: bool,
    /// Speak HTTP/2 to http:// URLs without asking first (h2c). https://
    /// URLs use HTTP/2 whenever the server offers it.
    #[arg(long)]
    http2_prior_knowledge: bool,
    /// The User-Agent header.
    #[arg(short = 'A', long, value_name = "AGENT", default_value = concat!("herd/", env!("CARGO_PKG_VERSION")))]
    user_agent: String,
}

/// Fetches every URL; the exit status.
pub async fn fetch(args: FetchArgs) -> i32 {
    match prepare(args).await {
        Ok(fetcher) => fetcher.run().await,
        Err(message) => {
            eprintln!("herd fetch: {message}");
            USAGE
        }
    }
}

/// How one URL ended: a line of the report.
#[derive(Debug)]
struct Record {
    url: String,
    final_url: Option<String>,
    status: Option<u16>,
    bytes: u64,
    time: Duration,
    attempts: u32,
    class: Class,
    error: Option<String>,
    file: Option<PathBuf>,
}

impl Record {
    fn failed(url: String, attempts: u32, time: Duration, failed: Failed) -> Record {
        Record {
            url,
            final_url: failed.final_url.map(String::from),
            status: failed.status.map(|s| s.as_u16()),
            bytes: 0,
            time,
            attempts,
            class: failed.class,
            error: Some(failed.message),
            file: None,
        }
    }

    fn line(&self, json: bool) -> String {
        if json {
            let value = serde_json::json!({
                "url": self.url,
                "final_url": self.final_url,
                "status": self.status,
                "bytes": self.bytes,
                "time": (self.time.as_secs_f64() * 1e6).round() / 1e6,
                "attempts": self.attempts,
                "class": self.class.as_str(),
                "error": self.error,
                "file": self.file.as_ref().map(|f| f.display().to_string()),
            });
            return format!("{value}\n");
        }
        let status = self.status.map_or("-".to_owned(), |s| s.to_string());
        let mut line = format!(
            "{}\t{status}\t{}\t{:.3}\t{}\t{}",
            self.class.as_str(),
            self.bytes,
            self.time.as_secs_f64(),
            self.attempts,
            self.url.replace(['\t', '\n'], " "),
        );
        if let Some(error) = &self.error {
            line.push('\t');
            line.push_str(&error.replace(['\t', '\n'], " "));
        }
        line.push('\n');
        line
    }
}

/// The limits a request passes before it is sent, in this order: the
/// overall rate, the host's rate, the host's concurrency, the adaptive
/// limit. Waiting for a rate holds no concurrency permit (seed flaw 10).
struct Limits {
    rate: Option<RateLimiter>,
    host_rate: Option<KeyedRateLimiter<String>>,
    /// With --redis, the two rates counted in Redis instead.
    shared_rate: Option<RedisRateLimiter>,
    shared_host_rate: Option<RedisRateLimiter>,
    host_slots: Option<HostSlots>,
    adaptive: Option<AdaptiveLimit>,
}

/// What a request holds while it runs.
struct Held {
    _host: Option<HostPermit>,
    admitted: Option<Admitted>,
}

impl Limits {
    async fn pass(&self, host: &str) -> Held {
        // Errors only for a cost above the burst (the cost is 1), or, for
        // the shared rates, never: they fall back to local limits.
        if let Some(rate) = &self.shared_rate {
            let _ = rate.acquire("all", 1).await;
        } else if let Some(rate) = &self.rate {
            let _ = rate.acquire().await;
        }
        if let Some(host_rate) = &self.shared_host_rate {
            let _ = host_rate.acquire(host, 1).await;
        } else if let Some(host_rate) = &self.host_rate {
            let _ = host_rate.acquire(&host.to_owned()).await;
        }
        let host = match &self.host_slots {
            Some(slots) => Some(slots.acquire(host).await),
            None => None,
        };
        let admitted = match &self.adaptive {
            // The limit is never closed, so acquiring cannot fail.
            Some(limit) => limit.acquire().await.ok(),
            None => None,
        };
        Held {
            _host: host,
            admitted,
        }
    }
}

/// `--per-host-concurrency`: a semaphore per host, made on first use and
/// dropped when no request holds or waits for it, so memory follows the
/// hosts in flight, not every host ever seen.
struct HostSlots {
    per_host: usize,
    hosts: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

struct HostPermit {
    permit: Option<OwnedPermit>,
    semaphore: Arc<Semaphore>,
    host: String,
    hosts: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

impl HostSlots {
    async fn acquire(&self, host: &str) -> HostPermit {
        let semaphore = self
            .hosts
            .lock()
            .unwrap()
            .entry(host.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::named(format!("host {host}"), self.per_host)))
            .clone();
        let permit = semaphore
            .clone()
            .acquire_owned()
            .await
            .expect("host semaphores are never closed");
        HostPermit {
            permit: Some(permit),
            semaphore,
            host: host.to_owned(),
            hosts: self.hosts.clone(),
        }
    }
}

impl Drop for HostPermit {
    fn drop(&mut self) {
        drop(self.permit.take());
        let mut hosts = self.hosts.lock().unwrap();
        // Only the map and this handle left: no one holds or waits for the
        // host (a waiter holds its own handle), so it goes.
        if Arc::strong_count(&self.semaphore) == 2 {
            hosts.remove(&self.host);
        }
    }
}

struct Fetcher {
    urls: BoxStream<'static, std::io::Result<String>>,
    request: Arc<Request>,
    limits: Arc<Limits>,
    retry: Retry<fn(&Failed) -> Verdict>,
    concurrency: usize,
    output_dir: Option<PathBuf>,
    json: bool,
    quiet: bool,
}

fn classify(failed: &Failed) -> Verdict {
    match failed.retry() {
        None => Verdict::Stop,
        Some(None) => Verdict::Retry,
        Some(Some(after)) => Verdict::RetryAfter(after),
    }
}

fn seconds(flag: &str, secs: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("{flag} {secs}: expected a number of seconds"))
}

fn parse_size(size: &str) -> Result<u64, String> {
    let bad = || format!("--max-body {size}: expected bytes, or a number with K, M or G");
    let (digits, unit) = match size.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => size.split_at(at),
        None => (size, ""),
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let scale: u64 = match unit {
        "" | "B" => 1,
        "K" | "k" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        _ => return Err(bad()),
    };
    n.checked_mul(scale).ok_or_else(bad)
}

async fn prepare(args: FetchArgs) -> Result<Fetcher, String> {
    if args.concurrency == 0 {
        return Err("-c 0: at least one request at once".into());
    }
    if args.per_host_concurrency == Some(0) {
        return Err("--per-host-concurrency 0: at least one request at once".into());
    }
    let method = reqwest::Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("-X {}: not an HTTP method", args.method))?;
    let mut headers = HeaderMap::new();
    for header in &args.headers {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| format!("-H {header}: expected `Name: value`"))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| format!("-H {header}: `{}` is not a header name", name.trim()))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| format!("-H {header}: the value is not a valid header value"))?;
        headers.append(name, value);
    }
    let body = match args.data.as_deref() {
        Some(data) => Some(bytes::Bytes::from(match data.strip_prefix('@') {
            Some(path) => std::fs::read(path).map_err(|e| format!("-d @{path}: {e}"))?,
            None => data.as_bytes().to_vec(),
        })),
        None => None,
    };
    let timeout = seconds("--timeout", args.timeout)?;
    let connect_timeout = seconds("--connect-timeout", args.connect_timeout)?;
    let retry_delay = seconds("--retry-delay", args.retry_delay)?;
    let retry_max_wait = seconds("--retry-max-wait", args.retry_max_wait)?;
    let max_body = match args.max_body.as_deref() {
        Some(size) => parse_size(size)?,
        None => u64::MAX,
    };
    if let Some(dir) = &args.output_dir {
        std::fs::create_dir_all(dir).map_err(|e| format!("-o {}: {e}", dir.display()))?;
    }
    // reqwest is built without a default TLS provider; herd picks ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut client = reqwest::Client::builder()
        .user_agent(&args.user_agent)
        .default_headers(headers)
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::limited(args.max_redirects))
        .pool_max_idle_per_host(args.concurrency)
        .tls_danger_accept_invalid_certs(args.insecure);
    if args.http2_prior_knowledge {
        client = client.http2_prior_knowledge();
    }
    let client = client
        .build()
        .map_err(|e| format!("the HTTP client: {e}"))?;
    let rate = args
        .rate
        .as_deref()
        .map(|r| crate::run::parse_rate("--rate", r))
        .transpose()?;
    let host_rate = args
        .per_host_rate
        .as_deref()
        .map(|r| crate::run::parse_rate("--per-host-rate", r))
        .transpose()?;
    let (shared_rate, shared_host_rate) = match &args.redis {
        None => (None, None),
        Some(url) => {
            let client =
                redis::Client::open(url.as_str()).map_err(|e| format!("--redis {url}: {e}"))?;
            let shared = |suffix: &str, quota| {
                RedisRateLimiter::builder(
                    client.clone(),
                    format!("{}:{suffix}", args.redis_name),
                    quota,
                    Fallback::Local,
                )
                .build()
            };
            let mut made = (None, None);
            if let Some(quota) = rate {
                made.0 = Some(
                    shared("rate", quota)
                        .await
                        .map_err(|e| format!("--redis {url}: {e}"))?,
                );
            }
            if let Some(quota) = host_rate {
                made.1 = Some(
                    shared("host", quota)
                        .await
                        .map_err(|e| format!("--redis {url}: {e}"))?,
                );
            }
            made
        }
    };
    let limits = Limits {
        rate: rate.map(RateLimiter::new),
        host_rate: host_rate.map(KeyedRateLimiter::new),
        shared_rate,
        shared_host_rate,
        host_slots: args.per_host_concurrency.map(|per_host| HostSlots {
            per_host,
            hosts: Arc::default(),
        }),
        adaptive: args.adaptive.then(|| {
            AdaptiveLimit::builder(Algorithm::gradient2())
                .min(1)
                .max(args.concurrency)
                .initial(args.concurrency.min(16))
                .build()
        }),
    };
    let retry = Retry::new()
        .attempts(args.retries.saturating_add(1))
        .backoff(retry_delay, 2, retry_delay.max(Duration::from_secs(60)))
        .max_retry_after(retry_max_wait)
        .retry_if(classify as fn(&Failed) -> Verdict);
    let urls = urls(args.urls, &args.inputs)?;
    Ok(Fetcher {
        urls,
        request: Arc::new(Request {
            client,
            method,
            body,
            max_body,
            timeout,
        }),
        limits: Arc::new(limits),
        retry,
        concurrency: args.concurrency,
        output_dir: args.output_dir,
        json: args.json,
        quiet: args.quiet,
    })
}

/// The URLs: the arguments, then each input file in turn (standard input
/// when there is neither), read line by line on a thread as they are
/// needed, so a long list runs in bounded memory. Every file is opened
/// here, so one that cannot be read is a usage error before anything is
/// fetched.
fn urls(
    args: Vec<String>,
    inputs: &[String],
) -> Result<BoxStream<'static, std::io::Result<String>>, String> {
    let mut inputs = inputs.to_vec();
    if args.is_empty() && inputs.is_empty() {
        if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            return Err(
                "no URLs: give them as arguments, with -i FILE, or on standard input".into(),
            );
        }
        inputs.push("-".into());
    }
    let mut readers: Vec<Box<dyn std::io::Read + Send>> = Vec::new();
    for input in &inputs {
        readers.push(if input == "-" {
            Box::new(std::io::stdin())
        } else {
            Box::new(std::fs::File::open(input).map_err(|e| format!("-i {input}: {e}"))?)
        });
    }
    let given = stream::iter(args.into_iter().map(Ok));
    if readers.is_empty() {
        return Ok(given.boxed());
    }
    let lines = readers.into_iter().flat_map(|reader| {
        std::io::BufReader::new(reader)
            .lines()
            .filter(|line| {
                line.as_ref().map_or(true, |l| {
                    !l.trim().is_empty() && !l.trim_start().starts_with('#')
                })
            })
            .map(|line| line.map(|l| l.trim().to_owned()))
    });
    let read = crate::run::input::spawn_reader("herd-fetch-input", 1024, lines)
        .map_err(|e| format!("reading the input: {e}"))?;
    Ok(given.chain(read).boxed())
}

/// Totals for the summary.
#[derive(Default)]
struct Tally {
    urls: u64,
    by_class: HashMap<Class, u64>,
    input_errors: u64,
}

impl Fetcher {
    async fn run(self) -> i32 {
        let started = Instant::now();
        // Ctrl-C (or SIGTERM) once: start no more requests, let those in
        // flight finish, report the rest as cancelled; twice: cancel those
        // in flight too.
        let shutdown = herd::shutdown::Shutdown::with_signals();
        let stop = shutdown.token().clone();
        let force = shutdown.force_token().clone();
        let retry = self.retry.clone().token(&force);
        let request = self.request.clone();
        let limits = self.limits.clone();
        let dir = self.output_dir.clone();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let call = {
            let in_flight = in_flight.clone();
            move |line: std::io::Result<String>| {
                let (request, limits, retry, dir) =
                    (request.clone(), limits.clone(), retry.clone(), dir.clone());
                let (stop, in_flight) = (stop.clone(), in_flight.clone());
                async move {
                    Ok::<_, std::convert::Infallible>(match line {
                        Ok(url) => Some(
                            one(
                                url,
                                &request,
                                &limits,
                                &retry,
                                dir.as_deref(),
                                &stop,
                                &in_flight,
                            )
                            .await,
                        ),
                        Err(error) => {
                            eprintln!("herd fetch: reading the input: {error}");
                            None
                        }
                    })
                }
            }
        };
        let mut records = herd::pool::map_unordered(self.concurrency, self.urls, call).boxed();
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let mut progress = (!self.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .then(|| Progress::new(started));
        let mut tally = Tally::default();
        let mut closed = false;
        loop {
            // Flush only when about to wait: a line per URL reaches a pipe
            // promptly without a write per line at full speed.
            let next = match records.next().now_or_never() {
                Some(next) => next,
                None => {
                    if !closed && out.flush().is_err() {
                        closed = reader_left(&shutdown);
                    }
                    records.next().await
                }
            };
            let Some(next) = next else { break };
            let record = match next {
                Ok(Some(record)) => record,
                Ok(None) => {
                    tally.input_errors += 1;
                    continue;
                }
                Err(error) => {
                    // A panic in herd fetch itself: the URL is lost, so say
                    // so and fail.
                    eprintln!("herd fetch: {error}");
                    tally.input_errors += 1;
                    continue;
                }
            };
            tally.urls += 1;
            *tally.by_class.entry(record.class).or_default() += 1;
            if !closed && out.write_all(record.line(self.json).as_bytes()).is_err() {
                closed = reader_left(&shutdown);
            }
            if let Some(progress) = progress.as_mut() {
                progress.update(&tally, in_flight.load(Ordering::Relaxed));
            }
        }
        let _ = out.flush();
        drop(out);
        if let Some(progress) = progress {
            progress.finish();
        }
        let interrupted = shutdown.is_triggered();
        if !self.quiet {
            eprintln!("herd fetch: {}", summary(&tally, started.elapsed()));
        }
        let failed = tally.input_errors
            + tally
                .by_class
                .iter()
                .filter(|(class, _)| **class != Class::Ok)
                .map(|(_, n)| n)
                .sum::<u64>();
        if interrupted {
            INTERRUPTED
        } else if failed > 0 {
            FAILED
        } else {
            OK
        }
    }
}

/// One URL, from its line to its record: parse, pass the limits, try
/// (again as the retry policy says), save.
async fn one(
    url: String,
    request: &Request,
    limits: &Limits,
    retry: &Retry<fn(&Failed) -> Verdict>,
    dir: Option<&std::path::Path>,
    stop: &CancelToken,
    in_flight: &AtomicUsize,
) -> Record {
    let parsed = match Url::parse(&url) {
        Ok(parsed) => parsed,
        Err(error) => {
            let failed = Failed::new(Class::InvalidUrl, format!("not a URL: {error}"));
            return Record::failed(url, 0, Duration::ZERO, failed);
        }
    };
    if !matches!(parsed.scheme(), "http" | "https") {
        let failed = Failed::new(
            Class::UnsupportedScheme,
            format!("{}: only http and https are fetched", parsed.scheme()),
        );
        return Record::failed(url, 0, Duration::ZERO, failed);
    }
    if stop.is_cancelled() {
        return Record::failed(url, 0, Duration::ZERO, interrupted(1));
    }
    let host = match parsed.port_or_known_default() {
        Some(port) => format!("{}:{port}", parsed.host_str().unwrap_or("")),
        None => parsed.host_str().unwrap_or("").to_owned(),
    };
    let file = match dir {
        Some(dir) => match http::claim(dir, &parsed).await {
            Ok(path) => Some(path),
            Err(failed) => return Record::failed(url, 0, Duration::ZERO, failed),
        },
        None => None,
    };
    let started = Instant::now();
    // Whether a request is on the wire, and how many have been sent.
    let sending = AtomicBool::new(false);
    let sent = AtomicU32::new(0);
    let outcome = {
        let run = retry.run(|attempt| {
            let (parsed, file, host) = (&parsed, file.as_deref(), host.as_str());
            let (sending, sent) = (&sending, &sent);
            async move {
                let held = limits.pass(host).await;
                // After the first Ctrl-C no request starts: not a first one,
                // and not a retry. (Checked in the same poll that marks the
                // request as sending, so the two cannot interleave.)
                if stop.is_cancelled() {
                    return Err(interrupted(attempt));
                }
                sending.store(true, Ordering::Relaxed);
                sent.store(attempt, Ordering::Relaxed);
                let result = {
                    // Counted for the progress line while on the wire,
                    // even if the second Ctrl-C drops the request.
                    let _counted = Counted::new(in_flight);
                    request.attempt(parsed, file).await
                };
                sending.store(false, Ordering::Relaxed);
                if let Some(admitted) = held.admitted {
                    match &result {
                        Ok(_) => admitted.success(),
                        Err(failed) if failed.overload() => admitted.overloaded(),
                        Err(_) => drop(admitted),
                    }
                }
                match result {
                    Ok(answer) => Ok((attempt, answer)),
                    // Interrupted meanwhile: no retry, but say what failed.
                    Err(failed) if stop.is_cancelled() && failed.retry().is_some() => {
                        let mut cancelled = interrupted(attempt + 1);
                        cancelled.message =
                            format!("{} (the last attempt: {failed})", cancelled.message);
                        cancelled.status = failed.status;
                        Err(cancelled)
                    }
                    Err(failed) => Err(failed),
                }
            }
        });
        tokio::pin!(run);
        // The first Ctrl-C ends a URL waiting for its limits or for a retry at
        // once; one whose request is on the wire runs on until it ends.
        tokio::select! {
            biased;
            outcome = &mut run => outcome,
            _ = stop.cancelled() => {
                if sending.load(Ordering::Relaxed) {
                    run.await
                } else {
                    let attempts = sent.load(Ordering::Relaxed);
                    Err(RetryError::Stopped {
                        attempts,
                        error: interrupted(attempts + 1),
                    })
                }
            }
        }
    };
    let time = started.elapsed();
    let failed = match outcome {
        Ok((
            attempts,
            Answer {
                status,
                final_url,
                bytes,
            },
        )) => {
            return Record {
                url,
                final_url: Some(final_url.into()),
                status: Some(status.as_u16()),
                bytes,
                time,
                attempts,
                class: Class::Ok,
                error: None,
                file,
            };
        }
        Err(RetryError::Exhausted { last, .. }) | Err(RetryError::BudgetExhausted { last, .. }) => {
            failure(last)
        }
        Err(RetryError::Stopped { error, .. }) => error,
        Err(RetryError::Cancelled { .. }) => {
            Failed::new(Class::Cancelled, "interrupted while it ran")
        }
        Err(other) => Failed::new(Class::Connection, other.to_string()),
    };
    // Attempts are requests sent: one stopped before it was sent does not
    // count.
    let record = Record::failed(url, sent.load(Ordering::Relaxed), time, failed);
    if let Some(file) = file {
        let _ = tokio::fs::remove_file(file).await;
    }
    record
}

/// The reader of standard output went away (`| head`): no one reads the
/// rest of the account, so the run stops as at the first Ctrl-C. Returns
/// that output is closed.
fn reader_left(shutdown: &herd::shutdown::Shutdown) -> bool {
    shutdown.trigger("standard output closed");
    true
}

/// One more in a counter while it lives.
struct Counted<'a>(&'a AtomicUsize);

impl<'a> Counted<'a> {
    fn new(counter: &'a AtomicUsize) -> Counted<'a> {
        counter.fetch_add(1, Ordering::Relaxed);
        Counted(counter)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A URL stopped by the first Ctrl-C before its `attempt`-th request.
fn interrupted(attempt: u32) -> Failed {
    let when = if attempt == 1 {
        "before it started"
    } else {
        "before a retry"
    };
    Failed::new(Class::Cancelled, format!("interrupted {when}"))
}

/// A failed attempt's report: the operation's error, or (never here: the
/// attempt timeout is the request's own) the retry policy's timeout.
fn failure(last: Failure<Failed>) -> Failed {
    match last {
        Failure::Error(failed) => failed,
        Failure::TimedOut(after) => {
            Failed::new(Class::Timeout, format!("no whole answer within {after:?}"))
        }
    }
}

/// The closing line: how many URLs, how fast, and how many ended each way,
/// the most common first.
fn summary(tally: &Tally, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let mut classes: Vec<(Class, u64)> = tally.by_class.iter().map(|(c, n)| (*c, *n)).collect();
    classes.sort_by_key(|&(class, n)| (std::cmp::Reverse(n), class));
    let mut line = format!(
        "{} URLs in {secs:.2} s ({:.0}/s)",
        tally.urls,
        tally.urls as f64 / secs.max(1e-9)
    );
    let counts: Vec<String> = classes
        .iter()
        .map(|(class, n)| format!("{n} {}", class.as_str()))
        .collect();
    if !counts.is_empty() {
        line.push_str(": ");
        line.push_str(&counts.join(", "));
    }
    if tally.input_errors > 0 {
        line.push_str(&format!("; {} input errors", tally.input_errors));
    }
    line
}

/// The progress line on a terminal's standard error, rewritten at most
/// ten times a second.
struct Progress {
    started: Instant,
    drawn: Instant,
}

impl Progress {
    fn new(started: Instant) -> Progress {
        Progress {
            started,
            drawn: started,
        }
    }

    fn update(&mut self, tally: &Tally, in_flight: usize) {
        if self.drawn.elapsed() < Duration::from_millis(100) {
            return;
        }
        self.drawn = Instant::now();
        let ok = tally.by_class.get(&Class::Ok).copied().unwrap_or(0);
        let rate = tally.urls as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        let _ = write!(
            std::io::stderr().lock(),
            "\r\x1b[K{} done ({ok} ok, {} failed), {in_flight} in flight, {rate:.0}/s",
            tally.urls,
            tally.urls - ok,
        );
    }

    fn finish(self) {
        let _ = write!(std::io::stderr().lock(), "\r\x1b[K");
    }
}
