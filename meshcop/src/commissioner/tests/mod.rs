//! In-memory tests with a simulated clock: a fake Border Agent (this crate's DTLS server + CoAP
//! codec) that answers petition, keep-alive and MGMT_COMMISSIONER_SET through the UDP proxy and
//! relays RLY_TX/RLY_RX, and fake joiners (DTLS clients) that send JOIN_FIN.req.

use super::*;
use proptest::prelude::*;
use std::cell::RefCell;

mod border_agent_input;

const PSKC: [u8; 16] = [
    0x44, 0x98, 0x8e, 0x22, 0xcf, 0x65, 0x2e, 0xee, 0xcc, 0xd1, 0xe4, 0xc0, 0x1d, 0x01, 0x54, 0xf8,
];
const MLP: [u8; 8] = [0xfd, 0xde, 0xad, 0x00, 0xbe, 0xef, 0x00, 0x00];
const STACK_VERSION: [u8; 6] = [0x18, 0xb4, 0x30, 0x00, 0x01, 0x23];

fn rng(seed: u64) -> Box<dyn CryptoRng + Send> {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&seed.to_le_bytes());
    s[31] = 0x5a;
    Box::new(SeededRng::from_seed(s))
}

fn ext_tlv(typ: u8, value: &[u8]) -> Vec<u8> {
    let mut v = vec![typ, 0xFF];
    v.extend_from_slice(&(value.len() as u16).to_be_bytes());
    v.extend_from_slice(value);
    v
}

fn eui(n: u8) -> [u8; 8] {
    [0x18, 0xb4, 0x30, 0x00, 0x00, 0x00, 0x00, n]
}

fn pskd(s: &str) -> Pskd {
    Pskd::new(s).unwrap()
}

/// One captured RLY_TX.
#[derive(Clone, Debug)]
struct Relayed {
    addr: JoinerAddr,
    record: Vec<u8>,
    kek: Option<[u8; 16]>,
    kek_before_record: bool,
}

struct FakeBa {
    pskc: [u8; 16],
    conn: dtls::Connection,
    seed: u64,
    mid: u16,
    session_id: u16,
    accept_petition: bool,
    separate_petition_response: bool,
    accept_keep_alive: bool,
    drop_next_sets: u32,
    petitions: u32,
    keep_alives: Vec<i8>,
    steering_sets: Vec<Vec<u8>>,
    set_session_ids: Vec<u16>,
    relayed: Vec<Relayed>,
    all_relayed: Vec<Relayed>,
    /// MGMT_COMMISSIONER_GET requests received (retransmissions included).
    commissioner_gets: u32,
    /// Ignore this many MGMT_COMMISSIONER_GET requests (to exercise retransmission).
    drop_next_gets: u32,
    /// The Border Agent Locator it reports.
    rloc16: u16,
}

