//! Steering Data: the Bloom filter a commissioner publishes (in MGMT_COMMISSIONER_SET) so that
//! joiners and joiner routers know which joiners are expected (Thread specification §8.4.1.4;
//! OpenThread `src/core/meshcop/meshcop.cpp` `SteeringData`).
//!
//! 1..=16 bytes. A Joiner ID (or a discerner's right-aligned value) sets two bits: the
//! CRC-16/XMODEM (poly 0x1021) and the CRC-16/UMTS (poly 0x8005, a.k.a. BUYPASS/ANSI) of the 8
//! bytes, both init 0, not reflected, no final XOR; `bit = crc % (len*8)` is bit `bit % 8` of byte
//! `len - 1 - bit / 8`. A filter with every byte 0xFF permits any joiner (OpenThread uses 1 byte).
//!
//! Guarantees: no panics; lengths outside 1..=16 are rejected at construction.
//! Validated against: the CRC vectors of thread-facts §2, and steering data published by
//! OpenThread's own commissioner (`commissioner joiner add`, read back with `netdata show -x`) on
//! the simulation CLI: the 16-byte filters for EUI-64 18b4300000000001 (Joiner ID
//! cfe0d8dd4efc2973), for discerner 0xabc/12, for both, and allow-any `ff`.

use crate::credentials::{joiner_id, Discerner};
use crate::error::Error;
use crate::tlv::{types, Tlv};

/// CRC-16/XMODEM: poly 0x1021, init 0, not reflected, no final XOR.
pub fn crc16_xmodem(data: &[u8]) -> u16 {
    crc16(0x1021, data)
}

/// CRC-16/UMTS (also called BUYPASS): poly 0x8005, init 0, not reflected, no final XOR.
pub fn crc16_umts(data: &[u8]) -> u16 {
    crc16(0x8005, data)
}

fn crc16(poly: u16, data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= (b as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ poly
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// A Steering Data Bloom filter of 1..=16 bytes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SteeringData {
    bytes: [u8; SteeringData::MAX_LEN],
    len: u8,
}

impl core::fmt::Debug for SteeringData {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SteeringData({})", hex::encode(self.as_bytes()))
    }
}

impl Default for SteeringData {
    /// An empty 16-byte filter (what OpenThread's commissioner uses).
    fn default() -> Self {
        SteeringData {
            bytes: [0; Self::MAX_LEN],
            len: Self::MAX_LEN as u8,
        }
    }
}

impl SteeringData {
    pub const MAX_LEN: usize = 16;

    /// An empty filter of `len` bytes (1..=16).
    pub fn new(len: usize) -> Result<SteeringData, Error> {
        if len == 0 || len > Self::MAX_LEN {
            return Err(Error::SteeringLength(len));
        }
        Ok(SteeringData {
            bytes: [0; Self::MAX_LEN],
            len: len as u8,
        })
    }

    /// The one-byte `ff` filter that permits every joiner.
    pub fn allow_any() -> SteeringData {
        let mut s = SteeringData {
            bytes: [0; Self::MAX_LEN],
            len: 1,
        };
        s.bytes[0] = 0xFF;
        s
    }

    /// A filter from received bytes (1..=16).
    pub fn from_bytes(b: &[u8]) -> Result<SteeringData, Error> {
        let mut s = SteeringData::new(b.len())?;
        s.bytes[..b.len()].copy_from_slice(b);
        Ok(s)
    }

