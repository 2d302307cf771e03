//! Credential lifecycle methods: `network.rotate_key`, `network.migrate`, `network.pending` and
//! `dataset.import`, their typed parameters, replies and shared parsers (threadctl validates with
//! the same functions before it sends anything).
//!
//! Parameters (docs/control-protocol.md, "Credential lifecycle"):
//! - `network.rotate_key`: `delay` (whole seconds, [`MIN_DELAY_S`]..=[`MAX_DELAY_S`], default
//!   [`DEFAULT_DELAY_S`]), `pskc` (bool, default false: also a new passphrase and PSKc).
//! - `network.migrate`: `channel` (11..26) and/or `pan_id` (`"0x1234"` or a number,
//!   0..=0xfffe; 0xffff is the broadcast PAN ID), at least one; `delay` as above.
//! - `dataset.import`: `tlvs` (hex of an active dataset), `replace` (bool, default false).
//!
//! Guarantees: the imported TLVs (they hold the network key) live in a [`SecretTlvs`], zeroed on
//! drop and redacted in `Debug`; no error message quotes them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::error::{Code, MethodError};
use crate::request::THREAD_CHANNELS;

/// The shortest delay the agent accepts for a pending dataset, in seconds (OpenThread's
/// `OPENTHREAD_CONFIG_TMF_PENDING_DATASET_MINIMUM_DELAY`, 30 s).
pub const MIN_DELAY_S: u32 = 30;
/// The default delay, in seconds: the value Thread border routers use
/// (`OPENTHREAD_CONFIG_TMF_PENDING_DATASET_DEFAULT_DELAY`, 300 s), long enough for sleepy
/// devices to fetch the pending dataset.
pub const DEFAULT_DELAY_S: u32 = 300;
/// The longest delay, in seconds (OpenThread caps the Delay Timer at 72 hours).
pub const MAX_DELAY_S: u32 = 72 * 3600;

/// `network.rotate_key` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotateKey {
    /// Seconds until every device switches; [`DEFAULT_DELAY_S`] when not given.
    pub delay: u32,
    /// Also a new passphrase and PSKc (the commissioning credential).
    pub pskc: bool,
}

/// `network.migrate` parameters (at least one of `channel`, `pan_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrate {
    pub channel: Option<u8>,
    pub pan_id: Option<u16>,
    pub delay: u32,
}

/// Dataset TLVs that hold secrets: zeroed on drop, never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretTlvs(pub Zeroizing<Vec<u8>>);

impl std::fmt::Debug for SecretTlvs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretTlvs(<{} bytes redacted>)", self.0.len())
    }
}

/// `dataset.import` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetImport {
    pub tlvs: SecretTlvs,
    /// Replace the co-processor's current network (refused without it).
    pub replace: bool,
}

fn bad(msg: impl Into<String>) -> MethodError {
    MethodError::new(Code::InvalidParams, msg)
}

/// Checks a delay in seconds against [`MIN_DELAY_S`]..=[`MAX_DELAY_S`].
pub fn check_delay(secs: u64) -> Result<u32, String> {
    if secs < MIN_DELAY_S as u64 {
        return Err(format!(
            "delay {secs} s is below the minimum of {MIN_DELAY_S} s"
        ));
    }
    u32::try_from(secs)
        .ok()
        .filter(|s| *s <= MAX_DELAY_S)
        .ok_or_else(|| format!("delay {secs} s is above the maximum of {MAX_DELAY_S} s (72 h)"))
}

/// Parses a PAN ID: `0x1234` (hex) or a decimal number, 0..=0xfffe.
pub fn parse_pan_id(text: &str) -> Result<u16, String> {
    let t = text.trim();
    let v = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) if !h.is_empty() && h.len() <= 4 => u32::from_str_radix(h, 16).ok(),
        Some(_) => None,
        None => t.parse::<u32>().ok(),
    };
    match v {
        Some(0xffff) => {
            Err("PAN ID 0xffff is the broadcast PAN ID, not usable for a network".into())
        }
        Some(p) if p <= 0xfffe => Ok(p as u16),
        _ => Err(format!(
            "PAN ID {t:?} is not a PAN ID (0x0000..0xfffe, e.g. 0x1234)"
        )),
    }
}

/// Checks a channel number against 11..26.
pub fn check_channel(c: u64) -> Result<u8, String> {
    u8::try_from(c)
        .ok()
        .filter(|c| THREAD_CHANNELS.contains(c))
        .ok_or_else(|| format!("channel {c} is not a Thread channel (11..26)"))
}

fn delay_param(params: &Value) -> Result<u32, MethodError> {
    match params.get("delay") {
        None | Some(Value::Null) => Ok(DEFAULT_DELAY_S),
        Some(v) => match v.as_u64() {
            Some(s) => check_delay(s).map_err(bad),
            None => Err(bad("`delay` must be whole seconds")),
        },
    }
}

fn bool_param(params: &Value, name: &str) -> Result<bool, MethodError> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(bad(format!("`{name}` must be true or false"))),
    }
}

