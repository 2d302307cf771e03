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
//! - Network diagnostics ([`Commissioner::diag_query`], `diag.rs`): DIAG_GET.qry (`d/dq`) to
//!   `ff03::1` through the UDP proxy; each node's DIAG_GET.ans (`d/da`) is ACKed through the proxy
//!   and parsed ([`crate::netdiag::DiagAnswer`]) for [`Commissioner::poll_diag_answer`] (a queue
//!   of its own, not an [`Event`]). Live: both `ot-cli-ftd` nodes (router, `mode rn` child)
//!   answered within 1 s; the Border Agent's own node does not (its proxy sends without
//!   multicast loop).
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
//!   ClientHello after it had passed the cookie exchange) gets a fresh session, at most once per
//!   `restart_interval`, never for a replay of an earlier ClientHello.
//! - Joiners are unauthenticated until their Finished: before any EC-JPAKE work the cookie is
//!   checked (HMAC only; keys rotate every `cookie_lifetime`), then the restart rule, the slots
//!   (a full table or joiner router evicts its oldest unauthenticated session, wildcard and
//!   discerner ones first) and the handshake rates ([`JoinerLimits`]); a session that has not
//!   authenticated within `unauthenticated_timeout` ends; its joiner UDP port changes only on a
//!   record that authenticated; its events are limited ([`Stats::suppressed_events`]).
//!
//! Layout (one file per owned sub-state; this file is the router: inputs, the timer table,
//! observers; it sends what the joiner sessions return, wrapped in RLY_TX):
//! `border_agent.rs` the Border Agent session (petition, keep-alive, resignation, retry),
//! `leader.rs` the leader client (COMM_GET, COMM_SET through the UDP proxy; the next MGMT_*
//! requests go there), `joiners.rs` joiner sessions and JOIN_FIN, `admission.rs` what
//! unauthenticated joiners may cost (cookie keys, rates, event limits), `table.rs` the joiner table and
//! its steering data, `events.rs` the outputs, `rng.rs` [`SeededRng`]. ClientHello peeking is
//! [`dtls::peek_client_hello`].
//! One timer table: `Commissioner::timers` asks each sub-state (Border Agent session, each
//! MGMT_COMMISSIONER_GET, the joiner table, the joiner sessions) for its next deadline, keyed by
//! a `Timer`; [`Commissioner::poll_timeout`] is its minimum and
//! [`Commissioner::handle_timeout`] runs the handlers of the due keys. Each sub-state keeps its
//! own deadlines.
//!
//! The co-processor's Border Agent is an input ([`Commissioner::set_border_agent`]): the caller
//! reports a reset (`None`) and the port it finds active (`Some(port)`); the state machine alone
//! decides when to connect and re-petition (after the backoff, or at once when the port comes back
//! after a reset). The caller decides only whether it wants a session ([`Commissioner::start`],
//! [`Commissioner::stop`]).
//!
//! Guarantees: no panic on any input; malformed input (bad DTLS, CoAP, TLVs) is dropped and
//! counted in [`Stats`] without losing state; no PSKc, PSKd, KEK or key block appears in any
//! event, error or `Debug` output.
//!
//! Validated: in-memory tests against a fake Border Agent and fake joiners built from this crate's
//! DTLS server/client and CoAP codec (see `commissioner/tests/`), and a proptest feeding garbage.
//! Live (`commissioner/tests/live.rs`, run when `OT_NCP_FTD` and `OT_CLI_FTD` are set) against the
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

mod admission;
mod border_agent;
mod diag;
mod events;
#[doc(hidden)]
pub mod fuzzing;
mod joiners;
mod leader;
mod rng;
mod table;

pub use admission::{JoinerLimits, Rate};
use border_agent::Session;
pub use events::{
    CommissionerDataset, Event, HandshakeFailure, JoinerInfo, RemovalReason, Stats, VendorInfo,
};
use joiners::{JoinerCx, JoinerOutput, Joiners, RelayTx};
pub use rng::SeededRng;
pub use table::{EntryInfo, JoinerEntry, JoinerKind};

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
    /// Re-petition interval, flat, while the leader names another active commissioner (10 s).
    pub retry_other_commissioner: Duration,
    /// How long to wait for a separate response after an empty ACK (default 15 s).
    pub separate_response_timeout: Duration,
    /// How long [`Commissioner::stop`] waits for the answer to the resigning COMM_KA (default 5 s).
    pub resign_timeout: Duration,
    /// Largest number of concurrent joiner sessions (default 32); a new one evicts the oldest
    /// unauthenticated session at least `joiner_limits.evictable_after` old (wildcard and
    /// discerner ones first), or is dropped when there is none.
    pub max_joiner_sessions: usize,
    /// Rates, quotas, timeouts and event limits for unauthenticated joiners (see [`JoinerLimits`]).
    pub joiner_limits: JoinerLimits,
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
            retry_other_commissioner: Duration::from_secs(10),
            separate_response_timeout: Duration::from_secs(15),
            resign_timeout: Duration::from_secs(5),
            max_joiner_sessions: 32,
            joiner_limits: JoinerLimits::default(),
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
    /// The petition has not been accepted (or the session ended): not active.
    #[error("the commissioner is not active (its petition has not been accepted)")]
    NotActive,
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

