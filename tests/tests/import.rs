//! Issue 11 end to end: `threadctl dataset import` — a second border agent takes over an existing
//! network from the first one's `dataset export`, and bad datasets are refused without changing
//! anything.
//!
//! Two agents on ONE simulated radio: agent B runs in a sandbox of its own (state dir, control
//! socket, co-processor settings) with agent A's `PORT_OFFSET` and co-processor node id 2 (A's is
//! 1; two nodes with the same id and offset cannot coexist), see `e2e::network::second_agent`.
//! B starts with `[network] form = false` (`THREAD_AGENT_NETWORK__FORM=false`): a blank
//! co-processor without a backup then waits for `dataset import` instead of forming a network of
//! its own, so B imports WITHOUT `--replace` (`replaced: false`). `--replace` is exercised in
//! `import_refuses_bad_datasets` (after the refusals, a real replacement).
//!
//! `non_leader_agent_changes_go_through_the_leader`: B (a router, not the leader) migrates and
//! rotates through A's co-processor (MGMT_PENDING_SET, `via: "mgmt-pending-set"`).
//!
//! Written against the issue 11 interface (`dataset.import`, `dataset-imported`, threadctl text and
//! exit codes). Every wait has a generous deadline (a hang bound, not a speed test).

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use e2e::dataset::{assert_no_secret, Tlvs, EXT_PAN_ID, NETWORK_KEY, NETWORK_NAME, PSKC};
use e2e::network::{
    audit, audit_event, event_re, leader_agent, ok_stdout, one_error_line, output_text,
    second_agent, threadctl_with, tlvs_hex, wait_audit_event, CTL_TIMEOUT, NODE_TIMEOUT,
    UP_TIMEOUT, WAIT_CTL_TIMEOUT,
};
use e2e::{with_sandbox, Agent, Sandbox};
use serde_json::Value;

/// Deadline for B to become a router of A's partition (a child first; the router upgrade waits
/// for OpenThread's router selection jitter, up to 120 s).
const ROUTER_TIMEOUT: Duration = Duration::from_secs(240);
/// Deadline for an `...-applied` / `active-dataset-changed` record after the switch.
const APPLIED_TIMEOUT: Duration = Duration::from_secs(30);

fn backup_text(sb: &Sandbox) -> Result<String> {
    let p = sb.state_dir().join("dataset.tlvs");
    std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))
}

/// `threadctl dataset import -` (the dataset on stdin) with extra args.
fn import_stdin(sb: &Sandbox, hex: &str, extra: &[&str]) -> Result<std::process::Output> {
    let mut args = vec!["dataset", "import", "-"];
    args.extend_from_slice(extra);
    let input = format!("  {hex}\n");
    threadctl_with(
        &sb.control_socket(),
        &args,
        Some(input.as_bytes()),
        CTL_TIMEOUT,
    )
}

fn u16_hex(v: &[u8]) -> String {
    format!(
        "0x{:02x}{:02x}",
        v.first().copied().unwrap_or(0),
        v.get(1).copied().unwrap_or(0)
    )
}

/// Agent B (its own sandbox, A's radio, `form = false`) joined to agent A's network by importing
/// A's export; B is attached to A's partition.
struct Pair {
    a: Agent,
    b: Agent,
    /// A's export and status from before B came.
    export_a: Tlvs,
    status_a: Value,
    /// threadctl's output of the import.
    import_out: std::process::Output,
}

