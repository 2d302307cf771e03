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
//! - `joiner-joined` (best effort): a joined device's extended address is random, not derived from
//!   its EUI-64, so it cannot be recognised. After an entrust the service snapshots the neighbour
//!   table and polls it every [`ATTACH_POLL`]; the first new neighbour that appears within
//!   [`ATTACH_WINDOW`] is attributed to the oldest entrusted joiner still waiting (FIFO), and the
//!   event says `"match": "first-new-neighbor"`.
//!
//! Guarantees: the PSKd and PSKc never leave the state machine / `meshcop::credentials` types;
//! no event, log line, reply or audit record carries one. Never panics on input from the
//! co-processor. Validated by the unit tests below (the codec's and the frame routing's are in
//! `ncp::props::forward` and `crate::frames`) and the end-to-end tests in
//! `tests/tests/commissioning.rs` against OpenThread's simulation NCP and `ot-cli-ftd` joiners.

pub mod events;
pub mod methods;

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
use ncp::props::border_agent::decode_border_agent_state;
use ncp::spinel::{cmd, prop};
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc, oneshot};
use zeroize::Zeroizing;

use crate::audit::AuditLog;
use crate::config::CommissionerSettings;
use crate::network::Network;
use control::{code, MethodError};

/// Our made-up peer address toward the Border Agent (never routed anywhere: the co-processor only
/// uses it to address its answers to the forward stream).
pub const PEER_ADDR: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0xabcd);
/// Our made-up peer port.
pub const PEER_PORT: u16 = 49999;
/// How long the service stays active after the joiner table became empty (lets a retransmitted
/// JOIN_FIN be answered).
pub const LINGER: Duration = Duration::from_secs(5);
/// Neighbour table poll interval while entrusted joiners wait to attach.
pub const ATTACH_POLL: Duration = Duration::from_secs(2);
/// How long after its entrust a joiner may still be matched to a new neighbour.
pub const ATTACH_WINDOW: Duration = Duration::from_secs(180);
/// Housekeeping tick (Border Agent readiness, auto start/stop).
const TICK: Duration = Duration::from_secs(1);
/// How long `commissioner.status` waits for the Border Agent's MGMT_COMMISSIONER_GET answer.
pub const STATUS_GET_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a clean shutdown waits for the resignation.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(6);

pub(crate) use ncp::props::forward::{encode_forward, Forwarded};

/// What the frame router ([`crate::frames`]) hands to the service.
#[derive(Debug)]
pub enum NcpInput {
    Forwarded(Forwarded),
    Reset,
}

type Reply = oneshot::Sender<Result<Value, MethodError>>;

enum Cmd {
    Add {
        kind: JoinerKind,
        pskd: Pskd,
        timeout: Option<Duration>,
        reply: Reply,
    },
    List(Reply),
    Remove(JoinerKind, Reply),
    Status(Reply),
    Start(Reply),
    Stop(Reply),
    Shutdown(oneshot::Sender<()>),
    /// Test-only: reset the co-processor right after the next event of this type.
    ArmReset(String, Reply),
}

/// Handle to the service task.
#[derive(Clone)]
pub struct Service {
    cmds: mpsc::Sender<Cmd>,
    events: broadcast::Sender<Value>,
    net: Arc<Network>,
}

fn gone() -> MethodError {
    MethodError::new(code::INTERNAL_ERROR, "the commissioner service has stopped")
}

impl Service {
    /// Starts the service task.
    pub fn spawn(
        net: Arc<Network>,
        settings: CommissionerSettings,
        audit: AuditLog,
        input: mpsc::Receiver<NcpInput>,
    ) -> Service {
        tracing::debug!(audit_log = %audit.path().display(), "commissioner service ready");
        let (cmds, cmd_rx) = mpsc::channel(64);
        let (events, _) = broadcast::channel(1024);
        let task = Task {
            net: net.clone(),
            manual: settings.always_on,
            settings,
            comm: None,
            suspended: false,
            empty_since: None,
            pending_attach: VecDeque::new(),
            known_neighbors: HashSet::new(),
            next_attach_poll: None,
            audit,
            events: events.clone(),
            shutdown: None,
            shutdown_deadline: None,
            last_start_error: None,
            reset_on: None,
            pending_status: Vec::new(),
        };
        tokio::spawn(task.run(cmd_rx, input));
        Service { cmds, events, net }
    }

