//! The Thread commissioner as a sans-I/O state machine (quinn-proto style): it petitions a Border
//! Agent, keeps its session alive, publishes steering data for a joiner table, and runs many
//! joiner DTLS sessions at once through the Border Agent's relay.
//!
//! Inputs: datagrams from the Border Agent ([`Commissioner::handle_datagram`]), the clock
//! ([`Commissioner::handle_timeout`] at [`Commissioner::poll_timeout`]), operator calls (start,
//! stop, joiner table) and a caller-provided random source. Outputs: datagrams for the Border
//! Agent's UDP port ([`Commissioner::poll_transmit`]) and [`Event`]s ([`Commissioner::poll_event`]).
//! Drain both after every call. Nothing here does I/O, reads a clock or the OS random source.
//!
//! What it implements (thread-facts §1–§2; OpenThread `core/meshcop/commissioner.cpp` and
//! `border_agent.cpp` were read for the message shapes):
//! - DTLS client to the Border Agent (EC-JPAKE, password = PSKc), COMM_PET (`c/cp`, answered by an
//!   empty ACK and a separate response, or piggybacked), COMM_KA (`c/ca`) every
//!   `keep_alive_interval`, resignation (COMM_KA State=-1) on [`Commissioner::stop`], re-petition
//!   with exponential backoff after a rejection, a failed keep-alive, a DTLS failure or a
//!   co-processor reset.
//! - MGMT_COMMISSIONER_GET (`c/cg`, [`Commissioner::commissioner_get`]) straight to the Border
//!   Agent, which answers it itself from the leader's Commissioning Data; retransmitted per
//!   RFC 7252; the answer is a typed [`CommissionerDataset`] in [`Event::CommissionerDataset`].
//! - MGMT_COMMISSIONER_SET (`c/cs`, Session ID + Steering Data) to the Leader ALOC through the UDP
//!   proxy (UDP_TX `c/ut` out, UDP_RX `c/ur` back), retransmitted per RFC 7252 until State=accept;
//!   a newer table change supersedes a pending one. Steering data as OpenThread computes it
//!   (`ComputeBloomFilter`): one byte `ff` when a wildcard entry exists, else a 16-byte Bloom filter
//!   of the EUI-64 Joiner IDs and discerners — 16 zero bytes when the table is empty.
//! - Joiner sessions keyed by (Joiner IID, Joiner Router Locator): RLY_RX (`c/rx`) records feed a
//!   DTLS server whose password is the best-matching entry's PSKd (EUI-64 > longest discerner >
//!   wildcard); its records go back in RLY_TX (`c/tx`). JOIN_FIN.req (`c/jf`) is checked (vendor
//!   name, model, software version and stack version present; a Provisioning URL, if sent, must
//!   equal ours) and answered with a piggybacked 2.04 + State; the RLY_TX carrying an accepting
//!   answer also carries the Joiner Router KEK (SHA-256(key block)[..16]). Unlike OpenThread, a
//!   rejecting answer carries no KEK, so the joiner router does not entrust a rejected joiner.
//!   An EUI-64 entry is consumed once its joiner is entrusted: like OpenThread
//!   (`RemoveJoiner(*mActiveJoiner, kRemoveJoinerDelay)`, 20 s) it lingers for
//!   `consumed_entry_linger` (its expiry brought forward, never pushed back), so a joiner that
//!   missed the last reply and starts over is admitted again; then it leaves the table
//!   ([`RemovalReason::Joined`]). Discerner and wildcard entries stay until they expire or are
//!   removed. A joiner that restarts its handshake (a cookie-less
//!   ClientHello after it had passed the cookie exchange) gets a fresh session.
//!
//! Guarantees: no panic on any input; malformed input (bad DTLS, CoAP, TLVs) is dropped and
//! counted in [`Stats`] without losing state; no PSKc, PSKd, KEK or key block appears in any
//! event, error or `Debug` output.
//!
//! Validated: in-memory tests against a fake Border Agent and fake joiners built from this crate's
//! DTLS server/client and CoAP codec (see `commissioner/tests.rs`), and a proptest feeding garbage.
//! Live (`commissioner/live.rs`, run when `OT_NCP_FTD` and `OT_CLI_FTD` are set) against the
//! OpenThread 0.4.0 simulation: the `ot-ncp-ftd` leader's Border Agent through the Spinel UDP
//! forward stream accepted our petition, MGMT_COMMISSIONER_SET (via the UDP proxy) and
//! resignation; a real `ot-cli-ftd` joiner (Mbed TLS client) printed `Join success` through our
//! DTLS server, JOIN_FIN answer and KEK, and with a wrong PSKd failed with `Join failed
//! [Security]` while we reported [`HandshakeFailure::WrongPskd`]. MGMT_COMMISSIONER_GET: the
//! `ot-ncp-ftd` Border Agent answered with a piggybacked 2.04 carrying Session ID, Border Agent
//! Locator and Steering Data, our session's (the agent's e2e `tests/tests/commissioning.rs`).
//! The consumed-entry linger: in memory (a restarted handshake within it is admitted again, none
//! after it) and in that e2e join test (the entry is removed as joined after it). Not validated: keep-alive
//! rejection, MGMT_DATASET_CHANGED and co-processor resets against a live Border Agent (only in
//! memory).

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::fmt;
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use rand_core::{CryptoRng, TryCryptoRng, TryRng};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use crate::coap::{
    self, match_response, uri, Code, JoinerAddr, Message, MsgType, RelayRx, ResponseMatch,
    Retransmitter, UdpRx,
};
use crate::credentials::{self, Discerner, Kek, Pskc, Pskd};
use crate::dtls;
use crate::steering::SteeringData;
use crate::tlv::{self, types, Tlv};

#[cfg(test)]
mod live;
#[cfg(test)]
mod tests;

// ---------------------------------------------------------------------------------------------
// Configuration

