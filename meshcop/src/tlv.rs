//! MeshCoP TLV codec (Thread specification §8.10; OpenThread `src/core/meshcop/meshcop_tlvs.hpp`,
//! `src/core/common/tlvs.cpp`).
//!
//! Wire format: type (1 byte), length (1 byte), value. A length byte of 0xFF means a 2-byte
//! big-endian length follows (the "extended" form, used e.g. for Joiner DTLS Encapsulation and by
//! OpenThread's UDP_RX.ntf). Encoding picks the extended form automatically for values longer than
//! 254 bytes; decoding accepts both forms for any length.
//!
//! - [`TlvRef`] is a borrowed view of one TLV; [`iter`] walks a buffer and yields `Err` (once, then
//!   stops) when a TLV header or value is truncated. Nothing here panics on any input.
//! - [`Tlv`] is the owned form, with builders for the TLVs the commissioner sends and typed
//!   accessors (on [`TlvRef`], reachable from [`Tlv::view`]) that check the value length.
//!
//! Validated against: OpenThread's active dataset bytes (see `dataset.rs` tests) and
//! hand-built vectors for the extended form below.

use core::fmt;
use std::net::Ipv6Addr;

use crate::credentials::Kek;
use crate::error::Error;

/// MeshCoP TLV type numbers (thread-facts §2; OpenThread `meshcop_tlvs.hpp`).
pub mod types {
    pub const CHANNEL: u8 = 0;
    pub const PAN_ID: u8 = 1;
    pub const EXT_PAN_ID: u8 = 2;
    pub const NETWORK_NAME: u8 = 3;
    pub const PSKC: u8 = 4;
    pub const NETWORK_KEY: u8 = 5;
    pub const KEY_SEQUENCE: u8 = 6;
    pub const MESH_LOCAL_PREFIX: u8 = 7;
    pub const STEERING_DATA: u8 = 8;
    pub const BORDER_AGENT_LOCATOR: u8 = 9;
    pub const COMMISSIONER_ID: u8 = 10;
    pub const COMMISSIONER_SESSION_ID: u8 = 11;
    pub const SECURITY_POLICY: u8 = 12;
    pub const GET: u8 = 13;
    pub const ACTIVE_TIMESTAMP: u8 = 14;
    pub const COMMISSIONER_UDP_PORT: u8 = 15;
    pub const STATE: u8 = 16;
    pub const JOINER_DTLS_ENCAPSULATION: u8 = 17;
    pub const JOINER_UDP_PORT: u8 = 18;
    pub const JOINER_IID: u8 = 19;
    pub const JOINER_ROUTER_LOCATOR: u8 = 20;
    pub const JOINER_ROUTER_KEK: u8 = 21;
    pub const PROVISIONING_URL: u8 = 32;
    pub const VENDOR_NAME: u8 = 33;
    pub const VENDOR_MODEL: u8 = 34;
    pub const VENDOR_SW_VERSION: u8 = 35;
    pub const VENDOR_DATA: u8 = 36;
    pub const VENDOR_STACK_VERSION: u8 = 37;
    pub const UDP_ENCAPSULATION: u8 = 48;
    pub const IPV6_ADDRESS: u8 = 49;
    pub const PENDING_TIMESTAMP: u8 = 51;
    pub const DELAY_TIMER: u8 = 52;
    pub const CHANNEL_MASK: u8 = 53;
    pub const COUNT: u8 = 54;
    pub const PERIOD: u8 = 55;
    pub const SCAN_DURATION: u8 = 56;
    pub const ENERGY_LIST: u8 = 57;
    /// Wake-up Channel (OpenThread 1.4 datasets carry it; kept as an unknown TLV by `Dataset`).
    pub const WAKEUP_CHANNEL: u8 = 74;

