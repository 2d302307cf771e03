//! `THREAD_UDP_FORWARD_STREAM` (OpenThread `src/ncp/ncp_base_ftd.cpp`): `dS6S`, all integers
//! little-endian: u16 payload length, the UDP payload, peer port, 16-byte peer address, local port.
//!
//! Guarantees: [`decode_forward`] never panics; a short value is `None`.

use std::net::Ipv6Addr;

use crate::codec::{Reader, Writer};

/// A datagram from the UDP forward stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    pub payload: Vec<u8>,
    pub peer_port: u16,
    pub peer_addr: Ipv6Addr,
    pub local_port: u16,
}

/// Decodes a `THREAD_UDP_FORWARD_STREAM` value (`dS6S`, little-endian).
pub fn decode_forward(value: &[u8]) -> Option<Forwarded> {
    let mut r = Reader::new(value);
    let payload = r.data().ok()?.to_vec();
    let peer_port = r.u16().ok()?;
    let peer_addr = r.ipv6().ok()?;
    let local_port = r.u16().ok()?;
    Some(Forwarded {
        payload,
        peer_port,
        peer_addr,
        local_port,
    })
}

/// Encodes a `THREAD_UDP_FORWARD_STREAM` value.
pub fn encode_forward(
    payload: &[u8],
    peer_port: u16,
    peer_addr: &Ipv6Addr,
    local_port: u16,
) -> Vec<u8> {
    let mut w = Writer::new();
    w.push_data(payload)
        .push_u16(peer_port)
        .push_ipv6(peer_addr)
        .push_u16(local_port);
    w.into_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER_ADDR: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0xabcd);
    const PEER_PORT: u16 = 49999;

    #[test]
    fn forward_stream_codec() {
        let v = encode_forward(&[1, 2, 3], PEER_PORT, &PEER_ADDR, 49153);
        // u16 LE length, payload, u16 LE peer port, address, u16 LE local port.
        assert_eq!(&v[..5], &[3, 0, 1, 2, 3]);
        assert_eq!(&v[5..7], &PEER_PORT.to_le_bytes());
        assert_eq!(&v[7..23], &PEER_ADDR.octets());
        assert_eq!(&v[23..], &49153u16.to_le_bytes());
        let f = decode_forward(&v).unwrap();
        assert_eq!(f.payload, vec![1, 2, 3]);
        assert_eq!(
            (f.peer_port, f.peer_addr, f.local_port),
            (PEER_PORT, PEER_ADDR, 49153)
        );
        assert!(decode_forward(&v[..10]).is_none());
        assert!(decode_forward(&[0xff, 0xff]).is_none());
    }

    proptest::proptest! {
        /// Garbage never panics; whatever is encoded decodes back.
        #[test]
        fn forward_garbage_and_round_trip(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            port in proptest::prelude::any::<u16>(),
        ) {
            let _ = decode_forward(&bytes);
            let f = decode_forward(&encode_forward(&bytes, port, &PEER_ADDR, 1)).unwrap();
            proptest::prop_assert_eq!(f.payload, bytes);
            proptest::prop_assert_eq!(f.peer_port, port);
        }
    }
}
