//! The lifecycle service on the fake co-processor: a rotation is set as the leader's pending
//! dataset, backed up, refused twice, followed to `applied` (backup rewritten, pending backup
//! removed, audit records without a secret); imports are validated, refused over a network
//! without `replace`, and written with it.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use control::lifecycle::{DatasetImport, Migrate, RotateKey, SecretTlvs};
use meshcop::dataset::Dataset;
use ncp::spinel::prop;
use tokio::sync::mpsc;
use zeroize::Zeroizing;

use super::*;
use crate::fake_ncp::FakeNcp;

fn peer() -> Peer {
    Peer {
        uid: 1234,
        gid: 1234,
        pid: Some(1),
    }
}

async fn service(
    dir: &std::path::Path,
    form: bool,
) -> (
    FakeNcp,
    Arc<Lifecycle>,
    mpsc::Sender<crate::commissioner::NcpInput>,
) {
    let (fake, client, _events) = FakeNcp::start();
    let net = crate::fake_ncp::network(client, dir, "L");
    let net = Arc::new(Arc::try_unwrap(net).ok().unwrap().with_form(form));
    net.bring_up().await.unwrap();
    let audit = Arc::new(AuditLog::new(dir));
    let (in_tx, in_rx) = mpsc::channel(4);
    let svc = Service::spawn(net.clone(), Default::default(), audit.clone(), in_rx);
    (fake, Lifecycle::new(net, audit, svc), in_tx)
}

#[tokio::test]
async fn a_rotation_is_scheduled_backed_up_refused_twice_and_followed_to_applied() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, lc, _in) = service(dir.path(), true).await;
    let old = Dataset::decode(&fake.get(prop::THREAD_ACTIVE_DATASET_TLVS).unwrap()).unwrap();
    let mut events = lc.events.subscribe();
    lc.follow_once().await;

    let r = lc
        .rotate_key(
            &peer(),
            RotateKey {
                delay: 30,
                pskc: true,
            },
        )
        .await
        .unwrap();
    assert_eq!(r["via"], "leader");
    assert_eq!(r["effective_delay_s"], 30);
    assert_eq!(
        r["scheduled"]["changes"],
        serde_json::json!(["network_key", "pskc"])
    );
    let pending_tlvs = fake.get(prop::THREAD_PENDING_DATASET_TLVS).unwrap();
    let pending = Dataset::decode(&pending_tlvs).unwrap();
    assert_ne!(pending.network_key, old.network_key);
    assert_ne!(pending.pskc, old.pskc);
    assert_eq!(pending.delay_timer(), Some(30_000));
    let mode = std::fs::metadata(lc.net.state.pending_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        events.try_recv().unwrap()["type"],
        "network-key-rotation-scheduled"
    );

    // A second change while one is pending is refused; nothing changes.
    let e = lc
        .migrate(
            &peer(),
            Migrate {
                channel: Some(20),
                pan_id: None,
                delay: 30,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, code::CHANGE_PENDING);
    assert_eq!(
        fake.get(prop::THREAD_PENDING_DATASET_TLVS).unwrap(),
        pending_tlvs
    );
    assert!(lc.pending().await.unwrap().is_some());

    // The co-processor applies it: active = pending without its two TLVs; pending cleared.
    let mut applied = pending.clone();
    applied.set_pending_timestamp(None);
    applied.set_delay_timer(None);
    fake.set(prop::THREAD_ACTIVE_DATASET_TLVS, &applied.encode());
    fake.set(prop::THREAD_PENDING_DATASET_TLVS, &[]);
    lc.follow_once().await;
    let ev = events.try_recv().unwrap();
    assert_eq!(ev["type"], "network-key-rotation-applied", "{ev}");
    assert_eq!(ev["active_timestamp"], 2);
    assert_eq!(
        lc.net.state.read_dataset().unwrap().as_deref(),
        Some(applied.encode().as_slice())
    );
    assert!(!lc.net.state.pending_path().exists());
    assert!(lc.pending().await.unwrap().is_none());
    assert_eq!(lc.status_fields().await.0, Some(2));

    // The audit log has both records, the uid, and neither key.
    let audit = std::fs::read_to_string(lc.audit.path()).unwrap();
    assert!(audit.contains("network-key-rotation-scheduled") && audit.contains("\"uid\":1234"));
    assert!(audit.contains("network-key-rotation-applied"));
    for k in [&old, &pending] {
        let hex_key = hex::encode(k.network_key.as_ref().unwrap().as_bytes());
        assert!(!audit.contains(&hex_key), "{audit}");
    }

    // An active dataset change nobody here scheduled is reported as such.
    let mut other = applied.clone();
    other.active_timestamp = Some(meshcop::dataset::timestamp::new(9, 0, false));
    other.channel = Some(25);
    fake.set(prop::THREAD_ACTIVE_DATASET_TLVS, &other.encode());
    lc.follow_once().await;
    let ev = events.try_recv().unwrap();
    assert_eq!(ev["type"], "active-dataset-changed");
    assert_eq!(ev["changes"], serde_json::json!(["channel"]));
}

