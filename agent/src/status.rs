//! The control socket methods of this version: `status`, `network.counters` and `dataset.export`.
//!
//! `status` reads the network's public parameters live from the co-processor and returns the
//! stable fields of the contract (`role`, `network_name`, `channel`, `pan_id`, `ext_pan_id`,
//! `mesh_local_prefix`, `partition_id`, `rloc16`, `ncp`, `neighbors`, `bridge`, `border_agent`
//! (the LAN relay, [`crate::ba_relay`]), `srp_proxy`, and
//! `active_timestamp` (seconds) and `pending` (the scheduled change or null) from
//! [`crate::lifecycle`], `mdns` from [`crate::mdns`]). It never contains the
//! network key or the PSKc. `network.counters` reads the co-processor's counters (MAC, IPv6,
//! MLE, message buffers, Spinel; each `null` when the firmware does not serve it) and the host
//! link's ([`ncp::LinkStats`]). `dataset.export` returns the active dataset TLVs as hex in `tlvs`
//! (authorization and the audit log line are done by [`crate::control_socket`]).

use std::sync::Arc;

use ncp::spinel::{cap, prop};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::control_socket::{code, Handler, MethodError, MethodFuture, Peer};
use crate::network::{Network, Snapshot};
use control::Request;

/// The control handler.
pub(crate) struct Methods {
    pub net: Arc<Network>,
    /// The mesh bridge, for the `bridge` object of `status`.
    pub bridge: Option<Arc<crate::bridge::Bridge>>,
    /// The SRP advertising proxy, for the `srp_proxy` object of `status`.
    pub srp_proxy: Option<Arc<crate::srp_proxy::SrpProxy>>,
    /// For `active_timestamp` and `pending`.
    pub lifecycle: Option<Arc<crate::lifecycle::Lifecycle>>,
    /// The LAN relay to the Border Agent, for the `border_agent` object of `status`.
    pub relay: Option<Arc<crate::ba_relay::Relay>>,
    /// For the `mdns` object.
    pub mdns: Option<Arc<crate::mdns::meshcop::Status>>,
}

fn unavailable(e: ncp::Error) -> MethodError {
    MethodError::new(
        code::NCP_UNAVAILABLE,
        format!("the co-processor did not answer: {e}"),
    )
}

/// Builds the `status` result.
pub(crate) fn status_json(
    s: &Snapshot,
    info: &ncp::NcpInfo,
    neighbors: &[ncp::props::tables::Neighbor],
) -> Value {
    let caps: Vec<String> = info
        .caps
        .iter()
        .map(|c| {
            cap::name(*c)
                .map(str::to_string)
                .unwrap_or_else(|| c.to_string())
        })
        .collect();
    json!({
        "role": s.role.as_str(),
        "network_name": s.network_name,
        "channel": s.channel,
        "pan_id": format!("0x{:04x}", s.pan_id),
        "ext_pan_id": hex::encode(s.ext_pan_id),
        "mesh_local_prefix": s.mesh_local_prefix.map(|p| format!("{p}/64")),
        "partition_id": s.partition_id,
        "rloc16": format!("0x{:04x}", s.rloc16),
        "ncp": {
            "version": info.version,
            "eui64": hex::encode(info.hwaddr),
            "capabilities": caps,
        },
        "neighbors": neighbors,
    })
}

impl Methods {
    async fn status(&self) -> Result<Value, MethodError> {
        let s = self.net.snapshot().await.map_err(unavailable)?;
        let neighbors = match self.net.neighbors().await {
            Ok(n) => n,
            Err(e) => {
                tracing::debug!(error = %e, "neighbor table unavailable");
                Vec::new()
            }
        };
        let mut v = status_json(&s, &self.net.info, &neighbors);
        if let Some(b) = &self.bridge {
            v["bridge"] = b.status_json();
        }
        if let Some(r) = &self.relay {
            v["border_agent"] = r.status_json();
        }
        if let Some(p) = &self.srp_proxy {
            v["srp_proxy"] = p.status_json();
        }
        if let Some(l) = &self.lifecycle {
            let (active_timestamp, pending) = l.status_fields().await;
            v["active_timestamp"] = json!(active_timestamp);
            v["pending"] = json!(pending);
        }
        if let Some(m) = &self.mdns {
            v["mdns"] = m.json();
        }
        Ok(v)
    }

