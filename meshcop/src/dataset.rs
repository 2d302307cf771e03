//! Thread operational datasets (active and pending) as MeshCoP TLVs (Thread specification §8.10.1;
//! OpenThread `src/core/meshcop/dataset.cpp`, `meshcop_tlvs.hpp`).
//!
//! [`Dataset::decode`] reads the TLVs OpenThread stores in THREAD_ACTIVE_DATASET_TLVS /
//! THREAD_PENDING_DATASET_TLVS and that `dataset active -x` prints. Each known TLV goes into its typed
//! field when its value has the expected shape; otherwise (unknown type, a channel on a page other
//! than 0, a Thread 1.1 3-byte Security Policy, a channel mask with other pages, a duplicate) the
//! raw TLV is kept in `other`, so nothing is lost. [`Dataset::encode`] writes the TLVs in the order
//! of OpenThread's `Dataset::WriteTlvsFrom` (Active Timestamp, Pending Timestamp, Delay Timer,
//! Channel, Wake-up Channel, Channel Mask, Ext PAN ID, Mesh-Local Prefix, Network Key, Network
//! Name, PAN ID, PSKc, Security Policy), with the remaining `other` TLVs after, in their order.
//!
//! Field encodings:
//! - Active Timestamp (and Pending Timestamp): the 8-byte value as a big-endian u64 (48-bit
//!   seconds, 15-bit ticks, 1 authoritative bit), see [`timestamp`].
//! - Channel: page (u8, must be 0 here) + channel (u16).
//! - Channel Mask: entries of page (u8), mask length (u8), mask. The typed field is the page-0
//!   mask as OpenThread shows it (bit N = channel N, `0x07fff800` for 11..26); on the wire the bits
//!   are reversed in each 32-bit word (OpenThread `ChannelMaskTlv`).
//! - Security Policy: rotation hours (u16) + 2 flag bytes, kept as `(rotation, u16 of the flag
//!   bytes big-endian)`.
//!
//! Guarantees: decode never panics; `Debug` prints neither the network key nor the PSKc.
//! Validated against: an active dataset created by OpenThread's CLI (`dataset init new`,
//! `dataset active -x`) whose fields are checked against `dataset active` and which re-encodes
//! byte for byte (test `openthread_cli_dataset`), and a dataset built here that the OpenThread CLI
//! accepted (`dataset set active`), echoed byte for byte and formed a network with
//! (test `built_dataset_bytes`).

use core::fmt;

use crate::credentials::{NetworkKey, Pskc};
use crate::error::Error;
use crate::tlv::{self, types, Tlv};

/// The Thread operational dataset (active or pending).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Dataset {
    pub active_timestamp: Option<u64>,
    pub channel: Option<u16>,
    pub pan_id: Option<u16>,
    pub ext_pan_id: Option<[u8; 8]>,
    pub network_name: Option<String>,
    pub pskc: Option<Pskc>,
    pub network_key: Option<NetworkKey>,
    pub mesh_local_prefix: Option<[u8; 8]>,
    /// (key rotation time in hours, the two flag bytes as a big-endian u16)
    pub security_policy: Option<(u16, u16)>,
    /// Page-0 channel mask, bit N = channel N (e.g. 0x07fff800 for channels 11..=26).
    pub channel_mask: Option<u32>,
    /// TLVs without a typed field here, preserved and re-emitted (e.g. Pending Timestamp,
    /// Delay Timer, Wake-up Channel).
    pub other: Vec<Tlv>,
}

/// Helpers for the 8-byte Active/Pending Timestamp value.
pub mod timestamp {
    /// Builds a timestamp from seconds (48 bits), ticks (15 bits) and the authoritative flag.
    pub fn new(seconds: u64, ticks: u16, authoritative: bool) -> u64 {
        ((seconds & 0xFFFF_FFFF_FFFF) << 16)
            | (((ticks as u64) & 0x7FFF) << 1)
            | authoritative as u64
    }
    pub fn seconds(ts: u64) -> u64 {
        ts >> 16
    }
    pub fn ticks(ts: u64) -> u16 {
        ((ts >> 1) & 0x7FFF) as u16
    }
    pub fn authoritative(ts: u64) -> bool {
        ts & 1 == 1
    }
}

/// Maximum network name length in bytes (OpenThread `OT_NETWORK_NAME_MAX_SIZE`).
pub const NETWORK_NAME_MAX_LEN: usize = 16;