    /// A receiver of the event stream.
    pub fn subscribe(&self) -> broadcast::Receiver<Value> {
        self.events.subscribe()
    }

    /// The network this service commissions for.
    pub fn net(&self) -> &Arc<Network> {
        &self.net
    }

    async fn ask(&self, make: impl FnOnce(Reply) -> Cmd) -> Result<Value, MethodError> {
        let (tx, rx) = oneshot::channel();
        self.cmds.send(make(tx)).await.map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    pub async fn add(
        &self,
        kind: JoinerKind,
        pskd: Pskd,
        timeout: Option<Duration>,
    ) -> Result<Value, MethodError> {
        self.ask(|reply| Cmd::Add {
            kind,
            pskd,
            timeout,
            reply,
        })
        .await
    }
    pub async fn list(&self) -> Result<Value, MethodError> {
        self.ask(Cmd::List).await
    }
    pub async fn remove(&self, kind: JoinerKind) -> Result<Value, MethodError> {
        self.ask(|r| Cmd::Remove(kind, r)).await
    }
    pub async fn status(&self) -> Result<Value, MethodError> {
        self.ask(Cmd::Status).await
    }
    pub async fn start(&self) -> Result<Value, MethodError> {
        self.ask(Cmd::Start).await
    }
    pub async fn stop(&self) -> Result<Value, MethodError> {
        self.ask(Cmd::Stop).await
    }
    /// Test-only: reset the co-processor right after the next event of type `on` (so a test can
    /// hit a precise point of a joiner session, e.g. `joiner-authenticated`).
    pub async fn arm_reset(&self, on: String) -> Result<Value, MethodError> {
        self.ask(|r| Cmd::ArmReset(on, r)).await
    }

    /// Resigns (when active) and stops the task; waits at most [`SHUTDOWN_TIMEOUT`].
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.cmds.send(Cmd::Shutdown(tx)).await.is_ok() {
            let _ = tokio::time::timeout(SHUTDOWN_TIMEOUT + Duration::from_secs(1), rx).await;
        }
    }
}

/// A `commissioner.status` waiting for the answer to MGMT_COMMISSIONER_GET `request`.
struct PendingStatus {
    request: u32,
    status: Value,
    reply: Reply,
    deadline: Instant,
}

struct PendingAttach {
    fields: serde_json::Map<String, Value>,
    entrusted_at: Instant,
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
    audit: AuditLog,
    events: broadcast::Sender<Value>,
    shutdown: Option<oneshot::Sender<()>>,
    shutdown_deadline: Option<Instant>,
    last_start_error: Option<String>,
    /// Test-only (`debug.reset_ncp` with `on`): reset the co-processor after this event type.
    reset_on: Option<String>,
    /// `commissioner.status` calls waiting for the Border Agent's c/cg answer.
    pending_status: Vec<PendingStatus>,
}

fn state_name(s: State) -> &'static str {
    match s {
        State::Idle => "idle",
        State::Connecting => "connecting",
        State::Petitioning => "petitioning",
        State::Active => "active",
        State::Resigning => "resigning",
        State::WaitingRetry => "waiting-retry",
    }
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> MethodError {
    MethodError::new(code::NCP_UNAVAILABLE, format!("{what}: {e}"))
}

/// Credentials for the state machine, read from the co-processor.
struct Credentials {
    pskc: Pskc,
    mesh_local_prefix: [u8; 8],
}

impl Task {
    async fn run(mut self, mut cmds: mpsc::Receiver<Cmd>, mut input: mpsc::Receiver<NcpInput>) {
        let mut input_open = true;
        if self.settings.always_on {
            tracing::info!("[commissioner] always_on: petitioning once the border agent is active");
        }
        loop {
            let deadline = self.next_deadline();
            tokio::select! {
                c = cmds.recv() => match c {
                    None => return,
                    Some(c) => self.command(c).await,
                },
                i = input.recv(), if input_open => match i {
                    None => input_open = false,
                    Some(NcpInput::Forwarded(f)) => self.forwarded(f),
                    Some(NcpInput::Reset) => self.on_reset(),
                },
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => {
                    let now = Instant::now();
                    if let Some(c) = self.comm.as_mut() {
                        if c.poll_timeout().is_some_and(|t| t <= now) {
                            c.handle_timeout(now);
                        }
                    }
                    self.expire_status(now);
                    self.housekeeping().await;
                }
            }
            self.drain().await;
            if self.shutdown.is_some() {
                let idle = self.comm.as_ref().is_none_or(|c| c.state() == State::Idle);
                if idle || self.shutdown_deadline.is_some_and(|d| Instant::now() >= d) {
                    if let Some(tx) = self.shutdown.take() {
                        let _ = tx.send(());
                    }
                    return;
                }
            }
        }
    }

