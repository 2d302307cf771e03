//! The server flight: the stateless HelloVerifyRequest cookie exchange, ClientHello checks, our
//! ServerHello / ServerKeyExchange / ServerHelloDone, then ClientKeyExchange and the client's Finished.

use std::time::Instant;

use hmac::{KeyInit, Mac};

use super::handshake::*;
use super::record::*;
use super::{alert, constant_time_eq, Connection, Error, Fatal, FlightItem, HmacSha256, State};

impl Connection {
    pub(super) fn cookie(&self, ch: &ClientHello) -> [u8; 32] {
        let mut m = match HmacSha256::new_from_slice(&self.cookie_key) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC accepts any key length"),
        };
        m.update(&(self.peer_addr.len() as u32).to_be_bytes());
        m.update(&self.peer_addr);
        m.update(&ch.random);
        m.update(&[ch.session_id.len() as u8]);
        m.update(&ch.session_id);
        for s in &ch.cipher_suites {
            m.update(&s.to_be_bytes());
        }
        m.update(&ch.compression);
        m.finalize().into_bytes().into()
    }

    /// Server before a valid cookie: answers HelloVerifyRequest without keeping state.
    pub(super) fn server_hello_stateless(
        &mut self,
        now: Instant,
        rec: &Record<'_>,
        f: &Fragment<'_>,
    ) -> Result<(), Fatal> {
        if f.msg_type != HT_CLIENT_HELLO
            || f.offset != 0
            || f.body.len() != f.length as usize
            || rec.epoch != 0
        {
            return Ok(()); // we do not reassemble a ClientHello before its cookie
        }
        let Ok(ch) = ClientHello::parse(f.body) else {
            return Ok(());
        };
        let expected = self.cookie(&ch);
        if ch.cookie.len() != expected.len() || !constant_time_eq(&ch.cookie, &expected) {
            let hvr = HelloVerifyRequest {
                version: DTLS_1_0,
                cookie: expected.to_vec(),
            }
            .encode();
            let payload = encode_message(HT_HELLO_VERIFY_REQUEST, f.message_seq, &hvr);
            let mut dgram = Vec::new();
            Record::encode(CT_HANDSHAKE, 0, rec.seq, &payload, &mut dgram);
            self.out.push_back(dgram);
            return Ok(());
        }
        // Cookie valid: from here on we keep state. Mirror the client's record sequence (Mbed TLS
        // does; its epoch-0 replay window would otherwise drop our flight).
        self.write_seq[0] = rec.seq;
        self.process_client_hello(now, ch, f.message_seq, f.body)
    }

    pub(super) fn process_client_hello(
        &mut self,
        now: Instant,
        ch: ClientHello,
        seq: u16,
        body: &[u8],
    ) -> Result<(), Fatal> {
        let incompatible = |m| (Error::PeerIncompatible(m), Some(alert::HANDSHAKE_FAILURE));
        if !ch.cipher_suites.contains(&TLS_ECJPAKE_WITH_AES_128_CCM_8) {
            return Err(incompatible(
                "client does not offer TLS_ECJPAKE_WITH_AES_128_CCM_8",
            ));
        }
        if !ch.compression.contains(&0) {
            return Err(incompatible("client does not offer null compression"));
        }
        if let Some(groups) = find_ext(&ch.extensions, EXT_SUPPORTED_GROUPS) {
            let ok = groups.len() >= 2 && groups[2..].chunks(2).any(|g| g == [0x00, 0x17]);
            if !ok {
                return Err(incompatible("client does not offer secp256r1"));
            }
        }
        let Some(kkpp) = find_ext(&ch.extensions, EXT_ECJPAKE_KKPP) else {
            return Err(incompatible("ClientHello without ecjpake_kkpp"));
        };
        self.jpake
            .read_round_one(kkpp)
            .map_err(|e| (e.into(), Some(alert::ILLEGAL_PARAMETER)))?;
        self.client_random = ch.random;
        self.rng.fill_bytes(&mut self.server_random);
        self.next_send_seq = seq;
        self.next_recv_seq = seq.wrapping_add(1);
        self.pending.clear();
        self.transcript.clear();
        self.push_transcript(HT_CLIENT_HELLO, seq, body);

        let mut extensions = Vec::new();
        if find_ext(&ch.extensions, EXT_RENEGOTIATION_INFO).is_some()
            || ch.cipher_suites.contains(&EMPTY_RENEGOTIATION_INFO_SCSV)
        {
            extensions.push((EXT_RENEGOTIATION_INFO, vec![0]));
        }
        if find_ext(&ch.extensions, EXT_EC_POINT_FORMATS).is_some() {
            extensions.push((EXT_EC_POINT_FORMATS, vec![0x01, 0x00]));
        }
        let our_kkpp = self.jpake.write_round_one(&mut *self.rng);
        extensions.push((EXT_ECJPAKE_KKPP, our_kkpp));
        let sh = ServerHello {
            version: DTLS_1_2,
            random: self.server_random,
            session_id: Vec::new(),
            cipher_suite: TLS_ECJPAKE_WITH_AES_128_CCM_8,
            compression: 0,
            extensions,
        }
        .encode();
        let ske = self
            .jpake
            .write_round_two(&mut *self.rng)
            .map_err(|e| (e.into(), Some(alert::INTERNAL_ERROR)))?;
        let items = vec![
            self.handshake_item(HT_SERVER_HELLO, sh, 0),
            self.handshake_item(HT_SERVER_KEY_EXCHANGE, ske, 0),
            self.handshake_item(HT_SERVER_HELLO_DONE, Vec::new(), 0),
        ];
        self.state = State::ServerAwaitKeyExchange;
        self.send_flight(now, items, true);
        Ok(())
    }

    pub(super) fn on_client_key_exchange(&mut self, seq: u16, body: &[u8]) -> Result<(), Fatal> {
        self.jpake
            .read_round_two(body)
            .map_err(|e| (e.into(), Some(alert::ILLEGAL_PARAMETER)))?;
        self.push_transcript(HT_CLIENT_KEY_EXCHANGE, seq, body);
        self.derive_keys()?;
        self.state = State::ServerAwaitFinished;
        Ok(())
    }

    pub(super) fn on_client_finished(
        &mut self,
        now: Instant,
        seq: u16,
        epoch: u16,
        body: &[u8],
    ) -> Result<(), Fatal> {
        self.check_peer_finished(b"client finished", seq, epoch, body)?;
        let items = vec![
            FlightItem::ChangeCipherSpec,
            self.our_finished(b"server finished"),
        ];
        // Kept for retransmission when the client repeats its flight; no timer.
        self.send_flight(now, items, false);
        self.connected();
        Ok(())
    }
}
