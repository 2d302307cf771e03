//! The mesh bridge: the Thread network as a Linux network interface (TUN, default `wpan0`), and
//! border routing between it and an infrastructure link through the co-processor's routing
//! manager.
//!
//! What it does:
//! - IPv6 packets both ways between the TUN interface and Spinel `STREAM_NET` (mesh -> host:
//!   unsolicited IS; host -> mesh: SET with TID 0, fire-and-forget, see
//!   [`ncp::Client::send_nowait`]). MLD reports and neighbor discovery the kernel emits on the
//!   TUN interface are not forwarded; packets from the mesh that the kernel would route back
//!   into the mesh (on-mesh source that is not ours) are dropped, not looped back.
//! - Mirrors the co-processor's unicast addresses (`IPV6_ADDRESS_TABLE`, except Thread RLOC/ALOC
//!   locators, which the co-processor answers itself) and multicast groups
//!   (`IPV6_MULTICAST_ADDRESS_TABLE`) onto the interface; host multicast subscriptions of
//!   realm-local or wider scope seen in MLD reports are inserted into the co-processor's table
//!   (and removed when the host leaves).
//! - Routes `dev <interface>` for the mesh-local prefix and every on-mesh prefix of the network
//!   data (`THREAD_ON_MESH_NETS`, re-read when `THREAD_LEADER_NETWORK_DATA` changes); the OMR
//!   prefix is among them.
//! - Border routing (when `[bridge] infra_interface` is set): reports the infrastructure
//!   interface's index, running state and addresses (`INFRA_IF_STATE`, again every
//!   [`INFRA_POLL`] when they change and after a co-processor reset), relays RS/RA/NS/NA both
//!   ways ([`infra`]), adds a route for every on-link prefix the co-processor advertises on the
//!   link, and turns on IPv6 forwarding: `net.ipv6.conf.all.forwarding=1`,
//!   `net.ipv6.conf.<infra>.accept_ra=2` (keep learning from other routers) and
//!   `net.ipv6.conf.<infra>.accept_ra_rt_info_max_plen=64`. Firmware without infra-if support
//!   is reported once; the mesh bridge keeps running and `border_routing` is `unavailable`.
//! - Bounded queues ([`RX_QUEUE`], [`TX_QUEUE`] packets); what does not fit is dropped and
//!   counted, visible in `threadctl status` (`bridge` object, [`Bridge::status_json`]).
//! - Stopping: the TUN interface is not persistent, so closing it removes it together with its
//!   addresses and routes; [`Bridge::shutdown`] also removes the on-link routes it added on the
//!   infrastructure interface. Starting again creates and fills everything anew.
//!
//! Failing to create the interface (no root, no `/dev/net/tun`, name in use) is not fatal for
//! the agent: it is logged once and the bridge reports `state: "unavailable"`.
//!
//! Validated against the OpenThread simulation co-processor in network namespaces
//! (tests/tests/bridge.rs); the wire formats are checked in [`wire`]'s tests.

pub mod infra;
pub mod netif;
pub mod wire;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::Ipv6Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use ncp::codec::Reader;
use ncp::spinel::{cmd, prop, Prop};
use ncp::{Client, Event};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

use self::netif::{Memberships, Netlink, Tun};
use self::wire::{icmp6, MldChange, Prefix};

/// Packets from the mesh waiting to be written to the interface.
pub const RX_QUEUE: usize = 512;
/// Packets from the host waiting to be sent to the co-processor.
pub const TX_QUEUE: usize = 256;
/// Control events (address tables, network data...) waiting for the bridge.
pub const CONTROL_QUEUE: usize = 256;
/// How often the infrastructure interface is re-checked.
pub const INFRA_POLL: Duration = Duration::from_secs(5);
/// Metric of the routes the bridge adds.
pub const ROUTE_METRIC: u32 = 256;

/// `[bridge]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeConfig {
    /// TUN interface name (default `wpan0`).
    pub interface: String,
    /// Infrastructure interface for border routing; `None` = border routing off.
    pub infra_interface: Option<String>,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            interface: "wpan0".into(),
            infra_interface: None,
        }
    }
}

#[derive(Default)]
struct Counters {
    rx_packets: AtomicU64,
    tx_packets: AtomicU64,
    rx_queue_full: AtomicU64,
    tx_queue_full: AtomicU64,
    control_queue_full: AtomicU64,
    looped: AtomicU64,
    malformed: AtomicU64,
    ncp_rejected: AtomicU64,
    interface_errors: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// `border_routing` in the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BorderRouting {
    Off,
    Starting,
    Active,
    Unavailable,
}

impl BorderRouting {
    fn as_str(self) -> &'static str {
        match self {
            BorderRouting::Off => "off",
            BorderRouting::Starting | BorderRouting::Unavailable => "unavailable",
            BorderRouting::Active => "active",
        }
    }
}

