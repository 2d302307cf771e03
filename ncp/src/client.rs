//! The async co-processor client: requests (GET/SET/INSERT/REMOVE) matched to responses by
//! transaction id, and unsolicited frames delivered as [`Event`]s.
//!
//! Design:
//! - One tokio task per link owns the [`Transport`], decodes HDLC, parses Spinel, completes
//!   pending requests and queues events. Requests travel to it over a channel; responses come
//!   back on per-request oneshots, never through the event queue, so a consumer that awaits a
//!   request while handling an event cannot deadlock.
//! - TIDs 1..=15 are handed out round robin; at most 15 requests are in flight (more wait). A
//!   response is delivered only if its TID is pending and its property is the one asked for
//!   (or LAST_STATUS), so a late answer to a timed-out request is not taken for a newer one.
//! - Each request has a timeout ([`ClientOptions::request_timeout`]) -> [`Error::Timeout`].
//! - Unsolicited frames (TID 0): `LAST_STATUS` 112..=127 -> [`Event::Reset`]; IS/INSERTED/
//!   REMOVED -> [`Event::Property`]. The queue is bounded; when full, events are dropped and
//!   counted in [`LinkStats::events_dropped`]. One slot is reserved for [`Event::Closed`].
//! - End of stream or a read error -> [`Event::Closed`], every pending and later request fails
//!   with [`Error::Closed`]. Dropping the last [`Client`] clone stops the task, which drops the
//!   transport (and so kills a forkpty child).
//! - [`Client::reopen`] (a client made by [`Client::open`] or [`Client::with_opener`]) stops the
//!   link's task (dropping the transport: a forkpty child is killed and reaped), fails the
//!   requests in flight with [`Error::Closed`], opens the transport again and starts a new task;
//!   the clones, the TID pool and the event queue stay the same (the queue then stays open until
//!   the last clone drops). A forkpty program is started again; a serial device that is gone
//!   gives [`Error::DeviceMissing`] until its node is back. [`Client::resets_seen`] tells whether
//!   the reopened co-processor reported a reset.
//!
//! What `ot-ncp-ftd` (OpenThread simulation NCP, Spinel 4.3) does, observed and read in
//! `src/ncp/ncp_base.cpp` and `examples/platforms/simulation/misc.c`: right after start it sends
//! an unsolicited `LAST_STATUS` `RESET_POWER_ON` (112, frame `80 06 00 70`). A `RESET` command
//! makes it restart (the simulation longjmps back to `main`, flushing its tty input, so frames
//! sent meanwhile are lost) and send `LAST_STATUS` with TID 0 again, never a response with the
//! request's TID. The simulation reports 112 again after a RESET (its reset reason is always
//! power-on); real firmware typically reports 114 (`RESET_SOFTWARE`). So [`Client::open`] does
//! not reset; the first event is usually `Event::Reset { status: 112 }`, which a consumer should
//! tolerate. [`Client::reset`] first does one round trip (so that an in-flight power-on status
//! is not taken for its answer), then sends `RESET` (TID 0, no reset type = platform reset) and
//! waits for the next reset status of any value; after it returns, requests are answered
//! (checked against `ot-ncp-ftd` right after start). [`Client::probe`] does not reset.

use crate::codec::Reader;
use crate::hdlc;
use crate::spinel::{cap, cmd, prop, Command, Frame, Prop, Status};
use crate::transport::Transport;
use crate::url::RadioUrl;
use crate::Error;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch, Semaphore};

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// How long to wait for each answer (default 2 s).
    pub request_timeout: Duration,
    /// Capacity of the event queue (default 4096).
    pub event_queue: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            request_timeout: Duration::from_secs(2),
            event_queue: 4096,
        }
    }
}

/// Something the co-processor said on its own. `Debug` redacts values of secret properties
/// ([`Prop::is_secret`]).
#[derive(Clone, PartialEq, Eq)]
pub enum Event {
    /// An unsolicited IS/INSERTED/REMOVED (TID 0).
    Property {
        command: Command,
        prop: Prop,
        value: Vec<u8>,
    },
    /// The co-processor reset (`LAST_STATUS` 112..=127, e.g. 112 power-on, 114 software).
    Reset { status: u32 },
    /// The link is gone (device unplugged, child exited, read error).
    Closed { reason: String },
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Property {
                command,
                prop,
                value,
            } => f
                .debug_struct("Property")
                .field("command", command)
                .field("prop", prop)
                .field("value", &crate::spinel::ValueDebug(*prop, value))
                .finish(),
            Event::Reset { status } => f.debug_struct("Reset").field("status", status).finish(),
            Event::Closed { reason } => f.debug_struct("Closed").field("reason", reason).finish(),
        }
    }
}

