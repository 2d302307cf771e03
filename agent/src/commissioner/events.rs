//! Commissioner events as the outside world sees them: a kebab-case `type` plus flat fields, used
//! for the tracing line, the `events.subscribe` stream and the audit log alike.
//!
//! Names (stable): `petition-accepted`, `petition-rejected`, `border-agent-auth-failed`,
//! `keep-alive-failed`, `steering-data-updated`, `steering-data-rejected`, `joiner-seen`,
//! `joiner-handshake-failed`, `joiner-authenticated`, `joiner-finalize`, `joiner-entrusted`,
//! `entry-expired`, `entry-removed`, `resigned`, `disconnected`, and from the service itself
//! `entry-added`, `entries-imported`, `joiner-joined`, `commissioner-starting`, `commissioner-stopping`.
//!
//! Joiner fields: `joiner_id`, `joiner_iid`, `eui64` (EUI-64 entries only: a Joiner ID is a hash
//! of the EUI-64, so other entries cannot know it), `entry`, `joiner_router` (`0x....`),
//! `joiner_port`, and once JOIN_FIN arrived `vendor_name`, `vendor_model`, `vendor_sw_version`,
//! `vendor_stack_version`, `vendor_data`.
//!
//! Origin fields (entries of a `joiner.import`): `label` (the bootstrapping file's label) and
//! `signer` (the minisign key id that signed the file), on every event of the entry
//! (`entry-added`, `joiner-*`, `entry-*`) and in `joiner.list`, from the service's [`Origins`]
//! (kept beside its joiner table, filled by `joiner.import`); also `entries-imported` (count,
//! labels, signer).
//!
//! Guarantees: built only from `meshcop::commissioner::Event`, which carries no secret; nothing
//! here can see a PSKd, PSKc or KEK.

use std::collections::HashMap;

use control::EventKind;
use meshcop::commissioner::{Event, HandshakeFailure, JoinerInfo, JoinerKind, RemovalReason};
use serde_json::{json, Map, Value};

/// Where an EUI-64 entry came from: a bootstrapping file's label and signer (public data).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Origin {
    pub label: Option<String>,
    pub signer: Option<String>,
}

/// The origins of the EUI-64 entries imported by `joiner.import`, beside the joiner table they
/// describe (the service's shared state, `service::Saved`, so a restarted task keeps them; one
/// per agent, not per process). The state machine's events carry the entry, not its origin, so
/// [`describe`] looks it up here.
#[derive(Debug, Default)]
pub(crate) struct Origins(HashMap<[u8; 8], Origin>);

impl Origins {
    /// Records (or, with `None`, forgets: a plain `joiner.add` replaced it) an entry's origin.
    pub(crate) fn set(&mut self, eui64: [u8; 8], origin: Option<Origin>) {
        match origin {
            Some(o) if o != Origin::default() => self.0.insert(eui64, o),
            _ => self.0.remove(&eui64),
        };
    }

    /// The origin of an entry, if it was imported.
    pub(crate) fn of(&self, kind: &JoinerKind) -> Option<&Origin> {
        match kind {
            JoinerKind::Eui64(e) => self.0.get(e),
            _ => None,
        }
    }

    /// Forgets the origins of the EUI-64 entries no longer in the table.
    pub(crate) fn retain(&mut self, listed: &[JoinerKind]) {
        self.0
            .retain(|e, _| listed.contains(&JoinerKind::Eui64(*e)));
    }
}

/// `label` and `signer` of an imported entry.
fn insert_origin(kind: &JoinerKind, origins: &Origins, m: &mut Map<String, Value>) {
    if let Some(o) = origins.of(kind) {
        if let Some(l) = &o.label {
            m.insert("label".into(), json!(l));
        }
        if let Some(s) = &o.signer {
            m.insert("signer".into(), json!(s));
        }
    }
}

/// The canonical text of an entry: `eui64:<16 hex>`, `discerner:0x<hex>/<bits>` or `any`.
pub(crate) fn entry_text(kind: &JoinerKind) -> String {
    match kind {
        JoinerKind::Eui64(e) => format!("eui64:{}", hex::encode(e)),
        JoinerKind::Discerner(d) => format!("discerner:{:#x}/{}", d.value(), d.bits()),
        JoinerKind::Any => "any".to_string(),
    }
}

