//! The handle other tasks use (`Service`), the commands it sends to the commissioner task, and
//! the task's supervisor.
//!
//! Supervision: the task runs under [`supervise`], which catches a panic of the task (a bug, e.g.
//! in the DTLS code it drives), logs it (`commissioner task died`), and starts a new task with
//! the joiner table, the operator's start/stop choice and the command and input queues of the
//! dead one ([`Saved`]: the task keeps this copy of its table current, PSKds included, in
//! memory only). A call in flight when the task died answers "the commissioner service has
//! stopped"; the next call is served by the new task. [`MAX_DEATHS`] deaths within
//! [`DEATH_WINDOW`] end the agent (exit 1, [`Service::failed`]) so systemd restarts it.

use std::collections::VecDeque as Deaths;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;

use super::*;

/// This many deaths of the commissioner task within [`DEATH_WINDOW`] end the agent.
pub(crate) const MAX_DEATHS: usize = 3;
/// See [`MAX_DEATHS`].
pub(crate) const DEATH_WINDOW: Duration = Duration::from_secs(600);

/// What a restarted commissioner task gets back: the joiner table (PSKds included; memory only)
/// and whether the operator started or stopped the commissioner.
#[derive(Default)]
pub(super) struct Saved {
    pub(super) entries: Vec<JoinerEntry>,
    pub(super) manual: bool,
    pub(super) suspended: bool,
    /// Called with every event before it is published ([`Service::set_recorder`]).
    pub(super) recorder: Option<super::Recorder>,
    /// Labels and signers of the imported entries (`joiner.import`).
    pub(super) origins: events::Origins,
}

pub(super) type SavedTable = Arc<std::sync::Mutex<Saved>>;

/// Locks the saved table (a panic while it was held leaves usable data: plain values).
pub(super) fn lock(saved: &SavedTable) -> std::sync::MutexGuard<'_, Saved> {
    saved.lock().unwrap_or_else(|p| p.into_inner())
}

pub(super) type Reply = oneshot::Sender<Result<Value, MethodError>>;

pub(super) enum Cmd {
    Add {
        kind: JoinerKind,
        pskd: Pskd,
        timeout: Option<Duration>,
        reply: Reply,
    },
    /// `joiner.import`: a bootstrapping file's entries (parsed and verified), all or none.
    Import {
        entries: Vec<control::bootstrap::Entry>,
        timeout: Option<Duration>,
        /// The key id that signed the file.
        signer: Option<String>,
        reply: Reply,
    },
    List(Reply),
    Remove(JoinerKind, Reply),
    Status(Reply),
    Start(Reply),
    Stop(Reply),
    Shutdown(oneshot::Sender<()>),
    /// The active dataset's PSKc, extended PAN ID or mesh-local prefix changed.
    CredentialsChanged,
    /// Test-only: reset the co-processor right after the next event of this type.
    ArmReset(String, Reply),
    /// A network diagnostic query: answers collected for `wait` after it went out.
    DiagQuery {
        wait: Duration,
        reply: oneshot::Sender<Result<Vec<DiagAnswer>, MethodError>>,
    },
}

/// Handle to the service task.
#[derive(Clone)]
pub(crate) struct Service {
    pub(super) cmds: mpsc::Sender<Cmd>,
    pub(super) events: broadcast::Sender<Value>,
    pub(super) net: Arc<Network>,
    /// Set (with the reason) when the supervisor gave up.
    pub(super) failed: watch::Receiver<Option<String>>,
    /// Shared with every task (the recorder lives there).
    pub(super) saved: SavedTable,
}

pub(super) fn gone() -> MethodError {
    MethodError::new(code::INTERNAL_ERROR, "the commissioner service has stopped")
}

impl Service {
    /// Starts the service task under its supervisor.
    pub(crate) fn spawn(
        net: Arc<Network>,
        settings: CommissionerSettings,
        audit: Arc<AuditLog>,
        input: mpsc::Receiver<NcpInput>,
    ) -> Service {
        tracing::debug!(audit_log = %audit.path().display(), "commissioner service ready");
        let (cmds, cmd_rx) = mpsc::channel(64);
        let (events, _) = broadcast::channel(1024);
        let (failed_tx, failed) = watch::channel(None);
        let saved: SavedTable = Arc::new(std::sync::Mutex::new(Saved {
            manual: settings.always_on,
            ..Saved::default()
        }));
        let make = {
            let (net, events, saved) = (net.clone(), events.clone(), saved.clone());
            move || {
                Task::new(
                    net.clone(),
                    settings.clone(),
                    audit.clone(),
                    events.clone(),
                    saved.clone(),
                )
            }
        };
        tokio::spawn(supervise(make, cmd_rx, input, failed_tx));
        Service {
            cmds,
            events,
            net,
            failed,
            saved,
        }
    }

