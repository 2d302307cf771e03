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
//! A wrong password. EC-JPAKE gives both sides the same premaster secret only for the same
//! password, so the one conclusive check is a MAC: the server fails with [`Error::BadPassword`]
//! (answering bad_record_mac, as OpenThread's SecureTransport does) when the first epoch-1 record
//! of the datagram whose ClientKeyExchange derived its keys (the client's Finished: Mbed TLS, and
//! so an OpenThread joiner, sends ClientKeyExchange, ChangeCipherSpec and Finished together) does
//! not authenticate; whoever sent that ClientKeyExchange does not hold the password. Every other
//! sign is unauthenticated and so forgeable by anyone who can send us datagrams: a plaintext
//! alert once our keys exist (what an Mbed TLS server sends a client with another password), or an
//! epoch-1 record failing its MAC later while we wait for Finished. Such a record is dropped
//! silently (RFC 6347 §4.1.2.7) and an alert does not end the session, but either is remembered:
//! if the handshake then ends at a retransmission timer (the next one after a fatal plaintext
//! alert, the last one otherwise) it fails with [`Error::PossibleBadPassword`] instead of
//! [`Error::Timeout`]. A Finished that authenticates but does not match the transcript means the
//! same keys over altered handshake messages: [`Error::PeerMisbehaved`], not a password error.
//! (Mbed TLS itself fails on any bad MAC while it waits for Finished, `ssl_get_next_record`; we
//! do not, so that one forged datagram cannot end a genuine handshake.)
//!
//! Guarantees: no panic on any datagram; malformed, oversized (plaintext over 2^14 bytes,
//! ciphertext over 2^14 + 2048) or unauthentic records are dropped silently except in the one
//! conclusive case above; handshake messages over `handshake::MAX_MESSAGE_LEN` (4 KiB) are not
//! reassembled; secrets redact in `Debug` and are zeroed on drop (key block, master secret,
//! premaster secret, the AES key schedules).
//!
//! Validated: in-memory client/server handshakes with loss, reordering, duplication, wrong password,
//! replay and tampering, and random datagrams (proptest, cargo-fuzz) — tests in `dtls/tests.rs`.
//! Live, both roles, against Mbed TLS 3.6.0 (the copy inside OpenThread) built with OpenThread's own
//! Mbed TLS configuration and with the library defaults (EMS, session tickets offered): handshake,
//! identical key block, application data both ways, close_notify, wrong password -> `BadPassword`
//! (our server) / `PossibleBadPassword` (our client, on Mbed TLS's plaintext alert; rerun with
//! both configurations after issue 10)
//! (`src/dtls/interop/`, test module `mbedtls_interop`, needs `MBEDTLS_PEER`). Live as commissioner
//! against the OpenThread simulation NCP's Border Agent through the Spinel UDP forward stream: wrong
//! PSKc -> `PossibleBadPassword` (rerun after issue 10), right PSKc -> connected and COMM_PET
//! answered 2.04 State=accept (test module `ot_border_agent_interop`, needs `OT_NCP_FTD`). As
//! server, end to end through the agent: an OpenThread simulation CLI joiner with a wrong PSKd
//! gives `BadPassword` (the conclusive check: its flight comes in one datagram) and joins on a
//! retry (`tests/tests/commissioning.rs`, `wrong_pskd_fails_then_retry_joins`, after issue 10).
//! Limitation: a ClientHello fragmented before its cookie is not reassembled (nor by Mbed TLS).

mod client;
mod flight;
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod handshake;
mod peek;
mod receive;
pub(crate) mod record;
mod server;

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use hmac::Hmac;
use rand_core::CryptoRng;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::ecjpake::EcJpake;
pub use crate::ecjpake::{EcJpakeError, Role};
use crate::prf::{prf, prf_sha256};
use handshake::*;
pub use peek::{peek_client_hello, starts_with_server_hello, ClientHelloPeek};
use record::*;
pub use server::{check_cookie, CookieCheck};

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
    /// The EC-JPAKE passwords differ, shown by a check the peer could not have passed with our
    /// password: the first epoch-1 record of the datagram whose key exchange derived our keys
    /// (the peer's Finished, sent with the keys it derived from that same message) did not
    /// authenticate. See the module doc for why this and nothing else is conclusive.
    #[error("DTLS handshake failed: wrong password (PSKc / PSKd mismatch)")]
    BadPassword,
    /// The handshake did not complete and the only signs were unauthenticated ones that a
    /// different password would also give (a plaintext bad_record_mac / decrypt_error alert once
    /// our keys existed, or epoch-1 records that did not authenticate while we waited for the
    /// peer's Finished). Anyone who can send us datagrams can forge these, so this is a hint.
    #[error("DTLS handshake failed: possibly a wrong password (unauthenticated signs only)")]
    PossibleBadPassword,
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
    /// Whether the last datagram held a record that decrypted and authenticated (epoch 1).
    rx_authenticated: bool,
    /// Our keys were derived while handling the current datagram, and no epoch-1 record of it has
    /// been looked at yet: a MAC failure on the next one is conclusive (see [`Error::BadPassword`]).
    keys_fresh: bool,
    /// An unauthenticated sign of another password was seen (see [`Error::PossibleBadPassword`]).
    suspect_password: bool,
    /// A plaintext fatal alert came once our keys existed: it does not end the session, but the
    /// next retransmission timer does (a genuine sender has given up; a forger cannot cut the
    /// genuine peer's answer short of one retransmission interval).
    alert_hint: bool,
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

