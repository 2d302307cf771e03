//! The commissioning audit log: `<state_dir>/audit.jsonl`, append-only, one JSON object per line.
//!
//! One line per admission outcome (joiner seen, handshake failed, JOIN_FIN accepted/rejected,
//! entrusted, attached) and per joiner table change (entry added, removed, expired). Every line has
//! `time` (RFC 3339 UTC, seconds), `event` (the same kebab-case names as the event stream) and
//! whatever identifies the joiner (`joiner_id`, `eui64`, `entry`, vendor fields, `result`,
//! `reason`).
//!
//! Bounded (issue 10 "growth"): before a line would take the file past `[audit] max_bytes`
//! (default [`crate::config::DEFAULT_AUDIT_MAX_BYTES`]), `audit.jsonl` is renamed to
//! `audit.jsonl.1` (replacing the older one) and a new file is started, so the log takes at most
//! twice `max_bytes`. The events anyone in radio range can cause ([`COALESCED`]: `joiner-seen`,
//! `joiner-handshake-failed`) are written at most [`COALESCE_BURST`] times per
//! [`COALESCE_WINDOW`] each; the rest are counted and summed up in one line
//! `{"event":"audit-suppressed","suppressed_event":..,"count":N,"since":..}` written with the next
//! record after the window (or when the log is dropped at shutdown). Everything an operator or an
//! authenticated joiner causes is always written.
//!
//! Guarantees: the file is created with mode 0600 and opened with `O_APPEND` (lines are written
//! with one `write` each, never rewritten); callers pass only public fields (the service never
//! puts a PSKd, PSKc, KEK or network key into a record). [`AuditLog::try_record`] reports a failed
//! write so that an admission which cannot be audited is refused (`joiner.add` answers
//! `audit_unavailable`); [`AuditLog::record`] logs the failure and goes on.
//!
//! Validated by the unit tests below (mode, append, timestamp format, rotation, coalescing).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

/// The audit log file name in the state directory.
pub(crate) const FILE_NAME: &str = "audit.jsonl";
/// The events coalesced (unauthenticated: anyone in radio range can cause them).
pub(crate) const COALESCED: &[&str] = &["joiner-seen", "joiner-handshake-failed"];
/// Lines of one coalesced event written per window.
pub(crate) const COALESCE_BURST: u32 = 20;
/// The coalescing window.
pub(crate) const COALESCE_WINDOW: Duration = Duration::from_secs(60);

/// `audit.jsonl` -> `audit.jsonl.1`.
pub(crate) fn rotated_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".1");
    PathBuf::from(s)
}

/// One coalesced event's window.
struct Window {
    start: Instant,
    start_wall: String,
    written: u32,
    suppressed: u64,
}

/// An append-only JSON-lines audit log.
pub(crate) struct AuditLog {
    path: PathBuf,
    max_bytes: u64,
    windows: Mutex<BTreeMap<String, Window>>,
}

impl AuditLog {
    /// The audit log in `state_dir` (created at the first record), rotated at the default size.
    pub(crate) fn new(state_dir: &Path) -> AuditLog {
        AuditLog {
            path: state_dir.join(FILE_NAME),
            max_bytes: crate::config::DEFAULT_AUDIT_MAX_BYTES,
            windows: Mutex::new(BTreeMap::new()),
        }
    }

    /// Rotates at `max_bytes` instead (`[audit] max_bytes`).
    pub(crate) fn with_max_bytes(mut self, max_bytes: u64) -> AuditLog {
        self.max_bytes = max_bytes.max(1);
        self
    }

    /// The file path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a record could be written now (the file opens for appending, creating it if
    /// needed). For refusing an admission before any state changes.
    pub(crate) fn check(&self) -> io::Result<()> {
        self.open().map(drop)
    }

    /// Appends one record (see [`AuditLog::try_record`]); a failure is logged, not returned.
    pub(crate) fn record(&self, event: &str, fields: &Value) {
        if let Err(e) = self.try_record(event, fields) {
            tracing::error!(path = %self.path.display(), error = %e, "cannot write the audit log");
        }
    }

    /// Appends one record: `time` and `event` first, then `fields` (an object; other values are
    /// stored under `data`). A coalesced event over its budget is counted instead (`Ok`).
    pub(crate) fn try_record(&self, event: &str, fields: &Value) -> io::Result<()> {
        self.try_record_at(Instant::now(), event, fields)
    }

    fn try_record_at(&self, now: Instant, event: &str, fields: &Value) -> io::Result<()> {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let mut lines = summaries(&mut windows, now, false);
        let admit = match windows.get_mut(event) {
            Some(w) if w.written >= COALESCE_BURST => {
                w.suppressed += 1;
                false
            }
            Some(w) => {
                w.written += 1;
                true
            }
            None if COALESCED.contains(&event) => {
                windows.insert(
                    event.to_string(),
                    Window {
                        start: now,
                        start_wall: rfc3339_now(),
                        written: 1,
                        suppressed: 0,
                    },
                );
                true
            }
            None => true,
        };
        if admit {
            lines.push(line(event, fields));
        }
        if lines.is_empty() {
            return Ok(());
        }
        // Written under the lock: lines stay whole and in order, and rotation is not raced.
        self.append(&lines.concat())
    }

