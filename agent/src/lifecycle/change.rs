//! Pure parts of a credential change: building the pending dataset from the active one, and
//! describing a pending dataset against the active one (which public fields change; never a
//! secret value).
//!
//! Timestamps (OpenThread `dataset_manager_ftd.cpp`, `dataset_manager.cpp`): the new active
//! timestamp is one second past the current one (ticks 0, not authoritative): a node replaces its
//! active dataset when the pending one's active timestamp is newer. The pending timestamp is the
//! larger of the new active timestamp and one second past any earlier pending timestamp: a node
//! stores a pending dataset only when its pending timestamp is newer than the one it has.

use meshcop::credentials::{NetworkKey, Pskc};
use meshcop::dataset::{timestamp, Dataset};
use zeroize::Zeroizing;

/// What a scheduled change replaces.
#[derive(Default)]
pub(crate) struct Change {
    pub(crate) network_key: Option<NetworkKey>,
    pub(crate) pskc: Option<Pskc>,
    pub(crate) channel: Option<u8>,
    pub(crate) pan_id: Option<u16>,
}

/// The next timestamp: one second past `ts`'s seconds, ticks 0, not authoritative.
fn next_second(ts: Option<u64>) -> u64 {
    timestamp::new(ts.map_or(0, timestamp::seconds) + 1, 0, false)
}

/// The pending dataset TLVs for `change` on top of `active`, switching after `delay_ms`.
/// `previous_pending` is the last pending timestamp seen (if any).
pub(crate) fn build_pending(
    active: &Dataset,
    change: Change,
    delay_ms: u32,
    previous_pending: Option<u64>,
) -> Zeroizing<Vec<u8>> {
    let mut ds = active.clone();
    let new_active = next_second(active.active_timestamp);
    ds.active_timestamp = Some(new_active);
    if let Some(k) = change.network_key {
        ds.network_key = Some(k);
    }
    if let Some(p) = change.pskc {
        ds.pskc = Some(p);
    }
    if let Some(c) = change.channel {
        ds.channel = Some(c as u16);
    }
    if let Some(p) = change.pan_id {
        ds.pan_id = Some(p);
    }
    let pending_ts = new_active.max(next_second(previous_pending));
    ds.set_pending_timestamp(Some(pending_ts));
    ds.set_delay_timer(Some(delay_ms));
    Zeroizing::new(ds.encode())
}

/// The public description of `pending` against `active` (see `control::lifecycle::PendingChange`).
pub(crate) fn describe(active: &Dataset, pending: &Dataset) -> control::lifecycle::PendingChange {
    let mut changes: Vec<String> = Vec::new();
    let mut note = |differs: bool, name: &str| {
        if differs {
            changes.push(name.to_string());
        }
    };
    note(pending.network_key != active.network_key, "network_key");
    note(pending.pskc != active.pskc, "pskc");
    let channel_changes = pending.channel.is_some() && pending.channel != active.channel;
    note(channel_changes, "channel");
    let pan_changes = pending.pan_id.is_some() && pending.pan_id != active.pan_id;
    note(pan_changes, "pan_id");
    note(
        pending.network_name.is_some() && pending.network_name != active.network_name,
        "network_name",
    );
    note(
        pending.ext_pan_id.is_some() && pending.ext_pan_id != active.ext_pan_id,
        "ext_pan_id",
    );
    note(
        pending.mesh_local_prefix.is_some()
            && pending.mesh_local_prefix != active.mesh_local_prefix,
        "mesh_local_prefix",
    );
    note(
        pending.security_policy.is_some() && pending.security_policy != active.security_policy,
        "security_policy",
    );
    note(
        pending.channel_mask.is_some() && pending.channel_mask != active.channel_mask,
        "channel_mask",
    );
    let kind = if changes.iter().any(|c| c == "network_key") {
        "network-key-rotation"
    } else if channel_changes || pan_changes {
        "network-migration"
    } else {
        "dataset-change"
    };
    control::lifecycle::PendingChange {
        kind: kind.to_string(),
        changes,
        channel: pending
            .channel
            .filter(|_| channel_changes)
            .and_then(|c| u8::try_from(c).ok()),
        pan_id: pending
            .pan_id
            .filter(|_| pan_changes)
            .map(|p| format!("0x{p:04x}")),
        active_timestamp: pending.active_timestamp.map(timestamp::seconds),
        pending_timestamp: pending.pending_timestamp().map(timestamp::seconds),
        remaining_ms: pending.delay_timer(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn active() -> Dataset {
        Dataset::decode(&crate::network::generate_dataset("Net", 15).unwrap()).unwrap()
    }

    #[test]
    fn a_rotation_changes_the_key_and_moves_the_timestamps() {
        let a = active();
        let key = NetworkKey::from_bytes([7; 16]);
        let tlvs = build_pending(
            &a,
            Change {
                network_key: Some(key.clone()),
                ..Change::default()
            },
            30_000,
            None,
        );
        let p = Dataset::decode(&tlvs).unwrap();
        assert_eq!(p.network_key, Some(key));
        assert_eq!(p.pskc, a.pskc);
        assert_eq!(p.delay_timer(), Some(30_000));
        assert_eq!(p.active_timestamp.map(timestamp::seconds), Some(2));
        assert_eq!(p.pending_timestamp().map(timestamp::seconds), Some(2));
        let d = describe(&a, &p);
        assert_eq!(d.kind, "network-key-rotation");
        assert_eq!(d.changes, ["network_key"]);
        assert_eq!((d.channel, d.pan_id.as_deref()), (None, None));
        assert_eq!(d.remaining_ms, Some(30_000));
        // The description carries no secret.
        let text = serde_json::to_string(&d).unwrap();
        assert!(!text.contains(&hex::encode([7u8; 16])), "{text}");

        // A later change moves the pending timestamp past the earlier one.
        let tlvs = build_pending(
            &a,
            Change::default(),
            30_000,
            Some(timestamp::new(9, 0, false)),
        );
        let p = Dataset::decode(&tlvs).unwrap();
        assert_eq!(p.pending_timestamp().map(timestamp::seconds), Some(10));
    }

    #[test]
    fn a_migration_names_channel_and_pan_id() {
        let a = active();
        let tlvs = build_pending(
            &a,
            Change {
                channel: Some(20),
                pan_id: Some(0x1234),
                ..Change::default()
            },
            60_000,
            None,
        );
        let p = Dataset::decode(&tlvs).unwrap();
        let d = describe(&a, &p);
        assert_eq!(d.kind, "network-migration");
        assert_eq!(d.changes, ["channel", "pan_id"]);
        assert_eq!(d.channel, Some(20));
        assert_eq!(d.pan_id.as_deref(), Some("0x1234"));
        // Same values: nothing changes, kind is a plain dataset change.
        let d = describe(&a, &a);
        assert!(d.changes.is_empty());
        assert_eq!(d.kind, "dataset-change");
    }
}
