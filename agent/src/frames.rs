//! The one router of the co-processor's unsolicited frames: takes the client's event stream and
//! hands each frame to its consumer, in order.
//!
//! - `STREAM_NET` / `STREAM_NET_INSECURE` (IS): the packet to the mesh bridge only; other
//!   commands on them are dropped.
//! - `THREAD_UDP_FORWARD_STREAM` (IS): split by peer: a datagram to the agent's own commissioner
//!   ([`crate::commissioner::PEER_ADDR`]:[`crate::commissioner::PEER_PORT`]) goes to the
//!   commissioner service only, any other to the LAN relay ([`crate::ba_relay`]) only.
//! - `INFRA_IF_SEND_ICMP6`: to the bridge only.
//! - The properties the bridge follows ([`bridge_wants`]): copied to the bridge, then passed on;
//!   `THREAD_LEADER_NETWORK_DATA` also to the commissioner service ([`NcpInput::LeaderData`]).
//! - `MAC_ENERGY_SCAN_RESULT` and `MAC_SCAN_BEACON`: to the running scan ([`scan::Inlet`]) only;
//!   `MAC_SCAN_STATE` (IS): to the scan, then passed on.
//! - `DNSSD_HOST`, `DNSSD_SERVICE`, `DNSSD_KEY_RECORD` (the SRP advertising proxy's requests):
//!   to the SRP proxy ([`srp_proxy::Inlet`]) only; `IPV6_ML_PREFIX`: also copied to it.
//! - A reset: to the bridge, to the SRP proxy, to the commissioner service
//!   ([`NcpInput::Reset`]), to the LAN relay, to the scan and to the monitor;
//!   link closed: to the monitor only (the link is reopened, [`crate::liveness`]; the bridge
//!   stays up and re-syncs on the reset that follows).
//! - Everything else: to the monitor.
//!
//! Queues: the bridge's ([`bridge::RX_QUEUE`] packets, [`bridge::CONTROL_QUEUE`] events), the
//! SRP proxy's ([`srp_proxy::QUEUE`]; its resets go on a channel of their own) and the
//! commissioner's ([`SERVICE_QUEUE`]) are never waited on: what does not fit is dropped and
//! counted. The monitor's ([`MONITOR_QUEUE`]) is waited on (it must see every event), except once
//! it has stopped at shutdown: the service keeps being fed (its resignation answer still has to
//! arrive).

use ncp::props::forward::decode_forward;
use ncp::spinel::{cmd, prop, Prop};
use ncp::Event;
use tokio::sync::mpsc;

use crate::ba_relay;
use crate::bridge;
use crate::commissioner::{NcpInput, PEER_ADDR, PEER_PORT};
use crate::scan;
use crate::srp_proxy;

/// Events waiting for the monitor.
pub(crate) const MONITOR_QUEUE: usize = 4096;
/// Datagrams and resets waiting for the commissioner service.
pub(crate) const SERVICE_QUEUE: usize = 1024;

/// Properties only the bridge consumes (never passed to the monitor).
fn bridge_only(p: Prop) -> bool {
    p == prop::STREAM_NET || p == prop::STREAM_NET_INSECURE || p == prop::INFRA_IF_SEND_ICMP6
}

/// Properties the bridge follows.
fn bridge_wants(p: Prop) -> bool {
    [
        prop::IPV6_ADDRESS_TABLE,
        prop::IPV6_MULTICAST_ADDRESS_TABLE,
        prop::IPV6_ML_PREFIX,
        prop::IPV6_ML_ADDR,
        prop::THREAD_LEADER_NETWORK_DATA,
        prop::NET_ROLE,
        prop::LAST_STATUS,
        prop::INFRA_IF_SEND_ICMP6,
    ]
    .contains(&p)
}

