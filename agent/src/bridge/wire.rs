//! Wire formats of the mesh bridge, without I/O: the few IPv6/ICMPv6 structures it looks into.
//! The Spinel values it exchanges with the co-processor are decoded by [`ncp::props::net`]
//! (re-exported here).
//!
//! IPv6 (RFC 8200), MLDv2 reports (RFC 3810 §5.2), router advertisements and their prefix
//! information options (RFC 4861 §4.2, §4.6.2).
//!
//! Guarantees: every parser bounds-checks and returns `None` on short or malformed
//! input; nothing here panics on bytes from the network. Validated by the
//! tests below against hand-built vectors and against the simulation co-processor (e2e).

use std::net::Ipv6Addr;

pub(crate) use ncp::props::net::{
    decode_address_table, decode_ml_prefix, decode_multicast_table, decode_on_mesh_nets,
    decode_stream_net, encode_infra_if_state, encode_stream_net, InfraIcmp6, OnMeshPrefix, Prefix,
};

/// ICMPv6 types the bridge cares about.
pub(crate) mod icmp6 {
    pub(crate) const ROUTER_SOLICIT: u8 = 133;
    pub(crate) const ROUTER_ADVERT: u8 = 134;
    pub(crate) const NEIGHBOR_SOLICIT: u8 = 135;
    pub(crate) const NEIGHBOR_ADVERT: u8 = 136;
    pub(crate) const MLD2_REPORT: u8 = 143;
    pub(crate) const MLD1_REPORT: u8 = 131;
    pub(crate) const MLD1_DONE: u8 = 132;
}

/// A read-only view of an IPv6 packet's fixed header and its upper-layer protocol (after
/// walking hop-by-hop, routing, destination-options and fragment headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ipv6Info<'a> {
    pub(crate) src: Ipv6Addr,
    pub(crate) dst: Ipv6Addr,
    pub(crate) hop_limit: u8,
    /// Upper-layer protocol (58 = ICMPv6, 17 = UDP...), or the header where the walk stopped.
    pub(crate) protocol: u8,
    /// The upper-layer payload (empty for a non-first fragment).
    pub(crate) payload: &'a [u8],
}

fn addr_at(b: &[u8], at: usize) -> Option<Ipv6Addr> {
    let s: [u8; 16] = b.get(at..at + 16)?.try_into().ok()?;
    Some(Ipv6Addr::from(s))
}

/// Parses an IPv6 packet; `None` if it is not IPv6 or is truncated.
pub(crate) fn parse_ipv6(p: &[u8]) -> Option<Ipv6Info<'_>> {
    if p.len() < 40 || p[0] >> 4 != 6 {
        return None;
    }
    let payload_len = usize::from(u16::from_be_bytes([p[4], p[5]]));
    let end = (40 + payload_len).min(p.len());
    let mut next = p[6];
    let mut at = 40;
    // Extension headers: hop-by-hop 0, routing 43, destination options 60, fragment 44.
    for _ in 0..8 {
        match next {
            0 | 43 | 60 => {
                let h = p.get(at..at + 2)?;
                next = h[0];
                at += (usize::from(h[1]) + 1) * 8;
            }
            44 => {
                let h = p.get(at..at + 8)?;
                next = h[0];
                let offset = u16::from_be_bytes([h[2], h[3]]) >> 3;
                at += 8;
                if offset != 0 {
                    at = end;
                }
            }
            _ => break,
        }
    }
    let payload = p.get(at.min(end)..end)?;
    Some(Ipv6Info {
        src: addr_at(p, 8)?,
        dst: addr_at(p, 24)?,
        hop_limit: p[7],
        protocol: next,
        payload,
    })
}

/// Multicast scope (RFC 4291 §2.7); `None` for a unicast address.
pub(crate) fn multicast_scope(a: &Ipv6Addr) -> Option<u8> {
    let o = a.octets();
    (o[0] == 0xff).then_some(o[1] & 0x0f)
}

/// A change of the host's multicast listening state seen in an MLD report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MldChange {
    Join(Ipv6Addr),
    Leave(Ipv6Addr),
}

