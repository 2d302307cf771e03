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
//! - the caller's uid/gid/pid come from the kernel (SO_PEERCRED); `dataset.export` is allowed to
//!   root and to the agent's own uid only, and each export is logged with the peer's uid and pid
//!   (never the content).
//!
//! The protocol itself (envelope, methods, params, error codes) is the `control` crate; this
//! module is its socket server.
//!
//! Validated by the unit tests below (parsing, garbage lines, authorization, a real socket pair).

use std::future::Future;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

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

/// Checks that `peer` may call `method` on an agent running as `own_uid`.
pub(crate) fn authorize(method: Method, peer: &Peer, own_uid: u32) -> Result<(), MethodError> {
    if method.is_privileged() && peer.uid != 0 && peer.uid != own_uid {
        return Err(MethodError::new(
            code::PERMISSION_DENIED,
            format!("`{method}` reveals network credentials: only root or uid {own_uid} (the agent's user) may call it; you are uid {}", peer.uid),
        ));
    }
    Ok(())
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
    let result = match Request::parse(method, &req.params) {
        Ok(request) => handler.call(request, peer).await,
        Err(e) => Err(e),
    };
    if method == Method::DatasetExport && result.is_ok() {
        tracing::info!(uid = peer.uid, pid = peer.pid, "dataset exported");
    }
    reply_line(&req.id, result)
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

    /// Accepts connections forever, one task per connection.
    pub(crate) async fn serve(&self, handler: Arc<dyn Handler>, own_uid: u32) -> io::Result<()> {
        let Some(listener) = &self.listener else {
            return Ok(());
        };
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    // EMFILE and friends: back off a little instead of spinning.
                    tracing::warn!(error = %e, "control socket accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let handler = handler.clone();
            tokio::spawn(async move {
                if let Err(e) = serve_connection(stream, handler.as_ref(), own_uid).await {
                    tracing::debug!(error = %e, "control connection ended with an error");
                }
            });
        }
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.listener = None;
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Serves one connection until the peer closes it.
pub(crate) async fn serve_connection(
    stream: UnixStream,
    handler: &dyn Handler,
    own_uid: u32,
) -> io::Result<()> {
    let cred = stream.peer_cred()?;
    let peer = Peer {
        uid: cred.uid(),
        gid: cred.gid(),
        pid: cred.pid(),
    };
    tracing::debug!(uid = peer.uid, pid = peer.pid, "control connection");
    let (r, mut w) = stream.into_split();
    let mut reader = BufReader::new(r);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .await?;
        if n == 0 {
            return Ok(());
        }
        let complete = buf.last() == Some(&b'\n');
        if complete {
            buf.pop();
        } else if buf.len() > MAX_LINE {
            let e = MethodError::new(
                code::REQUEST_TOO_LONG,
                format!("request longer than {MAX_LINE} bytes"),
            );
            w.write_all(reply_line(&Value::Null, Err(e)).as_bytes())
                .await?;
            return Ok(());
        }
        if buf.iter().all(|b| b.is_ascii_whitespace()) {
            if !complete {
                return Ok(());
            }
            continue;
        }
        // Subscribe before replying so no event between the reply and the stream is lost.
        let events = match parse_line(&buf) {
            Ok(r) if r.method == Method::EventsSubscribe.as_str() => handler.subscribe(),
            _ => None,
        };
        let reply = handle_line(handler, own_uid, &peer, &buf).await;
        w.write_all(reply.as_bytes()).await?;
        if let Some(rx) = events {
            let ok = serde_json::from_str::<Value>(&reply).is_ok_and(|v| v.get("result").is_some());
            if ok {
                return stream_events(rx, reader, w).await;
            }
        }
        if !complete {
            return Ok(()); // EOF after a last line without newline
        }
    }
}

/// After `events.subscribe`: one `{"event":...}` line per event until the peer closes the
/// connection (anything it sends is ignored). A subscriber too slow to keep up gets
/// `{"event":{"type":"events-dropped","count":N}}` and the stream goes on.
async fn stream_events(
    mut rx: tokio::sync::broadcast::Receiver<Value>,
    mut reader: BufReader<tokio::net::unix::OwnedReadHalf>,
    mut w: tokio::net::unix::OwnedWriteHalf,
) -> io::Result<()> {
    use tokio::sync::broadcast::error::RecvError;
    let mut sink = [0u8; 512];
    loop {
        let ev = tokio::select! {
            r = reader.read(&mut sink) => match r {
                Ok(0) | Err(_) => return Ok(()),
                Ok(_) => continue,
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
        w.write_all(line.as_bytes()).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake;
    impl Handler for Fake {
        fn call<'a>(&'a self, request: Request, _peer: &'a Peer) -> MethodFuture<'a> {
            Box::pin(async move {
                match request {
                    Request::Status => Ok(json!({"role": "leader"})),
                    Request::DatasetExport => Ok(json!({"tlvs": "0e08"})),
                    _ => Err(MethodError::new(code::INTERNAL_ERROR, "unreachable")),
                }
            })
        }
    }

    const ME: Peer = Peer {
        uid: 1000,
        gid: 1000,
        pid: Some(42),
    };

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn call(line: &str, peer: Peer) -> Value {
        let s = rt().block_on(handle_line(&Fake, 1000, &peer, line.as_bytes()));
        assert!(s.ends_with('\n') && !s[..s.len() - 1].contains('\n'));
        serde_json::from_str(&s).unwrap()
    }

    #[test]
    fn parses_requests() {
        let r = parse_line(br#"{"id":1,"method":"status","params":{}}"#).unwrap();
        assert_eq!((r.id, r.method.as_str()), (json!(1), "status"));
        let r = parse_line(br#"{"method":"status"}"#).unwrap();
        assert_eq!(r.id, Value::Null);
        assert_eq!(r.params, json!({}));
        let r = parse_line(br#"{"id":"abc","method":"status","params":null}"#).unwrap();
        assert_eq!(r.id, json!("abc"));
    }

    #[test]
    fn garbage_gets_error_replies() {
        assert_eq!(call("not json", ME)["error"]["code"], "parse_error");
        assert_eq!(call("[1,2]", ME)["error"]["code"], "invalid_request");
        assert_eq!(
            call(r#"{"id":7}"#, ME),
            json!({"id":7,"error":{"code":"invalid_request","message":"missing `method`"}})
        );
        assert_eq!(
            call(r#"{"id":7,"method":5}"#, ME)["error"]["code"],
            "invalid_request"
        );
        assert_eq!(
            call(r#"{"id":{},"method":"status"}"#, ME)["error"]["code"],
            "invalid_request"
        );
        assert_eq!(
            call(r#"{"id":8,"method":"status","params":[1]}"#, ME)["error"]["code"],
            "invalid_params"
        );
        let v = call(r#"{"id":9,"method":"reboot"}"#, ME);
        assert_eq!(v["id"], 9);
        assert_eq!(v["error"]["code"], "method_not_found");
        assert!(rt()
            .block_on(handle_line(&Fake, 1000, &ME, &[0xff, 0xfe]))
            .contains("parse_error"));
    }

    #[test]
    fn status_and_export_authorization() {
        assert_eq!(
            call(r#"{"id":1,"method":"status","params":{}}"#, ME),
            json!({"id":1,"result":{"role":"leader"}})
        );
        let other = Peer {
            uid: 1001,
            gid: 1001,
            pid: Some(1),
        };
        assert_eq!(
            call(r#"{"id":2,"method":"status"}"#, other)["result"]["role"],
            "leader"
        );
        let v = call(r#"{"id":3,"method":"dataset.export"}"#, other);
        assert_eq!(v["error"]["code"], "permission_denied");
        assert_eq!(
            call(r#"{"id":4,"method":"dataset.export"}"#, ME)["result"]["tlvs"],
            "0e08"
        );
        let root = Peer {
            uid: 0,
            gid: 0,
            pid: None,
        };
        assert_eq!(
            call(r#"{"id":5,"method":"dataset.export"}"#, root)["result"]["tlvs"],
            "0e08"
        );
    }

    #[test]
    fn connection_survives_garbage_and_socket_lifecycle() {
        rt().block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("sub").join("ctl.sock");
            // A stale socket file (nobody listening) is replaced.
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
            let server = ControlServer::bind(&path).await.unwrap();
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o660);
            // A second agent on the same path is refused.
            assert!(matches!(
                ControlServer::bind(&path).await,
                Err(ControlError::InUse { .. })
            ));
            let own = unsafe_free_uid();
            let task = async {
                server.serve(Arc::new(Fake), own).await.unwrap();
            };
            let client = async {
                let s = UnixStream::connect(&path).await.unwrap();
                let (r, mut w) = s.into_split();
                let mut lines = BufReader::new(r).lines();
                w.write_all(b"garbage\n\n{\"id\":1,\"method\":\"status\"}\n")
                    .await
                    .unwrap();
                let a: Value =
                    serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
                let b: Value =
                    serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
                assert_eq!(a["error"]["code"], "parse_error");
                assert_eq!(b["result"]["role"], "leader");
                w.write_all(b"{\"id\":2,\"method\":\"dataset.export\"}\n")
                    .await
                    .unwrap();
                let c: Value =
                    serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
                assert_eq!(c["result"]["tlvs"], "0e08");
                // An over-long line: one error reply, then the connection closes.
                let long = vec![b'x'; MAX_LINE + 10];
                w.write_all(&long).await.unwrap();
                let d: Value =
                    serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
                assert_eq!(d["error"]["code"], "request_too_long");
                assert!(lines.next_line().await.unwrap().is_none());
            };
            tokio::select! { _ = task => unreachable!(), _ = client => {} }
            drop(server);
            assert!(!path.exists());
        });
    }

    struct Streaming(tokio::sync::broadcast::Sender<Value>);
    impl Handler for Streaming {
        fn call<'a>(&'a self, request: Request, peer: &'a Peer) -> MethodFuture<'a> {
            Box::pin(async move {
                match request {
                    Request::EventsSubscribe => Ok(json!({"subscribed": true})),
                    _ => Fake.call(request, peer).await,
                }
            })
        }
        fn subscribe(&self) -> Option<tokio::sync::broadcast::Receiver<Value>> {
            Some(self.0.subscribe())
        }
    }

    #[test]
    fn events_subscribe_streams_until_the_peer_closes() {
        rt().block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("ctl.sock");
            let server = ControlServer::bind(&path).await.unwrap();
            let (tx, _) = tokio::sync::broadcast::channel(4);
            let handler = Arc::new(Streaming(tx.clone()));
            let task = server.serve(handler, 0);
            let client = async {
                let s = UnixStream::connect(&path).await.unwrap();
                let (r, mut w) = s.into_split();
                let mut lines = BufReader::new(r).lines();
                w.write_all(b"{\"id\":1,\"method\":\"events.subscribe\"}\n")
                    .await
                    .unwrap();
                let a: Value =
                    serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
                assert_eq!(a, json!({"id":1,"result":{"subscribed":true}}));
                tx.send(json!({"type":"joiner-seen"})).unwrap();
                let b: Value =
                    serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
                assert_eq!(b, json!({"event":{"type":"joiner-seen"}}));
                // Requests after subscribing are ignored; a lagging subscriber is told.
                w.write_all(b"{\"id\":2,\"method\":\"status\"}\n")
                    .await
                    .unwrap();
                for i in 0..6 {
                    tx.send(json!({"n": i})).unwrap();
                }
                let c: Value =
                    serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
                assert_eq!(c["event"]["type"], "events-dropped");
                drop(w);
            };
            tokio::select! { _ = task => unreachable!(), _ = client => {} }
            // The connection task ends when the peer closed: no subscriber left soon after.
            for _ in 0..50 {
                if tx.receiver_count() == 0 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            assert_eq!(tx.receiver_count(), 0);
        });
    }

    /// The uid of this process, read from the file system (no unsafe needed).
    fn unsafe_free_uid() -> u32 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self")
            .map(|m| m.uid())
            .unwrap_or(0)
    }
}
