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
fn unknown_keys_warn() {
    let (_d, o) = with_file("radio_ulr = \"x\"\n");
    let s = load_with(&o, &[], &no_devices).unwrap();
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
}
