//! Thread network diagnostics as a commissioner asks for them through the Border Agent's UDP
//! proxy (OpenThread `src/core/thread/network_diagnostic.cpp`, `network_diagnostic_tlvs.hpp`;
//! ot-commissioner's `netdiag query`).
//!
//! - [`query`]: DIAG_GET.qry, a NON POST `d/dq` with a Type List TLV (18) and a Query ID TLV (33),
//!   sent to a multicast address (realm-local all nodes [`ALL_NODES`]) through UDP_TX from the
//!   commissioner ALOC, port [`crate::coap::TMF_PORT`].
//! - Every node answers DIAG_GET.ans, a CON POST `d/da` to the ALOC (its RLOC as the source); the
//!   Border Agent wraps it in UDP_RX. An FTD may split a long answer into several `d/da`, each with
//!   an Answer TLV (32: index and last flag); the next comes only after the previous is
//!   acknowledged (`Server::HandleAnswerResponse`), so each must be ACKed.
//! - [`DiagAnswer::parse`] reads the TLVs of one answer: MAC Extended Address (0, 8 bytes),
//!   Address16 (1, 2 bytes), Mode (2, 1 byte), EUI-64 (23, 8 bytes); every other TLV (Answer,
//!   Query ID, IPv6 address list, ...) is skipped; short and extended TLV forms are both read.
//!
//! Guarantees: no panic on any input; a truncated TLV or a known TLV of the wrong length is an
//! error (the answer is dropped whole). Nothing here is secret.

use std::net::Ipv6Addr;

use crate::coap::{uri, Message};
use crate::error::Error;
use crate::tlv::{self, Tlv};

/// Network Diagnostic TLV types (OpenThread `include/openthread/netdiag.h`).
pub mod types {
    pub const EXT_MAC_ADDRESS: u8 = 0;
    pub const ADDRESS16: u8 = 1;
    pub const MODE: u8 = 2;
    pub const IP6_ADDRESS_LIST: u8 = 8;
    pub const TYPE_LIST: u8 = 18;
    pub const EUI64: u8 = 23;
    pub const VERSION: u8 = 24;
    pub const ANSWER: u8 = 32;
    pub const QUERY_ID: u8 = 33;
}

/// What [`crate::commissioner::Commissioner::diag_query`] asks every node for: extended address,
/// RLOC16, mode, EUI-64.
pub const QUERY_TYPES: [u8; 4] = [
    types::EXT_MAC_ADDRESS,
    types::ADDRESS16,
    types::MODE,
    types::EUI64,
];

/// Realm-local all nodes (`ff03::1`): every FTD and rx-on-when-idle child; sleepy children get it
/// through their parent.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff03, 0, 0, 0, 0, 0, 0, 1);
/// Realm-local all routers (`ff03::2`).
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff03, 0, 0, 0, 0, 0, 0, 2);

/// DIAG_GET.qry: NON POST `d/dq` with a Type List TLV of `wanted` (at most 254 types) and, when
/// given, a Query ID TLV (OpenThread FTDs echo it in every answer).
pub fn query(
    message_id: u16,
    token: &[u8],
    wanted: &[u8],
    query_id: Option<u16>,
) -> Result<Message, Error> {
    let wanted = &wanted[..wanted.len().min(tlv::MAX_SHORT_LEN)];
    let mut tlvs = vec![Tlv::new(types::TYPE_LIST, wanted.to_vec())];
    if let Some(q) = query_id {
        tlvs.push(Tlv::u16(types::QUERY_ID, q));
    }
    Message::post(false, uri::DIAG_GET_QUERY, message_id, token, &tlvs)
}

