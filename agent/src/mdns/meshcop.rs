//! The Border Agent's `_meshcop._udp.local.` service on the infrastructure link.
//!
//! What is published: instance `[mdns] instance_name` (default "<vendor_name> Border Router
//! #XXXX", XXXX the last two bytes of the co-processor's extended address `xa` in upper-case
//! hex, as OTBR names it), host `<hostname>.local.` with the infrastructure interface's
//! addresses (`enable_addr_auto`: followed as they change), the port of the LAN relay to the
//! co-processor's Border Agent ([`crate::ba_relay`], `[border_agent] lan_port`; nothing is
//! published until it is bound), and TXT = the co-processor's
//! `BORDER_AGENT_MESHCOP_SERVICE_STATE` entries exactly as given (`rv`, `tv`, `sb`, `nn`, `xp`,
//! `xa`, `at`, `pt`, `id`, `dn`, `omr`..., binary values kept binary) plus `vn` and `mn`.
//!
//! When: at start, then whenever the co-processor says the TXT data changed (the property is
//! sent unsolicited on role, network name, extended PAN ID, active dataset changes), after a
//! co-processor reset (re-announced even if unchanged), when the port changes, and on a
//! [`RECHECK`] timer (the favoured OMR prefix and partition ID change without a notification).
//! A read or decode failure is logged, kept in `last_error`, and the last publication stays.
//!
//! Guarantees: the TXT holds only what the co-processor's Border Agent itself publishes (no
//! secret is in it); never panics on the property's bytes.

use std::sync::Mutex;
use std::time::Duration;

use mdns_sd::{ServiceDaemon, ServiceInfo, TxtProperty};
use ncp::props::border_agent::{decode_meshcop_service, MeshcopService, TxtEntry};
use ncp::spinel::prop;
use serde_json::{json, Value};
use tokio::sync::watch;

use super::{MdnsConfig, Pokes};

/// The service type.
pub(crate) const SERVICE_TYPE: &str = "_meshcop._udp.local.";
/// Re-read without a notification this often.
pub(crate) const RECHECK: Duration = Duration::from_secs(30);
/// Longest DNS label (instance names, host names), RFC 1035 §2.3.4.
pub(crate) const MAX_LABEL: usize = 63;

/// `status.mdns`, shared between the publisher and the control socket.
#[derive(Debug)]
pub(crate) struct Status {
    enabled: bool,
    interface: Option<String>,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    instance: Option<String>,
    port: Option<u16>,
    /// The registered full name (`<instance>._meshcop._udp.local.`) while published.
    published: Option<String>,
    updates: u64,
    last_error: Option<String>,
}

impl Status {
    pub(crate) fn new(enabled: bool, interface: Option<&str>) -> Status {
        Status {
            enabled,
            interface: interface.map(str::to_string),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the last error; true if it differs from the one before (to log it once).
    pub(crate) fn set_error(&self, e: String) -> bool {
        let mut i = self.lock();
        let new = i.last_error.as_deref() != Some(e.as_str());
        i.last_error = Some(e);
        new
    }

    /// Why nothing can be published: mDNS off, no interface, or the responder's error.
    pub(crate) fn off_reason(&self) -> String {
        if !self.enabled {
            return "[mdns] enabled = false".into();
        }
        if self.interface.is_none() {
            return "no [bridge] infra_interface configured".into();
        }
        (self.lock().last_error.clone()).unwrap_or_else(|| "no mDNS responder".into())
    }

    /// The registered full name, now no longer counted as published.
    pub(crate) fn take_published(&self) -> Option<String> {
        self.lock().published.take()
    }

    /// The `status.mdns` object: `enabled`, `interface`, `instance`, `port`, `published`,
    /// `updates`, and `last_error` when there is one.
    pub(crate) fn json(&self) -> Value {
        let i = self.lock();
        let mut v = json!({
            "enabled": self.enabled,
            "interface": self.interface,
            "instance": i.instance,
            "port": i.port,
            "published": i.published.is_some(),
            "updates": i.updates,
        });
        if let Some(e) = &i.last_error {
            v["last_error"] = json!(e);
        }
        v
    }
}

/// What is (to be) registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Desired {
    pub(crate) instance: String,
    pub(crate) port: u16,
    pub(crate) txt: Vec<TxtEntry>,
}

/// The default instance name: "<vendor> Border Router #XXXX" (XXXX: the last two bytes of `xa`,
/// else of the co-processor's EUI-64).
pub(crate) fn default_instance(vendor: &str, xa: Option<&[u8]>, hwaddr: &[u8; 8]) -> String {
    let tail = match xa {
        Some(x) if x.len() >= 2 => [x[x.len() - 2], x[x.len() - 1]],
        _ => [hwaddr[6], hwaddr[7]],
    };
    format!("{vendor} Border Router #{:02X}{:02X}", tail[0], tail[1])
}

/// The TXT to publish: the co-processor's entries in its order (`vn`/`mn` it might carry are
/// replaced), then `vn` and `mn`.
pub(crate) fn txt_entries(svc: &MeshcopService, cfg: &MdnsConfig) -> Vec<TxtEntry> {
    let mut txt: Vec<TxtEntry> = svc
        .txt
        .iter()
        .filter(|e| !e.key.eq_ignore_ascii_case("vn") && !e.key.eq_ignore_ascii_case("mn"))
        .cloned()
        .collect();
    for (key, value) in [("vn", &cfg.vendor_name), ("mn", &cfg.model_name)] {
        txt.push(TxtEntry {
            key: key.into(),
            value: Some(value.as_bytes().to_vec()),
        });
    }
    txt
}

/// What to publish for this property value and port.
pub(crate) fn desired(
    svc: &MeshcopService,
    cfg: &MdnsConfig,
    hwaddr: &[u8; 8],
    port: u16,
) -> Desired {
    let instance = cfg
        .instance_name
        .clone()
        .unwrap_or_else(|| default_instance(&cfg.vendor_name, svc.get("xa"), hwaddr));
    Desired {
        instance,
        port,
        txt: txt_entries(svc, cfg),
    }
}

/// `<hostname>.local.`: the machine's host name as one DNS label (letters, digits and `-`; other
/// characters become `-`; at most 63 bytes; "thread-agent" if there is none).
pub(crate) fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it or
    // truncates (the last byte stays 0).
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) };
    let raw = if rc == 0 {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        String::new()
    };
    format!("{}.local.", host_label(&raw))
}

