use super::*;
use tokio::io::DuplexStream;

/// The NCP side of an in-memory link: reads request frames, writes frames.
struct FakeNcp {
    io: DuplexStream,
    dec: hdlc::Decoder,
}

impl FakeNcp {
    async fn recv(&mut self) -> Frame {
        let mut b = [0u8; 1];
        loop {
            self.io.read_exact(&mut b).await.unwrap();
            if let Some(r) = self.dec.push(b[0]) {
                return Frame::parse(&r.unwrap()).unwrap();
            }
        }
    }
    async fn send(&mut self, f: Frame) {
        let mut out = Vec::new();
        hdlc::encode(&f.encode(), &mut out);
        self.io.write_all(&out).await.unwrap();
    }
}

fn pair(opts: ClientOptions) -> (Client, mpsc::Receiver<Event>, FakeNcp) {
    let (a, b) = tokio::io::duplex(4096);
    let (c, ev) = Client::with_transport(Transport::Memory(a), "memory".into(), opts);
    (
        c,
        ev,
        FakeNcp {
            io: b,
            dec: hdlc::Decoder::default(),
        },
    )
}

#[tokio::test]
async fn concurrent_requests_matched_by_tid() {
    let (c, _ev, mut ncp) = pair(ClientOptions::default());
    let c2 = c.clone();
    let a = tokio::spawn(async move { c2.get(prop::NCP_VERSION).await });
    let c3 = c.clone();
    let b = tokio::spawn(async move { c3.get(prop::HWADDR).await });
    let r1 = ncp.recv().await;
    let r2 = ncp.recv().await;
    assert_ne!(r1.tid, r2.tid);
    assert!((1..=15).contains(&r1.tid) && (1..=15).contains(&r2.tid));
    // Answer in reverse order.
    for r in [r2, r1] {
        let value = if r.prop == prop::HWADDR {
            vec![1, 2, 3, 4, 5, 6, 7, 8]
        } else {
            b"v1\0".to_vec()
        };
        ncp.send(Frame::new(r.tid, cmd::IS, r.prop, value)).await;
    }
    assert_eq!(a.await.unwrap().unwrap(), b"v1\0");
    assert_eq!(b.await.unwrap().unwrap(), [1, 2, 3, 4, 5, 6, 7, 8]);
}

#[tokio::test]
async fn status_errors_and_ok() {
    let (c, _ev, mut ncp) = pair(ClientOptions::default());
    let c2 = c.clone();
    let t = tokio::spawn(async move {
        (
            c2.set(prop::NET_IF_UP, &[1]).await,
            c2.get(Prop(4242)).await,
            c2.insert(prop::THREAD_ON_MESH_NETS, &[9]).await,
        )
    });
    let r = ncp.recv().await;
    ncp.send(Frame::new(r.tid, cmd::IS, prop::LAST_STATUS, vec![0x04]))
        .await; // INVALID_STATE
    let r = ncp.recv().await;
    ncp.send(Frame::new(r.tid, cmd::IS, prop::LAST_STATUS, vec![0x0D]))
        .await; // PROP_NOT_FOUND
    let r = ncp.recv().await;
    assert_eq!(r.command, cmd::INSERT);
    ncp.send(Frame::new(r.tid, cmd::IS, prop::LAST_STATUS, vec![0x00]))
        .await; // OK
    let (set, get, insert) = t.await.unwrap();
    assert!(matches!(
        set,
        Err(Error::Status {
            prop: prop::NET_IF_UP,
            status: Status::InvalidState
        })
    ));
    assert!(matches!(
        get,
        Err(Error::Status {
            status: Status::PropNotFound,
            ..
        })
    ));
    assert_eq!(insert.unwrap(), Vec::<u8>::new());
}

