//! Control socket methods of the commissioner: `joiner.add`, `joiner.list`, `joiner.remove`,
//! `commissioner.status|start|stop`, `events.subscribe`, and the test-only `debug.reset_ncp`
//! (served only with `THREAD_AGENT_DEBUG_METHODS=1`, see [`crate::control`]). Every other method
//! goes to the wrapped handler (`status`, `dataset.export`).
//!
//! Parameters (see docs/control-protocol.md): `joiner.add` takes exactly one of `eui64` (16 hex
//! digits), `discerner` (`HEX/BITS`) or `any: true`, plus `pskd` (validated by
//! `meshcop::credentials::Pskd`) and an optional `timeout` (seconds, 1..86400).
//! `joiner.remove` takes the same selector.
//!
//! Guarantees: the PSKd is moved into a `Pskd` at once and never echoed, logged or put into an
//! error message (a bad PSKd's error names the rule and position, not the value).

use std::sync::Arc;
use std::time::Duration;

use meshcop::commissioner::JoinerKind;
use meshcop::credentials::{Discerner, Pskd};
use serde_json::{json, Value};

use super::Service;
use crate::control::{code, Handler, MethodError, MethodFuture, Peer};

/// The control handler: commissioner methods here, the rest to `inner`.
pub struct Methods {
    pub inner: Arc<dyn Handler>,
    pub service: Service,
}

fn bad(msg: impl Into<String>) -> MethodError {
    MethodError::new(code::INVALID_PARAMS, msg)
}

/// Reads the joiner selector (`eui64` | `discerner` | `any`).
pub fn selector(params: &Value) -> Result<JoinerKind, MethodError> {
    let eui = params.get("eui64").filter(|v| !v.is_null());
    let disc = params.get("discerner").filter(|v| !v.is_null());
    let any = params.get("any").filter(|v| !v.is_null());
    let n = [
        eui.is_some(),
        disc.is_some(),
        any.is_some_and(|a| a != &json!(false)),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if n != 1 {
        return Err(bad(
            "give exactly one of `eui64` (16 hex digits), `discerner` (\"HEX/BITS\") or `any` (true)",
        ));
    }
    if let Some(e) = eui {
        let s = e
            .as_str()
            .ok_or_else(|| bad("`eui64` must be a string of 16 hex digits"))?;
        let s = s.trim().replace([':', '-'], "");
        let b = hex::decode(&s)
            .ok()
            .filter(|b| b.len() == 8)
            .ok_or_else(|| bad(format!("`eui64` {s:?} is not 16 hex digits (8 bytes)")))?;
        let mut a = [0u8; 8];
        a.copy_from_slice(&b);
        return Ok(JoinerKind::Eui64(a));
    }
    if let Some(d) = disc {
        let s = d
            .as_str()
            .ok_or_else(|| bad("`discerner` must be a string \"HEX/BITS\""))?;
        let d: Discerner = s.parse().map_err(|e| bad(format!("`discerner`: {e}")))?;
        return Ok(JoinerKind::Discerner(d));
    }
    match any {
        Some(Value::Bool(true)) => Ok(JoinerKind::Any),
        _ => Err(bad("`any` must be true")),
    }
}

/// Reads `pskd` (never echoed) and `timeout`.
pub fn add_params(params: &Value) -> Result<(JoinerKind, Pskd, Option<Duration>), MethodError> {
    let kind = selector(params)?;
    let pskd = match params.get("pskd") {
        Some(Value::String(s)) => {
            Pskd::new(s).map_err(|e| bad(format!("`pskd` is not a valid PSKd: {e}")))?
        }
        Some(_) => return Err(bad("`pskd` must be a string")),
        None => {
            return Err(bad(
                "missing `pskd` (the joiner's PSKd, 6..32 of 0-9 A-Y without I O Q)",
            ))
        }
    };
    let timeout = match params.get("timeout") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(s) if (1..=86_400).contains(&s) => Some(Duration::from_secs(s)),
            _ => return Err(bad("`timeout` must be whole seconds 1..86400")),
        },
    };
    Ok((kind, pskd, timeout))
}

impl Methods {
    async fn reset_ncp(&self) -> Result<Value, MethodError> {
        tracing::warn!("debug.reset_ncp: resetting the co-processor (test method)");
        self.service
            .net()
            .client
            .reset()
            .await
            .map_err(|e| MethodError::new(code::NCP_UNAVAILABLE, e.to_string()))?;
        Ok(json!({"reset": true}))
    }
}

impl Handler for Methods {
    fn call<'a>(&'a self, method: &'a str, params: &'a Value, peer: &'a Peer) -> MethodFuture<'a> {
        Box::pin(async move {
            match method {
                "joiner.add" => {
                    let (kind, pskd, timeout) = add_params(params)?;
                    tracing::info!(uid = peer.uid, pid = peer.pid, entry = %super::events::entry_text(&kind), "joiner.add");
                    self.service.add(kind, pskd, timeout).await
                }
                "joiner.list" => self.service.list().await,
                "joiner.remove" => {
                    let kind = selector(params)?;
                    self.service.remove(kind).await
                }
                "commissioner.status" => self.service.status().await,
                "commissioner.start" => self.service.start().await,
                "commissioner.stop" => self.service.stop().await,
                "events.subscribe" => Ok(json!({"subscribed": true})),
                "debug.reset_ncp" => match params.get("on") {
                    None | Some(Value::Null) => self.reset_ncp().await,
                    Some(Value::String(on)) => self.service.arm_reset(on.clone()).await,
                    Some(_) => Err(bad(
                        "`on` must be an event type, e.g. \"joiner-authenticated\"",
                    )),
                },
                _ => self.inner.call(method, params, peer).await,
            }
        })
    }

    fn subscribe(&self) -> Option<tokio::sync::broadcast::Receiver<Value>> {
        Some(self.service.subscribe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors() {
        assert_eq!(
            selector(&json!({"eui64": "18b4300000000002"})).unwrap(),
            JoinerKind::Eui64([0x18, 0xb4, 0x30, 0, 0, 0, 0, 2])
        );
        assert_eq!(selector(&json!({"any": true})).unwrap(), JoinerKind::Any);
        assert!(matches!(
            selector(&json!({"discerner": "abc/12"})).unwrap(),
            JoinerKind::Discerner(_)
        ));
        assert!(selector(&json!({})).is_err());
        assert!(selector(&json!({"any": true, "eui64": "18b4300000000002"})).is_err());
        assert!(selector(&json!({"eui64": "18b43000"})).is_err());
        assert!(selector(&json!({"discerner": "xyz"})).is_err());
    }

    #[test]
    fn pskd_is_validated_and_never_echoed() {
        let e = add_params(&json!({"any": true, "pskd": "j01nme"})).unwrap_err();
        assert_eq!(e.code, "invalid_params");
        assert!(!e.message.contains("j01nme"), "{}", e.message);
        let e = add_params(&json!({"any": true, "pskd": "SECRETPSKDIOQ"})).unwrap_err();
        assert!(!e.message.contains("SECRETPSKDIOQ"), "{}", e.message);
        let (k, _, t) = add_params(&json!({"any": true, "pskd": "J01NME", "timeout": 30})).unwrap();
        assert_eq!((k, t), (JoinerKind::Any, Some(Duration::from_secs(30))));
        assert!(add_params(&json!({"any": true, "pskd": "J01NME", "timeout": 0})).is_err());
        assert!(add_params(&json!({"any": true})).is_err());
    }
}
