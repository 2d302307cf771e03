//! The co-processor's counters (OpenThread `src/ncp/ncp_base_mtd.cpp`, `HandlePropertyGet` of
//! `SPINEL_PROP_CNTR_ALL_MAC_COUNTERS`, `_CNTR_ALL_IP_COUNTERS`, `_CNTR_MLE_COUNTERS` and
//! `_MSG_BUFFER_COUNTERS`): where frames and messages were sent, received or lost inside it.
//!
//! Each value is a fixed sequence of integers; the decoders name them in the order OpenThread
//! writes them (`otMacCounters`, `otIpCounters`, `otMleCounters`, `otBufferInfo`).
//!
//! Guarantees: no decoder panics; a value shorter than the first field is an error. A value
//! longer than the names known here (a newer firmware appending counters) keeps the known ones and
//! ignores the rest; a shorter one (an older firmware) gives only the counters it holds.

use crate::codec::Reader;

/// Named counters, in the order the co-processor sends them.
pub type Named = Vec<(&'static str, u32)>;

/// `otMacCounters`, transmit side, in `CNTR_ALL_MAC_COUNTERS` order.
pub const MAC_TX: &[&str] = &[
    "total",
    "unicast",
    "broadcast",
    "ack_requested",
    "acked",
    "no_ack_requested",
    "data",
    "data_poll",
    "beacon",
    "beacon_request",
    "other",
    "retry",
    "err_cca",
    "err_abort",
    "err_busy_channel",
    "direct_max_retry_expiry",
    "indirect_max_retry_expiry",
];

/// `otMacCounters`, receive side.
pub const MAC_RX: &[&str] = &[
    "total",
    "unicast",
    "broadcast",
    "data",
    "data_poll",
    "beacon",
    "beacon_request",
    "other",
    "address_filtered",
    "dest_addr_filtered",
    "duplicated",
    "err_no_frame",
    "err_unknown_neighbor",
    "err_invalid_src_addr",
    "err_sec",
    "err_fcs",
    "err_other",
];

/// `otMleCounters` in `CNTR_MLE_COUNTERS` order (`S` each).
pub const MLE: &[&str] = &[
    "disabled_role",
    "detached_role",
    "child_role",
    "router_role",
    "leader_role",
    "attach_attempts",
    "partition_id_changes",
    "better_partition_attach_attempts",
    "parent_changes",
];

/// `otBufferInfo` in `MSG_BUFFER_COUNTERS` order (`S` each; the two ARP fields are always 0).
pub const BUFFERS: &[&str] = &[
    "total",
    "free",
    "6lo_send_messages",
    "6lo_send_buffers",
    "6lo_reassembly_messages",
    "6lo_reassembly_buffers",
    "ip6_messages",
    "ip6_buffers",
    "mpl_messages",
    "mpl_buffers",
    "mle_messages",
    "mle_buffers",
    "arp_messages",
    "arp_buffers",
    "coap_messages",
    "coap_buffers",
];

/// MAC counters: transmit and receive.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MacCounters {
    pub tx: Named,
    pub rx: Named,
}

/// IPv6 counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IpCounters {
    pub tx_success: u32,
    pub tx_failure: u32,
    pub rx_success: u32,
    pub rx_failure: u32,
}

fn what(e: crate::Error, name: &str) -> crate::Error {
    crate::Error::Protocol(format!("{name}: {e}"))
}

/// Reads `names.len()` integers of `width` bytes (2 or 4), or as many as `r` holds (at least one).
fn named(
    r: &mut Reader<'_>,
    names: &[&'static str],
    width: usize,
    value: &str,
) -> Result<Named, crate::Error> {
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        if r.remaining() < width && !out.is_empty() {
            break;
        }
        let v = if width == 2 {
            u32::from(r.u16()?)
        } else {
            r.u32()?
        };
        out.push((*name, v));
    }
    if out.is_empty() {
        return Err(crate::Error::Protocol(format!("{value}: empty")));
    }
    Ok(out)
}

