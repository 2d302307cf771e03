//! `joiner add --wait`: judging each event of our entry until an outcome, with its exit code.

use serde_json::{json, Value};

use crate::client::{fail, Failure, Subscription};
use crate::render::{render_event, s};

/// Exit codes of `joiner add --wait` (1..4 are the general ones).
pub(crate) mod exit {
    pub(crate) const WRONG_PSKD: u8 = 5;
    pub(crate) const EXPIRED: u8 = 6;
    pub(crate) const REJECTED: u8 = 7;
    pub(crate) const REMOVED: u8 = 8;
}

/// What `--wait` concludes from one event of our entry.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Continue,
    Joined,
    Fail(u8, String),
}

pub(crate) fn judge(ev: &Value, entry: &str) -> Outcome {
    if ev.get("entry").and_then(Value::as_str) != Some(entry) {
        return Outcome::Continue;
    }
    let who = ev
        .get("eui64")
        .or_else(|| ev.get("joiner_id"))
        .and_then(Value::as_str)
        .unwrap_or("?");
    match s(ev, "type") {
        "joiner-entrusted" => Outcome::Joined,
        "joiner-handshake-failed" if s(ev, "reason") == "wrong-pskd" => Outcome::Fail(
            exit::WRONG_PSKD,
            format!("joiner {who}: PSKd mismatch (the joiner used a different PSKd; the entry stays for a retry)"),
        ),
        "joiner-finalize" if ev.get("accepted") == Some(&json!(false)) => Outcome::Fail(
            exit::REJECTED,
            format!("joiner {who}: JOIN_FIN rejected: {}", s(ev, "reason")),
        ),
        "entry-expired" => Outcome::Fail(
            exit::EXPIRED,
            format!("entry {entry} expired before a joiner joined"),
        ),
        "entry-removed" if s(ev, "reason") == "operator" => Outcome::Fail(
            exit::REMOVED,
            format!("entry {entry} was removed before a joiner joined"),
        ),
        _ => Outcome::Continue,
    }
}

pub(crate) fn wait_for_joiner(
    sub: &mut Subscription,
    entry: &str,
    json: bool,
) -> Result<String, Failure> {
    loop {
        let ev = sub.next()?;
        if ev.get("entry").and_then(Value::as_str) == Some(entry) {
            crate::print_now(&if json {
                format!("{ev}\n")
            } else {
                render_event(&ev)
            });
        }
        match judge(&ev, entry) {
            Outcome::Continue => {}
            Outcome::Joined => {
                return Ok(if json {
                    String::new()
                } else {
                    "joined: JOIN_FIN accepted and the joiner entrusted\n".into()
                })
            }
            Outcome::Fail(code, msg) => return Err(fail(code, msg)),
        }
    }
}
