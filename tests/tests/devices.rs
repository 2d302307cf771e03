//! Issue 12, the device inventory, end to end: the real `thread-agent` on a simulated
//! co-processor, a bootstrapping file imported with `threadctl joiner import` and three real
//! `ot-cli-ftd` joiners.
//!
//! Covered: after the three joined, `device list --json` lists all three with their EUI-64,
//! Joiner ID, the file's labels, the JOIN_FIN vendor fields, one onboarding each and the active
//! timestamp they received; `device show` finds one by EUI-64 and by Joiner ID; the table
//! prints. The agent is killed with SIGKILL and started again: `devices.json` (mode 0600, no
//! PSKd in it) parses and still holds the three, unchanged. `device forget` removes one
//! (`device-forgotten` in the audit log with the caller's uid), a second forget is `not_found`.
//!
//! Presence by identity: once the joined nodes run Thread (one of them a child, `mode rn`), the
//! agent's network diagnostics query (through the Border Agent) finds each by its EUI-64: every
//! record turns `attached` with the RLOC16 the node itself reports; the child shows as `child`.
//!
//! Written against docs/control-protocol.md ("Device inventory"). Deadlines are hang bounds.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use anyhow::{anyhow, ensure, Result};
use e2e::{with_sandbox, Agent, CliNode, Sandbox};
use serde_json::Value;

const UP_TIMEOUT: Duration = Duration::from_secs(120);
const JOIN_TIMEOUT: Duration = Duration::from_secs(120);
/// Presence queries run 10 s and 30 s after a join and every `[devices] presence_interval`.
const PRESENCE_TIMEOUT: Duration = Duration::from_secs(150);
const PSKDS: [&str; 3] = ["J01NME", "DEV1CE22", "KRC0DE33"];

fn up(sb: &Sandbox) -> Result<Agent> {
    let mut agent = Agent::start(sb)?;
    agent.wait_status("network up (leader)", UP_TIMEOUT, |s| s["role"] == "leader")?;
    Ok(agent)
}

/// `device list --json`'s records, by EUI-64.
fn devices(agent: &Agent) -> Result<Vec<Value>> {
    let v = agent.threadctl_json(&["device", "list", "--json"])?;
    let mut list = v["devices"]
        .as_array()
        .cloned()
        .ok_or_else(|| anyhow!("device list: {v}"))?;
    list.sort_by_key(|d| d["eui64"].to_string());
    Ok(list)
}