    /// A human-readable name of a TLV type, for logs.
    pub fn name(typ: u8) -> Option<&'static str> {
        Some(match typ {
            CHANNEL => "Channel",
            PAN_ID => "PAN ID",
            EXT_PAN_ID => "Ext PAN ID",
            NETWORK_NAME => "Network Name",
            PSKC => "PSKc",
            NETWORK_KEY => "Network Key",
            KEY_SEQUENCE => "Key Sequence",
            MESH_LOCAL_PREFIX => "Mesh-Local Prefix",
            STEERING_DATA => "Steering Data",
            BORDER_AGENT_LOCATOR => "Border Agent Locator",
            COMMISSIONER_ID => "Commissioner ID",
            COMMISSIONER_SESSION_ID => "Commissioner Session ID",
            SECURITY_POLICY => "Security Policy",
            GET => "Get",
            ACTIVE_TIMESTAMP => "Active Timestamp",
            COMMISSIONER_UDP_PORT => "Commissioner UDP Port",
            STATE => "State",
            JOINER_DTLS_ENCAPSULATION => "Joiner DTLS Encapsulation",
            JOINER_UDP_PORT => "Joiner UDP Port",
            JOINER_IID => "Joiner IID",
            JOINER_ROUTER_LOCATOR => "Joiner Router Locator",
            JOINER_ROUTER_KEK => "Joiner Router KEK",
            PROVISIONING_URL => "Provisioning URL",
            VENDOR_NAME => "Vendor Name",
            VENDOR_MODEL => "Vendor Model",
            VENDOR_SW_VERSION => "Vendor SW Version",
            VENDOR_DATA => "Vendor Data",
            VENDOR_STACK_VERSION => "Vendor Stack Version",
            UDP_ENCAPSULATION => "UDP Encapsulation",
            IPV6_ADDRESS => "IPv6 Address",
            PENDING_TIMESTAMP => "Pending Timestamp",
            DELAY_TIMER => "Delay Timer",
            CHANNEL_MASK => "Channel Mask",
            COUNT => "Count",
            PERIOD => "Period",
            SCAN_DURATION => "Scan Duration",
            ENERGY_LIST => "Energy List",
            WAKEUP_CHANNEL => "Wake-up Channel",
            _ => return None,
        })
    }

    /// Whether the value of this TLV type is secret (must not be logged).
    pub fn is_secret(typ: u8) -> bool {
        matches!(typ, PSKC | NETWORK_KEY | JOINER_ROUTER_KEK)
    }
}

/// State TLV values (signed byte).
pub mod state {
    pub const ACCEPT: i8 = 1;
    pub const PENDING: i8 = 0;
    pub const REJECT: i8 = -1;
}

/// Largest value length the short form carries; longer values use the extended form.
pub const MAX_SHORT_LEN: usize = 254;
/// Largest value length that can be encoded at all.
pub const MAX_LEN: usize = u16::MAX as usize;

/// A borrowed view of one TLV inside a buffer.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TlvRef<'a> {
    pub typ: u8,
    pub value: &'a [u8],
}

/// An owned TLV.
#[derive(Clone, PartialEq, Eq)]
pub struct Tlv {
    pub typ: u8,
    pub value: Vec<u8>,
}

fn fmt_tlv(f: &mut fmt::Formatter<'_>, typ: u8, value: &[u8]) -> fmt::Result {
    let name = types::name(typ).unwrap_or("Unknown");
    if types::is_secret(typ) {
        write!(f, "Tlv({typ} {name}, {} bytes <redacted>)", value.len())
    } else {
        write!(f, "Tlv({typ} {name}, {})", hex::encode(value))
    }
}

impl fmt::Debug for TlvRef<'_> {
    /// Hex of the value, except for secret types (PSKc, network key, KEK), which are redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_tlv(f, self.typ, self.value)
    }
}
impl fmt::Debug for Tlv {
    /// Hex of the value, except for secret types (PSKc, network key, KEK), which are redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_tlv(f, self.typ, &self.value)
    }
}

/// Iterator over the TLVs in a buffer; see [`iter`].
#[derive(Clone)]
pub struct TlvIter<'a> {
    rest: &'a [u8],
    failed: bool,
}

/// Iterates over the TLVs of `buf`. Yields `Err(Error::Truncated)` once if a TLV is cut short,
/// then ends.
pub fn iter(buf: &[u8]) -> TlvIter<'_> {
    TlvIter {
        rest: buf,
        failed: false,
    }
}