    /// Resolves (with the reason) once the task died [`MAX_DEATHS`] times within
    /// [`DEATH_WINDOW`]; never otherwise.
    pub(crate) async fn failed(&self) -> String {
        let mut rx = self.failed.clone();
        loop {
            if let Some(why) = rx.borrow_and_update().clone() {
                return why;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Installs the hook called with every event before subscribers see it (the device
    /// inventory writes an entrust to disk there).
    pub(crate) fn set_recorder(&self, recorder: Recorder) {
        lock(&self.saved).recorder = Some(recorder);
    }

    /// A receiver of the event stream.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Value> {
        self.events.subscribe()
    }

    /// The sender of the event stream (other services publish their events on it too).
    pub(crate) fn event_sender(&self) -> broadcast::Sender<Value> {
        self.events.clone()
    }

    /// The active dataset's commissioning credentials changed: a live session petitions again
    /// with the new ones (the joiner table stays).
    pub(crate) async fn credentials_changed(&self) {
        let _ = self.cmds.send(Cmd::CredentialsChanged).await;
    }

    /// The network this service commissions for.
    pub(crate) fn net(&self) -> &Arc<Network> {
        &self.net
    }

    async fn ask(&self, make: impl FnOnce(Reply) -> Cmd) -> Result<Value, MethodError> {
        let (tx, rx) = oneshot::channel();
        self.cmds.send(make(tx)).await.map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    pub(crate) async fn add(
        &self,
        kind: JoinerKind,
        pskd: Pskd,
        timeout: Option<Duration>,
    ) -> Result<Value, MethodError> {
        self.ask(|reply| Cmd::Add {
            kind,
            pskd,
            timeout,
            reply,
        })
        .await
    }
    /// Adds every entry of a bootstrapping file, or none.
    pub(crate) async fn import(
        &self,
        entries: Vec<control::bootstrap::Entry>,
        timeout: Option<Duration>,
        signer: Option<String>,
    ) -> Result<Value, MethodError> {
        self.ask(|reply| Cmd::Import {
            entries,
            timeout,
            signer,
            reply,
        })
        .await
    }
    pub(crate) async fn list(&self) -> Result<Value, MethodError> {
        self.ask(Cmd::List).await
    }
    pub(crate) async fn remove(&self, kind: JoinerKind) -> Result<Value, MethodError> {
        self.ask(|r| Cmd::Remove(kind, r)).await
    }
    pub(crate) async fn status(&self) -> Result<Value, MethodError> {
        self.ask(Cmd::Status).await
    }
    pub(crate) async fn start(&self) -> Result<Value, MethodError> {
        self.ask(Cmd::Start).await
    }
    pub(crate) async fn stop(&self) -> Result<Value, MethodError> {
        self.ask(Cmd::Stop).await
    }
    /// Test-only: reset the co-processor right after the next event of type `on` (so a test can
    /// hit a precise point of a joiner session, e.g. `joiner-authenticated`).
    pub(crate) async fn arm_reset(&self, on: String) -> Result<Value, MethodError> {
        self.ask(|r| Cmd::ArmReset(on, r)).await
    }

    /// Asks every node on the mesh for its EUI-64, extended address, RLOC16 and mode (DIAG_GET.qry
    /// to `ff03::1` through the Border Agent's UDP proxy) and returns the answers collected for
    /// `wait` after the query went out, one per source address (split answers merged). When the
    /// commissioner is not active it petitions first (at most [`DIAG_PETITION_TIMEOUT`]) and, with
    /// nothing else to do, resigns [`LINGER`] after the query, like after an emptied table.
    /// Errors: the Border Agent is not active, the operator stopped the commissioner, or the
    /// petition was not accepted in time.
    pub(crate) async fn diag_query(&self, wait: Duration) -> Result<Vec<DiagAnswer>, MethodError> {
        let (tx, rx) = oneshot::channel();
        self.cmds
            .send(Cmd::DiagQuery { wait, reply: tx })
            .await
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    /// Resigns (when active) and stops the task; waits at most [`SHUTDOWN_TIMEOUT`].
    pub(crate) async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.cmds.send(Cmd::Shutdown(tx)).await.is_ok() {
            let _ = tokio::time::timeout(SHUTDOWN_TIMEOUT + Duration::from_secs(1), rx).await;
        }
    }
}

impl Task {
    /// A fresh task; its table comes back from `saved` when it runs ([`Task::restore`]).
    pub(super) fn new(
        net: Arc<Network>,
        settings: CommissionerSettings,
        audit: Arc<AuditLog>,
        events: broadcast::Sender<Value>,
        saved: SavedTable,
    ) -> Task {
        let (manual, suspended, restore_pending) = {
            let s = lock(&saved);
            (s.manual, s.suspended, !s.entries.is_empty())
        };
        Task {
            net,
            manual,
            settings,
            comm: None,
            suspended,
            empty_since: None,
            pending_attach: VecDeque::new(),
            known_neighbors: HashSet::new(),
            next_attach_poll: None,
            audit,
            events,
            shutdown: None,
            shutdown_deadline: None,
            last_start_error: None,
            reset_on: None,
            pending_status: Vec::new(),
            pending_diag: Vec::new(),
            restore_pending,
            saved,
            last_session: None,
        }
    }

    /// Puts the saved joiner table back (after a restart of the task). Needs the co-processor's
    /// credentials; when they cannot be read yet, the next tick tries again.
    pub(super) async fn restore(&mut self) {
        if !self.restore_pending {
            return;
        }
        if let Err(e) = self.ensure_comm().await {
            tracing::debug!(reason = %e.message, "joiner table not restored yet; will retry");
            return;
        }
        let entries = lock(&self.saved).entries.clone();
        let now = Instant::now();
        let mut restored = 0;
        if let Some(c) = self.comm.as_mut() {
            for e in entries.into_iter().filter(|e| e.expires_at > now) {
                if c.add(now, e).is_ok() {
                    restored += 1;
                }
            }
        }
        self.restore_pending = false;
        tracing::info!(
            entries = restored,
            "commissioner task restarted: joiner table restored"
        );
        self.save();
    }

    /// Updates the saved copy of the table (entries that expired, joined or were removed go).
    pub(super) fn save(&mut self) {
        if self.restore_pending {
            return; // the saved table is still the one to restore
        }
        let listed: Vec<JoinerKind> = self
            .comm
            .as_ref()
            .map(|c| c.list().into_iter().map(|e| e.kind).collect())
            .unwrap_or_default();
        let mut s = lock(&self.saved);
        s.origins.retain(&listed);
        s.entries.retain(|e| listed.contains(&e.kind));
        s.manual = self.manual;
        s.suspended = self.suspended;
    }

    /// Records an added (or replaced) entry in the saved table.
    pub(super) fn save_entry(&mut self, entry: JoinerEntry) {
        let mut s = lock(&self.saved);
        s.entries.retain(|e| e.kind != entry.kind);
        s.entries.push(entry);
    }
}

/// Runs tasks made by `make` one after another while they die; see the module doc.
async fn supervise(
    make: impl Fn() -> Task,
    mut cmds: mpsc::Receiver<Cmd>,
    mut input: mpsc::Receiver<NcpInput>,
    failed: watch::Sender<Option<String>>,
) {
    let mut deaths: Deaths<Instant> = Deaths::new();
    loop {
        let task = make();
        let run = AssertUnwindSafe(task.run(&mut cmds, &mut input)).catch_unwind();
        let Err(panic) = run.await else {
            return; // shut down, or every handle dropped
        };
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        let now = Instant::now();
        deaths.push_back(now);
        while deaths
            .front()
            .is_some_and(|t| now.duration_since(*t) > DEATH_WINDOW)
        {
            deaths.pop_front();
        }
        if deaths.len() >= MAX_DEATHS {
            let why = format!(
                "the commissioner task died {} times within {} s (last: {what}); exiting so that the service manager restarts the agent",
                deaths.len(),
                DEATH_WINDOW.as_secs()
            );
            tracing::error!(event = "commissioner-died", "{why}");
            let _ = failed.send(Some(why));
            return;
        }
        tracing::error!(
            event = "commissioner-died",
            panic = %what,
            deaths = deaths.len(),
            "commissioner task died; restarting it with its joiner table"
        );
    }
}

#[cfg(test)]
mod supervision_tests {
    use super::*;
    use crate::fake_ncp::FakeNcp;

    fn settings() -> CommissionerSettings {
        CommissionerSettings::default()
    }

    #[tokio::test]
    async fn a_panicking_task_is_restarted_with_its_table() {
        let dir = tempfile::tempdir().unwrap();
        let (_fake, client, _events) = FakeNcp::start();
        let net = crate::fake_ncp::network(client, dir.path(), "S");
        net.bring_up().await.unwrap();
        let (in_tx, in_rx) = mpsc::channel(4);
        let svc = Service::spawn(net, settings(), Arc::new(AuditLog::new(dir.path())), in_rx);
        let eui = |b: u8| JoinerKind::Eui64([b; 8]);
        let pskd = || Pskd::new("J01NME").unwrap();
        svc.add(eui(1), pskd(), None).await.unwrap();

        for death in 1..MAX_DEATHS {
            // The task dies; later calls are served by its successor, with the table.
            in_tx.send(NcpInput::Panic).await.unwrap();
            let list = svc.list().await.unwrap();
            let joiners = list["joiners"].as_array().unwrap();
            assert_eq!(joiners.len(), death, "{list}");
            svc.add(eui(death as u8 + 1), pskd(), None).await.unwrap();
            assert!(svc.failed.borrow().is_none());
        }
        // One death too many: the agent is told to exit.
        in_tx.send(NcpInput::Panic).await.unwrap();
        let why = tokio::time::timeout(Duration::from_secs(5), svc.failed())
            .await
            .unwrap();
        assert!(why.contains("died 3 times"), "{why}");
        assert!(svc.list().await.is_err());
    }

    /// `joiner.import` adds every entry or none: a file the table has no room for changes
    /// nothing; one that fits goes in whole, each entry with its label and the signer.
    #[tokio::test]
    async fn an_import_is_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (_fake, client, _events) = FakeNcp::start();
        let net = crate::fake_ncp::network(client, dir.path(), "S");
        net.bring_up().await.unwrap();
        let (_in_tx, in_rx) = mpsc::channel(4);
        let audit = Arc::new(AuditLog::new(dir.path()));
        let svc = Service::spawn(net, settings(), audit.clone(), in_rx);
        let file = |t: &str| control::bootstrap::parse(t.as_bytes()).unwrap();
        let max = 256; // meshcop::commissioner::Config::max_entries, the default
        for i in 0..max - 1 {
            let eui = JoinerKind::Eui64([0xaa, 0, 0, 0, 0, 0, (i >> 8) as u8, i as u8]);
            svc.add(eui, Pskd::new("J01NME").unwrap(), None)
                .await
                .unwrap();
        }
        let count = |v: &Value| v["joiners"].as_array().unwrap().len();
        let two_new = "18b4300000000001,SECRET1,a\n18b4300000000002,SECRET1,b\n";
        let e = svc.import(file(two_new), None, None).await.unwrap_err();
        assert_eq!(e.code, "invalid_params");
        assert!(e.message.contains("nothing imported"), "{}", e.message);
        assert_eq!(count(&svc.list().await.unwrap()), max - 1);
        // One new entry and one that replaces an existing one: it fits.
        let fits = "18b4300000000001,SECRET1,kitchen\naa00000000000000,SECRET1\n";
        let r = svc
            .import(
                file(fits),
                Some(Duration::from_secs(600)),
                Some("0807060504030201".into()),
            )
            .await
            .unwrap();
        assert_eq!(r["imported"], 2);
        assert_eq!(r["signer"], "0807060504030201");
        assert_eq!(r["entries"][0]["label"], "kitchen");
        assert!(r["entries"][1]["label"].is_null());
        let list = svc.list().await.unwrap();
        assert_eq!(count(&list), max);
        let e = list["joiners"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["eui64"] == "18b4300000000001")
            .unwrap();
        assert_eq!(
            (e["label"].as_str(), e["signer"].as_str()),
            (Some("kitchen"), Some("0807060504030201"))
        );
        assert!(e["expires_in"].as_u64() > Some(590), "{e}");
        let log = std::fs::read_to_string(audit.path()).unwrap();
        assert!(log.contains("\"event\":\"entries-imported\""), "{log}");
        assert!(!log.contains("SECRET1") && !r.to_string().contains("SECRET1"));
    }
}
