//! Where the agent's log goes and how it looks (tracing subscriber set-up), including a small
//! native journald writer.
//!
//! Outputs ([`Output`], chosen by [`choose`]):
//! - **text**: human-readable lines on stderr (colours only on a terminal). The default by hand.
//! - **json**: one JSON object per line on stderr, the event's fields flattened to the top level
//!   (`{"timestamp":..,"level":"INFO","message":"network up","event":"network-up","name":..}`),
//!   for log shippers.
//! - **journal**: one entry per event sent to journald's native socket
//!   (`/run/systemd/journal/socket`, or `$THREAD_AGENT_JOURNAL_SOCKET`), with `PRIORITY` from the
//!   level (error 3, warn 4, info 6, debug/trace 7), `SYSLOG_IDENTIFIER=thread-agent`, `TARGET`,
//!   `CODE_FILE`/`CODE_LINE`, a readable `MESSAGE` (the message followed by `key=value` pairs, as in
//!   the text format), and every field of the event and its spans as a journal field of its own,
//!   upper-cased: `event` -> `EVENT=`, `joiner_id` -> `JOINER_ID=`, `pan_id` -> `PAN_ID=`.
//!   Chosen automatically for the text format when `$JOURNAL_STREAM` names this process's stderr
//!   (i.e. systemd connected stderr to the journal), or explicitly with `format = "journal"`.
//!   If journald cannot be reached, the agent falls back to text on stderr and says so.
//!
//! Field convention (all formats; `journalctl EVENT=network-up` filters on it): an event that an
//! operator or a tool may want to find carries `event = "<noun>-<verb>"` in kebab case
//! (`network-up`, `role-changed`; the commissioner's `joiner-seen`, `joiner-authenticated`,
//! `joiner-finalize`, `joiner-entrusted`, `joiner-handshake-failed`, `entry-expired`, ...), plus
//! its subject as snake_case fields: `joiner_id`, `eui64` (16 hex digits), `role`, `name`,
//! `channel`, `pan_id` ("0x...."), `ext_pan_id`.
//! Secrets never go in any field (they are types that redact themselves).
//!
//! Repetitive lines are rate-limited in every format (see [`limit`]: at most 20 of one kind per
//! 10 s, then one `event=lines-suppressed` summary).
//!
//! Level: `[log] level` from the configuration, overridden by `RUST_LOG` when that is set (full
//! `EnvFilter` syntax, e.g. `RUST_LOG=ncp=debug,info`).
//!
//! Guarantees: never panics on any field content; never blocks for long: an entry journald does
//! not take within 100 ms (journald restarting, its queue full) is dropped. Entries larger than one datagram are
//! shortened (fields and message truncated) rather than sent through a memfd.
//! Validated against: the journal native protocol (systemd.io/JOURNAL_NATIVE_PROTOCOL: `KEY=value\n`,
//! or `KEY\n` + 64-bit little-endian length + value + `\n` for values with newlines) — unit tests
//! below decode what the layer sends on a socket of their own; `tests/tests/deploy.rs` runs the real
//! agent against a fake journald socket and with `--log-format json`.

use std::fmt::{self, Write as _};
use std::io::IsTerminal;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

mod limit;

/// journald's native protocol socket.
pub(crate) const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";
/// Environment variable that replaces [`JOURNAL_SOCKET`] (tests, containers).
pub(crate) const JOURNAL_SOCKET_ENV: &str = "THREAD_AGENT_JOURNAL_SOCKET";
/// `SYSLOG_IDENTIFIER` of every entry.
pub(crate) const IDENTIFIER: &str = "thread-agent";
/// Journal fields written by the layer itself; an event field of the same name gets an `F_` prefix.
const RESERVED: &[&str] = &[
    "MESSAGE",
    "MESSAGE_ID",
    "PRIORITY",
    "CODE_FILE",
    "CODE_LINE",
    "CODE_FUNC",
    "ERRNO",
    "SYSLOG_FACILITY",
    "SYSLOG_IDENTIFIER",
    "SYSLOG_PID",
    "SYSLOG_TIMESTAMP",
    "SYSLOG_RAW",
    "TARGET",
    "TID",
    "DOCUMENTATION",
    "INVOCATION_ID",
    "USER_INVOCATION_ID",
    "UNIT",
    "USER_UNIT",
    "OBJECT_PID",
];
/// Largest datagram we try (journald's socket accepts far larger ones, but the default
/// `SO_SNDBUF` of an unbound socket may not).
const MAX_DATAGRAM: usize = 64 * 1024;
/// How long one entry may wait for room in journald's queue.
const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(100);
/// A value longer than this is cut when an entry must be shortened.
const SHORT_VALUE: usize = 512;