/// Commissioner parameters. [`Config::new`] fills in the defaults.
#[derive(Clone, Debug)]
pub struct Config {
    /// Commissioner ID TLV sent in the petition (at most 64 bytes; longer is cut).
    pub commissioner_id: String,
    /// The network's PSKc: the EC-JPAKE password toward the Border Agent.
    pub pskc: Pskc,
    /// The mesh-local prefix (for the Leader ALOC).
    pub mesh_local_prefix: [u8; 8],
    /// Interval of COMM_KA (the Border Agent drops us after 50 s of silence). Default 25 s.
    pub keep_alive_interval: Duration,
    /// Lifetime of one joiner DTLS session (from its first record). Default 60 s.
    pub joiner_session_timeout: Duration,
    /// The provisioning URL a joiner's JOIN_FIN.req must match if it sends one.
    pub provisioning_url: Option<String>,
    /// DTLS retransmission toward the Border Agent: first and largest timeout (1 s, 60 s).
    pub ba_dtls_initial_retransmit: Duration,
    pub ba_dtls_max_retransmit: Duration,
    /// DTLS retransmission toward joiners (8 s, 60 s, as OpenThread).
    pub joiner_dtls_initial_retransmit: Duration,
    pub joiner_dtls_max_retransmit: Duration,
    /// Re-petition automatically after a failure (default true), with this backoff (5 s doubling to 120 s).
    pub auto_retry: bool,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// How long to wait for a separate response after an empty ACK (default 15 s).
    pub separate_response_timeout: Duration,
    /// How long [`Commissioner::stop`] waits for the answer to the resigning COMM_KA (default 5 s).
    pub resign_timeout: Duration,
    /// Largest number of concurrent joiner sessions (default 32); more RLY_RX are dropped.
    pub max_joiner_sessions: usize,
    /// Largest joiner table (default 256).
    pub max_entries: usize,
    /// How long an EUI-64 entry stays after its joiner was entrusted, so that a joiner which lost
    /// the last reply can retry (default 20 s, OpenThread's `kRemoveJoinerDelay`; zero removes it
    /// at once).
    pub consumed_entry_linger: Duration,
}

impl Config {
    /// A configuration with the defaults listed on each field.
    pub fn new(
        commissioner_id: impl Into<String>,
        pskc: Pskc,
        mesh_local_prefix: [u8; 8],
    ) -> Config {
        Config {
            commissioner_id: commissioner_id.into(),
            pskc,
            mesh_local_prefix,
            keep_alive_interval: Duration::from_secs(25),
            joiner_session_timeout: Duration::from_secs(60),
            provisioning_url: None,
            ba_dtls_initial_retransmit: Duration::from_secs(1),
            ba_dtls_max_retransmit: Duration::from_secs(60),
            joiner_dtls_initial_retransmit: Duration::from_secs(8),
            joiner_dtls_max_retransmit: Duration::from_secs(60),
            auto_retry: true,
            retry_initial: Duration::from_secs(5),
            retry_max: Duration::from_secs(120),
            separate_response_timeout: Duration::from_secs(15),
            resign_timeout: Duration::from_secs(5),
            max_joiner_sessions: 32,
            max_entries: 256,
            consumed_entry_linger: Duration::from_secs(20),
        }
    }
}

/// Errors of the operator-facing calls.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The joiner table is full.
    #[error("joiner table is full ({max} entries); remove an entry first")]
    TableFull { max: usize },
    /// No DTLS session with the Border Agent (not petitioning or active).
    #[error("no session with the border agent (commissioner is not petitioning or active)")]
    NotConnected,
    /// Too many MGMT_COMMISSIONER_GET requests are outstanding.
    #[error("{max} MGMT_COMMISSIONER_GET requests are already outstanding; wait for an answer")]
    TooManyRequests { max: usize },
}

// ---------------------------------------------------------------------------------------------
// Joiner table

/// Which joiners an entry admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JoinerKind {
    /// One device, by factory EUI-64.
    Eui64([u8; 8]),
    /// Devices whose Joiner ID carries this discerner.
    Discerner(Discerner),
    /// Any joiner (wildcard).
    Any,
}

impl fmt::Display for JoinerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinerKind::Eui64(e) => write!(f, "eui64 {}", hex::encode(e)),
            JoinerKind::Discerner(d) => write!(f, "discerner {:#x}/{}", d.value(), d.bits()),
            JoinerKind::Any => f.write_str("any"),
        }
    }
}

impl JoinerKind {
    /// Whether a joiner with this Joiner ID is admitted.
    pub fn matches(&self, joiner_id: &[u8; 8]) -> bool {
        match self {
            JoinerKind::Eui64(e) => credentials::joiner_id(e) == *joiner_id,
            JoinerKind::Discerner(d) => d.matches(joiner_id),
            JoinerKind::Any => true,
        }
    }
    fn rank(&self) -> u32 {
        match self {
            JoinerKind::Eui64(_) => 1000,
            JoinerKind::Discerner(d) => 1 + u32::from(d.bits()),
            JoinerKind::Any => 0,
        }
    }
}

/// A joiner table entry (its `Debug` redacts the PSKd).
#[derive(Clone, Debug)]
pub struct JoinerEntry {
    pub kind: JoinerKind,
    pub pskd: Pskd,
    pub expires_at: Instant,
}

/// A printable view of an entry (no PSKd).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryInfo {
    pub kind: JoinerKind,
    /// The Joiner ID (16 hex digits) of an EUI-64 entry.
    pub joiner_id: Option<String>,
    pub expires_at: Instant,
    /// Its joiner was entrusted: the entry lingers until `expires_at`, then is removed.
    pub joined: bool,
}

// ---------------------------------------------------------------------------------------------
// Events

/// Where the commissioner stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not started, or stopped.
    Idle,
    /// DTLS handshake with the Border Agent.
    Connecting,
    /// COMM_PET sent, waiting for the leader's answer.
    Petitioning,
    /// Petition accepted: keep-alives, steering data, joiner sessions.
    Active,
    /// COMM_KA State=-1 sent by `stop`, waiting for its answer.
    Resigning,
    /// Waiting for the backoff to expire before a new petition.
    WaitingRetry,
}

/// Who a joiner event is about. Nothing secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinerInfo {
    /// Joiner ID, 16 hex digits.
    pub joiner_id: String,
    /// Joiner IID as relayed (Joiner ID with bit 0x02 of byte 0 flipped), 16 hex digits.
    pub joiner_iid: String,
    /// The matched entry's EUI-64 (16 hex digits), when the entry is an EUI-64 entry.
    pub eui64: Option<String>,
    /// The matched entry.
    pub entry: JoinerKind,
    /// RLOC16 of the joiner router.
    pub joiner_router: u16,
    /// The joiner's UDP port.
    pub joiner_port: u16,
    /// What the joiner said in JOIN_FIN.req, once known.
    pub vendor: Option<VendorInfo>,
}

/// Vendor TLVs of a JOIN_FIN.req.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VendorInfo {
    pub name: String,
    pub model: String,
    pub sw_version: String,
    /// Vendor Stack Version TLV value in hex.
    pub stack_version: String,
    /// Vendor Data TLV value in hex, if sent.
    pub data: Option<String>,
}

