//! The client flight: ClientHello (again with the server's cookie), then ServerHello,
//! ServerKeyExchange, ServerHelloDone, our ClientKeyExchange / ChangeCipherSpec / Finished, and the
//! server's Finished.

use std::time::Instant;

use super::handshake::*;
use super::record::*;
use super::{alert, Connection, Error, Fatal, FlightItem, State, MAX_HELLO_VERIFY};
use crate::ecjpake::EcJpakeError;

fn jpake_err(e: EcJpakeError) -> Fatal {
    (Error::from(e), Some(alert::ILLEGAL_PARAMETER))
}

fn decode(e: DecodeError) -> Fatal {
    (Error::from(e), Some(alert::DECODE_ERROR))
}

impl Connection {
    pub(super) fn send_client_hello(&mut self, now: Instant, hello: ClientHello, hvr_count: u8) {
        let seq = self.next_send_seq;
        self.next_send_seq = seq.wrapping_add(1);
        self.next_recv_seq = seq;
        let body = hello.encode();
        self.state = State::ClientAwaitHello {
            hello,
            seq,
            hvr_count,
        };
        self.send_flight(
            now,
            vec![FlightItem::Handshake {
                msg_type: HT_CLIENT_HELLO,
                seq,
                body,
                epoch: 0,
            }],
            true,
        );
    }

    pub(super) fn on_hello_verify_request(
        &mut self,
        now: Instant,
        hello: ClientHello,
        hvr_count: u8,
        body: &[u8],
    ) -> Result<(), Fatal> {
        let hvr = HelloVerifyRequest::parse(body).map_err(decode)?;
        if hvr.cookie.is_empty() || hvr_count >= MAX_HELLO_VERIFY {
            return Err((
                Error::PeerMisbehaved("repeated or empty HelloVerifyRequest"),
                Some(alert::UNEXPECTED_MESSAGE),
            ));
        }
        let hello = ClientHello {
            cookie: hvr.cookie,
            ..hello
        };
        self.send_client_hello(now, hello, hvr_count.saturating_add(1));
        Ok(())
    }

    pub(super) fn on_server_hello(
        &mut self,
        hello: ClientHello,
        ch_seq: u16,
        seq: u16,
        body: &[u8],
    ) -> Result<(), Fatal> {
        let sh = ServerHello::parse(body).map_err(decode)?;
        if sh.cipher_suite != TLS_ECJPAKE_WITH_AES_128_CCM_8 || sh.compression != 0 {
            return Err((
                Error::PeerIncompatible("server chose another cipher suite"),
                Some(alert::ILLEGAL_PARAMETER),
            ));
        }
        if sh.version != DTLS_1_2 {
            return Err((
                Error::PeerIncompatible("server is not DTLS 1.2"),
                Some(alert::HANDSHAKE_FAILURE),
            ));
        }
        let Some(kkpp) = find_ext(&sh.extensions, EXT_ECJPAKE_KKPP) else {
            return Err((
                Error::PeerIncompatible("ServerHello without ecjpake_kkpp"),
                Some(alert::HANDSHAKE_FAILURE),
            ));
        };
        self.jpake.read_round_one(kkpp).map_err(jpake_err)?;
        self.server_random = sh.random;
        self.transcript.clear();
        self.push_transcript(HT_CLIENT_HELLO, ch_seq, &hello.encode());
        self.push_transcript(HT_SERVER_HELLO, seq, body);
        self.state = State::ClientAwaitKeyExchange;
        Ok(())
    }

    pub(super) fn on_server_key_exchange(&mut self, seq: u16, body: &[u8]) -> Result<(), Fatal> {
        self.jpake.read_round_two(body).map_err(jpake_err)?;
        self.push_transcript(HT_SERVER_KEY_EXCHANGE, seq, body);
        self.state = State::ClientAwaitHelloDone;
        Ok(())
    }

    pub(super) fn on_server_hello_done(
        &mut self,
        now: Instant,
        seq: u16,
        body: &[u8],
    ) -> Result<(), Fatal> {
        if !body.is_empty() {
            return Err(decode(DecodeError("ServerHelloDone not empty")));
        }
        self.push_transcript(HT_SERVER_HELLO_DONE, seq, body);
        let cke = self
            .jpake
            .write_round_two(&mut *self.rng)
            .map_err(jpake_err)?;
        self.derive_keys()?;
        let cke = self.handshake_item(HT_CLIENT_KEY_EXCHANGE, cke, 0);
        let items = vec![
            cke,
            FlightItem::ChangeCipherSpec,
            self.our_finished(b"client finished"),
        ];
        self.state = State::ClientAwaitFinished;
        self.send_flight(now, items, true);
        Ok(())
    }

    pub(super) fn on_server_finished(
        &mut self,
        seq: u16,
        epoch: u16,
        body: &[u8],
    ) -> Result<(), Fatal> {
        self.check_peer_finished(b"server finished", seq, epoch, body)?;
        self.flight.clear();
        self.retransmit_at = None;
        self.connected();
        Ok(())
    }
}
