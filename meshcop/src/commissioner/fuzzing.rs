//! Entry points shared by the cargo-fuzz targets (`meshcop/fuzz/`) and the suite's proptests
//! (`meshcop/tests/fuzz_entry_points.rs`): each takes arbitrary bytes and must never panic.
//! Hidden from the docs and not part of the stable API.
//!
//! - [`coap`]: CoAP messages and what the commissioner reads out of them (RLY_RX, UDP_RX, State,
//!   Session ID, the Commissioner Dataset of a MGMT_COMMISSIONER_GET answer).
//! - [`dataset`]: `Dataset::decode` and what is done with a decoded dataset.
//! - [`commissioning_data`]: network data (`netdata`), its Commissioning Data TLV, steering data.
//! - [`session`]: a live commissioner fed decrypted Border Agent messages (see its doc).
//! - [`diag_answer`]: the network diagnostic readers ([`crate::netdiag`]).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::coap::{self, Code, JoinerAddr, Message, MsgType, RelayRx, UdpRx};
use crate::credentials::{self, Pskc, Pskd};
use crate::dataset::Dataset;
use crate::dtls;
use crate::netdiag;
use crate::steering::SteeringData;
use crate::testing::XorShiftRng;
use crate::tlv::{types, Tlv};

use super::border_agent::Session;
use super::{Commissioner, CommissionerDataset, Config, JoinerEntry, JoinerKind};

/// CoAP parsing and the message readers. First byte: bit 0 clear = the rest is a whole CoAP
/// message; set = the rest is the TLV payload of an RLY_RX (`c/rx`), so the relay and UDP
/// readers see well-formed CoAP around arbitrary TLVs.
pub fn coap(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let msg = if sel & 1 == 0 {
        match Message::parse(rest) {
            Ok(m) => m,
            Err(_) => return,
        }
    } else {
        Message {
            typ: coap::MsgType::Non,
            code: coap::Code::POST,
            message_id: u16::from(sel),
            token: vec![sel; usize::from(sel >> 5)],
            uri_path: if sel & 2 == 0 {
                coap::uri::RLY_RX
            } else {
                coap::uri::UDP_RX
            }
            .into(),
            payload: rest.to_vec(),
        }
    };
    read_message(&msg);
    // What we parse, we can send again, and it reads back the same.
    if let Ok(bytes) = msg.encode() {
        if let Ok(again) = Message::parse(&bytes) {
            assert_eq!(
                again.payload, msg.payload,
                "CoAP payload changed in a round trip"
            );
            assert_eq!(
                again.uri_path, msg.uri_path,
                "Uri-Path changed in a round trip"
            );
        }
    }
}

fn read_message(msg: &Message) {
    for t in msg.tlvs() {
        let _ = t;
    }
    let _ = msg.find_tlv(types::STATE);
    let _ = msg.state();
    let _ = msg.session_id();
    let _ = msg.needs_ack();
    let _ = CommissionerDataset::parse(&msg.payload).map(|d| (d.to_tlvs(), d.steering()));
    if let Ok(rx) = RelayRx::from_message(msg) {
        let _ = coap::relay_tx(1, &[1], &rx.from, &rx.dtls_record, None);
    }
    if let Ok(rx) = UdpRx::from_message(msg) {
        let _ = coap::udp_tx(1, &[1], rx.dst_port, rx.src, rx.src_port, &rx.payload);
        if let Ok(inner) = Message::parse(&rx.payload) {
            diag_answer(&inner.payload);
        }
    }
    diag_answer(&msg.payload);
}

/// The network diagnostic readers on arbitrary TLV bytes, and a query built from them.
pub fn diag_answer(data: &[u8]) {
    let src = std::net::Ipv6Addr::from([0xfd; 16]);
    if let Ok(mut a) = netdiag::DiagAnswer::parse(src, data) {
        let b = a.clone();
        a.merge(&b);
        assert_eq!(a, b, "merging an answer with itself changed it");
    }
    let _ = netdiag::query_id(data);
    let _ = netdiag::is_last_answer(data);
    let _ = netdiag::query(1, &[1], data, netdiag::query_id(data));
}

/// `Dataset::decode`, then encode / validate / re-decode of what it accepted.
pub fn dataset(data: &[u8]) {
    let Ok(d) = Dataset::decode(data) else {
        return;
    };
    let _ = d.is_complete();
    let _ = d.validate();
    let _ = d.pending_timestamp();
    let _ = d.delay_timer();
    let _ = format!("{d:?}");
    let enc = d.encode();
    let again = Dataset::decode(&enc).expect("an encoded dataset decodes");
    assert_eq!(again.encode(), enc, "dataset encoding is not stable");
}

