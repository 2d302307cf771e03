//! The leader client: MGMT_COMMISSIONER_GET (`c/cg`, answered by the Border Agent itself),
//! MGMT_COMMISSIONER_SET (`c/cs`) with the steering data through the UDP proxy (UDP_TX `c/ut`,
//! UDP_RX `c/ur`), retransmitted per RFC 7252 (OpenThread `commissioner.cpp`
//! `SendMgmtCommissionerGetRequest` / `SendMgmtCommissionerSetRequest`). The next MGMT_* requests
//! (pending/active dataset get/set) belong here.

use super::*;

impl Commissioner {
    /// Retransmits or fails the MGMT_COMMISSIONER_GETs whose timers are due at `now`.
    pub(super) fn gets_timeout(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.gets.len() {
            match self.gets[i].ex.on_timeout(now) {
                Some(ExchangeTimeout::Resend(b)) => {
                    self.ba_send(&b);
                    i += 1;
                }
                Some(ExchangeTimeout::Failed(why)) => {
                    let g = self.gets.remove(i);
                    self.events.push_back(Event::CommissionerGetFailed {
                        request: g.id,
                        reason: format!("MGMT_COMMISSIONER_GET: {why}"),
                    });
                }
                None => i += 1,
            }
        }
    }

    /// Sends MGMT_COMMISSIONER_GET (CON POST `c/cg`, with a Get TLV listing `wanted` TLV types,
    /// or none for all) directly to the Border Agent, which answers it itself from the leader's
    /// Commissioning Data (OpenThread `BorderAgent::CoapDtlsSession::HandleTmfDatasetGet`; it
    /// does so even before the petition is accepted). Retransmitted per RFC 7252 like the other
    /// requests. The answer is [`Event::CommissionerDataset`] (or [`Event::CommissionerGetFailed`])
    /// with the returned request id. Errors: no DTLS session ([`Error::NotConnected`]), or
    /// [`MAX_OUTSTANDING_GETS`] already waiting.
    pub fn commissioner_get(&mut self, now: Instant, wanted: &[u8]) -> Result<u32, Error> {
        if !matches!(self.state(), State::Petitioning | State::Active) {
            return Err(Error::NotConnected);
        }
        if self.gets.len() >= MAX_OUTSTANDING_GETS {
            return Err(Error::TooManyRequests {
                max: MAX_OUTSTANDING_GETS,
            });
        }
        let mid = self.mid();
        let token = self.token();
        // A Get TLV lists each type once; more than 254 types cannot be meant.
        let wanted = &wanted[..wanted.len().min(tlv::MAX_SHORT_LEN)];
        let ex = coap::mgmt_get(uri::MGMT_COMMISSIONER_GET, mid, &token, wanted)
            .ok()
            .and_then(|req| self.send_con(now, req))
            .ok_or(Error::NotConnected)?;
        self.next_get_id = self.next_get_id.wrapping_add(1);
        let id = self.next_get_id;
        tracing::debug!(request = id, "sent MGMT_COMMISSIONER_GET");
        self.gets.push(GetExchange { id, ex });
        Ok(id)
    }

    pub(super) fn leader_aloc(&self) -> Ipv6Addr {
        coap::leader_aloc(&self.config.mesh_local_prefix)
    }

    /// Wraps a CoAP message for the leader (port 61631) in UDP_TX.
    pub(super) fn send_to_leader(&mut self, inner: &[u8]) {
        let dst = self.leader_aloc();
        self.send_udp_proxy(coap::TMF_PORT, dst, coap::TMF_PORT, inner);
    }

    pub(super) fn send_udp_proxy(
        &mut self,
        src_port: u16,
        dst: Ipv6Addr,
        dst_port: u16,
        payload: &[u8],
    ) {
        let mid = self.mid();
        let token = self.token();
        match coap::udp_tx(mid, &token, src_port, dst, dst_port, payload) {
            Ok(m) => self.send_plain(&m),
            Err(e) => tracing::debug!(error = %e, "cannot encode UDP_TX"),
        }
    }

    pub(super) fn send_comm_set(&mut self, now: Instant) {
        let Some(sid) = self.session_id() else {
            return;
        };
        let steering = self.desired_steering();
        let mid = self.mid();
        let token = self.token();
        let Ok(req) = coap::commissioner_set(mid, &token, sid, &steering, &[]) else {
            return;
        };
        let Ok(bytes) = req.encode() else { return };
        tracing::info!(steering = %hex::encode(steering.as_bytes()), "sending MGMT_COMMISSIONER_SET");
        self.send_to_leader(&bytes);
        let mut retx = Retransmitter::new(bytes, self.rng.next_u32());
        retx.on_send(now);
        let set = Some(SetExchange {
            ex: Exchange {
                request: req,
                retx,
                response_deadline: None,
            },
            steering,
        });
        if let Some(a) = self.session.active_mut() {
            a.comm_set = set;
        }
    }

