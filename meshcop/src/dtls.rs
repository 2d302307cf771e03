//! DTLS 1.2 (RFC 6347) with the single cipher suite `TLS_ECJPAKE_WITH_AES_128_CCM_8` (0xC0FF), client
//! and server, as sans-I/O state machines (`thread-facts.md` §3; Mbed TLS `ssl_tls12_client.c`,
//! `ssl_tls12_server.c`, `ssl_msg.c` were read for the details).
//!
//! The caller feeds datagrams ([`Connection::handle_datagram`]) and the clock
//! ([`Connection::handle_timeout`] at [`Connection::poll_timeout`]) and drains
//! [`Connection::poll_transmit`] and [`Connection::poll_event`] after every call. Nothing here does
//! I/O or reads a clock.
//!
//! Covered: HelloVerifyRequest cookies (the server keys an HMAC-SHA256 with a caller secret over the
//! opaque peer address and the ClientHello parameters, and keeps no state before a valid cookie),
//! the `ecjpake_kkpp` extension (256) in both hellos, supported_groups / ec_point_formats /
//! renegotiation_info (unknown extensions ignored), ServerKeyExchange (`03 00 17` + round two),
//! ClientKeyExchange, master secret and key block (exposed for the Thread KEK), Finished, AES-128-CCM-8
//! records, flight retransmission with exponential backoff (initial and maximum timeout configurable;
//! the handshake fails after the retransmission at the maximum, as Mbed TLS does), retransmission of
//! our last flight when the peer retransmits, reassembly of fragmented handshake messages and
//! fragmentation of ours to the MTU and to a maximum record plaintext (OpenThread peers accept at
//! most 768), the 64-record anti-replay window, fatal alerts on failure and close_notify.
//!
//! A wrong password ends the handshake with [`Error::BadPassword`] on both sides: the server cannot
//! authenticate the client's Finished (it answers with a bad_record_mac alert, as OpenThread's
//! SecureTransport does), the client fails on the server's Finished or on a bad_record_mac /
//! decrypt_error alert. A peer that fails silently leaves us with [`Error::Timeout`].
//!
//! Guarantees: no panic on any datagram; malformed or unauthentic records are dropped silently
//! except where they can only mean a wrong password (see above); secrets redact in `Debug`.
//! Validated: in-memory client/server handshakes with loss, reordering, duplication, wrong password,
//! replay and tampering, and random datagrams (proptest, cargo-fuzz) — tests in `dtls/tests.rs`.
//! Live, both roles, against Mbed TLS 3.6.0 (the copy inside OpenThread) built with OpenThread's own
//! Mbed TLS configuration and with the library defaults (EMS, session tickets offered): handshake,
//! identical key block, application data both ways, close_notify, wrong password -> `BadPassword`
//! (`src/dtls/interop/`, test module `mbedtls_interop`, needs `MBEDTLS_PEER`). Live as commissioner
//! against the OpenThread simulation NCP's Border Agent through the Spinel UDP forward stream: wrong
//! PSKc -> `BadPassword`, right PSKc -> connected and COMM_PET answered 2.04 State=accept (test
//! module `ot_border_agent_interop`, needs `OT_NCP_FTD`). Not yet run against a real OpenThread
//! joiner (the server role was checked with an Mbed TLS client in OpenThread's configuration).
//! Limitation: a ClientHello fragmented before its cookie is not reassembled (nor by Mbed TLS).

#[doc(hidden)]
pub mod fuzzing;
pub mod handshake;
mod peek;
pub mod record;

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub use crate::ecjpake::Role;
use crate::ecjpake::{EcJpake, EcJpakeError};
use crate::prf::prf;
use handshake::*;
pub use peek::{peek_client_hello, starts_with_server_hello, ClientHelloPeek};
use record::*;

