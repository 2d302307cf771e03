//! Credentials through the network's life: key rotation and migration through a pending
//! dataset, importing an existing network, and following every active dataset change.
//!
//! - `network.rotate_key` / `network.migrate`: the pending dataset is the active one with a new
//!   network key (and, with `pskc`, a new passphrase-derived PSKc), or a new channel / PAN ID,
//!   a newer active and pending timestamp and the Delay Timer ([`change`]). On the leader (the
//!   normal case: the agent formed the network) it is set on the co-processor locally
//!   (`THREAD_PENDING_DATASET_TLVS`): OpenThread takes the delay as given, and the agent's own
//!   minimum is 30 s (`control::lifecycle::MIN_DELAY_S`). Otherwise it is sent to the leader
//!   with `THREAD_MGMT_SET_PENDING_DATASET_TLVS` (MGMT_PENDING_SET), and that leader raises a key
//!   change to at least 300 s and any other change to at least 30 s
//!   (`dataset_manager_ftd.cpp`); the reply's `effective_delay_s` says so. One change at a time:
//!   a second one while a pending dataset exists is `change_pending`.
//! - `network.pending` and `status`: the pending dataset described against the active one
//!   (which fields change, new public values, time left), never a secret.
//! - `dataset.import`: validates the TLVs (every TLV a node needs: the error names the missing
//!   one), refuses a co-processor that has a network unless `replace`, then stops Thread, writes
//!   the dataset, clears any pending one, starts Thread again and backs it up.
//! - The follower ([`Lifecycle::run`]): every [`POLL`] it reads the active and pending datasets;
//!   a changed active dataset is backed up (`Network::backup_if_changed`), reported
//!   (`network-key-rotation-applied` / `network-migration-applied` for the change the agent
//!   scheduled, `active-dataset-changed` for any other) and, when the PSKc, extended PAN ID or
//!   mesh-local prefix changed, handed to the commissioner, which petitions again with the new
//!   credential. The pending dataset is backed up as `pending.tlvs` (0600, atomic) and removed
//!   once applied, so a co-processor replaced during a countdown still gets the new credentials
//!   (`Network::bring_up` restores it after the active one).
//!
//! Every action is an audit record, a journal line with `event=` and an `events.subscribe`
//! event, with the caller's uid, what changes and when; never a key, a PSKc or dataset hex.

pub(crate) mod change;
mod import;
pub(crate) mod rest_ops;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use control::lifecycle::{Migrate, PendingChange, RotateKey, Scheduled};
use control::{code, EventKind, MethodError};
use meshcop::credentials::{NetworkKey, Passphrase};
use meshcop::dataset::{timestamp, Dataset};
use ncp::spinel::prop;
use serde_json::{json, Value};
use tokio::sync::{broadcast, Mutex};
use zeroize::Zeroizing;

use crate::audit::AuditLog;
use crate::commissioner::Service;
use crate::control_socket::Peer;
use crate::network::{Network, Role};

/// How often the follower reads the datasets.
pub(crate) const POLL: Duration = Duration::from_secs(1);
/// A key change sent with MGMT_PENDING_SET is raised to this by the leader (ms).
const LEADER_KEY_CHANGE_MIN_MS: u32 = 300_000;
/// Any other MGMT_PENDING_SET is raised to this by the leader (ms).
const LEADER_MIN_MS: u32 = 30_000;
/// How long a MGMT_PENDING_SET may take to come back from the leader as our pending dataset.
const MGMT_ACCEPT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the agent scheduled and waits to see applied.
#[derive(Debug, Clone)]
struct Awaited {
    kind: EventKind,
    active_seconds: u64,
    channel: Option<u8>,
    pan_id: Option<u16>,
    pskc: bool,
}

/// The follower's memory.
#[derive(Default)]
struct Seen {
    scheduled: Option<Awaited>,
    /// The active dataset last seen (secrets inside: zeroized on drop by their types).
    active: Option<Dataset>,
    /// The pending dataset last backed up, without its Delay Timer.
    pending: Option<Zeroizing<Vec<u8>>>,
}

/// The lifecycle service: methods plus the follower task.
pub(crate) struct Lifecycle {
    net: Arc<Network>,
    audit: Arc<AuditLog>,
    events: broadcast::Sender<Value>,
    commissioner: Service,
    /// The discovery scan of `network.migrate`'s PAN ID check.
    scanner: Arc<crate::scan::Scanner>,
    /// One change (or import) at a time; also the follower's memory.
    seen: Mutex<Seen>,
}

