//! A Thread network around the agent for the credential-lifecycle tests (issue 11): CLI routers
//! and children attached with the agent's exported dataset, long `threadctl` calls (`--wait`,
//! input on stdin), the `events --json` tap, the audit log, threadctl's one-line error contract,
//! the address of the agent's co-processor to ping, and a second agent on the same simulated radio.
//!
//! Measured on the simulator (ot-cli-ftd, openthread-sys 0.4.0): a `mode rn` child attaches in
//! ~2 s; a router needs `routerselectionjitter 1` ([`CliNode::fast_router`]) to upgrade within
//! seconds instead of up to 120 s. A pending dataset set on the leader with a 30 s delay reaches
//! every node at once and is applied by all of them 30..31 s later, without a detach.
//!
//! Guarantees: every wait has a deadline (a hang bound); processes started here are registered in
//! the sandbox (killed at its end) and the events tap is also killed when dropped.

use std::io::Write;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use serde_json::Value;

use crate::agent::{sim_radio_url, Agent, AgentOptions};
use crate::bins::{ot_bins, workspace_bins};
use crate::cli::CliNode;
use crate::dataset::Tlvs;
use crate::proc::{self, OutputLog};
use crate::sandbox::Sandbox;

/// Deadline for the agent to form (or resume) its network and lead it.
pub const UP_TIMEOUT: Duration = Duration::from_secs(120);
/// Deadline for a CLI node to attach as a child or to become a router.
pub const NODE_TIMEOUT: Duration = Duration::from_secs(120);
/// Deadline for a `threadctl ... --wait` (threadctl itself gives up after the delay + 60 s).
pub const WAIT_CTL_TIMEOUT: Duration = Duration::from_secs(300);
/// Deadline for an ordinary `threadctl` call made here.
pub const CTL_TIMEOUT: Duration = Duration::from_secs(20);

/// Every agent started here gets a Thread interface of its own, `wpt<PORT_OFFSET>`
/// (`[bridge] interface`), so that parallel tests do not fight over `wpan0`: as root each bridge
/// comes up and the host can ping the mesh through it ([`host_ping`]).
pub fn bridge_env(sb: &Sandbox) -> (String, String) {
    (
        "THREAD_AGENT_BRIDGE__INTERFACE".to_string(),
        format!("wpt{}", sb.port_offset()),
    )
}

/// Starts the agent on the sandbox's simulated co-processor (with [`bridge_env`]) and waits until
/// it leads a network. Also the way to restart it: the same options every time.
pub fn leader_agent(sb: &Sandbox) -> Result<Agent> {
    leader_agent_with(sb, Vec::new())
}

/// [`leader_agent`] with more environment variables (configuration overrides).
pub fn leader_agent_with(sb: &Sandbox, extra: Vec<(String, String)>) -> Result<Agent> {
    let mut env = vec![bridge_env(sb)];
    env.extend(extra);
    let opts = AgentOptions {
        env,
        ..Default::default()
    };
    let mut agent = Agent::start_with(sb, &opts)?;
    agent.wait_status("the agent leads its network", UP_TIMEOUT, |s| {
        s["role"] == "leader"
    })?;
    Ok(agent)
}

/// Starts CLI node `id` and attaches it as a router-to-be with `dataset` (hex). Does not wait.
pub fn start_router(sb: &Sandbox, id: u8, dataset: &str) -> Result<CliNode> {
    let node = CliNode::spawn(sb, id)?;
    node.fast_router()?;
    node.attach_with_dataset(dataset)?;
    Ok(node)
}

/// Starts CLI node `id` and attaches it as a child (`mode rn`) with `dataset`. Does not wait.
pub fn start_child(sb: &Sandbox, id: u8, dataset: &str) -> Result<CliNode> {
    let node = CliNode::spawn(sb, id)?;
    node.as_child()?;
    node.attach_with_dataset(dataset)?;
    Ok(node)
}