impl FakeBa {
    fn server(pskc: &[u8; 16], seed: u64) -> dtls::Connection {
        dtls::Connection::server(
            dtls::Config::server(pskc),
            b"ba cookie",
            b"[fd00::abcd]:49999",
            rng(seed),
        )
        .unwrap()
    }
    fn new(pskc: [u8; 16]) -> FakeBa {
        FakeBa {
            pskc,
            conn: FakeBa::server(&pskc, 1000),
            seed: 1000,
            mid: 0x4000,
            session_id: 0x1234,
            accept_petition: true,
            separate_petition_response: true,
            accept_keep_alive: true,
            drop_next_sets: 0,
            petitions: 0,
            keep_alives: vec![],
            steering_sets: vec![],
            set_session_ids: vec![],
            relayed: vec![],
            all_relayed: vec![],
            commissioner_gets: 0,
            drop_next_gets: 0,
            rloc16: 0x0400,
        }
    }
    /// A new DTLS server (as after a co-processor reset or a failed session).
    fn renew(&mut self) {
        self.seed += 1;
        self.conn = FakeBa::server(&self.pskc, self.seed);
    }
    fn handle(&mut self, now: Instant, d: &[u8]) {
        if self.conn.is_finished() {
            self.renew();
        }
        self.conn.handle_datagram(now, d);
        self.pump();
    }
    fn pump(&mut self) {
        while let Some(ev) = self.conn.poll_event() {
            if let dtls::Event::ApplicationData(d) = ev {
                self.on_app(&d);
            }
        }
    }
    fn next_mid(&mut self) -> u16 {
        self.mid = self.mid.wrapping_add(1);
        self.mid
    }
    fn send(&mut self, m: &Message) {
        self.send_bytes(&m.encode().unwrap());
    }
    fn send_bytes(&mut self, b: &[u8]) {
        self.conn.send(b).unwrap();
    }
    fn on_app(&mut self, d: &[u8]) {
        let Ok(m) = Message::parse(d) else { return };
        if !m.code.is_request() {
            return;
        }
        match m.uri_path.as_str() {
            "c/cp" => {
                self.petitions += 1;
                let id = tlv::find(&m.payload, types::COMMISSIONER_ID)
                    .unwrap()
                    .unwrap()
                    .utf8()
                    .unwrap()
                    .to_owned();
                let (state, id) = if self.accept_petition {
                    (1, id)
                } else {
                    (-1, "other-commissioner".to_string())
                };
                let tlvs = [
                    Tlv::state(state),
                    Tlv::commissioner_id(&id),
                    Tlv::commissioner_session_id(self.session_id),
                ];
                if self.separate_petition_response {
                    self.send(&Message::empty_ack(m.message_id));
                    let mid = self.next_mid();
                    self.send(
                        &Message::response(MsgType::Non, Code::CHANGED, mid, &m.token, &tlvs)
                            .unwrap(),
                    );
                } else {
                    self.send(
                        &Message::response(
                            MsgType::Ack,
                            Code::CHANGED,
                            m.message_id,
                            &m.token,
                            &tlvs,
                        )
                        .unwrap(),
                    );
                }
            }
            "c/ca" => {
                let st = m.state().unwrap();
                self.keep_alives.push(st);
                let ok = self.accept_keep_alive && m.session_id().unwrap() == Some(self.session_id);
                let tlvs = [Tlv::state(if ok { 1 } else { -1 })];
                self.send(
                    &Message::response(MsgType::Ack, Code::CHANGED, m.message_id, &m.token, &tlvs)
                        .unwrap(),
                );
            }
            "c/ut" => {
                let (sp, dp, inner) = tlv::require(&m.payload, types::UDP_ENCAPSULATION)
                    .unwrap()
                    .udp_encapsulation()
                    .unwrap();
                let dst = tlv::require(&m.payload, types::IPV6_ADDRESS)
                    .unwrap()
                    .ipv6()
                    .unwrap();
                let inner = Message::parse(inner).unwrap();
                if inner.uri_path != "c/cs" || inner.typ != MsgType::Con {
                    return; // e.g. our answer to a garbage request from the "leader"
                }
                assert_eq!(dst, coap::leader_aloc(&MLP));
                assert_eq!((sp, dp), (coap::TMF_PORT, coap::TMF_PORT));
                if self.drop_next_sets > 0 {
                    self.drop_next_sets -= 1;
                    return;
                }
                self.set_session_ids
                    .push(inner.session_id().unwrap().unwrap());
                self.steering_sets.push(
                    tlv::require(&inner.payload, types::STEERING_DATA)
                        .unwrap()
                        .value
                        .to_vec(),
                );
                let resp = Message::response(
                    MsgType::Ack,
                    Code::CHANGED,
                    inner.message_id,
                    &inner.token,
                    &[Tlv::state(1)],
                )
                .unwrap()
                .encode()
                .unwrap();
                let mut encap = Vec::new();
                encap.extend_from_slice(&dp.to_be_bytes());
                encap.extend_from_slice(&sp.to_be_bytes());
                encap.extend_from_slice(&resp);
                let mut payload = ext_tlv(types::UDP_ENCAPSULATION, &encap);
                payload.extend_from_slice(&Tlv::ipv6_address(dst).to_bytes().unwrap());
                let mid = self.next_mid();
                let msg = Message {
                    typ: MsgType::Non,
                    code: Code::POST,
                    message_id: mid,
                    token: vec![9, 9],
                    uri_path: "c/ur".into(),
                    payload,
                };
                self.send(&msg);
            }
            "c/tx" => {
                assert_eq!(m.typ, MsgType::Non);
                let p = &m.payload;
                let addr = JoinerAddr {
                    joiner_udp_port: tlv::require(p, types::JOINER_UDP_PORT)
                        .unwrap()
                        .u16()
                        .unwrap(),
                    joiner_iid: tlv::require(p, types::JOINER_IID)
                        .unwrap()
                        .joiner_iid()
                        .unwrap(),
                    joiner_router_locator: tlv::require(p, types::JOINER_ROUTER_LOCATOR)
                        .unwrap()
                        .u16()
                        .unwrap(),
                };
                let record = tlv::require(p, types::JOINER_DTLS_ENCAPSULATION)
                    .unwrap()
                    .value
                    .to_vec();
                let kek = tlv::find(p, types::JOINER_ROUTER_KEK)
                    .unwrap()
                    .map(|t| t.array16().unwrap());
                let order: Vec<u8> = tlv::iter(p).map(|t| t.unwrap().typ).collect();
                let pos = |t: u8| order.iter().position(|&x| x == t);
                let kek_before_record = match pos(types::JOINER_ROUTER_KEK) {
                    Some(k) => k < pos(types::JOINER_DTLS_ENCAPSULATION).unwrap(),
                    None => true,
                };
                let r = Relayed {
                    addr,
                    record,
                    kek,
                    kek_before_record,
                };
                self.all_relayed.push(r.clone());
                self.relayed.push(r);
            }
            "c/cg" => {
                // As OpenThread's BA (HandleTmfDatasetGet -> ProcessCommissionerGetRequest): a
                // piggybacked 2.04 with the leader's Commissioning Data, only the types of the
                // Get TLV when there is one.
                assert_eq!(m.typ, MsgType::Con);
                self.commissioner_gets += 1;
                if self.drop_next_gets > 0 {
                    self.drop_next_gets -= 1;
                    return;
                }
                let mut data = vec![
                    Tlv::commissioner_session_id(self.session_id),
                    Tlv::border_agent_locator(self.rloc16),
                ];
                if let Some(sd) = self.steering_sets.last() {
                    data.push(Tlv::steering_data(sd));
                }
                if let Some(get) = tlv::find(&m.payload, types::GET).unwrap() {
                    let wanted = get.value.to_vec();
                    data.retain(|t| wanted.contains(&t.typ));
                }
                self.send(
                    &Message::response(MsgType::Ack, Code::CHANGED, m.message_id, &m.token, &data)
                        .unwrap(),
                );
            }
            other => panic!("fake BA got unexpected {other}"),
        }
    }
    /// RLY_RX.ntf carrying a joiner's DTLS datagram (encapsulation in the extended form, as OT).
    fn relay_rx(&mut self, from: &JoinerAddr, record: &[u8]) {
        let mut payload = Vec::new();
        for t in [
            Tlv::joiner_udp_port(from.joiner_udp_port),
            Tlv::joiner_iid(&from.joiner_iid),
            Tlv::joiner_router_locator(from.joiner_router_locator),
        ] {
            t.emit(&mut payload).unwrap();
        }
        payload.extend_from_slice(&ext_tlv(types::JOINER_DTLS_ENCAPSULATION, record));
        let mid = self.next_mid();
        let m = Message {
            typ: MsgType::Non,
            code: Code::POST,
            message_id: mid,
            token: vec![1, 2],
            uri_path: "c/rx".into(),
            payload,
        };
        self.send(&m);
    }
}

