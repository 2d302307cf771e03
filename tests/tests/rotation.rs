//! Issue 11 end to end: rotating the network key (and the PSKc) and migrating channel / PAN ID
//! through a pending dataset, on the real `thread-agent` (leader, simulated `ot-ncp-ftd`) with real
//! `ot-cli-ftd` routers and children; `threadctl network rotate-key|migrate|pending` drive it.
//!
//! Validated first with CLI nodes only (`dataset commit pending` on the leader is the same local
//! otDatasetSetPending as the agent's Spinel `THREAD_PENDING_DATASET_TLVS` set): the leader hands the
//! pending dataset to every node at once and all of them switch 30..31 s after a 30 s delay, without
//! detaching; the leader keeps a local 30 s delay (only MGMT_PENDING_SET is raised to 300 s). A node
//! that was off during the switch and comes back with its old settings never attaches again (it is
//! detached ~20 s, then leads a partition of its own with the old key); `thread stop` + `joiner
//! start` (Joiner::Start needs the role disabled and the interface up) re-admits it, because
//! JOIN_ENT replaces its dataset by {network key, channel, PAN ID}.
//!
//! Written against the issue 11 interface (methods, events, threadctl text and exit codes). Pings:
//! each CLI node pings the agent's co-processor (its ML-EID when the bridge lists it, else its
//! RLOC), and, as root, this host pings each node's ML-EID through the agent's own Thread interface
//! (`wpt<PORT_OFFSET>`, see `e2e::network::bridge_env`; without root that half is skipped and
//! says so). Every wait has a generous deadline (a hang bound, not a speed test); durations are
//! printed, never asserted.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use e2e::dataset::{assert_no_secret, Tlvs, NETWORK_KEY, PSKC};
use e2e::network::{
    active_timestamp_s, audit, audit_event, audit_path, event_re, host_ping, leader_agent,
    ok_stdout, one_error_line, output_text, ping_target, start_router, threadctl_long,
    wait_audit_event, wait_member, EventsTap, Mesh, NODE_TIMEOUT,
};
use e2e::{with_sandbox, Agent, CliNode, Sandbox};
use serde_json::Value;

const PSKD: &str = "J01NME";
const JOIN_TIMEOUT: Duration = Duration::from_secs(120);
const PETITION_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a node that missed the rotation is watched (it leads its own partition after ~20 s).
const STALE_WATCH: Duration = Duration::from_secs(40);
/// Deadline for the nodes to report the new values once the agent says the change is active.
const SWITCH_TIMEOUT: Duration = Duration::from_secs(60);
/// Deadline for the `...-applied` record after `--wait` returned (the agent may notice the switch
/// a few seconds after the co-processor made it).
const APPLIED_TIMEOUT: Duration = Duration::from_secs(30);

/// Secrets to look for in everything the agent and threadctl produced.
struct Secrets(Vec<(String, Vec<u8>)>);

impl Secrets {
    fn of(label: &str, hex: &str) -> Result<Secrets> {
        let mut s = Secrets(Vec::new());
        s.add(label, hex)?;
        Ok(s)
    }

    /// Adds the network key and PSKc of dataset `hex`.
    fn add(&mut self, label: &str, hex: &str) -> Result<()> {
        let t = Tlvs::from_hex(hex)?;
        self.0.push((
            format!("{label} network key"),
            t.require(NETWORK_KEY)?.to_vec(),
        ));
        self.0
            .push((format!("{label} PSKc"), t.require(PSKC)?.to_vec()));
        Ok(())
    }

    /// Scans text (hex forms, see `assert_no_secret`) and raw bytes.
    fn absent(&self, bytes: &[u8], whence: &str) -> Result<()> {
        let text = String::from_utf8_lossy(bytes);
        for (what, secret) in &self.0 {
            assert_no_secret(&text, secret, what, whence)?;
            ensure!(
                !bytes.windows(secret.len()).any(|w| w == &secret[..]),
                "the {what} appears (raw) in {whence}"
            );
        }
        Ok(())
    }

