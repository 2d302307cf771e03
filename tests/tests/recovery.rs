//! Issue 10 "Faults" end to end: the real `thread-agent` on a simulated co-processor
//! (`ot-ncp-ftd`, started by the agent through a forkpty radio URL; found as the agent's child)
//! survives the co-processor freezing and dying.
//!
//! - Frozen: SIGSTOP for 60 s, then SIGCONT. The agent logs `co-processor unresponsive`, resets
//!   and then restarts the co-processor, logs `co-processor answers again`, is back on the same
//!   network, and a joiner whose entry was added before the freeze joins after it.
//! - Killed: SIGKILL. The agent does not exit, starts the co-processor again, and is on the same
//!   network (PAN ID, extended PAN ID, network key compared through `dataset export`, never
//!   printed) with its joiner entries and an active commissioner session.
//!
//! - Unplugged: the co-processor behind a serial device ([`SerialNcp`]: a pty behind a symlink)
//!   that disappears for a few seconds and comes back. The agent logs one line each way, does not
//!   exit, and is on the same network with its joiner entries.
//!
//! The three are separate tests so they run in parallel (each in its own [`Sandbox`]: its own
//! `PORT_OFFSET`, every process killed when the sandbox drops, also on failure). Waits poll and
//! have generous deadlines; durations are printed, never asserted.

use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use e2e::dataset::{Tlvs, NETWORK_KEY};
use e2e::proc;
use e2e::serial::SerialNcp;
use e2e::{with_sandbox, Agent, AgentOptions, CliNode, Sandbox};
use serde_json::Value;

const UP_TIMEOUT: Duration = Duration::from_secs(120);
/// The agent notices a frozen co-processor within 6 s (docs); this only bounds a hang.
const NOTICE_TIMEOUT: Duration = Duration::from_secs(60);
/// Bounds a hang while waiting to be back on the same network (the issue asks for "within a
/// minute": that is measured and printed, not asserted; the simulated leader's re-attach alone
/// takes about 30 s on a quiet machine).
const BACK_TIMEOUT: Duration = Duration::from_secs(180);
const PETITION_TIMEOUT: Duration = Duration::from_secs(60);
const JOIN_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the co-processor stays stopped (issue 10).
const FREEZE: Duration = Duration::from_secs(60);
const PSKD: &str = "J01NME";

/// What must be the same before and after: PAN ID, extended PAN ID, network key.
#[derive(Debug, PartialEq, Eq)]
struct NetworkId {
    pan_id: Value,
    ext_pan_id: Value,
    network_key: Vec<u8>,
}

fn network_id(agent: &Agent, status: &Value) -> Result<NetworkId> {
    let tlvs = Tlvs::from_hex(&agent.dataset_export()?)?;
    Ok(NetworkId {
        pan_id: status["pan_id"].clone(),
        ext_pan_id: status["ext_pan_id"].clone(),
        network_key: tlvs.require(NETWORK_KEY)?.to_vec(),
    })
}

fn attached(s: &Value) -> bool {
    ["leader", "router", "child"].contains(&s["role"].as_str().unwrap_or(""))
}

