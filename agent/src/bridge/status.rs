//! The bridge's part of `threadctl status`.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{json, Value};

use super::Bridge;

impl Bridge {
    /// The `bridge` object of `threadctl status --json`.
    pub(crate) fn status_json(&self) -> Value {
        let s = self.shared.status().clone();
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let by_reason = json!({
            "rx_queue_full": get(&c.rx_queue_full),
            "tx_queue_full": get(&c.tx_queue_full),
            "control_queue_full": get(&c.control_queue_full),
            "looped": get(&c.looped),
            "malformed": get(&c.malformed),
            "ncp_rejected": get(&c.ncp_rejected),
            "interface_errors": get(&c.interface_errors),
        });
        let drops: u64 = by_reason
            .as_object()
            .map(|o| o.values().filter_map(Value::as_u64).sum())
            .unwrap_or(0);
        json!({
            "interface": self.shared.config.interface,
            "state": s.state,
            "error": s.error,
            "addresses": s.addresses.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            "routes": s.routes.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            "omr_prefix": s.omr_prefix.map(|p| p.to_string()),
            "border_routing": s.border_routing.as_str(),
            "border_routing_error": s.border_routing_error,
            "infra_interface": self.shared.config.infra_interface,
            "rx_packets": get(&c.rx_packets),
            "tx_packets": get(&c.tx_packets),
            "drops": drops,
            "drops_by_reason": by_reason,
        })
    }
}
