//! Joiner sessions keyed by (Joiner IID, Joiner Router Locator): RLY_RX (`c/rx`) records feed a
//! DTLS server whose password is the best-matching entry's PSKd; its records go back in RLY_TX
//! (`c/tx`); JOIN_FIN.req (`c/jf`) is checked and answered, and the RLY_TX carrying an accepting
//! answer carries the Joiner Router KEK (thread-facts §2; OpenThread `commissioner.cpp`
//! `HandleRelayReceive`, `HandleJoinerFinalize`). Guarantees: no KEK or PSKd in any event or log;
//! a rejecting answer carries no KEK.
//!
//! [`Joiners`] owns the sessions and the cookie key and sends nothing: each handler reads a
//! [`JoinerCx`] (configuration, joiner table, random source, message-ID counter) and leaves in it
//! a [`JoinerOutput`] (RLY_TX payloads, events, drops, entrusted entries) that the router
//! (`Commissioner::with_joiners` in `mod.rs`) applies: it wraps each payload in the Border Agent
//! session's CoAP and sends it.

use super::admission::{Admission, Cookie};
use super::*;
use crate::dtls::ClientHelloPeek;
use room::{Waiting, WAITING_RETRY};

mod room;

/// How many earlier client randoms a session remembers across restarts (replays of their
/// ClientHellos are refused).
const SEEN_RANDOMS: usize = 8;
/// A session's own ClientHello, repeated, makes it resend its flight at most this often (a real
/// joiner repeats it on its retransmission timer, 1 s or more apart).
const HELLO_RETRANSMIT_INTERVAL: Duration = Duration::from_secs(1);

pub(super) type SessionKey = ([u8; 8], u16);

struct Finalized {
    message_id: u16,
    response: Vec<u8>,
    accepted: bool,
}

struct JoinerSession {
    addr: JoinerAddr,
    info: JoinerInfo,
    conn: dtls::Connection,
    started: Instant,
    deadline: Instant,
    client_random: [u8; 32],
    /// Client randoms of the handshakes this one replaced (newest last).
    seen_randoms: Vec<[u8; 32]>,
    /// When a repeated ClientHello last made the session resend its flight.
    hello_retransmit_at: Option<Instant>,
    authenticated: bool,
    finalized: Option<Finalized>,
    entrusted: bool,
    ended: bool,
}

/// The joiner sessions and their admission state (cookie keys, rates, event limits; see
/// `admission.rs`). Its handlers send nothing: they return, in [`JoinerOutput`], the RLY_TX
/// payloads the router wraps into the Border Agent session's CoAP, the events, and what the
/// joiner table must hear.
pub(super) struct Joiners {
    sessions: BTreeMap<SessionKey, JoinerSession>,
    admission: Admission,
    /// Cookie-bearing ClientHellos that found the session slots or the handshake rates full,
    /// oldest first: their handshakes start as soon as there is room ([`Joiners::admit_waiting`])
    /// instead of after the joiner's DTLS retransmission (8 s, doubling).
    waiting: VecDeque<Waiting>,
    /// When to try the waiting ClientHellos again (a rate's next token).
    retry_waiting_at: Option<Instant>,
}

/// One RLY_TX.ntf to send: a joiner DTLS datagram for `to`, with the Joiner Router KEK when the
/// joiner is being entrusted. `message_id` is drawn from the router's counter when the datagram
/// is produced, so that the message IDs are what they were when the joiner code sent itself.
pub(super) struct RelayTx {
    pub(super) message_id: u16,
    pub(super) to: JoinerAddr,
    pub(super) record: Vec<u8>,
    pub(super) kek: Option<Kek>,
}

/// What one call into [`Joiners`] produced, in order.
#[derive(Default)]
pub(super) struct JoinerOutput {
    pub(super) relays: Vec<RelayTx>,
    pub(super) events: Vec<Event>,
    /// Inputs dropped, with the reason (counted in [`Stats::dropped`]).
    pub(super) drops: Vec<String>,
    /// ClientHellos from joiners no entry admits.
    pub(super) unknown_joiners: u64,
    /// Kinds of the entries whose joiner was entrusted (one per entrusted joiner).
    pub(super) entrusted: Vec<JoinerKind>,
    /// Server handshakes started ([`Stats::joiner_handshakes`]).
    pub(super) handshakes: u64,
    /// Cookie-bearing ClientHellos refused by the limits ([`Stats::refused_handshakes`]).
    pub(super) refused: u64,
    /// Unauthenticated events not emitted ([`Stats::suppressed_events`]).
    pub(super) suppressed: u64,
}