/// A failure that ends the connection, with the alert to send (if any).
type Fatal = (Error, Option<u8>);

const MAX_PENDING_AHEAD: u16 = 8;
/// TLS record plaintext limit (2^14, RFC 5246 §6.2.1); longer records are dropped.
const MAX_PLAINTEXT: usize = 16384;
/// Protected record limit (2^14 + 2048, RFC 5246 §6.2.3, RFC 6347 §4.1); longer ones are dropped.
const MAX_CIPHERTEXT: usize = MAX_PLAINTEXT + 2048;
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
            rx_authenticated: false,
            keys_fresh: false,
            suspect_password: false,
            alert_hint: false,
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

    /// Whether the last datagram given to [`handle_datagram`](Self::handle_datagram) held a
    /// record that authenticated under the session keys (so it came from the peer, not from
    /// whoever can inject datagrams).
    pub fn authenticated_last_datagram(&self) -> bool {
        self.rx_authenticated
    }

    /// Whether an unauthenticated sign of another password has been seen (what would make a
    /// timeout [`Error::PossibleBadPassword`]); for a caller that ends the session on its own
    /// timer and wants to name the failure the same way.
    pub fn password_suspected(&self) -> bool {
        self.suspect_password
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
        if self.timeout >= self.config.max_retransmit_timeout || self.alert_hint {
            let e = if self.suspect_password {
                Error::PossibleBadPassword
            } else {
                Error::Timeout
            };
            self.fail(e, None);
            return;
        }
        self.timeout = self
            .timeout
            .saturating_mul(2)
            .min(self.config.max_retransmit_timeout);
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
        self.rx_authenticated = false;
        self.keys_fresh = false;
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

    /// Premaster secret, master secret and key block, each filled in place inside its
    /// `Zeroizing` (no copy left on the stack); the AES key schedules wipe themselves on drop
    /// (`aes` feature `zeroize`), and the key bytes handed to them are taken by reference.
    fn derive_keys(&mut self) -> Result<(), Fatal> {
        let pms = self
            .jpake
            .premaster_secret()
            .map_err(|e| (e.into(), Some(alert::ILLEGAL_PARAMETER)))?;
        let mut master: Zeroizing<[u8; 48]> = Zeroizing::new([0; 48]);
        prf_sha256(
            &pms[..],
            b"master secret",
            &[&self.client_random, &self.server_random],
            &mut master[..],
        );
        drop(pms);
        let mut kb: Zeroizing<[u8; 40]> = Zeroizing::new([0; 40]);
        prf_sha256(
            &master[..],
            b"key expansion",
            &[&self.server_random, &self.client_random],
            &mut kb[..],
        );
        let key = |r: core::ops::Range<usize>| -> &[u8] { &kb[r] };
        let (client, server) = match (
            key(0..16).try_into(),
            key(16..32).try_into(),
            key(32..36).try_into(),
            key(36..40).try_into(),
        ) {
            (Ok(ck), Ok(sk), Ok(civ), Ok(siv)) => {
                (CipherState::new(ck, civ), CipherState::new(sk, siv))
            }
            _ => unreachable!("the key block is 40 bytes"),
        };
        let (w, r) = match self.role {
            Role::Client => (client, server),
            Role::Server => (server, client),
        };
        self.write_cipher = Some(w);
        self.read_cipher = Some(r);
        self.keys_fresh = true;
        self.master = Some(master);
        self.key_block = Some(kb);
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

    /// Checks the peer's Finished (sent under epoch 1, over the transcript so far with `label`) and
    /// adds it to the transcript. The record authenticated under our keys, so the peer derived the
    /// same premaster secret, which EC-JPAKE gives only for the same password: a mismatch means
    /// the handshake messages differ (altered in flight, or a broken peer), not a wrong password.
    fn check_peer_finished(
        &mut self,
        label: &[u8],
        seq: u16,
        epoch: u16,
        body: &[u8],
    ) -> Result<(), Fatal> {
        if epoch != 1 {
            return Err((
                Error::PeerMisbehaved("Finished before ChangeCipherSpec"),
                Some(alert::UNEXPECTED_MESSAGE),
            ));
        }
        let expected = self.verify_data(label);
        if !constant_time_eq(body, &expected) {
            return Err((
                Error::PeerMisbehaved("Finished does not match the handshake transcript"),
                Some(alert::DECRYPT_ERROR),
            ));
        }
        self.push_transcript(HT_FINISHED, seq, body);
        Ok(())
    }

    /// Our next handshake message: takes the next message_seq and extends the transcript.
    fn handshake_item(&mut self, msg_type: u8, body: Vec<u8>, epoch: u16) -> FlightItem {
        let seq = self.next_send_seq;
        self.next_send_seq = seq.wrapping_add(1);
        self.push_transcript(msg_type, seq, &body);
        FlightItem::Handshake {
            msg_type,
            seq,
            body,
            epoch,
        }
    }

    /// Our Finished (`label` over the transcript so far), sent under epoch 1 from now on.
    fn our_finished(&mut self, label: &[u8]) -> FlightItem {
        let fin = self.verify_data(label).to_vec();
        self.write_epoch = 1;
        self.handshake_item(HT_FINISHED, fin, 1)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;
