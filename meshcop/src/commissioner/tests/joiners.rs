//! Joiner sessions: DTLS through RLY_RX/RLY_TX, JOIN_FIN checks, KEK, consumed-entry linger,
//! concurrency, unknown and silent joiners, restarted handshakes.

use super::*;

#[test]
fn single_joiner_is_entrusted_with_the_right_kek() {
    let mut w = World::active();
    let e = eui(1);
    w.add_eui64(e, "J01NME");
    assert!(w.run_until(Duration::from_secs(10), |w| w.ba.steering_sets.len() == 2));
    assert_eq!(
        w.last_steering(),
        SteeringData::from_joiner_ids([&credentials::joiner_id(&e)]).as_bytes()
    );

    w.start_joiner(e, "J01NME", 77);
    assert!(w.run_until(Duration::from_secs(60), |w| w.entrusted() == 1));
    w.run_until(Duration::from_secs(1), |_| false);
    let j = &w.joiners[0];
    assert_eq!(j.fin_state, Some(1));
    let with_kek: Vec<&Relayed> =
        w.ba.all_relayed
            .iter()
            .filter(|r| r.kek.is_some())
            .collect();
    assert_eq!(
        with_kek.len(),
        1,
        "exactly the JOIN_FIN.rsp carries the KEK"
    );
    assert_eq!(with_kek[0].kek, Some(j.kek()));
    assert!(with_kek[0].kek_before_record, "OpenThread's TLV order");
    assert!(w.ba.all_relayed.iter().all(|r| r.addr == j.addr));
    assert!(
        w.ba.all_relayed.iter().all(|r| r.record.len() <= 700),
        "each joiner datagram fits one RLY_TX record"
    );

    // The consumed entry lingers (OpenThread's kRemoveJoinerDelay), marked joined, then goes.
    let listed = w.comm.list();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].joined);
    assert!(listed[0].expires_at <= w.now + w.comm.config().consumed_entry_linger);
    assert!(!w.has(|ev| matches!(ev, Event::EntryRemoved { .. })));
    // The consumed entry cleared the steering data again.
    assert!(w.run_until(Duration::from_secs(40), |w| w.ba.steering_sets.len() == 3));
    assert_eq!(w.last_steering(), vec![0u8; 16]);
    assert!(w.comm.list().is_empty());

    // Event sequence and contents.
    let kinds: Vec<&str> = w
        .events
        .iter()
        .filter_map(|e| match e {
            Event::JoinerSeen { .. } => Some("seen"),
            Event::JoinerAuthenticated { .. } => Some("auth"),
            Event::JoinerFinalize { .. } => Some("fin"),
            Event::JoinerEntrusted { .. } => Some("entrusted"),
            Event::EntryRemoved { .. } => Some("removed"),
            Event::JoinerHandshakeFailed { .. } => Some("failed"),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["seen", "auth", "fin", "entrusted", "removed"]);
    let fin = w
        .events
        .iter()
        .find(|e| matches!(e, Event::JoinerFinalize { .. }))
        .unwrap();
    let Event::JoinerFinalize {
        joiner,
        vendor_name,
        vendor_model,
        vendor_sw_version,
        vendor_stack_version,
        provisioning_url,
        accepted,
        ..
    } = fin
    else {
        unreachable!()
    };
    assert!(accepted);
    assert_eq!(vendor_name, "OpenThread");
    assert_eq!(vendor_model, "SimJoiner");
    assert_eq!(vendor_sw_version, "1.2.3");
    assert_eq!(vendor_stack_version, &hex::encode(STACK_VERSION));
    assert_eq!(provisioning_url, &None);
    assert_eq!(joiner.joiner_id, hex::encode(credentials::joiner_id(&e)));
    assert_eq!(joiner.eui64.as_deref(), Some(hex::encode(e).as_str()));
    assert_eq!(joiner.joiner_router, 0x0400);
    assert!(w.has(|ev| *ev
        == Event::EntryRemoved {
            kind: JoinerKind::Eui64(e),
            reason: RemovalReason::Joined
        }));
    assert!(!w.has(|ev| matches!(ev, Event::EntryExpired { .. })));
    assert_eq!(w.comm.stats().joined, 1);
    // The joiner closed its session; nothing is left.
    assert_eq!(w.comm.joiner_sessions(), 0);
}