#[derive(Debug, Clone)]
struct StatusState {
    state: &'static str,
    error: Option<String>,
    addresses: Vec<Ipv6Addr>,
    routes: Vec<Prefix>,
    omr_prefix: Option<Prefix>,
    border_routing: BorderRouting,
    border_routing_error: Option<String>,
    infra_ifindex: Option<u32>,
}

/// What the packet path needs to know about the mesh (for the loop check).
#[derive(Debug, Default)]
struct MeshView {
    own: HashSet<Ipv6Addr>,
    on_mesh: Vec<Prefix>,
}

struct Shared {
    config: BridgeConfig,
    counters: Counters,
    status: Mutex<StatusState>,
    mesh: RwLock<MeshView>,
}

impl Shared {
    fn new(config: BridgeConfig) -> Shared {
        let border_routing = if config.infra_interface.is_some() {
            BorderRouting::Starting
        } else {
            BorderRouting::Off
        };
        Shared {
            config,
            counters: Counters::default(),
            status: Mutex::new(StatusState {
                state: "starting",
                error: None,
                addresses: Vec::new(),
                routes: Vec::new(),
                omr_prefix: None,
                border_routing,
                border_routing_error: None,
                infra_ifindex: None,
            }),
            mesh: RwLock::new(MeshView::default()),
        }
    }

    fn status(&self) -> std::sync::MutexGuard<'_, StatusState> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Handle on the running bridge: status and shutdown.
pub struct Bridge {
    shared: Arc<Shared>,
    stop: Mutex<Option<oneshot::Sender<oneshot::Sender<()>>>>,
}

/// Starts the bridge on `client`. Returns its handle and its [`Inlet`]: the frame router
/// ([`crate::frames`]) hands the co-processor's `STREAM_NET` packets and the events the bridge
/// needs to it.
pub fn start(client: Client, config: BridgeConfig) -> (Arc<Bridge>, Inlet) {
    let shared = Arc::new(Shared::new(config));
    let (rx_tx, rx_rx) = mpsc::channel(RX_QUEUE);
    let (ctl_tx, ctl_rx) = mpsc::channel(CONTROL_QUEUE);
    let inlet = Inlet {
        packets: rx_tx,
        control: ctl_tx.clone(),
        shared: shared.clone(),
    };
    let (stop_tx, stop_rx) = oneshot::channel();
    tokio::spawn(run(client, shared.clone(), rx_rx, ctl_rx, ctl_tx, stop_rx));
    (
        Arc::new(Bridge {
            shared,
            stop: Mutex::new(Some(stop_tx)),
        }),
        inlet,
    )
}

/// Internal control messages.
pub(crate) enum Control {
    Ncp(Event),
    Host(MldChange),
}

/// Where the frame router ([`crate::frames`]) delivers the bridge's share of the co-processor's
/// frames. Never blocks: what does not fit in the bridge's queues is dropped and counted.
#[derive(Clone)]
pub(crate) struct Inlet {
    packets: mpsc::Sender<Vec<u8>>,
    control: mpsc::Sender<Control>,
    shared: Arc<Shared>,
}

impl Inlet {
    /// A `STREAM_NET` value from the co-processor: its packet goes to the TUN pump.
    pub(crate) fn stream_net(&self, value: &[u8]) {
        let c = &self.shared.counters;
        match wire::decode_stream_net(value) {
            Ok(pkt) => {
                if self.packets.try_send(pkt.to_vec()).is_err() {
                    bump(&c.rx_queue_full);
                }
            }
            Err(_) => bump(&c.malformed),
        }
    }

    /// An event the bridge follows (address tables, network data, role, reset...).
    pub(crate) fn event(&self, ev: &Event) {
        if self.control.try_send(Control::Ncp(ev.clone())).is_err() {
            bump(&self.shared.counters.control_queue_full);
        }
    }

    /// An inlet on bare queues, for the router's tests.
    #[cfg(test)]
    pub(crate) fn for_tests(
        packets: mpsc::Sender<Vec<u8>>,
        control: mpsc::Sender<Control>,
    ) -> Inlet {
        Inlet {
            packets,
            control,
            shared: Arc::new(Shared::new(BridgeConfig::default())),
        }
    }

    /// Packets dropped because the TUN pump's queue was full.
    #[cfg(test)]
    pub(crate) fn rx_queue_full(&self) -> u64 {
        self.shared.counters.rx_queue_full.load(Ordering::Relaxed)
    }
}

impl Bridge {
    /// The `bridge` object of `threadctl status --json`.
    pub fn status_json(&self) -> Value {
        let s = self.shared.status().clone();
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let by_reason = json!({
            "rx_queue_full": get(&c.rx_queue_full),
            "tx_queue_full": get(&c.tx_queue_full),
            "control_queue_full": get(&c.control_queue_full),
            "looped": get(&c.looped),
            "malformed": get(&c.malformed),
            "ncp_rejected": get(&c.ncp_rejected),
            "interface_errors": get(&c.interface_errors),
        });
        let drops: u64 = by_reason
            .as_object()
            .map(|o| o.values().filter_map(Value::as_u64).sum())
            .unwrap_or(0);
        json!({
            "interface": self.shared.config.interface,
            "state": s.state,
            "error": s.error,
            "addresses": s.addresses.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            "routes": s.routes.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            "omr_prefix": s.omr_prefix.map(|p| p.to_string()),
            "border_routing": s.border_routing.as_str(),
            "border_routing_error": s.border_routing_error,
            "infra_interface": self.shared.config.infra_interface,
            "rx_packets": get(&c.rx_packets),
            "tx_packets": get(&c.tx_packets),
            "drops": drops,
            "drops_by_reason": by_reason,
        })
    }

