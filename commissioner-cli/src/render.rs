//! What threadctl prints: the reply of each request (text or `--json`) and event lines.

use control::{reply, Request};
use serde_json::{json, Value};

use crate::client::{fail, Failure};
use crate::lifecycle::{imported_reply, pending_reply, scheduled_reply, status_pending};

/// `reply` as the typed reply `T`, if it is one.
fn typed<T: serde::de::DeserializeOwned>(reply: &Value) -> Option<T> {
    serde_json::from_value(reply.clone()).ok()
}

/// The output for `request`'s `reply`. One arm per method (no catch-all): a new method is a
/// compile error here until threadctl knows how to show its reply.
pub(crate) fn render(request: &Request, reply: &Value, json: bool) -> Result<String, Failure> {
    Ok(match request {
        Request::Status => json_or(reply, json, render_status),
        Request::DatasetExport => {
            let r: reply::DatasetExport =
                typed(reply).ok_or_else(|| fail(1, "reply has no `tlvs`"))?;
            format!("{}\n", r.tlvs)
        }
        Request::JoinerAdd(_) if json => format!("{reply}\n"),
        Request::JoinerAdd(_) => format!(
            "joiner entry {} added (expires in {} s; commissioner {})\n",
            s(reply, "entry"),
            n(reply, "timeout"),
            s(reply, "commissioner")
        ),
        Request::JoinerImport(_) => json_or(reply, json, crate::import::render_imported),
        Request::JoinerList => json_or(reply, json, render_joiners),
        Request::JoinerRemove(_) => format!("removed {}\n", s(reply, "removed")),
        Request::CommissionerStatus | Request::CommissionerStart => {
            json_or(reply, json, render_commissioner)
        }
        Request::CommissionerStop => format!("commissioner {}\n", s(reply, "state")),
        // The subscription's reply prints nothing; its events go through `render_event`.
        Request::EventsSubscribe => String::new(),
        Request::NetworkEnergyScan(_) if json => format!("{reply}\n"),
        Request::NetworkEnergyScan(_) => {
            let r: reply::EnergyScan =
                typed(reply).ok_or_else(|| fail(1, "reply has no `channels` list"))?;
            render_energy(&r)
        }
        Request::NetworkRotateKey(_)
        | Request::NetworkMigrate(_)
        | Request::NetworkPending
        | Request::DatasetImport(_)
            if json =>
        {
            format!("{reply}\n")
        }
        Request::NetworkRotateKey(_) | Request::NetworkMigrate(_) => scheduled_reply(reply)?,
        Request::NetworkPending => pending_reply(reply)?,
        Request::NetworkCounters => json_or(reply, json, render_counters),
        Request::DatasetImport(_) => imported_reply(reply)?,
        Request::DeviceList | Request::DeviceShow(_) if json => format!("{reply}\n"),
        Request::DeviceList => crate::devices::render_list(reply)?,
        Request::DeviceShow(_) => crate::devices::render_show(reply)?,
        Request::DeviceForget(_) => crate::devices::render_forgotten(reply)?,
        Request::DebugResetNcp(_) | Request::DebugDiagQuery { .. } => format!("{reply}\n"),
    })
}

/// `network counters`: one line per group, `name=value` pairs (sorted by name); a group the
/// firmware does not serve says so.
fn render_counters(v: &Value) -> String {
    let groups = [
        ("MAC transmit", &v["coprocessor"]["mac"]["tx"]),
        ("MAC receive", &v["coprocessor"]["mac"]["rx"]),
        ("IPv6", &v["coprocessor"]["ip"]),
        ("MLE", &v["coprocessor"]["mle"]),
        ("message buffers", &v["coprocessor"]["buffers"]),
        ("Spinel", &v["coprocessor"]["spinel"]),
        ("host link", &v["link"]),
    ];
    let mut out = String::new();
    for (title, g) in groups {
        let pairs: Vec<String> = match g.as_object() {
            Some(m) => m
                .iter()
                .map(|(k, x)| match x {
                    Value::Null => format!("{k}=-"),
                    x => format!("{k}={x}"),
                })
                .collect(),
            None => vec!["(not served by this firmware)".into()],
        };
        out.push_str(&format!("{title}: {}\n", pairs.join(" ")));
    }
    out
}

