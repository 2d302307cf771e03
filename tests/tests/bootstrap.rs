//! Issue 12, bootstrapping import, end to end: the real `thread-agent` on a simulated
//! co-processor, `threadctl joiner import` and real `ot-cli-ftd` joiners.
//!
//! Covered: a file of two CSV lines and one QR line is imported (`--wait` follows all three) and
//! the three joiners join, their events and audit records carrying the file's labels; a file with
//! a bad EUI-64 on line 3 and a short PSKd on line 5 is refused naming both lines, by threadctl
//! (nothing sent) and by the agent itself (sent raw), and the joiner table is unchanged; a file
//! signed with minisign (a key pair made here) verifies and names its signer; one changed byte,
//! or no signature, is refused before anything reaches the table. Everything the agent, its
//! audit log and threadctl produced is scanned for every PSKd (raw and hex).
//!
//! Written against docs/control-protocol.md (`joiner.import`). Deadlines are hang bounds.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use e2e::proc;
use e2e::{with_sandbox, Agent, CliNode, Sandbox};
use serde_json::{json, Value};

const UP_TIMEOUT: Duration = Duration::from_secs(120);
const PETITION_TIMEOUT: Duration = Duration::from_secs(60);
const JOIN_TIMEOUT: Duration = Duration::from_secs(120);
const WAIT_CTL_TIMEOUT: Duration = Duration::from_secs(300);
/// One PSKd per device of the shipment, and the short one of the bad file.
const PSKDS: [&str; 4] = ["J01NME", "B00TSTRAP2", "KRC0DE33", "SHRT5"];

fn up(sb: &Sandbox) -> Result<Agent> {
    let mut agent = Agent::start(sb)?;
    agent.wait_status("network up (leader)", UP_TIMEOUT, |s| s["role"] == "leader")?;
    Ok(agent)
}

