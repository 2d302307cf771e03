//! The control socket: newline-delimited JSON requests and replies over a Unix stream socket
//! (protocol in `docs/control-protocol.md`).
//!
//! Request `{"id":1,"method":"status","params":{}}` -> `{"id":1,"result":{...}}` or
//! `{"id":1,"error":{"code":"...","message":"..."}}`.
//!
//! Guarantees:
//! - the socket's parent directory is created if missing; a stale socket file (nothing listening)
//!   is removed, a live one (another agent) is an error; the socket gets mode 0660 before the
//!   first `accept`; [`ControlServer`] removes the socket file when dropped;
//! - every line gets exactly one reply line; a line that is not JSON, not an object, has no string
//!   `method`, or names an unknown method gets an error reply and the connection stays open;
//!   a line longer than [`MAX_LINE`] gets an error reply and the connection is closed;
//! - the caller's uid/gid/pid come from the kernel (SO_PEERCRED); `dataset.export`, and a
//!   `joiner.add` with `any` or a discerner, are allowed to root and to the agent's own uid only
//!   (`control::Request::is_privileged`); each export is logged with the peer's uid and pid
//!   (never the content);
//! - within [`Limits`] (`limits.rs`): at most 64 connections and 32 event streams; a full table
//!   closes its oldest idle connection (or refuses the new one) with one `too_many_connections`
//!   line; a partial line must complete within 10 s (`request_timeout`), an idle connection closes
//!   after 60 s, a peer that does not take a line within 10 s is dropped; out of descriptors,
//!   `accept` closes an idle connection or backs off (10 ms doubling to 1 s) and warns at most
//!   once per 10 s;
//! - request bytes live only in the connection's [`lines::LineBuf`] (at most `MAX_LINE + 1`
//!   bytes, zeroed as lines are served) and in a `control::Envelope` (whose params are zeroed on
//!   drop): a PSKd does not outlive its request.
//!
//! The protocol itself (envelope, methods, params, error codes) is the `control` crate; this
//! module is its socket server.
//!
//! Validated by the unit tests in `control_socket/tests.rs` (parsing, garbage lines,
//! authorization, a real socket pair, each limit with short timeouts) and end to end by
//! `tests/tests/control_limits.rs` (a flood of 1,100 stalled connections, exhausted descriptors).

use std::future::Future;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};
use zeroize::{Zeroize, Zeroizing};

mod limits;
mod lines;

pub(crate) use limits::Limits;
use limits::{AcceptBackoff, Full, Slot, Slots, WarnLimiter};
use lines::{LineBuf, Next};

pub(crate) use control::{code, reply_line, MethodError, MAX_LINE};
use control::{parse_line, Method, Request};

/// Whether the debug methods are enabled (env `THREAD_AGENT_DEBUG_METHODS=1`, read once).
pub(crate) fn debug_methods_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("THREAD_AGENT_DEBUG_METHODS").is_ok_and(|v| v == "1"))
}

/// The credentials of the connected process, from SO_PEERCRED.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Peer {
    pub uid: u32,
    pub gid: u32,
    pub pid: Option<i32>,
}

/// What a method returns.
pub(crate) type MethodFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Value, MethodError>> + Send + 'a>>;

/// Serves the methods; the control server does parsing, authorization and logging.
pub(crate) trait Handler: Send + Sync + 'static {
    fn call<'a>(&'a self, request: Request, peer: &'a Peer) -> MethodFuture<'a>;
    /// The event stream for `events.subscribe` (each item becomes a `{"event":...}` line);
    /// `None` when this handler has no events.
    fn subscribe(&self) -> Option<tokio::sync::broadcast::Receiver<Value>> {
        None
    }
}

