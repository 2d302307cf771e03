//! `threadctl`: the operator's tool for a running `thread-agent`, over its control socket
//! (newline-delimited JSON, see `docs/control-protocol.md`).
//!
//! Owns: the command line ([`args`]), the socket client ([`client`]), what is printed
//! ([`render`]) and the `--wait` judging ([`wait`]). Requests are typed `control::Request` values,
//! so a method added to the protocol is a compile error here until it is rendered. Talks to the
//! agent only through its socket: never depends on the agent, tokio or `ncp`.
//!
//! Commands: `status [--json]`, `dataset export` (one line of hex TLVs on stdout),
//! `dataset import (HEX | --file PATH | -) [--replace]`, `joiner add|list|remove`,
//! `joiner import FILE|- [--verify-key KEY] [--signature PATH] [--wait]` ([`import`]),
//! `commissioner status|start|stop`, `network energy-scan`, `network rotate-key [--pskc]`,
//! `network migrate [--channel N] [--pan-id P]`, `network pending`,
//! `device list|show ID|forget ID` ([`devices`]), `events`,
//! `completions <shell>`, `man [COMMAND...]`. Socket: `--socket PATH`, else
//! `$THREAD_AGENT_SOCKET`, else `/run/thread-agent/control.sock`. The credential lifecycle
//! commands live in [`lifecycle`].
//!
//! Exit codes (contract): 0 ok; 1 the agent answered with an error (or did not answer);
//! 2 usage (also an invalid PSKd, delay, channel, PAN ID or dataset hex, checked before anything
//! is sent); 3 agent not running (socket missing or connection refused); 4 permission denied (on
//! the socket, or the agent refused the method for this user). `joiner add --wait` only: 5 the
//! joiner's PSKd did not match; 6 the entry expired before a joiner joined; 7 the joiner's
//! JOIN_FIN was rejected; 8 the entry was removed (by an operator) before a joiner joined.
//! 9 the agent refused a change: one is already pending (`change_pending`), or `dataset import`
//! without `--replace` on a co-processor that has a network (`network_exists`), `network migrate
//! --pan-id` to a PAN ID another network uses on the target channel (`pan_id_in_use`). 10 `network
//! rotate-key|migrate --wait`: the change did not become active within its delay + 60 s.
//! Every failure is one line on stderr, `threadctl: error: ...`.
//!
//! Guarantees: the dataset text of `dataset import` is held in zeroizing buffers and never printed
//! (no error quotes it). The PSKd is read into `meshcop::credentials::Pskd` (validated, zeroized on drop),
//! sent only inside the `joiner.add` request (a zeroizing line), never printed; every copy of
//! its text (the flag's value, stdin, the file, the environment) is zeroed when dropped. Given on
//! the command line (`--pskd VALUE`, `--qr TEXT`) it draws a warning on stderr: other local users
//! can read a process's command line.
//!
//! Validated by the unit tests in `tests.rs` (reply parsing, table rendering, exit code mapping) and by
//! hand against a running agent on the simulation NCP.

#![warn(unreachable_pub)]

mod args;
mod client;
mod devices;
mod import;
mod lifecycle;
mod render;
#[cfg(test)]
mod tests;
mod wait;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use control::{EnergyScan, JoinerAdd, Request};

use crate::args::{
    cmdline_dataset_warning, cmdline_secret_warning, dataset_import, migrate, parse_qr, read_pskd,
    rotate_key, selector, stdin_line, Cli, Command, CommissionerCommand, DatasetCommand,
    JoinerCommand, NetworkCommand, PSKD_ENV,
};
use crate::client::{call, fail, Failure, Subscription};
use crate::render::{n, render, render_event, s};
use crate::wait::wait_for_joiner;
use zeroize::Zeroizing;

/// Sends `request` and renders its reply.
fn ask(socket: &Path, request: Request, json: bool) -> Result<String, Failure> {
    let reply = call(socket, &request)?;
    render(&request, &reply, json)
}

fn run(cli: Cli) -> Result<String, Failure> {
    let socket = cli.socket.as_path();
    match cli.command {
        Command::Status { json } => ask(socket, Request::Status, json),
        Command::Dataset { command } => dataset(socket, command),
        Command::Joiner { command } => joiner(socket, command),
        Command::Commissioner { command } => match command {
            CommissionerCommand::Status { json } => ask(socket, Request::CommissionerStatus, json),
            CommissionerCommand::Start { json } => ask(socket, Request::CommissionerStart, json),
            CommissionerCommand::Stop => ask(socket, Request::CommissionerStop, false),
        },
        Command::Network { command } => network(socket, command),
        Command::Device { command } => {
            let (request, json) = devices::request(command)?;
            ask(socket, request, json)
        }
        Command::Events { json } => {
            let mut sub = Subscription::open(socket)?;
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
        Command::Man { command } => man(&command),
    }
}

/// The roff page of threadctl, or of the command at `path` (`["network", "rotate-key"]`).
fn man(path: &[String]) -> Result<String, Failure> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    for name in path {
        cmd = cmd.find_subcommand(name).cloned().ok_or_else(|| {
            fail(
                2,
                format!("no command {:?} (see threadctl --help)", path.join(" ")),
            )
        })?;
    }
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut out)
        .map_err(|e| fail(1, format!("cannot render the manual: {e}")))?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn dataset(socket: &Path, command: DatasetCommand) -> Result<String, Failure> {
    match command {
        DatasetCommand::Export => ask(socket, Request::DatasetExport, false),
        DatasetCommand::Import {
            hex,
            file,
            replace,
            json,
        } => {
            // The hex text is zeroed on drop from here on.
            let hex = hex.map(Zeroizing::new);
            if let Some(w) = cmdline_dataset_warning(hex.as_deref().map(String::as_str)) {
                eprintln!("threadctl: {w}");
            }
            let import = dataset_import(hex, file.as_deref(), replace)?;
            ask(socket, Request::DatasetImport(import), json)
        }
    }
}

