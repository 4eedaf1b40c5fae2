//! One URL's requests: the client, one attempt, what went wrong (as a
//! class a script can count), and where a body is saved.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use tokio::io::AsyncWriteExt;

/// How a URL ended: `ok`, or the kind of failure. The names are the
/// `class` field of `--json` and the summary's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// A 2xx answer, its whole body read (and saved, with `--output-dir`).
    Ok,
    /// The line is not a URL.
    InvalidUrl,
    /// A URL whose scheme is not http or https.
    UnsupportedScheme,
    /// The host name did not resolve.
    Dns,
    /// No connection: refused, unreachable, or the connect timeout.
    Connect,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// No whole answer within `--timeout`.
    Timeout,
    /// The connection broke: reset, closed mid-answer, a protocol error.
    Connection,
    /// More redirects than `--max-redirects`, or a redirect loop.
    Redirects,
    /// A 4xx answer.
    Http4xx,
    /// A 5xx answer.
    Http5xx,
    /// A 1xx or 3xx final answer (a redirect without a location).
    HttpOther,
    /// The body passed `--max-body`; it was cut off there.
    TooLarge,
    /// The body could not be decompressed.
    Decode,
    /// The body could not be written to `--output-dir`.
    File,
    /// Interrupted (Ctrl-C) before it started or while it ran.
    Cancelled,
}

impl Class {
    /// The name in `--json` and the summary.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Ok => "ok",
            Class::InvalidUrl => "invalid_url",
            Class::UnsupportedScheme => "unsupported_scheme",
            Class::Dns => "dns",
            Class::Connect => "connect",
            Class::Tls => "tls",
            Class::Timeout => "timeout",
            Class::Connection => "connection",
            Class::Redirects => "redirects",
            Class::Http4xx => "http_4xx",
            Class::Http5xx => "http_5xx",
            Class::HttpOther => "http_other",
            Class::TooLarge => "too_large",
            Class::Decode => "decode",
            Class::File => "file",
            Class::Cancelled => "cancelled",
        }
    }

    /// Whether the server may answer differently next time: a timeout, a
    /// broken or refused connection, and the statuses that say "later"
    /// (408, 429, 500, 502, 503, 504), as curl's `--retry` decides.
    fn transient(self, status: Option<StatusCode>) -> bool {
        match self {
            Class::Timeout | Class::Connection | Class::Connect => true,
            Class::Http4xx | Class::Http5xx => {
                matches!(
                    status.map(|s| s.as_u16()),
                    Some(408 | 429 | 500 | 502 | 503 | 504)
                )
            }
            _ => false,
        }
    }
}

/// One failed attempt.
#[derive(Debug)]
pub struct Failed {
    pub class: Class,
    pub status: Option<StatusCode>,
    pub final_url: Option<Url>,
    /// A 429's or 503's Retry-After.
    pub retry_after: Option<Duration>,
    pub message: String,
}

impl Failed {
    pub fn new(class: Class, message: impl Into<String>) -> Failed {
        Failed {
            class,
            status: None,
            final_url: None,
            retry_after: None,
            message: message.into(),
        }
    }

    /// Whether another attempt may go differently, and after how long if
    /// the server said.
    pub fn retry(&self) -> Option<Option<Duration>> {
        self.class
            .transient(self.status)
            .then_some(self.retry_after)
    }

    /// Whether this failure says the server is overloaded (for
    /// `--adaptive`): 429, 503, a timeout, a refused connection.
    pub fn overload(&self) -> bool {
        matches!(self.class, Class::Timeout | Class::Connect)
            || matches!(self.status.map(|s| s.as_u16()), Some(429 | 503))
    }

    fn from_reqwest(error: &reqwest::Error) -> Failed {
        let message = chain(error);
        let class = if error.is_timeout() {
            Class::Timeout
        } else if error.is_redirect() {
            Class::Redirects
        } else if error.is_decode() {
            Class::Decode
        } else if caused_by::<rustls::Error>(error) {
            Class::Tls
        } else if error.is_dns() {
            Class::Dns
        } else if error.is_connect() {
            Class::Connect
        } else {
            Class::Connection
        };
        let mut failed = Failed::new(class, message);
        failed.final_url = error.url().cloned();
        failed
    }

