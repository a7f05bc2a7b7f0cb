//! A JSON web service over SQLite whose user lookups are memoized, in process or in Redis.
//!
//! `GET /users/{id}` reads through the cache (every database read takes an extra 50 ms, so a hit
//! is easy to tell from a miss), `PUT /users/{id}` writes the row and drops exactly that entry,
//! and `GET /stats` shows the cache's counters. The first 100 users are loaded at start-up.
//!
//! ```text
//! # in-process cache
//! cargo run --example web_service -- --port 3000
//! # entries in Redis, shared by every process started this way
//! cargo run --example web_service -- --backend redis --redis redis://127.0.0.1:6379/
//! # the same, with the hot users also kept in process, dropped there when they change in Redis
//! cargo run --example web_service -- --backend redis --near
//!
//! curl localhost:3000/users/7
//! curl -X PUT localhost:3000/users/7 -H 'content-type: application/json' \
//!      -d '{"name": "Ada", "email": "ada@example.com"}'
//! curl localhost:3000/stats
//! ```
//!
//! Options: `--port N` (default 3000; 0 picks a free port), `--db PATH` (the SQLite file, created
//! and seeded with 1,000 users when empty; default `web_service.sqlite3` in the temp directory),
//! `--backend memory|redis` (default `memory`) and `--redis URL` (default: `CACHEMACRO_REDIS_URL`,
//! else `redis://127.0.0.1:6379/`; the key namespace is `CACHEMACRO_REDIS_NAMESPACE`, else
//! `cachemacro`), `--near` (with `--backend redis`: a near tier of 1,000 users in each process,
//! kept coherent through Redis' `CLIENT TRACKING`; `/stats` counts its hits in `near_hits`).
//! Several processes may share one `--db` file and one Redis: a `PUT` on one of
//! them is seen by a `GET` on any other. Once it accepts connections, the service prints
//! `listening on ADDRESS` on a line of its own.

use std::io::Write;
use std::ops::RangeInclusive;
use std::path::{Path as FsPath, PathBuf};
use std::process::ExitCode;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use cachemacro_runtime::redis::RedisConfig;
use cachemacro_runtime::refresh::{self, RefreshConfig};
use cachemacro_runtime::{Stats, WarmReport, memoize};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// What every database read costs on top of the query: a stand-in for a slow database.
const READ_DELAY: Duration = Duration::from_millis(50);
/// How many users an empty database is seeded with.
const SEEDED_USERS: i64 = 1_000;
/// The users loaded into the cache before the service takes requests.
const WARMED_USERS: RangeInclusive<u64> = 1..=100;
/// How many users the warm-up loads at once (the refresh pool's bound, which `f_warm` uses).
const WARM_UP_CONCURRENCY: usize = 16;
/// How long a database call waits for another process's write lock before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const USAGE: &str =
    "usage: web_service [--port N] [--db PATH] [--backend memory|redis] [--redis URL] [--near]";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    id: u64,
    name: String,
    email: String,
}

/// The body of `PUT /users/{id}`.
#[derive(Debug, Deserialize)]
struct UserUpdate {
    name: String,
    email: String,
}

/// A failed database call. `Err` results are not cached, so the next call tries again.
#[derive(Debug, Clone)]
struct DbError(String);

impl From<rusqlite::Error> for DbError {
    fn from(error: rusqlite::Error) -> Self {
        DbError(error.to_string())
    }
}

/// The database connection. A global rather than an argument of the memoized functions: their
/// arguments are their key, and the key is the user id alone. (One connection serializes the
/// queries; a pool would let reads run in parallel, which this example does not need.)
static DB: OnceLock<Mutex<Connection>> = OnceLock::new();

/// Runs `query` on the connection on tokio's blocking pool: rusqlite blocks.
async fn with_db<T: Send + 'static>(
    query: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
) -> Result<T, DbError> {
    let joined = tokio::task::spawn_blocking(move || {
        let db = DB
            .get()
            .ok_or_else(|| DbError("the database is not open".into()))?;
        // A panic while holding the lock leaves the connection usable: ignore the poison.
        let connection = db.lock().unwrap_or_else(PoisonError::into_inner);
        query(&connection).map_err(DbError::from)
    })
    .await;
    joined.unwrap_or_else(|panicked| Err(DbError(panicked.to_string())))
}

/// Reads one user, uncached: the body both memoized functions share. `Ok(None)`: no such user.
async fn load_user(id: u64) -> Result<Option<User>, DbError> {
    tokio::time::sleep(READ_DELAY).await;
    let Ok(row_id) = i64::try_from(id) else {
        return Ok(None); // SQLite's ids are i64: no row has this one
    };
    with_db(move |db| {
        db.query_row(
            "SELECT name, email FROM users WHERE id = ?1",
            [row_id],
            |row| {
                Ok(User {
                    id,
                    name: row.get(0)?,
                    email: row.get(1)?,
                })
            },
        )
        .optional()
    })
    .await
}