/// Active, and the leader has taken the steering data the table calls for.
fn wait_steering(agent: &Agent) -> Result<Value> {
    let deadline = Instant::now() + PETITION_TIMEOUT;
    loop {
        let v = agent.threadctl_json(&["commissioner", "status", "--json"])?;
        if v["state"] == "active" && v["steering_data_acked"] == v["steering_data"] {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            bail!("steering data not accepted: {v}\n{}", agent.log().tail(30));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn threadctl_cmd(sb: &Sandbox, args: &[&str]) -> Result<Command> {
    e2e::threadctl_command(&sb.control_socket(), args)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// One raw control request: the whole reply object.
fn raw(sb: &Sandbox, method: &str, params: Value) -> Result<Value> {
    let mut s = UnixStream::connect(sb.control_socket())?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(format!("{}\n", json!({"id": 1, "method": method, "params": params})).as_bytes())?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line)?;
    Ok(serde_json::from_str(line.trim())?)
}

fn audit(sb: &Sandbox) -> Result<Vec<Value>> {
    let text = std::fs::read_to_string(sb.state_dir().join("audit.jsonl")).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).with_context(|| format!("audit line {l:?}")))
        .collect()
}

/// Fails if any PSKd appears, raw or as hex, in `bytes` (the shared scanner).
fn assert_no_pskd(bytes: &[u8], whence: &str) -> Result<()> {
    e2e::dataset::assert_no_pskd(bytes, &PSKDS, whence)
}

/// The entries of `joiner list --json`, without their countdown.
fn table(agent: &Agent) -> Result<Vec<Value>> {
    let v = agent.threadctl_json(&["joiner", "list", "--json"])?;
    let mut out: Vec<Value> = v["joiners"]
        .as_array()
        .ok_or_else(|| anyhow!("joiner list: {v}"))?
        .iter()
        .cloned()
        .map(|mut e| {
            e.as_object_mut().map(|m| m.remove("expires_in"));
            e
        })
        .collect();
    out.sort_by_key(|e| e["entry"].to_string());
    Ok(out)
}

fn write(dir: &Path, name: &str, text: &str) -> Result<PathBuf> {
    let p = dir.join(name);
    std::fs::write(&p, text)?;
    Ok(p)
}

#[test]
fn a_mixed_file_is_imported_and_all_three_join() {
    with_sandbox(|sb| {
        let agent = up(sb)?;
        let nodes: Vec<CliNode> = (2..=4)
            .map(|id| CliNode::spawn(sb, id))
            .collect::<Result<_>>()?;
        let euis: Vec<String> = nodes.iter().map(|n| n.eui64()).collect::<Result<_>>()?;
        let file = format!(
            "# shipment 42 from the manufacturer\neui64,pskd,label\n{},{},kitchen\n{},{},\"hall, north\"\n\nv=1&&eui={}&&cc={}&&vn=OpenThread\n",
            euis[0], PSKDS[0], euis[1], PSKDS[1], euis[2].to_uppercase(), PSKDS[2]
        );
        let path = write(sb.path(), "devices.csv", &file)?;
        let path_s = path.to_str().unwrap().to_string();
        let mut events = threadctl_cmd(sb, &["events", "--json"])?;
        let (mut tap, tap_log) = proc::spawn_tracked(&mut events, &sb.log_path("events"))?;
        sb.register(tap.id());
        let mut cmd = threadctl_cmd(
            sb,
            &["joiner", "import", &path_s, "--timeout", "600", "--wait"],
        )?;
        let waiter = std::thread::spawn(move || proc::run_with_timeout(&mut cmd, WAIT_CTL_TIMEOUT));
        agent.wait_log("joiner entries imported", Duration::from_secs(30))?;
        let list = table(&agent)?;
        ensure!(list.len() == 3, "{list:?}");
        ensure!(
            list.iter()
                .any(|e| e["eui64"] == euis[0].as_str() && e["label"] == "kitchen"),
            "{list:?}"
        );
        ensure!(
            list.iter()
                .any(|e| e["eui64"] == euis[1].as_str() && e["label"] == "hall, north"),
            "{list:?}"
        );
        wait_steering(&agent)?;
        let t0 = Instant::now();
        let results: Vec<(u8, Result<bool>, u32)> = std::thread::scope(|s| {
            let hs: Vec<_> = nodes
                .iter()
                .zip(PSKDS)
                .map(|(n, pskd)| {
                    s.spawn(move || {
                        let mut attempts = 0;
                        loop {
                            attempts += 1;
                            let r = n.join(pskd, JOIN_TIMEOUT);
                            if matches!(r, Ok(true)) || attempts == 2 {
                                return (n.id(), r, attempts);
                            }
                        }
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().expect("join thread"))
                .collect()
        });
        for (id, r, attempts) in &results {
            println!(
                "node {id}: {r:?} ({attempts} attempt(s)) after {:?}",
                t0.elapsed()
            );
            ensure!(matches!(r, Ok(true)), "node {id} did not join");
        }
        let out = waiter.join().map_err(|_| anyhow!("threadctl thread"))??;
        let ctl = text(&out);
        ensure!(
            out.status.code() == Some(0),
            "import --wait: {} {ctl}",
            out.status
        );
        ensure!(
            ctl.contains("imported 3 joiner entries (unsigned)"),
            "{ctl}"
        );
        ensure!(ctl.contains("all 3 joiners joined"), "{ctl}");
        // The audit log: the import (count, labels), each entrust with its label.
        let a = audit(sb)?;
        ensure!(
            a.iter().any(|l| l["event"] == "entries-imported"
                && l["count"] == 3
                && l["labels"] == json!(["kitchen", "hall, north", null])
                && l["signer"].is_null()),
            "no entries-imported record: {a:?}"
        );
        for (eui, label) in [
            (&euis[0], json!("kitchen")),
            (&euis[1], json!("hall, north")),
        ] {
            ensure!(
                a.iter().any(|l| l["event"] == "joiner-entrusted"
                    && l["eui64"] == eui.as_str()
                    && l["label"] == label),
                "no labelled entrust for {eui}: {a:?}"
            );
        }
        ensure!(
            a.iter()
                .any(|l| l["event"] == "joiner-entrusted" && l["eui64"] == euis[2].as_str()),
            "no entrust for the QR device"
        );
        proc::kill_group(tap.id());
        let _ = tap.wait();
        ensure!(
            tap_log.text().contains("\"label\":\"kitchen\""),
            "events lack labels"
        );
        let mut outputs = vec![
            ("agent stderr".to_string(), std::fs::read(agent.log_file())?),
            (
                "audit log".into(),
                std::fs::read(sb.state_dir().join("audit.jsonl"))?,
            ),
            (
                "threadctl joiner import --wait".into(),
                [out.stdout, out.stderr].concat(),
            ),
            ("threadctl events".into(), tap_log.text().into_bytes()),
        ];
        let o = agent.threadctl(&["joiner", "list", "--json"])?;
        outputs.push((
            "threadctl joiner list".into(),
            [o.stdout, o.stderr].concat(),
        ));
        for (whence, bytes) in &outputs {
            assert_no_pskd(bytes, whence)?;
        }
        Ok(())
    });
}

/// A minisign key pair made for the test.
struct Keys {
    kp: minisign::KeyPair,
    /// The public key's base64 line.
    pk: String,
    /// minisign's key id (16 uppercase hex digits).
    key_id: String,
}

impl Keys {
    fn new() -> Result<Keys> {
        let kp = minisign::KeyPair::generate_unencrypted_keypair()
            .map_err(|e| anyhow!("minisign keypair: {e}"))?;
        let mut id = [0u8; 8];
        id.copy_from_slice(kp.pk.keynum());
        let key_id = format!("{:016X}", u64::from_le_bytes(id));
        let pk = kp.pk.to_base64();
        Ok(Keys { kp, pk, key_id })
    }

    /// The `.minisig` text of `data`.
    fn sign(&self, data: &[u8]) -> Result<String> {
        let sig = minisign::sign(
            Some(&self.kp.pk),
            &self.kp.sk,
            std::io::Cursor::new(data),
            Some("timestamp:0\tfile:devices.csv"),
            Some("signature from the manufacturer"),
        )
        .map_err(|e| anyhow!("minisign sign: {e}"))?;
        Ok(sig.to_string())
    }
}

#[test]
fn bad_lines_and_bad_signatures_are_refused_and_nothing_is_added() {
    with_sandbox(|sb| {
        let agent = up(sb)?;
        let mut outputs: Vec<(String, Vec<u8>)> = Vec::new();
        // One entry in the table already: it must stay exactly as it is.
        agent.threadctl_ok(&[
            "joiner",
            "add",
            "--eui64",
            "18b4300000000099",
            "--pskd",
            PSKDS[0],
            "--timeout",
            "600",
        ])?;
        let before = table(&agent)?;
        ensure!(before.len() == 1, "{before:?}");

        let bad = format!(
            "eui64,pskd,label\n18b4300000000001,{},a\n18b43,{},b\n18b4300000000004,{},d\n18b4300000000005,{},e\n",
            PSKDS[0], PSKDS[1], PSKDS[2], PSKDS[3]
        );
        let bad_path = write(sb.path(), "bad.csv", &bad)?;
        let o = agent.threadctl(&["joiner", "import", bad_path.to_str().unwrap()])?;
        let t = text(&o);
        ensure!(o.status.code() == Some(2), "bad file: {} {t}", o.status);
        ensure!(
            t.contains("line 3: EUI-64 \"18b43\" is not 16 hex digits"),
            "{t}"
        );
        ensure!(t.contains("line 5: PSKd is not valid: too short"), "{t}");
        ensure!(!t.contains("line 2") && !t.contains("line 4"), "{t}");
        outputs.push((
            "threadctl import bad.csv".into(),
            [o.stdout, o.stderr].concat(),
        ));
        // The agent checks for itself (the trust boundary): the same file sent raw.
        let r = raw(sb, "joiner.import", json!({"file": bad}))?;
        let msg = r["error"]["message"].as_str().unwrap_or("").to_string();
        ensure!(r["error"]["code"] == "invalid_params", "{r}");
        ensure!(
            msg.contains("line 3: ") && msg.contains("; line 5: "),
            "{msg}"
        );
        outputs.push(("joiner.import bad reply".into(), r.to_string().into_bytes()));
        ensure!(
            table(&agent)? == before,
            "the table changed after a refused file"
        );

        // A signed file verifies and names its signer.
        let keys = Keys::new()?;
        let (pk, key_id) = (keys.pk.clone(), keys.key_id.clone());
        let good = format!(
            "18b4300000000011,{},signed-1\nv=1&&eui=18b4300000000012&&cc={}\n",
            PSKDS[1], PSKDS[2]
        );
        let good_path = write(sb.path(), "devices.csv", &good)?;
        write(
            sb.path(),
            "devices.csv.minisig",
            &keys.sign(good.as_bytes())?,
        )?;
        let pub_path = write(
            sb.path(),
            "maker.pub",
            &format!("untrusted comment: minisign public key {key_id}\n{pk}\n"),
        )?;
        let good_s = good_path.to_str().unwrap();

        // One changed byte: refused by threadctl and by the agent, nothing added.
        let tampered = good.replacen("signed-1", "signed-2", 1);
        let tampered_path = write(sb.path(), "tampered.csv", &tampered)?;
        let sig_s = sb.path().join("devices.csv.minisig");
        let o = agent.threadctl(&[
            "joiner",
            "import",
            tampered_path.to_str().unwrap(),
            "--verify-key",
            &pk,
            "--signature",
            sig_s.to_str().unwrap(),
        ])?;
        let t = text(&o);
        ensure!(o.status.code() == Some(2), "tampered: {} {t}", o.status);
        ensure!(t.contains("signature refused"), "{t}");
        outputs.push((
            "threadctl import tampered".into(),
            [o.stdout, o.stderr].concat(),
        ));
        let sig_text = std::fs::read_to_string(&sig_s)?;
        let r = raw(
            sb,
            "joiner.import",
            json!({"file": tampered, "signature": sig_text, "verify_key": pk}),
        )?;
        ensure!(r["error"]["code"] == "invalid_params", "{r}");
        ensure!(
            r["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("signature refused"),
            "{r}"
        );
        let r = raw(sb, "joiner.import", json!({"file": good, "verify_key": pk}))?;
        ensure!(
            r["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("unsigned"),
            "{r}"
        );
        outputs.push((
            "joiner.import tampered reply".into(),
            r.to_string().into_bytes(),
        ));
        // Unsigned (no .sig, no .minisig) with a key: refused.
        let lone = write(sb.path(), "lone.csv", &good)?;
        let o = agent.threadctl(&[
            "joiner",
            "import",
            lone.to_str().unwrap(),
            "--verify-key",
            &pk,
        ])?;
        ensure!(
            o.status.code() == Some(2) && text(&o).contains("unsigned"),
            "{}",
            text(&o)
        );
        ensure!(
            table(&agent)? == before,
            "the table changed after a refused signature"
        );

        // The genuine file with the .pub file as the key (FILE.minisig found by default).
        let o = agent.threadctl(&[
            "joiner",
            "import",
            good_s,
            "--verify-key",
            pub_path.to_str().unwrap(),
            "--json",
        ])?;
        let t = text(&o);
        ensure!(o.status.code() == Some(0), "signed: {} {t}", o.status);
        let v: Value = serde_json::from_slice(&o.stdout)?;
        ensure!(v["imported"] == 2 && v["signer"] == key_id.as_str(), "{v}");
        ensure!(
            v["entries"][0]["label"] == "signed-1" && v["entries"][1]["label"].is_null(),
            "{v}"
        );
        outputs.push((
            "threadctl import signed".into(),
            [o.stdout, o.stderr].concat(),
        ));
        let after = table(&agent)?;
        ensure!(after.len() == 3, "{after:?}");
        ensure!(
            after
                .iter()
                .any(|e| e["eui64"] == "18b4300000000011" && e["signer"] == key_id.as_str()),
            "{after:?}"
        );
        let a = audit(sb)?;
        ensure!(
            a.iter().any(|l| l["event"] == "entries-imported"
                && l["signer"] == key_id.as_str()
                && l["count"] == 2),
            "{a:?}"
        );
        // Text output names the signer.
        let o = agent.threadctl(&["joiner", "import", good_s, "--verify-key", &pk])?;
        ensure!(
            text(&o).contains(&format!("imported 2 joiner entries (signed by {key_id})")),
            "{}",
            text(&o)
        );
        outputs.push((
            "threadctl import signed text".into(),
            [o.stdout, o.stderr].concat(),
        ));
        outputs.push(("agent stderr".into(), std::fs::read(agent.log_file())?));
        outputs.push((
            "audit log".into(),
            std::fs::read(sb.state_dir().join("audit.jsonl"))?,
        ));
        for (whence, bytes) in &outputs {
            assert_no_pskd(bytes, whence)?;
        }
        Ok(())
    });
}