    fn next_deadline(&self) -> Instant {
        let now = Instant::now();
        let mut t = now + TICK;
        if let Some(c) = self.comm.as_ref().and_then(Commissioner::poll_timeout) {
            t = t.min(c.max(now));
        }
        if let Some(d) = self.shutdown_deadline {
            t = t.min(d.max(now));
        }
        for p in &self.pending_status {
            t = t.min(p.deadline.max(now));
        }
        t
    }

    fn forwarded(&mut self, f: Forwarded) {
        if f.peer_addr != PEER_ADDR || f.peer_port != PEER_PORT {
            tracing::trace!(peer = %f.peer_addr, port = f.peer_port, "UDP forward datagram for another peer ignored");
            return;
        }
        if let Some(c) = self.comm.as_mut() {
            c.handle_datagram(Instant::now(), &f.payload);
        }
    }

    /// The co-processor reset: tells the state machine its Border Agent is gone; it decides when
    /// to petition again (once [`Task::start_now`] reports the port).
    fn on_reset(&mut self) {
        if let Some(c) = self.comm.as_mut() {
            if c.state() != State::Idle {
                tracing::warn!("co-processor reset: commissioner session lost; petitioning again once the border agent is back");
            }
            c.set_border_agent(Instant::now(), None);
        }
    }

