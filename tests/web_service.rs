//! `examples/web_service.rs` as a user runs it: a child process on a free loopback port with its
//! own SQLite file, spoken to over HTTP. Hits and misses are read from its `/stats`, never timed.

#[path = "support/redis_server.rs"]
mod redis_server;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use cachemacro_runtime::redis::{NAMESPACE_VAR, URL_VAR};
use redis_server::{RedisServer, eventually};
use serde_json::{Value, json};

/// Failure bounds only: how long start-up (with its warm-up) and one request may take.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// The example's binary, next to this test's. Built here every time (a no-op when fresh): `cargo
/// test --test web_service` alone does not build examples, and must not run a stale one.
fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test's own path");
        // <target>/<profile>/deps/web_service-<hash>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("<target>/<profile>");
        let target_dir = profile_dir.parent().expect("<target>");
        let profile = match profile_dir.file_name().and_then(|name| name.to_str()) {
            Some("debug") | None => "dev",
            Some(other) => other,
        };
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "--example",
                "web_service",
                "--profile",
                profile,
            ])
            .arg("--manifest-path")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .arg("--target-dir")
            .arg(target_dir)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo build --example web_service failed");
        let binary = profile_dir
            .join("examples")
            .join(format!("web_service{}", std::env::consts::EXE_SUFFIX));
        assert!(binary.exists(), "built, but not at {}", binary.display());
        binary
    })
}

/// A fresh directory for one test's database, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "cachemacro-web_service-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temp directory");
        TempDir(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("users.sqlite3")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The counts in the start-up line
/// `warmed 100 users in 412 ms (100 loaded, 0 already cached, 0 failed)`.
fn warm_report(line: &str) -> (u64, u64, u64) {
    let counts = line
        .split_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("a warm-up line with counts: {line}"));
    let numbers: Vec<u64> = counts
        .split(", ")
        .map(|part| {
            let number = part.split(' ').next().unwrap_or_default();
            number
                .parse()
                .unwrap_or_else(|_| panic!("a count in {line}"))
        })
        .collect();
    match numbers[..] {
        [loaded, cached, failed] => (loaded, cached, failed),
        _ => panic!("three counts in {line}"),
    }
}

/// One running service, killed when dropped (also when a test fails).
struct Service {
    child: Child,
    address: String,
    /// What its warm-up reported: `loaded, already cached, failed`.
    warmed: (u64, u64, u64),
}

/// An HTTP answer: status and body, the body parsed as JSON when it is JSON (else a string).
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
}

/// The counters of `/stats` that the tests follow.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Counts {
    hits: u64,
    near_hits: u64,
    misses: u64,
    entries: Option<u64>,
}