pub(crate) fn rotate_params(params: &Value) -> Result<RotateKey, MethodError> {
    Ok(RotateKey {
        delay: delay_param(params)?,
        pskc: bool_param(params, "pskc")?,
    })
}

pub(crate) fn migrate_params(params: &Value) -> Result<Migrate, MethodError> {
    let channel = match params.get("channel") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(c) => Some(check_channel(c).map_err(bad)?),
            None => {
                return Err(bad(format!(
                    "`channel` {v} is not a channel number (11..26)"
                )))
            }
        },
    };
    let pan_id = match params.get("pan_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(parse_pan_id(s).map_err(bad)?),
        Some(v) => match v.as_u64() {
            Some(p) => Some(parse_pan_id(&p.to_string()).map_err(bad)?),
            None => return Err(bad("`pan_id` must be a string like \"0x1234\" or a number")),
        },
    };
    if channel.is_none() && pan_id.is_none() {
        return Err(bad("give `channel` and/or `pan_id`: nothing to migrate"));
    }
    Ok(Migrate {
        channel,
        pan_id,
        delay: delay_param(params)?,
    })
}

pub(crate) fn import_params(params: &Value) -> Result<DatasetImport, MethodError> {
    let tlvs = match params.get("tlvs") {
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() {
                return Err(bad("`tlvs` is empty"));
            }
            hex::decode(s).map_err(|e| bad(format!("`tlvs` is not hex: {e}")))?
        }
        Some(_) => return Err(bad("`tlvs` must be a string of hex")),
        None => return Err(bad("missing `tlvs` (the active dataset as hex TLVs)")),
    };
    Ok(DatasetImport {
        tlvs: SecretTlvs(Zeroizing::new(tlvs)),
        replace: bool_param(params, "replace")?,
    })
}

pub(crate) fn rotate_to_params(r: &RotateKey, m: &mut Map<String, Value>) {
    m.insert("delay".into(), r.delay.into());
    m.insert("pskc".into(), r.pskc.into());
}

pub(crate) fn migrate_to_params(r: &Migrate, m: &mut Map<String, Value>) {
    if let Some(c) = r.channel {
        m.insert("channel".into(), c.into());
    }
    if let Some(p) = r.pan_id {
        m.insert("pan_id".into(), format!("0x{p:04x}").into());
    }
    m.insert("delay".into(), r.delay.into());
}

pub(crate) fn import_to_params(r: &DatasetImport, m: &mut Map<String, Value>) {
    // The hex text goes into the tree (wiped by `Request::line`) and nowhere else.
    m.insert("tlvs".into(), hex::encode(r.tlvs.0.as_slice()).into());
    m.insert("replace".into(), r.replace.into());
}

/// A scheduled change of the active dataset (a pending dataset): which fields change and the new
/// public values; never a secret. Part of `network.pending`, `status` and the scheduling replies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingChange {
    /// `network-key-rotation` (the network key changes), `network-migration` (channel or PAN ID
    /// change, key unchanged) or `dataset-change` (anything else, e.g. made by another border
    /// router).
    pub kind: String,
    /// The fields that change: of `network_key`, `pskc`, `channel`, `pan_id`, `network_name`,
    /// `ext_pan_id`, `mesh_local_prefix`, `security_policy`, `channel_mask`.
    pub changes: Vec<String>,
    /// The new channel, when it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<u8>,
    /// The new PAN ID (`0x1234`), when it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pan_id: Option<String>,
    /// Seconds of the new dataset's active timestamp.
    pub active_timestamp: Option<u64>,
    /// Seconds of the pending timestamp.
    pub pending_timestamp: Option<u64>,
    /// Milliseconds until the change, as the co-processor counted when asked.
    pub remaining_ms: Option<u32>,
}

/// `network.pending`: the scheduled change, or `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub pending: Option<PendingChange>,
}

/// `network.rotate_key` and `network.migrate`: what was scheduled and with which delay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scheduled {
    pub scheduled: PendingChange,
    /// The delay asked for, in seconds.
    pub requested_delay_s: u32,
    /// The delay the network applies, in seconds (a leader raises a key change sent with
    /// MGMT_PENDING_SET to at least 300 s; see `via`).
    pub effective_delay_s: u32,
    /// `leader` (the pending dataset was set on the agent's co-processor, the leader: the delay
    /// is taken as given) or `mgmt-pending-set` (sent to another leader, which may raise it).
    pub via: String,
}

