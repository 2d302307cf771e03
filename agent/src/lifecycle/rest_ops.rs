//! The operations of the OpenThread Border Router REST API ([`crate::rest`]) that threadctl has
//! no method for: write the active dataset while Thread is stopped, schedule a whole pending
//! dataset (Home Assistant's channel change), clear a dataset, stop/start Thread and the factory
//! reset. Each is one audit record naming the peer (`who`), never a key or dataset hex; writes
//! are validated before anything reaches the co-processor, and backups follow every write.

use control::{code, EventKind, MethodError};
use meshcop::dataset::{timestamp, Dataset};
use ncp::spinel::prop;
use serde_json::{json, Value};

use super::{change, decode, unavailable, Awaited, Lifecycle};
use crate::network::Role;

/// Why a REST write was refused (maps onto an HTTP status).
#[derive(Debug)]
pub(crate) enum Refusal {
    /// Thread is enabled (409).
    ThreadEnabled,
    /// A pending dataset is already in place (412 with If-None-Match, else 409).
    PendingExists,
    /// The request's dataset is not usable (400).
    Invalid(String),
    /// The co-processor failed or the operation could not be done (500/409).
    Failed(MethodError),
}

impl From<MethodError> for Refusal {
    fn from(e: MethodError) -> Refusal {
        Refusal::Failed(e)
    }
}

