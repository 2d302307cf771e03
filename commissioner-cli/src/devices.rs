//! `threadctl device list [--json]`, `device show ID [--json]`, `device forget ID`: the agent's
//! inventory of onboarded devices (`device.list|show|forget`), ID = EUI-64 or Joiner ID.

use clap::Subcommand;
use control::devices::{Device, DeviceId, DeviceList, Forgotten};
use control::Request;
use serde_json::Value;

use crate::client::{fail, Failure};

#[derive(Debug, Subcommand)]
pub(crate) enum DeviceCommand {
    /// List the devices this agent onboarded: identity, vendor, presence on the mesh, whether
    /// they hold the current credentials (`stale`: re-admit, see the remedy).
    #[command(
        after_help = "Examples:\n  threadctl device list\n  threadctl device list --json | jq '.devices[] | select(.credentials == \"stale\") | .eui64'"
    )]
    List {
        /// Print the agent's JSON result.
        #[arg(long)]
        json: bool,
    },
    /// Show one device's record.
    #[command(
        after_help = "Examples:\n  threadctl device show 18b4300000000002\n  threadctl device show 18b4300000000002 --json"
    )]
    Show {
        /// The device's EUI-64 or Joiner ID (16 hex digits).
        #[arg(value_name = "ID")]
        id: String,
        /// Print the agent's JSON result.
        #[arg(long)]
        json: bool,
    },
    /// Remove a device's record from the inventory (it stays on the network).
    #[command(after_help = "Example:\n  threadctl device forget 18b4300000000002")]
    Forget {
        /// The device's EUI-64 or Joiner ID (16 hex digits).
        #[arg(value_name = "ID")]
        id: String,
    },
}

/// The request of a command (a bad ID is a usage error, exit 2, before anything is sent), and
/// whether JSON was asked for.
pub(crate) fn request(command: DeviceCommand) -> Result<(Request, bool), Failure> {
    let id = |s: &str| DeviceId::parse(s).map_err(|e| fail(2, format!("ID: {e}")));
    Ok(match command {
        DeviceCommand::List { json } => (Request::DeviceList, json),
        DeviceCommand::Show { id: i, json } => (Request::DeviceShow(id(&i)?), json),
        DeviceCommand::Forget { id: i } => (Request::DeviceForget(id(&i)?), false),
    })
}

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("-")
}

/// The `device list` table.
pub(crate) fn render_list(reply: &Value) -> Result<String, Failure> {
    let list: DeviceList = serde_json::from_value(reply.clone())
        .map_err(|e| fail(1, format!("reply is not a device list: {e}")))?;
    if list.devices.is_empty() {
        return Ok("no onboarded devices\n".into());
    }
    let mut out = format!(
        "{:<16}  {:<12}  {:<24}  {:<8}  {:<6}  {:<20}  {:>4}  {}\n",
        "EUI-64", "LABEL", "VENDOR/MODEL", "STATE", "RLOC16", "LAST SEEN", "JOIN", "CREDENTIALS"
    );
    let mut remedies = Vec::new();
    for d in &list.devices {
        let vendor = format!("{}/{}", opt(&d.vendor_name), opt(&d.vendor_model));
        out.push_str(&format!(
            "{:<16}  {:<12}  {:<24}  {:<8}  {:<6}  {:<20}  {:>4}  {}\n",
            d.eui64.as_deref().unwrap_or(&d.joiner_id),
            opt(&d.label),
            vendor,
            d.state,
            opt(&d.rloc16),
            opt(&d.last_seen),
            d.onboardings,
            d.credentials
        ));
        if let Some(r) = &d.remedy {
            remedies.push(format!(
                "{}: {r}\n",
                d.eui64.as_deref().unwrap_or(&d.joiner_id)
            ));
        }
    }
    for r in remedies {
        out.push_str(&r);
    }
    Ok(out)
}

