//! End-to-end tests of the mesh bridge and border routing (issue 5): the real `thread-agent` on
//! the simulated co-processor, real `ot-cli-ftd` Thread devices, inside network namespaces the
//! tests create and delete themselves.
//!
//! Topology. The simulated radio is UDP multicast on the loopback interface of the namespace a
//! node runs in (`examples/platforms/simulation/simul_utils.c`: group 224.0.0.116 joined on
//! 127.0.0.1), so every simulation node and the agent run in ONE namespace, "BR" (its own `lo`,
//! brought up here), and only the LAN host lives in a second one:
//!
//! ```text
//!  BR namespace                                         LAN namespace
//!  thread-agent -- wpan0 (TUN)                          lan0 (veth): learns the OMR route
//!   '- ot-ncp-ftd 1 ~~radio on lo~~ ot-cli-ftd 2        from the agent's RAs (accept_ra=1,
//!  infra0 (veth, [bridge] infra_interface) ------------ accept_ra_rt_info_max_plen=64)
//! ```
//!
//! The test thread itself enters the BR namespace (`setns` affects only the calling thread), so
//! everything it spawns (agent, CLI nodes) starts there; LAN-side sockets are opened on a helper
//! thread that entered the LAN namespace. Pings are ICMPv6 echo over raw sockets made here (no
//! dependency on an installed `ping`). Needs root and /dev/net/tun; skipped (with a message)
//! otherwise.
//!
//! What is checked: a device attached with the exported dataset answers ping from the BR
//! namespace on its mesh-local EID and its OMR address; the LAN host learns the OMR route from
//! the agent's RA (`proto ra`, not a static route) and pings the device; a UDP echo of 1,000
//! datagrams LAN host <-> device (the device echoes by the test reading its CLI output and
//! answering with `udp send`, one datagram in flight at a time) loses none; `threadctl status`
//! shows the `bridge` object; a realm-local multicast group the host joins on `wpan0` is
//! subscribed on the co-processor (the device's datagrams to it arrive); after a co-processor reset the device is reachable again (the
//! infrastructure link is reported again); stopping the agent removes the interface and its
//! routes, starting it again restores them. No timed assertions: deadlines only bound hangs.
//!
//! The benchmark (`bench_host_to_device`, ignored by default) reports latency and throughput:
//! `cargo test -p e2e --test bridge -- --ignored --nocapture`.

use std::net::{Ipv6Addr, SocketAddrV6, UdpSocket};
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use e2e::netns::{can_run, LanPair, Netns, INFRA_IF};
use e2e::{Agent, AgentOptions, CliNode, Sandbox, ATTACH_TIMEOUT};
use serde_json::Value;

const UP_TIMEOUT: Duration = Duration::from_secs(90);
const ROUTE_TIMEOUT: Duration = Duration::from_secs(90);

// ---------------------------------------------------------------------------------------------
// Network namespaces: e2e::netns

