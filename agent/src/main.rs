//! `thread-agent`: a Thread border agent daemon for Linux that drives an OpenThread NCP
//! co-processor over Spinel/HDLC and serves a local control socket.
//!
//! Owns the wiring, nothing of the protocols: sockets, the serial link, timers, files, logging.
//! Spinel values are decoded by `ncp` (`ncp::props`), MeshCoP and Thread formats and the
//! commissioner state machine live in `meshcop`, the control protocol in `control`; this crate
//! only pumps bytes, deadlines and events between them and the world (docs/architecture.md).
//!
//! Start-up: command line (clap) -> configuration ([`config`]) -> logging (tracing, stderr,
//! text or JSON) -> co-processor link and probe ([`session`]) -> the frame router ([`frames`])
//! feeding the bridge ([`bridge`]), the commissioner ([`commissioner`]) and the monitor
//! ([`monitor`]) -> control socket ([`control_socket`]) -> form-or-resume ([`network`]); the
//! co-processor's liveness and recovery ([`liveness`]) run from then on.
//!
//! Exit codes (contract): 0 clean stop on SIGTERM/SIGINT; 1 other failure (also: the
//! commissioner task died 3 times within 10 minutes); 2 invalid command line, configuration or
//! radio URL; 3 device missing (at start, or gone for 10 minutes while running); 4 permission
//! denied; 5 co-processor does not answer (at start, or after 5 failed recovery attempts while
//! running); 6 unsupported firmware. A fatal error is one line on stderr starting with
//! `thread-agent: error: `.

#![warn(unreachable_pub)]

mod audit;
mod ba_relay;
mod bridge;
mod commissioner;
mod config;
mod control_socket;
mod devices;
#[cfg(test)]
mod fake_ncp;
mod frames;
mod lifecycle;
mod liveness;
mod logging;
mod mdns;
mod monitor;
mod network;
mod rest;
mod scan;
mod sd_notify;
mod session;
mod srp_proxy;
mod state;
mod status;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use crate::config::{Overrides, RadioUrlSource, Settings};
use crate::session::{exit, Fatal};

/// How long start-up waits for the node to attach before it only logs a warning.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(60);

/// Thread border agent for an OpenThread NCP co-processor.
#[derive(Debug, Parser)]
#[command(name = "thread-agent", version, about)]
struct Cli {
    /// Configuration file (TOML). Default /etc/thread-agent/agent.toml (may be missing).
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Radio URL, e.g. spinel+hdlc+uart:///dev/ttyACM0?uart-baudrate=460800
    #[arg(long, value_name = "URL")]
    radio_url: Option<String>,
    /// Control socket path. Default /run/thread-agent/control.sock.
    #[arg(long, value_name = "PATH")]
    control_socket: Option<String>,
    /// State directory (dataset backup). Default /var/lib/thread-agent.
    #[arg(long, value_name = "PATH")]
    state_dir: Option<String>,
    /// Log format: text, json or journal (text under systemd goes to the journal).
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<String>,
}

/// Prints the one-line fatal message and exits.
fn die(code: i32, message: &str) -> ! {
    let line: String = message.split_whitespace().collect::<Vec<_>>().join(" ");
    eprintln!("{}thread-agent: error: {line}", logging::error_prefix());
    std::process::exit(code);
}

