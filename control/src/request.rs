//! The methods and their typed parameters.
//!
//! Parameters (see docs/control-protocol.md): `joiner.add` takes exactly one of `eui64` (16 hex
//! digits), `discerner` (`HEX/BITS`) or `any: true`, plus `pskd` (validated by
//! `meshcop::credentials::Pskd`) and an optional `timeout` (seconds, 1..86400).
//! `joiner.remove` takes the same selector; `debug.reset_ncp` an optional `on` (an event type).
//! `joiner.import` takes `file` (a bootstrapping file's text, at most
//! [`crate::bootstrap::MAX_BYTES`]), optional `signature` and `verify_key` (minisign) and
//! `timeout`; the agent parses and verifies the file itself ([`crate::bootstrap`]).
//! `device.show` and `device.forget` take `id` ([`crate::devices`]).
//!
//! Guarantees: the PSKd is moved into a `Pskd` at once and never shows in `Debug` or an error
//! message (a bad PSKd's error names the rule and position, not the value); the request line
//! [`Request::line`] builds is zeroed on drop, and so is the JSON tree it was built from.
//!
//! Privilege ([`Request::is_privileged`]): root or the agent's own uid only for what reveals
//! network credentials or disturbs the co-processor, and for a `joiner.add` whose entry admits
//! devices nobody has named (`any`, `discerner`): such a device receives the network key, so that
//! entry is as good as the key itself (docs/control-protocol.md, "Who may call what").

use meshcop::commissioner::JoinerKind;
use meshcop::credentials::{Discerner, Pskd};
use serde_json::{json, Map, Value};
use zeroize::Zeroizing;

use crate::devices::{self, DeviceId};
use crate::error::{Code, MethodError};
use crate::lifecycle::{self, DatasetImport, Migrate, RotateKey};

names! {
    /// A method name. `Debug*` methods are test-only (the agent serves them only when asked to).
    pub enum Method {
        Status => "status",
        DatasetExport => "dataset.export",
        JoinerAdd => "joiner.add",
        JoinerList => "joiner.list",
        JoinerRemove => "joiner.remove",
        JoinerImport => "joiner.import",
        CommissionerStatus => "commissioner.status",
        CommissionerStart => "commissioner.start",
        CommissionerStop => "commissioner.stop",
        EventsSubscribe => "events.subscribe",
        NetworkEnergyScan => "network.energy_scan",
        NetworkRotateKey => "network.rotate_key",
        NetworkMigrate => "network.migrate",
        NetworkPending => "network.pending",
        NetworkCounters => "network.counters",
        DatasetImport => "dataset.import",
        DeviceList => "device.list",
        DeviceShow => "device.show",
        DeviceForget => "device.forget",
        DebugResetNcp => "debug.reset_ncp",
        DebugDiagQuery => "debug.diag_query",
    }
}

impl Method {
    /// Test-only: served only when the agent enables its debug methods.
    pub fn is_debug(self) -> bool {
        matches!(self, Method::DebugResetNcp | Method::DebugDiagQuery)
    }

    /// Reveals secrets or disturbs the co-processor: root or the agent's own uid only, whatever
    /// the parameters (see also [`Request::is_privileged`]).
    pub fn is_privileged(self) -> bool {
        match self {
            Method::DatasetExport | Method::DatasetImport | Method::DebugResetNcp => true,
            Method::Status
            | Method::JoinerAdd
            | Method::JoinerList
            | Method::JoinerRemove
            // Every entry of an imported file names its EUI-64 (like `joiner.add --eui64`).
            | Method::JoinerImport
            | Method::CommissionerStatus
            | Method::CommissionerStart
            | Method::CommissionerStop
            | Method::EventsSubscribe
            | Method::NetworkEnergyScan
            | Method::NetworkRotateKey
            | Method::NetworkMigrate
            | Method::NetworkPending
            // Counts of frames and messages: nothing secret.
            | Method::NetworkCounters
            // A network diagnostic query: reads what every node tells anyone on the mesh.
            | Method::DebugDiagQuery
            // The inventory holds public data; forgetting a record admits nothing.
            | Method::DeviceList
            | Method::DeviceShow
            | Method::DeviceForget => false,
        }
    }
}