/// Joiner fields of an event.
pub(crate) fn joiner_fields(j: &JoinerInfo, origins: &Origins, m: &mut Map<String, Value>) {
    m.insert("joiner_id".into(), json!(j.joiner_id));
    m.insert("joiner_iid".into(), json!(j.joiner_iid));
    if let Some(e) = &j.eui64 {
        m.insert("eui64".into(), json!(e));
    }
    m.insert("entry".into(), json!(entry_text(&j.entry)));
    insert_origin(&j.entry, origins, m);
    m.insert(
        "joiner_router".into(),
        json!(format!("0x{:04x}", j.joiner_router)),
    );
    m.insert("joiner_port".into(), json!(j.joiner_port));
    if let Some(v) = &j.vendor {
        m.insert("vendor_name".into(), json!(v.name));
        m.insert("vendor_model".into(), json!(v.model));
        m.insert("vendor_sw_version".into(), json!(v.sw_version));
        m.insert("vendor_stack_version".into(), json!(v.stack_version));
        if let Some(d) = &v.data {
            m.insert("vendor_data".into(), json!(d));
        }
    }
}

/// An event as `{"type": "...", ...fields}` with a one-line human description.
pub(crate) struct Described {
    pub value: Value,
    pub text: String,
    pub level: tracing::Level,
    /// Whether the audit log records it.
    pub audit: bool,
}

/// What [`describe`] needs besides the fields: the name, the log text, its level, and whether
/// the audit log records it.
type Described4 = (EventKind, String, tracing::Level, bool);

/// Maps a meshcop event (`origins`: the imported entries' labels and signers).
pub(crate) fn describe(ev: &Event, origins: &Origins) -> Described {
    let mut m = Map::new();
    let (kind, text, level, audit) = match ev {
        Event::PetitionAccepted { .. }
        | Event::PetitionRejected { .. }
        | Event::BorderAgentAuthFailed
        | Event::KeepAliveFailed { .. }
        | Event::SteeringDataUpdated { .. }
        | Event::SteeringDataRejected { .. }
        | Event::Resigned
        | Event::Disconnected { .. } => session(ev, &mut m),
        Event::JoinerSeen { .. }
        | Event::JoinerHandshakeFailed { .. }
        | Event::JoinerAuthenticated { .. }
        | Event::JoinerFinalize { .. }
        | Event::JoinerEntrusted { .. } => joiner(ev, origins, &mut m),
        Event::EntryExpired { .. } | Event::EntryRemoved { .. } => table(ev, origins, &mut m),
        Event::CommissionerDataset { .. } | Event::CommissionerGetFailed { .. } => {
            query(ev, &mut m)
        }
    };
    m.insert("type".into(), json!(kind.as_str()));
    Described {
        value: Value::Object(m),
        text,
        level,
        audit,
    }
}

/// The Border Agent session: petition, keep-alive, steering data, resign, disconnect.
fn session(ev: &Event, m: &mut Map<String, Value>) -> Described4 {
    match ev {
        Event::PetitionAccepted { session_id } => {
            m.insert("session_id".into(), json!(session_id));
            (
                EventKind::PetitionAccepted,
                format!("petition accepted; commissioner active (session id {session_id})"),
                tracing::Level::INFO,
                true,
            )
        }
        Event::PetitionRejected { reason } => {
            m.insert("reason".into(), json!(reason));
            (
                EventKind::PetitionRejected,
                format!("petition rejected: {reason}"),
                tracing::Level::WARN,
                true,
            )
        }
        Event::BorderAgentAuthFailed => {
            m.insert("reason".into(), json!("wrong PSKc"));
            (
                EventKind::BorderAgentAuthFailed,
                "border agent rejected our PSKc (DTLS handshake failed on the password); check the active dataset's PSKc".into(),
                tracing::Level::ERROR,
                true,
            )
        }
        Event::KeepAliveFailed { reason } => {
            m.insert("reason".into(), json!(reason));
            (
                EventKind::KeepAliveFailed,
                format!("commissioner keep-alive failed: {reason}; petitioning again"),
                tracing::Level::WARN,
                true,
            )
        }
        Event::SteeringDataUpdated { steering_data } => {
            m.insert("steering_data".into(), json!(steering_data));
            (
                EventKind::SteeringDataUpdated,
                format!("leader accepted steering data {steering_data}"),
                tracing::Level::INFO,
                false,
            )
        }
        Event::SteeringDataRejected { reason } => {
            m.insert("reason".into(), json!(reason));
            (
                EventKind::SteeringDataRejected,
                format!("steering data not accepted: {reason}"),
                tracing::Level::WARN,
                false,
            )
        }
        Event::Resigned => (
            EventKind::Resigned,
            "commissioner resigned".into(),
            tracing::Level::INFO,
            true,
        ),
        Event::Disconnected { reason } => {
            m.insert("reason".into(), json!(reason));
            (
                EventKind::Disconnected,
                format!("commissioner session ended: {reason}"),
                tracing::Level::WARN,
                true,
            )
        }
        _ => unreachable!("not a session event"),
    }
}

