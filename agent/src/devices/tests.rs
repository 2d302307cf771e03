//! The store (round trip, a torn temporary file, a corrupt file, onboardings, stale flag) and the
//! presence logic against a scripted source.

use std::collections::VecDeque;
use std::sync::Mutex as StdMutex;

use super::presence::{role_of, ABSENT_AFTER};
use super::*;

/// A scripted source: each query pops the next answer (`Err` when none is left).
struct Script {
    answers: StdMutex<VecDeque<Result<Vec<Seen>, String>>>,
    ts: StdMutex<Option<u64>>,
}

impl Script {
    fn new(ts: Option<u64>) -> Arc<Script> {
        Arc::new(Script {
            answers: StdMutex::new(VecDeque::new()),
            ts: StdMutex::new(ts),
        })
    }
    fn push(&self, a: Result<Vec<Seen>, String>) {
        self.answers.lock().unwrap().push_back(a);
    }
}

impl PresenceSource for Script {
    fn query(&self, _wait: Duration) -> BoxFuture<'_, Result<Vec<Seen>, String>> {
        let a = self
            .answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| Err("no more answers".into()));
        Box::pin(async move { a })
    }
    fn active_timestamp(&self) -> BoxFuture<'_, Option<u64>> {
        let t = *self.ts.lock().unwrap();
        Box::pin(async move { t })
    }
}

const EUI: [u8; 8] = [0x18, 0xb4, 0x30, 0, 0, 0, 0, 2];

fn entrusted(eui: [u8; 8], label: Option<&str>) -> Value {
    let mut v = json!({
        "type": "joiner-entrusted",
        "joiner_id": hex::encode(meshcop::credentials::joiner_id(&eui)),
        "eui64": hex::encode(eui),
        "entry": format!("eui64:{}", hex::encode(eui)),
        "vendor_name": "OpenThread",
        "vendor_model": "SIMULATION",
        "vendor_sw_version": "1.0",
        "vendor_stack_version": "00",
        "result": "entrusted",
    });
    if let Some(l) = label {
        v["label"] = json!(l);
        v["signer"] = json!("0807060504030201");
    }
    v
}

fn inventory(dir: &Path, src: Arc<Script>) -> (Arc<Inventory>, broadcast::Receiver<Value>) {
    let (tx, rx) = broadcast::channel(64);
    let audit = Arc::new(AuditLog::new(dir));
    (
        Inventory::open(dir, audit, tx, src, Duration::from_secs(60)),
        rx,
    )
}

async fn devices(inv: &Inventory) -> Vec<Device> {
    serde_json::from_value::<DeviceList>(inv.list().await)
        .unwrap()
        .devices
}

#[tokio::test]
async fn onboardings_round_trip_and_count_a_second_join() {
    let dir = tempfile::tempdir().unwrap();
    let src = Script::new(Some(1));
    let (inv, _rx) = inventory(dir.path(), src.clone());
    inv.on_event(&entrusted(EUI, Some("hall"))).await;
    inv.on_event(&entrusted([1; 8], None)).await;
    // Events of other kinds (and garbage) are ignored.
    inv.on_event(&json!({"type": "joiner-seen", "joiner_id": "00"}))
        .await;
    inv.on_event(&json!({"type": "joiner-entrusted"})).await;
    inv.on_event(&json!(42)).await;
    let list = devices(&inv).await;
    assert_eq!(list.len(), 2);
    let d = list
        .iter()
        .find(|d| d.eui64.as_deref() == Some("18b4300000000002"))
        .unwrap();
    assert_eq!(d.vendor_model.as_deref(), Some("SIMULATION"));
    assert_eq!((d.label.as_deref(), d.onboardings), (Some("hall"), 1));
    assert_eq!(d.active_timestamp, Some(1));
    assert_eq!(d.state, "unknown");
    // A restart reads the same records back.
    drop(inv);
    let (inv, _rx) = inventory(dir.path(), src.clone());
    assert_eq!(devices(&inv).await, list);
    // The same EUI-64 again (a factory reset, re-admitted): one record, two onboardings.
    *src.ts.lock().unwrap() = Some(2);
    inv.on_event(&entrusted(EUI, None)).await;
    let list = devices(&inv).await;
    assert_eq!(list.len(), 2);
    let d = list
        .iter()
        .find(|d| d.eui64.as_deref() == Some("18b4300000000002"))
        .unwrap();
    assert_eq!(
        (d.onboardings, d.active_timestamp, d.label.as_deref()),
        (2, Some(2), None)
    );
    assert_ne!(d.first_onboarded, "");
    let mode = std::fs::metadata(dir.path().join(store::FILE)).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(mode.permissions().mode() & 0o777, 0o600);
}

