//! The OpenThread Border Router REST API's JSON form of an operational dataset (ot-br-posix
//! `src/rest/json.cpp`, camelCase keys as python-otbr-api reads and writes them), to and from
//! [`meshcop::dataset::Dataset`]. Pure; every error names the key, never a secret value.

use meshcop::credentials::{NetworkKey, Pskc};
use meshcop::dataset::{timestamp, Dataset};
use serde_json::{json, Map, Value};

fn ts_json(ts: u64) -> Value {
    json!({"seconds": timestamp::seconds(ts), "ticks": timestamp::ticks(ts), "authoritative": timestamp::authoritative(ts)})
}

fn policy_json(rotation: u16, flags: u16) -> Value {
    let [a, b] = flags.to_be_bytes();
    json!({
        "rotationTime": rotation,
        "obtainNetworkKey": a & 0x80 != 0,
        "nativeCommissioning": a & 0x40 != 0,
        "routers": a & 0x20 != 0,
        "externalCommissioning": a & 0x10 != 0,
        "commercialCommissioning": a & 0x04 == 0,
        "autonomousEnrollment": a & 0x02 == 0,
        "networkKeyProvisioning": a & 0x01 == 0,
        "tobleLink": b & 0x80 != 0,
        "nonCcmRouters": b & 0x40 == 0,
    })
}

/// The active dataset as JSON (the privileged export: holds the network key and PSKc).
pub(crate) fn active_json(ds: &Dataset) -> Value {
    let mut m = Map::new();
    if let Some(t) = ds.active_timestamp {
        m.insert("activeTimestamp".into(), ts_json(t));
    }
    if let Some(k) = &ds.network_key {
        m.insert("networkKey".into(), json!(k.to_hex()));
    }
    if let Some(n) = &ds.network_name {
        m.insert("networkName".into(), json!(n));
    }
    if let Some(x) = ds.ext_pan_id {
        m.insert("extPanId".into(), json!(hex::encode(x)));
    }
    if let Some(p) = ds.mesh_local_prefix {
        let mut a = [0u8; 16];
        a[..8].copy_from_slice(&p);
        m.insert(
            "meshLocalPrefix".into(),
            json!(format!("{}/64", std::net::Ipv6Addr::from(a))),
        );
    }
    if let Some(p) = ds.pan_id {
        m.insert("panId".into(), json!(p));
    }
    if let Some(c) = ds.channel {
        m.insert("channel".into(), json!(c));
    }
    if let Some(p) = &ds.pskc {
        m.insert("pskc".into(), json!(p.to_hex()));
    }
    if let Some((r, f)) = ds.security_policy {
        m.insert("securityPolicy".into(), policy_json(r, f));
    }
    if let Some(c) = ds.channel_mask {
        m.insert("channelMask".into(), json!(c));
    }
    Value::Object(m)
}

/// The pending dataset as JSON: `activeDataset`, `pendingTimestamp`, `delay` (ms).
pub(crate) fn pending_json(ds: &Dataset) -> Value {
    let mut m = Map::new();
    m.insert("activeDataset".into(), active_json(ds));
    if let Some(t) = ds.pending_timestamp() {
        m.insert("pendingTimestamp".into(), ts_json(t));
    }
    if let Some(d) = ds.delay_timer() {
        m.insert("delay".into(), json!(d));
    }
    Value::Object(m)
}

fn bad(key: &str, want: &str) -> String {
    format!("`{key}` must be {want}")
}

fn parse_ts(key: &str, v: &Value) -> Result<u64, String> {
    let o = v.as_object().ok_or_else(|| bad(key, "an object"))?;
    for k in o.keys() {
        if !["seconds", "ticks", "authoritative"].contains(&k.as_str()) {
            return Err(format!("unknown key `{key}.{k}`"));
        }
    }
    let seconds = match o.get("seconds") {
        None => 0,
        Some(s) => s
            .as_u64()
            .filter(|s| *s < 1 << 48)
            .ok_or_else(|| bad(&format!("{key}.seconds"), "a number below 2^48"))?,
    };
    let ticks = match o.get("ticks") {
        None => 0,
        Some(t) => t
            .as_u64()
            .filter(|t| *t < 1 << 15)
            .ok_or_else(|| bad(&format!("{key}.ticks"), "a number below 32768"))?
            as u16,
    };
    let auth = match o.get("authoritative") {
        None => false,
        Some(a) => a
            .as_bool()
            .ok_or_else(|| bad(&format!("{key}.authoritative"), "a bool"))?,
    };
    Ok(timestamp::new(seconds, ticks, auth))
}

fn hex_n<const N: usize>(key: &str, v: &Value) -> Result<[u8; N], String> {
    let s = v
        .as_str()
        .ok_or_else(|| bad(key, &format!("a string of {} hex digits", 2 * N)))?;
    let mut a = [0u8; N];
    hex::decode_to_slice(s, &mut a).map_err(|_| bad(key, &format!("{} hex digits", 2 * N)))?;
    Ok(a)
}

