//! Live test against OpenThread's simulation nodes: the commissioner petitions the Border Agent
//! of an `ot-ncp-ftd` leader through the Spinel UDP forward stream (with a minimal HDLC/Spinel
//! driver of its own, like `dtls::tests::ot_border_agent_interop`), publishes steering data, and
//! commissions a real OpenThread joiner (`ot-cli-ftd`, `joiner start <PSKd>`) that must print
//! `Join success` — which needs our DTLS server to interoperate with Mbed TLS and the KEK we hand
//! the joiner router to be right.
//!
//! Runs only when `OT_NCP_FTD` and `OT_CLI_FTD` name the binaries; `OT_PORT_OFFSET_COMMISSIONER`
//! picks the simulation's PORT_OFFSET (default 213). Real time (not simulated): about 10-30 s.

use super::*;
use crate::test_support::sim_ncp::{border_agent, temp_dir, Ncp, Node, PSKC};
use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdout, Command};
use std::sync::mpsc;

const MLP: [u8; 8] = [0xfd, 0x00, 0xab, 0xcd, 0, 0, 0, 0];

fn spawn(bin: &str, id: &str, offset: &str, tag: &str) -> (Node, ChildStdout) {
    // Started through python3 to block SIGRTMIN (inherited across exec): the simulation platform
    // otherwise hangs in recvfrom() after its micro-timer signal interrupts select() (see the
    // same fix in `ncp::transport`).
    let mut cmd = Command::new("python3");
    cmd.args([
        "-c",
        "import signal,os,sys; signal.pthread_sigmask(signal.SIG_BLOCK,[signal.SIGRTMIN]); os.execv(sys.argv[1], sys.argv[1:])",
        bin,
        id,
    ]);
    Node::spawn(cmd, temp_dir(&format!("commissioner-live-{tag}")), offset)
}

fn spawn_ncp(bin: &str, offset: &str) -> Ncp {
    let (node, out) = spawn(bin, "1", offset, "ncp");
    Ncp::new(node, out)
}

const PEER_PORT: u16 = 49998;

fn forward(ncp: &mut Ncp, ba_port: u16, datagram: &[u8]) {
    crate::test_support::sim_ncp::forward(ncp, PEER_PORT, ba_port, datagram);
}

/// An OpenThread CLI node whose output lines arrive on a channel.
struct Cli {
    node: Node,
    lines: mpsc::Receiver<String>,
}

