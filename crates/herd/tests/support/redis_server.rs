//! A redis-server of a test's own, on a free port of 127.0.0.1, stopped on
//! drop. Shared (by `#[path]`) by herd's `dist_redis` tests, herd-cli's
//! `fetch` tests and the `redis_rate_bench` example; `redis-server` comes
//! from Debian's package, which `.ci/run` installs.

#![allow(dead_code)] // each user needs a different part

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Child,
    pub port: u16,
}

impl RedisServer {
    /// Starts one and waits (up to 10 s) until it accepts connections.
    pub fn start() -> RedisServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        Self::start_on(port)
    }

    /// Starts it again, empty, on the same port (a test of what happens
    /// when Redis comes back).
    pub fn restart(&mut self) {
        self.stop();
        let fresh = Self::start_on(self.port);
        *self = fresh;
    }

    fn start_on(port: u16) -> RedisServer {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (apt-get install redis-server)");
        let mut server = RedisServer { child, port };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if start.elapsed() > Duration::from_secs(10) {
                server.stop();
                panic!("redis-server did not start on port {port}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        server
    }

    /// `redis://127.0.0.1:PORT/`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Stops it now (a test of what happens when Redis goes away).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