/// Checks that `peer` may call `method` on an agent running as `own_uid` (before its params are
/// read: a privileged method is refused whatever they are).
pub(crate) fn authorize(method: Method, peer: &Peer, own_uid: u32) -> Result<(), MethodError> {
    if method.is_privileged() && !is_trusted(peer, own_uid) {
        return Err(MethodError::new(
            code::PERMISSION_DENIED,
            format!("`{method}` reveals network credentials: only root or uid {own_uid} (the agent's user) may call it; you are uid {}", peer.uid),
        ));
    }
    Ok(())
}

/// Checks that `peer` may make this `request` (after its params are read): a `joiner.add` with
/// `any` or a discerner admits devices nobody named, and each receives the network key.
pub(crate) fn authorize_request(
    request: &Request,
    peer: &Peer,
    own_uid: u32,
) -> Result<(), MethodError> {
    authorize(request.method(), peer, own_uid)?;
    if request.is_privileged() && !is_trusted(peer, own_uid) {
        return Err(MethodError::new(
            code::PERMISSION_DENIED,
            format!("a wildcard (`any`) or `discerner` joiner entry admits any device that knows the PSKd, and each receives the network key: only root or uid {own_uid} (the agent's user) may add one; you are uid {} (an entry for one `eui64` is open to the socket's group)", peer.uid),
        ));
    }
    Ok(())
}

fn is_trusted(peer: &Peer, own_uid: u32) -> bool {
    peer.uid == 0 || peer.uid == own_uid
}

/// Handles one request line from `peer` and returns the reply line.
pub(crate) async fn handle_line(
    handler: &dyn Handler,
    own_uid: u32,
    peer: &Peer,
    line: &[u8],
) -> String {
    let req = match parse_line(line) {
        Ok(r) => r,
        Err((id, e)) => {
            tracing::debug!(
                uid = peer.uid,
                pid = peer.pid,
                code = e.code.as_str(),
                "control request rejected"
            );
            return reply_line(&id, Err(e));
        }
    };
    let method = match req.method(debug_methods_enabled()) {
        Ok(m) => m,
        Err(e) => return reply_line(&req.id, Err(e)),
    };
    if let Err(e) = authorize(method, peer, own_uid) {
        tracing::warn!(method = %method, uid = peer.uid, pid = peer.pid, "control request denied");
        return reply_line(&req.id, Err(e));
    }
    let id = req.id.clone();
    let request = Request::parse(method, &req.params);
    drop(req); // wipes the params (the PSKd of a `joiner.add`)
    let result = match request {
        Ok(request) => match authorize_request(&request, peer, own_uid) {
            Ok(()) => handler.call(request, peer).await,
            Err(e) => {
                tracing::warn!(method = %method, uid = peer.uid, pid = peer.pid, "control request denied");
                Err(e)
            }
        },
        Err(e) => Err(e),
    };
    if method == Method::DatasetExport && result.is_ok() {
        tracing::info!(uid = peer.uid, pid = peer.pid, "dataset exported");
    }
    reply_line(&id, result)
}

/// Why the control socket cannot be served.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ControlError {
    #[error("control socket {path}: another thread-agent is already listening there")]
    InUse { path: String },
    #[error("control socket {path} exists and is not a socket; remove it or choose another path")]
    NotASocket { path: String },
    #[error("control socket {path}: {source}")]
    Io { path: String, source: io::Error },
}

/// A bound control socket; the file is removed on drop.
pub(crate) struct ControlServer {
    path: PathBuf,
    listener: Option<UnixListener>,
}

