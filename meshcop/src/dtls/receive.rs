//! Inbound records: version and epoch filtering, decryption and anti-replay, alerts, application
//! data, and handshake fragments reassembled in message order and dispatched by state.
//!
//! Bounds (issue 10): records over 2^14 bytes of plaintext or 2^14 + 2048 of ciphertext are
//! dropped; a message over `MAX_MESSAGE_LEN` is never reassembled and messages ahead of the next
//! one share [`MAX_AHEAD_BYTES`]; once our keys exist, new plaintext handshake messages and
//! plaintext alerts cannot end the session (see the module doc of `dtls`).

use std::time::Instant;

use super::handshake::*;
use super::record::*;
use super::{
    alert, Connection, Error, Event, Fatal, State, MAX_CIPHERTEXT, MAX_PENDING_AHEAD, MAX_PLAINTEXT,
};

/// Reassembly memory for messages ahead of the next expected one (each message is also at most
/// `MAX_MESSAGE_LEN`, 4 KiB): a session holds at most 8 KiB of message bodies (16 KiB with the
/// byte map) whatever a peer sends. Our peers' flights are well under 1 KiB.
const MAX_AHEAD_BYTES: usize = 4096;

impl Connection {
    pub(super) fn handle_record(&mut self, now: Instant, rec: &Record<'_>) -> Result<(), Fatal> {
        if rec.version != DTLS_1_2 && !(rec.version == DTLS_1_0 && rec.epoch == 0) {
            return Ok(());
        }
        let plaintext = match rec.epoch {
            0 if rec.fragment.len() > MAX_PLAINTEXT => return Ok(()),
            0 => rec.fragment.to_vec(),
            1 => match self.open_record(rec)? {
                Some(p) => p,
                None => return Ok(()),
            },
            _ => return Ok(()),
        };
        match rec.content_type {
            CT_HANDSHAKE => self.handle_handshake(now, rec, &plaintext),
            CT_CHANGE_CIPHER_SPEC => Ok(()), // epoch switch is implied by the record epoch
            CT_ALERT => self.handle_alert(rec.epoch, &plaintext),
            CT_APPLICATION_DATA => {
                if matches!(self.state, State::Connected) && rec.epoch == 1 {
                    self.events.push_back(Event::ApplicationData(plaintext));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Authenticates and decrypts an epoch-1 record. `Ok(None)`: dropped silently (RFC 6347
    /// §4.1.2.7), unless it is the one conclusive case of a wrong password: the first epoch-1
    /// record of the datagram whose key exchange message derived our keys. That record is the
    /// peer's Finished, protected with the keys the peer derived from the message we just used
    /// (Mbed TLS clients, OpenThread joiners among them, send ClientKeyExchange, ChangeCipherSpec
    /// and Finished in one datagram); whoever sent that key exchange does not hold our password.
    /// Mbed TLS fails on any bad MAC while it waits for Finished (`ssl_get_next_record`), but a
    /// lone forged record would then end a genuine handshake, so we only note it as a hint.
    fn open_record(&mut self, rec: &Record<'_>) -> Result<Option<Vec<u8>>, Fatal> {
        let Some(cipher) = &self.read_cipher else {
            return Ok(None);
        };
        let conclusive = std::mem::take(&mut self.keys_fresh);
        if rec.fragment.len() > MAX_CIPHERTEXT || !self.replay.is_fresh(rec.seq) {
            return Ok(None);
        }
        match cipher.open(rec) {
            Some(p) if p.len() <= MAX_PLAINTEXT => {
                self.replay.mark(rec.seq);
                self.rx_authenticated = true;
                Ok(Some(p))
            }
            Some(_) => Ok(None),
            None => {
                let awaiting_finished = matches!(
                    self.state,
                    State::ServerAwaitFinished | State::ClientAwaitFinished
                );
                if awaiting_finished && conclusive {
                    return Err((Error::BadPassword, Some(alert::BAD_RECORD_MAC)));
                }
                if awaiting_finished {
                    self.suspect_password = true;
                }
                Ok(None)
            }
        }
    }

    /// An alert. Before our keys exist a plaintext alert is all a peer can send, and it ends the
    /// handshake. Once they exist, a plaintext alert is unauthenticated: it never ends the
    /// session; a fatal one makes the next retransmission timer end it (see `alert_hint`), as
    /// [`Error::PossibleBadPassword`] for bad_record_mac / decrypt_error. An authenticated alert
    /// comes from a peer holding our keys, so never means a wrong password.
    fn handle_alert(&mut self, epoch: u16, plaintext: &[u8]) -> Result<(), Fatal> {
        let connected = matches!(self.state, State::Connected);
        if plaintext.len() != 2 || (connected && epoch == 0) {
            return Ok(());
        }
        let (level, desc) = (plaintext[0], plaintext[1]);
        let password_alert = desc == alert::BAD_RECORD_MAC || desc == alert::DECRYPT_ERROR;
        if epoch == 0 && self.read_cipher.is_some() {
            if level == 2 && desc != alert::CLOSE_NOTIFY {
                tracing::debug!(role = ?self.role, desc, "unauthenticated alert after key exchange");
                self.alert_hint = true;
                self.suspect_password |= password_alert;
            }
            return Ok(());
        }
        if desc == alert::CLOSE_NOTIFY {
            self.state = State::Closed;
            self.done = true;
            self.retransmit_at = None;
            self.events.push_back(Event::Closed);
            return Ok(());
        }
        if level == 2 {
            return Err((Error::AlertReceived(desc), None));
        }
        Ok(())
    }

    pub(super) fn handle_handshake(
        &mut self,
        now: Instant,
        rec: &Record<'_>,
        data: &[u8],
    ) -> Result<(), Fatal> {
        let frags = match parse_fragments(data) {
            Ok(f) => f,
            Err(e) if rec.epoch > 0 => return Err((e.into(), Some(alert::DECODE_ERROR))),
            Err(_) => return Ok(()),
        };
        for f in frags {
            if matches!(self.state, State::ServerAwaitHello) {
                self.server_hello_stateless(now, rec, &f)?;
                continue;
            }
            // The peer picks the numbers (the server adopts the ClientHello's), so compare them as
            // serial numbers: a flight may wrap past u16::MAX.
            let ahead = f.message_seq.wrapping_sub(self.next_recv_seq);
            if ahead >= 0x8000 {
                // The peer retransmits its previous flight: ours was lost.
                if !self.retransmitted_now && !self.flight.is_empty() {
                    self.retransmitted_now = true;
                    self.transmit_flight();
                }
                continue;
            }
            if matches!(self.state, State::Connected) || ahead > MAX_PENDING_AHEAD {
                continue;
            }
            // Once our keys exist the peer's only new message is its Finished, under epoch 1: a
            // new plaintext one is unauthenticated and must not end the session.
            if rec.epoch == 0 && self.read_cipher.is_some() {
                continue;
            }
            // A message begun by unauthenticated fragments gives way to an authenticated fragment
            // that contradicts it (a forged plaintext fragment must not block the peer's Finished).
            if let Some(r) = self.pending.get_mut(&f.message_seq) {
                if r.add(&f).is_ok() || rec.epoch <= r.epoch {
                    continue;
                }
                self.pending.remove(&f.message_seq);
            }
            // Messages beyond the next one share one small budget.
            if ahead > 0 && self.pending_ahead_bytes() + f.length as usize > MAX_AHEAD_BYTES {
                continue;
            }
            if let Ok(r) = Reassembly::new(&f, rec.epoch) {
                self.pending.insert(f.message_seq, r);
            }
        }
        while let Some(r) = self.pending.get(&self.next_recv_seq) {
            let Some(body) = r.complete() else { break };
            let (msg_type, epoch, body) = (r.msg_type, r.epoch, body.to_vec());
            self.pending.remove(&self.next_recv_seq);
            let seq = self.next_recv_seq;
            self.next_recv_seq = self.next_recv_seq.wrapping_add(1);
            self.handle_message(now, msg_type, seq, epoch, &body)?;
            if self.is_finished() || matches!(self.state, State::Connected) {
                break;
            }
        }
        Ok(())
    }

    /// Bytes held for messages after the next expected one.
    fn pending_ahead_bytes(&self) -> usize {
        self.pending
            .iter()
            .filter(|(&seq, _)| seq != self.next_recv_seq)
            .map(|(_, r)| r.message_len())
            .sum()
    }

    /// One complete handshake message, in order: the state it arrives in picks the handler.
    pub(super) fn handle_message(
        &mut self,
        now: Instant,
        msg_type: u8,
        seq: u16,
        epoch: u16,
        body: &[u8],
    ) -> Result<(), Fatal> {
        let state = std::mem::replace(&mut self.state, State::Failed);
        match (state, msg_type) {
            (
                State::ClientAwaitHello {
                    hello, hvr_count, ..
                },
                HT_HELLO_VERIFY_REQUEST,
            ) => self.on_hello_verify_request(now, hello, hvr_count, body),
            (
                State::ClientAwaitHello {
                    hello, seq: ch_seq, ..
                },
                HT_SERVER_HELLO,
            ) => self.on_server_hello(hello, ch_seq, seq, body),
            (State::ClientAwaitKeyExchange, HT_SERVER_KEY_EXCHANGE) => {
                self.on_server_key_exchange(seq, body)
            }
            (State::ClientAwaitHelloDone, HT_SERVER_HELLO_DONE) => {
                self.on_server_hello_done(now, seq, body)
            }
            (State::ClientAwaitFinished, HT_FINISHED) => self.on_server_finished(seq, epoch, body),
            (State::ServerAwaitKeyExchange, HT_CLIENT_KEY_EXCHANGE) => {
                self.on_client_key_exchange(seq, body)
            }
            (State::ServerAwaitFinished, HT_FINISHED) => {
                self.on_client_finished(now, seq, epoch, body)
            }
            (_, _) => Err((
                Error::PeerMisbehaved("unexpected handshake message"),
                Some(alert::UNEXPECTED_MESSAGE),
            )),
        }
    }
}