struct FakeJoiner {
    addr: JoinerAddr,
    conn: dtls::Connection,
    provisioning_url: Option<String>,
    omit_vendor_model: bool,
    fin_state: Option<i8>,
    failed: Option<dtls::Error>,
}

impl FakeJoiner {
    fn new(now: Instant, eui64: [u8; 8], pskd: &str, router: u16, seed: u64) -> FakeJoiner {
        let iid = credentials::joiner_iid_from_id(&credentials::joiner_id(&eui64));
        FakeJoiner {
            addr: JoinerAddr {
                joiner_udp_port: coap::JOINER_UDP_PORT,
                joiner_iid: iid,
                joiner_router_locator: router,
            },
            conn: dtls::Connection::client(dtls::Config::client(pskd.as_bytes()), rng(seed), now)
                .unwrap(),
            provisioning_url: None,
            omit_vendor_model: false,
            fin_state: None,
            failed: None,
        }
    }
    fn pump(&mut self) {
        while let Some(ev) = self.conn.poll_event() {
            match ev {
                dtls::Event::Connected => {
                    let mut tlvs = vec![
                        Tlv::vendor_name("OpenThread"),
                        Tlv::vendor_sw_version("1.2.3"),
                    ];
                    if !self.omit_vendor_model {
                        tlvs.push(Tlv::vendor_model("SimJoiner"));
                    }
                    tlvs.push(Tlv::vendor_stack_version(&STACK_VERSION));
                    if let Some(u) = &self.provisioning_url {
                        tlvs.push(Tlv::provisioning_url(u));
                    }
                    let m = Message::post(true, "c/jf", 0x777, &[0xAA, 0xBB], &tlvs).unwrap();
                    self.conn.send(&m.encode().unwrap()).unwrap();
                }
                dtls::Event::ApplicationData(d) => {
                    let m = Message::parse(&d).unwrap();
                    assert_eq!(m.typ, MsgType::Ack);
                    assert_eq!(m.message_id, 0x777);
                    assert_eq!(m.token, vec![0xAA, 0xBB]);
                    assert_eq!(m.code, Code::CHANGED);
                    self.fin_state = Some(m.state().unwrap());
                    self.conn.close();
                }
                dtls::Event::Failed(e) => self.failed = Some(e),
                dtls::Event::Closed => {}
            }
        }
    }
    fn kek(&self) -> [u8; 16] {
        *Kek::from_key_block(&self.conn.key_block().unwrap()).as_bytes()
    }
}

struct World {
    now: Instant,
    comm: Commissioner,
    ba: FakeBa,
    joiners: Vec<FakeJoiner>,
    events: Vec<Event>,
}

impl World {
    fn new(comm_pskc: [u8; 16], ba_pskc: [u8; 16]) -> World {
        let now = Instant::now();
        let config = Config::new("thread-agent", Pskc::from_bytes(comm_pskc), MLP);
        World {
            now,
            comm: Commissioner::new(config, rng(1)),
            ba: FakeBa::new(ba_pskc),
            joiners: vec![],
            events: vec![],
        }
    }
    fn active() -> World {
        let mut w = World::new(PSKC, PSKC);
        w.comm.start(w.now);
        assert!(w.run_until(Duration::from_secs(30), |w| w
            .has(|e| matches!(e, Event::SteeringDataUpdated { .. }))));
        assert_eq!(w.comm.state(), State::Active);
        w
    }
    fn has(&self, f: impl Fn(&Event) -> bool) -> bool {
        self.events.iter().any(f)
    }
    fn count(&self, f: impl Fn(&Event) -> bool) -> usize {
        self.events.iter().filter(|e| f(e)).count()
    }
    fn shuttle(&mut self) {
        let now = self.now;
        for _ in 0..10_000 {
            let mut moved = false;
            while let Some(d) = self.comm.poll_transmit() {
                moved = true;
                self.ba.handle(now, &d);
            }
            for r in std::mem::take(&mut self.ba.relayed) {
                moved = true;
                if let Some(j) = self.joiners.iter_mut().find(|j| {
                    j.addr.joiner_iid == r.addr.joiner_iid
                        && j.addr.joiner_router_locator == r.addr.joiner_router_locator
                }) {
                    j.conn.handle_datagram(now, &r.record);
                }
            }
            for j in self.joiners.iter_mut() {
                j.pump();
                while let Some(d) = j.conn.poll_transmit() {
                    moved = true;
                    self.ba.relay_rx(&j.addr, &d);
                }
            }
            while let Some(d) = self.ba.conn.poll_transmit() {
                moved = true;
                self.comm.handle_datagram(now, &d);
            }
            while let Some(e) = self.comm.poll_event() {
                self.events.push(e);
            }
            if !moved {
                return;
            }
        }
        panic!("no quiescence");
    }
    /// Runs the world (advancing the simulated clock to each deadline) until `cond` or `limit`.
    fn run_until(&mut self, limit: Duration, cond: impl Fn(&World) -> bool) -> bool {
        let end = self.now + limit;
        loop {
            self.shuttle();
            if cond(self) {
                return true;
            }
            let mut next = self.comm.poll_timeout();
            let mut put = |t: Option<Instant>| {
                if let Some(t) = t {
                    next = Some(next.map_or(t, |n| n.min(t)));
                }
            };
            put(self.ba.conn.poll_timeout());
            for j in &self.joiners {
                put(j.conn.poll_timeout());
            }
            let Some(next) = next else { return false };
            if next > end {
                return false;
            }
            self.now = self.now.max(next);
            self.comm.handle_timeout(self.now);
            self.ba.conn.handle_timeout(self.now);
            for j in self.joiners.iter_mut() {
                j.conn.handle_timeout(self.now);
            }
        }
    }
    fn add(&mut self, kind: JoinerKind, p: &str, ttl: Duration) {
        let e = JoinerEntry {
            kind,
            pskd: pskd(p),
            expires_at: self.now + ttl,
        };
        self.comm.add(self.now, e).unwrap();
    }
    fn last_steering(&self) -> Vec<u8> {
        self.ba.steering_sets.last().cloned().unwrap()
    }
    fn entrusted(&self) -> usize {
        self.count(|e| matches!(e, Event::JoinerEntrusted { .. }))
    }
}

