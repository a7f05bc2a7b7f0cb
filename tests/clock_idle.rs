//! A process whose caches are idle gets no periodic wake-ups from the clock, and the clock is
//! fresh again at the first read after the idle time.
//!
//! The test runs this test binary again as a child process (`CHILD_MODE`), so that no other test
//! reads the clock meanwhile. The child makes calls to a function with a `ttl` (which starts the
//! clock), waits for its threads to settle, then idles and counts the context switches of its
//! other threads from `/proc/self/task/*/status` over the idle window. Linux only.
#![cfg(target_os = "linux")]

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cachemacro_runtime::{clock, memoize};

const CHILD_MODE: &str = "CACHEMACRO_CLOCK_IDLE_CHILD";
/// Longer than `short_lived`'s ttl, so its entry expires during the window.
const IDLE: Duration = Duration::from_millis(1_500);
/// At most this many context switches of the other threads during the idle window. A clock that
/// ticks every millisecond makes about 1,500.
const MAX_SWITCHES: u64 = 20;

static RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 1)]
fn short_lived(key: u32) -> u32 {
    RUNS.fetch_add(1, Ordering::SeqCst);
    key
}

/// Context switches of the threads of this process other than the calling one, in total and
/// for the thread named after the clock (`None` when there is no such thread).
fn others_switches() -> (u64, Option<u64>) {
    let me = std::fs::read_link("/proc/thread-self").expect("/proc/thread-self");
    let me = me.file_name().expect("a thread id").to_owned();
    let (mut total, mut clock) = (0, None);
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let task = task.expect("a task entry");
        if task.file_name() == me {
            continue;
        }
        // A thread that exited meanwhile has no status left: it makes no more switches.
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
            continue;
        };
        let mut switches = 0;
        let mut name = "";
        for line in status.lines() {
            if let Some((field, value)) = line.split_once(':') {
                match field {
                    "Name" => name = value.trim(),
                    "voluntary_ctxt_switches" | "nonvoluntary_ctxt_switches" => {
                        switches += value.trim().parse::<u64>().expect("a count")
                    }
                    _ => {}
                }
            }
        }
        total += switches;
        // The kernel keeps 15 bytes of a thread's name.
        if "cachemacro-clock".starts_with(name) && name.starts_with("cachemacro-c") {
            *clock.get_or_insert(0) += switches;
        }
    }
    (total, clock)
}

#[test]
fn child_idles_after_calls_with_a_ttl() {
    if std::env::var_os(CHILD_MODE).is_none() {
        return; // Only meaningful as the child of the test below.
    }
    assert_eq!(short_lived(1), 1);
    assert_eq!(short_lived(1), 1);
    assert_eq!(RUNS.load(Ordering::SeqCst), 1, "a hit");

    // The last read of the clock before the idle time (a read is activity: it wakes the clock).
    let clock_before = clock::now_ms();
    let before = Instant::now();

    // Settle: wait until the other threads have stopped switching for 100 ms (or give up after a
    // second, and let the window below count what they still do).
    let settle_deadline = Instant::now() + Duration::from_secs(1);
    let mut last = others_switches().0;
    let mut still_since = Instant::now();
    while Instant::now() < settle_deadline && still_since.elapsed() < Duration::from_millis(100) {
        std::thread::sleep(Duration::from_millis(10));
        let now = others_switches().0;
        if now != last {
            last = now;
            still_since = Instant::now();
        }
    }

    let (total_before, clock_thread_before) = others_switches();
    std::thread::sleep(IDLE);
    let (total_after, clock_thread_after) = others_switches();
    let after = Instant::now();
    let clock_after = clock::now_ms();

    let switches = total_after - total_before;
    let clock_thread = clock_thread_after
        .zip(clock_thread_before)
        .map(|(after, before)| after - before);
    println!("idle window: other threads {switches} switches, clock thread {clock_thread:?}");
    assert!(
        switches < MAX_SWITCHES,
        "the other threads switched {switches} times in {IDLE:?} of idle time \
         (the clock thread: {clock_thread:?})"
    );

    // `clock_before` is at most the real time at `before`; the first read after the idle time
    // must be at least the real time at `after`, to the millisecond.
    let idle_ms = after.duration_since(before).as_millis() as u64;
    assert!(
        clock_after + 1 >= clock_before + idle_ms,
        "the first read after {idle_ms} ms of idle time moved the clock by {} ms only",
        clock_after - clock_before
    );
    assert_eq!(short_lived(1), 1);
    assert_eq!(
        RUNS.load(Ordering::SeqCst),
        2,
        "expired during the idle time"
    );
    assert_eq!(short_lived(2), 2);
    assert_eq!(short_lived(2), 2);
    assert_eq!(
        RUNS.load(Ordering::SeqCst),
        3,
        "stored after the wake-up: not expired at once"
    );
}

#[test]
fn an_idle_process_gets_no_clock_wake_ups() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_idles_after_calls_with_a_ttl",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(CHILD_MODE, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Drained on threads while the child runs: a child that prints more than a pipe holds (a
    // panic's backtrace) must not block on it and be reported as hanging.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|pipe| Box::new(pipe) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|pipe| Box::new(pipe) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the child did not finish within 30 s");
        }
        // Polling a child's exit with a deadline; nothing else is waited for by sleeping.
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = stdout.join().unwrap() + &stderr.join().unwrap();
    assert!(
        status.success(),
        "the child's test failed ({status}):\n{output}"
    );
    let window = output.lines().find(|line| line.contains("idle window:"));
    let window = window.unwrap_or_else(|| panic!("the child did not run its test:\n{output}"));
    println!("child: {window}");
}
