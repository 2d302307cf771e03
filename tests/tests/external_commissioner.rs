//! Issue 13 part 2 end to end: an external commissioner on the LAN reaches the co-processor's
//! Border Agent through the agent's LAN relay (`[border_agent] lan_port`, `status.border_agent`),
//! and the agent's own commissioner steps aside while it holds the role, then takes over again.
//!
//! Topology (like `bridge.rs`; the simulated radio lives on the BR namespace's loopback, so the
//! agent and every simulation node run there):
//!
//! ```text
//!  BR namespace                                          LAN namespace
//!  thread-agent (always_on) -- ot-ncp-ftd 1              lan0 fd99::2 (veth)
//!   relay [::]:49191 on infra0                            external commissioner (meshcop's
//!  infra0 fd99::1 (veth, [bridge] infra_interface) ----   state machine over a UDP socket)
//!  ot-cli-ftd 2 (joiner)
//! ```
//!
//! The external commissioner is `meshcop::commissioner::Commissioner`, the state machine the agent
//! itself uses (DTLS client with EC-JPAKE, COMM_PET, COMM_KA, resignation), driven by a thread over
//! a UDP socket opened in the LAN namespace and sent to `[fd99::1]:49191`. Its PSKc comes from the
//! agent's exported dataset (never printed).
//!
//! Checked: the external petition is accepted; meanwhile `commissioner.start` and `joiner.add`
//! fail with `commissioner_busy` ("another commissioner is active"), `commissioner status` names
//! the external commissioner, and the external one stays active (the agent does not take the
//! role; its re-petitions are counted and printed, not asserted); garbage and an oversized
//! datagram to the relay port are relayed / dropped and counted, and the agent keeps working; a
//! second client with a wrong PSKc fails its handshake while the agent and the first client are
//! fine; after the external commissioner resigns, the agent's commissioner is active again and a
//! real `ot-cli-ftd` joiner joins through it; the PSKc appears nowhere in the agent's log.
//! Needs root and /dev/net/tun (skipped with a message otherwise). No timed assertions.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6, UdpSocket};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use e2e::dataset::{assert_no_secret, Tlvs, PSKC};
use e2e::netns::{can_run, LanPair, Netns, INFRA_IF};
use e2e::{Agent, AgentOptions, CliNode, Sandbox};
use meshcop::commissioner::{Commissioner, Config, Event, State};
use meshcop::credentials::Pskc;
use serde_json::Value;

const UP_TIMEOUT: Duration = Duration::from_secs(120);
const PETITION_TIMEOUT: Duration = Duration::from_secs(90);
const JOIN_TIMEOUT: Duration = Duration::from_secs(120);
const BR_ADDR: &str = "fd99::1";
const LAN_ADDR: &str = "fd99::2";
const BR_ADDR4: &str = "192.168.99.1";
const LAN_ADDR4: &str = "192.168.99.2";
/// Default `[border_agent] lan_port`.
const LAN_PORT: u16 = 49191;
const EXTERNAL_ID: &str = "e2e-external";
/// Mesh-local prefix TLV.
const MESH_LOCAL_PREFIX: u8 = 7;

struct Bed {
    sb: Sandbox,
    br: Netns,
    lan: Netns,
}

impl Bed {
    fn new() -> Result<Bed> {
        // Build/locate the programs while still in the caller's namespace.
        e2e::ot_bins()?;
        e2e::workspace_bins()?;
        let sb = Sandbox::new()?;
        let LanPair { br, lan } = LanPair::new(&[
            (&format!("{BR_ADDR}/64"), &format!("{LAN_ADDR}/64")),
            (&format!("{BR_ADDR4}/24"), &format!("{LAN_ADDR4}/24")),
        ])?;
        Ok(Bed { sb, br, lan })
    }

    /// A UDP socket in the LAN namespace.
    fn lan_socket(&self) -> Result<UdpSocket> {
        self.lan
            .run(|| UdpSocket::bind("[::]:0"))?
            .context("LAN socket")
    }

