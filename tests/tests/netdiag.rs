//! Issue 12 (part): presence by identity. The agent (leader, simulated `ot-ncp-ftd`) asks the mesh
//! for network diagnostics through its co-processor's Border Agent UDP proxy (DIAG_GET.qry to
//! `ff03::1`, as ot-commissioner's `netdiag query`), through the test-only control method
//! `debug.diag_query` (served with `THREAD_AGENT_DEBUG_METHODS=1`): a router (CLI node 2) and a
//! `mode rn` child (CLI node 3) must both answer with their EUI-64 (`eui64` on their CLI) and
//! RLOC16 (`rloc16`). The commissioner is idle before: the call petitions, queries, and the
//! session ends again after the linger. Whether the agent's own co-processor answers and how long
//! the answers took are printed, not asserted.

use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Context, Result};
use e2e::network::{bridge_env, start_child, start_router, wait_member, NODE_TIMEOUT, UP_TIMEOUT};
use e2e::{rpc, with_sandbox, Agent, AgentOptions, Sandbox};
use serde_json::{json, Value};

/// How long the agent collects answers per query.
const WAIT_S: u64 = 5;
/// The answers of a freshly attached child can lag (the first query may go out before its
/// parent knows it well): this many queries at most.
const ROUNDS: usize = 4;

fn answer_of<'a>(answers: &'a [Value], eui64: &str) -> Option<&'a Value> {
    answers.iter().find(|a| a["eui64"] == eui64)
}

#[test]
fn both_nodes_answer_with_their_eui64_and_rloc16() {
    with_sandbox(both_nodes_answer_in);
}

fn both_nodes_answer_in(sb: &Sandbox) -> Result<()> {
    let opts = AgentOptions {
        env: vec![
            bridge_env(sb),
            ("THREAD_AGENT_DEBUG_METHODS".into(), "1".into()),
        ],
        ..Default::default()
    };
    let mut agent = Agent::start_with(sb, &opts)?;
    agent.wait_status("the agent leads its network", UP_TIMEOUT, |s| {
        s["role"] == "leader"
    })?;
    let dataset = agent.dataset_export()?;
    let router = start_router(sb, 2, &dataset)?;
    let child = start_child(sb, 3, &dataset)?;
    let partition = agent.status_json()?["partition_id"]
        .as_u64()
        .context("status has no partition_id")?;
    wait_member(&router, &["router"], partition, NODE_TIMEOUT)?;
    wait_member(&child, &["child"], partition, NODE_TIMEOUT)?;
    let nodes = [&router, &child];
    let want: Vec<(String, String)> = nodes
        .iter()
        .map(|n| Ok((n.eui64()?, format!("0x{}", n.value("rloc16")?))))
        .collect::<Result<_>>()?;
    let status = agent.status_json()?;
    let ncp_eui64 = status["ncp"]["eui64"].as_str().unwrap_or("").to_string();
    println!("nodes (eui64, rloc16): {want:?}; agent co-processor eui64 {ncp_eui64}");

    let commissioner = rpc(sb, "commissioner.status", json!({}))?;
    println!("commissioner before: {}", commissioner["state"]);

    let started = Instant::now();
    let mut answers: Vec<Value> = Vec::new();
    for round in 1..=ROUNDS {
        let t = Instant::now();
        let r = rpc(sb, "debug.diag_query", json!({"wait": WAIT_S}))?;
        let got = r["answers"]
            .as_array()
            .cloned()
            .ok_or_else(|| anyhow!("no answers list: {r}"))?;
        println!(
            "round {round}: {} answers in {:.1} s (call incl. petition): {}",
            got.len(),
            t.elapsed().as_secs_f64(),
            Value::Array(got.clone())
        );
        for a in got {
            if !answers.iter().any(|b| b["source"] == a["source"]) {
                answers.push(a);
            }
        }
        if want.iter().all(|(e, _)| answer_of(&answers, e).is_some()) {
            break;
        }
    }
    println!(
        "all node answers after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for (eui, rloc) in &want {
        let a = answer_of(&answers, eui)
            .ok_or_else(|| anyhow!("no answer with EUI-64 {eui}: {answers:?}"))?;
        ensure!(
            a["rloc16"] == rloc.as_str(),
            "{eui}: rloc16 {} != {rloc}",
            a["rloc16"]
        );
        ensure!(
            a["ext_address"].as_str().is_some_and(|x| x.len() == 16),
            "{eui}: ext address {a}"
        );
        ensure!(a["mode"].is_u64(), "{eui}: mode {a}");
    }
    // How fast: a query collecting for 1 s only.
    let t = Instant::now();
    let quick = rpc(sb, "debug.diag_query", json!({"wait": 1}))?;
    let n = quick["answers"].as_array().map_or(0, Vec::len);
    println!(
        "a 1 s query (session active): {n} answers, call {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let own = answer_of(&answers, &ncp_eui64).is_some();
    println!("the agent's own co-processor answered: {own}");

    // The session the query petitioned for ends again (linger 5 s, resignation).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = rpc(sb, "commissioner.status", json!({}))?;
        if s["state"] == "idle" {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "commissioner still {} 30 s after the query",
            s["state"]
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    Ok(())
}