/// `router`: also wait until B is a router (up to OpenThread's 120 s router selection jitter).
fn b_joins_a(a: &Sandbox, b: &Sandbox, router: bool) -> Result<Pair> {
    let agent_a = leader_agent(a)?;
    let export_hex = agent_a.dataset_export()?;
    let ta = Tlvs::from_hex(&export_hex)?;
    let st_a = agent_a.status_json()?;

    let mut agent_b = second_agent(b, a, 2, &[("THREAD_AGENT_NETWORK__FORM", "false")])?;
    agent_b.wait_log("waiting for `threadctl dataset import`", UP_TIMEOUT)?;
    // status may answer (role disabled/detached) or refuse (no network yet): either is fine.
    if let Ok(st_b0) = agent_b.status_json() {
        println!("B before the import: role {}", st_b0["role"]);
        ensure!(
            !["leader", "router", "child"].contains(&st_b0["role"].as_str().unwrap_or("")),
            "B has a network before the import: {st_b0}"
        );
    }
    ensure!(
        !b.state_dir().join("dataset.tlvs").exists(),
        "B has a backup before the import"
    );

    let t0 = Instant::now();
    let out = import_stdin(b, &export_hex, &[])?;
    let text = ok_stdout(&out, "B: dataset import -")?;
    let name = String::from_utf8_lossy(ta.require(NETWORK_NAME)?).into_owned();
    let want = format!(
        "imported network {name} (ext PAN ID {}, channel {}, PAN ID {})",
        hex::encode(ta.require(EXT_PAN_ID)?),
        ta.require(0)?.last().copied().unwrap_or(0),
        u16_hex(ta.require(1)?),
    );
    ensure!(
        text.trim() == want,
        "import said {text:?}, expected {want:?}"
    );

    // B attaches to A's partition (child, then router) with A's network.
    let p = st_a["partition_id"].clone();
    let same = |s: &Value| s["ext_pan_id"] == st_a["ext_pan_id"] && s["partition_id"] == p;
    let st = agent_b.wait_status("B attached to A's partition", NODE_TIMEOUT, |s| {
        ["child", "router"].contains(&s["role"].as_str().unwrap_or("")) && same(s)
    })?;
    println!("B {} of A's partition after {:?}", st["role"], t0.elapsed());
    let st = if router {
        let st = agent_b.wait_status("B a router of A's partition", ROUTER_TIMEOUT, |s| {
            s["role"] == "router" && same(s)
        })?;
        println!("B router after {:?}", t0.elapsed());
        st
    } else {
        st
    };
    ensure!(
        st["network_name"] == name.as_str() && st["channel"] == st_a["channel"],
        "B status: {st}"
    );
    let st_a2 = agent_a.status_json()?;
    ensure!(
        st_a2["role"] == "leader" && st_a2["partition_id"] == p,
        "A: {st_a2}"
    );
    Ok(Pair {
        a: agent_a,
        b: agent_b,
        export_a: ta,
        status_a: st_a,
        import_out: out,
    })
}

#[test]
fn second_agent_imports_and_joins_the_network() {
    // B's sandbox outlives the panic with_sandbox raises on failure, so both are kept.
    let b = Sandbox::new().expect("creating B's sandbox");
    with_sandbox(|a| second_agent_imports_in(a, &b));
}

fn second_agent_imports_in(a: &Sandbox, b: &Sandbox) -> Result<()> {
    let pair = b_joins_a(a, b, true)?;
    let (ta, st_a, agent_b) = (&pair.export_a, &pair.status_a, &pair.b);
    let name = String::from_utf8_lossy(ta.require(NETWORK_NAME)?).into_owned();

    // B's export and backup are A's network.
    let tb = Tlvs::from_hex(&agent_b.dataset_export()?)?;
    for t in [NETWORK_KEY, PSKC, EXT_PAN_ID, NETWORK_NAME, 0, 1, 7] {
        ensure!(tb.get(t) == ta.get(t), "B's export differs in TLV {t}");
    }
    let backup_b = Tlvs::from_hex(&backup_text(b)?)?;
    ensure!(
        backup_b.get(NETWORK_KEY) == ta.get(NETWORK_KEY),
        "B's backup"
    );
    ensure!(backup_b.get(EXT_PAN_ID) == ta.get(EXT_PAN_ID), "B's backup");

    let ev = audit_event(b, "dataset-imported")?;
    ensure!(
        ev["replaced"] == false
            && ev["network_name"] == name.as_str()
            && ev["ext_pan_id"] == st_a["ext_pan_id"]
            && ev["uid"].is_u64(),
        "audit: {ev}"
    );
    agent_b.wait_log(&event_re("dataset-imported"), Duration::from_secs(5))?;

    // No secret in B's log, audit or threadctl's output.
    let audit_b = std::fs::read_to_string(b.state_dir().join("audit.jsonl"))?;
    for (kind, ty) in [("network key", NETWORK_KEY), ("PSKc", PSKC)] {
        let secret = ta.require(ty)?;
        let label = format!("A's {kind}");
        assert_no_secret(&agent_b.log_text(), secret, &label, "B's log")?;
        assert_no_secret(&audit_b, secret, &label, "B's audit log")?;
        assert_no_secret(
            &output_text(&pair.import_out),
            secret,
            &label,
            "threadctl import",
        )?;
    }
    Ok(())
}

#[test]
fn non_leader_agent_changes_go_through_the_leader() {
    let b = Sandbox::new().expect("creating B's sandbox");
    with_sandbox(|a| non_leader_in(a, &b));
}

