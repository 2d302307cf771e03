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
//! With `[devices] presence_interval = 5` (the test config): two joined nodes leave
//! (`thread stop`) and are `absent` (with `device-absent`) within the documented time, 2 missed
//! queries = 2 x presence_interval + one query's 5 s wait (printed, measured); one comes back
//! (`thread start`) and is `attached` again (`device-attached`); after `network rotate-key
//! --delay 30 --wait` the one still stopped is `stale` with the remedy (JSON and table), the one
//! that followed is `current`. A node that is factory-reset (`factoryreset`: settings wiped, same
//! EUI-64) and imported again joins and shows `onboardings: 2`, a later `last_onboarded`, the
//! new label. Six joiners start at once; the agent is SIGKILLed once 2 `joiner-entrusted`
//! events reached a subscriber: `devices.json` as the kill left it parses and holds every device
//! entrusted before the kill, and the restarted agent lists the same. Each test scans its whole
//! sandbox (logs, state dir, audit log, events capture, co-processor settings) and the
//! threadctl outputs for every PSKd it used (only the joiners' CLI logs and the input files,
//! which hold them on purpose, are skipped).
//!
//! Written against docs/control-protocol.md ("Device inventory"). Deadlines are hang bounds.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, ensure, Result};
use e2e::dataset::{assert_no_pskd_in_tree, Tlvs, NETWORK_KEY};
use e2e::network::{ok_stdout, output_text, threadctl_long, EventsTap};
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