/// A joiner's admission: DTLS session, JOIN_FIN, entrust.
fn joiner(ev: &Event, origins: &Origins, m: &mut Map<String, Value>) -> Described4 {
    match ev {
        Event::JoinerSeen { joiner } => {
            joiner_fields(joiner, origins, m);
            (
                EventKind::JoinerSeen,
                "joiner seen (DTLS session started)".into(),
                tracing::Level::INFO,
                true,
            )
        }
        Event::JoinerHandshakeFailed { joiner, reason } => {
            joiner_fields(joiner, origins, m);
            let (r, detail, text) = match reason {
                HandshakeFailure::WrongPskd => (
                    "wrong-pskd",
                    None,
                    "joiner handshake failed: PSKd mismatch (the entry stays usable for a retry)"
                        .to_string(),
                ),
                HandshakeFailure::PossibleWrongPskd => (
                    "possible-wrong-pskd",
                    None,
                    "joiner handshake failed: possibly a PSKd mismatch (unauthenticated signs \
                     only, which anyone in radio range could forge; the entry stays usable)"
                        .to_string(),
                ),
                HandshakeFailure::Timeout => (
                    "timeout",
                    None,
                    "joiner handshake failed: timed out".to_string(),
                ),
                HandshakeFailure::Protocol(d) => (
                    "protocol",
                    Some(d.clone()),
                    format!("joiner handshake failed: {d}"),
                ),
            };
            m.insert("result".into(), json!("failed"));
            m.insert("reason".into(), json!(r));
            if let Some(d) = detail {
                m.insert("detail".into(), json!(d));
            }
            (
                EventKind::JoinerHandshakeFailed,
                text,
                tracing::Level::WARN,
                true,
            )
        }
        Event::JoinerAuthenticated { joiner } => {
            joiner_fields(joiner, origins, m);
            (
                EventKind::JoinerAuthenticated,
                "joiner authenticated (DTLS established with its PSKd)".into(),
                tracing::Level::INFO,
                true,
            )
        }
        Event::JoinerFinalize {
            joiner,
            vendor_name,
            vendor_model,
            vendor_sw_version,
            vendor_stack_version,
            provisioning_url,
            accepted,
            reject_reason,
        } => {
            joiner_fields(joiner, origins, m);
            m.insert("vendor_name".into(), json!(vendor_name));
            m.insert("vendor_model".into(), json!(vendor_model));
            m.insert("vendor_sw_version".into(), json!(vendor_sw_version));
            m.insert("vendor_stack_version".into(), json!(vendor_stack_version));
            if let Some(u) = provisioning_url {
                m.insert("provisioning_url".into(), json!(u));
            }
            m.insert("accepted".into(), json!(accepted));
            m.insert(
                "result".into(),
                json!(if *accepted { "accepted" } else { "rejected" }),
            );
            if let Some(r) = reject_reason {
                m.insert("reason".into(), json!(r));
            }
            let text = if *accepted {
                format!("JOIN_FIN accepted from {vendor_name} {vendor_model} {vendor_sw_version}")
            } else {
                format!(
                    "JOIN_FIN rejected from {vendor_name} {vendor_model}: {}",
                    reject_reason.as_deref().unwrap_or("")
                )
            };
            let level = if *accepted {
                tracing::Level::INFO
            } else {
                tracing::Level::WARN
            };
            (EventKind::JoinerFinalize, text, level, true)
        }
        Event::JoinerEntrusted { joiner } => {
            joiner_fields(joiner, origins, m);
            m.insert("result".into(), json!("entrusted"));
            (
                EventKind::JoinerEntrusted,
                "joiner entrusted (KEK sent to the joiner router; it delivers the network credentials)".into(),
                tracing::Level::INFO,
                true,
            )
        }
        _ => unreachable!("not a joiner event"),
    }
}