fn unavailable(e: ncp::Error) -> MethodError {
    MethodError::new(
        code::NCP_UNAVAILABLE,
        format!("the co-processor did not answer: {e}"),
    )
}

fn random<const N: usize>() -> Result<Zeroizing<[u8; N]>, MethodError> {
    let mut b = Zeroizing::new([0u8; N]);
    getrandom::fill(&mut *b).map_err(|e| {
        MethodError::new(
            code::INTERNAL_ERROR,
            format!("the OS secure random source failed: {e}"),
        )
    })?;
    Ok(b)
}

/// Decodes TLVs read from the co-processor (`None` when empty or undecodable).
fn decode(tlvs: &[u8]) -> Option<Dataset> {
    if tlvs.is_empty() {
        return None;
    }
    Dataset::decode(tlvs).ok()
}

/// The pending dataset's TLVs without the Delay Timer (which counts down on every read).
fn without_delay(tlvs: &[u8]) -> Zeroizing<Vec<u8>> {
    match Dataset::decode(tlvs) {
        Ok(mut ds) => {
            ds.set_delay_timer(None);
            Zeroizing::new(ds.encode())
        }
        Err(_) => Zeroizing::new(tlvs.to_vec()),
    }
}

impl Lifecycle {
    pub(crate) fn new(
        net: Arc<Network>,
        audit: Arc<AuditLog>,
        commissioner: Service,
        scanner: Arc<crate::scan::Scanner>,
    ) -> Arc<Lifecycle> {
        Arc::new(Lifecycle {
            net,
            audit,
            events: commissioner.event_sender(),
            commissioner,
            scanner,
            seen: Mutex::new(Seen::default()),
        })
    }

    async fn read(&self, p: ncp::spinel::Prop) -> Result<Zeroizing<Vec<u8>>, MethodError> {
        Ok(Zeroizing::new(
            self.net.client.get(p).await.map_err(unavailable)?,
        ))
    }

    /// The current active dataset (an error when there is none).
    async fn active(&self) -> Result<Dataset, MethodError> {
        let tlvs = self.read(prop::THREAD_ACTIVE_DATASET_TLVS).await?;
        if tlvs.is_empty() {
            return Err(MethodError::new(
                code::NCP_UNAVAILABLE,
                "the co-processor has no active dataset (no network yet)",
            ));
        }
        Dataset::decode(&tlvs).map_err(|e| {
            MethodError::new(
                code::INTERNAL_ERROR,
                format!("the co-processor's active dataset does not decode: {e}"),
            )
        })
    }

    /// The pending change, if any, described against the active dataset.
    pub(crate) async fn pending(&self) -> Result<Option<PendingChange>, MethodError> {
        let pending = self.read(prop::THREAD_PENDING_DATASET_TLVS).await?;
        let Some(p) = decode(&pending) else {
            return Ok(None);
        };
        let active = self.active().await.unwrap_or_default();
        Ok(Some(change::describe(&active, &p)))
    }

    /// `status`'s `active_timestamp` and `pending`.
    pub(crate) async fn status_fields(&self) -> (Option<u64>, Option<PendingChange>) {
        let active = self.active().await.ok();
        let pending = self.pending().await.ok().flatten();
        (
            active
                .and_then(|a| a.active_timestamp)
                .map(timestamp::seconds),
            pending,
        )
    }

    pub(crate) async fn rotate_key(&self, peer: &Peer, r: RotateKey) -> Result<Value, MethodError> {
        let active = self.active().await?;
        let mut c = change::Change {
            network_key: Some(NetworkKey::from_bytes(*random::<16>()?)),
            ..change::Change::default()
        };
        if r.pskc {
            let name = active.network_name.clone().unwrap_or_default();
            let xp = active.ext_pan_id.unwrap_or_default();
            let passphrase = Passphrase::new(hex::encode(random::<16>()?.as_slice()))
                .map_err(|e| MethodError::new(code::INTERNAL_ERROR, e.to_string()))?;
            c.pskc = Some(passphrase.pskc(&name, &xp));
        }
        let kind = EventKind::NetworkKeyRotationScheduled;
        self.schedule(peer, active, c, r.delay, kind, r.pskc).await
    }

