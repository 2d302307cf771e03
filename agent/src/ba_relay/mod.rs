//! The LAN relay to the co-processor's Border Agent: lets an external commissioner (a phone app,
//! `ot-commissioner`, another border router's tool) on the LAN reach the Border Agent that only
//! the Spinel UDP forward stream leads to.
//!
//! - One UDP socket of ours on the LAN: `[::]:[border_agent] lan_port` (default
//!   [`DEFAULT_LAN_PORT`], 0 = any free port), IPv6 with v4-mapped IPv4 peers, bound with
//!   `SO_BINDTODEVICE` to `[bridge] infra_interface`. Without an infra interface the relay is off.
//!   When the interface is missing or the port taken, the bind is retried every
//!   [`BIND_RETRY`] (logged once per distinct error).
//! - LAN -> Border Agent: every datagram becomes a `THREAD_UDP_FORWARD_STREAM` SET with the LAN
//!   peer's address (v4-mapped for IPv4) and port and local port = the Border Agent's port from
//!   `BORDER_AGENT_MESHCOP_SERVICE_STATE` (read as the commissioner does, cached for
//!   [`BA_PORT_TTL`], forgotten on a co-processor reset). Garbage is relayed like anything else:
//!   the Border Agent's DTLS drops it.
//! - Border Agent -> LAN: the frame router ([`crate::frames`]) hands over every forward-stream
//!   datagram whose peer is not the agent's own commissioner ([`crate::commissioner::PEER_ADDR`]);
//!   it goes to that peer from the relay socket when the peer is in the table ([`peers::Peers`]:
//!   (address, port) -> full socket address with scope id; at most [`MAX_PEERS`], an entry idle
//!   for [`PEER_IDLE`] expires).
//! - Dropped and counted ([`Counters`], `status.border_agent`): larger than [`MAX_PAYLOAD`], from
//!   a new peer while the table is full, over [`RATE`] a second (burst [`BURST`], all peers
//!   together), while the co-processor or its Border Agent is down, to a peer we do not know, or
//!   when the router's queue is full.
//! - The bound port is published on a `watch` channel ([`Relay::port`]) for the mDNS publisher
//!   (`_meshcop._udp` SRV port).
//!
//! Guarantees: never panics on a datagram (the relay does not parse payloads); no payload bytes
//! are logged (they carry DTLS records only, but stay out of logs all the same).
//! Validated by the unit tests in `tests.rs` (table limits, expiry, garbage, a loopback round
//! trip against a fake co-processor) and `tests/tests/external_commissioner.rs`.

mod peers;
#[cfg(test)]
mod tests;

use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ncp::props::border_agent::decode_border_agent_state;
use ncp::props::forward::{encode_forward, Forwarded};
use ncp::spinel::{cmd, prop};
use ncp::Client;
use serde_json::{json, Value};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

pub(crate) use peers::Peers;

/// Default `[border_agent] lan_port` (the historical MeshCoP Border Agent port).
pub(crate) const DEFAULT_LAN_PORT: u16 = 49191;
/// Largest payload relayed: a Spinel frame is at most 1300 bytes (OpenThread's
/// `SPINEL_FRAME_MAX_SIZE`); the forward stream's header (1 header byte, 1 command, 2 property
/// bytes) and fields (2 length, 2 peer port, 16 address, 2 local port) take 26.
pub(crate) const MAX_PAYLOAD: usize = 1300 - 26;
/// Most LAN peers relayed at once.
pub(crate) const MAX_PEERS: usize = 32;
/// A peer silent (both ways) this long leaves the table.
pub(crate) const PEER_IDLE: Duration = Duration::from_secs(120);
/// How long a Border Agent port read from the co-processor is used before it is read again.
pub(crate) const BA_PORT_TTL: Duration = Duration::from_secs(10);
/// Retry interval when the socket cannot be bound (interface missing, port taken).
pub(crate) const BIND_RETRY: Duration = Duration::from_secs(5);
/// LAN -> Border Agent datagrams a second, all peers together (keeps a LAN flood from filling
/// the co-processor link; a commissioner's DTLS and relayed joiner traffic need far fewer).
pub(crate) const RATE: u32 = 100;
/// Burst allowed above [`RATE`].
pub(crate) const BURST: u32 = 200;
/// Datagrams from the Border Agent waiting for the relay task.
pub(crate) const QUEUE: usize = 256;

/// `[border_agent]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RelayConfig {
    /// `[bridge] infra_interface`: the relay is off without it.
    pub(crate) interface: Option<String>,
    /// `[border_agent] lan_port` (0: any free port).
    pub(crate) lan_port: u16,
}