/// The joins and leaves in an MLDv2 report (or MLDv1 report/done), given the ICMPv6 message.
/// Any-source joins (EXCLUDE mode) count as joins; a change to INCLUDE with no sources or a
/// BLOCK of all sources counts as a leave. Source-specific details are not tracked.
pub(crate) fn parse_mld(icmp: &[u8]) -> Vec<MldChange> {
    let mut out = Vec::new();
    match icmp.first() {
        Some(&icmp6::MLD1_REPORT) => {
            if let Some(a) = addr_at(icmp, 8) {
                out.push(MldChange::Join(a));
            }
        }
        Some(&icmp6::MLD1_DONE) => {
            if let Some(a) = addr_at(icmp, 8) {
                out.push(MldChange::Leave(a));
            }
        }
        Some(&icmp6::MLD2_REPORT) if icmp.len() >= 8 => {
            let records = u16::from_be_bytes([icmp[6], icmp[7]]);
            let mut at = 8;
            for _ in 0..records {
                let Some(h) = icmp.get(at..at + 4) else { break };
                let (kind, aux, sources) = (
                    h[0],
                    usize::from(h[1]),
                    usize::from(u16::from_be_bytes([h[2], h[3]])),
                );
                let Some(group) = addr_at(icmp, at + 4) else {
                    break;
                };
                at += 20 + sources * 16 + aux * 4;
                match kind {
                    // MODE_IS_EXCLUDE, CHANGE_TO_EXCLUDE: listening (any source).
                    2 | 4 => out.push(MldChange::Join(group)),
                    // MODE_IS_INCLUDE / CHANGE_TO_INCLUDE / ALLOW with sources: listening (SSM).
                    1 | 3 | 5 if sources > 0 => out.push(MldChange::Join(group)),
                    // CHANGE_TO_INCLUDE {}: left.
                    3 => out.push(MldChange::Leave(group)),
                    _ => {}
                }
            }
        }
        _ => {}
    }
    out
}

/// A prefix information option of a router advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PrefixInfo {
    pub(crate) prefix: Prefix,
    pub(crate) on_link: bool,
    pub(crate) autonomous: bool,
    pub(crate) valid_lifetime: u32,
}

/// A route information option (RFC 4191).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RouteInfo {
    pub(crate) prefix: Prefix,
    pub(crate) lifetime: u32,
}

/// The options of a router advertisement the bridge acts on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RouterAdvert {
    pub(crate) router_lifetime: u16,
    pub(crate) prefixes: Vec<PrefixInfo>,
    pub(crate) routes: Vec<RouteInfo>,
}

/// Parses an ICMPv6 router advertisement (the ICMPv6 message, type 134).
pub(crate) fn parse_router_advert(icmp: &[u8]) -> Option<RouterAdvert> {
    if icmp.len() < 16 || icmp[0] != icmp6::ROUTER_ADVERT {
        return None;
    }
    let mut ra = RouterAdvert {
        router_lifetime: u16::from_be_bytes([icmp[6], icmp[7]]),
        ..Default::default()
    };
    let mut at = 16;
    while at + 2 <= icmp.len() {
        let (kind, len) = (icmp[at], usize::from(icmp[at + 1]) * 8);
        if len == 0 {
            return None; // RFC 4861 §4.6: length 0 is invalid, drop the whole message
        }
        let opt = icmp.get(at..at + len)?;
        match kind {
            3 if len == 32 => {
                let addr = addr_at(opt, 16)?;
                ra.prefixes.push(PrefixInfo {
                    prefix: Prefix::new(addr, opt[2]),
                    on_link: opt[3] & 0x80 != 0,
                    autonomous: opt[3] & 0x40 != 0,
                    valid_lifetime: u32::from_be_bytes([opt[4], opt[5], opt[6], opt[7]]),
                });
            }
            24 if (8..=24).contains(&len) => {
                let mut b = [0u8; 16];
                b[..len - 8].copy_from_slice(&opt[8..len]);
                ra.routes.push(RouteInfo {
                    prefix: Prefix::new(Ipv6Addr::from(b), opt[2]),
                    lifetime: u32::from_be_bytes([opt[4], opt[5], opt[6], opt[7]]),
                });
            }
            _ => {}
        }
        at += len;
    }
    Some(ra)
}

