//! Border routing: the infrastructure interface reported to the co-processor's routing manager
//! (`INFRA_IF_STATE`, polled every [`super::INFRA_POLL`]), ND messages relayed both ways, routes
//! for the on-link prefixes it advertises, and their removal at stop.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use ncp::spinel::prop;
use ncp::Client;

use super::{bump, infra, netif, wire, BorderRouting, InfraState, Mirror, Shared, ROUTE_METRIC};

impl InfraState {
    pub(super) fn new(name: String) -> InfraState {
        InfraState {
            name,
            ifindex: 0,
            socket: None,
            reported: None,
            on_link: BTreeSet::new(),
            unsupported: false,
        }
    }
}

impl Mirror {
    /// Checks the infrastructure interface; (re)opens the socket and reports its state to the
    /// co-processor when something changed.
    pub(super) async fn infra_poll(&mut self) {
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
    pub(super) async fn infra_send(&mut self, value: &[u8]) {
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
    pub(super) async fn cleanup(&mut self) {
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