#[test]
fn wrong_pskd_reports_and_a_retry_succeeds() {
    let mut w = World::active();
    let e = eui(2);
    w.add_eui64(e, "RGHT11");
    w.start_joiner(e, "WR0NG1", 5);
    assert!(w.run_until(Duration::from_secs(120), |w| w.joiners[0].failed.is_some()));
    w.run_until(Duration::from_secs(1), |_| false);
    // The joiner (a DTLS client) learns it only from our plaintext alert: a hint (issue 10).
    assert_eq!(w.joiners[0].failed, Some(dtls::Error::PossibleBadPassword));
    assert!(w.has(|ev| matches!(
        ev,
        Event::JoinerHandshakeFailed {
            reason: HandshakeFailure::WrongPskd,
            ..
        }
    )));
    assert_eq!(w.comm.list().len(), 1, "the entry stays for a retry");
    assert_eq!(w.comm.joiner_sessions(), 0);

    w.joiners.clear();
    w.start_joiner(e, "RGHT11", 6);
    assert!(w.run_until(Duration::from_secs(60), |w| w.entrusted() == 1));
    w.run_until(Duration::from_secs(1), |_| false);
    assert_eq!(w.joiners[0].fin_state, Some(1));
    let kek = w.ba.all_relayed.iter().find_map(|r| r.kek).unwrap();
    assert_eq!(kek, w.joiners[0].kek());
}

/// A joiner that lost the last reply (OpenThread prints `Join failed [ResponseTimeout]`) and
/// starts over within `consumed_entry_linger` is admitted again; after the linger the entry is
/// gone and a new handshake gets no session.
#[test]
fn entrusted_joiner_retry_within_linger_is_admitted_again() {
    let mut w = World::active();
    let e = eui(7);
    w.add_eui64(e, "L1NGER");
    w.start_joiner(e, "L1NGER", 40);
    assert!(w.run_until(Duration::from_secs(60), |w| w.entrusted() == 1));
    let entrusted_at = w.now;
    w.run_until(Duration::from_secs(1), |_| false);
    assert!(w.comm.list()[0].joined);

    // The joiner restarts its handshake (new ClientHello) within the linger: admitted again.
    w.joiners.clear();
    w.start_joiner(e, "L1NGER", 41);
    assert!(w.run_until(Duration::from_secs(10), |w| w.entrusted() == 2));
    assert!(w.now < entrusted_at + w.comm.config().consumed_entry_linger);
    w.run_until(Duration::from_secs(1), |_| false);
    assert_eq!(w.joiners[0].fin_state, Some(1));
    assert_eq!(w.comm.stats().joined, 2);
    assert!(!w.has(|ev| matches!(ev, Event::EntryRemoved { .. })));

    // The second entrust did not push the removal back: it happens at the first linger's end.
    assert!(w.run_until(Duration::from_secs(40), |w| w.comm.list().is_empty()));
    assert!(w.now <= entrusted_at + w.comm.config().consumed_entry_linger);
    assert_eq!(
        w.count(|ev| *ev
            == Event::EntryRemoved {
                kind: JoinerKind::Eui64(e),
                reason: RemovalReason::Joined
            }),
        1
    );
    assert!(!w.has(|ev| matches!(ev, Event::EntryExpired { .. })));

    // After the linger: no entry admits it, no session, no reply.
    let unknown = w.comm.stats().unknown_joiners;
    let relayed = w.ba.all_relayed.len();
    w.joiners.clear();
    w.start_joiner(e, "L1NGER", 42);
    w.run_until(Duration::from_secs(30), |_| false);
    assert!(w.comm.stats().unknown_joiners > unknown);
    assert_eq!(w.comm.joiner_sessions(), 0);
    assert_eq!(
        w.ba.all_relayed.len(),
        relayed,
        "nothing relayed to the joiner"
    );
    assert_eq!(w.entrusted(), 2);
    assert!(w.joiners[0].fin_state.is_none());
}