/// B is attached (child or router), not the leader: its changes go to A's co-processor (the leader) as
/// MGMT_PENDING_SET. A migration keeps the requested 30 s; a key rotation is raised by the leader
/// to >= 300 s and the reply says so. A sees a change it did not schedule (`active-dataset-changed`).
fn non_leader_in(a: &Sandbox, b: &Sandbox) -> Result<()> {
    let mut pair = b_joins_a(a, b, false)?;
    ensure!(
        pair.status_a["channel"] != 20,
        "A formed on channel 20 already"
    );
    let args = [
        "network",
        "migrate",
        "--channel",
        "20",
        "--delay",
        "30",
        "--wait",
        "--json",
    ];
    let t0 = Instant::now();
    let out = threadctl_with(&b.control_socket(), &args, None, WAIT_CTL_TIMEOUT)?;
    println!(
        "B: migrate --wait after {:?}: {}",
        t0.elapsed(),
        output_text(&out)
    );
    let stdout = ok_stdout(&out, "B: migrate --wait --json")?;
    let first: Value = serde_json::from_str(stdout.lines().next().unwrap_or("").trim())
        .context("the first --json line")?;
    ensure!(
        first["via"] == "mgmt-pending-set"
            && first["requested_delay_s"] == 30
            // The leader's own countdown, read back a moment later: about 30 s, not raised.
            && first["effective_delay_s"].as_u64().is_some_and(|d| (20..=60).contains(&d))
            && first["scheduled"]["kind"] == "network-migration"
            && first["scheduled"]["channel"] == 20,
        "B's migration: {first}"
    );
    let p = pair.status_a["partition_id"].clone();
    let st_a = pair.a.wait_status("A on channel 20", NODE_TIMEOUT, |s| {
        s["channel"] == 20 && s["role"] == "leader"
    })?;
    let st_b = pair
        .b
        .wait_status("B on channel 20 in A's partition", NODE_TIMEOUT, |s| {
            s["channel"] == 20
                && ["child", "router"].contains(&s["role"].as_str().unwrap_or(""))
                && s["partition_id"] == st_a["partition_id"]
        })?;
    println!(
        "partition before {p}, after {} / {}",
        st_a["partition_id"], st_b["partition_id"]
    );
    pair.a
        .wait_log(&event_re("active-dataset-changed"), APPLIED_TIMEOUT)?;
    wait_audit_event(a, "active-dataset-changed", APPLIED_TIMEOUT)?;
    wait_audit_event(b, "network-migration-applied", APPLIED_TIMEOUT)?;
    let pending = pair.a.threadctl_json(&["network", "pending", "--json"])?;
    ensure!(
        pending["pending"].is_null(),
        "A still shows a pending change: {pending}"
    );

    // A key rotation through the leader: at least 300 s (not waited for).
    let out = pair
        .b
        .threadctl_ok(&["network", "rotate-key", "--delay", "30", "--json"])?;
    let r: Value = serde_json::from_str(out.trim()).context("B: rotate-key --json")?;
    ensure!(
        r["via"] == "mgmt-pending-set"
            && r["requested_delay_s"] == 30
            // Raised to 300 s by the leader (read back: a little less may remain).
            && r["effective_delay_s"].as_u64().is_some_and(|d| d >= 290),
        "B's rotation: {r}"
    );
    let seen = pair.a.threadctl_json(&["network", "pending", "--json"])?;
    let changes = seen["pending"]["changes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    ensure!(
        changes.iter().any(|c| c == "network_key"),
        "A's view of the pending rotation: {seen}"
    );
    let st = pair.a.status_json()?;
    ensure!(st["pending"].is_object(), "A's status.pending: {st}");
    Ok(())
}

#[test]
fn import_refuses_bad_datasets() {
    with_sandbox(import_refuses_in);
}

/// A valid dataset of ANOTHER network (its ext PAN ID, key and name changed), so that an accepted
/// import would show.
fn other_network(t: &Tlvs) -> Tlvs {
    let mut o = t.clone();
    for (ty, v) in o.0.iter_mut() {
        match *ty {
            EXT_PAN_ID | NETWORK_KEY | PSKC => v.iter_mut().for_each(|b| *b ^= 0x5a),
            NETWORK_NAME => *v = b"OtherNetwork".to_vec(),
            _ => {}
        }
    }
    o
}

fn without(t: &Tlvs, ty: u8) -> Tlvs {
    Tlvs(t.0.iter().filter(|(x, _)| *x != ty).cloned().collect())
}