fn network(socket: &Path, command: NetworkCommand) -> Result<String, Failure> {
    match command {
        NetworkCommand::EnergyScan { channels, json } => {
            let channels = control::parse_channels(&channels)
                .map_err(|e| fail(2, format!("--channels: {e}")))?;
            ask(
                socket,
                Request::NetworkEnergyScan(EnergyScan { channels }),
                json,
            )
        }
        NetworkCommand::RotateKey { when, pskc } => {
            let request = Request::NetworkRotateKey(rotate_key(&when, pskc)?);
            lifecycle::schedule(socket, request, when.wait, when.json)
        }
        NetworkCommand::Migrate {
            channel,
            pan_id,
            when,
        } => {
            let request = Request::NetworkMigrate(migrate(channel, pan_id.as_deref(), &when)?);
            lifecycle::schedule(socket, request, when.wait, when.json)
        }
        NetworkCommand::Pending { json } => ask(socket, Request::NetworkPending, json),
        NetworkCommand::Counters { json } => ask(socket, Request::NetworkCounters, json),
    }
}

/// Writes `text` to stdout at once (progress lines of `--wait` and `events`).
pub(crate) fn print_now(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
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
            // The PSKd texts are zeroed on drop from here on.
            let (pskd, qr) = (pskd.map(Zeroizing::new), qr.map(Zeroizing::new));
            if let Some(w) = cmdline_secret_warning(
                pskd.as_deref().map(String::as_str),
                qr.as_deref().map(String::as_str),
            ) {
                eprintln!("threadctl: {w}");
            }
            let qr = match qr {
                Some(q) if q.as_str() == "-" => Some(stdin_line("QR code payload")?),
                q => q,
            };
            let (qr_eui, qr_cc) = match &qr {
                Some(q) => {
                    let (e, c) = parse_qr(q)?;
                    (Some(e), Some(c))
                }
                None => (None, None),
            };
            let selector = selector(&who, qr_eui.as_deref())?;
            let env = std::env::var(PSKD_ENV).ok().map(Zeroizing::new);
            let pskd = read_pskd(
                pskd.as_deref().map(String::as_str),
                pskd_file.as_deref(),
                qr_cc,
                env,
            )?;
            // Subscribe first so no event of this joiner is missed.
            let mut sub = if wait {
                Some(Subscription::open(socket)?)
            } else {
                None
            };
            let request = Request::JoinerAdd(JoinerAdd {
                selector,
                pskd,
                timeout,
            });
            let r = call(socket, &request)?;
            let Some(sub) = sub.as_mut() else {
                return render(&request, &r, json);
            };
            let entry = s(&r, "entry").to_string();
            if !json {
                print_now(&format!(
                    "joiner entry {entry} added (expires in {} s); waiting for the joiner...\n",
                    n(&r, "timeout")
                ));
            }
            wait_for_joiner(sub, &entry, json)
        }
        JoinerCommand::Import {
            file,
            timeout,
            verify_key,
            signature,
            wait,
            json,
        } => import::run(
            socket,
            import::ImportArgs {
                file,
                timeout,
                verify_key,
                signature,
                wait,
                json,
            },
        ),
        JoinerCommand::List { json } => ask(socket, Request::JoinerList, json),
        JoinerCommand::Remove { who } => {
            ask(socket, Request::JoinerRemove(selector(&who, None)?), false)
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
            eprintln!("threadctl: error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

#[cfg(test)]
mod energy_scan_args {
    use super::*;

    fn code(args: &[&str]) -> u8 {
        let mut argv = vec!["threadctl", "--socket", "/nonexistent/threadctl-test.sock"];
        argv.extend_from_slice(args);
        run(Cli::try_parse_from(argv).unwrap()).unwrap_err().code
    }

    #[test]
    fn bad_channels_are_usage_errors_before_connecting() {
        for bad in ["27", "10-12", "x", "", "20-11", "11,,12"] {
            assert_eq!(
                code(&["network", "energy-scan", "--channels", bad]),
                2,
                "{bad}"
            );
        }
        // A valid list gets as far as the (missing) socket: 3, agent not running.
        assert_eq!(
            code(&["network", "energy-scan", "--channels", "11,15,20-21"]),
            3
        );
        assert_eq!(code(&["network", "energy-scan"]), 3);
    }
}
