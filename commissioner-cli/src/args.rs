//! The command line (clap) and the operator's input: selectors, QR payloads, the PSKd, all
//! checked before anything is sent.
//!
//! A PSKd typed on the command line (`--pskd VALUE`, `--qr TEXT`) can be read by every local user
//! in `/proc/PID/cmdline` while threadctl runs, and stays in shell history: [`cmdline_secret_warning`]
//! says so on stderr. The safe forms: `--pskd -` / `--qr -` (stdin), `--pskd-file PATH`, or the
//! environment variable [`PSKD_ENV`] (only its owner and root can read a process's environment).

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use control::lifecycle::{self, SecretTlvs};
use control::{DatasetImport, Migrate, RotateKey};
use meshcop::commissioner::JoinerKind;
use meshcop::credentials::{Discerner, Pskd};
use zeroize::Zeroizing;

use crate::client::{fail, Failure};

pub(crate) const DEFAULT_SOCKET: &str = "/run/thread-agent/control.sock";

/// The environment variable `joiner add` reads the PSKd from when no PSKd flag is given.
pub(crate) const PSKD_ENV: &str = "THREADCTL_PSKD";

pub(crate) const EXIT_CODES: &str = "Exit codes: 0 ok; 1 the agent answered with an error; 2 usage; 3 agent not running; \
4 permission denied; joiner add --wait: 5 PSKd mismatch, 6 entry expired (timed out), 7 JOIN_FIN rejected, \
8 entry removed before a joiner joined; 9 a change is already pending (change_pending) or the co-processor \
already has a network (network_exists) or another network uses the PAN ID (pan_id_in_use); 10 network rotate-key/migrate --wait: the change did not become \
active in time.

The page of one command: threadctl man network rotate-key (any command path).";

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
    /// The Thread network: energy scan, key rotation, migration, the pending change.
    Network {
        #[command(subcommand)]
        command: NetworkCommand,
    },
    /// The devices this agent onboarded: identity, vendor, presence, credentials.
    Device {
        #[command(subcommand)]
        command: crate::devices::DeviceCommand,
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
    /// Print the manual page (roff): threadctl's, or a command's (`threadctl man network migrate`).
    #[command(
        after_help = "Examples:\n  threadctl man > /usr/share/man/man1/threadctl.1\n  threadctl man network rotate-key > /usr/share/man/man1/threadctl-network-rotate-key.1"
    )]
    Man {
        /// A command path, e.g. `network rotate-key`; none: the page of threadctl itself.
        #[arg(value_name = "COMMAND")]
        command: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum DatasetCommand {
    /// Print the active operational dataset as one line of hex TLVs (contains the network key:
    /// root or the agent's user only).
    #[command(after_help = "Example:\n  threadctl dataset export > /root/thread-dataset.hex")]
    Export,
    /// Put an active operational dataset (hex TLVs, as `dataset export` prints) on the
    /// co-processor and bring the network up with it (root or the agent's user only). Refused
    /// (exit 9) when the co-processor already has a network, unless --replace.
    #[command(
        after_help = "Examples (the dataset holds the network key: keep it off the command line):
  threadctl dataset import --file /root/thread-dataset.hex
  ssh old-br threadctl dataset export | threadctl dataset import - --replace

A dataset given as HEX is visible to every local user (/proc/PID/cmdline) and stays in shell
history; threadctl warns when it is given that way. The dataset must hold Active Timestamp,
Channel, PAN ID, Extended PAN ID, Network Name, Network Key and Mesh-Local Prefix."
    )]
    Import {
        /// The dataset as hex TLVs; `-` reads it from stdin (safe). A value here is visible to
        /// other local users: prefer `-` or --file.
        #[arg(value_name = "HEX")]
        hex: Option<String>,
        /// Read the dataset (hex TLVs; surrounding whitespace ignored) from this file (safe).
        #[arg(long, value_name = "PATH")]
        file: Option<PathBuf>,
        /// Replace the network the co-processor has now.
        #[arg(long)]
        replace: bool,
        /// Print the agent's JSON result.
        #[arg(long)]
        json: bool,
    },
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
    /// Admit a shipment: add every device of a bootstrapping file (the manufacturer's data), all
    /// or none. Lines `eui64,pskd[,label]` (CSV, optional header) or Thread QR payloads
    /// (`v=1&&eui=...&&cc=...`), mixed; blank lines and `#` comments skipped.
    #[command(after_help = "Examples:
  threadctl joiner import devices.csv
  threadctl joiner import devices.csv --verify-key RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3
  threadctl joiner import devices.csv --verify-key /etc/thread-agent/acme.pub --wait
  fetch-shipment | threadctl joiner import - --verify-key acme.pub --signature shipment.csv.minisig

The whole file is checked first, here and again by the agent: any bad line refuses the file (exit
2, every bad line named, nothing sent or added). No PSKd is ever printed.

With --verify-key (a minisign public key: the base64 line, or a .pub file), the file must carry
a valid minisign signature (minisign -Sm devices.csv writes devices.csv.minisig; default
--signature: FILE.sig if it exists, else FILE.minisig): an unsigned or tampered file is refused
(exit 2) before anything is sent. The signer's key id is printed and recorded with each entry.