// `Ok(None)` (no such user) is cached like a user: it costs the same slow query, and requests
// for absent ids must not all reach the database. Users are created only by the seeding here; a
// service that inserts rows would invalidate the new id after the insert, as `PUT` does.
// Database errors are not cached.

/// `GET /users/{id}` with `--backend memory`.
#[memoize(ttl = "5m", capacity = 10_000)]
async fn user_in_memory(id: u64) -> Result<Option<User>, DbError> {
    load_user(id).await
}

/// `GET /users/{id}` with `--backend redis`.
#[memoize(ttl = "5m", backend = "redis")]
async fn user_in_redis(id: u64) -> Result<Option<User>, DbError> {
    load_user(id).await
}

/// `GET /users/{id}` with `--backend redis --near`: the 1,000 most used users also in process.
#[memoize(ttl = "5m", backend = "redis", near = 1_000)]
async fn user_near(id: u64) -> Result<Option<User>, DbError> {
    load_user(id).await
}

/// Which memoized function serves reads: a backend is fixed per function at compile time.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Backend {
    Memory,
    Redis,
    /// Redis with a near tier.
    Near,
}

impl Backend {
    async fn user(self, id: u64) -> Result<Option<User>, DbError> {
        match self {
            Backend::Memory => user_in_memory(id).await,
            Backend::Redis => user_in_redis(id).await,
            Backend::Near => user_near(id).await,
        }
    }

    /// Drops the cached entry of user `id`; true if there was one.
    async fn invalidate(self, id: u64) -> bool {
        match self {
            Backend::Memory => user_in_memory_invalidate(id).await,
            Backend::Redis => user_in_redis_invalidate(id).await,
            Backend::Near => user_near_invalidate(id).await,
        }
    }

    fn stats(self) -> Stats {
        match self {
            Backend::Memory => user_in_memory_cache().stats(),
            Backend::Redis => user_in_redis_cache().stats(),
            Backend::Near => user_near_cache().stats(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Backend::Memory => "memory",
            Backend::Redis => "redis",
            Backend::Near => "redis+near",
        }
    }
}

/// Loads users `ids` into the cache before traffic arrives, at most `WARM_UP_CONCURRENCY` at a
/// time (`f_warm` polls that many loads at once in this task). On Redis, users another process has already cached are left as they are (`present`).
async fn warm_up(backend: Backend, ids: RangeInclusive<u64>) -> WarmReport {
    match backend {
        Backend::Memory => user_in_memory_warm(ids).await,
        Backend::Redis => user_in_redis_warm(ids).await,
        Backend::Near => user_near_warm(ids).await,
    }
}

/// An error answer: a status and `{"error": message}`.
struct ApiError(StatusCode, String);

impl ApiError {
    fn no_user(id: u64) -> Self {
        ApiError(StatusCode::NOT_FOUND, format!("no user {id}"))
    }
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        eprintln!("web_service: database error: {}", error.0);
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, "database error".into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

// A non-numeric id is rejected by `Path<u64>` (400) and a malformed body by `Json` (400, 415 or
// 422) before the handlers run.

async fn get_user(
    State(backend): State<Backend>,
    Path(id): Path<u64>,
) -> Result<Json<User>, ApiError> {
    match backend.user(id).await? {
        Some(user) => Ok(Json(user)),
        None => Err(ApiError::no_user(id)),
    }
}

async fn put_user(
    State(backend): State<Backend>,
    Path(id): Path<u64>,
    Json(update): Json<UserUpdate>,
) -> Result<Json<User>, ApiError> {
    let Ok(row_id) = i64::try_from(id) else {
        return Err(ApiError::no_user(id));
    };
    let user = User {
        id,
        name: update.name,
        email: update.email,
    };
    let (name, email) = (user.name.clone(), user.email.clone());
    let updated = with_db(move |db| {
        db.execute(
            "UPDATE users SET name = ?1, email = ?2 WHERE id = ?3",
            params![name, email, row_id],
        )
    })
    .await?;
    if updated == 0 {
        return Err(ApiError::no_user(id));
    }
    // After the write, not before: a read between an invalidation and the write would cache the
    // old row again. (A read that began before the write stores nothing after this, on Redis in
    // every process, if it ends within `lock_ttl` of it.)
    backend.invalidate(id).await;
    Ok(Json(user))
}

/// `Stats` has no `Serialize`: its fields, by hand.
async fn stats(State(backend): State<Backend>) -> Json<serde_json::Value> {
    let stats = backend.stats();
    Json(json!({
        "backend": backend.name(),
        "hits": stats.hits,
        "near_hits": stats.near_hits,
        "misses": stats.misses,
        "entries": stats.entries,
        "capacity": stats.capacity,
        "evictions": stats.evictions,
        "expirations": stats.expirations,
        "errors": stats.errors,
        "refreshes_started": stats.refreshes_started,
        "refreshes_updated": stats.refreshes_updated,
        "refreshes_unchanged": stats.refreshes_unchanged,
        "refreshes_failed": stats.refreshes_failed,
        "refreshes_dropped": stats.refreshes_dropped,
        "refreshes_skipped": stats.refreshes_skipped,
        "lock_waits": stats.lock_waits,
        "lock_takeovers": stats.lock_takeovers,
    }))
}

/// Opens (creating if need be) the database at `path` and seeds it when empty.
fn open_database(path: &FsPath) -> rusqlite::Result<Connection> {
    let mut db = Connection::open(path)?;
    // Other processes may share the file: wait for their locks instead of failing at once, and
    // use WAL so that their readers and a writer do not block each other.
    db.busy_timeout(BUSY_TIMEOUT)?;
    db.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))?;
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS users (
             id INTEGER PRIMARY KEY,
             name TEXT NOT NULL,
             email TEXT NOT NULL
         )",
    )?;
    // IMMEDIATE takes the write lock before counting, so two processes starting on one new
    // file seed it once.
    let seeding = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let count: i64 = seeding.query_row("SELECT COUNT(*) FROM users", [], |row| row.get(0))?;
    if count == 0 {
        let mut insert =
            seeding.prepare("INSERT INTO users (id, name, email) VALUES (?1, ?2, ?3)")?;
        for id in 1..=SEEDED_USERS {
            insert.execute(params![
                id,
                format!("user {id}"),
                format!("user{id}@example.com")
            ])?;
        }
    }
    seeding.commit()?;
    Ok(db)
}

