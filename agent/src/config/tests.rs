//! Unit tests of [`super::load_with`]: values, messages and precedence.

use super::*;

fn no_devices() -> Machine {
    Machine {
        exists: |_| false,
        current_exe: Some(PathBuf::from("/opt/ta/target/debug/thread-agent")),
    }
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn with_file(contents: &str) -> (tempfile::TempDir, Overrides) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.toml");
    std::fs::write(&path, contents).unwrap();
    (
        dir,
        Overrides {
            config: Some(path),
            ..Default::default()
        },
    )
}

fn err_of(r: Result<Settings, ConfigError>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn defaults_and_simulated_radio() {
    let (_d, o) = with_file("");
    let s = load_with(&o, &[], &no_devices).unwrap();
    assert_eq!(s.channel, 15);
    assert_eq!(s.network_name, "ThreadAgent");
    assert_eq!(s.control_socket, PathBuf::from(DEFAULT_CONTROL_SOCKET));
    assert_eq!(s.state_dir, PathBuf::from(DEFAULT_STATE_DIR));
    assert_eq!(s.log_format, LogFormat::Text);
    assert_eq!(
        s.radio_url_source,
        RadioUrlSource::Simulated(PathBuf::from(
            "/opt/ta/target/openthread/ncp/bin/ot-ncp-ftd"
        ))
    );
    assert!(
        s.radio_url.to_string().contains("forkpty"),
        "{}",
        s.radio_url
    );
}

#[test]
fn sim_ncp_env_and_device_rule() {
    let (_d, o) = with_file("");
    let s = load_with(
        &o,
        &env(&[("THREAD_AGENT_SIM_NCP", "/x/ot-ncp-ftd")]),
        &no_devices,
    )
    .unwrap();
    assert_eq!(
        s.radio_url_source,
        RadioUrlSource::Simulated(PathBuf::from("/x/ot-ncp-ftd"))
    );
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    let acm = || Machine {
        exists: |p| p == Path::new("/dev/ttyACM0"),
        current_exe: None,
    };
    let s = load_with(&o, &[], &acm).unwrap();
    assert_eq!(
        s.radio_url_source,
        RadioUrlSource::DefaultDevice(PathBuf::from("/dev/ttyACM0"))
    );
}

#[test]
fn bridge_keys() {
    let (_d, o) = with_file("");
    let s = load_with(&o, &[], &no_devices).unwrap();
    assert_eq!(s.bridge.interface, "wpan0");
    assert_eq!(s.bridge.infra_interface, None);
    let (_d, o) = with_file("[bridge]\ninterface = \"thread1\"\ninfra_interface = \"eth0\"\n");
    let e = env(&[("THREAD_AGENT_BRIDGE__INFRA_INTERFACE", "veth9")]);
    let s = load_with(&o, &e, &no_devices).unwrap();
    assert_eq!(s.bridge.interface, "thread1");
    assert_eq!(s.bridge.infra_interface.as_deref(), Some("veth9"));
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    let (_d, o) = with_file("[bridge]\ninterface = \"a/b\"\n");
    let m = err_of(load_with(&o, &[], &no_devices));
    assert!(m.contains("bridge.interface") && m.contains("a/b"), "{m}");
}

#[test]
fn border_agent_lan_port() {
    let (_d, o) = with_file("");
    let s = load_with(&o, &[], &no_devices).unwrap();
    assert_eq!(s.border_agent_lan_port, 49191);
    let (_d, o) = with_file("[border_agent]\nlan_port = 0\n");
    assert_eq!(
        load_with(&o, &[], &no_devices)
            .unwrap()
            .border_agent_lan_port,
        0
    );
    let e = env(&[("THREAD_AGENT_BORDER_AGENT__LAN_PORT", "40000")]);
    let s = load_with(&o, &e, &no_devices).unwrap();
    assert_eq!(s.border_agent_lan_port, 40000);
    for bad in ["65536", "-1", "\"x\""] {
        let (_d, o) = with_file(&format!("[border_agent]\nlan_port = {bad}\n"));
        let m = err_of(load_with(&o, &[], &no_devices));
        assert!(m.contains("border_agent.lan_port"), "{m}");
    }
}

#[test]
fn precedence_file_env_flags() {
    let (_d, mut o) =
        with_file("state_dir = \"/file\"\n[network]\nchannel = 12\nname = \"FromFile\"\n");
    let e = env(&[
        ("THREAD_AGENT_NETWORK__CHANNEL", "20"),
        ("THREAD_AGENT_STATE_DIR", "/env"),
    ]);
    let s = load_with(&o, &e, &no_devices).unwrap();
    assert_eq!(s.channel, 20);
    assert_eq!(s.network_name, "FromFile");
    assert_eq!(s.state_dir, PathBuf::from("/env"));
    o.state_dir = Some("/flag".into());
    let s = load_with(&o, &e, &no_devices).unwrap();
    assert_eq!(s.state_dir, PathBuf::from("/flag"));
}

#[test]
fn bad_channel_names_key_value_and_range() {
    let (_d, o) = with_file("[network]\nchannel = 30\n");
    let m = err_of(load_with(&o, &[], &no_devices));
    assert!(
        m.contains("network.channel") && m.contains("\"30\"") && m.contains("11..26"),
        "{m}"
    );
    let (_d, o) = with_file("");
    let m = err_of(load_with(
        &o,
        &env(&[("THREAD_AGENT_NETWORK__CHANNEL", "abc")]),
        &no_devices,
    ));
    assert!(
        m.contains("network.channel")
            && m.contains("abc")
            && m.contains("THREAD_AGENT_NETWORK__CHANNEL"),
        "{m}"
    );
}

#[test]
fn bad_name_too_long_or_empty() {
    let (_d, o) = with_file("[network]\nname = \"ThisNameIsLongerThan16\"\n");
    let m = err_of(load_with(&o, &[], &no_devices));
    assert!(
        m.contains("network.name") && m.contains("1..16 bytes"),
        "{m}"
    );
    let (_d, o) = with_file("[network]\nname = \"\"\n");
    assert!(err_of(load_with(&o, &[], &no_devices)).contains("network.name"));
}

#[test]
fn bad_radio_url_and_log_format() {
    let (_d, mut o) = with_file("");
    o.radio_url = Some("http://example".into());
    let m = err_of(load_with(&o, &[], &no_devices));
    assert!(
        m.contains("radio_url")
            && m.contains("http://example")
            && m.contains("spinel+hdlc+uart://"),
        "{m}"
    );
    o.radio_url = None;
    o.log_format = Some("xml".into());
    let m = err_of(load_with(&o, &[], &no_devices));
    assert!(
        m.contains("log.format") && m.contains("xml") && m.contains("json"),
        "{m}"
    );
}

#[test]
fn bad_level_path_and_missing_file_and_garbage() {
    let (_d, o) = with_file("[log]\nlevel = \"loud\"\n");
    assert!(err_of(load_with(&o, &[], &no_devices)).contains("log.level"));
    let (_d, o) = with_file("state_dir = \"\"\n");
    assert!(err_of(load_with(&o, &[], &no_devices)).contains("state_dir"));
    let o = Overrides {
        config: Some("/nonexistent/agent.toml".into()),
        ..Default::default()
    };
    assert!(matches!(
        load_with(&o, &[], &no_devices),
        Err(ConfigError::MissingFile { .. })
    ));
    let (_d, o) = with_file("this is [not toml");
    assert!(matches!(
        load_with(&o, &[], &no_devices),
        Err(ConfigError::Unreadable(_))
    ));
    let (_d, o) = with_file("[network]\nchannel = [1, 2]\n");
    assert!(err_of(load_with(&o, &[], &no_devices)).contains("network.channel"));
}

#[test]
fn unknown_key_in_the_file_is_an_error_naming_the_closest_key() {
    // A typo at the top level (the key belongs in [network]) and inside its section.
    for (file, want) in [
        ("chanel = 20\n", "network.channel"),
        ("[network]\nchanel = 20\n", "network.channel"),
        ("radio_ulr = \"x\"\n", "radio_url"),
        (
            "[commissioner]\njoiner_timout = 5\n",
            "commissioner.joiner_timeout",
        ),
        ("[audit]\nmax_byte = 5000\n", "audit.max_bytes"),
    ] {
        let (_d, o) = with_file(file);
        let e = load_with(&o, &[], &no_devices).expect_err(file);
        assert!(matches!(e, ConfigError::UnknownKey { .. }), "{file}: {e}");
        let m = e.to_string();
        assert!(m.contains(&format!("did you mean `{want}`")), "{file}: {m}");
        assert!(m.contains("agent.toml"), "{m}");
    }
    // Nothing close: the message lists the keys.
    let (_d, o) = with_file("zzzzzzzzzz = 1\n");
    let m = err_of(load_with(&o, &[], &no_devices));
    assert!(m.contains("known keys: radio_url"), "{m}");
    // In the environment (also used by other tools): a warning only.
    let (_d, o) = with_file("");
    let s = load_with(
        &o,
        &env(&[("THREAD_AGENT_NETWORK__CHANEL", "20")]),
        &no_devices,
    )
    .unwrap();
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    assert!(s.warnings[0].contains("network.chanel"), "{:?}", s.warnings);
    let s = load_with(
        &o,
        &env(&[("THREAD_AGENT_DEBUG_METHODS", "1")]),
        &no_devices,
    )
    .unwrap();
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
}

#[test]
fn empty_config_file_and_dev_null_mean_defaults() {
    let o = Overrides {
        config: Some("/dev/null".into()),
        ..Default::default()
    };
    let s = load_with(&o, &[], &no_devices).unwrap();
    assert_eq!(s.channel, DEFAULT_CHANNEL);
    assert_eq!(s.audit_max_bytes, DEFAULT_AUDIT_MAX_BYTES);
    // A directory is not a configuration file: a clear message, not "not found".
    let d = tempfile::tempdir().unwrap();
    let o = Overrides {
        config: Some(d.path().to_path_buf()),
        ..Default::default()
    };
    let m = err_of(load_with(&o, &[], &no_devices));
    assert!(
        m.contains(&d.path().display().to_string()) && !m.contains("not found"),
        "{m}"
    );
}

#[test]
fn audit_max_bytes() {
    let (_d, o) = with_file("[audit]\nmax_bytes = 65536\n");
    assert_eq!(
        load_with(&o, &[], &no_devices).unwrap().audit_max_bytes,
        65536
    );
    for bad in ["10", "\"lots\"", "2000000000000"] {
        let (_d, o) = with_file(&format!("[audit]\nmax_bytes = {bad}\n"));
        let m = err_of(load_with(&o, &[], &no_devices));
        assert!(m.contains("audit.max_bytes") && m.contains("4096"), "{m}");
    }
}

fn settings_in(dir: &Path) -> Settings {
    let (_d, mut o) = with_file("");
    o.state_dir = Some(dir.join("state").display().to_string());
    o.control_socket = Some(dir.join("run/control.sock").display().to_string());
    load_with(&o, &[], &no_devices).unwrap()
}

#[test]
fn paths_are_checked_and_the_state_dir_created() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let s = settings_in(d.path());
    check_paths(&s).unwrap();
    let mode = std::fs::metadata(&s.state_dir)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700);
    // No probe file is left behind.
    assert_eq!(std::fs::read_dir(&s.state_dir).unwrap().count(), 0);
    check_paths(&s).unwrap();
}

