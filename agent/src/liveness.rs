//! Co-processor liveness and recovery: the agent notices a co-processor that stopped answering
//! (frozen process, wedged firmware) or a link that went away (program exited, USB unplugged),
//! and brings it back.
//!
//! Liveness: every [`PING_INTERVAL`] the agent asks the co-processor for `PROTOCOL_VERSION` (a
//! cheap Spinel GET) and waits [`PING_TIMEOUT`] for the answer. [`MISSES`] unanswered pings in a
//! row log one `co-processor unresponsive` warning (`event = "ncp-unresponsive"`), so a frozen
//! co-processor is noticed within `PING_INTERVAL + MISSES * PING_TIMEOUT` (6 s). A closed link
//! (the program exited, the device was unplugged) is noticed at the next ping (within 2 s) and
//! logged as `co-processor link lost`; so is an unanswered ping on a serial radio URL whose
//! device node is gone (a port that did not hang up), within 4 s, without trying `RESET`.
//!
//! Recovery, in this order:
//! 1. (unresponsive only) Spinel `RESET`: firmware that still reads its input resets.
//! 2. Reopen the port ([`ncp::Client::reopen`]): a forkpty radio URL's program is killed and
//!    started again; a serial device is closed and opened again. A device node that is gone
//!    logs one `co-processor device ... is gone` line, is waited for (checked every
//!    [`DEVICE_POLL`], at most [`DEVICE_WAIT`]), and logs one `... is back` line.
//! 3. Re-probe (`Client::probe`). If the co-processor did not report a reset of its own after
//!    the reopen, it is sent `RESET`, so that every consumer sees `Event::Reset` and re-syncs:
//!    the monitor brings the same network up again (resume, or restore from the backup), the
//!    commissioner petitions again with its joiner table, the bridge re-reads its state.
//!
//! Then one `co-processor answers again` line (`event = "ncp-answers-again"`, with the outage
//! length). Failed attempts are retried after 1, 2, 4, 8 s; after [`MAX_ATTEMPTS`] failed
//! attempts (or a device gone for longer than [`DEVICE_WAIT`]) [`run`] returns the fatal error:
//! exit 5 (co-processor does not answer) or 3 (device missing), and systemd restarts the agent.
//!
//! The systemd watchdog ([`crate::sd_notify::supervise`]) is fed while this loop makes progress
//! and is not [`Health::Failed`]: during a recovery the agent keeps feeding it, so the service
//! manager restarts the agent only when recovery failed or the loop itself stalled.
//!
//! Validated by the unit tests below (in-memory co-processor that hangs, goes away and comes
//! back) and end-to-end in `tests/tests/recovery.rs` (simulation NCP frozen with SIGSTOP for
//! 60 s, and killed with SIGKILL).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ncp::spinel::prop;
use ncp::url::RadioKind;
use ncp::RadioUrl;
use tokio::sync::watch;

use crate::network::Network;
use crate::session::{exit, Fatal};

/// How often the co-processor is pinged while it answers.
pub(crate) const PING_INTERVAL: Duration = Duration::from_secs(2);
/// How long a ping waits for its answer.
pub(crate) const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// Unanswered pings in a row that make the co-processor unresponsive.
pub(crate) const MISSES: u32 = 2;
/// Failed recovery attempts after which the agent exits.
pub(crate) const MAX_ATTEMPTS: u32 = 5;
/// How often a missing device node is looked for.
pub(crate) const DEVICE_POLL: Duration = Duration::from_secs(1);
/// How long a missing device node is waited for before the agent exits (3).
pub(crate) const DEVICE_WAIT: Duration = Duration::from_secs(600);

/// The co-processor's health as the watchdog sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Health {
    /// Answering pings.
    Answering,
    /// Not answering; recovery in progress.
    Recovering,
    /// Recovery failed; the agent is exiting.
    Failed,
}

/// Health plus the time the loop last made progress.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Liveness {
    pub(crate) health: Health,
    pub(crate) beat: Instant,
}

