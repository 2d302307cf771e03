use super::*;
use crate::fake_ncp::FakeNcp;
use ncp::props::forward::decode_forward;

fn v6(s: &str) -> SocketAddrV6 {
    s.parse().unwrap()
}

#[test]
fn the_peer_table_is_bounded_and_expires() {
    let t0 = Instant::now();
    let mut p = Peers::new(2, Duration::from_secs(10));
    assert!(p.touch(v6("[fe80::1%2]:1000"), t0));
    assert!(p.touch(v6("[fe80::2%2]:1000"), t0));
    // Full of live peers: a third is refused, a known one is still welcome.
    assert!(!p.touch(v6("[fe80::3%2]:1000"), t0));
    assert!(p.touch(v6("[fe80::1%2]:1000"), t0 + Duration::from_secs(5)));
    // The scope id comes back with the address.
    let a = p.lookup(
        "fe80::1".parse().unwrap(),
        1000,
        t0 + Duration::from_secs(6),
    );
    assert_eq!(a.map(|a| a.scope_id()), Some(2));
    assert_eq!(p.lookup("fe80::1".parse().unwrap(), 1001, t0), None);
    // fe80::2 went idle: the third peer takes its place.
    let later = t0 + Duration::from_secs(12);
    assert!(p.touch(v6("[fe80::3%2]:1000"), later));
    assert_eq!(p.len(later), 2);
    assert_eq!(p.lookup("fe80::2".parse().unwrap(), 1000, later), None);
    assert_eq!(p.len(later + Duration::from_secs(60)), 0);
}

#[test]
fn the_rate_limit_allows_a_burst_then_the_rate() {
    let t0 = Instant::now();
    let mut b = Bucket::new(10, 5);
    assert_eq!((0..8).filter(|_| b.take(t0)).count(), 5);
    // 0.5 s later: 5 more tokens (not more than the burst).
    let t1 = t0 + Duration::from_millis(500);
    assert_eq!((0..8).filter(|_| b.take(t1)).count(), 5);
    let t2 = t1 + Duration::from_secs(60);
    assert_eq!((0..8).filter(|_| b.take(t2)).count(), 5);
}

#[tokio::test]
async fn an_inactive_relay_drops_everything_and_has_no_port() {
    let (_fake, client, _events) = FakeNcp::start();
    let (relay, inlet) = start(
        client,
        RelayConfig {
            interface: None,
            lan_port: 0,
        },
    );
    inlet.forwarded(Forwarded {
        payload: vec![1],
        peer_port: 1,
        peer_addr: Ipv6Addr::LOCALHOST,
        local_port: 2,
    });
    inlet.reset();
    assert_eq!(*relay.port().borrow(), None);
    let s = relay.status_json();
    assert_eq!(s["lan_port"], Value::Null);
    assert_eq!(s["interface"], Value::Null);
    assert_eq!(s["dropped"], 0);
}

