//! Wire formats of the mesh bridge, without I/O: the Spinel values it exchanges with the
//! co-processor and the few IPv6/ICMPv6 structures it looks into.
//!
//! Spinel (OpenThread `src/ncp/ncp_base_mtd.cpp`, `ncp_base_ftd.cpp`, `src/lib/spinel/spinel.h`):
//! - `STREAM_NET` (114) `dD`: u16 LE packet length, the IPv6 packet, then metadata (ignored; the
//!   host sends none). The co-processor sends mesh packets for the host as unsolicited IS; the
//!   host sends with SET (TID 0: no answer unless it fails, then an unsolicited LAST_STATUS).
//! - `IPV6_ADDRESS_TABLE` (99) `A(t(6CLL..))`: address, prefix length, preferred and valid
//!   lifetime (0 or 0xffffffff); later fields are ignored.
//! - `IPV6_MULTICAST_ADDRESS_TABLE` (102) `A(t(6..))`; INSERT/REMOVE take a bare `6`.
//! - `THREAD_ON_MESH_NETS` (90) `A(t(6CbCbSC))`: prefix, length, stable, flags, is_local, rloc16,
//!   extended flags. Flags: bit 0 on-mesh, 1 default route, 2 configure, 3 DHCP, 4 SLAAC,
//!   5 preferred, 7..6 preference.
//! - `INFRA_IF_STATE` (0x911) `LbA(6)`, `INFRA_IF_RECV_ICMP6` (0x912) and
//!   `INFRA_IF_SEND_ICMP6` (0x913) `L6d`: interface index, peer address, ICMPv6 message.
//!
//! IPv6 (RFC 8200), MLDv2 reports (RFC 3810 §5.2), router advertisements and their prefix
//! information options (RFC 4861 §4.2, §4.6.2).
//!
//! Guarantees: every parser bounds-checks and returns `None`/an error on short or malformed
//! input; nothing here panics on bytes from the co-processor or the network. Validated by the
//! tests below against hand-built vectors and against the simulation co-processor (e2e).

use std::net::Ipv6Addr;

use ncp::codec::{Reader, Writer};

/// ICMPv6 types the bridge cares about.
pub mod icmp6 {
    pub const ROUTER_SOLICIT: u8 = 133;
    pub const ROUTER_ADVERT: u8 = 134;
    pub const NEIGHBOR_SOLICIT: u8 = 135;
    pub const NEIGHBOR_ADVERT: u8 = 136;
    pub const MLD2_REPORT: u8 = 143;
    pub const MLD1_REPORT: u8 = 131;
    pub const MLD1_DONE: u8 = 132;
}

/// An IPv6 prefix (address with the bits beyond `len` zeroed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    pub addr: Ipv6Addr,
    pub len: u8,
}

impl Prefix {
    /// Builds a prefix, masking the host bits; `len` is capped at 128.
    pub fn new(addr: Ipv6Addr, len: u8) -> Prefix {
        let len = len.min(128);
        let bits = u128::from(addr);
        let mask = if len == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(len))
        };
        Prefix {
            addr: Ipv6Addr::from(bits & mask),
            len,
        }
    }

    /// Whether `a` is inside this prefix.
    pub fn contains(&self, a: &Ipv6Addr) -> bool {
        Prefix::new(*a, self.len).addr == self.addr
    }
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Errors decoding a Spinel value.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("malformed {what}: {source}")]
    Spinel {
        what: &'static str,
        source: ncp::Error,
    },
}

fn spinel(what: &'static str) -> impl Fn(ncp::Error) -> WireError {
    move |source| WireError::Spinel { what, source }
}

/// The packet inside a `STREAM_NET` value.
pub fn decode_stream_net(value: &[u8]) -> Result<&[u8], WireError> {
    Reader::new(value).data().map_err(spinel("STREAM_NET"))
}

/// A `STREAM_NET` value for `packet` (no metadata).
pub fn encode_stream_net(packet: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.push_data(packet);
    w.into_vec()
}

/// One entry of `IPV6_ADDRESS_TABLE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NcpAddress {
    pub addr: Ipv6Addr,
    pub prefix_len: u8,
    pub preferred: bool,
    pub valid: bool,
}

/// Decodes `IPV6_ADDRESS_TABLE` (`A(t(6CLL...))`).
pub fn decode_address_table(value: &[u8]) -> Result<Vec<NcpAddress>, WireError> {
    let e = spinel("IPV6_ADDRESS_TABLE");
    let mut r = Reader::new(value);
    let mut out = Vec::new();
    while !r.is_empty() {
        let mut s = r.structure().map_err(&e)?;
        let addr = s.ipv6().map_err(&e)?;
        let prefix_len = s.u8().map_err(&e)?;
        let preferred = s.u32().map_err(&e)? != 0;
        let valid = s.u32().map_err(&e)? != 0;
        out.push(NcpAddress {
            addr,
            prefix_len,
            preferred,
            valid,
        });
    }
    Ok(out)
}