/// Tuning (the constants above; tests use shorter ones).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
    pub(crate) misses: u32,
    pub(crate) max_attempts: u32,
    pub(crate) device_poll: Duration,
    pub(crate) device_wait: Duration,
    pub(crate) backoff: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            interval: PING_INTERVAL,
            timeout: PING_TIMEOUT,
            misses: MISSES,
            max_attempts: MAX_ATTEMPTS,
            device_poll: DEVICE_POLL,
            device_wait: DEVICE_WAIT,
            backoff: Duration::from_secs(1),
        }
    }
}

/// A receiver of the liveness state, and its sender for [`run`].
pub(crate) fn channel() -> (watch::Sender<Liveness>, watch::Receiver<Liveness>) {
    watch::channel(Liveness {
        health: Health::Answering,
        beat: Instant::now(),
    })
}

fn set(tx: &watch::Sender<Liveness>, health: Health) {
    tx.send_replace(Liveness {
        health,
        beat: Instant::now(),
    });
}

/// Why the co-processor was lost.
enum Lost {
    Unresponsive,
    Closed,
}

/// Whether `url` names a serial device whose node is gone (then a silent link is an unplugged
/// device, not a frozen co-processor: no RESET is tried).
fn device_gone(url: &RadioUrl) -> bool {
    match url.kind() {
        RadioKind::Uart { path, .. } => !std::path::Path::new(path).exists(),
        RadioKind::ForkPty { .. } => false,
    }
}

/// Pings the co-processor and recovers it; returns only with the fatal error to exit with.
pub(crate) async fn run(
    net: Arc<Network>,
    url: RadioUrl,
    tx: watch::Sender<Liveness>,
    t: Timing,
) -> Fatal {
    loop {
        let lost = watch_until_lost(&net, &url, &tx, &t).await;
        let since = Instant::now();
        set(&tx, Health::Recovering);
        if let Err(f) = recover(&net, &tx, &t, lost).await {
            set(&tx, Health::Failed);
            tracing::error!(event = "ncp-recovery-failed", "{}", f.message);
            return f;
        }
        set(&tx, Health::Answering);
        tracing::info!(
            event = "ncp-answers-again",
            outage_s = since.elapsed().as_secs(),
            "co-processor answers again"
        );
    }
}

/// Pings until the co-processor is unresponsive or its link closed.
async fn watch_until_lost(
    net: &Network,
    url: &RadioUrl,
    tx: &watch::Sender<Liveness>,
    t: &Timing,
) -> Lost {
    let mut misses = 0;
    loop {
        match tokio::time::timeout(t.timeout, net.client.get(prop::PROTOCOL_VERSION)).await {
            Ok(Ok(_)) => {
                misses = 0;
                set(tx, Health::Answering);
                tokio::time::sleep(t.interval).await;
            }
            Ok(Err(ncp::Error::Closed)) => {
                tracing::warn!(
                    event = "ncp-link-lost",
                    "co-processor link lost (program exited or device unplugged); reopening it"
                );
                return Lost::Closed;
            }
            Ok(Err(e)) if !matches!(e, ncp::Error::Timeout { .. }) => {
                // It answered, if strangely: alive.
                tracing::debug!(error = %e, "liveness ping answered with an error");
                misses = 0;
                set(tx, Health::Answering);
                tokio::time::sleep(t.interval).await;
            }
            _ => {
                misses += 1;
                set(tx, Health::Answering);
                if device_gone(url) {
                    tracing::warn!(
                        event = "ncp-link-lost",
                        "co-processor link lost (its device node is gone); reopening it"
                    );
                    return Lost::Closed;
                }
                if misses >= t.misses {
                    tracing::warn!(
                        event = "ncp-unresponsive",
                        pings = misses,
                        timeout_ms = t.timeout.as_millis() as u64,
                        "co-processor unresponsive; resetting it"
                    );
                    return Lost::Unresponsive;
                }
            }
        }
    }
}

