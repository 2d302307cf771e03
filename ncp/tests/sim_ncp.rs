//! End-to-end tests against the real OpenThread simulation co-processors, started through the
//! forkpty radio URL: `ot-ncp-ftd` must pass `probe()`, `ot-rcp` must be refused.
//!
//! Binaries: `$OT_NCP_BIN` (default `target/openthread/ncp/bin/ot-ncp-ftd` of this workspace) and
//! `ot-rcp` beside it (or `$OT_RCP_BIN`). Missing binaries skip the test with a message.
//! Each node runs in a fresh temp directory (it keeps settings in ./tmp/) with its own
//! PORT_OFFSET (1..=4, reserved for this crate), and is killed when the client drops.

use ncp::spinel::{cap, prop};
use ncp::{Client, ClientOptions, Error, Event, RadioUrl};
use std::path::{Path, PathBuf};

fn ncp_bin() -> PathBuf {
    std::env::var_os("OT_NCP_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/openthread/ncp/bin/ot-ncp-ftd")
        })
}

fn rcp_bin() -> PathBuf {
    std::env::var_os("OT_RCP_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| ncp_bin().with_file_name("ot-rcp"))
}

/// A temp working dir removed on drop.
struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("ncp-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `spinel+hdlc+forkpty:///bin/sh?forkpty-arg=-c&forkpty-arg=cd DIR && PORT_OFFSET=N exec BIN 1`
fn sim_url(bin: &Path, dir: &Path, port_offset: u32) -> RadioUrl {
    let script = format!(
        "cd '{}' && PORT_OFFSET={port_offset} exec '{}' 1",
        dir.display(),
        bin.display()
    );
    RadioUrl::forkpty("/bin/sh", vec!["-c".into(), script])
}

fn skip(bin: &Path) -> bool {
    if bin.exists() {
        return false;
    }
    eprintln!(
        "SKIPPED: {} not found (build it with testbed/build-ot.sh or set OT_NCP_BIN)",
        bin.display()
    );
    true
}

#[tokio::test]
async fn ncp_ftd_probe_and_reset() {
    let bin = ncp_bin();
    if skip(&bin) {
        return;
    }
    let dir = TempDir::new("ftd");
    let (client, mut events) = Client::open(&sim_url(&bin, &dir.0, 1), ClientOptions::default())
        .await
        .unwrap();

    let info = client.probe().await.unwrap();
    eprintln!("probe: {info:?}\ncaps: {:?}", info.cap_names());
    assert_eq!(info.protocol.0, 4);
    assert_eq!(info.interface_type, 3);
    assert!(info.has_cap(cap::THREAD_UDP_FORWARD));
    assert!(info.has_cap(cap::CONFIG_FTD));
    assert!(info.version.contains("OPENTHREAD"), "{}", info.version);

    // Raw values, printed so they can be captured for unit tests.
    for p in [
        prop::PROTOCOL_VERSION,
        prop::CAPS,
        prop::NCP_VERSION,
        prop::HWADDR,
        prop::NET_ROLE,
    ] {
        let v = client.get(p).await.unwrap();
        eprintln!("GET {p:?} = {}", hex_str(&v));
    }
    let hw = client.get(prop::HWADDR).await.unwrap();
    assert_eq!(hw, info.hwaddr);

    // A property that does not exist is a Status error, not a timeout.
    match client.get(ncp::spinel::Prop(0x3FFF)).await {
        Err(Error::Status { status, .. }) => eprintln!("unknown prop -> {status}"),
        other => panic!("unknown property: {other:?}"),
    }
    // SET of a writable property echoes the value; of a read-only one fails with a status.
    assert_eq!(client.set(prop::PHY_CHAN, &[15]).await.unwrap(), [15]);
    assert!(matches!(
        client.set(prop::NCP_VERSION, b"x\0").await,
        Err(Error::Status { .. })
    ));

    // The power-on reset status arrives as the first event.
    match events.recv().await {
        Some(Event::Reset { status }) => assert!((112..=127).contains(&status)),
        other => panic!("first event: {other:?}"),
    }
    // RESET restarts the node; it reports a software reset and answers again.
    client.reset().await.unwrap();
    loop {
        match events.recv().await {
            Some(Event::Reset { status }) => {
                eprintln!("reset status after RESET: {status}");
                break;
            }
            Some(Event::Property { .. }) => continue,
            other => panic!("after RESET: {other:?}"),
        }
    }
    assert_eq!(client.probe().await.unwrap().hwaddr, info.hwaddr);
    let stats = client.stats();
    eprintln!("{stats:?}");
    assert_eq!(stats.decode_errors, 0);
}

#[tokio::test]
async fn reset_right_after_start() {
    // The power-on reset status may still be in flight when reset() is called; reset() must
    // wait for the status caused by its own RESET, after which requests are answered.
    let bin = ncp_bin();
    if skip(&bin) {
        return;
    }
    let dir = TempDir::new("reset");
    let (client, mut events) = Client::open(&sim_url(&bin, &dir.0, 3), ClientOptions::default())
        .await
        .unwrap();
    client.reset().await.unwrap();
    let info = client.probe().await.unwrap();
    assert_eq!(info.protocol.0, 4);
    let mut resets = 0;
    while let Ok(ev) = events.try_recv() {
        if let Event::Reset { .. } = ev {
            resets += 1;
        }
    }
    assert_eq!(resets, 2, "power-on and RESET");
    assert_eq!(client.stats().timeouts, 0);
}

#[tokio::test]
async fn rcp_is_refused() {
    let bin = rcp_bin();
    if skip(&bin) {
        return;
    }
    let dir = TempDir::new("rcp");
    let (client, _events) = Client::open(&sim_url(&bin, &dir.0, 2), ClientOptions::default())
        .await
        .unwrap();
    let caps = client.get(prop::CAPS).await.unwrap();
    eprintln!("RCP CAPS = {}", hex_str(&caps));
    match client.probe().await {
        Err(e @ Error::UnsupportedFirmware(_)) => {
            let msg = e.to_string();
            eprintln!("{msg}");
            assert!(
                msg.contains("RCP")
                    && msg.contains("ot-ncp-ftd")
                    && msg.contains("-DOT_UDP_FORWARD=ON"),
                "{msg}"
            );
        }
        other => panic!("RCP probe: {other:?}"),
    }
}

#[tokio::test]
async fn child_exit_closes_link() {
    let url = RadioUrl::forkpty("/bin/sh", vec!["-c".into(), "exit 0".into()]);
    let (client, mut events) = Client::open(&url, ClientOptions::default()).await.unwrap();
    match events.recv().await {
        Some(Event::Closed { reason }) => eprintln!("closed: {reason}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(client.get(prop::CAPS).await, Err(Error::Closed)));
}

#[tokio::test]
async fn missing_program_is_device_missing() {
    let url: RadioUrl = "spinel+hdlc+forkpty:///nonexistent/ot-ncp-ftd?forkpty-arg=1"
        .parse()
        .unwrap();
    assert!(matches!(
        Client::open(&url, ClientOptions::default()).await,
        Err(Error::DeviceMissing { .. })
    ));
}

fn hex_str(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