impl ControlServer {
    /// Creates the parent directory, removes a stale socket, binds and sets mode 0660.
    pub(crate) async fn bind(path: &Path) -> Result<ControlServer, ControlError> {
        let err = |source: io::Error| ControlError::Io {
            path: path.display().to_string(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(err)?;
        }
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_socket() => {
                if UnixStream::connect(path).await.is_ok() {
                    return Err(ControlError::InUse {
                        path: path.display().to_string(),
                    });
                }
                tracing::info!(path = %path.display(), "removing stale control socket");
                std::fs::remove_file(path).map_err(err)?;
            }
            Ok(_) => {
                return Err(ControlError::NotASocket {
                    path: path.display().to_string(),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(e)),
        }
        let listener = UnixListener::bind(path).map_err(err)?;
        let server = ControlServer {
            path: path.to_path_buf(),
            listener: Some(listener),
        };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(err)?;
        Ok(server)
    }

    /// The socket path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Accepts connections forever, one task per connection, with the default [`Limits`].
    pub(crate) async fn serve(&self, handler: Arc<dyn Handler>, own_uid: u32) -> io::Result<()> {
        self.serve_with(handler, own_uid, Limits::default()).await
    }

    /// Accepts connections forever within `limits`: a full table evicts its oldest idle
    /// connection or refuses the new one with one error line; out of descriptors, it closes an
    /// idle connection or backs off (10 ms doubling to 1 s); repeating warnings are rate-limited.
    pub(crate) async fn serve_with(
        &self,
        handler: Arc<dyn Handler>,
        own_uid: u32,
        limits: Limits,
    ) -> io::Result<()> {
        let Some(listener) = &self.listener else {
            return Ok(());
        };
        let slots = Slots::new(limits);
        let mut backoff = AcceptBackoff::new();
        let mut crowded = WarnLimiter::new(limits::WARN_EVERY);
        loop {
            let stream = match listener.accept().await {
                Ok((s, _)) => {
                    backoff.succeeded();
                    s
                }
                Err(e) => {
                    let freed = limits::is_out_of_descriptors(&e) && slots.evict_oldest();
                    let pause = if freed {
                        AcceptBackoff::MIN
                    } else {
                        backoff.failed()
                    };
                    if let Some(suppressed) = backoff.warn.hit(Instant::now()) {
                        tracing::warn!(
                            error = %e,
                            suppressed,
                            retry_ms = pause.as_millis() as u64,
                            closed_idle_connection = freed,
                            "control socket accept failed"
                        );
                    }
                    tokio::time::sleep(pause).await;
                    continue;
                }
            };
            let slot = match slots.admit() {
                Ok(a) => {
                    if a.evicted {
                        crowded_warning(&mut crowded, &limits, "closed the oldest idle connection");
                    }
                    a.slot
                }
                Err(Full) => {
                    crowded_warning(&mut crowded, &limits, "refused a new connection");
                    let e = MethodError::new(
                        code::TOO_MANY_CONNECTIONS,
                        format!(
                            "too many control connections ({} busy); try again",
                            limits.max_connections
                        ),
                    );
                    // Best effort, never waits: a fresh socket's buffer takes one line. What the
                    // peer already sent is read first, so closing does not reset the connection.
                    let mut sink = Zeroizing::new([0u8; 4096]);
                    while matches!(stream.try_read(&mut sink[..]), Ok(n) if n > 0) {}
                    let _ = stream.try_write(reply_line(&Value::Null, Err(e)).as_bytes());
                    continue;
                }
            };
            let handler = handler.clone();
            tokio::spawn(async move {
                if let Err(e) = serve_connection(stream, handler.as_ref(), own_uid, slot).await {
                    tracing::debug!(error = %e, "control connection ended with an error");
                }
            });
        }
    }
}

fn crowded_warning(w: &mut WarnLimiter, limits: &Limits, what: &str) {
    if let Some(suppressed) = w.hit(Instant::now()) {
        tracing::warn!(
            limit = limits.max_connections,
            suppressed,
            "control socket at its connection limit: {what}"
        );
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.listener = None;
        let _ = std::fs::remove_file(&self.path);
    }
}

/// What serving one line leads to.
enum After {
    Continue,
    Close,
    Subscribed(tokio::sync::broadcast::Receiver<Value>),
}

/// Writes `line` within the write timeout; `false` if the peer did not take it (or is gone).
async fn send(w: &mut OwnedWriteHalf, line: &str, limits: &Limits) -> bool {
    match tokio::time::timeout(limits.write_timeout, w.write_all(line.as_bytes())).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "control connection: write failed");
            false
        }
        Err(_) => {
            tracing::debug!("control connection: the peer does not read its replies; closing");
            false
        }
    }
}

