//! Entry points shared by the cargo-fuzz targets (`meshcop/fuzz/`) and the proptests: each takes
//! arbitrary bytes and must never panic. Not part of the stable API.

use std::collections::{BTreeSet, VecDeque};
use std::time::Instant;

use super::handshake::{parse_fragments, ClientHello, HelloVerifyRequest, Reassembly, ServerHello};
use super::record::{CT_ALERT, CT_HANDSHAKE, HEADER_LEN};
use super::{Config, Connection, Event, State};
use crate::ecjpake::{EcJpake, Role};
use crate::testing::XorShiftRng;

/// The record layer for `benches/handshake.rs`, which times sealing and opening directly.
pub use super::record::{parse_records, CipherState, CT_APPLICATION_DATA};

/// Record deframing and decryption with a fixed key.
pub fn record(data: &[u8]) {
    let cipher = CipherState::new(&[0x42; 16], &[1, 2, 3, 4]);
    for r in parse_records(data) {
        let _ = cipher.open(&r);
    }
}

/// Handshake fragment parsing, reassembly and the hello parsers.
pub fn handshake(data: &[u8]) {
    if let Ok(frags) = parse_fragments(data) {
        let mut r: Option<Reassembly> = None;
        for f in &frags {
            match &mut r {
                Some(r) => {
                    let _ = r.add(f);
                }
                None => r = Reassembly::new(f, 0).ok(),
            }
        }
        if let Some(r) = &r {
            let _ = r.complete();
        }
    }
    let _ = ClientHello::parse(data);
    let _ = ServerHello::parse(data);
    let _ = HelloVerifyRequest::parse(data);
}

/// EC-JPAKE parsers. First byte: bit 0 = role, bit 1 = round two (after a valid round one).
pub fn ecjpake(data: &[u8]) {
    let Some((&sel, msg)) = data.split_first() else {
        return;
    };
    let role = if sel & 1 == 0 {
        Role::Client
    } else {
        Role::Server
    };
    let Ok(mut e) = EcJpake::new(role, b"threadjpaketest") else {
        return;
    };
    let mut rng = XorShiftRng(0x9e37_79b9_7f4a_7c15 ^ u64::from(sel));
    if sel & 2 == 0 {
        let _ = e.read_round_one(msg);
        return;
    }
    // a valid peer round one (fixed RNG), so round-two input reaches the proof check
    let mut peer = match EcJpake::new(
        if role == Role::Client {
            Role::Server
        } else {
            Role::Client
        },
        b"threadjpaketest",
    ) {
        Ok(p) => p,
        Err(_) => return,
    };
    let one = peer.write_round_one(&mut rng);
    let _ = e.write_round_one(&mut rng);
    if e.read_round_one(&one).is_ok() && e.read_round_two(msg).is_ok() {
        let _ = e.premaster_secret();
    }
}

/// A live in-memory handshake driven by the input: see [`connection_states`]. Never panics.
pub fn connection(data: &[u8]) {
    let _ = run_connection(data, false);
}

/// What a [`connection`] run reached, for the corpus coverage report: the handshake states each
/// side passed through, the events, and what was delivered (fragments, epoch-1 records, alerts).
pub fn connection_states(data: &[u8]) -> BTreeSet<String> {
    run_connection(data, true)
}

/// The two sides: a real client and server with fixed passwords, RNG seeds, cookie key and peer,
/// so every run starts the same handshake and an unmodified run completes it. The input is a
/// script (one byte per step, some with arguments) of what the network does with the next
/// datagram of one direction: deliver, drop, duplicate, reorder, mutate, truncate, split into its
/// records, inject raw bytes, inject a record the sender seals under its current epoch (so
/// fuzzed handshake messages, alerts and application data authenticate after ChangeCipherSpec),
/// inject a crafted handshake fragment, fire a retransmission timer, send application data,
/// close. First byte: MTU / record size (small ones fragment the flights) and the password pair.
/// When the script ends, the network delivers everything until both sides are quiet, then both
/// exchange application data and the client closes.
struct Harness {
    c: Connection,
    s: Connection,
    now: Instant,
    to_s: VecDeque<Vec<u8>>,
    to_c: VecDeque<Vec<u8>>,
    reached: Option<BTreeSet<String>>,
    /// Fragment the client's flights once it is past its ClientHellos.
    shrink_client: bool,
}