#[tokio::test]
async fn timeout_then_late_answer_is_stray() {
    let opts = ClientOptions {
        request_timeout: Duration::from_millis(50),
        ..Default::default()
    };
    let (c, _ev, mut ncp) = pair(opts);
    assert!(matches!(
        c.get(prop::CAPS).await,
        Err(Error::Timeout { .. })
    ));
    let late = ncp.recv().await;
    // The next request may get another TID; the late answer must not complete it.
    let c2 = c.clone();
    let t = tokio::spawn(async move { c2.get(prop::NCP_VERSION).await });
    let r = ncp.recv().await;
    ncp.send(Frame::new(late.tid, cmd::IS, prop::CAPS, vec![0x20]))
        .await;
    ncp.send(Frame::new(
        r.tid,
        cmd::IS,
        prop::NCP_VERSION,
        b"x\0".to_vec(),
    ))
    .await;
    assert_eq!(t.await.unwrap().unwrap(), b"x\0");
    let s = c.stats();
    assert_eq!((s.timeouts, s.stray_responses), (1, 1));
}

#[tokio::test]
async fn events_reset_and_drops() {
    let opts = ClientOptions {
        event_queue: 2,
        ..Default::default()
    };
    let (c, mut ev, mut ncp) = pair(opts);
    ncp.send(Frame::new(0, cmd::IS, prop::LAST_STATUS, vec![0x70]))
        .await;
    for i in 0..4u8 {
        ncp.send(Frame::new(0, cmd::IS, prop::NET_ROLE, vec![i]))
            .await;
    }
    // A request completes although the event queue is full (responses bypass it).
    let c2 = c.clone();
    let t = tokio::spawn(async move { c2.get(prop::NET_ROLE).await });
    let r = ncp.recv().await;
    ncp.send(Frame::new(r.tid, cmd::IS, prop::NET_ROLE, vec![3]))
        .await;
    assert_eq!(t.await.unwrap().unwrap(), [3]);
    assert_eq!(ev.recv().await, Some(Event::Reset { status: 112 }));
    assert_eq!(
        ev.recv().await,
        Some(Event::Property {
            command: cmd::IS,
            prop: prop::NET_ROLE,
            value: vec![0]
        })
    );
    assert_eq!(c.stats().events_dropped, 3);
    // Link loss: Closed still fits (reserved slot), pending requests fail with Closed.
    let c3 = c.clone();
    let t = tokio::spawn(async move { c3.get(prop::CAPS).await });
    let _ = ncp.recv().await;
    drop(ncp);
    assert!(matches!(t.await.unwrap(), Err(Error::Closed)));
    assert!(matches!(ev.recv().await, Some(Event::Closed { .. })));
    assert!(matches!(c.get(prop::CAPS).await, Err(Error::Closed)));
}

#[tokio::test]
async fn reset_waits_for_reset_status_and_garbage_is_counted() {
    let (c, mut ev, mut ncp) = pair(ClientOptions::default());
    let c2 = c.clone();
    let t = tokio::spawn(async move { c2.reset().await });
    let r = ncp.recv().await;
    assert_eq!(r.prop, prop::PROTOCOL_VERSION);
    ncp.send(Frame::new(r.tid, cmd::IS, r.prop, vec![4, 3]))
        .await;
    let r = ncp.recv().await;
    assert_eq!((r.tid, r.command), (0, cmd::RESET));
    ncp.io.write_all(&[0x7E, 0x01, 0x02, 0x7E]).await.unwrap(); // bad FCS
    ncp.send(Frame::new(0, cmd::IS, prop::LAST_STATUS, vec![0x72]))
        .await;
    t.await.unwrap().unwrap();
    assert_eq!(ev.recv().await, Some(Event::Reset { status: 114 }));
    assert_eq!(c.stats().decode_errors, 1);
}

#[tokio::test]
async fn send_nowait_uses_tid_zero() {
    let (c, _ev, mut ncp) = pair(ClientOptions::default());
    c.send_nowait(cmd::SET, prop::STREAM_NET, &[2, 0, 0x60, 0])
        .await
        .unwrap();
    let f = ncp.recv().await;
    assert_eq!((f.tid, f.command, f.prop), (0, cmd::SET, prop::STREAM_NET));
    assert_eq!(f.value, [2, 0, 0x60, 0]);
    drop(ncp);
    while !c.is_closed() {
        tokio::task::yield_now().await;
    }
    assert!(matches!(
        c.send_nowait(cmd::SET, prop::STREAM_NET, &[]).await,
        Err(Error::Closed)
    ));
}

