//! Radio isolation: one `PORT_OFFSET` per test, unique across every test process on the machine.
//!
//! # How the simulation platform uses `PORT_OFFSET`
//!
//! Read from `openthread/examples/platforms/simulation/` (openthread-sys 0.4.0):
//!
//! * `radio.c`, `platformRadioInit()`: `sPortBase = $PORT_BASE or 9000`,
//!   `sPortOffset = $PORT_OFFSET * (MAX_NETWORK_SIZE + 1)` with `MAX_NETWORK_SIZE = 128`
//!   (`platform-config.h` says 33; `testbed/build-ot.sh` raises it with
//!   `-DOT_SIMULATION_MAX_NETWORK_SIZE=128` so one network can hold 100 joiners), then
//!   `utilsInitSocket(&sSocket, sPortBase + sPortOffset)`.
//! * `simul_utils.c`, `utilsInitSocket()`: every node of a simulated network
//!   - receives on the multicast group `224.0.0.116`, UDP port `base` (SO_REUSEADDR + SO_REUSEPORT,
//!     so all nodes of one network share it), and
//!   - sends from a socket bound to `127.0.0.1:(base + node_id)` (no SO_REUSEADDR: two nodes with
//!     the same id and offset cannot coexist) to `224.0.0.116:base`.
//!
//!   So the radio "channel" of a network is the port
//!   **`9000 + 129 * PORT_OFFSET`**, and node `id` (1..=128) additionally owns
//!   **`127.0.0.1:(9000 + 129 * PORT_OFFSET + id)`**. Different offsets never hear each other.
//! * `infra_if.c` (the simulated infrastructure link, base `9800`) is not compiled into either
//!   binary: `ot-ncp-ftd` is built with `OT_SIMULATION_INFRA_IF=OFF` (its infra-if goes over
//!   Spinel) and `ot-cli-ftd` without border routing. `trel.c` (base 9200) is not compiled in
//!   (no TREL). So the radio ports are the only ones, and no two offsets' ranges overlap.
//! * `flash.c`: settings live in `./tmp/<PORT_OFFSET as written>_<node_id>.flash`
//!   (see [`crate::sandbox::Sandbox::ncp_settings_file`]).
//!
//! # Allocation
//!
//! Offsets [`FIRST`]..=[`LAST`] (20..=60: radio ports 11580..=16868) are leased with `flock` on
//! `$TMPDIR/thread-agent-e2e-ports/<offset>.lock`. The lock is held (file kept open) for the life of
//! the [`PortLease`]; the kernel releases it when the process dies, so a crashed test never leaks
//! an offset. Works across `cargo test` threads (each lease is its own open file description) and
//! across `cargo nextest` processes.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// First `PORT_OFFSET` this test bed uses.
pub const FIRST: u16 = 20;
/// Last `PORT_OFFSET` this test bed uses.
pub const LAST: u16 = 60;

/// The UDP port all radios of a simulated network listen on (multicast 224.0.0.116).
pub fn radio_port_base(port_offset: u16) -> u16 {
    9000 + 129 * port_offset
}

/// A `PORT_OFFSET` reserved for this test until drop.
#[derive(Debug)]
pub struct PortLease {
    offset: u16,
    _lock: File,
}

impl PortLease {
    /// Takes the first free offset in [`FIRST`]..=[`LAST`]; if all are busy, waits (up to 10 min).
    pub fn acquire() -> Result<PortLease> {
        let dir = std::env::temp_dir().join("thread-agent-e2e-ports");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            for offset in FIRST..=LAST {
                let path: PathBuf = dir.join(format!("{offset}.lock"));
                if let Some(file) = lock_file(&path, false)? {
                    return Ok(PortLease {
                        offset,
                        _lock: file,
                    });
                }
            }
            if Instant::now() > deadline {
                bail!("all PORT_OFFSETs {FIRST}..={LAST} stayed busy for 10 minutes");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The leased offset (the value for the `PORT_OFFSET` environment variable).
    pub fn offset(&self) -> u16 {
        self.offset
    }
}

/// Opens (creating it) `path` and takes an exclusive `flock` on it, held as long as the returned
/// file lives. `wait`: block until the lock is free; otherwise `None` when another process holds it.
pub fn lock_file(path: &Path, wait: bool) -> Result<Option<File>> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let flags = if wait {
        libc::LOCK_EX
    } else {
        libc::LOCK_EX | libc::LOCK_NB
    };
    // SAFETY: flock on a file descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), flags) } == 0 {
        return Ok(Some(file));
    }
    let err = std::io::Error::last_os_error();
    if !wait && err.kind() == std::io::ErrorKind::WouldBlock {
        return Ok(None);
    }
    bail!("flock {}: {err}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_are_distinct_while_held() {
        let a = PortLease::acquire().unwrap();
        let b = PortLease::acquire().unwrap();
        assert_ne!(a.offset(), b.offset());
        assert!((FIRST..=LAST).contains(&a.offset()));
        let freed = a.offset();
        drop(a);
        // The freed offset can be taken again (perhaps by another process first; then any is fine).
        let c = PortLease::acquire().unwrap();
        assert!(c.offset() == freed || c.offset() != b.offset());
    }

    #[test]
    fn port_formula_matches_radio_c() {
        assert_eq!(radio_port_base(0), 9000);
        assert_eq!(radio_port_base(20), 11580);
        assert_eq!(radio_port_base(60) + 128, 16868);
    }
}