/// Link counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Spinel frames received and parsed.
    pub frames_in: u64,
    /// Spinel frames sent.
    pub frames_out: u64,
    /// HDLC frames dropped (bad FCS, too long, too short) plus Spinel frames that did not parse.
    pub decode_errors: u64,
    /// Events dropped because the queue was full.
    pub events_dropped: u64,
    /// Responses with no matching pending request (e.g. after a timeout), dropped.
    pub stray_responses: u64,
    /// Requests that timed out.
    pub timeouts: u64,
}

/// What [`Client::probe`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NcpInfo {
    /// Spinel protocol (major, minor); major is 4.
    pub protocol: (u32, u32),
    /// Firmware version string (NCP_VERSION).
    pub version: String,
    /// INTERFACE_TYPE (3 = Thread).
    pub interface_type: u32,
    /// Capabilities (see [`crate::spinel::cap`]).
    pub caps: Vec<u32>,
    /// Factory EUI-64 (HWADDR).
    pub hwaddr: [u8; 8],
}

impl NcpInfo {
    /// Whether `cap` is among the capabilities.
    pub fn has_cap(&self, cap: u32) -> bool {
        self.caps.contains(&cap)
    }
    /// Names of the known capabilities, numbers for the others.
    pub fn cap_names(&self) -> Vec<String> {
        self.caps
            .iter()
            .map(|&c| {
                cap::name(c)
                    .map(str::to_owned)
                    .unwrap_or_else(|| c.to_string())
            })
            .collect()
    }
}

/// Firmware options the agent needs; part of [`Error::UnsupportedFirmware`] messages.
pub const NCP_BUILD_OPTIONS: &str =
    "-DOT_BORDER_AGENT=ON -DOT_UDP_FORWARD=ON -DOT_SRP_SERVER=ON -DOT_COMMISSIONER=ON \
-DOT_JOINER=ON -DOT_BORDER_ROUTING=ON -DOT_NCP_INFRA_IF=ON";

#[derive(Default)]
struct Counters {
    frames_in: AtomicU64,
    frames_out: AtomicU64,
    decode_errors: AtomicU64,
    events_dropped: AtomicU64,
    stray_responses: AtomicU64,
    timeouts: AtomicU64,
}

struct Slot {
    gen: u64,
    prop: Prop,
    reply: oneshot::Sender<Frame>,
}

#[derive(Default)]
struct Pending {
    slots: [Option<Slot>; 16],
    next_tid: u8,
    gen: u64,
    closed: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    counters: Counters,
    /// (number of resets seen, last reset status)
    resets: watch::Sender<(u64, u32)>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Opens the transport again (for [`Client::reopen`]).
pub type Opener =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<Transport, Error>> + Send>> + Send + Sync>;

/// The current link: its output queue and its I/O task.
struct Link {
    out: mpsc::Sender<Vec<u8>>,
    task: tokio::task::AbortHandle,
    join: Option<tokio::task::JoinHandle<()>>,
}

struct Inner {
    shared: Arc<Shared>,
    link: Mutex<Link>,
    tids: Semaphore,
    opts: ClientOptions,
    name: String,
    /// With an opener, the event sender is kept for the next link.
    reopen: Option<(Opener, mpsc::Sender<Event>)>,
    reopening: tokio::sync::Mutex<()>,
}

impl Inner {
    fn link(&self) -> std::sync::MutexGuard<'_, Link> {
        self.link.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.link().task.abort();
    }
}

/// Starts the I/O task of one link.
fn start_link(
    transport: Transport,
    shared: Arc<Shared>,
    events: mpsc::Sender<Event>,
    name: &str,
) -> Link {
    let (out_tx, out_rx) = mpsc::channel(64);
    let span = tracing::info_span!("ncp_link", url = %name);
    let join = tokio::spawn(tracing::Instrument::instrument(
        io_task(transport, shared, out_rx, events),
        span,
    ));
    Link {
        out: out_tx,
        task: join.abort_handle(),
        join: Some(join),
    }
}