/// The inputs a joiner handler reads (configuration, the joiner table, the random source and the
/// router's CoAP message-ID counter) and its output.
pub(super) struct JoinerCx<'a> {
    pub(super) config: &'a Config,
    pub(super) entries: &'a [JoinerEntry],
    pub(super) rng: &'a mut (dyn CryptoRng + Send),
    pub(super) next_mid: &'a mut u16,
    pub(super) out: JoinerOutput,
}

impl JoinerCx<'_> {
    fn mid(&mut self) -> u16 {
        *self.next_mid = self.next_mid.wrapping_add(1);
        *self.next_mid
    }
    fn dropped(&mut self, reason: String) {
        self.out.drops.push(reason);
    }
    fn refused(&mut self, reason: String) {
        self.out.refused += 1;
        self.dropped(reason);
    }
}

impl Joiners {
    pub(super) fn new(cookie_key: Zeroizing<[u8; 32]>) -> Joiners {
        Joiners {
            sessions: BTreeMap::new(),
            admission: Admission::new(cookie_key),
            waiting: VecDeque::new(),
            retry_waiting_at: None,
        }
    }

    /// Number of sessions in progress.
    pub(super) fn len(&self) -> usize {
        self.sessions.len()
    }

    /// The earliest session deadline or DTLS retransmission, or the next try of the waiting
    /// ClientHellos.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.sessions
            .values()
            .flat_map(|s| [Some(s.deadline), s.conn.poll_timeout()])
            .flatten()
            .chain(self.retry_waiting_at)
            .min()
    }

    /// Number of verified ClientHellos waiting for room.
    pub(super) fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Drops every session (the Border Agent session ended); a failure event for each joiner
    /// not yet entrusted.
    pub(super) fn end_all(&mut self, why: &str) -> Vec<Event> {
        self.waiting.clear();
        self.retry_waiting_at = None;
        std::mem::take(&mut self.sessions)
            .into_values()
            .filter(|s| !s.entrusted)
            .map(|s| Event::JoinerHandshakeFailed {
                joiner: s.info,
                reason: HandshakeFailure::Protocol(why.into()),
            })
            .collect()
    }

    /// Runs the joiner sessions' timers due at `now`.
    pub(super) fn handle_timeout(&mut self, cx: &mut JoinerCx<'_>, now: Instant) {
        // Joiner sessions.
        let keys: Vec<SessionKey> = self
            .sessions
            .iter()
            .filter(|(_, s)| now >= s.deadline || s.conn.poll_timeout().is_some_and(|t| now >= t))
            .map(|(k, _)| *k)
            .collect();
        for key in keys {
            let Some(mut s) = self.sessions.remove(&key) else {
                continue;
            };
            if now >= s.deadline {
                if !s.entrusted {
                    // An unauthenticated sign of another PSKd makes it "possible wrong PSKd"
                    // (dtls::Connection::password_suspected), as the DTLS timer would name it.
                    let reason = if s.conn.password_suspected() {
                        HandshakeFailure::PossibleWrongPskd
                    } else {
                        HandshakeFailure::Timeout
                    };
                    let ev = Event::JoinerHandshakeFailed {
                        joiner: s.info.clone(),
                        reason,
                    };
                    self.session_event(cx, now, &s, ev);
                }
                s.ended = true;
                s.conn.close();
                self.pump_session(cx, s, now);
            } else {
                s.conn.handle_timeout(now);
                self.pump_session(cx, s, now);
            }
        }
        self.admit_waiting(cx, now);
    }

    /// An RLY_RX's joiner datagram.
    pub(super) fn on_relay_rx(&mut self, cx: &mut JoinerCx<'_>, now: Instant, rx: &RelayRx) {
        let key = (rx.from.joiner_iid, rx.from.joiner_router_locator);
        let hello = dtls::peek_client_hello(&rx.dtls_record);
        if let Some(mut s) = self.sessions.remove(&key) {
            // A ClientHello with another random is a new handshake (the joiner started over);
            // anything else belongs to the session in progress.
            let restart = hello.is_some_and(|h| h.random != s.client_random);
            if !restart {
                if hello.is_some() {
                    // The session's own ClientHello again: the joiner lost our flight, or someone
                    // replays it to make us resend the flight (several datagrams for one).
                    if s.hello_retransmit_at
                        .is_some_and(|t| now < t + HELLO_RETRANSMIT_INTERVAL)
                    {
                        self.sessions.insert(key, s);
                        return cx.dropped(
                            "RLY_RX: a repeated ClientHello within 1 s of the last; flight not resent"
                                .into(),
                        );
                    }
                    s.hello_retransmit_at = Some(now);
                }
                s.conn.handle_datagram(now, &rx.dtls_record);
                let port = rx.from.joiner_udp_port;
                if port != s.addr.joiner_udp_port {
                    // Anyone can relay a record with another port: follow the joiner there only
                    // once a record from that port authenticated.
                    if s.conn.authenticated_last_datagram() {
                        tracing::info!(joiner_id = %s.info.joiner_id, port, "joiner moved to another UDP port");
                        s.addr.joiner_udp_port = port;
                        s.info.joiner_port = port;
                    } else {
                        cx.dropped(format!(
                            "RLY_RX: joiner {} record from UDP port {port} (session on {}) did not authenticate; port kept",
                            s.info.joiner_id, s.addr.joiner_udp_port
                        ));
                    }
                }
                return self.pump_session(cx, s, now);
            }
            self.sessions.insert(key, s);
        }
        let Some(ClientHelloPeek { random, .. }) = hello else {
            return cx.dropped(
                "RLY_RX: a DTLS record other than ClientHello from a joiner without a session"
                    .into(),
            );
        };
        self.start_session(cx, now, &rx.from, &rx.dtls_record, random);
    }

    /// After any input: sessions may have ended, so waiting ClientHellos may find room.
    pub(super) fn after_input(&mut self, cx: &mut JoinerCx<'_>, now: Instant) {
        if !self.waiting.is_empty() {
            self.admit_waiting(cx, now);
        }
    }

    /// Answers a ClientHello statelessly (HelloVerifyRequest) until it carries a valid cookie;
    /// then, within the [`JoinerLimits`] (restart rule, slots, rates), starts the server handshake
    /// and keeps the session (replacing an older one of the same joiner). Nothing before the
    /// handshake costs more than a table lookup and an HMAC.
    fn start_session(
        &mut self,
        cx: &mut JoinerCx<'_>,
        now: Instant,
        from: &JoinerAddr,
        record: &[u8],
        client_random: [u8; 32],
    ) {
        let joiner_id = credentials::joiner_id_from_iid(&from.joiner_iid);
        let Some(entry) = table::best_entry(cx.entries, now, &joiner_id) else {
            cx.out.unknown_joiners += 1;
            tracing::debug!(joiner_id = %hex::encode(joiner_id), "RLY_RX from a joiner no entry admits");
            return;
        };
        let kind = entry.kind;
        let peer = cookie_peer(from);
        let cookie_key = match self.admission.cookie(cx, now, &peer, record) {
            Cookie::Ignore => {
                return cx.dropped(
                    "RLY_RX: a ClientHello a stateless server does not answer (fragmented or malformed)"
                        .into(),
                )
            }
            // HelloVerifyRequest: no state kept.
            Cookie::Verify(hvr) => return relay_datagrams(cx, from, vec![hvr], None),
            Cookie::Valid(k) => k,
        };
        let key = (from.joiner_iid, from.joiner_router_locator);
        let id = hex::encode(joiner_id);
        if let Some(w) = self.waiting.iter_mut().find(|w| w.key == key) {
            // The joiner retransmitted while waiting: keep its place, with its latest record.
            w.from = *from;
            w.record = record.to_vec();
            w.client_random = client_random;
            w.cookie_key = cookie_key;
            return;
        }
        match self.admit(cx, now, key, kind, &client_random) {
            Ok(()) => {}
            Err(r) if r.wait && self.waiting.len() < cx.config.joiner_limits.max_waiting => {
                tracing::debug!(joiner_id = %id, why = %r.why, "ClientHello waits for room");
                self.waiting.push_back(Waiting {
                    key,
                    from: *from,
                    record: record.to_vec(),
                    client_random,
                    cookie_key,
                    since: now,
                });
                self.retry_waiting_at = Some(now + WAITING_RETRY);
                return;
            }
            Err(r) => return cx.refused(format!("ClientHello of joiner {id} refused: {}", r.why)),
        }
        self.begin_handshake(cx, now, from, record, client_random, kind, &cookie_key);
    }

    /// Starts the server handshake of an admitted, cookie-bearing ClientHello and keeps the
    /// session (replacing an older one of the same joiner).
    #[allow(clippy::too_many_arguments)]
    fn begin_handshake(
        &mut self,
        cx: &mut JoinerCx<'_>,
        now: Instant,
        from: &JoinerAddr,
        record: &[u8],
        client_random: [u8; 32],
        kind: JoinerKind,
        cookie_key: &[u8],
    ) {
        let joiner_id = credentials::joiner_id_from_iid(&from.joiner_iid);
        let Some(entry) = cx.entries.iter().find(|e| e.kind == kind) else {
            return cx.dropped(format!(
                "joiner {}: its entry is gone",
                hex::encode(joiner_id)
            ));
        };
        let key = (from.joiner_iid, from.joiner_router_locator);
        let id = hex::encode(joiner_id);
        let mut c = dtls::Config::server(entry.pskd.as_bytes());
        c.initial_retransmit_timeout = cx.config.joiner_dtls_initial_retransmit;
        c.max_retransmit_timeout = cx.config.joiner_dtls_max_retransmit;
        c.mtu = JOINER_MTU;
        let rng = Box::new(SeededRng::fork(&mut *cx.rng));
        let peer = cookie_peer(from);
        let mut conn = match dtls::Connection::server(c, cookie_key, &peer, rng) {
            Ok(c) => c,
            Err(e) => return cx.dropped(format!("cannot create a joiner DTLS session: {e}")),
        };
        cx.out.handshakes += 1;
        conn.handle_datagram(now, record);
        let mut output = Vec::new();
        while let Some(d) = conn.poll_transmit() {
            output.push(d);
        }
        if !output.iter().any(|d| dtls::starts_with_server_hello(d)) {
            // The ClientHello failed its checks (an alert, if any): no state kept.
            return relay_datagrams(cx, from, output, None);
        }
        let mut seen_randoms = Vec::new();
        if let Some(old) = self.sessions.remove(&key) {
            seen_randoms = old.seen_randoms.clone();
            seen_randoms.push(old.client_random);
            let cut = seen_randoms.len().saturating_sub(SEEN_RANDOMS);
            seen_randoms.drain(..cut);
            if !old.entrusted {
                let ev = Event::JoinerHandshakeFailed {
                    joiner: old.info.clone(),
                    reason: HandshakeFailure::Protocol("joiner restarted the handshake".into()),
                };
                self.session_event(cx, now, &old, ev);
            }
        }
        let info = JoinerInfo {
            joiner_id: id,
            joiner_iid: hex::encode(from.joiner_iid),
            eui64: match kind {
                JoinerKind::Eui64(e) => Some(hex::encode(e)),
                _ => None,
            },
            entry: kind,
            joiner_router: from.joiner_router_locator,
            joiner_port: from.joiner_udp_port,
            vendor: None,
        };
        tracing::info!(joiner_id = %info.joiner_id, joiner_router = info.joiner_router, entry = %kind, "joiner session started");
        relay_datagrams(cx, from, output, None);
        let limits = &cx.config.joiner_limits;
        let s = JoinerSession {
            addr: *from,
            info,
            conn,
            started: now,
            deadline: now
                + limits
                    .unauthenticated_timeout
                    .min(cx.config.joiner_session_timeout),
            client_random,
            seen_randoms,
            hello_retransmit_at: None,
            authenticated: false,
            finalized: None,
            entrusted: false,
            ended: false,
        };
        let ev = Event::JoinerSeen {
            joiner: s.info.clone(),
        };
        self.session_event(cx, now, &s, ev);
        self.pump_session(cx, s, now);
    }

    /// Emits an event about session `s`: always once it authenticated; before that within the
    /// unauthenticated event limits (else counted as suppressed).
    fn session_event(&mut self, cx: &mut JoinerCx<'_>, now: Instant, s: &JoinerSession, ev: Event) {
        let id = credentials::joiner_id_from_iid(&s.addr.joiner_iid);
        let named = matches!(s.info.entry, JoinerKind::Eui64(_));
        if s.authenticated
            || self
                .admission
                .allow_event(&cx.config.joiner_limits, now, id, named)
        {
            cx.out.events.push(ev);
        } else {
            cx.out.suppressed += 1;
        }
    }

    /// Relays the session's output, handles its events, and keeps it if it is still alive.
    fn pump_session(&mut self, cx: &mut JoinerCx<'_>, mut s: JoinerSession, now: Instant) {
        let span = tracing::info_span!(
            "joiner",
            joiner_id = %s.info.joiner_id,
            eui64 = s.info.eui64.as_deref().unwrap_or("-"),
            joiner_router = s.info.joiner_router
        );
        let _guard = span.enter();
        loop {
            relay_out(cx, &mut s, None);
            let Some(ev) = s.conn.poll_event() else { break };
            match ev {
                dtls::Event::Connected => {
                    s.authenticated = true;
                    s.deadline = s.started + cx.config.joiner_session_timeout;
                    tracing::info!(joiner_id = %s.info.joiner_id, "joiner authenticated (DTLS established)");
                    cx.out.events.push(Event::JoinerAuthenticated {
                        joiner: s.info.clone(),
                    });
                }
                dtls::Event::ApplicationData(d) => self.on_joiner_message(cx, &mut s, &d),
                dtls::Event::Closed => {
                    if !s.entrusted && !s.ended {
                        let ev = Event::JoinerHandshakeFailed {
                            joiner: s.info.clone(),
                            reason: HandshakeFailure::Protocol(
                                "joiner closed the session before JOIN_FIN".into(),
                            ),
                        };
                        self.session_event(cx, now, &s, ev);
                    }
                    s.ended = true;
                }
                dtls::Event::Failed(e) => {
                    if !s.ended && !s.entrusted {
                        let reason = match e {
                            dtls::Error::BadPassword => HandshakeFailure::WrongPskd,
                            dtls::Error::PossibleBadPassword => HandshakeFailure::PossibleWrongPskd,
                            dtls::Error::Timeout => HandshakeFailure::Timeout,
                            other => HandshakeFailure::Protocol(other.to_string()),
                        };
                        tracing::info!(joiner_id = %s.info.joiner_id, reason = ?reason, "joiner handshake failed");
                        let ev = Event::JoinerHandshakeFailed {
                            joiner: s.info.clone(),
                            reason,
                        };
                        self.session_event(cx, now, &s, ev);
                    }
                    s.ended = true;
                }
            }
        }
        if !s.ended && !s.conn.is_finished() {
            self.sessions
                .insert((s.addr.joiner_iid, s.addr.joiner_router_locator), s);
        }
    }

    fn on_joiner_message(&mut self, cx: &mut JoinerCx<'_>, s: &mut JoinerSession, bytes: &[u8]) {
        let msg = match Message::parse(bytes) {
            Ok(m) => m,
            Err(e) => return cx.dropped(format!("from joiner {}: {e}", s.info.joiner_id)),
        };
        if !msg.code.is_request() {
            return;
        }
        if msg.uri_path == uri::JOIN_FIN && msg.code == Code::POST {
            if let Some(f) = &s.finalized {
                if f.message_id == msg.message_id {
                    // A retransmitted JOIN_FIN.req: answer again, the same way.
                    let (resp, accepted) = (f.response.clone(), f.accepted);
                    let _ = s.conn.send(&resp);
                    let kek = if accepted { session_kek(s) } else { None };
                    relay_out(cx, s, kek.as_ref());
                    return;
                }
            }
            return self.on_join_fin(cx, s, &msg);
        }
        if let Some(r) = border_agent::not_found(&msg).and_then(|r| r.encode().ok()) {
            let _ = s.conn.send(&r);
        }
        cx.dropped(format!(
            "unexpected request {:?} from joiner {}",
            msg.uri_path, s.info.joiner_id
        ));
    }

    fn on_join_fin(&mut self, cx: &mut JoinerCx<'_>, s: &mut JoinerSession, msg: &Message) {
        let (vendor, url, mut problems) = join_fin_tlvs(msg);
        let VendorInfo {
            name,
            model,
            sw_version: sw,
            stack_version: stack,
            data,
        } = vendor;
        if let Some(u) = &url {
            if u.as_str() != cx.config.provisioning_url.as_deref().unwrap_or("") {
                problems.push(format!("provisioning URL {u:?} does not match ours"));
            }
        }
        problems.dedup();
        let accepted = problems.is_empty();
        let reject_reason = (!accepted).then(|| problems.join("; "));
        let state = if accepted {
            tlv::state::ACCEPT
        } else {
            tlv::state::REJECT
        };
        let (typ, mid) = if msg.needs_ack() {
            (MsgType::Ack, msg.message_id)
        } else {
            (MsgType::Non, cx.mid())
        };
        let Ok(resp) = Message::response(typ, Code::CHANGED, mid, &msg.token, &[Tlv::state(state)])
            .and_then(|r| r.encode())
        else {
            return;
        };
        relay_out(cx, s, None);
        if let Err(e) = s.conn.send(&resp) {
            return cx.dropped(format!(
                "cannot answer JOIN_FIN of joiner {}: {e}",
                s.info.joiner_id
            ));
        }
        let kek = if accepted { session_kek(s) } else { None };
        relay_out(cx, s, kek.as_ref());
        s.finalized = Some(Finalized {
            message_id: msg.message_id,
            response: resp,
            accepted,
        });
        s.info.vendor = Some(VendorInfo {
            name: name.clone(),
            model: model.clone(),
            sw_version: sw.clone(),
            stack_version: stack.clone(),
            data,
        });
        tracing::info!(joiner_id = %s.info.joiner_id, vendor = %name, model = %model, accepted, "JOIN_FIN");
        cx.out.events.push(Event::JoinerFinalize {
            joiner: s.info.clone(),
            vendor_name: name,
            vendor_model: model,
            vendor_sw_version: sw,
            vendor_stack_version: stack,
            provisioning_url: url,
            accepted,
            reject_reason,
        });
        if accepted && kek.is_some() {
            s.entrusted = true;
            tracing::info!(joiner_id = %s.info.joiner_id, "joiner entrusted (KEK sent to the joiner router)");
            cx.out.events.push(Event::JoinerEntrusted {
                joiner: s.info.clone(),
            });
            cx.out.entrusted.push(s.info.entry);
        }
    }
}