    /// Scans the sandbox's agent logs, event taps and audit log (NOT the CLI nodes' logs: the nodes
    /// print keys on request) plus `extra` texts.
    fn scan(&self, sb: &Sandbox, extra: &[(&str, &str)]) -> Result<()> {
        let mut n = 0;
        for entry in std::fs::read_dir(sb.path())? {
            let p = entry?.path();
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            if name.starts_with("agent-") || name.starts_with("events-") {
                self.absent(&std::fs::read(&p)?, &name)?;
                n += 1;
            }
        }
        ensure!(
            n >= 2,
            "expected agent and events logs in the sandbox, found {n}"
        );
        self.absent(&std::fs::read(audit_path(sb))?, "audit.jsonl")?;
        for (whence, text) in extra {
            self.absent(text.as_bytes(), whence)?;
        }
        Ok(())
    }
}

fn key_hex(hex: &str) -> Result<String> {
    Ok(hex::encode(Tlvs::from_hex(hex)?.require(NETWORK_KEY)?))
}

/// The backup of the active dataset, `<state_dir>/dataset.tlvs`.
fn backup(sb: &Sandbox) -> Result<Tlvs> {
    let p = sb.state_dir().join("dataset.tlvs");
    Tlvs::from_hex(&std::fs::read_to_string(&p).with_context(|| format!("{}", p.display()))?)
}

/// Polls `f` (every 250 ms) until it yields `Some`.
fn poll<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Result<Option<T>>) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f()? {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            bail!("{what}: not within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Polls `commissioner status --json` until `pred` holds.
fn wait_commissioner(agent: &Agent, what: &str, pred: impl Fn(&Value) -> bool) -> Result<Value> {
    poll(what, PETITION_TIMEOUT, || {
        let v = agent.threadctl_json(&["commissioner", "status", "--json"])?;
        Ok(pred(&v).then_some(v))
    })
    .with_context(|| format!("agent log:\n{}", agent.log().tail(30)))
}

/// Adds an EUI-64 joiner entry and waits until the leader took the steering data.
fn admit(agent: &Agent, eui64: &str) -> Result<()> {
    agent.threadctl_ok(&[
        "joiner",
        "add",
        "--eui64",
        eui64,
        "--pskd",
        PSKD,
        "--timeout",
        "600",
    ])?;
    wait_commissioner(agent, "steering data accepted by the leader", |v| {
        v["state"] == "active" && v["steering_data_acked"] == v["steering_data"]
    })?;
    Ok(())
}

/// `new active timestamp N` from the scheduling line of rotate-key/migrate.
fn scheduled_timestamp(line: &str) -> Result<u64> {
    let re = regex::Regex::new(r"new active timestamp (\d+)\s*$")?;
    re.captures(line.trim())
        .and_then(|c| c[1].parse().ok())
        .with_context(|| format!("no `new active timestamp N` in {line:?}"))
}

/// Checks the text output of `rotate-key|migrate --wait`: the scheduling line matches `first`
/// (a regex, e.g. `^network key rotation scheduled: active in 30 s \(requested 30 s, via
/// leader\); `), then `new dataset active (active timestamp N)`, a countdown on stderr. Returns N.
fn check_wait_text(out: &std::process::Output, first: &str) -> Result<u64> {
    let stdout = ok_stdout(out, "threadctl --wait")?;
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    ensure!(lines.len() == 2, "expected 2 stdout lines, got {stdout:?}");
    ensure!(
        regex::Regex::new(first)?.is_match(lines[0]),
        "first line {:?} does not match /{first}/",
        lines[0]
    );
    let ts = scheduled_timestamp(lines[0])?;
    ensure!(
        lines[1].trim() == format!("new dataset active (active timestamp {ts})"),
        "last line {:?}",
        lines[1]
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        regex::Regex::new(r"new dataset active in \d+ s")?.is_match(&stderr),
        "no countdown on stderr: {stderr:?}"
    );
    Ok(ts)
}

/// Checks the `--json` output of `--wait`: the Scheduled line, then `{"applied": true, ...}`.
fn check_wait_json(out: &std::process::Output) -> Result<(Value, u64)> {
    let stdout = ok_stdout(out, "threadctl --wait --json")?;
    let objs: Vec<Value> = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l.trim()).with_context(|| format!("not JSON: {l:?}")))
        .collect::<Result<_>>()?;
    ensure!(objs.len() == 2, "expected 2 JSON lines, got {stdout:?}");
    let ts = objs[0]["scheduled"]["active_timestamp"]
        .as_u64()
        .with_context(|| format!("no scheduled.active_timestamp: {}", objs[0]))?;
    ensure!(
        objs[1] == serde_json::json!({"applied": true, "active_timestamp": ts}),
        "last line {}",
        objs[1]
    );
    Ok((objs[0].clone(), ts))
}

