//! The SRP advertising proxy's host side: the co-processor's SRP server (built with
//! `-DOT_SRP_ADV_PROXY=ON -DOT_PLATFORM_DNSSD=ON -DOT_NCP_DNSSD=ON`) asks the host, over Spinel
//! (`DNSSD_*`, [`ncp::props::dnssd`]), to publish the hosts and services that devices registered;
//! this module publishes them on the infrastructure link with mDNS (`mdns-sd`) and answers each
//! request.
//!
//! What it does:
//! - At start and after every co-processor reset: SETs `DNSSD_STATE` ready (the co-processor
//!   starts `STOPPED` and advertises nothing until the host says it is ready), reads the
//!   mesh-local prefix (addresses in it are never published) and puts the co-processor's SRP
//!   server in auto-enable mode (`SRP_SERVER_AUTO_ENABLE_MODE`: the border routing manager runs
//!   it while border routing is up; without that mode, `SRP_SERVER_ENABLED`). Firmware without the DNS-SD
//!   platform refuses the property: said once in the log with the build options to add; the
//!   agent keeps running and `srp_proxy.advertising` is false.
//! - Without `[bridge] infra_interface` it does not say ready (there is no LAN to publish on; the
//!   co-processor's advertising proxy also needs the infrastructure interface running).
//! - `DNSSD_HOST` / `DNSSD_SERVICE` / `DNSSD_KEY_RECORD` INSERTED/REMOVED from the frame router:
//!   applied to the registry ([`registry`], the rules are there) and answered with
//!   `DNSSD_REQUEST_RESULT` (SET) carrying the request id and context, except requests whose
//!   context is NULL (no callback: the co-processor would call address 0, [`wants_answer`]).
//! - A co-processor reset drops the registry (published services are withdrawn; the
//!   co-processor registers them again once its SRP server runs).
//! - Malformed frames: dropped (they cannot be answered; the co-processor times the request out
//!   after 1.25 s), logged once at `warn` (then at `debug`), counted in `srp_proxy.malformed`.
//!
//! Status: `srp_proxy` in `threadctl status` ([`SrpProxy::status_json`]).

mod mdns;
pub(crate) mod registry;
mod txt;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ncp::props::dnssd::{self, ot_error, DnssdState, RequestResult};
use ncp::spinel::{prop, Command, Prop};
use ncp::{Client, Event};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

use self::registry::{Advert, Handled, PublishError, Publisher, Registry};

/// Frames waiting for the proxy.
pub(crate) const QUEUE: usize = 256;
/// Wait before setting `DNSSD_STATE` again after a failure that is not "unsupported".
const RETRY: Duration = Duration::from_secs(2);
/// The build options the co-processor needs for this.
pub(crate) const BUILD_OPTIONS: &str =
    "-DOT_SRP_ADV_PROXY=ON -DOT_PLATFORM_DNSSD=ON -DOT_NCP_DNSSD=ON";

/// Whether the proxy consumes `p` (never passed to the monitor).
pub(crate) fn consumes(p: Prop) -> bool {
    p == prop::DNSSD_HOST || p == prop::DNSSD_SERVICE || p == prop::DNSSD_KEY_RECORD
}

#[derive(Debug, Default, Clone)]
struct Status {
    advertising: bool,
    reason: Option<String>,
    hosts: usize,
    services: usize,
    published: usize,
    malformed: u64,
    requests: u64,
    queue_full: u64,
}

#[derive(Default)]
struct Shared {
    status: Mutex<Status>,
    /// Co-processor resets seen by the frame router: a frame is stamped with it, and one from
    /// before the last reset the proxy handled is dropped unanswered (its context pointer is the
    /// old boot's).
    resets: std::sync::atomic::AtomicU64,
}

impl Shared {
    fn status(&self) -> std::sync::MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }
}