/// Takes each pending DTLS datagram of a joiner session for its own RLY_TX.
/// What a joiner's cookie is bound to: its IID, joiner router and UDP port.
fn cookie_peer(from: &JoinerAddr) -> Vec<u8> {
    let mut peer = Vec::with_capacity(12);
    peer.extend_from_slice(&from.joiner_iid);
    peer.extend_from_slice(&from.joiner_router_locator.to_be_bytes());
    peer.extend_from_slice(&from.joiner_udp_port.to_be_bytes());
    peer
}

fn relay_out(cx: &mut JoinerCx<'_>, s: &mut JoinerSession, kek: Option<&Kek>) {
    let mut output = Vec::new();
    while let Some(d) = s.conn.poll_transmit() {
        output.push(d);
    }
    relay_datagrams(cx, &s.addr, output, kek);
}

/// One RLY_TX payload per datagram, each with its message ID.
fn relay_datagrams(
    cx: &mut JoinerCx<'_>,
    to: &JoinerAddr,
    datagrams: Vec<Vec<u8>>,
    kek: Option<&Kek>,
) {
    for record in datagrams {
        let message_id = cx.mid();
        cx.out.relays.push(RelayTx {
            message_id,
            to: *to,
            record,
            kek: kek.cloned(),
        });
    }
}