impl<'a> Iterator for TlvIter<'a> {
    type Item = Result<TlvRef<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        match parse_one(self.rest) {
            Ok((tlv, used)) => {
                self.rest = &self.rest[used..];
                Some(Ok(tlv))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

impl core::iter::FusedIterator for TlvIter<'_> {}

/// Parses the TLV at the start of `buf`; returns it and the number of bytes it occupies.
pub fn parse_one(buf: &[u8]) -> Result<(TlvRef<'_>, usize), Error> {
    let trunc = |need| Error::Truncated {
        what: "TLV",
        need,
        have: buf.len(),
    };
    if buf.len() < 2 {
        return Err(trunc(2));
    }
    let typ = buf[0];
    let (len, hdr) = if buf[1] == 0xFF {
        if buf.len() < 4 {
            return Err(trunc(4));
        }
        (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4)
    } else {
        (buf[1] as usize, 2)
    };
    let end = hdr + len;
    if buf.len() < end {
        return Err(trunc(end));
    }
    Ok((
        TlvRef {
            typ,
            value: &buf[hdr..end],
        },
        end,
    ))
}

/// Parses a whole buffer into owned TLVs.
pub fn parse_all(buf: &[u8]) -> Result<Vec<Tlv>, Error> {
    iter(buf).map(|r| r.map(TlvRef::to_owned)).collect()
}

/// Finds the first TLV of type `typ`. The whole buffer must be well-formed (a truncated TLV
/// anywhere is an error, even after the match).
pub fn find(buf: &[u8], typ: u8) -> Result<Option<TlvRef<'_>>, Error> {
    let mut found = None;
    for t in iter(buf) {
        let t = t?;
        if found.is_none() && t.typ == typ {
            found = Some(t);
        }
    }
    Ok(found)
}

/// Finds the first TLV of type `typ`; its absence is an error naming the TLV.
pub fn require(buf: &[u8], typ: u8) -> Result<TlvRef<'_>, Error> {
    find(buf, typ)?.ok_or(Error::InvalidValue {
        what: types::name(typ).unwrap_or("TLV"),
        reason: "required TLV is missing",
    })
}

/// Number of bytes `emit` writes for a value of `value_len` bytes.
pub fn encoded_len(value_len: usize) -> usize {
    if value_len > MAX_SHORT_LEN {
        4 + value_len
    } else {
        2 + value_len
    }
}

/// Appends one TLV; the extended length form is used for values longer than 254 bytes.
pub fn emit(typ: u8, value: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    if value.len() > MAX_LEN {
        return Err(Error::TooLong {
            what: "TLV value",
            len: value.len(),
            max: MAX_LEN,
        });
    }
    out.reserve(encoded_len(value.len()));
    out.push(typ);
    if value.len() > MAX_SHORT_LEN {
        out.push(0xFF);
        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    } else {
        out.push(value.len() as u8);
    }
    out.extend_from_slice(value);
    Ok(())
}

/// Encodes a list of TLVs.
pub fn encode_all(tlvs: &[Tlv]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(tlvs.iter().map(Tlv::encoded_len).sum());
    for t in tlvs {
        t.emit(&mut out)?;
    }
    Ok(out)
}

fn fixed<'a, const N: usize>(t: &TlvRef<'a>, expected: &'static str) -> Result<[u8; N], Error> {
    t.value.try_into().map_err(|_| Error::BadTlvLength {
        typ: t.typ,
        len: t.value.len(),
        expected,
    })
}

impl<'a> TlvRef<'a> {
    pub fn to_owned(self) -> Tlv {
        Tlv {
            typ: self.typ,
            value: self.value.to_vec(),
        }
    }
    /// Bytes this TLV occupies when re-encoded by [`emit`].
    pub fn encoded_len(&self) -> usize {
        encoded_len(self.value.len())
    }

