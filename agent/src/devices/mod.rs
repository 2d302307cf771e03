//! The device inventory: one record per device this agent onboarded, kept in
//! `<state_dir>/devices.json` ([`store`]: why one file rewritten atomically), with its presence
//! on the mesh ([`presence`]) and whether it holds the current credentials.
//!
//! - Fed by the commissioner's event stream (the same `broadcast` that `events.subscribe`
//!   reads): each `joiner-entrusted` (it carries the JOIN_FIN vendor fields, the entry and, for
//!   imported entries, `label`/`signer`) records an onboarding with the active dataset's
//!   timestamp; `joiner-finalize` fills vendor fields an entrust lacks. The commissioner hands
//!   each event to [`Inventory::recorder`] before publishing it, so the record is on disk
//!   before any subscriber sees the entrust (with the last known Active Timestamp, corrected
//!   from the co-processor when the stream delivers the same event).
//! - Presence: a query every `[devices] presence_interval` (default [`DEFAULT_INTERVAL`]) and
//!   [`AFTER_JOIN`] after each entrust, through a [`PresenceSource`] (the Border Agent's network
//!   diagnostics in the agent). Time to `absent`: a device that leaves is missing from the next
//!   two answered queries, so `absent` within 2 intervals plus [`QUERY_WAIT`] (default: at most
//!   ~125 s, plus the query's own overhead; e2e with a 5 s interval: 14.7 to 15.1 s) after it left; found again, it is `attached` at
//!   the next query (at most one interval). Queries run in a task of their own.
//! - Credentials: `stale` for an `absent` device whose dataset's Active Timestamp is older than
//!   the current active dataset's (it missed a key rotation or migration), with the remedy
//!   ([`REMEDY`]); `current` when attached or its timestamp is the current one; else `unknown`.
//! - Events (journal `event=`, `events.subscribe`, audit log): `device-attached`,
//!   `device-absent`, `device-forgotten` (with the caller's uid), fields `joiner_id`, `eui64`,
//!   `label`, `ext_address`, `rloc16`, `role`.
//!
//! Guarantees: only public data (identities, vendor strings, addresses); never a PSKd or key.
//! Never panics on the events it reads or on the file it loads.

pub(crate) mod presence;
pub(crate) mod source;
pub(crate) mod store;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use control::devices::{
    Device, DeviceId, DeviceList, Forgotten, CREDENTIALS_CURRENT, CREDENTIALS_STALE,
    CREDENTIALS_UNKNOWN, STATE_ABSENT, STATE_ATTACHED,
};
use control::{code, reply, EventKind, MethodError};
use serde_json::{json, Value};
use tokio::sync::{broadcast, Notify};

use crate::audit::{rfc3339_now, AuditLog};
pub(crate) use presence::{BoxFuture, PresenceSource, Seen};
use presence::{Change, Tracker};
use store::{Onboarding, Store};

/// Default `[devices] presence_interval`.
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// How long a presence query waits for answers.
pub(crate) const QUERY_WAIT: Duration = Duration::from_secs(5);
/// Extra queries after each entrust (attaching takes a few seconds).
pub(crate) const AFTER_JOIN: [Duration; 2] = [Duration::from_secs(10), Duration::from_secs(30)];

/// Events whose `active_timestamp` is the new active dataset's (not `...-scheduled`: that one
/// is the pending dataset's).
const DATASET_APPLIED: [EventKind; 3] = [
    EventKind::NetworkKeyRotationApplied,
    EventKind::NetworkMigrationApplied,
    EventKind::ActiveDatasetChanged,
];

/// The remedy for stale credentials (`{eui64}` is filled in).
pub(crate) const REMEDY: &str = "it missed a credential change: re-admit it (threadctl joiner add --eui64 {eui64} --pskd-file PATH, or joiner import) and restart its joiner";

