//! A program that returns from `main` while background refreshes are running exits promptly: the
//! pool's threads never keep a process alive.
//!
//! The test runs this test binary again as a child process (`CHILD_MODE`), whose refresh body
//! never finishes; the parent waits for the child to exit.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cachemacro_runtime::{clock, memoize};

const CHILD_MODE: &str = "CACHEMACRO_REFRESH_EXIT_CHILD";
static RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, refresh = "background", refresh_after = 1)]
fn stuck(key: u32) -> u32 {
    if RUNS.fetch_add(1, Ordering::SeqCst) > 0 {
        // The refresh: never returns.
        loop {
            std::thread::park();
        }
    }
    key
}

#[test]
fn child_starts_a_refresh_that_never_finishes() {
    if std::env::var_os(CHILD_MODE).is_none() {
        return; // Only meaningful as the child of the test below.
    }
    clock::pause();
    assert_eq!(stuck(1), 1);
    clock::advance(Duration::from_secs(1));
    assert_eq!(stuck(1), 1, "stale hit: served, refresh scheduled");
    let deadline = Instant::now() + Duration::from_secs(10);
    while RUNS.load(Ordering::SeqCst) < 2 {
        assert!(Instant::now() < deadline, "the refresh never started");
        std::thread::yield_now();
    }
    // Returning now ends the test binary with the refresh still running.
}

#[test]
fn a_program_exits_promptly_with_refreshes_in_flight() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_starts_a_refresh_that_never_finishes",
            "--test-threads=1",
        ])
        .env(CHILD_MODE, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the child did not exit within 30 s of its main returning");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if !status.success() {
        let mut output = String::new();
        if let Some(mut stdout) = child.stdout.take() {
            let _ = stdout.read_to_string(&mut output);
        }
        if let Some(mut stderr) = child.stderr.take() {
            let _ = stderr.read_to_string(&mut output);
        }
        panic!("the child's test failed ({status}):\n{output}");
    }
}