/// Alert descriptions we send or interpret.
pub mod alert {
    /// close_notify.
    pub const CLOSE_NOTIFY: u8 = 0;
    /// unexpected_message.
    pub const UNEXPECTED_MESSAGE: u8 = 10;
    /// bad_record_mac.
    pub const BAD_RECORD_MAC: u8 = 20;
    /// handshake_failure.
    pub const HANDSHAKE_FAILURE: u8 = 40;
    /// illegal_parameter.
    pub const ILLEGAL_PARAMETER: u8 = 47;
    /// decode_error.
    pub const DECODE_ERROR: u8 = 50;
    /// decrypt_error.
    pub const DECRYPT_ERROR: u8 = 51;
    /// internal_error.
    pub const INTERNAL_ERROR: u8 = 80;
}

/// Why a connection failed. Grouped by cause: credentials, peer behaviour, compatibility, local use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The EC-JPAKE passwords differ (Finished did not verify, or the peer said so by alert).
    #[error("DTLS handshake failed: wrong password (PSKc / PSKd mismatch)")]
    BadPassword,
    /// No answer after the last retransmission.
    #[error("DTLS handshake timed out: the peer did not answer")]
    Timeout,
    /// The peer sent a fatal alert.
    #[error("peer sent fatal DTLS alert {0}")]
    AlertReceived(u8),
    /// A handshake message that does not parse.
    #[error("malformed DTLS handshake message: {0}")]
    Decode(&'static str),
    /// A message out of order or a value the protocol forbids.
    #[error("DTLS peer misbehaved: {0}")]
    PeerMisbehaved(&'static str),
    /// The peer does not speak TLS_ECJPAKE_WITH_AES_128_CCM_8 as we do.
    #[error("DTLS peer incompatible: {0}")]
    PeerIncompatible(&'static str),
    /// An EC-JPAKE message was refused.
    #[error("EC-JPAKE: {0}")]
    EcJpake(#[from] EcJpakeError),
    /// `send` before the handshake finished.
    #[error("DTLS connection not established")]
    NotConnected,
    /// `send` after close or failure.
    #[error("DTLS connection closed")]
    Closed,
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Error::Decode(e.0)
    }
}

/// What the caller learns from [`Connection::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The handshake finished; [`Connection::key_block`] is available.
    Connected,
    /// Decrypted application data.
    ApplicationData(Vec<u8>),
    /// The peer sent close_notify, or we closed.
    Closed,
    /// The connection failed; nothing more will happen.
    Failed(Error),
}

/// Connection parameters.
#[derive(Clone)]
pub struct Config {
    /// EC-JPAKE password: PSKc bytes (commissioner to border agent) or PSKd ASCII (joiner).
    pub password: Zeroizing<Vec<u8>>,
    /// First retransmission timeout (OpenThread: 8 s).
    pub initial_retransmit_timeout: Duration,
    /// Largest retransmission timeout; the handshake fails after the retransmission at this value.
    pub max_retransmit_timeout: Duration,
    /// Largest datagram we send.
    pub mtu: usize,
    /// Largest record plaintext we send (OpenThread's Mbed TLS accepts at most 768).
    pub max_record_plaintext: usize,
}

impl core::fmt::Debug for Config {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Config")
            .field("password", &"<redacted>")
            .field(
                "initial_retransmit_timeout",
                &self.initial_retransmit_timeout,
            )
            .field("max_retransmit_timeout", &self.max_retransmit_timeout)
            .field("mtu", &self.mtu)
            .field("max_record_plaintext", &self.max_record_plaintext)
            .finish()
    }
}

impl Config {
    /// Client defaults (toward a border agent on the host's link): 1 s .. 60 s, MTU 1232, records ≤ 768.
    pub fn client(password: &[u8]) -> Self {
        Config {
            password: Zeroizing::new(password.to_vec()),
            initial_retransmit_timeout: Duration::from_secs(1),
            max_retransmit_timeout: Duration::from_secs(60),
            mtu: 1232,
            max_record_plaintext: 768,
        }
    }