impl Lifecycle {
    /// The co-processor's dataset TLVs (`active` or pending); empty when there is none.
    pub(crate) async fn dataset_tlvs(
        &self,
        active: bool,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, MethodError> {
        self.read(if active {
            prop::THREAD_ACTIVE_DATASET_TLVS
        } else {
            prop::THREAD_PENDING_DATASET_TLVS
        })
        .await
    }

    /// An audit record (no event stream) of a REST action.
    pub(crate) fn audit_rest(&self, event: &str, fields: &Value) {
        self.audit.record(event, fields);
        let peer = fields.get("peer").and_then(|p| p.as_str()).unwrap_or("");
        tracing::info!(event = %event, peer = %peer, "REST API: {event}");
    }

    async fn thread_enabled(&self) -> Result<bool, MethodError> {
        Ok(self.net.role().await.map_err(unavailable)? != Role::Disabled)
    }

    /// PUT /node/dataset/active: the whole active dataset, written while Thread is stopped.
    pub(crate) async fn set_active_stopped(&self, who: Value, tlvs: &[u8]) -> Result<(), Refusal> {
        crate::state::validate_dataset(tlvs)
            .map_err(|r| Refusal::Invalid(format!("not a usable active dataset: {r}")))?;
        let ds = Dataset::decode(tlvs).map_err(|e| Refusal::Invalid(e.to_string()))?;
        let mut seen = self.seen.lock().await;
        if self.thread_enabled().await? {
            return Err(Refusal::ThreadEnabled);
        }
        let c = &self.net.client;
        let _ = c.set(prop::THREAD_PENDING_DATASET_TLVS, &[]).await;
        c.set(prop::THREAD_ACTIVE_DATASET_TLVS, tlvs)
            .await
            .map_err(|e| match e {
                ncp::Error::Status { status, .. } => Refusal::Invalid(format!(
                    "the co-processor refused the dataset ({status:?}); nothing changed"
                )),
                e => Refusal::Failed(unavailable(e)),
            })?;
        self.adopted_active(&mut seen, tlvs, &ds);
        drop(seen);
        let mut fields = who;
        fields["network_name"] = json!(ds.network_name.clone().unwrap_or_default());
        fields["ext_pan_id"] = json!(ds.ext_pan_id.map(hex::encode).unwrap_or_default());
        fields["channel"] = json!(ds.channel);
        fields["pan_id"] = json!(format!("0x{:04x}", ds.pan_id.unwrap_or(0)));
        fields["active_timestamp"] = json!(ds.active_timestamp.map(timestamp::seconds));
        fields["replaced"] = json!(true);
        self.announce(
            EventKind::DatasetImported,
            fields,
            "active dataset written over the REST API (Thread stopped)",
        );
        self.commissioner.credentials_changed().await;
        Ok(())
    }

    /// PUT /node/dataset/pending: a whole pending dataset (with Pending Timestamp and Delay
    /// Timer), set on the leader or sent with MGMT_PENDING_SET; one at a time.
    pub(crate) async fn set_pending(&self, who: Value, tlvs: &[u8]) -> Result<(), Refusal> {
        let pending = Dataset::decode(tlvs).map_err(|e| Refusal::Invalid(e.to_string()))?;
        if pending.active_timestamp.is_none() || pending.delay_timer().is_none() {
            return Err(Refusal::Invalid(
                "a pending dataset needs an Active Timestamp and a Delay Timer".into(),
            ));
        }
        let mut seen = self.seen.lock().await;
        let active = self.active().await?;
        if decode(&self.read(prop::THREAD_PENDING_DATASET_TLVS).await?).is_some() {
            return Err(Refusal::PendingExists);
        }
        let role = self.net.role().await.map_err(unavailable)?;
        if !role.is_attached() {
            return Err(Refusal::ThreadEnabled.not_attached(role));
        }
        let p = if role == Role::Leader {
            prop::THREAD_PENDING_DATASET_TLVS
        } else {
            prop::THREAD_MGMT_SET_PENDING_DATASET_TLVS
        };
        self.net
            .client
            .set(p, tlvs)
            .await
            .map_err(|e| Refusal::Failed(self.refused(e)))?;
        if role != Role::Leader {
            self.await_leader(tlvs).await?;
        }
        let d = change::describe(&active, &pending);
        let kind = if d.changes.iter().any(|c| c == "network_key") {
            EventKind::NetworkKeyRotationScheduled
        } else {
            EventKind::NetworkMigrationScheduled
        };
        seen.scheduled = Some(Awaited {
            kind: match kind {
                EventKind::NetworkKeyRotationScheduled => EventKind::NetworkKeyRotationApplied,
                _ => EventKind::NetworkMigrationApplied,
            },
            active_seconds: d.active_timestamp.unwrap_or(0),
            channel: d.channel,
            pan_id: d
                .pan_id
                .as_deref()
                .and_then(|p| u16::from_str_radix(p.trim_start_matches("0x"), 16).ok()),
            pskc: d.changes.iter().any(|c| c == "pskc"),
        });
        self.backup_pending(&mut seen, tlvs);
        drop(seen);
        let delay_s = pending.delay_timer().unwrap_or(0) / 1000;
        let mut fields = who;
        fields["changes"] = json!(d.changes);
        fields["delay_s"] = json!(delay_s);
        fields["requested_delay_s"] = json!(delay_s);
        fields["via"] = json!(if role == Role::Leader {
            "leader"
        } else {
            "mgmt-pending-set"
        });
        fields["active_timestamp"] = json!(d.active_timestamp);
        if let Some(c) = d.channel {
            fields["channel"] = json!(c);
        }
        if let Some(p) = &d.pan_id {
            fields["pan_id"] = json!(p);
        }
        self.announce(
            kind,
            fields,
            &format!("pending dataset scheduled over the REST API: active in {delay_s} s"),
        );
        Ok(())
    }

    /// DELETE /node/dataset/{active,pending}: only while Thread is stopped.
    pub(crate) async fn clear_dataset(&self, who: Value, active: bool) -> Result<(), Refusal> {
        let mut seen = self.seen.lock().await;
        if self.thread_enabled().await? {
            return Err(Refusal::ThreadEnabled);
        }
        let c = &self.net.client;
        if active {
            c.set(prop::THREAD_ACTIVE_DATASET_TLVS, &[])
                .await
                .map_err(|e| Refusal::Failed(unavailable(e)))?;
            let _ = self.net.state.remove_dataset();
            seen.active = None;
        }
        let _ = c.set(prop::THREAD_PENDING_DATASET_TLVS, &[]).await;
        let _ = self.net.state.remove_pending();
        seen.pending = None;
        seen.scheduled = None;
        drop(seen);
        let mut fields = who;
        fields["dataset"] = json!(if active { "active" } else { "pending" });
        self.audit_rest("dataset-deleted", &fields);
        Ok(())
    }

    /// PUT /node/state: starts or stops Thread. Stopped stays stopped across a co-processor
    /// reset (until enabled again or the agent restarts).
    pub(crate) async fn set_thread_enabled(&self, who: Value, enable: bool) -> Result<(), Refusal> {
        let _seen = self.seen.lock().await;
        let c = &self.net.client;
        if enable {
            if self
                .read(prop::THREAD_ACTIVE_DATASET_TLVS)
                .await?
                .is_empty()
            {
                return Err(Refusal::Invalid(
                    "there is no active dataset: PUT /node/dataset/active first".into(),
                ));
            }
            self.net.hold_down(false);
            c.set(prop::NET_IF_UP, &[1]).await.map_err(unavailable)?;
            c.set(prop::NET_STACK_UP, &[1]).await.map_err(unavailable)?;
        } else {
            self.net.hold_down(true);
            c.set(prop::NET_STACK_UP, &[0]).await.map_err(unavailable)?;
            self.net.mark_down();
        }
        let mut fields = who;
        fields["enabled"] = json!(enable);
        self.audit_rest("thread-state-changed", &fields);
        Ok(())
    }

    /// DELETE /node: stops Thread, erases the co-processor's datasets and settings (Spinel
    /// `NET_CLEAR`) and the backups. Thread stays stopped until a dataset is written and enabled.
    pub(crate) async fn factory_reset(&self, who: Value) -> Result<(), Refusal> {
        let mut seen = self.seen.lock().await;
        self.net.hold_down(true);
        let c = &self.net.client;
        c.set(prop::NET_STACK_UP, &[0]).await.map_err(unavailable)?;
        self.net.mark_down();
        let _ = c.set(prop::THREAD_PENDING_DATASET_TLVS, &[]).await;
        c.set(prop::THREAD_ACTIVE_DATASET_TLVS, &[])
            .await
            .map_err(unavailable)?;
        // SPINEL_CMD_NET_CLEAR (10): otInstanceErasePersistentInfo.
        let _ = c
            .request(ncp::spinel::Command(10), prop::LAST_STATUS, &[])
            .await;
        let _ = c.set(prop::NET_IF_UP, &[0]).await;
        let removed_active = self.net.state.remove_dataset();
        let _ = self.net.state.remove_pending();
        seen.active = None;
        seen.pending = None;
        seen.scheduled = None;
        drop(seen);
        let mut fields = who;
        fields["backup_removed"] = json!(removed_active.is_ok());
        self.audit_rest("factory-reset", &fields);
        removed_active
            .map_err(|e| Refusal::Failed(MethodError::new(code::INTERNAL_ERROR, e.to_string())))
    }
}

impl Refusal {
    fn not_attached(self, role: Role) -> Refusal {
        Refusal::Failed(MethodError::new(
            code::NCP_UNAVAILABLE,
            format!(
                "the co-processor is not attached (role {role}): a pending dataset needs a leader"
            ),
        ))
    }
}