const MTUS: [usize; 4] = [1232, 300, 120, 80];
const RECORD_SIZES: [usize; 4] = [768, 200, 64, 40];

fn run_connection(data: &[u8], record: bool) -> BTreeSet<String> {
    let mut input = Input(data);
    let cfg = input.u8().unwrap_or(0);
    let now = Instant::now();
    let cc = Config::client(b"J01NME");
    let spw: &[u8] = if cfg & 0x10 == 0 {
        b"J01NME"
    } else {
        b"J01NMF"
    };
    let mut sc = Config::server(spw);
    // The server's flight may be fragmented from the start; the client's only after its
    // ClientHellos (a ClientHello fragmented before its cookie is not reassembled, by design).
    sc.mtu = MTUS[usize::from(cfg & 3)];
    sc.max_record_plaintext = RECORD_SIZES[usize::from((cfg >> 2) & 3)];
    let shrink_client = cfg & 0x20 != 0;
    let Ok(c) = Connection::client(cc, Box::new(XorShiftRng(7)), now) else {
        return BTreeSet::new();
    };
    let Ok(s) = Connection::server(
        sc,
        b"cookie key",
        b"[fe80::1]:1000",
        Box::new(XorShiftRng(9)),
    ) else {
        return BTreeSet::new();
    };
    let mut h = Harness {
        c,
        s,
        now,
        to_s: VecDeque::new(),
        to_c: VecDeque::new(),
        reached: record.then(BTreeSet::new),
        shrink_client,
    };
    h.collect();
    for _ in 0..96 {
        let Some(op) = input.u8() else { break };
        h.step(op, &mut input);
        h.collect();
    }
    h.settle();
    if h.c.is_connected() && h.s.is_connected() {
        let _ = h.c.send(b"client data");
        let _ = h.s.send(b"server data");
        h.collect();
        h.settle();
        h.c.close();
        h.collect();
        h.settle();
    }
    h.reached.unwrap_or_default()
}

/// The script reader.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn bytes(&mut self) -> &'a [u8] {
        let n = usize::from(self.u8().unwrap_or(0)).min(self.0.len());
        let (b, rest) = self.0.split_at(n);
        self.0 = rest;
        b
    }
}

impl Harness {
    fn note(&mut self, what: impl FnOnce() -> String) {
        if let Some(r) = &mut self.reached {
            r.insert(what());
        }
    }

    /// Moves what both sides sent into the network and records their states and events.
    fn collect(&mut self) {
        if self.shrink_client && !matches!(self.c.state, State::ClientAwaitHello { .. }) {
            self.c.config.mtu = MTUS[3];
            self.c.config.max_record_plaintext = RECORD_SIZES[3];
        }
        while let Some(d) = self.c.poll_transmit() {
            self.to_s.push_back(d);
        }
        while let Some(d) = self.s.poll_transmit() {
            self.to_c.push_back(d);
        }
        if self.reached.is_none() {
            while self.c.poll_event().is_some() {}
            while self.s.poll_event().is_some() {}
            return;
        }
        for (side, conn) in [("client", &mut self.c), ("server", &mut self.s)] {
            let state = state_name(&conn.state);
            let pending = !conn.pending.is_empty();
            let mut events = Vec::new();
            while let Some(e) = conn.poll_event() {
                events.push(match e {
                    Event::ApplicationData(_) => "ApplicationData".to_string(),
                    other => format!("{other:?}"),
                });
            }
            let r = self.reached.as_mut().expect("recording");
            r.insert(format!("{side} state {state}"));
            if pending {
                r.insert(format!(
                    "{side} holds out-of-order/partial handshake messages"
                ));
            }
            for e in events {
                r.insert(format!("{side} event {e}"));
            }
        }
    }

