//! Issue 11 (credentials through the device's life), end to end on a simulated co-processor
//! (`ot-ncp-ftd`): so far `threadctl network energy-scan`, which an operator runs to choose a
//! quiet channel before migrating.
//!
//! Written against README.md ("threadctl") and docs/control-protocol.md (`network.energy_scan`).
//! Every wait has a generous deadline (a hang bound, not a speed test).

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use e2e::{with_sandbox, Agent, Sandbox};
use serde_json::Value;

const UP_TIMEOUT: Duration = Duration::from_secs(90);

fn leader(sb: &Sandbox) -> Result<Agent> {
    let mut agent = Agent::start(sb)?;
    agent.wait_log("network up", UP_TIMEOUT)?;
    agent.wait_status("role leader", UP_TIMEOUT, |v| v["role"] == "leader")?;
    Ok(agent)
}

#[test]
fn energy_scan_reports_every_requested_channel() {
    with_sandbox(energy_scan_reports_every_requested_channel_in);
}

fn energy_scan_reports_every_requested_channel_in(sb: &Sandbox) -> Result<()> {
    let mut agent = leader(sb)?;

    // --json: one entry per requested channel, in channel order, each with an RSSI in dBm.
    let out = agent.threadctl_ok(&[
        "network",
        "energy-scan",
        "--channels",
        "11,15,20-21",
        "--json",
    ])?;
    let v: Value = serde_json::from_str(out.trim()).context("energy-scan --json is not JSON")?;
    eprintln!("energy-scan --json: {}", out.trim());
    let channels: Vec<(u64, i64)> = v["channels"]
        .as_array()
        .context("no `channels` array")?
        .iter()
        .map(|c| {
            (
                c["channel"].as_u64().unwrap_or(0),
                c["max_rssi"].as_i64().unwrap_or(i64::MIN),
            )
        })
        .collect();
    ensure!(
        channels.iter().map(|c| c.0).collect::<Vec<_>>() == [11, 15, 20, 21],
        "channels {channels:?} in {v}"
    );
    ensure!(
        channels.iter().all(|c| (-128..=127).contains(&c.1)),
        "max_rssi not a dBm value: {v}"
    );

    // The table: a header and one row per channel (here the default, all 16).
    let started = std::time::Instant::now();
    let table = agent.threadctl_ok(&["network", "energy-scan"])?;
    eprintln!(
        "energy-scan of 16 channels: {:?}\n{table}",
        started.elapsed()
    );
    let rows: Vec<&str> = table.lines().skip(1).collect();
    ensure!(table.starts_with("CHANNEL"), "no header:\n{table}");
    ensure!(rows.len() == 16, "expected 16 rows:\n{table}");
    for (row, ch) in rows.iter().zip(11..=26) {
        ensure!(
            row.trim_start().starts_with(&ch.to_string()),
            "row {row:?} is not channel {ch}"
        );
        ensure!(row.contains("dBm"), "row {row:?} has no dBm value");
    }

    // The network is still up afterwards.
    agent.wait_status("role leader after the scan", UP_TIMEOUT, |v| {
        v["role"] == "leader"
    })?;

    // Channel 27 is not a Thread channel: one error line, the usage exit code 2.
    let out = agent.threadctl(&["network", "energy-scan", "--channels", "11,27"])?;
    let err = String::from_utf8_lossy(&out.stderr);
    ensure!(
        out.status.code() == Some(2),
        "exit {:?}, stderr {err:?}",
        out.status.code()
    );
    ensure!(out.stdout.is_empty(), "stdout on error: {:?}", out.stdout);
    ensure!(err.lines().count() == 1, "not one line: {err:?}");
    ensure!(
        err.contains("27"),
        "error does not name channel 27: {err:?}"
    );
    Ok(())
}