/// The inventory: records, presence tracking, where events go.
pub(crate) struct Inventory {
    /// Never held across an `.await` (the commissioner's [`Inventory::record`] takes it).
    store: std::sync::Mutex<(Store, Tracker)>,
    /// The commissioner calls [`Inventory::record`] before it publishes an event
    /// ([`Inventory::recorder`]): `on_event` then only corrects the timestamp.
    inline: std::sync::atomic::AtomicBool,
    audit: Arc<AuditLog>,
    events: broadcast::Sender<Value>,
    source: Arc<dyn PresenceSource>,
    interval: Duration,
    /// The last Active Timestamp read or announced (see [`DATASET_APPLIED`]).
    known_ts: std::sync::Mutex<Option<u64>>,
    /// Extra queries scheduled after joins (deadlines).
    soon: std::sync::Mutex<Vec<Instant>>,
    wake: Notify,
}

impl Inventory {
    /// Loads `state_dir/devices.json` (see [`store`] for a corrupt file).
    pub(crate) fn open(
        state_dir: &Path,
        audit: Arc<AuditLog>,
        events: broadcast::Sender<Value>,
        source: Arc<dyn PresenceSource>,
        interval: Duration,
    ) -> Arc<Inventory> {
        let store = Store::load(state_dir);
        tracing::info!(path = %store.path().display(), devices = store.devices.len(), "device inventory loaded");
        Arc::new(Inventory {
            store: std::sync::Mutex::new((store, Tracker::default())),
            inline: std::sync::atomic::AtomicBool::new(false),
            audit,
            events,
            source,
            interval,
            known_ts: std::sync::Mutex::new(None),
            soon: std::sync::Mutex::new(Vec::new()),
            wake: Notify::new(),
        })
    }