/// Emission order of OpenThread's `Dataset::WriteTlvsFrom`.
const ORDER: [u8; 13] = [
    types::ACTIVE_TIMESTAMP,
    types::PENDING_TIMESTAMP,
    types::DELAY_TIMER,
    types::CHANNEL,
    types::WAKEUP_CHANNEL,
    types::CHANNEL_MASK,
    types::EXT_PAN_ID,
    types::MESH_LOCAL_PREFIX,
    types::NETWORK_KEY,
    types::NETWORK_NAME,
    types::PAN_ID,
    types::PSKC,
    types::SECURITY_POLICY,
];

impl Dataset {
    /// Decodes dataset TLVs. Truncated TLVs are an error; a known TLV with an unexpected shape is
    /// kept raw in `other`. A network name that is not UTF-8 is an error.
    pub fn decode(tlvs: &[u8]) -> Result<Dataset, Error> {
        let mut ds = Dataset::default();
        for t in tlv::iter(tlvs) {
            let t = t?;
            let v = t.value;
            let typed = match t.typ {
                types::ACTIVE_TIMESTAMP if ds.active_timestamp.is_none() => {
                    t.u64().ok().map(|x| ds.active_timestamp = Some(x))
                }
                types::CHANNEL if ds.channel.is_none() && v.len() == 3 && v[0] == 0 => {
                    ds.channel = Some(u16::from_be_bytes([v[1], v[2]]));
                    Some(())
                }
                types::PAN_ID if ds.pan_id.is_none() => t.u16().ok().map(|x| ds.pan_id = Some(x)),
                types::EXT_PAN_ID if ds.ext_pan_id.is_none() => {
                    t.array8().ok().map(|x| ds.ext_pan_id = Some(x))
                }
                types::NETWORK_NAME if ds.network_name.is_none() => {
                    let name = t.utf8().map_err(|_| Error::InvalidValue {
                        what: "network name",
                        reason: "not valid UTF-8",
                    })?;
                    ds.network_name = Some(name.to_owned());
                    Some(())
                }
                types::PSKC if ds.pskc.is_none() => {
                    Pskc::from_slice(v).ok().map(|x| ds.pskc = Some(x))
                }
                types::NETWORK_KEY if ds.network_key.is_none() => NetworkKey::from_slice(v)
                    .ok()
                    .map(|x| ds.network_key = Some(x)),
                types::MESH_LOCAL_PREFIX if ds.mesh_local_prefix.is_none() => {
                    t.array8().ok().map(|x| ds.mesh_local_prefix = Some(x))
                }
                types::SECURITY_POLICY if ds.security_policy.is_none() && v.len() == 4 => {
                    ds.security_policy = Some((
                        u16::from_be_bytes([v[0], v[1]]),
                        u16::from_be_bytes([v[2], v[3]]),
                    ));
                    Some(())
                }
                types::CHANNEL_MASK
                    if ds.channel_mask.is_none() && v.len() == 6 && v[0] == 0 && v[1] == 4 =>
                {
                    ds.channel_mask =
                        Some(u32::from_be_bytes([v[2], v[3], v[4], v[5]]).reverse_bits());
                    Some(())
                }
                _ => None,
            };
            if typed.is_none() {
                ds.other.push(t.to_owned());
            }
        }
        Ok(ds)
    }

