//! The scans (OpenThread `src/ncp/ncp_base.cpp`, `HandlePropertySet<MAC_SCAN_STATE>`, and
//! `ncp_base_mtd.cpp`, `HandleEnergyScanResult` / `HandleActiveScanResult`): `MAC_SCAN_MASK` is
//! `A(C)` (one byte per channel, 0..=31), `MAC_SCAN_PERIOD` `S` (ms per channel).
//!
//! - Energy scan: each result arrives unsolicited as `MAC_ENERGY_SCAN_RESULT` `Cc` (channel, max
//!   RSSI in dBm), then `MAC_SCAN_STATE` `IS` idle.
//! - Active (beacon) scan, and MLE discovery scan: each beacon (discovery response) arrives
//!   unsolicited (`INSERTED`) as `MAC_SCAN_BEACON` `Cct(ESSc)t(iCUdd)`, then `MAC_SCAN_STATE` `IS`
//!   idle. See [`decode_beacon`].
//!
//! Guarantees: [`decode_energy_result`] and [`decode_beacon`] never panic; a short value is an
//! error.

use crate::codec::Reader;

/// One `MAC_ENERGY_SCAN_RESULT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnergyResult {
    pub channel: u8,
    pub max_rssi: i8,
}

/// Decodes a `MAC_ENERGY_SCAN_RESULT` value (`Cc`; trailing bytes are ignored, as Spinel allows).
pub fn decode_energy_result(value: &[u8]) -> Result<EnergyResult, crate::Error> {
    let mut r = Reader::new(value);
    let channel = r.u8()?;
    let max_rssi = r.u8()? as i8;
    Ok(EnergyResult { channel, max_rssi })
}

/// The 802.15.4 short address OpenThread's NCP reports for every beacon ("not given").
pub const SHORT_ADDRESS_NONE: u16 = 0xffff;
/// `SPINEL_PROTOCOL_TYPE_THREAD`, the only network protocol OpenThread's NCP reports.
pub const PROTOCOL_THREAD: u32 = 3;
/// `SPINEL_BEACON_THREAD_FLAG_JOINABLE` (OpenThread's NCP never sets it).
pub const FLAG_JOINABLE: u8 = 1 << 0;
/// `SPINEL_BEACON_THREAD_FLAG_NATIVE`.
pub const FLAG_NATIVE: u8 = 1 << 3;
/// `SPINEL_BEACON_THREAD_FLAG_VERSION_SHIFT`: the Thread protocol version is `flags >> 4`.
pub const FLAG_VERSION_SHIFT: u8 = 4;

/// One `MAC_SCAN_BEACON`: `C` channel, `c` RSSI, `t(E S S c)` MAC layer (extended address, short
/// address, PAN ID, LQI), `t(i C U d d)` network layer (protocol, flags, network name, extended
/// PAN ID, steering data). OpenThread's NCP writes the LQI as an unsigned byte.
///
/// From an active scan, only the MAC layer is meaningful on Thread 1.2.1 and later: beacons carry
/// no payload (OpenThread's `OPENTHREAD_CONFIG_MAC_OUTGOING_BEACON_PAYLOAD_ENABLE` and
/// `..._BEACON_PAYLOAD_PARSING_ENABLE` are off by default), so the name is empty, the extended
/// PAN ID zero and the version 0. A discovery scan (MLE Discovery Responses) fills them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beacon {
    pub channel: u8,
    pub rssi: i8,
    /// The sender's extended (long) address, `E`.
    pub ext_address: [u8; 8],
    /// [`SHORT_ADDRESS_NONE`] from OpenThread's NCP.
    pub short_address: u16,
    pub pan_id: u16,
    pub lqi: u8,
    /// `SPINEL_PROTOCOL_TYPE_*` ([`PROTOCOL_THREAD`]).
    pub protocol: u32,
    /// `SPINEL_BEACON_THREAD_FLAG_*`; see [`Beacon::version`], [`Beacon::is_native`].
    pub flags: u8,
    pub network_name: String,
    /// Empty or 8 bytes, as sent (`d`).
    pub ext_pan_id: Vec<u8>,
    /// Empty when none was sent (`d`, up to 16 bytes).
    pub steering_data: Vec<u8>,
}