fn import_refuses_in(sb: &Sandbox) -> Result<()> {
    let mut agent = leader_agent(sb)?;
    let export0 = agent.dataset_export()?;
    let backup0 = backup_text(sb)?;
    let status0 = agent.status_json()?;
    let other = other_network(&Tlvs::from_hex(&export0)?);
    let other_hex = tlvs_hex(&other);
    let other_key = other.require(NETWORK_KEY)?.to_vec();
    let unchanged = |what: &str| -> Result<()> {
        ensure!(
            agent.dataset_export()? == export0,
            "{what}: the export changed"
        );
        ensure!(backup_text(sb)? == backup0, "{what}: dataset.tlvs changed");
        let st = agent.status_json()?;
        ensure!(
            st["ext_pan_id"] == status0["ext_pan_id"] && st["role"] == "leader",
            "{what}: status {st}"
        );
        Ok(())
    };
    let no_leak = |line: &str, what: &str| -> Result<()> {
        assert_no_secret(line, &other_key, "network key", what)?;
        ensure!(
            !line.contains(&other_hex[..40]),
            "{what} quotes the dataset"
        );
        Ok(())
    };

    // Truncated: valid hex, the last TLV runs past the end (caught by the agent: exit 1).
    let truncated = &other_hex[..other_hex.len() - 4];
    ensure!(
        Tlvs::from_hex(truncated).is_err(),
        "the cut did not truncate a TLV"
    );
    let file = sb.path().join("truncated.hex");
    std::fs::write(&file, truncated)?;
    let path = file.to_string_lossy().into_owned();
    let out = agent.threadctl(&["dataset", "import", "--file", &path, "--replace"])?;
    let line = one_error_line(&out, 1, "import of a truncated dataset")?;
    no_leak(&line, "the truncated-dataset error")?;
    unchanged("truncated dataset")?;

    // Missing Network Key (TLV 5) / Mesh-Local Prefix (TLV 7): exit 1, naming it.
    for (ty, names) in [(NETWORK_KEY, "network key"), (7u8, "mesh-local prefix")] {
        let hex = tlvs_hex(&without(&other, ty));
        let out = import_stdin(sb, &hex, &["--replace"])?;
        let what = format!("import without TLV {ty}");
        let line = one_error_line(&out, 1, &what)?;
        let lower = line.to_lowercase().replace("mesh local", "mesh-local");
        ensure!(
            lower.contains(names),
            "{what}: {line:?} does not name the {names}"
        );
        no_leak(&line, &what)?;
        unchanged(&what)?;
    }

    // Not hex: caught by threadctl (usage, exit 2).
    let out = import_stdin(sb, "0e08zz", &["--replace"])?;
    one_error_line(&out, 2, "import of non-hex text")?;
    unchanged("non-hex")?;

    // A valid dataset of another network without --replace: the agent has one -> exit 9.
    let out = import_stdin(sb, &other_hex, &[])?;
    let line = one_error_line(&out, 9, "import without --replace")?;
    no_leak(&line, "the network_exists error")?;
    unchanged("import without --replace")?;
    // Also as a HEX argument (threadctl may warn about the command line; the error is last).
    let out = agent.threadctl(&["dataset", "import", &other_hex])?;
    ensure!(
        out.status.code() == Some(9),
        "HEX argument: {}",
        output_text(&out)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    ensure!(
        err.lines()
            .last()
            .unwrap_or("")
            .starts_with("threadctl: error: "),
        "HEX argument: {err:?}"
    );
    no_leak(&err, "threadctl's stderr")?;
    unchanged("HEX argument without --replace")?;

    ensure!(
        !audit(sb)?.iter().any(|l| l["event"] == "dataset-imported"),
        "a refused import was audited"
    );
    assert_no_secret(
        &agent.log_text(),
        &other_key,
        "refused network key",
        "the agent log",
    )?;

    // And with --replace the same dataset is taken: the agent now leads the other network.
    let out = import_stdin(sb, &other_hex, &["--replace", "--json"])?;
    let v: Value = serde_json::from_str(ok_stdout(&out, "import --replace --json")?.trim())?;
    let xpan = hex::encode(other.require(EXT_PAN_ID)?);
    ensure!(
        v["imported"] == true
            && v["replaced"] == true
            && v["network_name"] == "OtherNetwork"
            && v["ext_pan_id"] == xpan.as_str()
            && v["channel"] == status0["channel"]
            && v["pan_id"] == status0["pan_id"],
        "import --replace --json: {v}"
    );
    no_leak(&output_text(&out), "import --replace --json")?;
    let st = agent.wait_status("the agent leads the imported network", UP_TIMEOUT, |s| {
        s["role"] == "leader" && s["ext_pan_id"] == xpan.as_str()
    })?;
    ensure!(st["network_name"] == "OtherNetwork", "{st}");
    let exported = Tlvs::from_hex(&agent.dataset_export()?)?;
    ensure!(
        exported.get(NETWORK_KEY) == Some(&other_key[..]),
        "export after --replace"
    );
    let backup = Tlvs::from_hex(&backup_text(sb)?)?;
    ensure!(
        backup.get(NETWORK_KEY) == Some(&other_key[..]),
        "dataset.tlvs after --replace"
    );
    let ev = audit_event(sb, "dataset-imported")?;
    ensure!(
        ev["replaced"] == true && ev["ext_pan_id"] == xpan.as_str(),
        "audit: {ev}"
    );
    let audit_text = std::fs::read_to_string(sb.state_dir().join("audit.jsonl"))?;
    no_leak(&audit_text, "the audit log")?;
    assert_no_secret(
        &agent.log_text(),
        &other_key,
        "imported network key",
        "the agent log",
    )
}