    /// Encodes the dataset as TLVs in OpenThread's order (see the module doc). A network name or
    /// other value longer than 65535 bytes is cut to 65535 (use [`Dataset::validate`] first).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        let mut put = |typ: u8, v: &[u8]| {
            let v = &v[..v.len().min(tlv::MAX_LEN)];
            // Cannot fail: the length is bounded above.
            let _ = tlv::emit(typ, v, &mut out);
        };
        let mut used = vec![false; self.other.len()];
        for typ in ORDER {
            match typ {
                types::ACTIVE_TIMESTAMP => {
                    if let Some(ts) = self.active_timestamp {
                        put(typ, &ts.to_be_bytes())
                    }
                }
                types::CHANNEL => {
                    if let Some(c) = self.channel {
                        let c = c.to_be_bytes();
                        put(typ, &[0, c[0], c[1]])
                    }
                }
                types::CHANNEL_MASK => {
                    if let Some(m) = self.channel_mask {
                        let m = m.reverse_bits().to_be_bytes();
                        put(typ, &[0, 4, m[0], m[1], m[2], m[3]])
                    }
                }
                types::EXT_PAN_ID => {
                    if let Some(x) = &self.ext_pan_id {
                        put(typ, x)
                    }
                }
                types::MESH_LOCAL_PREFIX => {
                    if let Some(x) = &self.mesh_local_prefix {
                        put(typ, x)
                    }
                }
                types::NETWORK_KEY => {
                    if let Some(k) = &self.network_key {
                        put(typ, k.as_bytes())
                    }
                }
                types::NETWORK_NAME => {
                    if let Some(n) = &self.network_name {
                        put(typ, n.as_bytes())
                    }
                }
                types::PAN_ID => {
                    if let Some(p) = self.pan_id {
                        put(typ, &p.to_be_bytes())
                    }
                }
                types::PSKC => {
                    if let Some(k) = &self.pskc {
                        put(typ, k.as_bytes())
                    }
                }
                types::SECURITY_POLICY => {
                    if let Some((rot, flags)) = self.security_policy {
                        let r = rot.to_be_bytes();
                        let f = flags.to_be_bytes();
                        put(typ, &[r[0], r[1], f[0], f[1]])
                    }
                }
                _ => {}
            }
            // A raw TLV of this type kept in `other` goes in the same slot.
            for (i, t) in self.other.iter().enumerate() {
                if !used[i] && t.typ == typ {
                    put(t.typ, &t.value);
                    used[i] = true;
                }
            }
        }
        for (i, t) in self.other.iter().enumerate() {
            if !used[i] {
                put(t.typ, &t.value);
            }
        }
        out
    }

    /// Whether the fields an active dataset needs to form a network are all present (timestamp,
    /// channel, PAN ID, ext PAN ID, name, PSKc, network key, mesh-local prefix, security policy,
    /// channel mask).
    pub fn is_complete(&self) -> bool {
        self.active_timestamp.is_some()
            && self.channel.is_some()
            && self.pan_id.is_some()
            && self.ext_pan_id.is_some()
            && self.network_name.is_some()
            && self.pskc.is_some()
            && self.network_key.is_some()
            && self.mesh_local_prefix.is_some()
            && self.security_policy.is_some()
            && self.channel_mask.is_some()
    }

    /// Checks the values an operator may have set: name 1..=16 bytes, channel 11..=26 (page 0),
    /// PAN ID not 0xFFFF, mesh-local prefix starting with 0xfd, other TLVs encodable.
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(n) = &self.network_name {
            if n.is_empty() || n.len() > NETWORK_NAME_MAX_LEN {
                return Err(Error::InvalidValue {
                    what: "network name",
                    reason: "must be 1..=16 bytes",
                });
            }
        }
        if let Some(c) = self.channel {
            if !(11..=26).contains(&c) {
                return Err(Error::InvalidValue {
                    what: "channel",
                    reason: "must be 11..=26",
                });
            }
        }
        if self.pan_id == Some(0xFFFF) {
            return Err(Error::InvalidValue {
                what: "PAN ID",
                reason: "0xffff is the broadcast PAN ID",
            });
        }
        if let Some(p) = &self.mesh_local_prefix {
            if p[0] != 0xfd {
                return Err(Error::InvalidValue {
                    what: "mesh-local prefix",
                    reason: "must be in fd00::/8",
                });
            }
        }
        for t in &self.other {
            if t.value.len() > tlv::MAX_LEN {
                return Err(Error::TooLong {
                    what: "dataset TLV",
                    len: t.value.len(),
                    max: tlv::MAX_LEN,
                });
            }
        }
        Ok(())
    }

    /// The first preserved TLV of type `typ` in `other`.
    pub fn other_tlv(&self, typ: u8) -> Option<&Tlv> {
        self.other.iter().find(|t| t.typ == typ)
    }

    /// Replaces (or with `None` removes) the preserved TLVs of type `typ` in `other`.
    pub fn set_other_tlv(&mut self, typ: u8, value: Option<Vec<u8>>) {
        self.other.retain(|t| t.typ != typ);
        if let Some(v) = value {
            self.other.push(Tlv::new(typ, v));
        }
    }

    /// Pending Timestamp (pending datasets), kept in `other`.
    pub fn pending_timestamp(&self) -> Option<u64> {
        self.other_tlv(types::PENDING_TIMESTAMP)
            .and_then(|t| t.view().u64().ok())
    }
    pub fn set_pending_timestamp(&mut self, ts: Option<u64>) {
        self.set_other_tlv(
            types::PENDING_TIMESTAMP,
            ts.map(|t| t.to_be_bytes().to_vec()),
        );
    }
    /// Delay Timer in milliseconds (pending datasets), kept in `other`.
    pub fn delay_timer(&self) -> Option<u32> {
        self.other_tlv(types::DELAY_TIMER)
            .and_then(|t| t.view().u32().ok())
    }
    pub fn set_delay_timer(&mut self, ms: Option<u32>) {
        self.set_other_tlv(types::DELAY_TIMER, ms.map(|t| t.to_be_bytes().to_vec()));
    }
}