/// Where log lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Output {
    /// Human-readable lines on stderr.
    Text,
    /// JSON lines on stderr.
    Json,
    /// Native journald entries to this socket.
    Journal(PathBuf),
}

/// Picks the output for the configured format. `journal_stream` is `$JOURNAL_STREAM`
/// (`<device>:<inode>` of the journal stream systemd connected), `stderr` the device and inode of
/// this process's stderr, `socket_override` is `$THREAD_AGENT_JOURNAL_SOCKET`.
pub(crate) fn choose(
    format: LogFormat,
    journal_stream: Option<&str>,
    stderr: Option<(u64, u64)>,
    socket_override: Option<&str>,
) -> Output {
    let socket = socket_override
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(JOURNAL_SOCKET));
    match format {
        LogFormat::Json => Output::Json,
        LogFormat::Journal => Output::Journal(socket),
        LogFormat::Text => {
            let under_journal = match (journal_stream.and_then(parse_journal_stream), stderr) {
                (Some(js), Some(se)) => js == se,
                _ => false,
            };
            if under_journal {
                Output::Journal(socket)
            } else {
                Output::Text
            }
        }
    }
}

/// `JOURNAL_STREAM=<dev>:<ino>` (decimal).
fn parse_journal_stream(s: &str) -> Option<(u64, u64)> {
    let (d, i) = s.trim().split_once(':')?;
    Some((d.parse().ok()?, i.parse().ok()?))
}

/// Device and inode of stderr.
fn stderr_id() -> Option<(u64, u64)> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat writes a `stat` into the buffer we own and reports failure by its return value.
    let rc = unsafe { libc::fstat(2, st.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: fstat succeeded, so the struct is initialized.
    let st = unsafe { st.assume_init() };
    // dev_t/ino_t are narrower than u64 on some targets (32-bit ARM).
    #[allow(clippy::unnecessary_cast)]
    Some((st.st_dev as u64, st.st_ino as u64))
}

fn filter(level: &str) -> EnvFilter {
    match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => {
            EnvFilter::try_new(&v).unwrap_or_else(|_| EnvFilter::new(level))
        }
        _ => EnvFilter::new(level),
    }
}

/// `<3>` when stderr is systemd's journal stream (journald then files the line at priority 3,
/// error), else nothing. For the one-line fatal message, which is printed rather than logged.
pub(crate) fn error_prefix() -> &'static str {
    let js = std::env::var("JOURNAL_STREAM").ok();
    match (js.as_deref().and_then(parse_journal_stream), stderr_id()) {
        (Some(a), Some(b)) if a == b => "<3>",
        _ => "",
    }
}

/// Installs the global subscriber. Returns a note to log once logging is up (a journald
/// fallback), if any.
pub(crate) fn init(level: &str, format: LogFormat) -> Option<String> {
    let js = std::env::var("JOURNAL_STREAM").ok();
    let over = std::env::var(JOURNAL_SOCKET_ENV).ok();
    let mut note = None;
    let limit = limit::RateLimitLayer::new(limit::BURST, limit::WINDOW);
    limit.spawn_reporter();
    let output = match choose(format, js.as_deref(), stderr_id(), over.as_deref()) {
        Output::Journal(path) => match JournalLayer::connect(&path) {
            Ok(layer) => {
                tracing_subscriber::registry()
                    .with(filter(level))
                    .with(limit)
                    .with(layer)
                    .init();
                return None;
            }
            Err(e) => {
                note = Some(format!(
                    "cannot reach journald at {} ({e}); logging to stderr",
                    path.display()
                ));
                Output::Text
            }
        },
        other => other,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(level))
        .with_writer(std::io::stderr);
    match output {
        Output::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .finish()
            .with(limit)
            .init(),
        _ => builder
            .with_ansi(std::io::stderr().is_terminal())
            .finish()
            .with(limit)
            .init(),
    }
    note
}