    /// Server defaults (toward OpenThread joiners over a joiner router): 8 s .. 60 s as OpenThread.
    pub fn server(password: &[u8]) -> Self {
        Config {
            initial_retransmit_timeout: Duration::from_secs(8),
            ..Config::client(password)
        }
    }
}

/// An object of our current flight, kept for retransmission.
#[derive(Debug, Clone)]
enum FlightItem {
    Handshake {
        msg_type: u8,
        seq: u16,
        body: Vec<u8>,
        epoch: u16,
    },
    ChangeCipherSpec,
}

/// Handshake progress; one state per expected message.
#[derive(Debug)]
enum State {
    /// Client: sent a ClientHello, expects HelloVerifyRequest or ServerHello.
    ClientAwaitHello {
        hello: ClientHello,
        seq: u16,
        hvr_count: u8,
    },
    /// Client: expects ServerKeyExchange.
    ClientAwaitKeyExchange,
    /// Client: expects ServerHelloDone.
    ClientAwaitHelloDone,
    /// Client: sent our Finished, expects the server's.
    ClientAwaitFinished,
    /// Server: stateless until a ClientHello with a valid cookie.
    ServerAwaitHello,
    /// Server: expects ClientKeyExchange.
    ServerAwaitKeyExchange,
    /// Server: expects the client's Finished.
    ServerAwaitFinished,
    Connected,
    Closed,
    Failed,
}

/// A DTLS connection with one peer (the caller demultiplexes peers).
pub struct Connection {
    role: Role,
    config: Config,
    rng: Box<dyn CryptoRng + Send>,
    state: State,
    jpake: EcJpake,
    cookie_key: Zeroizing<Vec<u8>>,
    peer_addr: Vec<u8>,
    client_random: [u8; 32],
    server_random: [u8; 32],
    transcript: Vec<u8>,
    next_send_seq: u16,
    next_recv_seq: u16,
    pending: BTreeMap<u16, Reassembly>,
    master: Option<Zeroizing<[u8; 48]>>,
    key_block: Option<Zeroizing<[u8; 40]>>,
    read_cipher: Option<CipherState>,
    write_cipher: Option<CipherState>,
    write_epoch: u16,
    write_seq: [u64; 2],
    replay: ReplayWindow,
    flight: Vec<FlightItem>,
    retransmit_at: Option<Instant>,
    timeout: Duration,
    out: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    retransmitted_now: bool,
    done: bool,
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

type HmacSha256 = Hmac<Sha256>;

const MAX_PENDING_AHEAD: u16 = 8;
/// TLS record plaintext limit (2^14).
const MAX_PLAINTEXT: usize = 16384;
const MAX_HELLO_VERIFY: u8 = 4;

impl Connection {
    fn new(role: Role, config: Config, rng: Box<dyn CryptoRng + Send>) -> Result<Self, Error> {
        let jpake = EcJpake::new(role, &config.password)?;
        let timeout = config.initial_retransmit_timeout;
        Ok(Connection {
            role,
            config,
            rng,
            state: State::ServerAwaitHello,
            jpake,
            cookie_key: Zeroizing::new(Vec::new()),
            peer_addr: Vec::new(),
            client_random: [0; 32],
            server_random: [0; 32],
            transcript: Vec::new(),
            next_send_seq: 0,
            next_recv_seq: 0,
            pending: BTreeMap::new(),
            master: None,
            key_block: None,
            read_cipher: None,
            write_cipher: None,
            write_epoch: 0,
            write_seq: [0; 2],
            replay: ReplayWindow::default(),
            flight: Vec::new(),
            retransmit_at: None,
            timeout,
            out: VecDeque::new(),
            events: VecDeque::new(),
            retransmitted_now: false,
            done: false,
        })
    }