enum Input {
    Frame {
        command: Command,
        prop: Prop,
        value: Vec<u8>,
        /// `Shared::resets` when it arrived.
        boot: u64,
    },
    MeshLocal(Vec<u8>),
}

/// Resets and stop: never queued behind frames (an unbounded channel; both are rare).
enum Control {
    Reset,
    Stop(oneshot::Sender<()>),
}

/// Where the frame router delivers the proxy's frames. Never blocks.
#[derive(Clone)]
pub(crate) struct Inlet {
    tx: mpsc::Sender<Input>,
    control: mpsc::UnboundedSender<Control>,
    shared: Arc<Shared>,
}

impl Inlet {
    /// A co-processor event: `DNSSD_*` requests, `IPV6_ML_PREFIX`, resets; others are ignored.
    pub(crate) fn event(&self, ev: &Event) {
        let input = match ev {
            Event::Property {
                command,
                prop: p,
                value,
            } if consumes(*p) => Input::Frame {
                command: *command,
                prop: *p,
                value: value.clone(),
                boot: self.shared.resets.load(Ordering::SeqCst),
            },
            Event::Property { prop: p, value, .. } if *p == prop::IPV6_ML_PREFIX => {
                Input::MeshLocal(value.clone())
            }
            Event::Reset { .. } => {
                self.shared.resets.fetch_add(1, Ordering::SeqCst);
                let _ = self.control.send(Control::Reset);
                return;
            }
            _ => return,
        };
        if self.tx.try_send(input).is_err() {
            self.shared.status().queue_full += 1;
        }
    }
}

/// Handle on the running proxy.
pub(crate) struct SrpProxy {
    shared: Arc<Shared>,
    control: mpsc::UnboundedSender<Control>,
}

/// Starts the proxy on `[bridge] infra_interface`.
pub(crate) fn start(
    client: Client,
    daemon: tokio::sync::oneshot::Receiver<Result<mdns_sd::ServiceDaemon, String>>,
) -> (Arc<SrpProxy>, Inlet) {
    let shared = Arc::new(Shared::default());
    let (tx, rx) = mpsc::channel(QUEUE);
    let (control, control_rx) = mpsc::unbounded_channel();
    let s = shared.clone();
    tokio::spawn(async move {
        // The agent's one mDNS responder (crate::mdns), or why there is none; requests queue
        // meanwhile.
        let publisher: Result<Box<dyn Publisher>, String> = match daemon.await {
            Ok(Ok(d)) => Ok(Box::new(mdns::MdnsPublisher::new(d))),
            Ok(Err(why)) => Err(why),
            Err(_) => Err("the mDNS responder did not start".into()),
        };
        run(client, s, rx, control_rx, publisher).await
    });
    let inlet = Inlet {
        tx,
        control: control.clone(),
        shared: shared.clone(),
    };
    (Arc::new(SrpProxy { shared, control }), inlet)
}

impl SrpProxy {
    /// The `srp_proxy` object of `status`.
    pub(crate) fn status_json(&self) -> Value {
        status_json(&self.shared.status())
    }

    /// Withdraws what is published (mDNS goodbyes), before the responder stops. Waits at most
    /// 3 s (a frame being answered may hold the proxy for up to the co-processor's 2 s timeout).
    pub(crate) async fn shutdown(&self) {
        let (done_tx, done_rx) = oneshot::channel();
        if self.control.send(Control::Stop(done_tx)).is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(3), done_rx).await;
        }
    }
}

fn status_json(s: &Status) -> Value {
    let mut v = json!({
        "advertising": s.advertising,
        "hosts": s.hosts,
        "services": s.services,
        "published": s.published,
        "malformed": s.malformed,
        "requests": s.requests,
        "dropped": s.queue_full,
    });
    if let Some(r) = &s.reason {
        v["reason"] = json!(r);
    }
    v
}

/// A publisher for when there is none (no infrastructure interface, no daemon): refuses.
struct Nowhere(String);

