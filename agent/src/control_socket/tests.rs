//! The control socket's unit tests: parsing, garbage lines, authorization, a real socket pair,
//! the limits (timeouts, the connection table, subscriptions).

use super::*;
use tokio::io::{AsyncBufReadExt, BufReader};

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
    assert_eq!((&r.id, r.method.as_str()), (&json!(1), "status"));
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

/// `commissioner.start` says it started (a permit on `.1`) and then waits for a permit on
/// `.0`: a request in progress.
struct Slow(Arc<tokio::sync::Semaphore>, Arc<tokio::sync::Semaphore>);
impl Handler for Slow {
    fn call<'a>(&'a self, request: Request, peer: &'a Peer) -> MethodFuture<'a> {
        Box::pin(async move {
            match request {
                Request::CommissionerStart => {
                    self.1.add_permits(1);
                    let _permit = self.0.acquire().await;
                    Ok(json!({"state": "active"}))
                }
                Request::JoinerAdd(_) => Ok(json!({"entry": "added"})),
                _ => Fake.call(request, peer).await,
            }
        })
    }
}

fn short(max_connections: usize) -> Limits {
    Limits {
        max_connections,
        max_subscriptions: 1,
        line_timeout: std::time::Duration::from_millis(200),
        idle_timeout: std::time::Duration::from_millis(200),
        write_timeout: std::time::Duration::from_secs(5),
    }
}

/// Reads what the server sends until it closes the connection (a hang bound of 10 s: without
/// the limits, the server never closes it).
async fn read_to_close(s: &mut UnixStream) -> String {
    let mut out = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        s.read_to_string(&mut out),
    )
    .await
    .expect("the server did not close the connection")
    .unwrap();
    out
}

async fn status_of(path: &Path) -> Value {
    let mut s = UnixStream::connect(path).await.unwrap();
    s.write_all(b"{\"id\":1,\"method\":\"status\"}\n")
        .await
        .unwrap();
    let mut lines = BufReader::new(s).lines();
    serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap()
}

#[test]
fn a_partial_line_times_out_and_an_idle_connection_closes() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctl.sock");
        let server = ControlServer::bind(&path).await.unwrap();
        let task = server.serve_with(Arc::new(Fake), 0, short(8));
        let client = async {
            // Half a request, never finished: one error line, then closed.
            let mut a = UnixStream::connect(&path).await.unwrap();
            a.write_all(b"{\"id\":1,\"method\":\"sta").await.unwrap();
            let got = read_to_close(&mut a).await;
            let v: Value = serde_json::from_str(got.trim()).unwrap();
            assert_eq!(v["error"]["code"], "request_timeout", "{got}");
            // Connected and silent: closed without a word.
            let mut b = UnixStream::connect(&path).await.unwrap();
            assert_eq!(read_to_close(&mut b).await, "");
            // A prompt client is served as before.
            assert_eq!(status_of(&path).await["result"]["role"], "leader");
        };
        tokio::select! { _ = task => unreachable!(), _ = client => {} }
    });
}

#[test]
fn a_full_table_evicts_idle_connections_and_refuses_when_all_are_busy() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctl.sock");
        let server = ControlServer::bind(&path).await.unwrap();
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let entered = Arc::new(tokio::sync::Semaphore::new(0));
        let mut limits = short(3);
        limits.idle_timeout = std::time::Duration::from_secs(60);
        limits.line_timeout = std::time::Duration::from_secs(60);
        let task = server.serve_with(Arc::new(Slow(gate.clone(), entered.clone())), 0, limits);
        let client = async {
            // Three idle connections, then more: the oldest idle ones make room, and each is
            // told why; the prompt `status` is answered.
            let mut idle = Vec::new();
            for _ in 0..5 {
                idle.push(UnixStream::connect(&path).await.unwrap());
            }
            let mut partial = UnixStream::connect(&path).await.unwrap();
            partial.write_all(b"{\"id\":").await.unwrap();
            assert_eq!(status_of(&path).await["result"]["role"], "leader");
            for s in idle.iter_mut().take(3) {
                let got = read_to_close(s).await;
                assert!(got.contains("too_many_connections"), "{got}");
            }
            // All three places busy with requests in progress: a new connection is refused
            // with one line; the busy ones are answered once their requests complete.
            let mut busy = Vec::new();
            for _ in 0..3 {
                let mut s = UnixStream::connect(&path).await.unwrap();
                s.write_all(b"{\"id\":2,\"method\":\"commissioner.start\"}\n")
                    .await
                    .unwrap();
                busy.push(BufReader::new(s).lines());
                entered.acquire().await.unwrap().forget();
            }
            let mut refused = UnixStream::connect(&path).await.unwrap();
            let got = read_to_close(&mut refused).await;
            let v: Value = serde_json::from_str(got.trim()).unwrap();
            assert_eq!(v["error"]["code"], "too_many_connections", "{got}");
            gate.add_permits(3);
            for b in busy.iter_mut() {
                let line = b.next_line().await.unwrap().unwrap();
                assert!(line.contains("active"), "{line}");
            }
        };
        tokio::select! { _ = task => unreachable!(), _ = client => {} }
    });
}

