//! `devices.json`: the inventory on disk, one JSON document rewritten whole on every change with
//! [`crate::state::write_atomic`] (temporary file, fsync, rename, directory fsync; mode 0600).
//!
//! Why one rewritten file: the inventory is small (one record per onboarded device, hundreds at
//! most, a few hundred bytes each), it changes at human or join pace, and a rename is atomic: a
//! `kill -9` or power loss at any moment leaves either the old file or the new one, never a torn
//! one (a torn temporary file is ignored: it has another name). No database, no journal to replay.
//!
//! A file that does not parse is logged, renamed to `devices.json.corrupt` (replacing an older
//! one) and the inventory starts empty: the agent never fails to start over it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use control::devices::{Device, DeviceId, STATE_UNKNOWN};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The file name in the state directory.
pub(crate) const FILE: &str = "devices.json";
/// Where a file that does not parse is moved.
pub(crate) const CORRUPT: &str = "devices.json.corrupt";
/// The document's `version`.
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Document {
    version: u32,
    devices: Vec<Device>,
}

/// The records, keyed by Joiner ID, and the file they are saved to.
#[derive(Debug)]
pub(crate) struct Store {
    path: PathBuf,
    pub(crate) devices: BTreeMap<String, Device>,
}

/// What a joiner's `joiner-entrusted` event says about it (public fields only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Onboarding {
    pub(crate) joiner_id: String,
    pub(crate) eui64: Option<String>,
    pub(crate) entry: String,
    pub(crate) vendor_name: Option<String>,
    pub(crate) vendor_model: Option<String>,
    pub(crate) vendor_sw_version: Option<String>,
    pub(crate) vendor_stack_version: Option<String>,
    pub(crate) label: Option<String>,
    pub(crate) signer: Option<String>,
}

impl Onboarding {
    /// From an event's fields (`joiner_id` required).
    pub(crate) fn from_event(v: &Value) -> Option<Onboarding> {
        let f = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Some(Onboarding {
            joiner_id: f("joiner_id")?.to_ascii_lowercase(),
            eui64: f("eui64").map(|e| e.to_ascii_lowercase()),
            entry: f("entry").unwrap_or_default(),
            vendor_name: f("vendor_name"),
            vendor_model: f("vendor_model"),
            vendor_sw_version: f("vendor_sw_version"),
            vendor_stack_version: f("vendor_stack_version"),
            label: f("label"),
            signer: f("signer"),
        })
    }
}

impl Store {
    /// Reads `dir/devices.json`; missing: empty; unreadable or corrupt: logged, moved aside, empty.
    pub(crate) fn load(dir: &Path) -> Store {
        let path = dir.join(FILE);
        let devices = match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<Document>(&bytes) {
                Ok(doc) => doc
                    .devices
                    .into_iter()
                    .map(|d| (d.joiner_id.clone(), d))
                    .collect(),
                Err(e) => {
                    let aside = dir.join(CORRUPT);
                    let moved = std::fs::rename(&path, &aside);
                    tracing::error!(
                        path = %path.display(),
                        error = %e,
                        moved_to = %aside.display(),
                        moved = moved.is_ok(),
                        "the device inventory does not parse; moved aside, starting with an empty inventory"
                    );
                    BTreeMap::new()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "cannot read the device inventory; starting with an empty one");
                BTreeMap::new()
            }
        };
        Store { path, devices }
    }

    /// The file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the whole inventory (atomically); a failure is logged.
    pub(crate) fn save(&self) {
        let doc = Document {
            version: VERSION,
            devices: self.devices.values().cloned().collect(),
        };
        let mut text = serde_json::to_vec_pretty(&doc).expect("records always serialize");
        text.push(b'\n');
        if let Err(e) = crate::state::write_atomic(&self.path, &text, 0o600) {
            tracing::error!(path = %self.path.display(), error = %e, "cannot write the device inventory");
        }
    }

    /// Records an onboarding at `now` (RFC 3339) with the active timestamp it received; a
    /// device seen before (same Joiner ID, so same EUI-64) counts one more onboarding. Returns
    /// the record. Does not save.
    pub(crate) fn onboarded(
        &mut self,
        o: &Onboarding,
        active_timestamp: Option<u64>,
        now: &str,
    ) -> &Device {
        let d = self
            .devices
            .entry(o.joiner_id.clone())
            .or_insert_with(|| Device {
                joiner_id: o.joiner_id.clone(),
                first_onboarded: now.to_string(),
                state: STATE_UNKNOWN.into(),
                ..Device::default()
            });
        d.onboardings += 1;
        d.last_onboarded = now.to_string();
        d.entry = o.entry.clone();
        if o.eui64.is_some() {
            d.eui64 = o.eui64.clone();
        }
        let keep = |old: &mut Option<String>, new: &Option<String>| {
            if new.is_some() {
                *old = new.clone();
            }
        };
        keep(&mut d.vendor_name, &o.vendor_name);
        keep(&mut d.vendor_model, &o.vendor_model);
        keep(&mut d.vendor_sw_version, &o.vendor_sw_version);
        keep(&mut d.vendor_stack_version, &o.vendor_stack_version);
        // The entry's origin belongs to this admission: a plain `joiner add` has none.
        d.label = o.label.clone();
        d.signer = o.signer.clone();
        d.active_timestamp = active_timestamp;
        d
    }

    /// The Joiner ID of the record whose EUI-64 or Joiner ID is `id`.
    pub(crate) fn find(&self, id: DeviceId) -> Option<String> {
        let hex = id.hex();
        if self.devices.contains_key(&hex) {
            return Some(hex);
        }
        self.devices
            .values()
            .find(|d| d.eui64.as_deref() == Some(hex.as_str()))
            .map(|d| d.joiner_id.clone())
    }
}