/// Joiner table changes made by the state machine.
fn table(ev: &Event, origins: &Origins, m: &mut Map<String, Value>) -> Described4 {
    match ev {
        Event::EntryExpired { kind } => {
            insert_entry(kind, origins, m);
            (
                EventKind::EntryExpired,
                format!("joiner entry {} expired", entry_text(kind)),
                tracing::Level::INFO,
                true,
            )
        }
        Event::EntryRemoved { kind, reason } => {
            insert_entry(kind, origins, m);
            let r = match reason {
                RemovalReason::Operator => "operator",
                RemovalReason::Joined => "joined",
            };
            m.insert("reason".into(), json!(r));
            (
                EventKind::EntryRemoved,
                format!("joiner entry {} removed ({r})", entry_text(kind)),
                tracing::Level::INFO,
                true,
            )
        }
        _ => unreachable!("not a table event"),
    }
}

/// Query answers: the service hands them to the waiting `commissioner.status` calls and does
/// not publish them; described for completeness.
fn query(ev: &Event, m: &mut Map<String, Value>) -> Described4 {
    match ev {
        Event::CommissionerDataset { request, dataset } => {
            m.insert("request".into(), json!(request));
            m.insert("session_id".into(), json!(dataset.session_id));
            (
                EventKind::CommissionerDataset,
                format!("border agent answered MGMT_COMMISSIONER_GET {request}"),
                tracing::Level::DEBUG,
                false,
            )
        }
        Event::CommissionerGetFailed { request, reason } => {
            m.insert("request".into(), json!(request));
            m.insert("reason".into(), json!(reason));
            (
                EventKind::CommissionerGetFailed,
                format!("MGMT_COMMISSIONER_GET {request} failed: {reason}"),
                tracing::Level::DEBUG,
                false,
            )
        }
        _ => unreachable!("not a query event"),
    }
}

/// `entry` (and `eui64`, `joiner_id` for an EUI-64 entry, `label`, `signer` for an imported one).
pub(crate) fn insert_entry(kind: &JoinerKind, origins: &Origins, m: &mut Map<String, Value>) {
    m.insert("entry".into(), json!(entry_text(kind)));
    if let JoinerKind::Eui64(e) = kind {
        m.insert("eui64".into(), json!(hex::encode(e)));
        m.insert(
            "joiner_id".into(),
            json!(hex::encode(meshcop::credentials::joiner_id(e))),
        );
    }
    insert_origin(kind, origins, m);
}

