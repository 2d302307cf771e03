//! The command line (clap) and the operator's input: selectors, QR payloads, the PSKd, all
//! checked before anything is sent.
//!
//! A PSKd typed on the command line (`--pskd VALUE`, `--qr TEXT`) can be read by every local user
//! in `/proc/PID/cmdline` while threadctl runs, and stays in shell history: [`cmdline_secret_warning`]
//! says so on stderr. The safe forms: `--pskd -` / `--qr -` (stdin), `--pskd-file PATH`, or the
//! environment variable [`PSKD_ENV`] (only its owner and root can read a process's environment).

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use meshcop::commissioner::JoinerKind;
use meshcop::credentials::{Discerner, Pskd};
use zeroize::Zeroizing;

use crate::client::{fail, Failure};

pub(crate) const DEFAULT_SOCKET: &str = "/run/thread-agent/control.sock";

/// The environment variable `joiner add` reads the PSKd from when no PSKd flag is given.
pub(crate) const PSKD_ENV: &str = "THREADCTL_PSKD";

pub(crate) const EXIT_CODES: &str = "Exit codes: 0 ok; 1 the agent answered with an error; 2 usage; 3 agent not running; \
4 permission denied; joiner add --wait: 5 PSKd mismatch, 6 entry expired (timed out), 7 JOIN_FIN rejected, \
8 entry removed before a joiner joined.";

