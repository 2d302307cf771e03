//! End-to-end test of the agent on mDNS (issue 13 part 1): the real `thread-agent` on the
//! simulated co-processor in a "BR" network namespace publishes `_meshcop._udp` on its
//! infrastructure interface; a real mDNS client nobody here wrote, Debian's python3-zeroconf
//! (tests/scripts/mdns_browse.py, run with /usr/bin/python3 in a "LAN" namespace joined to BR by a
//! veth pair), finds it.
//!
//! ```text
//!  BR namespace                                   LAN namespace
//!  thread-agent -- wpan0 (TUN)                    lan0 (veth, 192.0.2.2/24 + link-local)
//!   '- ot-ncp-ftd 1 (radio on lo)                 python3-zeroconf browser
//!  infra0 (veth, 192.0.2.1/24, [bridge] infra_interface) ---- lan0
//! ```
//!
//! What is checked: the browser resolves the agent's instance with TXT `nn` and `xp` equal to
//! `threadctl status --json`'s network name and extended PAN ID, `sb` saying PSKc connection mode
//! (`sb & 7 == 1`) and an active Thread interface (`(sb >> 3) & 3 == 2`), `vn`/`mn` from the
//! configuration, the port of `status.mdns` and of the LAN relay (`status.border_agent.lan_port`);
//! nothing is published on wpan0 or loopback (no 224.0.0.251 / ff02::fb membership on `lo` or
//! `wpan0` in the BR namespace, but both on infra0, from /proc/net/igmp and /proc/net/igmp6);
//! after a co-processor reset (`debug.reset_ncp`) the service is announced again with the TXT
//! following the reset; on stop the browser sees it removed (goodbye packets); after a restart on
//! another network (co-processor settings and backup wiped, another `[network] name`) it is found
//! again with the new `nn`/`xp`. Deadlines only bound hangs.
//!
//! Needs root, /dev/net/tun and /usr/bin/python3 with the `zeroconf` module; skipped (with a
//! message) otherwise.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use e2e::netns::{can_run, LanPair, Netns, INFRA_IF};
use e2e::proc::OutputLog;
use e2e::{Agent, AgentOptions, Sandbox};
use serde_json::{json, Value};

const UP_TIMEOUT: Duration = Duration::from_secs(90);
const FIND_TIMEOUT: Duration = Duration::from_secs(30);
const PYTHON: &str = "/usr/bin/python3";

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/mdns_browse.py")
}

/// Whether python3-zeroconf can be imported (says so when not).
fn have_zeroconf() -> bool {
    let ok = Command::new(PYTHON)
        .args(["-c", "import zeroconf"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "skipped: needs {PYTHON} with python3-zeroconf (apt-get install python3-zeroconf)"
        );
    }
    ok
}

/// A zeroconf browser running in a namespace, its JSON lines in `log`; killed on drop.
struct Browser {
    child: Child,
    log: Arc<OutputLog>,
}

impl Browser {
    fn start(sb: &Sandbox, ns: &Netns, extra: &[&str]) -> Result<Browser> {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &ns.name, PYTHON])
            .arg(script())
            .args(["--timeout", "120"])
            .args(extra);
        let (child, log) = e2e::proc::spawn_tracked(&mut cmd, &sb.log_path("mdns-browse"))?;
        sb.register(child.id());
        Ok(Browser { child, log })
    }

    /// Waits for a `resolved` line at index >= `from` whose TXT satisfies `pred`.
    fn wait_resolved(
        &self,
        from: usize,
        what: &str,
        mut pred: impl FnMut(&Value) -> bool,
    ) -> Result<(usize, Value)> {
        let (i, line) = self
            .log
            .wait_until(from, FIND_TIMEOUT, what, |l| {
                serde_json::from_str::<Value>(l).is_ok_and(|v| v["event"] == "resolved" && pred(&v))
            })
            .with_context(|| format!("browser output:\n{}", self.log.tail(20)))?;
        Ok((i, serde_json::from_str(&line)?))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        e2e::proc::kill_group(self.child.id());
        let _ = self.child.wait();
    }
}

/// A TXT value (hex in the browser's output) as bytes.
fn txt(v: &Value, key: &str) -> Option<Vec<u8>> {
    hex::decode(v["txt"][key].as_str()?).ok()
}

