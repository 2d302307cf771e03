use super::*;
use crate::bridge::{Control, Inlet};
use crate::commissioner::{encode_forward, PEER_ADDR, PEER_PORT};

#[tokio::test]
async fn bridge_share_is_split_off() {
    let (ev_tx, ev_rx) = mpsc::channel(16);
    let (pk_tx, mut pk_rx) = mpsc::channel(1);
    let (ctl_tx, mut ctl_rx) = mpsc::channel(16);
    let inlet = Inlet::for_tests(pk_tx, ctl_tx);
    let (mut mon_rx, _svc) = route(
        ev_rx,
        inlet.clone(),
        Default::default(),
        Default::default(),
        None,
    );
    let pkt = |b: u8| Event::Property {
        command: cmd::IS,
        prop: prop::STREAM_NET,
        value: vec![1, 0, b],
    };
    ev_tx.send(pkt(1)).await.unwrap();
    ev_tx.send(pkt(2)).await.unwrap(); // queue of 1: dropped and counted
    let role = Event::Property {
        command: cmd::IS,
        prop: prop::NET_ROLE,
        value: vec![3],
    };
    ev_tx.send(role.clone()).await.unwrap();
    let chan = Event::Property {
        command: cmd::IS,
        prop: prop::PHY_CHAN,
        value: vec![15],
    };
    ev_tx.send(chan.clone()).await.unwrap();
    ev_tx.send(Event::Reset { status: 112 }).await.unwrap();
    assert_eq!(mon_rx.recv().await, Some(role.clone()));
    assert_eq!(mon_rx.recv().await, Some(chan));
    assert_eq!(mon_rx.recv().await, Some(Event::Reset { status: 112 }));
    assert_eq!(pk_rx.recv().await, Some(vec![1]));
    assert!(matches!(ctl_rx.recv().await, Some(Control::Ncp(e)) if e == role));
    assert!(matches!(
        ctl_rx.recv().await,
        Some(Control::Ncp(Event::Reset { .. }))
    ));
    assert_eq!(inlet.rx_queue_full(), 1);
}

#[test]
fn forward_stream_and_resets_reach_the_service() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let inlet = || Inlet::for_tests(mpsc::channel(16).0, mpsc::channel(16).0);
        let (tx, rx) = mpsc::channel(16);
        let (mut mon, mut svc) = route(rx, inlet(), Default::default(), Default::default(), None);
        let fwd = encode_forward(&[9], PEER_PORT, &PEER_ADDR, 1);
        tx.send(ncp::Event::Property { command: cmd::IS, prop: prop::THREAD_UDP_FORWARD_STREAM, value: fwd }).await.unwrap();
        tx.send(ncp::Event::Property { command: cmd::IS, prop: prop::NET_ROLE, value: vec![3] }).await.unwrap();
        tx.send(ncp::Event::Reset { status: 114 }).await.unwrap();
        drop(tx);
        match svc.recv().await.unwrap() {
            NcpInput::Forwarded(f) => assert_eq!(f.payload, vec![9]),
            other => panic!("{other:?}"),
        }
        assert!(matches!(svc.recv().await.unwrap(), NcpInput::Reset));
        assert!(matches!(mon.recv().await.unwrap(), ncp::Event::Property { prop: p, .. } if p == prop::NET_ROLE));
        assert!(matches!(mon.recv().await.unwrap(), ncp::Event::Reset { .. }));
        assert!(mon.recv().await.is_none());

        // Without a monitor (shutdown), datagrams still reach the service.
        let (tx, rx) = mpsc::channel(16);
        let (mon, mut svc) = route(rx, inlet(), Default::default(), Default::default(), None);
        drop(mon);
        tx.send(ncp::Event::Property { command: cmd::IS, prop: prop::NET_ROLE, value: vec![3] }).await.unwrap();
        let fwd = encode_forward(&[7], PEER_PORT, &PEER_ADDR, 1);
        tx.send(ncp::Event::Property { command: cmd::IS, prop: prop::THREAD_UDP_FORWARD_STREAM, value: fwd }).await.unwrap();
        assert!(matches!(svc.recv().await.unwrap(), NcpInput::Forwarded(f) if f.payload == vec![7]));
    });
}

