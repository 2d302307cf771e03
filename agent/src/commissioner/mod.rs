//! The on-mesh commissioner service: the I/O around `meshcop::commissioner::Commissioner`.
//!
//! - Border Agent path: the co-processor's Border Agent is reached through the Spinel UDP forward
//!   stream (`THREAD_UDP_FORWARD_STREAM`, `dS6S`: u16 LE length + payload, u16 LE peer port,
//!   16-byte peer address, u16 LE local port). We SET it with peer = [`PEER_ADDR`]:[`PEER_PORT`]
//!   (a made-up address of ours) and local port = the Border Agent's UDP port from
//!   `BORDER_AGENT_MESHCOP_SERVICE_STATE` (`b` active, `S` port, `D` TXT); the co-processor hands
//!   the payload to its UDP stack as if it came from that peer (`otUdpForwardReceive`, see
//!   `ncp_base_mtd.cpp`). The Border Agent's answers come back as unsolicited `PROP_VALUE_IS` of the
//!   same property with peer = our made-up address (`HandleUdpForwardStream`); the frame router
//!   ([`crate::frames`]) routes those to this service and everything else to the monitor.
//! - Credentials: PSKc from the active dataset (TLV 4), mesh-local prefix (TLV 7), re-read before
//!   every explicit start (a hidden test knob `[commissioner] pskc_override` replaces the PSKc).
//! - Lifecycle: started on demand (a joiner entry is added, `commissioner.start`, or
//!   `[commissioner] always_on`); active while an entry or a joiner session is live, resigns
//!   [`LINGER`] after the table became empty (unless started by the operator or `always_on`);
//!   `commissioner.stop` resigns and suspends automatic starts until the next `joiner.add` or
//!   `commissioner.start`. After a co-processor reset the session is dropped, and a new petition
//!   is started as soon as the Border Agent is active again (port, PSKc re-read). A rejected
//!   keep-alive re-petitions (the state machine's backoff). [`Service::shutdown`] resigns cleanly.
//! - `commissioner.status` while active also asks the Border Agent itself (MGMT_COMMISSIONER_GET
//!   over our DTLS session) and merges its answer into `border_agent` ([`insert_ba_answer`]); the
//!   call is parked until the answer (or [`STATUS_GET_TIMEOUT`]), the task keeps running meanwhile.
//! - Events: every state machine event becomes a tracing line, a `{"event":...}` on the
//!   `events.subscribe` stream and (admissions, table changes) an audit log line
//!   ([`crate::audit`]); see [`events`] for the names.
//! - Network diagnostics ([`Service::diag_query`]): DIAG_GET.qry to `ff03::1` through the
//!   Border Agent's UDP proxy, petitioning first if needed (the session counts as wanted while a
//!   query waits or collects, then lingers [`LINGER`] like an emptied table); answers are collected
//!   per query for its `wait`, merged by source address ([`requests`]).
//! - `joiner-joined` (best effort): a joined device's extended address is random, not derived from
//!   its EUI-64, so it cannot be recognised. After an entrust the service snapshots the neighbour
//!   table and polls it every [`ATTACH_POLL`]; the first new neighbour that appears within
//!   [`ATTACH_WINDOW`] is attributed to the oldest entrusted joiner still waiting (FIFO), and the
//!   event says `"match": "first-new-neighbor"`.
//!
//! - Supervision: the task runs under a supervisor (`service.rs`) that restarts it after a panic
//!   with its joiner table; the third death within 10 minutes ends the agent (exit 1).
//!
//! Files: `service.rs` the handle ([`Service`]), its commands and the supervisor; `lifecycle.rs` the task's loop,
//! the co-processor's input and whether a session is wanted; `requests.rs` the answers to control
//! requests and the co-processor reads they need; `attach.rs` event publishing and joined-device
//! matching; `events.rs` event names, fields and log text; `methods.rs` the control dispatcher;
//! `other.rs` another (external) commissioner holding the role.
//!
//! Guarantees: the PSKd and PSKc never leave the state machine / `meshcop::credentials` types;
//! no event, log line, reply or audit record carries one. Never panics on input from the
//! co-processor. Validated by the unit tests below (the codec's and the frame routing's are in
//! `ncp::props::forward` and `crate::frames`) and the end-to-end tests in
//! `tests/tests/commissioning.rs` against OpenThread's simulation NCP and `ot-cli-ftd` joiners.