/// `dataset.import`: the network now on the co-processor (public fields only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Imported {
    pub imported: bool,
    /// The co-processor had another network, which was replaced (`replace`).
    pub replaced: bool,
    pub network_name: String,
    pub ext_pan_id: String,
    pub channel: u8,
    pub pan_id: String,
    pub active_timestamp: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Method, Request};
    use serde_json::json;

    fn parse(m: Method, p: Value) -> Result<Request, MethodError> {
        Request::parse(m, &p)
    }

    #[test]
    fn lifecycle_params_parse_and_round_trip() {
        let r = parse(Method::NetworkRotateKey, json!({})).unwrap();
        assert_eq!(
            r,
            Request::NetworkRotateKey(RotateKey {
                delay: DEFAULT_DELAY_S,
                pskc: false
            })
        );
        let r = parse(Method::NetworkRotateKey, json!({"delay": 30, "pskc": true})).unwrap();
        assert_eq!(parse(Method::NetworkRotateKey, r.params()).unwrap(), r);
        let m = parse(
            Method::NetworkMigrate,
            json!({"channel": 20, "pan_id": "0x1234", "delay": 30}),
        )
        .unwrap();
        assert_eq!(
            m,
            Request::NetworkMigrate(Migrate {
                channel: Some(20),
                pan_id: Some(0x1234),
                delay: 30
            })
        );
        assert_eq!(parse(Method::NetworkMigrate, m.params()).unwrap(), m);
        assert_eq!(
            parse(Method::NetworkMigrate, json!({"pan_id": 4660})).unwrap(),
            Request::NetworkMigrate(Migrate {
                channel: None,
                pan_id: Some(0x1234),
                delay: DEFAULT_DELAY_S
            })
        );
        let i = parse(
            Method::DatasetImport,
            json!({"tlvs": "0e08000000000001abcd"}),
        )
        .unwrap();
        assert!(!format!("{i:?}").contains("abcd"));
        assert!(i.is_privileged());
        assert_eq!(parse(Method::DatasetImport, i.params()).unwrap(), i);
        assert!(!parse(Method::NetworkRotateKey, json!({}))
            .unwrap()
            .is_privileged());
        assert!(!Request::NetworkPending.is_privileged());
    }

    #[test]
    fn lifecycle_garbage_is_invalid_params() {
        for (m, p) in [
            (Method::NetworkRotateKey, json!({"delay": 29})),
            (Method::NetworkRotateKey, json!({"delay": 0})),
            (Method::NetworkRotateKey, json!({"delay": -5})),
            (Method::NetworkRotateKey, json!({"delay": 1.5})),
            (Method::NetworkRotateKey, json!({"delay": "30"})),
            (Method::NetworkRotateKey, json!({"delay": 259_201})),
            (Method::NetworkRotateKey, json!({"delay": u64::MAX})),
            (Method::NetworkRotateKey, json!({"pskc": "yes"})),
            (Method::NetworkMigrate, json!({})),
            (Method::NetworkMigrate, json!({"channel": 27})),
            (Method::NetworkMigrate, json!({"channel": 10})),
            (Method::NetworkMigrate, json!({"channel": "20"})),
            (Method::NetworkMigrate, json!({"pan_id": "0xffff"})),
            (Method::NetworkMigrate, json!({"pan_id": 65535})),
            (Method::NetworkMigrate, json!({"pan_id": "0x12345"})),
            (Method::NetworkMigrate, json!({"pan_id": "0x"})),
            (Method::NetworkMigrate, json!({"pan_id": "zz"})),
            (Method::NetworkMigrate, json!({"pan_id": true})),
            (Method::NetworkMigrate, json!({"channel": 20, "delay": 10})),
            (Method::DatasetImport, json!({})),
            (Method::DatasetImport, json!({"tlvs": ""})),
            (Method::DatasetImport, json!({"tlvs": "0e0"})),
            (Method::DatasetImport, json!({"tlvs": "zz"})),
            (Method::DatasetImport, json!({"tlvs": 5})),
            (Method::DatasetImport, json!({"tlvs": "00", "replace": 1})),
        ] {
            let e = parse(m, p.clone()).unwrap_err();
            assert_eq!(e.code, Code::InvalidParams, "{m} {p}");
        }
        let e = parse(Method::NetworkMigrate, json!({"pan_id": "0xffff"})).unwrap_err();
        assert!(e.message.contains("broadcast"), "{}", e.message);
        let e = parse(Method::NetworkRotateKey, json!({"delay": 10})).unwrap_err();
        assert!(e.message.contains("minimum of 30 s"), "{}", e.message);
        assert_eq!(parse_pan_id("0X00ab"), Ok(0xab));
        assert_eq!(parse_pan_id("65534"), Ok(0xfffe));
    }

    #[test]
    fn lifecycle_replies_serialize() {
        let p = PendingChange {
            kind: "network-migration".into(),
            changes: vec!["channel".into()],
            channel: Some(20),
            pan_id: None,
            active_timestamp: Some(2),
            pending_timestamp: Some(2),
            remaining_ms: Some(29_000),
        };
        let v = serde_json::to_value(Pending {
            pending: Some(p.clone()),
        })
        .unwrap();
        assert_eq!(v["pending"]["channel"], 20);
        assert!(v["pending"].get("pan_id").is_none());
        assert_eq!(
            serde_json::from_value::<Pending>(json!({"pending": null})).unwrap(),
            Pending { pending: None }
        );
        let back: Pending = serde_json::from_value(v).unwrap();
        assert_eq!(back.pending, Some(p));
    }
}
