//! Issue 10, the control socket under load and `threadctl`'s PSKd forms, end to end: the real
//! `thread-agent` on a simulated co-processor and the real `threadctl`.
//!
//! - a flood of idle connections, each holding a 64 KiB partial line, leaves `threadctl status`
//!   answering, the agent's descriptors bounded by its connection table (64 + 32 event streams)
//!   and its memory by what that table can hold; the connections that made room were told why;
//! - a partial line is closed with `request_timeout` after the line timeout (10 s);
//! - out of descriptors (its `RLIMIT_NOFILE` lowered while it runs), the agent closes an idle
//!   connection to answer `threadctl status` and warns about the failed `accept` once, not ten
//!   times a second;
//! - the systemd unit raises `LimitNOFILE`;
//! - `threadctl joiner add` warns on stderr when the PSKd is on its command line
//!   (`--pskd VALUE`, `--qr TEXT`), and not for the safe forms (stdin, file, environment).
//!
//! `E2E_CONTROL_FLOOD=N` changes the flood's size (e.g. 10000 to measure; it prints the agent's
//! descriptors and RSS before, during and after).
//!
//! Written against docs/control-protocol.md ("Limits", "Who may call what") and the README
//! (threadctl). Every wait has a generous deadline (a hang bound, not a speed test).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Output};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use e2e::bins::{workspace_bins, workspace_root};
use e2e::proc::run_with_timeout;
use e2e::{with_sandbox, Agent};

const UP_TIMEOUT: Duration = Duration::from_secs(90);
/// The agent's connection table (docs/control-protocol.md "Limits").
const MAX_CONNECTIONS: usize = 64;
const MAX_SUBSCRIPTIONS: usize = 32;
/// The issue's figure: 1,100 idle connections exhausted systemd's default 1024 descriptors.
const FLOOD: usize = 1100;
/// Bound for one read of a reply (hang bound).
const READ_BOUND: Duration = Duration::from_secs(30);

fn started(sb: &e2e::Sandbox) -> Result<Agent> {
    let mut agent = Agent::start(sb)?;
    agent.wait_status("the control socket answers", UP_TIMEOUT, |_| true)?;
    Ok(agent)
}

fn open_fds(pid: u32) -> Result<usize> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))
        .with_context(|| format!("listing /proc/{pid}/fd"))?
        .count())
}

fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/PID/status")
}

/// What the agent sent on `s` before closing it (empty if nothing), within [`READ_BOUND`].
fn read_until_closed(s: &mut UnixStream) -> String {
    let _ = s.set_read_timeout(Some(READ_BOUND));
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn status_ok(agent: &Agent) -> Result<()> {
    let out = agent.threadctl(&["status", "--json"])?;
    ensure!(
        out.status.success(),
        "`threadctl status` failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

#[test]
fn a_flood_of_stalled_connections_leaves_status_answering_and_the_agent_bounded() {
    with_sandbox(|sb| {
        let agent = started(sb)?;
        let pid = agent.pid();
        let (fds_before, rss_before) = (open_fds(pid)?, rss_kib(pid)?);
        let partial = vec![b'x'; 64 * 1024 - 1];
        let n = std::env::var("E2E_CONTROL_FLOOD")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(FLOOD);
        let mut flood = Vec::with_capacity(n);
        for i in 0..n {
            let mut s = UnixStream::connect(sb.control_socket())
                .with_context(|| format!("connection {i}"))?;
            // Evicted connections may already be closed: a failed write is expected.
            let _ = s.write_all(&partial);
            flood.push(s);
        }
        status_ok(&agent)?;
        let (fds_after, rss_after) = (open_fds(pid)?, rss_kib(pid)?);
        eprintln!(
            "{n} connections with a 64 KiB partial line each: agent fds {fds_before} -> {fds_after}, RSS {rss_before} -> {rss_after} KiB"
        );
        ensure!(
            fds_after <= fds_before + MAX_CONNECTIONS + MAX_SUBSCRIPTIONS,
            "the agent holds {fds_after} descriptors (was {fds_before}): its connection table does not bound them"
        );
        // Without a bound, 1,100 buffered 64 KiB lines are ~70 MiB; the table holds at most 64.
        ensure!(
            rss_after < rss_before + 32 * 1024,
            "the agent grew from {rss_before} to {rss_after} KiB holding partial lines"
        );
        // The oldest connections made room, and each was told so in one line.
        let told = read_until_closed(&mut flood[0]);
        ensure!(
            told.contains("too_many_connections"),
            "an evicted connection got {told:?}"
        );
        drop(flood);
        status_ok(&agent)?;
        eprintln!(
            "after closing them: agent fds {}, RSS {} KiB",
            open_fds(pid)?,
            rss_kib(pid)?
        );
        Ok(())
    });
}

#[test]
fn a_partial_line_is_closed_after_the_line_timeout() {
    with_sandbox(|sb| {
        let agent = started(sb)?;
        let mut s = UnixStream::connect(sb.control_socket())?;
        s.write_all(br#"{"id":1,"method":"sta"#)?;
        let got = read_until_closed(&mut s);
        ensure!(
            got.contains("request_timeout"),
            "a partial line got {got:?} (expected a request_timeout line, then the close)"
        );
        status_ok(&agent)
    });
}

/// Sets the soft `RLIMIT_NOFILE` of `pid` (same uid: no privilege needed); returns the old one.
fn set_nofile(pid: u32, soft: u64) -> Result<libc::rlimit> {
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit reads `new` and writes `old`, both valid for the call.
    let r = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_NOFILE,
            std::ptr::null(),
            &mut old,
        )
    };
    ensure!(r == 0, "prlimit(get): {}", std::io::Error::last_os_error());
    let new = libc::rlimit {
        rlim_cur: soft,
        rlim_max: old.rlim_max,
    };
    // SAFETY: as above.
    let r = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_NOFILE,
            &new,
            std::ptr::null_mut(),
        )
    };
    ensure!(r == 0, "prlimit(set): {}", std::io::Error::last_os_error());
    Ok(old)
}