/// A handle to one co-processor link. Cheap to clone; the link closes when the last clone drops.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("stats", &self.stats())
            .finish()
    }
}

/// Removes a request's slot when the request finishes, times out or is cancelled.
struct SlotGuard<'a> {
    shared: &'a Shared,
    tid: u8,
    gen: u64,
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        let mut p = self.shared.lock();
        let slot = &mut p.slots[self.tid as usize];
        if slot.as_ref().is_some_and(|s| s.gen == self.gen) {
            *slot = None;
        }
    }
}

impl Client {
    /// Opens the link and starts its I/O task. Returns the client and the event queue.
    pub async fn open(
        url: &RadioUrl,
        opts: ClientOptions,
    ) -> Result<(Client, mpsc::Receiver<Event>), Error> {
        let transport = Transport::open(url).await?;
        let for_reopen = url.clone();
        let opener: Opener = Arc::new(move || {
            let url = for_reopen.clone();
            Box::pin(async move { Transport::open(&url).await })
        });
        Ok(Self::start(transport, url.to_string(), opts, Some(opener)))
    }

    /// Like [`Client::with_transport`], with `opener` to open the transport again on
    /// [`Client::reopen`].
    pub fn with_opener(
        transport: Transport,
        opener: Opener,
        name: String,
        opts: ClientOptions,
    ) -> (Client, mpsc::Receiver<Event>) {
        Self::start(transport, name, opts, Some(opener))
    }

    /// Starts a client on an already open transport (`name` is used in logs). It cannot be
    /// reopened.
    pub fn with_transport(
        transport: Transport,
        name: String,
        opts: ClientOptions,
    ) -> (Client, mpsc::Receiver<Event>) {
        Self::start(transport, name, opts, None)
    }