/// Brings the co-processor back; `Err` after too many failed attempts.
async fn recover(
    net: &Network,
    tx: &watch::Sender<Liveness>,
    t: &Timing,
    lost: Lost,
) -> Result<(), Fatal> {
    if let Lost::Unresponsive = lost {
        match tokio::time::timeout(t.timeout * 3, net.client.reset()).await {
            Ok(Ok(())) if probe(net, t).await.is_ok() => return Ok(()),
            Ok(Ok(())) => {
                tracing::warn!("co-processor reset but does not answer; reopening the port")
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "co-processor did not take the RESET; reopening the port")
            }
            Err(_) => tracing::warn!("co-processor did not take the RESET; reopening the port"),
        }
    }
    let mut last = String::new();
    for attempt in 1..=t.max_attempts {
        set(tx, Health::Recovering);
        match reopen(net, tx, t).await {
            Ok(()) => return Ok(()),
            Err(f) if f.code == exit::DEVICE_MISSING => return Err(f),
            Err(f) => {
                tracing::warn!(attempt, of = t.max_attempts, error = %f.message, "co-processor recovery attempt failed");
                last = f.message;
            }
        }
        if attempt < t.max_attempts {
            tokio::time::sleep(t.backoff * 2u32.pow((attempt - 1).min(3))).await;
        }
    }
    Err(Fatal::new(
        exit::NO_ANSWER,
        format!(
            "the co-processor does not answer after {} recovery attempts (RESET, reopening the port): {last}",
            t.max_attempts
        ),
    ))
}

/// One attempt: reopen (waiting for a missing device), probe, make sure consumers re-sync.
async fn reopen(net: &Network, tx: &watch::Sender<Liveness>, t: &Timing) -> Result<(), Fatal> {
    let resets = net.client.resets_seen();
    let mut gone: Option<Instant> = None;
    loop {
        match net.client.reopen().await {
            Ok(()) => break,
            Err(ncp::Error::DeviceMissing { path }) => {
                let since = *gone.get_or_insert_with(|| {
                    tracing::warn!(event = "ncp-device-gone", device = %path, "co-processor device {path} is gone (unplugged?); waiting for it to come back");
                    Instant::now()
                });
                if since.elapsed() >= t.device_wait {
                    return Err(Fatal::new(
                        exit::DEVICE_MISSING,
                        format!(
                            "co-processor device `{path}` did not come back within {} s",
                            t.device_wait.as_secs()
                        ),
                    ));
                }
                set(tx, Health::Recovering);
                tokio::time::sleep(t.device_poll).await;
            }
            Err(e) => return Err(crate::session::fatal(e)),
        }
    }
    if let Some(since) = gone {
        tracing::info!(
            event = "ncp-device-back",
            away_s = since.elapsed().as_secs(),
            "co-processor device is back; reopened it"
        );
    }
    probe(net, t).await?;
    if net.client.resets_seen() == resets {
        // No reset report of its own (a serial co-processor that did not restart): reset it so
        // that everything re-syncs from a known state.
        match tokio::time::timeout(t.timeout * 3, net.client.reset()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(crate::session::fatal(e)),
            Err(_) => {
                return Err(Fatal::new(
                    exit::NO_ANSWER,
                    "no reset status after RESET".to_string(),
                ))
            }
        }
    }
    Ok(())
}