    /// Reads the event stream and, in a task of its own, queries presence, until the stream
    /// closes. Events are never held up by a query in flight (a query waits [`QUERY_WAIT`] for
    /// answers): an entrust is on disk as soon as it is read.
    pub(crate) async fn run(self: Arc<Self>, mut rx: broadcast::Receiver<Value>) {
        let presence = tokio::spawn(self.clone().presence_loop());
        loop {
            match rx.recv().await {
                Ok(v) => self.on_event(&v).await,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "device inventory fell behind the event stream; onboardings in the gap are not recorded");
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
        presence.abort();
    }

    /// Every `interval`, and at the extra deadlines after joins: one presence query.
    async fn presence_loop(self: Arc<Self>) {
        let mut next = Instant::now() + self.interval;
        loop {
            let due = self.next_due(next);
            tokio::select! {
                _ = tokio::time::sleep_until(due.into()) => {
                    let now = Instant::now();
                    if now >= next {
                        next = now + self.interval;
                    }
                    self.soon.lock().unwrap_or_else(|p| p.into_inner()).retain(|t| *t > now);
                    self.refresh().await;
                }
                _ = self.wake.notified() => {}
            }
        }
    }

    /// The current Active Timestamp: read from the co-processor (and remembered); the
    /// remembered one when the read fails.
    async fn current_timestamp(&self) -> Option<u64> {
        let ts = self.source.active_timestamp().await;
        let mut known = self.known_ts.lock().unwrap_or_else(|p| p.into_inner());
        if ts.is_some() {
            *known = ts;
        }
        *known
    }

    fn next_due(&self, periodic: Instant) -> Instant {
        let soon = self.soon.lock().unwrap_or_else(|p| p.into_inner());
        soon.iter().copied().fold(periodic, Instant::min)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Store, Tracker)> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The commissioner's hook ([`crate::commissioner::Service::set_recorder`]): called with
    /// every event before any subscriber sees it, so an entrust is in `devices.json` before
    /// anyone can learn of it (a `kill -9` right after a subscriber saw `joiner-entrusted`
    /// loses no record).
    pub(crate) fn recorder(self: &Arc<Self>) -> crate::commissioner::Recorder {
        self.inline
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let me = self.clone();
        Arc::new(move |v: &Value| {
            if v.get("type").and_then(Value::as_str) == Some(EventKind::JoinerEntrusted.as_str()) {
                me.record(v);
            }
        })
    }

    /// Records an entrust (synchronously: file written when this returns) with the last known
    /// Active Timestamp (`on_event` corrects it after reading the co-processor's), and schedules
    /// the presence queries after a join.
    pub(crate) fn record(&self, v: &Value) {
        let Some(o) = Onboarding::from_event(v) else {
            return;
        };
        let known = *self.known_ts.lock().unwrap_or_else(|p| p.into_inner());
        let now = rfc3339_now();
        {
            let mut g = self.lock();
            let (store, tracker) = &mut *g;
            let d = store.onboarded(&o, known, &now);
            tracing::info!(joiner_id = %d.joiner_id, eui64 = d.eui64.as_deref(), onboardings = d.onboardings, active_timestamp = known, "device inventory: onboarding recorded");
            tracker.onboarded(&o.joiner_id, Instant::now());
            store.save();
        }
        let now = Instant::now();
        self.soon
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(AFTER_JOIN.iter().map(|d| now + *d));
        self.wake.notify_one();
    }

    /// Handles one event of the stream (ours included: they are ignored).
    pub(crate) async fn on_event(&self, v: &Value) {
        let kind = v.get("type").and_then(Value::as_str).unwrap_or("");
        if kind == EventKind::JoinerEntrusted.as_str() {
            let Some(o) = Onboarding::from_event(v) else {
                return;
            };
            let known = if self.inline.load(std::sync::atomic::Ordering::Relaxed) {
                self.lock()
                    .0
                    .devices
                    .get(&o.joiner_id)
                    .and_then(|d| d.active_timestamp)
            } else {
                self.record(v);
                *self.known_ts.lock().unwrap_or_else(|p| p.into_inner())
            };
            let ts = self.current_timestamp().await;
            if ts.is_some() && ts != known {
                let mut g = self.lock();
                if let Some(d) = g.0.devices.get_mut(&o.joiner_id) {
                    d.active_timestamp = ts;
                    g.0.save();
                }
            }
        } else if DATASET_APPLIED.iter().any(|k| k.as_str() == kind) {
            if let Some(ts) = v.get("active_timestamp").and_then(Value::as_u64) {
                *self.known_ts.lock().unwrap_or_else(|p| p.into_inner()) = Some(ts);
            }
        } else if kind == EventKind::JoinerFinalize.as_str() {
            // Vendor fields for a record that exists already (a re-join's entrust brings them too).
            let Some(o) = Onboarding::from_event(v) else {
                return;
            };
            let mut g = self.lock();
            if let Some(d) = g.0.devices.get_mut(&o.joiner_id) {
                if d.vendor_name.is_none() && o.vendor_name.is_some() {
                    d.vendor_name = o.vendor_name;
                    d.vendor_model = o.vendor_model;
                    d.vendor_sw_version = o.vendor_sw_version;
                    d.vendor_stack_version = o.vendor_stack_version;
                    g.0.save();
                }
            }
        }
    }

    /// One presence query, applied to the records.
    pub(crate) async fn refresh(&self) {
        let seen = match self.source.query(QUERY_WAIT).await {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(error = %e, "presence query failed; presence unchanged");
                return;
            }
        };
        let mut g = self.lock();
        let (store, tracker) = &mut *g;
        let (changes, dirty) = tracker.apply(
            store.devices.values_mut(),
            &seen,
            Instant::now(),
            &rfc3339_now(),
        );
        if dirty {
            store.save();
        }
        for c in changes {
            let (kind, id, text) = match &c {
                Change::Attached(id) => (
                    EventKind::DeviceAttached,
                    id,
                    "onboarded device found on the mesh (by its EUI-64)",
                ),
                Change::Absent(id) => (
                    EventKind::DeviceAbsent,
                    id,
                    "onboarded device not found on the mesh by two presence queries in a row",
                ),
            };
            if let Some(d) = store.devices.get(id) {
                self.announce(kind, fields(d), text);
            }
        }
    }

