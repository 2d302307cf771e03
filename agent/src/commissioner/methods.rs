//! Control socket methods of the commissioner: `joiner.add`, `joiner.import` (a bootstrapping
//! file, verified and parsed here: [`control::bootstrap`]), `joiner.list`, `joiner.remove`,
//! `commissioner.status|start|stop`, `events.subscribe`, `network.energy_scan` (run by
//! [`crate::scan`]), `network.rotate_key|migrate|pending` and `dataset.import` (run by
//! [`crate::lifecycle`]), `device.list|show|forget` (the inventory, [`crate::devices`]), and the test-only `debug.reset_ncp`
//! (served only with `THREAD_AGENT_DEBUG_METHODS=1`, see [`crate::control_socket`]). `status` and
//! `dataset.export` go to the wrapped handler.
//!
//! The parameters are typed and validated by the `control` crate ([`Request`]); the dispatch
//! below matches every variant, so a new method is a compile error here until it is served.
//!
//! Guarantees: the PSKd arrives as a `Pskd` and is never echoed, logged or put into an error
//! message.

use std::sync::Arc;
use std::time::Duration;

use control::{bootstrap, reply, JoinerAdd, JoinerImport, Request, ResetNcp};
use serde_json::Value;

use super::Service;
use crate::control_socket::{code, Handler, MethodError, MethodFuture, Peer};

/// The control handler: commissioner methods here, `status` and `dataset.export` to `inner`.
pub(crate) struct Methods {
    pub inner: Arc<dyn Handler>,
    pub service: Service,
    /// `network.energy_scan`.
    pub scanner: Arc<crate::scan::Scanner>,
    /// `network.rotate_key`, `network.migrate`, `network.pending`, `dataset.import`.
    pub lifecycle: Arc<crate::lifecycle::Lifecycle>,
    /// `device.list`, `device.show`, `device.forget`.
    pub devices: Arc<crate::devices::Inventory>,
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
        Ok(reply::to_result(&reply::Reset { reset: true }))
    }
}

impl Methods {
    /// `joiner.import`: the agent is the trust boundary, so it verifies the signature (when a
    /// key is given) and parses the file itself before anything reaches the joiner table.
    async fn import(&self, i: JoinerImport, peer: &Peer) -> Result<Value, MethodError> {
        let bad = |m: String| MethodError::new(code::INVALID_PARAMS, m);
        let signer =
            match (&i.verify_key, &i.signature) {
                (Some(key), Some(sig)) => Some(
                    bootstrap::verify(i.file.as_bytes(), sig, key)
                        .map_err(|e| bad(format!("signature refused, nothing imported: {e}")))?,
                ),
                (Some(_), None) => return Err(bad(
                    "signature refused, nothing imported: the file is unsigned (no `signature`)"
                        .into(),
                )),
                (None, _) => None,
            };
        let entries = bootstrap::parse(i.file.as_bytes())
            .map_err(|e| bad(format!("the file was refused, nothing imported: {e}")))?;
        tracing::info!(
            uid = peer.uid,
            pid = peer.pid,
            entries = entries.len(),
            signer = signer.as_ref().map(|s| s.key_id.as_str()),
            "joiner.import"
        );
        let timeout = i.timeout.map(Duration::from_secs);
        self.service
            .import(entries, timeout, signer.map(|s| s.key_id))
            .await
    }
}

impl Handler for Methods {
    /// One arm per method (no catch-all): a new [`Request`] variant does not compile here
    /// until it is served.
    fn call<'a>(&'a self, request: Request, peer: &'a Peer) -> MethodFuture<'a> {
        Box::pin(async move {
            match request {
                Request::Status | Request::DatasetExport | Request::NetworkCounters => {
                    self.inner.call(request, peer).await
                }
                Request::JoinerAdd(JoinerAdd {
                    selector,
                    pskd,
                    timeout,
                }) => {
                    tracing::info!(uid = peer.uid, pid = peer.pid, entry = %super::events::entry_text(&selector), "joiner.add");
                    let timeout = timeout.map(Duration::from_secs);
                    self.service.add(selector, pskd, timeout).await
                }
                Request::JoinerImport(i) => self.import(i, peer).await,
                Request::JoinerList => self.service.list().await,
                Request::JoinerRemove(selector) => self.service.remove(selector).await,
                Request::CommissionerStatus => self.service.status().await,
                Request::CommissionerStart => self.service.start().await,
                Request::CommissionerStop => self.service.stop().await,
                Request::NetworkEnergyScan(scan) => {
                    tracing::info!(uid = peer.uid, pid = peer.pid, "network.energy_scan");
                    let r = self.scanner.scan(&scan.channels).await?;
                    Ok(reply::to_result(&r))
                }
                Request::NetworkRotateKey(r) => {
                    tracing::info!(
                        uid = peer.uid,
                        pid = peer.pid,
                        delay_s = r.delay,
                        pskc = r.pskc,
                        "network.rotate_key"
                    );
                    self.lifecycle.rotate_key(peer, r).await
                }
                Request::NetworkMigrate(m) => {
                    tracing::info!(
                        uid = peer.uid,
                        pid = peer.pid,
                        channel = m.channel,
                        pan_id = m.pan_id,
                        delay_s = m.delay,
                        "network.migrate"
                    );
                    self.lifecycle.migrate(peer, m).await
                }
                Request::NetworkPending => {
                    let pending = self.lifecycle.pending().await?;
                    Ok(reply::to_result(&control::lifecycle::Pending { pending }))
                }
                Request::DatasetImport(i) => {
                    tracing::info!(
                        uid = peer.uid,
                        pid = peer.pid,
                        replace = i.replace,
                        "dataset.import"
                    );
                    self.lifecycle.import(peer, i).await
                }
                Request::DeviceList => Ok(self.devices.list().await),
                Request::DeviceShow(id) => self.devices.show(id).await,
                Request::DeviceForget(id) => {
                    tracing::info!(uid = peer.uid, pid = peer.pid, id = %id.hex(), "device.forget");
                    self.devices.forget(id, peer.uid).await
                }
                Request::EventsSubscribe => {
                    Ok(reply::to_result(&reply::Subscribed { subscribed: true }))
                }
                Request::DebugResetNcp(ResetNcp { on: None }) => self.reset_ncp().await,
                Request::DebugResetNcp(ResetNcp { on: Some(on) }) => {
                    self.service.arm_reset(on).await
                }
                Request::DebugDiagQuery { wait } => {
                    tracing::info!(
                        uid = peer.uid,
                        pid = peer.pid,
                        "debug.diag_query (test method)"
                    );
                    let wait = Duration::from_secs(wait.unwrap_or(5));
                    let answers = self.service.diag_query(wait).await?;
                    Ok(super::requests::diag_answers_json(&answers))
                }
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
    use control::Method;
    use meshcop::commissioner::JoinerKind;
    use serde_json::json;

    fn selector(params: &Value) -> Result<JoinerKind, MethodError> {
        match Request::parse(Method::JoinerRemove, params)? {
            Request::JoinerRemove(k) => Ok(k),
            _ => unreachable!(),
        }
    }

    fn add_params(
        params: &Value,
    ) -> Result<(JoinerKind, meshcop::credentials::Pskd, Option<Duration>), MethodError> {
        match Request::parse(Method::JoinerAdd, params)? {
            Request::JoinerAdd(a) => Ok((a.selector, a.pskd, a.timeout.map(Duration::from_secs))),
            _ => unreachable!(),
        }
    }
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