    fn start(
        transport: Transport,
        name: String,
        opts: ClientOptions,
        opener: Option<Opener>,
    ) -> (Client, mpsc::Receiver<Event>) {
        let (event_tx, event_rx) = mpsc::channel(opts.event_queue.max(1) + 1);
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending {
                next_tid: 1,
                ..Default::default()
            }),
            counters: Counters::default(),
            resets: watch::channel((0, 0)).0,
        });
        let link = start_link(transport, shared.clone(), event_tx.clone(), &name);
        let inner = Inner {
            shared,
            link: Mutex::new(link),
            tids: Semaphore::new(15),
            opts,
            name,
            reopen: opener.map(|o| (o, event_tx)),
            reopening: tokio::sync::Mutex::new(()),
        };
        (
            Client {
                inner: Arc::new(inner),
            },
            event_rx,
        )
    }

    /// Closes the link (if it is still open) and opens it again; see the module doc. On an
    /// error the client stays closed and `reopen` may be called again.
    pub async fn reopen(&self) -> Result<(), Error> {
        let Some((opener, events)) = self.inner.reopen.clone() else {
            return Err(Error::Protocol(
                "this link cannot be reopened (no opener)".into(),
            ));
        };
        let _one_at_a_time = self.inner.reopening.lock().await;
        let join = {
            let mut link = self.inner.link();
            link.task.abort();
            link.join.take()
        };
        if let Some(join) = join {
            // The old transport is dropped (a forkpty child killed and reaped) before the new
            // one opens, so two co-processor programs never run at once.
            let _ = join.await;
        }
        {
            let mut p = self.inner.shared.lock();
            p.closed = true;
            for slot in p.slots.iter_mut() {
                *slot = None;
            }
        }
        let transport = opener().await?;
        let link = start_link(
            transport,
            self.inner.shared.clone(),
            events,
            &self.inner.name,
        );
        *self.inner.link() = link;
        self.inner.shared.lock().closed = false;
        Ok(())
    }

    /// How many resets the co-processor has reported on this client (all links).
    pub fn resets_seen(&self) -> u64 {
        self.inner.shared.resets.borrow().0
    }

    async fn send_raw(&self, frame: &Frame) -> Result<(), Error> {
        let mut bytes = Vec::with_capacity(frame.value.len() + 16);
        hdlc::encode(&frame.encode(), &mut bytes);
        let out = self.inner.link().out.clone();
        out.send(bytes).await.map_err(|_| Error::Closed)
    }

    /// Sends a request and returns the matching response frame (any command).
    pub async fn request(
        &self,
        command: Command,
        prop: Prop,
        value: &[u8],
    ) -> Result<Frame, Error> {
        let shared = &*self.inner.shared;
        let _permit = self.inner.tids.acquire().await.map_err(|_| Error::Closed)?;
        let (tid, gen, rx) = {
            let mut p = shared.lock();
            if p.closed {
                return Err(Error::Closed);
            }
            let mut tid = p.next_tid;
            while p.slots[tid as usize].is_some() {
                tid = tid % 15 + 1;
            }
            p.next_tid = tid % 15 + 1;
            p.gen += 1;
            let gen = p.gen;
            let (reply, rx) = oneshot::channel();
            p.slots[tid as usize] = Some(Slot { gen, prop, reply });
            (tid, gen, rx)
        };
        let _guard = SlotGuard { shared, tid, gen };
        self.send_raw(&Frame::new(tid, command, prop, value.to_vec()))
            .await?;
        match tokio::time::timeout(self.inner.opts.request_timeout, rx).await {
            Ok(Ok(frame)) => Ok(frame),
            Ok(Err(_)) => Err(Error::Closed),
            Err(_) => {
                shared.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                Err(Error::Timeout {
                    what: format!("{command} {prop}"),
                })
            }
        }
    }

    async fn checked(
        &self,
        command: Command,
        prop: Prop,
        value: &[u8],
        answers: &[Command],
    ) -> Result<Vec<u8>, Error> {
        let frame = self.request(command, prop, value).await?;
        if frame.prop == prop && prop != prop::LAST_STATUS && answers.contains(&frame.command) {
            return Ok(frame.value);
        }
        if frame.prop == prop::LAST_STATUS && frame.command == cmd::IS {
            let status = Status::from_u32(Reader::new(&frame.value).uint()?);
            if prop == prop::LAST_STATUS {
                return Ok(frame.value);
            }
            return match status {
                Status::Ok if command != cmd::GET => Ok(Vec::new()),
                status => Err(Error::Status { prop, status }),
            };
        }
        Err(Error::Protocol(format!(
            "unexpected answer {} {} to {command} {prop}",
            frame.command, frame.prop
        )))
    }

    /// Sends `command prop value` with TID 0 and does not wait for an answer (for streams such
    /// as STREAM_NET). The co-processor answers a TID-0 command only when it fails, with an
    /// unsolicited LAST_STATUS that arrives as an [`Event::Property`]. Waits only while the
    /// link's output queue is full (back-pressure), never for the co-processor.
    pub async fn send_nowait(
        &self,
        command: Command,
        prop: Prop,
        value: &[u8],
    ) -> Result<(), Error> {
        if self.inner.shared.lock().closed {
            return Err(Error::Closed);
        }
        self.send_raw(&Frame::new(0, command, prop, value.to_vec()))
            .await
    }

    /// PROP_VALUE_GET: the value bytes of the matching PROP_VALUE_IS.
    pub async fn get(&self, prop: Prop) -> Result<Vec<u8>, Error> {
        self.checked(cmd::GET, prop, &[], &[cmd::IS]).await
    }

    /// PROP_VALUE_SET: the value the co-processor reports back (empty if it answered
    /// LAST_STATUS OK). LAST_STATUS other than OK -> [`Error::Status`].
    pub async fn set(&self, prop: Prop, value: &[u8]) -> Result<Vec<u8>, Error> {
        self.checked(cmd::SET, prop, value, &[cmd::IS]).await
    }

    /// PROP_VALUE_INSERT (answered INSERTED, IS or LAST_STATUS).
    pub async fn insert(&self, prop: Prop, value: &[u8]) -> Result<Vec<u8>, Error> {
        self.checked(cmd::INSERT, prop, value, &[cmd::INSERTED, cmd::IS])
            .await
    }

    /// PROP_VALUE_REMOVE (answered REMOVED, IS or LAST_STATUS).
    pub async fn remove(&self, prop: Prop, value: &[u8]) -> Result<Vec<u8>, Error> {
        self.checked(cmd::REMOVE, prop, value, &[cmd::REMOVED, cmd::IS])
            .await
    }

    /// Sends RESET and waits (up to the request timeout) for the co-processor's reset status.
    /// Requests in flight during the reset are likely lost (they time out).
    ///
    /// First it does one round trip (GET PROTOCOL_VERSION; its failure is ignored) so that a
    /// power-on reset status still in flight from a co-processor that has just started is not
    /// mistaken for the answer to this RESET.
    pub async fn reset(&self) -> Result<(), Error> {
        match self.get(prop::PROTOCOL_VERSION).await {
            Err(Error::Closed) => return Err(Error::Closed),
            Err(e) => tracing::debug!(error = %e, "no answer before RESET; resetting anyway"),
            Ok(_) => {}
        }
        let mut resets = self.inner.shared.resets.subscribe();
        resets.borrow_and_update();
        self.send_raw(&Frame::new(0, cmd::RESET, Prop(0), Vec::new()))
            .await?;
        match tokio::time::timeout(self.inner.opts.request_timeout, resets.changed()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Error::Closed),
            Err(_) => {
                if self.inner.shared.lock().closed {
                    return Err(Error::Closed);
                }
                self.inner
                    .shared
                    .counters
                    .timeouts
                    .fetch_add(1, Ordering::Relaxed);
                Err(Error::Timeout {
                    what: "RESET".into(),
                })
            }
        }
    }

    /// Start-up check: Spinel protocol 4.x, not radio-only (RCP) firmware, Thread interface,
    /// capabilities CONFIG_FTD and THREAD_UDP_FORWARD; reads NCP_VERSION and HWADDR.
    pub async fn probe(&self) -> Result<NcpInfo, Error> {
        let v = self.get(prop::PROTOCOL_VERSION).await?;
        let mut r = Reader::new(&v);
        let protocol = (r.uint()?, r.uint()?);
        if protocol.0 != 4 {
            return Err(Error::UnsupportedFirmware(format!(
                "co-processor speaks Spinel {}.{}, this host needs 4.x: flash a current OpenThread NCP firmware (ot-ncp-ftd) built with {NCP_BUILD_OPTIONS}",
                protocol.0, protocol.1
            )));
        }
        let caps_raw = self.get(prop::CAPS).await?;
        let mut r = Reader::new(&caps_raw);
        let mut caps = Vec::new();
        while !r.is_empty() {
            caps.push(r.uint()?);
        }
        if caps.contains(&cap::CONFIG_RADIO) {
            return Err(Error::UnsupportedFirmware(format!(
                "radio-only (RCP) firmware found; this host needs a full Thread stack on the co-processor: flash OpenThread NCP firmware (ot-ncp-ftd) built with {NCP_BUILD_OPTIONS}; or (prototype, opt-in) keep the RCP firmware and run it through the host-side co-processor ot-host-ncp, see docs/rcp.md"
            )));
        }
        let interface_type = Reader::new(&self.get(prop::INTERFACE_TYPE).await?).uint()?;
        if interface_type != 3 {
            return Err(Error::UnsupportedFirmware(format!(
                "co-processor interface type is {interface_type}, not Thread (3): flash OpenThread NCP firmware (ot-ncp-ftd) built with {NCP_BUILD_OPTIONS}"
            )));
        }
        for (needed, option) in [
            (cap::CONFIG_FTD, "an FTD build (ot-ncp-ftd, -DOT_FTD=ON)"),
            (cap::THREAD_UDP_FORWARD, "-DOT_UDP_FORWARD=ON"),
        ] {
            if !caps.contains(&needed) {
                let name = cap::name(needed).unwrap_or("?");
                return Err(Error::UnsupportedFirmware(format!(
                    "co-processor lacks capability {name}: flash OpenThread NCP firmware built as {option} (full set: ot-ncp-ftd with {NCP_BUILD_OPTIONS})"
                )));
            }
        }
        let version = Reader::new(&self.get(prop::NCP_VERSION).await?).utf8()?;
        let hwaddr = Reader::new(&self.get(prop::HWADDR).await?).eui64()?;
        Ok(NcpInfo {
            protocol,
            version,
            interface_type,
            caps,
            hwaddr,
        })
    }

    /// Link counters.
    pub fn stats(&self) -> LinkStats {
        let c = &self.inner.shared.counters;
        LinkStats {
            frames_in: c.frames_in.load(Ordering::Relaxed),
            frames_out: c.frames_out.load(Ordering::Relaxed),
            decode_errors: c.decode_errors.load(Ordering::Relaxed),
            events_dropped: c.events_dropped.load(Ordering::Relaxed),
            stray_responses: c.stray_responses.load(Ordering::Relaxed),
            timeouts: c.timeouts.load(Ordering::Relaxed),
        }
    }

    /// Whether the link has closed.
    pub fn is_closed(&self) -> bool {
        self.inner.shared.lock().closed
    }
}

