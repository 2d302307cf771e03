//! Typed reader and writer for Spinel value formats (OpenThread `spinel.h`, "Data Packing";
//! thread-facts §1): `b` bool, `C` u8, `S` u16 LE, `L` u32 LE, `X` u64 LE, `i` packed uint,
//! `6` IPv6 address, `E` EUI-64, `e` EUI-48, `U` NUL-terminated UTF-8, `d` u16-length data,
//! `D` data to the end, `t(...)` u16-length struct, `A(...)` array to the end.
//!
//! [`Reader`] never panics: a short or malformed value is an [`Error::Protocol`] naming the
//! type that failed. An array `A(x)` is read by looping `while !r.is_empty()`; a struct `t(...)`
//! by [`Reader::structure`], which returns a reader over the struct's bytes only.
//!
//! Validated by round trips in the tests and against values read from the OpenThread
//! simulation NCP (CAPS, PROTOCOL_VERSION, NCP_VERSION, HWADDR).

use crate::spinel::{decode_packed_uint, encode_packed_uint};
use crate::Error;
use std::net::Ipv6Addr;

/// Reads typed values from a Spinel value, front to back.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

fn short(what: &str) -> Error {
    Error::Protocol(format!("Spinel value too short for {what}"))
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], Error> {
        if self.buf.len() < n {
            return Err(short(what));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], Error> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    /// `b`: one byte, 0 or 1 (any other value is an error).
    pub fn bool(&mut self) -> Result<bool, Error> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(Error::Protocol(format!("invalid Spinel bool {v}"))),
        }
    }
    /// `C`
    pub fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.array::<1>("u8")?[0])
    }
    /// `S`
    pub fn u16(&mut self) -> Result<u16, Error> {
        Ok(u16::from_le_bytes(self.array("u16")?))
    }
    /// `L`
    pub fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.array("u32")?))
    }
    /// `X`
    pub fn u64(&mut self) -> Result<u64, Error> {
        Ok(u64::from_le_bytes(self.array("u64")?))
    }
    /// `i`: packed unsigned integer.
    pub fn uint(&mut self) -> Result<u32, Error> {
        let (v, n) = decode_packed_uint(self.buf)?;
        self.buf = &self.buf[n..];
        Ok(v)
    }
    /// `6`
    pub fn ipv6(&mut self) -> Result<Ipv6Addr, Error> {
        Ok(Ipv6Addr::from(self.array::<16>("IPv6 address")?))
    }
    /// `E`
    pub fn eui64(&mut self) -> Result<[u8; 8], Error> {
        self.array("EUI-64")
    }
    /// `e`
    pub fn eui48(&mut self) -> Result<[u8; 6], Error> {
        self.array("EUI-48")
    }
    /// `U`: UTF-8 up to a NUL (consumed). A string running to the end without a NUL is accepted.
    pub fn utf8(&mut self) -> Result<String, Error> {
        let (s, consumed) = match self.buf.iter().position(|&b| b == 0) {
            Some(i) => (&self.buf[..i], i + 1),
            None => (self.buf, self.buf.len()),
        };
        let s = std::str::from_utf8(s)
            .map_err(|_| Error::Protocol("Spinel string is not UTF-8".into()))?;
        self.buf = &self.buf[consumed..];
        Ok(s.to_owned())
    }
    /// `d`: u16 LE length, then that many bytes.
    pub fn data(&mut self) -> Result<&'a [u8], Error> {
        let n = self.u16()? as usize;
        self.take(n, "length-prefixed data")
    }
    /// `D`: everything that is left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }
    /// `t(...)`: u16 LE length, then a reader over exactly that many bytes.
    pub fn structure(&mut self) -> Result<Reader<'a>, Error> {
        let n = self.u16()? as usize;
        Ok(Reader::new(self.take(n, "struct")?))
    }
    /// True when nothing is left (the end of an `A(...)` array).
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }
}

