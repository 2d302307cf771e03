//! Joiner benchmark (issue 4): N simulated joiners (`ot-cli-ftd`) started at the same moment,
//! commissioned two ways:
//!
//! * **A — through thread-agent**: the real `thread-agent` on a simulated co-processor
//!   (`ot-ncp-ftd`, node 1) with one EUI-64 entry and a distinct PSKd per joiner
//!   (`threadctl joiner add --eui64 <eui> --pskd <pskd>`), and
//! * **B — through OpenThread's own commissioner**: an `ot-cli-ftd` leader (node 2) running
//!   `commissioner start` + `commissioner joiner add * <pskd>` (one wildcard entry, one shared
//!   PSKd; the same commissioner code an NCP runs, which holds at most 2 entries and serves one
//!   joiner session at a time),
//!
//! and reports, for each, every joiner's time from the common start to `Join success`, its
//! attempts (a joiner retries after `Join failed`), and total / min / median / max.
//!
//! Usage (the bench binaries run from the release profile, so build the release agent first):
//!
//! ```text
//! cargo build --release -p agent -p commissioner-cli --bins
//! cargo bench -p e2e --bench joiners -- --joiners 10
//! cargo bench -p e2e --bench joiners -- --joiners 30 --skip-ncp-commissioner
//! ```
//!
//! Flags: `--joiners N` (default 10), `--skip-agent`, `--skip-ncp-commissioner`, `--cap SECS`
//! (per part, from the common start; default 600), `--max-attempts K` (A only; default 10; B
//! retries until the cap), `--per-network M` (joiners per simulated network, 1..=127 for A,
//! 1..=126 for B; default the maximum), `--agent-log-level LEVEL`, `--logs DIR` (copy each
//! network's logs and audit log there before the sandboxes are deleted).
//!
//! Scaling: the test bed builds the simulation with 128 node ids (`testbed/build-ot.sh`,
//! `OT_SIMULATION_MAX_NETWORK_SIZE`) and allows CLI ids 2..=128 (see `e2e::ports`), so one network
//! holds at most 127 joiners (A: the co-processor is node 1) or 126 (B: the leader is node 2). Larger N is split evenly over several networks (each
//! its own sandbox, `PORT_OFFSET`, agent or leader), all started at the same moment.
//!
//! Guarantees: numbers only, no assertion on a duration; every process is killed at the end (the
//! sandboxes do it on drop, also on error). Validated against ot-cli-ftd / ot-ncp-ftd built by
//! `testbed/build-ot.sh` (openthread-sys 0.4.0) and the workspace's thread-agent.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use e2e::network::EventsTap;
use e2e::{workspace_bins, Agent, AgentOptions, CliNode, Sandbox, ATTACH_TIMEOUT};
use serde_json::Value;

/// Deadline for the agent to lead its network (a hang bound).
const UP_TIMEOUT: Duration = Duration::from_secs(120);
/// Deadline for the commissioner to be active with its steering data accepted.
const PETITION_TIMEOUT: Duration = Duration::from_secs(90);
/// Joiners wait for this long after set-up so they all start at the same instant.
const START_DELAY: Duration = Duration::from_millis(300);
/// PSKd of B's wildcard entry (6..32 of 0-9 A-Z without I O Q Z).
const SHARED_PSKD: &str = "BENCHANY";

/// Command-line options.
#[derive(Debug, Clone)]
struct Opts {
    joiners: usize,
    skip_agent: bool,
    skip_ncp: bool,
    cap: Duration,
    max_attempts: u32,
    per_network: Option<usize>,
    /// `[log] level` of the agents (`--agent-log-level`).
    agent_log_level: Option<String>,
    /// Where to copy every network's logs before the sandboxes go (`--logs DIR`).
    logs: Option<std::path::PathBuf>,
}

fn usage() -> &'static str {
    "usage: joiners [--joiners N] [--skip-agent] [--skip-ncp-commissioner] [--cap SECS] \
     [--max-attempts K] [--per-network M] [--agent-log-level LEVEL] [--logs DIR]"
}

