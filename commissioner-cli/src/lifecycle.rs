//! The credential lifecycle commands: `network rotate-key`, `network migrate`, `network pending`,
//! `dataset import`: the text of their replies, the `status` lines of a pending change, and
//! `--wait` (poll until the scheduled dataset is active).
//!
//! `--wait` polls `network.pending` and `status` once a second and judges with [`applied`]: the
//! change is in force once nothing is pending and the active timestamp has reached the scheduled
//! one. A countdown goes to stderr every 5 s; past `effective_delay_s` + 60 s it gives up with
//! exit [`WAIT_TIMEOUT`]. A poll the agent answers with an error (exit 1, e.g. `ncp_unavailable`
//! while the co-processor switches) is retried; not running (3) or permission denied (4) ends it.

use std::path::Path;
use std::time::{Duration, Instant};

use control::lifecycle::{Imported, Pending, PendingChange, Scheduled};
use control::Request;
use serde_json::{json, Value};

use crate::client::{call, fail, Failure};
use crate::render::render;

/// Exit code: the agent refused because a change is already pending (`change_pending`) or the
/// co-processor already has a network (`network_exists`).
pub(crate) const REFUSED: u8 = 9;
/// Exit code: `--wait` gave up, the change did not become active in time.
pub(crate) const WAIT_TIMEOUT: u8 = 10;
/// How long `--wait` waits beyond the effective delay.
pub(crate) const WAIT_GRACE_S: u64 = 60;
/// The interval of the countdown lines.
const COUNTDOWN_EVERY: Duration = Duration::from_secs(5);

/// `reply` as the typed reply `T`, or exit 1 naming what was expected.
fn typed<T: serde::de::DeserializeOwned>(reply: &Value, what: &str) -> Result<T, Failure> {
    serde_json::from_value(reply.clone()).map_err(|e| {
        fail(
            1,
            format!("unexpected reply from thread-agent (not {what}): {e}"),
        )
    })
}

/// "network key rotation" for `network-key-rotation`, and so on.
fn kind_text(kind: &str) -> String {
    kind.replace('-', " ")
}

fn secs_of_ms(ms: u32) -> u32 {
    ms.div_ceil(1000)
}

