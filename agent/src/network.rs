//! Form-or-resume of the Thread network on the co-processor, the active dataset backup, and the
//! `network up` announcement.
//!
//! Sequence (validated by hand against OpenThread's simulation NCP, see thread-facts §1 "Observed"):
//! 1. GET `THREAD_ACTIVE_DATASET_TLVS`. If it is empty: restore `<state_dir>/dataset.tlvs` if that
//!    exists (logs `restored active dataset from backup`), else generate a new dataset
//!    ([`generate_dataset`]: network key, PSKc from a random passphrase, PAN ID, extended PAN ID and
//!    mesh-local prefix from the OS secure random source; name and channel from the configuration;
//!    active timestamp 1 s; OpenThread's default security policy 672 h / `f7f8`; channel mask =
//!    all 2.4 GHz channels) and SET it.
//! 2. `NET_IF_UP`=1, `NET_STACK_UP`=1 (also when resuming an existing dataset).
//! 3. Wait for a role (child/router/leader) with a timeout; then log `network up` with name,
//!    channel, pan_id, ext_pan_id and role, once per attach (again after a co-processor reset).
//! 4. Back up the active dataset (hex, mode 0600, atomic) and again whenever it changes.
//!    A restored active dataset is followed by the pending one (`pending.tlvs`, written by
//!    [`crate::lifecycle`] while a change is scheduled), so a co-processor replaced during a
//!    countdown still switches to the new credentials.
//!
//! Guarantees: the network key, PSKc and passphrase never reach a log line or error message (they
//! live in `meshcop::credentials` types and `Zeroizing` buffers); only the dataset's public fields
//! are logged.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use meshcop::credentials::{NetworkKey, Passphrase};
use meshcop::dataset::Dataset;
use ncp::codec::Reader;
use ncp::spinel::prop;
use ncp::{Client, NcpInfo};
use tokio::sync::{watch, Mutex};
use zeroize::Zeroizing;

use crate::session::{exit, Fatal};
use crate::state::StateDir;

/// All IEEE 802.15.4 2.4 GHz channels (11..26), page 0, bit n = channel n.
pub(crate) const ALL_24GHZ_CHANNELS: u32 = 0x07FF_F800;
/// OpenThread's default key rotation time (hours).
pub(crate) const DEFAULT_ROTATION_HOURS: u16 = 672;
/// OpenThread's default security policy flags (`SecurityPolicy::SetToDefaultFlags`, key_manager.cpp):
/// O N R C set, commercial/autonomous/network-key-provisioning disabled -> `f7`; TOBLE set,
/// non-CCM routers disabled, reserved bits -> `f8`.
pub(crate) const DEFAULT_SECURITY_FLAGS: u16 = 0xF7F8;
/// Active timestamp of a newly formed network: 1 second, 0 ticks, not authoritative
/// (Timestamp TLV layout: 48-bit seconds, 15-bit ticks, 1-bit U).
pub(crate) const INITIAL_ACTIVE_TIMESTAMP: u64 = 1 << 16;

/// The Thread device role (`NET_ROLE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Detached,
    Child,
    Router,
    Leader,
    Disabled,
    Unknown(u8),
}

impl Role {
    pub(crate) fn from_u8(v: u8) -> Role {
        match v {
            0 => Role::Detached,
            1 => Role::Child,
            2 => Role::Router,
            3 => Role::Leader,
            4 => Role::Disabled,
            other => Role::Unknown(other),
        }
    }

