//! The embedded mDNS responder (crate `mdns-sd`) on the infrastructure link, and what the agent
//! publishes with it: the Border Agent's `_meshcop._udp` service ([`meshcop`]). docs/mdns.md.
//!
//! - [`responder`]: ONE `mdns_sd::ServiceDaemon` for the whole agent, restricted to the
//!   `[bridge] infra_interface` (every interface disabled, loopback included, then that one
//!   enabled; never the Thread interface). It is made once in `main.rs`; other publishers (the
//!   SRP advertising proxy) get a clone of the handle ([`Mdns::daemon`]).
//! - [`tap`]: sits between the frame router and the monitor; passes every event on, in order,
//!   and counts the ones that change what is published (the co-processor's
//!   `BORDER_AGENT_MESHCOP_SERVICE_STATE`, sent unsolicited on every change, and resets).
//! - [`Mdns::shutdown`]: withdraws what this agent published (goodbye packets, bounded wait) and
//!   stops the daemon thread.
//!
//! Publishing happens only with `[mdns] enabled` (default) and an infrastructure interface;
//! otherwise one info line says why, and `status.mdns.published` stays false.

pub(crate) mod meshcop;

use std::sync::Arc;
use std::time::Duration;

use mdns_sd::{IfKind, ServiceDaemon};
use ncp::spinel::prop;
use ncp::Event;
use tokio::sync::{mpsc, watch};

/// Default `[mdns] vendor_name` and `model_name`.
pub(crate) const DEFAULT_VENDOR_NAME: &str = "thread-agent";
/// Default `[mdns] model_name`.
pub(crate) const DEFAULT_MODEL_NAME: &str = "thread-agent";
/// How long [`Mdns::shutdown`] waits for the goodbye packets and the daemon thread.
pub(crate) const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(2);
/// Events waiting for the monitor behind the [`tap`].
const TAP_QUEUE: usize = crate::frames::MONITOR_QUEUE;

/// `[mdns]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MdnsConfig {
    /// Publish at all (default true; still needs `[bridge] infra_interface`).
    pub(crate) enabled: bool,
    /// The `_meshcop._udp` instance name; `None`: "<vendor_name> Border Router #<xa[6..8] hex>".
    pub(crate) instance_name: Option<String>,
    /// TXT `vn`.
    pub(crate) vendor_name: String,
    /// TXT `mn`.
    pub(crate) model_name: String,
}

impl Default for MdnsConfig {
    fn default() -> Self {
        MdnsConfig {
            enabled: true,
            instance_name: None,
            vendor_name: DEFAULT_VENDOR_NAME.into(),
            model_name: DEFAULT_MODEL_NAME.into(),
        }
    }
}

/// Makes the agent's one mDNS responder, bound to `infra_if` only: every interface is disabled
/// first (`IfKind::All` covers the loopback ones), then `infra_if` is enabled, so the daemon
/// answers, announces and joins 224.0.0.251 / ff02::fb on that interface alone (the daemon
/// re-checks addresses every few seconds; an interface that appears later is added only if it is
/// `infra_if`). Binds UDP 5353 with SO_REUSEPORT, beside avahi-daemon if one runs.
pub(crate) fn responder(infra_if: &str) -> Result<ServiceDaemon, mdns_sd::Error> {
    let daemon = ServiceDaemon::new()?;
    let restrict = || -> Result<(), mdns_sd::Error> {
        daemon.disable_interface(IfKind::All)?;
        daemon.enable_interface(IfKind::Name(infra_if.to_string()))
    };
    if let Err(e) = restrict() {
        let _ = daemon.shutdown();
        return Err(e);
    }
    Ok(daemon)
}

/// How many events changed the published state, and how many were co-processor resets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Pokes {
    pub(crate) changes: u64,
    pub(crate) resets: u64,
}

