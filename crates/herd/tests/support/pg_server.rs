//! A PostgreSQL server of a test's own: a fresh cluster in a temporary
//! directory, on a free port of 127.0.0.1, stopped and removed on drop.
//! Shared (by `#[path]`) by herd's and herd-cli's tests and the examples
//! that need a real database; `initdb`, `postgres` and `pg_isready` come
//! from Debian's `postgresql` package, which `.ci/run` installs (Debian puts
//! the server's binaries in /usr/lib/postgresql/VERSION/bin, not on PATH).
//!
//! PostgreSQL refuses to run as root: when the test runs as root (as CI
//! does), the cluster is made and run as the `postgres` user that Debian's
//! package creates. Either way the cluster's superuser is `herd`, with trust
//! authentication, so [`PgServer::url`] needs no password.

#![allow(dead_code)] // each user needs a different part

use std::ffi::CString;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long `start` and `restart` wait for the server to accept connections
/// (generous: doc tests start a score of servers at once on two cores).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `stop` waits for a fast shutdown before an immediate one.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// The cluster's superuser, which [`PgServer::url`] connects as.
const ROLE: &str = "herd";
const MISSING: &str = "PostgreSQL server must be installed (apt-get install postgresql)";

/// A PostgreSQL server on 127.0.0.1, with a cluster of its own.
pub struct PgServer {
    /// The postmaster, while it runs.
    child: Option<Child>,
    /// The port it listens on (the same after a restart).
    pub port: u16,
    /// The temporary directory that holds everything below; removed on drop.
    root: PathBuf,
    /// The cluster (`root/data`).
    data: PathBuf,
    /// Where the server puts its Unix socket (`root/sock`).
    sockets: PathBuf,
    /// The server's stdout and stderr (`root/postgres.log`).
    log: PathBuf,
    /// The `postgres` binary.
    postgres: PathBuf,
    /// `pg_isready`, if there is one.
    pg_isready: Option<PathBuf>,
    /// The user and group to run as, when we are root.
    run_as: Option<(libc::uid_t, libc::gid_t)>,
    /// Settings beyond the defaults (`-c NAME=VALUE`).
    settings: Vec<String>,
}

impl PgServer {
    /// Starts a fresh cluster (initdb, then postgres) on a free port of
    /// 127.0.0.1, its data in a new temporary directory, and waits (up to
    /// 60 s) until it accepts connections.
    pub fn start() -> PgServer {
        Self::start_inner(false)
    }

    /// As [`start`](PgServer::start), with TLS on (`ssl=on`) and a
    /// certificate for 127.0.0.1 signed by a test CA, both made by
    /// `openssl` (see [`tls_cert`](PgServer::tls_cert)); plain connections
    /// are still accepted.
    pub fn start_tls() -> PgServer {
        Self::start_inner(true)
    }

    /// The certificate (PEM) of the CA that signed the TLS server's, for
    /// a client to trust.
    pub fn tls_cert(&self) -> PathBuf {
        self.root.join("ca.crt")
    }