/// Joins every node with its PSKd (two attempts each), all at once.
fn join_all(nodes: &[&CliNode], pskds: &[&str]) -> Result<()> {
    let results: Vec<(u8, Result<bool>)> = std::thread::scope(|s| {
        let hs: Vec<_> = nodes
            .iter()
            .zip(pskds)
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
        join_all(&nodes.iter().collect::<Vec<_>>(), &PSKDS)?;
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
        let deadline = std::time::Instant::now() + PRESENCE_TIMEOUT;
        let list = loop {
            // Read at every round: a child that becomes a router (within two minutes of
            // attaching) changes its RLOC16, and the next query reports the new one.
            let rlocs: Vec<String> = nodes
                .iter()
                .map(|n| n.value("rloc16").map(|r| format!("0x{}", r.trim())))
                .collect::<Result<_>>()?;
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

// ---- presence, re-onboarding, a kill in a burst, stale credentials (issue 12 "Done when") ----

/// `[devices] presence_interval` of the tests below (the smallest the agent accepts).
const PRESENCE_S: u64 = 5;
/// How long a presence query collects answers (`devices::QUERY_WAIT`).
const QUERY_WAIT_S: u64 = 5;
/// The documented time to `absent`: missing from 2 answered queries in a row, i.e. at most
/// 2 x `presence_interval` + one query's wait after the device left (docs/control-protocol.md,
/// "Device inventory"). The waits below add one more interval of slack for a loaded machine:
/// they bound a hang, they do not time the agent (the measured time is printed).
const ABSENT_DOC_S: u64 = 2 * PRESENCE_S + QUERY_WAIT_S;
const ABSENT_TIMEOUT: Duration = Duration::from_secs(ABSENT_DOC_S + PRESENCE_S + 10);
/// Found again: attached at the next query, after the node attached (a few seconds).
const ATTACHED_TIMEOUT: Duration = Duration::from_secs(60);

/// The agent with `[devices] presence_interval = PRESENCE_S` in its configuration file.
fn up_fast(sb: &Sandbox) -> Result<Agent> {
    std::fs::write(
        sb.path().join("agent.toml"),
        format!("[devices]\npresence_interval = {PRESENCE_S}\n"),
    )?;
    up(sb)
}

/// Where the tests write the files that hold PSKds on purpose (skipped by the leak scan).
fn input_dir(sb: &Sandbox) -> Result<PathBuf> {
    let d = sb.path().join("input");
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

/// `threadctl joiner import FILE` of a CSV shipment `eui64,pskd,label`.
fn import(agent: &Agent, sb: &Sandbox, name: &str, rows: &[(&str, &str, &str)]) -> Result<()> {
    let mut text = String::from("eui64,pskd,label\n");
    for (eui, pskd, label) in rows {
        text.push_str(&format!("{eui},{pskd},{label}\n"));
    }
    let path = input_dir(sb)?.join(name);
    std::fs::write(&path, text)?;
    agent.threadctl_ok(&[
        "joiner",
        "import",
        path.to_str().unwrap(),
        "--timeout",
        "600",
    ])?;
    Ok(())
}

/// Polls `device list --json` until the record of `eui` satisfies `pred`; returns that record.
fn wait_device(
    agent: &Agent,
    eui: &str,
    what: &str,
    timeout: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Result<Value> {
    let find = |v: &Value| {
        v["devices"]
            .as_array()
            .and_then(|l| l.iter().find(|d| d["eui64"] == eui))
            .cloned()
    };
    let v = agent.wait_json(
        &["device", "list", "--json"],
        &format!("{eui} {what}"),
        timeout,
        |v| find(v).is_some_and(|d| pred(&d)),
    )?;
    find(&v).ok_or_else(|| anyhow!("{eui}: gone from the device list"))
}

/// Events of type `kind` for `eui` the tap received so far.
fn events_for(tap: &EventsTap, kind: &str, eui: &str) -> usize {
    tap.events()
        .iter()
        .filter(|e| e["type"] == kind && e["eui64"] == eui)
        .count()
}

/// Scans the whole sandbox (agent logs, state dir with devices.json and the audit log, the
/// events capture, co-processor settings) and `outputs` for every PSKd; the joiners' own CLI
/// logs (they echo `joiner start <PSKd>`) and the input files are the only files skipped.
fn scan(sb: &Sandbox, pskds: &[&str], outputs: &[(&str, Vec<u8>)]) -> Result<()> {
    let skip = |p: &Path| {
        p.starts_with(sb.path().join("input"))
            || p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("cli") && n.ends_with(".log"))
    };
    let outs: Vec<(&str, &[u8])> = outputs.iter().map(|(w, b)| (*w, b.as_slice())).collect();
    let n = assert_no_pskd_in_tree(sb.path(), pskds, skip, &outs)?;
    println!("leak scan: {n} files and {} outputs, no PSKd", outs.len());
    Ok(())
}

fn key_of(hex: &str) -> Result<String> {
    Ok(hex::encode(Tlvs::from_hex(hex)?.require(NETWORK_KEY)?))
}

#[test]
fn a_stopped_device_turns_absent_then_attached_and_one_that_missed_a_rotation_is_stale() {
    const P: [&str; 2] = ["PR3SENCE1", "PR3SENCE2"];
    with_sandbox(|sb| {
        let agent = up_fast(sb)?;
        let tap = EventsTap::start(sb)?;
        let a = CliNode::spawn(sb, 2)?;
        let b = CliNode::spawn(sb, 3)?;
        let (ea, eb) = (a.eui64()?, b.eui64()?);
        import(
            &agent,
            sb,
            "shipment.csv",
            &[(&ea, P[0], "porch"), (&eb, P[1], "attic")],
        )?;
        join_all(&[&a, &b], &P)?;
        for n in [&a, &b] {
            n.cmd("thread start")?;
        }
        for e in [&ea, &eb] {
            wait_device(&agent, e, "attached", PRESENCE_TIMEOUT, |d| {
                d["state"] == "attached"
            })?;
        }
        // Both leave the mesh: absent within the documented time, with a device-absent event.
        let t0 = Instant::now();
        for n in [&a, &b] {
            n.cmd("thread stop")?;
        }
        for e in [&ea, &eb] {
            let d = wait_device(&agent, e, "absent", ABSENT_TIMEOUT, |d| {
                d["state"] == "absent"
            })?;
            ensure!(d["credentials"] == "current", "{d}");
        }
        println!(
            "both absent {:?} after `thread stop` (documented: about {ABSENT_DOC_S} s)",
            t0.elapsed()
        );
        for e in [&ea, &eb] {
            tap.wait_event("device-absent", Duration::from_secs(5))?;
            ensure!(
                events_for(&tap, "device-absent", e) == 1,
                "no device-absent for {e}"
            );
        }
        // One comes back: attached again, device-attached.
        let t1 = Instant::now();
        b.cmd("thread start")?;
        wait_device(&agent, &eb, "attached again", ATTACHED_TIMEOUT, |d| {
            d["state"] == "attached"
        })?;
        println!("attached again {:?} after `thread start`", t1.elapsed());
        let deadline = Instant::now() + Duration::from_secs(5);
        while events_for(&tap, "device-attached", &eb) < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
        ensure!(
            events_for(&tap, "device-attached", &eb) == 2,
            "device-attached for {eb}: {:?}",
            tap.events()
        );

        // A key rotation while the first is still stopped: it misses it and is stale; the
        // second follows and is not.
        let old_key = key_of(&agent.dataset_export()?)?;
        let out = threadctl_long(sb, &["network", "rotate-key", "--delay", "30", "--wait"])?;
        ok_stdout(&out, "rotate-key --wait")?;
        let new_key = key_of(&agent.dataset_export()?)?;
        ensure!(new_key != old_key, "the key did not change");
        let deadline = Instant::now() + Duration::from_secs(60);
        while b.networkkey()? != new_key {
            ensure!(Instant::now() < deadline, "node 3 did not take the new key");
            std::thread::sleep(Duration::from_millis(500));
        }
        let st = agent.status_json()?;
        let list = devices(&agent)?;
        let da = list.iter().find(|d| d["eui64"] == ea.as_str()).unwrap();
        let db = list.iter().find(|d| d["eui64"] == eb.as_str()).unwrap();
        ensure!(
            da["state"] == "absent"
                && da["credentials"] == "stale"
                && da["active_timestamp"].as_u64() < st["active_timestamp"].as_u64(),
            "the stopped device is not stale: {da} (status {st})"
        );
        let remedy = da["remedy"].as_str().unwrap_or_default().to_string();
        ensure!(
            remedy.contains(&format!("joiner add --eui64 {ea}")) && remedy.contains("re-admit"),
            "{da}"
        );
        ensure!(
            db["credentials"] == "current" && db["remedy"].is_null(),
            "the device that followed is flagged: {db}"
        );
        wait_device(
            &agent,
            &eb,
            "attached after the rotation",
            ATTACHED_TIMEOUT,
            |d| d["state"] == "attached",
        )?;
        let table = agent.threadctl_ok(&["device", "list"])?;
        println!("{table}");
        ensure!(
            table.contains("stale") && table.contains(&remedy),
            "device list does not show the stale device's remedy:\n{table}"
        );
        let json = agent.threadctl_ok(&["device", "list", "--json"])?;
        drop(tap);
        scan(
            sb,
            &P,
            &[
                ("device list", table.into_bytes()),
                ("device list --json", json.into_bytes()),
                ("rotate-key --wait", output_text(&out).into_bytes()),
            ],
        )
    })
}

#[test]
fn a_factory_reset_device_admitted_again_counts_two_onboardings() {
    const P: &str = "R3SETME7";
    with_sandbox(|sb| {
        let agent = up_fast(sb)?;
        let node = CliNode::spawn(sb, 2)?;
        let eui = node.eui64()?;
        import(&agent, sb, "first.csv", &[(&eui, P, "first-box")])?;
        join_all(&[&node], &[P])?;
        let first = wait_device(&agent, &eui, "onboarded", Duration::from_secs(10), |d| {
            d["onboardings"] == 1
        })?;
        // Factory reset: the CLI node wipes its settings and restarts (the simulation re-runs
        // its main loop in the same process); no `Done` comes back.
        let _ = node.cmd_timeout("factoryreset", Duration::from_secs(3));
        let deadline = Instant::now() + Duration::from_secs(20);
        while node.state().ok().as_deref() != Some("disabled") {
            ensure!(
                Instant::now() < deadline,
                "node 2 did not come back from factoryreset"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
        ensure!(
            node.cmd("dataset active -x").is_err(),
            "node 2 kept its dataset over factoryreset"
        );
        ensure!(node.eui64()? == eui, "factoryreset changed the EUI-64");
        // Timestamps have whole seconds: a second join in the same second would look equal.
        std::thread::sleep(Duration::from_millis(1100));
        import(&agent, sb, "again.csv", &[(&eui, P, "lab-bench")])?;
        join_all(&[&node], &[P])?;
        let d = wait_device(
            &agent,
            &eui,
            "onboarded twice",
            Duration::from_secs(10),
            |d| d["onboardings"] == 2,
        )?;
        println!("re-onboarded: {d:#}");
        let (f, l) = (
            d["first_onboarded"].as_str().unwrap_or(""),
            d["last_onboarded"].as_str().unwrap_or(""),
        );
        ensure!(
            l > f && f == first["first_onboarded"].as_str().unwrap_or("-"),
            "{d}"
        );
        ensure!(
            d["label"] == "lab-bench" && d["joiner_id"] == first["joiner_id"],
            "{d}"
        );
        ensure!(devices(&agent)?.len() == 1, "a second record");
        let shown = agent.threadctl_ok(&["device", "show", &eui])?;
        scan(sb, &[P], &[("device show", shown.into_bytes())])
    })
}

#[test]
fn sigkill_in_a_burst_of_joins_keeps_every_completed_onboarding() {
    const P: [&str; 6] = [
        "BURST2A", "BURST3B", "BURST4C", "BURST5D", "BURST6E", "BURST7F",
    ];
    with_sandbox(|sb| {
        let mut agent = up_fast(sb)?;
        let tap = EventsTap::start(sb)?;
        let nodes: Vec<CliNode> = (2..=7)
            .map(|id| CliNode::spawn(sb, id))
            .collect::<Result<_>>()?;
        let euis: Vec<String> = nodes.iter().map(|n| n.eui64()).collect::<Result<_>>()?;
        let rows: Vec<(&str, &str, &str)> = euis
            .iter()
            .zip(P)
            .map(|(e, p)| (e.as_str(), p, "burst"))
            .collect();
        import(&agent, sb, "burst.csv", &rows)?;
        for n in &nodes {
            n.cmd("ifconfig up")?;
        }
        // All six at once (each `joiner start` returns at once; the outcome comes later).
        for (n, p) in nodes.iter().zip(P) {
            n.cmd(&format!("joiner start {p}"))?;
        }
        let mut seen = 0;
        tap.log
            .wait_until(0, JOIN_TIMEOUT, "2 joiner-entrusted events", |l| {
                if l.contains("\"joiner-entrusted\"") {
                    seen += 1;
                }
                seen >= 2
            })?;
        agent.kill();
        std::thread::sleep(Duration::from_millis(300));
        let done: BTreeSet<String> = tap
            .events()
            .iter()
            .filter(|e| e["type"] == "joiner-entrusted")
            .filter_map(|e| e["eui64"].as_str().map(str::to_string))
            .collect();
        println!("SIGKILL after {} of 6 entrusts: {done:?}", done.len());
        // The file as the kill left it: it parses and holds every completed onboarding.
        let path = sb.state_dir().join("devices.json");
        let doc: Value = serde_json::from_slice(&std::fs::read(&path)?)
            .map_err(|e| anyhow!("devices.json after SIGKILL does not parse: {e}"))?;
        let on_disk: BTreeSet<String> = doc["devices"]
            .as_array()
            .ok_or_else(|| anyhow!("no devices array: {doc}"))?
            .iter()
            .filter_map(|d| d["eui64"].as_str().map(str::to_string))
            .collect();
        ensure!(
            on_disk.is_superset(&done),
            "entrusted before the kill {done:?}, in devices.json {on_disk:?}"
        );
        ensure!(on_disk.iter().all(|e| euis.contains(e)), "{on_disk:?}");
        drop(tap);
        let agent = up_fast(sb)?;
        agent.wait_log("device inventory loaded", Duration::from_secs(10))?;
        ensure!(!sb.state_dir().join("devices.json.corrupt").exists());
        let listed: BTreeSet<String> = devices(&agent)?
            .iter()
            .filter_map(|d| d["eui64"].as_str().map(str::to_string))
            .collect();
        ensure!(
            listed == on_disk,
            "after restart {listed:?}, on disk {on_disk:?}"
        );
        let json = agent.threadctl_ok(&["device", "list", "--json"])?;
        scan(sb, &P, &[("device list --json", json.into_bytes())])
    })
}