    async fn counters(&self) -> Result<Value, MethodError> {
        use ncp::props::counters as c;
        fn named(n: &c::Named) -> Value {
            Value::Object(n.iter().map(|(k, v)| (k.to_string(), json!(v))).collect())
        }
        let client = &self.net.client;
        // One property after another: a firmware without one of them answers the others.
        let read = |p| async move {
            match client.get(p).await {
                Ok(v) => Some(v),
                Err(e) => {
                    tracing::debug!(prop = ?p, error = %e, "counter unavailable");
                    None
                }
            }
        };
        let decoded = |v: Option<Vec<u8>>, f: fn(&[u8]) -> Result<Value, ncp::Error>| {
            v.and_then(|v| match f(&v) {
                Ok(j) => Some(j),
                Err(e) => {
                    tracing::warn!(error = %e, "co-processor counters: malformed value ignored");
                    None
                }
            })
        };
        let mac = decoded(read(prop::CNTR_ALL_MAC_COUNTERS).await, |v| {
            let m = c::decode_mac_counters(v)?;
            Ok(json!({"tx": named(&m.tx), "rx": named(&m.rx)}))
        });
        let ip = decoded(read(prop::CNTR_ALL_IP_COUNTERS).await, |v| {
            let i = c::decode_ip_counters(v)?;
            Ok(json!({
                "tx_success": i.tx_success, "tx_failure": i.tx_failure,
                "rx_success": i.rx_success, "rx_failure": i.rx_failure,
            }))
        });
        let mle = decoded(read(prop::CNTR_MLE_COUNTERS).await, |v| {
            Ok(named(&c::decode_mle_counters(v)?))
        });
        let buffers = decoded(read(prop::MSG_BUFFER_COUNTERS).await, |v| {
            Ok(named(&c::decode_buffer_counters(v)?))
        });
        let mut spinel = serde_json::Map::new();
        for (name, p) in [
            ("tx_frames", prop::CNTR_TX_SPINEL_TOTAL),
            ("rx_frames", prop::CNTR_RX_SPINEL_TOTAL),
            ("rx_errors", prop::CNTR_RX_SPINEL_ERR),
            ("ip_from_host_dropped", prop::CNTR_TX_IP_DROPPED),
            ("ip_to_host_dropped", prop::CNTR_RX_IP_DROPPED),
        ] {
            let v = decoded(read(p).await, |v| {
                Ok(json!(ncp::codec::Reader::new(v).u32()?))
            });
            spinel.insert(name.into(), json!(v));
        }
        if mac.is_none() && ip.is_none() && buffers.is_none() && client.is_closed() {
            return Err(unavailable(ncp::Error::Closed));
        }
        let l = client.stats();
        Ok(json!({
            "coprocessor": {
                "mac": mac,
                "ip": ip,
                "mle": mle,
                "buffers": buffers,
                "spinel": spinel,
            },
            "link": {
                "frames_in": l.frames_in,
                "frames_out": l.frames_out,
                "decode_errors": l.decode_errors,
                "events_dropped": l.events_dropped,
                "stray_responses": l.stray_responses,
                "timeouts": l.timeouts,
            },
        }))
    }

    async fn dataset_export(&self) -> Result<Value, MethodError> {
        let tlvs = Zeroizing::new(
            self.net
                .client
                .get(prop::THREAD_ACTIVE_DATASET_TLVS)
                .await
                .map_err(unavailable)?,
        );
        if tlvs.is_empty() {
            return Err(MethodError::new(
                code::NCP_UNAVAILABLE,
                "the co-processor has no active dataset yet",
            ));
        }
        Ok(export_result(&tlvs))
    }
}

/// The hex text of the active dataset (it holds the network key and the PSKc), wiped on drop.
pub(crate) fn export_hex(tlvs: &[u8]) -> Zeroizing<String> {
    Zeroizing::new(hex::encode(tlvs))
}

/// The `dataset.export` result. The hex text made here is wiped once the result holds its copy
/// (the result itself is serialized and dropped by the control socket).
fn export_result(tlvs: &[u8]) -> Value {
    let mut reply = control::reply::DatasetExport {
        tlvs: export_hex(tlvs).to_string(),
    };
    let v = control::reply::to_result(&reply);
    zeroize::Zeroize::zeroize(&mut reply.tlvs);
    v
}

impl Handler for Methods {
    fn call<'a>(&'a self, request: Request, _peer: &'a Peer) -> MethodFuture<'a> {
        Box::pin(async move {
            match request {
                Request::Status => self.status().await,
                Request::NetworkCounters => self.counters().await,
                Request::DatasetExport => self.dataset_export().await,
                other => Err(MethodError::new(
                    code::METHOD_NOT_FOUND,
                    format!("unknown method `{}`", other.method()),
                )),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Role;

    #[test]
    fn export_hex_is_wiped_on_drop() {
        // A `Zeroizing` (not a plain `String`): the type is the guarantee.
        let hex: Zeroizing<String> = export_hex(&[0x0e, 0x08, 0xab]);
        assert_eq!(hex.as_str(), "0e08ab");
        assert_eq!(export_result(&[0xab, 0xcd]), json!({"tlvs": "abcd"}));
    }

    #[test]
    fn status_fields_are_the_contract() {
        let s = Snapshot {
            role: Role::Leader,
            network_name: "ThreadAgent".into(),
            channel: 15,
            pan_id: 0xface,
            ext_pan_id: [0xde, 0xad, 0, 0xbe, 0xef, 0, 0xca, 0xfe],
            mesh_local_prefix: Some("fd11:2233:4455:0::".parse().unwrap()),
            partition_id: 123,
            rloc16: 0x0400,
        };
        let info = ncp::NcpInfo {
            protocol: (4, 3),
            version: "OPENTHREAD/x".into(),
            interface_type: 3,
            caps: vec![32, 1026, 99999],
            hwaddr: [0x18, 0xb4, 0x30, 0, 0, 0, 0, 1],
        };
        let v = status_json(&s, &info, &[]);
        assert_eq!(v["role"], "leader");
        assert_eq!(v["pan_id"], "0xface");
        assert_eq!(v["ext_pan_id"], "dead00beef00cafe");
        assert_eq!(v["mesh_local_prefix"], "fd11:2233:4455::/64");
        assert_eq!(v["rloc16"], "0x0400");
        assert_eq!(v["partition_id"], 123);
        assert_eq!(v["ncp"]["eui64"], "18b4300000000001");
        assert_eq!(
            v["ncp"]["capabilities"],
            json!(["CONFIG_FTD", "THREAD_UDP_FORWARD", "99999"])
        );
        assert_eq!(v["neighbors"], json!([]));
    }
}
