//! Follows the co-processor's unsolicited events and turns them into log lines and actions.
//!
//! - `NET_ROLE` -> `role changed` (fields `from`, `to`); the first attach after start or reset
//!   -> `network up`.
//! - `NET_PARTITION_ID` -> `partition changed` (`partition_id`).
//! - `THREAD_CHILD_TABLE` / `THREAD_NEIGHBOR_TABLE` INSERTED/REMOVED -> `child added|removed`,
//!   `neighbor added|removed` (`ext_address`, `rloc16`, `link_quality`...).
//! - Channel, PAN ID, name, ext PAN ID, network key or PSKc changed -> re-check the dataset backup
//!   (the value itself is never logged: some of these are secrets). Also re-checked every 30 s.
//! - `Event::Reset` -> warning, then the network is brought up again (restoring the dataset from
//!   the backup if the co-processor came back blank).
//! - `Event::Closed` -> the network is marked down (role disabled); [`crate::liveness`] reopens
//!   the link, and the reset the co-processor reports then brings the network up again.
//! - The event channel ending (the client is gone) -> returns a fatal error (exit 1).
//!
//! Guarantees: never panics on event contents; undecodable tables are logged at debug and ignored.

use std::sync::Arc;
use std::time::Duration;

use ncp::codec::Reader;
use ncp::spinel::{cmd, prop};
use ncp::Event;
use tokio::sync::mpsc::Receiver;

use crate::network::{Network, Role};
use crate::session::{exit, Fatal};
use ncp::props::tables;

/// How often the dataset backup is re-checked without an event.
pub(crate) const BACKUP_RECHECK: Duration = Duration::from_secs(30);

/// Runs until the link closes; returns the fatal error to exit with.
pub(crate) async fn run(net: Arc<Network>, mut events: Receiver<Event>) -> Fatal {
    let mut tick = tokio::time::interval(BACKUP_RECHECK);
    tick.tick().await;
    loop {
        let ev = tokio::select! {
            ev = events.recv() => ev,
            _ = tick.tick() => {
                net.backup_if_changed().await;
                continue;
            }
        };
        match ev {
            None => {
                return Fatal::new(
                    exit::FAILURE,
                    "co-processor link closed (event channel ended)",
                )
            }
            Some(Event::Closed { reason }) => {
                tracing::debug!(%reason, "co-processor link closed; the liveness check reopens it");
                net.mark_down();
                let _ = net.role_tx.send_replace(Role::Disabled);
            }
            Some(Event::Reset { status }) if !net.started() => {
                tracing::debug!(status, "co-processor reset during start-up");
            }
            Some(Event::Reset { status }) => {
                tracing::warn!(status, "co-processor reset; bringing the network back up");
                net.mark_down();
                let _ = net.role_tx.send_replace(Role::Disabled);
                match net.bring_up().await {
                    Ok(how) => {
                        tracing::info!(how = ?how, "network brought back up after co-processor reset")
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot bring the network back up after the reset")
                    }
                }
            }
            Some(Event::Property {
                command,
                prop: p,
                value,
            }) => handle_property(&net, command, p, &value).await,
        }
    }
}