/// The Border Agent's port as the caller reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BorderAgentPort {
    /// Never reported: the caller delivers datagrams itself (tests, embedders).
    Unmanaged,
    /// Gone with a co-processor reset: no handshake until it is known again.
    Lost,
    Known(u16),
}

/// What a deadline is for: the keys of the timer table ([`Commissioner::timers`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// The Border Agent session: DTLS retransmission, petition / keep-alive / resign / COMM_SET
    /// exchanges, the next keep-alive, the resign deadline, the retry.
    Session,
    /// An outstanding MGMT_COMMISSIONER_GET, by request id.
    Get(u32),
    /// The joiner table's earliest entry expiry.
    EntryExpiry,
    /// The joiner sessions: their lifetimes and DTLS retransmissions.
    Joiners,
}

/// The commissioner. See the module documentation.
pub struct Commissioner {
    config: Config,
    rng: Box<dyn CryptoRng + Send>,
    /// The Border Agent session and everything valid only in its current state.
    session: Session,
    next_mid: u16,
    gets: Vec<GetExchange>,
    next_get_id: u32,
    /// What the caller last told [`Commissioner::set_border_agent`].
    border_agent: BorderAgentPort,
    backoff: Duration,
    entries: Vec<JoinerEntry>,
    /// Kinds of entries whose joiner was entrusted (lingering until their expiry).
    joined: Vec<JoinerKind>,
    /// The joiner sessions (they return RLY_TX payloads; [`Commissioner::with_joiners`] sends them).
    joiners: Joiners,
    out: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    stats: Stats,
    /// Network diagnostics ([`Commissioner::diag_query`]): the last request id, the recent ones
    /// an answer may match, the answers not yet polled.
    diag_next_id: u64,
    diag_recent: VecDeque<u64>,
    diag_out: VecDeque<(u64, crate::netdiag::DiagAnswer)>,
    /// The Commissioner ID the leader named in its last rejection of our petition.
    other_commissioner: Option<String>,
}

