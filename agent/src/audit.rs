//! The commissioning audit log: `<state_dir>/audit.jsonl`, append-only, one JSON object per line.
//!
//! One line per admission outcome (joiner seen, handshake failed, JOIN_FIN accepted/rejected,
//! entrusted, attached) and per joiner table change (entry added, removed, expired). Every line has
//! `time` (RFC 3339 UTC, seconds), `event` (the same kebab-case names as the event stream) and
//! whatever identifies the joiner (`joiner_id`, `eui64`, `entry`, vendor fields, `result`,
//! `reason`).
//!
//! Guarantees: the file is created with mode 0600 and opened with `O_APPEND` (lines are written
//! with one `write` each, never rewritten); callers pass only public fields (the service never
//! puts a PSKd, PSKc, KEK or network key into a record). A failing write is logged once per
//! failure and never stops the agent.
//!
//! Validated by the unit tests below (mode, append, timestamp format).

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Map, Value};

/// The audit log file name in the state directory.
pub(crate) const FILE_NAME: &str = "audit.jsonl";

/// An append-only JSON-lines audit log.
pub(crate) struct AuditLog {
    path: PathBuf,
    lock: Mutex<()>,
}

impl AuditLog {
    /// The audit log in `state_dir` (created at the first record).
    pub(crate) fn new(state_dir: &Path) -> AuditLog {
        AuditLog {
            path: state_dir.join(FILE_NAME),
            lock: Mutex::new(()),
        }
    }

    /// The file path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record: `time` and `event` first, then `fields` (an object; other values are
    /// stored under `data`).
    pub(crate) fn record(&self, event: &str, fields: &Value) {
        let mut obj = Map::new();
        obj.insert("time".into(), Value::String(rfc3339_now()));
        obj.insert("event".into(), Value::String(event.to_string()));
        match fields {
            Value::Object(m) => {
                for (k, v) in m {
                    if k != "time" && k != "event" && k != "type" {
                        obj.insert(k.clone(), v.clone());
                    }
                }
            }
            Value::Null => {}
            other => {
                obj.insert("data".into(), other.clone());
            }
        }
        let mut line = Value::Object(obj).to_string();
        line.push('\n');
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let result = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.path)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = result {
            tracing::error!(path = %self.path.display(), error = %e, "cannot write the audit log");
        }
    }
}

/// Now as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC).
pub(crate) fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
    }

    #[test]
    fn appends_lines_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path());
        log.record(
            "entry-added",
            &serde_json::json!({"entry": "any", "type": "x"}),
        );
        log.record("joiner-entrusted", &serde_json::json!({"joiner_id": "00"}));
        let text = std::fs::read_to_string(log.path()).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["event"], "entry-added");
        assert_eq!(lines[0]["entry"], "any");
        assert!(lines[0].get("type").is_none());
        assert_eq!(lines[1]["joiner_id"], "00");
        let mode = std::fs::metadata(log.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
