//! Issue 14 end to end: the OpenThread Border Router REST API (`[rest]`), on the real
//! `thread-agent` (simulated `ot-ncp-ftd`) with a real `ot-cli-ftd` node, driven by real HTTP
//! clients: curl for status codes, content types and malformed requests, and Home Assistant's own
//! client library, `python-otbr-api` (pip; `.ci/run` installs it), for the calls Home Assistant
//! makes (probe, datasets, enable/disable, channel change, factory reset).
//!
//! Two independent tests, each with its own sandbox and radio: `home_assistant_adopts_the_agent`
//! (one agent for the whole Home Assistant story; it waits out one 30 s pending dataset delay) and
//! `a_non_loopback_listener_needs_credentials`.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use e2e::agent::{fatal_line, run_agent_once, AgentOptions};
use e2e::network::{audit, start_router, wait_member, NODE_TIMEOUT, UP_TIMEOUT};
use e2e::{with_sandbox, Agent, Sandbox};
use serde_json::Value;

/// Home Assistant's calls, through python-otbr-api (the library its `otbr` integration uses).
const HA_SCRIPT: &str = r#"
import asyncio, json, sys
import aiohttp, python_otbr_api
from python_otbr_api import ActiveDataSet

async def main(url, op, *args):
    async with aiohttp.ClientSession() as s:
        api = python_otbr_api.OTBR(url, s)
        if op == "info":
            tlvs = await api.get_active_dataset_tlvs()
            ds = await api.get_active_dataset()
            print(json.dumps({
                "tlvs": tlvs.hex() if tlvs else None,
                "network_name": ds.network_name if ds else None,
                "channel": ds.channel if ds else None,
                "ba_id": (await api.get_border_agent_id()).hex(),
                "ext_address": (await api.get_extended_address()).hex(),
                "version": await api.get_coprocessor_version(),
                "pending": (await api.get_pending_dataset_tlvs() or b"").hex(),
            }))
        elif op == "enable":
            await api.set_enabled(args[0] == "1")
        elif op == "active":
            await api.create_active_dataset(ActiveDataSet(
                network_name=args[0], channel=int(args[1]), pan_id=int(args[2], 16)))
        elif op == "channel":
            await api.set_channel(int(args[0]), delay=int(args[1]))
        elif op == "factory_reset":
            await api.factory_reset()
        print("ok")

asyncio.run(main(*sys.argv[1:]))
"#;

/// A TCP port for this sandbox's REST API (radio ports are 9000 + 129 * offset, far below).
fn rest_port(sb: &Sandbox) -> u16 {
    30000 + sb.port_offset()
}

fn run(cmd: &mut Command, what: &str) -> Result<std::process::Output> {
    e2e::proc::run_with_timeout(cmd, Duration::from_secs(60)).with_context(|| what.to_string())
}

