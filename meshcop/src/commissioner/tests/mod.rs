//! In-memory tests with a simulated clock: a fake Border Agent (this crate's DTLS server + CoAP
//! codec) that answers petition, keep-alive and MGMT_COMMISSIONER_SET through the UDP proxy and
//! relays RLY_TX/RLY_RX, and fake joiners (DTLS clients) that send JOIN_FIN.req.

use super::*;
use proptest::prelude::*;
use std::cell::RefCell;

mod border_agent;
mod border_agent_input;
mod diag;
mod flood;
mod joiners;
mod leader;
mod live;
mod table;

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
    /// UDP_TX other than MGMT_COMMISSIONER_SET: (source port, destination, port, payload).
    other_udp_tx: Vec<(u16, Ipv6Addr, u16, Vec<u8>)>,
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
            other_udp_tx: vec![],
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
    /// A NON POST to `uri` with the next message ID.
    fn send_non_post(&mut self, token: Vec<u8>, uri: &str, payload: Vec<u8>) {
        let m = Message {
            typ: MsgType::Non,
            code: Code::POST,
            message_id: self.next_mid(),
            token,
            uri_path: uri.into(),
            payload,
        };
        self.send(&m);
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
                let raw = inner.to_vec();
                let inner = Message::parse(inner).unwrap();
                if inner.uri_path != "c/cs" || inner.typ != MsgType::Con {
                    self.other_udp_tx.push((sp, dst, dp, raw));
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
                self.send_non_post(vec![9, 9], "c/ur", payload);
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
        self.send_non_post(vec![1, 2], "c/rx", payload);
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
    /// An entry for the joiner `e` with PSKd `p` and ten minutes to live.
    fn add_eui64(&mut self, e: [u8; 8], p: &str) {
        self.add(JoinerKind::Eui64(e), p, Duration::from_secs(600));
    }
    /// A joiner `e` with PSKd `p` behind joiner router 0x0400 starts its handshake.
    fn start_joiner(&mut self, e: [u8; 8], p: &str, seed: u64) {
        let j = FakeJoiner::new(self.now, e, p, 0x0400, seed);
        self.joiners.push(j);
    }
    /// Active again on the border agent's second petition.
    fn re_petitioned(&self) -> bool {
        self.comm.state() == State::Active && self.ba.petitions == 2
    }
    fn last_steering(&self) -> Vec<u8> {
        self.ba.steering_sets.last().cloned().unwrap()
    }
    fn entrusted(&self) -> usize {
        self.count(|e| matches!(e, Event::JoinerEntrusted { .. }))
    }
}

#[test]
fn nothing_secret_in_debug_or_events() {
    let mut w = World::active();
    w.add_eui64(eui(1), "SECRET9");
    w.start_joiner(eui(1), "SECRET9", 8);
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
    w.start_joiner(eui(4), "ANYPSK", 44);
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