    /// A client; its first ClientHello is ready in [`poll_transmit`](Self::poll_transmit).
    /// Fails only for an empty password.
    pub fn client(
        config: Config,
        rng: Box<dyn CryptoRng + Send>,
        now: Instant,
    ) -> Result<Self, Error> {
        let mut c = Connection::new(Role::Client, config, rng)?;
        c.rng.fill_bytes(&mut c.client_random);
        let kkpp = c.jpake.write_round_one(&mut *c.rng);
        let hello = ClientHello {
            version: DTLS_1_2,
            random: c.client_random,
            session_id: Vec::new(),
            cookie: Vec::new(),
            cipher_suites: vec![TLS_ECJPAKE_WITH_AES_128_CCM_8],
            compression: vec![0],
            extensions: vec![
                (EXT_SUPPORTED_GROUPS, vec![0x00, 0x02, 0x00, 0x17]),
                (EXT_EC_POINT_FORMATS, vec![0x01, 0x00]),
                (EXT_ECJPAKE_KKPP, kkpp),
            ],
        };
        c.send_client_hello(now, hello, 0);
        Ok(c)
    }

    /// A server for one peer. `cookie_key` keys the HelloVerifyRequest cookie (keep it for the life
    /// of the listener); `peer_addr` is the peer's address in any stable byte form.
    pub fn server(
        config: Config,
        cookie_key: &[u8],
        peer_addr: &[u8],
        rng: Box<dyn CryptoRng + Send>,
    ) -> Result<Self, Error> {
        let mut c = Connection::new(Role::Server, config, rng)?;
        c.cookie_key = Zeroizing::new(cookie_key.to_vec());
        c.peer_addr = peer_addr.to_vec();
        Ok(c)
    }

    /// Our role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether the handshake has completed and the connection is open.
    pub fn is_connected(&self) -> bool {
        matches!(self.state, State::Connected)
    }

    /// Whether the connection has closed or failed.
    pub fn is_finished(&self) -> bool {
        self.done
    }

    /// The 40-byte key block (client key, server key, client IV, server IV) once connected; the
    /// Thread KEK is the first 16 bytes of its SHA-256.
    pub fn key_block(&self) -> Option<[u8; 40]> {
        if matches!(self.state, State::Connected | State::Closed) {
            self.key_block.as_ref().map(|k| **k)
        } else {
            None
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.retransmit_at
    }

    /// The next datagram to send to the peer.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Encrypts application data into one or more records.
    pub fn send(&mut self, data: &[u8]) -> Result<(), Error> {
        match self.state {
            State::Connected => {}
            State::Closed | State::Failed => return Err(Error::Closed),
            _ => return Err(Error::NotConnected),
        }
        let max = self
            .config
            .max_record_plaintext
            .min(MAX_PLAINTEXT)
            .min(self.config.mtu.saturating_sub(HEADER_LEN + AEAD_OVERHEAD))
            .max(1);
        for chunk in data.chunks(max) {
            let mut dgram = Vec::with_capacity(chunk.len() + HEADER_LEN + AEAD_OVERHEAD);
            self.write_record(CT_APPLICATION_DATA, 1, chunk, &mut dgram);
            self.out.push_back(dgram);
        }
        Ok(())
    }

    /// Sends close_notify (when connected) and closes; emits [`Event::Closed`].
    pub fn close(&mut self) {
        if self.is_finished() {
            return;
        }
        if matches!(self.state, State::Connected) {
            let mut dgram = Vec::new();
            self.write_record(CT_ALERT, 1, &[1, alert::CLOSE_NOTIFY], &mut dgram);
            self.out.push_back(dgram);
        }
        self.state = State::Closed;
        self.done = true;
        self.retransmit_at = None;
        self.events.push_back(Event::Closed);
    }

    /// Retransmits the current flight if its timer expired; fails after the last retransmission.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(at) = self.retransmit_at else { return };
        if now < at || self.is_finished() {
            return;
        }
        if self.timeout >= self.config.max_retransmit_timeout {
            self.fail(Error::Timeout, None);
            return;
        }
        self.timeout = (self.timeout * 2).min(self.config.max_retransmit_timeout);
        tracing::debug!(role = ?self.role, timeout_ms = self.timeout.as_millis() as u64, "dtls retransmit");
        self.transmit_flight();
        self.retransmit_at = Some(now + self.timeout);
    }