    /// The contract's spelling.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Role::Detached => "detached",
            Role::Child => "child",
            Role::Router => "router",
            Role::Leader => "leader",
            Role::Disabled => "disabled",
            Role::Unknown(_) => "detached",
        }
    }

    /// Attached to a partition.
    pub(crate) fn is_attached(self) -> bool {
        matches!(self, Role::Child | Role::Router | Role::Leader)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the network was brought up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BringUp {
    /// A new dataset was generated.
    Formed,
    /// The co-processor was blank; the backup was written to it.
    Restored,
    /// The co-processor already had an active dataset.
    Resumed,
    /// Blank, no backup, and `[network] form = false`: waiting for `dataset import`.
    Waiting,
}

/// The agent's view of the network, shared by the monitor, the control socket and start-up.
pub(crate) struct Network {
    pub(crate) client: Client,
    pub(crate) info: NcpInfo,
    pub(crate) state: StateDir,
    pub(crate) name: String,
    pub(crate) channel: u8,
    /// `[network] form`: form a network on a blank co-processor without a backup.
    form: AtomicBool,
    pub(crate) role_tx: watch::Sender<Role>,
    up_announced: AtomicBool,
    /// Set once start-up has brought the network up; resets seen before are start-up noise.
    started: AtomicBool,
    /// Serializes [`Network::bring_up`] (start-up and reset recovery must not both form).
    bring_up_lock: Mutex<()>,
    last_backup: Mutex<Option<Zeroizing<Vec<u8>>>>,
    /// Thread stopped on request (REST `PUT /node/state "disable"`, `DELETE /node`): a
    /// co-processor reset does not bring it back up, nor form a network.
    held_down: AtomicBool,
}

/// What `network up` and `status` report about the network (public fields only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) role: Role,
    pub(crate) network_name: String,
    pub(crate) channel: u8,
    pub(crate) pan_id: u16,
    pub(crate) ext_pan_id: [u8; 8],
    pub(crate) mesh_local_prefix: Option<std::net::Ipv6Addr>,
    pub(crate) partition_id: u32,
    pub(crate) rloc16: u16,
}

fn random<const N: usize>() -> Result<[u8; N], Fatal> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| {
        Fatal::new(
            exit::FAILURE,
            format!("the OS secure random source failed: {e}"),
        )
    })?;
    Ok(b)
}

/// Generates a new active dataset from the OS secure random source.
pub(crate) fn generate_dataset(name: &str, channel: u8) -> Result<Zeroizing<Vec<u8>>, Fatal> {
    let key = NetworkKey::from_bytes(random::<16>()?);
    let ext_pan_id = random::<8>()?;
    // The passphrase is only an input to the PSKc; it is dropped (and zeroized) here.
    let passphrase = Passphrase::new(hex::encode(Zeroizing::new(random::<16>()?).as_slice()))
        .map_err(|e| Fatal::new(exit::FAILURE, format!("cannot make a passphrase: {e}")))?;
    let pskc = passphrase.pskc(name, &ext_pan_id);
    let pan_id = loop {
        let p = u16::from_be_bytes(random::<2>()?);
        if p < 0xFFFE {
            break p;
        }
    };
    let global_id = random::<5>()?;
    let mut mlp = [0u8; 8];
    mlp[0] = 0xfd;
    mlp[1..6].copy_from_slice(&global_id);
    let ds = Dataset {
        active_timestamp: Some(INITIAL_ACTIVE_TIMESTAMP),
        channel: Some(channel as u16),
        pan_id: Some(pan_id),
        ext_pan_id: Some(ext_pan_id),
        network_name: Some(name.to_string()),
        pskc: Some(pskc),
        network_key: Some(key),
        mesh_local_prefix: Some(mlp),
        security_policy: Some((DEFAULT_ROTATION_HOURS, DEFAULT_SECURITY_FLAGS)),
        channel_mask: Some(ALL_24GHZ_CHANNELS),
        other: Vec::new(),
    };
    Ok(Zeroizing::new(ds.encode()))
}

fn ncp_fatal(what: &str, e: ncp::Error) -> Fatal {
    let f = crate::session::fatal(e);
    Fatal::new(f.code, format!("{what}: {}", f.message))
}

impl Network {
    pub(crate) fn new(
        client: Client,
        info: NcpInfo,
        state: StateDir,
        name: String,
        channel: u8,
    ) -> Network {
        let (role_tx, _) = watch::channel(Role::Disabled);
        Network {
            client,
            info,
            state,
            name,
            channel,
            form: AtomicBool::new(true),
            role_tx,
            up_announced: AtomicBool::new(false),
            started: AtomicBool::new(false),
            bring_up_lock: Mutex::new(()),
            last_backup: Mutex::new(None),
            held_down: AtomicBool::new(false),
        }
    }

    /// `[network] form = false`: a blank co-processor without a backup waits for an import.
    pub(crate) fn with_form(self, form: bool) -> Network {
        self.form.store(form, Ordering::SeqCst);
        self
    }

