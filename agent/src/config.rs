//! Configuration of `thread-agent`: a TOML file, environment variables and command-line flags,
//! merged with the `config` crate and then validated key by key.
//!
//! Precedence: flags beat environment (`THREAD_AGENT_<KEY>`, nested with `__`, e.g.
//! `THREAD_AGENT_NETWORK__CHANNEL=20`) beat the file (`--config PATH`, default
//! `/etc/thread-agent/agent.toml`; a missing default file is fine, a missing explicit one is an
//! error).
//!
//! Guarantees: every value is read as text and checked here, so an invalid value becomes a
//! [`ConfigError::Invalid`] naming the key, the value and what is allowed (the binary turns it into
//! exit code 2); nothing panics on a bad file. When no radio URL is configured, the default rule of
//! the contract applies ([`default_radio_url`]).
//!
//! Validated by the unit tests at the bottom (bad values produce the expected messages,
//! precedence file < env < flags).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ncp::RadioUrl;

/// Default configuration file; missing is fine.
pub(crate) const DEFAULT_CONFIG_PATH: &str = "/etc/thread-agent/agent.toml";
/// Default control socket path.
pub(crate) const DEFAULT_CONTROL_SOCKET: &str = "/run/thread-agent/control.sock";
/// Default state directory.
pub(crate) const DEFAULT_STATE_DIR: &str = "/var/lib/thread-agent";
/// Default network name.
pub(crate) const DEFAULT_NETWORK_NAME: &str = "ThreadAgent";
/// Default 2.4 GHz channel.
pub(crate) const DEFAULT_CHANNEL: u8 = 15;

/// Keys this program reads (another key in the file is an error naming the closest of these; in
/// the environment, a warning).
const KNOWN_KEYS: &[&str] = &[
    "radio_url",
    "control_socket",
    "state_dir",
    "network.name",
    "network.channel",
    "network.form",
    "log.level",
    "log.format",
    "commissioner.always_on",
    "commissioner.joiner_timeout",
    "commissioner.provisioning_url",
    "commissioner.id",
    "commissioner.pskc_override",
    "bridge.interface",
    "bridge.infra_interface",
    "border_agent.lan_port",
    "audit.max_bytes",
    "devices.presence_interval",
    "rest.listen",
    "rest.credentials_file",
    "mdns.enabled",
    "mdns.instance_name",
    "mdns.vendor_name",
    "mdns.model_name",
];

/// Accepted `[devices] presence_interval` (seconds).
const PRESENCE_INTERVAL_RANGE: std::ops::RangeInclusive<u64> = 5..=3600;

/// Default `[audit] max_bytes`: the audit log is rotated (`audit.jsonl` -> `audit.jsonl.1`) when
/// it would grow past this, so it takes at most twice this on disk.
pub(crate) const DEFAULT_AUDIT_MAX_BYTES: u64 = 8 * 1024 * 1024;
/// Smallest accepted `[audit] max_bytes`.
const MIN_AUDIT_MAX_BYTES: u64 = 4096;
/// Largest accepted `[audit] max_bytes` (1 GiB).
const MAX_AUDIT_MAX_BYTES: u64 = 1 << 30;

/// Default `[commissioner] joiner_timeout` (seconds).
pub(crate) const DEFAULT_JOINER_TIMEOUT_S: u64 = 120;
/// Default `[commissioner] id` (Commissioner ID TLV).
pub(crate) const DEFAULT_COMMISSIONER_ID: &str = "thread-agent";

/// `[commissioner]`: the on-mesh commissioner service.
#[derive(Clone)]
pub(crate) struct CommissionerSettings {
    /// Petition at start-up and stay active (default false: only while joiner entries are live).
    pub(crate) always_on: bool,
    /// Default lifetime of a joiner entry.
    pub(crate) joiner_timeout: std::time::Duration,
    /// Provisioning URL a joiner's JOIN_FIN must match if it sends one.
    pub(crate) provisioning_url: Option<String>,
    /// Commissioner ID.
    pub(crate) id: String,
    /// Hidden test knob: use this PSKc (32 hex digits) instead of the dataset's.
    pub(crate) pskc_override: Option<meshcop::credentials::Pskc>,
}