    // --- generic typed accessors (exact length checked) ---
    pub fn u8(&self) -> Result<u8, Error> {
        fixed::<1>(self, "1 byte").map(|b| b[0])
    }
    pub fn i8(&self) -> Result<i8, Error> {
        fixed::<1>(self, "1 byte").map(|b| b[0] as i8)
    }
    pub fn u16(&self) -> Result<u16, Error> {
        fixed::<2>(self, "2 bytes").map(u16::from_be_bytes)
    }
    pub fn u32(&self) -> Result<u32, Error> {
        fixed::<4>(self, "4 bytes").map(u32::from_be_bytes)
    }
    pub fn u64(&self) -> Result<u64, Error> {
        fixed::<8>(self, "8 bytes").map(u64::from_be_bytes)
    }
    pub fn array8(&self) -> Result<[u8; 8], Error> {
        fixed::<8>(self, "8 bytes")
    }
    pub fn array16(&self) -> Result<[u8; 16], Error> {
        fixed::<16>(self, "16 bytes")
    }
    /// The value as UTF-8 text.
    pub fn utf8(&self) -> Result<&'a str, Error> {
        core::str::from_utf8(self.value).map_err(|_| Error::InvalidValue {
            what: "TLV text",
            reason: "not valid UTF-8",
        })
    }
    pub fn ipv6(&self) -> Result<Ipv6Addr, Error> {
        fixed::<16>(self, "16 bytes").map(Ipv6Addr::from)
    }

    // --- named accessors ---
    /// State TLV: 1 accept, 0 pending, -1 reject (see [`state`]).
    pub fn state(&self) -> Result<i8, Error> {
        self.i8()
    }
    /// Commissioner Session ID, Joiner UDP Port, Joiner Router Locator, Border Agent Locator,
    /// Commissioner UDP Port: all u16 big-endian.
    pub fn commissioner_session_id(&self) -> Result<u16, Error> {
        self.u16()
    }
    /// Steering Data: 1..=16 bytes.
    pub fn steering_data(&self) -> Result<&'a [u8], Error> {
        if self.value.is_empty() || self.value.len() > 16 {
            return Err(Error::BadTlvLength {
                typ: self.typ,
                len: self.value.len(),
                expected: "1..=16 bytes",
            });
        }
        Ok(self.value)
    }
    /// Joiner IID (8 bytes).
    pub fn joiner_iid(&self) -> Result<[u8; 8], Error> {
        self.array8()
    }
    /// UDP Encapsulation (type 48): source port, destination port, payload.
    pub fn udp_encapsulation(&self) -> Result<(u16, u16, &'a [u8]), Error> {
        if self.value.len() < 4 {
            return Err(Error::BadTlvLength {
                typ: self.typ,
                len: self.value.len(),
                expected: "at least 4 bytes",
            });
        }
        let v = self.value;
        Ok((
            u16::from_be_bytes([v[0], v[1]]),
            u16::from_be_bytes([v[2], v[3]]),
            &v[4..],
        ))
    }
}

