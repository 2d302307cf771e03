//! The packet path: TUN <-> `STREAM_NET` pumps and the classification of what the host sends.

use std::sync::Arc;
use std::time::Duration;

use ncp::spinel::{cmd, prop};
use ncp::Client;
use tokio::sync::{mpsc, oneshot};

use super::netif::Tun;
use super::wire::{self, icmp6, MldChange};
use super::{bump, Control, MeshView, Shared};

/// Without an interface: discard packets, keep the event channel flowing, answer shutdown.
pub(super) async fn drain(
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

pub(super) async fn rx_pump(tun: Arc<Tun>, mut rx: mpsc::Receiver<Vec<u8>>, shared: Arc<Shared>) {
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

pub(super) async fn tx_reader(
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

pub(super) async fn tx_sender(
    client: Client,
    mut txq: mpsc::Receiver<Vec<u8>>,
    shared: Arc<Shared>,
) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    use crate::bridge::wire::Prefix;

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
}