    /// An IPv4 UDP socket in the LAN namespace.
    fn lan_socket_v4(&self) -> Result<UdpSocket> {
        self.lan
            .run(|| UdpSocket::bind("0.0.0.0:0"))?
            .context("LAN socket")
    }
}

fn relay_addr() -> SocketAddr {
    SocketAddrV6::new(
        BR_ADDR.parse().unwrap_or(Ipv6Addr::LOCALHOST),
        LAN_PORT,
        0,
        0,
    )
    .into()
}

/// The relay over IPv4 (a v4-mapped peer for the Border Agent).
fn relay_addr_v4() -> SocketAddr {
    (BR_ADDR4.parse().unwrap_or(Ipv4Addr::LOCALHOST), LAN_PORT).into()
}

/// The external commissioner: the state machine on its own thread, over a LAN socket.
struct External {
    state: Arc<Mutex<State>>,
    events: Arc<Mutex<Vec<Event>>>,
    stop: mpsc::Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl External {
    fn spawn(sock: UdpSocket, to: SocketAddr, pskc: [u8; 16], mlp: [u8; 8], seed: u8) -> External {
        let mut config = Config::new(EXTERNAL_ID, Pskc::from_bytes(pskc), mlp);
        config.auto_retry = false;
        let mut seed_bytes = [seed; 32];
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        seed_bytes[..4].copy_from_slice(&nanos.to_le_bytes());
        let mut c = Commissioner::with_seed(config, seed_bytes);
        let state = Arc::new(Mutex::new(State::Idle));
        let events = Arc::new(Mutex::new(Vec::new()));
        let (stop, stop_rx) = mpsc::channel();
        let (st, ev) = (state.clone(), events.clone());
        let thread = std::thread::spawn(move || {
            c.start(Instant::now());
            let mut stopping = false;
            let mut buf = vec![0u8; 2048];
            loop {
                let now = Instant::now();
                if !stopping && stop_rx.try_recv().is_ok() {
                    c.stop(now);
                    stopping = true;
                }
                while let Some(d) = c.poll_transmit() {
                    let _ = sock.send_to(&d, to);
                }
                while let Some(e) = c.poll_event() {
                    ev.lock().unwrap().push(e);
                }
                *st.lock().unwrap() = c.state();
                if stopping && c.state() == State::Idle {
                    return;
                }
                let wait = c
                    .poll_timeout()
                    .map_or(Duration::from_millis(100), |t| {
                        t.saturating_duration_since(now)
                    })
                    .clamp(Duration::from_millis(1), Duration::from_millis(100));
                let _ = sock.set_read_timeout(Some(wait));
                match sock.recv_from(&mut buf) {
                    Ok((n, _)) => c.handle_datagram(Instant::now(), &buf[..n]),
                    Err(_) => {
                        let now = Instant::now();
                        if c.poll_timeout().is_some_and(|t| t <= now) {
                            c.handle_timeout(now);
                        }
                    }
                }
            }
        });
        External {
            state,
            events,
            stop,
            thread: Some(thread),
        }
    }

    fn state(&self) -> State {
        *self.state.lock().unwrap()
    }

    fn has(&self, f: impl Fn(&Event) -> bool) -> bool {
        self.events.lock().unwrap().iter().any(f)
    }

    fn wait(&self, what: &str, timeout: Duration, f: impl Fn(&External) -> bool) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while !f(self) {
            if Instant::now() >= deadline {
                bail!(
                    "external commissioner: {what} not reached within {timeout:?}; state {:?}, events {:?}",
                    self.state(),
                    self.events.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// Resigns (COMM_KA State=-1) and waits for the thread to end.
    fn resign(&mut self) -> Result<()> {
        let _ = self.stop.send(());
        if let Some(t) = self.thread.take() {
            t.join()
                .map_err(|_| anyhow::anyhow!("external commissioner thread panicked"))?;
        }
        Ok(())
    }
}

impl Drop for External {
    fn drop(&mut self) {
        let _ = self.resign();
    }
}

fn start_agent(bed: &Bed) -> Result<Agent> {
    let opts = AgentOptions {
        env: vec![
            (
                "THREAD_AGENT_BRIDGE__INFRA_INTERFACE".into(),
                INFRA_IF.into(),
            ),
            ("THREAD_AGENT_COMMISSIONER__ALWAYS_ON".into(), "true".into()),
            ("RUST_LOG".into(), "info".into()),
        ],
        ..Default::default()
    };
    let mut agent = Agent::start_with(&bed.sb, &opts)?;
    agent.wait_status("leader with the LAN relay bound", UP_TIMEOUT, |s| {
        s["role"] == "leader" && s["border_agent"]["lan_port"] == LAN_PORT
    })?;
    Ok(agent)
}

fn commissioner(agent: &Agent) -> Result<Value> {
    agent.threadctl_json(&["commissioner", "status", "--json"])
}

fn wait_commissioner(
    agent: &Agent,
    what: &str,
    timeout: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Result<Value> {
    agent.wait_json(&["commissioner", "status", "--json"], what, timeout, pred)
}

fn relay_status(agent: &Agent) -> Result<Value> {
    Ok(agent.status_json()?["border_agent"].clone())
}

fn count(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or(0)
}

/// Output text (stdout + stderr) of a threadctl call expected to fail.
fn failing(agent: &Agent, args: &[&str]) -> Result<String> {
    let out = agent.threadctl(args)?;
    ensure!(!out.status.success(), "threadctl {args:?} succeeded");
    Ok(format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

#[test]
fn external_commissioner_through_the_lan_relay() -> Result<()> {
    if !can_run() {
        return Ok(());
    }
    let bed = Bed::new()?;
    let _in_br = bed.br.enter()?;
    let agent = start_agent(&bed)?;
    let tlvs = Tlvs::from_hex(&agent.dataset_export()?)?;
    let pskc: [u8; 16] = tlvs.require(PSKC)?.try_into()?;
    let mlp: [u8; 8] = tlvs.require(MESH_LOCAL_PREFIX)?.try_into()?;
    wait_commissioner(
        &agent,
        "the agent's always_on petition",
        PETITION_TIMEOUT,
        |v| v["state"] == "active",
    )?;

    // The agent steps down (operator stop); the external commissioner takes the role.
    agent.threadctl_ok(&["commissioner", "stop"])?;
    wait_commissioner(&agent, "the agent resigned", PETITION_TIMEOUT, |v| {
        v["state"] == "idle"
    })?;
    let t0 = Instant::now();
    let mut ext = External::spawn(bed.lan_socket()?, relay_addr(), pskc, mlp, 1);
    ext.wait("petition accepted", PETITION_TIMEOUT, |e| {
        e.state() == State::Active
    })?;
    eprintln!("external commissioner active after {:?}", t0.elapsed());
    let rs = relay_status(&agent)?;
    eprintln!("relay after the external petition: {rs}");
    ensure!(
        count(&rs, "to_border_agent") >= 3 && count(&rs, "from_border_agent") >= 3,
        "{rs}"
    );
    ensure!(
        rs["interface"] == INFRA_IF && count(&rs, "peers") >= 1,
        "{rs}"
    );

    // The agent wants the role again: told clearly, and it does not take it.
    let text = failing(&agent, &["commissioner", "start"])?;
    ensure!(
        text.contains("commissioner_busy") && text.contains("another commissioner is active"),
        "commissioner start: {text}"
    );
    let rejected_before = agent.log_text().matches("petition rejected").count();
    let st = wait_commissioner(
        &agent,
        "the external commissioner named",
        PETITION_TIMEOUT,
        |v| {
            v["other_commissioner"]
                .as_str()
                .is_some_and(|o| o.contains(EXTERNAL_ID))
        },
    )?;
    eprintln!("agent commissioner while the external one is active: {st}");
    let shown = agent.threadctl_ok(&["commissioner", "status"])?;
    ensure!(
        shown.contains(&format!(
            "another commissioner is active: \"{EXTERNAL_ID}\""
        )),
        "{shown}"
    );
    let node = CliNode::spawn(&bed.sb, 2)?;
    let eui = node.eui64()?;
    let text = failing(
        &agent,
        &["joiner", "add", "--eui64", &eui, "--pskd", "J01NME"],
    )?;
    ensure!(
        text.contains("another commissioner is active"),
        "joiner add: {text}"
    );
    let list = agent.threadctl_json(&["joiner", "list", "--json"])?;
    ensure!(
        list["joiners"].as_array().is_some_and(|j| j.is_empty()),
        "{list}"
    );

    // Garbage and an oversized datagram to the relay port: relayed / dropped, counted.
    let before = relay_status(&agent)?;
    let junk = bed.lan_socket()?;
    for i in 0..50u8 {
        let len = 1 + (i as usize * 37) % 300;
        let d: Vec<u8> = (0..len)
            .map(|j| (j as u8).wrapping_mul(i).wrapping_add(7))
            .collect();
        junk.send_to(&d, relay_addr())?;
    }
    junk.send_to(&[0x16; 1400], relay_addr())?;
    let after = {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = relay_status(&agent)?;
            let relayed = count(&r, "to_border_agent") >= count(&before, "to_border_agent") + 50;
            if relayed && count(&r["dropped_by_reason"], "too_large") >= 1 {
                break r;
            }
            ensure!(Instant::now() < deadline, "garbage not counted: {r}");
            std::thread::sleep(Duration::from_millis(250));
        }
    };
    eprintln!("relay after garbage: {after}");
    ensure!(count(&after, "peers") >= 2, "{after}");

    // A second client with a wrong PSKc: its handshake fails; everyone else is fine.
    let mut wrong = pskc;
    wrong[0] ^= 0x55;
    // It comes over IPv4: the Border Agent sees a v4-mapped peer and its answers find the way
    // back (the handshake gets as far as the password check).
    let mut bad = External::spawn(bed.lan_socket_v4()?, relay_addr_v4(), wrong, mlp, 2);
    bad.wait("handshake failure", PETITION_TIMEOUT, |e| {
        e.has(|ev| {
            matches!(
                ev,
                Event::BorderAgentAuthFailed | Event::Disconnected { .. }
            )
        }) && e.state() != State::Active
    })?;
    eprintln!("wrong-PSKc client: {:?}", bad.events.lock().unwrap());
    ensure!(
        bad.has(|ev| matches!(ev, Event::BorderAgentAuthFailed)),
        "the wrong PSKc was not detected as such: {:?}",
        bad.events.lock().unwrap()
    );
    ensure!(!bad.has(|ev| matches!(ev, Event::PetitionAccepted { .. })));
    bad.resign()?;
    ensure!(
        ext.state() == State::Active,
        "the external commissioner lost its session"
    );
    let st = agent.status_json()?;
    ensure!(st["role"] == "leader", "{st}");
    eprintln!("relay after the wrong PSKc: {}", st["border_agent"]);

    // Still held by the external commissioner: the agent did not take the role.
    let st = commissioner(&agent)?;
    ensure!(st["state"] != "active", "{st}");
    let rejected = agent.log_text().matches("petition rejected").count() - rejected_before;
    eprintln!(
        "agent log lines `petition rejected` while the external commissioner was active: {rejected} in {:?}",
        t0.elapsed()
    );

    // The external commissioner resigns: the agent's commissioner takes over.
    let t1 = Instant::now();
    ext.resign()?;
    ensure!(ext.has(|e| matches!(e, Event::Resigned)), "no resignation");
    let st = wait_commissioner(&agent, "the agent active again", PETITION_TIMEOUT, |v| {
        v["state"] == "active" && v["other_commissioner"].is_null()
    })?;
    eprintln!(
        "agent active again {:?} after the resignation: {st}",
        t1.elapsed()
    );

    // A real joiner joins through the agent's commissioner.
    agent.threadctl_ok(&["joiner", "add", "--eui64", &eui, "--pskd", "J01NME"])?;
    ensure!(
        node.join("J01NME", JOIN_TIMEOUT)?,
        "the joiner did not join:\n{}",
        node.log().tail(10)
    );
    assert_no_secret(&agent.log_text(), &pskc, "PSKc", "the agent's log")?;
    Ok(())
}
