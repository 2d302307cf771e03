//! Decoding of the co-processor's neighbour and child tables (Spinel properties
//! `THREAD_NEIGHBOR_TABLE` 0x150B and `THREAD_CHILD_TABLE` 0x52).
//!
//! Formats, from OpenThread `src/ncp/ncp_base_mtd.cpp` (`EncodeNeighborInfo`, the GET handler of
//! `SPINEL_PROP_THREAD_NEIGHBOR_TABLE`) and `src/ncp/ncp_base_ftd.cpp` (`EncodeChildInfo`, the GET
//! handler of `SPINEL_PROP_THREAD_CHILD_TABLE`, `HandleNeighborTableChanged`):
//! - neighbour entry `t(E S L C c C b L L c)`: ext address, RLOC16, age (s), link quality in (0..3),
//!   average RSSI, mode flags, is-child, link frame counter, MLE frame counter, last RSSI;
//!   the GET answer is `A(t(...))`; an unsolicited INSERTED/REMOVED carries one `t(...)`.
//! - child entry `E S L L C C c C c`: ext address, RLOC16, timeout (s), age (s), network data
//!   version, link quality in, average RSSI, mode flags, last RSSI; the GET answer is
//!   `A(t(...))`; an unsolicited INSERTED/REMOVED carries the bare fields (no struct wrapper).
//!   All integers little-endian.
//!
//! Guarantees: never panics; a truncated struct is an error, extra bytes inside a struct (a newer
//! co-processor appending fields) are ignored.
//!
//! Validated by the unit tests below (bytes laid out per the encoders above) and against the
//! simulation NCP: an `ot-cli-ftd` child attached to the agent's leader showed up in `status` with
//! its ext address, RLOC16 (leader + 1), link quality 3, a small age and `is_child` true, and its
//! `child added` event decoded with the same ext address and RLOC16.

use serde::Serialize;

/// Mode flag: receiver on when idle.
pub const MODE_RX_ON_WHEN_IDLE: u8 = 1 << 3;
/// Mode flag: full Thread device.
pub const MODE_FULL_THREAD_DEVICE: u8 = 1 << 1;
/// Mode flag: full network data.
pub const MODE_FULL_NETWORK_DATA: u8 = 1 << 0;

/// One neighbour (router or child) as reported by the co-processor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Neighbor {
    /// Extended MAC address, 16 hex digits.
    pub ext_address: String,
    /// RLOC16 as `0x....`.
    pub rloc16: String,
    /// Link quality in, 0..3.
    pub link_quality: u8,
    /// Seconds since last heard.
    pub age: u32,
    /// True if this neighbour is our child.
    pub is_child: bool,
    #[serde(skip)]
    pub average_rssi: i8,
    #[serde(skip)]
    pub last_rssi: i8,
    #[serde(skip)]
    pub mode: u8,
}

/// One child as reported by the co-processor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Child {
    pub ext_address: String,
    pub rloc16: String,
    pub timeout: u32,
    pub age: u32,
    pub link_quality: u8,
    pub average_rssi: i8,
    pub mode: u8,
}

/// A table that cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {what}: {reason}")]
pub struct TableError {
    pub what: &'static str,
    pub reason: String,
}

struct Cur<'a> {
    b: &'a [u8],
    what: &'static str,
}

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TableError> {
        if self.b.len() < n {
            return Err(TableError {
                what: self.what,
                reason: format!("needed {n} more bytes, {} left", self.b.len()),
            });
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    fn u8(&mut self) -> Result<u8, TableError> {
        Ok(self.take(1)?[0])
    }
    fn i8(&mut self) -> Result<i8, TableError> {
        Ok(self.u8()? as i8)
    }
    fn u16(&mut self) -> Result<u16, TableError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, TableError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn eui64(&mut self) -> Result<String, TableError> {
        Ok(hex::encode(self.take(8)?))
    }
    /// A `t(...)`: u16 LE length, then that many bytes.
    fn structure(&mut self) -> Result<Cur<'a>, TableError> {
        let len = self.u16()? as usize;
        Ok(Cur {
            b: self.take(len)?,
            what: self.what,
        })
    }
}

fn neighbor_fields(c: &mut Cur<'_>) -> Result<Neighbor, TableError> {
    let ext_address = c.eui64()?;
    let rloc16 = format!("0x{:04x}", c.u16()?);
    let age = c.u32()?;
    let link_quality = c.u8()?;
    let average_rssi = c.i8()?;
    let mode = c.u8()?;
    let is_child = c.u8()? != 0;
    let _link_fc = c.u32()?;
    let _mle_fc = c.u32()?;
    let last_rssi = c.i8()?;
    Ok(Neighbor {
        ext_address,
        rloc16,
        link_quality,
        age,
        is_child,
        average_rssi,
        last_rssi,
        mode,
    })
}

fn child_fields(c: &mut Cur<'_>) -> Result<Child, TableError> {
    let ext_address = c.eui64()?;
    let rloc16 = format!("0x{:04x}", c.u16()?);
    let timeout = c.u32()?;
    let age = c.u32()?;
    let _netdata_version = c.u8()?;
    let link_quality = c.u8()?;
    let average_rssi = c.i8()?;
    let mode = c.u8()?;
    let _last_rssi = c.i8()?;
    Ok(Child {
        ext_address,
        rloc16,
        timeout,
        age,
        link_quality,
        average_rssi,
        mode,
    })
}

/// Decodes the value of a `THREAD_NEIGHBOR_TABLE` GET answer (`A(t(ESLCcCbLLc))`).
pub fn decode_neighbor_table(value: &[u8]) -> Result<Vec<Neighbor>, TableError> {
    let mut c = Cur {
        b: value,
        what: "neighbor table",
    };
    let mut out = Vec::new();
    while !c.b.is_empty() {
        out.push(neighbor_fields(&mut c.structure()?)?);
    }
    Ok(out)
}