/// With `consumed_entry_linger` zero the entry goes at the entrust.
#[test]
fn zero_linger_removes_the_entry_at_once() {
    let mut w = World::active();
    w.comm.config.consumed_entry_linger = Duration::ZERO;
    let e = eui(8);
    w.add_eui64(e, "N0WA1T");
    w.start_joiner(e, "N0WA1T", 43);
    assert!(w.run_until(Duration::from_secs(60), |w| w.entrusted() == 1));
    assert!(w.comm.list().is_empty());
    assert!(w.has(|ev| *ev
        == Event::EntryRemoved {
            kind: JoinerKind::Eui64(e),
            reason: RemovalReason::Joined
        }));
}

#[test]
fn ten_concurrent_joiners_all_succeed() {
    let mut w = World::active();
    for n in 0..10u8 {
        let p = format!("PSKD{n:02}X");
        // Half by EUI-64, half by the wildcard entry (with one PSKd for all).
        if n < 5 {
            w.add(JoinerKind::Eui64(eui(10 + n)), &p, Duration::from_secs(600));
        }
    }
    w.add(JoinerKind::Any, "ANYPSK", Duration::from_secs(600));
    for n in 0..10u8 {
        let p = if n < 5 {
            format!("PSKD{n:02}X")
        } else {
            "ANYPSK".to_string()
        };
        let router = 0x0400 + 0x0400 * u16::from(n % 3);
        w.joiners.push(FakeJoiner::new(
            w.now,
            eui(10 + n),
            &p,
            router,
            100 + u64::from(n),
        ));
    }
    assert!(
        w.run_until(Duration::from_secs(120), |w| w.entrusted() == 10),
        "{:#?}",
        w.events
    );
    w.run_until(Duration::from_secs(1), |_| false);
    for j in &w.joiners {
        assert_eq!(j.fin_state, Some(1));
        let kek =
            w.ba.all_relayed
                .iter()
                .find(|r| r.addr == j.addr && r.kek.is_some())
                .unwrap()
                .kek
                .unwrap();
        assert_eq!(kek, j.kek());
    }
    assert!(!w.has(|e| matches!(e, Event::JoinerHandshakeFailed { .. })));
    // EUI-64 entries consumed (after their linger), the wildcard stays.
    assert!(w.run_until(Duration::from_secs(40), |w| w.comm.list().len() == 1));
    let left: Vec<JoinerKind> = w.comm.list().into_iter().map(|e| e.kind).collect();
    assert_eq!(left, vec![JoinerKind::Any]);
    assert_eq!(w.last_steering(), vec![0xFF]);
}

#[test]
fn join_fin_with_foreign_provisioning_url_or_missing_vendor_tlv_is_rejected_without_kek() {
    for case in 0..2 {
        let mut w = World::active();
        w.add(JoinerKind::Any, "ANYPSK", Duration::from_secs(600));
        let mut j = FakeJoiner::new(w.now, eui(9), "ANYPSK", 0x0800, 9);
        if case == 0 {
            j.provisioning_url = Some("https://evil.example".into());
        } else {
            j.omit_vendor_model = true;
        }
        w.joiners.push(j);
        assert!(w.run_until(Duration::from_secs(60), |w| w.joiners[0]
            .fin_state
            .is_some()));
        assert_eq!(w.joiners[0].fin_state, Some(-1));
        assert!(w.ba.all_relayed.iter().all(|r| r.kek.is_none()));
        assert!(w.has(|e| matches!(
            e,
            Event::JoinerFinalize {
                accepted: false,
                reject_reason: Some(_),
                ..
            }
        )));
        assert_eq!(w.entrusted(), 0);
    }
    // The matching URL is accepted.
    let mut w = World::active();
    w.comm.config.provisioning_url = Some("https://ok.example".into());
    w.add(JoinerKind::Any, "ANYPSK", Duration::from_secs(600));
    let mut j = FakeJoiner::new(w.now, eui(9), "ANYPSK", 0x0800, 9);
    j.provisioning_url = Some("https://ok.example".into());
    w.joiners.push(j);
    assert!(w.run_until(Duration::from_secs(60), |w| w.entrusted() == 1));
}