/// Control a running thread-agent.
#[derive(Debug, Parser)]
#[command(name = "threadctl", version, about, after_help = EXIT_CODES)]
pub(crate) struct Cli {
    /// The agent's control socket.
    #[arg(long, value_name = "PATH", env = "THREAD_AGENT_SOCKET", default_value = DEFAULT_SOCKET, global = true)]
    pub(crate) socket: PathBuf,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
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
    Network {
        #[command(subcommand)]
        command: NetworkCommand,
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
pub(crate) enum DatasetCommand {
    /// Print the active operational dataset as one line of hex TLVs (contains the network key:
    /// root or the agent's user only).
    #[command(after_help = "Example:\n  threadctl dataset export > /root/thread-dataset.hex")]
    Export,
}

/// Which joiners an entry admits.
#[derive(Debug, Args)]
#[group(required = false, multiple = false)]
pub(crate) struct Selector {
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
pub(crate) enum JoinerCommand {
    /// Add (or replace) a joiner entry; the commissioner petitions if it is not active yet.
    /// `--any` and `--discerner` entries need root or the agent's user (each admitted device
    /// receives the network key); an `--eui64` entry is open to the socket's group.
    #[command(after_help = "Examples (the PSKd kept off the command line):
  threadctl joiner add --eui64 18b4300000000002 --pskd-file /run/secrets/pskd --wait
  read -rs THREADCTL_PSKD && export THREADCTL_PSKD && threadctl joiner add --eui64 18b4300000000002
  printf '%s\\n' \"$PSKD\" | threadctl joiner add --discerner abc/12 --pskd - --timeout 600
  scan-qr | threadctl joiner add --qr - --wait

A PSKd given as --pskd VALUE or --qr TEXT is visible to every local user (/proc/PID/cmdline) and
stays in shell history; threadctl warns when it is given that way. Use --pskd - or --qr - (stdin),
--pskd-file PATH, or the THREADCTL_PSKD environment variable instead.

With --wait, progress is printed as it happens and the exit code tells the outcome:
0 joined (JOIN_FIN accepted and entrusted), 5 PSKd mismatch, 6 entry expired, 7 JOIN_FIN
rejected, 8 entry removed.")]
    Add {
        #[command(flatten)]
        who: Selector,
        /// The joiner's PSKd (6..32 of 0-9 A-Y without I O Q); `-` reads it from stdin (safe).
        /// A value here is visible to other local users: prefer `-`, --pskd-file or $THREADCTL_PSKD.
        #[arg(long, value_name = "PSKD", group = "secret")]
        pskd: Option<String>,
        /// Read the PSKd from the first line of this file (safe).
        #[arg(long, value_name = "PATH", group = "secret")]
        pskd_file: Option<PathBuf>,
        /// A Thread QR code payload (`v=1&&eui=<EUI-64>&&cc=<PSKd>...`): EUI-64 and PSKd from it;
        /// `-` reads it from stdin (safe). A payload here is visible to other local users.
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
pub(crate) enum CommissionerCommand {
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

/// The `joiner.add`/`joiner.remove` selector (a QR code's `eui`, if any, when no flag is given).
#[derive(Debug, Subcommand)]
pub(crate) enum NetworkCommand {
    /// The highest energy (RSSI, dBm) the co-processor's radio hears on each channel: choose a
    /// quiet channel before migrating. Channels 11..26 only.
    #[command(
        after_help = "Examples:\n  threadctl network energy-scan\n  threadctl network energy-scan --channels 11,15,20-21 --json"
    )]
    EnergyScan {
        /// Channels to scan: numbers and ranges, e.g. 11-26 or 11,15,20-21.
        #[arg(long, value_name = "LIST", default_value = "11-26")]
        channels: String,
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn selector(who: &Selector, qr_eui: Option<&str>) -> Result<JoinerKind, Failure> {
    let eui64 = |clean: &str| {
        let mut a = [0u8; 8];
        hex::decode_to_slice(clean, &mut a).map(|()| JoinerKind::Eui64(a))
    };
    if let Some(e) = &who.eui64 {
        let clean = e.trim().replace([':', '-'], "");
        return eui64(&clean).map_err(|_| {
            fail(
                2,
                format!("--eui64 {e:?}: expected 16 hex digits (8 bytes)"),
            )
        });
    }
    if let Some(d) = &who.discerner {
        let parsed: Discerner = d
            .parse()
            .map_err(|e| fail(2, format!("--discerner: {e}")))?;
        return Ok(JoinerKind::Discerner(parsed));
    }
    if who.any {
        return Ok(JoinerKind::Any);
    }
    match qr_eui {
        Some(e) => eui64(e).map_err(|_| fail(2, "--qr: `eui` is not 16 hex digits")),
        None => Err(fail(
            2,
            "say which joiners: --eui64 HEX, --discerner HEX/BITS or --any (or --qr with an eui)",
        )),
    }
}

/// A Thread QR payload `v=1&&eui=<16 hex>&&cc=<PSKd>[&&...]`: (EUI-64, PSKd text).
pub(crate) fn parse_qr(text: &str) -> Result<(String, String), Failure> {
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

/// The warning for a PSKd given on the command line (`--pskd VALUE`, `--qr TEXT`); `None` for
/// the safe forms (`-`, a file, the environment).
pub(crate) fn cmdline_secret_warning(pskd: Option<&str>, qr: Option<&str>) -> Option<String> {
    let flag = match (pskd, qr) {
        (Some(p), _) if p != "-" => "--pskd VALUE",
        (_, Some(q)) if q != "-" => "--qr TEXT",
        _ => return None,
    };
    Some(format!(
        "warning: a PSKd given as {flag} can be read by every local user in /proc/PID/cmdline and stays in shell history; \
         use --pskd - or --qr - (stdin), --pskd-file PATH, or the {PSKD_ENV} environment variable"
    ))
}

/// One line from stdin (the PSKd or a QR payload), zeroed on drop.
pub(crate) fn stdin_line(what: &str) -> Result<Zeroizing<String>, Failure> {
    let mut line = Zeroizing::new(String::with_capacity(256));
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| fail(2, format!("cannot read the {what} from stdin: {e}")))?;
    Ok(line)
}

/// Reads and validates the PSKd (before anything is sent to the agent): `--pskd` (`-`: stdin),
/// `--pskd-file`, the QR payload's `cc`, then `env` (the value of [`PSKD_ENV`]).
pub(crate) fn read_pskd(
    pskd: Option<&str>,
    pskd_file: Option<&Path>,
    qr_cc: Option<String>,
    env: Option<Zeroizing<String>>,
) -> Result<Pskd, Failure> {
    let text: Zeroizing<String> = match (pskd, pskd_file, qr_cc, env) {
        (Some("-"), ..) => stdin_line("PSKd")?,
        (Some(p), ..) => Zeroizing::new(p.to_string()),
        (None, Some(path), ..) => {
            let all = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
                fail(
                    2,
                    format!("cannot read --pskd-file {}: {e}", path.display()),
                )
            })?);
            Zeroizing::new(all.lines().next().unwrap_or("").to_string())
        }
        (None, None, Some(cc), _) => Zeroizing::new(cc),
        (None, None, None, Some(env)) => env,
        (None, None, None, None) => {
            return Err(fail(
                2,
                format!("give the joiner's PSKd: --pskd - (stdin), --pskd-file PATH, ${PSKD_ENV}, --qr, or --pskd PSKD"),
            ))
        }
    };
    Pskd::new(text.trim()).map_err(|e| fail(2, format!("invalid PSKd: {e}")))
}
