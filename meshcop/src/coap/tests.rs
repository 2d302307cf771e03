use super::*;

#[test]
fn petition_bytes() {
    let m = petition(0x1234, &[0xAB, 0xCD], "ta").unwrap();
    let b = m.encode().unwrap();
    // 0x42: ver 1, CON, tkl 2; 0.02 POST; mid; token; Uri-Path "c" (0xB1), "cp" (0x02); 0xFF;
    // Commissioner ID TLV
    assert_eq!(hex::encode(&b), "42021234abcdb163026370ff0a027461");
    let p = Message::parse(&b).unwrap();
    assert_eq!(p, m);
    assert_eq!(p.uri_path, uri::COMM_PET);
    assert_eq!(
        p.find_tlv(types::COMMISSIONER_ID)
            .unwrap()
            .unwrap()
            .utf8()
            .unwrap(),
        "ta"
    );
}

#[test]
fn border_agent_exchange() {
    // petition, then empty ACK, then separate NON 2.04 with State, Commissioner ID, Session ID
    let req = petition(7, &[1, 2, 3, 4], "thread-agent").unwrap();
    let ack = Message::parse(&Message::empty_ack(7).encode().unwrap()).unwrap();
    assert_eq!(ack.encode().unwrap(), vec![0x60, 0, 0, 7]);
    assert_eq!(match_response(&req, &ack), ResponseMatch::EmptyAck);
    let rsp = Message::response(
        MsgType::Non,
        Code::CHANGED,
        0x9000,
        &[1, 2, 3, 4],
        &[
            Tlv::state(1),
            Tlv::commissioner_id("thread-agent"),
            Tlv::commissioner_session_id(0x2a),
        ],
    )
    .unwrap();
    let rsp = Message::parse(&rsp.encode().unwrap()).unwrap();
    assert_eq!(match_response(&req, &rsp), ResponseMatch::Response);
    assert_eq!(rsp.state().unwrap(), 1);
    assert_eq!(rsp.session_id().unwrap(), Some(0x2a));
    assert_eq!(rsp.code.to_string(), "2.04");
    assert!(!rsp.needs_ack());
    // other token, other mid
    let mut other = rsp.clone();
    other.token = vec![9];
    assert_eq!(match_response(&req, &other), ResponseMatch::Unrelated);
    assert_eq!(
        match_response(&req, &Message::empty_ack(8)),
        ResponseMatch::Unrelated
    );
    let mut rst = Message::empty_ack(7);
    rst.typ = MsgType::Rst;
    assert_eq!(match_response(&req, &rst), ResponseMatch::Reset);
    // piggybacked
    let pb = Message::response(
        MsgType::Ack,
        Code::CHANGED,
        7,
        &[1, 2, 3, 4],
        &[Tlv::state(-1)],
    )
    .unwrap();
    assert_eq!(match_response(&req, &pb), ResponseMatch::Response);
    assert_eq!(pb.state().unwrap(), -1);
}