/// `joiner.add` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinerAdd {
    pub selector: JoinerKind,
    /// Redacted in `Debug`.
    pub pskd: Pskd,
    /// Entry lifetime in seconds (the agent accepts 1..86400); `None`: the agent's default.
    pub timeout: Option<u64>,
}

/// `joiner.import` parameters: a bootstrapping file ([`crate::bootstrap`]), parsed and verified
/// by the agent.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinerImport {
    /// The file text (holds PSKds: zeroed on drop, never in `Debug`).
    pub file: Zeroizing<String>,
    /// The minisign signature (`.minisig` text), if the file is signed.
    pub signature: Option<String>,
    /// The public key to verify it with (the base64 line minisign prints, or the `.pub` text).
    pub verify_key: Option<String>,
    /// Lifetime of every entry in seconds (1..86400); `None`: the agent's default.
    pub timeout: Option<u64>,
}

impl std::fmt::Debug for JoinerImport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinerImport")
            .field(
                "file",
                &format_args!("<{} bytes, redacted>", self.file.len()),
            )
            .field("signature", &self.signature.is_some())
            .field("verify_key", &self.verify_key)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// `debug.reset_ncp` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetNcp {
    /// Arm a one-shot reset after the next event of this type instead of resetting now.
    pub on: Option<String>,
}

/// The IEEE 802.15.4 2.4 GHz channels Thread uses; `network.energy_scan` scans only these.
pub const THREAD_CHANNELS: std::ops::RangeInclusive<u8> = 11..=26;

/// `network.energy_scan` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnergyScan {
    /// Ascending, no duplicates, each in [`THREAD_CHANNELS`], at least one.
    pub channels: Vec<u8>,
}

impl Default for EnergyScan {
    fn default() -> EnergyScan {
        EnergyScan {
            channels: THREAD_CHANNELS.collect(),
        }
    }
}

/// A request: one variant per method, with its typed parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Status,
    DatasetExport,
    JoinerAdd(JoinerAdd),
    JoinerList,
    JoinerRemove(JoinerKind),
    JoinerImport(JoinerImport),
    CommissionerStatus,
    CommissionerStart,
    CommissionerStop,
    EventsSubscribe,
    NetworkEnergyScan(EnergyScan),
    NetworkRotateKey(RotateKey),
    NetworkMigrate(Migrate),
    NetworkPending,
    /// `network.counters`: the co-processor's and the host link's counters.
    NetworkCounters,
    DatasetImport(DatasetImport),
    DeviceList,
    DeviceShow(DeviceId),
    DeviceForget(DeviceId),
    DebugResetNcp(ResetNcp),
    /// `debug.diag_query`: a network diagnostic query; `wait` seconds (1..60) to collect answers.
    DebugDiagQuery {
        wait: Option<u64>,
    },
}

fn bad(msg: impl Into<String>) -> MethodError {
    MethodError::new(Code::InvalidParams, msg)
}

impl Request {
    /// The method of this request.
    pub fn method(&self) -> Method {
        match self {
            Request::Status => Method::Status,
            Request::DatasetExport => Method::DatasetExport,
            Request::JoinerAdd(_) => Method::JoinerAdd,
            Request::JoinerList => Method::JoinerList,
            Request::JoinerRemove(_) => Method::JoinerRemove,
            Request::JoinerImport(_) => Method::JoinerImport,
            Request::CommissionerStatus => Method::CommissionerStatus,
            Request::CommissionerStart => Method::CommissionerStart,
            Request::CommissionerStop => Method::CommissionerStop,
            Request::EventsSubscribe => Method::EventsSubscribe,
            Request::NetworkEnergyScan(_) => Method::NetworkEnergyScan,
            Request::NetworkRotateKey(_) => Method::NetworkRotateKey,
            Request::NetworkMigrate(_) => Method::NetworkMigrate,
            Request::NetworkPending => Method::NetworkPending,
            Request::NetworkCounters => Method::NetworkCounters,
            Request::DatasetImport(_) => Method::DatasetImport,
            Request::DeviceList => Method::DeviceList,
            Request::DeviceShow(_) => Method::DeviceShow,
            Request::DeviceForget(_) => Method::DeviceForget,
            Request::DebugResetNcp(_) => Method::DebugResetNcp,
            Request::DebugDiagQuery { .. } => Method::DebugDiagQuery,
        }
    }

