//! Issue 10 "fails open" and "messages" end to end: the real `thread-agent` refuses to start with a
//! configuration or a path it cannot use, with the documented exit code (README "Exit codes") and
//! one `thread-agent: error: ` line that names the key or file; and it refuses a joiner admission
//! it cannot audit (`audit_unavailable`, docs/control-protocol.md).
//!
//! Most cases give a radio URL whose device does not exist: a path problem found before the
//! co-processor is opened is then reported with its own code instead of exit 3, which shows that the
//! paths are checked first. Every wait has a generous deadline (a hang bound, not a speed test).

use std::process::Output;
use std::time::Duration;

use anyhow::{ensure, Result};
use e2e::{fatal_line, run_agent_once, with_sandbox, Agent, AgentOptions, Sandbox};

const FAIL_TIMEOUT: Duration = Duration::from_secs(60);
const UP_TIMEOUT: Duration = Duration::from_secs(90);
const MISSING_DEVICE: &str = "spinel+hdlc+uart:///dev/thread-agent-test-no-such-device";

fn run(sb: &Sandbox, radio_url: &str, args: &[&str]) -> Result<Output> {
    let opts = AgentOptions {
        radio_url: Some(radio_url.to_string()),
        args: args.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    run_agent_once(sb, &opts, FAIL_TIMEOUT)
}

/// A typo in the configuration file is exit 2 naming the closest key, not a silent default.
#[test]
fn unknown_config_key_exits_2_naming_the_closest_key() {
    with_sandbox(|sb| {
        std::fs::write(sb.path().join("agent.toml"), "[network]\nchanel = 20\n")?;
        let line = fatal_line(&run(sb, MISSING_DEVICE, &[])?, 2)?;
        ensure!(
            line.contains("`network.chanel`") && line.contains("did you mean `network.channel`"),
            "{line}"
        );
        Ok(())
    });
}

/// An `[mdns]` instance name longer than one DNS label (63 bytes): exit 2 naming key and limit.
#[test]
fn mdns_instance_name_too_long_exits_2() {
    with_sandbox(|sb| {
        let name = "x".repeat(64);
        std::fs::write(
            sb.path().join("agent.toml"),
            format!("[mdns]\ninstance_name = \"{name}\"\n"),
        )?;
        let line = fatal_line(&run(sb, MISSING_DEVICE, &[])?, 2)?;
        ensure!(
            line.contains("mdns.instance_name") && line.contains("1..63 bytes"),
            "{line}"
        );
        Ok(())
    });
}

/// A configuration file that is `/dev/null` is an empty configuration (all defaults): the agent gets as far as the
/// co-processor (exit 3 for the missing device), it does not say "not found".
#[test]
fn dev_null_config_means_defaults() {
    with_sandbox(|sb| {
        // The harness passes `--config <sandbox>/agent.toml`: make that `/dev/null`.
        std::os::unix::fs::symlink("/dev/null", sb.path().join("agent.toml"))?;
        let out = run(sb, MISSING_DEVICE, &[])?;
        let line = fatal_line(&out, 3)?;
        ensure!(line.contains("thread-agent-test-no-such-device"), "{line}");
        ensure!(
            !String::from_utf8_lossy(&out.stderr).contains("not found"),
            "{line}"
        );
        Ok(())
    });
}

/// A state directory that is a file: exit 2 naming it, before the co-processor is opened.
#[test]
fn state_dir_that_is_a_file_exits_2() {
    with_sandbox(|sb| {
        std::fs::write(sb.state_dir(), "not a directory")?;
        let line = fatal_line(&run(sb, MISSING_DEVICE, &[])?, 2)?;
        ensure!(
            line.contains("state_dir")
                && line.contains(&sb.state_dir().display().to_string())
                && line.contains("not a directory"),
            "{line}"
        );
        Ok(())
    });
}

/// The audit log path taken by a directory: exit 2 naming the file.
#[test]
fn audit_log_that_is_a_directory_exits_2() {
    with_sandbox(|sb| {
        std::fs::create_dir_all(sb.state_dir().join("audit.jsonl"))?;
        let line = fatal_line(&run(sb, MISSING_DEVICE, &[])?, 2)?;
        ensure!(
            line.contains("audit log") && line.contains("audit.jsonl"),
            "{line}"
        );
        Ok(())
    });
}

/// A state directory the agent cannot write (here: a symlink to `/sys`, which refuses new files
/// even to root): exit 4 at start, instead of running without a backup or an audit log.
#[test]
fn unwritable_state_dir_exits_4_before_the_coprocessor() {
    with_sandbox(|sb| {
        if std::fs::write("/sys/.thread-agent-probe", "x").is_ok() {
            let _ = std::fs::remove_file("/sys/.thread-agent-probe");
            eprintln!("skipped: /sys is writable here");
            return Ok(());
        }
        let _ = std::fs::remove_dir(sb.state_dir());
        std::os::unix::fs::symlink("/sys", sb.state_dir())?;
        let line = fatal_line(&run(sb, MISSING_DEVICE, &[])?, 4)?;
        ensure!(
            line.contains("state_dir") && line.contains("cannot write in it"),
            "{line}"
        );
        Ok(())
    });
}

/// A truncated backup on a blank co-processor: the agent stops naming the file, instead of
/// handing it to the co-processor (which answers only `InvalidArgument`).
#[test]
fn truncated_backup_is_named() {
    with_sandbox(|sb| {
        std::fs::create_dir_all(sb.state_dir())?;
        // The start of a real dataset: Active Timestamp, then a Channel TLV cut short.
        let backup = sb.state_dir().join("dataset.tlvs");
        std::fs::write(&backup, "0e080000000000010000000300")?;
        let opts = AgentOptions::default();
        let out = run_agent_once(sb, &opts, FAIL_TIMEOUT)?;
        let line = fatal_line(&out, 1)?;
        ensure!(
            line.contains(&backup.display().to_string()) && !line.contains("InvalidArgument"),
            "{line}"
        );
        Ok(())
    });
}

/// An admission that cannot be audited is refused, and the table is left as it was.
#[test]
fn joiner_add_is_refused_when_the_audit_log_cannot_be_written() {
    with_sandbox(|sb| {
        let mut agent = Agent::start(sb)?;
        agent.wait_log("network up", UP_TIMEOUT)?;
        let audit = sb.state_dir().join("audit.jsonl");
        let _ = std::fs::remove_file(&audit);
        std::fs::create_dir(&audit)?;
        let pskd = sb.path().join("pskd");
        std::fs::write(&pskd, "J01NME\n")?;
        let pskd = pskd.display().to_string();
        let out = agent.threadctl(&[
            "joiner",
            "add",
            "--eui64",
            "18b4300000000002",
            "--pskd-file",
            &pskd,
            "--json",
        ])?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        ensure!(out.status.code() == Some(1), "{}: {text}", out.status);
        ensure!(
            text.contains("audit") && text.contains("audit.jsonl"),
            "the refusal should name the audit log: {text}"
        );
        let list = agent.threadctl_ok(&["joiner", "list", "--json"])?;
        ensure!(
            !list.contains("18b4300000000002"),
            "entry added anyway: {list}"
        );
        // Writable again: admitted.
        std::fs::remove_dir(&audit)?;
        agent.threadctl_ok(&[
            "joiner",
            "add",
            "--eui64",
            "18b4300000000002",
            "--pskd-file",
            &pskd,
        ])?;
        ensure!(std::fs::read_to_string(&audit)?.contains("entry-added"));
        agent.stop()?;
        Ok(())
    });
}
