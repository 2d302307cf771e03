//! Issue 15 prototype (docs/rcp.md, design A) end to end: radio-only firmware through the
//! host-side co-processor. The real `thread-agent` drives `ot-host-ncp` (OpenThread's NCP on its
//! POSIX platform, built by `testbed/build-host-ncp.sh`) exactly as it drives NCP firmware, and
//! `ot-host-ncp` drives the simulated stock `ot-rcp` (node id 1) through OpenThread's Spinel radio
//! driver. The agent forms a network and leads it, an `ot-cli-ftd` node attaches with the dataset
//! `threadctl dataset export` gives, and another joins through the agent's commissioner. Garbage
//! on `ot-host-ncp`'s Spinel input does not stop it.
//!
//! testbed/run-tests.sh (the suite) builds `ot-host-ncp` first; run alone without it, the tests
//! are skipped with a message saying how to build it. RCP support stays opt-in for users (the
//! agent's default is NCP firmware). Every wait has a generous deadline (a hang
//! bound, not a speed test); times and memory are printed, never asserted.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use e2e::bins::{host_ncp, host_ncp_radio_url};
use e2e::proc;
use e2e::{ot_bins, with_sandbox, Agent, AgentOptions, CliNode, ATTACH_TIMEOUT};

const UP_TIMEOUT: Duration = Duration::from_secs(120);
const PETITION_TIMEOUT: Duration = Duration::from_secs(60);
const JOIN_TIMEOUT: Duration = Duration::from_secs(120);
const PSKD: &str = "J01NME";

/// `VmRSS` of a process, for the notes.
fn rss(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(|l| l["VmRSS:".len()..].trim().to_string())
        })
        .unwrap_or_else(|| "?".into())
}

/// The agent's `ot-host-ncp` child and its `ot-rcp` child, for the notes.
fn memory_note(agent: &Agent, host: &Path) -> String {
    let exe_is = |pid: u32, p: &Path| {
        let want = p.canonicalize().ok();
        std::fs::read_link(format!("/proc/{pid}/exe")).ok() == want
    };
    let mut note = format!("agent {}", rss(agent.pid()));
    for c in proc::children(agent.pid()) {
        if exe_is(c, host) {
            note += &format!(", ot-host-ncp {}", rss(c));
            for r in proc::children(c) {
                note += &format!(", ot-rcp {}", rss(r));
            }
        }
    }
    note
}

/// `ot-host-ncp`, or `None` after saying why the test is skipped.
fn host_ncp_or_skip() -> Option<std::path::PathBuf> {
    let host = host_ncp();
    if host.is_none() {
        eprintln!(
            "SKIPPED: ot-host-ncp was not built: run testbed/build-host-ncp.sh (testbed/run-tests.sh \
             does), then this test again (docs/rcp.md)"
        );
    }
    host
}