#[test]
fn petition_keep_alive_and_resign() {
    let mut w = World::active();
    assert_eq!(w.comm.session_id(), Some(0x1234));
    assert_eq!(w.ba.petitions, 1);
    assert!(w.has(|e| *e == Event::PetitionAccepted { session_id: 0x1234 }));
    // Empty table: 16 zero bytes, as OpenThread's ComputeBloomFilter.
    assert_eq!(w.last_steering(), vec![0u8; 16]);
    assert_eq!(w.ba.set_session_ids, vec![0x1234]);
    w.run_until(Duration::from_secs(60), |_| false);
    assert!(w.ba.keep_alives.len() >= 2, "{:?}", w.ba.keep_alives);
    assert!(w.ba.keep_alives.iter().all(|&s| s == 1));
    assert_eq!(w.comm.state(), State::Active);

    w.comm.stop(w.now);
    assert_eq!(w.comm.state(), State::Resigning);
    assert!(w.run_until(Duration::from_secs(10), |w| w
        .has(|e| *e == Event::Resigned)));
    assert_eq!(w.ba.keep_alives.last(), Some(&-1));
    assert_eq!(w.comm.state(), State::Idle);
    assert!(
        w.ba.conn.is_finished(),
        "close_notify reached the border agent"
    );
    assert_eq!(w.comm.poll_timeout(), None);
}

#[test]
fn piggybacked_petition_answer_is_accepted() {
    let mut w = World::new(PSKC, PSKC);
    w.ba.separate_petition_response = false;
    w.comm.start(w.now);
    assert!(w.run_until(Duration::from_secs(30), |w| w.comm.state() == State::Active));
}

