//! Locating the programs under test: the OpenThread simulation nodes (built by
//! `testbed/build-ot.sh`, at most once per test process and never twice at the same time across
//! processes) and the workspace's own `thread-agent` and `threadctl`.
//!
//! Guarantees: [`ot_bins`] returns existing executables or fails with the build script's output;
//! [`workspace_bins`] fails with "run `cargo build --bins` first" when a binary is missing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{anyhow, bail, Context, Result};

/// The simulation executables.
#[derive(Debug, Clone)]
pub struct OtBins {
    /// `ot-ncp-ftd`: the co-processor (Spinel/HDLC on stdin/stdout).
    pub ncp: PathBuf,
    /// `ot-rcp`: radio-only firmware (the agent must refuse it).
    pub rcp: PathBuf,
    /// `ot-cli-ftd`: a Thread node with the OpenThread CLI on stdin/stdout.
    pub cli: PathBuf,
}

/// The workspace binaries under test.
#[derive(Debug, Clone)]
pub struct WorkspaceBins {
    /// `thread-agent`.
    pub agent: PathBuf,
    /// `threadctl`.
    pub threadctl: PathBuf,
}

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Ensures the simulation binaries exist (runs `testbed/build-ot.sh` once per process, under an
/// exclusive `flock` shared by all test processes) and returns their paths.
pub fn ot_bins() -> Result<&'static OtBins> {
    static BINS: OnceLock<Result<OtBins, String>> = OnceLock::new();
    BINS.get_or_init(|| build_ot().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow!("{e}"))
}

fn build_ot() -> Result<OtBins> {
    let root = workspace_root();
    let script = root.join("testbed/build-ot.sh");
    let lock_path = std::env::temp_dir().join("thread-agent-e2e-build-ot.lock");
    let lock = crate::ports::lock_file(&lock_path, true)?;
    let out = Command::new("bash")
        .arg(&script)
        .current_dir(&root)
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    drop(lock);
    if !out.status.success() {
        bail!(
            "{} failed ({}):\n{}{}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let dir = PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
    let bins = OtBins {
        ncp: dir.join("ncp/bin/ot-ncp-ftd"),
        rcp: dir.join("ncp/bin/ot-rcp"),
        cli: dir.join("cli/bin/ot-cli-ftd"),
    };
    for p in [&bins.ncp, &bins.rcp, &bins.cli] {
        if !p.exists() {
            bail!(
                "{} reported success but {} is missing",
                script.display(),
                p.display()
            );
        }
    }
    Ok(bins)
}

/// The cargo output directory of this build profile (`target/debug` or `target/release`, or the
/// same under `$CARGO_TARGET_DIR`): the test executable lives in `<that>/deps/`.
pub fn profile_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("current_exe")?;
    let deps = exe
        .parent()
        .ok_or_else(|| anyhow!("test executable has no parent dir"))?;
    if deps.file_name().is_some_and(|n| n == "deps") {
        if let Some(p) = deps.parent() {
            return Ok(p.to_path_buf());
        }
    }
    // Not run by cargo: fall back to $CARGO_TARGET_DIR/debug or <workspace>/target/debug.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    Ok(target.join("debug"))
}

/// Paths of `thread-agent` and `threadctl` of this profile; fails clearly when they are missing.
pub fn workspace_bins() -> Result<WorkspaceBins> {
    let dir = profile_dir()?;
    let bins = WorkspaceBins {
        agent: dir.join("thread-agent"),
        threadctl: dir.join("threadctl"),
    };
    for p in [&bins.agent, &bins.threadctl] {
        if !p.is_file() {
            bail!(
                "{} is missing: run `cargo build --bins` first (or ./testbed/run-tests.sh, which does)",
                p.display()
            );
        }
    }
    Ok(bins)
}

/// The host-side co-processor (`ot-host-ncp`, docs/rcp.md) that `testbed/build-host-ncp.sh`
/// builds into `target/openthread/host-ncp/bin/` (or under `$OT_BUILD_DIR`), if it was built.
/// Not built on demand: the RCP prototype's test is skipped (with a message) without it.
pub fn host_ncp() -> Option<PathBuf> {
    let dir = std::env::var_os("OT_BUILD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/openthread"));
    let p = dir.join("host-ncp/bin/ot-host-ncp");
    p.is_file().then_some(p)
}

/// The agent's radio URL for `ot-host-ncp` over the simulated `ot-rcp` with node id `node`:
/// `spinel+hdlc+forkpty://<ot-host-ncp>?forkpty-arg=<the RCP's radio URL, percent-encoded>`
/// (`ot-host-ncp` takes OpenThread's POSIX radio URL as its argument).
pub fn host_ncp_radio_url(host_ncp: &Path, rcp: &Path, node: u8) -> String {
    let inner = format!("spinel+hdlc+forkpty://{}?forkpty-arg={node}", rcp.display());
    let mut enc = String::new();
    for b in inner.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            enc.push(b as char);
        } else {
            enc.push_str(&format!("%{b:02X}"));
        }
    }
    format!(
        "spinel+hdlc+forkpty://{}?forkpty-arg={enc}",
        host_ncp.display()
    )
}