/// The start-up check again, bounded in time.
async fn probe(net: &Network, t: &Timing) -> Result<(), Fatal> {
    match tokio::time::timeout(t.timeout * 4, net.client.probe()).await {
        Ok(Ok(info)) => {
            if info.hwaddr != net.info.hwaddr {
                tracing::warn!(
                    eui64 = %hex::encode(info.hwaddr),
                    before = %hex::encode(net.info.hwaddr),
                    "the co-processor that came back has another EUI-64"
                );
            }
            Ok(())
        }
        Ok(Err(e)) => Err(crate::session::fatal(e)),
        Err(_) => Err(Fatal::new(
            exit::NO_ANSWER,
            "no answer to the probe after reopening".to_string(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ncp::codec::Writer;
    use ncp::spinel::{cap, cmd, Frame};
    use ncp::transport::Transport;
    use ncp::{Client, ClientOptions, Event};
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
    use tokio::sync::mpsc;

    /// What the next opens of the fake device do.
    #[derive(Default)]
    struct Plan {
        /// Opens that find no device node before one succeeds.
        missing: AtomicU32,
        /// Every open fails (I/O error).
        broken: AtomicBool,
        /// Open attempts so far.
        opens: AtomicU32,
    }

    fn value(p: ncp::spinel::Prop) -> Vec<u8> {
        let mut w = Writer::new();
        if p == prop::PROTOCOL_VERSION {
            w.push_uint(4).push_uint(3);
        } else if p == prop::CAPS {
            w.push_uint(cap::CONFIG_FTD)
                .push_uint(cap::THREAD_UDP_FORWARD);
        } else if p == prop::INTERFACE_TYPE {
            w.push_uint(3);
        } else if p == prop::NCP_VERSION {
            w.push_utf8("fake/1");
        } else if p == prop::HWADDR {
            w.push_eui64(&[1; 8]);
        }
        w.into_vec()
    }

    /// A co-processor on `io`: answers GETs and RESET, until `hung` is set (then silent); counts
    /// the RESETs it receives in `resets`.
    async fn serve(io: DuplexStream, hung: Arc<AtomicBool>, resets: Arc<AtomicU32>) {
        let (mut rd, mut wr) = tokio::io::split(io);
        let mut dec = ncp::hdlc::Decoder::new(4096);
        let mut buf = [0u8; 512];
        while let Ok(n @ 1..) = rd.read(&mut buf).await {
            for &b in &buf[..n] {
                let Some(Ok(bytes)) = dec.push(b) else {
                    continue;
                };
                let Ok(f) = Frame::parse(&bytes) else {
                    continue;
                };
                if f.command == cmd::RESET {
                    resets.fetch_add(1, Ordering::SeqCst);
                }
                if hung.load(Ordering::SeqCst) {
                    continue;
                }
                let reply = if f.command == cmd::RESET {
                    Frame::new(0, cmd::IS, prop::LAST_STATUS, vec![114])
                } else {
                    Frame::new(f.tid, cmd::IS, f.prop, value(f.prop))
                };
                let mut out = Vec::new();
                ncp::hdlc::encode(&reply.encode(), &mut out);
                if wr.write_all(&out).await.is_err() {
                    return;
                }
            }
        }
    }

    struct Bench {
        net: Arc<Network>,
        events: mpsc::Receiver<Event>,
        plan: Arc<Plan>,
        first_hung: Arc<AtomicBool>,
        first_resets: Arc<AtomicU32>,
        first: tokio::task::JoinHandle<()>,
        _dir: tempfile::TempDir,
    }

    fn bench() -> Bench {
        let plan = Arc::new(Plan::default());
        let p = plan.clone();
        let opener: ncp::client::Opener = Arc::new(move || {
            p.opens.fetch_add(1, Ordering::SeqCst);
            let result = if p.broken.load(Ordering::SeqCst) {
                Err(ncp::Error::Io(std::io::Error::other("broken")))
            } else if p
                .missing
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |m| m.checked_sub(1))
                .is_ok()
            {
                Err(ncp::Error::DeviceMissing {
                    path: "/dev/fake".into(),
                })
            } else {
                let (host, dev) = tokio::io::duplex(4096);
                tokio::spawn(serve(dev, Arc::default(), Arc::default()));
                Ok(Transport::Memory(host))
            };
            Box::pin(async move { result })
        });
        let (host, dev) = tokio::io::duplex(4096);
        let first_hung = Arc::new(AtomicBool::new(false));
        let first_resets = Arc::new(AtomicU32::new(0));
        let first = tokio::spawn(serve(dev, first_hung.clone(), first_resets.clone()));
        let (client, events) = Client::with_opener(
            Transport::Memory(host),
            opener,
            "fake".into(),
            ClientOptions {
                request_timeout: Duration::from_millis(100),
                ..ClientOptions::default()
            },
        );
        let dir = tempfile::tempdir().unwrap();
        let net = crate::fake_ncp::network(client, dir.path(), "L");
        Bench {
            net,
            events,
            plan,
            first_hung,
            first_resets,
            first,
            _dir: dir,
        }
    }

    fn forkpty() -> RadioUrl {
        RadioUrl::forkpty("fake-ncp", vec![])
    }

    fn fast() -> Timing {
        Timing {
            interval: Duration::from_millis(20),
            timeout: Duration::from_millis(100),
            misses: 2,
            max_attempts: 3,
            device_poll: Duration::from_millis(10),
            device_wait: Duration::from_secs(30),
            backoff: Duration::from_millis(10),
        }
    }

    /// Waits (bounded) until the health is `want`.
    async fn health(rx: &mut watch::Receiver<Liveness>, want: Health) {
        tokio::time::timeout(Duration::from_secs(10), async {
            while rx.borrow_and_update().health != want {
                rx.changed().await.unwrap();
            }
        })
        .await
        .unwrap_or_else(|_| panic!("health never became {want:?}"));
    }

    async fn next_reset(events: &mut mpsc::Receiver<Event>) {
        tokio::time::timeout(Duration::from_secs(10), async {
            while !matches!(events.recv().await, Some(Event::Reset { .. })) {}
        })
        .await
        .expect("no reset after the recovery");
    }

    #[tokio::test]
    async fn a_frozen_coprocessor_is_reopened_and_reset() {
        let mut b = bench();
        let (tx, mut rx) = channel();
        let run = tokio::spawn(run(b.net.clone(), forkpty(), tx, fast()));
        b.first_hung.store(true, Ordering::SeqCst);
        health(&mut rx, Health::Recovering).await;
        health(&mut rx, Health::Answering).await;
        // RESET was not taken (frozen): the port was reopened once, and the new link, which
        // reported no reset of its own, was reset so that every consumer re-syncs.
        assert_eq!(b.plan.opens.load(Ordering::SeqCst), 1);
        assert_eq!(b.first_resets.load(Ordering::SeqCst), 1);
        next_reset(&mut b.events).await;
        assert!(b.net.client.get(prop::PROTOCOL_VERSION).await.is_ok());
        assert!(!run.is_finished());
        run.abort();
    }

    #[tokio::test]
    async fn an_unplugged_device_is_waited_for() {
        let mut b = bench();
        b.plan.missing.store(3, Ordering::SeqCst);
        let (tx, mut rx) = channel();
        let run = tokio::spawn(run(b.net.clone(), forkpty(), tx, fast()));
        b.first.abort(); // the device goes away: its end of the link closes
        health(&mut rx, Health::Recovering).await;
        health(&mut rx, Health::Answering).await;
        assert_eq!(b.plan.opens.load(Ordering::SeqCst), 4);
        next_reset(&mut b.events).await;
        assert!(!run.is_finished());
        run.abort();
    }

    #[tokio::test]
    async fn a_silent_serial_link_whose_node_is_gone_is_not_reset() {
        let mut b = bench();
        b.plan.missing.store(2, Ordering::SeqCst);
        let (tx, mut rx) = channel();
        let gone = RadioUrl::uart("/nonexistent/ttyACM9", 115200, false);
        let run = tokio::spawn(run(b.net.clone(), gone, tx, fast()));
        b.first_hung.store(true, Ordering::SeqCst); // an unplugged port that does not hang up
        health(&mut rx, Health::Recovering).await;
        health(&mut rx, Health::Answering).await;
        assert_eq!(b.plan.opens.load(Ordering::SeqCst), 3);
        assert_eq!(
            b.first_resets.load(Ordering::SeqCst),
            0,
            "an unplugged device was reset"
        );
        next_reset(&mut b.events).await;
        run.abort();
    }

    #[tokio::test]
    async fn repeated_failure_ends_with_exit_5_or_3() {
        let b = bench();
        b.plan.broken.store(true, Ordering::SeqCst);
        let (tx, rx) = channel();
        b.first_hung.store(true, Ordering::SeqCst);
        let fatal = tokio::time::timeout(
            Duration::from_secs(10),
            run(b.net.clone(), forkpty(), tx, fast()),
        )
        .await
        .unwrap();
        assert_eq!(fatal.code, exit::NO_ANSWER, "{}", fatal.message);
        assert!(
            fatal.message.contains("3 recovery attempts"),
            "{}",
            fatal.message
        );
        assert_eq!(rx.borrow().health, Health::Failed);
        assert_eq!(b.plan.opens.load(Ordering::SeqCst), 3);

        let b = bench();
        b.plan.missing.store(u32::MAX, Ordering::SeqCst);
        let (tx, _rx) = channel();
        b.first.abort();
        let t = Timing {
            device_wait: Duration::from_millis(100),
            ..fast()
        };
        let fatal = tokio::time::timeout(
            Duration::from_secs(10),
            run(b.net.clone(), forkpty(), tx, t),
        )
        .await
        .unwrap();
        assert_eq!(fatal.code, exit::DEVICE_MISSING, "{}", fatal.message);
    }
}