    fn open(&self) -> io::Result<File> {
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.path)
    }

    /// Appends `text` (whole lines) with one `write`, rotating first if it would pass the cap.
    fn append(&self, text: &str) -> io::Result<()> {
        let mut f = self.open()?;
        let len = f.metadata()?.len();
        if len > 0 && len + text.len() as u64 > self.max_bytes {
            drop(f);
            std::fs::rename(&self.path, rotated_path(&self.path))?;
            tracing::info!(path = %self.path.display(), max_bytes = self.max_bytes, "audit log rotated");
            f = self.open()?;
        }
        f.write_all(text.as_bytes())
    }
}

impl Drop for AuditLog {
    /// Writes the pending "suppressed" summaries.
    fn drop(&mut self) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let lines = summaries(&mut windows, Instant::now(), true);
        drop(windows);
        if !lines.is_empty() {
            if let Err(e) = self.append(&lines.concat()) {
                tracing::error!(path = %self.path.display(), error = %e, "cannot write the audit log");
            }
        }
    }
}

/// Ends the windows that are over (all with `all`): one summary line for each that suppressed
/// something.
fn summaries(windows: &mut BTreeMap<String, Window>, now: Instant, all: bool) -> Vec<String> {
    let mut out = Vec::new();
    windows.retain(|event, w| {
        if !all && now.duration_since(w.start) < COALESCE_WINDOW {
            return true;
        }
        if w.suppressed > 0 {
            out.push(line(
                "audit-suppressed",
                &json!({
                    "suppressed_event": event,
                    "count": w.suppressed,
                    "since": w.start_wall,
                    "window_s": COALESCE_WINDOW.as_secs(),
                }),
            ));
        }
        false
    });
    out
}

/// One record as a JSON line.
fn line(event: &str, fields: &Value) -> String {
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
    line
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

    fn read_lines(p: &Path) -> Vec<Value> {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn rotates_at_the_cap_keeping_one_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path()).with_max_bytes(4096);
        for i in 0..1000 {
            log.record("entry-added", &serde_json::json!({"entry": "any", "n": i}));
        }
        let cur = std::fs::metadata(log.path()).unwrap().len();
        let old_path = rotated_path(log.path());
        let old = std::fs::metadata(&old_path).unwrap().len();
        assert!(cur <= 4096 && old <= 4096, "{cur} {old}");
        // The newest record is in the current file, whole lines in both.
        let lines = read_lines(log.path());
        assert_eq!(lines.last().unwrap()["n"], 999);
        assert!(!read_lines(&old_path).is_empty());
        let names = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(names, 2);
        let mode = std::fs::metadata(&old_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn unauthenticated_floods_are_coalesced_with_a_summary() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path());
        let t0 = Instant::now();
        for i in 0..10_000u32 {
            let f = serde_json::json!({"joiner_id": format!("{i:016x}")});
            log.try_record_at(t0, "joiner-seen", &f).unwrap();
            log.try_record_at(t0, "joiner-handshake-failed", &f)
                .unwrap();
        }
        // Operator and authenticated events are never coalesced.
        for _ in 0..30 {
            log.try_record_at(t0, "entry-added", &serde_json::json!({"entry": "any"}))
                .unwrap();
        }
        let lines = read_lines(log.path());
        let count = |ev: &str| lines.iter().filter(|l| l["event"] == ev).count();
        assert_eq!(count("joiner-seen"), COALESCE_BURST as usize);
        assert_eq!(count("joiner-handshake-failed"), COALESCE_BURST as usize);
        assert_eq!(count("entry-added"), 30);
        assert_eq!(count("audit-suppressed"), 0);
        // The next record after the window writes the summaries, then a new window starts.
        let later = t0 + COALESCE_WINDOW;
        log.try_record_at(
            later,
            "joiner-seen",
            &serde_json::json!({"joiner_id": "aa"}),
        )
        .unwrap();
        let lines = read_lines(log.path());
        let sums: Vec<&Value> = lines
            .iter()
            .filter(|l| l["event"] == "audit-suppressed")
            .collect();
        assert_eq!(sums.len(), 2, "{sums:?}");
        for s in &sums {
            assert_eq!(s["count"], 10_000 - u64::from(COALESCE_BURST));
        }
        assert_eq!(lines.last().unwrap()["joiner_id"], "aa");
        // Dropping the log writes what is pending.
        for _ in 0..COALESCE_BURST + 5 {
            log.try_record_at(later, "joiner-seen", &Value::Null)
                .unwrap();
        }
        drop(log);
        let lines = read_lines(&dir.path().join(FILE_NAME));
        let last = lines.last().unwrap();
        assert_eq!(last["event"], "audit-suppressed");
        assert_eq!(last["count"], 6);
    }

    #[test]
    fn a_write_that_fails_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        // The audit log's path is a directory: no write can succeed (even as root).
        std::fs::create_dir(dir.path().join(FILE_NAME)).unwrap();
        let log = AuditLog::new(dir.path());
        assert!(log.check().is_err());
        assert!(log.try_record("entry-added", &Value::Null).is_err());
    }
}