/// Decodes `IPV6_MULTICAST_ADDRESS_TABLE` (`A(t(6...))`).
pub fn decode_multicast_table(value: &[u8]) -> Result<Vec<Ipv6Addr>, WireError> {
    let e = spinel("IPV6_MULTICAST_ADDRESS_TABLE");
    let mut r = Reader::new(value);
    let mut out = Vec::new();
    while !r.is_empty() {
        let mut s = r.structure().map_err(&e)?;
        out.push(s.ipv6().map_err(&e)?);
    }
    Ok(out)
}

/// One entry of `THREAD_ON_MESH_NETS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnMeshPrefix {
    pub prefix: Prefix,
    pub stable: bool,
    pub flags: u8,
    pub is_local: bool,
    pub rloc16: u16,
}

impl OnMeshPrefix {
    pub const FLAG_ON_MESH: u8 = 1 << 0;
    pub const FLAG_SLAAC: u8 = 1 << 4;
    pub const FLAG_PREFERRED: u8 = 1 << 5;

    /// On-mesh, SLAAC, preferred: what an OMR prefix looks like in network data.
    pub fn is_omr_like(&self) -> bool {
        let want = Self::FLAG_ON_MESH | Self::FLAG_SLAAC | Self::FLAG_PREFERRED;
        self.flags & want == want && self.prefix.len == 64
    }
}

/// Decodes `THREAD_ON_MESH_NETS` (`A(t(6CbCbSC))`).
pub fn decode_on_mesh_nets(value: &[u8]) -> Result<Vec<OnMeshPrefix>, WireError> {
    let e = spinel("THREAD_ON_MESH_NETS");
    let mut r = Reader::new(value);
    let mut out = Vec::new();
    while !r.is_empty() {
        let mut s = r.structure().map_err(&e)?;
        let addr = s.ipv6().map_err(&e)?;
        let len = s.u8().map_err(&e)?;
        let stable = s.bool().map_err(&e)?;
        let flags = s.u8().map_err(&e)?;
        let is_local = s.bool().map_err(&e)?;
        let rloc16 = s.u16().map_err(&e)?;
        out.push(OnMeshPrefix {
            prefix: Prefix::new(addr, len),
            stable,
            flags,
            is_local,
            rloc16,
        });
    }
    Ok(out)
}

/// The mesh-local prefix from `IPV6_ML_PREFIX` (`6C`: address, length; older firmware: `6`).
pub fn decode_ml_prefix(value: &[u8]) -> Result<Prefix, WireError> {
    let e = spinel("IPV6_ML_PREFIX");
    let mut r = Reader::new(value);
    let addr = r.ipv6().map_err(&e)?;
    let len = if r.is_empty() {
        64
    } else {
        r.u8().map_err(&e)?
    };
    Ok(Prefix::new(addr, len))
}

/// An `INFRA_IF_STATE` value: `LbA(6)`.
pub fn encode_infra_if_state(ifindex: u32, running: bool, addrs: &[Ipv6Addr]) -> Vec<u8> {
    let mut w = Writer::new();
    w.push_u32(ifindex).push_bool(running);
    for a in addrs {
        w.push_ipv6(a);
    }
    w.into_vec()
}

/// An `INFRA_IF_RECV_ICMP6` value / decoded `INFRA_IF_SEND_ICMP6` value: `L6d`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfraIcmp6 {
    pub ifindex: u32,
    pub peer: Ipv6Addr,
    pub message: Vec<u8>,
}

impl InfraIcmp6 {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.push_u32(self.ifindex)
            .push_ipv6(&self.peer)
            .push_data(&self.message);
        w.into_vec()
    }

    pub fn decode(value: &[u8]) -> Result<InfraIcmp6, WireError> {
        let e = spinel("INFRA_IF_SEND_ICMP6");
        let mut r = Reader::new(value);
        let ifindex = r.u32().map_err(&e)?;
        let peer = r.ipv6().map_err(&e)?;
        let message = r.data().map_err(&e)?.to_vec();
        Ok(InfraIcmp6 {
            ifindex,
            peer,
            message,
        })
    }
}

/// A read-only view of an IPv6 packet's fixed header and its upper-layer protocol (after
/// walking hop-by-hop, routing, destination-options and fragment headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Info<'a> {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub hop_limit: u8,
    /// Upper-layer protocol (58 = ICMPv6, 17 = UDP...), or the header where the walk stopped.
    pub protocol: u8,
    /// The upper-layer payload (empty for a non-first fragment).
    pub payload: &'a [u8],
}

fn addr_at(b: &[u8], at: usize) -> Option<Ipv6Addr> {
    let s: [u8; 16] = b.get(at..at + 16)?.try_into().ok()?;
    Some(Ipv6Addr::from(s))
}