fn parse_args() -> Result<Opts> {
    let mut o = Opts {
        joiners: 10,
        skip_agent: false,
        skip_ncp: false,
        cap: Duration::from_secs(600),
        max_attempts: 10,
        per_network: None,
        agent_log_level: None,
        logs: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |name: &str| -> Result<u64> {
            let v = args
                .next()
                .ok_or_else(|| anyhow!("{name} needs a value; {}", usage()))?;
            v.parse::<u64>()
                .map_err(|_| anyhow!("{name}: {v:?} is not a number; {}", usage()))
        };
        match a.as_str() {
            "--joiners" => o.joiners = num("--joiners")? as usize,
            "--cap" => o.cap = Duration::from_secs(num("--cap")?),
            "--max-attempts" => o.max_attempts = num("--max-attempts")? as u32,
            "--per-network" => o.per_network = Some(num("--per-network")? as usize),
            "--agent-log-level" => {
                o.agent_log_level = Some(
                    args.next()
                        .ok_or_else(|| anyhow!("--agent-log-level needs a value"))?,
                )
            }
            "--logs" => {
                o.logs = Some(
                    args.next()
                        .ok_or_else(|| anyhow!("--logs needs a directory"))?
                        .into(),
                )
            }
            "--skip-agent" => o.skip_agent = true,
            "--skip-ncp-commissioner" => o.skip_ncp = true,
            // cargo bench appends `--bench`; a filter string may follow it.
            "--bench" => {}
            "-h" | "--help" => {
                println!("{}", usage());
                std::process::exit(0);
            }
            other if !other.starts_with('-') => {}
            other => bail!("unknown argument {other:?}; {}", usage()),
        }
    }
    ensure!(o.joiners >= 1, "--joiners must be at least 1");
    ensure!(o.max_attempts >= 1, "--max-attempts must be at least 1");
    Ok(o)
}

/// CLI node ids for joiners from `first` on (the test bed allows 2..=128).
fn joiner_ids(first: u8) -> Vec<u8> {
    (first..=128).collect()
}

/// Splits `n` joiners evenly over as few networks as hold at most `max` each.
fn split(n: usize, max: usize) -> Vec<usize> {
    let nets = n.div_ceil(max);
    (0..nets)
        .map(|i| n / nets + usize::from(i < n % nets))
        .collect()
}

/// One joiner's result.
#[derive(Debug, Clone)]
struct Outcome {
    network: usize,
    node: u8,
    eui64: String,
    attempts: u32,
    /// Time from the common start to `Join success`.
    joined_at: Option<Duration>,
    /// Why earlier attempts failed (`Join failed [...]` lines, or a command error).
    failures: Vec<String>,
}

/// A joiner ready to start.
struct Joiner {
    network: usize,
    node: CliNode,
    eui64: String,
    pskd: String,
}