fn main() {
    // First, while no other thread exists: takes NOTIFY_SOCKET/WATCHDOG_* out of the environment.
    let notifier = Arc::new(sd_notify::Notifier::from_env());
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                std::process::exit(0);
            }
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid command line");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            die(exit::USAGE, &format!("{first} (see `thread-agent --help`)"));
        }
    };
    let overrides = Overrides {
        config: cli.config,
        radio_url: cli.radio_url,
        control_socket: cli.control_socket,
        state_dir: cli.state_dir,
        log_format: cli.log_format,
    };
    let settings = match config::load(&overrides) {
        Ok(s) => s,
        Err(e) => die(exit::USAGE, &e.to_string()),
    };
    if let Some(note) = logging::init(&settings.log_level, settings.log_format) {
        tracing::warn!("{note}");
    }
    for w in &settings.warnings {
        tracing::warn!("{w}");
    }
    if let Err(e) = config::check_paths(&settings) {
        die(e.code, &e.to_string());
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => die(
            exit::FAILURE,
            &format!("cannot start the async runtime: {e}"),
        ),
    };
    let result = rt.block_on(run(settings, notifier.clone()));
    // Do not wait for blocked I/O threads (serial reads) at shutdown.
    rt.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(()) => std::process::exit(exit::OK),
        Err(f) => {
            notifier.status(&format!("failed: {}", f.message));
            die(f.code, &f.message)
        }
    }
}

/// The uid the agent runs as (for `dataset.export` authorization).
fn own_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

async fn run(settings: Settings, notifier: Arc<sd_notify::Notifier>) -> Result<(), Fatal> {
    log_radio_choice(&settings);
    let state = open_state_dir(&settings)?;

    let mut sigterm = signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut sigint = signal(tokio::signal::unix::SignalKind::interrupt())?;

    let (client, mut events, info) = tokio::select! {
        r = session::open(&settings.radio_url) => r?,
        _ = sigterm.recv() => return Ok(()),
        _ = sigint.recv() => return Ok(()),
    };
    session::discard_startup_events(&mut events)?;
    log_coprocessor(&info);

    // One router hands each of the co-processor's frames to its consumer: packets to the mesh
    // bridge, UDP-forward datagrams (the Border Agent's answers) to the commissioner service, the
    // rest to the monitor (see `frames`).
    let (bridge, bridge_inlet) = bridge::start(client.clone(), settings.bridge.clone());
    let (relay, relay_inlet) =
        ba_relay::start(client.clone(), ba_relay::RelayConfig::of(&settings));
    let scanner = Arc::new(scan::Scanner::new(client.clone()));
    let (daemon_tx, daemon_rx) = tokio::sync::oneshot::channel();
    let (srp_proxy, srp_inlet) = srp_proxy::start(client.clone(), daemon_rx);
    let (events, commissioner_input) = frames::route(
        events,
        bridge_inlet,
        scanner.inlet(),
        relay_inlet,
        Some(srp_inlet),
    );
    let (events, mdns) = start_mdns(&settings, &client, &info, relay.port(), events);
    let _ = daemon_tx.send(mdns.daemon().ok_or_else(|| mdns.off_reason()));

    let net = Arc::new(
        network::Network::new(
            client,
            info,
            state,
            settings.network_name.clone(),
            settings.channel,
        )
        .with_form(settings.form),
    );

    let server = bind_control(&settings).await?;
    let audit = Arc::new(
        audit::AuditLog::new(&settings.state_dir).with_max_bytes(settings.audit_max_bytes),
    );
    let commissioner = commissioner::Service::spawn(
        net.clone(),
        settings.commissioner.clone(),
        audit.clone(),
        commissioner_input,
    );
    let inventory = start_inventory(&settings, &net, &audit, &commissioner);
    let lifecycle =
        lifecycle::Lifecycle::new(net.clone(), audit, commissioner.clone(), scanner.clone());
    tokio::spawn(lifecycle.clone().run());
    let handler: Arc<dyn control_socket::Handler> = Arc::new(commissioner::methods::Methods {
        inner: Arc::new(status::Methods {
            net: net.clone(),
            bridge: Some(bridge.clone()),
            srp_proxy: Some(srp_proxy.clone()),
            lifecycle: Some(lifecycle.clone()),
            relay: Some(relay.clone()),
            mdns: Some(mdns.status()),
        }),
        service: commissioner.clone(),
        scanner,
        lifecycle: lifecycle.clone(),
        devices: inventory,
    });
    let control = rest::Control {
        handler: handler.clone(),
        own_uid: own_uid(),
    };
    let rest = rest_api(&settings, &net, &lifecycle, control).await?;

    let monitor = monitor::run(net.clone(), events);
    let (live_tx, live_rx) = liveness::channel();
    let liveness = liveness::run(
        net.clone(),
        settings.radio_url.clone(),
        live_tx,
        liveness::Timing::default(),
    );
    let startup = async {
        let how = net.bring_up().await?;
        if how == network::BringUp::Waiting {
            // `dataset.import` brings the stack up; `network up` is logged when it attaches.
            sd_notify::announce_ready(&net, &notifier, how, live_rx);
            return std::future::pending::<Result<(), Fatal>>().await;
        }
        tracing::info!(how = ?how, "network interface and stack up; waiting to attach");
        sd_notify::announce_ready(&net, &notifier, how, live_rx);
        match net.wait_attached(ATTACH_TIMEOUT).await {
            Some(_) => {}
            None => tracing::warn!(
                timeout_s = ATTACH_TIMEOUT.as_secs(),
                "not attached yet; still trying (`network up` is logged when it attaches)"
            ),
        }
        std::future::pending::<Result<(), Fatal>>().await
    };
    let result = tokio::select! {
        f = monitor => Err(f),
        f = liveness => Err(f),
        why = commissioner.failed() => Err(Fatal::new(exit::FAILURE, why)),
        r = startup => r,
        e = rest => Err(Fatal::new(exit::FAILURE, e)),
        r = server.serve(handler, own_uid()) => r.map_err(|e| Fatal::new(exit::FAILURE, format!("control socket: {e}"))),
        _ = sigterm.recv() => { tracing::info!("SIGTERM: shutting down"); notifier.stopping("SIGTERM: shutting down"); Ok(()) }
        _ = sigint.recv() => { tracing::info!("SIGINT: shutting down"); notifier.stopping("SIGINT: shutting down"); Ok(()) }
    };
    shut_down(mdns, &srp_proxy, &commissioner, server, &bridge).await;
    result
}