/// Passes `events` on unchanged (waiting when the monitor is slow, as the router does) and
/// counts, in the returned watch, the ones the publishers react to.
pub(crate) fn tap(
    mut events: mpsc::Receiver<Event>,
) -> (mpsc::Receiver<Event>, watch::Receiver<Pokes>) {
    let (tx, rx) = mpsc::channel(TAP_QUEUE);
    let (pokes_tx, pokes_rx) = watch::channel(Pokes::default());
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            match &ev {
                Event::Property { prop: p, .. }
                    if *p == prop::BORDER_AGENT_MESHCOP_SERVICE_STATE =>
                {
                    pokes_tx.send_modify(|p| p.changes += 1)
                }
                Event::Reset { .. } => pokes_tx.send_modify(|p| {
                    p.changes += 1;
                    p.resets += 1;
                }),
                _ => {}
            }
            if tx.send(ev).await.is_err() {
                break;
            }
        }
    });
    (rx, pokes_rx)
}

/// The responder and the `_meshcop._udp` publisher, as `main.rs` holds them.
pub(crate) struct Mdns {
    daemon: Option<ServiceDaemon>,
    status: Arc<meshcop::Status>,
    publisher: Option<tokio::task::JoinHandle<()>>,
}

impl Mdns {
    /// Starts the responder on `infra_if` and the publisher (when enabled and `infra_if` is
    /// set; otherwise logs why not). A responder that cannot start is logged and reported in
    /// `status.mdns.last_error`; the agent runs on without it.
    pub(crate) fn start(
        cfg: &MdnsConfig,
        infra_if: Option<&str>,
        client: ncp::Client,
        hwaddr: [u8; 8],
        pokes: watch::Receiver<Pokes>,
        port: watch::Receiver<Option<u16>>,
    ) -> Mdns {
        let status = Arc::new(meshcop::Status::new(cfg.enabled, infra_if));
        let off = |why: &str| {
            tracing::info!("mDNS: nothing published ({why})");
            Mdns {
                daemon: None,
                status: status.clone(),
                publisher: None,
            }
        };
        if !cfg.enabled {
            return off("[mdns] enabled = false");
        }
        let Some(infra_if) = infra_if else {
            return off("no [bridge] infra_interface to publish on");
        };
        let daemon = match responder(infra_if) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, interface = infra_if, "mDNS responder cannot start; nothing published");
                let _ = status.set_error(format!("mDNS responder cannot start: {e}"));
                return Mdns {
                    daemon: None,
                    status,
                    publisher: None,
                };
            }
        };
        let publisher = meshcop::Publisher {
            daemon: daemon.clone(),
            client,
            cfg: cfg.clone(),
            host: meshcop::host_name(),
            hwaddr,
            status: status.clone(),
        };
        tracing::info!(interface = infra_if, host = %publisher.host, "mDNS responder started");
        let task = tokio::spawn(publisher.run(pokes, port));
        Mdns {
            daemon: Some(daemon),
            status,
            publisher: Some(task),
        }
    }

    /// The responder, for other publishers (a clone of the one handle); `None` when mDNS is off.
    pub(crate) fn daemon(&self) -> Option<ServiceDaemon> {
        self.daemon.clone()
    }

    /// Why there is no responder (for the SRP advertising proxy's status).
    pub(crate) fn off_reason(&self) -> String {
        self.status.off_reason()
    }

    /// The `status.mdns` object.
    pub(crate) fn status(&self) -> Arc<meshcop::Status> {
        self.status.clone()
    }

    /// Stops publishing: the `_meshcop._udp` instance is unregistered (goodbye packets, TTL 0)
    /// and the daemon thread stopped, each waited for at most [`SHUTDOWN_DEADLINE`].
    pub(crate) async fn shutdown(self) {
        if let Some(task) = self.publisher {
            task.abort();
            let _ = task.await;
        }
        let Some(daemon) = self.daemon else {
            return;
        };
        if let Some(fullname) = self.status.take_published() {
            match daemon.unregister(&fullname) {
                Ok(rx) => match tokio::time::timeout(SHUTDOWN_DEADLINE, rx.recv_async()).await {
                    Ok(Ok(s)) => {
                        tracing::info!(instance = %fullname, status = ?s, "mDNS: withdrawn")
                    }
                    Ok(Err(_)) | Err(_) => {
                        tracing::warn!(instance = %fullname, "mDNS: no confirmation of the goodbye")
                    }
                },
                Err(e) => tracing::warn!(error = %e, "mDNS: cannot withdraw"),
            }
        }
        if let Ok(rx) = daemon.shutdown() {
            let _ = tokio::time::timeout(SHUTDOWN_DEADLINE, rx.recv_async()).await;
        }
    }
}