/// Parses an IPv6 packet; `None` if it is not IPv6 or is truncated.
pub fn parse_ipv6(p: &[u8]) -> Option<Ipv6Info<'_>> {
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
pub fn multicast_scope(a: &Ipv6Addr) -> Option<u8> {
    let o = a.octets();
    (o[0] == 0xff).then_some(o[1] & 0x0f)
}

/// A change of the host's multicast listening state seen in an MLD report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MldChange {
    Join(Ipv6Addr),
    Leave(Ipv6Addr),
}

/// The joins and leaves in an MLDv2 report (or MLDv1 report/done), given the ICMPv6 message.
/// Any-source joins (EXCLUDE mode) count as joins; a change to INCLUDE with no sources or a
/// BLOCK of all sources counts as a leave. Source-specific details are not tracked.
pub fn parse_mld(icmp: &[u8]) -> Vec<MldChange> {
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
pub struct PrefixInfo {
    pub prefix: Prefix,
    pub on_link: bool,
    pub autonomous: bool,
    pub valid_lifetime: u32,
}

/// A route information option (RFC 4191).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteInfo {
    pub prefix: Prefix,
    pub lifetime: u32,
}

/// The options of a router advertisement the bridge acts on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouterAdvert {
    pub router_lifetime: u16,
    pub prefixes: Vec<PrefixInfo>,
    pub routes: Vec<RouteInfo>,
}

/// Parses an ICMPv6 router advertisement (the ICMPv6 message, type 134).
pub fn parse_router_advert(icmp: &[u8]) -> Option<RouterAdvert> {
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
pub fn is_locator(a: &Ipv6Addr, ml_prefix: Option<&Prefix>) -> bool {
    let o = a.octets();
    o[8..14] == [0, 0, 0, 0xff, 0xfe, 0] && ml_prefix.is_some_and(|p| p.contains(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn stream_net_round_trip() {
        let v = encode_stream_net(&[0x60, 1, 2]);
        assert_eq!(v, [3, 0, 0x60, 1, 2]);
        assert_eq!(
            decode_stream_net(&[3, 0, 0x60, 1, 2, 9, 9]).unwrap(),
            [0x60, 1, 2]
        );
        assert!(decode_stream_net(&[5, 0, 1]).is_err());
    }

    #[test]
    fn address_table_as_sent_by_ot_ncp() {
        // t(6 C L L) for fd00::1/64 preferred and fe80::2/64 not preferred.
        let mut w = Writer::new();
        w.push_structure(|s| {
            s.push_ipv6(&a("fd00::1"))
                .push_u8(64)
                .push_u32(u32::MAX)
                .push_u32(u32::MAX);
        });
        w.push_structure(|s| {
            s.push_ipv6(&a("fe80::2"))
                .push_u8(64)
                .push_u32(0)
                .push_u32(u32::MAX)
                .push_u8(7);
        });
        let t = decode_address_table(w.as_slice()).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(
            t[0],
            NcpAddress {
                addr: a("fd00::1"),
                prefix_len: 64,
                preferred: true,
                valid: true
            }
        );
        assert!(!t[1].preferred && t[1].valid);
        assert!(decode_address_table(&[3, 0, 1]).is_err());
    }

    #[test]
    fn on_mesh_nets_and_omr() {
        let mut w = Writer::new();
        w.push_structure(|s| {
            s.push_ipv6(&a("fd12:3456:789a:1::"))
                .push_u8(64)
                .push_bool(true)
                .push_u8(0x31)
                .push_bool(true)
                .push_u16(0x0400)
                .push_u8(0);
        });
        let t = decode_on_mesh_nets(w.as_slice()).unwrap();
        assert_eq!(t[0].prefix.to_string(), "fd12:3456:789a:1::/64");
        assert!(t[0].is_local && t[0].is_omr_like());
    }

    #[test]
    fn infra_values() {
        let v = encode_infra_if_state(7, true, &[a("fe80::1")]);
        assert_eq!(&v[..5], &[7, 0, 0, 0, 1]);
        assert_eq!(v.len(), 21);
        let m = InfraIcmp6 {
            ifindex: 7,
            peer: a("ff02::1"),
            message: vec![134, 0, 0, 0],
        };
        assert_eq!(InfraIcmp6::decode(&m.encode()).unwrap(), m);
        assert!(InfraIcmp6::decode(&[1, 2]).is_err());
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
            let _ = decode_stream_net(&bytes);
            let _ = decode_address_table(&bytes);
            let _ = decode_multicast_table(&bytes);
            let _ = decode_on_mesh_nets(&bytes);
            let _ = decode_ml_prefix(&bytes);
            let _ = InfraIcmp6::decode(&bytes);
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

        /// Whatever the host sends comes out of the co-processor side unchanged.
        #[test]
        fn stream_net_round_trips(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1400)) {
            let v = encode_stream_net(&bytes);
            proptest::prop_assert_eq!(decode_stream_net(&v).unwrap(), &bytes[..]);
        }
    }
}