/// One node's answer to a diagnostic query. A field is `None` when its TLV was absent (not asked
/// for, or in another part of a split answer: see [`DiagAnswer::merge`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagAnswer {
    /// The node's address the answer came from (its mesh-local RLOC).
    pub source: Ipv6Addr,
    /// EUI-64 TLV (23): the factory-assigned identity (the Joiner ID is derived from it).
    pub eui64: Option<[u8; 8]>,
    /// MAC Extended Address TLV (0): random per network, changes on a factory reset.
    pub ext_address: Option<[u8; 8]>,
    /// Address16 TLV (1): the RLOC16.
    pub rloc16: Option<u16>,
    /// Mode TLV (2): the MLE mode bits (0x08 rx-on-when-idle, 0x02 full thread device, 0x01 full
    /// network data).
    pub mode: Option<u8>,
}

impl DiagAnswer {
    /// Reads the TLVs of a DIAG_GET.ans (or DIAG_GET.rsp) payload from `source`. Errors: a
    /// truncated TLV, or an ext address / EUI-64 not 8 bytes, Address16 not 2, Mode not 1. The
    /// first TLV of a type wins; unknown types are skipped.
    pub fn parse(source: Ipv6Addr, payload: &[u8]) -> Result<DiagAnswer, Error> {
        let mut a = DiagAnswer {
            source,
            eui64: None,
            ext_address: None,
            rloc16: None,
            mode: None,
        };
        for t in tlv::iter(payload) {
            let t = t?;
            match t.typ {
                types::EXT_MAC_ADDRESS if a.ext_address.is_none() => {
                    a.ext_address = Some(t.array8()?)
                }
                types::ADDRESS16 if a.rloc16.is_none() => a.rloc16 = Some(t.u16()?),
                types::MODE if a.mode.is_none() => a.mode = Some(t.u8()?),
                types::EUI64 if a.eui64.is_none() => a.eui64 = Some(t.array8()?),
                _ => {}
            }
        }
        Ok(a)
    }

    /// Fills the fields this answer lacks from `other` (another part of the same node's answer).
    pub fn merge(&mut self, other: &DiagAnswer) {
        self.eui64 = self.eui64.or(other.eui64);
        self.ext_address = self.ext_address.or(other.ext_address);
        self.rloc16 = self.rloc16.or(other.rloc16);
        self.mode = self.mode.or(other.mode);
    }
}

/// The Query ID TLV (33) of an answer, when present and well-formed.
pub fn query_id(payload: &[u8]) -> Option<u16> {
    tlv::find(payload, types::QUERY_ID)
        .ok()
        .flatten()
        .and_then(|t| t.u16().ok())
}

