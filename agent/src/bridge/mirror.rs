//! The address and multicast mirror: the co-processor's unicast addresses, multicast groups,
//! mesh-local and on-mesh prefixes applied on the Thread interface (and the host's multicast
//! subscriptions inserted into the co-processor's table).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv6Addr;
use std::sync::Arc;

use ncp::codec::Reader;
use ncp::spinel::{cmd, prop, Prop};
use ncp::Client;

use super::netif::{Memberships, Netlink};
use super::wire::{self, MldChange, Prefix};
use super::{bump, Mirror, Shared, ROUTE_METRIC};

impl Mirror {
    pub(super) fn new(
        client: Client,
        shared: Arc<Shared>,
        nl: Netlink,
        ifindex: u32,
        members: Option<Memberships>,
    ) -> Mirror {
        Mirror {
            client,
            shared,
            nl,
            ifindex,
            members,
            ml_prefix: None,
            addresses: BTreeMap::new(),
            routes: BTreeSet::new(),
            ncp_groups: BTreeSet::new(),
            joined: BTreeSet::new(),
            host_groups: BTreeSet::new(),
            on_mesh: Vec::new(),
            infra: None,
        }
    }

    /// Re-reads everything from the co-processor and applies it.
    pub(super) async fn resync(&mut self) {
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

    pub(super) async fn ncp_property(
        &mut self,
        command: ncp::spinel::Command,
        p: Prop,
        value: &[u8],
    ) {
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

    pub(super) async fn host_multicast(&mut self, change: MldChange) {
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

    pub(super) async fn refresh_prefixes(&mut self) {
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
    pub(super) fn publish(&self) {
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
}
