//! The Border Agent session: DTLS client (EC-JPAKE, password = PSKc), COMM_PET (`c/cp`),
//! COMM_KA (`c/ca`) keep-alives, resignation, and re-petition with exponential backoff after a
//! rejection, a failed keep-alive or a DTLS failure (thread-facts §1; OpenThread
//! `core/meshcop/commissioner.cpp`, `border_agent.cpp`). Every CoAP message toward the Border
//! Agent fits in one DTLS record ([`MAX_BA_MESSAGE`](super::MAX_BA_MESSAGE)).
//!
//! The session is one data-carrying [`Session`] (connecting / petitioning / active / resigning /
//! waiting to retry): each variant holds only what is valid in it (the DTLS connection, the
//! outstanding exchange, the session ID, keep-alive and steering state), so ending a state drops
//! its data; [`State`] is the data-less view. Outstanding MGMT_COMMISSIONER_GETs span petitioning
//! and active and live in the leader client.

use super::*;

impl Commissioner {
    /// Runs the Border Agent session's timers due at `now` (its entry in the timer table).
    pub(super) fn session_timeout(&mut self, now: Instant) {
        if let Some(ba) = self.session.conn_mut() {
            ba.handle_timeout(now);
        }
        self.pump_ba(now);

        if let Session::WaitingRetry { retry_at: Some(t) } = self.session {
            if now >= t {
                self.start(now);
            }
        }

        if let Some(why) = self.ba_exchange_timeout(now, Session::petition) {
            let reason = format!("petition: {why}");
            self.lose(now, Event::PetitionRejected { reason }, true);
        }
        if let Some(why) = self.ba_exchange_timeout(now, Session::keep_alive) {
            let reason = format!("keep-alive: {why}");
            self.lose(now, Event::KeepAliveFailed { reason }, true);
        }
        if self.ba_exchange_timeout(now, Session::resign).is_some() {
            self.finish_resign();
        }
        if matches!(self.session, Session::Resigning { deadline, .. } if now >= deadline) {
            self.finish_resign();
        }
        let set_timeout = self
            .session
            .active_mut()
            .and_then(|a| a.comm_set.as_mut())
            .and_then(|s| s.ex.on_timeout(now));
        if let Some(t) = set_timeout {
            match t {
                ExchangeTimeout::Resend(b) => self.send_to_leader(&b),
                ExchangeTimeout::Failed(why) => {
                    if let Some(a) = self.session.active_mut() {
                        a.comm_set = None;
                    }
                    self.events.push_back(Event::SteeringDataRejected {
                        reason: format!("MGMT_COMMISSIONER_SET: {why}"),
                    });
                }
            }
        }
        let interval = self.config.keep_alive_interval;
        let keep_alive_due = match self.session.active_mut() {
            Some(a) if now >= a.next_keep_alive => {
                a.next_keep_alive = now + interval;
                a.keep_alive.is_none().then_some(a.session_id)
            }
            _ => None,
        };
        if let Some(sid) = keep_alive_due {
            let mid = self.mid();
            let token = self.token();
            if let Ok(req) = coap::keep_alive(mid, &token, sid, true) {
                let ex = self.send_con(now, req);
                if let Some(slot) = self.session.keep_alive() {
                    *slot = ex;
                }
            }
        }
    }

    pub(super) fn pump_ba(&mut self, now: Instant) {
        loop {
            let Some(ba) = self.session.conn_mut() else {
                return;
            };
            while let Some(d) = ba.poll_transmit() {
                self.out.push_back(d);
            }
            let Some(ev) = ba.poll_event() else { return };
            match ev {
                dtls::Event::Connected => self.on_ba_connected(now),
                dtls::Event::ApplicationData(d) => self.on_ba_message(now, &d),
                dtls::Event::Closed => match self.state() {
                    State::Resigning => self.finish_resign(),
                    State::Idle => {}
                    _ => self.lose(
                        now,
                        Event::Disconnected {
                            reason: "the border agent closed the DTLS session".into(),
                        },
                        false,
                    ),
                },
                dtls::Event::Failed(e) => {
                    if self.state() == State::Resigning {
                        self.finish_resign();
                        continue;
                    }
                    let ev = match e {
                        // An Mbed TLS Border Agent tells a wrong PSKc only by a plaintext alert
                        // (PossibleBadPassword); this session goes through the co-processor's UDP
                        // forward stream, out of joiners' reach, so it is taken as its word.
                        dtls::Error::BadPassword | dtls::Error::PossibleBadPassword => {
                            tracing::warn!("border agent DTLS handshake failed: wrong PSKc");
                            Event::BorderAgentAuthFailed
                        }
                        other => Event::Disconnected {
                            reason: format!("border agent DTLS: {other}"),
                        },
                    };
                    self.lose(now, ev, false);
                }
            }
        }
    }