/// Why a joiner session ended without the joiner being entrusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeFailure {
    /// The joiner's PSKd differs from the entry's (the entry stays usable for a retry).
    WrongPskd,
    /// Anything else: DTLS or CoAP misbehaviour, the session was replaced or torn down.
    Protocol(String),
    /// The session outlived `joiner_session_timeout` or the DTLS retransmissions.
    Timeout,
}

/// Why an entry left the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovalReason {
    /// `remove` was called.
    Operator,
    /// Its joiner was entrusted (EUI-64 entries only).
    Joined,
}

/// What happened; drain with [`Commissioner::poll_event`]. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    PetitionAccepted {
        session_id: u16,
    },
    PetitionRejected {
        reason: String,
    },
    /// The DTLS handshake with the Border Agent failed on the password: wrong PSKc.
    BorderAgentAuthFailed,
    KeepAliveFailed {
        reason: String,
    },
    /// The leader accepted this steering data (hex).
    SteeringDataUpdated {
        steering_data: String,
    },
    /// The leader refused or did not answer MGMT_COMMISSIONER_SET (retried at the next keep-alive).
    SteeringDataRejected {
        reason: String,
    },
    JoinerSeen {
        joiner: JoinerInfo,
    },
    JoinerHandshakeFailed {
        joiner: JoinerInfo,
        reason: HandshakeFailure,
    },
    JoinerAuthenticated {
        joiner: JoinerInfo,
    },
    JoinerFinalize {
        joiner: JoinerInfo,
        vendor_name: String,
        vendor_model: String,
        vendor_sw_version: String,
        vendor_stack_version: String,
        provisioning_url: Option<String>,
        accepted: bool,
        /// Why it was rejected.
        reject_reason: Option<String>,
    },
    /// The RLY_TX with the accepting JOIN_FIN.rsp and the KEK went out.
    JoinerEntrusted {
        joiner: JoinerInfo,
    },
    EntryExpired {
        kind: JoinerKind,
    },
    EntryRemoved {
        kind: JoinerKind,
        reason: RemovalReason,
    },
    /// `stop` finished: resigned (or gave up waiting for the answer) and closed the DTLS session.
    Resigned,
    /// The Border Agent session ended (peer closed, DTLS failure other than the password,
    /// co-processor reset, stop before the petition was accepted).
    Disconnected {
        reason: String,
    },
    /// The Border Agent answered the MGMT_COMMISSIONER_GET `request` (the id
    /// [`Commissioner::commissioner_get`] returned).
    CommissionerDataset {
        request: u32,
        dataset: CommissionerDataset,
    },
    /// The MGMT_COMMISSIONER_GET `request` got no usable answer (error code, RST, malformed
    /// TLVs, no answer after the retransmissions, or the Border Agent session ended).
    CommissionerGetFailed {
        request: u32,
        reason: String,
    },
}

/// The Commissioner Dataset as a Border Agent answers MGMT_COMMISSIONER_GET (`c/cg`): the sub-TLVs
/// of the Commissioning Data in the leader's network data, copied as they are (OpenThread
/// `Leader::ProcessCommissionerGetRequest`; with a Get TLV only the listed types). A field is
/// `None` when its TLV was absent; nothing in it is secret.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommissionerDataset {
    /// Commissioner Session ID TLV (11): the active commissioner's session.
    pub session_id: Option<u16>,
    /// Border Agent Locator TLV (9): RLOC16 of the active commissioner's Border Agent.
    pub border_agent_locator: Option<u16>,
    /// Steering Data TLV (8), the bytes as sent (normally 1..=16; see [`Self::steering`]).
    pub steering_data: Option<Vec<u8>>,
    /// Joiner UDP Port TLV (18), when the commissioner set one.
    pub joiner_udp_port: Option<u16>,
    /// Every other TLV of the answer, in order.
    pub other: Vec<Tlv>,
}

impl CommissionerDataset {
    /// Parses the TLVs of a MGMT_COMMISSIONER_GET answer. Errors: a truncated TLV, or a Session
    /// ID / Locator / Joiner UDP Port that is not 2 bytes. The first TLV of a type wins.
    pub fn parse(payload: &[u8]) -> Result<CommissionerDataset, crate::Error> {
        let mut d = CommissionerDataset::default();
        for t in tlv::iter(payload) {
            let t = t?;
            match t.typ {
                types::COMMISSIONER_SESSION_ID if d.session_id.is_none() => {
                    d.session_id = Some(t.u16()?)
                }
                types::BORDER_AGENT_LOCATOR if d.border_agent_locator.is_none() => {
                    d.border_agent_locator = Some(t.u16()?)
                }
                types::STEERING_DATA if d.steering_data.is_none() => {
                    d.steering_data = Some(t.value.to_vec())
                }
                types::JOINER_UDP_PORT if d.joiner_udp_port.is_none() => {
                    d.joiner_udp_port = Some(t.u16()?)
                }
                _ => d.other.push(t.to_owned()),
            }
        }
        Ok(d)
    }

    /// The TLVs in OpenThread's Commissioning Data order (Session ID, Border Agent Locator,
    /// Steering Data, Joiner UDP Port, the others).
    pub fn to_tlvs(&self) -> Vec<Tlv> {
        let mut v = Vec::new();
        if let Some(x) = self.session_id {
            v.push(Tlv::commissioner_session_id(x));
        }
        if let Some(x) = self.border_agent_locator {
            v.push(Tlv::border_agent_locator(x));
        }
        if let Some(x) = &self.steering_data {
            v.push(Tlv::steering_data(x));
        }
        if let Some(x) = self.joiner_udp_port {
            v.push(Tlv::joiner_udp_port(x));
        }
        v.extend(self.other.iter().cloned());
        v
    }

    /// The steering data as a filter, when present and 1..=16 bytes long.
    pub fn steering(&self) -> Option<SteeringData> {
        self.steering_data
            .as_deref()
            .and_then(|b| SteeringData::from_bytes(b).ok())
    }
}

/// Counters for dropped input (nothing secret).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Malformed or unexpected messages dropped.
    pub dropped: u64,
    /// The reason of the last drop.
    pub last_drop_reason: Option<String>,
    /// RLY_RX from joiners no entry admits.
    pub unknown_joiners: u64,
    /// Joiners entrusted so far.
    pub joined: u64,
}

// ---------------------------------------------------------------------------------------------
// A small deterministic CSPRNG (for the per-connection generators and `with_seed`)

/// A SHA-256 counter-mode generator: block i = SHA-256(key || i); rekeyed after every request.
/// Used to give each DTLS connection its own generator forked from the caller's.
pub struct SeededRng {
    key: Zeroizing<[u8; 32]>,
    counter: u64,
}