/// The KEK of a connected joiner session.
fn session_kek(s: &JoinerSession) -> Option<Kek> {
    let mut kb = s.conn.key_block()?;
    let k = Kek::from_key_block(&kb);
    kb.zeroize();
    Some(k)
}

/// Longest Vendor Name, Vendor Model, Vendor SW Version, Vendor Data and Provisioning URL, and
/// the length of a Vendor Stack Version (OpenThread `meshcop_tlvs.hpp`: `kMaxVendorNameLength`
/// and the others; `OT_PROVISIONING_URL_MAX_SIZE`; `VendorStackVersionTlv`).
const MAX_VENDOR_NAME: usize = 32;
const MAX_VENDOR_MODEL: usize = 32;
const MAX_VENDOR_SW_VERSION: usize = 16;
const MAX_VENDOR_DATA: usize = 64;
const MAX_PROVISIONING_URL: usize = 64;
const VENDOR_STACK_VERSION_LEN: usize = 6;

/// `v` cut to at most `max` bytes (at a character boundary).
fn cut(v: &str, max: usize) -> String {
    let mut n = v.len().min(max);
    while !v.is_char_boundary(n) {
        n -= 1;
    }
    v[..n].to_owned()
}

/// A string TLV of JOIN_FIN: its text (cut to `max` bytes), or a problem.
fn text_tlv(
    msg: &Message,
    typ: u8,
    what: &str,
    max: usize,
    problems: &mut Vec<String>,
) -> Option<String> {
    match tlv::find(&msg.payload, typ) {
        Ok(Some(t)) => match t.utf8() {
            Ok(v) if v.len() > max => {
                problems.push(format!(
                    "{what} is {} bytes, longer than Thread's {max}",
                    v.len()
                ));
                Some(cut(v, max))
            }
            Ok(v) => Some(v.to_owned()),
            Err(_) => {
                problems.push(format!("{what} is not UTF-8"));
                Some(String::new())
            }
        },
        Ok(None) => None,
        Err(e) => {
            problems.push(format!("malformed TLVs: {e}"));
            Some(String::new())
        }
    }
}