mod attach;
pub(crate) mod events;
mod lifecycle;
pub(crate) mod methods;
mod other;
mod requests;
mod service;
#[cfg(test)]
mod tests;

use attach::*;
use requests::*;
pub(crate) use service::Service;
use service::*;

use std::collections::{HashSet, VecDeque};
use std::net::Ipv6Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshcop::commissioner::{
    Commissioner, CommissionerDataset, Config, Error as CommError, Event, JoinerEntry, JoinerKind,
    State,
};
use meshcop::credentials::{Pskc, Pskd};
use meshcop::dataset::Dataset;
use meshcop::netdiag::DiagAnswer;
use ncp::props::border_agent::decode_border_agent_state;
use ncp::spinel::{cmd, prop};
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use zeroize::Zeroizing;

use crate::audit::AuditLog;
use crate::config::CommissionerSettings;
use crate::network::Network;
use control::{code, EventKind, MethodError};

/// Our made-up peer address toward the Border Agent (never routed anywhere: the co-processor only
/// uses it to address its answers to the forward stream).
pub(crate) const PEER_ADDR: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0xabcd);
/// Our made-up peer port.
pub(crate) const PEER_PORT: u16 = 49999;
/// How long the service stays active after the joiner table became empty (lets a retransmitted
/// JOIN_FIN be answered).
pub(crate) const LINGER: Duration = Duration::from_secs(5);
/// Neighbour table poll interval while entrusted joiners wait to attach.
pub(crate) const ATTACH_POLL: Duration = Duration::from_secs(2);
/// How long after its entrust a joiner may still be matched to a new neighbour.
pub(crate) const ATTACH_WINDOW: Duration = Duration::from_secs(180);
/// Housekeeping tick (Border Agent readiness, auto start/stop).
const TICK: Duration = Duration::from_secs(1);
/// How long `commissioner.status` waits for the Border Agent's MGMT_COMMISSIONER_GET answer.
pub(crate) const STATUS_GET_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a network diagnostic query waits for the petition to be accepted.
pub(crate) const DIAG_PETITION_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a clean shutdown waits for the resignation.
pub(crate) const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(6);

pub(crate) use ncp::props::forward::{encode_forward, Forwarded};

/// A hook the service calls with every event (its JSON form) before publishing it: whatever
/// it records is written before any subscriber or log reader learns of the event.
pub(crate) type Recorder = Arc<dyn Fn(&Value) + Send + Sync>;

/// What the frame router ([`crate::frames`]) hands to the service.
#[derive(Debug)]
pub(crate) enum NcpInput {
    Forwarded(Forwarded),
    Reset,
    /// The leader's network data changed (its Commissioning Data tells who is commissioner).
    LeaderData(Vec<u8>),
    /// Unit tests: input that makes the task panic (as a bug on a peer's datagram would).
    #[cfg(test)]
    Panic,
}

struct Task {
    net: Arc<Network>,
    settings: CommissionerSettings,
    comm: Option<Commissioner>,
    /// Started by the operator (or always_on): stays active with an empty table.
    manual: bool,
    /// `commissioner.stop` was called: no automatic start until the next add/start.
    suspended: bool,
    empty_since: Option<Instant>,
    pending_attach: VecDeque<PendingAttach>,
    known_neighbors: HashSet<String>,
    next_attach_poll: Option<Instant>,
    audit: Arc<AuditLog>,
    events: broadcast::Sender<Value>,
    shutdown: Option<oneshot::Sender<()>>,
    shutdown_deadline: Option<Instant>,
    last_start_error: Option<String>,
    /// Test-only (`debug.reset_ncp` with `on`): reset the co-processor after this event type.
    reset_on: Option<String>,
    /// `commissioner.status` calls waiting for the Border Agent's c/cg answer.
    pending_status: Vec<PendingStatus>,
    /// Network diagnostic queries waiting for the petition or collecting answers.
    pending_diag: Vec<PendingDiag>,
    /// The saved table is to be put back (this task replaces one that died).
    restore_pending: bool,
    /// The copy of the table a successor gets ([`service::Saved`]).
    saved: SavedTable,
    /// The session ID of our last accepted petition ([`other`]).
    last_session: Option<u16>,
}

impl Task {}
