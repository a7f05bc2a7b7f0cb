//! `#[memoize(key = <expression>)]`: the key is the expression's value, computed from borrows of
//! the arguments, on both backends and in every companion. Each test counts how often a body ran.

#[path = "support/redis_server.rs"]
mod redis_server;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cachemacro_runtime::key::{KeyHasher, format_key, key_hash};
use cachemacro_runtime::{CacheKey, RedisConfig, clock, memoize};
use redis::Commands;
use redis_server::RedisServer;

fn runs(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::SeqCst)
}

/// Not a key: only its id is.
#[derive(Debug, Clone)]
struct Session {
    token: String,
}

#[derive(Debug, Clone)]
struct User {
    id: u64,
    name: String,
    session: Session,
}

fn user(id: u64, name: &str) -> User {
    User {
        id,
        name: name.into(),
        session: Session {
            token: format!("t-{name}"),
        },
    }
}

static FEED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(key = (user.id, page))]
fn feed(user: &User, page: u32) -> String {
    FEED_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{} p{page} ({})", user.name, user.session.token)
}

fn hash_with<T: CacheKey + ?Sized>(mut out: impl KeyHasher, value: &T) -> u128 {
    value.write_key(&mut out);
    out.finish()
}

#[test]
fn the_key_is_the_expressions_value() {
    let ada = user(7, "ada");
    assert_eq!(feed(&ada, 1), "ada p1 (t-ada)");
    // Another name and session, the same id: the same key, a hit.
    assert_eq!(feed(&user(7, "renamed"), 1), "ada p1 (t-ada)");
    assert_eq!(runs(&FEED_RUNS), 1);
    feed(&ada, 2);
    feed(&user(8, "ada"), 1);
    assert_eq!(runs(&FEED_RUNS), 3);
    assert_eq!(feed_cache().stats().hits, 1);

    let hasher = || feed_cache().key_hasher();
    assert_eq!(
        __cachemacro_feed_key(&&ada, &2, hasher()),
        hash_with(hasher(), &(7u64, 2u32)),
        "the key of (user.id, page), and nothing of the rest of the user"
    );
}

static PROFILE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(key = user.id)]
fn profile(user: &User, verbose: bool) -> String {
    PROFILE_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{}{}", user.name, if verbose { "!" } else { "" })
}

#[test]
fn every_companion_computes_the_same_key() {
    let ada = user(1, "ada");
    assert_eq!(profile(&ada, false), "ada");
    assert_eq!(runs(&PROFILE_RUNS), 1);
    // f_refresh stores under the key of its arguments: the same id, so the same entry.
    assert_eq!(profile_refresh(&user(1, "ada v2"), true), "ada v2!");
    assert_eq!(
        profile(&ada, false),
        "ada v2!",
        "served the refreshed entry"
    );
    assert_eq!(runs(&PROFILE_RUNS), 2);

    assert!(profile_invalidate(&user(1, "anyone"), false));
    assert!(!profile_invalidate(&ada, false), "already gone");
    assert_eq!(profile(&ada, false), "ada");
    assert_eq!(runs(&PROFILE_RUNS), 3);

    let (x, bob) = (user(1, "x"), user(2, "bob"));
    let report = profile_warm([(&x, false), (&bob, false)]);
    assert_eq!((report.stored, report.present), (1, 1));
    assert_eq!(profile(&user(2, "other"), true), "bob");
    assert_eq!(runs(&PROFILE_RUNS), 4);
}

/// A repository whose connection is no key; its tenant is.
struct Repo {
    tenant: u32,
    connection: Session,
}

static ORDERS_RUNS: AtomicUsize = AtomicUsize::new(0);

impl Repo {
    #[memoize(key = (self.tenant, id))]
    fn order(&self, id: u64) -> String {
        ORDERS_RUNS.fetch_add(1, Ordering::SeqCst);
        format!(
            "tenant {} order {id} via {}",
            self.tenant, self.connection.token
        )
    }
}

#[test]
fn a_method_keys_on_part_of_self() {
    let repo = |tenant, token: &str| Repo {
        tenant,
        connection: Session {
            token: token.into(),
        },
    };
    assert_eq!(repo(1, "a").order(5), "tenant 1 order 5 via a");
    assert_eq!(repo(1, "b").order(5), "tenant 1 order 5 via a");
    assert_eq!(runs(&ORDERS_RUNS), 1);
    repo(2, "a").order(5);
    repo(1, "a").order(6);
    assert_eq!(runs(&ORDERS_RUNS), 3);
}

static LABEL_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(key = name.to_lowercase())]
async fn label(name: &str, session: Session) -> String {
    LABEL_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{name} ({})", session.token)
}

#[test]
fn async_functions_key_on_the_expression() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let session = || Session { token: "s".into() };
    runtime.block_on(async {
        assert_eq!(label("Ada", session()).await, "Ada (s)");
        assert_eq!(label("ADA", session()).await, "Ada (s)");
        assert_eq!(label("bob", session()).await, "bob (s)");
    });
    assert_eq!(runs(&LABEL_RUNS), 2);
}

static REFRESHED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = "10m", refresh = "background", refresh_after = "30s", key = user.id)]
fn refreshed(user: &User) -> String {
    let run = REFRESHED_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{} v{run}", user.name)
}

#[test]
fn a_background_refresh_stores_under_the_key_of_the_call() {
    clock::pause();
    assert_eq!(refreshed(&user(3, "ada")), "ada v0");
    clock::advance(Duration::from_secs(31));
    // Stale: served at once; the refresh runs with a copy of this call's arguments.
    assert_eq!(refreshed(&user(3, "ada b")), "ada v0");
    let deadline = Instant::now() + Duration::from_secs(10);
    while refreshed_cache().stats().refreshes_updated < 1 {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for the refresh"
        );
        std::thread::yield_now();
    }
    assert_eq!(refreshed(&user(3, "anyone")), "ada b v1");
    assert_eq!(runs(&REFRESHED_RUNS), 2);
    assert_eq!(refreshed_cache().len(), Some(1));
}

static SHARED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "feed_shared", key = (user.id, page))]
fn feed_shared(user: &User, page: u32) -> String {
    SHARED_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{} p{page}", user.name)
}

#[test]
fn redis_keys_are_the_stable_hash_of_the_expression() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    feed_shared_cache().configure(RedisConfig::new().url(server.url()).namespace("k"));
    assert_eq!(feed_shared(&user(7, "ada"), 2), "ada p2");
    assert_eq!(feed_shared(&user(7, "other"), 2), "ada p2");
    assert_eq!(runs(&SHARED_RUNS), 1);
    feed_shared(&user(7, "ada"), 3);
    assert_eq!(runs(&SHARED_RUNS), 2);

    // XXH3-128 of u64 7, u32 2 (Python's `xxhash`), the key (user.id, page) of the first call.
    let expected = "k:feed_shared@v0:5b3ca16ff93ee92b2b7e2750a15b7bc8";
    assert_eq!(
        format!(
            "k:{}",
            format_key("feed_shared", 0, key_hash(&(7u64, 2u32)))
        ),
        expected
    );
    let mut client = server.client();
    let stored: Option<Vec<u8>> = client.get(expected).unwrap();
    assert!(
        stored.is_some(),
        "the entry lives under the expression's key"
    );
}
