//! The handle other tasks use (`Service`) and the commands it sends to the commissioner task.

use super::*;

pub(super) type Reply = oneshot::Sender<Result<Value, MethodError>>;

pub(super) enum Cmd {
    Add {
        kind: JoinerKind,
        pskd: Pskd,
        timeout: Option<Duration>,
        reply: Reply,
    },
    List(Reply),
    Remove(JoinerKind, Reply),
    Status(Reply),
    Start(Reply),
    Stop(Reply),
    Shutdown(oneshot::Sender<()>),
    /// Test-only: reset the co-processor right after the next event of this type.
    ArmReset(String, Reply),
}

/// Handle to the service task.
#[derive(Clone)]
pub(crate) struct Service {
    pub(super) cmds: mpsc::Sender<Cmd>,
    pub(super) events: broadcast::Sender<Value>,
    pub(super) net: Arc<Network>,
}

pub(super) fn gone() -> MethodError {
    MethodError::new(code::INTERNAL_ERROR, "the commissioner service has stopped")
}

impl Service {
    /// Starts the service task.
    pub(crate) fn spawn(
        net: Arc<Network>,
        settings: CommissionerSettings,
        audit: AuditLog,
        input: mpsc::Receiver<NcpInput>,
    ) -> Service {
        tracing::debug!(audit_log = %audit.path().display(), "commissioner service ready");
        let (cmds, cmd_rx) = mpsc::channel(64);
        let (events, _) = broadcast::channel(1024);
        let task = Task {
            net: net.clone(),
            manual: settings.always_on,
            settings,
            comm: None,
            suspended: false,
            empty_since: None,
            pending_attach: VecDeque::new(),
            known_neighbors: HashSet::new(),
            next_attach_poll: None,
            audit,
            events: events.clone(),
            shutdown: None,
            shutdown_deadline: None,
            last_start_error: None,
            reset_on: None,
            pending_status: Vec::new(),
        };
        tokio::spawn(task.run(cmd_rx, input));
        Service { cmds, events, net }
    }

    /// A receiver of the event stream.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Value> {
        self.events.subscribe()
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

    /// Resigns (when active) and stops the task; waits at most [`SHUTDOWN_TIMEOUT`].
    pub(crate) async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.cmds.send(Cmd::Shutdown(tx)).await.is_ok() {
            let _ = tokio::time::timeout(SHUTDOWN_TIMEOUT + Duration::from_secs(1), rx).await;
        }
    }
}