fn sb_bits(v: &Value) -> Option<u32> {
    let b = txt(v, "sb")?;
    (b.len() == 4).then(|| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// The TXT matches the agent's status: `nn`, `xp`, and `sb` (PSKc mode, interface active).
fn matches_status(v: &Value, status: &Value) -> bool {
    let nn = status["network_name"].as_str().unwrap_or_default();
    let xp = status["ext_pan_id"].as_str().unwrap_or_default();
    txt(v, "nn").as_deref() == Some(nn.as_bytes())
        && v["txt"]["xp"].as_str() == Some(xp)
        && sb_bits(v).is_some_and(|sb| sb & 7 == 1 && (sb >> 3) & 3 == 2)
}

/// Groups (hex, as /proc/net/igmp and igmp6 print them) joined per device in `ns`.
fn memberships(ns: &Netns) -> Result<Vec<(String, String)>> {
    let cat = |f: &str| -> Result<String> {
        let out = Command::new("ip")
            .args(["netns", "exec", &ns.name, "cat", f])
            .output()?;
        ensure!(out.status.success(), "cat {f} in {}", ns.name);
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let mut groups = Vec::new();
    // igmp: "<idx>\t<dev> : ..." headers, then "\t\t\t\t<group> ..." lines.
    let mut dev = String::new();
    for l in cat("/proc/net/igmp")?.lines().skip(1) {
        if !l.starts_with('\t') {
            dev = l.split_whitespace().nth(1).unwrap_or_default().to_string();
        } else if let Some(g) = l.split_whitespace().next() {
            groups.push((dev.clone(), g.to_ascii_uppercase()));
        }
    }
    // igmp6: "<idx> <dev> <group> <users> <flags> <timer>".
    for l in cat("/proc/net/igmp6")?.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() >= 3 {
            groups.push((f[1].to_string(), f[2].to_ascii_uppercase()));
        }
    }
    Ok(groups)
}

const MDNS_V4: &str = "FB0000E0"; // 224.0.0.251, little-endian hex
const MDNS_V6: &str = "FF0200000000000000000000000000FB";

struct Bed {
    sb: Sandbox,
    br: Netns,
    lan: Netns,
}

impl Bed {
    fn new() -> Result<Bed> {
        e2e::ot_bins()?;
        e2e::workspace_bins()?;
        let sb = Sandbox::new()?;
        let LanPair { br, lan } = LanPair::new(&[("192.0.2.1/24", "192.0.2.2/24")])?;
        Ok(Bed { sb, br, lan })
    }

    /// Starts the agent on network `name` (the calling thread must be in BR).
    fn start_agent(&self, name: &str) -> Result<Agent> {
        let opts = AgentOptions {
            env: vec![
                (
                    "THREAD_AGENT_BRIDGE__INFRA_INTERFACE".into(),
                    INFRA_IF.into(),
                ),
                ("THREAD_AGENT_NETWORK__NAME".into(), name.into()),
                ("THREAD_AGENT_MDNS__MODEL_NAME".into(), "e2e-model".into()),
                ("THREAD_AGENT_DEBUG_METHODS".into(), "1".into()),
            ],
            ..Default::default()
        };
        let mut agent = Agent::start_with(&self.sb, &opts)?;
        agent.wait_log("network up", UP_TIMEOUT)?;
        agent.wait_status("mDNS published", UP_TIMEOUT, |v| {
            v["mdns"]["published"] == true && v["role"] == "leader"
        })?;
        Ok(agent)
    }
}

/// Finds the agent's instance from LAN and checks its TXT against the status.
fn found_matching(browser: &Browser, from: usize, agent: &mut Agent) -> Result<(usize, Value)> {
    let status = agent.wait_status("status", UP_TIMEOUT, |v| v["role"] == "leader")?;
    let (i, v) = browser.wait_resolved(from, "the agent's _meshcop._udp with its TXT", |v| {
        matches_status(v, &status)
    })?;
    let m = &status["mdns"];
    ensure!(
        v["name"].as_str().unwrap_or_default()
            == format!(
                "{}._meshcop._udp.local.",
                m["instance"].as_str().unwrap_or("?")
            )
            && v["port"] == m["port"]
            && v["port"] == status["border_agent"]["lan_port"],
        "instance/port (the LAN relay's): browser {v}, status {m}, relay {}",
        status["border_agent"]
    );
    ensure!(
        txt(&v, "vn").as_deref() == Some(&b"thread-agent"[..])
            && txt(&v, "mn").as_deref() == Some(&b"e2e-model"[..]),
        "vn/mn: {v}"
    );
    for key in ["rv", "tv", "xa"] {
        ensure!(txt(&v, key).is_some(), "TXT {key} missing: {v}");
    }
    Ok((i, v))
}

#[test]
fn meshcop_service_on_the_infrastructure_link() -> Result<()> {
    if !can_run() || !have_zeroconf() {
        return Ok(());
    }
    let bed = Bed::new()?;
    let _in_br = bed.br.enter()?;
    let started = std::time::Instant::now();
    let mut agent = bed.start_agent("MdnsOne")?;
    let browser = Browser::start(&bed.sb, &bed.lan, &[])?;

    // (1) Found from the LAN with the TXT of the status.
    let (mut at, first) = found_matching(&browser, 0, &mut agent)?;
    eprintln!("found from LAN after {:.1?}: {first}", started.elapsed());

    // (2) Only on infra0: the BR namespace's mDNS group memberships (the agent is the only mDNS
    // user there). A zeroconf browse bound to lo would prove nothing: Linux hands every datagram
    // to port 5353 to every socket bound to it (IP_MULTICAST_ALL), so a browser on lo hears the
    // agent's announcements on infra0 looped back; the responder itself drops what arrives on an
    // interface it was not given (mdns-sd checks the packet's interface index).
    let groups = memberships(&bed.br)?;
    for dev in ["lo", "wpan0"] {
        ensure!(
            !groups
                .iter()
                .any(|(d, g)| d == dev && (g == MDNS_V4 || g == MDNS_V6)),
            "mDNS group joined on {dev}: {groups:?}"
        );
    }
    for g in [MDNS_V4, MDNS_V6] {
        ensure!(
            groups.iter().any(|(d, x)| d == INFRA_IF && x == g),
            "{g} not joined on {INFRA_IF}: {groups:?}"
        );
    }

    // (3) Co-processor reset: re-announced, the TXT follows (the interface is not active until
    // the node is leader again).
    let before = agent.status_json()?["mdns"]["updates"]
        .as_u64()
        .unwrap_or(0);
    let from = browser.log.len();
    e2e::rpc(&bed.sb, "debug.reset_ncp", json!({}))?;
    agent.wait_log("mDNS: co-processor reset", UP_TIMEOUT)?;
    agent.wait_status("re-announced after the reset", UP_TIMEOUT, |v| {
        v["mdns"]["updates"].as_u64().unwrap_or(0) > before && v["mdns"]["published"] == true
    })?;
    let (i, after_reset) = browser.wait_resolved(from, "TXT after the reset", |v| {
        sb_bits(v).is_some_and(|sb| (sb >> 3) & 3 != 2)
    })?;
    eprintln!("after the reset: {after_reset}");
    at = at.max(i);

    // (4) Stop: removed (goodbye). Restart on another network: found with the new TXT.
    let stopped = agent.stop()?;
    ensure!(stopped.code() == Some(0), "agent exit status {stopped}");
    browser
        .log
        .wait_until(at, FIND_TIMEOUT, "removed", |l| l.contains("\"removed\""))
        .with_context(|| format!("browser output:\n{}", browser.log.tail(20)))?;
    agent.wipe_ncp_settings()?;
    std::fs::remove_dir_all(bed.sb.state_dir())?;
    let from = browser.log.len();
    let mut agent = bed.start_agent("MdnsTwo")?;
    let (_, second) = found_matching(&browser, from, &mut agent)?;
    ensure!(
        second["txt"]["xp"] != first["txt"]["xp"],
        "same extended PAN ID after forming anew: {second}"
    );
    let stopped = agent.stop()?;
    ensure!(stopped.code() == Some(0), "agent exit status {stopped}");
    eprintln!("mdns e2e took {:.1?}", started.elapsed());
    Ok(())
}