    /// Step 1 and 2: make sure the co-processor has an active dataset and bring the stack up.
    pub(crate) async fn bring_up(&self) -> Result<BringUp, Fatal> {
        let _guard = self.bring_up_lock.lock().await;
        if self.held_down.load(Ordering::SeqCst) {
            tracing::info!("Thread is stopped on request (REST API); not bringing it up");
            return Ok(BringUp::Waiting);
        }
        let current = Zeroizing::new(
            self.client
                .get(prop::THREAD_ACTIVE_DATASET_TLVS)
                .await
                .map_err(|e| ncp_fatal("reading the active dataset", e))?,
        );
        let how = if !current.is_empty() {
            BringUp::Resumed
        } else {
            let backup = self
                .state
                .read_dataset()
                .map_err(|e| Fatal::new(exit::FAILURE, e.to_string()))?;
            let (tlvs, how) = match backup {
                Some(b) => (Zeroizing::new(b), BringUp::Restored),
                None if !self.form.load(Ordering::SeqCst) => {
                    tracing::warn!("the co-processor has no network and there is no backup; [network] form = false: waiting for `threadctl dataset import`");
                    self.started.store(true, Ordering::SeqCst);
                    return Ok(BringUp::Waiting);
                }
                None => (generate_dataset(&self.name, self.channel)?, BringUp::Formed),
            };
            self.client
                .set(prop::THREAD_ACTIVE_DATASET_TLVS, &tlvs)
                .await
                .map_err(|e| ncp_fatal("writing the active dataset", e))?;
            if how == BringUp::Restored {
                tracing::info!(path = %self.state.dataset_path().display(), "restored active dataset from backup");
                self.restore_pending(&tlvs).await;
            } else {
                tracing::info!(name = %self.name, channel = self.channel, "formed a new network (new active dataset)");
                // Back it up now, not only once attached: a reset before attaching must not
                // make the agent form a second, different network.
                let mut last = self.last_backup.lock().await;
                match self.state.write_dataset(&tlvs) {
                    Ok(()) => {
                        tracing::info!(path = %self.state.dataset_path().display(), "active dataset backed up");
                        *last = Some(tlvs.clone());
                    }
                    Err(e) => tracing::error!(error = %e, "cannot back up the active dataset"),
                }
            }
            how
        };
        if how == BringUp::Resumed {
            tracing::info!("co-processor has an active dataset; resuming the network");
        }
        self.up_announced.store(false, Ordering::SeqCst);
        self.client
            .set(prop::NET_IF_UP, &[1])
            .await
            .map_err(|e| ncp_fatal("NET_IF_UP", e))?;
        self.client
            .set(prop::NET_STACK_UP, &[1])
            .await
            .map_err(|e| ncp_fatal("NET_STACK_UP", e))?;
        self.started.store(true, Ordering::SeqCst);
        Ok(how)
    }