/// Decodes a `CNTR_ALL_MAC_COUNTERS` value: `t(A(L))t(A(L))`.
pub fn decode_mac_counters(value: &[u8]) -> Result<MacCounters, crate::Error> {
    let mut r = Reader::new(value);
    let mut tx = r.structure().map_err(|e| what(e, "MAC counters"))?;
    let mut rx = r.structure().map_err(|e| what(e, "MAC counters"))?;
    Ok(MacCounters {
        tx: named(&mut tx, MAC_TX, 4, "MAC transmit counters")?,
        rx: named(&mut rx, MAC_RX, 4, "MAC receive counters")?,
    })
}

/// Decodes a `CNTR_ALL_IP_COUNTERS` value: `t(LL)t(LL)`.
pub fn decode_ip_counters(value: &[u8]) -> Result<IpCounters, crate::Error> {
    let mut r = Reader::new(value);
    let mut tx = r.structure().map_err(|e| what(e, "IPv6 counters"))?;
    let mut rx = r.structure().map_err(|e| what(e, "IPv6 counters"))?;
    Ok(IpCounters {
        tx_success: tx.u32()?,
        tx_failure: tx.u32()?,
        rx_success: rx.u32()?,
        rx_failure: rx.u32()?,
    })
}

/// Decodes a `CNTR_MLE_COUNTERS` value: `SSSSSSSSS`.
pub fn decode_mle_counters(value: &[u8]) -> Result<Named, crate::Error> {
    named(&mut Reader::new(value), MLE, 2, "MLE counters")
}

/// Decodes a `MSG_BUFFER_COUNTERS` value: `SSSSSSSSSSSSSSSS`.
pub fn decode_buffer_counters(value: &[u8]) -> Result<Named, crate::Error> {
    named(
        &mut Reader::new(value),
        BUFFERS,
        2,
        "message buffer counters",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Writer;

    fn u32s(n: u32) -> Vec<u8> {
        (1..=n).flat_map(u32::to_le_bytes).collect()
    }

    #[test]
    fn mac_counters_in_order() {
        let mut w = Writer::new();
        w.push_data(&u32s(17)).push_data(&u32s(17));
        let c = decode_mac_counters(w.as_slice()).unwrap();
        assert_eq!(c.tx.len(), 17);
        assert_eq!(c.tx[0], ("total", 1));
        assert_eq!(c.tx[15], ("direct_max_retry_expiry", 16));
        assert_eq!(c.rx[16], ("err_other", 17));
    }

    #[test]
    fn older_and_newer_firmware() {
        // 14 transmit counters (before the busy-channel and retry-expiry ones), 20 receive ones.
        let mut w = Writer::new();
        w.push_data(&u32s(14)).push_data(&u32s(20));
        let c = decode_mac_counters(w.as_slice()).unwrap();
        assert_eq!(c.tx.len(), 14);
        assert_eq!(c.rx.len(), MAC_RX.len());
    }

    #[test]
    fn ip_mle_buffers() {
        let mut w = Writer::new();
        w.push_data(&u32s(2)).push_data(&[3, 0, 0, 0, 4, 0, 0, 0]);
        let ip = decode_ip_counters(w.as_slice()).unwrap();
        assert_eq!(
            (ip.tx_success, ip.tx_failure, ip.rx_success, ip.rx_failure),
            (1, 2, 3, 4)
        );
        let b: Vec<u8> = (0u16..16).flat_map(u16::to_le_bytes).collect();
        let buffers = decode_buffer_counters(&b).unwrap();
        assert_eq!(buffers[1], ("free", 1));
        assert_eq!(buffers.len(), 16);
        assert_eq!(decode_mle_counters(&b[..18]).unwrap().len(), 9);
    }

    #[test]
    fn short_values_are_errors() {
        assert!(decode_mac_counters(&[]).is_err());
        assert!(decode_mac_counters(&[4, 0, 1, 2]).is_err());
        assert!(decode_ip_counters(&[2, 0, 1, 2, 0, 0]).is_err());
        assert!(decode_buffer_counters(&[1]).is_err());
        assert!(decode_mle_counters(&[]).is_err());
    }

    proptest::proptest! {
        /// Garbage never panics.
        #[test]
        fn garbage(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = decode_mac_counters(&bytes);
            let _ = decode_ip_counters(&bytes);
            let _ = decode_mle_counters(&bytes);
            let _ = decode_buffer_counters(&bytes);
        }
    }
}
