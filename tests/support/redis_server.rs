//! A throw-away `redis-server` for tests: its own free loopback port, no persistence, stopped
//! (killed) when dropped.
//!
//! When `redis-server` is not on PATH, [`RedisServer::start`] returns `None` after printing why (the
//! test then returns early, visibly skipped); under `CI=true` it panics instead, naming the package
//! to install, so that CI can never pass by skipping.
//!
//! Included with `#[path]` by the tests, the bench and the example, each using part of it.
#![allow(dead_code)]

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    /// `--requirepass`, if any.
    password: Option<String>,
    /// More `redis-server` arguments.
    extra_args: Vec<String>,
}

impl RedisServer {
    /// A new server, or `None` (test skipped) when `redis-server` is missing outside CI.
    pub fn start() -> Option<RedisServer> {
        Self::start_with_password(None)
    }

    /// [`start`](Self::start), with `--requirepass password` when given.
    pub fn start_with_password(password: Option<&str>) -> Option<RedisServer> {
        Self::start_with(password, &[])
    }

    /// [`start`](Self::start) with a password and more `redis-server` arguments.
    pub fn start_with(password: Option<&str>, extra_args: &[String]) -> Option<RedisServer> {
        if !on_path("redis-server") {
            let why = "redis-server is not on PATH: install the `redis-server` package \
                       (apt-get install -y redis-server)";
            if std::env::var("CI").is_ok_and(|ci| ci == "true") {
                panic!("{why}");
            }
            // Straight to the file descriptor: `eprintln!` output is captured by the test harness
            // and shown only for failing tests, and a skip must be seen.
            let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
            return None;
        }
        // Another process may take the port between our probe and the server's bind: retry.
        for _ in 0..5 {
            let port = free_port();
            let dir = std::env::temp_dir()
                .join(format!("cachemacro-redis-{}-{port}", std::process::id()));
            let mut server = RedisServer {
                child: None,
                port,
                dir,
                password: password.map(str::to_owned),
                extra_args: extra_args.to_vec(),
            };
            if server.spawn() {
                return Some(server);
            }
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    /// The server's URL, with the password if it has one.
    pub fn url(&self) -> String {
        match &self.password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}/", self.port),
            None => format!("redis://127.0.0.1:{}/", self.port),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A free loopback port, for a second listener such as `--tls-port`.
    pub fn free_port() -> u16 {
        free_port()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// A plain connection, to look at and tamper with what the cache stored.
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|client| client.get_connection())
            .expect("test redis-server accepts connections")
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (empty: there is no persistence).
    pub fn restart(&mut self) {
        self.kill();
        assert!(self.spawn(), "redis-server restarts on port {}", self.port);
    }

    /// Freezes the server (SIGSTOP): connections stay open and nothing answers.
    pub fn freeze(&self) {
        signal("-STOP", self.pid());
    }

    /// Undoes [`freeze`](Self::freeze) (SIGCONT).
    pub fn thaw(&self) {
        signal("-CONT", self.pid());
    }

    /// Starts `redis-server` on `self.port` and waits until it answers; false if it exited.
    fn spawn(&mut self) -> bool {
        let _ = std::fs::create_dir_all(&self.dir);
        let mut command = Command::new("redis-server");
        if let Some(password) = &self.password {
            command.args(["--requirepass", password]);
        }
        command.args(&self.extra_args);
        let child = command
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server can be run");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(_exited)) = child.try_wait()
            {
                self.child = None;
                return false;
            }
            if self.answers() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.kill();
        false
    }

    fn answers(&self) -> bool {
        if TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            return false;
        }
        redis::Client::open(self.url())
            .and_then(|client| client.get_connection())
            .and_then(|mut connection| redis::cmd("PING").query::<String>(&mut connection))
            .is_ok()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

fn signal(which: &str, pid: u32) {
    let status = Command::new("kill")
        .args([which, &pid.to_string()])
        .status()
        .expect("kill can be run");
    assert!(status.success(), "kill {which} {pid}");
}

/// Polls `condition` until it holds or `within` has passed; true if it held.
pub fn eventually(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The ids of the connections tracking keys for a near tier (`CLIENT LIST` flag `t`), in the
/// order the server lists them (connection order).
pub fn tracking_clients(observer: &mut redis::Connection) -> Vec<u64> {
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(observer)
        .expect("CLIENT LIST works");
    list.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let flags = fields.iter().find_map(|f| f.strip_prefix("flags="))?;
            if !flags.contains('t') {
                return None;
            }
            fields
                .iter()
                .find_map(|f| f.strip_prefix("id="))
                .and_then(|id| id.parse().ok())
        })
        .collect()
}

/// Forgets the server's command counts (`CONFIG RESETSTAT`), so that [`command_stats`] counts
/// from now on.
pub fn reset_stats(observer: &mut redis::Connection) {
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(observer)
        .expect("CONFIG RESETSTAT works");
}

/// Each command the server saw since [`reset_stats`] (`INFO commandstats`): its name (`get`,
/// `config|resetstat`) with how often it ran and how often it was rejected (`NOAUTH`).
pub fn command_stats(observer: &mut redis::Connection) -> Vec<(String, u64, u64)> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(observer)
        .expect("INFO works");
    info.lines()
        .filter_map(|line| line.strip_prefix("cmdstat_"))
        .filter_map(|line| {
            let (name, fields) = line.split_once(':')?;
            let field = |wanted: &str| {
                fields
                    .split(',')
                    .find_map(|pair| pair.strip_prefix(wanted)?.strip_prefix('='))
                    .and_then(|value| value.parse().ok())
                    .unwrap_or_else(|| panic!("no {wanted} in {line}"))
            };
            Some((name.to_owned(), field("calls"), field("rejected_calls")))
        })
        .collect()
}