impl RelayConfig {
    /// From the agent's settings.
    pub(crate) fn of(settings: &crate::config::Settings) -> RelayConfig {
        RelayConfig {
            interface: settings.bridge.infra_interface.clone(),
            lan_port: settings.border_agent_lan_port,
        }
    }
}

/// What the frame router hands the relay.
#[derive(Debug)]
pub(crate) enum RelayInput {
    /// A forward-stream datagram for a peer other than the agent's own commissioner.
    Forwarded(Forwarded),
    /// The co-processor reset: its Border Agent port is read again.
    Reset,
}

/// The frame router's end: never blocks, drops (and counts) what does not fit.
#[derive(Clone, Default)]
pub(crate) struct Inlet {
    tx: Option<mpsc::Sender<RelayInput>>,
    counters: Option<Arc<Counters>>,
}

impl Inlet {
    /// Unit tests: an inlet into `tx`.
    #[cfg(test)]
    pub(crate) fn for_tests(tx: mpsc::Sender<RelayInput>) -> Inlet {
        Inlet {
            tx: Some(tx),
            counters: None,
        }
    }
    pub(crate) fn forwarded(&self, f: Forwarded) {
        let Some(tx) = &self.tx else { return };
        if tx.try_send(RelayInput::Forwarded(f)).is_err() {
            if let Some(c) = &self.counters {
                c.drop_for(DropReason::QueueFull);
            }
        }
    }
    pub(crate) fn reset(&self) {
        if let Some(tx) = &self.tx {
            let _ = tx.try_send(RelayInput::Reset);
        }
    }
}

/// Why a datagram was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DropReason {
    TooLarge,
    TooManyPeers,
    RateLimited,
    BorderAgentDown,
    UnknownPeer,
    /// The agent's own commissioner's peer address and port, from the LAN (a spoof).
    ReservedPeer,
    QueueFull,
    SendFailed,
}

/// Whether a LAN peer poses as the agent's own commissioner (its forward-stream peer): its
/// datagrams would reach the Border Agent as the commissioner's and the answers the commissioner.
pub(crate) fn reserved(from: &SocketAddrV6) -> bool {
    *from.ip() == crate::commissioner::PEER_ADDR && from.port() == crate::commissioner::PEER_PORT
}

/// Datagram counters (shown in `status.border_agent`).
#[derive(Default, Debug)]
pub(crate) struct Counters {
    pub(crate) to_border_agent: AtomicU64,
    pub(crate) from_border_agent: AtomicU64,
    too_large: AtomicU64,
    too_many_peers: AtomicU64,
    rate_limited: AtomicU64,
    border_agent_down: AtomicU64,
    unknown_peer: AtomicU64,
    reserved_peer: AtomicU64,
    queue_full: AtomicU64,
    send_failed: AtomicU64,
}

impl Counters {
    pub(crate) fn drop_for(&self, why: DropReason) {
        let c = match why {
            DropReason::TooLarge => &self.too_large,
            DropReason::TooManyPeers => &self.too_many_peers,
            DropReason::RateLimited => &self.rate_limited,
            DropReason::BorderAgentDown => &self.border_agent_down,
            DropReason::UnknownPeer => &self.unknown_peer,
            DropReason::ReservedPeer => &self.reserved_peer,
            DropReason::QueueFull => &self.queue_full,
            DropReason::SendFailed => &self.send_failed,
        };
        let n = c.fetch_add(1, Ordering::Relaxed) + 1;
        // The first of each kind at info, then every 100th.
        if n == 1 || n % 100 == 0 {
            tracing::info!(reason = ?why, count = n, "border agent relay: datagram dropped");
        } else {
            tracing::debug!(reason = ?why, count = n, "border agent relay: datagram dropped");
        }
    }

    fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }

    /// `dropped` (the total) and `dropped_by_reason`.
    fn dropped_json(&self) -> (u64, Value) {
        let by = [
            ("too_large", &self.too_large),
            ("too_many_peers", &self.too_many_peers),
            ("rate_limited", &self.rate_limited),
            ("border_agent_down", &self.border_agent_down),
            ("unknown_peer", &self.unknown_peer),
            ("reserved_peer", &self.reserved_peer),
            ("queue_full", &self.queue_full),
            ("send_failed", &self.send_failed),
        ];
        let total = by.iter().map(|(_, c)| Self::get(c)).sum();
        let m: serde_json::Map<String, Value> = by
            .iter()
            .map(|(k, c)| (k.to_string(), json!(Self::get(c))))
            .collect();
        (total, Value::Object(m))
    }
}

