//! `[mdns]`: `enabled` (default true), `instance_name` (default: "<vendor_name> Border Router
//! #XXXX"), `vendor_name` and `model_name` (TXT `vn`, `mn`; default "thread-agent").
//!
//! Limits: an instance name is one DNS label, 1..63 bytes of UTF-8 without control characters;
//! `vendor_name` and `model_name` 1..24 bytes (OTBR's limits for `vn`/`mn`; so the default
//! instance name, 20 bytes longer, is always a valid label).

use super::{boolean, invalid, text, ConfigError};
use crate::mdns::meshcop::MAX_LABEL;
use crate::mdns::MdnsConfig;

/// Longest `[mdns] vendor_name` / `model_name`.
pub(crate) const MAX_NAME: usize = 24;

pub(super) fn mdns_settings(
    cfg: &config::Config,
    origin_of: &dyn Fn(&str) -> String,
) -> Result<MdnsConfig, ConfigError> {
    let mut m = MdnsConfig {
        enabled: boolean(cfg, "mdns.enabled", true, origin_of)?,
        ..MdnsConfig::default()
    };
    let printable = |v: &str| !v.chars().any(char::is_control);
    if let Some((v, origin)) = text(cfg, "mdns.instance_name", origin_of)? {
        if v.is_empty() || v.len() > MAX_LABEL || !printable(&v) {
            return Err(invalid(
                "mdns.instance_name",
                &v,
                origin,
                "1..63 bytes of UTF-8 without control characters (one DNS label)",
            ));
        }
        m.instance_name = Some(v);
    }
    for (key, slot) in [
        ("mdns.vendor_name", &mut m.vendor_name),
        ("mdns.model_name", &mut m.model_name),
    ] {
        if let Some((v, origin)) = text(cfg, key, origin_of)? {
            if v.is_empty() || v.len() > MAX_NAME || !printable(&v) {
                return Err(invalid(
                    key,
                    &v,
                    origin,
                    "1..24 bytes of UTF-8 without control characters",
                ));
            }
            *slot = v;
        }
    }
    Ok(m)
}