impl fmt::Debug for CommissionerSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommissionerSettings")
            .field("always_on", &self.always_on)
            .field("joiner_timeout", &self.joiner_timeout)
            .field("provisioning_url", &self.provisioning_url)
            .field("id", &self.id)
            .field(
                "pskc_override",
                &self.pskc_override.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Default for CommissionerSettings {
    fn default() -> Self {
        CommissionerSettings {
            always_on: false,
            joiner_timeout: std::time::Duration::from_secs(DEFAULT_JOINER_TIMEOUT_S),
            provisioning_url: None,
            id: DEFAULT_COMMISSIONER_ID.to_string(),
            pskc_override: None,
        }
    }
}

/// The log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
    /// Native journald entries with structured fields (see `logging`); text under systemd picks
    /// it automatically.
    Journal,
}

impl LogFormat {
    /// Parses `text`, `json` or `journal`.
    pub(crate) fn parse(s: &str) -> Option<LogFormat> {
        match s {
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            "journal" => Some(LogFormat::Journal),
            _ => None,
        }
    }
}

/// Where the radio URL came from (for the start-up log line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RadioUrlSource {
    /// Given by the file, the environment or a flag.
    Configured,
    /// A device node found by the default rule.
    DefaultDevice(PathBuf),
    /// The simulated co-processor (no device found).
    Simulated(PathBuf),
}

/// Validated settings.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) radio_url: RadioUrl,
    pub(crate) radio_url_source: RadioUrlSource,
    pub(crate) control_socket: PathBuf,
    pub(crate) state_dir: PathBuf,
    pub(crate) network_name: String,
    pub(crate) channel: u8,
    /// `[network] form`: form a new network on a blank co-processor without a backup (default
    /// true); false waits for `threadctl dataset import` instead.
    pub(crate) form: bool,
    pub(crate) log_level: String,
    pub(crate) log_format: LogFormat,
    pub(crate) commissioner: CommissionerSettings,
    /// `[bridge]`: the Thread network interface and the infrastructure interface.
    pub(crate) bridge: crate::bridge::BridgeConfig,
    /// `[border_agent] lan_port`: the LAN relay's UDP port (0: any free port).
    pub(crate) border_agent_lan_port: u16,
    /// `[audit] max_bytes`: the size at which the audit log is rotated.
    pub(crate) audit_max_bytes: u64,
    /// `[devices] presence_interval`: how often the inventory looks for its devices on the mesh.
    pub(crate) presence_interval: Duration,
    /// `[rest]`: the OpenThread Border Router REST API (None: off, the default).
    pub(crate) rest: Option<crate::rest::RestConfig>,
    /// `[mdns]`: the `_meshcop._udp` publication on the infrastructure link.
    pub(crate) mdns: crate::mdns::MdnsConfig,
    /// Non-fatal findings (unknown environment keys) to log once logging is up.
    pub(crate) warnings: Vec<String>,
}

/// Values from the command line; `None` means "not given".
#[derive(Debug, Clone, Default)]
pub(crate) struct Overrides {
    pub(crate) config: Option<PathBuf>,
    pub(crate) radio_url: Option<String>,
    pub(crate) control_socket: Option<String>,
    pub(crate) state_dir: Option<String>,
    pub(crate) log_format: Option<String>,
}

/// Why the configuration cannot be used. Every variant maps to exit code 2.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    /// A key has a value that is not allowed.
    #[error("invalid configuration: {key} = {value:?} ({origin}); allowed: {allowed}")]
    Invalid {
        key: String,
        value: String,
        origin: String,
        allowed: String,
    },
    /// The explicitly named configuration file does not exist.
    #[error("configuration file {path} does not exist")]
    MissingFile { path: String },
    /// The file cannot be read or parsed.
    #[error("cannot read configuration: {0}")]
    Unreadable(String),
    /// The file has a key this program does not read (a typo would otherwise silently fall back
    /// to the default).
    #[error("unknown configuration key `{key}` ({origin}){}", suggestion_text(.suggestion))]
    UnknownKey {
        key: String,
        origin: String,
        suggestion: Option<String>,
    },
}

fn suggestion_text(s: &Option<String>) -> String {
    match s {
        Some(k) => match k.split_once('.') {
            Some((section, name)) => {
                format!("; did you mean `{k}` (`{name}` in section `[{section}]`)?")
            }
            None => format!("; did you mean `{k}`?"),
        },
        None => format!("; known keys: {}", KNOWN_KEYS.join(", ")),
    }
}

/// Loads the configuration from `overrides.config` (or the default path), the process environment
/// and the flags, then validates it.
pub(crate) fn load(overrides: &Overrides) -> Result<Settings, ConfigError> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    load_with(overrides, &env, &probe_filesystem)
}