    /// Processes one datagram from the peer.
    pub fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) {
        if self.is_finished() {
            return;
        }
        self.retransmitted_now = false;
        for rec in parse_records(datagram) {
            if let Err((e, alert)) = self.handle_record(now, &rec) {
                self.fail(e, alert);
                return;
            }
            if self.is_finished() {
                return;
            }
        }
    }

    // ----- internals -----

    fn fail(&mut self, e: Error, alert: Option<u8>) {
        if self.is_finished() {
            return;
        }
        if let Some(desc) = alert {
            let mut dgram = Vec::new();
            let epoch = self.write_epoch;
            self.write_record(CT_ALERT, epoch, &[2, desc], &mut dgram);
            self.out.push_back(dgram);
        }
        tracing::debug!(role = ?self.role, error = %e, "dtls failed");
        self.state = State::Failed;
        self.done = true;
        self.retransmit_at = None;
        self.flight.clear();
        self.events.push_back(Event::Failed(e));
    }

    fn write_record(&mut self, content_type: u8, epoch: u16, payload: &[u8], out: &mut Vec<u8>) {
        let idx = usize::from(epoch.min(1));
        let seq = self.write_seq[idx];
        self.write_seq[idx] = seq.saturating_add(1).min(MAX_SEQ);
        match (epoch, &self.write_cipher) {
            (0, _) => Record::encode(content_type, 0, seq, payload, out),
            (_, Some(c)) => c.seal(content_type, epoch, seq, payload, out),
            (_, None) => Record::encode(content_type, 0, seq, payload, out),
        }
    }

    fn transmit_flight(&mut self) {
        let mtu = self.config.mtu.max(HEADER_LEN * 4 + AEAD_OVERHEAD + 16);
        let flight = self.flight.clone();
        let mut dgram: Vec<u8> = Vec::new();
        for item in &flight {
            let mut records: Vec<Vec<u8>> = Vec::new();
            match item {
                FlightItem::ChangeCipherSpec => {
                    let mut r = Vec::new();
                    self.write_record(CT_CHANGE_CIPHER_SPEC, 0, &[1], &mut r);
                    records.push(r);
                }
                FlightItem::Handshake {
                    msg_type,
                    seq,
                    body,
                    epoch,
                } => {
                    let overhead = HEADER_LEN + if *epoch > 0 { AEAD_OVERHEAD } else { 0 };
                    let max_frag = self
                        .config
                        .max_record_plaintext
                        .min(MAX_PLAINTEXT)
                        .min(mtu - overhead)
                        .saturating_sub(HS_HEADER_LEN)
                        .max(16);
                    let mut off = 0;
                    loop {
                        let len = max_frag.min(body.len() - off);
                        let mut payload = Vec::with_capacity(HS_HEADER_LEN + len);
                        encode_fragment(*msg_type, *seq, body, off, len, &mut payload);
                        let mut r = Vec::new();
                        self.write_record(CT_HANDSHAKE, *epoch, &payload, &mut r);
                        records.push(r);
                        off += len;
                        if off >= body.len() {
                            break;
                        }
                    }
                }
            }
            for r in records {
                if !dgram.is_empty() && dgram.len() + r.len() > mtu {
                    self.out.push_back(std::mem::take(&mut dgram));
                }
                dgram.extend_from_slice(&r);
            }
        }
        if !dgram.is_empty() {
            self.out.push_back(dgram);
        }
    }

    fn send_flight(&mut self, now: Instant, items: Vec<FlightItem>, expect_answer: bool) {
        self.flight = items;
        self.timeout = self.config.initial_retransmit_timeout;
        self.transmit_flight();
        self.retransmit_at = expect_answer.then(|| now + self.timeout);
    }

