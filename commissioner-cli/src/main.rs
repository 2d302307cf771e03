//! `threadctl`: the operator's tool for a running `thread-agent`, over its control socket
//! (newline-delimited JSON, see `docs/control-protocol.md`).
//!
//! Commands: `status [--json]`, `dataset export` (one line of hex TLVs on stdout).
//! Socket: `--socket PATH`, else `$THREAD_AGENT_SOCKET`, else `/run/thread-agent/control.sock`.
//!
//! Exit codes (contract): 0 ok; 1 the agent answered with an error (or did not answer);
//! 2 usage; 3 agent not running (socket missing or connection refused); 4 permission denied
//! (on the socket, or the agent refused the method for this user).
//!
//! Validated by the unit tests below (reply parsing, table rendering, exit code mapping) and by
//! hand against a running agent on the simulation NCP.

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use serde_json::{json, Value};

const DEFAULT_SOCKET: &str = "/run/thread-agent/control.sock";
/// `status` may read several properties from a slow co-processor.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// Control a running thread-agent.
#[derive(Debug, Parser)]
#[command(name = "threadctl", version, about)]
struct Cli {
    /// The agent's control socket.
    #[arg(long, value_name = "PATH", env = "THREAD_AGENT_SOCKET", default_value = DEFAULT_SOCKET, global = true)]
    socket: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the network and co-processor status.
    Status {
        /// Print the agent's JSON result instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Operational dataset commands.
    Dataset {
        #[command(subcommand)]
        command: DatasetCommand,
    },
}

#[derive(Debug, Subcommand)]
enum DatasetCommand {
    /// Print the active operational dataset as one line of hex TLVs (contains the network key:
    /// root or the agent's user only).
    Export,
}

/// A failure with its exit code and message.
#[derive(Debug, PartialEq, Eq)]
struct Failure {
    code: u8,
    message: String,
}

fn fail(code: u8, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

fn connect_error(path: &Path, e: &std::io::Error) -> Failure {
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
fn call(path: &Path, method: &str) -> Result<Value, Failure> {
    let mut stream = UnixStream::connect(path).map_err(|e| connect_error(path, &e))?;
    let _ = stream.set_read_timeout(Some(REPLY_TIMEOUT));
    let mut req = json!({"id": 1, "method": method, "params": {}}).to_string();
    req.push('\n');
    stream.write_all(req.as_bytes()).map_err(|e| {
        fail(
            1,
            format!("cannot send the request to {}: {e}", path.display()),
        )
    })?;
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
fn parse_reply(line: &str) -> Result<Value, Failure> {
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
        let exit = if code == "permission_denied" { 4 } else { 1 };
        return Err(fail(exit, format!("thread-agent: {code}: {message}")));
    }
    v.get("result")
        .cloned()
        .ok_or_else(|| fail(1, "reply from thread-agent has neither result nor error"))
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("-")
}

fn n(v: &Value, key: &str) -> String {
    v.get(key)
        .map(|x| {
            if x.is_null() {
                "-".to_string()
            } else {
                x.to_string()
            }
        })
        .unwrap_or_else(|| "-".into())
}

/// The human-readable status table.
fn render_status(v: &Value) -> String {
    let mut out = String::new();
    let ncp = v.get("ncp").cloned().unwrap_or(Value::Null);
    let caps = ncp
        .get("capabilities")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    let rows = [
        ("Role", s(v, "role").to_string()),
        ("Network name", s(v, "network_name").to_string()),
        ("Channel", n(v, "channel")),
        ("PAN ID", s(v, "pan_id").to_string()),
        ("Extended PAN ID", s(v, "ext_pan_id").to_string()),
        ("Mesh-local prefix", s(v, "mesh_local_prefix").to_string()),
        ("Partition ID", n(v, "partition_id")),
        ("RLOC16", s(v, "rloc16").to_string()),
        ("NCP version", s(&ncp, "version").to_string()),
        ("NCP EUI-64", s(&ncp, "eui64").to_string()),
        ("NCP capabilities", caps),
    ];
    for (k, val) in rows {
        out.push_str(&format!("{:<18} {}\n", format!("{k}:"), val));
    }
    let neighbors = v
        .get("neighbors")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    out.push_str(&format!("Neighbors:         {}\n", neighbors.len()));
    if !neighbors.is_empty() {
        out.push_str(&format!(
            "  {:<16}  {:<6}  {:>2}  {:>6}  {}\n",
            "EXT ADDRESS", "RLOC16", "LQ", "AGE(s)", "CHILD"
        ));
        for nb in &neighbors {
            let child = match nb.get("is_child").and_then(Value::as_bool) {
                Some(true) => "yes",
                Some(false) => "no",
                None => "-",
            };
            out.push_str(&format!(
                "  {:<16}  {:<6}  {:>2}  {:>6}  {}\n",
                s(nb, "ext_address"),
                s(nb, "rloc16"),
                n(nb, "link_quality"),
                n(nb, "age"),
                child
            ));
        }
    }
    out
}

fn run(cli: Cli) -> Result<String, Failure> {
    match cli.command {
        Command::Status { json } => {
            let r = call(&cli.socket, "status")?;
            Ok(if json {
                format!("{r}\n")
            } else {
                render_status(&r)
            })
        }
        Command::Dataset {
            command: DatasetCommand::Export,
        } => {
            let r = call(&cli.socket, "dataset.export")?;
            let tlvs = r
                .get("tlvs")
                .and_then(Value::as_str)
                .ok_or_else(|| fail(1, "reply has no `tlvs`"))?;
            Ok(format!("{tlvs}\n"))
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(cli) {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(out.as_bytes());
            let _ = stdout.flush();
            ExitCode::SUCCESS
        }
        Err(f) => {
            eprintln!("threadctl: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies() {
        assert_eq!(
            parse_reply(r#"{"id":1,"result":{"a":1}}"#).unwrap(),
            json!({"a":1})
        );
        let e = parse_reply(r#"{"id":1,"error":{"code":"permission_denied","message":"no"}}"#)
            .unwrap_err();
        assert_eq!(e.code, 4);
        assert!(e.message.contains("permission_denied"));
        assert_eq!(
            parse_reply(r#"{"id":1,"error":{"code":"ncp_unavailable","message":"x"}}"#)
                .unwrap_err()
                .code,
            1
        );
        assert_eq!(parse_reply("garbage").unwrap_err().code, 1);
        assert_eq!(parse_reply("").unwrap_err().code, 1);
    }

    #[test]
    fn connect_errors() {
        let p = Path::new("/nonexistent/ctl.sock");
        let e = call(p, "status").unwrap_err();
        assert_eq!(e.code, 3);
        assert!(e.message.contains("not running"), "{}", e.message);
        let denied = connect_error(p, &std::io::Error::from(ErrorKind::PermissionDenied));
        assert_eq!(denied.code, 4);
        assert!(denied.message.contains("permission denied on the socket"));
        // A stale socket file with nobody listening: connection refused -> not running.
        let dir = std::env::temp_dir().join(format!("threadctl-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("stale.sock");
        drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
        assert_eq!(call(&sock, "status").unwrap_err().code, 3);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn table() {
        let v = json!({"role":"leader","network_name":"ThreadAgent","channel":15,"pan_id":"0xface",
            "ext_pan_id":"dead00beef00cafe","mesh_local_prefix":"fd00:db8::/64","partition_id":7,"rloc16":"0x0400",
            "ncp":{"version":"OT","eui64":"18b4300000000001","capabilities":["CONFIG_FTD"]},
            "neighbors":[{"ext_address":"1122334455667788","rloc16":"0x0401","link_quality":3,"age":2,"is_child":true}]});
        let t = render_status(&v);
        assert!(t.contains("Role:              leader"), "{t}");
        assert!(t.contains("Neighbors:         1"));
        assert!(
            t.contains("1122334455667788  0x0401   3       2  yes"),
            "{t}"
        );
    }

    #[test]
    fn usage() {
        assert!(Cli::try_parse_from(["threadctl"]).is_err());
        assert!(Cli::try_parse_from(["threadctl", "frobnicate"]).is_err());
        let c = Cli::try_parse_from(["threadctl", "--socket", "/x", "status", "--json"]).unwrap();
        assert_eq!(c.socket, PathBuf::from("/x"));
        assert!(matches!(c.command, Command::Status { json: true }));
        let c = Cli::try_parse_from(["threadctl", "dataset", "export", "--socket", "/y"]).unwrap();
        assert_eq!(c.socket, PathBuf::from("/y"));
    }
}