#[tokio::test]
async fn a_migration_to_the_current_values_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, lc, _in) = service(dir.path(), true).await;
    let active = Dataset::decode(&fake.get(prop::THREAD_ACTIVE_DATASET_TLVS).unwrap()).unwrap();
    let e = lc
        .migrate(
            &peer(),
            Migrate {
                channel: active.channel.map(|c| c as u8),
                pan_id: active.pan_id,
                delay: 30,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, code::INVALID_PARAMS);
    assert!(e.message.contains("nothing to change"), "{}", e.message);
    assert!(fake
        .get(prop::THREAD_PENDING_DATASET_TLVS)
        .unwrap_or_default()
        .is_empty());
}

fn import(tlvs: &[u8], replace: bool) -> DatasetImport {
    DatasetImport {
        tlvs: SecretTlvs(Zeroizing::new(tlvs.to_vec())),
        replace,
    }
}

#[tokio::test]
async fn imports_are_validated_and_refused_over_a_network_without_replace() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, lc, _in) = service(dir.path(), false).await;
    // form = false: the blank co-processor waits, nothing was formed.
    assert!(fake
        .get(prop::THREAD_ACTIVE_DATASET_TLVS)
        .unwrap_or_default()
        .is_empty());
    assert_eq!(lc.net.state.read_dataset().unwrap(), None);

    let good = crate::network::generate_dataset("Imported", 21).unwrap();
    let e = lc
        .import(&peer(), import(&good[..good.len() / 2], false))
        .await
        .unwrap_err();
    assert_eq!(e.code, code::INVALID_PARAMS);
    let mut ds = Dataset::decode(&good).unwrap();
    ds.network_key = None;
    let e = lc
        .import(&peer(), import(&ds.encode(), false))
        .await
        .unwrap_err();
    assert!(e.message.contains("Network Key"), "{}", e.message);
    assert!(fake
        .get(prop::THREAD_ACTIVE_DATASET_TLVS)
        .unwrap_or_default()
        .is_empty());

    let r = lc.import(&peer(), import(&good, false)).await.unwrap();
    assert_eq!(
        (r["imported"].clone(), r["replaced"].clone()),
        (true.into(), false.into())
    );
    assert_eq!(r["network_name"], "Imported");
    assert_eq!(
        fake.get(prop::THREAD_ACTIVE_DATASET_TLVS).unwrap(),
        good.to_vec()
    );
    assert_eq!(fake.get(prop::NET_STACK_UP), Some(vec![1]));
    assert_eq!(
        lc.net.state.read_dataset().unwrap().as_deref(),
        Some(good.as_slice())
    );

    let other = crate::network::generate_dataset("Other", 22).unwrap();
    let e = lc.import(&peer(), import(&other, false)).await.unwrap_err();
    assert_eq!(e.code, code::NETWORK_EXISTS);
    assert_eq!(
        fake.get(prop::THREAD_ACTIVE_DATASET_TLVS).unwrap(),
        good.to_vec()
    );
    let r = lc.import(&peer(), import(&other, true)).await.unwrap();
    assert_eq!(r["replaced"], true);
    assert_eq!(
        fake.get(prop::THREAD_ACTIVE_DATASET_TLVS).unwrap(),
        other.to_vec()
    );
    assert_eq!(
        lc.net.state.read_dataset().unwrap().as_deref(),
        Some(other.as_slice())
    );
    let audit = std::fs::read_to_string(lc.audit.path()).unwrap();
    assert_eq!(audit.matches("dataset-imported").count(), 2, "{audit}");
}
