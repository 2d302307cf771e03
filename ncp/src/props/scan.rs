//! The energy scan (OpenThread `src/ncp/ncp_base.cpp`, `HandlePropertySet<MAC_SCAN_STATE>`, and
//! `ncp_base_mtd.cpp`, `HandleEnergyScanResult`): `MAC_SCAN_MASK` is `A(C)` (one byte per
//! channel, 0..=31), `MAC_SCAN_PERIOD` `S` (ms per channel); each result arrives unsolicited as
//! `MAC_ENERGY_SCAN_RESULT` `Cc` (channel, max RSSI in dBm), then `MAC_SCAN_STATE` `IS` idle.
//!
//! Guarantees: [`decode_energy_result`] never panics; a short value is an error.

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

    proptest::proptest! {
        #[test]
        fn energy_result_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..8)) {
            let _ = decode_energy_result(&bytes);
        }
    }
}