async fn handle_property(
    net: &Arc<Network>,
    command: ncp::spinel::Command,
    p: ncp::spinel::Prop,
    value: &[u8],
) {
    if p == prop::NET_ROLE {
        let Ok(v) = Reader::new(value).u8() else {
            return;
        };
        let to = Role::from_u8(v);
        let from = net.role_tx.send_replace(to);
        if from != to {
            tracing::info!(event = "role-changed", from = %from, to = %to, "role changed");
        }
        if to.is_attached() {
            let net = net.clone();
            // Announcing reads properties; do it off the event loop so events keep flowing.
            tokio::spawn(async move { net.announce_up(to).await });
        }
    } else if p == prop::NET_PARTITION_ID {
        if let Ok(id) = Reader::new(value).u32() {
            tracing::info!(partition_id = id, "partition changed");
        }
    } else if p == prop::THREAD_CHILD_TABLE {
        if command == cmd::INSERTED || command == cmd::REMOVED {
            match tables::decode_child_entry(value) {
                Ok(c) => tracing::info!(
                    ext_address = %c.ext_address,
                    rloc16 = %c.rloc16,
                    link_quality = c.link_quality,
                    timeout = c.timeout,
                    "{}",
                    if command == cmd::INSERTED { "child added" } else { "child removed" }
                ),
                Err(e) => tracing::debug!(error = %e, "undecodable child table event"),
            }
        } else {
            match tables::decode_child_table(value) {
                Ok(t) => tracing::info!(children = t.len(), "child table changed"),
                Err(e) => tracing::debug!(error = %e, "undecodable child table"),
            }
        }
    } else if p == prop::THREAD_NEIGHBOR_TABLE {
        if command == cmd::INSERTED || command == cmd::REMOVED {
            match tables::decode_neighbor_entry(value) {
                Ok(n) => tracing::info!(
                    ext_address = %n.ext_address,
                    rloc16 = %n.rloc16,
                    link_quality = n.link_quality,
                    is_child = n.is_child,
                    "{}",
                    if command == cmd::INSERTED { "neighbor added" } else { "neighbor removed" }
                ),
                Err(e) => tracing::debug!(error = %e, "undecodable neighbor table event"),
            }
        } else {
            match tables::decode_neighbor_table(value) {
                Ok(t) => tracing::info!(neighbors = t.len(), "neighbor table changed"),
                Err(e) => tracing::debug!(error = %e, "undecodable neighbor table"),
            }
        }
    } else if [
        prop::PHY_CHAN,
        prop::MAC_15_4_PANID,
        prop::NET_NETWORK_NAME,
        prop::NET_XPANID,
        prop::NET_NETWORK_KEY,
        prop::NET_PSKC,
        prop::THREAD_ACTIVE_DATASET_TLVS,
    ]
    .contains(&p)
    {
        // Never log `value`: NET_NETWORK_KEY and NET_PSKC carry secrets.
        tracing::debug!(prop = %p, "network parameter changed; re-checking the dataset backup");
        let net = net.clone();
        tokio::spawn(async move { net.backup_if_changed().await });
    } else if p == prop::LAST_STATUS {
        if let Ok(s) = Reader::new(value).uint() {
            tracing::debug!(status = s, "co-processor status");
        }
    } else {
        tracing::trace!(prop = %p, command = %command, len = value.len(), "co-processor property update");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_ncp::FakeNcp;

    #[test]
    fn reset_to_blank_restores_from_backup_and_closed_marks_down() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let (fake, client, events) = FakeNcp::start();
            let net = crate::fake_ncp::network(client, dir.path(), "R");
            net.bring_up().await.unwrap();
            let formed = fake.get(prop::THREAD_ACTIVE_DATASET_TLVS).unwrap();
            let monitor = tokio::spawn(run(net.clone(), events));
            assert_eq!(
                net.wait_attached(Duration::from_secs(5)).await,
                Some(Role::Leader)
            );

            // The co-processor resets and comes back blank: the agent restores the same dataset.
            let mut role = net.role_tx.subscribe();
            fake.reset(false);
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            while fake.get(prop::THREAD_ACTIVE_DATASET_TLVS).as_deref() != Some(formed.as_slice())
                || *role.borrow_and_update() != Role::Leader
            {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "not restored after reset"
                );
                let _ = tokio::time::timeout(Duration::from_millis(50), role.changed()).await;
            }
            assert_eq!(fake.get(prop::NET_STACK_UP), Some(vec![1]));

            // Unplugged: the monitor marks the network down and keeps running (the liveness
            // check reopens the link).
            let mut role = net.role_tx.subscribe();
            fake.unplug();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            while *role.borrow_and_update() != Role::Disabled {
                assert!(tokio::time::Instant::now() < deadline, "not marked down");
                let _ = tokio::time::timeout(Duration::from_millis(50), role.changed()).await;
            }
            // This client cannot reopen, so its event channel then ends: that is what is fatal.
            let fatal = tokio::time::timeout(Duration::from_secs(5), monitor)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(fatal.code, exit::FAILURE);
            assert!(
                fatal.message.contains("event channel ended"),
                "{}",
                fatal.message
            );
        });
    }
}