    /// Root or the agent's own uid only: a privileged method, or a `joiner.add` with `any` or a
    /// `discerner` (the entry admits devices nobody named, and each receives the network key).
    /// A `joiner.add` for one EUI-64 stays open to the socket's group.
    pub fn is_privileged(&self) -> bool {
        self.method().is_privileged()
            || matches!(self, Request::JoinerAdd(a) if !matches!(a.selector, JoinerKind::Eui64(_)))
    }

    /// Reads the parameters of `method` (`params` is the envelope's object);
    /// errors are `invalid_params`.
    pub fn parse(method: Method, params: &Value) -> Result<Request, MethodError> {
        Ok(match method {
            Method::Status => Request::Status,
            Method::DatasetExport => Request::DatasetExport,
            Method::JoinerAdd => Request::JoinerAdd(add_params(params)?),
            Method::JoinerList => Request::JoinerList,
            Method::JoinerRemove => Request::JoinerRemove(selector(params)?),
            Method::JoinerImport => Request::JoinerImport(import_params(params)?),
            Method::CommissionerStatus => Request::CommissionerStatus,
            Method::CommissionerStart => Request::CommissionerStart,
            Method::CommissionerStop => Request::CommissionerStop,
            Method::EventsSubscribe => Request::EventsSubscribe,
            Method::NetworkEnergyScan => Request::NetworkEnergyScan(scan_params(params)?),
            Method::NetworkRotateKey => {
                Request::NetworkRotateKey(lifecycle::rotate_params(params)?)
            }
            Method::NetworkMigrate => Request::NetworkMigrate(lifecycle::migrate_params(params)?),
            Method::NetworkPending => Request::NetworkPending,
            Method::NetworkCounters => Request::NetworkCounters,
            Method::DatasetImport => Request::DatasetImport(lifecycle::import_params(params)?),
            Method::DeviceList => Request::DeviceList,
            Method::DeviceShow => Request::DeviceShow(devices::device_id(params)?),
            Method::DeviceForget => Request::DeviceForget(devices::device_id(params)?),
            Method::DebugResetNcp => Request::DebugResetNcp(ResetNcp {
                on: match params.get("on") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(on)) => Some(on.clone()),
                    Some(_) => {
                        return Err(bad(
                            "`on` must be an event type, e.g. \"joiner-authenticated\"",
                        ))
                    }
                },
            }),
            Method::DebugDiagQuery => Request::DebugDiagQuery {
                wait: match params.get("wait") {
                    None | Some(Value::Null) => None,
                    Some(v) => match v.as_u64() {
                        Some(s) if (1..=60).contains(&s) => Some(s),
                        _ => return Err(bad("`wait` must be whole seconds 1..60")),
                    },
                },
            },
        })
    }

    /// The `params` object (the PSKd in clear: this is what goes on the wire; [`crate::wipe`]
    /// it when done).
    pub fn params(&self) -> Value {
        let mut m = Map::new();
        match self {
            Request::Status
            | Request::DatasetExport
            | Request::JoinerList
            | Request::CommissionerStatus
            | Request::CommissionerStart
            | Request::CommissionerStop
            | Request::EventsSubscribe
            | Request::NetworkPending
            | Request::NetworkCounters
            | Request::DeviceList => {}
            Request::DeviceShow(id) | Request::DeviceForget(id) => {
                m.insert("id".into(), json!(id.hex()));
            }
            Request::NetworkRotateKey(r) => lifecycle::rotate_to_params(r, &mut m),
            Request::NetworkMigrate(r) => lifecycle::migrate_to_params(r, &mut m),
            Request::DatasetImport(r) => lifecycle::import_to_params(r, &mut m),
            Request::JoinerAdd(a) => {
                insert_selector(&a.selector, &mut m);
                if let Some(t) = a.timeout {
                    m.insert("timeout".into(), json!(t));
                }
                m.insert("pskd".into(), json!(a.pskd.as_str()));
            }
            Request::JoinerRemove(k) => insert_selector(k, &mut m),
            Request::JoinerImport(i) => {
                m.insert("file".into(), json!(i.file.as_str()));
                if let Some(s) = &i.signature {
                    m.insert("signature".into(), json!(s));
                }
                if let Some(k) = &i.verify_key {
                    m.insert("verify_key".into(), json!(k));
                }
                if let Some(t) = i.timeout {
                    m.insert("timeout".into(), json!(t));
                }
            }
            Request::NetworkEnergyScan(e) => {
                m.insert("channels".into(), json!(e.channels));
            }
            Request::DebugResetNcp(r) => {
                if let Some(on) = &r.on {
                    m.insert("on".into(), json!(on));
                }
            }
            Request::DebugDiagQuery { wait } => {
                if let Some(w) = wait {
                    m.insert("wait".into(), json!(w));
                }
            }
        }
        Value::Object(m)
    }

    /// The request line `{"id":ID,"method":...,"params":{...}}` with its newline, zeroed on drop
    /// (it may hold a PSKd or a whole bootstrapping file; so does the JSON tree it is built
    /// from, which is wiped here).
    pub fn line(&self, id: u64) -> Zeroizing<String> {
        let mut v = json!({"id": id, "method": self.method().as_str(), "params": self.params()});
        // One allocation big enough for the whole line (1024 for the envelope and the short
        // parameters, plus the escaped length of every string), so no reallocation leaves a
        // copy of a secret behind.
        let mut out = Zeroizing::new(Vec::with_capacity(1024 + strings_json_len(&v)));
        let written = serde_json::to_writer(&mut *out, &v);
        crate::envelope::wipe(&mut v);
        written.expect("a JSON value always serializes");
        out.push(b'\n');
        let text = String::from_utf8(std::mem::take(&mut *out)).expect("serde_json writes UTF-8");
        Zeroizing::new(text)
    }
}