    fn status(status: StatusCode, final_url: Url, headers: &HeaderMap) -> Failed {
        let class = match status.as_u16() {
            400..=499 => Class::Http4xx,
            500..=599 => Class::Http5xx,
            _ => Class::HttpOther,
        };
        let retry_after = matches!(status.as_u16(), 429 | 503)
            .then(|| {
                headers
                    .get(RETRY_AFTER)?
                    .to_str()
                    .ok()
                    .and_then(retry_after)
            })
            .flatten();
        Failed {
            class,
            status: Some(status),
            final_url: Some(final_url),
            retry_after,
            message: format!("the server answered {status}"),
        }
    }
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A Retry-After value: seconds, or an HTTP date (how long from now).
pub fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// An error and its causes, as one line. reqwest's own "error sending
/// request for url (...)" is left out: the URL is on the line already, and
/// the causes say what happened.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    if message.starts_with("error sending request")
        && let Some(cause) = source
    {
        message = cause.to_string();
        source = cause.source();
    }
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// Whether an `E` is anywhere in `error`'s causes, including inside an
/// `io::Error`, whose `source` skips the error it wraps (rustls's errors
/// reach reqwest inside two of them).
fn caused_by<E: std::error::Error + 'static>(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(cause) = next {
        if cause.is::<E>() {
            return true;
        }
        next = match cause
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => cause.source(),
        };
    }
    false
}

/// A 2xx answer, its body read.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub final_url: Url,
    pub bytes: u64,
}

/// What one request is: everything but the URL.
pub struct Request {
    pub client: reqwest::Client,
    pub method: Method,
    pub body: Option<bytes::Bytes>,
    /// `--max-body`: a longer body is cut off here.
    pub max_body: u64,
    /// `--timeout`: for the whole attempt, answer and body.
    pub timeout: Duration,
}

/// The most of an error answer's body read so that its connection can be
/// used again; a longer one closes the connection instead.
const DRAIN: u64 = 64 * 1024;

impl Request {
    /// One attempt at `url`, its body written to `file` (from the start,
    /// so a retry overwrites what an earlier attempt wrote), within the
    /// timeout.
    pub async fn attempt(&self, url: &Url, file: Option<&Path>) -> Result<Answer, Failed> {
        match tokio::time::timeout(self.timeout, self.exchange(url, file)).await {
            Ok(result) => result,
            Err(_) => Err(Failed::new(
                Class::Timeout,
                format!("no whole answer within {:?}", self.timeout),
            )),
        }
    }

    async fn exchange(&self, url: &Url, file: Option<&Path>) -> Result<Answer, Failed> {
        let mut request = self.client.request(self.method.clone(), url.clone());
        if let Some(body) = &self.body {
            request = request.body(body.clone());
        }
        let mut response = request.send().await.map_err(|e| Failed::from_reqwest(&e))?;
        let status = response.status();
        let final_url = response.url().clone();
        if !status.is_success() {
            let failed = Failed::status(status, final_url, response.headers());
            let mut drained = 0;
            while drained <= DRAIN {
                match response.chunk().await {
                    Ok(Some(chunk)) => drained += chunk.len() as u64,
                    _ => break,
                }
            }
            return Err(failed);
        }
        let mut out = match file {
            Some(path) => Some(
                tokio::fs::File::create(path)
                    .await
                    .map_err(|e| file_error(path, &e))?,
            ),
            None => None,
        };
        let mut bytes = 0u64;
        loop {
            let chunk = match response.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(error) => {
                    let mut failed = Failed::from_reqwest(&error);
                    failed.final_url = Some(final_url);
                    failed.status = Some(status);
                    return Err(failed);
                }
            };
            bytes += chunk.len() as u64;
            if bytes > self.max_body {
                let mut failed = Failed::new(
                    Class::TooLarge,
                    format!("the body is longer than --max-body {}", self.max_body),
                );
                failed.status = Some(status);
                failed.final_url = Some(final_url);
                return Err(failed);
            }
            if let (Some(out), Some(path)) = (out.as_mut(), file) {
                out.write_all(&chunk)
                    .await
                    .map_err(|e| file_error(path, &e))?;
            }
        }
        if let (Some(out), Some(path)) = (out.as_mut(), file) {
            out.flush().await.map_err(|e| file_error(path, &e))?;
        }
        Ok(Answer {
            status,
            final_url,
            bytes,
        })
    }
}

fn file_error(path: &Path, error: &std::io::Error) -> Failed {
    Failed::new(Class::File, format!("{}: {error}", path.display()))
}