    /// A 16-byte filter holding the given Joiner IDs.
    pub fn from_joiner_ids<'a>(ids: impl IntoIterator<Item = &'a [u8; 8]>) -> SteeringData {
        let mut s = SteeringData::default();
        for id in ids {
            s.add(id);
        }
        s
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    fn num_bits(&self) -> u32 {
        self.len as u32 * 8
    }

    fn set_bit(&mut self, bit: u32) {
        let idx = self.len as usize - 1 - (bit / 8) as usize;
        self.bytes[idx] |= 1 << (bit % 8);
    }

    fn get_bit(&self, bit: u32) -> bool {
        let idx = self.len as usize - 1 - (bit / 8) as usize;
        self.bytes[idx] & (1 << (bit % 8)) != 0
    }

    fn indexes(id: &[u8; 8]) -> [u32; 2] {
        [crc16_xmodem(id) as u32, crc16_umts(id) as u32]
    }

    /// Adds a Joiner ID (see [`joiner_id`] for the ID of an EUI-64).
    pub fn add(&mut self, joiner_id: &[u8; 8]) {
        let n = self.num_bits();
        for i in Self::indexes(joiner_id) {
            self.set_bit(i % n);
        }
    }

    /// Adds a device by its EUI-64 (hashes it to the Joiner ID first).
    pub fn add_eui64(&mut self, eui64: &[u8; 8]) {
        self.add(&joiner_id(eui64));
    }

    /// Adds a joiner discerner (its value right-aligned in 8 zero bytes is hashed).
    pub fn add_discerner(&mut self, d: &Discerner) {
        self.add(&d.joiner_id());
    }

    /// Whether the filter (probably) contains this Joiner ID; always true for allow-any.
    pub fn contains(&self, joiner_id: &[u8; 8]) -> bool {
        let n = self.num_bits();
        Self::indexes(joiner_id)
            .iter()
            .all(|&i| self.get_bit(i % n))
    }

    pub fn contains_discerner(&self, d: &Discerner) -> bool {
        self.contains(&d.joiner_id())
    }

    /// Every bit set: any joiner is permitted.
    pub fn is_allow_any(&self) -> bool {
        self.as_bytes().iter().all(|&b| b == 0xFF)
    }

    /// No bit set: no joiner is permitted.
    pub fn is_empty(&self) -> bool {
        self.as_bytes().iter().all(|&b| b == 0)
    }

    /// Clears every bit (keeps the length).
    pub fn clear(&mut self) {
        self.bytes = [0; Self::MAX_LEN];
    }

    /// Adds every joiner of `other`. Allow-any on either side gives allow-any; otherwise the
    /// lengths must be equal (a Bloom filter cannot be refolded to another length).
    pub fn merge(&mut self, other: &SteeringData) -> Result<(), Error> {
        if self.is_allow_any() {
            return Ok(());
        }
        if other.is_allow_any() {
            *self = other.clone();
            return Ok(());
        }
        if self.len != other.len {
            return Err(Error::SteeringLength(other.len()));
        }
        for (a, b) in self.bytes.iter_mut().zip(other.bytes.iter()) {
            *a |= b;
        }
        Ok(())
    }

    /// The Steering Data TLV (type 8).
    pub fn to_tlv(&self) -> Tlv {
        Tlv::new(types::STEERING_DATA, self.as_bytes().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_vectors() {
        assert_eq!(crc16_xmodem(&[0xff]), 0x1ef0);
        assert_eq!(crc16_umts(&[0xff]), 0x0202);
        assert_eq!(crc16_xmodem(b"123456789"), 0x31c3);
        assert_eq!(crc16_umts(b"123456789"), 0xfee8);
        let v = hex::decode("10200315beefcafe").unwrap();
        assert_eq!(crc16_xmodem(&v), 0x926a);
        assert_eq!(crc16_umts(&v), 0x070c);
    }

    /// Captured from OpenThread's commissioner on the simulation CLI (`netdata show -x`).
    #[test]
    fn openthread_commissioner_vectors() {
        let eui = [0x18, 0xb4, 0x30, 0, 0, 0, 0, 1];
        // `joiner id` on that node
        assert_eq!(hex::encode(joiner_id(&eui)), "cfe0d8dd4efc2973");

        let mut s = SteeringData::default();
        s.add_eui64(&eui);
        assert_eq!(
            hex::encode(s.as_bytes()),
            "00000002000000000000000000000004"
        );

        let d: Discerner = "0xabc/12".parse().unwrap();
        let mut sd = SteeringData::default();
        sd.add_discerner(&d);
        assert_eq!(
            hex::encode(sd.as_bytes()),
            "00000000000000000000000010000800"
        );

        s.add_discerner(&d);
        assert_eq!(
            hex::encode(s.as_bytes()),
            "00000002000000000000000010000804"
        );
        assert!(s.contains(&joiner_id(&eui)) && s.contains_discerner(&d));
        assert!(!sd.contains(&joiner_id(&eui)));

        assert_eq!(
            SteeringData::allow_any().to_tlv().to_bytes().unwrap(),
            vec![0x08, 0x01, 0xff]
        );
    }

    #[test]
    fn set_operations() {
        let a_id = joiner_id(&[0x18, 0xb4, 0x30, 0, 0, 0, 0, 1]);
        let b_id = joiner_id(&[0x18, 0xb4, 0x30, 0, 0, 0, 0, 2]);
        let mut a = SteeringData::from_joiner_ids([&a_id]);
        let b = SteeringData::from_joiner_ids([&b_id]);
        assert!(a.contains(&a_id));
        assert!(!a.is_empty() && !a.is_allow_any());
        a.merge(&b).unwrap();
        assert!(a.contains(&a_id) && a.contains(&b_id));
        assert!(a.merge(&SteeringData::new(8).unwrap()).is_err());
        let mut c = a.clone();
        c.merge(&SteeringData::allow_any()).unwrap();
        assert!(c.is_allow_any() && c.contains(&[0; 8]));
        a.clear();
        assert!(a.is_empty() && !a.contains(&a_id));
        assert_eq!(a.len(), 16);
        // every length works, 1 byte too
        for len in 1..=16 {
            let mut s = SteeringData::new(len).unwrap();
            s.add(&a_id);
            assert!(s.contains(&a_id));
        }
        assert!(SteeringData::new(0).is_err() && SteeringData::new(17).is_err());
        assert!(SteeringData::from_bytes(&[]).is_err());
        assert!(SteeringData::from_bytes(&[0xff, 0xff])
            .unwrap()
            .is_allow_any());
    }
}
