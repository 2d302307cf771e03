//! Fuzz entry point of the mesh bridge's wire parsers (`agent/src/bridge/wire.rs`), shared (by
//! `#[path]`) by the cargo-fuzz target `agent/fuzz/fuzz_targets/bridge_wire.rs` and the suite's
//! proptest `agent/tests/bridge_wire_fuzz.rs`. The including crate root declares `mod wire` (the
//! agent's own file, by `#[path]`; the agent is a binary crate). Any bytes, never a panic.

use std::net::Ipv6Addr;

use crate::wire;

/// An IPv6 packet from the TUN interface, the infrastructure link or the co-processor's
/// STREAM_NET: the header walk, and the ICMPv6 parsers on its payload (and on the raw input, so
/// they are reached without a valid IPv6 header). First byte: bit 0 set = the rest is a Spinel
/// STREAM_NET / table value instead.
pub fn bridge_wire(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    if sel & 1 == 1 {
        if let Ok(p) = wire::decode_stream_net(rest) {
            packet(p);
        }
        let _ = wire::decode_address_table(rest);
        let _ = wire::decode_multicast_table(rest);
        if let Ok(v) = wire::decode_on_mesh_nets(rest) {
            for p in &v {
                let _ = p.is_omr_like();
            }
        }
        let ml = wire::decode_ml_prefix(rest).ok();
        for c in rest.chunks(16).filter(|c| c.len() == 16) {
            let a = Ipv6Addr::from(<[u8; 16]>::try_from(c).unwrap());
            let _ = wire::is_locator(&a, ml.as_ref());
            let _ = wire::multicast_scope(&a);
        }
        let _ = wire::InfraIcmp6::decode(rest);
        return;
    }
    packet(rest);
    icmp(rest);
}

fn packet(p: &[u8]) {
    let Some(info) = wire::parse_ipv6(p) else {
        return;
    };
    assert!(info.payload.len() <= p.len());
    let _ = wire::multicast_scope(&info.dst);
    if info.protocol == 58 {
        icmp(info.payload);
    }
}

fn icmp(m: &[u8]) {
    let _ = wire::parse_mld(m);
    if let Some(ra) = wire::parse_router_advert(m) {
        for pi in &ra.prefixes {
            let _ = pi.prefix.contains(&Ipv6Addr::UNSPECIFIED);
        }
        let _ = ra.routes.len();
    }
}