    /// Stops the bridge: removes the routes it added on the infrastructure interface and closes
    /// the TUN interface (which the kernel then deletes with its addresses and routes). Waits at
    /// most 3 s.
    pub async fn shutdown(&self) {
        let stop = self.stop.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(stop) = stop {
            let (done_tx, done_rx) = oneshot::channel();
            if stop.send(done_tx).is_ok() {
                let _ = tokio::time::timeout(Duration::from_secs(3), done_rx).await;
            }
        }
    }
}

/// The control state: what is applied on the host.
struct Mirror {
    client: Client,
    shared: Arc<Shared>,
    nl: Netlink,
    ifindex: u32,
    members: Option<Memberships>,
    ml_prefix: Option<Prefix>,
    /// Addresses on the interface: address -> (prefix length, preferred).
    addresses: BTreeMap<Ipv6Addr, (u8, bool)>,
    routes: BTreeSet<Prefix>,
    ncp_groups: BTreeSet<Ipv6Addr>,
    joined: BTreeSet<Ipv6Addr>,
    /// Groups the host listens to that we inserted into the co-processor's table.
    host_groups: BTreeSet<Ipv6Addr>,
    on_mesh: Vec<wire::OnMeshPrefix>,
    infra: Option<InfraState>,
}

struct InfraState {
    name: String,
    ifindex: u32,
    socket: Option<Arc<infra::InfraSocket>>,
    reported: Option<(bool, Vec<Ipv6Addr>)>,
    /// On-link prefixes advertised on the link, routed by us: prefix -> route present.
    on_link: BTreeSet<Prefix>,
    unsupported: bool,
}

async fn run(
    client: Client,
    shared: Arc<Shared>,
    rx: mpsc::Receiver<Vec<u8>>,
    mut ctl: mpsc::Receiver<Control>,
    ctl_tx: mpsc::Sender<Control>,
    mut stop: oneshot::Receiver<oneshot::Sender<()>>,
) {
    let name = shared.config.interface.clone();
    let setup = async {
        let nl = Netlink::open()?;
        let tun = netif::create_tun(&nl, &name).await?;
        Ok::<_, netif::NetifError>((nl, tun))
    };
    let (nl, tun) = match setup.await {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(interface = %name, error = %e, "mesh bridge unavailable (the agent keeps running without a Thread network interface)");
            {
                let mut s = shared.status();
                s.state = "unavailable";
                s.error = Some(e.to_string());
                if s.border_routing != BorderRouting::Off {
                    s.border_routing = BorderRouting::Unavailable;
                    s.border_routing_error = Some("no Thread network interface".into());
                }
            }
            drain(rx, ctl, stop, &shared).await;
            return;
        }
    };
    tracing::info!(interface = %name, ifindex = tun.index, mtu = netif::MTU, "Thread network interface up");
    {
        let mut s = shared.status();
        s.state = "up";
    }
    let tun = Arc::new(tun);
    let members = match Memberships::new(tun.index) {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!(error = %e, "multicast groups will not be mirrored");
            None
        }
    };
    let mut m = Mirror {
        client: client.clone(),
        shared: shared.clone(),
        nl,
        ifindex: tun.index,
        members,
        ml_prefix: None,
        addresses: BTreeMap::new(),
        routes: BTreeSet::new(),
        ncp_groups: BTreeSet::new(),
        joined: BTreeSet::new(),
        host_groups: BTreeSet::new(),
        on_mesh: Vec::new(),
        infra: None,
    };

    let (txq_tx, txq_rx) = mpsc::channel(TX_QUEUE);
    let pumps = [
        tokio::spawn(rx_pump(tun.clone(), rx, shared.clone())),
        tokio::spawn(tx_reader(
            tun.clone(),
            txq_tx,
            ctl_tx.clone(),
            shared.clone(),
        )),
        tokio::spawn(tx_sender(client.clone(), txq_rx, shared.clone())),
    ];

    m.resync().await;
    if let Some(infra_name) = shared.config.infra_interface.clone() {
        m.infra = Some(InfraState {
            name: infra_name,
            ifindex: 0,
            socket: None,
            reported: None,
            on_link: BTreeSet::new(),
            unsupported: false,
        });
        m.infra_poll().await;
    }

    let mut tick = tokio::time::interval(INFRA_POLL);
    tick.tick().await;
    let mut resync_pending = false;
    let done = loop {
        tokio::select! {
            d = &mut stop => break d.ok(),
            _ = tick.tick() => {
                if resync_pending {
                    resync_pending = false;
                    m.resync().await;
                }
                m.infra_poll().await;
            }
            c = ctl.recv() => match c {
                None => break None,
                Some(Control::Host(change)) => m.host_multicast(change).await,
                Some(Control::Ncp(Event::Closed { .. })) => {
                    // The agent is about to exit; clean up like a stop.
                    break None;
                }
                Some(Control::Ncp(Event::Reset { .. })) => {
                    tracing::info!("co-processor reset: the bridge re-reads addresses and prefixes and reports the infrastructure link again");
                    if let Some(i) = m.infra.as_mut() {
                        i.reported = None;
                    }
                    resync_pending = true;
                }
                Some(Control::Ncp(Event::Property { command, prop: p, value })) => m.ncp_property(command, p, &value).await,
            }
        }
    };
    for p in pumps {
        p.abort();
    }
    m.cleanup().await;
    drop(m);
    drop(tun);
    tracing::info!(interface = %name, "Thread network interface removed");
    shared.status().state = "down";
    if let Some(done) = done {
        let _ = done.send(());
    }
}