#[tokio::test]
async fn scan_results_reach_the_running_scan_only() {
    let (fake, client, _events) = crate::fake_ncp::FakeNcp::start();
    let scanner = std::sync::Arc::new(crate::scan::Scanner::new(client));
    let (tx, rx) = mpsc::channel(16);
    let bridge = Inlet::for_tests(mpsc::channel(16).0, mpsc::channel(16).0);
    let (mut mon, _svc) = route(rx, bridge, scanner.inlet(), Default::default(), None);
    let s = scanner.clone();
    let task = tokio::spawn(async move { s.beacons(&[20]).await });
    while fake.count(cmd::SET, prop::MAC_SCAN_STATE) == 0 {
        tokio::task::yield_now().await;
    }
    // A beacon (as `HandleActiveScanResult` sends it), an energy result (the other kind: dropped
    // by this scan), then the scan's end.
    let beacon = hex::decode(
        "14ba0d00123456789abcdef0ffff3412ff12000348\
         4f54000800dead00beef00cafe0100ff",
    )
    .unwrap();
    let ev = |p, command, value| Event::Property {
        command,
        prop: p,
        value,
    };
    tx.send(ev(prop::MAC_SCAN_BEACON, cmd::INSERTED, beacon))
        .await
        .unwrap();
    tx.send(ev(
        prop::MAC_ENERGY_SCAN_RESULT,
        cmd::INSERTED,
        vec![20, 0xa4],
    ))
    .await
    .unwrap();
    let idle = ev(prop::MAC_SCAN_STATE, cmd::IS, vec![0]);
    tx.send(idle.clone()).await.unwrap();
    let heard = task.await.unwrap().unwrap();
    assert_eq!(heard.len(), 1);
    assert_eq!(
        (
            heard[0].channel,
            heard[0].pan_id,
            heard[0].network_name.as_str()
        ),
        (20, 0x1234, "OT")
    );
    // The monitor sees the state change, not the results.
    assert_eq!(mon.recv().await, Some(idle));
    drop(tx);
    assert_eq!(mon.recv().await, None);
}

/// A forward-stream datagram for a peer other than our commissioner goes to the LAN relay only.
#[tokio::test]
async fn other_peers_go_to_the_lan_relay() {
    let inlet = Inlet::for_tests(mpsc::channel(16).0, mpsc::channel(16).0);
    let (relay_tx, mut relay_rx) = mpsc::channel(16);
    let (tx, rx) = mpsc::channel(16);
    let (_mon, mut svc) = route(
        rx,
        inlet,
        Default::default(),
        crate::ba_relay::Inlet::for_tests(relay_tx),
        None,
    );
    let lan: std::net::Ipv6Addr = "fe80::1".parse().unwrap();
    for (addr, port, b) in [
        (lan, 5000, 1u8),
        (PEER_ADDR, PEER_PORT, 2),
        (PEER_ADDR, 5000, 3),
    ] {
        let value = encode_forward(&[b], port, &addr, 49153);
        tx.send(ncp::Event::Property {
            command: cmd::IS,
            prop: prop::THREAD_UDP_FORWARD_STREAM,
            value,
        })
        .await
        .unwrap();
    }
    tx.send(ncp::Event::Reset { status: 112 }).await.unwrap();
    let got = |i| match i {
        Some(crate::ba_relay::RelayInput::Forwarded(f)) => f.payload,
        other => panic!("{other:?}"),
    };
    assert_eq!(got(relay_rx.recv().await), vec![1]);
    assert_eq!(got(relay_rx.recv().await), vec![3]);
    assert!(matches!(
        relay_rx.recv().await,
        Some(crate::ba_relay::RelayInput::Reset)
    ));
    assert!(matches!(svc.recv().await, Some(NcpInput::Forwarded(f)) if f.payload == vec![2]));
}
