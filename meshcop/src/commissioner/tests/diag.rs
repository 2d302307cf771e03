//! Network diagnostics through the UDP proxy: the query's bytes, answers as OpenThread's nodes
//! send them (through the Border Agent's UDP_RX), their ACKs, attribution to the query, garbage.

use super::*;
use crate::netdiag::{self, DiagAnswer};

const NODE: Ipv6Addr = Ipv6Addr::new(0xfdde, 0xad00, 0xbeef, 0, 0, 0xff, 0xfe00, 0x0401);

/// A UDP_RX.ntf as OpenThread's `BorderAgent::CoapDtlsSession::HandleUdpReceive` builds it: UDP
/// Encapsulation in the extended form (source port = the node's, destination = the ALOC's), then
/// the IPv6 Address TLV with the node's address.
fn udp_rx(w: &mut World, from: Ipv6Addr, datagram: &[u8]) {
    let mut encap = Vec::new();
    encap.extend_from_slice(&coap::TMF_PORT.to_be_bytes());
    encap.extend_from_slice(&coap::TMF_PORT.to_be_bytes());
    encap.extend_from_slice(datagram);
    let mut payload = ext_tlv(types::UDP_ENCAPSULATION, &encap);
    payload.extend_from_slice(&Tlv::ipv6_address(from).to_bytes().unwrap());
    w.ba.send_non_post(vec![5], "c/ur", payload);
    w.shuttle();
}

/// DIAG_GET.ans as OpenThread's FTD sends it: CON POST d/da, Query ID, the asked TLVs, Answer.
fn answer(mid: u16, query_id: Option<u16>, rloc16: u16, eui: [u8; 8]) -> Vec<u8> {
    let mut p = Vec::new();
    if let Some(q) = query_id {
        p.extend_from_slice(&[33, 2, (q >> 8) as u8, q as u8]);
    }
    p.extend_from_slice(&[0, 8, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0]);
    p.extend_from_slice(&[1, 2, (rloc16 >> 8) as u8, rloc16 as u8]);
    p.extend_from_slice(&[2, 1, 0x0f, 23, 8]);
    p.extend_from_slice(&eui);
    p.extend_from_slice(&[32, 2, 0x80, 0x00]);
    let mut m = Message::post(true, "d/da", mid, &[0xd1, 0xa6], &[]).unwrap();
    m.payload = p;
    m.encode().unwrap()
}

fn answers(w: &mut World) -> Vec<(u64, DiagAnswer)> {
    std::iter::from_fn(|| w.comm.poll_diag_answer()).collect()
}

#[test]
fn query_goes_to_all_nodes_and_answers_come_back_acked() {
    let mut idle = World::new(PSKC, PSKC);
    assert_eq!(idle.comm.diag_query(idle.now), Err(Error::NotActive));
    let mut w = World::active();
    let id = w.comm.diag_query(w.now).unwrap();
    w.shuttle();
    let (sp, dst, dp, q) = w.ba.other_udp_tx.pop().unwrap();
    assert_eq!(
        (sp, dst, dp),
        (coap::TMF_PORT, netdiag::ALL_NODES, coap::TMF_PORT)
    );
    let q = Message::parse(&q).unwrap();
    assert_eq!(
        (q.typ, q.code, q.uri_path.as_str()),
        (MsgType::Non, Code::POST, "d/dq")
    );
    assert_eq!(q.payload, [18, 4, 0, 1, 2, 23, 33, 2, 0, id as u8]);

    udp_rx(&mut w, NODE, &answer(0x77, Some(id as u16), 0x0401, eui(4)));
    let got = answers(&mut w);
    assert_eq!(got.len(), 1);
    let (r, a) = &got[0];
    assert_eq!(*r, id);
    assert_eq!(
        (a.source, a.rloc16, a.eui64, a.mode),
        (NODE, Some(0x0401), Some(eui(4)), Some(0x0f))
    );
    // The CON answer was ACKed back to the node, through the proxy, from the ALOC's port.
    let (sp, dst, dp, ack) = w.ba.other_udp_tx.pop().unwrap();
    assert_eq!((sp, dst, dp), (coap::TMF_PORT, NODE, coap::TMF_PORT));
    let ack = Message::parse(&ack).unwrap();
    assert_eq!(
        (ack.typ, ack.code, ack.message_id),
        (MsgType::Ack, Code::EMPTY, 0x77)
    );

    // A second query: an answer without Query ID goes to the newest; one with the first query's
    // ID to the first.
    let id2 = w.comm.diag_query(w.now).unwrap();
    assert_ne!(id, id2);
    udp_rx(&mut w, NODE, &answer(0x78, None, 0x0401, eui(4)));
    udp_rx(&mut w, NODE, &answer(0x79, Some(id as u16), 0x0401, eui(4)));
    let got: Vec<u64> = answers(&mut w).into_iter().map(|(r, _)| r).collect();
    assert_eq!(got, [id2, id]);
    // An answer to a query we never sent is ACKed and dropped.
    udp_rx(&mut w, NODE, &answer(0x7a, Some(0x5555), 0x0401, eui(4)));
    assert!(answers(&mut w).is_empty());
    let (_, _, _, ack) = w.ba.other_udp_tx.pop().unwrap();
    assert_eq!(Message::parse(&ack).unwrap().message_id, 0x7a);
    assert_eq!(w.comm.state(), State::Active);
}

#[test]
fn malformed_answers_are_dropped_and_the_session_stays() {
    let mut w = World::active();
    let id = w.comm.diag_query(w.now).unwrap();
    w.shuttle();
    let good = answer(0x10, Some(id as u16), 0x0400, eui(9));
    let dropped = w.comm.stats().dropped;
    // Truncated: every cut of the CoAP message either fails to parse or fails the TLVs; none
    // panics and the session goes on.
    for cut in 1..good.len() {
        udp_rx(&mut w, NODE, &good[..cut]);
    }
    let _ = answers(&mut w);
    assert!(w.comm.stats().dropped > dropped);
    // A wrong-length EUI-64 TLV drops the answer.
    let mut m = Message::parse(&good).unwrap();
    m.payload = vec![23, 7, 1, 2, 3, 4, 5, 6, 7];
    udp_rx(&mut w, NODE, &m.encode().unwrap());
    assert!(answers(&mut w).is_empty());
    udp_rx(&mut w, NODE, &good);
    assert_eq!(answers(&mut w).len(), 1);
    assert_eq!(w.comm.state(), State::Active);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn random_answer_tlvs_never_panic(tlvs in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut w = World::active();
        let id = w.comm.diag_query(w.now).unwrap();
        w.shuttle();
        let mut m = Message::post(true, "d/da", 1, &[1], &[]).unwrap();
        m.payload = vec![33, 2, 0, id as u8];
        m.payload.extend_from_slice(&tlvs);
        udp_rx(&mut w, NODE, &m.encode().unwrap());
        let _ = answers(&mut w);
        prop_assert_eq!(w.comm.state(), State::Active);
    }
}