/// Each node of the mesh reaches the agent's co-processor (ping from the node); and, when this
/// host can (root: the agent's bridge interface is up and raw sockets work), this host reaches
/// each node's ML-EID through the agent's Thread interface.
fn ping_agent(mesh: &Mesh) -> Result<()> {
    let st = mesh.agent.status_json()?;
    let (addr, kind) = ping_target(&st)?;
    for node in [&mesh.router, &mesh.child] {
        let tries = node.ping_until(&addr, SWITCH_TIMEOUT)?;
        println!(
            "node {} reached the co-processor's {kind} {addr} (try {tries})",
            node.id()
        );
    }
    if st["bridge"]["state"] != "up" {
        println!("host -> node ping skipped: the bridge is {}", st["bridge"]);
        return Ok(());
    }
    for node in [&mesh.router, &mesh.child] {
        let mleid = node.mleid()?;
        match host_ping(&mleid, SWITCH_TIMEOUT)? {
            Some(t) => println!(
                "this host reached node {}'s ML-EID {mleid} (try {t})",
                node.id()
            ),
            None => println!("host -> node ping skipped: no raw ICMPv6 socket (not root)"),
        }
    }
    Ok(())
}

#[test]
fn rotate_key_reaches_router_and_child() {
    with_sandbox(rotate_key_in);
}