/// The control socket (permission denied: its own exit code).
async fn bind_control(settings: &Settings) -> Result<control_socket::ControlServer, Fatal> {
    let server = control_socket::ControlServer::bind(&settings.control_socket)
        .await
        .map_err(|e| match &e {
            control_socket::ControlError::Io { source, .. }
                if source.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                Fatal::new(exit::PERMISSION_DENIED, e.to_string())
            }
            _ => Fatal::new(exit::FAILURE, e.to_string()),
        })?;
    tracing::info!(path = %server.path().display(), "control socket listening");
    Ok(server)
}

/// Stopping, in order: goodbye packets for the devices' services (SRP proxy), then for
/// `_meshcop._udp` (the responder stops last); the commissioner session resigned (if any) before
/// the co-processor link goes away; the control socket file removed; the Thread interface and the
/// routes the bridge added removed.
async fn shut_down(
    mdns: mdns::Mdns,
    srp_proxy: &srp_proxy::SrpProxy,
    commissioner: &commissioner::Service,
    server: control_socket::ControlServer,
    bridge: &bridge::Bridge,
) {
    srp_proxy.shutdown().await; // goodbyes for the devices' services, through the responder
    mdns.shutdown().await;
    commissioner.shutdown().await;
    drop(server);
    bridge.shutdown().await;
}

/// The mDNS responder on the infrastructure link (one daemon; `mdns.daemon()` for other
/// publishers) and `_meshcop._udp` with the LAN relay's port, re-read on the co-processor's
/// notifications and resets (seen by the tap in front of the monitor).
fn start_mdns(
    settings: &Settings,
    client: &ncp::Client,
    info: &ncp::NcpInfo,
    relay_port: tokio::sync::watch::Receiver<Option<u16>>,
    events: tokio::sync::mpsc::Receiver<ncp::Event>,
) -> (tokio::sync::mpsc::Receiver<ncp::Event>, mdns::Mdns) {
    let (events, pokes) = mdns::tap(events);
    let mdns = mdns::Mdns::start(
        &settings.mdns,
        settings.bridge.infra_interface.as_deref(),
        client.clone(),
        info.hwaddr,
        pokes,
        relay_port,
    );
    (events, mdns)
}