    pub(crate) async fn migrate(&self, peer: &Peer, m: Migrate) -> Result<Value, MethodError> {
        let active = self.active().await?;
        let same_channel = m.channel.is_none_or(|c| Some(c as u16) == active.channel);
        let same_pan = m.pan_id.is_none_or(|p| Some(p) == active.pan_id);
        if same_channel && same_pan {
            return Err(MethodError::new(
                code::INVALID_PARAMS,
                format!(
                    "the network is already on channel {} with PAN ID 0x{:04x}: nothing to change",
                    active.channel.unwrap_or(0),
                    active.pan_id.unwrap_or(0)
                ),
            ));
        }
        if let Some(pan) = m.pan_id.filter(|_| !same_pan) {
            let channel = m
                .channel
                .or(active.channel.and_then(|c| u8::try_from(c).ok()));
            self.check_pan_id(&active, pan, channel.unwrap_or(0))
                .await?;
        }
        let c = change::Change {
            channel: m.channel.filter(|_| !same_channel),
            pan_id: m.pan_id.filter(|_| !same_pan),
            ..change::Change::default()
        };
        let kind = EventKind::NetworkMigrationScheduled;
        self.schedule(peer, active, c, m.delay, kind, false).await
    }

    /// The PAN ID conflict check: a discovery scan of `channel` (MLE Discovery: every Thread
    /// router in range answers with its network's name, extended PAN ID and PAN ID; a plain
    /// beacon of Thread 1.2+ carries no network name or extended PAN ID). Another network there
    /// with `pan` is `pan_id_in_use`. MGMT_PANID_QUERY (asking the mesh's own nodes to scan) is
    /// not used: its answers come back as commissioner CoAP requests from the mesh, which the
    /// agent's commissioner does not serve yet; the agent's own radio hears what is near the
    /// border router.
    async fn check_pan_id(
        &self,
        active: &Dataset,
        pan: u16,
        channel: u8,
    ) -> Result<(), MethodError> {
        let found = self.scanner.discover(&[channel]).await?;
        let ours = active.ext_pan_id.map(|x| x.to_vec());
        if let Some(b) = found
            .iter()
            .find(|b| b.pan_id == pan && Some(&b.ext_pan_id) != ours.as_ref())
        {
            return Err(MethodError::new(
                code::PAN_ID_IN_USE,
                format!(
                    "PAN ID 0x{pan:04x} is already used on channel {channel} by network {:?} (extended PAN ID {}); choose another",
                    b.network_name,
                    hex::encode(&b.ext_pan_id)
                ),
            ));
        }
        tracing::info!(pan_id = %format!("0x{pan:04x}"), channel, networks_heard = found.len(), "PAN ID conflict check: no other network uses it");
        Ok(())
    }

