//! The agent's control socket: one request and its reply ([`call`]), or an event stream
//! ([`Subscription`]). Requests are `control::Request` values; replies stay JSON.

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use control::Request;
use serde_json::Value;

/// `status` may read several properties from a slow co-processor.
pub(crate) const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// A failure with its exit code and message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) message: String,
}

pub(crate) fn fail(code: u8, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

pub(crate) fn connect_error(path: &Path, e: &std::io::Error) -> Failure {
    match e.kind() {
        ErrorKind::NotFound | ErrorKind::ConnectionRefused => fail(
            3,
            format!(
                "thread-agent is not running (no agent listening on {}); start it, or pass --socket / set THREAD_AGENT_SOCKET",
                path.display()
            ),
        ),
        ErrorKind::PermissionDenied => fail(
            4,
            format!(
                "permission denied on the socket {}: run as root or as a member of the socket's group",
                path.display()
            ),
        ),
        _ => fail(1, format!("cannot connect to {}: {e}", path.display())),
    }
}

/// Sends one request and reads one reply line.
pub(crate) fn call(path: &Path, request: &Request) -> Result<Value, Failure> {
    let mut stream = UnixStream::connect(path).map_err(|e| connect_error(path, &e))?;
    let _ = stream.set_read_timeout(Some(REPLY_TIMEOUT));
    if let Err(e) = stream.write_all(request.line(1).as_bytes()) {
        // The agent may have refused the connection with one line (`too_many_connections`)
        // and closed it: that line says more than the broken pipe.
        let mut line = String::new();
        let _ = BufReader::new(&stream).read_line(&mut line);
        if !line.trim().is_empty() {
            return parse_reply(&line);
        }
        return Err(fail(
            1,
            format!("cannot send the request to {}: {e}", path.display()),
        ));
    }
    let mut line = String::new();
    BufReader::new(&stream)
        .read_line(&mut line)
        .map_err(|e| match e.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => {
                fail(1, "thread-agent did not answer in time")
            }
            _ => fail(1, format!("cannot read the reply: {e}")),
        })?;
    parse_reply(&line)
}

/// Turns a reply line into the result or a failure.
pub(crate) fn parse_reply(line: &str) -> Result<Value, Failure> {
    if line.trim().is_empty() {
        return Err(fail(
            1,
            "thread-agent closed the connection without answering",
        ));
    }
    let v: Value = serde_json::from_str(line.trim())
        .map_err(|e| fail(1, format!("unreadable reply from thread-agent: {e}")))?;
    if let Some(err) = v.get("error") {
        let code = err.get("code").and_then(Value::as_str).unwrap_or("error");
        let message = err.get("message").and_then(Value::as_str).unwrap_or("");
        let exit = match code {
            "permission_denied" => 4,
            "change_pending" | "network_exists" => crate::lifecycle::REFUSED,
            _ => 1,
        };
        return Err(fail(exit, format!("thread-agent: {code}: {message}")));
    }
    v.get("result")
        .cloned()
        .ok_or_else(|| fail(1, "reply from thread-agent has neither result nor error"))
}

/// An `events.subscribe` connection.
pub(crate) struct Subscription {
    reader: BufReader<UnixStream>,
}

impl Subscription {
    pub(crate) fn open(path: &Path) -> Result<Subscription, Failure> {
        let mut stream = UnixStream::connect(path).map_err(|e| connect_error(path, &e))?;
        let req = Request::EventsSubscribe.line(1);
        stream
            .write_all(req.as_bytes())
            .map_err(|e| fail(1, format!("cannot subscribe to events: {e}")))?;
        let _ = stream.set_read_timeout(Some(REPLY_TIMEOUT));
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader
            .read_line(&mut line)
            .map_err(|e| fail(1, format!("cannot read the subscription reply: {e}")))?;
        parse_reply(&line)?;
        let _ = reader.get_ref().set_read_timeout(None);
        Ok(Subscription { reader })
    }

    /// The next event object.
    pub(crate) fn next(&mut self) -> Result<Value, Failure> {
        loop {
            let mut line = String::new();
            let n = self
                .reader
                .read_line(&mut line)
                .map_err(|e| fail(1, format!("event stream: {e}")))?;
            if n == 0 {
                return Err(fail(1, "thread-agent closed the event stream (stopped?)"));
            }
            let Ok(v) = serde_json::from_str::<Value>(line.trim()) else {
                continue;
            };
            if let Some(ev) = v.get("event") {
                return Ok(ev.clone());
            }
        }
    }
}