/// Queues an event unless only the slot reserved for `Closed` is left.
fn queue_event(events: &mpsc::Sender<Event>, shared: &Shared, event: Event) {
    if events.capacity() <= 1 || events.try_send(event).is_err() {
        shared
            .counters
            .events_dropped
            .fetch_add(1, Ordering::Relaxed);
    }
}

fn handle_frame(frame: Frame, shared: &Shared, events: &mpsc::Sender<Event>) {
    shared.counters.frames_in.fetch_add(1, Ordering::Relaxed);
    tracing::trace!(tid = frame.tid, command = ?frame.command, prop = ?frame.prop, len = frame.value.len(), "frame in");
    if frame.tid != 0 {
        let mut p = shared.lock();
        let slot = &mut p.slots[frame.tid as usize];
        if slot
            .as_ref()
            .is_some_and(|s| s.prop == frame.prop || frame.prop == prop::LAST_STATUS)
        {
            if let Some(s) = slot.take() {
                let _ = s.reply.send(frame);
            }
        } else {
            drop(p);
            shared
                .counters
                .stray_responses
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(tid = frame.tid, prop = ?frame.prop, "response with no matching request dropped");
        }
        return;
    }
    if frame.command == cmd::IS && frame.prop == prop::LAST_STATUS {
        if let Ok(status @ 112..=127) = Reader::new(&frame.value).uint() {
            tracing::info!(status = %Status::from_u32(status), "co-processor reset");
            shared.resets.send_modify(|(n, s)| {
                *n += 1;
                *s = status;
            });
            queue_event(events, shared, Event::Reset { status });
            return;
        }
    }
    if [cmd::IS, cmd::INSERTED, cmd::REMOVED].contains(&frame.command) {
        queue_event(
            events,
            shared,
            Event::Property {
                command: frame.command,
                prop: frame.prop,
                value: frame.value,
            },
        );
    } else {
        shared
            .counters
            .stray_responses
            .fetch_add(1, Ordering::Relaxed);
        tracing::debug!(command = ?frame.command, "unsolicited frame with unexpected command dropped");
    }
}