struct Options {
    port: u16,
    db: PathBuf,
    backend: Backend,
    redis_url: Option<String>,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
        let mut options = Options {
            port: 3000,
            db: std::env::temp_dir().join("web_service.sqlite3"),
            backend: Backend::Memory,
            redis_url: None,
        };
        let mut near = false;
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or(format!("`{arg}` needs a value"));
            match arg.as_str() {
                "--port" => {
                    let port = value()?;
                    options.port = port
                        .parse()
                        .map_err(|_| format!("`--port {port}`: a port is 0 to 65535"))?;
                }
                "--db" => options.db = value()?.into(),
                "--backend" => {
                    options.backend = match value()?.as_str() {
                        "memory" => Backend::Memory,
                        "redis" => Backend::Redis,
                        other => {
                            return Err(format!(
                                "no backend `{other}`: the backends are `memory` and `redis`"
                            ));
                        }
                    }
                }
                "--redis" => options.redis_url = Some(value()?),
                "--near" => near = true,
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        if options.redis_url.is_some() && options.backend != Backend::Redis {
            return Err("`--redis` needs `--backend redis`".into());
        }
        if near {
            if options.backend != Backend::Redis {
                return Err("`--near` needs `--backend redis`".into());
            }
            options.backend = Backend::Near;
        }
        Ok(options)
    }
}

async fn serve(options: Options) -> Result<(), String> {
    if let Some(url) = options.redis_url {
        // Before the first Redis-backed call, which would fix the configuration.
        cachemacro_runtime::redis::configure(RedisConfig::new().url(url))
            .map_err(|_| "the Redis configuration was already fixed".to_owned())?;
    }
    // Before the first refresh or warm-up. Each load mostly waits (on the 50 ms delay and the
    // database), so more than the default 4 at once shortens the start-up.
    refresh::configure(RefreshConfig {
        workers: WARM_UP_CONCURRENCY,
        ..RefreshConfig::default()
    })
    .map_err(|error| error.to_string())?;
    let path = options.db;
    let db = tokio::task::spawn_blocking(move || {
        open_database(&path).map_err(|error| format!("{}: {error}", path.display()))
    })
    .await
    .map_err(|panicked| panicked.to_string())??;
    let _ = DB.set(Mutex::new(db));

    // Bind first, so that a port in use fails at once rather than after the warm-up.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port))
        .await
        .map_err(|error| format!("port {}: {error}", options.port))?;
    let address = listener.local_addr().map_err(|error| error.to_string())?;

    let started = Instant::now();
    let warmed = warm_up(options.backend, WARMED_USERS).await;
    println!(
        "warmed {} users in {} ms ({} loaded, {} already cached, {} failed)",
        warmed.total(),
        started.elapsed().as_millis(),
        warmed.stored,
        warmed.present,
        warmed.failed
    );

    let app = Router::new()
        .route("/users/{id}", get(get_user).put(put_user))
        .route("/stats", get(stats))
        .with_state(options.backend);
    // The one line a supervisor (or the test) reads to find the port.
    println!("listening on {address}");
    let _ = std::io::stdout().flush();
    axum::serve(listener, app)
        .await
        .map_err(|error| error.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "--help" || arg == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let options = match Options::parse(args.into_iter()) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("web_service: {error}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match serve(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("web_service: {error}");
            ExitCode::FAILURE
        }
    }
}