/// Runs `joiner start` until `Join success`, `max_attempts` or the deadline.
fn join_until(j: &Joiner, start: Instant, deadline: Instant, max_attempts: u32) -> Outcome {
    let re = regex::Regex::new("Join (success|failed)").expect("static regex");
    let mut out = Outcome {
        network: j.network,
        node: j.node.id(),
        eui64: j.eui64.clone(),
        attempts: 0,
        joined_at: None,
        failures: Vec::new(),
    };
    while out.attempts < max_attempts && Instant::now() < deadline {
        out.attempts += 1;
        let from = j.node.mark();
        if let Err(e) = j.node.cmd(&format!("joiner start {}", j.pskd)) {
            let msg = first_line(&format!("{e:#}"));
            // `Error <n>: <name>` (e.g. Busy) is worth a retry; anything else (the node is
            // gone, no answer) is not.
            let answered = msg.contains("answered Error");
            out.failures.push(msg);
            if !answered {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
            continue;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match j
            .node
            .wait_for_from(from, &re, left.max(Duration::from_secs(1)))
        {
            Ok(line) if line.contains("success") => {
                out.joined_at = Some(start.elapsed());
                return out;
            }
            Ok(line) => out
                .failures
                .push(line.trim().trim_start_matches(['>', ' ']).to_string()),
            Err(_) => {
                out.failures.push("no outcome before the cap".to_string());
                let _ = j.node.cmd("joiner stop");
            }
        }
    }
    out
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

/// Starts every joiner at the same instant, each in its own thread; returns the start and results.
fn run_all(joiners: &[&Joiner], cap: Duration, max_attempts: u32) -> (Duration, Vec<Outcome>) {
    for j in joiners {
        // Prepared before the clock starts (as a device is powered before it is told to join).
        if let Err(e) = j.node.cmd("ifconfig up") {
            eprintln!("node {}: ifconfig up: {e:#}", j.node.id());
        }
    }
    let start = Instant::now() + START_DELAY;
    let deadline = start + cap;
    let done = AtomicUsize::new(0);
    let outcomes: Vec<Outcome> = std::thread::scope(|s| {
        let hs: Vec<_> = joiners
            .iter()
            .map(|j| {
                let done = &done;
                let j: &Joiner = j;
                s.spawn(move || {
                    std::thread::sleep(start.saturating_duration_since(Instant::now()));
                    let o = join_until(j, start, deadline, max_attempts);
                    let k = done.fetch_add(1, Ordering::SeqCst) + 1;
                    eprintln!(
                        "  [{k}/{}] net {} node {}: {} after {:.1} s, {} attempt(s)",
                        joiners.len(),
                        o.network,
                        o.node,
                        if o.joined_at.is_some() {
                            "joined"
                        } else {
                            "gave up"
                        },
                        start.elapsed().as_secs_f64(),
                        o.attempts
                    );
                    o
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().expect("joiner thread panicked"))
            .collect()
    });
    (start.elapsed(), outcomes)
}

/// A network commissioned by thread-agent.
struct AgentNet {
    joiners: Vec<Joiner>,
    agent: Agent,
    sandbox: Sandbox,
}

fn ctl_json(agent: &Agent, args: &[&str]) -> Result<Value> {
    let out = agent.threadctl_ok(args)?;
    serde_json::from_str(out.trim()).with_context(|| format!("threadctl {args:?}: {out:?}"))
}

/// Sets up the agent networks. Every process is spawned from the main thread (the test bed's
/// children die with the thread that spawned them, PR_SET_PDEATHSIG); the agents are all started
/// before the first wait, so their start-ups overlap.
fn setup_agent_nets(sizes: &[usize], log_level: Option<&str>) -> Result<Vec<AgentNet>> {
    let opts = AgentOptions {
        env: log_level
            .map(|l| vec![("THREAD_AGENT_LOG__LEVEL".to_string(), l.to_string())])
            .unwrap_or_default(),
        ..Default::default()
    };
    let mut started = Vec::new();
    for _ in sizes {
        let sandbox = Sandbox::new()?;
        let agent = Agent::start_with(&sandbox, &opts)?;
        started.push((sandbox, agent));
    }
    let mut nets = Vec::new();
    let mut index = 0;
    for (network, ((sandbox, mut agent), &n)) in started.into_iter().zip(sizes).enumerate() {
        agent.wait_status("network up (leader)", UP_TIMEOUT, |s| s["role"] == "leader")?;
        let mut joiners = Vec::with_capacity(n);
        // One bootstrapping file per network, as a manufacturer hands it over: `eui64,pskd,label`.
        let mut file = String::from("eui64,pskd,label\n");
        for id in joiner_ids(2).into_iter().take(n) {
            let node = CliNode::spawn(&sandbox, id)?;
            let eui64 = node.eui64()?;
            // A distinct PSKd per joiner: BENCH + 4 digits.
            let pskd = format!("BENCH{index:04}");
            index += 1;
            file.push_str(&format!("{eui64},{pskd},bench-{network}-{id}\n"));
            joiners.push(Joiner {
                network,
                node,
                eui64,
                pskd,
            });
        }
        let path = sandbox.path().join("devices.csv");
        std::fs::write(&path, &file).context("writing the bootstrapping file")?;
        let t = Instant::now();
        let path_s = path.to_string_lossy().to_string();
        agent.threadctl_ok(&["joiner", "import", &path_s, "--timeout", "86400"])?;
        eprintln!(
            "A: network {network}: `joiner import` of {n} devices took {:.0} ms",
            t.elapsed().as_secs_f64() * 1000.0
        );
        nets.push(AgentNet {
            joiners,
            agent,
            sandbox,
        });
    }
    for (network, net) in nets.iter().enumerate() {
        let n = net.joiners.len() as u64;
        let deadline = Instant::now() + PETITION_TIMEOUT;
        loop {
            let v = ctl_json(&net.agent, &["commissioner", "status", "--json"])?;
            if v["state"] == "active"
                && v["steering_data_acked"] == v["steering_data"]
                && v["entries"].as_u64() == Some(n)
            {
                break;
            }
            if Instant::now() >= deadline {
                bail!(
                    "network {network}: commissioner not ready within {PETITION_TIMEOUT:?}: {v}\n{}",
                    net.agent.log().tail(20)
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    Ok(nets)
}

/// What one agent's counters and events showed during the run (sampled every [`SAMPLE_EVERY`]).
struct Probe {
    /// `network counters --json` before the run and after it.
    first: Option<Value>,
    last: Option<Value>,
    /// The fewest free message buffers the co-processor had at a sample, and when.
    min_free: Option<(u64, Duration)>,
    total_buffers: Option<u64>,
    /// When each joiner was first seen (`joiner-seen`), by joiner ID, from t0.
    seen: BTreeMap<String, Duration>,
}

const SAMPLE_EVERY: Duration = Duration::from_millis(250);

impl Probe {
    fn run(agent: &Agent, tap: &EventsTap, t0: Instant, stop: &AtomicBool) -> Probe {
        let mut p = Probe {
            first: None,
            last: None,
            min_free: None,
            total_buffers: None,
            seen: BTreeMap::new(),
        };
        let mut read_lines = 0;
        loop {
            let done = stop.load(Ordering::SeqCst);
            let lines = tap.log.lines();
            for l in &lines[read_lines.min(lines.len())..] {
                if let Ok(v) = serde_json::from_str::<Value>(l.trim()) {
                    if v["type"] == "joiner-seen" {
                        if let Some(id) = v["joiner_id"].as_str() {
                            p.seen.entry(id.to_string()).or_insert(t0.elapsed());
                        }
                    }
                }
            }
            read_lines = lines.len();
            if let Ok(c) = ctl_json(agent, &["network", "counters", "--json"]) {
                let b = &c["coprocessor"]["buffers"];
                if let Some(free) = b["free"].as_u64() {
                    p.total_buffers = b["total"].as_u64();
                    if p.min_free.is_none_or(|(m, _)| free < m) {
                        p.min_free = Some((free, t0.elapsed()));
                    }
                }
                if p.first.is_none() {
                    p.first = Some(c.clone());
                }
                p.last = Some(c);
            }
            if done {
                return p;
            }
            std::thread::sleep(SAMPLE_EVERY);
        }
    }

    /// Prints the deltas of the counters that locate lost frames.
    fn print(&self, network: usize, offset: Duration) {
        let at = |d: Duration| d.saturating_sub(offset).as_secs_f64();
        println!("\n-- network {network}: where frames went (agent's `network counters`, deltas over the run)");
        if let (Some(a), Some(b)) = (&self.first, &self.last) {
            let delta = |path: &[&str]| {
                let get = |v: &Value| path.iter().fold(v, |v, k| &v[*k]).as_u64();
                match (get(a), get(b)) {
                    (Some(x), Some(y)) => y.saturating_sub(x).to_string(),
                    _ => "-".into(),
                }
            };
            let row = |title: &str, keys: &[(&str, &[&str])]| {
                let cells: Vec<String> = keys
                    .iter()
                    .map(|(k, path)| format!("{k}={}", delta(path)))
                    .collect();
                println!("{title}: {}", cells.join(" "));
            };
            row(
                "co-processor MAC rx",
                &[
                    ("total", &["coprocessor", "mac", "rx", "total"]),
                    ("unicast", &["coprocessor", "mac", "rx", "unicast"]),
                    ("duplicated", &["coprocessor", "mac", "rx", "duplicated"]),
                    (
                        "err_no_frame",
                        &["coprocessor", "mac", "rx", "err_no_frame"],
                    ),
                    (
                        "err_unknown_neighbor",
                        &["coprocessor", "mac", "rx", "err_unknown_neighbor"],
                    ),
                    ("err_sec", &["coprocessor", "mac", "rx", "err_sec"]),
                    ("err_other", &["coprocessor", "mac", "rx", "err_other"]),
                ],
            );
            row(
                "co-processor MAC tx",
                &[
                    ("total", &["coprocessor", "mac", "tx", "total"]),
                    ("retry", &["coprocessor", "mac", "tx", "retry"]),
                    ("err_cca", &["coprocessor", "mac", "tx", "err_cca"]),
                    ("err_abort", &["coprocessor", "mac", "tx", "err_abort"]),
                    (
                        "direct_max_retry_expiry",
                        &["coprocessor", "mac", "tx", "direct_max_retry_expiry"],
                    ),
                ],
            );
            row(
                "co-processor IPv6",
                &[
                    ("rx_success", &["coprocessor", "ip", "rx_success"]),
                    ("rx_failure", &["coprocessor", "ip", "rx_failure"]),
                    ("tx_success", &["coprocessor", "ip", "tx_success"]),
                    ("tx_failure", &["coprocessor", "ip", "tx_failure"]),
                ],
            );
            row(
                "Spinel / host link",
                &[
                    ("ncp_tx_frames", &["coprocessor", "spinel", "tx_frames"]),
                    ("host_frames_in", &["link", "frames_in"]),
                    ("host_decode_errors", &["link", "decode_errors"]),
                    ("host_events_dropped", &["link", "events_dropped"]),
                    (
                        "ip_to_host_dropped",
                        &["coprocessor", "spinel", "ip_to_host_dropped"],
                    ),
                ],
            );
        }
        if let (Some((free, when)), Some(total)) = (self.min_free, self.total_buffers) {
            println!(
                "co-processor message buffers: fewest free {free} of {total}, at {:.1} s",
                at(when)
            );
        }
        let mut firsts: Vec<f64> = self.seen.values().map(|d| at(*d)).collect();
        firsts.sort_by(f64::total_cmp);
        let round1 = firsts.iter().filter(|t| **t < 8.0).count();
        println!(
            "joiners first seen by the agent (joiner-seen, {} ms resolution): {} in all, {round1} within 8 s of the start (before a joiner's first DTLS retransmission)",
            SAMPLE_EVERY.as_millis(),
            firsts.len()
        );
    }
}

/// Sums the joiners' own MAC counters (`counters mac`): a frame a joiner gave up on after its MAC
/// retries never reached the co-processor's radio.
fn print_joiner_mac_counters(joiners: &[&Joiner]) {
    let mut sum: BTreeMap<String, u64> = BTreeMap::new();
    for j in joiners {
        let Ok(lines) = j.node.cmd("counters mac") else {
            continue;
        };
        for l in lines {
            if let Some((k, v)) = l.trim().split_once(':') {
                if let Ok(v) = v.trim().parse::<u64>() {
                    *sum.entry(k.trim().to_string()).or_default() += v;
                }
            }
        }
    }
    let keys = [
        "TxTotal",
        "TxAckRequested",
        "TxAcked",
        "TxRetry",
        "TxErrCca",
        "TxErrAbort",
        "TxDirectMaxRetryExpiry",
        "RxTotal",
    ];
    let cells: Vec<String> = keys
        .iter()
        .map(|k| format!("{k}={}", sum.get(*k).map_or("-".into(), |v| v.to_string())))
        .collect();
    println!(
        "joiners' MAC counters, summed over {}: {}",
        joiners.len(),
        cells.join(" ")
    );
}

/// A network commissioned by OpenThread's own commissioner on an `ot-cli-ftd` leader.
struct OtNet {
    joiners: Vec<Joiner>,
    leader: CliNode,
    sandbox: Sandbox,
}

/// Sets up the OpenThread-commissioner networks (all spawns on the main thread, see
/// [`setup_agent_nets`]).
fn setup_ot_nets(sizes: &[usize], cap: Duration) -> Result<Vec<OtNet>> {
    let mut nets = Vec::new();
    for (network, &n) in sizes.iter().enumerate() {
        let sandbox = Sandbox::new()?;
        let leader = CliNode::spawn(&sandbox, 2)?;
        leader.form(ATTACH_TIMEOUT)?;
        let from = leader.mark();
        leader.cmd("commissioner start")?;
        leader.wait_for_from(from, "Commissioner: active", PETITION_TIMEOUT)?;
        // Entry lifetime in seconds: longer than the run.
        let timeout = cap.as_secs() + 120;
        leader.cmd(&format!(
            "commissioner joiner add * {SHARED_PSKD} {timeout}"
        ))?;
        let mut joiners = Vec::with_capacity(n);
        for id in joiner_ids(3).into_iter().take(n) {
            let node = CliNode::spawn(&sandbox, id)?;
            let eui64 = node.eui64()?;
            joiners.push(Joiner {
                network,
                node,
                eui64,
                pskd: SHARED_PSKD.to_string(),
            });
        }
        nets.push(OtNet {
            joiners,
            leader,
            sandbox,
        });
    }
    Ok(nets)
}

/// Summary of one part.
struct Summary {
    title: String,
    n: usize,
    networks: usize,
    total: Option<Duration>,
    wall: Duration,
    outcomes: Vec<Outcome>,
}

fn secs(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64())
}

fn print_summary(s: &Summary) {
    println!();
    println!(
        "== {} — {} joiner(s), {} network(s)",
        s.title, s.n, s.networks
    );
    println!(
        "{:>3} {:>4} {:>16} {:>8} {:>9}  failures",
        "net", "node", "eui64", "attempts", "joined_s"
    );
    let mut sorted = s.outcomes.clone();
    sorted.sort_by_key(|o| (o.joined_at.unwrap_or(Duration::MAX), o.network, o.node));
    for o in &sorted {
        let mut tally: BTreeMap<&str, usize> = BTreeMap::new();
        for f in &o.failures {
            *tally.entry(f.as_str()).or_default() += 1;
        }
        let fails: Vec<String> = tally.iter().map(|(k, v)| format!("{v}x {k}")).collect();
        println!(
            "{:>3} {:>4} {:>16} {:>8} {:>9}  {}",
            o.network,
            o.node,
            o.eui64,
            o.attempts,
            o.joined_at.map(secs).unwrap_or_else(|| "-".into()),
            fails.join(", ")
        );
    }
    let mut times: Vec<Duration> = s.outcomes.iter().filter_map(|o| o.joined_at).collect();
    times.sort();
    let joined = times.len();
    let retries: u32 = s
        .outcomes
        .iter()
        .map(|o| o.attempts.saturating_sub(1))
        .sum();
    println!(
        "joined: {joined}/{}; retries (attempts after the first): {retries}",
        s.n
    );
    if let (Some(min), Some(max)) = (times.first(), times.last()) {
        let median = if joined % 2 == 1 {
            times[joined / 2]
        } else {
            (times[joined / 2 - 1] + times[joined / 2]) / 2
        };
        // Nearest-rank 90th percentile.
        let p90 = times[(joined * 9).div_ceil(10).saturating_sub(1)];
        println!(
            "per joiner (start -> Join success): min {} s, median {} s, p90 {} s, max {} s",
            secs(*min),
            secs(median),
            secs(p90),
            secs(*max)
        );
    }
    match s.total {
        Some(t) => println!(
            "total: all {} joined {} s after the common start",
            s.n,
            secs(t)
        ),
        None => println!(
            "total: NOT all joined; gave up {} s after the common start",
            secs(s.wall)
        ),
    }
}

fn summarize(title: &str, networks: usize, wall: Duration, outcomes: Vec<Outcome>) -> Summary {
    let all = outcomes.iter().all(|o| o.joined_at.is_some());
    let total = all
        .then(|| outcomes.iter().filter_map(|o| o.joined_at).max())
        .flatten();
    Summary {
        title: title.to_string(),
        n: outcomes.len(),
        networks,
        total,
        wall,
        outcomes,
    }
}

fn part_agent(o: &Opts) -> Result<Summary> {
    let max = o.per_network.unwrap_or(127).clamp(1, 127);
    let sizes = split(o.joiners, max);
    eprintln!(
        "A: setting up {} network(s) {sizes:?} (thread-agent, EUI-64 entries)",
        sizes.len()
    );
    let nets = setup_agent_nets(&sizes, o.agent_log_level.as_deref())?;
    let joiners: Vec<&Joiner> = nets.iter().flat_map(|n| &n.joiners).collect();
    let taps = nets
        .iter()
        .map(|n| EventsTap::start(&n.sandbox))
        .collect::<Result<Vec<_>>>()?;
    let stop = AtomicBool::new(false);
    let t0 = Instant::now();
    let (wall, outcomes, probes) = std::thread::scope(|s| {
        let samplers: Vec<_> = nets
            .iter()
            .zip(&taps)
            .map(|(n, tap)| {
                let stop = &stop;
                s.spawn(move || Probe::run(&n.agent, tap, t0, stop))
            })
            .collect();
        let (wall, outcomes) = run_all(&joiners, o.cap, o.max_attempts);
        stop.store(true, Ordering::SeqCst);
        let probes: Vec<Probe> = samplers
            .into_iter()
            .map(|h| h.join().expect("sampler panicked"))
            .collect();
        (wall, outcomes, probes)
    });
    // The clock of `run_all` starts START_DELAY after t0.
    for (i, p) in probes.iter().enumerate() {
        p.print(i, START_DELAY);
    }
    print_joiner_mac_counters(&joiners);
    for (i, n) in nets.iter().enumerate() {
        if let Ok(v) = ctl_json(&n.agent, &["commissioner", "status", "--json"]) {
            eprintln!(
                "A: network {i}: agent commissioner joined={} unknown_joiners={} dropped={}",
                v["joined"], v["unknown_joiners"], v["dropped"]
            );
        }
        save_logs(o, "agent", i, &n.sandbox);
    }
    Ok(summarize(
        "A: thread-agent commissioner (one EUI-64 entry + PSKd per joiner)",
        nets.len(),
        wall,
        outcomes,
    ))
}

fn part_ot(o: &Opts) -> Result<Summary> {
    let max = o.per_network.unwrap_or(126).clamp(1, 126);
    let sizes = split(o.joiners, max);
    eprintln!(
        "B: setting up {} network(s) {sizes:?} (ot-cli-ftd leader, OpenThread commissioner, wildcard entry)",
        sizes.len()
    );
    let nets = setup_ot_nets(&sizes, o.cap)?;
    let joiners: Vec<&Joiner> = nets.iter().flat_map(|n| &n.joiners).collect();
    let (wall, outcomes) = run_all(&joiners, o.cap, u32::MAX);
    for (i, n) in nets.iter().enumerate() {
        let _ = &n.leader;
        save_logs(o, "ot", i, &n.sandbox);
    }
    Ok(summarize(
        "B: OpenThread's own commissioner (ot-cli-ftd leader, one wildcard entry, shared PSKd)",
        nets.len(),
        wall,
        outcomes,
    ))
}

/// Copies a sandbox's `*.log` files and audit log to `<--logs>/<part>-net<i>/` (if asked).
fn save_logs(o: &Opts, part: &str, i: usize, sb: &Sandbox) {
    let Some(dir) = &o.logs else { return };
    let to = dir.join(format!("{part}-net{i}"));
    if let Err(e) = std::fs::create_dir_all(&to) {
        eprintln!("--logs: {}: {e}", to.display());
        return;
    }
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(sb.path())
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.push(sb.state_dir().join("audit.jsonl"));
    for f in files {
        if let Some(name) = f.file_name() {
            let _ = std::fs::copy(&f, to.join(name));
        }
    }
    eprintln!("logs of {part} network {i} copied to {}", to.display());
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn main() -> ExitCode {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("joiners: {e:#}");
            return ExitCode::from(2);
        }
    };
    if !o.skip_agent {
        if let Err(e) = workspace_bins() {
            eprintln!(
                "joiners: {e:#}\n(the bench runs from the release profile: \
                 `cargo build --release -p agent -p commissioner-cli --bins` with the same CARGO_TARGET_DIR)"
            );
            return ExitCode::from(2);
        }
    }
    println!(
        "joiners benchmark: N = {}, cap {} s, load average before: {}",
        o.joiners,
        o.cap.as_secs(),
        loadavg()
    );
    let mut summaries = Vec::new();
    let mut failed = false;
    if !o.skip_agent {
        match part_agent(&o) {
            Ok(s) => summaries.push(s),
            Err(e) => {
                eprintln!("A failed: {e:#}");
                failed = true;
            }
        }
    }
    if !o.skip_ncp {
        match part_ot(&o) {
            Ok(s) => summaries.push(s),
            Err(e) => {
                eprintln!("B failed: {e:#}");
                failed = true;
            }
        }
    }
    for s in &summaries {
        print_summary(s);
    }
    println!("\nload average after: {}", loadavg());
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
