//! The proxy's registry: the hosts, services and keys the co-processor asked to publish, and
//! the decision of what to hand to the mDNS publisher. No I/O: the publisher is a trait
//! ([`Publisher`]), so the decode path and the bookkeeping are unit-tested with frames that the
//! real co-processor cannot produce (malformed ones).
//!
//! Rules:
//! - `DNSSD_HOST` INSERTED: the host's routable addresses replace the old ones (not link-local,
//!   not in the mesh-local prefix, not a Thread RLOC/ALOC `…:0:ff:fe00:xxxx`); its services
//!   already published are published again with the new addresses. REMOVED: forgotten. A host
//!   alone is not published (mdns-sd publishes AAAA records only as part of a service).
//! - `DNSSD_SERVICE` INSERTED: published as `<instance>.<type>.local.` on `<host>.local.` with the
//!   host's routable addresses, the port and the TXT entries; the first sub-type, if any, as
//!   `<sub>._sub.<type>.local.`. A service whose host has no routable address yet is kept and
//!   published when the host gets one. REMOVED: unpublished (mDNS goodbye).
//! - A service with an empty host name is the co-processor's own (its Border Agent's
//!   `_meshcop._udp`, "this device" in `otPlatDnssdRegisterService`): answered, not published
//!   (the border router's own services are the agent's mDNS module's job), not counted.
//! - `DNSSD_KEY_RECORD`: remembered and answered with success, never published (mdns-sd cannot
//!   publish arbitrary records).
//! - Every decodable request is answered ([`RequestResult`] with its id and context): success,
//!   or `INVALID_ARGS` when the service cannot be expressed (bad TXT, bad name), `FAILED` when
//!   the publisher failed. A frame that does not decode cannot be answered (no id): it is
//!   [`Handled::Malformed`] and changes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv6Addr;

use ncp::props::dnssd::{self, ot_error, Request, RequestResult};
use ncp::spinel::{cmd, prop, Command, Prop};

use super::txt;

/// What to publish for one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Advert {
    pub(crate) instance: String,
    /// `_test._udp` (no domain).
    pub(crate) service_type: String,
    pub(crate) subtype: Option<String>,
    /// The SRP host name (no domain).
    pub(crate) host: String,
    pub(crate) addresses: Vec<Ipv6Addr>,
    pub(crate) port: u16,
    pub(crate) txt: Vec<txt::Entry>,
}

/// The mDNS side.
pub(crate) trait Publisher: Send + Sync {
    /// Publishes (or re-publishes) `advert`; `Err` says why it cannot be.
    fn publish(&mut self, advert: &Advert) -> Result<(), PublishError>;
    /// Withdraws the service `instance`.`service_type` (goodbye).
    fn unpublish(&mut self, instance: &str, service_type: &str);
}

/// Why a service was not published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublishError {
    /// The service cannot be expressed (bad name, TXT): `INVALID_ARGS`.
    Invalid(String),
    /// The mDNS daemon failed: `FAILED`.
    Failed(String),
}

/// The outcome of one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Handled {
    /// Answer this to the co-processor.
    Answer(RequestResult),
    /// Undecodable (or a command the protocol does not have): dropped, nothing to answer.
    Malformed(String),
}

struct ServiceEntry {
    svc: dnssd::Service,
    txt: Vec<txt::Entry>,
    published: bool,
}

/// The registry.
#[derive(Default)]
pub(crate) struct Registry {
    hosts: BTreeMap<String, Vec<Ipv6Addr>>,
    /// Keyed by (instance, type), lower case.
    services: BTreeMap<(String, String), ServiceEntry>,
    keys: BTreeSet<(String, Option<String>)>,
    /// The mesh-local /64, when known.
    mesh_local: Option<Ipv6Addr>,
}

/// Whether `a` may be published on the LAN.
pub(crate) fn routable(a: &Ipv6Addr, mesh_local: Option<&Ipv6Addr>) -> bool {
    let s = a.segments();
    let link_local = s[0] & 0xffc0 == 0xfe80;
    let locator = s[4] == 0 && s[5] == 0x00ff && s[6] == 0xfe00;
    let in_ml = mesh_local.is_some_and(|p| p.segments()[..4] == s[..4]);
    !(a.is_unspecified() || a.is_loopback() || a.is_multicast() || link_local || locator || in_ml)
}

fn answer(error: u8, request: Request) -> Handled {
    Handled::Answer(RequestResult { error, request })
}

fn key_of(instance: &str, service_type: &str) -> (String, String) {
    (instance.to_lowercase(), service_type.to_lowercase())
}

impl Registry {
    /// Sets the mesh-local prefix (its first 64 bits count).
    pub(crate) fn set_mesh_local(&mut self, prefix: Option<Ipv6Addr>) {
        self.mesh_local = prefix;
    }

    /// Hosts, services, services published, keys.
    pub(crate) fn counts(&self) -> (usize, usize, usize, usize) {
        let published = self.services.values().filter(|e| e.published).count();
        (
            self.hosts.len(),
            self.services.len(),
            published,
            self.keys.len(),
        )
    }