/// Network data (`netdata`), its Commissioning Data TLV (as the commissioner reads it into a
/// [`CommissionerDataset`]) and steering data.
pub fn commissioning_data(data: &[u8]) {
    for t in crate::netdata::iter(data) {
        let _ = t;
    }
    if let Some(cd) = crate::netdata::commissioning_data(data) {
        if let Ok(d) = CommissionerDataset::parse(cd) {
            let _ = d.to_tlvs();
            let _ = d.steering();
        }
    }
    if let Ok(d) = CommissionerDataset::parse(data) {
        let _ = crate::tlv::encode_all(&d.to_tlvs());
        if let Some(s) = d.steering() {
            probe_steering(&s);
        }
    }
    if let Ok(s) = SteeringData::from_bytes(data) {
        probe_steering(&s);
    }
}

fn probe_steering(s: &SteeringData) {
    let id = [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0];
    let _ = s.contains(&id);
    let _ = s.is_allow_any();
    let _ = s.is_empty();
    let mut m = s.clone();
    let _ = m.merge(s);
    m.add(&id);
    let _ = m.to_tlv();
}

// ---------------------------------------------------------------------------------------------
// A live commissioner

const JOINER_EUI64: [u8; 8] = [0x18, 0xb4, 0x30, 0x00, 0x00, 0x00, 0x00, 0x01];
const JOINER_PSKD: &str = "J01NME";
const SESSION_ID: u16 = 0x1234;
const MLP: [u8; 8] = [0xfd, 0xde, 0xad, 0x00, 0xbe, 0xef, 0x00, 0x00];

/// A commissioner whose Border Agent session is up (petition accepted) over a DTLS pair with a
/// fixed key (no handshake: see `dtls::fuzzing::insecure_connected_pair`), with an EUI-64 entry
/// and a wildcard entry. The input is a script of what the Border Agent sends, decrypted: raw
/// CoAP bytes, RLY_RX with arbitrary TLVs, RLY_RX carrying arbitrary joiner datagrams for the
/// entry's joiner, UDP_RX with an arbitrary inner message from the leader; timers; operator
/// calls. First byte bit 0: a real joiner (DTLS client, the entry's PSKd) completes its handshake
/// through RLY_RX / RLY_TX first, and the script can then send it JOIN_FIN.req bodies (arbitrary
/// TLVs, or arbitrary CoAP bytes) inside the joiner's DTLS session, which the commissioner answers.
/// Everything the commissioner sends goes back through the fake Border Agent (RLY_TX records to
/// the joiner). Never panics.
pub fn session(data: &[u8]) {
    let _ = run_session(data, false);
}

/// The commissioner's events of a [`session`] run, as `Debug` lines (they hold no secret), for
/// the corpus report.
pub fn session_events(data: &[u8]) -> Vec<String> {
    run_session(data, true)
}

fn run_session(data: &[u8], record: bool) -> Vec<String> {
    let Some(mut h) = SessionHarness::new(record) else {
        return Vec::new();
    };
    let mut input = data;
    let mut byte = || -> Option<u8> {
        let (&b, rest) = input.split_first()?;
        input = rest;
        Some(b)
    };
    let Some(mode) = byte() else {
        return h.events.unwrap_or_default();
    };
    if mode & 1 == 1 {
        h.start_joiner();
        h.settle();
    }
    let mut ops = 0;
    while let Some(op) = byte() {
        ops += 1;
        if ops > 48 {
            break;
        }
        let take = |byte: &mut dyn FnMut() -> Option<u8>| -> Vec<u8> {
            let n = byte().unwrap_or(0);
            (0..n).map_while(|_| byte()).collect()
        };
        match op % 10 {
            0 => {
                let b = take(&mut byte);
                h.ba_send(&b);
            }
            1 => {
                let tlvs = take(&mut byte);
                h.ba_post(coap::uri::RLY_RX, tlvs, op & 0x80 != 0);
            }
            2 => {
                let record = take(&mut byte);
                h.relay_rx(&record);
            }
            3 if op & 0x80 != 0 => {
                // A DIAG_GET.ans from a node, arbitrary TLVs.
                let tlvs = take(&mut byte);
                if let Ok(mut m) = Message::post(true, coap::uri::DIAG_GET_ANSWER, 0x99, &[7], &[])
                {
                    m.payload = tlvs;
                    if let Ok(b) = m.encode() {
                        h.udp_rx(b);
                    }
                }
            }
            3 => {
                let inner = take(&mut byte);
                h.udp_rx(inner);
            }
            4 => {
                let tlvs = take(&mut byte);
                if let Ok(m) = Message::post(true, coap::uri::JOIN_FIN, 0x777, &[0xaa], &[]) {
                    let mut m = m;
                    m.payload = tlvs;
                    if let Ok(b) = m.encode() {
                        h.joiner_send(&b);
                    }
                }
            }
            5 => {
                let b = take(&mut byte);
                h.joiner_send(&b);
            }
            6 => h.fire_timers(),
            7 => h.relay_joiner(),
            8 => {
                let n = byte().unwrap_or(0);
                h.operator(n);
            }
            _ => {
                let b = take(&mut byte);
                h.ba_post(coap::uri::UDP_RX, b, false);
            }
        }
        h.settle();
    }
    h.settle();
    h.events.unwrap_or_default()
}