impl fmt::Debug for Dataset {
    /// Prints every field except the network key and PSKc (shown as `<redacted>` when present).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |o: bool| if o { Some("<redacted>") } else { None };
        f.debug_struct("Dataset")
            .field("active_timestamp", &self.active_timestamp)
            .field("channel", &self.channel)
            .field("pan_id", &self.pan_id.map(|p| format!("{p:#06x}")))
            .field("ext_pan_id", &self.ext_pan_id.map(hex::encode))
            .field("network_name", &self.network_name)
            .field("pskc", &redacted(self.pskc.is_some()))
            .field("network_key", &redacted(self.network_key.is_some()))
            .field(
                "mesh_local_prefix",
                &self.mesh_local_prefix.map(hex::encode),
            )
            .field("security_policy", &self.security_policy)
            .field(
                "channel_mask",
                &self.channel_mask.map(|m| format!("{m:#010x}")),
            )
            .field("other", &self.other)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `dataset init new; dataset commit active; dataset active -x` on OpenThread's simulation CLI
    /// (`ot-cli-ftd 1`, the source in openthread-sys 0.4.0). `dataset active` printed:
    /// Active Timestamp: 1, Channel: 14, Wake-up Channel: 23, Channel Mask: 0x07fff800,
    /// Ext PAN ID: eff7da39bbd9907f, Mesh Local Prefix: fd6c:b7eb:a371:804d::/64,
    /// Network Key: 31651c9861007a4098e04c6f841e7d7d, Network Name: OpenThread-ff60,
    /// PAN ID: 0xff60, PSKc: 8ad1d44b34ef136423c52bde01ae72af, Security Policy: 672 onrc 0
    const OT_ACTIVE: &str =
        "0e080000000000010000000300000e4a0300001735060004001fffe00208eff7da39bbd9907f0708\
fd6cb7eba371804d051031651c9861007a4098e04c6f841e7d7d030f4f70656e5468726561642d666636300102ff60041\
08ad1d44b34ef136423c52bde01ae72af0c0402a0f7f8";

    #[test]
    fn openthread_cli_dataset() {
        let bytes = hex::decode(OT_ACTIVE).unwrap();
        let ds = Dataset::decode(&bytes).unwrap();
        assert_eq!(ds.active_timestamp.map(timestamp::seconds), Some(1));
        assert_eq!(ds.channel, Some(14));
        assert_eq!(ds.channel_mask, Some(0x07fff800));
        assert_eq!(
            ds.ext_pan_id,
            Some([0xef, 0xf7, 0xda, 0x39, 0xbb, 0xd9, 0x90, 0x7f])
        );
        assert_eq!(
            ds.mesh_local_prefix,
            Some([0xfd, 0x6c, 0xb7, 0xeb, 0xa3, 0x71, 0x80, 0x4d])
        );
        assert_eq!(
            ds.network_key.as_ref().unwrap().to_hex(),
            "31651c9861007a4098e04c6f841e7d7d"
        );
        assert_eq!(ds.network_name.as_deref(), Some("OpenThread-ff60"));
        assert_eq!(ds.pan_id, Some(0xff60));
        assert_eq!(
            ds.pskc.as_ref().unwrap().to_hex(),
            "8ad1d44b34ef136423c52bde01ae72af"
        );
        // 0c 04 02a0 f7f8: 672 hours, flag bytes f7 f8 ("onrc 0" in the CLI)
        assert_eq!(ds.security_policy, Some((672, 0xf7f8)));
        // Wake-up Channel 23 on page 0, preserved
        assert_eq!(
            ds.other,
            vec![Tlv::new(types::WAKEUP_CHANNEL, vec![0, 0, 23])]
        );
        assert!(ds.is_complete());
        ds.validate().unwrap();
        assert_eq!(hex::encode(ds.encode()), OT_ACTIVE);
    }