/// The relay's handle: status and the bound port.
pub(crate) struct Relay {
    config: RelayConfig,
    counters: Arc<Counters>,
    peers: Arc<Mutex<Peers>>,
    port_rx: watch::Receiver<Option<u16>>,
}

impl Relay {
    /// The LAN port the relay is bound to (`None` while off or not bound yet): for the mDNS
    /// publisher's `_meshcop._udp` SRV record.
    pub(crate) fn port(&self) -> watch::Receiver<Option<u16>> {
        self.port_rx.clone()
    }

    /// `status.border_agent`.
    pub(crate) fn status_json(&self) -> Value {
        let c = &self.counters;
        let (dropped, by_reason) = c.dropped_json();
        let peers = lock(&self.peers).len(Instant::now());
        json!({
            "lan_port": *self.port_rx.borrow(),
            "interface": self.config.interface,
            "peers": peers,
            "to_border_agent": Counters::get(&c.to_border_agent),
            "from_border_agent": Counters::get(&c.from_border_agent),
            "dropped": dropped,
            "dropped_by_reason": by_reason,
        })
    }
}

fn lock(p: &Mutex<Peers>) -> std::sync::MutexGuard<'_, Peers> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts the relay (a task only when `[bridge] infra_interface` is set); returns its handle and
/// the frame router's inlet (which drops everything when the relay is off).
pub(crate) fn start(client: Client, config: RelayConfig) -> (Arc<Relay>, Inlet) {
    let counters = Arc::new(Counters::default());
    let peers = Arc::new(Mutex::new(Peers::new(MAX_PEERS, PEER_IDLE)));
    let (port_tx, port_rx) = watch::channel(None);
    let relay = Arc::new(Relay {
        config: config.clone(),
        counters: counters.clone(),
        peers: peers.clone(),
        port_rx,
    });
    let Some(interface) = config.interface.clone() else {
        tracing::debug!("border agent LAN relay off ([bridge] infra_interface not set)");
        return (relay, Inlet::default());
    };
    let (tx, rx) = mpsc::channel(QUEUE);
    let inlet = Inlet {
        tx: Some(tx),
        counters: Some(counters.clone()),
    };
    let task = Task {
        client,
        counters,
        peers,
        ba_port: None,
        bucket: Bucket::new(RATE, BURST),
    };
    tokio::spawn(task.run(interface, config.lan_port, port_tx, rx));
    (relay, inlet)
}

/// Opens `[::]:port` on `interface` (dual stack, `SO_BINDTODEVICE`).
pub(crate) fn bind(interface: &str, port: u16) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, SockAddr, Socket, Type};
    let s = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_only_v6(false)?;
    s.bind_device(Some(interface.as_bytes()))?;
    s.set_nonblocking(true)?;
    let addr = SocketAddr::from((Ipv6Addr::UNSPECIFIED, port));
    s.bind(&SockAddr::from(addr))?;
    UdpSocket::from_std(s.into())
}

struct Task {
    client: Client,
    counters: Arc<Counters>,
    peers: Arc<Mutex<Peers>>,
    /// The Border Agent's port and when it was read.
    ba_port: Option<(u16, Instant)>,
    /// LAN -> Border Agent datagrams allowed ([`RATE`], [`BURST`]).
    bucket: Bucket,
}

/// A token bucket: `rate` tokens a second, at most `burst`.
pub(crate) struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Option<Instant>,
}

impl Bucket {
    pub(crate) fn new(rate: u32, burst: u32) -> Bucket {
        Bucket {
            rate: f64::from(rate),
            burst: f64::from(burst),
            tokens: f64::from(burst),
            at: None,
        }
    }