/// What the default radio URL rule needs to know about the machine.
pub(crate) struct Machine {
    pub(crate) exists: fn(&Path) -> bool,
    pub(crate) current_exe: Option<PathBuf>,
}

fn probe_filesystem() -> Machine {
    Machine {
        exists: |p| p.exists(),
        current_exe: std::env::current_exe().ok(),
    }
}

/// [`load`] with an explicit environment and machine (for tests).
pub(crate) fn load_with(
    overrides: &Overrides,
    env: &[(String, String)],
    machine: &dyn Fn() -> Machine,
) -> Result<Settings, ConfigError> {
    let cfg = merge_sources(overrides, env)?;
    let file_name = match &overrides.config {
        Some(p) => p.display().to_string(),
        None => DEFAULT_CONFIG_PATH.to_string(),
    };
    let origin_of = |key: &str| -> String {
        let flag = match key {
            "radio_url" => overrides.radio_url.is_some(),
            "control_socket" => overrides.control_socket.is_some(),
            "state_dir" => overrides.state_dir.is_some(),
            "log.format" => overrides.log_format.is_some(),
            _ => false,
        };
        let env_key = env_name(key);
        if flag {
            format!("from flag --{}", key.replace(['.', '_'], "-"))
        } else if env.iter().any(|(k, _)| k.eq_ignore_ascii_case(&env_key)) {
            format!("from env {env_key}")
        } else {
            format!("from {file_name}")
        }
    };
    let warnings = unknown_keys(&cfg, &file_keys(overrides)?, &file_name)?;

    let control_socket = path_value(&cfg, "control_socket", &origin_of)?
        .unwrap_or_else(|| DEFAULT_CONTROL_SOCKET.into());
    let state_dir =
        path_value(&cfg, "state_dir", &origin_of)?.unwrap_or_else(|| DEFAULT_STATE_DIR.into());
    let (network_name, channel, form) = network_settings(&cfg, &origin_of)?;
    let (log_level, log_format) = log_settings(&cfg, &origin_of)?;
    let commissioner = commissioner_settings(&cfg, &origin_of)?;
    let bridge = bridge_settings(&cfg, &origin_of)?;
    let border_agent_lan_port = lan_port_setting(&cfg, &origin_of)?;
    let audit_max_bytes = audit_settings(&cfg, &origin_of)?;
    let presence_interval = presence_settings(&cfg, &origin_of)?;
    let rest = rest_settings(&cfg, &origin_of)?;
    let mdns = mdns::mdns_settings(&cfg, &origin_of)?;
    let (radio_url, radio_url_source) = match text(&cfg, "radio_url", &origin_of)? {
        Some((v, origin)) => (radio_url_value(&v, origin)?, RadioUrlSource::Configured),
        None => default_radio_url(env, &machine())?,
    };

    Ok(Settings {
        radio_url,
        radio_url_source,
        control_socket,
        state_dir,
        network_name,
        channel,
        form,
        log_level,
        log_format,
        commissioner,
        bridge,
        border_agent_lan_port,
        audit_max_bytes,
        presence_interval,
        rest,
        mdns,
        warnings,
    })
}