/// Starts the router on `events`; returns the monitor's stream and the commissioner service's
/// input.
pub(crate) fn route(
    events: mpsc::Receiver<Event>,
    bridge: bridge::Inlet,
    scan: scan::Inlet,
    relay: ba_relay::Inlet,
    srp: Option<srp_proxy::Inlet>,
) -> (mpsc::Receiver<Event>, mpsc::Receiver<NcpInput>) {
    let (mon_tx, mon_rx) = mpsc::channel(MONITOR_QUEUE);
    let (svc_tx, svc_rx) = mpsc::channel(SERVICE_QUEUE);
    tokio::spawn(run(events, bridge, scan, relay, srp, svc_tx, mon_tx));
    (mon_rx, svc_rx)
}

async fn run(
    mut events: mpsc::Receiver<Event>,
    bridge: bridge::Inlet,
    scan: scan::Inlet,
    relay: ba_relay::Inlet,
    srp: Option<srp_proxy::Inlet>,
    service: mpsc::Sender<NcpInput>,
    monitor: mpsc::Sender<Event>,
) {
    let mut dropped: u64 = 0;
    while let Some(ev) = events.recv().await {
        let (to_bridge, to_monitor) = match &ev {
            Event::Property {
                command,
                prop: p,
                value,
            } if *p == prop::STREAM_NET || *p == prop::STREAM_NET_INSECURE => {
                if *command == cmd::IS {
                    bridge.stream_net(value);
                }
                continue;
            }
            Event::Property {
                command,
                prop: p,
                value,
            } if *p == prop::THREAD_UDP_FORWARD_STREAM && *command == cmd::IS => {
                forwarded(&service, &relay, value, &mut dropped);
                continue;
            }
            Event::Property { prop: p, value, .. } if *p == prop::MAC_ENERGY_SCAN_RESULT => {
                scan.result(value);
                continue;
            }
            Event::Property { prop: p, value, .. } if *p == prop::MAC_SCAN_BEACON => {
                scan.beacon(value);
                continue;
            }
            Event::Property {
                command,
                prop: p,
                value,
            } if *p == prop::MAC_SCAN_STATE && *command == cmd::IS => {
                scan.state(value);
                (false, true)
            }
            Event::Property { prop: p, .. } if srp_proxy::consumes(*p) => {
                if let Some(srp) = &srp {
                    srp.event(&ev);
                }
                continue;
            }
            Event::Property { prop: p, .. } => {
                if *p == prop::IPV6_ML_PREFIX {
                    if let Some(srp) = &srp {
                        srp.event(&ev);
                    }
                }
                (bridge_wants(*p), !bridge_only(*p))
            }
            Event::Reset { .. } => {
                scan.reset();
                if let Some(srp) = &srp {
                    srp.event(&ev);
                }
                (true, true)
            }
            Event::Closed { .. } => (false, true),
        };
        if to_bridge {
            bridge.event(&ev);
        }
        if !to_monitor {
            continue;
        }
        match &ev {
            Event::Reset { .. } => {
                let _ = service.try_send(NcpInput::Reset);
                relay.reset();
            }
            Event::Property {
                command,
                prop: p,
                value,
            } if *p == prop::THREAD_LEADER_NETWORK_DATA && *command == cmd::IS => {
                let _ = service.try_send(NcpInput::LeaderData(value.clone()));
            }
            _ => {}
        }
        if !monitor.is_closed() {
            let _ = monitor.send(ev).await;
        }
    }
}

/// A UDP forward stream value: its datagram to the commissioner service (our own peer) or to
/// the LAN relay (any other peer).
fn forwarded(
    service: &mpsc::Sender<NcpInput>,
    relay: &ba_relay::Inlet,
    value: &[u8],
    dropped: &mut u64,
) {
    match decode_forward(value) {
        Some(f) if f.peer_addr != PEER_ADDR || f.peer_port != PEER_PORT => relay.forwarded(f),
        Some(f) => {
            if service.try_send(NcpInput::Forwarded(f)).is_err() {
                *dropped += 1;
                tracing::debug!(
                    dropped = *dropped,
                    "commissioner input queue full; datagram dropped"
                );
            }
        }
        None => tracing::debug!(len = value.len(), "undecodable UDP forward stream value"),
    }
}

#[cfg(test)]
mod tests;