    /// Sends pending datagrams and publishes pending events.
    async fn drain(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(d) = self.comm.as_mut().and_then(Commissioner::poll_transmit) {
                progressed = true;
                match self.comm.as_ref().and_then(Commissioner::border_agent_port) {
                    Some(port) => {
                        let v = encode_forward(&d, PEER_PORT, &PEER_ADDR, port);
                        if let Err(e) = self
                            .net
                            .client
                            .send_nowait(cmd::SET, prop::THREAD_UDP_FORWARD_STREAM, &v)
                            .await
                        {
                            tracing::debug!(error = %e, "cannot send to the border agent");
                        }
                    }
                    None => tracing::debug!("border agent port unknown; datagram dropped"),
                }
            }
            while let Some(ev) = self.comm.as_mut().and_then(Commissioner::poll_event) {
                progressed = true;
                match ev {
                    // Query answers, not state changes: they go to the waiting status calls.
                    Event::CommissionerDataset { request, dataset } => {
                        tracing::debug!(request, ?dataset, "MGMT_COMMISSIONER_GET answered");
                        self.answer_status(request, Ok(&dataset));
                    }
                    Event::CommissionerGetFailed { request, reason } => {
                        tracing::debug!(request, %reason, "MGMT_COMMISSIONER_GET failed");
                        self.answer_status(request, Err(reason));
                    }
                    ev => self.publish_event(ev).await,
                }
            }
            if !progressed {
                return;
            }
        }
    }

    fn emit(&self, d: &events::Described) {
        // Audit first: whoever sees the log line finds the audit record already written.
        if d.audit {
            let t = d.value.get("type").and_then(Value::as_str).unwrap_or("");
            self.audit.record(t, &d.value);
        }
        events::log(d);
        let _ = self.events.send(d.value.clone());
    }

    async fn publish_event(&mut self, ev: Event) {
        let d = events::describe(&ev);
        self.emit(&d);
        if self.reset_on.is_some()
            && d.value.get("type").and_then(Value::as_str) == self.reset_on.as_deref()
        {
            self.reset_on = None;
            tracing::warn!(after = ?d.value.get("type"), "debug.reset_ncp: resetting the co-processor now (armed test trigger)");
            match self.net.client.reset().await {
                // The co-processor has reset when this returns: drop the session now, so that a
                // relayed datagram it sent just before the reset (still queued here) cannot
                // finish the interrupted joiner session. The Reset event that follows is a no-op.
                Ok(()) => self.on_reset(),
                Err(e) => tracing::warn!(error = %e, "debug.reset_ncp: reset failed"),
            }
        }
        if let Event::JoinerEntrusted { .. } = ev {
            if self.pending_attach.is_empty() {
                self.snapshot_neighbors().await;
            }
            if let Value::Object(m) = d.value {
                self.pending_attach.push_back(PendingAttach {
                    fields: m,
                    entrusted_at: Instant::now(),
                });
            }
            self.next_attach_poll = Some(Instant::now() + ATTACH_POLL);
        }
    }

    async fn snapshot_neighbors(&mut self) {
        if let Ok(n) = self.net.neighbors().await {
            self.known_neighbors = n.into_iter().map(|n| n.ext_address).collect();
        }
    }

    async fn housekeeping(&mut self) {
        let now = Instant::now();
        // Joined-device matching.
        if self.next_attach_poll.is_some_and(|t| now >= t) {
            self.next_attach_poll = None;
            self.pending_attach
                .retain(|p| now.duration_since(p.entrusted_at) < ATTACH_WINDOW);
            if !self.pending_attach.is_empty() {
                if let Ok(table) = self.net.neighbors().await {
                    for n in table {
                        if self.known_neighbors.insert(n.ext_address.clone()) {
                            if let Some(p) = self.pending_attach.pop_front() {
                                let mut m = p.fields;
                                m.insert("type".into(), json!("joiner-joined"));
                                m.insert("ext_address".into(), json!(n.ext_address));
                                m.insert("rloc16".into(), json!(n.rloc16));
                                m.insert("is_child".into(), json!(n.is_child));
                                m.insert("match".into(), json!("first-new-neighbor"));
                                m.insert("result".into(), json!("attached"));
                                m.insert(
                                    "seconds_after_entrust".into(),
                                    json!(now.duration_since(p.entrusted_at).as_secs()),
                                );
                                let text = format!(
                                    "joiner attached (best-effort match: first new neighbour {} after its entrust)",
                                    n.ext_address
                                );
                                self.emit(&events::Described {
                                    value: Value::Object(m),
                                    text,
                                    level: tracing::Level::INFO,
                                    audit: true,
                                });
                            }
                        }
                    }
                }
                if !self.pending_attach.is_empty() {
                    self.next_attach_poll = Some(now + ATTACH_POLL);
                }
            }
        }
        self.reconcile().await;
    }

    /// Whether the commissioner should be petitioning/active now.
    fn wanted(&self) -> bool {
        if self.suspended || self.shutdown.is_some() {
            return false;
        }
        let busy = self
            .comm
            .as_ref()
            .is_some_and(|c| !c.list().is_empty() || c.joiner_sessions() > 0);
        self.manual || busy
    }

    /// Starts or stops the state machine to match [`Task::wanted`].
    async fn reconcile(&mut self) {
        let now = Instant::now();
        let wanted = self.wanted();
        let table_busy = self
            .comm
            .as_ref()
            .is_some_and(|c| !c.list().is_empty() || c.joiner_sessions() > 0);
        if table_busy || self.manual {
            self.empty_since = None;
        } else if self.empty_since.is_none() {
            self.empty_since = Some(now);
        }
        let state = self.comm.as_ref().map(Commissioner::state);
        if wanted {
            // After a reset the state machine waits for the Border Agent's port: look it up.
            let need_start = match state {
                None | Some(State::Idle) => true,
                Some(_) => self
                    .comm
                    .as_ref()
                    .is_some_and(Commissioner::awaiting_border_agent),
            };
            if need_start {
                if let Err(e) = self.start_now().await {
                    if self.last_start_error.as_deref() != Some(&e.message) {
                        tracing::info!(reason = %e.message, "commissioner not started yet; will retry");
                        self.last_start_error = Some(e.message);
                    }
                }
            }
        } else if let Some(st) = state {
            let linger_over = self
                .empty_since
                .is_some_and(|t| now.duration_since(t) >= LINGER);
            let stop = match st {
                State::Idle | State::Resigning => false,
                State::Active => linger_over || self.suspended || self.shutdown.is_some(),
                _ => true,
            };
            if stop {
                tracing::info!(
                    reason = if self.shutdown.is_some() {
                        "shutdown"
                    } else if self.suspended {
                        "operator"
                    } else {
                        "joiner table empty"
                    },
                    "commissioner stopping"
                );
                if let Some(c) = self.comm.as_mut() {
                    c.stop(now);
                }
            }
        }
    }

    /// Reads the PSKc and mesh-local prefix from the active dataset.
    async fn credentials(&mut self) -> Result<Credentials, MethodError> {
        read_credentials(self.net.clone(), self.settings.pskc_override.clone()).await
    }

    async fn border_agent(&mut self) -> Result<(bool, u16), MethodError> {
        read_border_agent(self.net.clone()).await
    }

    /// Creates the state machine if needed (credentials from the co-processor).
    async fn ensure_comm(&mut self) -> Result<(), MethodError> {
        if self.comm.is_some() {
            return Ok(());
        }
        let creds = self.credentials().await?;
        let mut config = Config::new(
            self.settings.id.clone(),
            creds.pskc,
            creds.mesh_local_prefix,
        );
        config.provisioning_url = self.settings.provisioning_url.clone();
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut *seed).map_err(|e| {
            MethodError::new(
                code::INTERNAL_ERROR,
                format!("OS random source failed: {e}"),
            )
        })?;
        self.comm = Some(Commissioner::with_seed(config, *seed));
        Ok(())
    }

    /// Refreshes the Border Agent port and credentials, then starts a petition now.
    async fn start_now(&mut self) -> Result<(), MethodError> {
        self.ensure_comm().await?;
        let (active, port) = self.border_agent().await?;
        if !active || port == 0 {
            return Err(MethodError::new(
                code::NCP_UNAVAILABLE,
                "the co-processor's border agent is not active (network not up yet?)",
            ));
        }
        let creds = self.credentials().await?;
        self.last_start_error = None;
        let now = Instant::now();
        let Some(c) = self.comm.as_mut() else {
            return Ok(());
        };
        c.set_credentials(creds.pskc, creds.mesh_local_prefix);
        let starting = matches!(c.state(), State::Idle | State::WaitingRetry);
        if starting {
            tracing::info!(border_agent_port = port, commissioner_id = %self.settings.id, "commissioner starting: petitioning the border agent");
        }
        // A session waiting for the port (after a reset) starts here; an idle one below.
        c.set_border_agent(now, Some(port));
        if starting {
            c.start(now);
        }
        Ok(())
    }

    async fn command(&mut self, c: Cmd) {
        match c {
            Cmd::Add {
                kind,
                pskd,
                timeout,
                reply,
            } => {
                let r = self.add(kind, pskd, timeout).await;
                let _ = reply.send(r);
            }
            Cmd::List(reply) => {
                let _ = reply.send(Ok(self.list()));
            }
            Cmd::Remove(kind, reply) => {
                let removed = self
                    .comm
                    .as_mut()
                    .is_some_and(|c| c.remove(Instant::now(), &kind));
                let r = if removed {
                    Ok(json!({"removed": events::entry_text(&kind)}))
                } else {
                    Err(MethodError::new(
                        code::NOT_FOUND,
                        format!("no joiner entry {}", events::entry_text(&kind)),
                    ))
                };
                let _ = reply.send(r);
            }
            Cmd::Status(reply) => self.status_with_ba_answer(reply).await,
            Cmd::Start(reply) => {
                self.manual = true;
                self.suspended = false;
                let r = match self.start_now().await {
                    Ok(()) => Ok(self.status().await),
                    Err(e) => {
                        // Stays wanted: the next tick retries.
                        Err(e)
                    }
                };
                let _ = reply.send(r);
            }
            Cmd::Stop(reply) => {
                self.manual = false;
                self.suspended = true;
                if let Some(c) = self.comm.as_mut() {
                    if c.state() != State::Idle {
                        tracing::info!(reason = "operator", "commissioner stopping");
                        c.stop(Instant::now());
                    }
                }
                let _ = reply.send(Ok(json!({
                    "state": self.comm.as_ref().map_or("idle", |c| state_name(c.state())),
                })));
            }
            Cmd::ArmReset(on, reply) => {
                tracing::warn!(on = %on, "debug.reset_ncp: co-processor reset armed (test method)");
                self.reset_on = Some(on.clone());
                let _ = reply.send(Ok(json!({"armed": on})));
            }
            Cmd::Shutdown(tx) => {
                if self.net.client.is_closed() {
                    // The link is gone: nothing to resign through.
                    let _ = tx.send(());
                    return;
                }
                self.shutdown = Some(tx);
                self.shutdown_deadline = Some(Instant::now() + SHUTDOWN_TIMEOUT);
                if let Some(c) = self.comm.as_mut() {
                    if c.state() != State::Idle {
                        tracing::info!("shutting down: resigning the commissioner session");
                        c.stop(Instant::now());
                    }
                }
            }
        }
        if self.shutdown.is_none() {
            self.reconcile().await;
        }
    }

    async fn add(
        &mut self,
        kind: JoinerKind,
        pskd: Pskd,
        timeout: Option<Duration>,
    ) -> Result<Value, MethodError> {
        self.ensure_comm().await?;
        let timeout = timeout.unwrap_or(self.settings.joiner_timeout);
        let now = Instant::now();
        let Some(c) = self.comm.as_mut() else {
            return Err(gone());
        };
        let replaced = c.list().iter().any(|e| e.kind == kind);
        c.add(
            now,
            JoinerEntry {
                kind,
                pskd,
                expires_at: now + timeout,
            },
        )
        .map_err(|e| MethodError::new(code::INVALID_PARAMS, e.to_string()))?;
        self.suspended = false;
        let mut m = serde_json::Map::new();
        events::insert_entry(&kind, &mut m);
        m.insert("timeout".into(), json!(timeout.as_secs()));
        m.insert("replaced".into(), json!(replaced));
        m.insert("type".into(), json!("entry-added"));
        let d = events::Described {
            text: format!(
                "joiner entry {} {} (expires in {} s)",
                events::entry_text(&kind),
                if replaced { "replaced" } else { "added" },
                timeout.as_secs()
            ),
            value: Value::Object(m.clone()),
            level: tracing::Level::INFO,
            audit: true,
        };
        self.emit(&d);
        m.remove("type");
        m.insert(
            "commissioner".into(),
            json!(self.comm.as_ref().map_or("idle", |c| state_name(c.state()))),
        );
        Ok(Value::Object(m))
    }

    fn list(&self) -> Value {
        let now = Instant::now();
        let entries: Vec<Value> = self
            .comm
            .as_ref()
            .map(|c| c.list())
            .unwrap_or_default()
            .into_iter()
            .map(|e| {
                let mut m = serde_json::Map::new();
                events::insert_entry(&e.kind, &mut m);
                m.insert(
                    "kind".into(),
                    json!(match e.kind {
                        JoinerKind::Eui64(_) => "eui64",
                        JoinerKind::Discerner(_) => "discerner",
                        JoinerKind::Any => "any",
                    }),
                );
                if let JoinerKind::Discerner(d) = e.kind {
                    m.insert(
                        "discerner".into(),
                        json!(format!("{:#x}/{}", d.value(), d.bits())),
                    );
                }
                m.insert(
                    "expires_in".into(),
                    json!(e.expires_at.saturating_duration_since(now).as_secs()),
                );
                // Its joiner was entrusted: it lingers (for a retry) until `expires_in`.
                m.insert("joined".into(), json!(e.joined));
                Value::Object(m)
            })
            .collect();
        json!({ "joiners": entries })
    }

    /// `commissioner.status`: [`Task::status`], plus, while the Border Agent session is up, the
    /// Border Agent's answer to MGMT_COMMISSIONER_GET merged into `border_agent` (the reply is
    /// sent when it arrives, or after [`STATUS_GET_TIMEOUT`] with `border_agent.get_error`).
    async fn status_with_ba_answer(&mut self, reply: Reply) {
        let mut status = self.status().await;
        let now = Instant::now();
        let Some(c) = self.comm.as_mut() else {
            let _ = reply.send(Ok(status));
            return;
        };
        if c.state() != State::Active {
            let _ = reply.send(Ok(status));
            return;
        }
        let request = match c.commissioner_get(now, &[]) {
            Ok(id) => id,
            // Join the newest request in flight.
            Err(CommError::TooManyRequests { .. }) if !self.pending_status.is_empty() => {
                self.pending_status[self.pending_status.len() - 1].request
            }
            Err(e) => {
                insert_ba_answer(&mut status, Err(e.to_string()));
                let _ = reply.send(Ok(status));
                return;
            }
        };
        self.pending_status.push(PendingStatus {
            request,
            status,
            reply,
            deadline: now + STATUS_GET_TIMEOUT,
        });
    }

    /// Completes the status calls waiting for `request`.
    fn answer_status(&mut self, request: u32, answer: Result<&CommissionerDataset, String>) {
        let (done, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending_status)
            .into_iter()
            .partition(|p| p.request == request);
        self.pending_status = rest;
        for mut p in done {
            insert_ba_answer(&mut p.status, answer.clone());
            let _ = p.reply.send(Ok(p.status));
        }
    }

    /// Completes the status calls whose answer is overdue.
    fn expire_status(&mut self, now: Instant) {
        let (done, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending_status)
            .into_iter()
            .partition(|p| now >= p.deadline);
        self.pending_status = rest;
        for mut p in done {
            insert_ba_answer(
                &mut p.status,
                Err(format!(
                    "no MGMT_COMMISSIONER_GET answer within {} s",
                    STATUS_GET_TIMEOUT.as_secs()
                )),
            );
            let _ = p.reply.send(Ok(p.status));
        }
    }

    async fn status(&mut self) -> Value {
        let (state, session_id, sessions, entries, steering, acked, stats) = match &self.comm {
            Some(c) => (
                state_name(c.state()),
                c.session_id(),
                c.joiner_sessions(),
                c.list().len(),
                Some(hex::encode(c.steering_data().as_bytes())),
                c.steering_data_acked().map(|s| hex::encode(s.as_bytes())),
                Some(c.stats().clone()),
            ),
            None => ("idle", None, 0, 0, None, None, None),
        };
        let ba = match self.border_agent().await {
            Ok((active, port)) => json!({"active": active, "port": port}),
            Err(e) => json!({"error": e.message}),
        };
        let leader = match self.net.client.get(prop::THREAD_LEADER_NETWORK_DATA).await {
            Ok(nd) => leader_commissioning(&nd),
            Err(e) => json!({"error": e.to_string()}),
        };
        json!({
            "state": state,
            "session_id": session_id,
            "commissioner_id": self.settings.id,
            "always_on": self.settings.always_on,
            "started_by_operator": self.manual && !self.settings.always_on,
            "suspended": self.suspended,
            "border_agent": ba,
            "entries": entries,
            "joiner_sessions": sessions,
            "steering_data": steering,
            "steering_data_acked": acked,
            "joined": stats.as_ref().map(|s| s.joined),
            "dropped": stats.as_ref().map(|s| s.dropped),
            "unknown_joiners": stats.as_ref().map(|s| s.unknown_joiners),
            "last_error": self.last_start_error,
            "leader": leader,
        })
    }
}

