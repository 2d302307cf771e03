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

mod border;
mod datapath;
pub(crate) mod infra;
mod mirror;
pub(crate) mod netif;
mod status;
pub(crate) mod wire;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::Ipv6Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use ncp::{Client, Event};
use tokio::sync::{mpsc, oneshot};

use self::netif::{Memberships, Netlink};
use self::wire::{MldChange, Prefix};

/// Packets from the mesh waiting to be written to the interface.
pub(crate) const RX_QUEUE: usize = 512;
/// Packets from the host waiting to be sent to the co-processor.
pub(crate) const TX_QUEUE: usize = 256;
/// Control events (address tables, network data...) waiting for the bridge.
pub(crate) const CONTROL_QUEUE: usize = 256;
/// How often the infrastructure interface is re-checked.
pub(crate) const INFRA_POLL: Duration = Duration::from_secs(5);
/// Metric of the routes the bridge adds.
pub(crate) const ROUTE_METRIC: u32 = 256;

/// `[bridge]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BridgeConfig {
    /// TUN interface name (default `wpan0`).
    pub(crate) interface: String,
    /// Infrastructure interface for border routing; `None` = border routing off.
    pub(crate) infra_interface: Option<String>,
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
pub(crate) enum BorderRouting {
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

    /// No Thread network interface: the bridge (and border routing) is unavailable.
    fn unavailable(&self, e: &netif::NetifError) {
        let mut s = self.status();
        s.state = "unavailable";
        s.error = Some(e.to_string());
        if s.border_routing != BorderRouting::Off {
            s.border_routing = BorderRouting::Unavailable;
            s.border_routing_error = Some("no Thread network interface".into());
        }
    }

    fn status(&self) -> std::sync::MutexGuard<'_, StatusState> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Handle on the running bridge: status and shutdown.
pub(crate) struct Bridge {
    shared: Arc<Shared>,
    stop: Mutex<Option<oneshot::Sender<oneshot::Sender<()>>>>,
}

/// Starts the bridge on `client`. Returns its handle and its [`Inlet`]: the frame router
/// ([`crate::frames`]) hands the co-processor's `STREAM_NET` packets and the events the bridge
/// needs to it.
pub(crate) fn start(client: Client, config: BridgeConfig) -> (Arc<Bridge>, Inlet) {
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
    /// Stops the bridge: removes the routes it added on the infrastructure interface and closes
    /// the TUN interface (which the kernel then deletes with its addresses and routes). Waits at
    /// most 3 s.
    pub(crate) async fn shutdown(&self) {
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
    ctl: mpsc::Receiver<Control>,
    ctl_tx: mpsc::Sender<Control>,
    stop: oneshot::Receiver<oneshot::Sender<()>>,
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
            shared.unavailable(&e);
            datapath::drain(rx, ctl, stop, &shared).await;
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
    let mut m = Mirror::new(client.clone(), shared.clone(), nl, tun.index, members);

    let (txq_tx, txq_rx) = mpsc::channel(TX_QUEUE);
    let pumps = [
        tokio::spawn(datapath::rx_pump(tun.clone(), rx, shared.clone())),
        tokio::spawn(datapath::tx_reader(
            tun.clone(),
            txq_tx,
            ctl_tx.clone(),
            shared.clone(),
        )),
        tokio::spawn(datapath::tx_sender(client.clone(), txq_rx, shared.clone())),
    ];

    m.resync().await;
    if let Some(infra_name) = shared.config.infra_interface.clone() {
        m.infra = Some(InfraState::new(infra_name));
        m.infra_poll().await;
    }

    let done = serve(&mut m, ctl, stop).await;
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

/// The bridge's event loop: co-processor events, host multicast changes, the infra-if poll.
/// Returns the shutdown acknowledgement to send once cleaned up (`None`: the agent is exiting).
async fn serve(
    m: &mut Mirror,
    mut ctl: mpsc::Receiver<Control>,
    mut stop: oneshot::Receiver<oneshot::Sender<()>>,
) -> Option<oneshot::Sender<()>> {
    let mut tick = tokio::time::interval(INFRA_POLL);
    tick.tick().await;
    let mut resync_pending = false;
    loop {
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
    }
}