    fn start_inner(tls: bool) -> PgServer {
        let initdb = find_binary("initdb").expect(MISSING);
        let postgres = find_binary("postgres").expect(MISSING);
        // Through a symlink (say /usr/local/bin/postgres) to the real
        // directory, where Debian also keeps pg_isready.
        let bin_dir = fs::canonicalize(&postgres)
            .ok()
            .and_then(|path| path.parent().map(Path::to_path_buf));
        let pg_isready = bin_dir
            .map(|dir| dir.join("pg_isready"))
            .filter(|path| is_executable(path))
            .or_else(|| find_binary("pg_isready"));
        let run_as = run_as();

        let root = fresh_temp_dir();
        let data = root.join("data");
        let sockets = root.join("sock");
        let log = root.join("postgres.log");
        for dir in [&root, &data, &sockets] {
            fs::create_dir(dir)
                .unwrap_or_else(|err| panic!("cannot create {}: {err}", dir.display()));
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .unwrap_or_else(|err| panic!("cannot chmod {}: {err}", dir.display()));
            if let Some((uid, gid)) = run_as {
                std::os::unix::fs::chown(dir, Some(uid), Some(gid))
                    .unwrap_or_else(|err| panic!("cannot chown {}: {err}", dir.display()));
            }
        }

        let mut command = Command::new(&initdb);
        command
            .arg("-D")
            .arg(&data)
            .args(["-U", ROLE, "--auth=trust", "--no-sync", "-E", "UTF8"])
            .arg("--locale=C")
            .current_dir(&root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some((uid, gid)) = run_as {
            command.uid(uid).gid(gid);
        }
        let output = command
            .output()
            .unwrap_or_else(|err| panic!("cannot run {}: {err}", initdb.display()));
        if !output.status.success() {
            let _ = fs::remove_dir_all(&root);
            panic!(
                "initdb failed ({}):\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }

        let mut settings = Vec::new();
        if tls {
            let (cert, key) = (root.join("server.crt"), root.join("server.key"));
            let ext = root.join("server.ext");
            fs::write(
                &ext,
                "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
            )
            .unwrap();
            let openssl = |args: &[&str]| {
                let made = Command::new("openssl")
                    .args(args)
                    .current_dir(&root)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .expect("openssl must be installed (apt-get install openssl)");
                assert!(made.success(), "openssl {args:?} failed");
            };
            // A test CA, and the server's certificate signed by it.
            openssl(
                &[
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                ]
                .into_iter()
                .chain([
                    "-subj",
                    "/CN=herd test CA",
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.crt",
                ])
                .collect::<Vec<_>>(),
            );
            openssl(
                &[
                    "req",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-subj",
                    "/CN=127.0.0.1",
                ]
                .into_iter()
                .chain(["-keyout", "server.key", "-out", "server.csr"])
                .collect::<Vec<_>>(),
            );
            openssl(
                &[
                    "x509",
                    "-req",
                    "-in",
                    "server.csr",
                    "-CA",
                    "ca.crt",
                    "-CAkey",
                    "ca.key",
                ]
                .into_iter()
                .chain(["-CAcreateserial", "-days", "2", "-extfile", "server.ext"])
                .chain(["-out", "server.crt"])
                .collect::<Vec<_>>(),
            );
            fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
            if let Some((uid, gid)) = run_as {
                for file in [&cert, &key] {
                    std::os::unix::fs::chown(file, Some(uid), Some(gid)).unwrap();
                }
            }
            settings.push("ssl=on".to_owned());
            settings.push(format!("ssl_cert_file={}", cert.display()));
            settings.push(format!("ssl_key_file={}", key.display()));
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut server = PgServer {
            child: None,
            port,
            root,
            data,
            sockets,
            log,
            postgres,
            pg_isready,
            run_as,
            settings,
        };
        server.spawn_and_wait();
        server
    }

    /// `postgres://herd@127.0.0.1:PORT/postgres`: trust authentication, no
    /// password.
    pub fn url(&self) -> String {
        format!("postgres://{ROLE}@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops it now (a test of what happens when the database goes away):
    /// a fast shutdown, which ends every session; an immediate one if that
    /// takes more than 10 s. Does nothing if it is not running.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // Not SIGKILL: the postmaster must take its backends and shared
        // memory down with it, or the next start finds them in the way.
        for signal in [libc::SIGINT, libc::SIGQUIT] {
            signal_child(&child, signal);
            let start = Instant::now();
            while start.elapsed() < STOP_TIMEOUT {
                if let Ok(Some(_)) | Err(_) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts it again on the same port and data directory (a test of a
    /// database restarted mid-run), stopping it first if it runs, and waits
    /// (up to 60 s) until it accepts connections.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn_and_wait();
    }

    /// Starts the postmaster and waits until it accepts connections; panics
    /// with the end of its log if it does not.
    fn spawn_and_wait(&mut self) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap_or_else(|err| panic!("cannot open {}: {err}", self.log.display()));
        let log_err = log.try_clone().expect("a second handle on the log");
        let mut command = Command::new(&self.postgres);
        command
            .arg("-D")
            .arg(&self.data)
            .args(["-p", &self.port.to_string(), "-h", "127.0.0.1", "-k"])
            .arg(&self.sockets)
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=200"])
            .args(["-c", "shared_buffers=64MB"])
            .args(self.settings.iter().flat_map(|setting| ["-c", setting]))
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot run {}: {err}", self.postgres.display()));
        self.child = Some(child);

        let start = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                panic!(
                    "postgres exited ({status}) before accepting connections on port {}; \
                     the end of its log:\n{}",
                    self.port,
                    self.log_tail()
                );
            }
            if self.ready() {
                return;
            }
            if start.elapsed() > READY_TIMEOUT {
                self.stop();
                panic!(
                    "postgres did not accept connections on port {} within {:?}; \
                     the end of its log:\n{}",
                    self.port,
                    READY_TIMEOUT,
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the server accepts connections now. A TCP connection is not
    /// enough: the postmaster listens before it lets anyone in.
    fn ready(&self) -> bool {
        let port = self.port.to_string();
        if let Some(pg_isready) = &self.pg_isready {
            let status = Command::new(pg_isready)
                .args(["-q", "-h", "127.0.0.1", "-p", &port, "-t", "1"])
                .args(["-U", ROLE, "-d", "postgres"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            if let Ok(status) = status {
                return status.success();
            }
        }
        startup_accepted(self.port)
    }

    /// The last lines of the server's log.
    fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// Without pg_isready: sends a startup message and reads the first byte of
/// the answer, `R` (authentication, here "ok") when the server lets us in,
/// `E` while it is starting up or shutting down.
fn startup_accepted(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let mut body = Vec::new();
    body.extend_from_slice(&196_608u32.to_be_bytes()); // protocol 3.0
    for text in ["user", ROLE, "database", "postgres", ""] {
        body.extend_from_slice(text.as_bytes());
        body.push(0);
    }
    let mut message = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    message.extend_from_slice(&body);
    let mut answer = [0u8; 1];
    let accepted = stream.write_all(&message).is_ok()
        && stream.read_exact(&mut answer).is_ok()
        && answer[0] == b'R';
    if accepted {
        // Terminate, so the server does not log an unexpected EOF.
        let _ = stream.write_all(&[b'X', 0, 0, 0, 4]);
    }
    accepted
}

/// `name` on PATH, else in the newest /usr/lib/postgresql/VERSION/bin.
fn find_binary(name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if is_executable(&candidate) {
                return Some(candidate);
            }
        }
    }
    let mut versions: Vec<(Vec<u32>, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry
                .file_name()
                .to_str()?
                .split('.')
                .map(|part| part.parse().ok())
                .collect::<Option<Vec<u32>>>()?;
            let candidate = entry.path().join("bin").join(name);
            is_executable(&candidate).then_some((version, candidate))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, path)| path)
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path)
        .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// When we are root: the `postgres` user's uid and gid, to run as.
fn run_as() -> Option<(libc::uid_t, libc::gid_t)> {
    // SAFETY: geteuid cannot fail and touches no memory of ours.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let name = CString::new("postgres").expect("no NUL in a literal");
    // SAFETY: getpwnam reads a NUL-terminated string and returns null or a
    // pointer to a static record, read at once (tests that start servers
    // on several threads may race on that record, but all read the same
    // user's).
    let record = unsafe { libc::getpwnam(name.as_ptr()) };
    if record.is_null() {
        panic!(
            "PostgreSQL refuses to run as root, and there is no `postgres` user \
             to run it as: {MISSING}"
        );
    }
    // SAFETY: not null, so it points to a valid passwd record.
    let record = unsafe { &*record };
    Some((record.pw_uid, record.pw_gid))
}

/// A new directory's path under the system's temporary directory, unique to
/// this process, this call and this moment.
fn fresh_temp_dir() -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!(
        "herd-pg-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Sends `signal` to the child, if it has not been reaped.
fn signal_child(child: &Child, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill touches no memory; the pid is our unreaped child's,
        // so it cannot have been reused.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}