/// The first label of `raw` as a DNS host label.
pub(crate) fn host_label(raw: &str) -> String {
    let first = raw.split('.').next().unwrap_or_default();
    let mut label: String = first
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    label.truncate(MAX_LABEL);
    let label = label.trim_matches('-').to_string();
    if label.is_empty() {
        "thread-agent".into()
    } else {
        label
    }
}

/// The `_meshcop._udp` publisher task.
pub(crate) struct Publisher {
    pub(crate) daemon: ServiceDaemon,
    pub(crate) client: ncp::Client,
    pub(crate) cfg: MdnsConfig,
    pub(crate) host: String,
    pub(crate) hwaddr: [u8; 8],
    pub(crate) status: std::sync::Arc<Status>,
}

impl Publisher {
    /// Runs until aborted ([`super::Mdns::shutdown`]).
    pub(crate) async fn run(
        self,
        mut pokes: watch::Receiver<Pokes>,
        mut port: watch::Receiver<Option<u16>>,
    ) {
        self.watch_daemon();
        let mut current: Option<Desired> = None;
        let mut resets = pokes.borrow_and_update().resets;
        let mut force = false;
        // A closed watch (its sender dropped) keeps its last value and is not waited on again.
        let (mut pokes_open, mut port_open) = (true, true);
        loop {
            let p = *port.borrow_and_update();
            self.refresh(&mut current, p, force).await;
            force = false;
            tokio::select! {
                r = pokes.changed(), if pokes_open => {
                    if r.is_err() {
                        pokes_open = false;
                        continue;
                    }
                    let p = *pokes.borrow_and_update();
                    if p.resets != resets {
                        resets = p.resets;
                        force = true;
                        tracing::info!("mDNS: co-processor reset; re-reading and re-announcing _meshcop._udp");
                    }
                }
                r = port.changed(), if port_open => port_open = r.is_ok(),
                _ = tokio::time::sleep(RECHECK) => {}
            }
        }
    }

    /// Reads the property and (re-)registers when something changed (or `force`).
    async fn refresh(&self, current: &mut Option<Desired>, port: Option<u16>, force: bool) {
        let failed = |what: String| {
            // Logged once per distinct failure (the re-read repeats every RECHECK).
            if self.status.set_error(what.clone()) {
                tracing::warn!("mDNS: {what}; keeping the last publication");
            }
        };
        let value = self.client.get(prop::BORDER_AGENT_MESHCOP_SERVICE_STATE);
        let svc = match value.await {
            Ok(v) => match decode_meshcop_service(&v) {
                Ok(s) => s,
                Err(e) => return failed(format!("undecodable Border Agent TXT data: {e}")),
            },
            Err(e) => {
                return failed(format!(
                    "cannot read the co-processor's Border Agent state: {e}"
                ))
            }
        };
        let Some(port) = port else {
            return failed("no Border Agent port to publish yet".into());
        };
        let want = desired(&svc, &self.cfg, &self.hwaddr, port);
        if !force && current.as_ref() == Some(&want) {
            return;
        }
        if let Some(old) = current.as_ref().filter(|o| o.instance != want.instance) {
            let fullname = format!("{}.{SERVICE_TYPE}", old.instance);
            if let Err(e) = self.daemon.unregister(&fullname) {
                tracing::warn!(error = %e, "mDNS: cannot withdraw the old instance");
            }
        }
        match self.register(&want) {
            Ok(fullname) => {
                let mut s = self.status.lock();
                s.instance = Some(want.instance.clone());
                s.port = Some(want.port);
                s.published = Some(fullname);
                s.updates += 1;
                s.last_error = None;
                drop(s);
                tracing::info!(
                    instance = %want.instance,
                    port = want.port,
                    entries = want.txt.len(),
                    "mDNS: _meshcop._udp published"
                );
                *current = Some(want);
            }
            Err(e) => failed(format!("cannot publish {}: {e}", want.instance)),
        }
    }