/// The JSON-escaped length of every string in `v` (what `serde_json` writes between the quotes).
fn strings_json_len(v: &Value) -> usize {
    match v {
        Value::String(s) => s
            .chars()
            .map(|c| match c {
                '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
                c if (c as u32) < 0x20 => 6,
                c => c.len_utf8(),
            })
            .sum(),
        Value::Array(a) => a.iter().map(strings_json_len).sum(),
        Value::Object(m) => m.iter().map(|(k, v)| k.len() + strings_json_len(v)).sum(),
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
    }
}

#[cfg(test)]
pub(crate) fn tests_json_len(v: &Value) -> usize {
    strings_json_len(v)
}

fn insert_selector(kind: &JoinerKind, m: &mut Map<String, Value>) {
    match kind {
        JoinerKind::Eui64(e) => m.insert("eui64".into(), json!(hex::encode(e))),
        JoinerKind::Discerner(d) => m.insert(
            "discerner".into(),
            json!(format!("{:x}/{}", d.value(), d.bits())),
        ),
        JoinerKind::Any => m.insert("any".into(), json!(true)),
    };
}

/// Reads the joiner selector (`eui64` | `discerner` | `any`).
pub(crate) fn selector(params: &Value) -> Result<JoinerKind, MethodError> {
    let eui = params.get("eui64").filter(|v| !v.is_null());
    let disc = params.get("discerner").filter(|v| !v.is_null());
    let any = params.get("any").filter(|v| !v.is_null());
    let n = [
        eui.is_some(),
        disc.is_some(),
        any.is_some_and(|a| a != &json!(false)),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if n != 1 {
        return Err(bad(
            "give exactly one of `eui64` (16 hex digits), `discerner` (\"HEX/BITS\") or `any` (true)",
        ));
    }
    if let Some(e) = eui {
        let s = e
            .as_str()
            .ok_or_else(|| bad("`eui64` must be a string of 16 hex digits"))?;
        let s = s.trim().replace([':', '-'], "");
        let b = hex::decode(&s)
            .ok()
            .filter(|b| b.len() == 8)
            .ok_or_else(|| bad(format!("`eui64` {s:?} is not 16 hex digits (8 bytes)")))?;
        let mut a = [0u8; 8];
        a.copy_from_slice(&b);
        return Ok(JoinerKind::Eui64(a));
    }
    if let Some(d) = disc {
        let s = d
            .as_str()
            .ok_or_else(|| bad("`discerner` must be a string \"HEX/BITS\""))?;
        let d: Discerner = s.parse().map_err(|e| bad(format!("`discerner`: {e}")))?;
        return Ok(JoinerKind::Discerner(d));
    }
    match any {
        Some(Value::Bool(true)) => Ok(JoinerKind::Any),
        _ => Err(bad("`any` must be true")),
    }
}

/// Reads the selector, `pskd` (never echoed) and `timeout`.
pub(crate) fn add_params(params: &Value) -> Result<JoinerAdd, MethodError> {
    let selector = selector(params)?;
    let pskd = match params.get("pskd") {
        Some(Value::String(s)) => {
            Pskd::new(s).map_err(|e| bad(format!("`pskd` is not a valid PSKd: {e}")))?
        }
        Some(_) => return Err(bad("`pskd` must be a string")),
        None => {
            return Err(bad(
                "missing `pskd` (the joiner's PSKd, 6..32 of 0-9 A-Y without I O Q)",
            ))
        }
    };
    let timeout = timeout_param(params)?;
    Ok(JoinerAdd {
        selector,
        pskd,
        timeout,
    })
}

/// An optional string parameter of at most `max` bytes.
fn opt_text(params: &Value, key: &str, max: usize) -> Result<Option<String>, MethodError> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= max => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(bad(format!("`{key}` is longer than {max} bytes"))),
        Some(_) => Err(bad(format!("`{key}` must be a string"))),
    }
}