fn restore_nofile(pid: u32, old: &libc::rlimit) {
    // SAFETY: prlimit reads `old`, valid for the call.
    unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_NOFILE,
            old,
            std::ptr::null_mut(),
        )
    };
}

#[test]
fn out_of_descriptors_the_agent_frees_one_and_warns_once() {
    with_sandbox(|sb| {
        let agent = started(sb)?;
        let pid = agent.pid();
        let fds = open_fds(pid)?;
        let old = set_nofile(pid, fds as u64 + 6)?;
        let outcome = (|| -> Result<()> {
            // Far more idle connections than the agent has descriptors left (but under its table).
            let mut idle = Vec::new();
            for _ in 0..40 {
                idle.push(UnixStream::connect(sb.control_socket())?);
            }
            status_ok(&agent)?;
            status_ok(&agent)?;
            let warnings = agent
                .log()
                .lines()
                .iter()
                .filter(|l| l.contains("control socket accept failed"))
                .count();
            ensure!(
                (1..=2).contains(&warnings),
                "`accept failed` logged {warnings} times (expected once, rate-limited):\n{}",
                agent.log().tail(10)
            );
            Ok(())
        })();
        restore_nofile(pid, &old);
        outcome?;
        status_ok(&agent)
    });
}

#[test]
fn the_unit_raises_the_descriptor_limit() {
    let unit = std::fs::read_to_string(workspace_root().join("systemd/thread-agent.service"))
        .expect("reading the unit");
    let limit = unit
        .lines()
        .find_map(|l| l.trim().strip_prefix("LimitNOFILE="))
        .expect("LimitNOFILE= in systemd/thread-agent.service");
    let soft: u64 = limit.split(':').next().unwrap().parse().expect("a number");
    assert!(
        soft as usize >= 4 * (MAX_CONNECTIONS + MAX_SUBSCRIPTIONS) && soft > 1024,
        "LimitNOFILE={limit}"
    );
}

/// `threadctl joiner add ...` with `stdin` fed to it (through sh), against a socket nobody
/// listens on: the PSKd is read and checked, then the connection fails (exit 3).
fn add(args: &str, stdin: &str, env: Option<&str>) -> Result<Output> {
    let bins = workspace_bins()?;
    let dir = tempfile::tempdir()?;
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(format!(
            "printf '{stdin}' | \"$0\" --socket \"$1\" joiner add {args}"
        ))
        .arg(&bins.threadctl)
        .arg(dir.path().join("none.sock"))
        .env_remove("THREAD_AGENT_SOCKET")
        .env_remove("THREADCTL_PSKD");
    if let Some(v) = env {
        cmd.env("THREADCTL_PSKD", v);
    }
    run_with_timeout(&mut cmd, Duration::from_secs(20))
}

#[test]
fn threadctl_warns_about_a_pskd_on_its_command_line_only() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("pskd");
    std::fs::write(&file, "J01NME\n")?;
    let qr = "v=1&&eui=18b4300000000002&&cc=J01NME";
    let cases = [
        (
            "--eui64 18b4300000000002 --pskd J01NME".to_string(),
            "",
            None,
            true,
        ),
        (format!("--qr '{qr}'"), "", None, true),
        (
            "--eui64 18b4300000000002 --pskd -".to_string(),
            "J01NME\\n",
            None,
            false,
        ),
        (
            format!("--eui64 18b4300000000002 --pskd-file {}", file.display()),
            "",
            None,
            false,
        ),
        (
            "--eui64 18b4300000000002".to_string(),
            "",
            Some("J01NME"),
            false,
        ),
        ("--qr -".to_string(), &format!("{qr}\\n")[..], None, false),
    ]
    .map(|(a, s, e, w)| (a, s.to_string(), e, w));
    for (args, stdin, env, warns) in cases {
        let out = add(&args, &stdin, env)?;
        let err = String::from_utf8_lossy(&out.stderr);
        ensure!(
            out.status.code() == Some(3),
            "joiner add {args}: exit {} (expected 3, the PSKd accepted and no agent): {err}",
            out.status
        );
        let warned = err.contains("warning") && err.contains("/proc/PID/cmdline");
        ensure!(
            warned == warns,
            "joiner add {args}: warned {warned}, stderr: {err}"
        );
        ensure!(!err.contains("J01NME"), "the PSKd in stderr: {err}");
    }
    Ok(())
}