fn rotate_key_in(sb: &Sandbox) -> Result<()> {
    let mut mesh = Mesh::start(sb)?;
    let tap = EventsTap::start(sb)?;
    let mut secrets = Secrets::of("old", &mesh.dataset)?;
    let old_key = key_hex(&mesh.dataset)?;
    let old_ts = active_timestamp_s(&Tlvs::from_hex(&mesh.dataset)?)?;
    ping_agent(&mesh)?;

    let t0 = Instant::now();
    let out = threadctl_long(sb, &["network", "rotate-key", "--delay", "30", "--wait"])?;
    println!(
        "rotate-key --delay 30 --wait returned after {:?}",
        t0.elapsed()
    );
    let ts = check_wait_text(
        &out,
        r"^network key rotation scheduled: active in 30 s \(requested 30 s, via leader\); ",
    )?;
    ensure!(ts > old_ts, "new active timestamp {ts} not above {old_ts}");
    let rotate_out = output_text(&out);

    // The new dataset: a new key, the announced timestamp, everything else kept.
    let new_hex = mesh.agent.dataset_export()?;
    secrets.add("new", &new_hex)?;
    let new = Tlvs::from_hex(&new_hex)?;
    let new_key = key_hex(&new_hex)?;
    ensure!(new_key != old_key, "the network key did not change");
    ensure!(active_timestamp_s(&new)? == ts, "exported active timestamp");
    let old = Tlvs::from_hex(&mesh.dataset)?;
    for t in [0u8, 1, 2, 3, 4, 7] {
        ensure!(new.get(t) == old.get(t), "TLV {t} changed with the key");
    }
    ensure!(
        backup(sb)? == new,
        "dataset.tlvs is not the new active dataset"
    );

    // Both nodes switched and stayed in the agent's partition.
    for node in [&mesh.router, &mesh.child] {
        poll(
            &format!("node {} uses the new key", node.id()),
            SWITCH_TIMEOUT,
            || Ok((node.networkkey()? == new_key).then_some(())),
        )?;
    }
    mesh.wait_attached(NODE_TIMEOUT)?;
    ping_agent(&mesh)?;

    // status, network pending.
    let st = mesh.agent.status_json()?;
    ensure!(
        st["active_timestamp"] == ts && st["pending"].is_null(),
        "status: {st}"
    );
    let pending = mesh
        .agent
        .threadctl_json(&["network", "pending", "--json"])?;
    ensure!(pending["pending"].is_null(), "network pending: {pending}");
    let pending_text = mesh.agent.threadctl_ok(&["network", "pending"])?;
    ensure!(
        pending_text.trim() == "no change pending",
        "{pending_text:?}"
    );
    let status_text = mesh.agent.threadctl_ok(&["status"])?;
    let ts_line = regex::Regex::new(&format!(r"(?im)^active timestamp:\s+{ts}\s*$"))?;
    let none_line = regex::Regex::new(r"(?im)^pending:\s+none\s*$")?;
    ensure!(
        ts_line.is_match(&status_text) && none_line.is_match(&status_text),
        "status text: {status_text}"
    );

    // Audit, events, journal.
    let sched = audit_event(sb, "network-key-rotation-scheduled")?;
    ensure!(
        sched["delay_s"] == 30 && sched["pskc"] == false && sched["active_timestamp"] == ts,
        "{sched}"
    );
    let applied = wait_audit_event(sb, "network-key-rotation-applied", APPLIED_TIMEOUT)?;
    ensure!(applied["active_timestamp"] == ts, "{applied}");
    tap.wait_event("network-key-rotation-scheduled", Duration::from_secs(5))?;
    tap.wait_event("network-key-rotation-applied", APPLIED_TIMEOUT)?;
    mesh.agent.wait_log(
        &event_re("network-key-rotation-applied"),
        Duration::from_secs(5),
    )?;

    // A restart resumes the rotated network; the nodes stay with it.
    let st = mesh.agent.stop()?;
    ensure!(st.code() == Some(0), "agent exit {st}");
    mesh.agent = leader_agent(sb)?;
    ensure!(
        mesh.agent.dataset_export()? == new_hex,
        "restart: another dataset"
    );
    mesh.wait_attached(NODE_TIMEOUT)?;
    ensure!(mesh.router.networkkey()? == new_key && mesh.child.networkkey()? == new_key);
    let st = mesh.agent.status_json()?;
    ensure!(st["active_timestamp"] == ts, "after restart: {st}");

    secrets.scan(
        sb,
        &[
            ("threadctl rotate-key", &rotate_out),
            ("threadctl network pending", &pending_text),
            ("threadctl status", &status_text),
            ("status --json", &st.to_string()),
        ],
    )
}

#[test]
fn migrate_moves_router_and_child() {
    with_sandbox(migrate_in);
}