/// The changed fields, a new channel / PAN ID with its value: `channel 20, PAN ID 0x1234`.
fn changes_text(p: &PendingChange) -> String {
    p.changes
        .iter()
        .map(|c| match (c.as_str(), p.channel, &p.pan_id) {
            ("channel", Some(ch), _) => format!("channel {ch}"),
            ("pan_id", _, Some(pan)) => format!("PAN ID {pan}"),
            _ => c.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn new_timestamp(p: &PendingChange) -> String {
    p.active_timestamp
        .map(|t| format!("; new active timestamp {t}"))
        .unwrap_or_default()
}

/// A pending change in one line (without the `pending: ` prefix):
/// `network key rotation (network_key, pskc) in 25 s; new active timestamp 2`.
pub(crate) fn pending_text(p: &PendingChange) -> String {
    let when = p
        .remaining_ms
        .map(|ms| format!(" in {} s", secs_of_ms(ms)))
        .unwrap_or_default();
    let changes = changes_text(p);
    let changes = if changes.is_empty() {
        String::new()
    } else {
        format!(" ({changes})")
    };
    format!("{}{changes}{when}{}", kind_text(&p.kind), new_timestamp(p))
}

/// `network pending`: `no change pending` or `pending: ...`.
pub(crate) fn render_pending(r: &Pending) -> String {
    match &r.pending {
        None => "no change pending\n".into(),
        Some(p) => format!("pending: {}\n", pending_text(p)),
    }
}

/// The `status` value of `pending`: `none` when null, `-` when absent (an older agent).
pub(crate) fn status_pending(v: &Value) -> String {
    match v.get("pending") {
        None => "-".into(),
        Some(Value::Null) => "none".into(),
        Some(p) => match serde_json::from_value::<PendingChange>(p.clone()) {
            Ok(p) => pending_text(&p),
            Err(_) => "?".into(),
        },
    }
}

/// `network rotate-key` / `network migrate`: one line.
pub(crate) fn render_scheduled(r: &Scheduled) -> String {
    let p = &r.scheduled;
    let what = match p.kind.as_str() {
        "network-key-rotation" if p.changes.iter().any(|c| c == "pskc") => {
            "network key rotation (with a new PSKc)".to_string()
        }
        "network-key-rotation" => "network key rotation".to_string(),
        "network-migration" => {
            let moves: Vec<String> = [
                p.channel.map(|c| format!("channel {c}")),
                p.pan_id.as_ref().map(|pan| format!("PAN ID {pan}")),
            ]
            .into_iter()
            .flatten()
            .collect();
            format!("network migration ({})", moves.join(", "))
        }
        other => format!("{} ({})", kind_text(other), changes_text(p)),
    };
    let raised = if r.effective_delay_s > r.requested_delay_s {
        ": the leader raised the delay"
    } else {
        ""
    };
    format!(
        "{what} scheduled: active in {} s (requested {} s, via {}{raised}){}\n",
        r.effective_delay_s,
        r.requested_delay_s,
        r.via,
        new_timestamp(p)
    )
}

/// `dataset import`: one line.
pub(crate) fn render_imported(r: &Imported) -> String {
    format!(
        "imported network {} (ext PAN ID {}, channel {}, PAN ID {}){}\n",
        r.network_name,
        r.ext_pan_id,
        r.channel,
        r.pan_id,
        if r.replaced {
            " (replaced the previous network)"
        } else {
            ""
        }
    )
}

/// The text of a `network.rotate_key` / `network.migrate` reply.
pub(crate) fn scheduled_reply(reply: &Value) -> Result<String, Failure> {
    typed(reply, "a scheduled change").map(|r| render_scheduled(&r))
}

/// The text of a `network.pending` reply.
pub(crate) fn pending_reply(reply: &Value) -> Result<String, Failure> {
    typed(reply, "a pending change").map(|r| render_pending(&r))
}

/// The text of a `dataset.import` reply.
pub(crate) fn imported_reply(reply: &Value) -> Result<String, Failure> {
    typed(reply, "an import result").map(|r| render_imported(&r))
}

/// Whether the scheduled change is in force: nothing pending, and the active timestamp has
/// reached the scheduled one (when the agent named one). `Some(now)` with the active timestamp
/// `status` shows (`None`: it shows none).
pub(crate) fn applied(pending: &Value, status: &Value, target: Option<u64>) -> Option<Option<u64>> {
    if !matches!(pending.get("pending"), Some(Value::Null) | None) {
        return None;
    }
    let now = status.get("active_timestamp").and_then(Value::as_u64);
    match (now, target) {
        (Some(n), Some(t)) if n >= t => Some(now),
        (_, None) => Some(now),
        _ => None,
    }
}

/// What `--wait` needs from its surroundings (the agent, the clock, stderr): real in
/// [`schedule`], simulated in the tests.
pub(crate) trait Waiting {
    /// `network.pending`'s and `status`'s results.
    fn poll(&mut self) -> Result<(Value, Value), Failure>;
    /// Time since the change was scheduled.
    fn elapsed(&self) -> Duration;
    fn sleep(&mut self, d: Duration);
    fn countdown(&mut self, line: &str);
}

/// Polls until [`applied`] (the new active timestamp) or the deadline (exit [`WAIT_TIMEOUT`]).
pub(crate) fn wait_applied(w: &mut dyn Waiting, s: &Scheduled) -> Result<Option<u64>, Failure> {
    let limit = u64::from(s.effective_delay_s) + WAIT_GRACE_S;
    let mut next_countdown = Duration::ZERO;
    loop {
        let last_error = match w.poll() {
            Ok((pending, status)) => {
                if let Some(ts) = applied(&pending, &status, s.scheduled.active_timestamp) {
                    return Ok(ts);
                }
                if w.elapsed() >= next_countdown {
                    let left = pending
                        .get("pending")
                        .and_then(|p| p.get("remaining_ms"))
                        .and_then(Value::as_u64)
                        .map(|ms| ms.div_ceil(1000))
                        .unwrap_or_else(|| {
                            u64::from(s.effective_delay_s).saturating_sub(w.elapsed().as_secs())
                        });
                    w.countdown(&format!("new dataset active in {left} s"));
                    next_countdown = w.elapsed() + COUNTDOWN_EVERY;
                }
                None
            }
            // The agent answered with an error (e.g. the co-processor is busy switching): retry.
            Err(f) if f.code == 1 => Some(f.message),
            Err(f) => return Err(f),
        };
        if w.elapsed() >= Duration::from_secs(limit) {
            return Err(fail(
                WAIT_TIMEOUT,
                match last_error {
                    None => format!("the change did not become active within {limit} s"),
                    Some(e) => format!(
                        "the change did not become active within {limit} s (the last poll failed: {e})"
                    ),
                },
            ));
        }
        w.sleep(Duration::from_secs(1));
    }
}

struct Live<'a> {
    socket: &'a Path,
    start: Instant,
}

impl Waiting for Live<'_> {
    fn poll(&mut self) -> Result<(Value, Value), Failure> {
        Ok((
            call(self.socket, &Request::NetworkPending)?,
            call(self.socket, &Request::Status)?,
        ))
    }
    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
    fn sleep(&mut self, d: Duration) {
        std::thread::sleep(d);
    }
    fn countdown(&mut self, line: &str) {
        eprintln!("{line}");
    }
}

/// `network rotate-key` / `network migrate`: schedule, print the reply, and with `wait` wait
/// until the new dataset is active.
pub(crate) fn schedule(
    socket: &Path,
    request: Request,
    wait: bool,
    json: bool,
) -> Result<String, Failure> {
    let reply = call(socket, &request)?;
    let start = Instant::now();
    let text = render(&request, &reply, json)?;
    if !wait {
        return Ok(text);
    }
    let scheduled: Scheduled = typed(&reply, "a scheduled change")?;
    crate::print_now(&text);
    let ts = wait_applied(&mut Live { socket, start }, &scheduled)?;
    Ok(match (json, ts) {
        (true, _) => format!("{}\n", json!({"applied": true, "active_timestamp": ts})),
        (false, Some(ts)) => format!("new dataset active (active timestamp {ts})\n"),
        (false, None) => "new dataset active\n".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(kind: &str, changes: &[&str]) -> PendingChange {
        PendingChange {
            kind: kind.into(),
            changes: changes.iter().map(|c| c.to_string()).collect(),
            channel: None,
            pan_id: None,
            active_timestamp: Some(2),
            pending_timestamp: Some(2),
            remaining_ms: Some(24_200),
        }
    }

    fn scheduled(p: PendingChange, requested: u32, effective: u32, via: &str) -> Scheduled {
        Scheduled {
            scheduled: p,
            requested_delay_s: requested,
            effective_delay_s: effective,
            via: via.into(),
        }
    }

    #[test]
    fn scheduled_replies_render_as_one_line() {
        let key = change("network-key-rotation", &["network_key"]);
        assert_eq!(
            render_scheduled(&scheduled(key.clone(), 30, 30, "leader")),
            "network key rotation scheduled: active in 30 s (requested 30 s, via leader); new active timestamp 2\n"
        );
        let pskc = change("network-key-rotation", &["network_key", "pskc"]);
        assert_eq!(
            render_scheduled(&scheduled(pskc, 30, 300, "mgmt-pending-set")),
            "network key rotation (with a new PSKc) scheduled: active in 300 s (requested 30 s, \
             via mgmt-pending-set: the leader raised the delay); new active timestamp 2\n"
        );
        let mut mig = change("network-migration", &["channel", "pan_id"]);
        mig.channel = Some(20);
        mig.pan_id = Some("0x1234".into());
        assert_eq!(
            render_scheduled(&scheduled(mig, 30, 30, "leader")),
            "network migration (channel 20, PAN ID 0x1234) scheduled: active in 30 s (requested 30 s, via leader); new active timestamp 2\n"
        );
        // Through `render`: the typed reply, or exit 1 for garbage; `--json` as is.
        let req = Request::NetworkRotateKey(control::RotateKey {
            delay: 30,
            pskc: false,
        });
        let reply = serde_json::to_value(scheduled(key, 30, 30, "leader")).unwrap();
        assert!(render(&req, &reply, false)
            .unwrap()
            .starts_with("network key rotation scheduled: active in 30 s"));
        assert_eq!(render(&req, &reply, true).unwrap(), format!("{reply}\n"));
        assert_eq!(
            render(&req, &json!({"scheduled": 1}), false)
                .unwrap_err()
                .code,
            1
        );
    }

    #[test]
    fn pending_replies_render() {
        assert_eq!(
            render_pending(&Pending { pending: None }),
            "no change pending\n"
        );
        let key = change("network-key-rotation", &["network_key", "pskc"]);
        assert_eq!(
            render_pending(&Pending {
                pending: Some(key.clone())
            }),
            "pending: network key rotation (network_key, pskc) in 25 s; new active timestamp 2\n"
        );
        let mut mig = change("network-migration", &["channel"]);
        mig.channel = Some(20);
        mig.remaining_ms = None;
        assert_eq!(
            pending_text(&mig),
            "network migration (channel 20); new active timestamp 2"
        );
        let mut other = change("dataset-change", &["pan_id", "network_name"]);
        other.pan_id = Some("0xbeef".into());
        other.remaining_ms = Some(1);
        assert_eq!(
            pending_text(&other),
            "dataset change (PAN ID 0xbeef, network_name) in 1 s; new active timestamp 2"
        );
        let req = Request::NetworkPending;
        assert_eq!(
            render(&req, &json!({"pending": null}), false).unwrap(),
            "no change pending\n"
        );
        assert_eq!(
            render(&req, &json!({"pending": null}), true).unwrap(),
            "{\"pending\":null}\n"
        );
        assert_eq!(
            render(&req, &json!({}), false).unwrap(),
            "no change pending\n"
        );
        assert_eq!(
            render(&req, &json!({"pending": 5}), false)
                .unwrap_err()
                .code,
            1
        );
        // The `status` table's lines.
        let v = json!({"active_timestamp": 1, "pending": serde_json::to_value(&key).unwrap()});
        let t = crate::render::render_status(&v);
        assert!(t.contains("Active timestamp:  1\n"), "{t}");
        assert!(
            t.contains("Pending:           network key rotation (network_key, pskc) in 25 s; new active timestamp 2\n"),
            "{t}"
        );
        let t = crate::render::render_status(&json!({"active_timestamp": null, "pending": null}));
        assert!(
            t.contains("Active timestamp:  -\n") && t.contains("Pending:           none\n"),
            "{t}"
        );
    }

    #[test]
    fn imported_replies_render() {
        let mut r = Imported {
            imported: true,
            replaced: false,
            network_name: "Home".into(),
            ext_pan_id: "dead00beef00cafe".into(),
            channel: 15,
            pan_id: "0xface".into(),
            active_timestamp: Some(1),
        };
        assert_eq!(
            render_imported(&r),
            "imported network Home (ext PAN ID dead00beef00cafe, channel 15, PAN ID 0xface)\n"
        );
        r.replaced = true;
        let reply = serde_json::to_value(&r).unwrap();
        let req = Request::DatasetImport(control::DatasetImport {
            tlvs: control::lifecycle::SecretTlvs(zeroize::Zeroizing::new(vec![0x0e])),
            replace: true,
        });
        assert_eq!(
            render(&req, &reply, false).unwrap(),
            "imported network Home (ext PAN ID dead00beef00cafe, channel 15, PAN ID 0xface) (replaced the previous network)\n"
        );
        assert_eq!(render(&req, &reply, true).unwrap(), format!("{reply}\n"));
        assert_eq!(render(&req, &json!({}), false).unwrap_err().code, 1);
    }

    #[test]
    fn applied_once_nothing_pends_and_the_timestamp_is_reached() {
        let none = json!({"pending": null});
        let some = json!({"pending": change("network-key-rotation", &["network_key"])});
        let ts = |t: Value| json!({"role": "leader", "active_timestamp": t});
        assert_eq!(applied(&none, &ts(json!(2)), Some(2)), Some(Some(2)));
        assert_eq!(applied(&none, &ts(json!(3)), Some(2)), Some(Some(3)));
        // Still pending, or the old dataset still active, or no timestamp known: not yet.
        assert_eq!(applied(&some, &ts(json!(2)), Some(2)), None);
        assert_eq!(applied(&none, &ts(json!(1)), Some(2)), None);
        assert_eq!(applied(&none, &ts(Value::Null), Some(2)), None);
        assert_eq!(applied(&none, &json!({}), Some(2)), None);
        // The agent named no target: nothing pending is enough.
        assert_eq!(applied(&none, &ts(json!(1)), None), Some(Some(1)));
        assert_eq!(applied(&none, &ts(Value::Null), None), Some(None));
    }

    /// A simulated agent and clock: `pending` until `apply_at` seconds, then the new timestamp.
    struct Sim {
        t: Duration,
        apply_at: Option<u64>,
        fail_at: Option<(u64, u8)>,
        lines: Vec<(u64, String)>,
    }

    impl Waiting for Sim {
        fn poll(&mut self) -> Result<(Value, Value), Failure> {
            let s = self.t.as_secs();
            if let Some((at, code)) = self.fail_at {
                if s >= at && s < at + 3 {
                    return Err(fail(code, "thread-agent: ncp_unavailable: busy"));
                }
            }
            if self.apply_at.is_some_and(|a| s >= a) {
                return Ok((json!({"pending": null}), json!({"active_timestamp": 2})));
            }
            let mut p = change("network-key-rotation", &["network_key"]);
            p.remaining_ms = Some(((30 - s.min(30)) * 1000) as u32);
            Ok((json!({ "pending": p }), json!({"active_timestamp": 1})))
        }
        fn elapsed(&self) -> Duration {
            self.t
        }
        fn sleep(&mut self, d: Duration) {
            self.t += d;
        }
        fn countdown(&mut self, line: &str) {
            self.lines.push((self.t.as_secs(), line.to_string()));
        }
    }

    fn sim(apply_at: Option<u64>, fail_at: Option<(u64, u8)>) -> Sim {
        Sim {
            t: Duration::ZERO,
            apply_at,
            fail_at,
            lines: Vec::new(),
        }
    }

    #[test]
    fn wait_counts_down_every_5_s_and_ends_when_applied() {
        let s = scheduled(
            change("network-key-rotation", &["network_key"]),
            30,
            30,
            "leader",
        );
        let mut w = sim(Some(31), Some((10, 1)));
        assert_eq!(wait_applied(&mut w, &s), Ok(Some(2)));
        let at: Vec<u64> = w.lines.iter().map(|(t, _)| *t).collect();
        // Polls failing at 10..12 s (exit 1) are retried; the countdown resumes.
        assert_eq!(at, [0, 5, 13, 18, 23, 28]);
        assert_eq!(w.lines[0].1, "new dataset active in 30 s");
        assert_eq!(w.lines[1].1, "new dataset active in 25 s");
        // Never applied: exit 10 after the effective delay + 60 s.
        let mut w = sim(None, None);
        let e = wait_applied(&mut w, &s).unwrap_err();
        assert_eq!(e.code, WAIT_TIMEOUT);
        assert_eq!(e.message, "the change did not become active within 90 s");
        assert_eq!(w.t, Duration::from_secs(90));
        // A poll that keeps failing is named in the timeout message.
        let mut w = sim(None, Some((88, 1)));
        let e = wait_applied(&mut w, &s).unwrap_err();
        assert_eq!(e.code, WAIT_TIMEOUT);
        assert!(
            e.message
                .ends_with("(the last poll failed: thread-agent: ncp_unavailable: busy)"),
            "{}",
            e.message
        );
        // Not running or permission denied end the wait at once.
        let mut w = sim(None, Some((3, 3)));
        assert_eq!(wait_applied(&mut w, &s).unwrap_err().code, 3);
    }
}
