//! Issue 2 end to end: the real `thread-agent` on a simulated co-processor (`ot-ncp-ftd`) forms
//! a network, an `ot-cli-ftd` node attaches with the dataset `threadctl dataset export` gives,
//! `threadctl status --json` shows it; the network survives an agent restart and the loss of the
//! co-processor's settings; bad input ends with the documented exit codes and one error line;
//! no key material is ever shown outside `dataset export`.
//!
//! Written against the contract in README.md ("Running thread-agent", "threadctl") and
//! docs/control-protocol.md. Every wait has a generous deadline (a hang bound, not a speed test).

use std::os::unix::fs::PermissionsExt;
use std::process::Output;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Context, Result};
use e2e::dataset::{assert_no_secret, Tlvs, EXT_PAN_ID, NETWORK_KEY, NETWORK_NAME, PSKC};
use e2e::{
    fatal_line, run_agent_once, threadctl_at, with_sandbox, Agent, AgentOptions, CliNode, Sandbox,
    ATTACH_TIMEOUT,
};
use serde_json::Value;

const UP_TIMEOUT: Duration = Duration::from_secs(90);
/// After an agent restart a neighbour may need to re-establish its link (or, after a partition
/// split while the leader was away, merge): allow more.
const REJOIN_TIMEOUT: Duration = Duration::from_secs(180);
const FAIL_TIMEOUT: Duration = Duration::from_secs(60);

/// The secrets of a network, to scan everything else for.
struct Secrets {
    network_key: Vec<u8>,
    pskc: Vec<u8>,
}

impl Secrets {
    fn of(tlvs: &Tlvs) -> Result<Secrets> {
        let network_key = tlvs.require(NETWORK_KEY)?.to_vec();
        let pskc = tlvs.require(PSKC)?.to_vec();
        ensure!(
            network_key.len() == 16,
            "network key TLV is {} bytes",
            network_key.len()
        );
        ensure!(pskc.len() == 16, "PSKc TLV is {} bytes", pskc.len());
        Ok(Secrets { network_key, pskc })
    }

    fn assert_absent(&self, text: &str, whence: &str) -> Result<()> {
        assert_no_secret(text, &self.network_key, "network key", whence)?;
        assert_no_secret(text, &self.pskc, "PSKc", whence)
    }
}

/// A running agent that has formed its network (role leader).
struct Formed {
    agent: Agent,
    dataset_hex: String,
    tlvs: Tlvs,
    status: Value,
}

fn is_role(v: &Value, roles: &[&str]) -> bool {
    v["role"].as_str().is_some_and(|r| roles.contains(&r))
}

fn start_and_form(sb: &Sandbox) -> Result<Formed> {
    let mut agent = Agent::start(sb)?;
    agent.wait_log("network up", UP_TIMEOUT)?;
    let status = agent.wait_status("role leader", UP_TIMEOUT, |v| is_role(v, &["leader"]))?;
    let dataset_hex = agent.dataset_export()?;
    ensure!(
        dataset_hex.lines().count() == 1 && dataset_hex.chars().all(|c| c.is_ascii_hexdigit()),
        "`threadctl dataset export` must print one line of hex (got {} lines)",
        dataset_hex.lines().count()
    );
    let tlvs = Tlvs::from_hex(&dataset_hex).context("parsing `threadctl dataset export`")?;
    Ok(Formed {
        agent,
        dataset_hex,
        tlvs,
        status,
    })
}

fn attach_node(sb: &Sandbox, id: u8, dataset_hex: &str) -> Result<CliNode> {
    let node = CliNode::spawn(sb, id)?;
    node.attach_with_dataset(dataset_hex)?;
    node.wait_state(&["child", "router"], ATTACH_TIMEOUT)?;
    Ok(node)
}

fn neighbor<'a>(status: &'a Value, ext: &str) -> Option<&'a Value> {
    status["neighbors"].as_array()?.iter().find(|n| {
        n["ext_address"]
            .as_str()
            .is_some_and(|a| a.eq_ignore_ascii_case(ext))
    })
}

