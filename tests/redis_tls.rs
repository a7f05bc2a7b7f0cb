//! `rediss://`: the Redis backend over TLS (cargo feature `tls`), against a `redis-server` with a
//! TLS port and a certificate made here with `openssl`.
//!
//! Not part of CI (it needs the `tls` feature, which builds rustls and ring): run it with
//! `cargo test --features tls --test redis_tls`. The test CA is trusted through `SSL_CERT_FILE`,
//! which rustls-native-certs reads in place of the system's roots.

#[path = "support/redis_server.rs"]
mod redis_server;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use cachemacro_runtime::{RedisConfig, memoize};
use redis_server::RedisServer;

static RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "over_tls")]
fn over_tls(n: u64) -> String {
    RUNS.fetch_add(1, Ordering::SeqCst);
    format!("secret {n}")
}

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl can be run");
    assert!(status.success(), "openssl {args:?}");
}

/// A CA and a server certificate for 127.0.0.1, in `dir`.
fn make_certificates(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=cachemacro test CA",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-out",
            "server.pem",
            "-extfile",
            "san.ext",
        ],
    );
}

#[test]
fn rediss_urls_connect_over_tls() {
    let dir = std::env::temp_dir().join(format!("cachemacro-tls-{}", std::process::id()));
    make_certificates(&dir);
    // SAFETY: the only test of this binary, before anything reads the environment from another
    // thread.
    unsafe { std::env::set_var("SSL_CERT_FILE", dir.join("ca.pem")) };
    let tls_port = RedisServer::free_port();
    let path = |file: &str| dir.join(file).display().to_string();
    let args = [
        "--tls-port".to_owned(),
        tls_port.to_string(),
        "--tls-cert-file".to_owned(),
        path("server.pem"),
        "--tls-key-file".to_owned(),
        path("server.key"),
        "--tls-ca-cert-file".to_owned(),
        path("ca.pem"),
        "--tls-auth-clients".to_owned(),
        "no".to_owned(),
    ];
    let Some(server) = RedisServer::start_with(None, &args) else {
        return;
    };
    over_tls_cache().configure(
        RedisConfig::new()
            .url(format!("rediss://127.0.0.1:{tls_port}/"))
            .namespace("tls"),
    );
    assert_eq!(over_tls(1), "secret 1");
    assert_eq!(over_tls(1), "secret 1");
    let stats = over_tls_cache().stats();
    assert_eq!(
        (RUNS.load(Ordering::SeqCst), stats.hits, stats.errors),
        (1, 1, 0),
        "a hit over TLS"
    );
    // The sync hit's `GET` went out on a blocking TLS connection of its own: the multiplexed
    // one's last command is the miss' write (a script).
    let clients: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut server.client())
        .unwrap();
    let mut last: Vec<&str> = clients
        .lines()
        .filter_map(|line| line.split(' ').find_map(|field| field.strip_prefix("cmd=")))
        .filter(|command| *command != "client|list")
        .collect();
    last.sort_unstable();
    assert_eq!(last, ["evalsha", "get"], "{clients}");
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}
