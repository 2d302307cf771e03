//! Fuzz entry points of the `ncp` crate, shared (by `#[path]`) by the cargo-fuzz targets in
//! `ncp/fuzz/fuzz_targets/` and the suite's proptest `ncp/tests/fuzz_entry_points.rs`. Each takes
//! arbitrary bytes (what a co-processor could send) and must never panic. Public API only.

use ncp::hdlc;
use ncp::props::{border_agent, forward, net, scan, tables};
use ncp::spinel::{self, Frame};

/// HDLC-lite: the byte stream from the co-processor through the decoder; every frame it yields
/// goes through [`spinel`]. First byte: the decoder's frame limit (in 16-byte units, 0 = default).
/// Also checks that an encoded payload decodes back to itself.
pub fn hdlc(data: &[u8]) {
    let Some((&limit, stream)) = data.split_first() else {
        return;
    };
    let mut d = if limit == 0 {
        hdlc::Decoder::default()
    } else {
        hdlc::Decoder::new(usize::from(limit) * 16)
    };
    d.push_slice(stream, |r| {
        if let Ok(frame) = r {
            spinel(&frame);
        }
    });
    let _ = d.stats();
    // Round trip: the stream's bytes as a payload.
    let mut enc = Vec::new();
    hdlc::encode(stream, &mut enc);
    let mut d = hdlc::Decoder::new(stream.len() + 16);
    let mut got = Vec::new();
    d.push_slice(&enc, |r| got.push(r));
    assert_eq!(got.len(), 1, "one encoded frame decodes as one frame");
    assert_eq!(
        got[0].as_deref().ok(),
        Some(stream),
        "HDLC round trip changed the payload"
    );
}

/// A Spinel frame (an HDLC payload) and the typed decoders of property values; the value is also
/// fed to every decoder regardless of its key.
pub fn spinel(data: &[u8]) {
    let _ = spinel::decode_packed_uint(data);
    if let Ok(f) = Frame::parse(data) {
        let _ = format!("{f:?} {} {}", f.prop, f.command);
        let again = Frame::parse(&f.encode()).expect("an encoded frame parses");
        assert!(again == f, "Spinel frame changed in a round trip");
        values(&f.value);
    }
    values(data);
}

fn values(v: &[u8]) {
    let _ = border_agent::decode_border_agent_state(v);
    let _ = border_agent::decode_meshcop_service(v);
    let _ = forward::decode_forward(v);
    let _ = net::decode_stream_net(v);
    let _ = net::decode_address_table(v);
    let _ = net::decode_multicast_table(v);
    let _ = net::decode_on_mesh_nets(v);
    let _ = net::decode_ml_prefix(v);
    let _ = net::InfraIcmp6::decode(v);
    let _ = scan::decode_energy_result(v);
    if let Ok(b) = scan::decode_beacon(v) {
        let _ = (
            format!("{b:?}"),
            b.version(),
            b.is_native(),
            b.is_joinable(),
        );
    }
    let _ = tables::decode_neighbor_table(v);
    let _ = tables::decode_neighbor_entry(v);
    let _ = tables::decode_child_table(v);
    let _ = tables::decode_child_entry(v);
    let mut r = ncp::codec::Reader::new(v);
    while !r.is_empty() {
        let before = r.remaining();
        let _ = r.uint();
        let _ = r.utf8();
        let _ = r.data();
        if let Ok(mut s) = r.structure() {
            let _ = s.ipv6();
            let _ = s.eui64();
        }
        if r.remaining() == before {
            let _ = r.u8();
        }
    }
}