With --wait: progress as it happens; exit 0 once every device joined, else the code of the first
failure (5 PSKd mismatch, 6 entry expired, 7 JOIN_FIN rejected, 8 entry removed).")]
    Import {
        /// The bootstrapping file; `-` reads it from stdin.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Lifetime of every entry in seconds (default: the agent's `[commissioner] joiner_timeout`).
        #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86400))]
        timeout: Option<u64>,
        /// The manufacturer's minisign public key (base64, as minisign prints it, or a .pub file):
        /// the file's signature must verify with it.
        #[arg(long, value_name = "KEY")]
        verify_key: Option<String>,
        /// The detached minisign signature (default: FILE.sig, else FILE.minisig).
        #[arg(long, value_name = "PATH")]
        signature: Option<PathBuf>,
        /// Wait until every device joined and print progress.
        #[arg(long)]
        wait: bool,
        /// Print the agent's JSON result (with --wait: the events as JSON lines).
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

/// `threadctl network ...`.
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
    /// Schedule a new network key (and with --pskc a new PSKc) for every device: a pending
    /// dataset that becomes active after the delay.
    #[command(after_help = "Examples:
  threadctl network rotate-key
  threadctl network rotate-key --delay 30 --pskc --wait

The delay is 30..259200 s (default 300: sleepy devices fetch the pending dataset meanwhile). When
the agent's co-processor is not the leader, the leader raises a key change to at least 300 s; the
reply says the delay that applies. One change at a time: exit 9 while another is pending.
With --wait: a countdown on stderr every 5 s, exit 0 once the new dataset is active, exit 10 if
it is not active within the delay + 60 s.")]
    RotateKey {
        #[command(flatten)]
        when: Schedule,
        /// Also a new PSKc (commissioning credential): commissioner apps need the new passphrase.
        #[arg(long)]
        pskc: bool,
    },
    /// Schedule a move of the whole network to another channel and/or PAN ID (the network key
    /// stays): a pending dataset that becomes active after the delay.
    #[command(after_help = "Examples:
  threadctl network energy-scan          # find a quiet channel first
  threadctl network migrate --channel 20 --wait
  threadctl network migrate --pan-id 0x1234 --delay 600

Give --channel, --pan-id or both. The delay is 30..259200 s (default 300). One change at a time:
exit 9 while another is pending. With --wait: a countdown on stderr every 5 s, exit 0 once the
new dataset is active, exit 10 if it is not active within the delay + 60 s.")]
    Migrate {
        /// The new channel, 11..26.
        #[arg(long, value_name = "N")]
        channel: Option<u64>,
        /// The new PAN ID, 0x0000..0xfffe (hex with 0x, or decimal).
        #[arg(long, value_name = "0xXXXX")]
        pan_id: Option<String>,
        #[command(flatten)]
        when: Schedule,
    },
    /// Show the scheduled change (pending dataset), if any.
    #[command(
        after_help = "Examples:\n  threadctl network pending\n  threadctl network pending --json"
    )]
    Pending {
        #[arg(long)]
        json: bool,
    },
    /// Show the co-processor's counters (MAC, IPv6, MLE, message buffers, Spinel) and the host
    /// link's: where frames and messages were sent, received or lost.
    #[command(
        after_help = "Counters run from the co-processor's last reset.\n\nExamples:\n  threadctl network counters\n  threadctl network counters --json"
    )]
    Counters {
        #[arg(long)]
        json: bool,
    },
}