/// The vendor TLVs and provisioning URL of a JOIN_FIN.req, and what is wrong with them. Values
/// longer than Thread allows are reported as a problem (so the joiner is rejected) and cut, so
/// that no event carries more than the limits above.
pub(super) fn join_fin_tlvs(msg: &Message) -> (VendorInfo, Option<String>, Vec<String>) {
    let mut problems: Vec<String> = Vec::new();
    let required = |typ: u8, what: &str, max: usize, problems: &mut Vec<String>| {
        text_tlv(msg, typ, what, max, problems).unwrap_or_else(|| {
            problems.push(format!("missing {what} TLV"));
            String::new()
        })
    };
    let name = required(
        types::VENDOR_NAME,
        "Vendor Name",
        MAX_VENDOR_NAME,
        &mut problems,
    );
    let model = required(
        types::VENDOR_MODEL,
        "Vendor Model",
        MAX_VENDOR_MODEL,
        &mut problems,
    );
    let sw = required(
        types::VENDOR_SW_VERSION,
        "Vendor SW Version",
        MAX_VENDOR_SW_VERSION,
        &mut problems,
    );
    let stack = match tlv::find(&msg.payload, types::VENDOR_STACK_VERSION) {
        Ok(Some(t)) => {
            if t.value.len() != VENDOR_STACK_VERSION_LEN {
                problems.push(format!(
                    "Vendor Stack Version is {} bytes, not Thread's {VENDOR_STACK_VERSION_LEN}",
                    t.value.len()
                ));
            }
            hex::encode(&t.value[..t.value.len().min(VENDOR_STACK_VERSION_LEN)])
        }
        _ => {
            problems.push("missing Vendor Stack Version TLV".into());
            String::new()
        }
    };
    let data = match tlv::find(&msg.payload, types::VENDOR_DATA) {
        Ok(Some(t)) => {
            if t.value.len() > MAX_VENDOR_DATA {
                problems.push(format!(
                    "Vendor Data is {} bytes, longer than Thread's {MAX_VENDOR_DATA}",
                    t.value.len()
                ));
            }
            Some(hex::encode(&t.value[..t.value.len().min(MAX_VENDOR_DATA)]))
        }
        _ => None,
    };
    let url = text_tlv(
        msg,
        types::PROVISIONING_URL,
        "Provisioning URL",
        MAX_PROVISIONING_URL,
        &mut problems,
    );
    let vendor = VendorInfo {
        name,
        model,
        sw_version: sw,
        stack_version: stack,
        data,
    };
    (vendor, url, problems)
}