impl Cli {
    fn spawn(bin: &str, id: &str, offset: &str) -> Cli {
        let (node, out) = spawn(bin, id, offset, &format!("cli{id}"));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                if tx
                    .send(line.trim_start_matches("> ").trim().to_string())
                    .is_err()
                {
                    return;
                }
            }
        });
        Cli { node, lines: rx }
    }
    fn cmd(&mut self, c: &str) {
        let stdin = self.node.stdin.as_mut().unwrap();
        stdin.write_all(format!("{c}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }
    /// The first line matching `f` within `timeout`.
    fn wait(&mut self, timeout: Duration, f: impl Fn(&str) -> bool) -> Option<String> {
        let end = Instant::now() + timeout;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(l) if f(&l) => return Some(l),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    }
}

/// The commissioner under test, its border agent behind the leader NCP, and the events so far.
struct Live {
    ncp: Ncp,
    ba: u16,
    c: Commissioner,
    events: Vec<Event>,
}

impl Live {
    /// Drives the commissioner over the UDP forward stream in real time until `until` or `limit`.
    fn drive(&mut self, limit: Duration, mut until: impl FnMut(&[Event]) -> bool) -> bool {
        let Live { ncp, ba, c, events } = self;
        let end = Instant::now() + limit;
        while Instant::now() < end {
            while let Some(d) = c.poll_transmit() {
                forward(ncp, *ba, &d);
            }
            while let Some(e) = c.poll_event() {
                eprintln!("event: {e:?}");
                events.push(e);
            }
            if until(events) {
                return true;
            }
            if let Some((_, 6, 5412, v)) = ncp.recv(Duration::from_millis(50)) {
                if v.len() >= 2 {
                    let n = u16::from_le_bytes([v[0], v[1]]) as usize;
                    if v.len() >= 2 + n {
                        c.handle_datagram(Instant::now(), &v[2..2 + n]);
                    }
                }
            }
            c.handle_timeout(Instant::now());
        }
        false
    }

    /// Stops the commissioner and drives it until it has resigned (true) or 10 s have passed.
    fn resign(&mut self) -> bool {
        self.c.stop(Instant::now());
        self.drive(Duration::from_secs(10), |e| e.contains(&Event::Resigned))
    }
}

/// The `ot-ncp-ftd` and `ot-cli-ftd` binaries from `OT_NCP_FTD` and `OT_CLI_FTD`; `None` (the
/// test is skipped) when either is unset.
fn binaries() -> Option<(String, String)> {
    let (Ok(ncp_bin), Ok(cli_bin)) = (std::env::var("OT_NCP_FTD"), std::env::var("OT_CLI_FTD"))
    else {
        eprintln!("skipped: set OT_NCP_FTD and OT_CLI_FTD");
        return None;
    };
    Some((ncp_bin, cli_bin))
}

/// Adds a joiner entry that expires `ttl` from now.
fn add_entry(c: &mut Commissioner, kind: JoinerKind, pskd: &str, ttl: Duration) {
    let now = Instant::now();
    c.add(
        now,
        JoinerEntry {
            kind,
            pskd: Pskd::new(pskd).unwrap(),
            expires_at: now + ttl,
        },
    )
    .unwrap();
}

#[test]
fn commissions_an_openthread_joiner_through_the_simulated_border_agent() {
    let Some((ncp_bin, cli_bin)) = binaries() else {
        return;
    };
    let offset = std::env::var("OT_PORT_OFFSET_COMMISSIONER").unwrap_or_else(|_| "213".into());
    let mut ncp = spawn_ncp(&ncp_bin, &offset);
    let ba = border_agent(&mut ncp);
    eprintln!("border agent port {ba}");

    let mut config = Config::new("thread-agent-test", Pskc::from_bytes(PSKC), MLP);
    config.joiner_session_timeout = Duration::from_secs(60);
    let mut c = Commissioner::with_seed(config, [0x42; 32]);
    c.start(Instant::now());
    let mut live = Live {
        ncp,
        ba,
        c,
        events: Vec::new(),
    };
    assert!(
        live.drive(Duration::from_secs(20), |e| e
            .iter()
            .any(|x| matches!(x, Event::SteeringDataUpdated { .. }))),
        "petition + MGMT_COMMISSIONER_SET: {:?}",
        live.events
    );
    assert_eq!(live.c.state(), State::Active);

    // The joiner: its EUI-64 from the CLI.
    let mut j = Cli::spawn(&cli_bin, "2", &offset);
    j.cmd("eui64");
    let eui_line = j
        .wait(Duration::from_secs(5), |l| {
            l.len() == 16 && l.chars().all(|c| c.is_ascii_hexdigit())
        })
        .expect("eui64");
    let mut eui64 = [0u8; 8];
    eui64.copy_from_slice(&hex::decode(&eui_line).unwrap());
    eprintln!("joiner eui64 {eui_line}");
    add_entry(
        &mut live.c,
        JoinerKind::Eui64(eui64),
        "J01NME",
        Duration::from_secs(300),
    );
    assert!(live.drive(Duration::from_secs(10), |e| e
        .iter()
        .filter(|x| matches!(x, Event::SteeringDataUpdated { .. }))
        .count()
        == 2));

    j.cmd("ifconfig up");
    // The joiner's output is checked while the commissioner runs.
    let (tx, rx) = mpsc::channel();
    let lines = std::mem::replace(&mut j.lines, rx);
    std::thread::spawn(move || {
        for l in lines.iter() {
            eprintln!("joiner: {l}");
            if tx.send(l).is_err() {
                return;
            }
        }
    });
    let run_joiner = |live: &mut Live, j: &mut Cli, pskd: &str| {
        j.cmd(&format!("joiner start {pskd}"));
        let mut outcome = None;
        live.drive(Duration::from_secs(90), |_| {
            while let Ok(l) = j.lines.try_recv() {
                if l.contains("Join success") || l.contains("Join failed") {
                    outcome = Some(l);
                }
            }
            outcome.is_some()
        });
        outcome
    };

    // A wrong PSKd first: the joiner fails, we report WrongPskd and keep the entry.
    let outcome = run_joiner(&mut live, &mut j, "WR0NG1");
    assert!(
        outcome
            .as_deref()
            .is_some_and(|l| l.contains("Join failed")),
        "{outcome:?}; events: {:?}",
        live.events
    );
    assert!(
        live.events.iter().any(|e| matches!(
            e,
            Event::JoinerHandshakeFailed {
                reason: HandshakeFailure::WrongPskd,
                ..
            }
        )),
        "events: {:?}",
        live.events
    );
    assert_eq!(live.c.list().len(), 1);

    // Then the right one.
    let outcome = run_joiner(&mut live, &mut j, "J01NME");
    let ok = outcome.is_some();
    assert!(ok, "no joiner outcome; events: {:?}", live.events);
    assert_eq!(
        outcome.as_deref(),
        Some("Join success"),
        "events: {:?}",
        live.events
    );
    assert!(live
        .events
        .iter()
        .any(|e| matches!(e, Event::JoinerFinalize { accepted: true, .. })));
    assert!(live.events.iter().any(|e| matches!(e, Event::JoinerEntrusted { joiner } if joiner.eui64.as_deref() == Some(eui_line.as_str()))));

    // Resign cleanly.
    assert!(live.resign());
    drop(j);
    drop(live);
}

/// Many OpenThread joiners at once (wildcard entry): all must join; prints how long it took.
/// `OT_LIVE_JOINERS` sets how many (default 5). A joiner that fails (e.g. its discovery scan found
/// nothing) is restarted, at most 3 times.
#[test]
fn commissions_many_openthread_joiners_concurrently() {
    let Some((ncp_bin, cli_bin)) = binaries() else {
        return;
    };
    let n: usize = std::env::var("OT_LIVE_JOINERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .clamp(1, 30);
    let offset = std::env::var("OT_PORT_OFFSET_COMMISSIONER_MANY").unwrap_or_else(|_| "214".into());
    let mut ncp = spawn_ncp(&ncp_bin, &offset);
    let ba = border_agent(&mut ncp);
    let mut c = Commissioner::with_seed(
        Config::new("thread-agent-test", Pskc::from_bytes(PSKC), MLP),
        [7; 32],
    );
    c.start(Instant::now());
    let mut live = Live {
        ncp,
        ba,
        c,
        events: Vec::new(),
    };
    add_entry(
        &mut live.c,
        JoinerKind::Any,
        "ANYPSK",
        Duration::from_secs(900),
    );
    assert!(live.drive(Duration::from_secs(20), |e| e.contains(
        &Event::SteeringDataUpdated {
            steering_data: "ff".into()
        }
    )));

    let (tx, rx) = mpsc::channel::<(usize, String)>();
    let mut joiners = Vec::new();
    for k in 0..n {
        let mut j = Cli::spawn(&cli_bin, &(k + 2).to_string(), &offset);
        let (_dead, empty) = mpsc::channel();
        let lines = std::mem::replace(&mut j.lines, empty);
        let tx = tx.clone();
        std::thread::spawn(move || {
            for l in lines.iter() {
                if tx.send((k, l)).is_err() {
                    return;
                }
            }
        });
        j.cmd("ifconfig up");
        joiners.push(j);
    }
    let t0 = Instant::now();
    for j in joiners.iter_mut() {
        j.cmd("joiner start ANYPSK");
    }
    let mut joined: Vec<Option<Duration>> = vec![None; n];
    let mut retries = vec![0u32; n];
    let mut restart = Vec::new();
    let ok = live.drive(Duration::from_secs(300), |_| {
        while let Ok((k, l)) = rx.try_recv() {
            if l.contains("Join success") {
                joined[k] = Some(t0.elapsed());
            } else if l.contains("Join failed") {
                eprintln!("joiner {k}: {l}");
                retries[k] += 1;
                restart.push(k);
            }
        }
        for k in restart.drain(..) {
            if retries[k] <= 3 {
                joiners[k].cmd("joiner start ANYPSK");
            }
        }
        joined.iter().all(Option::is_some) || retries.iter().any(|&r| r > 3)
    });
    let last = joined.iter().flatten().max().copied();
    eprintln!(
        "{n} OpenThread joiners: {} joined, last after {:?}, restarts {:?}, first after {:?}",
        joined.iter().flatten().count(),
        last,
        retries,
        joined.iter().flatten().min()
    );
    assert!(
        ok && joined.iter().all(Option::is_some),
        "joined {joined:?}, restarts {retries:?}"
    );
    assert!(
        live.events
            .iter()
            .filter(|e| matches!(e, Event::JoinerEntrusted { .. }))
            .count()
            >= n
    );
    live.resign();
    drop(joiners);
    drop(live);
}