async fn wait_for<T>(mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..500 {
        if let Some(v) = f() {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out");
}

/// A LAN datagram becomes a forward-stream SET with the peer's address and the Border Agent's
/// port; the Border Agent's answer goes back to that peer; garbage, oversized datagrams and a
/// down Border Agent are counted, and the relay keeps working.
#[tokio::test]
async fn datagrams_are_relayed_both_ways_over_loopback() {
    if bind("lo", 0).is_err() {
        eprintln!("skipped: cannot bind to lo with SO_BINDTODEVICE (not root?)");
        return;
    }
    let (fake, client, _events) = FakeNcp::start();
    fake.set(prop::BORDER_AGENT_MESHCOP_SERVICE_STATE, &[1, 0x01, 0xc0]); // active, 49153
    let (relay, inlet) = start(
        client,
        RelayConfig {
            interface: Some("lo".into()),
            lan_port: 0,
        },
    );
    let mut port_rx = relay.port();
    let port = wait_for(|| *port_rx.borrow_and_update()).await;
    let lan = UdpSocket::bind("[::1]:0").await.unwrap();
    let me = match lan.local_addr().unwrap() {
        SocketAddr::V6(a) => a,
        SocketAddr::V4(_) => unreachable!(),
    };
    let relay_addr = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
    let sent = |payload: Vec<u8>| {
        let lan = &lan;
        async move { lan.send_to(&payload, relay_addr).await.unwrap() }
    };
    let last_set = || {
        fake.get(prop::THREAD_UDP_FORWARD_STREAM)
            .and_then(|v| decode_forward(&v))
    };

    sent(b"\x16\xfe\xfdhello".to_vec()).await;
    let f = wait_for(last_set).await;
    assert_eq!(f.payload, b"\x16\xfe\xfdhello");
    assert_eq!(
        (f.peer_addr, f.peer_port, f.local_port),
        (*me.ip(), me.port(), 49153)
    );

    inlet.forwarded(Forwarded {
        payload: b"answer".to_vec(),
        peer_port: me.port(),
        peer_addr: *me.ip(),
        local_port: 49153,
    });
    let mut buf = [0u8; 64];
    let (n, from) = tokio::time::timeout(Duration::from_secs(5), lan.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((&buf[..n], from.port()), (&b"answer"[..], port));

    // Garbage is relayed as a datagram; an oversized one is dropped.
    sent(vec![0xff; 40]).await;
    wait_for(|| last_set().filter(|f| f.payload == [0xff; 40])).await;
    sent(vec![0u8; MAX_PAYLOAD + 1]).await;
    // An answer to a peer we never heard from is dropped.
    inlet.forwarded(Forwarded {
        payload: b"x".to_vec(),
        peer_port: 9,
        peer_addr: "fe80::9".parse().unwrap(),
        local_port: 49153,
    });
    // The Border Agent goes down (a reset forgets its port): dropped.
    fake.set(prop::BORDER_AGENT_MESHCOP_SERVICE_STATE, &[0, 0, 0]);
    inlet.reset();
    tokio::time::sleep(Duration::from_millis(50)).await;
    sent(b"while down".to_vec()).await;
    let s = wait_for(|| {
        let s = relay.status_json();
        (s["dropped"] == 3).then_some(s)
    })
    .await;
    assert_eq!(s["to_border_agent"], 2, "{s}");
    assert_eq!(s["from_border_agent"], 1, "{s}");
    assert_eq!(s["peers"], 1, "{s}");
    assert_eq!(s["lan_port"], port, "{s}");
    assert_eq!(s["interface"], "lo", "{s}");
    let by = &s["dropped_by_reason"];
    assert_eq!(
        (
            by["too_large"].as_u64(),
            by["unknown_peer"].as_u64(),
            by["border_agent_down"].as_u64()
        ),
        (Some(1), Some(1), Some(1)),
        "{s}"
    );
    // Back up: relayed again.
    fake.set(prop::BORDER_AGENT_MESHCOP_SERVICE_STATE, &[1, 0x01, 0xc0]);
    inlet.reset();
    tokio::time::sleep(Duration::from_millis(50)).await;
    sent(b"again".to_vec()).await;
    wait_for(|| last_set().filter(|f| f.payload == b"again")).await;

    // A new peer beyond MAX_PEERS live ones is dropped.
    let mut others = Vec::new();
    for _ in 0..MAX_PEERS {
        let s = UdpSocket::bind("[::1]:0").await.unwrap();
        s.send_to(b"hi", relay_addr).await.unwrap();
        others.push(s);
    }
    let s = wait_for(|| {
        let s = relay.status_json();
        (s["dropped_by_reason"]["too_many_peers"] == 1).then_some(s)
    })
    .await;
    assert_eq!(s["peers"], MAX_PEERS, "{s}");
}

#[test]
fn the_commissioners_own_peer_is_reserved() {
    use crate::commissioner::{PEER_ADDR, PEER_PORT};
    assert!(super::reserved(&SocketAddrV6::new(
        PEER_ADDR, PEER_PORT, 0, 0
    )));
    assert!(super::reserved(&SocketAddrV6::new(
        PEER_ADDR, PEER_PORT, 0, 3
    )));
    assert!(!super::reserved(&SocketAddrV6::new(
        PEER_ADDR,
        PEER_PORT + 1,
        0,
        0
    )));
    assert!(!super::reserved(&SocketAddrV6::new(
        "fe80::1".parse().unwrap(),
        PEER_PORT,
        0,
        0
    )));
}