    /// A dataset built here, accepted by OpenThread's CLI with `dataset set active <hex>`: its
    /// `dataset active` printed these values, `dataset active -x` echoed the same bytes, and the
    /// node became leader on channel 15, PAN ID 0x1234, name ThreadAgent after `thread start`.
    #[test]
    fn built_dataset_bytes() {
        let ds = Dataset {
            active_timestamp: Some(timestamp::new(1, 0, false)),
            channel: Some(15),
            pan_id: Some(0x1234),
            ext_pan_id: Some([0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77]),
            network_name: Some("ThreadAgent".into()),
            pskc: Some(Pskc::from_bytes([0x44; 16])),
            network_key: Some(NetworkKey::from_bytes([
                0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
                0xee, 0xff,
            ])),
            mesh_local_prefix: Some([0xfd, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77]),
            security_policy: Some((672, 0xf7f8)),
            channel_mask: Some(0x07fff800),
            other: vec![],
        };
        assert_eq!(hex::encode(ds.encode()), BUILT);
        assert_eq!(Dataset::decode(&ds.encode()).unwrap(), ds);
    }
    const BUILT: &str = "0e080000000000010000000300000f35060004001fffe0020800112233445566770708fd11223344556677051000112233445566778899aabbccddeeff030b5468726561644167656e74010212340410444444444444444444444444444444440c0402a0f7f8";

    #[test]
    fn debug_redacts() {
        let ds = Dataset::decode(&hex::decode(OT_ACTIVE).unwrap()).unwrap();
        let s = format!("{ds:?}");
        assert!(!s.contains("31651c98") && !s.contains("8ad1d44b"), "{s}");
        assert!(s.contains("OpenThread-ff60"));
    }

    #[test]
    fn odd_shapes_are_preserved() {
        // channel on page 2, 3-byte security policy, mask with two entries, pending ts + delay,
        // an unknown TLV, and a TLV in extended length form
        let mut b = Vec::new();
        for t in [
            Tlv::new(types::CHANNEL, vec![2, 0, 1]),
            Tlv::new(types::SECURITY_POLICY, vec![0, 0xa8, 0xf7]),
            Tlv::new(
                types::CHANNEL_MASK,
                vec![0, 4, 0, 0x1f, 0xff, 0xe0, 2, 4, 0, 0, 0, 1],
            ),
            Tlv::new(types::DELAY_TIMER, 30000u32.to_be_bytes().to_vec()),
            Tlv::new(200, vec![1, 2, 3]),
            Tlv::new(
                types::PENDING_TIMESTAMP,
                timestamp::new(5, 0, false).to_be_bytes().to_vec(),
            ),
        ] {
            t.emit(&mut b).unwrap();
        }
        let ds = Dataset::decode(&b).unwrap();
        assert_eq!(
            (ds.channel, ds.security_policy, ds.channel_mask),
            (None, None, None)
        );
        assert_eq!(ds.delay_timer(), Some(30000));
        assert_eq!(ds.pending_timestamp().map(timestamp::seconds), Some(5));
        // re-encoding is stable (the order of `other` follows OpenThread's order after one pass)
        let re = Dataset::decode(&ds.encode()).unwrap();
        assert_eq!(re.encode(), ds.encode());
        assert_eq!(re.other.len(), ds.other.len());
        // OpenThread order: pending ts, delay, channel, mask, security policy, then unknown
        let types_out: Vec<u8> = tlv::iter(&ds.encode()).map(|t| t.unwrap().typ).collect();
        assert_eq!(types_out, vec![51, 52, 0, 53, 12, 200]);
    }

    #[test]
    fn errors() {
        assert!(Dataset::decode(&[0x0e, 0x08, 0, 0]).is_err());
        assert!(Dataset::decode(&[0x03, 0x02, 0xff, 0xfe]).is_err());
        assert_eq!(Dataset::decode(&[]).unwrap(), Dataset::default());
        let ds = Dataset {
            network_name: Some("x".repeat(17)),
            ..Default::default()
        };
        assert!(ds.validate().is_err());
        let ds = Dataset {
            channel: Some(27),
            ..Default::default()
        };
        assert!(ds.validate().is_err());
    }

    #[test]
    fn timestamps() {
        let ts = timestamp::new(0x1234_5678_9abc, 0x7fff, true);
        assert_eq!(timestamp::seconds(ts), 0x1234_5678_9abc);
        assert_eq!(timestamp::ticks(ts), 0x7fff);
        assert!(timestamp::authoritative(ts));
        assert_eq!(timestamp::new(1, 0, false), 0x10000);
    }

    proptest::proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            if let Ok(ds) = Dataset::decode(&bytes) {
                let enc = ds.encode();
                let again = Dataset::decode(&enc).unwrap();
                proptest::prop_assert_eq!(again.encode(), enc);
            }
        }
    }
}
