//! Typed codecs for the values of Spinel properties (one file per family), built on
//! [`crate::codec`]. Each property key they decode is defined once, in [`crate::spinel::prop`].
//!
//! - [`net`]: the mesh bridge's values (`STREAM_NET`, address and multicast tables, on-mesh nets,
//!   mesh-local prefix, infrastructure-interface state and ICMPv6).
//! - [`tables`]: the neighbour and child tables.
//! - [`forward`]: the UDP forward stream (`THREAD_UDP_FORWARD_STREAM`).
//! - [`scan`]: the energy scan's results (`MAC_ENERGY_SCAN_RESULT`) and its channel mask.
//! - [`border_agent`]: the co-processor's Border Agent state (`BORDER_AGENT_MESHCOP_SERVICE_STATE`).
//! - [`counters`]: the co-processor's MAC, IPv6, MLE and message-buffer counters.
//! - [`dnssd`]: the platform DNS-SD requests of the SRP advertising proxy (`DNSSD_*`).
//!
//! Guarantees: no decoder panics on bytes from the co-processor; each has a test that feeds it
//! garbage.

pub mod border_agent;
pub mod counters;
pub mod dnssd;
pub mod forward;
pub mod net;
pub mod scan;
pub mod tables;

/// A Spinel value that cannot be decoded.
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    #[error("malformed {what}: {source}")]
    Spinel {
        what: &'static str,
        source: crate::Error,
    },
}

impl ValueError {
    /// The error mapper for the value named `what`.
    fn of(what: &'static str) -> impl Fn(crate::Error) -> ValueError {
        move |source| ValueError::Spinel { what, source }
    }
}
