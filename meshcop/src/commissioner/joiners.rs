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

use super::*;
use crate::dtls::ClientHelloPeek;

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
    deadline: Instant,
    client_random: [u8; 32],
    authenticated: bool,
    finalized: Option<Finalized>,
    entrusted: bool,
    ended: bool,
}

/// The joiner sessions and the key of their stateless cookies. Its handlers send nothing: they
/// return, in [`JoinerOutput`], the RLY_TX payloads the router wraps into the Border Agent
/// session's CoAP, the events, and what the joiner table must hear.
pub(super) struct Joiners {
    sessions: BTreeMap<SessionKey, JoinerSession>,
    cookie_key: Zeroizing<[u8; 32]>,
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
}

impl Joiners {
    pub(super) fn new(cookie_key: Zeroizing<[u8; 32]>) -> Joiners {
        Joiners {
            sessions: BTreeMap::new(),
            cookie_key,
        }
    }

    /// Number of sessions in progress.
    pub(super) fn len(&self) -> usize {
        self.sessions.len()
    }

    /// The earliest session deadline or DTLS retransmission.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.sessions
            .values()
            .flat_map(|s| [Some(s.deadline), s.conn.poll_timeout()])
            .flatten()
            .min()
    }

    /// Drops every session (the Border Agent session ended); a failure event for each joiner
    /// not yet entrusted.
    pub(super) fn end_all(&mut self, why: &str) -> Vec<Event> {
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
                    cx.out.events.push(Event::JoinerHandshakeFailed {
                        joiner: s.info.clone(),
                        reason: HandshakeFailure::Timeout,
                    });
                }
                s.ended = true;
                s.conn.close();
                self.pump_session(cx, s);
            } else {
                s.conn.handle_timeout(now);
                self.pump_session(cx, s);
            }
        }
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
                s.addr.joiner_udp_port = rx.from.joiner_udp_port;
                s.info.joiner_port = rx.from.joiner_udp_port;
                s.conn.handle_datagram(now, &rx.dtls_record);
                return self.pump_session(cx, s);
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

    /// Answers a ClientHello statelessly (HelloVerifyRequest) until it carries a valid cookie; then
    /// keeps the session (replacing an older one of the same joiner).
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
        let mut c = dtls::Config::server(entry.pskd.as_bytes());
        c.initial_retransmit_timeout = cx.config.joiner_dtls_initial_retransmit;
        c.max_retransmit_timeout = cx.config.joiner_dtls_max_retransmit;
        c.mtu = JOINER_MTU;
        let mut peer = Vec::with_capacity(12);
        peer.extend_from_slice(&from.joiner_iid);
        peer.extend_from_slice(&from.joiner_router_locator.to_be_bytes());
        peer.extend_from_slice(&from.joiner_udp_port.to_be_bytes());
        let rng = Box::new(SeededRng::fork(&mut *cx.rng));
        let mut conn = match dtls::Connection::server(c, &*self.cookie_key, &peer, rng) {
            Ok(c) => c,
            Err(e) => return cx.dropped(format!("cannot create a joiner DTLS session: {e}")),
        };
        conn.handle_datagram(now, record);
        let mut output = Vec::new();
        while let Some(d) = conn.poll_transmit() {
            output.push(d);
        }
        let verified = output.iter().any(|d| dtls::starts_with_server_hello(d));
        if !verified {
            // HelloVerifyRequest (or nothing): no state kept.
            return relay_datagrams(cx, from, output, None);
        }
        let key = (from.joiner_iid, from.joiner_router_locator);
        if let Some(old) = self.sessions.remove(&key) {
            if !old.entrusted {
                cx.out.events.push(Event::JoinerHandshakeFailed {
                    joiner: old.info,
                    reason: HandshakeFailure::Protocol("joiner restarted the handshake".into()),
                });
            }
        }
        if self.sessions.len() >= cx.config.max_joiner_sessions {
            return cx.dropped(format!(
                "joiner session limit ({}) reached",
                cx.config.max_joiner_sessions
            ));
        }
        let info = JoinerInfo {
            joiner_id: hex::encode(joiner_id),
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
        cx.out.events.push(Event::JoinerSeen {
            joiner: info.clone(),
        });
        relay_datagrams(cx, from, output, None);
        let s = JoinerSession {
            addr: *from,
            info,
            conn,
            deadline: now + cx.config.joiner_session_timeout,
            client_random,
            authenticated: false,
            finalized: None,
            entrusted: false,
            ended: false,
        };
        self.pump_session(cx, s);
    }

    /// Relays the session's output, handles its events, and keeps it if it is still alive.
    fn pump_session(&mut self, cx: &mut JoinerCx<'_>, mut s: JoinerSession) {
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
                    tracing::info!(joiner_id = %s.info.joiner_id, "joiner authenticated (DTLS established)");
                    cx.out.events.push(Event::JoinerAuthenticated {
                        joiner: s.info.clone(),
                    });
                }
                dtls::Event::ApplicationData(d) => self.on_joiner_message(cx, &mut s, &d),
                dtls::Event::Closed => {
                    if !s.entrusted && !s.ended {
                        cx.out.events.push(Event::JoinerHandshakeFailed {
                            joiner: s.info.clone(),
                            reason: HandshakeFailure::Protocol(
                                "joiner closed the session before JOIN_FIN".into(),
                            ),
                        });
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
                        cx.out.events.push(Event::JoinerHandshakeFailed {
                            joiner: s.info.clone(),
                            reason,
                        });
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

/// The vendor TLVs and provisioning URL of a JOIN_FIN.req, and what is wrong with them.
fn join_fin_tlvs(msg: &Message) -> (VendorInfo, Option<String>, Vec<String>) {
    let mut problems: Vec<String> = Vec::new();
    let text = |typ: u8, what: &str, problems: &mut Vec<String>| -> String {
        match tlv::find(&msg.payload, typ) {
            Ok(Some(t)) => match t.utf8() {
                Ok(v) => v.to_owned(),
                Err(_) => {
                    problems.push(format!("{what} is not UTF-8"));
                    String::new()
                }
            },
            Ok(None) => {
                problems.push(format!("missing {what} TLV"));
                String::new()
            }
            Err(e) => {
                problems.push(format!("malformed TLVs: {e}"));
                String::new()
            }
        }
    };
    let name = text(types::VENDOR_NAME, "Vendor Name", &mut problems);
    let model = text(types::VENDOR_MODEL, "Vendor Model", &mut problems);
    let sw = text(types::VENDOR_SW_VERSION, "Vendor SW Version", &mut problems);
    let stack = match tlv::find(&msg.payload, types::VENDOR_STACK_VERSION) {
        Ok(Some(t)) => hex::encode(t.value),
        _ => {
            problems.push("missing Vendor Stack Version TLV".into());
            String::new()
        }
    };
    let data = tlv::find(&msg.payload, types::VENDOR_DATA)
        .ok()
        .flatten()
        .map(|t| hex::encode(t.value));
    let url = match tlv::find(&msg.payload, types::PROVISIONING_URL) {
        Ok(Some(t)) => match t.utf8() {
            Ok(u) => Some(u.to_owned()),
            Err(_) => {
                problems.push("Provisioning URL is not UTF-8".into());
                None
            }
        },
        _ => None,
    };
    let vendor = VendorInfo {
        name,
        model,
        sw_version: sw,
        stack_version: stack,
        data,
    };
    (vendor, url, problems)
}