struct SessionHarness {
    now: Instant,
    c: Commissioner,
    ba: dtls::Connection,
    joiner: Option<(JoinerAddr, dtls::Connection)>,
    to_joiner: VecDeque<Vec<u8>>,
    mid: u16,
    events: Option<Vec<String>>,
}

impl SessionHarness {
    fn new(record: bool) -> Option<SessionHarness> {
        let now = Instant::now();
        let cfg = Config::new("fuzz", Pskc::from_bytes([0x44; 16]), MLP);
        let mut c = Commissioner::new(cfg, Box::new(XorShiftRng(0x1234_5678)));
        let (client, ba) = dtls::fuzzing::insecure_connected_pair(1232)?;
        for kind in [JoinerKind::Eui64(JOINER_EUI64), JoinerKind::Any] {
            let e = JoinerEntry {
                kind,
                pskd: Pskd::new(JOINER_PSKD).ok()?,
                expires_at: now + Duration::from_secs(600),
            };
            c.add(now, e).ok()?;
        }
        c.session = Session::Connecting { conn: client };
        c.pump_ba(now);
        let mut h = SessionHarness {
            now,
            c,
            ba,
            joiner: None,
            to_joiner: VecDeque::new(),
            mid: 0x100,
            events: record.then(Vec::new),
        };
        h.settle();
        Some(h)
    }

    /// Runs the commissioner's output through the fake Border Agent until quiet.
    fn settle(&mut self) {
        for _ in 0..32 {
            let mut moved = false;
            while let Some(d) = self.c.poll_transmit() {
                moved = true;
                self.ba.handle_datagram(self.now, &d);
            }
            while let Some(e) = self.c.poll_event() {
                if let Some(v) = &mut self.events {
                    v.push(format!("{e:?}"));
                }
            }
            while let Some(a) = self.c.poll_diag_answer() {
                if let Some(v) = &mut self.events {
                    v.push(format!("{a:?}"));
                }
            }
            while let Some(ev) = self.ba.poll_event() {
                if let dtls::Event::ApplicationData(m) = ev {
                    self.on_ba_app(&m);
                }
            }
            while let Some(d) = self.ba.poll_transmit() {
                moved = true;
                self.c.handle_datagram(self.now, &d);
            }
            if let Some(d) = self.to_joiner.pop_front() {
                moved = true;
                if let Some((_, j)) = &mut self.joiner {
                    j.handle_datagram(self.now, &d);
                }
            }
            self.relay_joiner();
            if !moved && self.to_joiner.is_empty() {
                break;
            }
        }
    }

    /// What the fake Border Agent does with a decrypted message from the commissioner.
    fn on_ba_app(&mut self, bytes: &[u8]) {
        let Ok(m) = Message::parse(bytes) else { return };
        match m.uri_path.as_str() {
            coap::uri::COMM_PET | coap::uri::COMM_KA => {
                let tlvs = [Tlv::state(1), Tlv::commissioner_session_id(SESSION_ID)];
                if let Ok(r) =
                    Message::response(MsgType::Ack, Code::CHANGED, m.message_id, &m.token, &tlvs)
                {
                    if let Ok(b) = r.encode() {
                        let _ = self.ba.send(&b);
                    }
                }
            }
            coap::uri::RLY_TX => {
                if let Ok(Some(t)) = crate::tlv::find(&m.payload, types::JOINER_DTLS_ENCAPSULATION)
                {
                    self.to_joiner.push_back(t.value.to_vec());
                }
            }
            _ => {}
        }
    }

    fn ba_send(&mut self, bytes: &[u8]) {
        let _ = self.ba.send(bytes);
        while let Some(d) = self.ba.poll_transmit() {
            self.c.handle_datagram(self.now, &d);
        }
    }