/// Builds a Spinel value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Writer::default()
    }
    /// `b`
    pub fn push_bool(&mut self, v: bool) -> &mut Self {
        self.buf.push(v as u8);
        self
    }
    /// `C`
    pub fn push_u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }
    /// `S`
    pub fn push_u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// `L`
    pub fn push_u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// `X`
    pub fn push_u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// `i`
    pub fn push_uint(&mut self, v: u32) -> &mut Self {
        encode_packed_uint(v, &mut self.buf);
        self
    }
    /// `6`
    pub fn push_ipv6(&mut self, v: &Ipv6Addr) -> &mut Self {
        self.buf.extend_from_slice(&v.octets());
        self
    }
    /// `E`
    pub fn push_eui64(&mut self, v: &[u8; 8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }
    /// `e`
    pub fn push_eui48(&mut self, v: &[u8; 6]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }
    /// `U`: the string and a NUL. A NUL inside `v` would end the string early for the reader.
    pub fn push_utf8(&mut self, v: &str) -> &mut Self {
        self.buf.extend_from_slice(v.as_bytes());
        self.buf.push(0);
        self
    }
    /// `d`: u16 LE length and the bytes. Panics if `v` is longer than 65535 bytes (a caller bug).
    pub fn push_data(&mut self, v: &[u8]) -> &mut Self {
        let n = u16::try_from(v.len()).expect("Spinel `d` data longer than 65535 bytes");
        self.push_u16(n);
        self.buf.extend_from_slice(v);
        self
    }
    /// `D`: the bytes, unframed (must be last).
    pub fn push_rest(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }
    /// `t(...)`: u16 LE length, then what `f` writes. Panics if the struct exceeds 65535 bytes.
    pub fn push_structure(&mut self, f: impl FnOnce(&mut Writer)) -> &mut Self {
        let mut inner = Writer::new();
        f(&mut inner);
        self.push_data(&inner.buf)
    }
    /// Bytes written so far.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }
    /// The finished value.
    pub fn into_vec(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip_all_types() {
        let addr: Ipv6Addr = "fd00::abcd".parse().unwrap();
        let mut w = Writer::new();
        w.push_bool(true)
            .push_u8(0xAB)
            .push_u16(0x1234)
            .push_u32(0xDEADBEEF)
            .push_u64(0x0102030405060708)
            .push_uint(1337)
            .push_ipv6(&addr)
            .push_eui64(&[1, 2, 3, 4, 5, 6, 7, 8])
            .push_eui48(&[9, 8, 7, 6, 5, 4])
            .push_utf8("OpenThread")
            .push_data(&[0xCC, 0xDD])
            .push_structure(|w| {
                w.push_u8(7).push_utf8("x");
            })
            .push_rest(&[0xEE]);
        let bytes = w.into_vec();
        let mut r = Reader::new(&bytes);
        assert!(r.bool().unwrap());
        assert_eq!(r.u8().unwrap(), 0xAB);
        assert_eq!(r.u16().unwrap(), 0x1234);
        assert_eq!(r.u32().unwrap(), 0xDEADBEEF);
        assert_eq!(r.u64().unwrap(), 0x0102030405060708);
        assert_eq!(r.uint().unwrap(), 1337);
        assert_eq!(r.ipv6().unwrap(), addr);
        assert_eq!(r.eui64().unwrap(), [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(r.eui48().unwrap(), [9, 8, 7, 6, 5, 4]);
        assert_eq!(r.utf8().unwrap(), "OpenThread");
        assert_eq!(r.data().unwrap(), &[0xCC, 0xDD]);
        let mut s = r.structure().unwrap();
        assert_eq!(s.u8().unwrap(), 7);
        assert_eq!(s.utf8().unwrap(), "x");
        assert!(s.is_empty());
        assert_eq!(r.rest(), &[0xEE]);
        assert!(r.is_empty());
    }

    #[test]
    fn exact_bytes() {
        // UDP forward stream value `dS6S`: len 2, "hi", peer port 1234, fd00::1, local port 49153.
        let mut w = Writer::new();
        w.push_data(b"hi")
            .push_u16(1234)
            .push_ipv6(&"fd00::1".parse().unwrap())
            .push_u16(49153);
        assert_eq!(
            hex::encode(w.as_slice()),
            concat!(
                "0200",
                "6869",
                "d204",
                "fd00",
                "000000000000",
                "0000000000000001",
                "01c0"
            )
        );
    }

    #[test]
    fn array_of_uint_caps() {
        let bytes = [0x05, 0x20, 0x80, 0x08, 0x82, 0x08];
        let mut r = Reader::new(&bytes);
        let mut v = Vec::new();
        while !r.is_empty() {
            v.push(r.uint().unwrap());
        }
        assert_eq!(v, [5, 32, 1024, 1026]);
    }

    #[test]
    fn short_values_are_errors() {
        assert!(Reader::new(&[]).u8().is_err());
        assert!(Reader::new(&[1]).u16().is_err());
        assert!(Reader::new(&[1, 2, 3]).u32().is_err());
        assert!(Reader::new(&[0; 7]).u64().is_err());
        assert!(Reader::new(&[0; 15]).ipv6().is_err());
        assert!(Reader::new(&[5, 0, 1]).data().is_err());
        assert!(Reader::new(&[5, 0, 1]).structure().is_err());
        assert!(Reader::new(&[2]).bool().is_err());
        assert!(Reader::new(&[0xFF, 0xFE, 0]).utf8().is_err());
        assert_eq!(Reader::new(b"abc").utf8().unwrap(), "abc");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64), ops in proptest::collection::vec(0u8..15, 0..16)) {
            let mut r = Reader::new(&bytes);
            for op in ops {
                let _ = match op {
                    0 => r.bool().map(|_| ()),
                    1 => r.u8().map(|_| ()),
                    2 => r.u16().map(|_| ()),
                    3 => r.u32().map(|_| ()),
                    4 => r.u64().map(|_| ()),
                    5 => r.uint().map(|_| ()),
                    6 => r.ipv6().map(|_| ()),
                    7 => r.eui64().map(|_| ()),
                    8 => r.eui48().map(|_| ()),
                    9 => r.utf8().map(|_| ()),
                    10 => r.data().map(|_| ()),
                    11 => r.structure().map(|mut s| { let _ = s.uint(); }),
                    12 => { let _ = r.rest(); Ok(()) }
                    _ => { let _ = r.is_empty(); Ok(()) }
                };
            }
        }

        #[test]
        fn uint_round_trip(v in any::<u32>()) {
            let mut w = Writer::new();
            w.push_uint(v);
            let b = w.into_vec();
            prop_assert_eq!(Reader::new(&b).uint().unwrap(), v);
        }
    }
}