    pub(super) fn ba_send(&mut self, bytes: &[u8]) {
        let Some(ba) = self.session.conn_mut() else {
            return;
        };
        if let Err(e) = ba.send(bytes) {
            tracing::debug!(error = %e, "cannot send to the border agent");
            return;
        }
        while let Some(d) = ba.poll_transmit() {
            self.out.push_back(d);
        }
    }

    /// Runs the timer of the Border Agent exchange in `slot`: resends it, or on failure
    /// clears the slot and returns why.
    pub(super) fn ba_exchange_timeout(
        &mut self,
        now: Instant,
        slot: fn(&mut Session) -> Option<&mut Option<Exchange>>,
    ) -> Option<&'static str> {
        match slot(&mut self.session)?.as_mut()?.on_timeout(now)? {
            ExchangeTimeout::Resend(b) => {
                self.ba_send(&b);
                None
            }
            ExchangeTimeout::Failed(why) => {
                if let Some(x) = slot(&mut self.session) {
                    *x = None;
                }
                Some(why)
            }
        }
    }

    /// Matches `msg` against the Border Agent exchange in `slot` (`Unrelated` when there is
    /// none): an empty ACK stops its retransmissions and starts the wait for the separate
    /// response; a reset or the response clears the slot.
    pub(super) fn ba_exchange_response(
        &mut self,
        now: Instant,
        msg: &Message,
        slot: fn(&mut Session) -> Option<&mut Option<Exchange>>,
    ) -> ResponseMatch {
        let wait = self.config.separate_response_timeout;
        let Some(ex) = slot(&mut self.session).and_then(|x| x.as_mut()) else {
            return ResponseMatch::Unrelated;
        };
        let m = match_response(&ex.request, msg);
        match m {
            ResponseMatch::EmptyAck => {
                ex.retx.acknowledge();
                ex.response_deadline = Some(now + wait);
            }
            ResponseMatch::Reset | ResponseMatch::Response => {
                if let Some(x) = slot(&mut self.session) {
                    *x = None;
                }
            }
            ResponseMatch::Unrelated => {}
        }
        m
    }

    pub(super) fn close_ba(&mut self) {
        if let Some(mut ba) = self.session.take_conn() {
            ba.close();
            while let Some(d) = ba.poll_transmit() {
                self.out.push_back(d);
            }
        }
    }

    /// Sends a confirmable request directly to the Border Agent; its retransmission state.
    pub(super) fn send_con(&mut self, now: Instant, req: Message) -> Option<Exchange> {
        let bytes = req.encode().ok()?;
        self.ba_send(&bytes);
        let mut retx = Retransmitter::new(bytes, self.rng.next_u32());
        retx.on_send(now);
        Some(Exchange {
            request: req,
            retx,
            response_deadline: None,
        })
    }

    pub(super) fn on_ba_connected(&mut self, now: Instant) {
        tracing::info!("border agent DTLS session established; petitioning");
        let Some(conn) = self.session.take_conn() else {
            return;
        };
        self.session = Session::Petitioning {
            conn,
            petition: None,
        };
        let mid = self.mid();
        let token = self.token();
        match coap::petition(mid, &token, &self.config.commissioner_id) {
            Ok(req) => {
                let ex = self.send_con(now, req);
                if let Some(slot) = self.session.petition() {
                    *slot = ex;
                }
            }
            Err(e) => self.lose(
                now,
                Event::PetitionRejected {
                    reason: format!("cannot encode petition: {e}"),
                },
                true,
            ),
        }
    }

    /// Ends the Border Agent session after a failure: event, teardown, retry after the backoff.
    pub(super) fn lose(&mut self, now: Instant, event: Event, send_close: bool) {
        if send_close {
            self.close_ba();
        } else {
            self.session.take_conn();
        }
        self.teardown();
        tracing::info!(event = ?event, "commissioner session ended");
        self.events.push_back(event);
        self.schedule_retry(now);
    }

    pub(super) fn schedule_retry(&mut self, now: Instant) {
        if self.config.auto_retry {
            self.session = Session::WaitingRetry {
                retry_at: Some(now + self.backoff),
            };
            self.backoff = (self.backoff * 2).min(self.config.retry_max);
        } else {
            self.session = Session::Idle;
        }
    }

    pub(super) fn finish_resign(&mut self) {
        self.close_ba();
        self.teardown();
        self.session = Session::Idle;
        tracing::info!("resigned");
        self.events.push_back(Event::Resigned);
    }

    pub(super) fn teardown(&mut self) {
        for g in std::mem::take(&mut self.gets) {
            self.events.push_back(Event::CommissionerGetFailed {
                request: g.id,
                reason: "the border agent session ended".into(),
            });
        }
        self.end_joiner_sessions("border agent session ended");
    }

    pub(super) fn end_joiner_sessions(&mut self, why: &str) {
        let failed = self.joiners.end_all(why);
        self.events.extend(failed);
    }

    pub(super) fn activate(&mut self, now: Instant, session_id: u16) {
        tracing::info!(session_id, "petition accepted; commissioner active");
        self.other_commissioner = None;
        let Some(conn) = self.session.take_conn() else {
            return;
        };
        self.session = Session::Active(Box::new(ActiveSession {
            conn,
            session_id,
            keep_alive: None,
            next_keep_alive: now + self.config.keep_alive_interval,
            comm_set: None,
            steering_acked: None,
        }));
        self.backoff = self.config.retry_initial;
        self.events
            .push_back(Event::PetitionAccepted { session_id });
        self.send_comm_set(now);
    }

    pub(super) fn on_ba_message(&mut self, now: Instant, bytes: &[u8]) {
        let msg = match Message::parse(bytes) {
            Ok(m) => m,
            Err(e) => return self.dropped(format!("from the border agent: {e}")),
        };
        if msg.code.is_request() {
            if msg.needs_ack() && (msg.uri_path == uri::RLY_RX || msg.uri_path == uri::UDP_RX) {
                self.send_plain(&Message::empty_ack(msg.message_id));
            }
            match msg.uri_path.as_str() {
                uri::RLY_RX => self.on_relay_rx(now, &msg),
                uri::UDP_RX => self.on_udp_rx(now, &msg),
                other => {
                    if let Some(r) = not_found(&msg) {
                        self.send_plain(&r);
                    }
                    self.dropped(format!(
                        "unexpected request {other:?} from the border agent"
                    ));
                }
            }
            return;
        }
        if msg.typ == MsgType::Con && msg.code.is_response() {
            self.send_plain(&Message::empty_ack(msg.message_id));
        }

        // Petition.
        match self.ba_exchange_response(now, &msg, Session::petition) {
            ResponseMatch::EmptyAck => return,
            ResponseMatch::Reset => {
                let reason = "border agent reset (RST) the petition".to_string();
                return self.lose(now, Event::PetitionRejected { reason }, true);
            }
            ResponseMatch::Response => return self.on_petition_response(now, &msg),
            ResponseMatch::Unrelated => {}
        }
        // Keep-alive.
        match self.ba_exchange_response(now, &msg, Session::keep_alive) {
            ResponseMatch::EmptyAck => return,
            ResponseMatch::Reset => {
                let reason = "border agent reset (RST) the keep-alive".to_string();
                return self.lose(now, Event::KeepAliveFailed { reason }, true);
            }
            ResponseMatch::Response => {
                let state = msg.state().ok();
                if msg.code.is_success() && state == Some(tlv::state::ACCEPT) {
                    // Retry steering data the leader has not taken yet.
                    let want = self.desired_steering();
                    if self.session.active().is_some_and(|a| {
                        a.comm_set.is_none() && a.steering_acked.as_ref() != Some(&want)
                    }) {
                        self.send_comm_set(now);
                    }
                } else {
                    let reason = format!(
                        "rejected by the leader (code {:?}, state {:?})",
                        msg.code, state
                    );
                    self.lose(now, Event::KeepAliveFailed { reason }, true);
                }
                return;
            }
            ResponseMatch::Unrelated => {}
        }
        // Resignation.
        if let Some(ex) = self.session.resign().and_then(|r| r.as_mut()) {
            match match_response(&ex.request, &msg) {
                ResponseMatch::EmptyAck => {
                    ex.retx.acknowledge();
                    return;
                }
                ResponseMatch::Reset | ResponseMatch::Response => return self.finish_resign(),
                ResponseMatch::Unrelated => {}
            }
        }
        // MGMT_COMMISSIONER_GET.
        if self.on_get_response(now, &msg) {
            return;
        }
        self.dropped(format!(
            "unmatched {:?} {:?} from the border agent",
            msg.typ, msg.code
        ));
    }

    pub(super) fn on_petition_response(&mut self, now: Instant, msg: &Message) {
        let state = msg.state().ok();
        let sid = msg.session_id().ok().flatten();
        match (msg.code.is_success(), state, sid) {
            (true, Some(tlv::state::ACCEPT), Some(sid)) => self.activate(now, sid),
            _ => {
                let other = tlv::find(&msg.payload, types::COMMISSIONER_ID)
                    .ok()
                    .flatten()
                    .and_then(|t| t.utf8().ok().map(str::to_owned));
                let mut reason = match state {
                    Some(tlv::state::REJECT) => "rejected by the leader".to_string(),
                    Some(s) => format!("not accepted (state {s})"),
                    None => format!("answer {:?} without a State TLV", msg.code),
                };
                if state == Some(tlv::state::ACCEPT) && sid.is_none() {
                    reason = "accepted without a Commissioner Session ID".into();
                }
                let other = other.filter(|id| *id != self.config.commissioner_id);
                if let Some(id) = &other {
                    reason.push_str(&format!(" (active commissioner: {id:?})"));
                }
                tracing::warn!(%reason, "petition rejected");
                let backoff = self.backoff;
                self.lose(now, Event::PetitionRejected { reason }, true);
                if other.is_some() {
                    // Another commissioner holds the role: ask again at a steady pace (no
                    // doubling), so that we take over soon after it resigns.
                    self.backoff = backoff;
                    if let Session::WaitingRetry { retry_at: Some(t) } = &mut self.session {
                        *t = now + self.config.retry_other_commissioner;
                    }
                }
                self.other_commissioner = other;
            }
        }
    }

    pub(super) fn send_plain(&mut self, m: &Message) {
        match m.encode() {
            // One CoAP message per DTLS record: a larger one would be split and garbled.
            Ok(b) if b.len() > MAX_BA_MESSAGE => {
                tracing::warn!(len = b.len(), uri = %m.uri_path, "CoAP message too large for one DTLS record; not sent")
            }
            Ok(b) => self.ba_send(&b),
            Err(e) => tracing::debug!(error = %e, "cannot encode CoAP message"),
        }
    }
}