    /// Handles one `DNSSD_*` frame from the co-processor.
    pub(crate) fn handle(
        &mut self,
        command: Command,
        p: Prop,
        value: &[u8],
        publisher: &mut dyn Publisher,
    ) -> Handled {
        let register = match command {
            c if c == cmd::INSERTED => true,
            c if c == cmd::REMOVED => false,
            c => return Handled::Malformed(format!("{c} {p} is not a DNS-SD request")),
        };
        let r = match p {
            p if p == prop::DNSSD_HOST => {
                dnssd::decode_host(value).map(|h| self.host(register, h, publisher))
            }
            p if p == prop::DNSSD_SERVICE => {
                dnssd::decode_service(value).map(|s| self.service(register, s, publisher))
            }
            p if p == prop::DNSSD_KEY_RECORD => {
                dnssd::decode_key(value).map(|k| self.key(register, k))
            }
            p => return Handled::Malformed(format!("{p} is not a DNS-SD request")),
        };
        r.unwrap_or_else(|e| Handled::Malformed(e.to_string()))
    }

    fn host(&mut self, register: bool, h: dnssd::Host, publisher: &mut dyn Publisher) -> Handled {
        if !register {
            let name = h.name.to_lowercase();
            self.hosts.remove(&name);
            // Its services lose their addresses: withdrawn from the LAN (still registered).
            self.republish_host(&name, publisher);
            return answer(ot_error::NONE, h.request);
        }
        let addrs: Vec<Ipv6Addr> = h
            .addresses
            .iter()
            .filter(|a| routable(a, self.mesh_local.as_ref()))
            .copied()
            .collect();
        let name = h.name.to_lowercase();
        let changed = self.hosts.get(&name) != Some(&addrs);
        self.hosts.insert(name.clone(), addrs);
        if changed {
            self.republish_host(&name, publisher);
        }
        answer(ot_error::NONE, h.request)
    }

    /// Publishes again every service of host `name` (its addresses changed).
    fn republish_host(&mut self, name: &str, publisher: &mut dyn Publisher) {
        let keys: Vec<_> = self
            .services
            .iter()
            .filter(|(_, e)| e.svc.host.eq_ignore_ascii_case(name))
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            if let Err(e) = self.publish(&k, publisher) {
                tracing::warn!(error = ?e, instance = %k.0, service_type = %k.1, "SRP proxy: service not published again after its host's addresses changed");
            }
        }
    }

    fn service(
        &mut self,
        register: bool,
        s: dnssd::Service,
        publisher: &mut dyn Publisher,
    ) -> Handled {
        let k = key_of(&s.instance, &s.service_type);
        let request = s.request.clone();
        if s.host.is_empty() {
            // The co-processor's own service (its Border Agent's `_meshcop._udp`): the agent's
            // mDNS module publishes the border router's services, not the SRP proxy.
            tracing::debug!(instance = %s.instance, service_type = %s.service_type, register, "SRP proxy: the co-processor's own service is not published here");
            return answer(ot_error::NONE, request);
        }
        if !register {
            if let Some(e) = self.services.remove(&k) {
                if e.published {
                    publisher.unpublish(&e.svc.instance, &e.svc.service_type);
                }
            }
            return answer(ot_error::NONE, request);
        }
        let txt = match txt::decode(&s.txt) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(instance = %s.instance, service_type = %s.service_type, error = %e, "SRP proxy: service refused (malformed TXT data)");
                return answer(ot_error::INVALID_ARGS, request);
            }
        };
        let old_published = self.services.get(&k).is_some_and(|e| e.published);
        self.services.insert(
            k.clone(),
            ServiceEntry {
                svc: s,
                txt,
                published: old_published,
            },
        );
        match self.publish(&k, publisher) {
            Ok(()) => answer(ot_error::NONE, request),
            Err(e) => {
                let code = match &e {
                    PublishError::Invalid(_) => ot_error::INVALID_ARGS,
                    PublishError::Failed(_) => ot_error::FAILED,
                };
                tracing::warn!(instance = %k.0, service_type = %k.1, error = ?e, "SRP proxy: service not published");
                if let Some(e) = self.services.remove(&k) {
                    if e.published {
                        publisher.unpublish(&e.svc.instance, &e.svc.service_type);
                    }
                }
                answer(code, request)
            }
        }
    }

    /// Publishes the service `k` with its host's current addresses (or withdraws it when the
    /// host has none).
    fn publish(
        &mut self,
        k: &(String, String),
        publisher: &mut dyn Publisher,
    ) -> Result<(), PublishError> {
        let Some(e) = self.services.get_mut(k) else {
            return Ok(());
        };
        let addresses = self
            .hosts
            .get(&e.svc.host.to_lowercase())
            .cloned()
            .unwrap_or_default();
        if addresses.is_empty() {
            if e.published {
                publisher.unpublish(&e.svc.instance, &e.svc.service_type);
                e.published = false;
            }
            return Ok(());
        }
        let advert = Advert {
            instance: e.svc.instance.clone(),
            service_type: e.svc.service_type.clone(),
            subtype: e.svc.subtypes.first().cloned(),
            host: e.svc.host.clone(),
            addresses,
            port: e.svc.port,
            txt: e.txt.clone(),
        };
        publisher.publish(&advert)?;
        e.published = true;
        Ok(())
    }

    fn key(&mut self, register: bool, k: dnssd::Key) -> Handled {
        let id = (
            k.name.to_lowercase(),
            k.service_type.map(|t| t.to_lowercase()),
        );
        if register {
            self.keys.insert(id);
        } else {
            self.keys.remove(&id);
        }
        answer(ot_error::NONE, k.request)
    }

    /// Forgets everything (co-processor reset) and withdraws what was published.
    pub(crate) fn clear(&mut self, publisher: &mut dyn Publisher) {
        for e in self.services.values().filter(|e| e.published) {
            publisher.unpublish(&e.svc.instance, &e.svc.service_type);
        }
        self.services.clear();
        self.hosts.clear();
        self.keys.clear();
    }
}