/// Decodes one neighbour from an unsolicited INSERTED/REMOVED (`t(ESLCcCbLLc)`).
pub fn decode_neighbor_entry(value: &[u8]) -> Result<Neighbor, TableError> {
    let mut c = Cur {
        b: value,
        what: "neighbor entry",
    };
    neighbor_fields(&mut c.structure()?)
}

/// Decodes the value of a `THREAD_CHILD_TABLE` GET answer or unsolicited IS (`A(t(ESLLCCcCc))`).
pub fn decode_child_table(value: &[u8]) -> Result<Vec<Child>, TableError> {
    let mut c = Cur {
        b: value,
        what: "child table",
    };
    let mut out = Vec::new();
    while !c.b.is_empty() {
        out.push(child_fields(&mut c.structure()?)?);
    }
    Ok(out)
}

/// Decodes one child from an unsolicited INSERTED/REMOVED (bare `ESLLCCcCc`).
pub fn decode_child_entry(value: &[u8]) -> Result<Child, TableError> {
    child_fields(&mut Cur {
        b: value,
        what: "child entry",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One neighbour entry laid out as `EncodeNeighborInfo` writes it (without the struct wrapper).
    fn neighbor_bytes(ext: [u8; 8], rloc: u16, age: u32, lqi: u8, is_child: bool) -> Vec<u8> {
        let mut v = ext.to_vec();
        v.extend_from_slice(&rloc.to_le_bytes());
        v.extend_from_slice(&age.to_le_bytes());
        v.push(lqi);
        v.push((-40i8) as u8); // average RSSI
        v.push(MODE_RX_ON_WHEN_IDLE | MODE_FULL_THREAD_DEVICE | MODE_FULL_NETWORK_DATA);
        v.push(is_child as u8);
        v.extend_from_slice(&7u32.to_le_bytes()); // link frame counter
        v.extend_from_slice(&9u32.to_le_bytes()); // MLE frame counter
        v.push((-41i8) as u8); // last RSSI
        v
    }

    fn wrap(inner: &[u8]) -> Vec<u8> {
        let mut v = (inner.len() as u16).to_le_bytes().to_vec();
        v.extend_from_slice(inner);
        v
    }

    #[test]
    fn neighbor_table_two_entries() {
        let a = neighbor_bytes(
            [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0],
            0x0401,
            3,
            3,
            true,
        );
        let b = neighbor_bytes([1, 2, 3, 4, 5, 6, 7, 8], 0x2c00, 65, 2, false);
        assert_eq!(a.len(), 27);
        let mut table = wrap(&a);
        table.extend(wrap(&b));
        let n = decode_neighbor_table(&table).unwrap();
        assert_eq!(n.len(), 2);
        assert_eq!(n[0].ext_address, "123456789abcdef0");
        assert_eq!(n[0].rloc16, "0x0401");
        assert_eq!((n[0].age, n[0].link_quality, n[0].is_child), (3, 3, true));
        assert_eq!((n[0].average_rssi, n[0].last_rssi), (-40, -41));
        assert_eq!(n[1].rloc16, "0x2c00");
        assert_eq!((n[1].age, n[1].link_quality, n[1].is_child), (65, 2, false));
        let json = serde_json::to_value(&n[0]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"ext_address":"123456789abcdef0","rloc16":"0x0401","link_quality":3,"age":3,"is_child":true})
        );
        assert_eq!(decode_neighbor_entry(&wrap(&b)).unwrap(), n[1]);
        assert_eq!(decode_neighbor_table(&[]).unwrap(), vec![]);
    }

    #[test]
    fn neighbor_table_truncated_or_extended() {
        let a = neighbor_bytes([0; 8], 1, 1, 1, false);
        let mut short = wrap(&a);
        short.pop();
        assert!(decode_neighbor_table(&short).is_err());
        assert!(decode_neighbor_table(&wrap(&a[..20])).is_err());
        assert!(decode_neighbor_table(&[0x05]).is_err());
        // Fields appended by a newer co-processor inside the struct are skipped.
        let mut longer = a.clone();
        longer.extend_from_slice(&[0xee, 0xee]);
        let mut t = wrap(&longer);
        t.extend(wrap(&a));
        assert_eq!(decode_neighbor_table(&t).unwrap().len(), 2);
    }

    #[test]
    fn child_table_and_entry() {
        let mut c = vec![0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00, 0x11];
        c.extend_from_slice(&0x0402u16.to_le_bytes());
        c.extend_from_slice(&240u32.to_le_bytes());
        c.extend_from_slice(&5u32.to_le_bytes());
        c.extend_from_slice(&[1, 3, (-50i8) as u8, MODE_RX_ON_WHEN_IDLE, (-51i8) as u8]);
        assert_eq!(c.len(), 23);
        let e = decode_child_entry(&c).unwrap();
        assert_eq!(e.ext_address, "aabbccddeeff0011");
        assert_eq!(
            (e.rloc16.as_str(), e.timeout, e.age, e.link_quality),
            ("0x0402", 240, 5, 3)
        );
        let t = decode_child_table(&wrap(&c)).unwrap();
        assert_eq!(t, vec![e]);
        assert!(decode_child_entry(&c[..22]).is_err());
    }

    proptest::proptest! {
        /// No table decoder panics on garbage from the co-processor.
        #[test]
        fn tables_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = decode_neighbor_table(&bytes);
            let _ = decode_neighbor_entry(&bytes);
            let _ = decode_child_table(&bytes);
            let _ = decode_child_entry(&bytes);
        }
    }
}
