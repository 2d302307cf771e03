//! `dataset.import`: bring an existing Thread network (another border router's dataset, an old
//! backup) onto the co-processor instead of the one it has or would form.
//!
//! Order: validate (every TLV a node needs to attach, [`crate::state::REQUIRED`]; the error
//! names what is missing) -> refuse a co-processor with a network unless `replace`
//! (`network_exists`) -> `NET_STACK_UP` 0 -> clear the pending dataset -> set the active
//! dataset -> back it up -> `NET_STACK_UP` 1 (and `NET_IF_UP` 1). Nothing is written before the
//! checks pass; a co-processor failure after the stack was stopped brings the old network back
//! up (its dataset is still the active one when the write failed).

use control::lifecycle::{DatasetImport, Imported};
use control::{code, EventKind, MethodError};
use meshcop::dataset::{timestamp, Dataset};
use ncp::spinel::prop;
use serde_json::{json, Value};

use super::{unavailable, Lifecycle};
use crate::control_socket::Peer;

impl Lifecycle {
    pub(crate) async fn import(&self, peer: &Peer, r: DatasetImport) -> Result<Value, MethodError> {
        let tlvs = r.tlvs.0;
        crate::state::validate_dataset(&tlvs).map_err(|reason| {
            MethodError::new(
                code::INVALID_PARAMS,
                format!("not a usable active dataset: {reason}"),
            )
        })?;
        let ds = Dataset::decode(&tlvs).map_err(|e| {
            MethodError::new(code::INVALID_PARAMS, format!("the TLVs do not decode: {e}"))
        })?;
        let mut seen = self.seen.lock().await;
        let current = self.read(prop::THREAD_ACTIVE_DATASET_TLVS).await?;
        let replaced = !current.is_empty();
        if replaced && !r.replace {
            let (name, xp) = match Dataset::decode(&current) {
                Ok(c) => (
                    c.network_name.unwrap_or_default(),
                    c.ext_pan_id.map(hex::encode).unwrap_or_default(),
                ),
                Err(_) => (String::new(), String::new()),
            };
            return Err(MethodError::new(
                code::NETWORK_EXISTS,
                format!("the co-processor already has a network ({name}, extended PAN ID {xp}); add `--replace` (`replace: true`) to replace it"),
            ));
        }
        let c = &self.net.client;
        c.set(prop::NET_STACK_UP, &[0]).await.map_err(unavailable)?;
        // A pending dataset of the old network must not follow the new one (best effort: a
        // co-processor without one may refuse the empty write).
        let _ = c.set(prop::THREAD_PENDING_DATASET_TLVS, &[]).await;
        let written = c.set(prop::THREAD_ACTIVE_DATASET_TLVS, &tlvs).await;
        // Thread comes back up either way: on the new network, or on the old one.
        let up = async {
            c.set(prop::NET_IF_UP, &[1]).await?;
            c.set(prop::NET_STACK_UP, &[1]).await
        };
        if let Err(e) = written {
            let _ = up.await;
            return Err(match e {
                ncp::Error::Status { status, .. } => MethodError::new(
                    code::INVALID_PARAMS,
                    format!("the co-processor refused the dataset ({status:?}); nothing changed"),
                ),
                e => unavailable(e),
            });
        }
        self.net.mark_down();
        self.adopted_active(&mut seen, &tlvs, &ds);
        drop(seen);
        up.await.map_err(unavailable)?;
        self.net.backup_if_changed().await;
        self.commissioner.credentials_changed().await;
        let reply = Imported {
            imported: true,
            replaced,
            network_name: ds.network_name.clone().unwrap_or_default(),
            ext_pan_id: ds.ext_pan_id.map(hex::encode).unwrap_or_default(),
            channel: ds.channel.and_then(|c| u8::try_from(c).ok()).unwrap_or(0),
            pan_id: format!("0x{:04x}", ds.pan_id.unwrap_or(0)),
            active_timestamp: ds.active_timestamp.map(timestamp::seconds),
        };
        let fields = json!({
            "uid": peer.uid,
            "pid": peer.pid,
            "replaced": replaced,
            "network_name": reply.network_name,
            "ext_pan_id": reply.ext_pan_id,
            "channel": reply.channel,
            "pan_id": reply.pan_id,
            "active_timestamp": reply.active_timestamp,
        });
        let text = format!(
            "dataset imported: network {} (extended PAN ID {}){}",
            reply.network_name,
            reply.ext_pan_id,
            if replaced {
                ", replacing the previous network"
            } else {
                ""
            }
        );
        self.announce(EventKind::DatasetImported, fields, &text);
        Ok(control::reply::to_result(&reply))
    }
}