    fn announce(&self, kind: EventKind, mut fields: Value, text: &str) {
        self.audit.record(kind.as_str(), &fields);
        let f = |k: &str| {
            fields
                .get(k)
                .and_then(Value::as_str)
                .map(tracing::field::display)
        };
        tracing::info!(
            event = %kind.as_str(),
            joiner_id = f("joiner_id"),
            eui64 = f("eui64"),
            label = f("label"),
            ext_address = f("ext_address"),
            rloc16 = f("rloc16"),
            role = f("role"),
            uid = fields.get("uid").and_then(serde_json::Value::as_u64),
            "{text}"
        );
        fields["type"] = json!(kind.as_str());
        let _ = self.events.send(fields);
    }

    /// The records with their `credentials` judged against the current active dataset.
    async fn judged(&self) -> Vec<Device> {
        let current = self.current_timestamp().await;
        let g = self.lock();
        g.0.devices
            .values()
            .map(|d| judge(d.clone(), current))
            .collect()
    }

    /// `device.list`.
    pub(crate) async fn list(&self) -> Value {
        reply::to_result(&DeviceList {
            devices: self.judged().await,
        })
    }

    /// `device.show`.
    pub(crate) async fn show(&self, id: DeviceId) -> Result<Value, MethodError> {
        let key = self.find(id).await?;
        let d = self.judged().await.into_iter().find(|d| d.joiner_id == key);
        d.map(|d| reply::to_result(&d)).ok_or_else(|| not_found(id))
    }

    async fn find(&self, id: DeviceId) -> Result<String, MethodError> {
        self.lock().0.find(id).ok_or_else(|| not_found(id))
    }

    /// `device.forget`: removes the record (saved at once), audited with the caller's uid.
    pub(crate) async fn forget(&self, id: DeviceId, uid: u32) -> Result<Value, MethodError> {
        let mut g = self.lock();
        let (store, tracker) = &mut *g;
        let key = store.find(id).ok_or_else(|| not_found(id))?;
        let d = store.devices.remove(&key).ok_or_else(|| not_found(id))?;
        tracker.forget(&key);
        store.save();
        drop(g);
        let mut f = fields(&d);
        f["uid"] = json!(uid);
        self.announce(
            EventKind::DeviceForgotten,
            f,
            "device removed from the inventory (device.forget)",
        );
        Ok(reply::to_result(&Forgotten { forgotten: d }))
    }
}

fn not_found(id: DeviceId) -> MethodError {
    MethodError::new(
        code::NOT_FOUND,
        format!("no onboarded device has EUI-64 or Joiner ID {}", id.hex()),
    )
}

/// The event fields of a record.
fn fields(d: &Device) -> Value {
    json!({
        "joiner_id": d.joiner_id,
        "eui64": d.eui64,
        "label": d.label,
        "ext_address": d.ext_address,
        "rloc16": d.rloc16,
        "role": d.role,
        "state": d.state,
    })
}

/// Fills `credentials` (and `remedy` when stale) against the current Active Timestamp.
pub(crate) fn judge(mut d: Device, current: Option<u64>) -> Device {
    let older = matches!((d.active_timestamp, current), (Some(a), Some(c)) if a < c);
    let same = matches!((d.active_timestamp, current), (Some(a), Some(c)) if a >= c);
    d.remedy = None;
    d.credentials = if d.state == STATE_ATTACHED || same {
        CREDENTIALS_CURRENT
    } else if older && d.state == STATE_ABSENT {
        let eui = d.eui64.clone().unwrap_or_else(|| "<its EUI-64>".into());
        d.remedy = Some(REMEDY.replace("{eui64}", &eui));
        CREDENTIALS_STALE
    } else {
        CREDENTIALS_UNKNOWN
    }
    .to_string();
    d
}