#[test]
fn agent_on_ot_rcp_through_host_ncp_forms_attaches_and_commissions() {
    let Some(host) = host_ncp_or_skip() else {
        return;
    };
    with_sandbox(|sb| {
        let rcp = &ot_bins()?.rcp;
        let opts = AgentOptions {
            radio_url: Some(host_ncp_radio_url(&host, rcp, 1)),
            ..Default::default()
        };
        let t0 = Instant::now();
        let mut agent = Agent::start_with(sb, &opts)?;
        agent.wait_log("co-processor ready", UP_TIMEOUT)?;
        ensure!(
            agent.log_text().contains("POSIX"),
            "the co-processor should be ot-host-ncp (version `...; POSIX; ...`):\n{}",
            agent.log().tail(20)
        );
        agent.wait_status("role leader", UP_TIMEOUT, |v| v["role"] == "leader")?;
        println!("RCP via ot-host-ncp: leader after {:?}", t0.elapsed());

        // A CLI node attaches with the exported dataset.
        let dataset = agent.dataset_export()?;
        let node = CliNode::spawn(sb, 2)?;
        let t1 = Instant::now();
        node.attach_with_dataset(dataset.trim())?;
        node.wait_state(&["child", "router"], ATTACH_TIMEOUT)?;
        let ext = node.extaddr()?;
        agent.wait_status("node 2 among the neighbors", ATTACH_TIMEOUT, |v| {
            v["neighbors"].as_array().is_some_and(|n| {
                n.iter().any(|e| {
                    e["ext_address"]
                        .as_str()
                        .is_some_and(|a| a.eq_ignore_ascii_case(&ext))
                })
            })
        })?;
        println!(
            "RCP via ot-host-ncp: node 2 attached after {:?}",
            t1.elapsed()
        );

        // A joiner joins through the agent's commissioner (petition over the UDP forward stream
        // to the Border Agent inside ot-host-ncp).
        let joiner = CliNode::spawn(sb, 3)?;
        let eui = joiner.eui64()?;
        agent.threadctl_ok(&["joiner", "add", "--eui64", &eui, "--pskd", PSKD])?;
        let deadline = Instant::now() + PETITION_TIMEOUT;
        loop {
            let v = agent.threadctl_json(&["commissioner", "status", "--json"])?;
            if v["state"] == "active" && v["steering_data_acked"] == v["steering_data"] {
                break;
            }
            ensure!(
                Instant::now() < deadline,
                "commissioner not active with its steering data: {v}\n{}",
                agent.log().tail(30)
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        let t2 = Instant::now();
        ensure!(
            joiner.join(PSKD, JOIN_TIMEOUT)?,
            "node 3 did not join:\n{}\nagent:\n{}",
            joiner.log().tail(10),
            agent.log().tail(30)
        );
        joiner.start_thread()?;
        joiner.wait_state(&["child", "router"], ATTACH_TIMEOUT)?;
        println!(
            "RCP via ot-host-ncp: joiner joined and attached after {:?}",
            t2.elapsed()
        );
        println!("RCP via ot-host-ncp: VmRSS {}", memory_note(&agent, &host));

        let status = agent.stop().context("stopping the agent")?;
        ensure!(
            status.success(),
            "agent exit: {status}\n{}",
            agent.log().tail(20)
        );
        Ok(())
    });
}

/// Bad input: 64 KiB of garbage (HDLC flags, escapes and noise with bad frame checks, fixed
/// seed) on `ot-host-ncp`'s Spinel input before the agent's own frames. It drops them and
/// the agent still starts on it and leads its network.
#[test]
fn host_ncp_survives_garbage_before_the_agent_frames() {
    let Some(host) = host_ncp_or_skip() else {
        return;
    };
    with_sandbox(|sb| {
        let rcp = &ot_bins()?.rcp;
        let mut x: u32 = 15;
        let garbage: Vec<u8> = (0..65536)
            .map(|i| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                match i % 7 {
                    0 => 0x7e,
                    3 => 0x7d,
                    _ => (x >> 16) as u8,
                }
            })
            .collect();
        let garbage_file = sb.path().join("garbage.bin");
        std::fs::write(&garbage_file, &garbage)?;
        // The pty the agent gives the wrapper is raw for ot-host-ncp's own stdin only; `cat`
        // reads it here, so make it raw first.
        let wrapper = sb.path().join("host-ncp-garbage.sh");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nstty raw -echo 2>/dev/null\n{{ cat '{}'; exec cat; }} | exec '{}' \"$@\"\n",
                garbage_file.display(),
                host.display()
            ),
        )?;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))?;
        let opts = AgentOptions {
            radio_url: Some(host_ncp_radio_url(&wrapper, rcp, 1)),
            ..Default::default()
        };
        let mut agent = Agent::start_with(sb, &opts)?;
        agent.wait_status("role leader", UP_TIMEOUT, |v| v["role"] == "leader")?;
        let status = agent.stop().context("stopping the agent")?;
        ensure!(
            status.success(),
            "agent exit: {status}\n{}",
            agent.log().tail(20)
        );
        Ok(())
    });
}
