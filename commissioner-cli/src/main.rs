//! `threadctl`: the operator's tool for a running `thread-agent`, over its control socket
//! (newline-delimited JSON, see `docs/control-protocol.md`).
//!
//! Commands: `status [--json]`, `dataset export` (one line of hex TLVs on stdout),
//! `joiner add|list|remove`, `commissioner status|start|stop`, `events`, `completions <shell>`,
//! `man`. Socket: `--socket PATH`, else `$THREAD_AGENT_SOCKET`, else
//! `/run/thread-agent/control.sock`.
//!
//! Exit codes (contract): 0 ok; 1 the agent answered with an error (or did not answer);
//! 2 usage (also an invalid PSKd, checked before anything is sent); 3 agent not running (socket
//! missing or connection refused); 4 permission denied (on the socket, or the agent refused the
//! method for this user). `joiner add --wait` only: 5 the joiner's PSKd did not match; 6 the entry
//! expired before a joiner joined; 7 the joiner's JOIN_FIN was rejected; 8 the entry was removed
//! (by an operator) before a joiner joined.
//!
//! Guarantees: the PSKd is read into `meshcop::credentials::Pskd` (validated, zeroized on drop),
//! sent only inside the `joiner.add` request, never printed.
//!
//! Validated by the unit tests below (reply parsing, table rendering, exit code mapping) and by
//! hand against a running agent on the simulation NCP.

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand};
use meshcop::credentials::{Discerner, Pskd};
use serde_json::{json, Value};

const DEFAULT_SOCKET: &str = "/run/thread-agent/control.sock";

/// Exit codes of `joiner add --wait` (1..4 are the general ones).
mod exit {
    pub const WRONG_PSKD: u8 = 5;
    pub const EXPIRED: u8 = 6;
    pub const REJECTED: u8 = 7;
    pub const REMOVED: u8 = 8;
}

const EXIT_CODES: &str = "Exit codes: 0 ok; 1 the agent answered with an error; 2 usage; 3 agent not running; \
4 permission denied; joiner add --wait: 5 PSKd mismatch, 6 entry expired (timed out), 7 JOIN_FIN rejected, \
8 entry removed before a joiner joined.";
/// `status` may read several properties from a slow co-processor.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// Control a running thread-agent.
#[derive(Debug, Parser)]
#[command(name = "threadctl", version, about, after_help = EXIT_CODES)]
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
    #[command(after_help = "Examples:\n  threadctl status\n  threadctl status --json | jq .role")]
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
    /// Joiner table: admit devices to the network.
    Joiner {
        #[command(subcommand)]
        command: JoinerCommand,
    },
    /// The on-mesh commissioner session (started automatically when a joiner is added).
    Commissioner {
        #[command(subcommand)]
        command: CommissionerCommand,
    },
    /// Follow the commissioner's events (until interrupted).
    #[command(
        after_help = "Examples:\n  threadctl events\n  threadctl events --json | jq -c 'select(.type == \"joiner-joined\")'"
    )]
    Events {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  threadctl completions bash > /etc/bash_completion.d/threadctl\n  threadctl completions zsh > ~/.zfunc/_threadctl"
    )]
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff).
    #[command(after_help = "Example:\n  threadctl man > /usr/share/man/man1/threadctl.1")]
    Man,
}

#[derive(Debug, Subcommand)]
enum DatasetCommand {
    /// Print the active operational dataset as one line of hex TLVs (contains the network key:
    /// root or the agent's user only).
    #[command(after_help = "Example:\n  threadctl dataset export > /root/thread-dataset.hex")]
    Export,
}

/// Which joiners an entry admits.
#[derive(Debug, Args)]
#[group(required = false, multiple = false)]
struct Selector {
    /// One device, by its factory EUI-64 (16 hex digits; `eui64` on an OpenThread CLI device).
    #[arg(long, value_name = "HEX")]
    eui64: Option<String>,
    /// Devices whose joiner discerner matches (value in hex / length in bits, e.g. abc/12).
    #[arg(long, value_name = "HEX/BITS")]
    discerner: Option<String>,
    /// Any device that knows the PSKd (wildcard).
    #[arg(long)]
    any: bool,
}

