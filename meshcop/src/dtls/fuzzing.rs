//! Entry points shared by the cargo-fuzz targets (`meshcop/fuzz/`) and the proptests: each takes
//! arbitrary bytes and must never panic. Not part of the stable API.

use std::time::Instant;

use super::handshake::{parse_fragments, ClientHello, HelloVerifyRequest, Reassembly, ServerHello};
use super::{Config, Connection};
use crate::ecjpake::{EcJpake, Role};
use crate::testing::XorShiftRng;

/// The record layer for `benches/handshake.rs`, which times sealing and opening directly.
pub use super::record::{parse_records, CipherState, CT_APPLICATION_DATA};

/// Record deframing and decryption with a fixed key.
pub fn record(data: &[u8]) {
    let cipher = CipherState::new(&[0x42; 16], &[1, 2, 3, 4]);
    for r in parse_records(data) {
        let _ = cipher.open(&r);
    }
}

/// Handshake fragment parsing, reassembly and the hello parsers.
pub fn handshake(data: &[u8]) {
    if let Ok(frags) = parse_fragments(data) {
        let mut r: Option<Reassembly> = None;
        for f in &frags {
            match &mut r {
                Some(r) => {
                    let _ = r.add(f);
                }
                None => r = Reassembly::new(f, 0).ok(),
            }
        }
        if let Some(r) = &r {
            let _ = r.complete();
        }
    }
    let _ = ClientHello::parse(data);
    let _ = ServerHello::parse(data);
    let _ = HelloVerifyRequest::parse(data);
}

/// EC-JPAKE parsers. First byte: bit 0 = role, bit 1 = round two (after a valid round one).
pub fn ecjpake(data: &[u8]) {
    let Some((&sel, msg)) = data.split_first() else {
        return;
    };
    let role = if sel & 1 == 0 {
        Role::Client
    } else {
        Role::Server
    };
    let Ok(mut e) = EcJpake::new(role, b"threadjpaketest") else {
        return;
    };
    let mut rng = XorShiftRng(0x9e37_79b9_7f4a_7c15 ^ u64::from(sel));
    if sel & 2 == 0 {
        let _ = e.read_round_one(msg);
        return;
    }
    // a valid peer round one (fixed RNG), so round-two input reaches the proof check
    let mut peer = match EcJpake::new(
        if role == Role::Client {
            Role::Server
        } else {
            Role::Client
        },
        b"threadjpaketest",
    ) {
        Ok(p) => p,
        Err(_) => return,
    };
    let one = peer.write_round_one(&mut rng);
    let _ = e.write_round_one(&mut rng);
    if e.read_round_one(&one).is_ok() && e.read_round_two(msg).is_ok() {
        let _ = e.premaster_secret();
    }
}

/// Whole connections: the input is split into datagrams at 0xFF 0xFF 0xFF and fed to a fresh
/// client and a fresh server.
pub fn connection(data: &[u8]) {
    let now = Instant::now();
    let Ok(mut c) = Connection::client(Config::client(b"J01NME"), Box::new(XorShiftRng(7)), now)
    else {
        return;
    };
    let Ok(mut s) = Connection::server(
        Config::server(b"J01NME"),
        b"k",
        b"peer",
        Box::new(XorShiftRng(9)),
    ) else {
        return;
    };
    for d in split(data) {
        c.handle_datagram(now, d);
        s.handle_datagram(now, d);
        while c.poll_transmit().is_some() {}
        while s.poll_transmit().is_some() {}
    }
    c.handle_timeout(now + std::time::Duration::from_secs(3600));
    while c.poll_event().is_some() {}
    while s.poll_event().is_some() {}
}

fn split(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i..i + 3] == [0xff, 0xff, 0xff] {
            out.push(&data[start..i]);
            i += 3;
            start = i;
        } else {
            i += 1;
        }
    }
    out.push(&data[start..]);
    out
}

/// The MeshCoP TLV parser (owned by `crate::tlv`).
pub fn tlv(data: &[u8]) {
    let _ = crate::tlv::parse_all(data);
    for t in crate::tlv::iter(data) {
        let _ = t;
    }
}
