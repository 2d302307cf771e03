//! systemd's service notification protocol (`sd_notify(3)`): `READY=1`, `STATUS=...`,
//! `WATCHDOG=1`, `STOPPING=1`, sent as one datagram each to the Unix socket named by
//! `$NOTIFY_SOCKET` (a path, or `@name` for the abstract namespace), plus the watchdog interval
//! from `$WATCHDOG_USEC` (honoured only if `$WATCHDOG_PID` is unset or names this process).
//!
//! [`Notifier::from_env`] reads those variables once and removes them from the environment (it
//! must run before any thread starts), so the co-processor program the agent may start does not
//! inherit them. Without `$NOTIFY_SOCKET` every call is a no-op: the agent behaves the same when
//! started by hand.
//!
//! [`supervise`] is the agent's side of the contract with `thread-agent.service` (`Type=notify`,
//! `WatchdogSec=`): after start-up has sent `READY=1` (co-processor answered its probe, network up
//! or being formed), it sends a `STATUS=` line whenever the Thread role or the co-processor's
//! health changes, and `WATCHDOG=1` at half the watchdog interval while the liveness check
//! ([`crate::liveness`]) is making progress (a beat within [`STALL`]) and has not given up:
//! a co-processor being recovered keeps the watchdog fed; a failed recovery or a hung agent
//! does not.
//!
//! Guarantees: never panics; a failed send is logged at debug level and otherwise ignored (the
//! service manager going away must not stop the agent); status text is one line.
//! Validated against: the protocol description in `sd_notify(3)` (systemd 252) — unit tests below
//! receive the datagrams on a socket of their own, and the end-to-end test `tests/tests/deploy.rs`
//! runs the real agent with `NOTIFY_SOCKET`/`WATCHDOG_USEC` pointing at the test.

use std::ffi::OsString;
use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::Arc;
use std::time::Duration;

use crate::network::{BringUp, Network, Role};

/// How often the status is re-checked when no watchdog is requested.
const STATUS_POLL: Duration = Duration::from_secs(10);
/// The watchdog is not fed when the liveness check made no progress for this long.
pub(crate) const STALL: Duration = Duration::from_secs(20);

use crate::liveness::{Health, Liveness};
use tokio::sync::watch;