/// The piggybacked 4.04 Not Found answer to a confirmable request we do not serve (`None` when it
/// needs no answer).
pub(super) fn not_found(msg: &Message) -> Option<Message> {
    if !msg.needs_ack() {
        return None;
    }
    Message::response(
        MsgType::Ack,
        Code::NOT_FOUND,
        msg.message_id,
        &msg.token,
        &[],
    )
    .ok()
}

/// The Border Agent session, one variant per [`State`], each holding only what is valid in it.
pub(super) enum Session {
    Idle,
    /// DTLS handshake in progress.
    Connecting {
        conn: dtls::Connection,
    },
    /// COMM_PET sent (the exchange is gone once answered).
    Petitioning {
        conn: dtls::Connection,
        petition: Option<Exchange>,
    },
    Active(Box<ActiveSession>),
    /// COMM_KA State=-1 sent; closed on its answer or at `deadline`.
    Resigning {
        conn: dtls::Connection,
        resign: Option<Exchange>,
        deadline: Instant,
    },
    /// Waiting for the backoff (`retry_at`), or for the Border Agent's port when `None`.
    WaitingRetry {
        retry_at: Option<Instant>,
    },
}

/// What an accepted petition owns.
pub(super) struct ActiveSession {
    pub(super) conn: dtls::Connection,
    pub(super) session_id: u16,
    pub(super) keep_alive: Option<Exchange>,
    pub(super) next_keep_alive: Instant,
    /// The outstanding MGMT_COMMISSIONER_SET.
    pub(super) comm_set: Option<SetExchange>,
    /// The steering data the leader last accepted in this session.
    pub(super) steering_acked: Option<SteeringData>,
}