/// Whether this is the last part of an answer: its Answer TLV (32) has the last flag (bit 15), or
/// it has none (OpenThread `Server::IsLastAnswer`).
pub fn is_last_answer(payload: &[u8]) -> bool {
    match tlv::find(payload, types::ANSWER).ok().flatten() {
        Some(t) => t.u16().map_or(true, |v| v & 0x8000 != 0),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coap::{Code, MsgType};

    const SRC: Ipv6Addr = Ipv6Addr::new(0xfd11, 0x2222, 0, 0, 0, 0xff, 0xfe00, 0x0401);

    /// A DIAG_GET.ans payload as OpenThread's FTD `PrepareAndSendAnswers` builds it for Type List
    /// [0, 1, 2, 23] with Query ID 7: Query ID first (AllocateAnswer), then the TLVs in the
    /// order asked (AppendDiagTlv: ExtMacAddressTlv, Address16Tlv, ModeTlv, Eui64Tlv), then the
    /// Answer TLV (index 0, last).
    fn ot_answer() -> Vec<u8> {
        let mut p = vec![33, 2, 0x00, 0x07];
        p.extend_from_slice(&[0, 8, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0]);
        p.extend_from_slice(&[1, 2, 0x04, 0x01]);
        p.extend_from_slice(&[2, 1, 0x0f]);
        p.extend_from_slice(&[23, 8, 0x18, 0xb4, 0x30, 0, 0, 0, 0, 0x02]);
        p.extend_from_slice(&[32, 2, 0x80, 0x00]);
        p
    }

    #[test]
    fn answer_from_openthread_bytes() {
        let p = ot_answer();
        let a = DiagAnswer::parse(SRC, &p).unwrap();
        assert_eq!(a.source, SRC);
        assert_eq!(
            a.ext_address,
            Some([0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0])
        );
        assert_eq!(a.rloc16, Some(0x0401));
        assert_eq!(a.mode, Some(0x0f));
        assert_eq!(a.eui64, Some([0x18, 0xb4, 0x30, 0, 0, 0, 0, 0x02]));
        assert_eq!(query_id(&p), Some(7));
        assert!(is_last_answer(&p));
        assert!(!is_last_answer(&[32, 2, 0x00, 0x01]));
    }

    #[test]
    fn unknown_and_extended_tlvs_are_skipped() {
        // An IPv6 Address List TLV in the extended form (OpenThread uses it past 254 bytes), a
        // Version TLV and an unknown type, then the EUI-64.
        let mut p = vec![8, 0xff, 0x00, 0x20];
        p.extend_from_slice(&[0xfd; 32]);
        p.extend_from_slice(&[24, 2, 0, 4, 0x7e, 1, 9]);
        p.extend_from_slice(&[23, 8, 1, 2, 3, 4, 5, 6, 7, 8]);
        let a = DiagAnswer::parse(SRC, &p).unwrap();
        assert_eq!(a.eui64, Some([1, 2, 3, 4, 5, 6, 7, 8]));
        assert_eq!((a.ext_address, a.rloc16, a.mode), (None, None, None));
        assert_eq!(query_id(&p), None);
    }

    #[test]
    fn malformed_answers_are_errors() {
        assert!(DiagAnswer::parse(SRC, &[23, 7, 1, 2, 3, 4, 5, 6, 7]).is_err());
        assert!(DiagAnswer::parse(SRC, &[1, 1, 4]).is_err());
        assert!(DiagAnswer::parse(SRC, &[2, 2, 4, 0]).is_err());
        let p = ot_answer();
        for cut in 1..p.len() {
            // Every cut inside a TLV is an error, every cut between TLVs a shorter answer.
            let _ = DiagAnswer::parse(SRC, &p[..cut]);
        }
        assert!(DiagAnswer::parse(SRC, &p[..p.len() - 1]).is_err());
        assert_eq!(DiagAnswer::parse(SRC, &[]).unwrap().eui64, None);
    }

    #[test]
    fn split_answers_merge() {
        let mut a = DiagAnswer::parse(SRC, &[1, 2, 0x04, 0x00]).unwrap();
        let b = DiagAnswer::parse(SRC, &[1, 2, 0x05, 0x00, 23, 8, 1, 1, 1, 1, 1, 1, 1, 1]).unwrap();
        a.merge(&b);
        assert_eq!((a.rloc16, a.eui64), (Some(0x0400), Some([1; 8])));
    }

    #[test]
    fn query_bytes() {
        let q = query(0x1234, &[0xaa, 0xbb], &QUERY_TYPES, Some(0x0102)).unwrap();
        assert_eq!((q.typ, q.code), (MsgType::Non, Code::POST));
        assert_eq!(q.uri_path, "d/dq");
        assert_eq!(q.payload, [18, 4, 0, 1, 2, 23, 33, 2, 0x01, 0x02]);
        // NON (0x50 | TKL 2), POST, MID, token, Uri-Path "d" (0xb1) "dq" (0x02), marker.
        let b = q.encode().unwrap();
        assert_eq!(
            b[..13],
            [0x52, 0x02, 0x12, 0x34, 0xaa, 0xbb, 0xb1, b'd', 0x02, b'd', b'q', 0xff, 18]
        );
        let none = query(1, &[], &[], None).unwrap();
        assert_eq!(none.payload, [18, 0]);
    }
}