/// The file (explicit or default), the `THREAD_AGENT_*` environment and the flags, merged.
fn merge_sources(
    overrides: &Overrides,
    env: &[(String, String)],
) -> Result<config::Config, ConfigError> {
    let mut builder = config::Config::builder();
    if let Some(text) = read_file(overrides)? {
        builder = builder.add_source(config::File::from_str(&text, config::FileFormat::Toml));
    }
    let env_map: config::Map<String, String> = env
        .iter()
        .filter(|(k, _)| k.starts_with("THREAD_AGENT_"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    builder = builder.add_source(
        config::Environment::with_prefix("THREAD_AGENT")
            .prefix_separator("_")
            .separator("__")
            .source(Some(env_map)),
    );
    let flag =
        |b: config::ConfigBuilder<config::builder::DefaultState>, key: &str, v: &Option<String>| {
            b.set_override_option(key, v.clone())
                .map_err(|e| ConfigError::Unreadable(e.to_string()))
        };
    builder = flag(builder, "radio_url", &overrides.radio_url)?;
    builder = flag(builder, "control_socket", &overrides.control_socket)?;
    builder = flag(builder, "state_dir", &overrides.state_dir)?;
    builder = flag(builder, "log.format", &overrides.log_format)?;
    builder
        .build()
        .map_err(|e| ConfigError::Unreadable(one_line(&e.to_string())))
}

/// `[border_agent] lan_port`: 0..65535 (0: any free port), default 49191.
fn lan_port_setting(
    cfg: &config::Config,
    origin_of: &dyn Fn(&str) -> String,
) -> Result<u16, ConfigError> {
    match text(cfg, "border_agent.lan_port", origin_of)? {
        None => Ok(crate::ba_relay::DEFAULT_LAN_PORT),
        Some((v, origin)) => v.trim().parse::<u16>().map_err(|_| {
            invalid(
                "border_agent.lan_port",
                &v,
                origin,
                "a UDP port 0..65535 (0: any free port)",
            )
        }),
    }
}

/// `[audit]`: the size at which the audit log is rotated.
fn audit_settings(
    cfg: &config::Config,
    origin_of: &dyn Fn(&str) -> String,
) -> Result<u64, ConfigError> {
    match text(cfg, "audit.max_bytes", origin_of)? {
        None => Ok(DEFAULT_AUDIT_MAX_BYTES),
        Some((v, origin)) => match v.trim().parse::<u64>() {
            Ok(n) if (MIN_AUDIT_MAX_BYTES..=MAX_AUDIT_MAX_BYTES).contains(&n) => Ok(n),
            _ => Err(invalid(
                "audit.max_bytes",
                &v,
                origin,
                &format!("whole bytes {MIN_AUDIT_MAX_BYTES}..{MAX_AUDIT_MAX_BYTES}"),
            )),
        },
    }
}

/// `[rest]`: `listen` (an `IP:port`; absent or empty: off) and `credentials_file` (required
/// for a non-loopback address; mode 0600, one line `user:password`).
fn rest_settings(
    cfg: &config::Config,
    origin_of: &dyn Fn(&str) -> String,
) -> Result<Option<crate::rest::RestConfig>, ConfigError> {
    let Some((v, origin)) = text(cfg, "rest.listen", origin_of)? else {
        return Ok(None);
    };
    if v.is_empty() {
        return Ok(None);
    }
    let listen: std::net::SocketAddr = v
        .parse()
        .map_err(|_| invalid("rest.listen", &v, &origin, "IP:port, e.g. 127.0.0.1:8081"))?;
    let file = path_value(cfg, "rest.credentials_file", origin_of)?;
    crate::rest::RestConfig::new(listen, file)
        .map(Some)
        .map_err(|m| ConfigError::Unreadable(one_line(&m)))
}

/// `[devices] presence_interval`: whole seconds 5..3600, default 60.
fn presence_settings(
    cfg: &config::Config,
    origin_of: &dyn Fn(&str) -> String,
) -> Result<Duration, ConfigError> {
    match text(cfg, "devices.presence_interval", origin_of)? {
        None => Ok(crate::devices::DEFAULT_INTERVAL),
        Some((v, origin)) => match v.trim().parse::<u64>() {
            Ok(n) if PRESENCE_INTERVAL_RANGE.contains(&n) => Ok(Duration::from_secs(n)),
            _ => Err(invalid(
                "devices.presence_interval",
                &v,
                origin,
                "whole seconds 5..3600",
            )),
        },
    }
}

/// `true`/`false` (also `1`/`0`, `yes`/`no`) of `key`, or `default` when unset.
fn boolean(
    cfg: &config::Config,
    key: &str,
    default: bool,
    origin_of: &dyn Fn(&str) -> String,
) -> Result<bool, ConfigError> {
    match text(cfg, key, origin_of)? {
        None => Ok(default),
        Some((v, origin)) => match v.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" => Ok(false),
            _ => Err(invalid(key, &v, origin, "true or false")),
        },
    }
}

/// `[network]`: name, channel and whether to form a network.
fn network_settings(
    cfg: &config::Config,
    origin_of: &dyn Fn(&str) -> String,
) -> Result<(String, u8, bool), ConfigError> {
    let network_name = match text(cfg, "network.name", origin_of)? {
        None => DEFAULT_NETWORK_NAME.to_string(),
        Some((v, origin)) => {
            if v.is_empty() || v.len() > 16 {
                return Err(invalid(
                    "network.name",
                    &v,
                    origin,
                    "a network name of 1..16 bytes of UTF-8",
                ));
            }
            v
        }
    };
    let channel = match text(cfg, "network.channel", origin_of)? {
        None => DEFAULT_CHANNEL,
        Some((v, origin)) => match v.trim().parse::<u8>() {
            Ok(c) if (11..=26).contains(&c) => c,
            _ => {
                return Err(invalid(
                    "network.channel",
                    &v,
                    origin,
                    "an integer 11..26 (IEEE 802.15.4 2.4 GHz channels)",
                ))
            }
        },
    };
    let form = boolean(cfg, "network.form", true, origin_of)?;
    Ok((network_name, channel, form))
}

/// `[log]`: level and format.
fn log_settings(
    cfg: &config::Config,
    origin_of: &dyn Fn(&str) -> String,
) -> Result<(String, LogFormat), ConfigError> {
    let log_level = match text(cfg, "log.level", origin_of)? {
        None => "info".to_string(),
        Some((v, origin)) => {
            let lower = v.to_ascii_lowercase();
            if !["trace", "debug", "info", "warn", "error", "off"].contains(&lower.as_str()) {
                return Err(invalid(
                    "log.level",
                    &v,
                    origin,
                    "one of trace, debug, info, warn, error, off",
                ));
            }
            lower
        }
    };
    let log_format = match text(cfg, "log.format", origin_of)? {
        None => LogFormat::Text,
        Some((v, origin)) => LogFormat::parse(&v)
            .ok_or_else(|| invalid("log.format", &v, origin, "`text`, `json` or `journal`"))?,
    };
    Ok((log_level, log_format))
}

/// `[bridge]`: the Thread interface (default `wpan0`) and the infrastructure interface (empty = none).
fn bridge_settings(
    cfg: &config::Config,
    origin_of: &dyn Fn(&str) -> String,
) -> Result<crate::bridge::BridgeConfig, ConfigError> {
    let if_name = |key: &str| -> Result<Option<String>, ConfigError> {
        match text(cfg, key, origin_of)? {
            None => Ok(None),
            Some((v, _)) if v.is_empty() && key == "bridge.infra_interface" => Ok(None),
            Some((v, origin)) => {
                let ok = !v.is_empty()
                    && v.len() < 16
                    && v.chars()
                        .all(|c| c.is_ascii_graphic() && c != '/' && c != ':');
                if ok {
                    Ok(Some(v))
                } else {
                    Err(invalid(
                        key,
                        &v,
                        origin,
                        "a network interface name of 1..15 printable characters without `/` or `:`",
                    ))
                }
            }
        }
    };
    Ok(crate::bridge::BridgeConfig {
        interface: if_name("bridge.interface")?.unwrap_or_else(|| "wpan0".to_string()),
        infra_interface: if_name("bridge.infra_interface")?,
    })
}

/// A configured `radio_url`, parsed.
fn radio_url_value(v: &str, origin: String) -> Result<RadioUrl, ConfigError> {
    v.parse::<RadioUrl>().map_err(|e| {
        invalid(
            "radio_url",
            v,
            origin,
            &format!(
                "spinel+hdlc+uart://DEVICE[?uart-baudrate=N&uart-flow-control] or \
                 spinel+hdlc+forkpty://PROGRAM[?forkpty-arg=ARG...] ({})",
                one_line(&e.to_string())
            ),
        )
    })
}

fn commissioner_settings(
    cfg: &config::Config,
    origin_of: &dyn Fn(&str) -> String,
) -> Result<CommissionerSettings, ConfigError> {
    let mut c = CommissionerSettings {
        always_on: boolean(cfg, "commissioner.always_on", false, origin_of)?,
        ..CommissionerSettings::default()
    };
    if let Some((v, origin)) = text(cfg, "commissioner.joiner_timeout", origin_of)? {
        match v.trim().parse::<u64>() {
            Ok(s) if (1..=86_400).contains(&s) => {
                c.joiner_timeout = std::time::Duration::from_secs(s)
            }
            _ => {
                return Err(invalid(
                    "commissioner.joiner_timeout",
                    &v,
                    origin,
                    "whole seconds 1..86400",
                ))
            }
        }
    }
    if let Some((v, origin)) = text(cfg, "commissioner.provisioning_url", origin_of)? {
        if v.len() > 64 {
            return Err(invalid(
                "commissioner.provisioning_url",
                &v,
                origin,
                "at most 64 bytes of UTF-8",
            ));
        }
        c.provisioning_url = (!v.is_empty()).then_some(v);
    }
    if let Some((v, origin)) = text(cfg, "commissioner.id", origin_of)? {
        if v.is_empty() || v.len() > 64 {
            return Err(invalid(
                "commissioner.id",
                &v,
                origin,
                "1..64 bytes of UTF-8",
            ));
        }
        c.id = v;
    }
    if let Some((v, origin)) = text(cfg, "commissioner.pskc_override", origin_of)? {
        // Never echo the value: it is a PSKc.
        c.pskc_override = Some(meshcop::credentials::Pskc::from_hex(v.trim()).map_err(|_| {
            invalid(
                "commissioner.pskc_override",
                "<redacted>",
                origin,
                "32 hex digits",
            )
        })?);
    }
    Ok(c)
}

/// The contract's default: `/dev/thread-radio`, else `/dev/ttyACM0`, else the simulated NCP
/// (`$THREAD_AGENT_SIM_NCP` or `<exe dir>/../openthread/ncp/bin/ot-ncp-ftd`).
pub(crate) fn default_radio_url(
    env: &[(String, String)],
    machine: &Machine,
) -> Result<(RadioUrl, RadioUrlSource), ConfigError> {
    for dev in ["/dev/thread-radio", "/dev/ttyACM0"] {
        let p = Path::new(dev);
        if (machine.exists)(p) {
            let s = format!("spinel+hdlc+uart://{dev}");
            let url = s
                .parse::<RadioUrl>()
                .map_err(|e| invalid("radio_url", &s, "default", &e.to_string()))?;
            return Ok((url, RadioUrlSource::DefaultDevice(p.to_path_buf())));
        }
    }
    let sim = env
        .iter()
        .find(|(k, _)| k == "THREAD_AGENT_SIM_NCP")
        .map(|(_, v)| PathBuf::from(v))
        .filter(|p| !p.as_os_str().is_empty())
        .or_else(|| {
            machine
                .current_exe
                .as_ref()
                .and_then(|exe| exe.parent())
                .map(|dir| {
                    dir.join("..")
                        .join("openthread")
                        .join("ncp")
                        .join("bin")
                        .join("ot-ncp-ftd")
                })
        })
        .unwrap_or_else(|| PathBuf::from("ot-ncp-ftd"));
    let sim = normalize(&sim);
    let s = format!("spinel+hdlc+forkpty://{}?forkpty-arg=1", sim.display());
    let url = s.parse::<RadioUrl>().map_err(|e| {
        invalid(
            "radio_url",
            &s,
            "default (simulated co-processor)",
            &one_line(&e.to_string()),
        )
    })?;
    Ok((url, RadioUrlSource::Simulated(sim)))
}

/// Removes `..` and `.` components lexically (the file need not exist).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            std::path::Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn invalid(key: &str, value: &str, origin: impl fmt::Display, allowed: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
        origin: origin.to_string(),
        allowed: allowed.to_string(),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Reads a key as text with its origin; `None` if absent. Tables and arrays are rejected.
fn text(
    cfg: &config::Config,
    key: &str,
    origin_of: &dyn Fn(&str) -> String,
) -> Result<Option<(String, String)>, ConfigError> {
    let value: config::Value = match cfg.get(key) {
        Ok(v) => v,
        Err(config::ConfigError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(ConfigError::Unreadable(one_line(&e.to_string()))),
    };
    let origin = origin_of(key);
    match value.clone().into_string() {
        Ok(s) => Ok(Some((s, origin))),
        Err(_) => Err(invalid(
            key,
            &value.to_string(),
            origin,
            "a single value, not a table or array",
        )),
    }
}

fn env_name(key: &str) -> String {
    format!(
        "THREAD_AGENT_{}",
        key.replace('.', "__").to_ascii_uppercase()
    )
}

fn path_value(
    cfg: &config::Config,
    key: &str,
    origin_of: &dyn Fn(&str) -> String,
) -> Result<Option<PathBuf>, ConfigError> {
    match text(cfg, key, origin_of)? {
        None => Ok(None),
        Some((v, origin)) => {
            if v.is_empty() || v.contains('\0') {
                return Err(invalid(key, &v, origin, "a non-empty file system path"));
            }
            let p = PathBuf::from(&v);
            if p.file_name().is_none() {
                return Err(invalid(
                    key,
                    &v,
                    origin,
                    "a path that names a file or directory (not ending in `..` or `/`)",
                ));
            }
            Ok(Some(p))
        }
    }
}

mod keys;
mod mdns;
mod paths;
use keys::{file_keys, read_file, unknown_keys};
pub(crate) use paths::check_paths;

#[cfg(test)]
mod tests;