impl Service {
    /// Starts the example on a free port with `db`, more arguments and environment variables, and
    /// waits for its `listening on` line.
    fn start(db: &Path, args: &[&str], env: &[(&str, &str)]) -> Service {
        let mut child = Command::new(binary())
            .args(["--port", "0", "--db"])
            .arg(db)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the example starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut service = Service {
            child,
            address: String::new(),
            warmed: (0, 0, 0),
        };
        let (sender, receiver) = mpsc::channel();
        let (warm_sender, warm_receiver) = mpsc::channel();
        // Reads every line to the end, so the service never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(address) = line.strip_prefix("listening on ") {
                    let _ = sender.send(address.to_owned());
                } else if line.starts_with("warmed ") {
                    let _ = warm_sender.send(warm_report(&line));
                }
            }
        });
        service.address = receiver.recv_timeout(START_TIMEOUT).unwrap_or_else(|why| {
            panic!("no `listening on` line ({why:?}); the service's stderr is above")
        });
        // Printed before `listening on`.
        service.warmed = warm_receiver
            .try_recv()
            .expect("a `warmed` line before `listening on`");
        service
    }

    fn memory(db: &Path) -> Service {
        Service::start(db, &[], &[])
    }

    /// One JSON request (or one without a body) on a fresh connection.
    fn request(&self, method: &str, path: &str, body: Option<&str>) -> Answer {
        let head = format!("{method} {path} HTTP/1.1\r\n");
        self.send(match body {
            Some(body) => format!(
                "{head}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
            None => format!("{head}\r\n"),
        })
    }

    /// Sends a raw request, with `Host` and `Connection: close` (the answer ends at EOF) added
    /// after its request line, and reads the answer.
    fn send(&self, request: String) -> Answer {
        let added = format!("\r\nHost: {}\r\nConnection: close\r\n", self.address);
        let request = request.replacen("\r\n", &added, 1);
        let mut stream = TcpStream::connect(&self.address).expect("the service accepts");
        stream.set_read_timeout(Some(REQUEST_TIMEOUT)).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("a whole answer");
        let (head, body) = answer.split_once("\r\n\r\n").expect("head and body");
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|status| status.parse().ok())
            .unwrap_or_else(|| panic!("a status line: {head}"));
        let body = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()));
        Answer { status, body }
    }

    fn get(&self, path: &str) -> Answer {
        self.request("GET", path, None)
    }

    /// `GET /users/{id}`, which must find the user.
    fn user(&self, id: u64) -> Value {
        let answer = self.get(&format!("/users/{id}"));
        assert_eq!(answer.status, 200, "GET /users/{id}: {answer:?}");
        answer.body
    }

    /// `PUT /users/{id}` with a new name and email, which must succeed.
    fn rename(&self, id: u64, name: &str) -> Value {
        let body = json!({ "name": name, "email": format!("{id}@new.example") }).to_string();
        let answer = self.request("PUT", &format!("/users/{id}"), Some(&body));
        assert_eq!(answer.status, 200, "PUT /users/{id}: {answer:?}");
        answer.body
    }

    fn counts(&self) -> Counts {
        let answer = self.get("/stats");
        assert_eq!(answer.status, 200, "GET /stats: {answer:?}");
        let stats = answer.body;
        assert_eq!(stats["errors"], 0, "no backend errors: {stats}");
        Counts {
            hits: stats["hits"].as_u64().expect("hits"),
            near_hits: stats["near_hits"].as_u64().expect("near_hits"),
            misses: stats["misses"].as_u64().expect("misses"),
            entries: stats["entries"].as_u64(),
        }
    }

    /// Runs `call` and returns how many (hits, misses) it added.
    fn moved<T>(&self, call: impl FnOnce() -> T) -> (T, (u64, u64)) {
        let before = self.counts();
        let value = call();
        let after = self.counts();
        (
            value,
            (after.hits - before.hits, after.misses - before.misses),
        )
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The seeded row of user `id`.
fn seeded(id: u64) -> Value {
    json!({ "id": id, "name": format!("user {id}"), "email": format!("user{id}@example.com") })
}

const HIT: (u64, u64) = (1, 0);
const MISS: (u64, u64) = (0, 1);

#[test]
fn a_cold_user_is_a_miss_then_hits() {
    let dir = TempDir::new();
    let service = Service::memory(&dir.db());
    let (first, moved) = service.moved(|| service.user(500));
    assert_eq!(first, seeded(500));
    assert_eq!(moved, MISS, "the first GET of a user beyond the warm-up");
    for _ in 0..3 {
        let (again, moved) = service.moved(|| service.user(500));
        assert_eq!(again, first);
        assert_eq!(moved, HIT);
    }
}

#[test]
fn warmed_users_are_hits_on_their_first_get() {
    let dir = TempDir::new();
    let service = Service::memory(&dir.db());
    assert_eq!(service.warmed, (100, 0, 0));
    let start = service.counts();
    assert_eq!(
        (start.hits, start.misses, start.entries),
        (0, 100, Some(100)),
        "the warm-up loaded users 1 to 100"
    );
    for id in [1, 42, 100] {
        let (user, moved) = service.moved(|| service.user(id));
        assert_eq!(user, seeded(id));
        assert_eq!(moved, HIT, "warmed user {id}");
    }
    let (_, moved) = service.moved(|| service.user(101));
    assert_eq!(moved, MISS, "user 101 was not warmed");
}

#[test]
fn a_put_invalidates_so_the_next_get_reads_the_new_row() {
    let dir = TempDir::new();
    let service = Service::memory(&dir.db());
    // User 600 cached by a GET, user 7 by the warm-up.
    for id in [600, 7] {
        service.user(id);
        let before = service.counts();
        let (renamed, moved) = service.moved(|| service.rename(id, "Ada"));
        assert_eq!(renamed["name"], "Ada");
        assert_eq!(moved, (0, 0), "a PUT reads nothing through the cache");
        let entries = service
            .counts()
            .entries
            .expect("in process, entries are known");
        assert_eq!(
            entries,
            before.entries.unwrap() - 1,
            "the PUT dropped user {id}'s entry"
        );
        let (after, moved) = service.moved(|| service.user(id));
        assert_eq!(after, renamed, "the new row, never the stale one");
        assert_eq!(moved, MISS);
        let (again, moved) = service.moved(|| service.user(id));
        assert_eq!(again, renamed);
        assert_eq!(moved, HIT);
    }
}

#[test]
fn missing_users_and_bad_input_get_client_errors() {
    let dir = TempDir::new();
    let service = Service::memory(&dir.db());
    let (answer, moved) = service.moved(|| service.get("/users/5000"));
    assert_eq!((answer.status, moved), (404, MISS), "{answer:?}");
    // Absent users are cached too (see the example), so a flood of them stays off the database.
    let (answer, moved) = service.moved(|| service.get("/users/5000"));
    assert_eq!((answer.status, moved), (404, HIT), "{answer:?}");
    assert_eq!(service.get(&format!("/users/{}", u64::MAX)).status, 404);

    for bad_id in ["abc", "-1", "1.5", "18446744073709551616"] {
        let answer = service.get(&format!("/users/{bad_id}"));
        assert_eq!(answer.status, 400, "GET /users/{bad_id}: {answer:?}");
    }
    let put = |path: &str, body: &str| service.request("PUT", path, Some(body)).status;
    assert_eq!(put("/users/5", "{not json"), 400);
    assert_eq!(put("/users/5", r#"{"name": 3, "email": "e"}"#), 422);
    assert_eq!(put("/users/5", r#"{"name": "no email"}"#), 422);
    assert_eq!(put("/users/abc", r#"{"name": "n", "email": "e"}"#), 400);
    assert_eq!(put("/users/5000", r#"{"name": "n", "email": "e"}"#), 404);
    let without_type = "PUT /users/5 HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
    assert_eq!(service.send(without_type.into()).status, 415);

    assert_eq!(service.user(5), seeded(5), "bad requests changed nothing");
    assert_eq!(
        service.get("/stats").status,
        200,
        "and the service still serves"
    );
}

#[test]
fn a_put_on_one_process_is_seen_by_a_get_on_another_through_redis() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let dir = TempDir::new();
    let url = redis.url();
    let namespace = format!("web_service_test_{}", std::process::id());
    // One configured by `--redis`, the other by the environment.
    let first = Service::start(
        &dir.db(),
        &["--backend", "redis", "--redis", &url],
        &[(NAMESPACE_VAR, &namespace)],
    );
    let second = Service::start(
        &dir.db(),
        &["--backend", "redis"],
        &[(URL_VAR, &url), (NAMESPACE_VAR, &namespace)],
    );
    assert_eq!(
        first.warmed,
        (100, 0, 0),
        "the first process loaded the users"
    );
    assert_eq!(
        second.warmed,
        (0, 100, 0),
        "the second found them in Redis, and loaded none"
    );
    let (user, moved) = second.moved(|| second.user(700));
    assert_eq!((user, moved), (seeded(700), MISS));
    let (user, moved) = first.moved(|| first.user(700));
    assert_eq!(
        (user, moved),
        (seeded(700), HIT),
        "the second process's entry is shared"
    );

    let renamed = first.rename(700, "Grace");
    let (user, moved) = second.moved(|| second.user(700));
    assert_eq!(
        user, renamed,
        "the first process's PUT dropped the shared entry"
    );
    assert_eq!(moved, MISS);
    let (user, moved) = first.moved(|| first.user(700));
    assert_eq!((user, moved), (renamed, HIT));
    assert_eq!(first.counts().entries, None, "Redis does not count entries");
}

#[test]
fn with_near_tiers_a_put_on_one_process_reaches_the_other_and_hot_users_are_near_hits() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let dir = TempDir::new();
    let url = redis.url();
    let namespace = format!("web_service_near_{}", std::process::id());
    let args = ["--backend", "redis", "--redis", &url, "--near"];
    let env = [(NAMESPACE_VAR, namespace.as_str())];
    let first = Service::start(&dir.db(), &args, &env);
    let second = Service::start(&dir.db(), &args, &env);
    assert_eq!(second.warmed.0, 0, "the second found the users in Redis");

    // Repeated GETs of one user on the second process become near hits once its tier holds it.
    let near_hit = |service: &Service, id: u64| {
        let before = service.counts();
        let user = service.user(id);
        let after = service.counts();
        (
            user,
            after.near_hits - before.near_hits,
            after.hits - before.hits,
        )
    };
    assert!(
        eventually(Duration::from_secs(5), || near_hit(&second, 7).1 == 1),
        "GETs of user 7 become near hits"
    );
    for _ in 0..3 {
        let (user, near, hits) = near_hit(&second, 7);
        assert_eq!(
            (user, near, hits),
            (seeded(7), 1, 1),
            "a near hit, counted in hits"
        );
    }

    // A PUT on the first: the second's near entry is dropped, and it reads the new row.
    let renamed = first.rename(7, "Grace");
    let mut seen = Value::Null;
    assert!(
        eventually(Duration::from_secs(5), || {
            seen = second.user(7);
            seen == renamed
        }),
        "the second process sees the PUT (last seen {seen})"
    );
    assert!(
        eventually(Duration::from_secs(5), || near_hit(&second, 7)
            == (renamed.clone(), 1, 1)),
        "and serves the new row from its near tier"
    );
}