#[test]
fn single_joiner_is_entrusted_with_the_right_kek() {
    let mut w = World::active();
    let e = eui(1);
    w.add(JoinerKind::Eui64(e), "J01NME", Duration::from_secs(600));
    assert!(w.run_until(Duration::from_secs(10), |w| w.ba.steering_sets.len() == 2));
    assert_eq!(
        w.last_steering(),
        SteeringData::from_joiner_ids([&credentials::joiner_id(&e)]).as_bytes()
    );

    w.joiners
        .push(FakeJoiner::new(w.now, e, "J01NME", 0x0400, 77));
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
    w.add(JoinerKind::Eui64(e), "RGHT11", Duration::from_secs(600));
    w.joiners
        .push(FakeJoiner::new(w.now, e, "WR0NG1", 0x0400, 5));
    assert!(w.run_until(Duration::from_secs(120), |w| w.joiners[0].failed.is_some()));
    w.run_until(Duration::from_secs(1), |_| false);
    assert_eq!(w.joiners[0].failed, Some(dtls::Error::BadPassword));
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
    w.joiners
        .push(FakeJoiner::new(w.now, e, "RGHT11", 0x0400, 6));
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
    w.add(JoinerKind::Eui64(e), "L1NGER", Duration::from_secs(600));
    w.joiners
        .push(FakeJoiner::new(w.now, e, "L1NGER", 0x0400, 40));
    assert!(w.run_until(Duration::from_secs(60), |w| w.entrusted() == 1));
    let entrusted_at = w.now;
    w.run_until(Duration::from_secs(1), |_| false);
    assert!(w.comm.list()[0].joined);

    // The joiner restarts its handshake (new ClientHello) within the linger: admitted again.
    w.joiners.clear();
    w.joiners
        .push(FakeJoiner::new(w.now, e, "L1NGER", 0x0400, 41));
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
    w.joiners
        .push(FakeJoiner::new(w.now, e, "L1NGER", 0x0400, 42));
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
    w.add(JoinerKind::Eui64(e), "N0WA1T", Duration::from_secs(600));
    w.joiners
        .push(FakeJoiner::new(w.now, e, "N0WA1T", 0x0400, 43));
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
fn steering_data_follows_the_table_and_expiry() {
    let mut w = World::active();
    let d = Discerner::new(0xabc, 12).unwrap();
    w.add(JoinerKind::Eui64(eui(1)), "AAAAAA", Duration::from_secs(30));
    w.add(JoinerKind::Discerner(d), "BBBBBB", Duration::from_secs(40));
    assert!(
        w.run_until(Duration::from_secs(10), |w| w.comm.steering_data_acked()
            == Some(&w.comm.steering_data()))
    );
    let mut expect = SteeringData::default();
    expect.add_eui64(&eui(1));
    expect.add_discerner(&d);
    assert_eq!(w.last_steering(), expect.as_bytes());

    w.add(JoinerKind::Any, "CCCCCC", Duration::from_secs(50));
    assert!(w.run_until(Duration::from_secs(10), |w| w.last_steering() == [0xFF]));
    assert!(w.comm.remove(w.now, &JoinerKind::Any));
    assert!(!w.comm.remove(w.now, &JoinerKind::Any));
    assert!(w.run_until(Duration::from_secs(10), |w| w.last_steering()
        == expect.as_bytes()));

    // Expiry: both entries go, and the steering data is cleared.
    assert!(w.run_until(Duration::from_secs(60), |w| w
        .count(|e| matches!(e, Event::EntryExpired { .. }))
        == 2));
    assert!(w.run_until(Duration::from_secs(10), |w| w.last_steering() == [0u8; 16]));
    assert!(w.has(|e| *e
        == Event::EntryExpired {
            kind: JoinerKind::Eui64(eui(1))
        }));
    assert!(w.has(|e| *e
        == Event::EntryExpired {
            kind: JoinerKind::Discerner(d)
        }));
    assert!(w.comm.list().is_empty());
}

#[test]
fn commissioner_set_is_retransmitted_and_superseded() {
    let mut w = World::active();
    w.ba.drop_next_sets = 2;
    w.add(
        JoinerKind::Eui64(eui(3)),
        "AAAAAA",
        Duration::from_secs(600),
    );
    // A newer change while the first is unanswered supersedes it.
    w.add(JoinerKind::Any, "AAAAAA", Duration::from_secs(600));
    assert!(
        w.run_until(Duration::from_secs(60), |w| w.comm.steering_data_acked()
            == Some(&SteeringData::allow_any()))
    );
    assert_eq!(w.last_steering(), vec![0xFF]);
    assert!(w.has(|e| *e
        == Event::SteeringDataUpdated {
            steering_data: "ff".into()
        }));
}

#[test]
fn wrong_pskc_is_border_agent_auth_failed_and_retried() {
    let mut other = PSKC;
    other[0] ^= 1;
    let mut w = World::new(other, PSKC);
    w.comm.start(w.now);
    assert!(w.run_until(Duration::from_secs(120), |w| w
        .has(|e| *e == Event::BorderAgentAuthFailed)));
    assert_eq!(w.comm.state(), State::WaitingRetry);
    assert!(w.comm.poll_timeout().is_some());
    // It tries again after the backoff, and fails the same way.
    assert!(w.run_until(Duration::from_secs(120), |w| w
        .count(|e| *e == Event::BorderAgentAuthFailed)
        == 2));
    assert_eq!(w.ba.petitions, 0);
    // With the right PSKc it gets through.
    w.comm.set_credentials(Pskc::from_bytes(PSKC), MLP);
    w.comm.start(w.now);
    assert!(w.run_until(Duration::from_secs(60), |w| w.comm.state() == State::Active));
}

#[test]
fn rejected_petition_is_retried_with_backoff() {
    let mut w = World::new(PSKC, PSKC);
    w.ba.accept_petition = false;
    w.comm.start(w.now);
    assert!(w.run_until(Duration::from_secs(30), |w| w
        .has(|e| matches!(e, Event::PetitionRejected { .. }))));
    let reason = w.events.iter().find_map(|e| match e {
        Event::PetitionRejected { reason } => Some(reason.clone()),
        _ => None,
    });
    assert!(reason.unwrap().contains("other-commissioner"));
    assert_eq!(w.comm.state(), State::WaitingRetry);
    w.ba.accept_petition = true;
    assert!(w.run_until(Duration::from_secs(60), |w| w.comm.state() == State::Active));
    assert_eq!(w.ba.petitions, 2);
}

#[test]
fn rejected_keep_alive_re_petitions() {
    let mut w = World::active();
    w.ba.accept_keep_alive = false;
    assert!(w.run_until(Duration::from_secs(60), |w| w
        .has(|e| matches!(e, Event::KeepAliveFailed { .. }))));
    w.ba.accept_keep_alive = true;
    assert!(
        w.run_until(Duration::from_secs(60), |w| w.comm.state() == State::Active
            && w.ba.petitions == 2)
    );
}

#[test]
fn coprocessor_reset_reconnects() {
    let mut w = World::active();
    w.comm.reset(w.now);
    w.shuttle();
    assert!(w.has(|e| *e
        == Event::Disconnected {
            reason: "co-processor reset".into()
        }));
    assert_eq!(w.comm.state(), State::WaitingRetry);
    w.ba.renew();
    assert!(
        w.run_until(Duration::from_secs(60), |w| w.comm.state() == State::Active
            && w.ba.petitions == 2)
    );
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
    w.add(
        JoinerKind::Eui64(eui(1)),
        "AAAAAA",
        Duration::from_secs(600),
    );
    // Not in the table: nothing happens.
    w.joiners
        .push(FakeJoiner::new(w.now, eui(2), "AAAAAA", 0x0400, 3));
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
fn nothing_secret_in_debug_or_events() {
    let mut w = World::active();
    w.add(
        JoinerKind::Eui64(eui(1)),
        "SECRET9",
        Duration::from_secs(600),
    );
    w.joiners
        .push(FakeJoiner::new(w.now, eui(1), "SECRET9", 0x0400, 8));
    assert!(w.run_until(Duration::from_secs(60), |w| w.entrusted() == 1));
    let kek = hex::encode(w.joiners[0].kek());
    let all = format!(
        "{:?} {:?} {:?} {:?}",
        w.comm,
        w.events,
        w.comm.config(),
        w.comm.list()
    );
    let entry = JoinerEntry {
        kind: JoinerKind::Any,
        pskd: pskd("SECRET9"),
        expires_at: w.now,
    };
    let all = format!("{all} {entry:?}");
    assert!(!all.contains("SECRET9"));
    assert!(!all.contains(&hex::encode(PSKC)));
    assert!(!all.contains(&kek));
}

#[test]
fn table_full_is_an_error() {
    let now = Instant::now();
    let mut config = Config::new("x", Pskc::from_bytes(PSKC), MLP);
    config.max_entries = 1;
    let mut c = Commissioner::new(config, rng(3));
    let e = |k| JoinerEntry {
        kind: k,
        pskd: pskd("AAAAAA"),
        expires_at: now + Duration::from_secs(5),
    };
    c.add(now, e(JoinerKind::Any)).unwrap();
    c.add(now, e(JoinerKind::Any)).unwrap(); // replaces
    assert_eq!(
        c.add(now, e(JoinerKind::Eui64(eui(1)))),
        Err(Error::TableFull { max: 1 })
    );
}

#[test]
fn best_entry_prefers_the_most_specific() {
    let now = Instant::now();
    let mut c = Commissioner::new(Config::new("x", Pskc::from_bytes(PSKC), MLP), rng(3));
    let id = credentials::joiner_id(&eui(1));
    let low = u64::from_be_bytes(id) & 0xfff;
    let d = Discerner::new(low, 12).unwrap();
    let ttl = now + Duration::from_secs(5);
    c.add(
        now,
        JoinerEntry {
            kind: JoinerKind::Any,
            pskd: pskd("AAAAAA"),
            expires_at: ttl,
        },
    )
    .unwrap();
    assert_eq!(c.best_entry(now, &id).unwrap().kind, JoinerKind::Any);
    c.add(
        now,
        JoinerEntry {
            kind: JoinerKind::Discerner(d),
            pskd: pskd("BBBBBB"),
            expires_at: ttl,
        },
    )
    .unwrap();
    assert_eq!(
        c.best_entry(now, &id).unwrap().kind,
        JoinerKind::Discerner(d)
    );
    c.add(
        now,
        JoinerEntry {
            kind: JoinerKind::Eui64(eui(1)),
            pskd: pskd("CCCCCC"),
            expires_at: ttl,
        },
    )
    .unwrap();
    assert_eq!(
        c.best_entry(now, &id).unwrap().kind,
        JoinerKind::Eui64(eui(1))
    );
    assert!(
        c.best_entry(ttl, &id).is_none(),
        "expired entries do not match"
    );
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

#[test]
fn seeded_rng_is_deterministic_and_varied() {
    let mut a = SeededRng::from_seed([7; 32]);
    let mut b = SeededRng::from_seed([7; 32]);
    let (mut x, mut y) = ([0u8; 70], [0u8; 70]);
    a.fill_bytes(&mut x);
    b.fill_bytes(&mut y);
    assert_eq!(x, y);
    a.fill_bytes(&mut x);
    assert_ne!(x, y);
    assert_ne!(a.next_u64(), a.next_u64());
}

// ----- garbage never panics -----

/// Inputs the fake BA can push into the established DTLS session.
#[derive(Debug, Clone)]
enum Garbage {
    Raw(Vec<u8>),
    Coap {
        typ: u8,
        code: u8,
        mid: u16,
        uri: u8,
        payload: Vec<u8>,
    },
    RelayRx {
        iid: [u8; 8],
        rloc: u16,
        record: Vec<u8>,
        hello_prefix: bool,
    },
    UdpRx {
        inner: Vec<u8>,
        valid_ack: bool,
    },
}

fn garbage() -> impl Strategy<Value = Garbage> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(Garbage::Raw),
        (
            0u8..4,
            any::<u8>(),
            any::<u16>(),
            0u8..8,
            proptest::collection::vec(any::<u8>(), 0..200)
        )
            .prop_map(|(typ, code, mid, uri, payload)| Garbage::Coap {
                typ,
                code,
                mid,
                uri,
                payload
            }),
        (
            any::<[u8; 8]>(),
            any::<u16>(),
            proptest::collection::vec(any::<u8>(), 0..200),
            any::<bool>()
        )
            .prop_map(|(iid, rloc, record, hello_prefix)| Garbage::RelayRx {
                iid,
                rloc,
                record,
                hello_prefix
            }),
        (
            proptest::collection::vec(any::<u8>(), 0..100),
            any::<bool>()
        )
            .prop_map(|(inner, valid_ack)| Garbage::UdpRx { inner, valid_ack }),
    ]
}

const URIS: [&str; 8] = ["c/rx", "c/ur", "c/cp", "c/ca", "c/tx", "c/jf", "", "x/y"];

fn inject(w: &mut World, g: &Garbage) {
    match g {
        Garbage::Raw(b) => {
            if !b.is_empty() {
                w.ba.send_bytes(b);
            }
        }
        Garbage::Coap {
            typ,
            code,
            mid,
            uri,
            payload,
        } => {
            let typ = [MsgType::Con, MsgType::Non, MsgType::Ack, MsgType::Rst][*typ as usize];
            let m = Message {
                typ,
                code: Code(*code),
                message_id: *mid,
                token: vec![1],
                uri_path: URIS[*uri as usize].into(),
                payload: payload.clone(),
            };
            if let Ok(b) = m.encode() {
                w.ba.send_bytes(&b);
            }
        }
        Garbage::RelayRx {
            iid,
            rloc,
            record,
            hello_prefix,
        } => {
            let mut rec = record.clone();
            if *hello_prefix && rec.len() > 14 {
                rec[0] = 22;
                rec[3] = 0;
                rec[4] = 0;
                rec[13] = 1;
            }
            w.ba.relay_rx(
                &JoinerAddr {
                    joiner_udp_port: 1000,
                    joiner_iid: *iid,
                    joiner_router_locator: *rloc,
                },
                &rec,
            );
        }
        Garbage::UdpRx { inner, valid_ack } => {
            let inner = if *valid_ack {
                let mut m = Message::response(
                    MsgType::Ack,
                    Code::CHANGED,
                    u16::from_be_bytes([inner.first().copied().unwrap_or(0), 0]),
                    &[],
                    &[],
                )
                .unwrap();
                m.payload = inner.clone();
                m.encode().unwrap()
            } else {
                inner.clone()
            };
            let mut encap = vec![0xef, 0xbf, 0xef, 0xbf];
            encap.extend_from_slice(&inner);
            let mut payload = ext_tlv(types::UDP_ENCAPSULATION, &encap);
            payload.extend_from_slice(
                &Tlv::ipv6_address(coap::leader_aloc(&MLP))
                    .to_bytes()
                    .unwrap(),
            );
            let m = Message {
                typ: MsgType::Non,
                code: Code::POST,
                message_id: 1,
                token: vec![],
                uri_path: "c/ur".into(),
                payload,
            };
            w.ba.send(&m);
        }
    }
}

#[test]
fn garbage_from_the_border_agent_never_panics_nor_breaks_the_session() {
    let mut w = World::active();
    w.add(JoinerKind::Any, "ANYPSK", Duration::from_secs(3600));
    w.run_until(Duration::from_secs(1), |_| false);
    let w = RefCell::new(w);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 300,
        ..ProptestConfig::default()
    });
    runner
        .run(&proptest::collection::vec(garbage(), 1..4), |gs| {
            let mut w = w.borrow_mut();
            for g in &gs {
                inject(&mut w, g);
            }
            w.shuttle();
            prop_assert_eq!(w.comm.state(), State::Active);
            Ok(())
        })
        .unwrap();
    // The session still works: a real joiner gets in.
    let mut w = w.into_inner();
    assert!(w.comm.stats().dropped > 0);
    w.joiners
        .push(FakeJoiner::new(w.now, eui(4), "ANYPSK", 0x0400, 44));
    assert!(w.run_until(Duration::from_secs(60), |w| w.entrusted() == 1));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_datagrams_never_panic(ds in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..400), 1..6), start in any::<bool>()) {
        let now = Instant::now();
        let mut c = Commissioner::new(Config::new("x", Pskc::from_bytes(PSKC), MLP), rng(9));
        if start {
            c.start(now);
        }
        for d in &ds {
            c.handle_datagram(now, d);
            c.handle_timeout(now + Duration::from_secs(3));
        }
        while c.poll_transmit().is_some() {}
        while c.poll_event().is_some() {}
    }
}