    /// Builds, checks and sets the pending dataset; records and announces it.
    async fn schedule(
        &self,
        peer: &Peer,
        active: Dataset,
        c: change::Change,
        delay_s: u32,
        kind: EventKind,
        pskc: bool,
    ) -> Result<Value, MethodError> {
        let mut seen = self.seen.lock().await;
        let current = self.read(prop::THREAD_PENDING_DATASET_TLVS).await?;
        if let Some(p) = decode(&current) {
            let d = change::describe(&active, &p);
            return Err(MethodError::new(
                code::CHANGE_PENDING,
                format!(
                    "a {} is already scheduled (active in {} s); wait until it is applied (`threadctl network pending`)",
                    d.kind.replace('-', " "),
                    d.remaining_ms.unwrap_or(0) / 1000
                ),
            ));
        }
        let (channel, pan_id, key_change) = (c.channel, c.pan_id, c.network_key.is_some());
        let previous = seen
            .pending
            .as_deref()
            .and_then(|p| Dataset::decode(p).ok())
            .and_then(|p| p.pending_timestamp());
        let delay_ms = delay_s * 1000;
        let tlvs = change::build_pending(&active, c, delay_ms, previous);
        let role = self.net.role().await.map_err(unavailable)?;
        if !role.is_attached() {
            return Err(MethodError::new(
                code::NCP_UNAVAILABLE,
                format!("the co-processor is not attached to the network (role {role}): a change needs a leader; try again once the network is up"),
            ));
        }
        let leader = role == Role::Leader;
        let (via, effective_ms) = if leader {
            self.net
                .client
                .set(prop::THREAD_PENDING_DATASET_TLVS, &tlvs)
                .await
                .map_err(|e| self.refused(e))?;
            ("leader", delay_ms)
        } else {
            self.net
                .client
                .set(prop::THREAD_MGMT_SET_PENDING_DATASET_TLVS, &tlvs)
                .await
                .map_err(|e| self.refused(e))?;
            let floor = if key_change {
                LEADER_KEY_CHANGE_MIN_MS
            } else {
                LEADER_MIN_MS
            };
            let accepted = self.await_leader(&tlvs).await?;
            ("mgmt-pending-set", accepted.unwrap_or(delay_ms.max(floor)))
        };
        let pending = Dataset::decode(&tlvs).unwrap_or_default();
        let mut described = change::describe(&active, &pending);
        described.remaining_ms = Some(effective_ms);
        let active_seconds = described.active_timestamp.unwrap_or(0);
        seen.scheduled = Some(Awaited {
            kind: match kind {
                EventKind::NetworkKeyRotationScheduled => EventKind::NetworkKeyRotationApplied,
                _ => EventKind::NetworkMigrationApplied,
            },
            active_seconds,
            channel,
            pan_id,
            pskc,
        });
        self.backup_pending(&mut seen, &tlvs);
        drop(seen);
        let reply = Scheduled {
            scheduled: described.clone(),
            requested_delay_s: delay_s,
            effective_delay_s: effective_ms / 1000,
            via: via.to_string(),
        };
        let mut fields = json!({
            "uid": peer.uid,
            "pid": peer.pid,
            "changes": described.changes,
            "delay_s": effective_ms / 1000,
            "requested_delay_s": delay_s,
            "via": via,
            "active_timestamp": active_seconds,
        });
        if kind == EventKind::NetworkKeyRotationScheduled {
            fields["pskc"] = json!(pskc);
        }
        if let Some(c) = channel {
            fields["channel"] = json!(c);
        }
        if let Some(p) = pan_id {
            fields["pan_id"] = json!(format!("0x{p:04x}"));
        }
        let text = match kind {
            EventKind::NetworkKeyRotationScheduled => format!(
                "network key rotation scheduled{}: active in {} s",
                if pskc { " (with a new PSKc)" } else { "" },
                effective_ms / 1000
            ),
            _ => format!(
                "network migration scheduled ({}): active in {} s",
                migration_text(channel, pan_id),
                effective_ms / 1000
            ),
        };
        self.announce(kind, fields, &text);
        Ok(control::reply::to_result(&reply))
    }