impl Beacon {
    /// The Thread protocol version from [`Beacon::flags`] (0: unknown, e.g. no beacon payload).
    pub fn version(&self) -> u8 {
        self.flags >> FLAG_VERSION_SHIFT
    }
    /// The native-commissioner flag.
    pub fn is_native(&self) -> bool {
        self.flags & FLAG_NATIVE != 0
    }
    /// The joinable flag (never set by OpenThread's NCP; see the steering data instead).
    pub fn is_joinable(&self) -> bool {
        self.flags & FLAG_JOINABLE != 0
    }
}

/// Decodes a `MAC_SCAN_BEACON` value (`Cct(ESSc)t(iCUdd)`). Bytes after a struct's known fields,
/// and after the value, are ignored (Spinel lets structs grow). An extended PAN ID that is neither
/// empty nor 8 bytes, or steering data over 16 bytes, is an error.
pub fn decode_beacon(value: &[u8]) -> Result<Beacon, crate::Error> {
    let mut r = Reader::new(value);
    let channel = r.u8()?;
    let rssi = r.u8()? as i8;
    let mut mac = r.structure()?;
    let ext_address = mac.eui64()?;
    let short_address = mac.u16()?;
    let pan_id = mac.u16()?;
    let lqi = mac.u8()?;
    let mut net = r.structure()?;
    let protocol = net.uint()?;
    let flags = net.u8()?;
    let network_name = net.utf8()?;
    let ext_pan_id = net.data()?.to_vec();
    let steering_data = net.data()?.to_vec();
    if !(ext_pan_id.is_empty() || ext_pan_id.len() == 8) {
        return Err(crate::Error::Protocol(format!(
            "beacon extended PAN ID of {} bytes",
            ext_pan_id.len()
        )));
    }
    if steering_data.len() > 16 {
        return Err(crate::Error::Protocol(format!(
            "beacon steering data of {} bytes",
            steering_data.len()
        )));
    }
    Ok(Beacon {
        channel,
        rssi,
        ext_address,
        short_address,
        pan_id,
        lqi,
        protocol,
        flags,
        network_name,
        ext_pan_id,
        steering_data,
    })
}