    pub(super) fn on_udp_rx(&mut self, now: Instant, msg: &Message) {
        let rx = match UdpRx::from_message(msg) {
            Ok(r) => r,
            Err(e) => return self.dropped(format!("UDP_RX: {e}")),
        };
        let inner = match Message::parse(&rx.payload) {
            Ok(m) => m,
            Err(e) => return self.dropped(format!("UDP_RX payload: {e}")),
        };
        if inner.code.is_request() && inner.uri_path == uri::DIAG_GET_ANSWER {
            return self.on_diag_answer(&rx, &inner);
        }
        if inner.code.is_request() {
            // E.g. MGMT_DATASET_CHANGED from the leader: acknowledge it.
            if inner.needs_ack() {
                let code = if inner.uri_path == uri::MGMT_DATASET_CHANGED {
                    Code::CHANGED
                } else {
                    Code::NOT_FOUND
                };
                if let Ok(r) =
                    Message::response(MsgType::Ack, code, inner.message_id, &inner.token, &[])
                        .and_then(|r| r.encode())
                {
                    self.send_udp_proxy(rx.dst_port, rx.src, rx.src_port, &r);
                }
            }
            return;
        }
        if inner.typ == MsgType::Con && inner.code.is_response() {
            if let Ok(r) = Message::empty_ack(inner.message_id).encode() {
                self.send_udp_proxy(rx.dst_port, rx.src, rx.src_port, &r);
            }
        }
        let Some(set) = self.session.active_mut().and_then(|a| a.comm_set.as_mut()) else {
            return self.dropped("UDP_RX answer with no MGMT_COMMISSIONER_SET outstanding".into());
        };
        match match_response(&set.ex.request, &inner) {
            ResponseMatch::EmptyAck => {
                set.ex.retx.acknowledge();
                set.ex.response_deadline = Some(now + self.config.separate_response_timeout);
            }
            ResponseMatch::Reset => {
                if let Some(a) = self.session.active_mut() {
                    a.comm_set = None;
                }
                self.events.push_back(Event::SteeringDataRejected {
                    reason: "the leader reset (RST) MGMT_COMMISSIONER_SET".into(),
                });
            }
            ResponseMatch::Response => {
                let Some(set) = self.session.active_mut().and_then(|a| a.comm_set.take()) else {
                    return;
                };
                let state = inner.state().ok();
                if inner.code.is_success() && state == Some(tlv::state::ACCEPT) {
                    let hex = hex::encode(set.steering.as_bytes());
                    tracing::info!(steering = %hex, "steering data accepted by the leader");
                    if let Some(a) = self.session.active_mut() {
                        a.steering_acked = Some(set.steering);
                    }
                    self.events
                        .push_back(Event::SteeringDataUpdated { steering_data: hex });
                    // A change may have happened meanwhile (it would have superseded; defensive).
                    self.table_changed(now);
                } else {
                    self.events.push_back(Event::SteeringDataRejected {
                        reason: format!("leader answered {:?} with state {:?}", inner.code, state),
                    });
                }
            }
            ResponseMatch::Unrelated => {
                self.dropped("UDP_RX answer to a superseded or unknown request".into())
            }
        }
    }

    /// Matches `msg` against the outstanding MGMT_COMMISSIONER_GET requests; true when it was one.
    pub(super) fn on_get_response(&mut self, now: Instant, msg: &Message) -> bool {
        let found = self.gets.iter().enumerate().find_map(|(i, g)| {
            match match_response(&g.ex.request, msg) {
                ResponseMatch::Unrelated => None,
                m => Some((i, m)),
            }
        });
        if let Some((i, m)) = found {
            match m {
                ResponseMatch::EmptyAck => {
                    let ex = &mut self.gets[i].ex;
                    ex.retx.acknowledge();
                    ex.response_deadline = Some(now + self.config.separate_response_timeout);
                }
                ResponseMatch::Reset => {
                    let g = self.gets.remove(i);
                    self.events.push_back(Event::CommissionerGetFailed {
                        request: g.id,
                        reason: "the border agent reset (RST) MGMT_COMMISSIONER_GET".into(),
                    });
                }
                _ => {
                    let g = self.gets.remove(i);
                    let ev = if !msg.code.is_success() {
                        Event::CommissionerGetFailed {
                            request: g.id,
                            reason: format!(
                                "the border agent answered MGMT_COMMISSIONER_GET with {}.{:02}",
                                msg.code.class(),
                                msg.code.detail()
                            ),
                        }
                    } else {
                        match CommissionerDataset::parse(&msg.payload) {
                            Ok(dataset) => {
                                tracing::debug!(
                                    request = g.id,
                                    ?dataset,
                                    "MGMT_COMMISSIONER_GET answered"
                                );
                                Event::CommissionerDataset {
                                    request: g.id,
                                    dataset,
                                }
                            }
                            Err(e) => {
                                self.dropped(format!("MGMT_COMMISSIONER_GET answer: {e}"));
                                Event::CommissionerGetFailed {
                                    request: g.id,
                                    reason: format!("malformed MGMT_COMMISSIONER_GET answer: {e}"),
                                }
                            }
                        }
                    };
                    self.events.push_back(ev);
                }
            }
            return true;
        }
        false
    }
}