#[tokio::test]
async fn a_torn_temporary_file_or_a_corrupt_file_never_stops_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let src = Script::new(Some(1));
    let (inv, _rx) = inventory(dir.path(), src.clone());
    inv.on_event(&entrusted(EUI, None)).await;
    let good = std::fs::read(dir.path().join(store::FILE)).unwrap();
    drop(inv);
    // A kill -9 in the middle of a rewrite leaves a torn temporary file beside the old one.
    std::fs::write(
        dir.path().join(".devices.json.tmp.999.0"),
        &good[..good.len() / 2],
    )
    .unwrap();
    let (inv, _rx) = inventory(dir.path(), src.clone());
    assert_eq!(devices(&inv).await.len(), 1);
    drop(inv);
    // A corrupt file: moved aside, empty inventory, and the next change writes a good file.
    std::fs::write(dir.path().join(store::FILE), &good[..good.len() / 2]).unwrap();
    let (inv, _rx) = inventory(dir.path(), src.clone());
    assert!(devices(&inv).await.is_empty());
    assert_eq!(
        std::fs::read(dir.path().join(store::CORRUPT)).unwrap(),
        &good[..good.len() / 2]
    );
    inv.on_event(&entrusted([1; 8], None)).await;
    drop(inv);
    let (inv, _rx) = inventory(dir.path(), src);
    assert_eq!(devices(&inv).await.len(), 1);
}

fn seen(eui: [u8; 8], rloc16: u16, mode: u8) -> Seen {
    Seen {
        eui64: eui,
        ext_address: Some([0xaa; 8]),
        rloc16: Some(rloc16),
        mode: Some(mode),
    }
}

#[tokio::test]
async fn presence_attached_absent_and_stale_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let src = Script::new(Some(1));
    let (inv, mut rx) = inventory(dir.path(), src.clone());
    inv.on_event(&entrusted(EUI, Some("hall"))).await;
    // A device admitted through a discerner entry: no EUI-64 until the mesh tells it.
    let other = [9u8; 8];
    let mut ev = entrusted(other, None);
    ev.as_object_mut().unwrap().remove("eui64");
    ev["entry"] = json!("any");
    inv.on_event(&ev).await;
    // Both within the join grace: not counted missing.
    src.push(Ok(vec![]));
    inv.refresh().await;
    assert!(devices(&inv).await.iter().all(|d| d.state == "unknown"));
    inv.lock().1 = Tracker::default();
    src.push(Ok(vec![seen(EUI, 0x0401, 0x0f), seen(other, 0x0800, 0x0f)]));
    inv.refresh().await;
    let list = devices(&inv).await;
    assert!(list.iter().all(|d| d.state == "attached"), "{list:?}");
    let d = list.iter().find(|d| d.entry == "any").unwrap();
    assert_eq!(d.eui64.as_deref(), Some("0909090909090909"));
    assert_eq!(
        (d.role.as_deref(), d.rloc16.as_deref()),
        (Some("router"), Some("0x0800"))
    );
    let d = list.iter().find(|d| d.entry != "any").unwrap();
    assert_eq!(
        (d.role.as_deref(), d.device_type.as_deref()),
        (Some("child"), Some("ftd"))
    );
    assert_eq!(d.ext_address.as_deref(), Some("aaaaaaaaaaaaaaaa"));
    assert_eq!(d.credentials, "current");
    let ev = rx.recv().await.unwrap();
    assert_eq!(ev["type"], "device-attached");
    // A key rotation (active timestamp 2), then EUI goes missing: a failed query counts for
    // nothing, then ABSENT_AFTER answered ones make it absent and its credentials stale.
    *src.ts.lock().unwrap() = Some(2);
    src.push(Err("no answer".into()));
    inv.refresh().await;
    for _ in 0..ABSENT_AFTER {
        assert_eq!(
            devices(&inv)
                .await
                .iter()
                .filter(|d| d.state == "absent")
                .count(),
            0
        );
        src.push(Ok(vec![seen(other, 0x0800, 0x0f)]));
        inv.refresh().await;
    }
    let list = devices(&inv).await;
    let d = list.iter().find(|d| d.entry != "any").unwrap();
    assert_eq!(
        (d.state.as_str(), d.credentials.as_str()),
        ("absent", "stale")
    );
    assert!(d
        .remedy
        .as_deref()
        .unwrap()
        .contains("joiner add --eui64 18b4300000000002"));
    let present = list.iter().find(|d| d.entry == "any").unwrap();
    assert_eq!(
        (present.state.as_str(), present.credentials.as_str()),
        ("attached", "current")
    );
    let ev = loop {
        let ev = rx.recv().await.unwrap();
        if ev["type"] != "device-attached" {
            break ev;
        }
    };
    assert_eq!(
        (ev["type"].as_str(), ev["label"].as_str()),
        (Some("device-absent"), Some("hall"))
    );
    // Back on the mesh: attached again.
    src.push(Ok(vec![seen(EUI, 0x0401, 0x04)]));
    inv.refresh().await;
    assert_eq!(rx.recv().await.unwrap()["type"], "device-attached");
    // Forget, by EUI-64 or by Joiner ID; a second time is not_found.
    let r = inv.forget(DeviceId(EUI), 1000).await.unwrap();
    assert_eq!(r["forgotten"]["eui64"], "18b4300000000002");
    assert_eq!(rx.recv().await.unwrap()["uid"], 1000);
    assert_eq!(
        inv.forget(DeviceId(EUI), 0).await.unwrap_err().code,
        "not_found"
    );
    let id = DeviceId(meshcop::credentials::joiner_id(&other));
    assert_eq!(inv.show(id).await.unwrap()["entry"], "any");
    assert_eq!(inv.show(DeviceId(other)).await.unwrap()["entry"], "any");
    assert_eq!(
        inv.show(DeviceId([7; 8])).await.unwrap_err().code,
        "not_found"
    );
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    assert!(audit.contains("\"device-forgotten\"") && audit.contains("\"device-absent\""));
}