/// Emits the tracing line of an event: message `text`, fields `event`, `joiner_id`, `eui64`,
/// `joiner_router`, `vendor_*`, `reason`, `session_id` when present.
pub(crate) fn log(d: &Described) {
    let v = &d.value;
    let f = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let event = f("type").unwrap_or_default();
    let joiner_id = f("joiner_id");
    let eui64 = f("eui64");
    let entry = f("entry");
    let joiner_router = f("joiner_router");
    let vendor_name = f("vendor_name");
    let vendor_model = f("vendor_model");
    let vendor_sw_version = f("vendor_sw_version");
    let vendor_stack_version = f("vendor_stack_version");
    let vendor_data = f("vendor_data");
    let reason = f("reason");
    let ext_address = f("ext_address");
    let label = f("label");
    let signer = f("signer");
    let session_id = v.get("session_id").and_then(Value::as_u64);
    macro_rules! emit {
        ($lvl:expr) => {
            tracing::event!(
                $lvl,
                event = %event,
                joiner_id,
                eui64,
                entry,
                joiner_router,
                vendor_name,
                vendor_model,
                vendor_sw_version,
                vendor_stack_version,
                vendor_data,
                reason,
                session_id,
                ext_address,
                label,
                signer,
                "{}",
                d.text
            )
        };
    }
    match d.level {
        tracing::Level::ERROR => emit!(tracing::Level::ERROR),
        tracing::Level::WARN => emit!(tracing::Level::WARN),
        _ => emit!(tracing::Level::INFO),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshcop::commissioner::VendorInfo;

    fn joiner() -> JoinerInfo {
        JoinerInfo {
            joiner_id: "1122334455667788".into(),
            joiner_iid: "1322334455667788".into(),
            eui64: Some("18b4300000000002".into()),
            entry: JoinerKind::Eui64([0x18, 0xb4, 0x30, 0, 0, 0, 0, 2]),
            joiner_router: 0x0400,
            joiner_port: 1000,
            vendor: Some(VendorInfo {
                name: "OpenThread".into(),
                model: "SIMULATION".into(),
                sw_version: "1.0".into(),
                stack_version: "00".into(),
                data: None,
            }),
        }
    }

    fn describe_(ev: &Event) -> Described {
        describe(ev, &Origins::default())
    }

    #[test]
    fn names_and_fields() {
        let d = describe_(&Event::JoinerEntrusted { joiner: joiner() });
        assert_eq!(d.value["type"], "joiner-entrusted");
        assert_eq!(d.value["eui64"], "18b4300000000002");
        assert_eq!(d.value["entry"], "eui64:18b4300000000002");
        assert_eq!(d.value["joiner_router"], "0x0400");
        assert_eq!(d.value["vendor_name"], "OpenThread");
        let d = describe_(&Event::JoinerHandshakeFailed {
            joiner: joiner(),
            reason: HandshakeFailure::WrongPskd,
        });
        assert_eq!(d.value["reason"], "wrong-pskd");
        assert!(d.text.contains("PSKd mismatch"));
        let d = describe_(&Event::JoinerHandshakeFailed {
            joiner: joiner(),
            reason: HandshakeFailure::PossibleWrongPskd,
        });
        assert_eq!(d.value["reason"], "possible-wrong-pskd");
        assert_eq!(d.value["result"], "failed");
        assert!(d.text.contains("possibly a PSKd mismatch"));
        let d = describe_(&Event::BorderAgentAuthFailed);
        assert!(d.text.contains("border agent rejected our PSKc"));
        let d = describe_(&Event::EntryExpired {
            kind: JoinerKind::Any,
        });
        assert_eq!(d.value["type"], "entry-expired");
        assert_eq!(d.value["entry"], "any");
        // An imported entry's events carry its label and signer.
        let kind = JoinerKind::Eui64([0x18, 0xb4, 0x30, 0, 0, 0, 0, 0x77]);
        let origin = Origin {
            label: Some("hall".into()),
            signer: Some("0807060504030201".into()),
        };
        let mut origins = Origins::default();
        origins.set([0x18, 0xb4, 0x30, 0, 0, 0, 0, 0x77], Some(origin));
        let d = describe(&Event::EntryExpired { kind }, &origins);
        assert_eq!(
            (d.value["label"].as_str(), d.value["signer"].as_str()),
            (Some("hall"), Some("0807060504030201"))
        );
        let d = describe(
            &Event::JoinerEntrusted {
                joiner: JoinerInfo {
                    entry: kind,
                    ..joiner()
                },
            },
            &origins,
        );
        assert_eq!(d.value["label"], "hall");
        // Another agent's table (another Origins) knows nothing of it.
        assert!(describe_(&Event::EntryExpired { kind })
            .value
            .get("label")
            .is_none());
        origins.retain(&[]);
        assert!(describe(&Event::EntryExpired { kind }, &origins)
            .value
            .get("label")
            .is_none());
        let disc = "abc/12".parse().unwrap();
        assert_eq!(
            entry_text(&JoinerKind::Discerner(disc)),
            "discerner:0xabc/12"
        );
    }
}
