//! Joiner sessions keyed by (Joiner IID, Joiner Router Locator): RLY_RX (`c/rx`) records feed a
//! DTLS server whose password is the best-matching entry's PSKd; its records go back in RLY_TX
//! (`c/tx`); JOIN_FIN.req (`c/jf`) is checked and answered, and the RLY_TX carrying an accepting
//! answer carries the Joiner Router KEK (thread-facts §2; OpenThread `commissioner.cpp`
//! `HandleRelayReceive`, `HandleJoinerFinalize`). Guarantees: no KEK or PSKd in any event or log;
//! a rejecting answer carries no KEK.

use super::*;
use crate::dtls::ClientHelloPeek;

impl Commissioner {
    /// Runs the joiner sessions' timers due at `now`.
    pub(super) fn joiner_timeouts(&mut self, now: Instant) {
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
                    self.events.push_back(Event::JoinerHandshakeFailed {
                        joiner: s.info.clone(),
                        reason: HandshakeFailure::Timeout,
                    });
                }
                s.ended = true;
                s.conn.close();
                self.pump_session(now, s);
            } else {
                s.conn.handle_timeout(now);
                self.pump_session(now, s);
            }
        }
    }

    pub(super) fn on_relay_rx(&mut self, now: Instant, msg: &Message) {
        if self.state() != State::Active {
            return self.dropped("RLY_RX while not active".into());
        }
        let rx = match RelayRx::from_message(msg) {
            Ok(r) => r,
            Err(e) => return self.dropped(format!("RLY_RX: {e}")),
        };
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
                return self.pump_session(now, s);
            }
            self.sessions.insert(key, s);
        }
        let Some(ClientHelloPeek { random, .. }) = hello else {
            return self.dropped(
                "RLY_RX: a DTLS record other than ClientHello from a joiner without a session"
                    .into(),
            );
        };
        self.start_session(now, &rx.from, &rx.dtls_record, random);
    }

    /// Answers a ClientHello statelessly (HelloVerifyRequest) until it carries a valid cookie; then
    /// keeps the session (replacing an older one of the same joiner).
    pub(super) fn start_session(
        &mut self,
        now: Instant,
        from: &JoinerAddr,
        record: &[u8],
        client_random: [u8; 32],
    ) {
        let joiner_id = credentials::joiner_id_from_iid(&from.joiner_iid);
        let Some(entry) = self.best_entry(now, &joiner_id) else {
            self.stats.unknown_joiners += 1;
            tracing::debug!(joiner_id = %hex::encode(joiner_id), "RLY_RX from a joiner no entry admits");
            return;
        };
        let kind = entry.kind;
        let mut c = dtls::Config::server(entry.pskd.as_bytes());
        c.initial_retransmit_timeout = self.config.joiner_dtls_initial_retransmit;
        c.max_retransmit_timeout = self.config.joiner_dtls_max_retransmit;
        c.mtu = JOINER_MTU;
        let mut peer = Vec::with_capacity(12);
        peer.extend_from_slice(&from.joiner_iid);
        peer.extend_from_slice(&from.joiner_router_locator.to_be_bytes());
        peer.extend_from_slice(&from.joiner_udp_port.to_be_bytes());
        let rng = Box::new(SeededRng::fork(&mut *self.rng));
        let mut conn = match dtls::Connection::server(c, &*self.cookie_key, &peer, rng) {
            Ok(c) => c,
            Err(e) => return self.dropped(format!("cannot create a joiner DTLS session: {e}")),
        };
        conn.handle_datagram(now, record);
        let mut output = Vec::new();
        while let Some(d) = conn.poll_transmit() {
            output.push(d);
        }
        let verified = output.iter().any(|d| dtls::starts_with_server_hello(d));
        if !verified {
            // HelloVerifyRequest (or nothing): no state kept.
            return self.relay_datagrams(from, output, None);
        }
        let key = (from.joiner_iid, from.joiner_router_locator);
        if let Some(old) = self.sessions.remove(&key) {
            if !old.entrusted {
                self.events.push_back(Event::JoinerHandshakeFailed {
                    joiner: old.info,
                    reason: HandshakeFailure::Protocol("joiner restarted the handshake".into()),
                });
            }
        }
        if self.sessions.len() >= self.config.max_joiner_sessions {
            return self.dropped(format!(
                "joiner session limit ({}) reached",
                self.config.max_joiner_sessions
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
        self.events.push_back(Event::JoinerSeen {
            joiner: info.clone(),
        });
        self.relay_datagrams(from, output, None);
        let s = JoinerSession {
            addr: *from,
            info,
            conn,
            deadline: now + self.config.joiner_session_timeout,
            client_random,
            authenticated: false,
            finalized: None,
            entrusted: false,
            ended: false,
        };
        self.pump_session(now, s);
    }

    /// Relays the session's output, handles its events, and keeps it if it is still alive.
    pub(super) fn pump_session(&mut self, now: Instant, mut s: JoinerSession) {
        let span = tracing::info_span!(
            "joiner",
            joiner_id = %s.info.joiner_id,
            eui64 = s.info.eui64.as_deref().unwrap_or("-"),
            joiner_router = s.info.joiner_router
        );
        let _guard = span.enter();
        loop {
            self.relay_out(&mut s, None);
            let Some(ev) = s.conn.poll_event() else { break };
            match ev {
                dtls::Event::Connected => {
                    s.authenticated = true;
                    tracing::info!(joiner_id = %s.info.joiner_id, "joiner authenticated (DTLS established)");
                    self.events.push_back(Event::JoinerAuthenticated {
                        joiner: s.info.clone(),
                    });
                }
                dtls::Event::ApplicationData(d) => self.on_joiner_message(now, &mut s, &d),
                dtls::Event::Closed => {
                    if !s.entrusted && !s.ended {
                        self.events.push_back(Event::JoinerHandshakeFailed {
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
                            dtls::Error::Timeout => HandshakeFailure::Timeout,
                            other => HandshakeFailure::Protocol(other.to_string()),
                        };
                        tracing::info!(joiner_id = %s.info.joiner_id, reason = ?reason, "joiner handshake failed");
                        self.events.push_back(Event::JoinerHandshakeFailed {
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

    /// Sends each pending DTLS datagram of a joiner session in its own RLY_TX.
    pub(super) fn relay_out(&mut self, s: &mut JoinerSession, kek: Option<&Kek>) {
        let mut output = Vec::new();
        while let Some(d) = s.conn.poll_transmit() {
            output.push(d);
        }
        self.relay_datagrams(&s.addr, output, kek);
    }

    /// RLY_TX.ntf per datagram: Joiner UDP Port, Joiner IID, Joiner Router Locator, [Joiner Router
    /// KEK], Joiner DTLS Encapsulation (OpenThread's order).
    pub(super) fn relay_datagrams(
        &mut self,
        to: &JoinerAddr,
        datagrams: Vec<Vec<u8>>,
        kek: Option<&Kek>,
    ) {
        for rec in datagrams {
            let mid = self.mid();
            let token = self.token();
            let mut tlvs = vec![
                Tlv::joiner_udp_port(to.joiner_udp_port),
                Tlv::joiner_iid(&to.joiner_iid),
                Tlv::joiner_router_locator(to.joiner_router_locator),
            ];
            if let Some(k) = kek {
                tlvs.push(Tlv::joiner_router_kek(k));
            }
            tlvs.push(Tlv::joiner_dtls_encapsulation(rec));
            match Message::post(false, uri::RLY_TX, mid, &token, &tlvs) {
                Ok(mut m) => {
                    self.send_plain(&m);
                    m.payload.zeroize();
                }
                Err(e) => tracing::debug!(error = %e, "cannot encode RLY_TX"),
            }
            // Wipe the KEK TLV copy.
            for t in tlvs.iter_mut() {
                t.value.zeroize();
            }
        }
    }

    pub(super) fn on_joiner_message(&mut self, now: Instant, s: &mut JoinerSession, bytes: &[u8]) {
        let msg = match Message::parse(bytes) {
            Ok(m) => m,
            Err(e) => return self.dropped(format!("from joiner {}: {e}", s.info.joiner_id)),
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
                    self.relay_out(s, kek.as_ref());
                    return;
                }
            }
            return self.on_join_fin(now, s, &msg);
        }
        if let Some(r) = border_agent::not_found(&msg).and_then(|r| r.encode().ok()) {
            let _ = s.conn.send(&r);
        }
        self.dropped(format!(
            "unexpected request {:?} from joiner {}",
            msg.uri_path, s.info.joiner_id
        ));
    }

    pub(super) fn on_join_fin(&mut self, now: Instant, s: &mut JoinerSession, msg: &Message) {
        let (vendor, url, mut problems) = join_fin_tlvs(msg);
        let VendorInfo {
            name,
            model,
            sw_version: sw,
            stack_version: stack,
            data,
        } = vendor;
        if let Some(u) = &url {
            if u.as_str() != self.config.provisioning_url.as_deref().unwrap_or("") {
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
            (MsgType::Non, self.mid())
        };
        let Ok(resp) = Message::response(typ, Code::CHANGED, mid, &msg.token, &[Tlv::state(state)])
            .and_then(|r| r.encode())
        else {
            return;
        };
        self.relay_out(s, None);
        if let Err(e) = s.conn.send(&resp) {
            return self.dropped(format!(
                "cannot answer JOIN_FIN of joiner {}: {e}",
                s.info.joiner_id
            ));
        }
        let kek = if accepted { session_kek(s) } else { None };
        self.relay_out(s, kek.as_ref());
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
        self.events.push_back(Event::JoinerFinalize {
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
            self.stats.joined += 1;
            tracing::info!(joiner_id = %s.info.joiner_id, "joiner entrusted (KEK sent to the joiner router)");
            self.events.push_back(Event::JoinerEntrusted {
                joiner: s.info.clone(),
            });
            if let JoinerKind::Eui64(_) = s.info.entry {
                let kind = s.info.entry;
                let linger = self.config.consumed_entry_linger;
                if !linger.is_zero() {
                    // OpenThread's RemoveJoiner(entry, kRemoveJoinerDelay): bring the expiry
                    // forward (never back); the expiry then removes it as Joined.
                    if let Some(e) = self.entries.iter_mut().find(|e| e.kind == kind) {
                        e.expires_at = e.expires_at.min(now + linger);
                        if !self.joined.contains(&kind) {
                            self.joined.push(kind);
                        }
                    }
                    return;
                }
                let before = self.entries.len();
                self.entries.retain(|e| e.kind != kind);
                if self.entries.len() != before {
                    self.events.push_back(Event::EntryRemoved {
                        kind,
                        reason: RemovalReason::Joined,
                    });
                    self.table_changed(now);
                }
            }
        }
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