#[test]
fn roles_and_credentials() {
    assert_eq!(
        role_of(Some(0x0400), Some(0x0f)),
        (Some("router".into()), Some("ftd".into()))
    );
    assert_eq!(
        role_of(Some(0x0401), Some(0x04)),
        (Some("child".into()), Some("mtd".into()))
    );
    assert_eq!(role_of(None, None), (None, None));
    let d = |state: &str, ts: Option<u64>| Device {
        state: state.into(),
        active_timestamp: ts,
        ..Device::default()
    };
    assert_eq!(judge(d("absent", Some(1)), Some(2)).credentials, "stale");
    assert_eq!(judge(d("absent", Some(2)), Some(2)).credentials, "current");
    assert_eq!(
        judge(d("attached", Some(1)), Some(2)).credentials,
        "current"
    );
    assert_eq!(judge(d("unknown", Some(1)), Some(2)).credentials, "unknown");
    assert_eq!(judge(d("absent", None), Some(2)).credentials, "unknown");
    assert!(judge(d("absent", Some(1)), Some(2)).remedy.is_some());
    assert!(judge(d("attached", Some(1)), Some(2)).remedy.is_none());
}

#[tokio::test]
async fn the_join_grace_ends_once_a_query_found_the_device() {
    let dir = tempfile::tempdir().unwrap();
    let src = Script::new(Some(1));
    let (inv, _rx) = inventory(dir.path(), src.clone());
    inv.on_event(&entrusted(EUI, None)).await;
    // Attached at the first query after the join; leaving right after counts at once.
    src.push(Ok(vec![seen(EUI, 0x0401, 0x0f)]));
    inv.refresh().await;
    assert_eq!(devices(&inv).await[0].state, "attached");
    for _ in 0..ABSENT_AFTER {
        src.push(Ok(vec![]));
        inv.refresh().await;
    }
    assert_eq!(devices(&inv).await[0].state, "absent");
}

#[tokio::test]
async fn an_entrust_is_saved_with_the_timestamp_a_dataset_event_announced() {
    let dir = tempfile::tempdir().unwrap();
    let src = Script::new(None);
    let (inv, _rx) = inventory(dir.path(), src.clone());
    // The co-processor cannot be read: the last announced active dataset is the one it got
    // (a pending one's `scheduled` timestamp is not).
    inv.on_event(&json!({"type": "network-key-rotation-scheduled", "active_timestamp": 9}))
        .await;
    inv.on_event(&json!({"type": "network-key-rotation-applied", "active_timestamp": 7}))
        .await;
    inv.on_event(&entrusted(EUI, None)).await;
    let saved = std::fs::read_to_string(dir.path().join(store::FILE)).unwrap();
    assert!(saved.contains("\"active_timestamp\": 7"), "{saved}");
    // Read again later: the co-processor's value wins.
    *src.ts.lock().unwrap() = Some(8);
    inv.on_event(&entrusted(EUI, None)).await;
    assert_eq!(devices(&inv).await[0].active_timestamp, Some(8));
}

#[tokio::test]
async fn the_recorder_writes_the_entrust_before_it_is_published_and_counts_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let src = Script::new(Some(3));
    let (inv, _rx) = inventory(dir.path(), src.clone());
    let rec = inv.recorder();
    let ev = entrusted(EUI, Some("hall"));
    rec(&ev);
    rec(&json!({"type": "joiner-seen", "joiner_id": "00"}));
    let saved = std::fs::read_to_string(dir.path().join(store::FILE)).unwrap();
    assert!(saved.contains("18b4300000000002"), "{saved}");
    // The same event from the stream afterwards: the timestamp is read, nothing counted twice.
    inv.on_event(&ev).await;
    let list = devices(&inv).await;
    assert_eq!(
        (list.len(), list[0].onboardings, list[0].active_timestamp),
        (1, 1, Some(3))
    );
}