fn wait_neighbor(agent: &mut Agent, ext: &str, timeout: Duration) -> Result<Value> {
    agent.wait_status(&format!("neighbor {ext} in status"), timeout, |v| {
        neighbor(v, ext).is_some()
    })
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.chars().all(|c| c.is_ascii_hexdigit())
}

fn is_hex16_word(s: &str) -> bool {
    // "0x" + 1..=4 hex digits, e.g. "0xface", "0x0400".
    s.strip_prefix("0x")
        .is_some_and(|h| !h.is_empty() && h.len() <= 4 && h.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Checks every documented `status --json` field (README "threadctl") against the dataset.
fn check_status_fields(v: &Value, tlvs: &Tlvs) -> Result<()> {
    let field = |k: &str| {
        v.get(k)
            .ok_or_else(|| anyhow!("status --json lacks `{k}`: {v}"))
    };
    let role = field("role")?
        .as_str()
        .ok_or_else(|| anyhow!("role is not a string"))?;
    ensure!(
        ["detached", "child", "router", "leader", "disabled"].contains(&role),
        "role {role:?} is not one of the documented values"
    );

    let name = field("network_name")?
        .as_str()
        .ok_or_else(|| anyhow!("network_name is not a string"))?;
    ensure!(
        name.as_bytes() == tlvs.require(NETWORK_NAME)?,
        "network_name {name:?} differs from the dataset's"
    );

    let channel = field("channel")?
        .as_u64()
        .ok_or_else(|| anyhow!("channel is not a number"))?;
    ensure!(
        (11..=26).contains(&channel),
        "channel {channel} outside 11..=26"
    );
    if let Some(c) = tlvs.get(0) {
        // Channel TLV: page (1 byte), channel (2 bytes, big endian).
        ensure!(
            c.len() == 3 && u64::from(u16::from_be_bytes([c[1], c[2]])) == channel,
            "channel differs from the dataset's"
        );
    }

    let pan = field("pan_id")?
        .as_str()
        .ok_or_else(|| anyhow!("pan_id is not a string"))?;
    ensure!(is_hex16_word(pan), "pan_id {pan:?} is not \"0x....\"");
    if let Some(p) = tlvs.get(1) {
        let want = u16::from_be_bytes([p[0], p[1]]);
        ensure!(
            u16::from_str_radix(&pan[2..], 16).ok() == Some(want),
            "pan_id {pan} differs from the dataset's {want:#06x}"
        );
    }

    let xp = field("ext_pan_id")?
        .as_str()
        .ok_or_else(|| anyhow!("ext_pan_id is not a string"))?;
    ensure!(is_hex(xp, 16), "ext_pan_id {xp:?} is not 16 hex digits");
    ensure!(
        xp.eq_ignore_ascii_case(&hex::encode(tlvs.require(EXT_PAN_ID)?)),
        "ext_pan_id differs from the dataset's"
    );

    let ml = field("mesh_local_prefix")?
        .as_str()
        .ok_or_else(|| anyhow!("mesh_local_prefix is not a string"))?;
    let addr = ml
        .strip_suffix("/64")
        .ok_or_else(|| anyhow!("mesh_local_prefix {ml:?} does not end in /64"))?;
    let addr: std::net::Ipv6Addr = addr
        .parse()
        .with_context(|| format!("mesh_local_prefix {ml:?}"))?;
    ensure!(
        addr.octets()[0] == 0xfd,
        "mesh_local_prefix {ml:?} is not fdxx:..."
    );
    if let Some(p) = tlvs.get(7) {
        ensure!(
            &addr.octets()[..8] == p,
            "mesh_local_prefix {ml} differs from the dataset's"
        );
    }

    field("partition_id")?
        .as_u64()
        .ok_or_else(|| anyhow!("partition_id is not a number"))?;
    let rloc = field("rloc16")?
        .as_str()
        .ok_or_else(|| anyhow!("rloc16 is not a string"))?;
    ensure!(is_hex16_word(rloc), "rloc16 {rloc:?} is not \"0x....\"");

    let ncp = field("ncp")?;
    ensure!(
        ncp["version"].as_str().is_some_and(|s| !s.is_empty()),
        "ncp.version missing: {ncp}"
    );
    ensure!(
        ncp["eui64"].as_str().is_some_and(|s| is_hex(s, 16)),
        "ncp.eui64 is not 16 hex digits: {ncp}"
    );
    let caps = ncp["capabilities"]
        .as_array()
        .ok_or_else(|| anyhow!("ncp.capabilities is not an array"))?;
    ensure!(
        !caps.is_empty() && caps.iter().all(Value::is_string),
        "ncp.capabilities must be names: {ncp}"
    );

    let neighbors = field("neighbors")?
        .as_array()
        .ok_or_else(|| anyhow!("neighbors is not an array"))?;
    for n in neighbors {
        ensure!(
            n["ext_address"].as_str().is_some_and(|s| is_hex(s, 16)),
            "neighbor ext_address: {n}"
        );
        ensure!(
            n["rloc16"].as_str().is_some_and(is_hex16_word),
            "neighbor rloc16: {n}"
        );
        ensure!(
            n["link_quality"].as_u64().is_some_and(|q| q <= 3),
            "neighbor link_quality 0..3: {n}"
        );
        ensure!(n["age"].as_u64().is_some(), "neighbor age (seconds): {n}");
        ensure!(n["is_child"].is_boolean(), "neighbor is_child: {n}");
    }
    Ok(())
}

/// Stops the agent and requires exit status 0.
fn stop_clean(agent: &mut Agent) -> Result<()> {
    let status = agent.stop()?;
    ensure!(
        status.code() == Some(0),
        "thread-agent must exit 0 on SIGTERM, got {status}; last log lines:\n{}",
        agent.log().tail(20)
    );
    Ok(())
}

/// (a) forms a network, a node attaches with the exported dataset, status shows it, no secrets.
#[test]
fn forms_network_and_node_attaches() {
    with_sandbox(forms_network_and_node_attaches_in);
}

fn forms_network_and_node_attaches_in(sb: &Sandbox) -> Result<()> {
    let Formed {
        mut agent,
        dataset_hex,
        tlvs,
        status,
    } = start_and_form(sb)?;
    let secrets = Secrets::of(&tlvs)?;
    check_status_fields(&status, &tlvs)?;
    ensure!(
        status["network_name"] == "ThreadAgent",
        "default network name must be ThreadAgent: {status}"
    );
    ensure!(
        status["channel"] == 15,
        "default channel must be 15: {status}"
    );

    let node = attach_node(sb, 2, &dataset_hex)?;
    let ext = node.extaddr()?;
    let status = wait_neighbor(&mut agent, &ext, ATTACH_TIMEOUT)?;
    check_status_fields(&status, &tlvs)?;
    let n = neighbor(&status, &ext).ok_or_else(|| anyhow!("neighbor vanished"))?;
    eprintln!("node {ext} is a neighbor: {n}");

    // The human-readable status says the same thing and shows no secrets either.
    let text = agent.threadctl_ok(&["status"])?;
    ensure!(
        text.contains("leader"),
        "`threadctl status` does not show the role:\n{text}"
    );
    let json_text = agent.threadctl_ok(&["status", "--json"])?;
    secrets.assert_absent(&json_text, "`threadctl status --json`")?;
    secrets.assert_absent(&text, "`threadctl status`")?;

    // `network counters`: the co-processor's counters over Spinel and the host link's. The node
    // attached, so the co-processor received and sent MAC frames and the link carried frames.
    let c = agent.threadctl_json(&["network", "counters", "--json"])?;
    let num = |path: &[&str]| path.iter().fold(&c, |v, k| &v[*k]).as_u64();
    for path in [
        &["coprocessor", "mac", "tx", "total"][..],
        &["coprocessor", "mac", "rx", "total"],
        &["coprocessor", "ip", "tx_success"],
        &["coprocessor", "buffers", "total"],
        &["link", "frames_in"],
        &["link", "frames_out"],
    ] {
        ensure!(
            num(path).is_some_and(|n| n > 0),
            "network counters: {} should be a positive number: {c}",
            path.join(".")
        );
    }
    ensure!(
        num(&["coprocessor", "buffers", "free"]) <= num(&["coprocessor", "buffers", "total"]),
        "free buffers exceed the total: {c}"
    );
    ensure!(
        num(&["link", "decode_errors"]) == Some(0),
        "decode errors: {c}"
    );
    let text_counters = agent.threadctl_ok(&["network", "counters"])?;
    for title in [
        "MAC transmit:",
        "MAC receive:",
        "message buffers:",
        "host link:",
    ] {
        ensure!(
            text_counters.contains(title),
            "`threadctl network counters` lacks {title:?}:\n{text_counters}"
        );
    }

    // The dataset backup: hex text, mode 0600, the same network.
    let backup = sb.state_dir().join("dataset.tlvs");
    let mode = std::fs::metadata(&backup)
        .with_context(|| format!("{}", backup.display()))?
        .permissions()
        .mode();
    ensure!(
        mode & 0o777 == 0o600,
        "{} has mode {:o}, want 600",
        backup.display(),
        mode & 0o777
    );
    let saved = Tlvs::from_hex(&std::fs::read_to_string(&backup)?)?;
    ensure!(
        saved.get(EXT_PAN_ID) == tlvs.get(EXT_PAN_ID),
        "dataset.tlvs is not the active dataset"
    );

    stop_clean(&mut agent)?;
    secrets.assert_absent(&agent.log_text(), "the agent's log")?;
    Ok(())
}

/// (b) SIGTERM -> exit 0; started again it resumes the same network and the node is back.
#[test]
fn restart_keeps_network_and_node() {
    with_sandbox(restart_keeps_network_and_node_in);
}

fn restart_keeps_network_and_node_in(sb: &Sandbox) -> Result<()> {
    let Stopped {
        agent,
        tlvs,
        secrets,
        xpan,
        node,
        ext,
    } = form_attach_and_stop(sb)?;
    secrets.assert_absent(&agent.log_text(), "the agent's log (first run)")?;

    let mut again = Agent::start(sb)?;
    again.wait_log("network up", UP_TIMEOUT)?;
    let status = wait_neighbor(&mut again, &ext, REJOIN_TIMEOUT)?;
    check_status_fields(&status, &tlvs)?;
    ensure_same_network(
        &again,
        &status,
        &xpan,
        &tlvs,
        "a restart",
        "the network key changed across a restart",
    )?;
    eprintln!("node role after the restart: {}", node.state()?);
    stop_clean(&mut again)?;
    secrets.assert_absent(&again.log_text(), "the agent's log (second run)")?;
    Ok(())
}

/// (c) The co-processor loses its settings while the agent is stopped: the agent restores the
/// same network from its backup and the node (provisioned for that network) is a neighbor again.
#[test]
fn restores_network_after_ncp_settings_loss() {
    with_sandbox(restores_network_after_ncp_settings_loss_in);
}

fn restores_network_after_ncp_settings_loss_in(sb: &Sandbox) -> Result<()> {
    let Stopped {
        mut agent,
        tlvs,
        secrets,
        xpan,
        node,
        ext,
    } = form_attach_and_stop(sb)?;
    ensure!(
        agent.wipe_ncp_settings()?,
        "no co-processor settings file at {} to wipe",
        sb.ncp_settings_file(e2e::sandbox::NCP_NODE_ID).display()
    );

    let mut again = Agent::start(sb)?;
    again.wait_log("restored", UP_TIMEOUT)?;
    again.wait_log("network up", UP_TIMEOUT)?;
    let status = again.wait_status("role leader after restore", UP_TIMEOUT, |v| {
        is_role(v, &["leader", "router"])
    })?;
    ensure_same_network(
        &again,
        &status,
        &xpan,
        &tlvs,
        "the restore",
        "the restored network has another network key",
    )?;

    // The co-processor forgot its children. The node notices on its own (new partition data or
    // child supervision), which may take a while; if it has not come back within a minute, restart
    // its Thread stack: it must attach with the dataset it already has, without re-provisioning.
    match wait_neighbor(&mut again, &ext, Duration::from_secs(60)) {
        Ok(_) => eprintln!("node came back on its own"),
        Err(_) => {
            eprintln!("node did not come back on its own within 60 s; restarting its Thread stack");
            node.cmd("thread stop")?;
            node.cmd("thread start")?;
            node.wait_state(&["child", "router"], ATTACH_TIMEOUT)?;
            wait_neighbor(&mut again, &ext, REJOIN_TIMEOUT)?;
        }
    }
    stop_clean(&mut again)?;
    secrets.assert_absent(&again.log_text(), "the agent's log (after restore)")?;
    Ok(())
}

/// A formed network whose agent had a node attached as its neighbor and was then stopped cleanly.
struct Stopped {
    agent: Agent,
    tlvs: Tlvs,
    secrets: Secrets,
    /// `ext_pan_id` as the first run's status reported it.
    xpan: Value,
    node: CliNode,
    /// The node's extended address.
    ext: String,
}

fn form_attach_and_stop(sb: &Sandbox) -> Result<Stopped> {
    let Formed {
        mut agent,
        dataset_hex,
        tlvs,
        status,
    } = start_and_form(sb)?;
    let secrets = Secrets::of(&tlvs)?;
    let xpan = status["ext_pan_id"].clone();
    let node = attach_node(sb, 2, &dataset_hex)?;
    let ext = node.extaddr()?;
    wait_neighbor(&mut agent, &ext, ATTACH_TIMEOUT)?;
    stop_clean(&mut agent)?;
    Ok(Stopped {
        agent,
        tlvs,
        secrets,
        xpan,
        node,
        ext,
    })
}

/// After `across` (a restart, the restore): `status` reports the Extended PAN ID `xpan` and the
/// agent exports a dataset with the network key of `tlvs` (else `key_changed`).
fn ensure_same_network(
    agent: &Agent,
    status: &Value,
    xpan: &Value,
    tlvs: &Tlvs,
    across: &str,
    key_changed: &str,
) -> Result<()> {
    ensure!(
        status["ext_pan_id"] == *xpan,
        "ext_pan_id changed across {across}: {xpan} -> {}",
        status["ext_pan_id"]
    );
    let exported = Tlvs::from_hex(&agent.dataset_export()?)?;
    ensure!(
        exported.get(NETWORK_KEY) == tlvs.get(NETWORK_KEY),
        "{key_changed}"
    );
    Ok(())
}

/// Runs the agent once with `radio_url`; it must fail with exit `code` and one fatal line, which
/// is returned with the whole output.
fn agent_fails_with(sb: &Sandbox, radio_url: String, code: i32) -> Result<(String, Output)> {
    let opts = AgentOptions {
        radio_url: Some(radio_url),
        ..Default::default()
    };
    let out = run_agent_once(sb, &opts, FAIL_TIMEOUT)?;
    Ok((fatal_line(&out, code)?, out))
}

/// (d) An unknown radio URL scheme is a configuration error: exit 2, one line, nothing else.
#[test]
fn bad_radio_url_exits_2() {
    with_sandbox(bad_radio_url_exits_2_in);
}

fn bad_radio_url_exits_2_in(sb: &Sandbox) -> Result<()> {
    let (line, out) = agent_fails_with(sb, "foo://x".into(), 2)?;
    ensure!(
        line.contains("foo"),
        "the message should name the bad value: {line}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        stderr.trim().lines().count() == 1,
        "a configuration error is one line on stderr, got:\n{stderr}"
    );
    Ok(())
}

/// (d) A serial device that does not exist: exit 3, one line naming it.
#[test]
fn missing_device_exits_3() {
    with_sandbox(missing_device_exits_3_in);
}

fn missing_device_exits_3_in(sb: &Sandbox) -> Result<()> {
    let (line, _) = agent_fails_with(sb, "spinel+hdlc+uart:///dev/does-not-exist".into(), 3)?;
    ensure!(
        line.contains("/dev/does-not-exist"),
        "the message should name the device: {line}"
    );
    Ok(())
}

/// (d) A co-processor that reads everything and never answers: exit 5, one line.
#[test]
fn silent_coprocessor_exits_5() {
    with_sandbox(silent_coprocessor_exits_5_in);
}

fn silent_coprocessor_exits_5_in(sb: &Sandbox) -> Result<()> {
    let silent = sb.path().join("silent-ncp.sh");
    std::fs::write(
        &silent,
        "#!/bin/sh\n# reads and discards everything, never writes\nexec cat >/dev/null\n",
    )?;
    std::fs::set_permissions(&silent, std::fs::Permissions::from_mode(0o755))?;
    agent_fails_with(sb, format!("spinel+hdlc+forkpty://{}", silent.display()), 5)?;
    Ok(())
}

/// (d) Radio-only firmware (ot-rcp): exit 6, one line telling to flash NCP firmware or to run
/// it through the host-side co-processor (docs/rcp.md).
#[test]
fn rcp_firmware_exits_6() {
    with_sandbox(rcp_firmware_exits_6_in);
}

fn rcp_firmware_exits_6_in(sb: &Sandbox) -> Result<()> {
    let rcp = &e2e::ot_bins()?.rcp;
    let url = format!("spinel+hdlc+forkpty://{}?forkpty-arg=1", rcp.display());
    let (line, _) = agent_fails_with(sb, url, 6)?;
    ensure!(
        line.contains("NCP"),
        "the message should say to flash NCP firmware: {line}"
    );
    ensure!(
        line.contains("ot-host-ncp") && line.contains("docs/rcp.md"),
        "the message should name the host-side co-processor (docs/rcp.md): {line}"
    );
    Ok(())
}

/// (e) threadctl with no agent behind the socket: exit 3 and a clear message, both for a
/// missing socket file and for a stale one (connection refused).
#[test]
fn threadctl_without_agent_exits_3() {
    with_sandbox(threadctl_without_agent_exits_3_in);
}

fn threadctl_without_agent_exits_3_in(sb: &Sandbox) -> Result<()> {
    let missing = sb.path().join("nobody.sock");
    let stale = sb.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale)?); // leaves the file, refuses connections
    for (socket, what) in [(&missing, "missing socket"), (&stale, "stale socket")] {
        for args in [
            &["status"][..],
            &["status", "--json"],
            &["dataset", "export"],
        ] {
            let out = threadctl_at(socket, args)?;
            let stderr = String::from_utf8_lossy(&out.stderr);
            if out.status.code() != Some(3) {
                bail!(
                    "threadctl {args:?} with a {what}: expected exit 3, got {}; stderr:\n{stderr}",
                    out.status
                );
            }
            let clear = stderr.contains(&*socket.to_string_lossy())
                || stderr.to_lowercase().contains("not running");
            ensure!(clear, "threadctl {args:?} with a {what}: the message should name the socket or say the agent is not running:\n{stderr}");
            ensure!(
                !stderr.contains("panicked"),
                "threadctl panicked:\n{stderr}"
            );
            ensure!(
                out.stdout.is_empty(),
                "threadctl printed to stdout on failure"
            );
        }
    }
    Ok(())
}
