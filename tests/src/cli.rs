//! `CliNode`: one simulated Thread node, `ot-cli-ftd <id>`, driven through the OpenThread CLI on
//! its stdin/stdout.
//!
//! Validated against ot-cli-ftd built by `testbed/build-ot.sh` (openthread-sys 0.4.0): the CLI
//! echoes each command as `> <command>` (CR LF line ends), prints the result lines, and ends with
//! `Done` or `Error <n>: <name>`; asynchronous lines (`Join success`, ...) may appear at any time.
//!
//! Guarantees: every wait has a deadline and its error shows the node's last output lines; the
//! node is killed (stdin closed, then SIGKILL) when the `CliNode` drops.

use std::io::Write;
use std::process::{Child, ChildStdin, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::proc::{self, LinePattern, OutputLog};
use crate::sandbox::Sandbox;

/// Default deadline for one CLI command.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `ot-cli-ftd` node.
#[derive(Debug)]
pub struct CliNode {
    id: u8,
    sandbox: Sandbox,
    child: Child,
    stdin: Mutex<Option<ChildStdin>>,
    log: Arc<OutputLog>,
}

impl CliNode {
    /// Starts `ot-cli-ftd <id>` in the sandbox. Ids 2..=128 (1 is the agent's co-processor; the
    /// simulation is built for 128 node ids, see [`crate::ports`]).
    pub fn spawn(sandbox: &Sandbox, id: u8) -> Result<CliNode> {
        if !(2..=128).contains(&id) {
            bail!("CLI node id {id} outside 2..=128 (1 is the agent's co-processor)");
        }
        let bins = crate::bins::ot_bins()?;
        let mut cmd = Command::new(&bins.cli);
        cmd.arg(id.to_string())
            .current_dir(sandbox.path())
            .env("PORT_OFFSET", sandbox.port_offset().to_string());
        let (mut child, log) =
            proc::spawn_tracked(&mut cmd, &sandbox.log_path(&format!("cli{id}")))?;
        sandbox.register(child.id());
        let stdin = child.stdin.take();
        let node = CliNode {
            id,
            sandbox: sandbox.clone(),
            child,
            stdin: Mutex::new(stdin),
            log,
        };
        // The CLI is up when it answers.
        node.cmd("state")
            .with_context(|| format!("node {id} did not start"))?;
        Ok(node)
    }

    /// The node id (its simulated radio address).
    pub fn id(&self) -> u8 {
        self.id
    }

    /// The node's output so far.
    pub fn log(&self) -> &OutputLog {
        &self.log
    }

    /// Runs one CLI command and returns its result lines (without the echo and `Done`).
    /// An `Error ...` answer is an `Err` carrying that line.
    pub fn cmd(&self, line: &str) -> Result<Vec<String>> {
        self.cmd_timeout(line, CMD_TIMEOUT)
    }

    /// [`CliNode::cmd`] with an explicit deadline.
    pub fn cmd_timeout(&self, line: &str, timeout: Duration) -> Result<Vec<String>> {
        // Holding the stdin lock serialises commands.
        let mut stdin = self.stdin.lock().unwrap_or_else(|e| e.into_inner());
        let from = self.log.len();
        let w = stdin
            .as_mut()
            .ok_or_else(|| anyhow!("node {} stdin closed", self.id))?;
        w.write_all(format!("{line}\n").as_bytes())
            .and_then(|()| w.flush())
            .with_context(|| format!("node {}: writing {line:?}", self.id))?;
        let echo = line.trim();
        let ctx = || {
            format!(
                "node {}: `{line}`; last output:\n{}",
                self.id,
                self.log.tail(15)
            )
        };
        let (at, _) = self
            .log
            .wait_until(from, timeout, &format!("echo of {echo:?}"), |l| {
                strip_prompt(l) == echo
            })
            .with_context(ctx)?;
        let mut out = Vec::new();
        let mut next = at + 1;
        loop {
            let (i, l) = self
                .log
                .wait_until(next, timeout, "Done or Error", |_| true)
                .with_context(ctx)?;
            next = i + 1;
            let l = strip_prompt(&l).to_string();
            if l == "Done" {
                return Ok(out);
            }
            if l.starts_with("Error") {
                bail!("node {}: `{line}` answered {l}", self.id);
            }
            if !l.is_empty() {
                out.push(l);
            }
        }
    }

    /// Runs a command whose answer is one value line and returns it.
    pub fn value(&self, line: &str) -> Result<String> {
        let out = self.cmd(line)?;
        out.into_iter()
            .next()
            .ok_or_else(|| anyhow!("node {}: `{line}` gave no value", self.id))
    }

    /// Waits for an output line (any time since start) matching `pattern`.
    pub fn wait_for(&self, pattern: impl LinePattern, timeout: Duration) -> Result<String> {
        self.wait_for_from(0, pattern, timeout)
    }

    /// Waits for an output line at index >= `from` (see [`CliNode::mark`]) matching `pattern`.
    pub fn wait_for_from(
        &self,
        from: usize,
        pattern: impl LinePattern,
        timeout: Duration,
    ) -> Result<String> {
        self.log
            .wait_for_from(from, pattern, timeout)
            .map(|(_, l)| l)
            .with_context(|| format!("node {}; last output:\n{}", self.id, self.log.tail(15)))
    }

    /// A cursor: only lines after this point are searched by [`CliNode::wait_for_from`].
    pub fn mark(&self) -> usize {
        self.log.len()
    }

    /// The factory EUI-64 (`eui64`), 16 hex digits.
    pub fn eui64(&self) -> Result<String> {
        self.value("eui64")
    }

    /// The extended MAC address (`extaddr`), 16 hex digits.
    pub fn extaddr(&self) -> Result<String> {
        self.value("extaddr")
    }

    /// The role (`state`): disabled, detached, child, router, leader.
    pub fn state(&self) -> Result<String> {
        self.value("state")
    }

    /// Polls `state` (every 200 ms) until it is one of `roles`; returns it.
    pub fn wait_state(&self, roles: &[&str], timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        let mut last;
        loop {
            last = self.state()?;
            if roles.contains(&last.as_str()) {
                return Ok(last);
            }
            if Instant::now() >= deadline {
                bail!(
                    "node {}: state stayed {last:?}, wanted one of {roles:?} within {timeout:?}",
                    self.id
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Forms a new network (`dataset init new`, `dataset commit active`, `ifconfig up`,
    /// `thread start`) and waits until leader. Returns the active dataset as hex.
    pub fn form(&self, timeout: Duration) -> Result<String> {
        for c in [
            "dataset init new",
            "dataset commit active",
            "ifconfig up",
            "thread start",
        ] {
            self.cmd(c)?;
        }
        self.wait_state(&["leader"], timeout)?;
        self.value("dataset active -x")
    }

    /// Attaches with a given active dataset (`dataset set active <hex>`, `ifconfig up`,
    /// `thread start`). Does not wait; see [`CliNode::wait_state`].
    pub fn attach_with_dataset(&self, hex: &str) -> Result<()> {
        self.cmd(&format!("dataset set active {hex}"))?;
        self.cmd("ifconfig up")?;
        self.cmd("thread start")?;
        Ok(())
    }

    /// Joins with a PSKd (`ifconfig up`, `joiner start <pskd>`) and waits for the outcome.
    /// `Ok(true)` on `Join success`, `Ok(false)` on `Join failed`.
    pub fn join(&self, pskd: &str, timeout: Duration) -> Result<bool> {
        self.cmd("ifconfig up")?;
        let from = self.mark();
        self.cmd(&format!("joiner start {pskd}"))?;
        let line =
            self.wait_for_from(from, &regex::Regex::new("Join (success|failed)")?, timeout)?;
        Ok(line.contains("success"))
    }

    /// Closes stdin (the node exits) and kills it; idempotent.
    pub fn kill(&mut self) {
        drop(self.stdin.lock().unwrap_or_else(|e| e.into_inner()).take());
        let pid = self.child.id();
        self.sandbox.unregister(pid);
        if self.child.try_wait().ok().flatten().is_none() {
            proc::kill_group(pid);
        }
        let _ = self.child.wait();
    }
}

/// Dataset values, roles and reachability (issue 11: a node's view of a rotated or migrated
/// network). Validated against ot-cli-ftd of openthread-sys 0.4.0: `networkkey`, `pskc`,
/// `channel`, `panid` and `partitionid` each print one value line.
impl CliNode {
    /// The network key in use (`networkkey`), 32 lowercase hex digits.
    pub fn networkkey(&self) -> Result<String> {
        Ok(self.value("networkkey")?.to_lowercase())
    }

    /// The PSKc (`pskc`), 32 lowercase hex digits.
    pub fn pskc(&self) -> Result<String> {
        Ok(self.value("pskc")?.to_lowercase())
    }

    /// The radio channel (`channel`).
    pub fn channel(&self) -> Result<u8> {
        let v = self.value("channel")?;
        v.parse()
            .with_context(|| format!("node {}: `channel` answered {v:?}", self.id))
    }

    /// The PAN ID (`panid`) as `0x` + 4 lowercase hex digits.
    pub fn panid(&self) -> Result<String> {
        let v = self.value("panid")?.to_lowercase();
        let n = u16::from_str_radix(v.trim_start_matches("0x"), 16)
            .with_context(|| format!("node {}: `panid` answered {v:?}", self.id))?;
        Ok(format!("0x{n:04x}"))
    }

    /// The mesh-local EID (`ipaddr mleid`).
    pub fn mleid(&self) -> Result<String> {
        self.value("ipaddr mleid")
    }

    /// The Thread partition id (`partitionid`; 0 while detached).
    pub fn partition_id(&self) -> Result<u32> {
        let v = self.value("partitionid")?;
        v.parse()
            .with_context(|| format!("node {}: `partitionid` answered {v:?}", self.id))
    }

    /// Makes the node a minimal end device that never becomes a router (`mode rn`: rx-on-when-idle,
    /// full network data). Call before attaching; it stays a child.
    pub fn as_child(&self) -> Result<()> {
        self.cmd("mode rn").map(|_| ())
    }

    /// Lets the node become a router within a second or two of attaching as a child
    /// (`routerselectionjitter 1`; the default jitter is 120 s). Not kept in the settings: call it
    /// again after a restart.
    pub fn fast_router(&self) -> Result<()> {
        self.cmd("routerselectionjitter 1").map(|_| ())
    }

    /// `ifconfig up` + `thread start` with the dataset already in the node's settings (a node
    /// restarted with the same id keeps its dataset; CLI nodes do not start Thread by themselves).
    pub fn start_thread(&self) -> Result<()> {
        self.cmd("ifconfig up")?;
        self.cmd("thread start").map(|_| ())
    }

    /// Re-runs the joiner on a node that has (stale) settings: `thread stop` (Joiner::Start needs
    /// the role disabled and the interface up, joiner.cpp), then [`CliNode::join`]. On success the
    /// joiner's active dataset is only {network key, channel, PAN ID}; call
    /// [`CliNode::start_thread`] (or `thread start`) to attach.
    pub fn rejoin(&self, pskd: &str, timeout: Duration) -> Result<bool> {
        self.cmd("thread stop")?;
        self.join(pskd, timeout)
    }

    /// Pings `addr` once per try (`ping <addr> 16 1`) until one echo comes back; returns the number
    /// of tries it took, or an error with the last output when none answered within `timeout`.
    pub fn ping_until(&self, addr: &str, timeout: Duration) -> Result<usize> {
        let deadline = Instant::now() + timeout;
        let stats = regex::Regex::new(r"(\d+) packets received")?;
        for tries in 1.. {
            let from = self.mark();
            self.cmd_timeout(&format!("ping {addr} 16 1"), CMD_TIMEOUT)?;
            let line = self.wait_for_from(from, &stats, Duration::from_secs(15))?;
            let got = stats
                .captures(&line)
                .and_then(|c| c[1].parse::<u32>().ok())
                .unwrap_or(0);
            if got > 0 {
                return Ok(tries);
            }
            if Instant::now() >= deadline {
                bail!(
                    "node {}: no echo from {addr} within {timeout:?}; last output:\n{}",
                    self.id,
                    self.log.tail(10)
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        unreachable!("an unbounded range always yields a try")
    }
}

impl Drop for CliNode {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The CLI prints `> ` before reading a command; strip it (also repeated) from a line.
fn strip_prompt(line: &str) -> &str {
    let mut l = line.trim();
    while let Some(rest) = l.strip_prefix('>') {
        l = rest.trim_start();
    }
    l
}

#[cfg(test)]
mod tests {
    use super::strip_prompt;

    #[test]
    fn prompt_is_stripped() {
        assert_eq!(strip_prompt("> state"), "state");
        assert_eq!(strip_prompt("> > Done\r"), "Done");
        assert_eq!(strip_prompt("leader"), "leader");
    }
}