fn migrate_in(sb: &Sandbox) -> Result<()> {
    let mesh = Mesh::start(sb)?;
    let st0 = mesh.agent.status_json()?;
    ensure!(
        st0["channel"] != 20 && st0["pan_id"] != "0x1234",
        "the agent formed on channel 20 or PAN ID 0x1234 already: {st0}"
    );
    let mut secrets = Secrets::of("network", &mesh.dataset)?;
    let args = [
        "network",
        "migrate",
        "--channel",
        "20",
        "--pan-id",
        "0x1234",
        "--delay",
        "30",
        "--wait",
        "--json",
    ];
    let t0 = Instant::now();
    let out = threadctl_long(sb, &args)?;
    println!(
        "migrate --wait --json returned after {:?}: {}",
        t0.elapsed(),
        output_text(&out)
    );
    let (sched, ts) = check_wait_json(&out)?;
    let s = &sched["scheduled"];
    ensure!(
        s["kind"] == "network-migration"
            && s["channel"] == 20
            && s["pan_id"] == "0x1234"
            && sched["via"] == "leader"
            && sched["requested_delay_s"] == 30
            && sched["effective_delay_s"] == 30,
        "scheduled: {sched}"
    );
    for node in [&mesh.router, &mesh.child] {
        poll(
            &format!("node {} on channel 20, PAN ID 0x1234", node.id()),
            SWITCH_TIMEOUT,
            || Ok((node.channel()? == 20 && node.panid()? == "0x1234").then_some(())),
        )?;
    }
    mesh.wait_attached(NODE_TIMEOUT)?;
    let st = mesh.agent.status_json()?;
    ensure!(
        st["channel"] == 20
            && st["pan_id"] == "0x1234"
            && st["active_timestamp"] == ts
            && st["pending"].is_null()
            && st["ext_pan_id"] == st0["ext_pan_id"],
        "status after the migration: {st}"
    );
    ping_agent(&mesh)?;
    let new_hex = mesh.agent.dataset_export()?;
    ensure!(
        key_hex(&new_hex)? == key_hex(&mesh.dataset)?,
        "a migration changed the key"
    );
    secrets.add("network", &new_hex)?;
    let sched = audit_event(sb, "network-migration-scheduled")?;
    ensure!(
        sched["channel"] == 20 && sched["pan_id"] == "0x1234" && sched["delay_s"] == 30,
        "{sched}"
    );
    let applied = wait_audit_event(sb, "network-migration-applied", APPLIED_TIMEOUT)?;
    ensure!(
        applied["channel"] == 20 && applied["active_timestamp"] == ts,
        "{applied}"
    );
    ensure!(
        backup(sb)? == Tlvs::from_hex(&new_hex)?,
        "dataset.tlvs after the migration"
    );
    // No events tap here: only the agent log and audit are scanned (the tap needs a log of its own).
    let log = mesh.agent.log_text();
    for (what, secret) in &secrets.0 {
        assert_no_secret(&log, secret, what, "the agent log")?;
    }
    secrets.absent(&std::fs::read(audit_path(sb))?, "audit.jsonl")?;
    secrets.absent(&out.stdout, "threadctl migrate")
}

#[test]
fn rotate_pskc_repetitions_and_a_joiner_joins() {
    with_sandbox(rotate_pskc_in);
}

fn rotate_pskc_in(sb: &Sandbox) -> Result<()> {
    let agent = leader_agent(sb)?;
    let old_hex = agent.dataset_export()?;
    let mut secrets = Secrets::of("old", &old_hex)?;
    let old = Tlvs::from_hex(&old_hex)?;
    agent.threadctl_ok(&["commissioner", "start"])?;
    wait_commissioner(&agent, "petition accepted", |v| v["state"] == "active")?;
    let mark = agent.log().len();

    let out = threadctl_long(
        sb,
        &["network", "rotate-key", "--pskc", "--delay", "30", "--wait"],
    )?;
    // The text may name the PSKc: `network key rotation (with a new PSKc) scheduled: ...`.
    let ts = check_wait_text(
        &out,
        r"^network key rotation (\(with a new PSKc\) )?scheduled: active in 30 s \(requested 30 s, via leader\); ",
    )?;
    let new_hex = agent.dataset_export()?;
    secrets.add("new", &new_hex)?;
    let new = Tlvs::from_hex(&new_hex)?;
    ensure!(new.get(PSKC) != old.get(PSKC), "the PSKc did not change");
    ensure!(
        new.get(NETWORK_KEY) != old.get(NETWORK_KEY),
        "the key did not change"
    );
    let sched = audit_event(sb, "network-key-rotation-scheduled")?;
    ensure!(
        sched["pskc"] == true && sched["active_timestamp"] == ts,
        "{sched}"
    );

    // The commissioner petitions again (with the new PSKc) after the change.
    let (at_sched, _) = agent.log().wait_for_from(
        mark,
        &event_re("network-key-rotation-scheduled"),
        Duration::from_secs(5),
    )?;
    let (at_applied, _) = agent.log().wait_for_from(
        mark,
        &event_re("network-key-rotation-applied"),
        APPLIED_TIMEOUT,
    )?;
    let (at_petition, line) = agent
        .log()
        .wait_for_from(
            at_sched + 1,
            &event_re("petition-accepted"),
            PETITION_TIMEOUT,
        )
        .with_context(|| format!("no new petition; log:\n{}", agent.log().tail(30)))?;
    println!(
        "log lines: scheduled {at_sched}, applied {at_applied}, petition accepted {at_petition}: {line}"
    );
    wait_commissioner(&agent, "commissioner active after the change", |v| {
        v["state"] == "active"
    })?;

    // A fresh node joins with the new credentials and attaches.
    let node = CliNode::spawn(sb, 4)?;
    admit(&agent, &node.eui64()?)?;
    ensure!(
        node.join(PSKD, JOIN_TIMEOUT)?,
        "node 4 did not join:\n{}",
        node.log().tail(10)
    );
    node.cmd("thread start")?;
    let p = agent.status_json()?["partition_id"]
        .as_u64()
        .unwrap_or_default();
    wait_member(&node, &["child", "router"], p, NODE_TIMEOUT)?;
    ensure!(
        node.networkkey()? == hex::encode(new.require(NETWORK_KEY)?),
        "joiner's key"
    );
    let new_pskc = hex::encode(new.require(PSKC)?);
    poll(
        "the joiner learns the new PSKc from the leader",
        SWITCH_TIMEOUT,
        || Ok((node.pskc()? == new_pskc).then_some(())),
    )?;
    let log = agent.log_text();
    for (what, secret) in &secrets.0 {
        assert_no_secret(&log, secret, what, "the agent log")?;
    }
    secrets.absent(&std::fs::read(audit_path(sb))?, "audit.jsonl")?;
    secrets.absent(output_text(&out).as_bytes(), "threadctl rotate-key --pskc")
}