#[test]
fn unknown_joiner_is_ignored_and_silent_joiner_times_out() {
    let mut w = World::active();
    w.add_eui64(eui(1), "AAAAAA");
    // Not in the table: nothing happens.
    w.start_joiner(eui(2), "AAAAAA", 3);
    w.run_until(Duration::from_secs(5), |_| false);
    assert!(!w.has(|e| matches!(e, Event::JoinerSeen { .. })));
    assert!(w.comm.stats().unknown_joiners >= 1);
    // A joiner that disappears after the cookie exchange times out.
    w.joiners.clear();
    let mut j = FakeJoiner::new(w.now, eui(1), "AAAAAA", 0x0400, 4);
    let now = w.now;
    let hello = j.conn.poll_transmit().unwrap();
    w.ba.relay_rx(&j.addr, &hello);
    w.shuttle();
    assert!(
        !w.has(|e| matches!(e, Event::JoinerSeen { .. })),
        "no state before the cookie"
    );
    assert_eq!(w.comm.joiner_sessions(), 0);
    let hvr = w.ba.all_relayed.last().cloned().unwrap();
    j.conn.handle_datagram(now, &hvr.record);
    let hello2 = j.conn.poll_transmit().unwrap();
    w.ba.relay_rx(&j.addr, &hello2);
    w.shuttle();
    assert!(
        w.has(|e| matches!(e, Event::JoinerSeen { .. })),
        "{:#?}",
        w.events
    );
    assert_eq!(w.comm.joiner_sessions(), 1);
    drop(j);
    assert!(
        w.run_until(Duration::from_secs(200), |w| w.has(|e| matches!(
            e,
            Event::JoinerHandshakeFailed {
                reason: HandshakeFailure::Timeout,
                ..
            }
        )))
    );
    assert_eq!(w.comm.joiner_sessions(), 0);
}

#[test]
fn client_hello_cookie_detection() {
    let now = Instant::now();
    let mut c = dtls::Connection::client(dtls::Config::client(b"AAAAAA"), rng(1), now).unwrap();
    let first = c.poll_transmit().unwrap();
    assert_eq!(dtls::peek_client_hello(&first).unwrap().cookie_len, 0);
    let mut s =
        dtls::Connection::server(dtls::Config::server(b"AAAAAA"), b"k", b"p", rng(2)).unwrap();
    s.handle_datagram(now, &first);
    c.handle_datagram(now, &s.poll_transmit().unwrap());
    let second = c.poll_transmit().unwrap();
    assert!(dtls::peek_client_hello(&second).unwrap().cookie_len > 0);
    assert_eq!(
        dtls::peek_client_hello(&first).unwrap().random,
        dtls::peek_client_hello(&second).unwrap().random
    );
    assert_eq!(dtls::peek_client_hello(&[22, 0xfe]), None);
}

/// A JOIN_FIN.req with these vendor TLVs (and a Provisioning URL when given).
fn join_fin(name: &str, model: &str, sw: &str, stack: &[u8], data: &[u8], url: &str) -> Message {
    let mut tlvs = vec![
        Tlv::vendor_name(name),
        Tlv::vendor_model(model),
        Tlv::vendor_sw_version(sw),
        Tlv::vendor_stack_version(stack),
        Tlv::vendor_data(data),
    ];
    if !url.is_empty() {
        tlvs.push(Tlv::provisioning_url(url));
    }
    Message::post(true, "c/jf", 1, &[1], &tlvs).unwrap()
}