/// Encodes a `MAC_SCAN_MASK` value (`A(C)`).
pub fn encode_scan_mask(channels: &[u8]) -> Vec<u8> {
    channels.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn energy_result_bytes() {
        // Channel 15, -92 dBm.
        assert_eq!(
            decode_energy_result(&[0x0f, 0xa4]).unwrap(),
            EnergyResult {
                channel: 15,
                max_rssi: -92
            }
        );
        assert_eq!(decode_energy_result(&[26, 0x7f, 9]).unwrap().max_rssi, 127);
        assert_eq!(encode_scan_mask(&[11, 15]), [11, 15]);
    }

    #[test]
    fn energy_result_garbage() {
        assert!(decode_energy_result(&[]).is_err());
        assert!(decode_energy_result(&[11]).is_err());
    }

    /// What `HandleActiveScanResult` writes for a beacon on channel 20 at -70 dBm from
    /// 12:34:56:78:9a:bc:de:f0, PAN ID 0x1234, LQI 255, Thread version 4, native, named "OT",
    /// extended PAN ID dead00beef00cafe, steering data `ff` (or none), built by hand.
    fn beacon_bytes(steering: &str) -> Vec<u8> {
        beacon_with("dead00beef00cafe", steering)
    }

    /// [`beacon_bytes`] with another extended PAN ID (hex, any length).
    fn beacon_with(xpanid: &str, steering: &str) -> Vec<u8> {
        let (xpanid_len, steering_len) = (xpanid.len() / 2, steering.len() / 2);
        let net_len = 1 + 1 + 3 + 2 + xpanid_len + 2 + steering_len;
        let mut h = String::new();
        h += "14"; // C channel 20
        h += "ba"; // c RSSI -70
        h += "0d00"; // t( length 13
        h += "123456789abcdef0"; //   E extended address
        h += "ffff"; //   S short address: not given
        h += "3412"; //   S PAN ID
        h += "ff"; //   C LQI )
        h += &format!("{net_len:02x}00"); // t( length
        h += "03"; //   i protocol: Thread
        h += "48"; //   C flags: version 4 << 4 | native
        h += "4f5400"; //   U "OT"
        h += &format!("{xpanid_len:02x}00{xpanid}"); //   d extended PAN ID
        h += &format!("{steering_len:02x}00{steering}"); //   d steering data )
        hex::decode(h).unwrap()
    }

    #[test]
    fn beacon_bytes_from_the_ncp() {
        let v = beacon_bytes("ff");
        assert_eq!(
            hex::encode(&v),
            "14ba0d00123456789abcdef0ffff3412ff1200034\
             84f54000800dead00beef00cafe0100ff"
        );
        let b = decode_beacon(&v).unwrap();
        assert_eq!(
            b,
            Beacon {
                channel: 20,
                rssi: -70,
                ext_address: [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0],
                short_address: SHORT_ADDRESS_NONE,
                pan_id: 0x1234,
                lqi: 255,
                protocol: PROTOCOL_THREAD,
                flags: 0x48,
                network_name: "OT".into(),
                ext_pan_id: hex::decode("dead00beef00cafe").unwrap(),
                steering_data: vec![0xff],
            }
        );
        assert_eq!(b.version(), 4);
        assert!(b.is_native());
        assert!(!b.is_joinable());
        assert!(decode_beacon(&beacon_bytes(""))
            .unwrap()
            .steering_data
            .is_empty());
    }

    #[test]
    fn beacon_without_payload_and_grown_structs() {
        // Thread 1.2.1+ beacon: no payload, so empty name, zero extended PAN ID, flags 0.
        let v = hex::decode(concat!(
            "0bc4",
            "0d00",
            "0102030405060708ffffcdabc8",
            "0f00",
            "03",
            "00",
            "00",
            "08000000000000000000",
            "0000"
        ))
        .unwrap();
        let b = decode_beacon(&v).unwrap();
        assert_eq!((b.channel, b.rssi, b.pan_id, b.lqi), (11, -60, 0xabcd, 200));
        assert_eq!(b.network_name, "");
        assert_eq!(b.ext_pan_id, [0; 8]);
        assert_eq!(b.version(), 0);
        // Extra bytes inside each struct and after the value are ignored.
        let v = hex::decode(concat!(
            "0bc4",
            "0e00",
            "0102030405060708ffffcdabc8ee",
            "1000",
            "03",
            "00",
            "00",
            "08000000000000000000",
            "0000ee",
            "ee"
        ))
        .unwrap();
        assert_eq!(decode_beacon(&v).unwrap().pan_id, 0xabcd);
    }

    #[test]
    fn beacon_garbage() {
        let v = beacon_bytes("ff");
        for n in 0..v.len() {
            assert!(decode_beacon(&v[..n]).is_err(), "truncated at {n}");
        }
        // A struct length past the end, an odd extended PAN ID, too much steering data.
        let mut bad = v.clone();
        bad[2] = 0xff;
        assert!(decode_beacon(&bad).is_err());
        assert!(decode_beacon(&beacon_with("dead00beef00ca", "")).is_err());
        assert!(decode_beacon(&beacon_with("", ""))
            .unwrap()
            .ext_pan_id
            .is_empty());
        let long = beacon_bytes(&"ab".repeat(17));
        assert!(decode_beacon(&long).is_err());
        assert!(decode_beacon(&beacon_bytes(&"ab".repeat(16))).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn beacon_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let _ = decode_beacon(&bytes);
        }

        #[test]
        fn beacon_mutations_never_panic(i in 0usize..38, b in proptest::prelude::any::<u8>()) {
            let mut v = beacon_bytes("ff");
            let i = i % v.len();
            v[i] = b;
            let _ = decode_beacon(&v);
        }

        #[test]
        fn energy_result_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..8)) {
            let _ = decode_energy_result(&bytes);
        }
    }
}
