//! The agent's [`PresenceSource`]: the active timestamp from the co-processor's active dataset,
//! presence from a network diagnostics query handed in by `main.rs` (the commissioner's
//! `Service::diag_query` through the Border Agent). Without one, every query fails and presence
//! stays `unknown` (records, onboardings and credentials still work).

use std::sync::Arc;
use std::time::Duration;

use meshcop::dataset::{timestamp, Dataset};
use ncp::spinel::prop;
use zeroize::Zeroizing;

use super::{BoxFuture, PresenceSource, Seen};
use crate::network::Network;

/// A network diagnostics query: the devices that answered within the wait.
pub(crate) type DiagQuery =
    Arc<dyn Fn(Duration) -> BoxFuture<'static, Result<Vec<Seen>, String>> + Send + Sync>;

/// The commissioner's network diagnostics query ([`crate::commissioner::Service::diag_query`])
/// as a [`DiagQuery`]: each answer that carries an EUI-64 is a [`Seen`].
pub(crate) fn diag_query(c: crate::commissioner::Service) -> DiagQuery {
    Arc::new(move |wait| {
        let c = c.clone();
        Box::pin(async move {
            let answers = c.diag_query(wait).await.map_err(|e| e.message)?;
            Ok(answers
                .into_iter()
                .filter_map(|a| {
                    Some(Seen {
                        eui64: a.eui64?,
                        ext_address: a.ext_address,
                        rloc16: a.rloc16,
                        mode: a.mode,
                    })
                })
                .collect())
        })
    })
}

/// Presence through the mesh.
pub(crate) struct MeshSource {
    pub(crate) net: Arc<Network>,
    pub(crate) diag: Option<DiagQuery>,
}

impl PresenceSource for MeshSource {
    fn query(&self, wait: Duration) -> BoxFuture<'_, Result<Vec<Seen>, String>> {
        match &self.diag {
            Some(q) => q(wait),
            None => Box::pin(async { Err("no network diagnostics query wired".to_string()) }),
        }
    }

    fn active_timestamp(&self) -> BoxFuture<'_, Option<u64>> {
        Box::pin(async move {
            let tlvs = Zeroizing::new(
                self.net
                    .client
                    .get(prop::THREAD_ACTIVE_DATASET_TLVS)
                    .await
                    .ok()?,
            );
            Dataset::decode(&tlvs)
                .ok()?
                .active_timestamp
                .map(timestamp::seconds)
        })
    }
}