/// Polls `commissioner status --json` until active with the steering data taken by the leader.
fn wait_active(agent: &Agent) -> Result<Value> {
    let deadline = Instant::now() + PETITION_TIMEOUT;
    loop {
        let v = agent.threadctl_json(&["commissioner", "status", "--json"])?;
        if v["state"] == "active" && v["steering_data_acked"] == v["steering_data"] {
            return Ok(v);
        }
        ensure!(
            Instant::now() < deadline,
            "commissioner not active within {PETITION_TIMEOUT:?}: {v}\nagent log:\n{}",
            agent.log().tail(30)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn listed(agent: &Agent, eui64: &str) -> Result<bool> {
    let list = agent.threadctl_json(&["joiner", "list", "--json"])?;
    Ok(list["joiners"]
        .as_array()
        .is_some_and(|a| a.iter().any(|j| j["eui64"] == eui64)))
}

/// Starts the agent, waits for it to lead, adds an entry for `eui64` and waits for the session.
fn up_with_entry(sb: &Sandbox, eui64: &str) -> Result<(Agent, NetworkId)> {
    up_with_entry_on(sb, eui64, &AgentOptions::default())
}

fn up_with_entry_on(sb: &Sandbox, eui64: &str, opts: &AgentOptions) -> Result<(Agent, NetworkId)> {
    let mut agent = Agent::start_with(sb, opts)?;
    let status = agent.wait_status("network up (leader)", UP_TIMEOUT, |s| s["role"] == "leader")?;
    let id = network_id(&agent, &status)?;
    agent.threadctl_ok(&[
        "joiner",
        "add",
        "--eui64",
        eui64,
        "--pskd",
        PSKD,
        "--timeout",
        "900",
    ])?;
    wait_active(&agent)?;
    Ok((agent, id))
}

/// Waits until the agent is attached to the network `id` again.
fn wait_same_network(agent: &mut Agent, id: &NetworkId) -> Result<()> {
    let pan_id = id.pan_id.clone();
    let ext = id.ext_pan_id.clone();
    agent.wait_status("back on the same network", BACK_TIMEOUT, |s| {
        attached(s) && s["pan_id"] == pan_id && s["ext_pan_id"] == ext
    })?;
    let status = agent.status_json()?;
    ensure!(
        network_id(agent, &status)? == *id,
        "another network after the recovery (PAN ID, ext PAN ID or network key differ)"
    );
    Ok(())
}

#[test]
fn frozen_coprocessor_is_recovered_and_a_joiner_added_before_joins_after() {
    with_sandbox(|sb| {
        let joiner = CliNode::spawn(sb, 2)?;
        let eui64 = joiner.eui64()?;
        let (mut agent, id) = up_with_entry(sb, &eui64)?;
        let frozen = agent.ncp_pid()?;
        proc::signal(frozen, libc::SIGSTOP);
        let t0 = Instant::now();
        agent.wait_log("co-processor unresponsive", NOTICE_TIMEOUT)?;
        println!("noticed the freeze after {:?}", t0.elapsed());
        agent.wait_log("co-processor answers again", NOTICE_TIMEOUT)?;
        println!("co-processor answers again after {:?}", t0.elapsed());
        wait_same_network(&mut agent, &id)?;
        println!("same network again after {:?}", t0.elapsed());
        ensure!(listed(&agent, &eui64)?, "the joiner entry was lost");
        // The freeze lasts 60 s: resume the stopped process then (the agent has
        // replaced it by now, so it is normally gone; a surviving one is resumed).
        std::thread::sleep(FREEZE.saturating_sub(t0.elapsed()));
        proc::signal(frozen, libc::SIGCONT);
        let now = agent.ncp_pid()?;
        println!(
            "after SIGCONT: co-processor pid {now} (frozen one {frozen}, alive: {})",
            proc::alive(frozen)
        );
        ensure!(agent.exited()?.is_none(), "the agent exited");
        wait_active(&agent)?;
        let t1 = Instant::now();
        ensure!(
            joiner.join(PSKD, JOIN_TIMEOUT)?,
            "the joiner added before the freeze did not join after it:\n{}\nagent log:\n{}",
            joiner.log().tail(10),
            agent.log().tail(30)
        );
        println!("joined {:?} after starting", t1.elapsed());
        Ok(())
    });
}

#[test]
fn killed_coprocessor_is_restarted_on_the_same_network_with_its_entries() {
    with_sandbox(|sb| {
        let eui64 = "0011223344556677";
        let (mut agent, id) = up_with_entry(sb, eui64)?;
        let killed = agent.ncp_pid()?;
        proc::signal(killed, libc::SIGKILL);
        let t0 = Instant::now();
        agent.wait_log("co-processor link lost", NOTICE_TIMEOUT)?;
        let started = agent.wait_new_ncp(killed, BACK_TIMEOUT)?;
        println!(
            "co-processor started again (pid {started}) after {:?}",
            t0.elapsed()
        );
        wait_same_network(&mut agent, &id)?;
        ensure!(listed(&agent, eui64)?, "the joiner entry was lost");
        wait_active(&agent)?;
        println!(
            "same network, entry kept, commissioner active again after {:?}",
            t0.elapsed()
        );
        ensure!(agent.exited()?.is_none(), "the agent exited");
        agent.wait_log("co-processor answers again", Duration::from_secs(5))?;
        Ok(())
    });
}

#[test]
fn unplugged_serial_device_comes_back_on_the_same_network_with_its_entries() {
    with_sandbox(|sb| {
        let dev = SerialNcp::start(sb)?;
        let opts = AgentOptions {
            radio_url: Some(dev.radio_url()),
            ..Default::default()
        };
        let eui64 = "0011223344556688";
        let (mut agent, id) = up_with_entry_on(sb, eui64, &opts)?;
        dev.unplug()?;
        let t0 = Instant::now();
        agent.wait_log("is gone (unplugged?)", NOTICE_TIMEOUT)?;
        println!("noticed the unplug after {:?}", t0.elapsed());
        // The device stays away for a few seconds (the scenario, not a wait for a condition).
        std::thread::sleep(Duration::from_secs(3));
        ensure!(
            agent.exited()?.is_none(),
            "the agent exited while the device was away"
        );
        dev.plug()?;
        let t1 = Instant::now();
        agent.wait_log("co-processor device is back", NOTICE_TIMEOUT)?;
        agent.wait_log("co-processor answers again", NOTICE_TIMEOUT)?;
        wait_same_network(&mut agent, &id)?;
        ensure!(listed(&agent, eui64)?, "the joiner entry was lost");
        wait_active(&agent)?;
        println!(
            "same network, entry kept, commissioner active again {:?} after the device came back",
            t1.elapsed()
        );
        let log = agent.log_text();
        for l in log.lines().filter(|l| l.contains("liveness")) {
            println!("{l}");
        }
        ensure!(
            log.matches("is gone (unplugged?)").count() == 1
                && log.matches("co-processor device is back").count() == 1,
            "not one line each way:\n{}",
            agent.log().tail(40)
        );
        ensure!(proc::alive(dev.pid()), "the co-processor was not kept");
        Ok(())
    });
}