/// The `device show` text: one field a line.
pub(crate) fn render_show(reply: &Value) -> Result<String, Failure> {
    let d: Device = serde_json::from_value(reply.clone())
        .map_err(|e| fail(1, format!("reply is not a device record: {e}")))?;
    Ok(show_text(&d))
}

fn show_text(d: &Device) -> String {
    let rows: [(&str, String); 20] = [
        ("eui64", opt(&d.eui64).into()),
        ("joiner id", d.joiner_id.clone()),
        ("entry", d.entry.clone()),
        ("label", opt(&d.label).into()),
        ("signer", opt(&d.signer).into()),
        ("vendor", opt(&d.vendor_name).into()),
        ("model", opt(&d.vendor_model).into()),
        ("software", opt(&d.vendor_sw_version).into()),
        ("stack", opt(&d.vendor_stack_version).into()),
        ("first onboarded", d.first_onboarded.clone()),
        ("last onboarded", d.last_onboarded.clone()),
        ("onboardings", d.onboardings.to_string()),
        (
            "active timestamp",
            d.active_timestamp.map_or("-".into(), |t| t.to_string()),
        ),
        ("state", d.state.clone()),
        ("ext address", opt(&d.ext_address).into()),
        ("rloc16", opt(&d.rloc16).into()),
        ("role", format!("{} {}", opt(&d.role), opt(&d.device_type))),
        ("last seen", opt(&d.last_seen).into()),
        ("credentials", d.credentials.clone()),
        ("remedy", opt(&d.remedy).into()),
    ];
    rows.iter()
        .map(|(k, v)| format!("{:<17} {v}\n", format!("{k}:")))
        .collect()
}

/// The `device forget` line.
pub(crate) fn render_forgotten(reply: &Value) -> Result<String, Failure> {
    let f: Forgotten = serde_json::from_value(reply.clone())
        .map_err(|e| fail(1, format!("reply has no `forgotten` record: {e}")))?;
    let d = f.forgotten;
    Ok(format!(
        "forgot device {} (joiner id {})\n",
        opt(&d.eui64),
        d.joiner_id
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_show_and_ids() {
        let reply = json!({"devices": [{
            "joiner_id": "1122334455667788", "eui64": "18b4300000000002", "label": "hall",
            "vendor_name": "OpenThread", "vendor_model": "SIMULATION", "state": "absent",
            "onboardings": 2, "credentials": "stale", "remedy": "re-admit it",
            "rloc16": null, "last_seen": null, "entry": "eui64:18b4300000000002"
        }]});
        let t = render_list(&reply).unwrap();
        assert!(t.starts_with("EUI-64"), "{t}");
        assert!(t.contains("18b4300000000002  hall"), "{t}");
        assert!(t.contains("OpenThread/SIMULATION"), "{t}");
        assert!(
            t.contains("stale") && t.contains("18b4300000000002: re-admit it"),
            "{t}"
        );
        assert_eq!(
            render_list(&json!({"devices": []})).unwrap(),
            "no onboarded devices\n"
        );
        assert!(render_list(&json!({"x": 1})).is_err());
        let s = render_show(&reply["devices"][0]).unwrap();
        assert!(s.contains("onboardings:      2\n"), "{s}");
        let f = render_forgotten(&json!({"forgotten": reply["devices"][0]})).unwrap();
        assert_eq!(
            f,
            "forgot device 18b4300000000002 (joiner id 1122334455667788)\n"
        );
        let bad = request(DeviceCommand::Forget { id: "12".into() }).unwrap_err();
        assert_eq!(bad.code, 2);
        let (r, _) = request(DeviceCommand::Show {
            id: "18:b4:30:00:00:00:00:02".into(),
            json: false,
        })
        .unwrap();
        assert_eq!(
            r,
            Request::DeviceShow(DeviceId([0x18, 0xb4, 0x30, 0, 0, 0, 0, 2]))
        );
    }
}