    fn queue(&mut self, to_server: bool) -> &mut VecDeque<Vec<u8>> {
        if to_server {
            &mut self.to_s
        } else {
            &mut self.to_c
        }
    }

    fn deliver(&mut self, to_server: bool, d: &[u8]) {
        if self.reached.is_some() {
            let side = if to_server { "server" } else { "client" };
            for r in parse_records(d) {
                let kind = match r.content_type {
                    CT_HANDSHAKE => "handshake",
                    CT_ALERT => "alert",
                    CT_APPLICATION_DATA => "application data",
                    20 => "change_cipher_spec",
                    _ => "unknown-type",
                };
                let e = r.epoch.min(2);
                self.note(|| format!("{side} got {kind} record, epoch {e}"));
                if r.epoch == 0 && r.content_type == CT_HANDSHAKE {
                    for f in parse_fragments(r.fragment).unwrap_or_default() {
                        if f.offset > 0 || (f.body.len() as u32) < f.length {
                            let t = f.msg_type;
                            self.note(|| format!("{side} got a fragment of handshake type {t}"));
                        }
                    }
                }
            }
        }
        let conn = if to_server { &mut self.s } else { &mut self.c };
        conn.handle_datagram(self.now, d);
    }

    fn step(&mut self, op: u8, input: &mut Input<'_>) {
        let to_server = op & 0x10 == 0;
        match op & 0x0f {
            0..=3 => {
                if let Some(d) = self.queue(to_server).pop_front() {
                    self.deliver(to_server, &d);
                }
            }
            4 => {
                self.queue(to_server).pop_front();
            }
            5 => {
                if let Some(d) = self.queue(to_server).front().cloned() {
                    self.deliver(to_server, &d);
                }
            }
            6 => {
                let q = self.queue(to_server);
                if q.len() >= 2 {
                    q.swap(0, 1);
                }
            }
            7 => {
                let (at, x) = (input.u8().unwrap_or(0), input.u8().unwrap_or(1) | 1);
                if let Some(mut d) = self.queue(to_server).pop_front() {
                    if !d.is_empty() {
                        let i = usize::from(at) * d.len() / 256;
                        d[i] ^= x;
                    }
                    self.deliver(to_server, &d);
                }
            }
            8 => {
                let at = input.u8().unwrap_or(0);
                if let Some(mut d) = self.queue(to_server).pop_front() {
                    d.truncate(usize::from(at) * d.len() / 256);
                    self.deliver(to_server, &d);
                }
            }
            9 => {
                let raw = input.bytes().to_vec();
                self.deliver(to_server, &raw);
            }
            10 => {
                let ct = 20 + input.u8().unwrap_or(0) % 4;
                let body = input.bytes().to_vec();
                let sender = if to_server { &mut self.c } else { &mut self.s };
                let mut d = Vec::new();
                let epoch = sender.write_epoch;
                sender.write_record(ct, epoch, &body, &mut d);
                self.deliver(to_server, &d);
            }
            11 => {
                let msg_type = input.u8().unwrap_or(1);
                let seq = u16::from(input.u8().unwrap_or(0));
                let cut = input.u8().unwrap_or(0);
                let body = input.bytes().to_vec();
                let off = usize::from(cut) * body.len() / 256;
                let mut frag = Vec::new();
                super::handshake::encode_fragment(
                    msg_type,
                    seq,
                    &body,
                    off,
                    body.len() - off,
                    &mut frag,
                );
                let sender = if to_server { &mut self.c } else { &mut self.s };
                let mut d = Vec::new();
                let epoch = sender.write_epoch;
                sender.write_record(CT_HANDSHAKE, epoch, &frag, &mut d);
                self.deliver(to_server, &d);
            }
            12 => {
                let conn = if to_server { &mut self.c } else { &mut self.s };
                if let Some(t) = conn.poll_timeout() {
                    self.now = self.now.max(t);
                    conn.handle_timeout(self.now);
                    self.note(|| "a retransmission timer fired".into());
                }
            }
            13 => {
                let body = input.bytes().to_vec();
                let sender = if to_server { &mut self.c } else { &mut self.s };
                let _ = sender.send(&body);
            }
            14 => {
                if let Some(d) = self.queue(to_server).pop_front() {
                    let parts: Vec<Vec<u8>> = record_spans(&d).map(|r| d[r].to_vec()).collect();
                    for p in parts.into_iter().rev() {
                        self.queue(to_server).push_front(p);
                    }
                }
            }
            _ => {
                if op & 0x20 == 0 {
                    self.c.close();
                } else {
                    self.s.close();
                }
            }
        }
    }