impl Publisher for Nowhere {
    fn publish(&mut self, _: &Advert) -> Result<(), PublishError> {
        Err(PublishError::Failed(self.0.clone()))
    }
    fn unpublish(&mut self, _: &str, _: &str) {}
}

/// Whether the co-processor's answer to `DNSSD_STATE` means "no DNS-SD platform in this
/// firmware" (no SET handler: PROP_NOT_FOUND; or UNIMPLEMENTED, 2).
pub(crate) fn dnssd_unsupported(e: &ncp::Error) -> bool {
    use ncp::spinel::Status;
    matches!(
        e,
        ncp::Error::Status {
            status: Status::PropNotFound | Status::Other(2),
            ..
        }
    )
}

/// Whether the co-processor wants an answer: its context is the callback pointer, NULL (all
/// zero) for requests nobody waits for (OpenThread passes no callback for some unregistrations).
/// `HandlePropertySet<DNSSD_REQUEST_RESULT>` calls the pointer without checking it, so answering
/// a NULL context makes the co-processor jump to address 0 (the simulated one crashed).
pub(crate) fn wants_answer(req: &dnssd::Request) -> bool {
    req.context.iter().any(|&b| b != 0)
}

struct Proxy {
    client: Client,
    shared: Arc<Shared>,
    registry: Registry,
    publisher: Box<dyn Publisher>,
    /// `DNSSD_STATE` ready is to be (re)sent.
    want_ready: bool,
    /// The firmware refused `DNSSD_STATE` (said once).
    unsupported: bool,
    warned_malformed: bool,
}

async fn run(
    client: Client,
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<Input>,
    mut control: mpsc::UnboundedReceiver<Control>,
    publisher: Result<Box<dyn Publisher>, String>,
) {
    let (publisher, can_publish) = match publisher {
        Ok(p) => (p, true),
        Err(why) => {
            tracing::info!(reason = %why, "SRP proxy off: devices' services will not be advertised on the LAN");
            shared.status().reason = Some(why.clone());
            (Box::new(Nowhere(why)) as Box<dyn Publisher>, false)
        }
    };
    let mut p = Proxy {
        client,
        shared,
        registry: Registry::default(),
        publisher,
        want_ready: can_publish,
        unsupported: false,
        warned_malformed: false,
    };
    let mut retry = tokio::time::interval(RETRY);
    let mut boot = 0u64; // resets handled
    loop {
        if p.want_ready {
            p.set_ready().await;
        }
        tokio::select! {
            biased;
            c = control.recv() => match c {
                None => break,
                Some(Control::Stop(done)) => {
                    p.registry.clear(p.publisher.as_mut());
                    p.update_counts();
                    let _ = done.send(());
                    break;
                }
                Some(Control::Reset) => {
                    boot += 1;
                    p.reset(can_publish);
                }
            },
            i = rx.recv() => match i {
                None => break,
                Some(Input::MeshLocal(v)) => p.mesh_local(&v),
                Some(Input::Frame { boot: b, .. }) if b < boot => {
                    tracing::debug!("SRP proxy: a DNS-SD request from before the co-processor reset dropped");
                }
                Some(Input::Frame { command, prop, value, .. }) => p.frame(command, prop, &value).await,
            },
            _ = retry.tick(), if p.want_ready => {}
        }
    }
}