async fn io_task(
    transport: Transport,
    shared: Arc<Shared>,
    mut out: mpsc::Receiver<Vec<u8>>,
    events: mpsc::Sender<Event>,
) {
    // Reading and writing run concurrently (one task, two futures), so a co-processor that
    // blocks writing to us while we write to it cannot deadlock the link.
    let (mut rd, mut wr) = tokio::io::split(transport);
    let reader = async {
        let mut decoder = hdlc::Decoder::default();
        let mut buf = vec![0u8; 4096];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) => {
                    break "end of stream (device unplugged or co-processor process exited)"
                        .to_string()
                }
                Ok(n) => {
                    for &b in &buf[..n] {
                        match decoder.push(b) {
                            None => {}
                            Some(Ok(payload)) => match Frame::parse(&payload) {
                                Ok(frame) => handle_frame(frame, &shared, &events),
                                Err(e) => {
                                    shared
                                        .counters
                                        .decode_errors
                                        .fetch_add(1, Ordering::Relaxed);
                                    tracing::debug!(error = %e, "bad Spinel frame dropped");
                                }
                            },
                            Some(Err(e)) => {
                                shared
                                    .counters
                                    .decode_errors
                                    .fetch_add(1, Ordering::Relaxed);
                                tracing::debug!(error = %e, "bad HDLC frame dropped");
                            }
                        }
                    }
                }
                Err(e) => break format!("read error: {e}"),
            }
        }
    };
    let writer = async {
        while let Some(bytes) = out.recv().await {
            if let Err(e) = wr.write_all(&bytes).await {
                return format!("write error: {e}");
            }
            shared.counters.frames_out.fetch_add(1, Ordering::Relaxed);
        }
        "client dropped".to_string()
    };
    let reason = tokio::select! {
        r = reader => r,
        w = writer => w,
    };
    tracing::info!(%reason, "co-processor link closed");
    {
        let mut p = shared.lock();
        p.closed = true;
        for slot in p.slots.iter_mut() {
            *slot = None; // dropping the sender fails the request with Error::Closed
        }
    }
    let _ = events.try_send(Event::Closed { reason });
    // `rd` and `wr` drop here, and with them the transport (a forkpty child is killed).
}

#[cfg(test)]
mod tests;