/// Reads the PSKc (or the override) and mesh-local prefix from the active dataset.
async fn read_credentials(
    net: Arc<Network>,
    pskc_override: Option<Pskc>,
) -> Result<Credentials, MethodError> {
    let tlvs = Zeroizing::new(
        net.client
            .get(prop::THREAD_ACTIVE_DATASET_TLVS)
            .await
            .map_err(|e| unavailable("reading the active dataset", e))?,
    );
    if tlvs.is_empty() {
        return Err(MethodError::new(
            code::NCP_UNAVAILABLE,
            "the co-processor has no active dataset yet",
        ));
    }
    let ds = Dataset::decode(&tlvs).map_err(|e| unavailable("decoding the active dataset", e))?;
    let pskc = match (pskc_override, ds.pskc.clone()) {
        (Some(o), _) => o,
        (None, Some(p)) => p,
        (None, None) => {
            return Err(MethodError::new(
                code::NCP_UNAVAILABLE,
                "the active dataset has no PSKc",
            ))
        }
    };
    let mesh_local_prefix = ds.mesh_local_prefix.ok_or_else(|| {
        MethodError::new(
            code::NCP_UNAVAILABLE,
            "the active dataset has no mesh-local prefix",
        )
    })?;
    Ok(Credentials {
        pskc,
        mesh_local_prefix,
    })
}