/// Whether `a` is a Thread locator (RLOC or ALOC) in `ml_prefix`: IID `0000:00ff:fe00:xxxx`.
/// The co-processor answers for these itself; the host does not take them over.
pub(crate) fn is_locator(a: &Ipv6Addr, ml_prefix: Option<&Prefix>) -> bool {
    let o = a.octets();
    o[8..14] == [0, 0, 0, 0xff, 0xfe, 0] && ml_prefix.is_some_and(|p| p.contains(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn ipv6(next: u8, src: &str, dst: &str, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        p.push(next);
        p.push(1);
        p.extend_from_slice(&a(src).octets());
        p.extend_from_slice(&a(dst).octets());
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn mld2_report_through_hop_by_hop() {
        // Hop-by-hop (router alert) then an MLDv2 report: join ff05::1234, leave ff03::99.
        let mut mld = vec![143, 0, 0, 0, 0, 0, 0, 2];
        mld.extend_from_slice(&[4, 0, 0, 0]);
        mld.extend_from_slice(&a("ff05::1234").octets());
        mld.extend_from_slice(&[3, 0, 0, 0]);
        mld.extend_from_slice(&a("ff03::99").octets());
        let mut payload = vec![58, 0, 5, 2, 0, 0, 1, 0];
        payload.extend_from_slice(&mld);
        let p = ipv6(0, "fe80::1", "ff02::16", &payload);
        let info = parse_ipv6(&p).unwrap();
        assert_eq!(info.protocol, 58);
        assert_eq!(info.dst, a("ff02::16"));
        assert_eq!(
            parse_mld(info.payload),
            [
                MldChange::Join(a("ff05::1234")),
                MldChange::Leave(a("ff03::99"))
            ]
        );
        assert_eq!(multicast_scope(&a("ff05::1234")), Some(5));
        assert_eq!(multicast_scope(&a("fd00::1")), None);
        // Truncations never panic.
        for n in 0..p.len() {
            let _ = parse_ipv6(&p[..n]).map(|i| parse_mld(i.payload));
        }
    }

    #[test]
    fn router_advert_options() {
        let mut ra = vec![134, 0, 0, 0, 64, 0, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0];
        // PIO fd00:1:2:3::/64 L+A valid 1800.
        ra.extend_from_slice(&[
            3, 4, 64, 0xc0, 0, 0, 0x07, 0x08, 0, 0, 0x07, 0x08, 0, 0, 0, 0,
        ]);
        ra.extend_from_slice(&a("fd00:1:2:3::").octets());
        // RIO fd11:22::/64 lifetime 1800 (length 2 = 16 bytes).
        ra.extend_from_slice(&[24, 2, 64, 0, 0, 0, 0x07, 0x08]);
        ra.extend_from_slice(&a("fd11:22::").octets()[..8]);
        let r = parse_router_advert(&ra).unwrap();
        assert_eq!(r.router_lifetime, 1800);
        assert_eq!(r.prefixes[0].prefix.to_string(), "fd00:1:2:3::/64");
        assert!(r.prefixes[0].on_link && r.prefixes[0].autonomous);
        assert_eq!(
            r.routes[0],
            RouteInfo {
                prefix: Prefix::new(a("fd11:22::"), 64),
                lifetime: 1800
            }
        );
        for n in 0..ra.len() {
            let _ = parse_router_advert(&ra[..n]);
        }
        let mut bad = ra.clone();
        bad[17] = 0;
        assert!(parse_router_advert(&bad).is_none());
    }

    #[test]
    fn prefixes_and_locators() {
        let ml = Prefix::new(a("fd11:2233:4455:6677:1::1"), 64);
        assert_eq!(ml.to_string(), "fd11:2233:4455:6677::/64");
        assert!(ml.contains(&a("fd11:2233:4455:6677::ff:fe00:fc00")));
        assert!(is_locator(
            &a("fd11:2233:4455:6677::ff:fe00:400"),
            Some(&ml)
        ));
        assert!(!is_locator(&a("fd11:2233:4455:6677:aa::1"), Some(&ml)));
        assert!(!is_locator(&a("fd00::ff:fe00:400"), Some(&ml)));
        assert_eq!(Prefix::new(a("::"), 0).to_string(), "::/0");
    }

    proptest::proptest! {
        /// No parser panics on arbitrary bytes (from the co-processor or the network).
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let _ = parse_mld(&bytes);
            let _ = parse_router_advert(&bytes);
            if let Some(ip) = parse_ipv6(&bytes) {
                let _ = parse_mld(ip.payload);
            }
            let mut v6 = bytes.clone();
            if let Some(b) = v6.first_mut() {
                *b = 0x60 | (*b & 0x0f);
            }
            let _ = parse_ipv6(&v6).map(|ip| parse_mld(ip.payload));
        }
    }
}