/// Without an interface: discard packets, keep the event channel flowing, answer shutdown.
async fn drain(
    mut rx: mpsc::Receiver<Vec<u8>>,
    mut ctl: mpsc::Receiver<Control>,
    mut stop: oneshot::Receiver<oneshot::Sender<()>>,
    shared: &Shared,
) {
    loop {
        tokio::select! {
            d = &mut stop => {
                if let Ok(d) = d { let _ = d.send(()); }
                return;
            }
            p = rx.recv() => if p.is_none() { return } else { bump(&shared.counters.interface_errors) },
            c = ctl.recv() => if c.is_none() { return },
        }
    }
}

async fn rx_pump(tun: Arc<Tun>, mut rx: mpsc::Receiver<Vec<u8>>, shared: Arc<Shared>) {
    while let Some(pkt) = rx.recv().await {
        match tun.dev.send(&pkt).await {
            Ok(_) => bump(&shared.counters.rx_packets),
            Err(e) => {
                bump(&shared.counters.interface_errors);
                tracing::debug!(error = %e, "writing a packet to the Thread interface failed");
            }
        }
    }
}

/// What to do with a packet the host sends into the mesh.
#[derive(Debug, PartialEq, Eq)]
enum Outbound {
    Forward,
    /// MLD report: the host's multicast listening state, not forwarded.
    Mld(Vec<MldChange>),
    /// Neighbor discovery between the kernel and the TUN interface; meaningless on the mesh.
    LinkLocalControl,
    /// A mesh packet the kernel routed back (on-mesh source that is not ours).
    Looped,
    Malformed,
}

fn classify(pkt: &[u8], mesh: &MeshView) -> Outbound {
    let Some(ip) = wire::parse_ipv6(pkt) else {
        return Outbound::Malformed;
    };
    if ip.protocol == 58 {
        match ip.payload.first() {
            Some(&(icmp6::MLD1_REPORT | icmp6::MLD1_DONE | icmp6::MLD2_REPORT)) => {
                return Outbound::Mld(wire::parse_mld(ip.payload))
            }
            Some(&(133..=137)) => return Outbound::LinkLocalControl,
            _ => {}
        }
    }
    if !mesh.own.contains(&ip.src) && mesh.on_mesh.iter().any(|p| p.contains(&ip.src)) {
        return Outbound::Looped;
    }
    Outbound::Forward
}