#[test]
fn a_path_of_the_wrong_kind_is_exit_2_naming_it() {
    let d = tempfile::tempdir().unwrap();
    let s = settings_in(d.path());
    // The state directory is a file.
    std::fs::write(&s.state_dir, "x").unwrap();
    let e = check_paths(&s).unwrap_err();
    assert_eq!(e.code, crate::session::exit::USAGE, "{e}");
    let m = e.to_string();
    assert!(
        m.starts_with("state_dir ") && m.contains("not a directory"),
        "{m}"
    );
    std::fs::remove_file(&s.state_dir).unwrap();
    // The audit log, its rotated file or the backup is a directory.
    for name in ["audit.jsonl", "audit.jsonl.1", "dataset.tlvs"] {
        let p = s.state_dir.join(name);
        std::fs::create_dir_all(&p).unwrap();
        let e = check_paths(&s).unwrap_err();
        assert_eq!(e.code, crate::session::exit::USAGE, "{e}");
        assert!(e.to_string().contains(name), "{e}");
        std::fs::remove_dir(&p).unwrap();
    }
    // The control socket is a regular file, or its directory is.
    std::fs::create_dir_all(s.control_socket.parent().unwrap()).unwrap();
    std::fs::write(&s.control_socket, "x").unwrap();
    let e = check_paths(&s).unwrap_err();
    assert_eq!(e.code, crate::session::exit::USAGE, "{e}");
    assert!(e.to_string().starts_with("control_socket "), "{e}");
    std::fs::remove_dir_all(s.control_socket.parent().unwrap()).unwrap();
    std::fs::write(s.control_socket.parent().unwrap(), "x").unwrap();
    let e = check_paths(&s).unwrap_err();
    assert!(e.to_string().contains("is not a directory"), "{e}");
}