/// Joins every node (two attempts each), all at once.
fn join_all(nodes: &[CliNode]) -> Result<()> {
    let results: Vec<(u8, Result<bool>)> = std::thread::scope(|s| {
        let hs: Vec<_> = nodes
            .iter()
            .zip(PSKDS)
            .map(|(n, pskd)| {
                s.spawn(move || {
                    let mut r = n.join(pskd, JOIN_TIMEOUT);
                    if !matches!(r, Ok(true)) {
                        r = n.join(pskd, JOIN_TIMEOUT);
                    }
                    (n.id(), r)
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().expect("join thread"))
            .collect()
    });
    for (id, r) in results {
        ensure!(matches!(r, Ok(true)), "node {id} did not join: {r:?}");
    }
    Ok(())
}

#[test]
fn three_joined_devices_are_listed_survive_sigkill_and_one_is_forgotten() {
    with_sandbox(|sb| {
        let mut agent = up(sb)?;
        let nodes: Vec<CliNode> = (2..=4)
            .map(|id| CliNode::spawn(sb, id))
            .collect::<Result<_>>()?;
        let euis: Vec<String> = nodes.iter().map(|n| n.eui64()).collect::<Result<_>>()?;
        let file = format!(
            "eui64,pskd,label\n{},{},kitchen\n{},{},hall\nv=1&&eui={}&&cc={}\n",
            euis[0], PSKDS[0], euis[1], PSKDS[1], euis[2], PSKDS[2]
        );
        let path = sb.path().join("devices.csv");
        std::fs::write(&path, &file)?;
        agent.threadctl_ok(&[
            "joiner",
            "import",
            path.to_str().unwrap(),
            "--timeout",
            "600",
        ])?;
        ensure!(
            devices(&agent)?.is_empty(),
            "inventory not empty before any join"
        );
        join_all(&nodes)?;
        // The inventory records each entrust as it is published; allow it a moment.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let list = loop {
            let l = devices(&agent)?;
            if l.len() == 3 || std::time::Instant::now() >= deadline {
                break l;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        ensure!(list.len() == 3, "{list:#?}");
        let mut sorted = euis.clone();
        sorted.sort();
        for (d, eui) in list.iter().zip(&sorted) {
            ensure!(d["eui64"] == eui.as_str(), "{d}");
            ensure!(
                d["joiner_id"].as_str().is_some_and(|j| j.len() == 16),
                "{d}"
            );
            ensure!(d["entry"] == format!("eui64:{eui}").as_str(), "{d}");
            for f in ["vendor_name", "vendor_model", "vendor_stack_version"] {
                ensure!(d[f].as_str().is_some_and(|v| !v.is_empty()), "no {f}: {d}");
            }
            ensure!(d["vendor_sw_version"].is_string(), "{d}");
            ensure!(d["onboardings"] == 1, "{d}");
            ensure!(d["active_timestamp"].as_u64().is_some(), "{d}");
            ensure!(d["first_onboarded"] == d["last_onboarded"], "{d}");
            ensure!(d["credentials"] == "current", "{d}");
        }
        // Presence: the nodes run Thread (the third as a child); the diagnostics query finds each
        // by its EUI-64, with the RLOC16 it reports itself.
        nodes[2].cmd("mode rn")?;
        for n in &nodes {
            n.cmd("thread start")?;
        }
        for n in &nodes {
            n.wait_state(&["child", "router"], JOIN_TIMEOUT)?;
        }
        let rlocs: Vec<String> = nodes
            .iter()
            .map(|n| n.value("rloc16").map(|r| format!("0x{}", r.trim())))
            .collect::<Result<_>>()?;
        let deadline = std::time::Instant::now() + PRESENCE_TIMEOUT;
        let list = loop {
            let l = devices(&agent)?;
            let attached = l.iter().all(|d| {
                d["state"] == "attached"
                    && nodes.iter().zip(&rlocs).any(|(n, r)| {
                        n.eui64().ok().as_deref() == d["eui64"].as_str()
                            && d["rloc16"] == r.as_str()
                    })
            });
            if attached {
                break l;
            }
            ensure!(
                std::time::Instant::now() < deadline,
                "not all attached with their RLOC16 ({rlocs:?}) in time: {l:#?}"
            );
            std::thread::sleep(Duration::from_secs(1));
        };
        let child = list
            .iter()
            .find(|d| d["eui64"] == euis[2].as_str())
            .unwrap();
        ensure!(child["role"] == "child", "{child}");
        println!("presence: {list:#?}");
        let by_eui = |e: &str| list.iter().find(|d| d["eui64"] == e).cloned().unwrap();
        ensure!(by_eui(&euis[0])["label"] == "kitchen", "{list:#?}");
        ensure!(by_eui(&euis[1])["label"] == "hall", "{list:#?}");
        ensure!(by_eui(&euis[2])["label"].is_null(), "{list:#?}");
        let shown = agent.threadctl_json(&["device", "show", &euis[1], "--json"])?;
        ensure!(
            shown["joiner_id"] == by_eui(&euis[1])["joiner_id"],
            "{shown}"
        );
        let jid = shown["joiner_id"].as_str().unwrap().to_string();
        let shown = agent.threadctl_json(&["device", "show", &jid, "--json"])?;
        ensure!(shown["eui64"] == euis[1].as_str(), "{shown}");
        let table = agent.threadctl_ok(&["device", "list"])?;
        ensure!(
            table.starts_with("EUI-64") && table.contains("kitchen"),
            "{table}"
        );
        println!("{table}");

        // SIGKILL, restart: the file parses and holds the same three.
        let inventory = sb.state_dir().join("devices.json");
        let meta = std::fs::metadata(&inventory)?;
        ensure!(
            meta.permissions().mode() & 0o777 == 0o600,
            "devices.json mode"
        );
        let text = std::fs::read(&inventory)?;
        for p in PSKDS {
            ensure!(
                !text.windows(p.len()).any(|w| w == p.as_bytes()),
                "a PSKd in devices.json"
            );
        }
        agent.kill();
        let agent = up(sb)?;
        agent.wait_log("device inventory loaded", Duration::from_secs(10))?;
        ensure!(!sb.state_dir().join("devices.json.corrupt").exists());
        // The same three records; presence (state, last seen) is the live part and may move.
        let stable = |l: &[Value]| -> Vec<Value> {
            l.iter()
                .map(|d| {
                    let mut d = d.clone();
                    for k in [
                        "state",
                        "last_seen",
                        "rloc16",
                        "ext_address",
                        "role",
                        "device_type",
                        "credentials",
                        "remedy",
                    ] {
                        d.as_object_mut().map(|m| m.remove(k));
                    }
                    d
                })
                .collect()
        };
        let after = devices(&agent)?;
        ensure!(
            stable(&after) == stable(&list),
            "before the kill:\n{list:#?}\nafter:\n{after:#?}"
        );

        // Forget one; the second time it is not found.
        let out = agent.threadctl_ok(&["device", "forget", &euis[0]])?;
        ensure!(out.contains(&format!("forgot device {}", euis[0])), "{out}");
        let after = devices(&agent)?;
        ensure!(after.len() == 2, "{after:#?}");
        ensure!(after.iter().all(|d| d["eui64"] != euis[0].as_str()));
        let again = agent.threadctl(&["device", "forget", &euis[0]])?;
        ensure!(again.status.code() == Some(1), "{again:?}");
        ensure!(
            String::from_utf8_lossy(&again.stderr).contains("no onboarded device"),
            "{again:?}"
        );
        let bad = agent.threadctl(&["device", "show", "12"])?;
        ensure!(bad.status.code() == Some(2), "{bad:?}");
        let audit = std::fs::read_to_string(sb.state_dir().join("audit.jsonl"))?;
        ensure!(
            audit.lines().any(|l| l.contains("\"device-forgotten\"")
                && l.contains(&euis[0])
                && l.contains("\"uid\"")),
            "no device-forgotten audit record"
        );
        Ok(())
    })
}