/// The delay and output flags of `network rotate-key` and `network migrate`.
#[derive(Debug, Args)]
pub(crate) struct Schedule {
    /// Seconds until every device switches, 30..259200 (default 300).
    #[arg(long, value_name = "SECS", default_value_t = u64::from(lifecycle::DEFAULT_DELAY_S))]
    pub(crate) delay: u64,
    /// Wait until the new dataset is active (countdown on stderr).
    #[arg(long)]
    pub(crate) wait: bool,
    /// Print the agent's JSON result (with --wait, then `{"applied":true,...}`).
    #[arg(long)]
    pub(crate) json: bool,
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

/// A Thread QR payload `v=1&&eui=<16 hex>&&cc=<PSKd>[&&...]`: (EUI-64 as 16 lowercase hex
/// digits, PSKd text). The parser is `control::bootstrap::parse_qr`, shared with
/// `joiner import` (a bootstrapping file's QR lines).
pub(crate) fn parse_qr(text: &str) -> Result<(String, Zeroizing<String>), Failure> {
    let q = control::bootstrap::parse_qr(text).map_err(|e| fail(2, format!("--qr: {e}")))?;
    Ok((hex::encode(q.eui64), q.cc))
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
    qr_cc: Option<Zeroizing<String>>,
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
        (None, None, Some(cc), _) => cc,
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

/// `network rotate-key`'s request, checked (exit 2) before anything is sent.
pub(crate) fn rotate_key(when: &Schedule, pskc: bool) -> Result<RotateKey, Failure> {
    Ok(RotateKey {
        delay: delay(when)?,
        pskc,
    })
}

/// `network migrate`'s request, checked (exit 2) before anything is sent.
pub(crate) fn migrate(
    channel: Option<u64>,
    pan_id: Option<&str>,
    when: &Schedule,
) -> Result<Migrate, Failure> {
    if channel.is_none() && pan_id.is_none() {
        return Err(fail(
            2,
            "nothing to migrate: give --channel N and/or --pan-id 0xXXXX",
        ));
    }
    let channel = channel
        .map(lifecycle::check_channel)
        .transpose()
        .map_err(|e| fail(2, format!("--channel: {e}")))?;
    let pan_id = pan_id
        .map(lifecycle::parse_pan_id)
        .transpose()
        .map_err(|e| fail(2, format!("--pan-id: {e}")))?;
    Ok(Migrate {
        channel,
        pan_id,
        delay: delay(when)?,
    })
}

fn delay(when: &Schedule) -> Result<u32, Failure> {
    lifecycle::check_delay(when.delay).map_err(|e| fail(2, format!("--delay: {e}")))
}

/// The longest dataset text read from stdin or a file (a dataset is at most 254 bytes: 508 hex
/// digits, plus whitespace).
const MAX_DATASET_TEXT: usize = 4096;

/// The warning for a dataset given on the command line (`dataset import HEX`).
pub(crate) fn cmdline_dataset_warning(hex: Option<&str>) -> Option<&'static str> {
    match hex {
        Some(h) if h != "-" => Some(
            "warning: a dataset given as HEX (it holds the network key) can be read by every local user \
             in /proc/PID/cmdline and stays in shell history; use --file PATH or - (stdin)",
        ),
        _ => None,
    }
}

/// `dataset import`'s request: the dataset from exactly one of HEX, `-` (stdin) or `--file`,
/// decoded before anything is sent. Every copy of the text is zeroed on drop; no error quotes it.
pub(crate) fn dataset_import(
    hex: Option<Zeroizing<String>>,
    file: Option<&Path>,
    replace: bool,
) -> Result<DatasetImport, Failure> {
    let text: Zeroizing<Vec<u8>> = match (hex, file) {
        (Some(_), Some(_)) => {
            return Err(fail(
                2,
                "give the dataset once: HEX, - (stdin) or --file PATH, not two of them",
            ))
        }
        (None, None) => {
            return Err(fail(
                2,
                "give the dataset: --file PATH, - (stdin) or HEX (hex TLVs, as `dataset export` prints)",
            ))
        }
        (Some(h), None) if h.as_str() == "-" => read_secret(std::io::stdin().lock(), "stdin")?,
        (Some(h), None) => Zeroizing::new(h.as_bytes().to_vec()),
        (None, Some(path)) => {
            let f = std::fs::File::open(path)
                .map_err(|e| fail(2, format!("cannot read --file {}: {e}", path.display())))?;
            read_secret(f, &format!("--file {}", path.display()))?
        }
    };
    Ok(DatasetImport {
        tlvs: decode_dataset(&text)?,
        replace,
    })
}

/// Reads at most [`MAX_DATASET_TEXT`] bytes into one zeroizing buffer (never reallocated).
fn read_secret(r: impl std::io::Read, what: &str) -> Result<Zeroizing<Vec<u8>>, Failure> {
    read_bounded(
        r,
        MAX_DATASET_TEXT,
        &format!("the dataset from {what}"),
        "not a dataset",
    )
}

/// Reads at most `max` bytes into one zeroizing buffer (allocated once, never reallocated);
/// more is exit 2, `{what} is longer than {max} bytes: {hint}`.
pub(crate) fn read_bounded(
    mut r: impl std::io::Read,
    max: usize,
    what: &str,
    hint: &str,
) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let mut buf = Zeroizing::new(vec![0u8; max + 1]);
    let mut len = 0;
    loop {
        match r.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(fail(2, format!("cannot read {what}: {e}"))),
        }
        if len > max {
            return Err(fail(
                2,
                format!("{what} is longer than {max} bytes: {hint}"),
            ));
        }
    }
    buf.truncate(len);
    Ok(buf)
}

/// Hex text (surrounding whitespace trimmed) to TLV bytes; errors name positions, not digits.
pub(crate) fn decode_dataset(text: &[u8]) -> Result<SecretTlvs, Failure> {
    let t = text.trim_ascii();
    if t.is_empty() {
        return Err(fail(2, "the dataset is empty"));
    }
    if let Some(i) = t.iter().position(|b| !b.is_ascii_hexdigit()) {
        return Err(fail(
            2,
            format!(
                "the dataset is not hex: character {} is not a hex digit",
                i + 1
            ),
        ));
    }
    let mut bytes = Zeroizing::new(vec![0u8; t.len() / 2]);
    // Every character is a hex digit: the only error left is an odd count.
    hex::decode_to_slice(t, &mut bytes[..]).map_err(|_| {
        fail(
            2,
            format!("the dataset is not hex: {} digits, an odd number", t.len()),
        )
    })?;
    Ok(SecretTlvs(bytes))
}