impl fmt::Debug for SeededRng {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SeededRng(<redacted>)")
    }
}

impl SeededRng {
    /// A generator from a 32-byte secret seed.
    pub fn from_seed(seed: [u8; 32]) -> SeededRng {
        let mut seed = seed;
        let r = SeededRng {
            key: Zeroizing::new(seed),
            counter: 0,
        };
        seed.zeroize();
        r
    }
    /// A generator seeded from another one.
    pub fn fork<R: CryptoRng + ?Sized>(parent: &mut R) -> SeededRng {
        let mut seed = [0u8; 32];
        parent.fill_bytes(&mut seed);
        SeededRng::from_seed(seed)
    }
    fn block(&mut self, tag: u8) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(*self.key);
        h.update(self.counter.to_le_bytes());
        h.update([tag]);
        self.counter = self.counter.wrapping_add(1);
        h.finalize().into()
    }
}

impl TryRng for SeededRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(32) {
            let mut b = self.block(0);
            chunk.copy_from_slice(&b[..chunk.len()]);
            b.zeroize();
        }
        let k = self.block(1);
        *self.key = k;
        Ok(())
    }
}

impl TryCryptoRng for SeededRng {}

// ---------------------------------------------------------------------------------------------
// Internals

/// One outstanding confirmable request.
#[derive(Debug)]
struct Exchange {
    request: Message,
    retx: Retransmitter,
    /// Set after an empty ACK: the separate response must arrive by then.
    response_deadline: Option<Instant>,
}