/// Serves one connection until the peer closes it, it idles or stalls past its timeouts, or it is
/// evicted to make room. Every line is wiped from the buffer once served.
pub(crate) async fn serve_connection(
    stream: UnixStream,
    handler: &dyn Handler,
    own_uid: u32,
    mut slot: Slot,
) -> io::Result<()> {
    let cred = stream.peer_cred()?;
    let peer = Peer {
        uid: cred.uid(),
        gid: cred.gid(),
        pid: cred.pid(),
    };
    let limits = *slot.limits();
    tracing::debug!(uid = peer.uid, pid = peer.pid, "control connection");
    let (mut r, mut w) = stream.into_split();
    let mut lines = LineBuf::new();
    let mut since = tokio::time::Instant::now(); // of the last request served, or of the partial line's first byte
    loop {
        loop {
            let n = match lines.next() {
                Next::Partial => break,
                Next::Line(n) => n,
                Next::TooLong => {
                    lines.clear();
                    let e = MethodError::new(
                        code::REQUEST_TOO_LONG,
                        format!("request longer than {MAX_LINE} bytes"),
                    );
                    send(&mut w, &reply_line(&Value::Null, Err(e)), &limits).await;
                    drain(&mut r, &mut w, &limits).await;
                    return Ok(());
                }
            };
            slot.set_busy(true);
            let after = serve_line(
                handler,
                own_uid,
                &peer,
                &lines.bytes()[..n],
                &mut slot,
                &mut w,
            )
            .await;
            lines.consume(n + 1);
            slot.set_busy(false);
            since = tokio::time::Instant::now();
            match after {
                After::Continue => {}
                After::Close => return Ok(()),
                After::Subscribed(rx) => {
                    lines.clear();
                    return stream_events(rx, r, w, &limits).await;
                }
            }
        }
        let partial = !lines.is_empty();
        let wait = if partial {
            limits.line_timeout
        } else {
            limits.idle_timeout
        };
        let deadline = since + wait;
        let read = tokio::select! {
            r = tokio::time::timeout_at(deadline, r.read(lines.space())) => r,
            () = slot.evicted() => {
                let e = MethodError::new(
                    code::TOO_MANY_CONNECTIONS,
                    format!("closed to make room for a new connection (at most {} at once)", limits.max_connections),
                );
                send(&mut w, &reply_line(&Value::Null, Err(e)), &limits).await;
                return Ok(());
            }
        };
        match read {
            Err(_) if partial => {
                lines.clear();
                tracing::debug!(
                    uid = peer.uid,
                    pid = peer.pid,
                    "control connection: request line not completed in time"
                );
                let e = MethodError::new(
                    code::REQUEST_TIMEOUT,
                    format!(
                        "request line not completed within {} s; closing",
                        limits.line_timeout.as_secs_f32()
                    ),
                );
                send(&mut w, &reply_line(&Value::Null, Err(e)), &limits).await;
                return Ok(());
            }
            Err(_) => return Ok(()), // idle
            Ok(Ok(0)) => {
                // EOF: a last line without its newline is still served.
                if !lines.is_empty() {
                    let n = lines.bytes().len();
                    slot.set_busy(true);
                    serve_line(
                        handler,
                        own_uid,
                        &peer,
                        &lines.bytes()[..n],
                        &mut slot,
                        &mut w,
                    )
                    .await;
                    lines.clear();
                }
                return Ok(());
            }
            Ok(Ok(n)) => {
                if !partial {
                    since = tokio::time::Instant::now();
                }
                lines.commit(n);
            }
            Ok(Err(e)) => return Err(e),
        }
    }
}

