//! Runs checks in a forked child of the test process, for the tests of what a child inherits.
//! Included with `#[path]` by the tests that fork.

use std::io::{Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs `checks` in a forked child and returns how it went: its error, a panic's message, or
/// the signal that ended it.
pub fn in_forked_child(
    limit: u32,
    checks: impl FnOnce() -> Result<(), String>,
) -> Result<(), String> {
    let (mut reader, mut writer) = std::io::pipe().expect("a pipe");
    // SAFETY: the child runs `checks` on this thread (the only one it has) and leaves through
    // `_exit`, running no destructor and no other test.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: `alarm` and `_exit` take integers.
        unsafe { libc::alarm(limit) };
        let outcome = match catch_unwind(AssertUnwindSafe(checks)) {
            Ok(Ok(())) => String::new(),
            Ok(Err(why)) => why,
            Err(panic) => panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned()),
        };
        let _ = writer.write_all(outcome.as_bytes());
        // SAFETY: `_exit` takes an integer; it ends the child without running the parent's
        // destructors or the rest of the test harness.
        unsafe { libc::_exit(0) };
    }
    drop(writer);
    let mut status = 0;
    // SAFETY: `status` is a valid place for the status of our own child.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid, "waitpid");
    let mut outcome = String::new();
    reader
        .read_to_string(&mut outcome)
        .expect("the child's report");
    if libc::WIFSIGNALED(status) {
        return Err(format!(
            "the child was killed by signal {} ({} is SIGALRM: it ran longer than {limit} s)",
            libc::WTERMSIG(status),
            libc::SIGALRM
        ));
    }
    if outcome.is_empty() {
        Ok(())
    } else {
        Err(outcome)
    }
}