fn merge_policy(v: &Value, current: Option<(u16, u16)>) -> Result<(u16, u16), String> {
    let o = v
        .as_object()
        .ok_or_else(|| bad("securityPolicy", "an object"))?;
    let (mut rot, flags) = current.unwrap_or((
        crate::network::DEFAULT_ROTATION_HOURS,
        crate::network::DEFAULT_SECURITY_FLAGS,
    ));
    let [mut a, mut b] = flags.to_be_bytes();
    for (k, val) in o {
        if k == "rotationTime" {
            rot = val
                .as_u64()
                .filter(|r| (1..=0xffff).contains(r))
                .ok_or_else(|| bad("securityPolicy.rotationTime", "a number 1..65535"))?
                as u16;
            continue;
        }
        let on = val
            .as_bool()
            .ok_or_else(|| bad(&format!("securityPolicy.{k}"), "a bool"))?;
        // (byte, mask, set when enabled)
        let (byte, mask, direct) = match k.as_str() {
            "obtainNetworkKey" => (0, 0x80, true),
            "nativeCommissioning" => (0, 0x40, true),
            "routers" => (0, 0x20, true),
            "externalCommissioning" => (0, 0x10, true),
            "commercialCommissioning" => (0, 0x04, false),
            "autonomousEnrollment" => (0, 0x02, false),
            "networkKeyProvisioning" => (0, 0x01, false),
            "tobleLink" => (1, 0x80, true),
            "nonCcmRouters" => (1, 0x40, false),
            _ => return Err(format!("unknown key `securityPolicy.{k}`")),
        };
        let target = if byte == 0 { &mut a } else { &mut b };
        if on == direct {
            *target |= mask;
        } else {
            *target &= !mask;
        }
    }
    Ok((rot, u16::from_be_bytes([a, b])))
}

/// Merges the JSON active dataset `v` into `ds` (fields given replace those there).
pub(crate) fn merge_active(ds: &mut Dataset, v: &Value) -> Result<(), String> {
    let o = v
        .as_object()
        .ok_or_else(|| "the dataset must be a JSON object".to_string())?;
    for (k, val) in o {
        match k.as_str() {
            "activeTimestamp" => ds.active_timestamp = Some(parse_ts(k, val)?),
            "networkKey" => ds.network_key = Some(NetworkKey::from_bytes(hex_n::<16>(k, val)?)),
            "pskc" => ds.pskc = Some(Pskc::from_bytes(hex_n::<16>(k, val)?)),
            "extPanId" => ds.ext_pan_id = Some(hex_n::<8>(k, val)?),
            "networkName" => {
                let n = val
                    .as_str()
                    .filter(|n| !n.is_empty() && n.len() <= meshcop::dataset::NETWORK_NAME_MAX_LEN)
                    .ok_or_else(|| bad(k, "a string of 1..16 bytes"))?;
                ds.network_name = Some(n.to_string());
            }
            "meshLocalPrefix" => {
                let s = val
                    .as_str()
                    .ok_or_else(|| bad(k, "a string like fd00::/64"))?;
                let addr = s.strip_suffix("/64").unwrap_or(s);
                let ip: std::net::Ipv6Addr = addr
                    .parse()
                    .map_err(|_| bad(k, "an IPv6 /64 prefix like fd00:db8::/64"))?;
                let mut p = [0u8; 8];
                p.copy_from_slice(&ip.octets()[..8]);
                ds.mesh_local_prefix = Some(p);
            }
            "panId" => {
                ds.pan_id = Some(
                    val.as_u64()
                        .filter(|p| *p < 0xffff)
                        .ok_or_else(|| bad(k, "a number 0..65534"))? as u16,
                )
            }
            "channel" => {
                ds.channel = Some(
                    val.as_u64()
                        .filter(|c| (11..=26).contains(c))
                        .ok_or_else(|| bad(k, "a channel 11..26"))? as u16,
                )
            }
            "channelMask" => {
                ds.channel_mask = Some(
                    val.as_u64()
                        .filter(|c| *c <= u32::MAX as u64)
                        .ok_or_else(|| bad(k, "a 32-bit number"))? as u32,
                )
            }
            "securityPolicy" => ds.security_policy = Some(merge_policy(val, ds.security_policy)?),
            _ => return Err(format!("unknown key `{k}`")),
        }
    }
    Ok(())
}

/// The parts of a JSON pending dataset: the active dataset object, the pending timestamp and
/// the delay in ms.
pub(crate) fn split_pending(v: &Value) -> Result<(Value, Option<u64>, Option<u32>), String> {
    let o = v
        .as_object()
        .ok_or_else(|| "the pending dataset must be a JSON object".to_string())?;
    let mut active = json!({});
    let (mut ts, mut delay) = (None, None);
    for (k, val) in o {
        match k.as_str() {
            "activeDataset" => active = val.clone(),
            "pendingTimestamp" => ts = Some(parse_ts(k, val)?),
            "delay" => {
                delay = Some(
                    val.as_u64()
                        .filter(|d| *d <= u32::MAX as u64)
                        .ok_or_else(|| bad(k, "a number of milliseconds"))?
                        as u32,
                )
            }
            _ => return Err(format!("unknown key `{k}`")),
        }
    }
    Ok((active, ts, delay))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let tlvs = crate::network::generate_dataset("RestNet", 15).unwrap();
        let ds = Dataset::decode(&tlvs).unwrap();
        let j = active_json(&ds);
        let mut back = Dataset::default();
        merge_active(&mut back, &j).unwrap();
        assert_eq!(back.encode(), ds.encode());
        for g in [
            json!(1),
            json!({"channel": 27}),
            json!({"panId": "x"}),
            json!({"networkKey": "00"}),
            json!({"nope": 1}),
            json!({"activeTimestamp": {"seconds": -1}}),
            json!({"meshLocalPrefix": "zz::/64"}),
            json!({"securityPolicy": {"routers": 3}}),
        ] {
            let mut d = ds.clone();
            assert!(merge_active(&mut d, &g).is_err(), "{g}");
            assert_eq!(d.encode(), ds.encode());
        }
        assert!(split_pending(&json!({"delay": "x"})).is_err());
    }
}