/// Reads `joiner.import`'s `file` (never echoed), `signature`, `verify_key` and `timeout`; the
/// file itself is parsed and verified by the agent ([`crate::bootstrap`]).
pub(crate) fn import_params(params: &Value) -> Result<JoinerImport, MethodError> {
    use crate::bootstrap::{MAX_BYTES, MAX_SIGNATURE_BYTES};
    let file = match params.get("file") {
        Some(Value::String(s)) if s.len() <= MAX_BYTES => Zeroizing::new(s.clone()),
        Some(Value::String(_)) => {
            return Err(bad(format!(
                "`file` is longer than {MAX_BYTES} bytes: split it"
            )))
        }
        Some(_) => {
            return Err(bad(
                "`file` must be a string (the bootstrapping file's text)",
            ))
        }
        None => return Err(bad("missing `file` (the bootstrapping file's text)")),
    };
    let signature = opt_text(params, "signature", MAX_SIGNATURE_BYTES)?;
    let verify_key = opt_text(params, "verify_key", MAX_SIGNATURE_BYTES)?;
    if signature.is_some() && verify_key.is_none() {
        return Err(bad("a `signature` needs the `verify_key` to check it with"));
    }
    Ok(JoinerImport {
        file,
        signature,
        verify_key,
        timeout: timeout_param(params)?,
    })
}

fn timeout_param(params: &Value) -> Result<Option<u64>, MethodError> {
    match params.get("timeout") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(s) if (1..=86_400).contains(&s) => Ok(Some(s)),
            _ => Err(bad("`timeout` must be whole seconds 1..86400")),
        },
    }
}