    /// After the active dataset was restored: restores the pending dataset backup (a change
    /// scheduled before the co-processor was replaced), its Delay Timer reduced by the time since
    /// the backup was written (at least 1 s). A pending dataset that is not newer than the
    /// restored active one is stale and skipped.
    async fn restore_pending(&self, active: &[u8]) {
        let (tlvs, age) = match self.state.read_pending() {
            Ok(Some(p)) => p,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "pending dataset backup not restored");
                return;
            }
        };
        let Ok(mut pending) = Dataset::decode(&tlvs) else {
            return;
        };
        let active_ts = Dataset::decode(active)
            .ok()
            .and_then(|a| a.active_timestamp);
        if pending.active_timestamp <= active_ts {
            tracing::info!("pending dataset backup is not newer than the active one; not restored");
            let _ = self.state.remove_pending();
            return;
        }
        let stored = pending.delay_timer().unwrap_or(0) as u128;
        let remaining = stored.saturating_sub(age.as_millis()).max(1000) as u32;
        pending.set_delay_timer(Some(remaining));
        let tlvs = Zeroizing::new(pending.encode());
        match self
            .client
            .set(prop::THREAD_PENDING_DATASET_TLVS, &tlvs)
            .await
        {
            Ok(_) => tracing::info!(
                path = %self.state.pending_path().display(),
                applies_in_s = remaining / 1000,
                "restored pending dataset from backup"
            ),
            Err(e) => tracing::warn!(error = %e, "cannot restore the pending dataset backup"),
        }
    }

    /// Reads the current role.
    pub(crate) async fn role(&self) -> Result<Role, ncp::Error> {
        let v = self.client.get(prop::NET_ROLE).await?;
        let r = Reader::new(&v).u8()?;
        Ok(Role::from_u8(r))
    }

    /// Step 3: waits until attached (or `timeout`), polling the role once a second and on every
    /// role change reported by the monitor. Returns the role if attached.
    pub(crate) async fn wait_attached(&self, timeout: Duration) -> Option<Role> {
        let mut rx = self.role_tx.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Ok(role) = self.role().await {
                if role.is_attached() {
                    self.announce_up(role).await;
                    return Some(role);
                }
            }
            tokio::select! {
                _ = rx.changed() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = tokio::time::sleep_until(deadline) => return None,
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
        }
    }

    /// Logs `network up` once per attach, then backs the dataset up.
    pub(crate) async fn announce_up(&self, role: Role) {
        if self.up_announced.swap(true, Ordering::SeqCst) {
            return;
        }
        match self.snapshot().await {
            Ok(s) => tracing::info!(
                event = "network-up",
                name = %s.network_name,
                channel = s.channel,
                pan_id = %format!("0x{:04x}", s.pan_id),
                ext_pan_id = %hex::encode(s.ext_pan_id),
                role = %role,
                partition_id = s.partition_id,
                rloc16 = %format!("0x{:04x}", s.rloc16),
                "network up"
            ),
            Err(e) => {
                tracing::info!(event = "network-up", role = %role, error = %e, "network up (details unavailable)")
            }
        }
        self.backup_if_changed().await;
    }

    /// Keeps Thread stopped (true) or lets a reset bring it back up (false).
    pub(crate) fn hold_down(&self, held: bool) {
        self.held_down.store(held, Ordering::SeqCst);
    }

    /// True once start-up has brought the network up.
    pub(crate) fn started(&self) -> bool {
        self.started.load(Ordering::SeqCst)
    }

    /// Clears the `network up` flag (after a co-processor reset).
    pub(crate) fn mark_down(&self) {
        self.up_announced.store(false, Ordering::SeqCst);
    }

    /// Step 4: writes the backup if the co-processor's active dataset differs from the last one.
    pub(crate) async fn backup_if_changed(&self) {
        let mut last = self.last_backup.lock().await;
        let current = match self.client.get(prop::THREAD_ACTIVE_DATASET_TLVS).await {
            Ok(v) => Zeroizing::new(v),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the active dataset for the backup");
                return;
            }
        };
        if current.is_empty() {
            return;
        }
        if last.as_ref().map(|l| l.as_slice()) == Some(current.as_slice()) {
            return;
        }
        if last.is_none() {
            // First check since start: skip the write if the file already holds this dataset.
            if let Ok(Some(on_disk)) = self.state.read_dataset() {
                let on_disk = Zeroizing::new(on_disk);
                if on_disk.as_slice() == current.as_slice() {
                    *last = Some(current);
                    return;
                }
            }
        }
        match self.state.write_dataset(&current) {
            Ok(()) => {
                tracing::info!(path = %self.state.dataset_path().display(), "active dataset backed up");
                *last = Some(current);
            }
            Err(e) => tracing::error!(error = %e, "cannot back up the active dataset"),
        }
    }

    /// Reads the public network parameters from the co-processor.
    pub(crate) async fn snapshot(&self) -> Result<Snapshot, ncp::Error> {
        let c = &self.client;
        let role = self.role().await?;
        let network_name = Reader::new(&c.get(prop::NET_NETWORK_NAME).await?).utf8()?;
        let channel = Reader::new(&c.get(prop::PHY_CHAN).await?).u8()?;
        let pan_id = Reader::new(&c.get(prop::MAC_15_4_PANID).await?).u16()?;
        let xp = c.get(prop::NET_XPANID).await?;
        let mut ext_pan_id = [0u8; 8];
        if xp.len() >= 8 {
            ext_pan_id.copy_from_slice(&xp[..8]);
        }
        let mesh_local_prefix = match c.get(prop::IPV6_ML_PREFIX).await {
            Ok(v) => Reader::new(&v).ipv6().ok(),
            Err(_) => None,
        };
        let partition_id = match c.get(prop::NET_PARTITION_ID).await {
            Ok(v) => Reader::new(&v).u32().unwrap_or(0),
            Err(_) => 0,
        };
        let rloc16 = match c.get(prop::THREAD_RLOC16).await {
            Ok(v) => Reader::new(&v).u16().unwrap_or(0xfffe),
            Err(_) => 0xfffe,
        };
        Ok(Snapshot {
            role,
            network_name,
            channel,
            pan_id,
            ext_pan_id,
            mesh_local_prefix,
            partition_id,
            rloc16,
        })
    }

    /// Reads and decodes the neighbour table.
    pub(crate) async fn neighbors(&self) -> Result<Vec<ncp::props::tables::Neighbor>, ncp::Error> {
        let v = self.client.get(prop::THREAD_NEIGHBOR_TABLE).await?;
        ncp::props::tables::decode_neighbor_table(&v)
            .map_err(|e| ncp::Error::Protocol(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_dataset_has_every_field_and_no_secret_in_debug() {
        let tlvs = generate_dataset("TestNet", 20).unwrap();
        let ds = Dataset::decode(&tlvs).unwrap();
        assert_eq!(ds.network_name.as_deref(), Some("TestNet"));
        assert_eq!(ds.channel, Some(20));
        assert_eq!(ds.active_timestamp, Some(INITIAL_ACTIVE_TIMESTAMP));
        assert_eq!(ds.security_policy, Some((672, 0xF7F8)));
        assert_eq!(ds.channel_mask, Some(ALL_24GHZ_CHANNELS));
        assert!(ds.network_key.is_some() && ds.pskc.is_some());
        let pan = ds.pan_id.unwrap();
        assert!(pan < 0xFFFE);
        let mlp = ds.mesh_local_prefix.unwrap();
        assert_eq!(mlp[0], 0xfd);
        assert_eq!(&mlp[6..], &[0, 0]);
        let dbg = format!("{ds:?}");
        let key_hex = hex::encode(ds.network_key.as_ref().unwrap().as_bytes());
        assert!(!dbg.contains(&key_hex), "{dbg}");
        // Two datasets differ (fresh randomness).
        let other = Dataset::decode(&generate_dataset("TestNet", 20).unwrap()).unwrap();
        assert_ne!(other.ext_pan_id, ds.ext_pan_id);
    }

    use crate::fake_ncp::FakeNcp;
    use ncp::spinel::cmd;

    fn info() -> NcpInfo {
        NcpInfo {
            protocol: (4, 3),
            version: "fake".into(),
            interface_type: 3,
            caps: vec![32, 1026],
            hwaddr: [0; 8],
        }
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn forms_when_blank_and_backs_up_before_attaching() {
        rt().block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let (fake, client, _events) = FakeNcp::start();
            let net = Network::new(
                client,
                info(),
                StateDir::new(dir.path()),
                "Formed".into(),
                21,
            );
            assert_eq!(net.bring_up().await.unwrap(), BringUp::Formed);
            let on_ncp = fake.get(prop::THREAD_ACTIVE_DATASET_TLVS).unwrap();
            assert_eq!(
                net.state.read_dataset().unwrap().as_deref(),
                Some(on_ncp.as_slice())
            );
            let ds = Dataset::decode(&on_ncp).unwrap();
            assert_eq!(
                (ds.network_name.as_deref(), ds.channel),
                (Some("Formed"), Some(21))
            );
            assert_eq!(fake.get(prop::NET_IF_UP), Some(vec![1]));
            assert_eq!(fake.get(prop::NET_STACK_UP), Some(vec![1]));
            assert_eq!(
                net.wait_attached(Duration::from_secs(5)).await,
                Some(Role::Leader)
            );
        });
    }

    #[test]
    fn restores_backup_when_blank_and_resumes_when_not() {
        rt().block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let backup = generate_dataset("Backup", 12).unwrap();
            StateDir::new(dir.path()).write_dataset(&backup).unwrap();
            let (fake, client, _events) = FakeNcp::start();
            let net = Network::new(
                client,
                info(),
                StateDir::new(dir.path()),
                "Other".into(),
                15,
            );
            assert_eq!(net.bring_up().await.unwrap(), BringUp::Restored);
            assert_eq!(
                fake.get(prop::THREAD_ACTIVE_DATASET_TLVS).as_deref(),
                Some(backup.as_slice())
            );

            // Resuming writes no dataset.
            let sets_before = fake.count(cmd::SET, prop::THREAD_ACTIVE_DATASET_TLVS);
            assert_eq!(net.bring_up().await.unwrap(), BringUp::Resumed);
            assert_eq!(
                fake.count(cmd::SET, prop::THREAD_ACTIVE_DATASET_TLVS),
                sets_before
            );
        });
    }

    #[test]
    fn a_blank_coprocessor_gets_the_pending_backup_after_the_active_one() {
        rt().block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let st = StateDir::new(dir.path());
            let active = generate_dataset("Backup", 12).unwrap();
            st.write_dataset(&active).unwrap();
            let mut pending = Dataset::decode(&active).unwrap();
            pending.network_key = Some(NetworkKey::from_bytes([9; 16]));
            pending.active_timestamp = Some(2 << 16);
            pending.set_pending_timestamp(Some(2 << 16));
            pending.set_delay_timer(Some(120_000));
            st.write_pending(&pending.encode()).unwrap();
            let (fake, client, _events) = FakeNcp::start();
            let net = Network::new(client, info(), st.clone(), "X".into(), 15);
            assert_eq!(net.bring_up().await.unwrap(), BringUp::Restored);
            let on_ncp = fake.get(prop::THREAD_PENDING_DATASET_TLVS).unwrap();
            let restored = Dataset::decode(&on_ncp).unwrap();
            assert_eq!(restored.network_key, pending.network_key);
            let left = restored.delay_timer().unwrap();
            assert!((1000..=120_000).contains(&left), "{left}");

            // A pending backup not newer than the active dataset is stale: skipped and removed.
            let dir = tempfile::tempdir().unwrap();
            let st = StateDir::new(dir.path());
            st.write_dataset(&active).unwrap();
            pending.active_timestamp = Some(INITIAL_ACTIVE_TIMESTAMP);
            st.write_pending(&pending.encode()).unwrap();
            let (fake, client, _events) = FakeNcp::start();
            let net = Network::new(client, info(), st.clone(), "X".into(), 15);
            net.bring_up().await.unwrap();
            assert!(fake.get(prop::THREAD_PENDING_DATASET_TLVS).is_none());
            assert!(!st.pending_path().exists());
        });
    }

    #[test]
    fn form_false_waits_instead_of_forming() {
        rt().block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let (fake, client, _events) = FakeNcp::start();
            let net = Network::new(client, info(), StateDir::new(dir.path()), "W".into(), 15)
                .with_form(false);
            assert_eq!(net.bring_up().await.unwrap(), BringUp::Waiting);
            assert!(fake.get(prop::THREAD_ACTIVE_DATASET_TLVS).is_none());
            assert_eq!(fake.get(prop::NET_STACK_UP), None);
            assert!(net.started());
        });
    }

    #[test]
    fn backup_follows_dataset_changes() {
        rt().block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let (fake, client, _events) = FakeNcp::start();
            let net = Network::new(client, info(), StateDir::new(dir.path()), "A".into(), 11);
            net.bring_up().await.unwrap();
            let changed = generate_dataset("Changed", 25).unwrap();
            fake.set(prop::THREAD_ACTIVE_DATASET_TLVS, &changed);
            net.backup_if_changed().await;
            assert_eq!(
                net.state.read_dataset().unwrap().as_deref(),
                Some(changed.as_slice())
            );
        });
    }

    #[test]
    fn roles() {
        assert_eq!(Role::from_u8(3).as_str(), "leader");
        assert!(Role::from_u8(1).is_attached());
        assert!(!Role::from_u8(0).is_attached());
        assert_eq!(Role::from_u8(9).as_str(), "detached");
    }
}
