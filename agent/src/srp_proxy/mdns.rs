//! The mDNS publisher: [`super::registry::Advert`]s as `mdns_sd::ServiceInfo`s on one
//! `ServiceDaemon`, the agent's one responder ([`crate::mdns::responder`]), restricted to the
//! infrastructure interface. The device's addresses are off-link (routed through the border
//! router): the vendored mdns-sd announces them (third_party/mdns-sd/THREAD-AGENT-PATCH.md).
//!
//! What mdns-sd 0.21.7 can and cannot express (read in its `service_info.rs`):
//! - one sub-type per `ServiceInfo` (`<sub>._sub.<type>.local.`); further sub-types are not
//!   published;
//! - no SRV priority or weight setter: they are published as 0;
//! - no host-only (AAAA without a service) and no arbitrary records (KEY): not published;
//! - TTLs are the daemon's (120 s for host records, 4500 s for the others), not the SRP lease.

use std::net::IpAddr;

use mdns_sd::{ServiceDaemon, ServiceInfo, TxtProperty};

use super::registry::{Advert, PublishError, Publisher};

/// `<instance>.<type>.local.` for `instance` and `type`.
pub(crate) fn ty_domain(advert: &Advert) -> String {
    match &advert.subtype {
        Some(sub) => format!("{sub}._sub.{}.local.", advert.service_type),
        None => format!("{}.local.", advert.service_type),
    }
}

/// The `ServiceInfo` for `advert`.
pub(crate) fn service_info(advert: &Advert) -> Result<ServiceInfo, PublishError> {
    let txt: Vec<TxtProperty> = advert
        .txt
        .iter()
        .map(|(k, v)| match v {
            Some(v) => TxtProperty::from((k.as_str(), v.as_slice())),
            None => TxtProperty::from(k.as_str()),
        })
        .collect();
    let addrs: Vec<IpAddr> = advert.addresses.iter().map(|a| IpAddr::V6(*a)).collect();
    let host = format!("{}.local.", advert.host);
    ServiceInfo::new(
        &ty_domain(advert),
        &advert.instance,
        &host,
        &addrs[..],
        advert.port,
        txt,
    )
    .map_err(|e| PublishError::Invalid(e.to_string()))
}

/// Publishes on a daemon.
pub(crate) struct MdnsPublisher {
    daemon: ServiceDaemon,
}

impl MdnsPublisher {
    pub(crate) fn new(daemon: ServiceDaemon) -> Self {
        MdnsPublisher { daemon }
    }
}

impl Publisher for MdnsPublisher {
    fn publish(&mut self, advert: &Advert) -> Result<(), PublishError> {
        let info = service_info(advert)?;
        let fullname = info.get_fullname().to_string();
        self.daemon
            .register(info)
            .map_err(|e| PublishError::Failed(e.to_string()))?;
        tracing::info!(service = %fullname, host = %advert.host, port = advert.port, addresses = ?advert.addresses, "SRP proxy: service published on the LAN");
        Ok(())
    }

    fn unpublish(&mut self, instance: &str, service_type: &str) {
        let advert = Advert {
            instance: instance.to_string(),
            service_type: service_type.to_string(),
            subtype: None,
            host: "x".into(),
            addresses: Vec::new(),
            port: 0,
            txt: Vec::new(),
        };
        let fullname = match service_info(&advert) {
            Ok(i) => i.get_fullname().to_string(),
            Err(_) => return,
        };
        match self.daemon.unregister(&fullname) {
            Ok(_) => {
                tracing::info!(service = %fullname, "SRP proxy: service withdrawn from the LAN")
            }
            Err(e) => {
                tracing::warn!(service = %fullname, error = %e, "SRP proxy: withdrawing failed")
            }
        }
    }
}
