//! The device inventory's methods: `device.list`, `device.show`, `device.forget`, their
//! parameters and the record both sides share ([`Device`], also the agent's `devices.json` entry).
//!
//! Parameters: `device.show` and `device.forget` take `id`, a device's EUI-64 or Joiner ID (both
//! 16 hex digits; `:` and `-` separators are accepted), [`device_id`]. Errors are `invalid_params`.
//!
//! Guarantees: a record holds public data only (identities, vendor strings, timestamps, mesh
//! addresses); never a PSKd or key.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Code, MethodError};

/// `attached`: found on the mesh by its EUI-64 by the last presence query; `absent`: not found by
/// the last two; `unknown`: no presence answer yet.
pub const STATE_ATTACHED: &str = "attached";
/// See [`STATE_ATTACHED`].
pub const STATE_ABSENT: &str = "absent";
/// See [`STATE_ATTACHED`].
pub const STATE_UNKNOWN: &str = "unknown";

/// `credentials`: the device got the current active dataset, or is on the mesh now.
pub const CREDENTIALS_CURRENT: &str = "current";
/// `credentials`: absent, and its dataset is older than the current active one (it missed a key
/// rotation or a migration): re-admit it.
pub const CREDENTIALS_STALE: &str = "stale";
/// `credentials`: not known (no presence answer yet, or a timestamp is missing).
pub const CREDENTIALS_UNKNOWN: &str = "unknown";

/// One onboarded device (the `device.list` / `device.show` record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Device {
    /// 16 hex digits (SHA-256 of the EUI-64, first 8 bytes, bit 0x02 of byte 0 set).
    pub joiner_id: String,
    /// 16 hex digits: from the entry it matched (EUI-64 entries) or from the mesh (presence).
    pub eui64: Option<String>,
    pub vendor_name: Option<String>,
    pub vendor_model: Option<String>,
    pub vendor_sw_version: Option<String>,
    pub vendor_stack_version: Option<String>,
    /// The joiner entry it matched: `eui64:<hex>`, `discerner:0x<hex>/<bits>` or `any`.
    pub entry: String,
    /// The bootstrapping file's label (entries of `joiner.import`).
    pub label: Option<String>,
    /// The minisign key id that signed that file.
    pub signer: Option<String>,
    /// RFC 3339 UTC.
    pub first_onboarded: String,
    /// RFC 3339 UTC.
    pub last_onboarded: String,
    pub onboardings: u64,
    /// Seconds of the active dataset's Active Timestamp when it was entrusted (the dataset it
    /// received).
    pub active_timestamp: Option<u64>,
    /// [`STATE_ATTACHED`], [`STATE_ABSENT`] or [`STATE_UNKNOWN`].
    pub state: String,
    /// 16 hex digits (random per network, learned from the mesh).
    pub ext_address: Option<String>,
    /// `0x....`.
    pub rloc16: Option<String>,
    /// `router` (RLOC16 child id 0) or `child`, from the last presence answer.
    pub role: Option<String>,
    /// `ftd` or `mtd` (the MLE Mode's device type bit).
    pub device_type: Option<String>,
    /// RFC 3339 UTC: the last presence answer that found it.
    pub last_seen: Option<String>,
    /// [`CREDENTIALS_CURRENT`], [`CREDENTIALS_STALE`] or [`CREDENTIALS_UNKNOWN`].
    pub credentials: String,
    /// What to do about stale credentials (only then).
    pub remedy: Option<String>,
}

/// `device.list`: `{"devices": [record...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceList {
    pub devices: Vec<Device>,
}

/// `device.forget`: the record removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forgotten {
    pub forgotten: Device,
}

/// The `id` of `device.show` / `device.forget`: an EUI-64 or a Joiner ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeviceId(pub [u8; 8]);

impl DeviceId {
    /// 16 lowercase hex digits.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Reads a 16-hex-digit text (`:`/`-` separators allowed).
    pub fn parse(text: &str) -> Result<DeviceId, String> {
        let s = text.trim().replace([':', '-'], "");
        let mut a = [0u8; 8];
        hex::decode_to_slice(&s, &mut a).map_err(|_| {
            format!(
                "{:?} is not 16 hex digits (an EUI-64 or a Joiner ID)",
                text.trim()
            )
        })?;
        Ok(DeviceId(a))
    }
}

/// Reads `id` (required).
pub(crate) fn device_id(params: &Value) -> Result<DeviceId, MethodError> {
    let bad = |m: String| MethodError::new(Code::InvalidParams, m);
    match params.get("id") {
        Some(Value::String(s)) if s.len() <= 64 => {
            DeviceId::parse(s).map_err(|e| bad(format!("`id`: {e}")))
        }
        Some(Value::String(_)) => Err(bad("`id` is not 16 hex digits (too long)".into())),
        Some(_) => Err(bad("`id` must be a string of 16 hex digits".into())),
        None => Err(bad(
            "missing `id` (the device's EUI-64 or Joiner ID, 16 hex digits)".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Method, Request};
    use serde_json::json;

    #[test]
    fn ids_parse_and_garbage_is_invalid_params() {
        let id = |p: Value| Request::parse(Method::DeviceShow, &p);
        assert_eq!(
            id(json!({"id": "18b4300000000002"})).unwrap(),
            Request::DeviceShow(DeviceId([0x18, 0xb4, 0x30, 0, 0, 0, 0, 2]))
        );
        assert_eq!(
            id(json!({"id": " 18:b4:30:00:00:00:00:02 "})).unwrap(),
            Request::DeviceShow(DeviceId([0x18, 0xb4, 0x30, 0, 0, 0, 0, 2]))
        );
        for bad in [
            json!({}),
            json!({"id": null}),
            json!({"id": 5}),
            json!({"id": ""}),
            json!({"id": "18b43000"}),
            json!({"id": "18b430000000000211"}),
            json!({"id": "zzb4300000000002"}),
            json!({"id": "\u{0}\u{ffff}"}),
            json!({"id": "a".repeat(100)}),
            json!({"id": ["18b4300000000002"]}),
        ] {
            for m in [Method::DeviceShow, Method::DeviceForget] {
                let e = Request::parse(m, &bad).unwrap_err();
                assert_eq!(e.code, "invalid_params", "{bad}");
            }
        }
        let r = Request::DeviceForget(DeviceId([1; 8]));
        assert_eq!(r.params(), json!({"id": "0101010101010101"}));
        assert_eq!(
            Request::parse(Method::DeviceForget, &r.params()).unwrap(),
            r
        );
        assert_eq!(
            Request::parse(Method::DeviceList, &json!({})).unwrap(),
            Request::DeviceList
        );
        assert!(!Method::DeviceForget.is_privileged());
    }

    #[test]
    fn records_round_trip_and_tolerate_missing_fields() {
        let d = Device {
            joiner_id: "1122334455667788".into(),
            eui64: Some("18b4300000000002".into()),
            onboardings: 2,
            state: STATE_ABSENT.into(),
            credentials: CREDENTIALS_STALE.into(),
            ..Device::default()
        };
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["rloc16"], Value::Null);
        assert_eq!(serde_json::from_value::<Device>(v).unwrap(), d);
        let d: Device = serde_json::from_value(json!({"joiner_id": "11"})).unwrap();
        assert_eq!(d.onboardings, 0);
    }
}