/// A URL's file name in `--output-dir`: its host, path and query with
/// every character outside `A-Za-z0-9._-` made `_`, cut to 100 bytes, then
/// a 64-bit hash of the whole URL (so that URLs differing only in
/// characters the name drops, or past the cut, still differ), then the
/// path's extension. It holds no `/` and never starts with a dot, so it
/// names a file in the directory and nothing outside it.
pub fn file_name(url: &Url) -> String {
    let mut words = String::new();
    words.push_str(url.host_str().unwrap_or("host"));
    if let Some(port) = url.port() {
        words.push_str(&format!("_{port}"));
    }
    let path = url.path().trim_matches('/');
    let (stem, extension) = match path.rsplit_once('.') {
        Some((stem, ext))
            if !ext.is_empty()
                && ext.len() <= 8
                && ext.bytes().all(|b| b.is_ascii_alphanumeric())
                && !stem.ends_with('/') =>
        {
            (stem, Some(ext))
        }
        _ => (path, None),
    };
    if !stem.is_empty() {
        words.push('_');
        words.push_str(stem);
    }
    if let Some(query) = url.query() {
        words.push('_');
        words.push_str(query);
    }
    let mut name = String::with_capacity(words.len());
    for c in words.chars() {
        match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '_' => name.push(c),
            // No `..` anywhere, though without a `/` it could name nothing
            // outside the directory.
            '.' if !name.ends_with('.') => name.push('.'),
            _ => name.push('_'),
        }
    }
    name.truncate(100);
    let name = name.trim_start_matches('.');
    let mut name = format!("{name}-{:016x}", fnv1a(url.as_str().as_bytes()));
    if let Some(extension) = extension {
        name.push('.');
        name.push_str(extension);
    }
    name
}

/// FNV-1a, 64 bits: stable across builds and platforms, unlike std's
/// hasher, so a URL's file name is the same on every run.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Claims a new file for `url` in `dir`: its [`file_name`], or, if that is
/// taken (the same URL twice, or an earlier run's file), the name with
/// `~2`, `~3`... before the extension. Created empty with `create_new`, so
/// no two URLs, and no two runs, ever write the same file.
pub async fn claim(dir: &Path, url: &Url) -> Result<PathBuf, Failed> {
    let name = file_name(url);
    let (stem, extension) = match name.rsplit_once('.') {
        Some((stem, ext)) => (stem.to_owned(), format!(".{ext}")),
        None => (name.clone(), String::new()),
    };
    for n in 1u32.. {
        let candidate = match n {
            1 => dir.join(&name),
            n => dir.join(format!("{stem}~{n}{extension}")),
        };
        match tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
            .await
        {
            Ok(_) => return Ok(candidate),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(file_error(&candidate, &e)),
        }
    }
    unreachable!("some suffix is free")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(url: &str) -> String {
        file_name(&Url::parse(url).unwrap())
    }

    #[test]
    fn file_names_stay_in_the_directory() {
        for url in [
            "http://h/../../etc/passwd",
            "http://h/%2e%2e%2f%2e%2e%2fetc/passwd",
            "http://h/a/..%2F..%2Fx",
            "http://h/.hidden",
            "http://h/",
            "http://h",
            "http://h/a?b=../../c",
        ] {
            let n = name(url);
            assert!(!n.contains('/'), "{url} -> {n}");
            assert!(!n.starts_with('.'), "{url} -> {n}");
            assert!(!n.contains(".."), "{url} -> {n}");
        }
    }

    #[test]
    fn file_names_keep_host_path_and_extension_and_differ_per_url() {
        let a = name("http://example.com/files/report.pdf");
        assert!(a.starts_with("example.com_files_report-"), "{a}");
        assert!(a.ends_with(".pdf"), "{a}");
        // Differ only where the name drops characters, or past its cut.
        assert_ne!(name("http://h/a?x=1"), name("http://h/a?x=2"));
        assert_ne!(name("http://h/a b"), name("http://h/a_b"));
        let long = "x".repeat(300);
        assert_ne!(
            name(&format!("http://h/{long}1")),
            name(&format!("http://h/{long}2"))
        );
        assert!(name(&format!("http://h/{long}")).len() < 130);
        assert_eq!(name("http://h:8080/a"), name("http://h:8080/a"));
        assert!(name("http://h:8080/a").starts_with("h_8080_a-"));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(" 0 "), Some(Duration::ZERO));
        // A date in the past: retry now.
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let later =
            httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
        let wait = retry_after(&later).unwrap();
        assert!(wait > Duration::from_secs(100) && wait <= Duration::from_secs(120));
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn transient_failures_are_the_ones_retried() {
        let status = |code| Some(StatusCode::from_u16(code).unwrap());
        assert!(Class::Timeout.transient(None));
        assert!(Class::Connection.transient(None));
        assert!(Class::Http5xx.transient(status(503)));
        assert!(Class::Http4xx.transient(status(429)));
        assert!(!Class::Http4xx.transient(status(404)));
        assert!(!Class::Http5xx.transient(status(501)));
        assert!(!Class::TooLarge.transient(None));
        assert!(!Class::Cancelled.transient(None));
        assert!(!Class::Dns.transient(None));
    }
}