    /// Delivers everything in order (firing timers when both queues are empty) until quiet.
    fn settle(&mut self) {
        for _ in 0..64 {
            self.collect();
            if let Some(d) = self.to_s.pop_front() {
                self.deliver(true, &d);
            } else if let Some(d) = self.to_c.pop_front() {
                self.deliver(false, &d);
            } else {
                break;
            }
        }
        self.collect();
    }
}

/// The byte ranges of the records of a datagram (as `parse_records` splits it).
fn record_spans(d: &[u8]) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        let hdr = d.get(at..at + HEADER_LEN)?;
        let len = usize::from(u16::from_be_bytes([hdr[11], hdr[12]]));
        let end = (at + HEADER_LEN + len).min(d.len());
        let r = at..end;
        at = end;
        (!r.is_empty()).then_some(r)
    })
}

fn state_name(s: &State) -> &'static str {
    match s {
        State::ClientAwaitHello { .. } => "ClientAwaitHello",
        State::ClientAwaitKeyExchange => "ClientAwaitKeyExchange",
        State::ClientAwaitHelloDone => "ClientAwaitHelloDone",
        State::ClientAwaitFinished => "ClientAwaitFinished",
        State::ServerAwaitHello => "ServerAwaitHello",
        State::ServerAwaitKeyExchange => "ServerAwaitKeyExchange",
        State::ServerAwaitFinished => "ServerAwaitFinished",
        State::Connected => "Connected",
        State::Closed => "Closed",
        State::Failed => "Failed",
    }
}

/// The MeshCoP TLV parser (owned by `crate::tlv`).
pub fn tlv(data: &[u8]) {
    let _ = crate::tlv::parse_all(data);
    for t in crate::tlv::iter(data) {
        let _ = t;
    }
}

/// A client and a server already connected under a fixed key block, without a handshake, for
/// the commissioner harness (`commissioner::fuzzing`): it fuzzes what runs over an established
/// Border Agent session, and one EC-JPAKE handshake per run would cost more than the rest.
/// Crate-private: a connection with a known key is for fuzzing only.
pub(crate) fn insecure_connected_pair(mtu: usize) -> Option<(Connection, Connection)> {
    let kb: [u8; 40] = std::array::from_fn(|i| i as u8 ^ 0x5c);
    let mk = |role: Role, seed: u64| -> Option<Connection> {
        let mut cfg = Config::client(b"fuzz");
        cfg.mtu = mtu;
        let mut c = Connection::new(role, cfg, Box::new(XorShiftRng(seed))).ok()?;
        let key = |at: usize| -> [u8; 16] { kb[at..at + 16].try_into().expect("16 bytes") };
        let iv = |at: usize| -> [u8; 4] { kb[at..at + 4].try_into().expect("4 bytes") };
        let (client, server) = (
            CipherState::new(&key(0), &iv(32)),
            CipherState::new(&key(16), &iv(36)),
        );
        let (w, r) = match role {
            Role::Client => (client, server),
            Role::Server => (server, client),
        };
        c.write_cipher = Some(w);
        c.read_cipher = Some(r);
        c.key_block = Some(zeroize::Zeroizing::new(kb));
        c.write_epoch = 1;
        c.state = State::Connected;
        c.events.push_back(Event::Connected);
        Some(c)
    };
    Some((mk(Role::Client, 3)?, mk(Role::Server, 5)?))
}
