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
        // Only unauthenticated signs, which anyone in radio range can forge: the wait goes on
        // (the entry stays usable, the genuine joiner may still join), as for a timeout.
        "joiner-handshake-failed" if s(ev, "reason") == "possible-wrong-pskd" => Outcome::Continue,
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
    let mut possible_wrong_pskd = false;
    loop {
        let ev = sub.next()?;
        if ev.get("entry").and_then(Value::as_str) == Some(entry) {
            possible_wrong_pskd |= s(&ev, "reason") == "possible-wrong-pskd";
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
            Outcome::Fail(code, mut msg) => {
                if code == exit::EXPIRED && possible_wrong_pskd {
                    msg.push_str(
                        " (a handshake had failed with a possible PSKd mismatch: check the joiner's PSKd)",
                    );
                }
                return Err(fail(code, msg));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 10: a possible PSKd mismatch (unauthenticated signs only) does not end the wait.
    #[test]
    fn possible_wrong_pskd_does_not_end_the_wait() {
        let entry = "eui64:18b4300000000002";
        let ev = json!({"type": "joiner-handshake-failed", "entry": entry,
            "reason": "possible-wrong-pskd"});
        assert_eq!(judge(&ev, entry), Outcome::Continue);
        let ev = json!({"type": "joiner-handshake-failed", "entry": entry, "reason": "wrong-pskd"});
        assert!(matches!(
            judge(&ev, entry),
            Outcome::Fail(exit::WRONG_PSKD, _)
        ));
    }
}