/// `[rest]`: binds the REST API (a bind failure is fatal at start) and returns its server;
/// without `[rest] listen`, a future that never ends.
async fn rest_api(
    settings: &Settings,
    net: &Arc<network::Network>,
    lifecycle: &Arc<lifecycle::Lifecycle>,
    control: rest::Control,
) -> Result<std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send>>, Fatal> {
    let Some(cfg) = settings.rest.clone() else {
        return Ok(Box::pin(std::future::pending()));
    };
    let server = rest::bind(cfg, net.clone(), lifecycle.clone(), control)
        .await
        .map_err(|e| Fatal::new(exit::FAILURE, e))?;
    Ok(Box::pin(async move {
        match server.await {
            Ok(()) => "REST API stopped".to_string(),
            Err(e) => e,
        }
    }))
}

/// The device inventory, reading the commissioner's events (subscribed before any can be sent);
/// presence from the commissioner's network diagnostics query.
fn start_inventory(
    settings: &Settings,
    net: &Arc<network::Network>,
    audit: &Arc<audit::AuditLog>,
    commissioner: &commissioner::Service,
) -> Arc<devices::Inventory> {
    let inventory = devices::Inventory::open(
        &settings.state_dir,
        audit.clone(),
        commissioner.event_sender(),
        Arc::new(devices::source::MeshSource {
            net: net.clone(),
            diag: Some(devices::source::diag_query(commissioner.clone())),
        }),
        settings.presence_interval,
    );
    commissioner.set_recorder(inventory.recorder());
    tokio::spawn(inventory.clone().run(commissioner.subscribe()));
    inventory
}

/// Says which radio is used and how it was chosen.
fn log_radio_choice(settings: &Settings) {
    match &settings.radio_url_source {
        RadioUrlSource::Configured => {
            tracing::info!(radio_url = %settings.radio_url, "using radio")
        }
        RadioUrlSource::DefaultDevice(p) => {
            tracing::info!(radio_url = %settings.radio_url, device = %p.display(), "no radio_url configured; using the device found")
        }
        RadioUrlSource::Simulated(p) => tracing::info!(
            radio_url = %settings.radio_url,
            program = %p.display(),
            "no radio_url configured and no /dev/thread-radio or /dev/ttyACM0; using the simulated co-processor"
        ),
    }
}

/// Creates the state directory (exit 4 when that is not permitted).
fn open_state_dir(settings: &Settings) -> Result<state::StateDir, Fatal> {
    let state = state::StateDir::new(&settings.state_dir);
    state.ensure().map_err(|e| match &e {
        state::StateError::Io { source, .. }
            if source.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            Fatal::new(exit::PERMISSION_DENIED, e.to_string())
        }
        _ => Fatal::new(exit::FAILURE, e.to_string()),
    })?;
    Ok(state)
}

/// Logs the probed co-processor: version, protocol, EUI-64, capabilities.
fn log_coprocessor(info: &ncp::NcpInfo) {
    let caps: Vec<String> = info
        .caps
        .iter()
        .map(|c| {
            ncp::spinel::cap::name(*c)
                .map(str::to_string)
                .unwrap_or_else(|| c.to_string())
        })
        .collect();
    tracing::info!(
        version = %info.version,
        protocol = %format!("{}.{}", info.protocol.0, info.protocol.1),
        eui64 = %hex::encode(info.hwaddr),
        capabilities = %caps.join(","),
        "co-processor ready"
    );
}

fn signal(kind: tokio::signal::unix::SignalKind) -> Result<tokio::signal::unix::Signal, Fatal> {
    tokio::signal::unix::signal(kind)
        .map_err(|e| Fatal::new(exit::FAILURE, format!("cannot install signal handler: {e}")))
}