#[derive(Debug, Subcommand)]
enum JoinerCommand {
    /// Add (or replace) a joiner entry; the commissioner petitions if it is not active yet.
    #[command(after_help = "Examples:
  threadctl joiner add --eui64 18b4300000000002 --pskd J01NME --wait
  threadctl joiner add --discerner abc/12 --pskd-file /run/secrets/pskd --timeout 600
  echo J01NME | threadctl joiner add --any --pskd -
  threadctl joiner add --qr 'v=1&&eui=18b4300000000002&&cc=J01NME' --wait

With --wait, progress is printed as it happens and the exit code tells the outcome:
0 joined (JOIN_FIN accepted and entrusted), 5 PSKd mismatch, 6 entry expired, 7 JOIN_FIN
rejected, 8 entry removed.")]
    Add {
        #[command(flatten)]
        who: Selector,
        /// The joiner's PSKd (6..32 of 0-9 A-Y without I O Q); `-` reads it from stdin.
        #[arg(long, value_name = "PSKD", group = "secret")]
        pskd: Option<String>,
        /// Read the PSKd from the first line of this file.
        #[arg(long, value_name = "PATH", group = "secret")]
        pskd_file: Option<PathBuf>,
        /// A Thread QR code payload (`v=1&&eui=<EUI-64>&&cc=<PSKd>...`): EUI-64 and PSKd from it.
        #[arg(long, value_name = "TEXT", group = "secret")]
        qr: Option<String>,
        /// Entry lifetime in seconds (default: the agent's `[commissioner] joiner_timeout`, 120).
        #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86400))]
        timeout: Option<u64>,
        /// Wait for the outcome and print progress.
        #[arg(long)]
        wait: bool,
        /// With --wait: print the events as JSON lines; without: print the agent's reply.
        #[arg(long)]
        json: bool,
    },
    /// List the joiner entries (never shows PSKds).
    #[command(after_help = "Examples:\n  threadctl joiner list\n  threadctl joiner list --json")]
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a joiner entry.
    #[command(
        after_help = "Examples:\n  threadctl joiner remove --eui64 18b4300000000002\n  threadctl joiner remove --any"
    )]
    Remove {
        #[command(flatten)]
        who: Selector,
    },
}

#[derive(Debug, Subcommand)]
enum CommissionerCommand {
    /// Show the commissioner session, the Border Agent and what the leader reports.
    #[command(
        after_help = "Examples:\n  threadctl commissioner status\n  threadctl commissioner status --json | jq .session_id"
    )]
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Petition now and stay active until `commissioner stop`.
    #[command(after_help = "Example:\n  threadctl commissioner start")]
    Start {
        #[arg(long)]
        json: bool,
    },
    /// Resign; no automatic petition until the next `joiner add` or `commissioner start`.
    #[command(after_help = "Example:\n  threadctl commissioner stop")]
    Stop,
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
    call_with(path, method, json!({}))
}