#[test]
fn stop_while_connecting_and_reset_while_resigning() {
    let mut w = World::new(PSKC, PSKC);
    w.comm.start(w.now);
    assert_eq!(w.comm.state(), State::Connecting);
    w.comm.stop(w.now);
    w.shuttle();
    assert_eq!(w.comm.state(), State::Idle);
    assert!(w.has(|e| matches!(e, Event::Disconnected { .. })));
    assert_eq!(w.comm.poll_timeout(), None, "no retry after stop");

    let mut w = World::active();
    w.comm.stop(w.now);
    assert_eq!(w.comm.state(), State::Resigning);
    w.comm.reset(w.now);
    w.shuttle();
    assert_eq!(w.comm.state(), State::Idle);
    assert!(w.has(|e| *e == Event::Resigned));
    // Start again after a stop: a new petition.
    w.ba.renew();
    w.comm.start(w.now);
    assert!(
        w.run_until(Duration::from_secs(30), |w| w.comm.state() == State::Active
            && w.ba.petitions == 2)
    );
}

#[test]
fn leader_rejecting_steering_data_is_reported_and_retried_at_the_next_keep_alive() {
    let mut w = World::active();
    let before = w.ba.steering_sets.len();
    w.ba.drop_next_sets = 100;
    w.add(JoinerKind::Any, "AAAAAA", Duration::from_secs(3600));
    assert!(w.run_until(Duration::from_secs(120), |w| w
        .has(|e| matches!(e, Event::SteeringDataRejected { .. }))));
    w.ba.drop_next_sets = 0;
    assert!(
        w.run_until(Duration::from_secs(60), |w| w.comm.steering_data_acked()
            == Some(&SteeringData::allow_any()))
    );
    assert_eq!(w.ba.steering_sets.len(), before + 1);
}