enum ExchangeTimeout {
    Resend(Vec<u8>),
    Failed(&'static str),
}

impl Exchange {
    fn on_timeout(&mut self, now: Instant) -> Option<ExchangeTimeout> {
        if let Some(d) = self.response_deadline {
            return (now >= d)
                .then_some(ExchangeTimeout::Failed("no response after the empty ACK"));
        }
        match self.retx.on_timeout(now) {
            coap::Timeout::NotYet => None,
            coap::Timeout::Resend(b) => Some(ExchangeTimeout::Resend(b.to_vec())),
            coap::Timeout::GaveUp => Some(ExchangeTimeout::Failed("no acknowledgement")),
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.response_deadline.or_else(|| self.retx.poll_timeout())
    }
}

/// An outstanding MGMT_COMMISSIONER_GET.
#[derive(Debug)]
struct GetExchange {
    id: u32,
    ex: Exchange,
}

#[derive(Debug)]
struct SetExchange {
    ex: Exchange,
    steering: SteeringData,
}

type SessionKey = ([u8; 8], u16);

struct Finalized {
    message_id: u16,
    response: Vec<u8>,
    accepted: bool,
}

struct JoinerSession {
    addr: JoinerAddr,
    info: JoinerInfo,
    conn: dtls::Connection,
    deadline: Instant,
    client_random: [u8; 32],
    authenticated: bool,
    finalized: Option<Finalized>,
    entrusted: bool,
    ended: bool,
}

/// The commissioner. See the module documentation.
pub struct Commissioner {
    config: Config,
    rng: Box<dyn CryptoRng + Send>,
    state: State,
    ba: Option<dtls::Connection>,
    session_id: Option<u16>,
    next_mid: u16,
    petition: Option<Exchange>,
    keep_alive: Option<Exchange>,
    resign: Option<Exchange>,
    resign_deadline: Option<Instant>,
    comm_set: Option<SetExchange>,
    gets: Vec<GetExchange>,
    next_get_id: u32,
    steering_acked: Option<SteeringData>,
    next_keep_alive: Option<Instant>,
    retry_at: Option<Instant>,
    backoff: Duration,
    entries: Vec<JoinerEntry>,
    /// Kinds of entries whose joiner was entrusted (lingering until their expiry).
    joined: Vec<JoinerKind>,
    sessions: BTreeMap<SessionKey, JoinerSession>,
    cookie_key: Zeroizing<[u8; 32]>,
    out: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    stats: Stats,
}

impl fmt::Debug for Commissioner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Commissioner")
            .field("commissioner_id", &self.config.commissioner_id)
            .field("state", &self.state)
            .field("session_id", &self.session_id)
            .field("entries", &self.entries.len())
            .field("joiner_sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

const MAX_COMMISSIONER_ID: usize = 64;
/// Largest number of MGMT_COMMISSIONER_GET requests outstanding at once.
pub const MAX_OUTSTANDING_GETS: usize = 4;
/// Largest record plaintext toward the Border Agent (OpenThread's Mbed TLS accepts at most 768):
/// every CoAP message we send it must fit in one record.
const MAX_BA_MESSAGE: usize = 768;
/// Largest joiner DTLS datagram, so that it fits in one RLY_TX (about 60 bytes of CoAP and TLVs
/// around it) within [`MAX_BA_MESSAGE`].
const JOINER_MTU: usize = 700;

impl Commissioner {
    /// A commissioner in [`State::Idle`]; `rng` must be a cryptographic generator (the OS one in
    /// the daemon).
    pub fn new(mut config: Config, mut rng: Box<dyn CryptoRng + Send>) -> Commissioner {
        if config.commissioner_id.len() > MAX_COMMISSIONER_ID {
            let mut cut = MAX_COMMISSIONER_ID;
            while !config.commissioner_id.is_char_boundary(cut) {
                cut -= 1;
            }
            config.commissioner_id.truncate(cut);
        }
        let mut cookie_key = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut *cookie_key);
        let next_mid = rng.next_u32() as u16;
        let backoff = config.retry_initial;
        Commissioner {
            config,
            rng,
            state: State::Idle,
            ba: None,
            session_id: None,
            next_mid,
            petition: None,
            keep_alive: None,
            resign: None,
            resign_deadline: None,
            comm_set: None,
            gets: Vec::new(),
            next_get_id: 0,
            steering_acked: None,
            next_keep_alive: None,
            retry_at: None,
            backoff,
            entries: Vec::new(),
            joined: Vec::new(),
            sessions: BTreeMap::new(),
            cookie_key,
            out: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// A commissioner whose generator is [`SeededRng`] from a 32-byte secret seed.
    pub fn with_seed(config: Config, seed: [u8; 32]) -> Commissioner {
        Commissioner::new(config, Box::new(SeededRng::from_seed(seed)))
    }

    // ----- observers -----

    pub fn state(&self) -> State {
        self.state
    }
    /// The Commissioner Session ID while active.
    pub fn session_id(&self) -> Option<u16> {
        self.session_id
    }
    pub fn config(&self) -> &Config {
        &self.config
    }
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
    /// Number of joiner sessions in progress.
    pub fn joiner_sessions(&self) -> usize {
        self.sessions.len()
    }
    /// The steering data the table calls for (what is or will be sent).
    pub fn steering_data(&self) -> SteeringData {
        self.desired_steering()
    }
    /// The steering data the leader last accepted in this session.
    pub fn steering_data_acked(&self) -> Option<&SteeringData> {
        self.steering_acked.as_ref()
    }

    /// The next datagram for the Border Agent's port.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }
    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut put = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        put(self.ba.as_ref().and_then(|b| b.poll_timeout()));
        put(self.retry_at);
        put(self.petition.as_ref().and_then(Exchange::poll_timeout));
        put(self.keep_alive.as_ref().and_then(Exchange::poll_timeout));
        put(self.resign.as_ref().and_then(Exchange::poll_timeout));
        put(self.resign_deadline);
        put(self.comm_set.as_ref().and_then(|s| s.ex.poll_timeout()));
        for g in &self.gets {
            put(g.ex.poll_timeout());
        }
        if self.state == State::Active {
            put(self.next_keep_alive);
        }
        for e in &self.entries {
            put(Some(e.expires_at));
        }
        for s in self.sessions.values() {
            put(Some(s.deadline));
            put(s.conn.poll_timeout());
        }
        t
    }

    // ----- lifecycle -----

    /// Starts (or restarts now, when waiting for a retry) the DTLS handshake with the Border
    /// Agent; the petition follows. No effect while connecting, petitioning, active or resigning.
    pub fn start(&mut self, now: Instant) {
        if !matches!(self.state, State::Idle | State::WaitingRetry) {
            return;
        }
        self.retry_at = None;
        let mut c = dtls::Config::client(self.config.pskc.as_bytes());
        c.initial_retransmit_timeout = self.config.ba_dtls_initial_retransmit;
        c.max_retransmit_timeout = self.config.ba_dtls_max_retransmit;
        let rng = Box::new(SeededRng::fork(&mut *self.rng));
        match dtls::Connection::client(c, rng, now) {
            Ok(conn) => {
                tracing::info!(commissioner_id = %self.config.commissioner_id, "connecting to the border agent");
                self.ba = Some(conn);
                self.state = State::Connecting;
                self.pump_ba(now);
            }
            Err(e) => {
                self.events.push_back(Event::Disconnected {
                    reason: format!("cannot start DTLS: {e}"),
                });
                self.schedule_retry(now);
            }
        }
    }

    /// Resigns: when active, COMM_KA State=-1, then (on its answer or after `resign_timeout`)
    /// close_notify and [`Event::Resigned`]. Otherwise closes at once. No automatic retry after.
    pub fn stop(&mut self, now: Instant) {
        self.retry_at = None;
        match self.state {
            State::Idle | State::Resigning => {}
            State::WaitingRetry => self.state = State::Idle,
            State::Active => {
                let sid = self.session_id.unwrap_or(0);
                self.end_joiner_sessions("commissioner stopped");
                self.keep_alive = None;
                self.comm_set = None;
                let mid = self.mid();
                let token = self.token();
                match coap::keep_alive(mid, &token, sid, false) {
                    Ok(req) => {
                        self.resign = self.send_con(now, req);
                        self.state = State::Resigning;
                        self.resign_deadline = Some(now + self.config.resign_timeout);
                        tracing::info!(session_id = sid, "resigning");
                    }
                    Err(_) => self.finish_resign(),
                }
            }
            State::Connecting | State::Petitioning => {
                self.close_ba();
                self.teardown();
                self.state = State::Idle;
                self.events.push_back(Event::Disconnected {
                    reason: "stopped before the petition was accepted".into(),
                });
            }
        }
    }

    /// The co-processor reset: the Border Agent and our DTLS session with it are gone. Drops the
    /// session without sending anything, reports [`Event::Disconnected`] and re-petitions after
    /// the backoff (when `auto_retry`).
    pub fn reset(&mut self, now: Instant) {
        match self.state {
            State::Idle | State::WaitingRetry => {}
            State::Resigning => {
                self.ba = None;
                self.teardown();
                self.state = State::Idle;
                self.events.push_back(Event::Resigned);
            }
            _ => {
                self.ba = None;
                self.teardown();
                self.events.push_back(Event::Disconnected {
                    reason: "co-processor reset".into(),
                });
                self.schedule_retry(now);
            }
        }
    }

    /// Replaces the PSKc and mesh-local prefix (after a dataset change); used from the next start.
    pub fn set_credentials(&mut self, pskc: Pskc, mesh_local_prefix: [u8; 8]) {
        self.config.pskc = pskc;
        self.config.mesh_local_prefix = mesh_local_prefix;
    }

    /// Sets the provisioning URL joiners must match (from the next JOIN_FIN on).
    pub fn set_provisioning_url(&mut self, url: Option<String>) {
        self.config.provisioning_url = url;
    }

    /// Sends MGMT_COMMISSIONER_GET (CON POST `c/cg`, with a Get TLV listing `wanted` TLV types,
    /// or none for all) directly to the Border Agent, which answers it itself from the leader's
    /// Commissioning Data (OpenThread `BorderAgent::CoapDtlsSession::HandleTmfDatasetGet`; it
    /// does so even before the petition is accepted). Retransmitted per RFC 7252 like the other
    /// requests. The answer is [`Event::CommissionerDataset`] (or [`Event::CommissionerGetFailed`])
    /// with the returned request id. Errors: no DTLS session ([`Error::NotConnected`]), or
    /// [`MAX_OUTSTANDING_GETS`] already waiting.
    pub fn commissioner_get(&mut self, now: Instant, wanted: &[u8]) -> Result<u32, Error> {
        if !matches!(self.state, State::Petitioning | State::Active) || self.ba.is_none() {
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

    // ----- joiner table -----

    /// Adds an entry, or replaces the entry of the same kind. Updates the steering data.
    pub fn add(&mut self, now: Instant, entry: JoinerEntry) -> Result<(), Error> {
        self.joined.retain(|k| *k != entry.kind);
        if let Some(e) = self.entries.iter_mut().find(|e| e.kind == entry.kind) {
            *e = entry;
        } else {
            if self.entries.len() >= self.config.max_entries {
                return Err(Error::TableFull {
                    max: self.config.max_entries,
                });
            }
            tracing::info!(entry = %entry.kind, "joiner entry added");
            self.entries.push(entry);
        }
        self.table_changed(now);
        Ok(())
    }

    /// Removes the entry of this kind; false when there was none. Sessions already started with
    /// it continue.
    pub fn remove(&mut self, now: Instant, kind: &JoinerKind) -> bool {
        let before = self.entries.len();
        self.entries.retain(|e| e.kind != *kind);
        self.joined.retain(|k| k != kind);
        if self.entries.len() == before {
            return false;
        }
        self.events.push_back(Event::EntryRemoved {
            kind: *kind,
            reason: RemovalReason::Operator,
        });
        self.table_changed(now);
        true
    }

    /// The table, without PSKds.
    pub fn list(&self) -> Vec<EntryInfo> {
        self.entries
            .iter()
            .map(|e| EntryInfo {
                kind: e.kind,
                joiner_id: match &e.kind {
                    JoinerKind::Eui64(x) => Some(hex::encode(credentials::joiner_id(x))),
                    _ => None,
                },
                expires_at: e.expires_at,
                joined: self.joined.contains(&e.kind),
            })
            .collect()
    }

    // ----- inputs -----

    /// A datagram from the Border Agent's port.
    pub fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) {
        let span = self.span();
        let _guard = span.enter();
        match self.ba.as_mut() {
            Some(ba) => ba.handle_datagram(now, datagram),
            None => {
                self.dropped("datagram from the border agent without a DTLS session".into());
                return;
            }
        }
        self.pump_ba(now);
    }

    /// Runs every timer that is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let span = self.span();
        let _guard = span.enter();
        if let Some(ba) = self.ba.as_mut() {
            ba.handle_timeout(now);
        }
        self.pump_ba(now);

        if self.retry_at.is_some_and(|t| now >= t) {
            self.retry_at = None;
            self.start(now);
        }

        if let Some(why) = self.ba_exchange_timeout(now, |c| &mut c.petition) {
            self.lose(
                now,
                Event::PetitionRejected {
                    reason: format!("petition: {why}"),
                },
                true,
            );
        }
        if let Some(why) = self.ba_exchange_timeout(now, |c| &mut c.keep_alive) {
            self.lose(
                now,
                Event::KeepAliveFailed {
                    reason: format!("keep-alive: {why}"),
                },
                true,
            );
        }
        if self.ba_exchange_timeout(now, |c| &mut c.resign).is_some() {
            self.finish_resign();
        }
        if self.state == State::Resigning && self.resign_deadline.is_some_and(|t| now >= t) {
            self.finish_resign();
        }
        if let Some(t) = self.comm_set.as_mut().and_then(|s| s.ex.on_timeout(now)) {
            match t {
                ExchangeTimeout::Resend(b) => self.send_to_leader(&b),
                ExchangeTimeout::Failed(why) => {
                    self.comm_set = None;
                    self.events.push_back(Event::SteeringDataRejected {
                        reason: format!("MGMT_COMMISSIONER_SET: {why}"),
                    });
                }
            }
        }
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
        if self.state == State::Active && self.next_keep_alive.is_some_and(|t| now >= t) {
            self.next_keep_alive = Some(now + self.config.keep_alive_interval);
            if self.keep_alive.is_none() {
                let mid = self.mid();
                let token = self.token();
                if let Ok(req) = coap::keep_alive(mid, &token, self.session_id.unwrap_or(0), true) {
                    self.keep_alive = self.send_con(now, req);
                }
            }
        }

        // Entry expiry.
        let mut expired = Vec::new();
        self.entries.retain(|e| {
            if e.expires_at <= now {
                expired.push(e.kind);
                false
            } else {
                true
            }
        });
        if !expired.is_empty() {
            for kind in expired {
                if self.joined.contains(&kind) {
                    self.joined.retain(|k| *k != kind);
                    tracing::info!(entry = %kind, "joined entry removed after its linger");
                    self.events.push_back(Event::EntryRemoved {
                        kind,
                        reason: RemovalReason::Joined,
                    });
                } else {
                    tracing::info!(entry = %kind, "joiner entry expired");
                    self.events.push_back(Event::EntryExpired { kind });
                }
            }
            self.table_changed(now);
        }

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

    // ----- Border Agent session -----

    fn span(&self) -> tracing::Span {
        tracing::info_span!("commissioner", id = %self.config.commissioner_id, session_id = ?self.session_id)
    }

    fn pump_ba(&mut self, now: Instant) {
        loop {
            let Some(ba) = self.ba.as_mut() else { return };
            while let Some(d) = ba.poll_transmit() {
                self.out.push_back(d);
            }
            let Some(ev) = ba.poll_event() else { return };
            match ev {
                dtls::Event::Connected => self.on_ba_connected(now),
                dtls::Event::ApplicationData(d) => self.on_ba_message(now, &d),
                dtls::Event::Closed => match self.state {
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
                    if self.state == State::Resigning {
                        self.finish_resign();
                        continue;
                    }
                    let ev = match e {
                        dtls::Error::BadPassword => {
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

    fn ba_send(&mut self, bytes: &[u8]) {
        let Some(ba) = self.ba.as_mut() else { return };
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
    fn ba_exchange_timeout(
        &mut self,
        now: Instant,
        slot: fn(&mut Self) -> &mut Option<Exchange>,
    ) -> Option<&'static str> {
        match slot(self).as_mut()?.on_timeout(now)? {
            ExchangeTimeout::Resend(b) => {
                self.ba_send(&b);
                None
            }
            ExchangeTimeout::Failed(why) => {
                *slot(self) = None;
                Some(why)
            }
        }
    }

    /// Matches `msg` against the Border Agent exchange in `slot` (`Unrelated` when there is
    /// none): an empty ACK stops its retransmissions and starts the wait for the separate
    /// response; a reset or the response clears the slot.
    fn ba_exchange_response(
        &mut self,
        now: Instant,
        msg: &Message,
        slot: fn(&mut Self) -> &mut Option<Exchange>,
    ) -> ResponseMatch {
        let wait = self.config.separate_response_timeout;
        let Some(ex) = slot(self).as_mut() else {
            return ResponseMatch::Unrelated;
        };
        let m = match_response(&ex.request, msg);
        match m {
            ResponseMatch::EmptyAck => {
                ex.retx.acknowledge();
                ex.response_deadline = Some(now + wait);
            }
            ResponseMatch::Reset | ResponseMatch::Response => *slot(self) = None,
            ResponseMatch::Unrelated => {}
        }
        m
    }

    fn close_ba(&mut self) {
        if let Some(ba) = self.ba.as_mut() {
            ba.close();
            while let Some(d) = ba.poll_transmit() {
                self.out.push_back(d);
            }
        }
        self.ba = None;
    }

    /// Sends a confirmable request directly to the Border Agent; its retransmission state.
    fn send_con(&mut self, now: Instant, req: Message) -> Option<Exchange> {
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

    fn on_ba_connected(&mut self, now: Instant) {
        tracing::info!("border agent DTLS session established; petitioning");
        self.state = State::Petitioning;
        let mid = self.mid();
        let token = self.token();
        match coap::petition(mid, &token, &self.config.commissioner_id) {
            Ok(req) => self.petition = self.send_con(now, req),
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
    fn lose(&mut self, now: Instant, event: Event, send_close: bool) {
        if send_close {
            self.close_ba();
        } else {
            self.ba = None;
        }
        self.teardown();
        tracing::info!(event = ?event, "commissioner session ended");
        self.events.push_back(event);
        self.schedule_retry(now);
    }

    fn schedule_retry(&mut self, now: Instant) {
        if self.config.auto_retry {
            self.retry_at = Some(now + self.backoff);
            self.backoff = (self.backoff * 2).min(self.config.retry_max);
            self.state = State::WaitingRetry;
        } else {
            self.state = State::Idle;
        }
    }

    fn finish_resign(&mut self) {
        self.close_ba();
        self.teardown();
        self.state = State::Idle;
        tracing::info!("resigned");
        self.events.push_back(Event::Resigned);
    }

    fn teardown(&mut self) {
        self.session_id = None;
        self.petition = None;
        self.keep_alive = None;
        self.resign = None;
        self.resign_deadline = None;
        self.comm_set = None;
        self.steering_acked = None;
        self.next_keep_alive = None;
        for g in std::mem::take(&mut self.gets) {
            self.events.push_back(Event::CommissionerGetFailed {
                request: g.id,
                reason: "the border agent session ended".into(),
            });
        }
        self.end_joiner_sessions("border agent session ended");
    }

    fn end_joiner_sessions(&mut self, why: &str) {
        for (_, s) in std::mem::take(&mut self.sessions) {
            if !s.entrusted {
                self.events.push_back(Event::JoinerHandshakeFailed {
                    joiner: s.info,
                    reason: HandshakeFailure::Protocol(why.into()),
                });
            }
        }
    }

    fn activate(&mut self, now: Instant, session_id: u16) {
        tracing::info!(session_id, "petition accepted; commissioner active");
        self.state = State::Active;
        self.session_id = Some(session_id);
        self.backoff = self.config.retry_initial;
        self.next_keep_alive = Some(now + self.config.keep_alive_interval);
        self.events
            .push_back(Event::PetitionAccepted { session_id });
        self.send_comm_set(now);
    }

    fn on_ba_message(&mut self, now: Instant, bytes: &[u8]) {
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
                    if msg.needs_ack() {
                        if let Ok(r) = Message::response(
                            MsgType::Ack,
                            Code::NOT_FOUND,
                            msg.message_id,
                            &msg.token,
                            &[],
                        ) {
                            self.send_plain(&r);
                        }
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
        match self.ba_exchange_response(now, &msg, |c| &mut c.petition) {
            ResponseMatch::EmptyAck => return,
            ResponseMatch::Reset => {
                return self.lose(
                    now,
                    Event::PetitionRejected {
                        reason: "border agent reset (RST) the petition".into(),
                    },
                    true,
                );
            }
            ResponseMatch::Response => return self.on_petition_response(now, &msg),
            ResponseMatch::Unrelated => {}
        }
        // Keep-alive.
        match self.ba_exchange_response(now, &msg, |c| &mut c.keep_alive) {
            ResponseMatch::EmptyAck => return,
            ResponseMatch::Reset => {
                return self.lose(
                    now,
                    Event::KeepAliveFailed {
                        reason: "border agent reset (RST) the keep-alive".into(),
                    },
                    true,
                );
            }
            ResponseMatch::Response => {
                let state = msg.state().ok();
                if msg.code.is_success() && state == Some(tlv::state::ACCEPT) {
                    // Retry steering data the leader has not taken yet.
                    if self.comm_set.is_none()
                        && self.steering_acked.as_ref() != Some(&self.desired_steering())
                    {
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
        if let Some(ex) = self.resign.as_mut() {
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
        let found = self.gets.iter().enumerate().find_map(|(i, g)| {
            match match_response(&g.ex.request, &msg) {
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
            return;
        }
        self.dropped(format!(
            "unmatched {:?} {:?} from the border agent",
            msg.typ, msg.code
        ));
    }

    fn on_petition_response(&mut self, now: Instant, msg: &Message) {
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
                if let Some(id) = other.filter(|id| *id != self.config.commissioner_id) {
                    reason.push_str(&format!(" (active commissioner: {id:?})"));
                }
                tracing::warn!(%reason, "petition rejected");
                self.lose(now, Event::PetitionRejected { reason }, true);
            }
        }
    }

    fn send_plain(&mut self, m: &Message) {
        match m.encode() {
            // One CoAP message per DTLS record: a larger one would be split and garbled.
            Ok(b) if b.len() > MAX_BA_MESSAGE => {
                tracing::warn!(len = b.len(), uri = %m.uri_path, "CoAP message too large for one DTLS record; not sent")
            }
            Ok(b) => self.ba_send(&b),
            Err(e) => tracing::debug!(error = %e, "cannot encode CoAP message"),
        }
    }

    fn mid(&mut self) -> u16 {
        self.next_mid = self.next_mid.wrapping_add(1);
        self.next_mid
    }

    fn token(&mut self) -> Vec<u8> {
        let mut t = vec![0u8; 4];
        self.rng.fill_bytes(&mut t);
        t
    }

    fn dropped(&mut self, reason: String) {
        tracing::debug!(%reason, "dropped input");
        self.stats.dropped += 1;
        self.stats.last_drop_reason = Some(reason);
    }

    // ----- steering data through the UDP proxy -----

    fn desired_steering(&self) -> SteeringData {
        if self.entries.iter().any(|e| e.kind == JoinerKind::Any) {
            return SteeringData::allow_any();
        }
        let mut s = SteeringData::default();
        for e in &self.entries {
            match &e.kind {
                JoinerKind::Eui64(x) => s.add_eui64(x),
                JoinerKind::Discerner(d) => s.add_discerner(d),
                JoinerKind::Any => {}
            }
        }
        s
    }

    fn table_changed(&mut self, now: Instant) {
        if self.state != State::Active {
            return;
        }
        let want = self.desired_steering();
        let in_flight = self.comm_set.as_ref().map(|s| &s.steering);
        if in_flight == Some(&want)
            || (in_flight.is_none() && self.steering_acked.as_ref() == Some(&want))
        {
            return;
        }
        self.send_comm_set(now);
    }

    fn leader_aloc(&self) -> Ipv6Addr {
        coap::leader_aloc(&self.config.mesh_local_prefix)
    }

    /// Wraps a CoAP message for the leader (port 61631) in UDP_TX.
    fn send_to_leader(&mut self, inner: &[u8]) {
        let dst = self.leader_aloc();
        self.send_udp_proxy(coap::TMF_PORT, dst, coap::TMF_PORT, inner);
    }

    fn send_udp_proxy(&mut self, src_port: u16, dst: Ipv6Addr, dst_port: u16, payload: &[u8]) {
        let mid = self.mid();
        let token = self.token();
        match coap::udp_tx(mid, &token, src_port, dst, dst_port, payload) {
            Ok(m) => self.send_plain(&m),
            Err(e) => tracing::debug!(error = %e, "cannot encode UDP_TX"),
        }
    }

    fn send_comm_set(&mut self, now: Instant) {
        let Some(sid) = self.session_id else { return };
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
        self.comm_set = Some(SetExchange {
            ex: Exchange {
                request: req,
                retx,
                response_deadline: None,
            },
            steering,
        });
    }

    fn on_udp_rx(&mut self, now: Instant, msg: &Message) {
        let rx = match UdpRx::from_message(msg) {
            Ok(r) => r,
            Err(e) => return self.dropped(format!("UDP_RX: {e}")),
        };
        let inner = match Message::parse(&rx.payload) {
            Ok(m) => m,
            Err(e) => return self.dropped(format!("UDP_RX payload: {e}")),
        };
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
        let Some(set) = self.comm_set.as_mut() else {
            return self.dropped("UDP_RX answer with no MGMT_COMMISSIONER_SET outstanding".into());
        };
        match match_response(&set.ex.request, &inner) {
            ResponseMatch::EmptyAck => {
                set.ex.retx.acknowledge();
                set.ex.response_deadline = Some(now + self.config.separate_response_timeout);
            }
            ResponseMatch::Reset => {
                self.comm_set = None;
                self.events.push_back(Event::SteeringDataRejected {
                    reason: "the leader reset (RST) MGMT_COMMISSIONER_SET".into(),
                });
            }
            ResponseMatch::Response => {
                let Some(set) = self.comm_set.take() else {
                    return;
                };
                let state = inner.state().ok();
                if inner.code.is_success() && state == Some(tlv::state::ACCEPT) {
                    let hex = hex::encode(set.steering.as_bytes());
                    tracing::info!(steering = %hex, "steering data accepted by the leader");
                    self.steering_acked = Some(set.steering);
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

    // ----- joiner sessions -----

    fn best_entry(&self, now: Instant, joiner_id: &[u8; 8]) -> Option<&JoinerEntry> {
        self.entries
            .iter()
            .filter(|e| e.expires_at > now && e.kind.matches(joiner_id))
            .max_by_key(|e| e.kind.rank())
    }

    fn on_relay_rx(&mut self, now: Instant, msg: &Message) {
        if self.state != State::Active {
            return self.dropped("RLY_RX while not active".into());
        }
        let rx = match RelayRx::from_message(msg) {
            Ok(r) => r,
            Err(e) => return self.dropped(format!("RLY_RX: {e}")),
        };
        let key = (rx.from.joiner_iid, rx.from.joiner_router_locator);
        let hello = parse_client_hello(&rx.dtls_record);
        if let Some(mut s) = self.sessions.remove(&key) {
            // A ClientHello with another random is a new handshake (the joiner started over);
            // anything else belongs to the session in progress.
            let restart = hello.is_some_and(|(_, random)| random != s.client_random);
            if !restart {
                s.addr.joiner_udp_port = rx.from.joiner_udp_port;
                s.info.joiner_port = rx.from.joiner_udp_port;
                s.conn.handle_datagram(now, &rx.dtls_record);
                return self.pump_session(now, s);
            }
            self.sessions.insert(key, s);
        }
        let Some((_, random)) = hello else {
            return self.dropped(
                "RLY_RX: a DTLS record other than ClientHello from a joiner without a session"
                    .into(),
            );
        };
        self.start_session(now, &rx.from, &rx.dtls_record, random);
    }

    /// Answers a ClientHello statelessly (HelloVerifyRequest) until it carries a valid cookie; then
    /// keeps the session (replacing an older one of the same joiner).
    fn start_session(
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
        let verified = output
            .iter()
            .any(|d| d.len() > 13 && d[0] == 22 && d[13] == 2);
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
    fn pump_session(&mut self, now: Instant, mut s: JoinerSession) {
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
    fn relay_out(&mut self, s: &mut JoinerSession, kek: Option<&Kek>) {
        let mut output = Vec::new();
        while let Some(d) = s.conn.poll_transmit() {
            output.push(d);
        }
        self.relay_datagrams(&s.addr, output, kek);
    }

    /// RLY_TX.ntf per datagram: Joiner UDP Port, Joiner IID, Joiner Router Locator, [Joiner Router
    /// KEK], Joiner DTLS Encapsulation (OpenThread's order).
    fn relay_datagrams(&mut self, to: &JoinerAddr, datagrams: Vec<Vec<u8>>, kek: Option<&Kek>) {
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

    fn on_joiner_message(&mut self, now: Instant, s: &mut JoinerSession, bytes: &[u8]) {
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
        if msg.needs_ack() {
            if let Ok(r) = Message::response(
                MsgType::Ack,
                Code::NOT_FOUND,
                msg.message_id,
                &msg.token,
                &[],
            )
            .and_then(|r| r.encode())
            {
                let _ = s.conn.send(&r);
            }
        }
        self.dropped(format!(
            "unexpected request {:?} from joiner {}",
            msg.uri_path, s.info.joiner_id
        ));
    }

    fn on_join_fin(&mut self, now: Instant, s: &mut JoinerSession, msg: &Message) {
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

/// If `d` starts with a ClientHello record (epoch 0, first fragment): its cookie length and
/// client random.
fn parse_client_hello(d: &[u8]) -> Option<(usize, [u8; 32])> {
    // Record header (13) + handshake header (12) + version (2) + random (32) + session id length.
    if d.len() < 13 + 12 + 2 + 32 + 1 || d[0] != 22 || d[3] != 0 || d[4] != 0 || d[13] != 1 {
        return None;
    }
    if d[22..25] == [0, 0, 0] || d[19..22] != [0, 0, 0] {
        return None;
    }
    let mut random = [0u8; 32];
    random.copy_from_slice(&d[27..59]);
    let sid_len = *d.get(59)? as usize;
    d.get(60 + sid_len).map(|&n| (n as usize, random))
}
