//! Typed replies of the small methods (the larger `status`, `joiner.add`, `joiner.list` and
//! `commissioner.status` objects stay JSON: their fields are documented and only ever grow).
//! Each serializes to exactly the object of the protocol document.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `dataset.export`: the active dataset as lowercase hex TLVs. Contains the network key; never
/// printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetExport {
    pub tlvs: String,
}

impl std::fmt::Debug for DatasetExport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatasetExport { tlvs: <redacted> }")
    }
}

/// `events.subscribe`: `{"subscribed": true}`, then the event lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscribed {
    pub subscribed: bool,
}

/// `joiner.remove`: the removed entry's canonical name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    pub removed: String,
}

/// `commissioner.stop`: `resigning` or `idle`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stopped {
    pub state: String,
}

/// `debug.reset_ncp` without `on`: `{"reset": true}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reset {
    pub reset: bool,
}

/// `debug.reset_ncp` with `on`: the event type that will trigger the reset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Armed {
    pub armed: String,
}

/// `network.energy_scan`: the highest energy seen on each requested channel, in channel order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnergyScan {
    pub channels: Vec<ChannelEnergy>,
}

/// One channel of an [`EnergyScan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelEnergy {
    pub channel: u8,
    /// dBm, as the co-processor's radio measured it (127: the radio gave no reading).
    pub max_rssi: i8,
}

/// A typed reply as the `result` value.
pub fn to_result(reply: &impl Serialize) -> Value {
    serde_json::to_value(reply).expect("a reply serializes")
}