impl Proxy {
    async fn set_ready(&mut self) {
        match self
            .client
            .set(prop::DNSSD_STATE, &dnssd::encode_state(DnssdState::Ready))
            .await
        {
            Ok(_) => {
                self.want_ready = false;
                if let Ok(v) = self.client.get(prop::IPV6_ML_PREFIX).await {
                    self.mesh_local(&v);
                }
                self.enable_srp_server().await;
                tracing::info!(
                    "SRP proxy: DNS-SD platform ready; devices' services are advertised on the LAN"
                );
                let mut s = self.shared.status();
                s.advertising = true;
                s.reason = None;
            }
            Err(e) if dnssd_unsupported(&e) => {
                self.want_ready = false;
                self.unsupported = true;
                tracing::warn!(
                    "co-processor firmware has no DNS-SD platform (DNSSD_STATE refused): devices' services will not be advertised on the LAN; build the firmware with {BUILD_OPTIONS} as well"
                );
                let mut s = self.shared.status();
                s.advertising = false;
                s.reason = Some(format!(
                    "co-processor firmware lacks the DNS-SD platform ({BUILD_OPTIONS})"
                ));
            }
            Err(e) => {
                tracing::debug!(error = %e, "SRP proxy: setting DNSSD_STATE failed; retrying");
                let mut s = self.shared.status();
                s.advertising = false;
                s.reason = Some(format!("co-processor did not take DNSSD_STATE: {e}"));
            }
        }
    }

    /// The SRP server in auto-enable mode (the border routing manager starts it once border
    /// routing runs); firmware without that mode: enabled outright.
    async fn enable_srp_server(&self) {
        let auto = self
            .client
            .set(prop::SRP_SERVER_AUTO_ENABLE_MODE, &[1])
            .await;
        if let Err(e) = auto {
            tracing::debug!(error = %e, "SRP server auto-enable mode refused; enabling the SRP server");
            if let Err(e) = self.client.set(prop::SRP_SERVER_ENABLED, &[1]).await {
                tracing::warn!(error = %e, "the co-processor's SRP server could not be enabled: devices cannot register services");
            }
        }
    }

    fn reset(&mut self, can_publish: bool) {
        let (_, services, _, _) = self.registry.counts();
        tracing::info!(
            services,
            "co-processor reset: the SRP proxy drops its registry and says ready again"
        );
        self.registry.clear(self.publisher.as_mut());
        self.update_counts();
        self.unsupported = false; // the firmware may have been replaced: ask again
        if can_publish {
            self.want_ready = true;
            self.shared.status().advertising = false;
        }
    }

    fn mesh_local(&mut self, value: &[u8]) {
        if let Ok(p) = ncp::props::net::decode_ml_prefix(value) {
            self.registry.set_mesh_local(Some(p.addr));
        }
    }

    async fn frame(&mut self, command: Command, p: Prop, value: &[u8]) {
        tracing::debug!(command = %command, prop = %p, len = value.len(), "SRP proxy: DNS-SD request");
        match self
            .registry
            .handle(command, p, value, self.publisher.as_mut())
        {
            Handled::Answer(r) => {
                self.shared.status().requests += 1;
                self.update_counts();
                self.answer(&r).await;
            }
            Handled::Malformed(why) => {
                self.shared.status().malformed += 1;
                if self.warned_malformed {
                    tracing::debug!(error = %why, "malformed DNS-SD request from the co-processor dropped");
                } else {
                    self.warned_malformed = true;
                    tracing::warn!(error = %why, "malformed DNS-SD request from the co-processor dropped (further ones are counted in srp_proxy.malformed)");
                }
            }
        }
    }

    async fn answer(&self, r: &RequestResult) {
        if !wants_answer(&r.request) {
            tracing::debug!(
                id = r.request.id,
                "SRP proxy: request without a callback; not answered"
            );
            return;
        }
        if r.error != ot_error::NONE {
            tracing::debug!(
                id = r.request.id,
                error = r.error,
                "SRP proxy: request refused"
            );
        }
        let v = dnssd::encode_request_result(r);
        if let Err(e) = self.client.set(prop::DNSSD_REQUEST_RESULT, &v).await {
            tracing::warn!(id = r.request.id, error = %e, "SRP proxy: the co-processor did not take the request result");
        }
    }

    fn update_counts(&self) {
        let (hosts, services, published, _) = self.registry.counts();
        let mut s = self.shared.status();
        s.hosts = hosts;
        s.services = services;
        s.published = published;
    }
}

#[cfg(test)]
mod tests;
