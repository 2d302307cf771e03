//! `Agent`: the real `thread-agent` binary running in a [`Sandbox`] on a simulated co-processor
//! (`ot-ncp-ftd`, node id 1, started by the agent itself through forkpty), plus the real
//! `threadctl` to talk to it.
//!
//! The agent runs with cwd = the sandbox dir (the co-processor inherits it and keeps its settings
//! in `./tmp/`), `PORT_OFFSET` = the sandbox's, `--state-dir <sandbox>/state`,
//! `--control-socket <sandbox>/control.sock` and `--config <sandbox>/agent.toml` (an empty file,
//! so a machine's `/etc/thread-agent/agent.toml` cannot leak in); `THREAD_AGENT_*` variables of
//! the caller's environment are removed. Its stdout and stderr go to `<sandbox>/agent-N.log` and
//! to an in-memory [`OutputLog`] that tests search (and scan for secrets).
//!
//! Written against the contract (README "Exit codes", docs/control-protocol.md); validated
//! against whatever `thread-agent` the workspace currently builds.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::bins::{ot_bins, workspace_bins, WorkspaceBins};
use crate::proc::{self, LinePattern, OutputLog};
use crate::sandbox::{Sandbox, NCP_NODE_ID};

/// Deadline for a `threadctl` call.
pub const THREADCTL_TIMEOUT: Duration = Duration::from_secs(20);
/// Deadline for the agent to exit after SIGTERM.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// How to start the agent; `Default` = on the simulated co-processor.
#[derive(Debug, Clone, Default)]
pub struct AgentOptions {
    /// `--radio-url`; `None` = [`sim_radio_url`].
    pub radio_url: Option<String>,
    /// Extra command-line arguments.
    pub args: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
}

/// The radio URL of the simulated co-processor: `spinel+hdlc+forkpty://<ot-ncp-ftd>?forkpty-arg=1`.
pub fn sim_radio_url() -> Result<String> {
    Ok(format!(
        "spinel+hdlc+forkpty://{}?forkpty-arg={NCP_NODE_ID}",
        ot_bins()?.ncp.display()
    ))
}

/// A `thread-agent` command for this sandbox (flags as described in the module doc).
pub fn agent_command(sb: &Sandbox, opts: &AgentOptions) -> Result<Command> {
    let bins = workspace_bins()?;
    let config = sb.path().join("agent.toml");
    if !config.exists() {
        std::fs::write(
            &config,
            "# empty: the e2e tests pass everything on the command line\n",
        )?;
    }
    let radio = match &opts.radio_url {
        Some(u) => u.clone(),
        None => sim_radio_url()?,
    };
    let mut cmd = Command::new(&bins.agent);
    cmd.arg("--config")
        .arg(&config)
        .arg("--radio-url")
        .arg(radio)
        .arg("--state-dir")
        .arg(sb.state_dir())
        .arg("--control-socket")
        .arg(sb.control_socket())
        .args(&opts.args)
        .current_dir(sb.path());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("THREAD_AGENT_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("PORT_OFFSET", sb.port_offset().to_string());
    for (k, v) in &opts.env {
        cmd.env(k, v);
    }
    Ok(cmd)
}

/// Runs the agent to completion (for start-up failures) and returns its output.
pub fn run_agent_once(sb: &Sandbox, opts: &AgentOptions, timeout: Duration) -> Result<Output> {
    let mut cmd = agent_command(sb, opts)?;
    proc::run_with_timeout(&mut cmd, timeout)
}

/// `threadctl --socket <socket> <args>`, not started (`THREAD_AGENT_SOCKET` removed).
pub fn threadctl_command(socket: &Path, args: &[&str]) -> Result<Command> {
    let bins = workspace_bins()?;
    let mut cmd = Command::new(&bins.threadctl);
    cmd.arg("--socket")
        .arg(socket)
        .args(args)
        .env_remove("THREAD_AGENT_SOCKET");
    Ok(cmd)
}

/// Runs `threadctl --socket <socket> <args>` and returns its output.
pub fn threadctl_at(socket: &Path, args: &[&str]) -> Result<Output> {
    proc::run_with_timeout(&mut threadctl_command(socket, args)?, THREADCTL_TIMEOUT)
}

/// One raw control request to the sandbox agent (e.g. a test-only `debug.*` method); its
/// `result`, or an error with the whole reply.
pub fn rpc(sb: &Sandbox, method: &str, params: Value) -> Result<Value> {
    use std::io::{BufRead, BufReader, Write};
    let mut s = std::os::unix::net::UnixStream::connect(sb.control_socket())?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let line = serde_json::json!({"id": 1, "method": method, "params": params});
    s.write_all(format!("{line}\n").as_bytes())?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line)?;
    let v: Value = serde_json::from_str(line.trim())?;
    v.get("result")
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("{method}: {v}"))
}