impl Tlv {
    pub fn new(typ: u8, value: impl Into<Vec<u8>>) -> Tlv {
        Tlv {
            typ,
            value: value.into(),
        }
    }
    /// A borrowed view, for the typed accessors.
    pub fn view(&self) -> TlvRef<'_> {
        TlvRef {
            typ: self.typ,
            value: &self.value,
        }
    }
    pub fn encoded_len(&self) -> usize {
        encoded_len(self.value.len())
    }
    /// Appends the encoded TLV (extended length form when the value exceeds 254 bytes).
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        emit(self.typ, &self.value, out)
    }
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let mut v = Vec::new();
        self.emit(&mut v)?;
        Ok(v)
    }

    // --- builders ---
    pub fn u8(typ: u8, v: u8) -> Tlv {
        Tlv::new(typ, vec![v])
    }
    pub fn u16(typ: u8, v: u16) -> Tlv {
        Tlv::new(typ, v.to_be_bytes().to_vec())
    }
    pub fn utf8(typ: u8, s: &str) -> Tlv {
        Tlv::new(typ, s.as_bytes().to_vec())
    }
    pub fn state(v: i8) -> Tlv {
        Tlv::new(types::STATE, vec![v as u8])
    }
    pub fn commissioner_session_id(id: u16) -> Tlv {
        Tlv::u16(types::COMMISSIONER_SESSION_ID, id)
    }
    pub fn commissioner_id(id: &str) -> Tlv {
        Tlv::utf8(types::COMMISSIONER_ID, id)
    }
    pub fn border_agent_locator(rloc16: u16) -> Tlv {
        Tlv::u16(types::BORDER_AGENT_LOCATOR, rloc16)
    }
    /// Steering Data; length 1..=16 is the caller's responsibility (see `steering::SteeringData`).
    pub fn steering_data(bloom: &[u8]) -> Tlv {
        Tlv::new(types::STEERING_DATA, bloom.to_vec())
    }
    pub fn joiner_udp_port(port: u16) -> Tlv {
        Tlv::u16(types::JOINER_UDP_PORT, port)
    }
    pub fn joiner_iid(iid: &[u8; 8]) -> Tlv {
        Tlv::new(types::JOINER_IID, iid.to_vec())
    }
    pub fn joiner_router_locator(rloc16: u16) -> Tlv {
        Tlv::u16(types::JOINER_ROUTER_LOCATOR, rloc16)
    }
    pub fn joiner_dtls_encapsulation(record: impl Into<Vec<u8>>) -> Tlv {
        Tlv::new(types::JOINER_DTLS_ENCAPSULATION, record)
    }
    pub fn joiner_router_kek(kek: &Kek) -> Tlv {
        Tlv::new(types::JOINER_ROUTER_KEK, kek.as_bytes().to_vec())
    }
    pub fn provisioning_url(url: &str) -> Tlv {
        Tlv::utf8(types::PROVISIONING_URL, url)
    }
    pub fn vendor_name(s: &str) -> Tlv {
        Tlv::utf8(types::VENDOR_NAME, s)
    }
    pub fn vendor_model(s: &str) -> Tlv {
        Tlv::utf8(types::VENDOR_MODEL, s)
    }
    pub fn vendor_sw_version(s: &str) -> Tlv {
        Tlv::utf8(types::VENDOR_SW_VERSION, s)
    }
    pub fn vendor_data(d: &[u8]) -> Tlv {
        Tlv::new(types::VENDOR_DATA, d.to_vec())
    }
    /// Vendor Stack Version: 6 bytes (OUI 3, build/revision/version fields) kept raw.
    pub fn vendor_stack_version(d: &[u8]) -> Tlv {
        Tlv::new(types::VENDOR_STACK_VERSION, d.to_vec())
    }
    /// UDP Encapsulation (type 48): source port, destination port, then the datagram payload.
    pub fn udp_encapsulation(src_port: u16, dst_port: u16, payload: &[u8]) -> Tlv {
        let mut v = Vec::with_capacity(4 + payload.len());
        v.extend_from_slice(&src_port.to_be_bytes());
        v.extend_from_slice(&dst_port.to_be_bytes());
        v.extend_from_slice(payload);
        Tlv::new(types::UDP_ENCAPSULATION, v)
    }
    /// IPv6 Address (type 49).
    pub fn ipv6_address(addr: Ipv6Addr) -> Tlv {
        Tlv::new(types::IPV6_ADDRESS, addr.octets().to_vec())
    }
    /// Get TLV: the list of TLV types requested by a MGMT_*_GET.
    pub fn get(types_wanted: &[u8]) -> Tlv {
        Tlv::new(types::GET, types_wanted.to_vec())
    }
}