/// Reads `network.energy_scan`'s `channels`: absent or null for all of 11..26, an array of
/// channel numbers, or a string of numbers and ranges (`"11,15,20-21"`).
pub(crate) fn scan_params(params: &Value) -> Result<EnergyScan, MethodError> {
    let channels =
        match params.get("channels") {
            None | Some(Value::Null) => return Ok(EnergyScan::default()),
            Some(Value::String(s)) => parse_channels(s).map_err(bad)?,
            Some(Value::Array(a)) => {
                let mut out = Vec::with_capacity(a.len());
                for v in a {
                    match v.as_u64() {
                        Some(c) => out.push(channel(c)?),
                        None => {
                            return Err(bad(format!(
                                "`channels`: {v} is not a channel number (11..26)"
                            )))
                        }
                    }
                }
                normalized(out).map_err(bad)?
            }
            Some(_) => return Err(bad(
                "`channels` must be an array of channel numbers or a string like \"11,15,20-21\"",
            )),
        };
    Ok(EnergyScan { channels })
}

fn channel(c: u64) -> Result<u8, MethodError> {
    u8::try_from(c)
        .ok()
        .filter(|c| THREAD_CHANNELS.contains(c))
        .ok_or_else(|| bad(format!("channel {c} is not a Thread channel (11..26)")))
}

fn normalized(mut channels: Vec<u8>) -> Result<Vec<u8>, String> {
    channels.sort_unstable();
    channels.dedup();
    if channels.is_empty() {
        return Err("no channel given (Thread channels are 11..26)".into());
    }
    Ok(channels)
}

/// Parses a channel list such as `11-26` or `11,15,20-21` (the form of `threadctl network
/// energy-scan --channels`): ascending, without duplicates, each in 11..26. The error names the
/// offending part.
pub fn parse_channels(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let number = |s: &str| -> Result<u8, String> {
        let s = s.trim();
        s.parse::<u8>()
            .ok()
            .filter(|c| THREAD_CHANNELS.contains(c))
            .ok_or_else(|| format!("channel {s:?} is not a Thread channel (11..26)"))
    };
    for part in text.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (number(a)?, number(b)?);
                if a > b {
                    return Err(format!("channel range {:?} is backwards", part.trim()));
                }
                out.extend(a..=b);
            }
            None => out.push(number(part)?),
        }
    }
    normalized(out)
}

#[cfg(test)]
mod scan_tests {
    use super::*;

    fn scan(params: Value) -> Result<Vec<u8>, MethodError> {
        match Request::parse(Method::NetworkEnergyScan, &params)? {
            Request::NetworkEnergyScan(e) => Ok(e.channels),
            _ => unreachable!(),
        }
    }

    #[test]
    fn energy_scan_channels_parse() {
        assert_eq!(scan(json!({})).unwrap(), (11..=26).collect::<Vec<u8>>());
        assert_eq!(scan(json!({"channels": null})).unwrap().len(), 16);
        assert_eq!(
            scan(json!({"channels": [20, 11, 20, 15]})).unwrap(),
            [11, 15, 20]
        );
        assert_eq!(
            scan(json!({"channels": "11,15,20-21"})).unwrap(),
            [11, 15, 20, 21]
        );
        assert_eq!(parse_channels(" 26 ").unwrap(), [26]);
        let r = Request::NetworkEnergyScan(EnergyScan {
            channels: vec![11, 15],
        });
        assert_eq!(r.params(), json!({"channels": [11, 15]}));
        assert!(!r.is_privileged());
    }

    #[test]
    fn energy_scan_garbage_is_invalid_params() {
        for bad in [
            json!({"channels": [27]}),
            json!({"channels": [10]}),
            json!({"channels": [-1]}),
            json!({"channels": [11.5]}),
            json!({"channels": [300]}),
            json!({"channels": []}),
            json!({"channels": ["11"]}),
            json!({"channels": "27"}),
            json!({"channels": "11-27"}),
            json!({"channels": "20-11"}),
            json!({"channels": ""}),
            json!({"channels": "11,,12"}),
            json!({"channels": "x"}),
            json!({"channels": "\u{0}\u{ffff}-"}),
            json!({"channels": 11}),
            json!({"channels": {"a": 1}}),
            json!({"channels": true}),
        ] {
            let e = scan(bad.clone()).unwrap_err();
            assert_eq!(e.code, "invalid_params", "{bad}");
            assert!(!e.message.is_empty());
        }
        let e = scan(json!({"channels": [27]})).unwrap_err();
        assert!(e.message.contains("27"), "{}", e.message);
    }
}