    /// After a MGMT_PENDING_SET: waits (up to [`MGMT_ACCEPT_TIMEOUT`]) until the leader's pending
    /// dataset with our pending timestamp reaches the co-processor; its Delay Timer (rounded up to
    /// whole seconds, in ms) is the effective delay. An error if it never arrives.
    async fn await_leader(&self, sent: &[u8]) -> Result<Option<u32>, MethodError> {
        let want = Dataset::decode(sent)
            .ok()
            .and_then(|d| d.pending_timestamp());
        let deadline = tokio::time::Instant::now() + MGMT_ACCEPT_TIMEOUT;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let tlvs = self.read(prop::THREAD_PENDING_DATASET_TLVS).await?;
            if let Some(p) = decode(&tlvs).filter(|p| p.pending_timestamp() == want) {
                return Ok(p.delay_timer().map(|ms| ms.div_ceil(1000) * 1000));
            }
        }
        Err(MethodError::new(
            code::INVALID_PARAMS,
            format!(
                "the leader did not accept the pending dataset within {} s (MGMT_PENDING_SET); nothing was scheduled",
                MGMT_ACCEPT_TIMEOUT.as_secs()
            ),
        ))
    }

    fn refused(&self, e: ncp::Error) -> MethodError {
        match e {
            ncp::Error::Status { status, .. } => MethodError::new(
                code::INVALID_PARAMS,
                format!("the co-processor refused the pending dataset ({status:?})"),
            ),
            e => unavailable(e),
        }
    }

    /// Audit record, journal line and subscriber event.
    fn announce(&self, kind: EventKind, mut fields: Value, text: &str) {
        self.audit.record(kind.as_str(), &fields);
        // Bare values (`event=network-key-rotation-applied`, `uid=0`), like every other event line.
        let f = |k: &str| {
            fields.get(k).map(|v| {
                tracing::field::display(v.as_str().map_or_else(|| v.to_string(), str::to_string))
            })
        };
        tracing::info!(
            event = %kind.as_str(),
            uid = f("uid"),
            changes = f("changes"),
            delay_s = f("delay_s"),
            channel = f("channel"),
            pan_id = f("pan_id"),
            active_timestamp = f("active_timestamp"),
            "{text}"
        );
        fields["type"] = json!(kind.as_str());
        let _ = self.events.send(fields);
    }

    /// After an active dataset was written to the co-processor in place of the network
    /// (`dataset.import`, the REST API's PUT): backs it up, drops any pending backup, and makes it
    /// the one the follower has seen (so it is not reported as a change of another border router).
    fn adopted_active(&self, seen: &mut Seen, tlvs: &[u8], ds: &Dataset) {
        if let Err(e) = self.net.state.write_dataset(tlvs) {
            tracing::error!(error = %e, "cannot back up the active dataset");
        }
        let _ = self.net.state.remove_pending();
        seen.pending = None;
        seen.scheduled = None;
        seen.active = Some(ds.clone());
    }

    /// Writes (or removes) `pending.tlvs` when the pending dataset (Delay Timer aside) changed.
    fn backup_pending(&self, seen: &mut Seen, tlvs: &[u8]) {
        let key = without_delay(tlvs);
        if seen.pending.as_deref().map(|p| p.as_slice()) == Some(key.as_slice())
            || (tlvs.is_empty() && seen.pending.is_none())
        {
            return;
        }
        let result = if tlvs.is_empty() {
            self.net.state.remove_pending()
        } else {
            self.net.state.write_pending(tlvs)
        };
        match result {
            Ok(()) => {
                tracing::info!(
                    path = %self.net.state.pending_path().display(),
                    "{}",
                    if tlvs.is_empty() { "pending dataset backup removed (applied or cleared)" } else { "pending dataset backed up" }
                );
                seen.pending = (!tlvs.is_empty()).then_some(key);
            }
            Err(e) => tracing::error!(error = %e, "cannot back up the pending dataset"),
        }
    }

    /// The follower: runs for the agent's life.
    pub(crate) async fn run(self: Arc<Self>) {
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if !self.net.started() {
                continue;
            }
            self.follow_once().await;
        }
    }

    /// One look at the datasets (see the module documentation).
    pub(crate) async fn follow_once(&self) {
        let (Ok(active), Ok(pending)) = (
            self.read(prop::THREAD_ACTIVE_DATASET_TLVS).await,
            self.read(prop::THREAD_PENDING_DATASET_TLVS).await,
        ) else {
            return;
        };
        let mut seen = self.seen.lock().await;
        self.backup_pending(&mut seen, &pending);
        let Some(now) = decode(&active) else { return };
        let Some(before) = seen.active.replace(now.clone()) else {
            return;
        };
        if before == now {
            return;
        }
        drop(seen);
        self.net.backup_if_changed().await;
        self.active_changed(&before, &now).await;
    }

    async fn active_changed(&self, before: &Dataset, now: &Dataset) {
        let d = change::describe(before, now);
        let seconds = now.active_timestamp.map(timestamp::seconds).unwrap_or(0);
        let scheduled = {
            let mut seen = self.seen.lock().await;
            match &seen.scheduled {
                Some(s) if seconds >= s.active_seconds => seen.scheduled.take(),
                _ => None,
            }
        };
        let mut fields = json!({"changes": d.changes, "active_timestamp": seconds});
        match scheduled {
            Some(s) => {
                let text = if s.kind == EventKind::NetworkKeyRotationApplied {
                    fields["pskc"] = json!(s.pskc);
                    "network key rotation applied: the new active dataset is in use".to_string()
                } else {
                    if let Some(c) = s.channel {
                        fields["channel"] = json!(c);
                    }
                    if let Some(p) = s.pan_id {
                        fields["pan_id"] = json!(format!("0x{p:04x}"));
                    }
                    format!(
                        "network migration applied ({})",
                        migration_text(s.channel, s.pan_id)
                    )
                };
                self.announce(s.kind, fields, &text);
            }
            None => self.announce(
                EventKind::ActiveDatasetChanged,
                fields,
                "the active dataset changed (not scheduled by this agent)",
            ),
        }
        if before.pskc != now.pskc
            || before.ext_pan_id != now.ext_pan_id
            || before.mesh_local_prefix != now.mesh_local_prefix
        {
            self.commissioner.credentials_changed().await;
        }
    }
}

fn migration_text(channel: Option<u8>, pan_id: Option<u16>) -> String {
    let mut parts = Vec::new();
    if let Some(c) = channel {
        parts.push(format!("channel {c}"));
    }
    if let Some(p) = pan_id {
        parts.push(format!("PAN ID 0x{p:04x}"));
    }
    parts.join(", ")
}