/// A `tracing` layer that writes native journald entries.
pub(crate) struct JournalLayer {
    socket: UnixDatagram,
    path: PathBuf,
}

impl JournalLayer {
    /// Opens an unbound datagram socket and checks that `path` accepts datagrams (an empty one,
    /// which journald ignores).
    pub(crate) fn connect(path: &Path) -> std::io::Result<JournalLayer> {
        let socket = UnixDatagram::unbound()?;
        socket.send_to(&[], path)?;
        // Wait a little for a busy journald, never long: an entry that still does not fit is dropped.
        socket.set_write_timeout(Some(SEND_TIMEOUT))?;
        Ok(JournalLayer {
            socket,
            path: path.to_path_buf(),
        })
    }

    fn send(&self, entry: &[u8]) {
        // Errors (journald restarting, queue full) drop this entry; there is nowhere better to say so.
        let _ = self.socket.send_to(entry, &self.path);
    }
}

/// Fields recorded on a span, kept in its extensions.
struct SpanFields(Vec<(String, String)>);

/// Collects an event's or span's fields as text.
#[derive(Default)]
struct Collector {
    message: Option<String>,
    fields: Vec<(String, String)>,
}

impl Visit for Collector {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}"));
    }
}

impl Collector {
    fn put(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.message = Some(value);
        } else {
            self.fields.push((field.name().to_string(), value));
        }
    }
}

impl<S> tracing_subscriber::Layer<S> for JournalLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let Some(span) = ctx.span(id) else { return };
        let mut c = Collector::default();
        attrs.record(&mut c);
        span.extensions_mut().insert(SpanFields(c.fields));
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: Context<'_, S>,
    ) {
        let Some(span) = ctx.span(id) else { return };
        let mut c = Collector::default();
        values.record(&mut c);
        let mut ext = span.extensions_mut();
        match ext.get_mut::<SpanFields>() {
            Some(f) => f.0.extend(c.fields),
            None => ext.insert(SpanFields(c.fields)),
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields: Vec<(String, String)> = Vec::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(f) = span.extensions().get::<SpanFields>() {
                    fields.extend(f.0.iter().cloned());
                }
            }
        }
        let mut c = Collector::default();
        event.record(&mut c);
        fields.extend(c.fields);
        let meta = event.metadata();
        let entry = Entry {
            level: *meta.level(),
            target: meta.target(),
            file: meta.file(),
            line: meta.line(),
            message: c.message.as_deref().unwrap_or(""),
            fields: &fields,
        };
        let mut buf = entry.encode(usize::MAX);
        if buf.len() > MAX_DATAGRAM {
            buf = entry.encode(SHORT_VALUE);
        }
        self.send(&buf);
    }
}

/// One journal entry before encoding.
pub(crate) struct Entry<'a> {
    pub level: Level,
    pub target: &'a str,
    pub file: Option<&'a str>,
    pub line: Option<u32>,
    pub message: &'a str,
    pub fields: &'a [(String, String)],
}

impl Entry<'_> {
    /// The native-protocol datagram; values longer than `max_value` bytes are cut.
    pub(crate) fn encode(&self, max_value: usize) -> Vec<u8> {
        let mut buf = Vec::with_capacity(256);
        put(
            &mut buf,
            "PRIORITY",
            priority(self.level).to_string().as_bytes(),
            max_value,
        );
        put(
            &mut buf,
            "SYSLOG_IDENTIFIER",
            IDENTIFIER.as_bytes(),
            max_value,
        );
        put(&mut buf, "TARGET", self.target.as_bytes(), max_value);
        if let Some(f) = self.file {
            put(&mut buf, "CODE_FILE", f.as_bytes(), max_value);
        }
        if let Some(l) = self.line {
            put(&mut buf, "CODE_LINE", l.to_string().as_bytes(), max_value);
        }
        put(
            &mut buf,
            "MESSAGE",
            human_message(self.message, self.fields).as_bytes(),
            max_value,
        );
        for (k, v) in self.fields {
            if let Some(name) = field_name(k) {
                put(&mut buf, &name, v.as_bytes(), max_value);
            }
        }
        buf
    }
}

