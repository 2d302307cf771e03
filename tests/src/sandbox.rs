//! `Sandbox`: one test's private world — a fresh temp dir (working dir of every simulated node,
//! so their `./tmp/*.flash` settings stay inside), a leased `PORT_OFFSET` (its own radio
//! channel, see [`crate::ports`]) and the list of every child started in it.
//!
//! Guarantees: when the last handle drops (normal end or panic), every child still registered is
//! SIGKILLed with its process group, then every process whose working directory is inside the
//! sandbox (forkpty'd co-processors have their own session) is SIGKILLed, then the port lease is
//! released. When the drop happens during a panic the directory is KEPT and its path printed, so
//! the logs in it (`agent-N.log`, `cli-N.log`) can be read.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};

use crate::ports::PortLease;
use crate::proc;

/// Node id the agent's simulated co-processor uses (`forkpty-arg=1`).
pub const NCP_NODE_ID: u8 = 1;

/// A test's private directory, radio channel and process list. Cheap to clone (shared handle).
#[derive(Debug, Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    ports: PortLease,
    children: Mutex<Vec<u32>>,
}

impl Sandbox {
    /// Creates the temp dir and leases a `PORT_OFFSET`.
    pub fn new() -> Result<Sandbox> {
        let ports = PortLease::acquire()?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("thread-agent-e2e-{}-", ports.offset()))
            .tempdir()
            .context("creating the sandbox temp dir")?;
        let path = dir.path().canonicalize()?;
        Ok(Sandbox {
            inner: Arc::new(Inner {
                dir: Some(dir),
                path,
                ports,
                children: Mutex::new(Vec::new()),
            }),
        })
    }

    /// The sandbox directory (working directory of every child).
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The leased `PORT_OFFSET`.
    pub fn port_offset(&self) -> u16 {
        self.inner.ports.offset()
    }

    /// `<sandbox>/state`: the agent's state dir.
    pub fn state_dir(&self) -> PathBuf {
        self.path().join("state")
    }

    /// `<sandbox>/control.sock`: the agent's control socket.
    pub fn control_socket(&self) -> PathBuf {
        self.path().join("control.sock")
    }

    /// The settings file of simulated node `node_id`: `<sandbox>/tmp/<PORT_OFFSET>_<id>.flash`
    /// (`examples/platforms/simulation/flash.c`: `"%s/%s_%d.flash"` with
    /// `OPENTHREAD_CONFIG_POSIX_SETTINGS_PATH` = `"tmp"`, the `PORT_OFFSET` string and the node id).
    pub fn ncp_settings_file(&self, node_id: u8) -> PathBuf {
        self.path()
            .join("tmp")
            .join(format!("{}_{}.flash", self.port_offset(), node_id))
    }

    /// Deletes the agent co-processor's settings (its stored dataset, keys, frame counters), as
    /// if it had been factory-reset or replaced. Only meaningful while the agent is stopped.
    /// Returns whether a file was there.
    pub fn wipe_ncp_settings(&self) -> Result<bool> {
        let f = self.ncp_settings_file(NCP_NODE_ID);
        match std::fs::remove_file(&f) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e).with_context(|| format!("removing {}", f.display())),
        }
    }

    /// Registers a child pid so the sandbox kills it (and its group) at the end.
    pub fn register(&self, pid: u32) {
        self.inner
            .children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(pid);
    }

    /// Unregisters a child pid before its owner reaps it (so a recycled pid is never killed).
    pub fn unregister(&self, pid: u32) {
        self.inner
            .children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|p| *p != pid);
    }

    /// A unique file name in the sandbox for a log, e.g. `agent-2.log`.
    pub fn log_path(&self, stem: &str) -> PathBuf {
        for n in 1.. {
            let p = self.path().join(format!("{stem}-{n}.log"));
            if !p.exists() {
                return p;
            }
        }
        unreachable!("an unbounded range always yields a fresh name")
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let children =
            std::mem::take(&mut *self.children.lock().unwrap_or_else(|e| e.into_inner()));
        for pid in children {
            proc::kill_group(pid);
        }
        proc::kill_by_cwd(&self.path);
        if std::thread::panicking() {
            if let Some(dir) = self.dir.take() {
                let kept = dir.keep();
                eprintln!(
                    "test failed: sandbox kept for inspection at {}",
                    kept.display()
                );
            }
        }
    }
}