    /// Takes a token if there is one.
    pub(crate) fn take(&mut self, now: Instant) -> bool {
        if let Some(at) = self.at {
            let dt = now.saturating_duration_since(at).as_secs_f64();
            self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        }
        self.at = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl Task {
    async fn run(
        mut self,
        interface: String,
        port: u16,
        port_tx: watch::Sender<Option<u16>>,
        mut input: mpsc::Receiver<RelayInput>,
    ) {
        let sock = self.bind_retrying(&interface, port, &mut input).await;
        let Some(sock) = sock else { return };
        let bound = sock.local_addr().map(|a| a.port()).unwrap_or(port);
        tracing::info!(interface = %interface, port = bound, "border agent LAN relay listening");
        port_tx.send_replace(Some(bound));
        let mut buf = vec![0u8; 65536];
        loop {
            tokio::select! {
                r = sock.recv_from(&mut buf) => match r {
                    Ok((n, SocketAddr::V6(from))) => self.relay_lan_datagram(&buf[..n], from).await,
                    Ok((_, SocketAddr::V4(_))) => {} // a dual-stack socket reports v4-mapped V6
                    Err(e) => {
                        tracing::debug!(error = %e, "border agent relay: receive error");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                i = input.recv() => match i {
                    None => return,
                    Some(RelayInput::Reset) => self.ba_port = None,
                    Some(RelayInput::Forwarded(f)) => self.relay_ba_datagram(&sock, f).await,
                },
            }
        }
    }

    /// Binds, retrying every [`BIND_RETRY`]; meanwhile the Border Agent's datagrams (no peer
    /// yet) are dropped. `None` when the router is gone.
    async fn bind_retrying(
        &mut self,
        interface: &str,
        port: u16,
        input: &mut mpsc::Receiver<RelayInput>,
    ) -> Option<UdpSocket> {
        let mut last_error = String::new();
        loop {
            match bind(interface, port) {
                Ok(s) => return Some(s),
                Err(e) => {
                    let e = e.to_string();
                    if e != last_error {
                        tracing::warn!(interface = %interface, port, error = %e, "border agent LAN relay: cannot bind; retrying every {} s", BIND_RETRY.as_secs());
                        last_error = e;
                    }
                }
            }
            let retry = tokio::time::sleep(BIND_RETRY);
            tokio::pin!(retry);
            loop {
                tokio::select! {
                    _ = &mut retry => break,
                    i = input.recv() => match i {
                        None => return None,
                        Some(RelayInput::Forwarded(_)) => self.counters.drop_for(DropReason::UnknownPeer),
                        Some(RelayInput::Reset) => self.ba_port = None,
                    },
                }
            }
        }
    }

    /// The Border Agent's port (cached for [`BA_PORT_TTL`]); `None` when the co-processor does
    /// not answer or its Border Agent is not active.
    async fn border_agent_port(&mut self) -> Option<u16> {
        let now = Instant::now();
        if let Some((p, at)) = self.ba_port {
            if now.duration_since(at) < BA_PORT_TTL {
                return Some(p);
            }
        }
        self.ba_port = None;
        if self.client.is_closed() {
            return None;
        }
        let v = self
            .client
            .get(prop::BORDER_AGENT_MESHCOP_SERVICE_STATE)
            .await
            .map_err(|e| tracing::debug!(error = %e, "border agent relay: cannot read the border agent state"))
            .ok()?;
        let s = decode_border_agent_state(&v).ok()?;
        if !s.active || s.port == 0 {
            return None;
        }
        self.ba_port = Some((s.port, now));
        Some(s.port)
    }

    async fn relay_lan_datagram(&mut self, payload: &[u8], from: SocketAddrV6) {
        if reserved(&from) {
            return self.counters.drop_for(DropReason::ReservedPeer);
        }
        if payload.len() > MAX_PAYLOAD {
            return self.counters.drop_for(DropReason::TooLarge);
        }
        let now = Instant::now();
        if !lock(&self.peers).touch(from, now) {
            return self.counters.drop_for(DropReason::TooManyPeers);
        }
        if !self.bucket.take(now) {
            return self.counters.drop_for(DropReason::RateLimited);
        }
        let Some(ba_port) = self.border_agent_port().await else {
            return self.counters.drop_for(DropReason::BorderAgentDown);
        };
        let v = encode_forward(payload, from.port(), from.ip(), ba_port);
        match self
            .client
            .send_nowait(cmd::SET, prop::THREAD_UDP_FORWARD_STREAM, &v)
            .await
        {
            Ok(()) => {
                self.counters
                    .to_border_agent
                    .fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::debug!(error = %e, "border agent relay: cannot send to the co-processor");
                self.ba_port = None;
                self.counters.drop_for(DropReason::BorderAgentDown);
            }
        }
    }

    async fn relay_ba_datagram(&mut self, sock: &UdpSocket, f: Forwarded) {
        let to = lock(&self.peers).lookup(f.peer_addr, f.peer_port, Instant::now());
        let Some(to) = to else {
            return self.counters.drop_for(DropReason::UnknownPeer);
        };
        match sock.send_to(&f.payload, to).await {
            Ok(_) => {
                self.counters
                    .from_border_agent
                    .fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::debug!(error = %e, peer = %to, "border agent relay: cannot send to the LAN peer");
                self.counters.drop_for(DropReason::SendFailed);
            }
        }
    }
}