fn datasets(w: &World, request: u32) -> Vec<CommissionerDataset> {
    w.events
        .iter()
        .filter_map(|e| match e {
            Event::CommissionerDataset {
                request: r,
                dataset,
            } if *r == request => Some(dataset.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn commissioner_get_reports_our_session_and_steering_data() {
    let mut w = World::active();
    let e = eui(7);
    w.add(JoinerKind::Eui64(e), "J01NME", Duration::from_secs(600));
    assert!(w.run_until(Duration::from_secs(10), |w| w.ba.steering_sets.len() == 2));

    let id = w.comm.commissioner_get(w.now, &[]).unwrap();
    assert!(w.run_until(Duration::from_secs(10), |w| !datasets(w, id).is_empty()));
    let d = datasets(&w, id).remove(0);
    assert_eq!(d.session_id, w.comm.session_id());
    assert_eq!(d.session_id, Some(0x1234));
    assert_eq!(d.border_agent_locator, Some(0x0400));
    assert_eq!(
        d.steering().as_ref(),
        Some(&SteeringData::from_joiner_ids([&credentials::joiner_id(
            &e
        )]))
    );
    assert_eq!(d.steering().as_ref(), w.comm.steering_data_acked());
    assert_eq!(d.joiner_udp_port, None);
    assert!(d.other.is_empty());
    assert_eq!(w.ba.commissioner_gets, 1);
    assert_eq!(w.comm.stats().dropped, 0);

    // With a Get TLV: only what was asked for.
    let id2 = w
        .comm
        .commissioner_get(w.now, &[types::COMMISSIONER_SESSION_ID])
        .unwrap();
    assert_ne!(id, id2);
    assert!(w.run_until(Duration::from_secs(10), |w| !datasets(w, id2).is_empty()));
    assert_eq!(
        datasets(&w, id2)[0],
        CommissionerDataset {
            session_id: Some(0x1234),
            ..Default::default()
        }
    );
    assert_eq!(w.comm.state(), State::Active);
}

#[test]
fn commissioner_get_is_retransmitted_then_gives_up() {
    let mut w = World::active();
    w.ba.drop_next_gets = 2;
    let id = w.comm.commissioner_get(w.now, &[]).unwrap();
    assert!(w.run_until(Duration::from_secs(30), |w| !datasets(w, id).is_empty()));
    assert_eq!(w.ba.commissioner_gets, 3, "two retransmissions");
    assert_eq!(datasets(&w, id)[0].session_id, Some(0x1234));

    // A Border Agent that never answers: MAX_RETRANSMIT retransmissions, then a failure event;
    // the session itself is unaffected.
    w.ba.drop_next_gets = u32::MAX;
    w.ba.commissioner_gets = 0;
    let id = w.comm.commissioner_get(w.now, &[]).unwrap();
    assert!(
        w.run_until(Duration::from_secs(200), |w| w.has(|e| matches!(
            e,
            Event::CommissionerGetFailed { request, .. } if *request == id
        )))
    );
    assert_eq!(
        w.ba.commissioner_gets,
        1 + u32::from(Retransmitter::MAX_RETRANSMIT)
    );
    assert_eq!(w.comm.state(), State::Active);
    assert!(w.comm.poll_timeout().is_some());
}

#[test]
fn commissioner_get_needs_a_session_and_fails_when_it_ends() {
    let mut w = World::new(PSKC, PSKC);
    assert_eq!(
        w.comm.commissioner_get(w.now, &[]),
        Err(Error::NotConnected)
    );
    let mut w = World::active();
    let ids: Vec<u32> = (0..MAX_OUTSTANDING_GETS)
        .map(|_| w.comm.commissioner_get(w.now, &[]).unwrap())
        .collect();
    assert_eq!(
        w.comm.commissioner_get(w.now, &[]),
        Err(Error::TooManyRequests {
            max: MAX_OUTSTANDING_GETS
        })
    );
    // The co-processor resets before any answer arrives: each request fails.
    w.comm.reset(w.now);
    while let Some(e) = w.comm.poll_event() {
        w.events.push(e);
    }
    for id in ids {
        assert!(w.has(|e| matches!(
            e,
            Event::CommissionerGetFailed { request, .. } if *request == id
        )));
    }
    assert_eq!(
        w.comm.commissioner_get(w.now, &[]),
        Err(Error::NotConnected)
    );
}

#[test]
fn commissioner_dataset_wire_format() {
    // A c/cg answer payload as OpenThread's leader copies its Commissioning Data sub-TLVs
    // (Session ID, Border Agent Locator, Steering Data) plus a Joiner UDP Port and an unknown TLV.
    let bytes = hex::decode("0b0204d20902fc00080400000012120203e87f0101").unwrap();
    let d = CommissionerDataset::parse(&bytes).unwrap();
    assert_eq!(d.session_id, Some(1234));
    assert_eq!(d.border_agent_locator, Some(0xfc00));
    assert_eq!(d.steering_data.as_deref(), Some(&[0, 0, 0, 0x12][..]));
    assert_eq!(d.joiner_udp_port, Some(1000));
    assert_eq!(d.other, vec![Tlv::new(0x7f, vec![1])]);
    assert_eq!(tlv::encode_all(&d.to_tlvs()).unwrap(), bytes);
    assert_eq!(
        CommissionerDataset::parse(&[]).unwrap(),
        CommissionerDataset::default()
    );
    assert!(CommissionerDataset::parse(&hex::decode("0b0104").unwrap()).is_err());
    assert!(CommissionerDataset::parse(&hex::decode("0b0204").unwrap()).is_err());
    assert_eq!(
        CommissionerDataset {
            steering_data: Some(vec![]),
            ..Default::default()
        }
        .steering(),
        None
    );
}