/// Waits until `node` has one of `roles` in partition `partition`; returns the role.
pub fn wait_member(
    node: &CliNode,
    roles: &[&str],
    partition: u64,
    timeout: Duration,
) -> Result<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let role = node.wait_state(roles, deadline.saturating_duration_since(Instant::now()))?;
        let p = node.partition_id()?;
        if u64::from(p) == partition {
            return Ok(role);
        }
        if Instant::now() >= deadline {
            bail!(
                "node {}: {role} in partition {p}, not the agent's partition {partition}",
                node.id()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The agent leading a network with a router (CLI node 2) and a child (CLI node 3).
pub struct Mesh {
    pub agent: Agent,
    pub router: CliNode,
    pub child: CliNode,
    /// The agent's active dataset when the nodes attached (hex).
    pub dataset: String,
}

impl Mesh {
    /// Starts the agent, attaches both nodes with its export and waits until node 2 is a router
    /// and node 3 a child of the agent's partition.
    pub fn start(sb: &Sandbox) -> Result<Mesh> {
        let agent = leader_agent(sb)?;
        let dataset = agent.dataset_export()?;
        let router = start_router(sb, 2, &dataset)?;
        let child = start_child(sb, 3, &dataset)?;
        let mesh = Mesh {
            agent,
            router,
            child,
            dataset,
        };
        mesh.wait_attached(NODE_TIMEOUT)?;
        Ok(mesh)
    }

    /// The agent's partition id (`status`).
    pub fn partition(&self) -> Result<u64> {
        let s = self.agent.status_json()?;
        s["partition_id"]
            .as_u64()
            .ok_or_else(|| anyhow!("status has no partition_id: {s}"))
    }

    /// Waits until node 2 is a router and node 3 a child, both in the agent's partition.
    pub fn wait_attached(&self, timeout: Duration) -> Result<()> {
        let p = self.partition()?;
        wait_member(&self.router, &["router"], p, timeout)?;
        wait_member(&self.child, &["child"], p, timeout)?;
        Ok(())
    }
}

/// Runs `threadctl --socket <socket> <args>` with `stdin` as its input (closed stdin if `None`)
/// and a deadline.
pub fn threadctl_with(
    socket: &Path,
    args: &[&str],
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Result<Output> {
    let bins = workspace_bins()?;
    let mut cmd = Command::new(&bins.threadctl);
    cmd.arg("--socket")
        .arg(socket)
        .args(args)
        .env_remove("THREAD_AGENT_SOCKET");
    let Some(input) = stdin else {
        return proc::run_with_timeout(&mut cmd, timeout);
    };
    proc::harden(&mut cmd);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().with_context(|| format!("starting {cmd:?}"))?;
    let mut w = child.stdin.take().ok_or_else(|| anyhow!("no stdin"))?;
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(&input);
    });
    let pid = child.id();
    let waiter = std::thread::spawn(move || child.wait_with_output());
    let deadline = Instant::now() + timeout;
    while !waiter.is_finished() {
        if Instant::now() >= deadline {
            proc::kill_group(pid);
            let _ = waiter.join();
            bail!("threadctl {args:?} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = writer.join();
    waiter
        .join()
        .map_err(|_| anyhow!("threadctl waiter panicked"))?
        .context("waiting for threadctl")
}

/// `threadctl` against the sandbox's agent with the long `--wait` deadline.
pub fn threadctl_long(sb: &Sandbox, args: &[&str]) -> Result<Output> {
    threadctl_with(&sb.control_socket(), args, None, WAIT_CTL_TIMEOUT)
}

/// stdout + stderr of a threadctl run, for messages and leak scans.
pub fn output_text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Requires exit 0; returns stdout.
pub fn ok_stdout(o: &Output, what: &str) -> Result<String> {
    ensure!(
        o.status.success(),
        "{what}: {} {}",
        o.status,
        output_text(o)
    );
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// threadctl's error contract: exit `code`, nothing on stdout, exactly one stderr line starting
/// with `threadctl: error: `. Returns that line.
pub fn one_error_line(o: &Output, code: i32, what: &str) -> Result<String> {
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    ensure!(
        o.status.code() == Some(code),
        "{what}: exit {:?}, expected {code}; output: {}",
        o.status.code(),
        output_text(o)
    );
    ensure!(
        o.stdout.is_empty(),
        "{what}: stdout on error: {}",
        output_text(o)
    );
    ensure!(
        lines.len() == 1 && lines[0].starts_with("threadctl: error: "),
        "{what}: expected one `threadctl: error: ` line, got {err:?}"
    );
    Ok(lines[0].to_string())
}

/// `threadctl events --json`, running until dropped (the leak scan reads its output).
pub struct EventsTap {
    child: Child,
    sandbox: Sandbox,
    pub log: Arc<OutputLog>,
}

impl EventsTap {
    /// Subscribes to the sandbox agent's events.
    pub fn start(sb: &Sandbox) -> Result<EventsTap> {
        let mut cmd = crate::threadctl_command(&sb.control_socket(), &["events", "--json"])?;
        let (child, log) = proc::spawn_tracked(&mut cmd, &sb.log_path("events"))?;
        sb.register(child.id());
        Ok(EventsTap {
            child,
            sandbox: sb.clone(),
            log,
        })
    }

    /// The event objects received so far (lines that are not JSON are skipped).
    pub fn events(&self) -> Vec<Value> {
        self.log
            .lines()
            .iter()
            .filter_map(|l| serde_json::from_str(l.trim()).ok())
            .collect()
    }

    /// Waits for an event named `name`; returns it. `threadctl events --json` prints the inner
    /// object of the protocol's `{"event": {"type": NAME, ...}}` line; the whole line and an
    /// `{"event": NAME}` spelling are accepted too.
    pub fn wait_event(&self, name: &str, timeout: Duration) -> Result<Value> {
        let needle = format!("\"{name}\"");
        let named =
            |v: &Value| v["type"] == name || v["event"] == name || v["event"]["type"] == name;
        let (_, line) = self
            .log
            .wait_until(0, timeout, &format!("event {name}"), |l| {
                l.contains(&needle)
                    && serde_json::from_str::<Value>(l.trim()).is_ok_and(|v| named(&v))
            })
            .with_context(|| format!("events --json so far:\n{}", self.log.tail(20)))?;
        Ok(serde_json::from_str(line.trim())?)
    }
}

impl Drop for EventsTap {
    fn drop(&mut self) {
        let pid = self.child.id();
        self.sandbox.unregister(pid);
        if self.child.try_wait().ok().flatten().is_none() {
            proc::kill_group(pid);
        }
        let _ = self.child.wait();
    }
}

/// A log-line pattern for the journal field `event=NAME`, with or without quotes around the
/// name (`tracing` writes a `&str` field quoted, a `%` Display field bare; the agent has both).
pub fn event_re(name: &str) -> regex::Regex {
    regex::Regex::new(&format!(r#"event="?{}"?(\s|$)"#, regex::escape(name)))
        .expect("a literal event name is a valid pattern")
}

/// `<state_dir>/audit.jsonl` of the sandbox's agent.
pub fn audit_path(sb: &Sandbox) -> PathBuf {
    sb.state_dir().join("audit.jsonl")
}

/// The audit log's lines, parsed (empty if there is none yet).
pub fn audit(sb: &Sandbox) -> Result<Vec<Value>> {
    let text = std::fs::read_to_string(audit_path(sb)).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).with_context(|| format!("audit line {l:?}")))
        .collect()
}

/// The first audit line with `event` == `name`.
pub fn audit_event(sb: &Sandbox, name: &str) -> Result<Value> {
    audit(sb)?
        .into_iter()
        .find(|l| l["event"] == name)
        .ok_or_else(|| anyhow!("the audit log has no {name:?} line"))
}

/// [`audit_event`], waiting (polling every 250 ms) up to `timeout` for the line to be written.
pub fn wait_audit_event(sb: &Sandbox, name: &str, timeout: Duration) -> Result<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        match audit_event(sb, name) {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() >= deadline => {
                return Err(e.context(format!("waited {timeout:?}")))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// Where a CLI node can ping the agent's co-processor: its mesh-local EID when the bridge lists
/// it (`status.bridge.addresses`), else its RLOC (mesh-local prefix + `0:ff:fe00:<rloc16>`).
/// Returns the address and which kind it is.
pub fn ping_target(status: &Value) -> Result<(String, &'static str)> {
    let prefix = status["mesh_local_prefix"]
        .as_str()
        .ok_or_else(|| anyhow!("status has no mesh_local_prefix: {status}"))?;
    let net: Ipv6Addr = prefix
        .split('/')
        .next()
        .unwrap_or_default()
        .parse()
        .with_context(|| format!("mesh_local_prefix {prefix:?}"))?;
    let top = &net.octets()[..8];
    let listed = status["bridge"]["addresses"].as_array().cloned();
    for a in listed.unwrap_or_default() {
        let Some(Ok(addr)) = a
            .as_str()
            .map(|s| s.split('/').next().unwrap_or(s).parse::<Ipv6Addr>())
        else {
            continue;
        };
        let o = addr.octets();
        let locator = o[8..14] == [0, 0, 0, 0xff, 0xfe, 0];
        if &o[..8] == top && !locator {
            return Ok((addr.to_string(), "ML-EID"));
        }
    }
    let rloc16 = status["rloc16"]
        .as_str()
        .and_then(|r| u16::from_str_radix(r.trim_start_matches("0x"), 16).ok())
        .ok_or_else(|| anyhow!("status has no rloc16: {status}"))?;
    let mut o = net.octets();
    o[8..16].copy_from_slice(&[0, 0, 0, 0xff, 0xfe, 0, (rloc16 >> 8) as u8, rloc16 as u8]);
    Ok((Ipv6Addr::from(o).to_string(), "RLOC"))
}

/// Pings `dst` from this host (raw ICMPv6 socket, so no `ping` program is needed; through the
/// agent's Thread interface when the route is its), once a second until an echo comes back.
/// `Ok(None)`: not possible here (not root: no raw socket), the caller says it skipped;
/// `Ok(Some(tries))` on an answer; an error when nothing answered within `timeout`.
pub fn host_ping(dst: &str, timeout: Duration) -> Result<Option<usize>> {
    use std::net::{SocketAddrV6, UdpSocket};
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::sync::atomic::{AtomicU16, Ordering};
    let dst: Ipv6Addr = dst.parse().with_context(|| format!("address {dst:?}"))?;
    // SAFETY: plain socket(2); the descriptor is owned right away.
    let fd = unsafe {
        libc::socket(
            libc::AF_INET6,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::IPPROTO_ICMPV6,
        )
    };
    if fd < 0 {
        return Ok(None);
    }
    // SAFETY: `fd` is a fresh descriptor nobody else owns. A raw ICMPv6 socket works through
    // std's sendto/recvfrom wrappers; the kernel fills in the checksum.
    let sock = UdpSocket::from(unsafe { OwnedFd::from_raw_fd(fd) });
    static ID: AtomicU16 = AtomicU16::new(0x5a00);
    let id = ID.fetch_add(1, Ordering::Relaxed).to_be_bytes();
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 2048];
    for seq in 1u16.. {
        let mut req = vec![128, 0, 0, 0, id[0], id[1]];
        req.extend_from_slice(&seq.to_be_bytes());
        req.extend_from_slice(b"issue-11 e2e");
        let sent = Instant::now();
        if sock.send_to(&req, SocketAddrV6::new(dst, 0, 0, 0)).is_ok() {
            while let Some(left) = Duration::from_secs(1).checked_sub(sent.elapsed()) {
                sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    break;
                };
                let b = &buf[..n];
                let from_dst = matches!(from, std::net::SocketAddr::V6(a) if *a.ip() == dst);
                if from_dst
                    && n >= 8
                    && b[0] == 129
                    && b[4..6] == id
                    && b[6..8] == seq.to_be_bytes()
                {
                    return Ok(Some(usize::from(seq)));
                }
            }
        }
        if Instant::now() >= deadline {
            bail!("{dst} did not answer this host's echo requests within {timeout:?}");
        }
        std::thread::sleep(Duration::from_secs(1).saturating_sub(sent.elapsed()));
    }
    unreachable!("an unbounded range always yields a try")
}

/// Hex of TLVs (the inverse of [`Tlvs::from_hex`]; values longer than 254 bytes use the
/// extended length form).
pub fn tlvs_hex(t: &Tlvs) -> String {
    let mut b = Vec::new();
    for (ty, v) in &t.0 {
        b.push(*ty);
        if v.len() < 0xff {
            b.push(v.len() as u8);
        } else {
            b.push(0xff);
            b.extend_from_slice(&(v.len() as u16).to_be_bytes());
        }
        b.extend_from_slice(v);
    }
    hex::encode(b)
}

/// The active timestamp's seconds (TLV 14: 48-bit seconds, 15-bit ticks, 1 bit authoritative).
pub fn active_timestamp_s(t: &Tlvs) -> Result<u64> {
    let v = t.require(14)?;
    ensure!(v.len() == 8, "active timestamp TLV of {} bytes", v.len());
    Ok(v[..6].iter().fold(0u64, |a, b| (a << 8) | u64::from(*b)))
}

/// Starts a second agent in sandbox `own` (its own dir: state, control socket, co-processor
/// settings) on the RADIO of sandbox `radio`: `PORT_OFFSET` is `radio`'s and its co-processor is
/// simulated node `ncp_id` (two nodes of one radio need different ids; the first agent's is 1),
/// so both agents hear each other. `own`'s own offset lease stays unused. `env`: more variables
/// (e.g. `THREAD_AGENT_NETWORK__FORM=false`, so that a blank co-processor waits for an import).
pub fn second_agent(
    own: &Sandbox,
    radio: &Sandbox,
    ncp_id: u8,
    env: &[(&str, &str)],
) -> Result<Agent> {
    ensure!(
        ncp_id != crate::sandbox::NCP_NODE_ID,
        "node id {ncp_id} is the first agent's"
    );
    let url = sim_radio_url()?.replace(
        &format!("forkpty-arg={}", crate::sandbox::NCP_NODE_ID),
        &format!("forkpty-arg={ncp_id}"),
    );
    ensure!(
        url.contains(&format!("forkpty-arg={ncp_id}")),
        "radio url {url}"
    );
    ot_bins()?;
    let opts = AgentOptions {
        radio_url: Some(url),
        env: vec![
            ("PORT_OFFSET".into(), radio.port_offset().to_string()),
            bridge_env(own),
        ]
        .into_iter()
        .chain(env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .collect(),
        ..Default::default()
    };
    Agent::start_with(own, &opts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn event_pattern_takes_both_spellings() {
        let re = event_re("dataset-imported");
        assert!(re.is_match(r#"INFO x: imported event="dataset-imported" uid="0""#));
        assert!(re.is_match("INFO x: event=dataset-imported"));
        assert!(!re.is_match("INFO x: event=dataset-imported-not"));
    }

    #[test]
    fn tlvs_round_trip() {
        let hex = "0e080000000000020000030f4f70656e5468726561642d37616562";
        let t = Tlvs::from_hex(hex).unwrap();
        assert_eq!(tlvs_hex(&t), hex);
        assert_eq!(active_timestamp_s(&t).unwrap(), 2);
    }

    #[test]
    fn ping_target_prefers_the_ml_eid() {
        let s = json!({"mesh_local_prefix": "fdbc:64de:bcd2:1::/64", "rloc16": "0xa400",
            "bridge": {"addresses": ["fe80::1", "fdbc:64de:bcd2:1:0:ff:fe00:a400", "fdbc:64de:bcd2:1:1234:5678:9abc:def0"]}});
        assert_eq!(
            ping_target(&s).unwrap(),
            ("fdbc:64de:bcd2:1:1234:5678:9abc:def0".to_string(), "ML-EID")
        );
        let s = json!({"mesh_local_prefix": "fdbc:64de:bcd2:1::/64", "rloc16": "0xa400"});
        assert_eq!(
            ping_target(&s).unwrap(),
            ("fdbc:64de:bcd2:1:0:ff:fe00:a400".to_string(), "RLOC")
        );
    }
}