/// A running (or stopped) `thread-agent`.
#[derive(Debug)]
pub struct Agent {
    sandbox: Sandbox,
    bins: WorkspaceBins,
    child: Child,
    log: Arc<OutputLog>,
    log_file: PathBuf,
    exit: Option<ExitStatus>,
}

impl Agent {
    /// Starts the agent on the simulated co-processor.
    pub fn start(sb: &Sandbox) -> Result<Agent> {
        Agent::start_with(sb, &AgentOptions::default())
    }

    /// Starts the agent with options.
    pub fn start_with(sb: &Sandbox, opts: &AgentOptions) -> Result<Agent> {
        let bins = workspace_bins()?;
        let mut cmd = agent_command(sb, opts)?;
        let log_file = sb.log_path("agent");
        let (child, log) = proc::spawn_tracked(&mut cmd, &log_file)?;
        sb.register(child.id());
        Ok(Agent {
            sandbox: sb.clone(),
            bins,
            child,
            log,
            log_file,
            exit: None,
        })
    }

    /// The sandbox it runs in.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its stdout+stderr lines.
    pub fn log(&self) -> &OutputLog {
        &self.log
    }

    /// Everything it logged so far, one string.
    pub fn log_text(&self) -> String {
        self.log.text()
    }

    /// The log file in the sandbox.
    pub fn log_file(&self) -> &Path {
        &self.log_file
    }

    /// Waits for a log line matching `pattern`; the error shows the last log lines.
    pub fn wait_log(&self, pattern: impl LinePattern, timeout: Duration) -> Result<String> {
        self.log
            .wait_for_from(0, pattern, timeout)
            .map(|(_, l)| l)
            .with_context(|| format!("thread-agent log (last lines):\n{}", self.log.tail(30)))
    }

    /// SIGTERM, then waits (up to [`STOP_TIMEOUT`]) and returns the exit status. Idempotent.
    pub fn stop(&mut self) -> Result<ExitStatus> {
        if let Some(s) = self.exit {
            return Ok(s);
        }
        proc::signal(self.child.id(), libc::SIGTERM);
        match proc::wait_timeout(&mut self.child, STOP_TIMEOUT)? {
            Some(s) => {
                self.sandbox.unregister(self.child.id());
                self.exit = Some(s);
                // Let the reader threads see EOF (bounded: the co-processor may hold no pipe).
                let _ = self
                    .log
                    .wait_until(usize::MAX, Duration::from_secs(2), "eof", |_| false);
                Ok(s)
            }
            None => {
                self.kill();
                bail!(
                    "thread-agent did not exit within {STOP_TIMEOUT:?} of SIGTERM; last log lines:\n{}",
                    self.log.tail(30)
                )
            }
        }
    }

    /// Whether it has exited (without stopping it); reaps it if so.
    pub fn exited(&mut self) -> Result<Option<ExitStatus>> {
        if self.exit.is_none() {
            if let Some(s) = self.child.try_wait()? {
                self.sandbox.unregister(self.child.id());
                self.exit = Some(s);
            }
        }
        Ok(self.exit)
    }

    /// SIGKILL (its group too); idempotent.
    pub fn kill(&mut self) {
        if self.exit.is_some() {
            return;
        }
        let pid = self.child.id();
        self.sandbox.unregister(pid);
        proc::kill_group(pid);
        if let Ok(s) = self.child.wait() {
            self.exit = Some(s);
        }
    }

    /// Runs `threadctl --socket <sandbox>/control.sock <args>`.
    pub fn threadctl(&self, args: &[&str]) -> Result<Output> {
        let mut cmd = Command::new(&self.bins.threadctl);
        cmd.arg("--socket")
            .arg(self.sandbox.control_socket())
            .args(args)
            .env_remove("THREAD_AGENT_SOCKET");
        proc::run_with_timeout(&mut cmd, THREADCTL_TIMEOUT)
    }

