//! The server flight: the stateless HelloVerifyRequest cookie exchange, ClientHello checks, our
//! ServerHello / ServerKeyExchange / ServerHelloDone, then ClientKeyExchange and the client's Finished.

use std::time::Instant;

use hmac::{KeyInit, Mac};

use super::handshake::*;
use super::record::*;
use super::{alert, constant_time_eq, Connection, Error, Fatal, FlightItem, HmacSha256, State};

/// The HelloVerifyRequest cookie: HMAC-SHA256 keyed by `key` over the peer address and the
/// ClientHello parameters (RFC 6347 §4.2.1). Whoever rotates `key` bounds a cookie's life: the
/// commissioner uses a fresh key per window and accepts the current and the previous one (as
/// Mbed TLS `ssl_cookie.c` bounds it with a 60 s timestamp).
fn cookie(key: &[u8], peer_addr: &[u8], ch: &ClientHello) -> [u8; 32] {
    let mut m = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts any key length"),
    };
    m.update(&(peer_addr.len() as u32).to_be_bytes());
    m.update(peer_addr);
    m.update(&ch.random);
    m.update(&[ch.session_id.len() as u8]);
    m.update(&ch.session_id);
    for s in &ch.cipher_suites {
        m.update(&s.to_be_bytes());
    }
    m.update(&ch.compression);
    m.finalize().into_bytes().into()
}

/// What the stateless server does with one handshake fragment.
enum Stateless {
    /// Not a whole epoch-0 ClientHello: ignored (no reassembly before the cookie).
    Ignore,
    /// No or a wrong cookie: this HelloVerifyRequest datagram answers it.
    Verify(Vec<u8>),
    /// The cookie is right.
    Valid(ClientHello),
}

fn stateless(key: &[u8], peer_addr: &[u8], rec: &Record<'_>, f: &Fragment<'_>) -> Stateless {
    if f.msg_type != HT_CLIENT_HELLO
        || f.offset != 0
        || f.body.len() != f.length as usize
        || rec.epoch != 0
    {
        return Stateless::Ignore;
    }
    let Ok(ch) = ClientHello::parse(f.body) else {
        return Stateless::Ignore;
    };
    let expected = cookie(key, peer_addr, &ch);
    if ch.cookie.len() == expected.len() && constant_time_eq(&ch.cookie, &expected) {
        return Stateless::Valid(ch);
    }
    let hvr = HelloVerifyRequest {
        version: DTLS_1_0,
        cookie: expected.to_vec(),
    }
    .encode();
    let payload = encode_message(HT_HELLO_VERIFY_REQUEST, f.message_seq, &hvr);
    let mut dgram = Vec::new();
    Record::encode(CT_HANDSHAKE, 0, rec.seq, &payload, &mut dgram);
    Stateless::Verify(dgram)
}

/// What [`check_cookie`] found in a datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CookieCheck {
    /// Its first record is not a whole epoch-0 ClientHello (a server without state ignores it).
    NotClientHello,
    /// A ClientHello without the cookie `cookie_key` makes: the HelloVerifyRequest datagram a
    /// server answers it with (what [`Connection::server`] with the same key and peer sends).
    Invalid { hello_verify_request: Vec<u8> },
    /// A ClientHello with the right cookie: a [`Connection::server`] with this key and peer
    /// would start its handshake (and its EC-JPAKE work) on it.
    Valid,
}

/// Checks the cookie of the ClientHello that starts `datagram` without a connection and without
/// any elliptic-curve work (one HMAC-SHA256), so that a server can apply its limits before it
/// spends any. Looks at the first handshake fragment of the first record only. No panic on any
/// input.
pub fn check_cookie(datagram: &[u8], cookie_key: &[u8], peer_addr: &[u8]) -> CookieCheck {
    let records = parse_records(datagram);
    let Some(rec) = records.first() else {
        return CookieCheck::NotClientHello;
    };
    if rec.content_type != CT_HANDSHAKE || !(rec.version == DTLS_1_2 || rec.version == DTLS_1_0) {
        return CookieCheck::NotClientHello;
    }
    let Some(f) = parse_fragments(rec.fragment)
        .ok()
        .and_then(|f| f.into_iter().next())
    else {
        return CookieCheck::NotClientHello;
    };
    match stateless(cookie_key, peer_addr, rec, &f) {
        Stateless::Ignore => CookieCheck::NotClientHello,
        Stateless::Verify(hello_verify_request) => CookieCheck::Invalid {
            hello_verify_request,
        },
        Stateless::Valid(_) => CookieCheck::Valid,
    }
}

impl Connection {
    /// Server before a valid cookie: answers HelloVerifyRequest without keeping state.
    pub(super) fn server_hello_stateless(
        &mut self,
        now: Instant,
        rec: &Record<'_>,
        f: &Fragment<'_>,
    ) -> Result<(), Fatal> {
        let ch = match stateless(&self.cookie_key, &self.peer_addr, rec, f) {
            Stateless::Ignore => return Ok(()),
            Stateless::Verify(dgram) => {
                self.out.push_back(dgram);
                return Ok(());
            }
            Stateless::Valid(ch) => ch,
        };
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