/// Sends notifications to the service manager, if there is one.
#[derive(Debug)]
pub(crate) struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`, then removes them from the
    /// environment. Call it first thing in `main`, before any thread is started.
    pub(crate) fn from_env() -> Notifier {
        let socket = std::env::var_os("NOTIFY_SOCKET");
        let usec = std::env::var("WATCHDOG_USEC").ok();
        let pid = std::env::var("WATCHDOG_PID").ok();
        for k in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            std::env::remove_var(k);
        }
        Notifier::from_vars(socket, usec.as_deref(), pid.as_deref(), std::process::id())
    }

    /// [`Notifier::from_env`] on given values (for tests). An unusable socket name gives a
    /// notifier that sends nothing.
    pub(crate) fn from_vars(
        socket: Option<OsString>,
        watchdog_usec: Option<&str>,
        watchdog_pid: Option<&str>,
        pid: u32,
    ) -> Notifier {
        let target = socket.and_then(|s| {
            let addr = socket_addr(&s)?;
            let sock = UnixDatagram::unbound().ok()?;
            Some((sock, addr))
        });
        let for_us = match watchdog_pid {
            None => true,
            Some(p) => p.trim().parse::<u32>().map(|p| p == pid).unwrap_or(false),
        };
        let watchdog = watchdog_usec
            .and_then(|u| u.trim().parse::<u64>().ok())
            .filter(|&u| u > 0 && for_us)
            .map(Duration::from_micros);
        let watchdog = if target.is_some() { watchdog } else { None };
        Notifier { target, watchdog }
    }

    /// True when a service manager listens.
    pub(crate) fn is_enabled(&self) -> bool {
        self.target.is_some()
    }

    /// The watchdog timeout requested by the service manager (`WatchdogSec=`).
    pub(crate) fn watchdog_timeout(&self) -> Option<Duration> {
        self.watchdog
    }

    /// How often to send `WATCHDOG=1`: half the timeout, as `sd_watchdog_enabled(3)` recommends.
    pub(crate) fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog.map(|w| (w / 2).max(Duration::from_millis(1)))
    }

    /// `READY=1` with a status line.
    pub(crate) fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)));
    }

    /// `STATUS=...`.
    pub(crate) fn status(&self, status: &str) {
        self.send(&format!("STATUS={}", one_line(status)));
    }

    /// `WATCHDOG=1`.
    pub(crate) fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }

    /// `STOPPING=1` with a status line.
    pub(crate) fn stopping(&self, status: &str) {
        self.send(&format!("STOPPING=1\nSTATUS={}", one_line(status)));
    }

    /// Sends one datagram; errors are logged at debug level and dropped.
    fn send(&self, msg: &str) {
        if let Err(e) = self.try_send(msg) {
            tracing::debug!(error = %e, "cannot notify the service manager");
        }
    }

    fn try_send(&self, msg: &str) -> io::Result<()> {
        let Some((sock, addr)) = &self.target else {
            return Ok(());
        };
        let n = sock.send_to_addr(msg.as_bytes(), addr)?;
        if n != msg.len() {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "short datagram"));
        }
        Ok(())
    }
}

/// `NOTIFY_SOCKET` to an address: an absolute path, or `@name` (abstract namespace, Linux).
fn socket_addr(s: &std::ffi::OsStr) -> Option<SocketAddr> {
    use std::os::unix::ffi::OsStrExt;
    let b = s.as_bytes();
    match b.first()? {
        b'/' => SocketAddr::from_pathname(std::path::Path::new(s)).ok(),
        #[cfg(target_os = "linux")]
        b'@' => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(&b[1..]).ok()
        }
        _ => None,
    }
}

fn one_line(s: &str) -> String {
    s.split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The `STATUS=` text for a role (and, when attached, the network it is in).
pub(crate) fn status_text(role: Role, network: Option<(&str, u8, u16)>) -> String {
    match (role, network) {
        (r, Some((name, channel, pan_id))) if r.is_attached() => {
            format!("role {r}; network {name}, channel {channel}, PAN ID 0x{pan_id:04x}")
        }
        (Role::Detached, _) => "role detached; attaching to or forming the network".to_string(),
        (Role::Disabled, _) => "role disabled; bringing the network up".to_string(),
        (r, _) => format!("role {r}"),
    }
}

/// The `READY=1` status line after start-up brought the network up.
pub(crate) fn ready_text(how: BringUp) -> String {
    let what = match how {
        BringUp::Formed => "formed a new network",
        BringUp::Restored => "restored the network from the backup",
        BringUp::Resumed => "resumed the co-processor's network",
        BringUp::Waiting => return "no network: waiting for `threadctl dataset import`".into(),
    };
    format!("{what}; role detached, attaching")
}

/// Start-up is done (co-processor answered, network formed/restored/resumed and its stack up):
/// sends `READY=1`, logs that it did, and starts [`supervise`]. Does nothing without a service
/// manager.
pub(crate) fn announce_ready(
    net: &Arc<Network>,
    notifier: &Arc<Notifier>,
    how: BringUp,
    live: watch::Receiver<Liveness>,
) {
    if !notifier.is_enabled() {
        return;
    }
    notifier.ready(&ready_text(how));
    tracing::info!(
        watchdog_ms = notifier.watchdog_timeout().map(|d| d.as_millis() as u64),
        "told the service manager we are ready (READY=1)"
    );
    tokio::spawn(supervise(net.clone(), notifier.clone(), live));
}

/// Whether the watchdog may be fed: not failed, and a beat within [`STALL`].
pub(crate) fn feed_watchdog(live: &Liveness) -> bool {
    live.health != Health::Failed && live.beat.elapsed() < STALL
}

/// Follows the role and the co-processor's health and keeps the service manager informed; runs
/// until the runtime stops. Call after start-up has sent `READY=1`.
pub(crate) async fn supervise(
    net: Arc<Network>,
    notifier: Arc<Notifier>,
    mut live: watch::Receiver<Liveness>,
) {
    if !notifier.is_enabled() {
        return;
    }
    let mut roles = net.role_tx.subscribe();
    let period = notifier.watchdog_interval().unwrap_or(STATUS_POLL);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last: Option<String> = None;
    let mut seen: Option<(Role, Health)> = None;
    loop {
        let ticked = tokio::select! {
            changed = roles.changed() => {
                if changed.is_err() {
                    return; // the network (and its sender) is gone: shutting down
                }
                false
            }
            changed = live.changed() => {
                if changed.is_err() {
                    return;
                }
                false
            }
            _ = tick.tick() => {
                if notifier.watchdog_timeout().is_some() {
                    if feed_watchdog(&live.borrow()) {
                        notifier.watchdog();
                    } else {
                        tracing::warn!("co-processor recovery failed or stalled; watchdog not refreshed");
                    }
                }
                true
            }
        };
        let role = *roles.borrow_and_update();
        let health = live.borrow_and_update().health;
        if !ticked && seen == Some((role, health)) {
            continue; // only a liveness beat
        }
        seen = Some((role, health));
        let text = match health {
            Health::Answering => {
                let network = if role.is_attached() {
                    net.snapshot()
                        .await
                        .ok()
                        .map(|s| (s.network_name, s.channel, s.pan_id))
                } else {
                    None
                };
                status_text(role, network.as_ref().map(|(n, c, p)| (n.as_str(), *c, *p)))
            }
            Health::Recovering => "co-processor not answering; recovering it".to_string(),
            Health::Failed => "co-processor recovery failed".to_string(),
        };
        if last.as_deref() != Some(text.as_str()) {
            notifier.status(&text);
            last = Some(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener() -> (tempfile::TempDir, UnixDatagram, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        (dir, sock, path)
    }

    fn recv(sock: &UnixDatagram) -> String {
        let mut buf = [0u8; 4096];
        let n = sock.recv(&mut buf).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn sends_ready_status_watchdog_stopping_as_datagrams() {
        let (_d, sock, path) = listener();
        let n = Notifier::from_vars(Some(path.into()), Some("4000000"), None, 42);
        assert!(n.is_enabled());
        assert_eq!(n.watchdog_timeout(), Some(Duration::from_secs(4)));
        assert_eq!(n.watchdog_interval(), Some(Duration::from_secs(2)));
        n.ready("formed\nattaching");
        assert_eq!(recv(&sock), "READY=1\nSTATUS=formed; attaching");
        n.status("role leader");
        assert_eq!(recv(&sock), "STATUS=role leader");
        n.watchdog();
        assert_eq!(recv(&sock), "WATCHDOG=1");
        n.stopping("SIGTERM");
        assert_eq!(recv(&sock), "STOPPING=1\nSTATUS=SIGTERM");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn abstract_socket_names_work() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("thread-agent-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let sock = UnixDatagram::bind_addr(&addr).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let n = Notifier::from_vars(Some(format!("@{name}").into()), None, None, 1);
        n.status("x");
        assert_eq!(recv(&sock), "STATUS=x");
    }

    #[test]
    fn watchdog_only_for_this_pid_and_only_with_a_socket() {
        let (_d, _sock, path) = listener();
        let other = Notifier::from_vars(Some(path.clone().into()), Some("1000000"), Some("7"), 8);
        assert_eq!(other.watchdog_timeout(), None);
        let ours = Notifier::from_vars(Some(path.into()), Some("1000000"), Some("8"), 8);
        assert_eq!(ours.watchdog_timeout(), Some(Duration::from_secs(1)));
        let none = Notifier::from_vars(None, Some("1000000"), None, 8);
        assert!(!none.is_enabled());
        assert_eq!(none.watchdog_timeout(), None);
        none.ready("nothing happens");
    }

    #[test]
    fn bad_values_disable_quietly() {
        assert!(!Notifier::from_vars(Some("relative/path".into()), None, None, 1).is_enabled());
        assert!(!Notifier::from_vars(Some("".into()), None, None, 1).is_enabled());
        let (_d, _sock, path) = listener();
        for bad in ["", "abc", "-5", "0"] {
            assert_eq!(
                Notifier::from_vars(Some(path.clone().into()), Some(bad), None, 1)
                    .watchdog_timeout(),
                None
            );
        }
        // Nobody listening: sending is an error that is swallowed.
        let gone = Notifier::from_vars(Some("/nonexistent/notify.sock".into()), None, None, 1);
        assert!(gone.is_enabled());
        gone.ready("no one listens");
    }

    #[test]
    fn watchdog_fed_while_recovering_not_when_failed_or_stalled() {
        let now = std::time::Instant::now();
        let at = |health| Liveness { health, beat: now };
        assert!(feed_watchdog(&at(Health::Answering)));
        assert!(feed_watchdog(&at(Health::Recovering)));
        assert!(!feed_watchdog(&at(Health::Failed)));
        if let Some(old) = now.checked_sub(STALL + Duration::from_secs(1)) {
            assert!(!feed_watchdog(&Liveness {
                health: Health::Answering,
                beat: old
            }));
        }
    }

    #[test]
    fn status_texts() {
        assert_eq!(
            status_text(Role::Leader, Some(("ThreadAgent", 15, 0xface))),
            "role leader; network ThreadAgent, channel 15, PAN ID 0xface"
        );
        assert_eq!(status_text(Role::Child, None), "role child");
        assert!(status_text(Role::Detached, None).starts_with("role detached"));
        assert!(status_text(Role::Disabled, Some(("x", 11, 1))).starts_with("role disabled"));
    }
}