    /// Runs threadctl and requires exit 0; returns stdout.
    pub fn threadctl_ok(&self, args: &[&str]) -> Result<String> {
        let out = self.threadctl(args)?;
        if !out.status.success() {
            bail!(
                "threadctl {args:?} failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// [`threadctl_ok`](Self::threadctl_ok) of a `--json` command, parsed.
    pub fn threadctl_json(&self, args: &[&str]) -> Result<Value> {
        let out = self.threadctl_ok(args)?;
        serde_json::from_str(out.trim())
            .with_context(|| format!("threadctl {args:?}: not JSON: {out:?}"))
    }

    /// `threadctl status --json`, parsed.
    pub fn status_json(&self) -> Result<Value> {
        let out = self.threadctl_ok(&["status", "--json"])?;
        serde_json::from_str(out.trim())
            .with_context(|| format!("status --json is not JSON: {out:?}"))
    }

    /// `threadctl dataset export`: the active dataset as hex TLVs.
    pub fn dataset_export(&self) -> Result<String> {
        Ok(self
            .threadctl_ok(&["dataset", "export"])?
            .trim()
            .to_string())
    }

    /// Polls `status --json` (every 250 ms) until `pred` holds; returns that status. Fails at the
    /// deadline with the last status (or error) and the agent's last log lines; fails at once if
    /// the agent exited.
    pub fn wait_status(
        &mut self,
        what: &str,
        timeout: Duration,
        mut pred: impl FnMut(&Value) -> bool,
    ) -> Result<Value> {
        let deadline = Instant::now() + timeout;
        let mut last;
        loop {
            if let Some(s) = self.exited()? {
                bail!(
                    "thread-agent exited ({s}) while waiting for {what}; log:\n{}",
                    self.log.tail(30)
                );
            }
            match self.status_json() {
                Ok(v) if pred(&v) => return Ok(v),
                Ok(v) => last = v.to_string(),
                Err(e) => last = format!("{e:#}"),
            }
            if Instant::now() >= deadline {
                bail!(
                    "{what}: not reached within {timeout:?}; last status: {last}\nthread-agent log (last lines):\n{}",
                    self.log.tail(30)
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Polls `threadctl <args>` (JSON, every 250 ms) until `pred` holds; returns that answer.
    /// The error names `what` and shows the last answer and the agent's log.
    pub fn wait_json(
        &self,
        args: &[&str],
        what: &str,
        timeout: Duration,
        mut pred: impl FnMut(&Value) -> bool,
    ) -> Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.threadctl_json(args)?;
            if pred(&v) {
                return Ok(v);
            }
            if Instant::now() >= deadline {
                bail!(
                    "{what}: not reached within {timeout:?}; last `threadctl {}`: {v}\nthread-agent log (last lines):\n{}",
                    args.join(" "),
                    self.log.tail(30)
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The process id of the simulated co-processor (`ot-ncp-ftd`) the agent started (its child).
    pub fn ncp_pid(&self) -> Result<u32> {
        let ncp = ot_bins()?.ncp.canonicalize()?;
        proc::children(self.pid())
            .into_iter()
            .find(|c| {
                std::fs::read_link(format!("/proc/{c}/exe")).is_ok_and(|exe| exe == ncp)
                    && proc::alive(*c)
            })
            .with_context(|| format!("no {} child of the agent", ncp.display()))
    }

    /// Polls (every 100 ms) until the agent has a co-processor child other than `old`.
    pub fn wait_new_ncp(&mut self, old: u32, timeout: Duration) -> Result<u32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.exited()? {
                bail!(
                    "thread-agent exited ({s}); log:
{}",
                    self.log.tail(30)
                );
            }
            match self.ncp_pid() {
                Ok(p) if p != old => return Ok(p),
                _ if Instant::now() >= deadline => {
                    bail!(
                        "no new co-processor within {timeout:?}; log:
{}",
                        self.log.tail(30)
                    )
                }
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Deletes the co-processor's settings; the agent must be stopped.
    pub fn wipe_ncp_settings(&mut self) -> Result<bool> {
        if self.exited()?.is_none() {
            bail!("wipe_ncp_settings while the agent is running");
        }
        self.sandbox.wipe_ncp_settings()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- thread-agent log ({}), last lines ---\n{}\n---",
                self.log_file.display(),
                self.log.tail(40)
            );
        }
        self.kill();
    }
}

/// Requires exit `code` and a fatal error reported once, as the last stderr line, starting with
/// `thread-agent: error: `; returns that line.
pub fn fatal_line(out: &Output, code: i32) -> Result<String> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let report = || format!("exit status {}; stderr:\n{stderr}", out.status);
    anyhow::ensure!(
        out.status.code() == Some(code),
        "expected exit code {code}, {}",
        report()
    );
    anyhow::ensure!(
        !stderr.contains("panicked"),
        "thread-agent panicked: {}",
        report()
    );
    let errors: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("thread-agent: error: "))
        .collect();
    anyhow::ensure!(
        errors.len() == 1,
        "expected exactly one `thread-agent: error: ` line, {}",
        report()
    );
    let last = lines.last().copied().unwrap_or_default();
    anyhow::ensure!(
        last.starts_with("thread-agent: error: "),
        "the error line must be the last line, {}",
        report()
    );
    let message = last.trim_start_matches("thread-agent: error: ").trim();
    let repeats = lines.iter().filter(|l| l.contains(message)).count();
    anyhow::ensure!(
        repeats == 1,
        "the fatal error must be reported once, as one line; its message appears on {repeats} lines \
         (e.g. also as a tracing ERROR event); {}",
        report()
    );
    Ok(last.to_string())
}
