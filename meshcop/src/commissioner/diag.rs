//! Network diagnostics through the Border Agent's UDP proxy, as ot-commissioner's `netdiag
//! query`: DIAG_GET.qry (`d/dq`, [`crate::netdiag::query`]) in UDP_TX from the commissioner
//! ALOC to realm-local all nodes; each node's DIAG_GET.ans (`d/da`, CON) comes back in UDP_RX,
//! is acknowledged through UDP_TX (an FTD sends the next part of a split answer only after the
//! ACK) and parsed into a [`DiagAnswer`] for [`Commissioner::poll_diag_answer`].
//!
//! Each query has a request id (u64) and carries its low 16 bits as the Query ID TLV, which
//! OpenThread echoes; an answer without one is attributed to the newest query. Answers to no
//! query of this session, or while not active, are acknowledged and dropped (counted).

use super::*;
use crate::netdiag::{self, DiagAnswer};

/// How many recent queries an answer may still be attributed to.
const RECENT_QUERIES: usize = 8;
/// Largest number of answers waiting in [`Commissioner::poll_diag_answer`]'s queue (the oldest
/// go first).
const MAX_QUEUED_ANSWERS: usize = 1024;

impl Commissioner {
    /// Sends DIAG_GET.qry for [`netdiag::QUERY_TYPES`] (extended address, RLOC16, mode, EUI-64)
    /// to realm-local all nodes (`ff03::1`) through the Border Agent's UDP proxy, from the
    /// commissioner ALOC, TMF port. Not retransmitted (it is NON, as OpenThread sends it): call
    /// again for another round. The answers come out of [`Self::poll_diag_answer`] with the
    /// returned request id. Errors: [`Error::NotActive`] unless the petition was accepted.
    pub fn diag_query(&mut self, now: Instant) -> Result<u64, Error> {
        let _ = now;
        if self.state() != State::Active {
            return Err(Error::NotActive);
        }
        self.diag_next_id = self.diag_next_id.wrapping_add(1);
        let id = self.diag_next_id;
        let mid = self.mid();
        let token = self.token();
        let q = netdiag::query(mid, &token, &netdiag::QUERY_TYPES, Some(id as u16))
            .and_then(|m| m.encode())
            .map_err(|_| Error::NotActive)?;
        self.send_udp_proxy(coap::TMF_PORT, netdiag::ALL_NODES, coap::TMF_PORT, &q);
        if self.diag_recent.len() == RECENT_QUERIES {
            self.diag_recent.pop_front();
        }
        self.diag_recent.push_back(id);
        tracing::debug!(request = id, "sent DIAG_GET.qry to ff03::1");
        Ok(id)
    }

    /// The next diagnostic answer: the request id of [`Self::diag_query`] it answers, and what
    /// the node said. A node may answer in several parts (each its own item, same source).
    pub fn poll_diag_answer(&mut self) -> Option<(u64, DiagAnswer)> {
        self.diag_out.pop_front()
    }

    /// A DIAG_GET.ans (or any `d/da`) that came in UDP_RX from `rx.src`: acknowledged, parsed.
    pub(super) fn on_diag_answer(&mut self, rx: &UdpRx, inner: &Message) {
        if inner.needs_ack() {
            if let Ok(ack) = Message::empty_ack(inner.message_id).encode() {
                self.send_udp_proxy(rx.dst_port, rx.src, rx.src_port, &ack);
            }
        }
        if self.state() != State::Active {
            return self.dropped("DIAG_GET.ans while not active".into());
        }
        let request = match netdiag::query_id(&inner.payload) {
            Some(q) => self.diag_recent.iter().rev().find(|&&id| id as u16 == q),
            None => self.diag_recent.back(),
        };
        let Some(&request) = request else {
            return self.dropped("DIAG_GET.ans to no query of ours".into());
        };
        match DiagAnswer::parse(rx.src, &inner.payload) {
            Ok(answer) => {
                tracing::debug!(request, ?answer, "DIAG_GET.ans");
                if self.diag_out.len() == MAX_QUEUED_ANSWERS {
                    self.diag_out.pop_front();
                }
                self.diag_out.push_back((request, answer));
            }
            Err(e) => self.dropped(format!("DIAG_GET.ans from {}: {e}", rx.src)),
        }
    }
}