/// Thread's lengths (OpenThread `meshcop_tlvs.hpp`): vendor name and model 32, software version
/// 16, vendor data 64, provisioning URL 64 bytes, stack version exactly 6. At the limits a
/// JOIN_FIN passes; one byte over, it is rejected with a problem naming the TLV and the value
/// is cut to the limit (no event carries more).
#[test]
fn join_fin_vendor_strings_are_bounded() {
    let (n32, n16, n64) = ("n".repeat(32), "s".repeat(16), "u".repeat(64));
    let ok = join_fin(&n32, &n32, &n16, &[1; 6], &[2; 64], &n64);
    let (v, url, problems) = crate::commissioner::joiners::join_fin_tlvs(&ok);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(
        (v.name.len(), v.model.len(), v.sw_version.len()),
        (32, 32, 16)
    );
    assert_eq!(url.as_deref(), Some(n64.as_str()));

    let (n33, n17, n65) = ("n".repeat(33), "s".repeat(17), "u".repeat(65));
    let cases: [(Message, &str); 6] = [
        (
            join_fin(&n33, "m", "1", &[1; 6], &[], ""),
            "Vendor Name is 33 bytes",
        ),
        (
            join_fin("n", &n33, "1", &[1; 6], &[], ""),
            "Vendor Model is 33 bytes",
        ),
        (
            join_fin("n", "m", &n17, &[1; 6], &[], ""),
            "Vendor SW Version is 17 bytes",
        ),
        (
            join_fin("n", "m", "1", &[1; 7], &[], ""),
            "Vendor Stack Version is 7 bytes",
        ),
        (
            join_fin("n", "m", "1", &[1; 6], &[2; 65], ""),
            "Vendor Data is 65 bytes",
        ),
        (
            join_fin("n", "m", "1", &[1; 6], &[], &n65),
            "Provisioning URL is 65 bytes",
        ),
    ];
    for (msg, want) in cases {
        let (v, url, problems) = crate::commissioner::joiners::join_fin_tlvs(&msg);
        assert!(
            problems.iter().any(|p| p.contains(want)),
            "{want}: {problems:?}"
        );
        assert!(v.name.len() <= 32 && v.model.len() <= 32 && v.sw_version.len() <= 16);
        assert!(v.stack_version.len() <= 12 && v.data.as_ref().is_none_or(|d| d.len() <= 128));
        assert!(url.is_none_or(|u| u.len() <= 64));
    }
    // A multi-byte character is cut at a character boundary.
    let (v, _, problems) = crate::commissioner::joiners::join_fin_tlvs(&join_fin(
        &"é".repeat(17),
        "m",
        "1",
        &[1; 6],
        &[],
        "",
    ));
    assert_eq!(problems.len(), 1);
    assert_eq!(v.name, "é".repeat(16));
}

/// Through a real joiner: an over-long Provisioning URL that otherwise matches ours is rejected
/// (State=reject, no KEK) with the length in the reason.
#[test]
fn join_fin_with_an_over_long_provisioning_url_is_rejected() {
    let mut w = World::active();
    let long = format!("https://{}.example", "a".repeat(60));
    w.comm.config.provisioning_url = Some(long.clone());
    w.add(JoinerKind::Any, "ANYPSK", Duration::from_secs(600));
    let mut j = FakeJoiner::new(w.now, eui(9), "ANYPSK", 0x0800, 9);
    j.provisioning_url = Some(long);
    w.joiners.push(j);
    assert!(w.run_until(Duration::from_secs(60), |w| w.joiners[0]
        .fin_state
        .is_some()));
    assert_eq!(w.joiners[0].fin_state, Some(-1));
    assert!(w.ba.all_relayed.iter().all(|r| r.kek.is_none()));
    assert!(w.has(|e| matches!(
        e,
        Event::JoinerFinalize { accepted: false, reject_reason: Some(r), provisioning_url: Some(u), .. }
            if r.contains("longer than Thread's 64") && u.len() == 64
    )));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Garbage JOIN_FIN payloads: no panic, every value within Thread's lengths.
    #[test]
    fn join_fin_garbage_never_panics_and_stays_bounded(payload in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut m = Message::post(true, "c/jf", 1, &[1], &[]).unwrap();
        m.payload = payload;
        let (v, url, _) = crate::commissioner::joiners::join_fin_tlvs(&m);
        prop_assert!(v.name.len() <= 32 && v.model.len() <= 32 && v.sw_version.len() <= 16);
        prop_assert!(v.stack_version.len() <= 12);
        prop_assert!(v.data.is_none_or(|d| d.len() <= 128));
        prop_assert!(url.is_none_or(|u| u.len() <= 64));
    }
}