#[test]
fn has_cap_and_names() {
    let info = NcpInfo {
        protocol: (4, 3),
        version: "x".into(),
        interface_type: 3,
        caps: vec![cap::CONFIG_FTD, cap::THREAD_UDP_FORWARD, 4242],
        hwaddr: [0; 8],
    };
    assert!(info.has_cap(cap::THREAD_UDP_FORWARD));
    assert!(!info.has_cap(cap::CONFIG_RADIO));
    assert_eq!(
        info.cap_names(),
        ["CONFIG_FTD", "THREAD_UDP_FORWARD", "4242"]
    );
}

/// A client whose opener hands each new link's NCP end to the test.
fn reopenable() -> (
    Client,
    mpsc::Receiver<Event>,
    FakeNcp,
    mpsc::UnboundedReceiver<FakeNcp>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let opener: Opener = Arc::new(move || {
        let (a, b) = tokio::io::duplex(4096);
        let _ = tx.send(FakeNcp {
            io: b,
            dec: hdlc::Decoder::default(),
        });
        Box::pin(async move { Ok(Transport::Memory(a)) })
    });
    let (a, b) = tokio::io::duplex(4096);
    let (c, ev) = Client::with_opener(
        Transport::Memory(a),
        opener,
        "memory".into(),
        ClientOptions::default(),
    );
    let first = FakeNcp {
        io: b,
        dec: hdlc::Decoder::default(),
    };
    (c, ev, first, rx)
}

async fn answer_version(ncp: &mut FakeNcp) {
    let r = ncp.recv().await;
    assert_eq!(r.prop, prop::PROTOCOL_VERSION);
    ncp.send(Frame::new(r.tid, cmd::IS, r.prop, vec![4, 3]))
        .await;
}

#[tokio::test]
async fn reopen_after_the_link_closed_and_while_it_hangs() {
    let (c, mut ev, first, mut links) = reopenable();
    // The co-processor goes away: Closed, then reopen gives a working link on the same client.
    drop(first);
    assert!(matches!(ev.recv().await, Some(Event::Closed { .. })));
    assert!(matches!(c.get(prop::CAPS).await, Err(Error::Closed)));
    c.reopen().await.unwrap();
    let mut second = links.recv().await.unwrap();
    let c2 = c.clone();
    let t = tokio::spawn(async move { c2.get(prop::PROTOCOL_VERSION).await });
    answer_version(&mut second).await;
    assert_eq!(t.await.unwrap().unwrap(), [4, 3]);
    assert_eq!(c.resets_seen(), 0);
    second
        .send(Frame::new(0, cmd::IS, prop::LAST_STATUS, vec![0x70]))
        .await;
    assert_eq!(ev.recv().await, Some(Event::Reset { status: 112 }));
    assert_eq!(c.resets_seen(), 1);

    // The co-processor hangs (reads nothing, answers nothing): reopening fails the request in
    // flight with Closed and the new link answers.
    let c3 = c.clone();
    let hung = tokio::spawn(async move { c3.get(prop::HWADDR).await });
    let _ = second.recv().await;
    c.reopen().await.unwrap();
    assert!(matches!(hung.await.unwrap(), Err(Error::Closed)));
    let mut third = links.recv().await.unwrap();
    let c4 = c.clone();
    let t = tokio::spawn(async move { c4.get(prop::PROTOCOL_VERSION).await });
    answer_version(&mut third).await;
    assert_eq!(t.await.unwrap().unwrap(), [4, 3]);
    drop(second);

    // Without an opener there is nothing to reopen.
    let (plain, _ev, _ncp) = pair(ClientOptions::default());
    assert!(matches!(plain.reopen().await, Err(Error::Protocol(_))));
}

#[tokio::test]
async fn reopen_restarts_a_forkpty_program() {
    let url = RadioUrl::forkpty("cat", vec![]);
    let (c, mut ev) = Client::open(&url, ClientOptions::default()).await.unwrap();
    c.reopen().await.unwrap();
    assert!(!c.is_closed());
    // `cat` echoes our GET back: an unsolicited-looking frame with a TID, counted as stray.
    let _ = c.get(prop::PROTOCOL_VERSION).await;
    assert!(c.stats().frames_out >= 1);
    assert!(ev.try_recv().is_err());
}