    fn register(&self, want: &Desired) -> Result<String, mdns_sd::Error> {
        let txt: Vec<TxtProperty> = want
            .txt
            .iter()
            .map(|e| match &e.value {
                Some(v) => TxtProperty::from((e.key.as_str(), v.as_slice())),
                None => TxtProperty::from(e.key.as_str()),
            })
            .collect();
        let info = ServiceInfo::new(SERVICE_TYPE, &want.instance, &self.host, (), want.port, txt)?
            .enable_addr_auto();
        let fullname = info.get_fullname().to_string();
        self.daemon.register(info)?;
        Ok(fullname)
    }

    /// Logs the daemon's errors and name changes (conflict resolution) as they happen.
    fn watch_daemon(&self) {
        let Ok(rx) = self.daemon.monitor() else {
            return;
        };
        let status = self.status.clone();
        tokio::spawn(async move {
            while let Ok(ev) = rx.recv_async().await {
                match ev {
                    mdns_sd::DaemonEvent::Error(e) => {
                        let new = status.set_error(format!("mDNS responder: {e}"));
                        if new {
                            tracing::warn!(error = %e, "mDNS responder error");
                        }
                    }
                    mdns_sd::DaemonEvent::NameChange(c) => {
                        tracing::warn!(original = %c.original, new = %c.new_name, "mDNS: name conflict resolved by renaming")
                    }
                    _ => {}
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ncp::props::border_agent::BorderAgentState;

    fn svc(txt: &[(&str, &[u8])]) -> MeshcopService {
        MeshcopService {
            state: BorderAgentState {
                active: true,
                port: 1234,
            },
            txt: txt
                .iter()
                .map(|(k, v)| TxtEntry {
                    key: k.to_string(),
                    value: Some(v.to_vec()),
                })
                .collect(),
        }
    }

    #[test]
    fn txt_is_the_coprocessors_plus_vn_mn() {
        let cfg = MdnsConfig::default();
        let s = svc(&[
            ("rv", b"1"),
            ("xa", &[1, 2, 3, 4, 5, 6, 0xab, 0x0c]),
            ("sb", &[0, 0, 0, 0x31]),
            ("vn", b"ignored"),
        ]);
        let d = desired(&s, &cfg, &[0; 8], 49191);
        assert_eq!(d.instance, "thread-agent Border Router #AB0C");
        assert_eq!(d.port, 49191);
        let keys: Vec<&str> = d.txt.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["rv", "xa", "sb", "vn", "mn"]);
        assert_eq!(d.txt[2].value.as_deref(), Some(&[0, 0, 0, 0x31][..]));
        assert_eq!(d.txt[3].value.as_deref(), Some(&b"thread-agent"[..]));
        // Without xa: the EUI-64's last two bytes; a configured name wins.
        let d = desired(&svc(&[]), &cfg, &[0, 0, 0, 0, 0, 0, 0xfe, 0x01], 1);
        assert_eq!(d.instance, "thread-agent Border Router #FE01");
        let cfg = MdnsConfig {
            instance_name: Some("Kitchen BR".into()),
            ..MdnsConfig::default()
        };
        assert_eq!(desired(&s, &cfg, &[0; 8], 1).instance, "Kitchen BR");
    }

    #[test]
    fn host_labels() {
        assert_eq!(host_label("vm"), "vm");
        assert_eq!(host_label("pi.example.org"), "pi");
        assert_eq!(host_label("my_box 1"), "my-box-1");
        assert_eq!(host_label(""), "thread-agent");
        assert_eq!(host_label(&"a".repeat(80)).len(), MAX_LABEL);
        assert!(host_name().ends_with(".local."));
    }

    #[test]
    fn status_object() {
        let s = Status::new(true, Some("eth0"));
        assert_eq!(
            s.json(),
            json!({"enabled": true, "interface": "eth0", "instance": null, "port": null,
                   "published": false, "updates": 0})
        );
        assert!(s.set_error("x".into()));
        assert!(!s.set_error("x".into()), "the same error again is not new");
        assert_eq!(s.json()["last_error"], "x");
        assert_eq!(s.take_published(), None);
    }
}