/// Reads the Border Agent's state: (active, port).
async fn read_border_agent(net: Arc<Network>) -> Result<(bool, u16), MethodError> {
    let v = net
        .client
        .get(prop::BORDER_AGENT_MESHCOP_SERVICE_STATE)
        .await
        .map_err(|e| unavailable("reading BORDER_AGENT_MESHCOP_SERVICE_STATE", e))?;
    let s = decode_border_agent_state(&v)
        .map_err(|e| unavailable("decoding the border agent state", e))?;
    Ok((s.active, s.port))
}

/// Merges the Border Agent's MGMT_COMMISSIONER_GET answer into `status.border_agent`:
/// `session_id`, `border_agent_locator` (`0x....`), `steering_data` (hex), `joiner_udp_port`,
/// `other_tlvs` (`[{"type":n,"value":"hex"}]`) for what is present, or `get_error`.
pub fn insert_ba_answer(status: &mut Value, answer: Result<&CommissionerDataset, String>) {
    let Some(root) = status.as_object_mut() else {
        return;
    };
    let ba = root.entry("border_agent").or_insert_with(|| json!({}));
    if !ba.is_object() {
        *ba = json!({});
    }
    let Some(m) = ba.as_object_mut() else { return };
    match answer {
        Ok(d) => {
            if let Some(x) = d.session_id {
                m.insert("session_id".into(), json!(x));
            }
            if let Some(x) = d.border_agent_locator {
                m.insert("border_agent_locator".into(), json!(format!("0x{x:04x}")));
            }
            if let Some(x) = &d.steering_data {
                m.insert("steering_data".into(), json!(hex::encode(x)));
            }
            if let Some(x) = d.joiner_udp_port {
                m.insert("joiner_udp_port".into(), json!(x));
            }
            if !d.other.is_empty() {
                let other: Vec<Value> = d
                    .other
                    .iter()
                    .map(|t| json!({"type": t.typ, "value": hex::encode(&t.value)}))
                    .collect();
                m.insert("other_tlvs".into(), json!(other));
            }
        }
        Err(e) => {
            m.insert("get_error".into(), json!(e));
        }
    }
}