/// Runs the Home Assistant script; its stdout.
fn ha(url: &str, args: &[&str]) -> Result<String> {
    let out = run(
        Command::new("python3")
            .arg("-c")
            .arg(HA_SCRIPT)
            .arg(url)
            .args(args),
        "python-otbr-api",
    )?;
    ensure!(
        out.status.success(),
        "python-otbr-api {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// One curl request: (status, content type, body).
fn curl(url: &str, args: &[&str]) -> Result<(u16, String, String)> {
    let out = run(
        Command::new("curl")
            .args(["-sS", "-o", "-", "-w", "\n%{http_code} %{content_type}"])
            .args(args)
            .arg(url),
        "curl",
    )?;
    ensure!(
        out.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, tail) = text.rsplit_once('\n').unwrap_or(("", &text));
    let (code, ct) = tail.split_once(' ').unwrap_or((tail, ""));
    Ok((code.parse()?, ct.to_string(), body.to_string()))
}

fn expect(r: (u16, String, String), status: u16, ct: &str, what: &str) -> Result<String> {
    ensure!(
        r.0 == status && r.1.starts_with(ct),
        "{what}: expected {status} {ct:?}, got {} {:?}: {}",
        r.0,
        r.1,
        r.2
    );
    Ok(r.2)
}

fn poll<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Result<Option<T>>) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        let last = match f() {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => String::new(),
            Err(e) => format!("{e:#}"),
        };
        if Instant::now() >= deadline {
            bail!("{what}: not within {timeout:?} {last}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn start_agent(sb: &Sandbox, extra: Vec<(String, String)>) -> Result<Agent> {
    e2e::network::leader_agent_with(sb, extra)
}

#[test]
fn home_assistant_adopts_the_agent() {
    with_sandbox(|sb| {
        let port = rest_port(sb);
        let listen = format!("127.0.0.1:{port}");
        let mut agent = start_agent(
            sb,
            vec![("THREAD_AGENT_REST__LISTEN".into(), listen.clone())],
        )?;
        let url = format!("http://{listen}");
        let u = |p: &str| format!("{url}{p}");

        // Every row, in OpenThread Border Router's format.
        expect(
            curl(&u("/api/actions"), &[])?,
            200,
            "application/vnd.api+json",
            "GET /api/actions",
        )?;
        let node: Value = serde_json::from_str(&expect(
            curl(&u("/node"), &[])?,
            200,
            "application/json",
            "GET /node",
        )?)?;
        ensure!(
            node["state"] == "leader" && node["networkName"].is_string(),
            "GET /node: {node}"
        );
        let state = expect(
            curl(&u("/node/state"), &[])?,
            200,
            "application/json",
            "GET /node/state",
        )?;
        ensure!(state.trim() == "\"leader\"", "GET /node/state: {state}");
        let v: Value = serde_json::from_str(&expect(
            curl(&u("/node/coprocessor/version"), &[])?,
            200,
            "application/json",
            "version",
        )?)?;
        ensure!(
            v.as_str().is_some_and(|s| s.contains("OPENTHREAD")),
            "version {v}"
        );
        expect(
            curl(&u("/node/dataset/pending"), &[])?,
            204,
            "",
            "GET pending (none)",
        )?;
        let hex = expect(
            curl(&u("/node/dataset/active"), &["-H", "Accept: text/plain"])?,
            200,
            "text/plain",
            "GET active text/plain",
        )?;
        ensure!(
            hex.to_lowercase() == agent.dataset_export()?,
            "the hex TLVs are the active dataset"
        );
        let j: Value = serde_json::from_str(&expect(
            curl(&u("/node/dataset/active"), &[])?,
            200,
            "application/json",
            "GET active JSON",
        )?)?;
        ensure!(
            j["networkKey"].as_str().is_some_and(|k| k.len() == 32)
                && j["activeTimestamp"]["seconds"].is_u64(),
            "GET active JSON: {j}"
        );
        let info: Value = serde_json::from_str(ha(&url, &["info"])?.lines().next().unwrap_or(""))?;
        ensure!(
            info["tlvs"].as_str() == Some(hex.to_lowercase().as_str()),
            "HA reads the TLVs: {info}"
        );
        ensure!(
            info["ba_id"].as_str().is_some_and(|b| b.len() == 32),
            "ba-id {info}"
        );
        ensure!(
            info["ext_address"].as_str().is_some_and(|b| b.len() == 16),
            "ext-address {info}"
        );
        let reads: Vec<Value> = audit(sb)?
            .into_iter()
            .filter(|r| r["event"] == "dataset-read")
            .collect();
        ensure!(
            reads.len() >= 4
                && reads.iter().all(|r| r["peer"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("127.0.0.1:"))),
            "an audit record per dataset read, with the peer: {reads:?}"
        );

        // A CLI node given the text/plain dataset attaches.
        let node2 = start_router(sb, 2, &hex.to_lowercase())?;
        let partition = agent.status_json()?["partition_id"]
            .as_u64()
            .context("partition")?;
        wait_member(&node2, &["router", "child"], partition, NODE_TIMEOUT)?;

        // Malformed requests: the right 4xx, no crash, no change.
        let before = agent.dataset_export()?;
        for (args, path, status, what) in [
            (
                vec![
                    "-X",
                    "PUT",
                    "-H",
                    "Content-Type: application/json",
                    "-d",
                    "{nope",
                ],
                "/node/dataset/active",
                400,
                "bad JSON",
            ),
            (
                vec!["-X", "PUT", "-H", "Content-Type: text/plain", "-d", "zz11"],
                "/node/dataset/pending",
                400,
                "bad hex",
            ),
            (
                vec![
                    "-X",
                    "PUT",
                    "-H",
                    "Content-Type: application/json",
                    "-d",
                    "{\"delay\":\"soon\"}",
                ],
                "/node/dataset/pending",
                400,
                "bad pending JSON",
            ),
            (
                vec![
                    "-X",
                    "PUT",
                    "-H",
                    "Content-Type: application/json",
                    "-d",
                    "\"maybe\"",
                ],
                "/node/state",
                400,
                "bad state",
            ),
            (
                vec![
                    "-X",
                    "PUT",
                    "-H",
                    "Content-Type: application/json",
                    "-d",
                    "{\"channel\":12}",
                ],
                "/node/dataset/active",
                409,
                "active while Thread is enabled",
            ),
            (
                vec!["-X", "DELETE"],
                "/node/dataset/active",
                409,
                "delete active while enabled",
            ),
            (vec![], "/node/nothing", 404, "unknown path"),
            (
                vec!["-X", "POST", "-d", "x"],
                "/node/state",
                405,
                "wrong method",
            ),
        ] {
            let r = curl(&u(path), &args)?;
            ensure!(
                r.0 == status,
                "{what}: expected {status}, got {} {}",
                r.0,
                r.2
            );
        }
        let big = "a".repeat(64 * 1024);
        let big_file = sb.path().join("big.txt");
        std::fs::write(&big_file, &big)?;
        let r = curl(
            &u("/node/dataset/active"),
            &[
                "-X",
                "PUT",
                "-H",
                "Content-Type: text/plain",
                "--data-binary",
                &format!("@{}", big_file.display()),
            ],
        )?;
        ensure!(r.0 == 413, "oversized body: {} {}", r.0, r.2);
        ensure!(agent.exited()?.is_none(), "the agent is still running");
        ensure!(agent.dataset_export()? == before, "nothing changed");

        // The commissioner and its joiner table (mapped onto joiner.add / list / remove).
        let st = expect(
            curl(&u("/node/commissioner/state"), &[])?,
            200,
            "application/json",
            "commissioner state",
        )?;
        ensure!(
            st.trim() == "\"disabled\"",
            "commissioner state at start: {st}"
        );
        let joiner = r#"{"joinerId":"18b4300000000042","pskd":"J01NME","timeout":120}"#;
        expect(
            curl(
                &u("/node/commissioner/joiner"),
                &[
                    "-X",
                    "POST",
                    "-H",
                    "Content-Type: application/json",
                    "-d",
                    joiner,
                ],
            )?,
            200,
            "",
            "POST joiner",
        )?;
        let list = expect(
            curl(&u("/node/commissioner/joiner"), &[])?,
            200,
            "application/json",
            "GET joiners",
        )?;
        ensure!(
            list.contains("18b4300000000042") && !list.contains("J01NME"),
            "the joiner table, no PSKd: {list}"
        );
        poll("the commissioner active", Duration::from_secs(60), || {
            let (_, _, b) = curl(&u("/node/commissioner/state"), &[])?;
            Ok((b.trim() == "\"active\"").then_some(()))
        })?;
        let bad_pskd = r#"{"joinerId":"18b4300000000043","pskd":"ABC12"}"#;
        let r = curl(
            &u("/node/commissioner/joiner"),
            &["-X", "POST", "-d", bad_pskd],
        )?;
        ensure!(
            r.0 == 400 && !r.2.contains("ABC12"),
            "a bad PSKd: {} {}",
            r.0,
            r.2
        );
        expect(
            curl(
                &u("/node/commissioner/joiner"),
                &["-X", "DELETE", "-d", "\"18b4300000000042\""],
            )?,
            200,
            "",
            "DELETE joiner",
        )?;
        let r = curl(
            &u("/node/commissioner/joiner"),
            &["-X", "DELETE", "-d", "\"18b4300000000042\""],
        )?;
        ensure!(r.0 == 404, "DELETE an absent joiner: {} {}", r.0, r.2);
        expect(
            curl(
                &u("/node/commissioner/state"),
                &["-X", "PUT", "-d", "\"disable\""],
            )?,
            200,
            "",
            "PUT commissioner disable",
        )?;

        // Home Assistant's channel change: a pending dataset with a 30 s delay.
        let old_channel = agent.status_json()?["channel"]
            .as_u64()
            .context("channel")?;
        let new_channel = if old_channel == 20 { 21 } else { 20 };
        ha(&url, &["channel", &new_channel.to_string(), "30000"])?;
        expect(
            curl(&u("/node/dataset/pending"), &["-H", "Accept: text/plain"])?,
            200,
            "text/plain",
            "GET pending",
        )?;
        let r = curl(
            &u("/node/dataset/pending"),
            &[
                "-X",
                "PUT",
                "-H",
                "If-None-Match: *",
                "-H",
                "Content-Type: application/json",
                "-d",
                "{\"activeDataset\":{\"channel\":22},\"delay\":30000}",
            ],
        )?;
        ensure!(
            r.0 == 412,
            "a second pending dataset with If-None-Match: {} {}",
            r.0,
            r.2
        );
        agent.wait_status(
            "the network on the new channel",
            Duration::from_secs(90),
            |s| s["channel"].as_u64() == Some(new_channel) && s["role"] == "leader",
        )?;
        poll(
            "the CLI node on the new channel",
            Duration::from_secs(60),
            || Ok((node2.channel()? as u64 == new_channel).then_some(())),
        )?;

        // disable, PUT active (JSON: network name, channel, PAN ID), enable.
        ha(&url, &["enable", "0"])?;
        let state = expect(
            curl(&u("/node/state"), &[])?,
            200,
            "application/json",
            "state",
        )?;
        ensure!(state.trim() == "\"disabled\"", "after disable: {state}");
        ha(&url, &["active", "RestNet", "25", "0x1234"])?;
        ha(&url, &["enable", "1"])?;
        let s = agent.wait_status("leader of RestNet on channel 25", UP_TIMEOUT, |s| {
            s["role"] == "leader" && s["network_name"] == "RestNet"
        })?;
        ensure!(
            s["channel"] == 25 && s["pan_id"] == "0x1234",
            "threadctl status agrees: {s}"
        );

        // DELETE /node: gone from the co-processor and the backup; audited with the peer.
        ha(&url, &["factory_reset"])?;
        expect(
            curl(&u("/node/dataset/active"), &[])?,
            204,
            "",
            "GET active after factory reset",
        )?;
        ensure!(
            !sb.state_dir().join("dataset.tlvs").exists(),
            "the backup is gone"
        );
        let reset = audit(sb)?
            .into_iter()
            .find(|r| r["event"] == "factory-reset")
            .context("factory-reset audit record")?;
        ensure!(
            reset["peer"]
                .as_str()
                .is_some_and(|p| p.starts_with("127.0.0.1:")),
            "who asked: {reset}"
        );
        ensure!(
            agent.exited()?.is_none(),
            "the agent is still running after the reset"
        );
        // After the reset: a JSON PUT makes a new random dataset (201) and enable forms it.
        let body = r#"{"networkName":"Fresh","channel":17}"#;
        expect(
            curl(
                &u("/node/dataset/active"),
                &[
                    "-X",
                    "PUT",
                    "-H",
                    "Content-Type: application/json",
                    "-d",
                    body,
                ],
            )?,
            201,
            "",
            "PUT active on a blank node",
        )?;
        expect(
            curl(&u("/node/state"), &["-X", "PUT", "-d", "\"enable\""])?,
            200,
            "",
            "enable",
        )?;
        let s = agent.wait_status("leader of Fresh", UP_TIMEOUT, |s| {
            s["role"] == "leader" && s["network_name"] == "Fresh"
        })?;
        ensure!(s["channel"] == 17, "{s}");
        ensure!(
            sb.state_dir().join("dataset.tlvs").exists(),
            "the new dataset is backed up"
        );
        // No network key in the agent's log or the audit log (only the deliberate HTTP export).
        let key = j["networkKey"]
            .as_str()
            .context("networkKey")?
            .to_lowercase();
        for (name, text) in [
            ("agent log", agent.log_text()),
            (
                "audit log",
                std::fs::read_to_string(sb.state_dir().join("audit.jsonl"))?,
            ),
        ] {
            ensure!(
                !text.to_lowercase().contains(&key),
                "the network key is in the {name}"
            );
        }
        Ok(())
    });
}

#[test]
fn a_non_loopback_listener_needs_credentials() {
    with_sandbox(|sb| {
        let port = rest_port(sb);
        let listen = format!("0.0.0.0:{port}");
        let opts = |env: Vec<(String, String)>| AgentOptions {
            env,
            ..Default::default()
        };
        let out = run_agent_once(
            sb,
            &opts(vec![("THREAD_AGENT_REST__LISTEN".into(), listen.clone())]),
            Duration::from_secs(30),
        )?;
        let line = fatal_line(&out, 2)?;
        ensure!(line.contains("credentials_file"), "says why: {line}");

        let creds = sb.path().join("rest-credentials");
        std::fs::write(&creds, "homeassistant:s3cret-pass\n")?;
        std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o644))?;
        let env = vec![
            ("THREAD_AGENT_REST__LISTEN".to_string(), listen.clone()),
            (
                "THREAD_AGENT_REST__CREDENTIALS_FILE".to_string(),
                creds.display().to_string(),
            ),
        ];
        let out = run_agent_once(sb, &opts(env.clone()), Duration::from_secs(30))?;
        let line = fatal_line(&out, 2)?;
        ensure!(
            line.contains("0600"),
            "a readable credentials file is refused: {line}"
        );

        std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600))?;
        let _agent = start_agent(sb, env)?;
        let url = format!("http://127.0.0.1:{port}/node/dataset/active");
        for (args, what) in [
            (vec![], "no credentials"),
            (vec!["-u", "homeassistant:wrong"], "wrong password"),
        ] {
            let r = curl(&url, &args)?;
            ensure!(
                r.0 == 401 && !r.2.contains("networkKey"),
                "{what}: {} {}",
                r.0,
                r.2
            );
        }
        let body = expect(
            curl(&url, &["-u", "homeassistant:s3cret-pass"])?,
            200,
            "application/json",
            "right credentials",
        )?;
        ensure!(body.contains("networkKey"), "{body}");
        // Home Assistant's URL form http://user:secret@host:port.
        let info = ha(
            &format!("http://homeassistant:s3cret-pass@127.0.0.1:{port}"),
            &["info"],
        )?;
        ensure!(info.contains("\"tlvs\""), "{info}");
        Ok(())
    });
}