async fn tx_reader(
    tun: Arc<Tun>,
    txq: mpsc::Sender<Vec<u8>>,
    ctl: mpsc::Sender<Control>,
    shared: Arc<Shared>,
) {
    let c = &shared.counters;
    let mut buf = vec![0u8; 2048];
    loop {
        let n = match tun.dev.recv(&mut buf).await {
            Ok(n) => n,
            Err(e) => {
                bump(&c.interface_errors);
                tracing::warn!(error = %e, "reading from the Thread interface failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let pkt = &buf[..n];
        let verdict = {
            let mesh = shared.mesh.read().unwrap_or_else(|e| e.into_inner());
            classify(pkt, &mesh)
        };
        match verdict {
            Outbound::Forward => {
                if txq.try_send(pkt.to_vec()).is_err() {
                    bump(&c.tx_queue_full);
                }
            }
            Outbound::Mld(changes) => {
                for ch in changes {
                    if ctl.try_send(Control::Host(ch)).is_err() {
                        bump(&c.control_queue_full);
                    }
                }
            }
            Outbound::LinkLocalControl => {}
            Outbound::Looped => bump(&c.looped),
            Outbound::Malformed => bump(&c.malformed),
        }
    }
}

async fn tx_sender(client: Client, mut txq: mpsc::Receiver<Vec<u8>>, shared: Arc<Shared>) {
    while let Some(pkt) = txq.recv().await {
        match client
            .send_nowait(cmd::SET, prop::STREAM_NET, &wire::encode_stream_net(&pkt))
            .await
        {
            Ok(()) => bump(&shared.counters.tx_packets),
            Err(ncp::Error::Closed) => return,
            Err(e) => tracing::debug!(error = %e, "sending a packet to the co-processor failed"),
        }
    }
}

impl Mirror {
    /// Re-reads everything from the co-processor and applies it.
    async fn resync(&mut self) {
        if let Ok(v) = self.client.get(prop::IPV6_ML_PREFIX).await {
            self.ml_prefix = wire::decode_ml_prefix(&v).ok();
        }
        match self.client.get(prop::IPV6_ADDRESS_TABLE).await {
            Ok(v) => self.apply_addresses(&v).await,
            Err(e) => tracing::debug!(error = %e, "IPV6_ADDRESS_TABLE"),
        }
        match self.client.get(prop::IPV6_MULTICAST_ADDRESS_TABLE).await {
            Ok(v) => self.apply_multicast(&v),
            Err(e) => tracing::debug!(error = %e, "IPV6_MULTICAST_ADDRESS_TABLE"),
        }
        self.refresh_prefixes().await;
        // The host may have joined groups before we knew the co-processor's table.
        let groups: Vec<Ipv6Addr> = self.host_groups.iter().copied().collect();
        for g in groups {
            let _ = self
                .client
                .insert(prop::IPV6_MULTICAST_ADDRESS_TABLE, &g.octets())
                .await;
        }
    }

    async fn ncp_property(&mut self, command: ncp::spinel::Command, p: Prop, value: &[u8]) {
        if p == prop::IPV6_ADDRESS_TABLE && command == cmd::IS {
            if self.ml_prefix.is_none() {
                if let Ok(v) = self.client.get(prop::IPV6_ML_PREFIX).await {
                    self.ml_prefix = wire::decode_ml_prefix(&v).ok();
                }
            }
            self.apply_addresses(value).await;
        } else if p == prop::IPV6_MULTICAST_ADDRESS_TABLE && command == cmd::IS {
            self.apply_multicast(value);
        } else if p == prop::IPV6_ML_PREFIX || p == prop::IPV6_ML_ADDR {
            if let Ok(v) = self.client.get(prop::IPV6_ML_PREFIX).await {
                self.ml_prefix = wire::decode_ml_prefix(&v).ok();
            }
            self.refresh_prefixes().await;
        } else if p == prop::THREAD_LEADER_NETWORK_DATA || p == prop::NET_ROLE {
            self.refresh_prefixes().await;
        } else if p == prop::INFRA_IF_SEND_ICMP6 {
            self.infra_send(value).await;
        } else if p == prop::LAST_STATUS {
            // With TID 0 the co-processor reports only failures, e.g. a STREAM_NET it could not
            // take (no buffers, bad packet).
            if let Ok(s) = Reader::new(value).uint() {
                if s != 0 && !(112..=127).contains(&s) {
                    bump(&self.shared.counters.ncp_rejected);
                    tracing::debug!(
                        status = s,
                        "co-processor reported a failure (e.g. a dropped packet)"
                    );
                }
            }
        }
    }

    async fn apply_addresses(&mut self, value: &[u8]) {
        let table = match wire::decode_address_table(value) {
            Ok(t) => t,
            Err(e) => {
                tracing::debug!(error = %e, "undecodable address table");
                return;
            }
        };
        let want: BTreeMap<Ipv6Addr, (u8, bool)> = table
            .iter()
            .filter(|a| a.valid && !wire::is_locator(&a.addr, self.ml_prefix.as_ref()))
            .map(|a| (a.addr, (a.prefix_len, a.preferred)))
            .collect();
        let gone: Vec<(Ipv6Addr, u8)> = self
            .addresses
            .iter()
            .filter(|(a, _)| !want.contains_key(a))
            .map(|(a, (l, _))| (*a, *l))
            .collect();
        for (a, l) in gone {
            match self.nl.del_address(self.ifindex, a, l).await {
                Ok(()) => tracing::info!(address = %a, "address removed from the Thread interface"),
                Err(e) => tracing::warn!(address = %a, error = %e, "cannot remove address"),
            }
            self.addresses.remove(&a);
        }
        for (a, (l, pref)) in want {
            if self.addresses.get(&a) == Some(&(l, pref)) {
                continue;
            }
            match self.nl.add_address(self.ifindex, a, l, pref).await {
                Ok(()) => {
                    tracing::info!(address = %a, prefix_len = l, "address added to the Thread interface");
                    self.addresses.insert(a, (l, pref));
                }
                Err(e) => tracing::warn!(address = %a, error = %e, "cannot add address"),
            }
        }
        self.publish();
    }

    fn apply_multicast(&mut self, value: &[u8]) {
        let Ok(groups) = wire::decode_multicast_table(value) else {
            return;
        };
        self.ncp_groups = groups.into_iter().collect();
        let Some(members) = &self.members else { return };
        // Groups of interface-local and link-local scope need no membership to be received
        // by the kernel when they are all-nodes; join everything else the co-processor has.
        let want: BTreeSet<Ipv6Addr> = self
            .ncp_groups
            .iter()
            .filter(|g| **g != Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1))
            .copied()
            .collect();
        for g in self.joined.difference(&want).copied().collect::<Vec<_>>() {
            members.leave(&g);
            self.joined.remove(&g);
        }
        for g in want {
            if !self.joined.contains(&g) {
                match members.join(&g) {
                    Ok(()) => {
                        self.joined.insert(g);
                    }
                    Err(e) => {
                        tracing::debug!(group = %g, error = %e, "cannot join multicast group")
                    }
                }
            }
        }
    }

    async fn host_multicast(&mut self, change: MldChange) {
        match change {
            MldChange::Join(g) => {
                if wire::multicast_scope(&g).is_none_or(|s| s < 3)
                    || self.ncp_groups.contains(&g)
                    || self.host_groups.contains(&g)
                {
                    return;
                }
                match self
                    .client
                    .insert(prop::IPV6_MULTICAST_ADDRESS_TABLE, &g.octets())
                    .await
                {
                    Ok(_) => {
                        tracing::info!(group = %g, "host multicast subscription passed to the co-processor");
                        self.host_groups.insert(g);
                    }
                    Err(e) => {
                        tracing::warn!(group = %g, error = %e, "co-processor refused a multicast subscription")
                    }
                }
            }
            MldChange::Leave(g) => {
                if self.host_groups.remove(&g) {
                    if let Err(e) = self
                        .client
                        .remove(prop::IPV6_MULTICAST_ADDRESS_TABLE, &g.octets())
                        .await
                    {
                        tracing::debug!(group = %g, error = %e, "removing a multicast subscription");
                    }
                }
            }
        }
    }

    async fn refresh_prefixes(&mut self) {
        match self.client.get(prop::THREAD_ON_MESH_NETS).await {
            Ok(v) => match wire::decode_on_mesh_nets(&v) {
                Ok(t) => self.on_mesh = t,
                Err(e) => tracing::debug!(error = %e, "undecodable on-mesh prefixes"),
            },
            Err(e) => tracing::debug!(error = %e, "THREAD_ON_MESH_NETS"),
        }
        let mut want: BTreeSet<Prefix> = self
            .on_mesh
            .iter()
            .filter(|p| p.flags & wire::OnMeshPrefix::FLAG_ON_MESH != 0)
            .map(|p| p.prefix)
            .collect();
        if let Some(ml) = self.ml_prefix {
            want.insert(ml);
        }
        for p in self.routes.difference(&want).copied().collect::<Vec<_>>() {
            match self.nl.del_route(&p, self.ifindex, ROUTE_METRIC).await {
                Ok(()) => tracing::info!(prefix = %p, "route removed from the Thread interface"),
                Err(e) => tracing::warn!(prefix = %p, error = %e, "cannot remove route"),
            }
            self.routes.remove(&p);
        }
        for p in want {
            if self.routes.contains(&p) {
                continue;
            }
            match self.nl.add_route(&p, self.ifindex, ROUTE_METRIC).await {
                Ok(()) => {
                    tracing::info!(prefix = %p, interface = %self.shared.config.interface, "route added");
                    self.routes.insert(p);
                }
                Err(e) => tracing::warn!(prefix = %p, error = %e, "cannot add route"),
            }
        }
        self.publish();
    }

    fn omr_prefix(&self) -> Option<Prefix> {
        let omr = |p: &&wire::OnMeshPrefix| p.is_omr_like() && Some(p.prefix) != self.ml_prefix;
        self.on_mesh
            .iter()
            .filter(omr)
            .find(|p| p.is_local)
            .or_else(|| self.on_mesh.iter().find(omr))
            .map(|p| p.prefix)
    }

    /// Publishes addresses/prefixes to the status and the packet path.
    fn publish(&self) {
        let mut on_mesh: Vec<Prefix> = self.routes.iter().copied().collect();
        if let Some(ml) = self.ml_prefix {
            on_mesh.push(ml);
        }
        {
            let mut mesh = self.shared.mesh.write().unwrap_or_else(|e| e.into_inner());
            mesh.own = self.addresses.keys().copied().collect();
            mesh.on_mesh = on_mesh;
        }
        let mut s = self.shared.status();
        s.addresses = self.addresses.keys().copied().collect();
        s.routes = self.routes.iter().copied().collect();
        s.omr_prefix = self.omr_prefix();
    }

    /// Checks the infrastructure interface; (re)opens the socket and reports its state to the
    /// co-processor when something changed.
    async fn infra_poll(&mut self) {
        let Some(infra) = self.infra.as_mut() else {
            return;
        };
        if infra.unsupported {
            return;
        }
        let link = match self.nl.link(&infra.name).await {
            Ok(l) => l,
            Err(e) => {
                let mut s = self.shared.status();
                if s.border_routing_error.as_deref() != Some(&e.to_string()) {
                    tracing::warn!(interface = %infra.name, error = %e, "border routing waits for the infrastructure interface");
                    s.border_routing_error = Some(e.to_string());
                }
                s.border_routing = BorderRouting::Unavailable;
                return;
            }
        };
        if infra.socket.is_none() || infra.ifindex != link.index {
            for (key, value) in [
                ("net/ipv6/conf/all/forwarding".to_string(), "1"),
                (format!("net/ipv6/conf/{}/accept_ra", infra.name), "2"),
                (
                    format!("net/ipv6/conf/{}/accept_ra_rt_info_max_plen", infra.name),
                    "64",
                ),
            ] {
                if let Err(e) = netif::sysctl(&key, value) {
                    tracing::warn!(error = %e, "cannot set a forwarding sysctl");
                }
            }
            match infra::InfraSocket::open(&infra.name, link.index) {
                Ok(sock) => {
                    let sock = Arc::new(sock);
                    tokio::spawn(infra_reader(
                        sock.clone(),
                        self.client.clone(),
                        self.shared.clone(),
                    ));
                    infra.socket = Some(sock);
                    infra.ifindex = link.index;
                    infra.reported = None;
                    self.shared.status().infra_ifindex = Some(link.index);
                }
                Err(e) => {
                    let mut s = self.shared.status();
                    tracing::warn!(interface = %infra.name, error = %e, "border routing unavailable");
                    s.border_routing = BorderRouting::Unavailable;
                    s.border_routing_error = Some(e.to_string());
                    return;
                }
            }
        }
        let addrs = self.nl.addresses(link.index).await.unwrap_or_default();
        let running = link.up && link.running;
        let now = Some((running, addrs.clone()));
        if infra.reported == now {
            return;
        }
        let value = wire::encode_infra_if_state(link.index, running, &addrs);
        match self.client.set(prop::INFRA_IF_STATE, &value).await {
            Ok(_) => {
                tracing::info!(interface = %infra.name, ifindex = link.index, running, addresses = addrs.len(), "infrastructure link reported to the co-processor's routing manager");
                infra.reported = now;
                let mut s = self.shared.status();
                s.border_routing = if running {
                    BorderRouting::Active
                } else {
                    BorderRouting::Unavailable
                };
                s.border_routing_error =
                    (!running).then(|| format!("{} is not running", infra.name));
            }
            Err(e) if infra_if_unsupported(&e) => {
                tracing::warn!(
                    "co-processor firmware has no infrastructure-interface support (INFRA_IF_STATE refused: build it with -DOT_BORDER_ROUTING=ON -DOT_NCP_INFRA_IF=ON); border routing unavailable, the mesh bridge keeps running"
                );
                infra.unsupported = true;
                infra.socket = None;
                let mut s = self.shared.status();
                s.border_routing = BorderRouting::Unavailable;
                s.border_routing_error =
                    Some("co-processor firmware lacks infra-if support".into());
            }
            Err(e) => {
                tracing::warn!(error = %e, "reporting the infrastructure link failed; retrying");
            }
        }
    }

    /// Sends what the co-processor's routing manager wants on the link; routes the on-link
    /// prefixes it advertises.
    async fn infra_send(&mut self, value: &[u8]) {
        let msg = match wire::InfraIcmp6::decode(value) {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(error = %e, "undecodable INFRA_IF_SEND_ICMP6");
                return;
            }
        };
        let Some(infra) = self.infra.as_mut() else {
            return;
        };
        let Some(sock) = infra.socket.clone() else {
            return;
        };
        if msg.ifindex != infra.ifindex {
            tracing::debug!(
                ifindex = msg.ifindex,
                "INFRA_IF_SEND_ICMP6 for another interface ignored"
            );
            return;
        }
        if let Err(e) = sock.send(msg.peer, &msg.message).await {
            tracing::warn!(dst = %msg.peer, error = %e, "sending on the infrastructure link failed");
            return;
        }
        tracing::debug!(dst = %msg.peer, kind = msg.message.first().copied().unwrap_or(0), len = msg.message.len(), "ND message sent on the infrastructure link");
        let Some(ra) = wire::parse_router_advert(&msg.message) else {
            return;
        };
        for pio in ra.prefixes.iter().filter(|p| p.on_link) {
            if pio.valid_lifetime > 0 && !infra.on_link.contains(&pio.prefix) {
                match self
                    .nl
                    .add_route(&pio.prefix, infra.ifindex, ROUTE_METRIC)
                    .await
                {
                    Ok(()) => {
                        tracing::info!(prefix = %pio.prefix, interface = %infra.name, "on-link prefix advertised; route added");
                        infra.on_link.insert(pio.prefix);
                    }
                    Err(e) => {
                        tracing::warn!(prefix = %pio.prefix, error = %e, "cannot add on-link route")
                    }
                }
            } else if pio.valid_lifetime == 0 && infra.on_link.remove(&pio.prefix) {
                let _ = self
                    .nl
                    .del_route(&pio.prefix, infra.ifindex, ROUTE_METRIC)
                    .await;
            }
        }
        for rio in &ra.routes {
            tracing::debug!(prefix = %rio.prefix, lifetime = rio.lifetime, "route advertised on the infrastructure link");
        }
    }

    /// Removes what the kernel does not remove with the TUN interface.
    async fn cleanup(&mut self) {
        if let Some(infra) = self.infra.as_mut() {
            for p in std::mem::take(&mut infra.on_link) {
                match self.nl.del_route(&p, infra.ifindex, ROUTE_METRIC).await {
                    Ok(()) => {
                        tracing::info!(prefix = %p, interface = %infra.name, "on-link route removed")
                    }
                    Err(e) => {
                        tracing::warn!(prefix = %p, error = %e, "cannot remove on-link route")
                    }
                }
            }
            infra.socket = None;
        }
        for p in std::mem::take(&mut self.routes) {
            let _ = self.nl.del_route(&p, self.ifindex, ROUTE_METRIC).await;
        }
        self.addresses.clear();
        self.publish();
        let mut s = self.shared.status();
        if s.border_routing == BorderRouting::Active {
            s.border_routing = BorderRouting::Unavailable;
        }
    }
}

/// Whether the co-processor's answer to `INFRA_IF_STATE` means "this firmware has no
/// infrastructure-interface support" (no SET handler: PROP_NOT_FOUND; or UNIMPLEMENTED, 2).
fn infra_if_unsupported(e: &ncp::Error) -> bool {
    use ncp::spinel::Status;
    matches!(
        e,
        ncp::Error::Status {
            status: Status::PropNotFound | Status::Other(2),
            ..
        }
    )
}

/// Passes ND messages received on the link to the co-processor.
async fn infra_reader(sock: Arc<infra::InfraSocket>, client: Client, shared: Arc<Shared>) {
    loop {
        let r = match sock.recv().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "receiving on the infrastructure link failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if Arc::strong_count(&sock) == 1 {
            return; // the bridge closed it
        }
        if r.hop_limit != Some(255) || r.ifindex != sock.ifindex {
            bump(&shared.counters.malformed);
            continue;
        }
        let value = wire::InfraIcmp6 {
            ifindex: sock.ifindex,
            peer: r.src,
            message: r.message,
        }
        .encode();
        if let Err(e) = client.set(prop::INFRA_IF_RECV_ICMP6, &value).await {
            tracing::debug!(error = %e, "co-processor did not take an ND message");
            if matches!(e, ncp::Error::Closed) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn packet(src: &str, dst: &str, next: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        p.extend_from_slice(&[next, 64]);
        p.extend_from_slice(&a(src).octets());
        p.extend_from_slice(&a(dst).octets());
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn classify_forwards_drops_loops_and_consumes_mld() {
        let mesh = MeshView {
            own: [a("fd00:db8::1")].into_iter().collect(),
            on_mesh: vec![
                Prefix::new(a("fd00:db8::"), 64),
                Prefix::new(a("fd99::"), 64),
            ],
        };
        let echo = [128, 0, 0, 0, 0, 1, 0, 1];
        assert_eq!(
            classify(&packet("fd00:db8::1", "fd00:db8::2", 58, &echo), &mesh),
            Outbound::Forward
        );
        // From the LAN to the mesh.
        assert_eq!(
            classify(&packet("fd42::5", "fd99::7", 58, &echo), &mesh),
            Outbound::Forward
        );
        // A mesh node's packet the kernel routed back.
        assert_eq!(
            classify(&packet("fd99::8", "fd99::7", 58, &echo), &mesh),
            Outbound::Looped
        );
        // Router solicitation from the kernel.
        assert_eq!(
            classify(
                &packet("fe80::1", "ff02::2", 58, &[133, 0, 0, 0, 0, 0, 0, 0]),
                &mesh
            ),
            Outbound::LinkLocalControl
        );
        let mut mld = vec![143, 0, 0, 0, 0, 0, 0, 1, 4, 0, 0, 0];
        mld.extend_from_slice(&a("ff05::fb").octets());
        assert_eq!(
            classify(&packet("fe80::1", "ff02::16", 58, &mld), &mesh),
            Outbound::Mld(vec![MldChange::Join(a("ff05::fb"))])
        );
        assert_eq!(classify(&[0x45, 0, 0], &mesh), Outbound::Malformed);
    }

    #[test]
    fn infra_if_support_is_judged_by_the_status() {
        let status = |status| ncp::Error::Status {
            prop: prop::INFRA_IF_STATE,
            status,
        };
        assert!(infra_if_unsupported(&status(
            ncp::spinel::Status::PropNotFound
        )));
        assert!(infra_if_unsupported(&status(ncp::spinel::Status::Other(2))));
        assert!(!infra_if_unsupported(&status(
            ncp::spinel::Status::InvalidState
        )));
        assert!(!infra_if_unsupported(&ncp::Error::Timeout {
            what: "x".into()
        }));
    }
}