    fn ba_post(&mut self, uri: &str, payload: Vec<u8>, confirmable: bool) {
        self.mid = self.mid.wrapping_add(1);
        let Ok(mut m) = Message::post(confirmable, uri, self.mid, &[0x42], &[]) else {
            return;
        };
        m.payload = payload;
        if let Ok(b) = m.encode() {
            self.ba_send(&b);
        }
    }

    fn joiner_addr() -> JoinerAddr {
        JoinerAddr {
            joiner_udp_port: coap::JOINER_UDP_PORT,
            joiner_iid: credentials::joiner_iid_from_id(&credentials::joiner_id(&JOINER_EUI64)),
            joiner_router_locator: 0x0400,
        }
    }

    /// An RLY_RX from the entry's joiner carrying `record`.
    fn relay_rx(&mut self, record: &[u8]) {
        let a = Self::joiner_addr();
        let tlvs = [
            Tlv::joiner_udp_port(a.joiner_udp_port),
            Tlv::joiner_iid(&a.joiner_iid),
            Tlv::joiner_router_locator(a.joiner_router_locator),
            Tlv::joiner_dtls_encapsulation(record.to_vec()),
        ];
        let payload = crate::tlv::encode_all(&tlvs).unwrap_or_default();
        self.ba_post(coap::uri::RLY_RX, payload, false);
    }

    /// A UDP_RX from the leader ALOC (port 61631) to the commissioner, carrying `inner`.
    fn udp_rx(&mut self, inner: Vec<u8>) {
        let tlvs = [
            Tlv::udp_encapsulation(61631, 49191, &inner),
            Tlv::ipv6_address(coap::leader_aloc(&MLP)),
        ];
        let payload = crate::tlv::encode_all(&tlvs).unwrap_or_default();
        self.ba_post(coap::uri::UDP_RX, payload, false);
    }

    fn start_joiner(&mut self) {
        let cfg = dtls::Config::client(JOINER_PSKD.as_bytes());
        if let Ok(j) = dtls::Connection::client(cfg, Box::new(XorShiftRng(77)), self.now) {
            self.joiner = Some((Self::joiner_addr(), j));
        }
    }

    /// The joiner's datagrams, relayed; a connected joiner sends a valid JOIN_FIN.req once.
    fn relay_joiner(&mut self) {
        let mut out = Vec::new();
        if let Some((_, j)) = &mut self.joiner {
            while let Some(ev) = j.poll_event() {
                if ev == dtls::Event::Connected {
                    let tlvs = [
                        Tlv::vendor_name("OpenThread"),
                        Tlv::vendor_model("Fuzz"),
                        Tlv::vendor_sw_version("1.0"),
                        Tlv::vendor_stack_version(&[0x18, 0xb4, 0x30, 0, 1, 0x23]),
                    ];
                    if let Ok(b) = Message::post(true, coap::uri::JOIN_FIN, 1, &[1], &tlvs)
                        .and_then(|m| m.encode())
                    {
                        let _ = j.send(&b);
                    }
                }
            }
            while let Some(d) = j.poll_transmit() {
                out.push(d);
            }
        }
        for d in out {
            self.relay_rx(&d);
        }
    }

    fn joiner_send(&mut self, bytes: &[u8]) {
        if let Some((_, j)) = &mut self.joiner {
            let _ = j.send(bytes);
        }
        self.relay_joiner();
    }

    fn fire_timers(&mut self) {
        let next = [
            self.c.poll_timeout(),
            self.joiner.as_ref().and_then(|(_, j)| j.poll_timeout()),
        ];
        if let Some(t) = next.into_iter().flatten().min() {
            self.now = self.now.max(t);
        }
        self.c.handle_timeout(self.now);
        if let Some((_, j)) = &mut self.joiner {
            j.handle_timeout(self.now);
        }
        self.ba.handle_timeout(self.now);
    }

    fn operator(&mut self, n: u8) {
        let now = self.now;
        match n % 7 {
            0 => {
                let _ = self
                    .c
                    .commissioner_get(now, &[types::STEERING_DATA, types::BORDER_AGENT_LOCATOR]);
            }
            1 => {
                let _ = self.c.remove(now, &JoinerKind::Eui64(JOINER_EUI64));
            }
            2 => {
                let _ = self.c.remove(now, &JoinerKind::Any);
            }
            3 => self.c.stop(now),
            4 => self.c.reset(now),
            5 => {
                let _ = self.c.diag_query(now);
            }
            _ => self
                .c
                .set_provisioning_url(Some("https://fuzz.example".into())),
        }
    }
}