/// syslog priority of a level.
pub(crate) fn priority(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// The message followed by ` key=value` pairs (values with spaces or quotes are quoted), like the
/// text format, so `journalctl -u thread-agent` shows everything without `-o verbose`.
pub(crate) fn human_message(message: &str, fields: &[(String, String)]) -> String {
    let mut s = message.to_string();
    for (k, v) in fields {
        if v.is_empty() || v.contains([' ', '"', '=', '\n', '\t']) {
            let _ = write!(s, " {k}={v:?}");
        } else {
            let _ = write!(s, " {k}={v}");
        }
    }
    s
}

/// A tracing field name as a journal field name: ASCII letters and digits upper-cased, anything
/// else `_`, no leading `_` or digit, at most 64 bytes; names the layer writes itself get `F_`.
/// `None` if nothing usable is left.
pub(crate) fn field_name(name: &str) -> Option<String> {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = s.trim_start_matches('_');
    s = trimmed.to_string();
    if s.is_empty() {
        return None;
    }
    if s.as_bytes()[0].is_ascii_digit() || RESERVED.contains(&s.as_str()) {
        s.insert_str(0, "F_");
    }
    s.truncate(64);
    Some(s)
}

/// Appends `NAME=value\n`, or the binary form when the value contains a newline.
fn put(buf: &mut Vec<u8>, name: &str, value: &[u8], max_value: usize) {
    let value = if value.len() > max_value {
        &value[..max_value]
    } else {
        value
    };
    buf.extend_from_slice(name.as_bytes());
    if value.contains(&b'\n') {
        buf.push(b'\n');
        buf.extend_from_slice(&(value.len() as u64).to_le_bytes());
        buf.extend_from_slice(value);
    } else {
        buf.push(b'=');
        buf.extend_from_slice(value);
    }
    buf.push(b'\n');
}

/// Decodes a native-protocol datagram into (name, value) pairs (for tests; `None` on anything
/// but well-formed input).
#[cfg(test)]
pub(crate) fn decode(mut d: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    while !d.is_empty() {
        let nl = d.iter().position(|&b| b == b'\n')?;
        let line = &d[..nl];
        if let Some(eq) = line.iter().position(|&b| b == b'=') {
            out.push((
                String::from_utf8(line[..eq].to_vec()).ok()?,
                line[eq + 1..].to_vec(),
            ));
            d = &d[nl + 1..];
        } else {
            let name = String::from_utf8(line.to_vec()).ok()?;
            let rest = &d[nl + 1..];
            let len = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?) as usize;
            let value = rest.get(8..8 + len)?.to_vec();
            if rest.get(8 + len) != Some(&b'\n') {
                return None;
            }
            out.push((name, value));
            d = &rest[8 + len + 1..];
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn get<'a>(e: &'a [(String, Vec<u8>)], k: &str) -> Option<&'a str> {
        e.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| std::str::from_utf8(v).unwrap())
    }

    #[test]
    fn choose_follows_format_and_journal_stream() {
        let sock = Some("/tmp/j.sock");
        assert_eq!(
            choose(LogFormat::Json, Some("1:2"), Some((1, 2)), None),
            Output::Json
        );
        assert_eq!(
            choose(LogFormat::Text, None, Some((1, 2)), None),
            Output::Text
        );
        assert_eq!(
            choose(LogFormat::Text, Some("1:3"), Some((1, 2)), None),
            Output::Text
        );
        assert_eq!(
            choose(LogFormat::Text, Some("garbage"), Some((1, 2)), None),
            Output::Text
        );
        assert_eq!(
            choose(LogFormat::Text, Some("1:2"), Some((1, 2)), None),
            Output::Journal(JOURNAL_SOCKET.into())
        );
        assert_eq!(
            choose(LogFormat::Journal, None, None, sock),
            Output::Journal("/tmp/j.sock".into())
        );
        assert_eq!(
            choose(LogFormat::Journal, None, None, Some("")),
            Output::Journal(JOURNAL_SOCKET.into())
        );
    }

    #[test]
    fn field_names_follow_journald_rules() {
        assert_eq!(field_name("joiner_id").as_deref(), Some("JOINER_ID"));
        assert_eq!(field_name("eui64").as_deref(), Some("EUI64"));
        assert_eq!(field_name("event").as_deref(), Some("EVENT"));
        assert_eq!(field_name("net.role").as_deref(), Some("NET_ROLE"));
        assert_eq!(field_name("_hidden").as_deref(), Some("HIDDEN"));
        assert_eq!(field_name("1st").as_deref(), Some("F_1ST"));
        assert_eq!(field_name("message_id").as_deref(), Some("F_MESSAGE_ID"));
        assert_eq!(field_name("priority").as_deref(), Some("F_PRIORITY"));
        assert_eq!(field_name("___"), None);
        assert_eq!(field_name("ünï").as_deref(), Some("N_"));
        assert_eq!(field_name(&"x".repeat(100)).unwrap().len(), 64);
    }

    #[test]
    fn encode_decode_round_trip_with_binary_values() {
        let fields = vec![
            ("event".to_string(), "network-up".to_string()),
            ("name".to_string(), "Thread Agent".to_string()),
            ("detail".to_string(), "two\nlines".to_string()),
        ];
        let e = Entry {
            level: Level::INFO,
            target: "agent::network",
            file: Some("a.rs"),
            line: Some(7),
            message: "network up",
            fields: &fields,
        };
        let d = decode(&e.encode(usize::MAX)).unwrap();
        assert_eq!(get(&d, "PRIORITY"), Some("6"));
        assert_eq!(get(&d, "SYSLOG_IDENTIFIER"), Some("thread-agent"));
        assert_eq!(get(&d, "TARGET"), Some("agent::network"));
        assert_eq!(get(&d, "CODE_LINE"), Some("7"));
        assert_eq!(get(&d, "EVENT"), Some("network-up"));
        assert_eq!(get(&d, "NAME"), Some("Thread Agent"));
        assert_eq!(get(&d, "DETAIL"), Some("two\nlines"));
        assert_eq!(
            get(&d, "MESSAGE"),
            Some("network up event=network-up name=\"Thread Agent\" detail=\"two\\nlines\"")
        );
        let short = decode(&e.encode(3)).unwrap();
        assert_eq!(get(&short, "NAME"), Some("Thr"));
    }

    #[test]
    fn priorities() {
        assert_eq!(priority(Level::ERROR), 3);
        assert_eq!(priority(Level::WARN), 4);
        assert_eq!(priority(Level::INFO), 6);
        assert_eq!(priority(Level::DEBUG), 7);
        assert_eq!(priority(Level::TRACE), 7);
    }

    #[test]
    fn decode_rejects_truncated_input() {
        assert!(decode(b"A=1").is_none());
        assert!(decode(b"A\n\x05\x00\x00\x00\x00\x00\x00\x00ab").is_none());
        assert_eq!(decode(b"").unwrap().len(), 0);
    }

    #[test]
    fn layer_sends_events_with_span_fields_to_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let layer = JournalLayer::connect(&path).unwrap();
        let mut buf = vec![0u8; 65536];
        let n = sock.recv(&mut buf).unwrap();
        assert_eq!(n, 0, "connect probes with an empty datagram");
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("joiner", joiner_id = "0011223344556677");
            let _g = span.enter();
            tracing::warn!(event = "joiner-failed", eui64 = %"f4ce360000000001", reason = "bad PSKd", "joiner failed");
        });
        let n = sock.recv(&mut buf).unwrap();
        let d = decode(&buf[..n]).unwrap();
        assert_eq!(get(&d, "PRIORITY"), Some("4"));
        assert_eq!(get(&d, "EVENT"), Some("joiner-failed"));
        assert_eq!(get(&d, "JOINER_ID"), Some("0011223344556677"));
        assert_eq!(get(&d, "EUI64"), Some("f4ce360000000001"));
        assert_eq!(get(&d, "REASON"), Some("bad PSKd"));
        assert!(get(&d, "MESSAGE")
            .unwrap()
            .starts_with("joiner failed joiner_id=0011223344556677 event=joiner-failed"));
    }

    #[test]
    fn connect_fails_without_a_listener() {
        let dir = tempfile::tempdir().unwrap();
        assert!(JournalLayer::connect(&dir.path().join("none.sock")).is_err());
    }
}
