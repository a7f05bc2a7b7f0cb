//! `membarrier(2)`: the heavy side of the read lock's asymmetric fence (`read_lock.rs`), and
//! whether this process can use it.

use std::sync::atomic::{AtomicU8, Ordering};

// The kernel's ABI (`linux/membarrier.h`).
const QUERY: i32 = 0;
const GLOBAL: i32 = 1 << 0;
const PRIVATE_EXPEDITED: i32 = 1 << 3;
const REGISTER_PRIVATE_EXPEDITED: i32 = 1 << 4;

const UNKNOWN: u8 = 0;
const AVAILABLE: u8 = 1;
const UNAVAILABLE: u8 = 2;
static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);

/// True if [`heavy`] works in this process: registers it, and runs it once, on the first
/// call (a registration the kernel accepts does not prove the command allowed: a seccomp
/// filter may deny it).
pub(crate) fn available() -> bool {
    match STATE.load(Ordering::Relaxed) {
        AVAILABLE => true,
        UNAVAILABLE => false,
        _ => {
            // Two threads may both register: it is idempotent.
            let available = register() && command(PRIVATE_EXPEDITED) == 0;
            let state = if available { AVAILABLE } else { UNAVAILABLE };
            STATE.store(state, Ordering::Relaxed);
            available
        }
    }
}

/// Every running thread of the process runs a full memory fence before this returns. False
/// if the kernel refused every way.
pub(crate) fn heavy() -> bool {
    // A forked child may not have inherited the registration: register and try again. The
    // expedited command can also fail for a moment (it allocates a CPU mask on some kernels);
    // `GLOBAL` gives the same guarantee (every running thread of every process, through an
    // RCU grace period: milliseconds) with no registration and no allocation.
    command(PRIVATE_EXPEDITED) == 0
        || (register() && command(PRIVATE_EXPEDITED) == 0)
        || command(GLOBAL) == 0
}

fn register() -> bool {
    let supported = command(QUERY);
    let needed = i64::from(PRIVATE_EXPEDITED | REGISTER_PRIVATE_EXPEDITED);
    supported >= 0 && supported & needed == needed && command(REGISTER_PRIVATE_EXPEDITED) == 0
}

#[cfg(target_os = "linux")]
#[allow(clippy::useless_conversion)] // `c_long` is `i64` only on 64-bit targets.
fn command(command: i32) -> i64 {
    // SAFETY: `membarrier(cmd, flags, cpu_id)` takes integers only and touches no memory of
    // ours; an unknown command or an unsupported kernel returns -1.
    i64::from(unsafe {
        libc::syscall(
            libc::SYS_membarrier,
            command as libc::c_int,
            0 as libc::c_uint,
            0 as libc::c_int,
        )
    })
}

#[cfg(not(target_os = "linux"))]
fn command(_: i32) -> i64 {
    -1
}