impl<'a> From<TlvRef<'a>> for Tlv {
    fn from(t: TlvRef<'a>) -> Tlv {
        t.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_form_roundtrip() {
        let bytes = hex::decode("0b02abcd1001ff0800").unwrap();
        let tlvs = parse_all(&bytes).unwrap();
        assert_eq!(tlvs.len(), 3);
        assert_eq!(tlvs[0].view().commissioner_session_id().unwrap(), 0xabcd);
        assert_eq!(tlvs[1].view().state().unwrap(), state::REJECT);
        assert!(tlvs[2].view().steering_data().is_err()); // empty steering data
        assert_eq!(encode_all(&tlvs).unwrap(), bytes);
    }

    #[test]
    fn extended_form() {
        let payload: Vec<u8> = (0..427u32).map(|i| i as u8).collect();
        let t = Tlv::joiner_dtls_encapsulation(payload.clone());
        let b = t.to_bytes().unwrap();
        assert_eq!(&b[..4], &[17, 0xFF, 0x01, 0xAB]);
        assert_eq!(b.len(), 431);
        let (r, used) = parse_one(&b).unwrap();
        assert_eq!(used, 431);
        assert_eq!(r.value, &payload[..]);
        // boundary: 254 short, 255 extended
        assert_eq!(Tlv::new(1, vec![0; 254]).to_bytes().unwrap()[1], 254);
        assert_eq!(
            &Tlv::new(1, vec![0; 255]).to_bytes().unwrap()[1..4],
            &[0xFF, 0, 255]
        );
        // extended form with a small value decodes too (OpenThread's UDP_RX uses it)
        let (r, used) = parse_one(&[49, 0xFF, 0, 2, 0xAA, 0xBB]).unwrap();
        assert_eq!((r.typ, r.value, used), (49, &[0xAA, 0xBB][..], 6));
        assert!(Tlv::new(1, vec![0; 65536]).to_bytes().is_err());
    }

    #[test]
    fn truncation_errors() {
        for bad in [
            &[0x01][..],
            &[0x01, 0x02, 0xAA],
            &[0x11, 0xFF, 0x01],
            &[0x11, 0xFF, 0x00, 0x03, 1, 2],
        ] {
            let mut it = iter(bad);
            assert!(
                matches!(it.next(), Some(Err(Error::Truncated { .. }))),
                "{bad:?}"
            );
            assert!(it.next().is_none());
        }
        // error after a good TLV
        let v: Vec<_> = iter(&[0x10, 0x01, 0x01, 0x0b]).collect();
        assert!(v[0].is_ok() && v[1].is_err() && v.len() == 2);
        assert!(find(&[0x10, 0x01, 0x01, 0x0b], 0x10).is_err());
    }

    #[test]
    fn udp_encapsulation_and_ipv6() {
        let t = Tlv::udp_encapsulation(61631, 61631, &[1, 2, 3]);
        assert_eq!(
            t.to_bytes().unwrap(),
            hex::decode("3007f0bff0bf010203").unwrap()
        );
        assert_eq!(
            t.view().udp_encapsulation().unwrap(),
            (61631, 61631, &[1u8, 2, 3][..])
        );
        let a: Ipv6Addr = "fd00::ff:fe00:fc00".parse().unwrap();
        let t = Tlv::ipv6_address(a);
        assert_eq!(t.view().ipv6().unwrap(), a);
        assert!(Tlv::new(48, vec![0; 3]).view().udp_encapsulation().is_err());
    }

    #[test]
    fn builders() {
        let mut out = Vec::new();
        for t in [
            Tlv::commissioner_id("thread-agent"),
            Tlv::commissioner_session_id(0x1234),
            Tlv::steering_data(&[0xFF]),
            Tlv::joiner_udp_port(1000),
            Tlv::joiner_iid(&[1, 2, 3, 4, 5, 6, 7, 8]),
            Tlv::joiner_router_locator(0x0400),
            Tlv::state(state::ACCEPT),
            Tlv::border_agent_locator(0xfc00),
            Tlv::provisioning_url("https://x"),
            Tlv::vendor_name("V"),
        ] {
            t.emit(&mut out).unwrap();
        }
        assert_eq!(
            hex::encode(&out),
            "0a0c7468726561642d6167656e740b0212340801ff120203e8130801020304050607081402040010010109\
             02fc00200968747470733a2f2f78210156"
        );
        assert_eq!(
            require(&out, types::JOINER_UDP_PORT)
                .unwrap()
                .u16()
                .unwrap(),
            1000
        );
        assert_eq!(
            find(&out, types::JOINER_IID)
                .unwrap()
                .unwrap()
                .joiner_iid()
                .unwrap(),
            [1, 2, 3, 4, 5, 6, 7, 8]
        );
        assert!(require(&out, types::PSKC).is_err());
    }

    #[test]
    fn debug_redacts_secret_types() {
        let k = Tlv::joiner_router_kek(&Kek::from_bytes([0xAB; 16]));
        let s = format!("{k:?}");
        assert!(!s.contains("abab"), "{s}");
        assert!(format!("{:?}", Tlv::new(5, vec![0xAB; 16])).contains("redacted"));
        assert!(format!("{:?}", Tlv::state(1)).contains("State, 01"));
    }
}