/// Before closing with unread input (which would reset the connection and lose the error line
/// just sent): ends our side and reads the rest, bounded in time and bytes, into a wiped sink.
async fn drain(r: &mut OwnedReadHalf, w: &mut OwnedWriteHalf, limits: &Limits) {
    let _ = w.shutdown().await;
    let mut sink = Zeroizing::new([0u8; 4096]);
    let mut left = 4 * MAX_LINE;
    let until = tokio::time::Instant::now() + limits.line_timeout;
    while left > 0 {
        match tokio::time::timeout_at(until, r.read(&mut sink[..])).await {
            Ok(Ok(n)) if n > 0 => left = left.saturating_sub(n),
            _ => break,
        }
    }
    sink.zeroize();
}

/// Answers one line (blank lines get nothing). `events.subscribe` moves the connection to the
/// subscriptions (or is refused with `too_many_connections` when they are full).
async fn serve_line(
    handler: &dyn Handler,
    own_uid: u32,
    peer: &Peer,
    line: &[u8],
    slot: &mut Slot,
    w: &mut OwnedWriteHalf,
) -> After {
    let limits = *slot.limits();
    if line.iter().all(|b| b.is_ascii_whitespace()) {
        return After::Continue;
    }
    // Subscribe before replying so no event between the reply and the stream is lost.
    let wants_events = parse_line(line).is_ok_and(|r| r.method == Method::EventsSubscribe.as_str());
    let mut events = None;
    if wants_events {
        if !slot.subscribe() {
            let id = parse_line(line)
                .map(|r| r.id.clone())
                .unwrap_or(Value::Null);
            let e = MethodError::new(
                code::TOO_MANY_CONNECTIONS,
                format!(
                    "too many event subscriptions (at most {})",
                    limits.max_subscriptions
                ),
            );
            return if send(w, &reply_line(&id, Err(e)), &limits).await {
                After::Continue
            } else {
                After::Close
            };
        }
        events = handler.subscribe();
    }
    // The reply may hold a secret (`dataset.export`): wiped once sent.
    let mut reply = Zeroizing::new(handle_line(handler, own_uid, peer, line).await);
    if !send(w, &reply, &limits).await {
        return After::Close;
    }
    // Only an `events.subscribe` reply is parsed again (it holds no secret).
    let accepted = events.is_some()
        && serde_json::from_str::<Value>(&reply).is_ok_and(|v| v.get("result").is_some());
    reply.zeroize();
    match events {
        Some(rx) if accepted => After::Subscribed(rx),
        _ => After::Continue,
    }
}

/// After `events.subscribe`: one `{"event":...}` line per event until the peer closes the
/// connection (anything it sends is read and dropped). A subscriber too slow to keep up gets
/// `{"event":{"type":"events-dropped","count":N}}` and the stream goes on; one that takes no line
/// for the write timeout is closed.
async fn stream_events(
    mut rx: tokio::sync::broadcast::Receiver<Value>,
    mut r: OwnedReadHalf,
    mut w: OwnedWriteHalf,
    limits: &Limits,
) -> io::Result<()> {
    use tokio::sync::broadcast::error::RecvError;
    let mut sink = Zeroizing::new([0u8; 512]);
    loop {
        let ev = tokio::select! {
            n = r.read(&mut sink[..]) => match n {
                Ok(0) | Err(_) => return Ok(()),
                Ok(_) => {
                    sink.zeroize();
                    continue;
                }
            },
            ev = rx.recv() => ev,
        };
        let v = match ev {
            Ok(v) => v,
            Err(RecvError::Lagged(n)) => {
                json!({"type": control::EventKind::EventsDropped.as_str(), "count": n})
            }
            Err(RecvError::Closed) => return Ok(()),
        };
        let mut line = json!({ "event": v }).to_string();
        line.push('\n');
        if !send(&mut w, &line, limits).await {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests;
