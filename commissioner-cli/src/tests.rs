//! threadctl unit tests: reply parsing, tables, usage, QR codes, the PSKd, `--wait` outcomes.

use super::*;
use crate::args::*;
use crate::client::*;
use crate::render::*;
use crate::wait::*;
use serde_json::{json, Value};
use std::io::ErrorKind;
use std::path::PathBuf;

#[test]
fn replies() {
    assert_eq!(
        parse_reply(r#"{"id":1,"result":{"a":1}}"#).unwrap(),
        json!({"a":1})
    );
    let e =
        parse_reply(r#"{"id":1,"error":{"code":"permission_denied","message":"no"}}"#).unwrap_err();
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
    let e = call(p, &Request::Status).unwrap_err();
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
    assert_eq!(call(&sock, &Request::Status).unwrap_err().code, 3);
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
    assert!(!t.contains("Border agent LAN"), "{t}");
    v["border_agent"] = json!({"lan_port":49191,"interface":"eth0","peers":1,
        "to_border_agent":5,"from_border_agent":6,"dropped":0});
    let t = render_status(&v);
    assert!(
        t.contains("Border agent LAN:  eth0 port 49191, 1 peers, relayed 5 in 6 out, dropped 0\n"),
        "{t}"
    );
    assert!(!t.contains("mDNS"), "{t}");
    v["mdns"] = json!({"enabled":true,"interface":"eth0","instance":"thread-agent Border Router #7ECC",
        "port":49191,"published":true,"updates":3});
    let t = render_status(&v);
    assert!(
        t.contains("mDNS:              _meshcop._udp \"thread-agent Border Router #7ECC\" port 49191 on eth0 (3 updates)\n"),
        "{t}"
    );
    v["mdns"] = json!({"enabled":true,"interface":null,"instance":null,"port":null,
        "published":false,"updates":0});
    assert!(render_status(&v)
        .contains("mDNS:              not published (no [bridge] infra_interface)"));
    v["mdns"] = json!({"enabled":false,"interface":"eth0","published":false,"updates":0});
    assert!(render_status(&v).contains("mDNS:              off"));
    v["mdns"] = json!({"enabled":true,"interface":"eth0","published":false,"updates":0,
        "last_error":"no Border Agent port to publish yet"});
    assert!(
        render_status(&v).contains("not published yet on eth0; last error: no Border Agent port")
    );
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
    let v = json!({"state":"waiting-retry","other_commissioner":"\"phone\""});
    assert!(render_commissioner(&v).contains("another commissioner is active: \"phone\"\n"));
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
    let e = read_pskd(Some("j01nme"), None, None, None).unwrap_err();
    assert_eq!(e.code, 2);
    assert!(!e.message.contains("j01nme"));
    assert!(read_pskd(Some("J01NME"), None, None, None).is_ok());
    assert!(read_pskd(None, None, Some(Zeroizing::new("J01NME".to_string())), None).is_ok());
    assert_eq!(read_pskd(None, None, None, None).unwrap_err().code, 2);
    // The environment variable, when no flag gives one (a flag wins).
    let env = || Some(zeroize::Zeroizing::new("ENV0PSKD\n".to_string()));
    assert_eq!(
        read_pskd(None, None, None, env()).unwrap().as_str(),
        "ENV0PSKD"
    );
    assert_eq!(
        read_pskd(Some("J01NME"), None, None, env())
            .unwrap()
            .as_str(),
        "J01NME"
    );
    let e = read_pskd(
        None,
        None,
        None,
        Some(zeroize::Zeroizing::new("bad".into())),
    )
    .unwrap_err();
    assert!(e.code == 2 && !e.message.contains("bad"), "{}", e.message);
    let dir = std::env::temp_dir().join(format!("threadctl-pskd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("pskd");
    std::fs::write(&f, "J01NME\n").unwrap();
    assert!(read_pskd(None, Some(&f), None, None).is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_pskd_on_the_command_line_is_warned_about_and_the_safe_forms_are_not() {
    for (pskd, qr) in [
        (Some("J01NME"), None),
        (None, Some("v=1&&eui=18b4300000000002&&cc=J01NME")),
    ] {
        let w = cmdline_secret_warning(pskd, qr).expect("a warning");
        assert!(w.contains("/proc/PID/cmdline"), "{w}");
        assert!(w.contains("--pskd -") && w.contains("--pskd-file") && w.contains(PSKD_ENV));
        assert!(
            !w.contains("J01NME"),
            "the warning never shows the PSKd: {w}"
        );
    }
    assert_eq!(cmdline_secret_warning(Some("-"), None), None);
    assert_eq!(cmdline_secret_warning(None, Some("-")), None);
    assert_eq!(cmdline_secret_warning(None, None), None);
    // The help shows the safe forms.
    let mut cmd = Cli::command();
    let add = cmd
        .find_subcommand_mut("joiner")
        .and_then(|j| j.find_subcommand_mut("add"))
        .unwrap();
    let help = add.render_long_help().to_string();
    for form in [
        "--pskd -",
        "--pskd-file",
        "THREADCTL_PSKD",
        "--qr -",
        "/proc/PID/cmdline",
    ] {
        assert!(
            help.contains(form),
            "`joiner add --help` lacks {form}:\n{help}"
        );
    }
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

/// The exit code of a command run against a socket nobody listens on (3: it got as far as
/// connecting), and its error message.
fn run_code(args: &[&str]) -> (u8, String) {
    let mut argv = vec!["threadctl", "--socket", "/nonexistent/threadctl-test.sock"];
    argv.extend_from_slice(args);
    let f = run(Cli::try_parse_from(argv).unwrap()).unwrap_err();
    (f.code, f.message)
}

#[test]
fn lifecycle_values_are_checked_before_sending() {
    for (args, says) in [
        (
            &["network", "rotate-key", "--delay", "10"][..],
            "minimum of 30 s",
        ),
        (&["network", "rotate-key", "--delay", "29"], "--delay"),
        (&["network", "rotate-key", "--delay", "259201"], "maximum"),
        (&["network", "migrate", "--channel", "27"], "--channel"),
        (&["network", "migrate", "--channel", "10"], "11..26"),
        (&["network", "migrate", "--pan-id", "0xffff"], "broadcast"),
        (&["network", "migrate", "--pan-id", "65535"], "broadcast"),
        (&["network", "migrate", "--pan-id", "zz"], "--pan-id"),
        (&["network", "migrate", "--pan-id", "0x12345"], "--pan-id"),
        (&["network", "migrate"], "nothing to migrate"),
        (
            &["network", "migrate", "--delay", "30"],
            "nothing to migrate",
        ),
        (
            &["network", "migrate", "--channel", "20", "--delay", "5"],
            "--delay",
        ),
    ] {
        let (code, msg) = run_code(args);
        assert_eq!(code, 2, "{args:?}: {msg}");
        assert!(msg.contains(says), "{args:?}: {msg}");
    }
    // Valid values get as far as the (missing) socket: 3.
    for args in [
        &["network", "rotate-key"][..],
        &["network", "rotate-key", "--delay", "30", "--pskc", "--wait"],
        &[
            "network",
            "migrate",
            "--channel",
            "20",
            "--pan-id",
            "0x1234",
            "--wait",
        ],
        &["network", "migrate", "--pan-id", "4660"],
        &["network", "pending", "--json"],
        &["dataset", "import", "0e080000000000010000"],
    ] {
        assert_eq!(run_code(args).0, 3, "{args:?}");
    }
    // Not numbers at all: clap's usage errors (exit 2 in `main`).
    for args in [
        &["threadctl", "network", "rotate-key", "--delay", "x"][..],
        &["threadctl", "network", "migrate", "--channel", "-1"],
        &["threadctl", "network", "pending", "--delay", "30"],
    ] {
        assert!(
            Cli::try_parse_from(args).unwrap_err().use_stderr(),
            "{args:?}"
        );
    }
}

#[test]
fn lifecycle_requests_carry_the_checked_values() {
    let when = |delay: u64| Schedule {
        delay,
        wait: false,
        json: false,
    };
    assert_eq!(
        rotate_key(&when(30), true).unwrap(),
        control::RotateKey {
            delay: 30,
            pskc: true
        }
    );
    assert_eq!(
        migrate(Some(20), Some("0x00AB"), &when(300)).unwrap(),
        control::Migrate {
            channel: Some(20),
            pan_id: Some(0xab),
            delay: 300
        }
    );
    let c = Cli::try_parse_from(["threadctl", "network", "rotate-key"]).unwrap();
    assert!(matches!(
        c.command,
        Command::Network {
            command: NetworkCommand::RotateKey {
                when: Schedule {
                    delay: 300,
                    wait: false,
                    json: false
                },
                pskc: false
            }
        }
    ));
}

#[test]
fn dataset_import_takes_exactly_one_input_and_never_echoes_the_hex() {
    let secret = "0e080000000000010000000300000f35060004001fffe0";
    let dir = std::env::temp_dir().join(format!("threadctl-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("dataset.hex");
    std::fs::write(&f, format!("  {secret}\n\n")).unwrap();
    let fs = f.to_str().unwrap();
    for args in [
        &["dataset", "import", secret, "--file", fs][..],
        &["dataset", "import", "-", "--file", fs],
        &["dataset", "import"],
        &["dataset", "import", "--replace"],
    ] {
        let (code, msg) = run_code(args);
        assert_eq!(code, 2, "{args:?}: {msg}");
        assert!(!msg.contains(secret) && !msg.contains("0e08"), "{msg}");
    }
    // Bad hex: the message names a position or a count, never the text.
    for bad in [
        "0e08zz0000000000010000",
        "0e080000000000010000000300000f35060004001",
        "0e08 0000",
        "   ",
    ] {
        let (code, msg) = run_code(&["dataset", "import", bad]);
        assert_eq!(code, 2, "{bad}: {msg}");
        assert!(!msg.contains("0e08") && !msg.contains("zz"), "{msg}");
    }
    let t = decode_dataset(format!(" {secret}\r\n").as_bytes()).unwrap();
    assert_eq!(t.0.as_slice(), hex::decode(secret).unwrap().as_slice());
    assert!(!format!("{t:?}").contains("0e08"));
    let e = decode_dataset(b"0e0x").unwrap_err();
    assert!(
        e.code == 2 && e.message.contains("character 4"),
        "{}",
        e.message
    );
    // --file: surrounding whitespace trimmed; valid input gets as far as the socket.
    assert_eq!(run_code(&["dataset", "import", "--file", fs]).0, 3);
    let i = dataset_import(None, Some(&f), true).unwrap();
    assert!(i.replace && i.tlvs.0.as_slice() == hex::decode(secret).unwrap().as_slice());
    let e = dataset_import(None, Some(&dir.join("missing")), false).unwrap_err();
    assert_eq!(e.code, 2);
    std::fs::write(&f, "ab".repeat(3000)).unwrap();
    let e = dataset_import(None, Some(&f), false).unwrap_err();
    assert!(
        e.code == 2 && e.message.contains("longer than"),
        "{}",
        e.message
    );
    let _ = std::fs::remove_dir_all(&dir);
    // The HEX form draws the command-line warning; `-` and --file do not.
    assert!(cmdline_dataset_warning(Some(secret))
        .is_some_and(|w| w.contains("/proc/PID/cmdline") && !w.contains("0e08")));
    assert_eq!(cmdline_dataset_warning(Some("-")), None);
    assert_eq!(cmdline_dataset_warning(None), None);
}

#[test]
fn refused_changes_exit_9() {
    for code in ["change_pending", "network_exists", "pan_id_in_use"] {
        let line = format!(r#"{{"id":1,"error":{{"code":"{code}","message":"refused"}}}}"#);
        let e = parse_reply(&line).unwrap_err();
        assert_eq!(e.code, 9, "{code}");
        assert!(e.message.contains(code), "{}", e.message);
    }
    let e = parse_reply(r#"{"id":1,"error":{"code":"invalid_params","message":"x"}}"#);
    assert_eq!(e.unwrap_err().code, 1);
    assert!(EXIT_CODES.contains("9 a change is already pending") && EXIT_CODES.contains("10 "));
}

#[test]
fn the_manual_has_a_page_for_each_lifecycle_command() {
    let top = run_code_ok(&["man"]);
    assert!(top.contains("threadctl\\-network(1)"), "{top}");
    for (path, has) in [
        (&["network", "rotate-key"][..], "\\-\\-pskc"),
        (&["network", "migrate"], "\\-\\-pan\\-id"),
        (&["network", "pending"], "threadctl\\-network\\-pending"),
        (&["dataset", "import"], "\\-\\-replace"),
        (&["network"], "threadctl\\-network\\-rotate\\-key(1)"),
    ] {
        let mut args = vec!["man"];
        args.extend_from_slice(path);
        let page = run_code_ok(&args);
        assert!(page.contains(has), "{path:?} lacks {has}:\n{page}");
    }
    assert_eq!(run_code(&["man", "network", "frobnicate"]).0, 2);
}

fn run_code_ok(args: &[&str]) -> String {
    let mut argv = vec!["threadctl"];
    argv.extend_from_slice(args);
    run(Cli::try_parse_from(argv).unwrap()).unwrap()
}
