//! Thread Network Data (Thread 1.3 §5.18; OpenThread `src/core/thread/network_data_tlvs.hpp`):
//! the leader's TLVs as the co-processor reports them in `THREAD_LEADER_NETWORK_DATA`.
//!
//! Each TLV is one byte holding the type (bits 7..1) and the stable flag (bit 0), one byte of
//! length, then the value. Only the top level is walked here; a Commissioning Data TLV's value is
//! itself MeshCoP TLVs ([`crate::commissioner::CommissionerDataset::parse`] reads it).
//!
//! Guarantees: never panics; a TLV cut short yields one `Err(Error::Truncated)`, then the walk ends.

use crate::Error;

/// Network Data TLV types (`NetworkDataTlv::Type`).
pub mod types {
    pub const HAS_ROUTE: u8 = 0;
    pub const PREFIX: u8 = 1;
    pub const BORDER_ROUTER: u8 = 2;
    pub const CONTEXT: u8 = 3;
    pub const COMMISSIONING_DATA: u8 = 4;
    pub const SERVICE: u8 = 5;
    pub const SERVER: u8 = 6;
}

/// One top-level Network Data TLV, borrowing its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetDataTlv<'a> {
    /// The type (the high 7 bits of the first byte), see [`types`].
    pub typ: u8,
    /// The stable flag (bit 0 of the first byte).
    pub stable: bool,
    pub value: &'a [u8],
}

/// Iterator over the top-level TLVs of Network Data; see [`iter`].
#[derive(Debug, Clone)]
pub struct NetDataIter<'a> {
    rest: &'a [u8],
    failed: bool,
}

/// Walks the top-level TLVs of `data`.
pub fn iter(data: &[u8]) -> NetDataIter<'_> {
    NetDataIter {
        rest: data,
        failed: false,
    }
}

impl<'a> Iterator for NetDataIter<'a> {
    type Item = Result<NetDataTlv<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let b = self.rest;
        let value = b.get(1).and_then(|&len| b.get(2..2 + usize::from(len)));
        let Some(value) = value else {
            self.failed = true;
            let need = b.get(1).map_or(2, |&len| 2 + usize::from(len));
            return Some(Err(Error::Truncated {
                what: "network data TLV",
                need,
                have: b.len(),
            }));
        };
        self.rest = &b[2 + value.len()..];
        Some(Ok(NetDataTlv {
            typ: b[0] >> 1,
            stable: b[0] & 1 != 0,
            value,
        }))
    }
}

impl core::iter::FusedIterator for NetDataIter<'_> {}

/// The value of the first Commissioning Data TLV, if one comes before any truncation.
pub fn commissioning_data(data: &[u8]) -> Option<&[u8]> {
    iter(data)
        .map_while(Result::ok)
        .find(|t| t.typ == types::COMMISSIONING_DATA)
        .map(|t| t.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_top_level_tlvs() {
        let nd = [
            0x03, 0x02, 0xaa, 0xbb, // prefix, stable
            0x08, 0x03, 0x0b, 0x01, 0x07, // commissioning data, not stable
        ];
        let t: Vec<_> = iter(&nd).collect::<Result<_, _>>().unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(
            (t[0].typ, t[0].stable, t[0].value),
            (types::PREFIX, true, &[0xaa, 0xbb][..])
        );
        assert_eq!((t[1].typ, t[1].stable), (types::COMMISSIONING_DATA, false));
        assert_eq!(commissioning_data(&nd), Some(&[0x0b, 0x01, 0x07][..]));
        assert_eq!(commissioning_data(&nd[..4]), None);
        assert_eq!(commissioning_data(&[0x08, 0x30, 1]), None);
        assert!(matches!(
            iter(&[0x08, 0x30, 1]).next(),
            Some(Err(Error::Truncated {
                need: 50,
                have: 3,
                ..
            }))
        ));
        assert!(iter(&[0x08]).next().unwrap().is_err());
        assert_eq!(iter(&[]).count(), 0);
    }

    proptest::proptest! {
        /// Garbage never panics, and the walk always ends.
        #[test]
        fn garbage(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let n = iter(&bytes).count();
            proptest::prop_assert!(n <= bytes.len() / 2 + 1);
            let _ = commissioning_data(&bytes);
        }
    }
}