/// Sends one request with parameters and reads one reply line.
fn call_with(path: &Path, method: &str, params: Value) -> Result<Value, Failure> {
    let mut stream = UnixStream::connect(path).map_err(|e| connect_error(path, &e))?;
    let _ = stream.set_read_timeout(Some(REPLY_TIMEOUT));
    let mut req = json!({"id": 1, "method": method, "params": params}).to_string();
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

/// The strings of the array `key`, joined by spaces ("" when absent).
fn str_list(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// A reply as its JSON line (`--json`) or as rendered by `render`.
fn json_or(r: &Value, json: bool, render: fn(&Value) -> String) -> String {
    if json {
        format!("{r}\n")
    } else {
        render(r)
    }
}

/// The human-readable status table.
fn render_status(v: &Value) -> String {
    let mut out = String::new();
    let ncp = v.get("ncp").cloned().unwrap_or(Value::Null);
    let caps = str_list(&ncp, "capabilities");
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
    if let Some(b) = v.get("bridge").filter(|b| b.is_object()) {
        let addresses = str_list(b, "addresses");
        let infra = match b.get("infra_interface").and_then(Value::as_str) {
            Some(i) => format!(" ({i})"),
            None => String::new(),
        };
        let rows = [
            (
                "Interface",
                format!("{} {}", s(b, "interface"), s(b, "state")),
            ),
            ("Addresses", addresses),
            ("OMR prefix", s(b, "omr_prefix").to_string()),
            (
                "Border routing",
                format!("{}{infra}", s(b, "border_routing")),
            ),
            (
                "Packets",
                format!(
                    "rx {} tx {} dropped {}",
                    n(b, "rx_packets"),
                    n(b, "tx_packets"),
                    n(b, "drops")
                ),
            ),
        ];
        for (k, val) in rows {
            out.push_str(&format!("{:<18} {}\n", format!("{k}:"), val));
        }
    }
    out
}

fn run(cli: Cli) -> Result<String, Failure> {
    match cli.command {
        Command::Status { json } => {
            let r = call(&cli.socket, "status")?;
            Ok(json_or(&r, json, render_status))
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
        Command::Joiner { command } => joiner(&cli.socket, command),
        Command::Commissioner { command } => match command {
            CommissionerCommand::Status { json } => {
                let r = call(&cli.socket, "commissioner.status")?;
                Ok(json_or(&r, json, render_commissioner))
            }
            CommissionerCommand::Start { json } => {
                let r = call(&cli.socket, "commissioner.start")?;
                Ok(json_or(&r, json, render_commissioner))
            }
            CommissionerCommand::Stop => {
                let r = call(&cli.socket, "commissioner.stop")?;
                Ok(format!("commissioner {}\n", s(&r, "state")))
            }
        },
        Command::Events { json } => {
            let mut sub = Subscription::open(&cli.socket)?;
            loop {
                let ev = sub.next()?;
                let line = if json {
                    format!("{ev}\n")
                } else {
                    render_event(&ev)
                };
                print_now(&line);
            }
        }
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "threadctl", &mut out);
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
        Command::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut out)
                .map_err(|e| fail(1, format!("cannot render the manual: {e}")))?;
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
    }
}

fn print_now(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// The `joiner.add`/`joiner.remove` selector as request parameters.
fn selector_params(
    who: &Selector,
    qr_eui: Option<&str>,
) -> Result<serde_json::Map<String, Value>, Failure> {
    let mut m = serde_json::Map::new();
    if let Some(e) = &who.eui64 {
        let clean = e.trim().replace([':', '-'], "");
        if clean.len() != 16 || hex::decode(&clean).is_err() {
            return Err(fail(
                2,
                format!("--eui64 {e:?}: expected 16 hex digits (8 bytes)"),
            ));
        }
        m.insert("eui64".into(), json!(clean.to_ascii_lowercase()));
    } else if let Some(d) = &who.discerner {
        let parsed: Discerner = d
            .parse()
            .map_err(|e| fail(2, format!("--discerner: {e}")))?;
        m.insert(
            "discerner".into(),
            json!(format!("{:x}/{}", parsed.value(), parsed.bits())),
        );
    } else if who.any {
        m.insert("any".into(), json!(true));
    } else if let Some(e) = qr_eui {
        m.insert("eui64".into(), json!(e));
    } else {
        return Err(fail(
            2,
            "say which joiners: --eui64 HEX, --discerner HEX/BITS or --any (or --qr with an eui)",
        ));
    }
    Ok(m)
}

/// A Thread QR payload `v=1&&eui=<16 hex>&&cc=<PSKd>[&&...]`: (EUI-64, PSKd text).
fn parse_qr(text: &str) -> Result<(String, String), Failure> {
    let mut eui = None;
    let mut cc = None;
    let mut version = None;
    for part in text.trim().split("&&") {
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        match k.trim().to_ascii_lowercase().as_str() {
            "v" => version = Some(v.trim().to_string()),
            "eui" => eui = Some(v.trim().to_ascii_lowercase()),
            "cc" => cc = Some(v.trim().to_string()),
            _ => {}
        }
    }
    if version.as_deref() != Some("1") {
        return Err(fail(
            2,
            "--qr: not a Thread QR code payload (expected v=1&&eui=...&&cc=...)",
        ));
    }
    let eui = eui.ok_or_else(|| fail(2, "--qr: no `eui=` field"))?;
    if eui.len() != 16 || hex::decode(&eui).is_err() {
        return Err(fail(2, "--qr: `eui` is not 16 hex digits"));
    }
    let cc = cc.ok_or_else(|| fail(2, "--qr: no `cc=` (PSKd) field"))?;
    Ok((eui, cc))
}

/// Reads and validates the PSKd (before anything is sent to the agent).
fn read_pskd(
    pskd: Option<&str>,
    pskd_file: Option<&Path>,
    qr_cc: Option<String>,
) -> Result<Pskd, Failure> {
    let text =
        match (pskd, pskd_file, qr_cc) {
            (Some("-"), _, _) => {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .map_err(|e| fail(2, format!("cannot read the PSKd from stdin: {e}")))?;
                line
            }
            (Some(p), _, _) => p.to_string(),
            (None, Some(path), _) => {
                let all = std::fs::read_to_string(path).map_err(|e| {
                    fail(
                        2,
                        format!("cannot read --pskd-file {}: {e}", path.display()),
                    )
                })?;
                all.lines().next().unwrap_or("").to_string()
            }
            (None, None, Some(cc)) => cc,
            (None, None, None) => return Err(fail(
                2,
                "give the joiner's PSKd: --pskd PSKD, --pskd - (stdin), --pskd-file PATH or --qr",
            )),
        };
    let text = zeroize::Zeroizing::new(text);
    Pskd::new(text.trim()).map_err(|e| fail(2, format!("invalid PSKd: {e}")))
}

fn joiner(socket: &Path, command: JoinerCommand) -> Result<String, Failure> {
    match command {
        JoinerCommand::Add {
            who,
            pskd,
            pskd_file,
            qr,
            timeout,
            wait,
            json,
        } => {
            let (qr_eui, qr_cc) = match &qr {
                Some(q) => {
                    let (e, c) = parse_qr(q)?;
                    (Some(e), Some(c))
                }
                None => (None, None),
            };
            let mut params = selector_params(&who, qr_eui.as_deref())?;
            let pskd = read_pskd(pskd.as_deref(), pskd_file.as_deref(), qr_cc)?;
            if let Some(t) = timeout {
                params.insert("timeout".into(), json!(t));
            }
            // Subscribe first so no event of this joiner is missed.
            let mut sub = if wait {
                Some(Subscription::open(socket)?)
            } else {
                None
            };
            params.insert("pskd".into(), json!(pskd.as_str()));
            let reply = call_with(socket, "joiner.add", Value::Object(params));
            let r = reply?;
            let entry = s(&r, "entry").to_string();
            let Some(sub) = sub.as_mut() else {
                return Ok(if json {
                    format!("{r}\n")
                } else {
                    format!(
                        "joiner entry {entry} added (expires in {} s; commissioner {})\n",
                        n(&r, "timeout"),
                        s(&r, "commissioner")
                    )
                });
            };
            if !json {
                print_now(&format!(
                    "joiner entry {entry} added (expires in {} s); waiting for the joiner...\n",
                    n(&r, "timeout")
                ));
            }
            wait_for_joiner(sub, &entry, json)
        }
        JoinerCommand::List { json } => {
            let r = call(socket, "joiner.list")?;
            Ok(json_or(&r, json, render_joiners))
        }
        JoinerCommand::Remove { who } => {
            let params = selector_params(&who, None)?;
            let r = call_with(socket, "joiner.remove", Value::Object(params))?;
            Ok(format!("removed {}\n", s(&r, "removed")))
        }
    }
}

/// What `--wait` concludes from one event of our entry.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Continue,
    Joined,
    Fail(u8, String),
}

fn judge(ev: &Value, entry: &str) -> Outcome {
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

fn wait_for_joiner(sub: &mut Subscription, entry: &str, json: bool) -> Result<String, Failure> {
    loop {
        let ev = sub.next()?;
        if ev.get("entry").and_then(Value::as_str) == Some(entry) {
            print_now(&if json {
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

/// An `events.subscribe` connection.
struct Subscription {
    reader: BufReader<UnixStream>,
}

impl Subscription {
    fn open(path: &Path) -> Result<Subscription, Failure> {
        let mut stream = UnixStream::connect(path).map_err(|e| connect_error(path, &e))?;
        let req = format!(
            "{}\n",
            json!({"id": 1, "method": "events.subscribe", "params": {}})
        );
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
    fn next(&mut self) -> Result<Value, Failure> {
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

/// One human-readable line for an event.
fn render_event(ev: &Value) -> String {
    let t = s(ev, "type");
    let who = ev
        .get("eui64")
        .or_else(|| ev.get("joiner_id"))
        .and_then(Value::as_str)
        .map(|w| format!(" {w}"))
        .unwrap_or_default();
    let detail = match t {
        "joiner-seen" => format!("via joiner router {}", s(ev, "joiner_router")),
        "joiner-handshake-failed" => {
            let mut d = s(ev, "reason").to_string();
            if let Some(x) = ev.get("detail").and_then(Value::as_str) {
                d.push_str(&format!(" ({x})"));
            }
            d
        }
        "joiner-finalize" => format!(
            "{} vendor={:?} model={:?} sw={:?}{}",
            if ev.get("accepted") == Some(&json!(true)) {
                "accepted"
            } else {
                "rejected"
            },
            s(ev, "vendor_name"),
            s(ev, "vendor_model"),
            s(ev, "vendor_sw_version"),
            ev.get("reason")
                .and_then(Value::as_str)
                .map(|r| format!(" reason: {r}"))
                .unwrap_or_default()
        ),
        "joiner-joined" => format!(
            "attached as {} (rloc16 {}; best-effort match)",
            s(ev, "ext_address"),
            s(ev, "rloc16")
        ),
        "entry-added" | "entry-expired" => s(ev, "entry").to_string(),
        "entry-removed" => format!("{} ({})", s(ev, "entry"), s(ev, "reason")),
        "petition-accepted" => format!("session id {}", n(ev, "session_id")),
        "steering-data-updated" => s(ev, "steering_data").to_string(),
        _ => ev
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    };
    format!(
        "{t}{who}{}{detail}\n",
        if detail.is_empty() { "" } else { ": " }
    )
}

fn render_joiners(v: &Value) -> String {
    let list = v
        .get("joiners")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if list.is_empty() {
        return "no joiner entries\n".into();
    }
    let mut out = format!("{:<36}  {:<16}  {}\n", "ENTRY", "JOINER ID", "EXPIRES IN");
    for e in &list {
        out.push_str(&format!(
            "{:<36}  {:<16}  {} s\n",
            s(e, "entry"),
            e.get("joiner_id").and_then(Value::as_str).unwrap_or("-"),
            n(e, "expires_in")
        ));
    }
    out
}

fn render_commissioner(v: &Value) -> String {
    let ba = v.get("border_agent").cloned().unwrap_or(Value::Null);
    let leader = v.get("leader").cloned().unwrap_or(Value::Null);
    let ba_text = match ba.get("active") {
        Some(Value::Bool(true)) => format!("active, UDP port {}", n(&ba, "port")),
        Some(_) => "not active".to_string(),
        None => s(&ba, "error").to_string(),
    };
    // The Border Agent's own answer to MGMT_COMMISSIONER_GET (only while active).
    let ba_answer = if let Some(e) = ba.get("get_error").and_then(Value::as_str) {
        Some(format!("no answer: {e}"))
    } else if ba.get("session_id").is_some() || ba.get("steering_data").is_some() {
        let mut t = format!(
            "session id {}, border agent {}, steering data {}",
            n(&ba, "session_id"),
            s(&ba, "border_agent_locator"),
            s(&ba, "steering_data")
        );
        if let Some(p) = ba.get("joiner_udp_port").filter(|p| !p.is_null()) {
            t.push_str(&format!(", joiner UDP port {p}"));
        }
        Some(t)
    } else {
        None
    };
    let leader_text = if leader.is_null() {
        "no active commissioner".to_string()
    } else {
        format!(
            "session id {}, border agent {}, steering data {}",
            n(&leader, "session_id"),
            s(&leader, "border_agent_locator"),
            s(&leader, "steering_data")
        )
    };
    let mut rows = vec![
        ("State", s(v, "state").to_string()),
        ("Session ID", n(v, "session_id")),
        ("Commissioner ID", s(v, "commissioner_id").to_string()),
        ("Border agent", ba_text),
    ];
    if let Some(t) = ba_answer {
        rows.push(("BA reports", t));
    }
    rows.extend([
        ("Leader reports", leader_text),
        ("Joiner entries", n(v, "entries")),
        ("Joiner sessions", n(v, "joiner_sessions")),
        ("Steering data", s(v, "steering_data").to_string()),
        ("Joined", n(v, "joined")),
    ]);
    let mut out = String::new();
    for (k, val) in rows {
        out.push_str(&format!("{:<17} {}\n", format!("{k}:"), val));
    }
    if let Some(e) = v.get("last_error").and_then(Value::as_str) {
        out.push_str(&format!("{:<17} {e}\n", "Last error:"));
    }
    out
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
        assert!(!t.contains("Border routing"), "{t}");
        let mut v = v;
        v["bridge"] = json!({"interface":"wpan0","state":"up","addresses":["fd00:db8::1"],
            "omr_prefix":"fd11::/64","border_routing":"active","infra_interface":"eth0",
            "rx_packets":5,"tx_packets":6,"drops":0});
        let t = render_status(&v);
        assert!(t.contains("Interface:         wpan0 up"), "{t}");
        assert!(t.contains("Border routing:    active (eth0)"), "{t}");
        assert!(t.contains("Packets:           rx 5 tx 6 dropped 0"), "{t}");
    }

    #[test]
    fn commissioner_table_shows_the_border_agents_answer() {
        let v = json!({"state":"active","session_id":983,"commissioner_id":"thread-agent",
            "border_agent":{"active":true,"port":49153,"session_id":983,
                "border_agent_locator":"0xfc00","steering_data":"ff"},
            "leader":{"session_id":983,"border_agent_locator":"0xfc00","steering_data":"ff"}});
        let t = render_commissioner(&v);
        assert!(t.contains("State:            active"), "{t}");
        assert!(
            t.contains("BA reports:       session id 983, border agent 0xfc00, steering data ff\n"),
            "{t}"
        );
        let v = json!({"state":"active","border_agent":{"active":true,"port":1,"get_error":"timeout"}});
        assert!(render_commissioner(&v).contains("BA reports:       no answer: timeout"));
        let v = json!({"state":"idle","border_agent":{"active":true,"port":1}});
        assert!(!render_commissioner(&v).contains("BA reports"));
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

    #[test]
    fn qr_codes() {
        let (e, c) = parse_qr("v=1&&eui=18B4300000000002&&cc=J01NME&&vn=Acme").unwrap();
        assert_eq!((e.as_str(), c.as_str()), ("18b4300000000002", "J01NME"));
        assert_eq!(
            parse_qr("eui=18b4300000000002&&cc=J01NME")
                .unwrap_err()
                .code,
            2
        );
        assert_eq!(parse_qr("v=1&&eui=18b43&&cc=J01NME").unwrap_err().code, 2);
        assert_eq!(parse_qr("v=1&&eui=18b4300000000002").unwrap_err().code, 2);
    }

    #[test]
    fn pskd_checked_before_sending() {
        let e = read_pskd(Some("j01nme"), None, None).unwrap_err();
        assert_eq!(e.code, 2);
        assert!(!e.message.contains("j01nme"));
        assert!(read_pskd(Some("J01NME"), None, None).is_ok());
        assert!(read_pskd(None, None, Some("J01NME".into())).is_ok());
        assert_eq!(read_pskd(None, None, None).unwrap_err().code, 2);
        let dir = std::env::temp_dir().join(format!("threadctl-pskd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("pskd");
        std::fs::write(&f, "J01NME\n").unwrap();
        assert!(read_pskd(None, Some(&f), None).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn wait_outcomes() {
        let entry = "eui64:18b4300000000002";
        let ev = |t: &str, extra: Value| {
            let mut v = json!({"type": t, "entry": entry, "eui64": "18b4300000000002"});
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            v
        };
        assert_eq!(
            judge(&ev("joiner-seen", json!({})), entry),
            Outcome::Continue
        );
        assert_eq!(
            judge(&ev("joiner-entrusted", json!({})), entry),
            Outcome::Joined
        );
        assert!(matches!(
            judge(&ev("joiner-handshake-failed", json!({"reason": "wrong-pskd"})), entry),
            Outcome::Fail(5, m) if m.contains("PSKd mismatch")
        ));
        assert_eq!(
            judge(
                &ev("joiner-handshake-failed", json!({"reason": "timeout"})),
                entry
            ),
            Outcome::Continue
        );
        assert!(matches!(
            judge(&ev("entry-expired", json!({})), entry),
            Outcome::Fail(6, _)
        ));
        assert!(matches!(
            judge(
                &ev("joiner-finalize", json!({"accepted": false, "reason": "x"})),
                entry
            ),
            Outcome::Fail(7, _)
        ));
        assert!(matches!(
            judge(&ev("entry-removed", json!({"reason": "operator"})), entry),
            Outcome::Fail(8, _)
        ));
        assert_eq!(
            judge(&ev("entry-removed", json!({"reason": "joined"})), entry),
            Outcome::Continue
        );
        // Another entry's events are ignored.
        assert_eq!(
            judge(&json!({"type": "joiner-entrusted", "entry": "any"}), entry),
            Outcome::Continue
        );
    }

    #[test]
    fn joiner_usage() {
        assert!(Cli::try_parse_from([
            "threadctl",
            "joiner",
            "add",
            "--any",
            "--eui64",
            "18b4300000000002",
            "--pskd",
            "J01NME"
        ])
        .is_err());
        assert!(Cli::try_parse_from([
            "threadctl",
            "joiner",
            "add",
            "--any",
            "--pskd",
            "J01NME",
            "--qr",
            "v=1"
        ])
        .is_err());
        assert!(Cli::try_parse_from([
            "threadctl",
            "joiner",
            "add",
            "--any",
            "--pskd",
            "J01NME",
            "--timeout",
            "0"
        ])
        .is_err());
        let c = Cli::try_parse_from([
            "threadctl",
            "joiner",
            "add",
            "--discerner",
            "abc/12",
            "--pskd",
            "-",
            "--wait",
        ])
        .unwrap();
        assert!(matches!(
            c.command,
            Command::Joiner {
                command: JoinerCommand::Add { wait: true, .. }
            }
        ));
        assert!(Cli::try_parse_from(["threadctl", "completions", "bash"]).is_ok());
        Cli::command().debug_assert();
    }
}