#[test]
fn relay_and_udp_proxy() {
    let to = JoinerAddr {
        joiner_udp_port: 1000,
        joiner_iid: [1, 2, 3, 4, 5, 6, 7, 8],
        joiner_router_locator: 0x0400,
    };
    let record = vec![0x16; 427];
    let m = relay_tx(1, &[], &to, &record, Some(&Kek::from_bytes([5; 16]))).unwrap();
    assert_eq!(m.typ, MsgType::Non);
    let b = m.encode().unwrap();
    let mut p = Message::parse(&b).unwrap();
    assert_eq!(p.uri_path, uri::RLY_TX);
    assert_eq!(
        p.find_tlv(types::JOINER_ROUTER_KEK).unwrap().unwrap().value,
        &[5; 16]
    );
    // as an RLY_RX
    p.uri_path = uri::RLY_RX.into();
    let rx = RelayRx::from_message(&p).unwrap();
    assert_eq!(rx.from, to);
    assert_eq!(rx.dtls_record, record);

    let aloc = leader_aloc(&[0xfd, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(aloc.to_string(), "fd00::1:0:ff:fe00:fc00");
    let u = udp_tx(2, &[7], TMF_PORT, aloc, TMF_PORT, &[1, 2, 3]).unwrap();
    let back = UdpRx::from_message(&Message::parse(&u.encode().unwrap()).unwrap()).unwrap();
    assert_eq!(
        back,
        UdpRx {
            src: aloc,
            src_port: TMF_PORT,
            dst_port: TMF_PORT,
            payload: vec![1, 2, 3]
        }
    );
    assert!(RelayRx::from_message(&u).is_err());
}

#[test]
fn other_builders() {
    let s = SteeringData::allow_any();
    let m = commissioner_set(3, &[1], 0x2a, &s, &[Tlv::joiner_udp_port(1000)]).unwrap();
    assert_eq!(m.payload, hex::decode("0b02002a0801ff120203e8").unwrap());
    let m = keep_alive(4, &[1], 0x2a, true).unwrap();
    assert_eq!(
        (m.uri_path.as_str(), &m.payload[..]),
        (uri::COMM_KA, &[16, 1, 1, 11, 2, 0, 0x2a][..])
    );
    let m = mgmt_get(uri::MGMT_ACTIVE_GET, 5, &[1], &[]).unwrap();
    assert!(m.payload.is_empty());
    let m = mgmt_set(
        uri::MGMT_PENDING_SET,
        6,
        &[1],
        0x2a,
        &[0x34, 0x04, 0, 0, 0x75, 0x30],
    )
    .unwrap();
    assert_eq!(m.payload, hex::decode("0b02002a340400007530").unwrap());
    assert!(Message::post(true, "c/cp", 1, &[0; 9], &[]).is_err());
}

#[test]
fn malformed() {
    for bad in [
        &[][..],
        &[0x40, 0x02, 0x00],                         // short header
        &[0x80, 0x02, 0x00, 0x01],                   // version 2
        &[0x49, 0x02, 0x00, 0x01],                   // token length 9
        &[0x42, 0x02, 0x00, 0x01, 0xAA],             // token cut short
        &[0x40, 0x00, 0x00, 0x01, 0xFF, 0x01],       // empty message with payload
        &[0x40, 0x02, 0x00, 0x01, 0xFF],             // marker without payload
        &[0x40, 0x02, 0x00, 0x01, 0xB5, 0x63],       // option cut short
        &[0x40, 0x02, 0x00, 0x01, 0xF0],             // option delta 15
        &[0x40, 0x02, 0x00, 0x01, 0xB2, 0xC3, 0x28], // Uri-Path not UTF-8
    ] {
        assert!(Message::parse(bad).is_err(), "{bad:02x?}");
    }
    // An option value that ends in 0xFF is not a payload marker.
    let ok = [0x40, 0x02, 0x00, 0x01, 0x61, 0xFF];
    assert!(Message::parse(&ok).is_ok());
}

#[test]
fn retransmission_schedule() {
    let t0 = Instant::now();
    let mut r = Retransmitter::new(vec![1, 2, 3], 0);
    assert_eq!(r.poll_timeout(), None);
    r.on_send(t0);
    assert_eq!(r.poll_timeout(), Some(t0 + Duration::from_secs(2)));
    assert_eq!(r.on_timeout(t0 + Duration::from_secs(1)), Timeout::NotYet);
    let mut now = t0;
    let mut waits = Vec::new();
    loop {
        let d = r.poll_timeout().unwrap();
        waits.push((d - now).as_secs());
        now = d;
        match r.on_timeout(now) {
            Timeout::Resend(b) => assert_eq!(b, &[1, 2, 3]),
            Timeout::GaveUp => break,
            Timeout::NotYet => unreachable!(),
        }
    }
    assert_eq!(waits, vec![2, 4, 8, 16, 32]);
    assert_eq!(r.retransmits(), 4);
    assert!(r.is_finished() && r.poll_timeout().is_none());
    // the random factor: u32::MAX -> just under 3 s
    let mut r = Retransmitter::new(vec![], u32::MAX);
    r.on_send(t0);
    let first = r.poll_timeout().unwrap() - t0;
    assert!(first >= Duration::from_millis(2999) && first < Duration::from_secs(3));
    r.acknowledge();
    assert_eq!(r.on_timeout(t0 + Duration::from_secs(100)), Timeout::NotYet);
}

proptest::proptest! {
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
        if let Ok(m) = Message::parse(&bytes) {
            let _ = m.encode();
            let _ = m.tlvs().count();
        }
    }

    #[test]
    fn parse_never_panics_after_valid_header(
        tkl in 0u8..9, code in proptest::num::u8::ANY,
        rest in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
    ) {
        let mut bytes = vec![0x40 | tkl, code, 0x12, 0x34];
        bytes.extend_from_slice(&rest);
        if let Ok(m) = Message::parse(&bytes) {
            let enc = m.encode().unwrap();
            proptest::prop_assert_eq!(Message::parse(&enc).unwrap(), m);
        }
    }

    #[test]
    fn tlv_parser_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
        let all: Vec<_> = tlv::iter(&bytes).collect();
        if all.iter().all(|r| r.is_ok()) {
            let owned = tlv::parse_all(&bytes).unwrap();
            let again = tlv::encode_all(&owned).unwrap();
            proptest::prop_assert_eq!(tlv::parse_all(&again).unwrap(), owned);
        }
    }
}