    fn push_transcript(&mut self, msg_type: u8, seq: u16, body: &[u8]) {
        self.transcript
            .extend_from_slice(&encode_message(msg_type, seq, body));
    }

    fn transcript_hash(&self) -> [u8; 32] {
        Sha256::digest(&self.transcript).into()
    }

    fn handle_record(&mut self, now: Instant, rec: &Record<'_>) -> Result<(), (Error, Option<u8>)> {
        if rec.version != DTLS_1_2 && !(rec.version == DTLS_1_0 && rec.epoch == 0) {
            return Ok(());
        }
        let plaintext = match rec.epoch {
            0 => rec.fragment.to_vec(),
            1 => {
                let Some(cipher) = &self.read_cipher else {
                    return Ok(());
                };
                if !self.replay.is_fresh(rec.seq) {
                    return Ok(());
                }
                match cipher.open(rec) {
                    Some(p) => {
                        self.replay.mark(rec.seq);
                        p
                    }
                    None => {
                        // While waiting for the peer's Finished a record we cannot authenticate
                        // means the peer derived other keys: a different password (as Mbed TLS).
                        if matches!(
                            self.state,
                            State::ServerAwaitFinished | State::ClientAwaitFinished
                        ) {
                            return Err((Error::BadPassword, Some(alert::BAD_RECORD_MAC)));
                        }
                        return Ok(());
                    }
                }
            }
            _ => return Ok(()),
        };
        let connected = matches!(self.state, State::Connected);
        match rec.content_type {
            CT_HANDSHAKE => self.handle_handshake(now, rec, &plaintext),
            CT_CHANGE_CIPHER_SPEC => Ok(()), // epoch switch is implied by the record epoch
            CT_ALERT => {
                if plaintext.len() != 2 || (connected && rec.epoch == 0) {
                    return Ok(());
                }
                let (level, desc) = (plaintext[0], plaintext[1]);
                if desc == alert::CLOSE_NOTIFY {
                    self.state = State::Closed;
                    self.done = true;
                    self.retransmit_at = None;
                    self.events.push_back(Event::Closed);
                    return Ok(());
                }
                if level == 2 {
                    if !connected && (desc == alert::BAD_RECORD_MAC || desc == alert::DECRYPT_ERROR)
                    {
                        return Err((Error::BadPassword, None));
                    }
                    return Err((Error::AlertReceived(desc), None));
                }
                Ok(())
            }
            CT_APPLICATION_DATA => {
                if connected && rec.epoch == 1 {
                    self.events.push_back(Event::ApplicationData(plaintext));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn handle_handshake(
        &mut self,
        now: Instant,
        rec: &Record<'_>,
        data: &[u8],
    ) -> Result<(), (Error, Option<u8>)> {
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
            if f.message_seq < self.next_recv_seq {
                // The peer retransmits its previous flight: ours was lost.
                if !self.retransmitted_now && !self.flight.is_empty() {
                    self.retransmitted_now = true;
                    self.transmit_flight();
                }
                continue;
            }
            if matches!(self.state, State::Connected)
                || f.message_seq > self.next_recv_seq + MAX_PENDING_AHEAD
            {
                continue;
            }
            match self.pending.get_mut(&f.message_seq) {
                Some(r) => {
                    let _ = r.add(&f);
                }
                None => {
                    if let Ok(r) = Reassembly::new(&f, rec.epoch) {
                        self.pending.insert(f.message_seq, r);
                    }
                }
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

    fn cookie(&self, ch: &ClientHello) -> [u8; 32] {
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
    fn server_hello_stateless(
        &mut self,
        now: Instant,
        rec: &Record<'_>,
        f: &Fragment<'_>,
    ) -> Result<(), (Error, Option<u8>)> {
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

    fn process_client_hello(
        &mut self,
        now: Instant,
        ch: ClientHello,
        seq: u16,
        body: &[u8],
    ) -> Result<(), (Error, Option<u8>)> {
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
        let mut items = Vec::new();
        for (t, b) in [
            (HT_SERVER_HELLO, sh),
            (HT_SERVER_KEY_EXCHANGE, ske),
            (HT_SERVER_HELLO_DONE, Vec::new()),
        ] {
            let s = self.next_send_seq;
            self.next_send_seq = s.wrapping_add(1);
            self.push_transcript(t, s, &b);
            items.push(FlightItem::Handshake {
                msg_type: t,
                seq: s,
                body: b,
                epoch: 0,
            });
        }
        self.state = State::ServerAwaitKeyExchange;
        self.send_flight(now, items, true);
        Ok(())
    }

    fn send_client_hello(&mut self, now: Instant, hello: ClientHello, hvr_count: u8) {
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

    fn derive_keys(&mut self) -> Result<(), (Error, Option<u8>)> {
        let pms = Zeroizing::new(
            self.jpake
                .premaster_secret()
                .map_err(|e| (e.into(), Some(alert::ILLEGAL_PARAMETER)))?,
        );
        let master: Zeroizing<[u8; 48]> = Zeroizing::new(prf(
            &pms[..],
            b"master secret",
            &[&self.client_random, &self.server_random],
        ));
        let kb: Zeroizing<[u8; 40]> = Zeroizing::new(prf(
            &master[..],
            b"key expansion",
            &[&self.server_random, &self.client_random],
        ));
        let mut ck = [0u8; 16];
        let mut sk = [0u8; 16];
        let mut civ = [0u8; 4];
        let mut siv = [0u8; 4];
        ck.copy_from_slice(&kb[..16]);
        sk.copy_from_slice(&kb[16..32]);
        civ.copy_from_slice(&kb[32..36]);
        siv.copy_from_slice(&kb[36..40]);
        let (client, server) = (CipherState::new(&ck, &civ), CipherState::new(&sk, &siv));
        let (w, r) = match self.role {
            Role::Client => (client, server),
            Role::Server => (server, client),
        };
        self.write_cipher = Some(w);
        self.read_cipher = Some(r);
        self.master = Some(master);
        self.key_block = Some(kb);
        zeroize::Zeroize::zeroize(&mut ck);
        zeroize::Zeroize::zeroize(&mut sk);
        Ok(())
    }

    fn verify_data(&self, label: &[u8]) -> [u8; 12] {
        let hash = self.transcript_hash();
        match &self.master {
            Some(m) => prf(&m[..], label, &[&hash]),
            None => [0; 12],
        }
    }

    fn connected(&mut self) {
        tracing::debug!(role = ?self.role, "dtls connected");
        self.state = State::Connected;
        self.pending.clear();
        self.events.push_back(Event::Connected);
    }

    fn handle_message(
        &mut self,
        now: Instant,
        msg_type: u8,
        seq: u16,
        epoch: u16,
        body: &[u8],
    ) -> Result<(), (Error, Option<u8>)> {
        let unexpected = |m| (Error::PeerMisbehaved(m), Some(alert::UNEXPECTED_MESSAGE));
        let decode = |e: DecodeError| (Error::from(e), Some(alert::DECODE_ERROR));
        let jpake_err = |e: EcJpakeError| (Error::from(e), Some(alert::ILLEGAL_PARAMETER));
        let state = std::mem::replace(&mut self.state, State::Failed);
        match (state, msg_type) {
            (
                State::ClientAwaitHello {
                    hello, hvr_count, ..
                },
                HT_HELLO_VERIFY_REQUEST,
            ) => {
                let hvr = HelloVerifyRequest::parse(body).map_err(decode)?;
                if hvr.cookie.is_empty() || hvr_count >= MAX_HELLO_VERIFY {
                    return Err(unexpected("repeated or empty HelloVerifyRequest"));
                }
                let hello = ClientHello {
                    cookie: hvr.cookie,
                    ..hello
                };
                self.send_client_hello(now, hello, hvr_count + 1);
                Ok(())
            }
            (
                State::ClientAwaitHello {
                    hello, seq: ch_seq, ..
                },
                HT_SERVER_HELLO,
            ) => {
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
            (State::ClientAwaitKeyExchange, HT_SERVER_KEY_EXCHANGE) => {
                self.jpake.read_round_two(body).map_err(jpake_err)?;
                self.push_transcript(msg_type, seq, body);
                self.state = State::ClientAwaitHelloDone;
                Ok(())
            }
            (State::ClientAwaitHelloDone, HT_SERVER_HELLO_DONE) => {
                if !body.is_empty() {
                    return Err(decode(DecodeError("ServerHelloDone not empty")));
                }
                self.push_transcript(msg_type, seq, body);
                let cke = self
                    .jpake
                    .write_round_two(&mut *self.rng)
                    .map_err(jpake_err)?;
                self.derive_keys()?;
                let cke_seq = self.next_send_seq;
                self.push_transcript(HT_CLIENT_KEY_EXCHANGE, cke_seq, &cke);
                let fin = self.verify_data(b"client finished").to_vec();
                let fin_seq = cke_seq.wrapping_add(1);
                self.next_send_seq = fin_seq.wrapping_add(1);
                self.push_transcript(HT_FINISHED, fin_seq, &fin);
                self.write_epoch = 1;
                self.state = State::ClientAwaitFinished;
                let items = vec![
                    FlightItem::Handshake {
                        msg_type: HT_CLIENT_KEY_EXCHANGE,
                        seq: cke_seq,
                        body: cke,
                        epoch: 0,
                    },
                    FlightItem::ChangeCipherSpec,
                    FlightItem::Handshake {
                        msg_type: HT_FINISHED,
                        seq: fin_seq,
                        body: fin,
                        epoch: 1,
                    },
                ];
                self.send_flight(now, items, true);
                Ok(())
            }
            (State::ClientAwaitFinished, HT_FINISHED) => {
                if epoch != 1 {
                    return Err(unexpected("Finished before ChangeCipherSpec"));
                }
                let expected = self.verify_data(b"server finished");
                if !constant_time_eq(body, &expected) {
                    return Err((Error::BadPassword, Some(alert::DECRYPT_ERROR)));
                }
                self.push_transcript(msg_type, seq, body);
                self.flight.clear();
                self.retransmit_at = None;
                self.connected();
                Ok(())
            }
            (State::ServerAwaitKeyExchange, HT_CLIENT_KEY_EXCHANGE) => {
                self.jpake.read_round_two(body).map_err(jpake_err)?;
                self.push_transcript(msg_type, seq, body);
                self.derive_keys()?;
                self.state = State::ServerAwaitFinished;
                Ok(())
            }
            (State::ServerAwaitFinished, HT_FINISHED) => {
                if epoch != 1 {
                    return Err(unexpected("Finished before ChangeCipherSpec"));
                }
                let expected = self.verify_data(b"client finished");
                if !constant_time_eq(body, &expected) {
                    return Err((Error::BadPassword, Some(alert::DECRYPT_ERROR)));
                }
                self.push_transcript(msg_type, seq, body);
                let fin = self.verify_data(b"server finished").to_vec();
                let fin_seq = self.next_send_seq;
                self.next_send_seq = fin_seq.wrapping_add(1);
                self.push_transcript(HT_FINISHED, fin_seq, &fin);
                self.write_epoch = 1;
                let items = vec![
                    FlightItem::ChangeCipherSpec,
                    FlightItem::Handshake {
                        msg_type: HT_FINISHED,
                        seq: fin_seq,
                        body: fin,
                        epoch: 1,
                    },
                ];
                // Kept for retransmission when the client repeats its flight; no timer.
                self.send_flight(now, items, false);
                self.connected();
                Ok(())
            }
            (_, _) => Err(unexpected("unexpected handshake message")),
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;