impl Session {
    pub(super) fn state(&self) -> State {
        match self {
            Session::Idle => State::Idle,
            Session::Connecting { .. } => State::Connecting,
            Session::Petitioning { .. } => State::Petitioning,
            Session::Active(_) => State::Active,
            Session::Resigning { .. } => State::Resigning,
            Session::WaitingRetry { .. } => State::WaitingRetry,
        }
    }

    pub(super) fn conn(&self) -> Option<&dtls::Connection> {
        match self {
            Session::Connecting { conn }
            | Session::Petitioning { conn, .. }
            | Session::Resigning { conn, .. } => Some(conn),
            Session::Active(a) => Some(&a.conn),
            Session::Idle | Session::WaitingRetry { .. } => None,
        }
    }

    pub(super) fn conn_mut(&mut self) -> Option<&mut dtls::Connection> {
        match self {
            Session::Connecting { conn }
            | Session::Petitioning { conn, .. }
            | Session::Resigning { conn, .. } => Some(conn),
            Session::Active(a) => Some(&mut a.conn),
            Session::Idle | Session::WaitingRetry { .. } => None,
        }
    }

    /// Ends the session (now [`Session::Idle`]) and returns its DTLS connection, if any.
    pub(super) fn take_conn(&mut self) -> Option<dtls::Connection> {
        match std::mem::replace(self, Session::Idle) {
            Session::Connecting { conn }
            | Session::Petitioning { conn, .. }
            | Session::Resigning { conn, .. } => Some(conn),
            Session::Active(a) => Some(a.conn),
            Session::Idle | Session::WaitingRetry { .. } => None,
        }
    }