#[test]
fn subscriptions_outlive_the_idle_timeout_and_have_their_own_cap() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctl.sock");
        let server = ControlServer::bind(&path).await.unwrap();
        let (tx, _) = tokio::sync::broadcast::channel(4);
        let task = server.serve_with(Arc::new(Streaming(tx.clone())), 0, short(2));
        let client = async {
            let s = UnixStream::connect(&path).await.unwrap();
            let (r, mut w) = s.into_split();
            let mut lines = BufReader::new(r).lines();
            w.write_all(b"{\"id\":1,\"method\":\"events.subscribe\"}\n")
                .await
                .unwrap();
            assert!(lines.next_line().await.unwrap().unwrap().contains("result"));
            // Past the idle timeout (200 ms), and with the connection table refilled.
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            assert_eq!(status_of(&path).await["result"]["role"], "leader");
            assert_eq!(status_of(&path).await["result"]["role"], "leader");
            tx.send(json!({"type": "joiner-seen"})).unwrap();
            let ev = lines.next_line().await.unwrap().unwrap();
            assert!(ev.contains("joiner-seen"), "{ev}");
            // A second subscription is refused (max 1); its connection stays usable.
            let s2 = UnixStream::connect(&path).await.unwrap();
            let (r2, mut w2) = s2.into_split();
            let mut l2 = BufReader::new(r2).lines();
            w2.write_all(
                b"{\"id\":7,\"method\":\"events.subscribe\"}\n{\"id\":8,\"method\":\"status\"}\n",
            )
            .await
            .unwrap();
            let a: Value = serde_json::from_str(&l2.next_line().await.unwrap().unwrap()).unwrap();
            assert_eq!(
                (&a["id"], &a["error"]["code"]),
                (&json!(7), &json!("too_many_connections"))
            );
            let b: Value = serde_json::from_str(&l2.next_line().await.unwrap().unwrap()).unwrap();
            assert_eq!(b["result"]["role"], "leader");
        };
        tokio::select! { _ = task => unreachable!(), _ = client => {} }
    });
}

#[test]
fn wildcard_and_discerner_entries_need_root_or_the_agents_uid() {
    let other = Peer {
        uid: 1001,
        gid: 1000,
        pid: Some(7),
    };
    let add = |sel: &str, peer: Peer| -> Value {
        let line =
            format!(r#"{{"id":1,"method":"joiner.add","params":{{{sel},"pskd":"J01NME"}}}}"#);
        let s = rt().block_on(handle_line(
            &Slow(
                Arc::new(tokio::sync::Semaphore::new(0)),
                Arc::new(tokio::sync::Semaphore::new(0)),
            ),
            1000,
            &peer,
            line.as_bytes(),
        ));
        assert!(!s.contains("J01NME"), "{s}");
        serde_json::from_str(&s).unwrap()
    };
    for sel in [r#""any":true"#, r#""discerner":"abc/12""#] {
        let v = add(sel, other);
        assert_eq!(v["error"]["code"], "permission_denied", "{sel}: {v}");
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("network key"));
        assert_eq!(add(sel, ME)["result"]["entry"], "added", "{sel}");
    }
    // One named device stays open to the socket's group.
    assert_eq!(
        add(r#""eui64":"18b4300000000002""#, other)["result"]["entry"],
        "added"
    );
}

/// The uid of this process, read from the file system (no unsafe needed).
fn unsafe_free_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(0)
}