#[test]
fn node_that_missed_rotation_rejoins_after_readmission() {
    with_sandbox(missed_rotation_in);
}

fn missed_rotation_in(sb: &Sandbox) -> Result<()> {
    let agent = leader_agent(sb)?;
    let old_hex = agent.dataset_export()?;
    let p = agent.status_json()?["partition_id"]
        .as_u64()
        .unwrap_or_default();
    let mut node = start_router(sb, 2, &old_hex)?;
    wait_member(&node, &["router"], p, NODE_TIMEOUT)?;
    let eui = node.eui64()?;
    node.kill();
    drop(node);

    let out = threadctl_long(sb, &["network", "rotate-key", "--delay", "30", "--wait"])?;
    ok_stdout(&out, "rotate-key --wait")?;
    let new_key = key_hex(&agent.dataset_export()?)?;
    let p = agent.status_json()?["partition_id"]
        .as_u64()
        .unwrap_or_default();

    // Same node id: its settings (old dataset) are in <sandbox>/tmp.
    let node = CliNode::spawn(sb, 2)?;
    ensure!(
        node.networkkey()? == key_hex(&old_hex)?,
        "node 2 lost its old settings"
    );
    node.fast_router()?;
    node.start_thread()?;
    let until = Instant::now() + STALE_WATCH;
    let mut seen = Vec::new();
    while Instant::now() < until {
        let (role, part) = (node.state()?, node.partition_id()?);
        ensure!(
            !(["child", "router"].contains(&role.as_str()) && u64::from(part) == p),
            "node 2 attached to the agent's partition with the old key ({role})"
        );
        if seen.last() != Some(&role) {
            seen.push(role);
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    println!("node 2 with the old key, over {STALE_WATCH:?}: {seen:?}");
    ensure!(node.networkkey()? != new_key);

    admit(&agent, &eui)?;
    let t0 = Instant::now();
    ensure!(
        node.rejoin(PSKD, JOIN_TIMEOUT)?,
        "node 2 did not join:\n{}",
        node.log().tail(10)
    );
    node.cmd("thread start")?;
    let role = wait_member(&node, &["child", "router"], p, NODE_TIMEOUT)?;
    println!("node 2 re-admitted: {role} after {:?}", t0.elapsed());
    ensure!(
        node.networkkey()? == new_key,
        "node 2 after joining: not the new key"
    );
    Ok(())
}

#[test]
fn bad_lifecycle_input_changes_nothing() {
    with_sandbox(bad_input_in);
}

/// The active dataset (export) and its backup, to compare after each refusal.
fn snapshot(agent: &Agent, sb: &Sandbox) -> Result<(String, Tlvs)> {
    Ok((agent.dataset_export()?, backup(sb)?))
}

fn bad_input_in(sb: &Sandbox) -> Result<()> {
    let agent = leader_agent(sb)?;
    let before = snapshot(&agent, sb)?;
    let secrets = Secrets::of("network", &before.0)?;
    let usage: &[(&[&str], &str)] = &[
        (&["network", "rotate-key", "--delay", "10"], "10"),
        (&["network", "rotate-key", "--delay", "259201"], "259201"),
        (&["network", "migrate", "--channel", "27"], "27"),
        (&["network", "migrate", "--pan-id", "0xffff"], "0xffff"),
        (&["network", "migrate", "--pan-id", "zz"], "zz"),
        (&["network", "migrate", "--delay", "60"], "channel"),
    ];
    for (args, names) in usage {
        let out = agent.threadctl(args)?;
        let line = one_error_line(&out, 2, &format!("threadctl {args:?}"))?;
        ensure!(
            line.contains(names),
            "{args:?}: {line:?} does not name {names:?}"
        );
        ensure!(
            snapshot(&agent, sb)? == before,
            "{args:?} changed the dataset"
        );
    }
    ensure!(
        !sb.state_dir().join("pending.tlvs").exists(),
        "pending.tlvs before any change"
    );

    // One change is scheduled (long delay: it stays pending for the rest of the test).
    let out = agent.threadctl_ok(&["network", "rotate-key", "--delay", "300", "--json"])?;
    let first: Value = serde_json::from_str(out.trim()).context("rotate-key --json")?;
    let s = &first["scheduled"];
    ensure!(
        s["kind"] == "network-key-rotation"
            && s["changes"] == serde_json::json!(["network_key"])
            && first["via"] == "leader"
            && first["requested_delay_s"] == 300
            && first["effective_delay_s"] == 300
            && s["remaining_ms"].as_u64().is_some_and(|ms| ms <= 300_000),
        "{first}"
    );
    let pending_file = sb.state_dir().join("pending.tlvs");
    let mode = std::fs::metadata(&pending_file)?.permissions().mode() & 0o777;
    ensure!(mode == 0o600, "pending.tlvs mode {mode:o}");
    let pending_bytes = std::fs::read(&pending_file)?;
    ensure!(
        snapshot(&agent, sb)? == before,
        "scheduling changed the active dataset"
    );
    let text = agent.threadctl_ok(&["network", "pending"])?;
    ensure!(
        text.starts_with("pending: network key rotation (network_key) in ")
            && text
                .trim_end()
                .ends_with(&format!("new active timestamp {}", s["active_timestamp"])),
        "network pending: {text:?}"
    );
    let status = agent.threadctl_ok(&["status"])?;
    let pending_line =
        regex::Regex::new(r"(?im)^pending:\s+network key rotation \(network_key\) in ")?;
    ensure!(pending_line.is_match(&status), "status: {status}");

    // A second change while one is pending: refused (exit 9), nothing changes.
    let again: &[&[&str]] = &[
        &["network", "rotate-key", "--delay", "60"],
        &["network", "rotate-key", "--pskc", "--delay", "30"],
        &["network", "migrate", "--channel", "20", "--delay", "30"],
    ];
    for args in again {
        let out = agent.threadctl(args)?;
        let line = one_error_line(&out, 9, &format!("threadctl {args:?}"))?;
        secrets.absent(line.as_bytes(), "a change_pending error")?;
        ensure!(
            snapshot(&agent, sb)? == before,
            "{args:?} changed the dataset"
        );
        ensure!(
            std::fs::read(&pending_file)? == pending_bytes,
            "{args:?} changed pending.tlvs"
        );
        let p = agent.threadctl_json(&["network", "pending", "--json"])?;
        ensure!(
            p["pending"]["active_timestamp"] == s["active_timestamp"],
            "{p}"
        );
    }
    let a = audit(sb)?;
    let scheduled = a
        .iter()
        .filter(|l| l["event"] == "network-key-rotation-scheduled")
        .count();
    ensure!(
        scheduled == 1,
        "{scheduled} scheduled lines in the audit log"
    );
    ensure!(
        !a.iter()
            .any(|l| l["event"] == "network-migration-scheduled"),
        "a refused migration was audited"
    );
    secrets.absent(agent.log_text().as_bytes(), "the agent log")
}