impl fmt::Debug for Commissioner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Commissioner")
            .field("commissioner_id", &self.config.commissioner_id)
            .field("state", &self.state())
            .field("session_id", &self.session_id())
            .field("entries", &self.entries.len())
            .field("joiner_sessions", &self.joiners.len())
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
            session: Session::Idle,
            next_mid,
            gets: Vec::new(),
            next_get_id: 0,
            border_agent: BorderAgentPort::Unmanaged,
            backoff,
            entries: Vec::new(),
            joined: Vec::new(),
            joiners: Joiners::new(cookie_key),
            out: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            diag_next_id: 0,
            diag_recent: VecDeque::new(),
            diag_out: VecDeque::new(),
            other_commissioner: None,
        }
    }

    /// A commissioner whose generator is [`SeededRng`] from a 32-byte secret seed.
    pub fn with_seed(config: Config, seed: [u8; 32]) -> Commissioner {
        Commissioner::new(config, Box::new(SeededRng::from_seed(seed)))
    }

    // ----- observers -----

    pub fn state(&self) -> State {
        self.session.state()
    }
    /// The Commissioner Session ID while active.
    pub fn session_id(&self) -> Option<u16> {
        self.session.active().map(|a| a.session_id)
    }
    /// The other commissioner the leader named when it last rejected our petition (cleared once
    /// a petition of ours is accepted): while set, we re-petition every
    /// `retry_other_commissioner` instead of backing off.
    pub fn other_commissioner(&self) -> Option<&str> {
        self.other_commissioner.as_deref()
    }
    pub fn config(&self) -> &Config {
        &self.config
    }
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
    /// Number of joiner sessions in progress.
    pub fn joiner_sessions(&self) -> usize {
        self.joiners.len()
    }
    /// Number of verified ClientHellos waiting for a session slot or a handshake token
    /// ([`JoinerLimits::max_waiting`]).
    pub fn waiting_joiners(&self) -> usize {
        self.joiners.waiting()
    }
    /// The steering data the table calls for (what is or will be sent).
    pub fn steering_data(&self) -> SteeringData {
        self.desired_steering()
    }
    /// The steering data the leader last accepted in this session.
    pub fn steering_data_acked(&self) -> Option<&SteeringData> {
        self.session
            .active()
            .and_then(|a| a.steering_acked.as_ref())
    }

    /// The next datagram for the Border Agent's port.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }
    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next: the earliest entry of
    /// the timer table.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers().map(|(_, t)| t).min()
    }

    // ----- lifecycle -----

    /// Starts (or restarts now, when waiting for a retry) the DTLS handshake with the Border
    /// Agent; the petition follows. No effect while connecting, petitioning, active or resigning.
    pub fn start(&mut self, now: Instant) {
        if !matches!(self.state(), State::Idle | State::WaitingRetry) {
            return;
        }
        self.session = Session::Idle;
        if self.border_agent == BorderAgentPort::Lost {
            // No Border Agent to talk to: connect once `set_border_agent` names its port.
            self.session = Session::WaitingRetry { retry_at: None };
            return;
        }
        let mut c = dtls::Config::client(self.config.pskc.as_bytes());
        c.initial_retransmit_timeout = self.config.ba_dtls_initial_retransmit;
        c.max_retransmit_timeout = self.config.ba_dtls_max_retransmit;
        let rng = Box::new(SeededRng::fork(&mut *self.rng));
        match dtls::Connection::client(c, rng, now) {
            Ok(conn) => {
                tracing::info!(commissioner_id = %self.config.commissioner_id, "connecting to the border agent");
                self.session = Session::Connecting { conn };
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
        match self.state() {
            State::Idle | State::Resigning => {}
            State::WaitingRetry => self.session = Session::Idle,
            State::Active => {
                let sid = self.session_id().unwrap_or(0);
                self.end_joiner_sessions("commissioner stopped");
                let mid = self.mid();
                let token = self.token();
                match coap::keep_alive(mid, &token, sid, false) {
                    Ok(req) => {
                        // The keep-alive and MGMT_COMMISSIONER_SET exchanges end with Active.
                        let Some(conn) = self.session.take_conn() else {
                            return;
                        };
                        self.session = Session::Resigning {
                            conn,
                            resign: None,
                            deadline: now + self.config.resign_timeout,
                        };
                        let ex = self.send_con(now, req);
                        if let Some(slot) = self.session.resign() {
                            *slot = ex;
                        }
                        tracing::info!(session_id = sid, "resigning");
                    }
                    Err(_) => self.finish_resign(),
                }
            }
            State::Connecting | State::Petitioning => {
                self.close_ba();
                self.teardown();
                self.session = Session::Idle;
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
        match self.state() {
            State::Idle | State::WaitingRetry => {}
            State::Resigning => {
                self.session.take_conn();
                self.teardown();
                self.session = Session::Idle;
                self.events.push_back(Event::Resigned);
            }
            _ => {
                self.session.take_conn();
                self.teardown();
                self.events.push_back(Event::Disconnected {
                    reason: "co-processor reset".into(),
                });
                self.schedule_retry(now);
            }
        }
    }

    /// What the caller observes of the co-processor's Border Agent: `None` after a co-processor
    /// reset (the Border Agent and our session with it are gone: as [`reset`](Self::reset), and
    /// no handshake starts until a port is known again), `Some(port)` when it is active on that
    /// UDP port. A session that was waiting for the port (after a reset) starts at once; an idle
    /// one waits for [`start`](Self::start). Until the first call the caller routes datagrams
    /// itself and the port is not needed.
    pub fn set_border_agent(&mut self, now: Instant, port: Option<u16>) {
        match port {
            None => {
                self.border_agent = BorderAgentPort::Lost;
                self.reset(now);
            }
            Some(p) => {
                let was_lost = self.border_agent == BorderAgentPort::Lost;
                self.border_agent = BorderAgentPort::Known(p);
                if was_lost && self.state() == State::WaitingRetry {
                    self.start(now);
                }
            }
        }
    }

    /// The Border Agent's UDP port, as last given to [`set_border_agent`](Self::set_border_agent)
    /// (`None` when unknown): where [`poll_transmit`](Self::poll_transmit)'s datagrams go.
    pub fn border_agent_port(&self) -> Option<u16> {
        match self.border_agent {
            BorderAgentPort::Known(p) => Some(p),
            _ => None,
        }
    }

    /// Whether the session waits for [`set_border_agent`](Self::set_border_agent) to name the
    /// Border Agent's port (after a co-processor reset) before it can connect.
    pub fn awaiting_border_agent(&self) -> bool {
        self.border_agent == BorderAgentPort::Lost
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

    // ----- inputs -----

    /// A datagram from the Border Agent's port.
    pub fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) {
        let span = self.span();
        let _guard = span.enter();
        match self.session.conn_mut() {
            Some(ba) => ba.handle_datagram(now, datagram),
            None => {
                self.dropped("datagram from the border agent without a DTLS session".into());
                return;
            }
        }
        self.pump_ba(now);
    }

    /// Runs the timers due at `now`: the sub-states whose entry in the timer table
    /// (`timers`) is due, in a fixed order (Border Agent session, leader
    /// requests, joiner table, joiner sessions).
    pub fn handle_timeout(&mut self, now: Instant) {
        let span = self.span();
        let _guard = span.enter();
        let due: Vec<Timer> = self
            .timers()
            .filter(|&(_, t)| t <= now)
            .map(|(k, _)| k)
            .collect();
        if due.contains(&Timer::Session) {
            self.session_timeout(now);
        }
        if due.iter().any(|k| matches!(k, Timer::Get(_))) {
            self.gets_timeout(now);
        }
        if due.contains(&Timer::EntryExpiry) {
            self.expire_entries(now);
        }
        if due.contains(&Timer::Joiners) {
            self.with_joiners(now, |j, cx| j.handle_timeout(cx, now));
        }
    }

    /// The one timer table: each sub-state's next deadline, keyed by what it is for. Each
    /// sub-state keeps its own deadlines; this asks each in turn.
    fn timers(&self) -> impl Iterator<Item = (Timer, Instant)> + '_ {
        let session = self.session.poll_timeout().map(|t| (Timer::Session, t));
        let gets = self
            .gets
            .iter()
            .filter_map(|g| g.ex.poll_timeout().map(|t| (Timer::Get(g.id), t)));
        let entries = self.entries.iter().map(|e| e.expires_at).min();
        let joiners = self.joiners.poll_timeout().map(|t| (Timer::Joiners, t));
        session
            .into_iter()
            .chain(gets)
            .chain(entries.map(|t| (Timer::EntryExpiry, t)))
            .chain(joiners)
    }

    fn span(&self) -> tracing::Span {
        tracing::info_span!("commissioner", id = %self.config.commissioner_id, session_id = ?self.session_id())
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

    // ----- joiner sessions -----

    /// An RLY_RX from the Border Agent: its joiner datagram goes to the joiner sessions.
    fn on_relay_rx(&mut self, now: Instant, msg: &Message) {
        if self.state() != State::Active {
            return self.dropped("RLY_RX while not active".into());
        }
        let rx = match RelayRx::from_message(msg) {
            Ok(r) => r,
            Err(e) => return self.dropped(format!("RLY_RX: {e}")),
        };
        self.with_joiners(now, |j, cx| {
            j.on_relay_rx(cx, now, &rx);
            j.after_input(cx, now);
        });
    }

    /// Runs `f` on the joiner sessions, then does what it asked for, in order: drops counted,
    /// events queued, RLY_TX payloads wrapped and sent, entrusted joiners' entries consumed.
    fn with_joiners(&mut self, now: Instant, f: impl FnOnce(&mut Joiners, &mut JoinerCx<'_>)) {
        let mut cx = JoinerCx {
            config: &self.config,
            entries: &self.entries,
            rng: &mut *self.rng,
            next_mid: &mut self.next_mid,
            out: JoinerOutput::default(),
        };
        f(&mut self.joiners, &mut cx);
        let JoinerOutput {
            relays,
            events,
            drops,
            unknown_joiners,
            entrusted,
            handshakes,
            refused,
            suppressed,
        } = cx.out;
        self.stats.unknown_joiners += unknown_joiners;
        self.stats.joiner_handshakes += handshakes;
        self.stats.refused_handshakes += refused;
        self.stats.suppressed_events += suppressed;
        for d in drops {
            self.dropped(d);
        }
        self.events.extend(events);
        for r in relays {
            self.relay_tx(r);
        }
        for kind in entrusted {
            self.stats.joined += 1;
            self.consume_entry(now, kind);
        }
    }

    /// RLY_TX.ntf: Joiner UDP Port, Joiner IID, Joiner Router Locator, [Joiner Router KEK], Joiner
    /// DTLS Encapsulation (OpenThread's order), in the Border Agent session.
    fn relay_tx(&mut self, r: RelayTx) {
        let RelayTx {
            message_id,
            to,
            record,
            kek,
        } = r;
        let token = self.token();
        let mut tlvs = vec![
            Tlv::joiner_udp_port(to.joiner_udp_port),
            Tlv::joiner_iid(&to.joiner_iid),
            Tlv::joiner_router_locator(to.joiner_router_locator),
        ];
        if let Some(k) = &kek {
            tlvs.push(Tlv::joiner_router_kek(k));
        }
        tlvs.push(Tlv::joiner_dtls_encapsulation(record));
        match Message::post(false, uri::RLY_TX, message_id, &token, &tlvs) {
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