#[test]
fn an_unwritable_state_dir_is_exit_4() {
    // /sys refuses new files even to root; skip where it does not.
    let probe = Path::new("/sys/.thread-agent-probe");
    if std::fs::write(probe, "x").is_ok() {
        let _ = std::fs::remove_file(probe);
        return;
    }
    let (_d, mut o) = with_file("");
    o.state_dir = Some("/sys".into());
    let s = load_with(&o, &[], &no_devices).unwrap();
    let e = check_paths(&s).unwrap_err();
    assert_eq!(e.code, crate::session::exit::PERMISSION_DENIED, "{e}");
    assert!(e.to_string().contains("cannot write in it"), "{e}");
}

#[test]
fn mdns_keys_defaults_values_and_limits() {
    let (_d, o) = with_file("");
    let m = load_with(&o, &[], &no_devices).unwrap().mdns;
    assert_eq!(m, crate::mdns::MdnsConfig::default());
    assert!(m.enabled && m.instance_name.is_none());
    assert_eq!(
        (m.vendor_name.as_str(), m.model_name.as_str()),
        ("thread-agent", "thread-agent")
    );
    let (_d, o) = with_file(
        "[mdns]\nenabled = false\ninstance_name = \"Küche BR\"\nvendor_name = \"Acme\"\nmodel_name = \"BR-1\"\n",
    );
    let m = load_with(&o, &[], &no_devices).unwrap().mdns;
    assert!(!m.enabled);
    assert_eq!(m.instance_name.as_deref(), Some("Küche BR"));
    assert_eq!(
        (m.vendor_name.as_str(), m.model_name.as_str()),
        ("Acme", "BR-1")
    );
    for (file, key) in [
        (
            format!("[mdns]\ninstance_name = \"{}\"\n", "x".repeat(64)),
            "mdns.instance_name",
        ),
        (
            "[mdns]\ninstance_name = \"\"\n".to_string(),
            "mdns.instance_name",
        ),
        (
            "[mdns]\ninstance_name = \"a\\nb\"\n".to_string(),
            "mdns.instance_name",
        ),
        (
            format!("[mdns]\nvendor_name = \"{}\"\n", "v".repeat(25)),
            "mdns.vendor_name",
        ),
        ("[mdns]\nmodel_name = \"\"\n".to_string(), "mdns.model_name"),
        ("[mdns]\nenabled = \"maybe\"\n".to_string(), "mdns.enabled"),
    ] {
        let (_d, o) = with_file(&file);
        let e = err_of(load_with(&o, &[], &no_devices));
        assert!(
            e.starts_with(&format!("invalid configuration: {key} = ")),
            "{e}"
        );
    }
    // 63 bytes is the limit, counted in bytes (ü is two).
    let (_d, o) = with_file(&format!(
        "[mdns]\ninstance_name = \"{}ü\"\n",
        "x".repeat(61)
    ));
    assert!(load_with(&o, &[], &no_devices).is_ok());
    let (_d, o) = with_file(&format!(
        "[mdns]\ninstance_name = \"{}ü\"\n",
        "x".repeat(62)
    ));
    assert!(load_with(&o, &[], &no_devices).is_err());
    let e = err_of(load_with(
        &with_file("[mdns]\nvendor = \"x\"\n").1,
        &[],
        &no_devices,
    ));
    assert!(e.contains("mdns.vendor_name"), "{e}");
}
