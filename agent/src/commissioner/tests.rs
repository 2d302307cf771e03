use super::*;

#[test]
fn leader_commissioning_data() {
    // Network data: a prefix TLV (type 1, stable) then Commissioning Data (type 4, not
    // stable) with Border Agent Locator, Session ID, Steering Data, Joiner UDP Port.
    let nd = [
        0x03, 0x02, 0xaa, 0xbb, // prefix TLV (ignored)
        0x08, 0x0f, // commissioning data, 15 bytes
        0x09, 0x02, 0xf0, 0x00, 0x0b, 0x02, 0x12, 0x34, 0x08, 0x01, 0xff, 0x12, 0x02, 0x03, 0xe8,
    ];
    let v = leader_commissioning(&nd);
    assert_eq!(v["session_id"], 0x1234);
    assert_eq!(v["border_agent_locator"], "0xf000");
    assert_eq!(v["steering_data"], "ff");
    assert_eq!(v["joiner_udp_port"], 1000);
    assert_eq!(leader_commissioning(&[0x03, 0x02, 1, 2]), Value::Null);
    assert_eq!(leader_commissioning(&[0x08, 0x30, 1]), Value::Null);
}

#[test]
fn border_agent_answer_is_merged_into_status() {
    let mut st = json!({"state": "active", "border_agent": {"active": true, "port": 49153}});
    let d = CommissionerDataset {
        session_id: Some(0x1234),
        border_agent_locator: Some(0xfc00),
        steering_data: Some(vec![0xff]),
        joiner_udp_port: None,
        other: vec![meshcop::tlv::Tlv::new(0x7f, vec![1, 2])],
    };
    insert_ba_answer(&mut st, Ok(&d));
    assert_eq!(
        st["border_agent"],
        json!({"active": true, "port": 49153, "session_id": 0x1234,
               "border_agent_locator": "0xfc00", "steering_data": "ff",
               "other_tlvs": [{"type": 0x7f, "value": "0102"}]})
    );
    let mut st = json!({"border_agent": {"error": "x"}});
    insert_ba_answer(&mut st, Err("no answer".into()));
    assert_eq!(
        st["border_agent"],
        json!({"error": "x", "get_error": "no answer"})
    );
}

#[test]
fn diag_answers_as_json() {
    let a = DiagAnswer {
        source: "fd00::ff:fe00:1001".parse().unwrap(),
        eui64: Some([0x18, 0xb4, 0x30, 0, 0, 0, 0, 3]),
        ext_address: None,
        rloc16: Some(0x1001),
        mode: Some(13),
    };
    assert_eq!(
        diag_answers_json(&[a]),
        json!({"answers": [{"source": "fd00::ff:fe00:1001", "eui64": "18b4300000000003",
            "ext_address": null, "rloc16": "0x1001", "mode": 13}]})
    );
}

/// On the fake co-processor (no Border Agent there): a diagnostic query is refused at once with
/// `ncp_unavailable`, never hangs; after `commissioner.stop` it is refused too.
#[tokio::test]
async fn diag_query_without_a_border_agent_is_refused_at_once() {
    use crate::fake_ncp::FakeNcp;
    let dir = tempfile::tempdir().unwrap();
    let (_fake, client, _events) = FakeNcp::start();
    let net = crate::fake_ncp::network(client, dir.path(), "S");
    net.bring_up().await.unwrap();
    let (_in_tx, in_rx) = mpsc::channel(4);
    let audit = Arc::new(AuditLog::new(dir.path()));
    let svc = Service::spawn(net, CommissionerSettings::default(), audit, in_rx);
    let call = svc.diag_query(Duration::from_secs(1));
    let e = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("the query hangs")
        .unwrap_err();
    assert_eq!(e.code, "ncp_unavailable", "{}", e.message);
    svc.stop().await.unwrap();
    let e = svc.diag_query(Duration::from_secs(1)).await.unwrap_err();
    assert!(
        e.message.contains("stopped by the operator"),
        "{}",
        e.message
    );
}

#[test]
fn active_session_needs_a_border_agent_locator() {
    let active = [0x08, 0x08, 0x09, 0x02, 0xa8, 0x00, 0x0b, 0x02, 0x12, 0x34];
    assert_eq!(other::active_session(&active), Some(0x1234));
    // After a resignation the leader keeps only a Session ID.
    assert_eq!(
        other::active_session(&[0x08, 0x04, 0x0b, 0x02, 0x12, 0x35]),
        None
    );
    for garbage in [&[][..], &[0x08], &[0x08, 0xff, 0x09], &[0xff; 40]] {
        assert_eq!(other::active_session(garbage), None);
    }
}

/// While the leader's data shows another commissioner's session, `joiner.add` and
/// `commissioner.start` fail with `commissioner_busy` (nothing added) and the status names it;
/// once the data shows none, the add goes through.
#[tokio::test]
async fn another_active_commissioner_is_reported_and_blocks_adds() {
    use crate::fake_ncp::FakeNcp;
    let dir = tempfile::tempdir().unwrap();
    let (fake, client, _events) = FakeNcp::start();
    let net = crate::fake_ncp::network(client, dir.path(), "S");
    net.bring_up().await.unwrap();
    let active = [0x08, 0x08, 0x09, 0x02, 0xa8, 0x00, 0x0b, 0x02, 0x12, 0x34];
    fake.set(prop::THREAD_LEADER_NETWORK_DATA, &active);
    let (_in_tx, in_rx) = mpsc::channel(4);
    let audit = Arc::new(crate::audit::AuditLog::new(dir.path()));
    let svc = Service::spawn(net, CommissionerSettings::default(), audit, in_rx);
    let eui = JoinerKind::Eui64([7; 8]);
    let e = svc
        .add(eui, Pskd::new("J01NME").unwrap(), None)
        .await
        .unwrap_err();
    assert_eq!(e.code, "commissioner_busy");
    assert!(
        e.message
            .contains("another commissioner is active: session 4660"),
        "{}",
        e.message
    );
    assert!(!e.message.contains("J01NME"));
    let e = svc.start().await.unwrap_err();
    assert_eq!(e.code, "commissioner_busy");
    let st = svc.status().await.unwrap();
    assert_eq!(st["other_commissioner"], "session 4660", "{st}");
    assert_eq!(svc.list().await.unwrap()["joiners"], json!([]));
    // The other commissioner resigned: only a Session ID is left.
    fake.set(
        prop::THREAD_LEADER_NETWORK_DATA,
        &[0x08, 0x04, 0x0b, 0x02, 0x12, 0x35],
    );
    svc.add(eui, Pskd::new("J01NME").unwrap(), None)
        .await
        .unwrap();
    assert_eq!(
        svc.status().await.unwrap()["other_commissioner"],
        Value::Null
    );
}