/// Builds/locates the programs while still in the caller's namespace (the build script may need
/// the network to fetch the OpenThread source; a fresh namespace has none).
fn prepare() -> Result<()> {
    e2e::ot_bins()?;
    e2e::workspace_bins()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// ICMPv6 echo over a raw socket (in whatever namespace the calling thread is)

struct Pinger {
    sock: UdpSocket, // a raw ICMPv6 socket driven through std's sendto/recvfrom wrappers
    id: u16,
    seq: u16,
}

impl Pinger {
    fn new() -> Result<Pinger> {
        // SAFETY: plain socket(2); the descriptor is owned right away.
        let fd = unsafe {
            libc::socket(
                libc::AF_INET6,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::IPPROTO_ICMPV6,
            )
        };
        if fd < 0 {
            bail!("raw ICMPv6 socket: {}", std::io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        let sock = UdpSocket::from(unsafe { OwnedFd::from_raw_fd(fd) });
        static ID: AtomicUsize = AtomicUsize::new(0x4242);
        Ok(Pinger {
            sock,
            id: ID.fetch_add(1, Ordering::Relaxed) as u16,
            seq: 0,
        })
    }

    /// One echo request of `size` payload bytes; the round-trip time, or `None` after `timeout`.
    fn ping(&mut self, dst: Ipv6Addr, size: usize, timeout: Duration) -> Result<Option<Duration>> {
        self.seq = self.seq.wrapping_add(1);
        let mut req = vec![128, 0, 0, 0];
        req.extend_from_slice(&self.id.to_be_bytes());
        req.extend_from_slice(&self.seq.to_be_bytes());
        req.extend((0..size).map(|i| i as u8));
        let start = Instant::now();
        match self.sock.send_to(&req, SocketAddrV6::new(dst, 0, 0, 0)) {
            Ok(_) => {}
            // No route (yet): the bridge has not (re)installed it. Counts as no answer.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENETUNREACH | libc::EHOSTUNREACH)
                ) =>
            {
                std::thread::sleep(timeout.min(Duration::from_secs(1)));
                return Ok(None);
            }
            Err(e) => return Err(e).with_context(|| format!("sending echo to {dst}")),
        }
        let mut buf = [0u8; 2048];
        loop {
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Ok(None);
            }
            self.sock.set_read_timeout(Some(left))?;
            match self.sock.recv_from(&mut buf) {
                Ok((n, from)) => {
                    let b = &buf[..n];
                    let from_dst = matches!(from, std::net::SocketAddr::V6(a) if *a.ip() == dst);
                    if from_dst
                        && n >= 8
                        && b[0] == 129
                        && b[4..6] == self.id.to_be_bytes()
                        && b[6..8] == self.seq.to_be_bytes()
                    {
                        return Ok(Some(start.elapsed()));
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(None)
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Pings until the first answer (route and address resolution warm-up), at most `tries`.
    fn until_answer(&mut self, dst: Ipv6Addr, tries: usize) -> Result<()> {
        for _ in 0..tries {
            if self.ping(dst, 16, Duration::from_secs(2))?.is_some() {
                return Ok(());
            }
        }
        bail!("{dst} did not answer {tries} echo requests")
    }

    /// `count` echo requests; how many were answered.
    fn answered(&mut self, dst: Ipv6Addr, count: usize) -> Result<usize> {
        let mut n = 0;
        for _ in 0..count {
            if self.ping(dst, 32, Duration::from_secs(3))?.is_some() {
                n += 1;
            }
        }
        Ok(n)
    }
}

// ---------------------------------------------------------------------------------------------
// The test bed

struct Bed {
    sb: Sandbox,
    br: Netns,
    lan: Netns,
}

impl Bed {
    fn new() -> Result<Bed> {
        prepare()?;
        let sb = Sandbox::new()?;
        let LanPair { br, lan } = LanPair::new(&[])?;
        Ok(Bed { sb, br, lan })
    }

    /// Starts the agent (the calling thread must be in the BR namespace).
    fn start_agent(&self) -> Result<Agent> {
        let opts = AgentOptions {
            env: vec![
                (
                    "THREAD_AGENT_BRIDGE__INFRA_INTERFACE".into(),
                    INFRA_IF.into(),
                ),
                ("RUST_LOG".into(), "info,thread_agent::bridge=debug".into()),
                ("THREAD_AGENT_DEBUG_METHODS".into(), "1".into()),
            ],
            ..Default::default()
        };
        let agent = Agent::start_with(&self.sb, &opts)?;
        agent.wait_log("network up", UP_TIMEOUT)?;
        Ok(agent)
    }
}

fn bridge(v: &Value) -> &Value {
    &v["bridge"]
}

fn prefix_of(p: &str) -> Result<(Ipv6Addr, u8)> {
    let (a, l) = p
        .split_once('/')
        .ok_or_else(|| anyhow!("not a prefix: {p}"))?;
    Ok((a.parse()?, l.parse()?))
}

fn in_prefix(a: &Ipv6Addr, p: &(Ipv6Addr, u8)) -> bool {
    let mask = if p.1 == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(p.1))
    };
    u128::from(*a) & mask == u128::from(p.0) & mask
}

/// Waits until the node has an address in `prefix`; returns it.
fn node_address_in(node: &CliNode, prefix: &(Ipv6Addr, u8), timeout: Duration) -> Result<Ipv6Addr> {
    let deadline = Instant::now() + timeout;
    loop {
        for l in node.cmd("ipaddr")? {
            if let Ok(a) = l.trim().parse::<Ipv6Addr>() {
                if in_prefix(&a, prefix) {
                    return Ok(a);
                }
            }
        }
        if Instant::now() > deadline {
            bail!(
                "node {} has no address in {}/{} after {timeout:?}",
                node.id(),
                prefix.0,
                prefix.1
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Attaches CLI node 2 with the agent's dataset and waits for the OMR prefix; returns the node,
/// its ML-EID and OMR address and the status.
fn attach_device(bed: &Bed, agent: &mut Agent) -> Result<(CliNode, Ipv6Addr, Ipv6Addr, Value)> {
    let dataset = agent.dataset_export()?;
    let node = CliNode::spawn(&bed.sb, 2)?;
    node.attach_with_dataset(&dataset)?;
    node.wait_state(&["child", "router"], ATTACH_TIMEOUT)?;
    let status = agent.wait_status(
        "bridge up with an OMR prefix and border routing",
        ROUTE_TIMEOUT,
        |v| {
            bridge(v)["state"] == "up"
                && bridge(v)["omr_prefix"].is_string()
                && bridge(v)["border_routing"] == "active"
        },
    )?;
    let mleid: Ipv6Addr = node.value("ipaddr mleid")?.trim().parse()?;
    let omr = prefix_of(bridge(&status)["omr_prefix"].as_str().unwrap_or_default())?;
    let omr_addr = node_address_in(&node, &omr, ROUTE_TIMEOUT)?;
    eprintln!(
        "device: ML-EID {mleid}, OMR address {omr_addr}; bridge: {}",
        bridge(&status)
    );
    Ok((node, mleid, omr_addr, status))
}

/// Waits for the LAN host to learn the route to `prefix` from a router advertisement.
fn wait_lan_route(bed: &Bed, prefix: &str) -> Result<String> {
    let deadline = Instant::now() + ROUTE_TIMEOUT;
    loop {
        let routes = bed.lan.ip(&["-6", "route", "show", prefix])?;
        if let Some(l) = routes.lines().find(|l| l.contains("proto ra")) {
            return Ok(l.to_string());
        }
        if Instant::now() > deadline {
            bail!(
                "the LAN host did not learn {prefix} from an RA; its routes:\n{}",
                bed.lan.ip(&["-6", "route"])?
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// UDP echo LAN host <-> device, one datagram in flight; returns (sent, echoed back, elapsed).
fn udp_echo(
    bed: &Bed,
    node: &CliNode,
    device: Ipv6Addr,
    count: usize,
) -> Result<(usize, usize, Duration)> {
    node.cmd("udp open")?;
    node.cmd("udp bind :: 7777")?;
    let sock = bed.lan.run(|| UdpSocket::bind("[::]:0"))??;
    sock.set_read_timeout(Some(Duration::from_secs(5)))?;
    let dst = SocketAddrV6::new(device, 7777, 0, 0);
    let start = Instant::now();
    let mut echoed = 0;
    let mut buf = [0u8; 256];
    for i in 0..count {
        let from = node.log().len();
        let payload = format!("q{i}");
        sock.send_to(payload.as_bytes(), dst)?;
        let want = format!(" {payload}");
        let seen = node
            .log()
            .wait_until(from, Duration::from_secs(5), &payload, |l| {
                l.trim_end().ends_with(&want)
            });
        let Ok((_, line)) = seen else {
            eprintln!("datagram {i} did not reach the device");
            continue;
        };
        // "<n> bytes from <addr> <port> <payload>"
        let f: Vec<&str> = line.split_whitespace().collect();
        let at = f
            .iter()
            .position(|w| *w == "from")
            .ok_or_else(|| anyhow!("odd line {line:?}"))?;
        let (peer, port) = (
            f.get(at + 1).copied().unwrap_or(""),
            f.get(at + 2).copied().unwrap_or(""),
        );
        let reply = format!("r{i}");
        node.cmd(&format!("udp send {peer} {port} {reply}"))?;
        loop {
            match sock.recv_from(&mut buf) {
                Ok((n, _)) if &buf[..n] == reply.as_bytes() => {
                    echoed += 1;
                    break;
                }
                Ok(_) => continue, // a late echo of an earlier datagram
                Err(_) => {
                    eprintln!("echo {i} did not come back");
                    break;
                }
            }
        }
    }
    Ok((count, echoed, start.elapsed()))
}

/// The device was the co-processor's child; a restarted or reset co-processor forgot it. Give
/// it a minute to notice on its own, then restart its Thread stack (re-attaching is not what is
/// tested here; the bridge's interface and routes are).
fn reach_after_restart(node: &CliNode, p: &mut Pinger, mleid: Ipv6Addr) -> Result<()> {
    if p.until_answer(mleid, 30).is_err() {
        eprintln!("device not reachable a minute after the co-processor restarted; restarting its Thread stack");
        node.cmd("thread stop")?;
        node.cmd("thread start")?;
        node.wait_state(&["child", "router"], ATTACH_TIMEOUT)?;
        p.until_answer(mleid, 30)?;
    }
    Ok(())
}

/// One request on the control socket (NDJSON); the answer object.
fn control_call(sb: &Sandbox, method: &str) -> Result<Value> {
    use std::io::{BufRead, BufReader, Write};
    let mut s = std::os::unix::net::UnixStream::connect(sb.control_socket())?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    writeln!(s, "{{\"id\":1,\"method\":\"{method}\",\"params\":{{}}}}")?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line)?;
    serde_json::from_str(&line).with_context(|| format!("answer to {method}: {line:?}"))
}

// ---------------------------------------------------------------------------------------------
// Tests

/// Mesh bridge + border routing + UDP echo + stop/start, in one bed (setting one up takes ~1 min).
#[test]
fn bridge_border_routing_echo_and_restart() -> Result<()> {
    if !can_run() {
        return Ok(());
    }
    let bed = Bed::new()?;
    let _in_br = bed.br.enter()?;
    let mut agent = bed.start_agent()?;
    let (node, mleid, omr_addr, status) = attach_device(&bed, &mut agent)?;
    let omr_prefix = bridge(&status)["omr_prefix"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    // The interface: up, MTU 1280, the co-processor's addresses, routes for ML and OMR prefixes.
    let link = bed.br.ip(&["link", "show", "wpan0"])?;
    ensure!(
        link.contains("mtu 1280") && link.contains("UP"),
        "wpan0: {link}"
    );
    let routes = bed.br.ip(&["-6", "route"])?;
    ensure!(
        routes.contains(&format!("{omr_prefix} dev wpan0")),
        "no OMR route on wpan0:\n{routes}"
    );

    // (1) Ping from the BR namespace: mesh-local EID and OMR address.
    let mut p = Pinger::new()?;
    for dst in [mleid, omr_addr] {
        p.until_answer(dst, 30)?;
        let n = p.answered(dst, 10)?;
        ensure!(
            n == 10,
            "{dst} answered {n} of 10 echo requests from the BR namespace"
        );
    }

    // (2) The LAN host learns the OMR route from the agent's RA and pings the device.
    let route = wait_lan_route(&bed, &omr_prefix)?;
    eprintln!("LAN host route: {route}");
    let answered = bed.lan.run(move || -> Result<usize> {
        let mut p = Pinger::new()?;
        p.until_answer(omr_addr, 30)?;
        p.answered(omr_addr, 10)
    })??;
    ensure!(
        answered == 10,
        "the device answered {answered} of 10 echo requests from the LAN host"
    );

    // (3) UDP echo of 1,000 datagrams LAN host <-> device.
    let (sent, echoed, took) = udp_echo(&bed, &node, omr_addr, 1000)?;
    eprintln!("UDP echo LAN host <-> device: {echoed}/{sent} in {took:.1?}");
    ensure!(
        echoed == sent,
        "UDP echo lost {} of {sent} datagrams",
        sent - echoed
    );

    let status = agent.status_json()?;
    let b = bridge(&status);
    eprintln!("bridge status after the echo: {b}");
    ensure!(
        b["rx_packets"].as_u64().unwrap_or(0) >= 1000
            && b["tx_packets"].as_u64().unwrap_or(0) >= 1000,
        "counters: {b}"
    );
    ensure!(
        b["drops"].is_u64() && b["interface"] == "wpan0",
        "status fields: {b}"
    );

    // Multicast: the host joins a realm-local group on wpan0; the bridge subscribes the
    // co-processor (from the kernel's MLD report), so the device's datagrams to it arrive.
    let group: Ipv6Addr = "ff03::7e57".parse()?;
    let name = std::ffi::CString::new("wpan0")?;
    // SAFETY: a valid NUL-terminated name; resolved in this thread's (the BR) namespace.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
    ensure!(ifindex != 0, "no wpan0 in the BR namespace");
    let msock = UdpSocket::bind("[::]:5555")?;
    msock.join_multicast_v6(&group, ifindex)?;
    msock.set_read_timeout(Some(Duration::from_secs(1)))?;
    let mut got = None;
    for i in 0..20 {
        node.cmd(&format!("udp send {group} 5555 mc{i}"))?;
        let mut buf = [0u8; 64];
        if let Ok((n, from)) = msock.recv_from(&mut buf) {
            got = Some((String::from_utf8_lossy(&buf[..n]).into_owned(), from));
            break;
        }
    }
    let (payload, from) = got.ok_or_else(|| anyhow!("no datagram to {group} reached the host"))?;
    eprintln!("multicast {group} from the device reached the host: {payload:?} from {from}");

    // (4) The co-processor resets (test-only control method): the bridge reports the
    // infrastructure link again and re-reads addresses and prefixes; the device is reachable
    // from the BR namespace and from the LAN host again.
    let answer = control_call(&bed.sb, "debug.reset_ncp")?;
    ensure!(answer.get("result").is_some(), "debug.reset_ncp: {answer}");
    agent.wait_log("co-processor reset: the bridge re-reads", UP_TIMEOUT)?;
    let from = agent.log().len();
    agent
        .log()
        .wait_for_from(from, "infrastructure link reported", UP_TIMEOUT)
        .context("INFRA_IF_STATE not sent again after the reset")?;
    reach_after_restart(&node, &mut p, mleid)?;
    agent.wait_status("OMR route back after the reset", ROUTE_TIMEOUT, |v| {
        bridge(v)["routes"]
            .as_array()
            .is_some_and(|r| r.iter().any(|p| p == omr_prefix.as_str()))
    })?;
    p.until_answer(omr_addr, 30)?;
    let answered = bed.lan.run(move || -> Result<()> {
        let mut p = Pinger::new()?;
        p.until_answer(omr_addr, 30)
    })?;
    answered.context("the LAN host cannot reach the device after the co-processor reset")?;

    // (5) Stop: interface and routes gone (the on-link route on infra0 too). Start: back.
    let stopped = agent.stop()?;
    ensure!(stopped.code() == Some(0), "agent exit status {stopped}");
    ensure!(
        bed.br.ip(&["link", "show", "wpan0"]).is_err(),
        "wpan0 still exists after stop"
    );
    let routes = bed.br.ip(&["-6", "route"])?;
    ensure!(
        routes
            .lines()
            .all(|l| l.starts_with("fe80::") || l.starts_with("multicast")),
        "routes left after stop:\n{routes}"
    );
    let mut again = bed.start_agent()?;
    again.wait_status("bridge restored", ROUTE_TIMEOUT, |v| {
        bridge(v)["state"] == "up"
            && bridge(v)["omr_prefix"] == omr_prefix.as_str()
            && bridge(v)["border_routing"] == "active"
    })?;
    let routes = bed.br.ip(&["-6", "route"])?;
    ensure!(
        routes.contains(&format!("{omr_prefix} dev wpan0")),
        "OMR route not restored:\n{routes}"
    );
    reach_after_restart(&node, &mut p, mleid)?;
    p.until_answer(omr_addr, 30)?;
    let stopped = again.stop()?;
    ensure!(stopped.code() == Some(0), "agent exit status {stopped}");
    Ok(())
}

/// An infrastructure interface that does not exist: the mesh bridge works, border routing is
/// reported unavailable (not fatal).
#[test]
fn missing_infra_interface_keeps_mesh_bridge() -> Result<()> {
    if !can_run() {
        return Ok(());
    }
    prepare()?;
    let sb = Sandbox::new()?;
    let br = Netns::new("br")?;
    let _in_br = br.enter()?;
    let opts = AgentOptions {
        env: vec![(
            "THREAD_AGENT_BRIDGE__INFRA_INTERFACE".into(),
            "nosuch0".into(),
        )],
        ..Default::default()
    };
    let mut agent = Agent::start_with(&sb, &opts)?;
    agent.wait_log("network up", UP_TIMEOUT)?;
    let v = agent.wait_status("bridge up", UP_TIMEOUT, |v| {
        bridge(v)["state"] == "up"
            && bridge(v)["addresses"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
    })?;
    ensure!(
        bridge(&v)["border_routing"] == "unavailable",
        "border_routing: {}",
        bridge(&v)
    );
    ensure!(
        bridge(&v)["border_routing_error"]
            .as_str()
            .is_some_and(|e| e.contains("nosuch0")),
        "{}",
        bridge(&v)
    );
    let stopped = agent.stop()?;
    ensure!(stopped.code() == Some(0), "agent exit status {stopped}");
    Ok(())
}

/// Benchmark (ignored by default; run manually with `-- --ignored --nocapture`): ICMPv6 echo
/// latency host -> device (ML-EID) for small and fragmented packets, and UDP throughput host ->
/// device (a burst of datagrams, counted by the device's CLI). Reports figures; asserts nothing
/// about them.
#[test]
#[ignore = "benchmark: run manually"]
fn bench_host_to_device() -> Result<()> {
    if !can_run() {
        return Ok(());
    }
    let bed = Bed::new()?;
    let _in_br = bed.br.enter()?;
    let mut agent = bed.start_agent()?;
    let (node, mleid, _omr, _) = attach_device(&bed, &mut agent)?;
    let mut p = Pinger::new()?;
    p.until_answer(mleid, 30)?;
    for size in [16usize, 200, 1000] {
        let mut rtts = Vec::new();
        let mut lost = 0;
        for _ in 0..100 {
            match p.ping(mleid, size, Duration::from_secs(3))? {
                Some(t) => rtts.push(t.as_secs_f64() * 1e3),
                None => lost += 1,
            }
        }
        rtts.sort_by(|a, b| a.total_cmp(b));
        let avg = rtts.iter().sum::<f64>() / rtts.len().max(1) as f64;
        let pct = |q: f64| {
            rtts.get(((rtts.len() as f64 - 1.0) * q) as usize)
                .copied()
                .unwrap_or(f64::NAN)
        };
        println!(
            "BENCH ping host->device {size:4} B payload: n={} lost={lost} min={:.2} ms median={:.2} ms avg={avg:.2} ms p95={:.2} ms max={:.2} ms",
            rtts.len(), pct(0.0), pct(0.5), pct(0.95), pct(1.0)
        );
    }
    node.cmd("udp open")?;
    node.cmd("udp bind :: 7777")?;
    let sock = UdpSocket::bind("[::]:0")?;
    // Burst: everything at once (the co-processor drops what it cannot buffer).
    for (count, size) in [(200usize, 64usize), (100, 400)] {
        let from = node.log().len();
        let payload = "x".repeat(size);
        let start = Instant::now();
        for _ in 0..count {
            sock.send_to(payload.as_bytes(), SocketAddrV6::new(mleid, 7777, 0, 0))?;
        }
        let sent_in = start.elapsed();
        let mut seen = 0;
        let mut last = start.elapsed();
        let mut next = from;
        while let Ok((i, _)) =
            node.log()
                .wait_until(next, Duration::from_secs(5), "datagram", |l| {
                    l.contains("bytes from")
                })
        {
            seen += 1;
            next = i + 1;
            last = start.elapsed();
            if seen == count {
                break;
            }
        }
        let kbit = (seen * size * 8) as f64 / last.as_secs_f64() / 1e3;
        println!(
            "BENCH udp host->device burst {count} x {size} B sent in {sent_in:.1?}: delivered {seen}/{count} in {last:.2?} = {kbit:.1} kbit/s goodput"
        );
    }
    // Paced: at most `window` datagrams in flight (counted when the device prints them).
    for (count, size, window) in [(300usize, 64usize, 1usize), (300, 64, 4), (200, 400, 2)] {
        let payload = "y".repeat(size);
        let mut next = node.log().len();
        let (mut sent, mut seen, mut lost) = (0usize, 0usize, 0usize);
        let start = Instant::now();
        while seen + lost < count {
            while sent < count && sent - seen - lost < window {
                sock.send_to(payload.as_bytes(), SocketAddrV6::new(mleid, 7777, 0, 0))?;
                sent += 1;
            }
            match node
                .log()
                .wait_until(next, Duration::from_secs(2), "datagram", |l| {
                    l.contains("bytes from")
                }) {
                Ok((i, _)) => {
                    seen += 1;
                    next = i + 1;
                }
                Err(_) => lost += sent - seen - lost, // give up on what is in flight
            }
        }
        let took = start.elapsed();
        let kbit = (seen * size * 8) as f64 / took.as_secs_f64() / 1e3;
        println!(
            "BENCH udp host->device paced window={window} {count} x {size} B: delivered {seen}/{count} in {took:.2?} = {kbit:.1} kbit/s goodput, {:.0} datagrams/s",
            seen as f64 / took.as_secs_f64()
        );
    }
    println!("BENCH bridge status: {}", bridge(&agent.status_json()?));
    agent.stop()?;
    Ok(())
}