    pub(super) fn active(&self) -> Option<&ActiveSession> {
        match self {
            Session::Active(a) => Some(a),
            _ => None,
        }
    }

    pub(super) fn active_mut(&mut self) -> Option<&mut ActiveSession> {
        match self {
            Session::Active(a) => Some(a),
            _ => None,
        }
    }

    pub(super) fn petition(&mut self) -> Option<&mut Option<Exchange>> {
        match self {
            Session::Petitioning { petition, .. } => Some(petition),
            _ => None,
        }
    }

    pub(super) fn keep_alive(&mut self) -> Option<&mut Option<Exchange>> {
        self.active_mut().map(|a| &mut a.keep_alive)
    }

    pub(super) fn resign(&mut self) -> Option<&mut Option<Exchange>> {
        match self {
            Session::Resigning { resign, .. } => Some(resign),
            _ => None,
        }
    }

    /// The earliest of the session's timers.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        let conn = self.conn().and_then(dtls::Connection::poll_timeout);
        let own = match self {
            Session::Idle | Session::Connecting { .. } => None,
            Session::Petitioning { petition, .. } => {
                petition.as_ref().and_then(Exchange::poll_timeout)
            }
            Session::Active(a) => [
                a.keep_alive.as_ref().and_then(Exchange::poll_timeout),
                a.comm_set.as_ref().and_then(|s| s.ex.poll_timeout()),
                Some(a.next_keep_alive),
            ]
            .into_iter()
            .flatten()
            .min(),
            Session::Resigning {
                resign, deadline, ..
            } => Some(
                resign
                    .as_ref()
                    .and_then(Exchange::poll_timeout)
                    .map_or(*deadline, |t| t.min(*deadline)),
            ),
            Session::WaitingRetry { retry_at } => *retry_at,
        };
        [conn, own].into_iter().flatten().min()
    }
}