pub(crate) fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("-")
}

pub(crate) fn n(v: &Value, key: &str) -> String {
    v.get(key)
        .map(|x| {
            if x.is_null() {
                "-".to_string()
            } else {
                x.to_string()
            }
        })
        .unwrap_or_else(|| "-".into())
}

/// The strings of the array `key`, joined by spaces ("" when absent).
pub(crate) fn str_list(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// A reply as its JSON line (`--json`) or as rendered by `render`.
pub(crate) fn json_or(r: &Value, json: bool, render: fn(&Value) -> String) -> String {
    if json {
        format!("{r}\n")
    } else {
        render(r)
    }
}

/// The human-readable status table.
pub(crate) fn render_status(v: &Value) -> String {
    let mut out = String::new();
    let ncp = v.get("ncp").cloned().unwrap_or(Value::Null);
    let caps = str_list(&ncp, "capabilities");
    let rows = [
        ("Role", s(v, "role").to_string()),
        ("Network name", s(v, "network_name").to_string()),
        ("Channel", n(v, "channel")),
        ("PAN ID", s(v, "pan_id").to_string()),
        ("Extended PAN ID", s(v, "ext_pan_id").to_string()),
        ("Mesh-local prefix", s(v, "mesh_local_prefix").to_string()),
        ("Partition ID", n(v, "partition_id")),
        ("RLOC16", s(v, "rloc16").to_string()),
        ("Active timestamp", n(v, "active_timestamp")),
        ("Pending", status_pending(v)),
        ("NCP version", s(&ncp, "version").to_string()),
        ("NCP EUI-64", s(&ncp, "eui64").to_string()),
        ("NCP capabilities", caps),
    ];
    for (k, val) in rows {
        out.push_str(&format!("{:<18} {}\n", format!("{k}:"), val));
    }
    let neighbors = v
        .get("neighbors")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    out.push_str(&format!("Neighbors:         {}\n", neighbors.len()));
    if !neighbors.is_empty() {
        out.push_str(&format!(
            "  {:<16}  {:<6}  {:>2}  {:>6}  {}\n",
            "EXT ADDRESS", "RLOC16", "LQ", "AGE(s)", "CHILD"
        ));
        for nb in &neighbors {
            let child = match nb.get("is_child").and_then(Value::as_bool) {
                Some(true) => "yes",
                Some(false) => "no",
                None => "-",
            };
            out.push_str(&format!(
                "  {:<16}  {:<6}  {:>2}  {:>6}  {}\n",
                s(nb, "ext_address"),
                s(nb, "rloc16"),
                n(nb, "link_quality"),
                n(nb, "age"),
                child
            ));
        }
    }
    if let Some(b) = v.get("bridge").filter(|b| b.is_object()) {
        let addresses = str_list(b, "addresses");
        let infra = match b.get("infra_interface").and_then(Value::as_str) {
            Some(i) => format!(" ({i})"),
            None => String::new(),
        };
        let rows = [
            (
                "Interface",
                format!("{} {}", s(b, "interface"), s(b, "state")),
            ),
            ("Addresses", addresses),
            ("OMR prefix", s(b, "omr_prefix").to_string()),
            (
                "Border routing",
                format!("{}{infra}", s(b, "border_routing")),
            ),
            (
                "Packets",
                format!(
                    "rx {} tx {} dropped {}",
                    n(b, "rx_packets"),
                    n(b, "tx_packets"),
                    n(b, "drops")
                ),
            ),
        ];
        for (k, val) in rows {
            out.push_str(&format!("{:<18} {}\n", format!("{k}:"), val));
        }
    }
    if let Some(r) = v.get("border_agent").filter(|r| r["lan_port"].is_u64()) {
        out.push_str(&format!(
            "{:<18} {} port {}, {} peers, relayed {} in {} out, dropped {}\n",
            "Border agent LAN:",
            s(r, "interface"),
            n(r, "lan_port"),
            n(r, "peers"),
            n(r, "to_border_agent"),
            n(r, "from_border_agent"),
            n(r, "dropped")
        ));
    }
    if let Some(m) = v.get("mdns").filter(|m| m.is_object()) {
        out.push_str(&format!("{:<18} {}\n", "mDNS:", mdns_line(m)));
    }
    out
}

/// The `mdns` status object in one line: what is published where, or why nothing is.
fn mdns_line(m: &Value) -> String {
    let error = match m.get("last_error").and_then(Value::as_str) {
        Some(e) => format!("; last error: {e}"),
        None => String::new(),
    };
    if m.get("enabled") == Some(&json!(false)) {
        return "off ([mdns] enabled = false)".into();
    }
    let Some(interface) = m.get("interface").and_then(Value::as_str) else {
        return "not published (no [bridge] infra_interface)".into();
    };
    if m.get("published") != Some(&json!(true)) {
        return format!("not published yet on {interface}{error}");
    }
    format!(
        "_meshcop._udp \"{}\" port {} on {interface} ({} updates){error}",
        s(m, "instance"),
        n(m, "port"),
        n(m, "updates")
    )
}

/// One human-readable line for an event.
pub(crate) fn render_event(ev: &Value) -> String {
    let t = s(ev, "type");
    let who = ev
        .get("eui64")
        .or_else(|| ev.get("joiner_id"))
        .and_then(Value::as_str)
        .map(|w| format!(" {w}"))
        .unwrap_or_default();
    let detail = match t {
        "joiner-seen" => format!("via joiner router {}", s(ev, "joiner_router")),
        "joiner-handshake-failed" => {
            let mut d = s(ev, "reason").to_string();
            if let Some(x) = ev.get("detail").and_then(Value::as_str) {
                d.push_str(&format!(" ({x})"));
            }
            d
        }
        "joiner-finalize" => format!(
            "{} vendor={:?} model={:?} sw={:?}{}",
            if ev.get("accepted") == Some(&json!(true)) {
                "accepted"
            } else {
                "rejected"
            },
            s(ev, "vendor_name"),
            s(ev, "vendor_model"),
            s(ev, "vendor_sw_version"),
            ev.get("reason")
                .and_then(Value::as_str)
                .map(|r| format!(" reason: {r}"))
                .unwrap_or_default()
        ),
        "joiner-joined" => format!(
            "attached as {} (rloc16 {}; best-effort match)",
            s(ev, "ext_address"),
            s(ev, "rloc16")
        ),
        "entry-added" | "entry-expired" => s(ev, "entry").to_string(),
        "entry-removed" => format!("{} ({})", s(ev, "entry"), s(ev, "reason")),
        "petition-accepted" => format!("session id {}", n(ev, "session_id")),
        "steering-data-updated" => s(ev, "steering_data").to_string(),
        "device-attached" => format!(
            "on the mesh as {} (rloc16 {}, {})",
            s(ev, "ext_address"),
            s(ev, "rloc16"),
            s(ev, "role")
        ),
        "device-absent" => "not found on the mesh".to_string(),
        "device-forgotten" => format!("removed from the inventory (uid {})", n(ev, "uid")),
        _ => ev
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    };
    format!(
        "{t}{who}{}{detail}\n",
        if detail.is_empty() { "" } else { ": " }
    )
}

pub(crate) fn render_joiners(v: &Value) -> String {
    let list = v
        .get("joiners")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if list.is_empty() {
        return "no joiner entries\n".into();
    }
    let mut out = format!("{:<36}  {:<16}  {}\n", "ENTRY", "JOINER ID", "EXPIRES IN");
    for e in &list {
        // An imported entry's label (from the bootstrapping file) follows.
        let label = e
            .get("label")
            .and_then(Value::as_str)
            .map(|l| format!("  {l}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "{:<36}  {:<16}  {} s{label}\n",
            s(e, "entry"),
            e.get("joiner_id").and_then(Value::as_str).unwrap_or("-"),
            n(e, "expires_in")
        ));
    }
    out
}

pub(crate) fn render_commissioner(v: &Value) -> String {
    let ba = v.get("border_agent").cloned().unwrap_or(Value::Null);
    let leader = v.get("leader").cloned().unwrap_or(Value::Null);
    let ba_text = match ba.get("active") {
        Some(Value::Bool(true)) => format!("active, UDP port {}", n(&ba, "port")),
        Some(_) => "not active".to_string(),
        None => s(&ba, "error").to_string(),
    };
    // The Border Agent's own answer to MGMT_COMMISSIONER_GET (only while active).
    let ba_answer = if let Some(e) = ba.get("get_error").and_then(Value::as_str) {
        Some(format!("no answer: {e}"))
    } else if ba.get("session_id").is_some() || ba.get("steering_data").is_some() {
        let mut t = format!(
            "session id {}, border agent {}, steering data {}",
            n(&ba, "session_id"),
            s(&ba, "border_agent_locator"),
            s(&ba, "steering_data")
        );
        if let Some(p) = ba.get("joiner_udp_port").filter(|p| !p.is_null()) {
            t.push_str(&format!(", joiner UDP port {p}"));
        }
        Some(t)
    } else {
        None
    };
    let leader_text = if leader.is_null() {
        "no active commissioner".to_string()
    } else {
        format!(
            "session id {}, border agent {}, steering data {}",
            n(&leader, "session_id"),
            s(&leader, "border_agent_locator"),
            s(&leader, "steering_data")
        )
    };
    let mut rows = vec![
        ("State", s(v, "state").to_string()),
        ("Session ID", n(v, "session_id")),
        ("Commissioner ID", s(v, "commissioner_id").to_string()),
        ("Border agent", ba_text),
    ];
    if let Some(t) = ba_answer {
        rows.push(("BA reports", t));
    }
    rows.extend([
        ("Leader reports", leader_text),
        ("Joiner entries", n(v, "entries")),
        ("Joiner sessions", n(v, "joiner_sessions")),
        ("Steering data", s(v, "steering_data").to_string()),
        ("Joined", n(v, "joined")),
    ]);
    let mut out = String::new();
    for (k, val) in rows {
        out.push_str(&format!("{:<17} {}\n", format!("{k}:"), val));
    }
    if let Some(o) = v.get("other_commissioner").and_then(Value::as_str) {
        out.push_str(&format!(
            "{:<17} another commissioner is active: {o}\n",
            "Note:"
        ));
    }
    if let Some(e) = v.get("last_error").and_then(Value::as_str) {
        out.push_str(&format!("{:<17} {e}\n", "Last error:"));
    }
    out
}

/// The energy scan as a table: channel, max RSSI, and a bar (one `#` per 5 dB above -100 dBm).
pub(crate) fn render_energy(r: &reply::EnergyScan) -> String {
    let mut out = String::from("CHANNEL  MAX RSSI\n");
    for c in &r.channels {
        let bar = "#".repeat(((i16::from(c.max_rssi) + 100).clamp(0, 100) / 5) as usize);
        out.push_str(&format!("{:>7}  {:>4} dBm  {bar}\n", c.channel, c.max_rssi));
    }
    out
}

#[cfg(test)]
mod energy_tests {
    use super::*;
    use control::EnergyScan;

    fn scan() -> Request {
        Request::NetworkEnergyScan(EnergyScan {
            channels: vec![11, 15],
        })
    }

    #[test]
    fn energy_scan_table_and_json() {
        let reply = json!({"channels": [
            {"channel": 11, "max_rssi": -100},
            {"channel": 15, "max_rssi": -62}
        ]});
        let text = render(&scan(), &reply, false).unwrap();
        assert_eq!(
            text,
            "CHANNEL  MAX RSSI\n     11  -100 dBm  \n     15   -62 dBm  #######\n"
        );
        let j: Value = serde_json::from_str(&render(&scan(), &reply, true).unwrap()).unwrap();
        assert_eq!(j, reply);
        // Out-of-range readings (127: no reading) still render.
        let loud = json!({"channels": [{"channel": 26, "max_rssi": 127}]});
        assert!(render(&scan(), &loud, false).unwrap().contains("127 dBm"));
    }

    #[test]
    fn energy_scan_garbage_reply_is_an_error() {
        for bad in [
            json!({}),
            json!({"channels": 3}),
            json!({"channels": [{"channel": 11}]}),
            json!({"channels": [{"channel": 11, "max_rssi": -300}]}),
            json!(null),
        ] {
            assert_eq!(render(&scan(), &bad, false).unwrap_err().code, 1, "{bad}");
        }
    }
}