/// The Commissioning Data the leader publishes in its network data: the active
/// commissioner's session ID, Border Agent locator and steering data. This is what the leader
/// (and hence a Border Agent answering MGMT_COMMISSIONER_GET) reports.
pub fn leader_commissioning(netdata: &[u8]) -> Value {
    let Some(cd) = meshcop::netdata::commissioning_data(netdata) else {
        return Value::Null;
    };
    let mut out = serde_json::Map::new();
    if let Ok(d) = CommissionerDataset::parse(cd) {
        if let Some(id) = d.session_id {
            out.insert("session_id".into(), json!(id));
        }
        if let Some(x) = d.border_agent_locator {
            out.insert("border_agent_locator".into(), json!(format!("0x{x:04x}")));
        }
        if let Some(s) = d.steering_data {
            out.insert("steering_data".into(), json!(hex::encode(s)));
        }
        if let Some(port) = d.joiner_udp_port {
            out.insert("joiner_udp_port".into(), json!(port));
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leader_commissioning_data() {
        // Network data: a prefix TLV (type 1, stable) then Commissioning Data (type 4, not
        // stable) with Border Agent Locator, Session ID, Steering Data, Joiner UDP Port.
        let nd = [
            0x03, 0x02, 0xaa, 0xbb, // prefix TLV (ignored)
            0x08, 0x0f, // commissioning data, 15 bytes
            0x09, 0x02, 0xf0, 0x00, 0x0b, 0x02, 0x12, 0x34, 0x08, 0x01, 0xff, 0x12, 0x02, 0x03,
            0xe8,
        ];
        let v = leader_commissioning(&nd);
        assert_eq!(v["session_id"], 0x1234);
        assert_eq!(v["border_agent_locator"], "0xf000");
        assert_eq!(v["steering_data"], "ff");
        assert_eq!(v["joiner_udp_port"], 1000);
        assert_eq!(leader_commissioning(&[0x03, 0x02, 1, 2]), Value::Null);
        assert_eq!(leader_commissioning(&[0x08, 0x30, 1]), Value::Null);
    }

    #[test]
    fn border_agent_answer_is_merged_into_status() {
        let mut st = json!({"state": "active", "border_agent": {"active": true, "port": 49153}});
        let d = CommissionerDataset {
            session_id: Some(0x1234),
            border_agent_locator: Some(0xfc00),
            steering_data: Some(vec![0xff]),
            joiner_udp_port: None,
            other: vec![meshcop::tlv::Tlv::new(0x7f, vec![1, 2])],
        };
        insert_ba_answer(&mut st, Ok(&d));
        assert_eq!(
            st["border_agent"],
            json!({"active": true, "port": 49153, "session_id": 0x1234,
                   "border_agent_locator": "0xfc00", "steering_data": "ff",
                   "other_tlvs": [{"type": 0x7f, "value": "0102"}]})
        );
        let mut st = json!({"border_agent": {"error": "x"}});
        insert_ba_answer(&mut st, Err("no answer".into()));
        assert_eq!(
            st["border_agent"],
            json!({"error": "x", "get_error": "no answer"})
        );
    }
}
