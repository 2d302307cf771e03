//! Spinel frames, property keys, commands, capabilities and status codes
//! (OpenThread `src/lib/spinel/spinel.h`, thread-facts §1). No I/O.
//!
//! A frame is a header byte (`10` flag, 2-bit interface id, 4-bit transaction id), a packed
//! command, a packed property key and the value bytes. [`Frame::parse`] never panics; anything
//! malformed is an [`Error::Protocol`]. Unknown commands, properties, capabilities and statuses
//! stay representable (`Prop(n)`, `Status::Other(n)`).
//!
//! Validated against hand-written bytes in the tests and against frames captured from the
//! OpenThread simulation NCP (`ot-ncp-ftd`, Spinel protocol 4.3).

use crate::Error;
use std::fmt;

/// Largest value the packed-uint decoder accepts (the result must fit a u32; at most 5 bytes).
const PACKED_MAX_BYTES: usize = 5;

/// Appends `value` as a Spinel packed unsigned integer (little-endian base-128).
pub fn encode_packed_uint(mut value: u32, out: &mut Vec<u8>) {
    loop {
        let byte = (value & 0x7F) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Decodes a packed unsigned integer at the start of `bytes`; returns the value and its length.
pub fn decode_packed_uint(bytes: &[u8]) -> Result<(u32, usize), Error> {
    let mut value: u64 = 0;
    for (i, &b) in bytes.iter().enumerate().take(PACKED_MAX_BYTES) {
        value |= u64::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            return u32::try_from(value)
                .map(|v| (v, i + 1))
                .map_err(|_| Error::Protocol("packed integer exceeds 32 bits".into()));
        }
    }
    if bytes.len() < PACKED_MAX_BYTES {
        Err(Error::Protocol("truncated packed integer".into()))
    } else {
        Err(Error::Protocol("packed integer longer than 5 bytes".into()))
    }
}

macro_rules! named_consts {
    ($ty:ident, $lookup:ident, $( $(#[$m:meta])* $name:ident = $val:expr ),* $(,)?) => {
        $( $(#[$m])* pub const $name: super::$ty = super::$ty($val); )*
        pub(super) fn $lookup(v: u32) -> Option<&'static str> {
            match v { $( $val => Some(stringify!($name)), )* _ => None }
        }
    };
}

/// A Spinel property key. `Debug` prints the name when known (`Prop(CAPS)`), else the number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prop(pub u32);

/// A Spinel command. `Debug` prints the name when known.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Command(pub u32);

impl Prop {
    /// The `spinel.h` name without the `SPINEL_PROP_` prefix, if known here.
    pub fn name(self) -> Option<&'static str> {
        prop::name(self.0)
    }
}

impl Prop {
    /// Whether values of this property carry secrets (network key, PSKc, or datasets that
    /// contain them). `Debug` of [`Frame`] and of `client::Event` redacts such values.
    pub fn is_secret(self) -> bool {
        matches!(
            self,
            prop::NET_NETWORK_KEY
                | prop::NET_PSKC
                | prop::THREAD_ACTIVE_DATASET_TLVS
                | prop::THREAD_PENDING_DATASET_TLVS
                | prop::THREAD_MGMT_SET_PENDING_DATASET_TLVS
        )
    }
}

/// Formats a property value for `Debug`: hex, or a redaction for secret properties.
pub(crate) struct ValueDebug<'a>(pub Prop, pub &'a [u8]);

impl fmt::Debug for ValueDebug<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_secret() {
            write!(f, "<redacted {} bytes>", self.1.len())
        } else {
            f.write_str("[")?;
            for b in self.1 {
                write!(f, "{b:02x}")?;
            }
            f.write_str("]")
        }
    }
}

impl Command {
    /// The `spinel.h` name without the `SPINEL_CMD_` prefix, if known here.
    pub fn name(self) -> Option<&'static str> {
        cmd::name(self.0)
    }
}

impl fmt::Debug for Prop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "Prop({n})"),
            None => write!(f, "Prop({})", self.0),
        }
    }
}

impl fmt::Display for Prop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "property {}", self.0),
        }
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "Command({n})"),
            None => write!(f, "Command({})", self.0),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "command {}", self.0),
        }
    }
}

/// Property keys (thread-facts §1 table plus a few neighbours).
pub mod prop {
    named_consts! { Prop, name,
        /// `i`: status of the last operation; 112..=127 unsolicited means the NCP reset.
        LAST_STATUS = 0,
        /// `ii`: major, minor. Major must be 4.
        PROTOCOL_VERSION = 1,
        /// `U`: firmware version string.
        NCP_VERSION = 2,
        /// `i`: 3 = Thread.
        INTERFACE_TYPE = 3,
        /// `i`
        VENDOR_ID = 4,
        /// `A(i)`: capabilities, see [`super::cap`].
        CAPS = 5,
        /// `C`
        INTERFACE_COUNT = 6,
        /// `E`: factory EUI-64.
        HWADDR = 8,
        /// `C`
        PHY_CHAN = 33,
        /// `C`: 0 idle, 1 beacon, 2 energy, 3 discover ([`super::scan_state`]); set to start a
        /// scan, announced (`IS` idle) when it ends.
        MAC_SCAN_STATE = 48,
        /// `A(C)`: the channels to scan.
        MAC_SCAN_MASK = 49,
        /// `S`: milliseconds per channel.
        MAC_SCAN_PERIOD = 50,
        /// `Cct(ESSc)t(iCUdd)`: one active-scan (beacon) or discovery result; unsolicited
        /// (`INSERTED`), see [`crate::props::scan::decode_beacon`].
        MAC_SCAN_BEACON = 51,
        /// `Cc`: channel, max RSSI (dBm); unsolicited (`INSERTED`), one per scanned channel.
        MAC_ENERGY_SCAN_RESULT = 57,
        /// `S`
        MAC_15_4_PANID = 54,
        /// `b`
        NET_IF_UP = 65,
        /// `b`
        NET_STACK_UP = 66,
        /// `C`: 0 detached, 1 child, 2 router, 3 leader, 4 disabled.
        NET_ROLE = 67,
        /// `U`
        NET_NETWORK_NAME = 68,
        /// `D` (8)
        NET_XPANID = 69,
        /// `D` (16), secret.
        NET_NETWORK_KEY = 70,
        /// `L`
        NET_PARTITION_ID = 72,
        /// `D` (16), secret.
        NET_PSKC = 75,
        /// `6`
        THREAD_LEADER_ADDR = 80,
        /// array of structs
        THREAD_CHILD_TABLE = 82,
        /// insert/remove on-mesh prefixes
        THREAD_ON_MESH_NETS = 90,
        /// insert/remove off-mesh routes
        THREAD_OFF_MESH_ROUTES = 91,
        /// `b`
        THREAD_ALLOW_LOCAL_NET_DATA_CHANGE = 93,
        /// `6`
        IPV6_LL_ADDR = 96,
        /// `6`
        IPV6_ML_ADDR = 97,
        /// `6C`
        IPV6_ML_PREFIX = 98,
        /// `A(t(6CLLC))`
        IPV6_ADDRESS_TABLE = 99,
        /// `A(t(6))`
        IPV6_MULTICAST_ADDRESS_TABLE = 102,
        /// `dD`: secured IPv6 packet, metadata.
        STREAM_NET = 114,
        /// `dD`: IPv6 packet without MAC security.
        STREAM_NET_INSECURE = 115,
        /// co-processor log lines
        STREAM_LOG = 116,
        /// `C`
        MESHCOP_COMMISSIONER_STATE = 130,
        /// `A(t(t(E|CX)LU))`
        MESHCOP_COMMISSIONER_JOINERS = 131,
        /// `LbA(6)`
        INFRA_IF_STATE = 2321,
        /// `L6d`
        INFRA_IF_RECV_ICMP6 = 2322,
        /// `L6d`
        INFRA_IF_SEND_ICMP6 = 2323,
        /// `b`: the SRP server is enabled (`SPINEL_PROP_SRP_SERVER__BEGIN + 1`).
        SRP_SERVER_ENABLED = 2337,
        /// `b`: the border routing manager enables/disables the SRP server itself (auto-enable
        /// mode, `SPINEL_PROP_SRP_SERVER__BEGIN + 2`).
        SRP_SERVER_AUTO_ENABLE_MODE = 2338,
        /// `C` (SET): the host's DNS-SD (mDNS) platform state, 0 stopped, 1 ready
        /// (`SPINEL_PROP_DNSSD__BEGIN + 1`), see [`crate::props::dnssd`].
        DNSSD_STATE = 2353,
        /// `CLD` (SET): the host's answer to one DNS-SD request: otError, request id, context.
        DNSSD_REQUEST_RESULT = 2354,
        /// `USA(6)LD` (INSERTED/REMOVED): a host to register/unregister on the LAN.
        DNSSD_HOST = 2355,
        /// `UUUt(A(U))dSSSLLD` (INSERTED/REMOVED): a service to register/unregister.
        DNSSD_SERVICE = 2356,
        /// `Ut(U)dSLLD` (INSERTED/REMOVED): a KEY record to register/unregister.
        DNSSD_KEY_RECORD = 2357,
        /// `bSD`: active, UDP port, TXT data.
        BORDER_AGENT_MESHCOP_SERVICE_STATE = 2385,
        /// `S`
        THREAD_RLOC16 = 5377,
        /// `D`: the leader's Thread Network Data (`SPINEL_PROP_THREAD_EXT__BEGIN + 13`); announced by
        /// the co-processor whenever the network data changes.
        THREAD_LEADER_NETWORK_DATA = 5389,
        /// array of structs
        THREAD_NEIGHBOR_TABLE = 5387,
        /// `dS6S`: payload, peer port, peer address, local port.
        THREAD_UDP_FORWARD_STREAM = 5412,
        /// `D`: raw MeshCoP dataset TLVs.
        THREAD_ACTIVE_DATASET_TLVS = 5436,
        /// `D`
        THREAD_PENDING_DATASET_TLVS = 5437,
        /// `SSSSSSSSSSSSSSSS`: the message buffer pool now (total, free, then messages and
        /// buffers of each send queue), see [`crate::props::counters`].
        MSG_BUFFER_COUNTERS = 1680,
        /// `t(A(L))t(A(L))`: every MAC transmit and receive counter.
        CNTR_ALL_MAC_COUNTERS = 1681,
        /// `SSSSSSSSS`: MLE role and attach counters.
        CNTR_MLE_COUNTERS = 1682,
        /// `t(LL)t(LL)`: IPv6 packets sent/failed, received/failed.
        CNTR_ALL_IP_COUNTERS = 1683,
        /// `L`: Spinel frames the co-processor sent.
        CNTR_TX_SPINEL_TOTAL = 1580,
        /// `L`: Spinel frames the co-processor received.
        CNTR_RX_SPINEL_TOTAL = 1581,
        /// `L`: frames the co-processor could not decode (framing errors).
        CNTR_RX_SPINEL_ERR = 1582,
        /// `L`: IPv6 packets from the host the co-processor dropped.
        CNTR_TX_IP_DROPPED = 1482,
        /// `L`: IPv6 packets for the host the co-processor dropped.
        CNTR_RX_IP_DROPPED = 1485,
        /// `D` (SET): send these TLVs to the leader as MGMT_PENDING_SET
        /// (`SPINEL_PROP_THREAD_EXT__BEGIN + 62`); the answer is a `L` status.
        THREAD_MGMT_SET_PENDING_DATASET_TLVS = 5438,
    }
}

/// Values of [`prop::MAC_SCAN_STATE`] (`SPINEL_SCAN_STATE_*`).
pub mod scan_state {
    pub const IDLE: u8 = 0;
    pub const BEACON: u8 = 1;
    pub const ENERGY: u8 = 2;
    pub const DISCOVER: u8 = 3;
}

/// Commands.
pub mod cmd {
    named_consts! { Command, name,
        NOOP = 0,
        RESET = 1,
        PROP_VALUE_GET = 2,
        PROP_VALUE_SET = 3,
        PROP_VALUE_INSERT = 4,
        PROP_VALUE_REMOVE = 5,
        PROP_VALUE_IS = 6,
        PROP_VALUE_INSERTED = 7,
        PROP_VALUE_REMOVED = 8,
    }
    /// Short aliases.
    pub const GET: super::Command = PROP_VALUE_GET;
    pub const SET: super::Command = PROP_VALUE_SET;
    pub const INSERT: super::Command = PROP_VALUE_INSERT;
    pub const REMOVE: super::Command = PROP_VALUE_REMOVE;
    pub const IS: super::Command = PROP_VALUE_IS;
    pub const INSERTED: super::Command = PROP_VALUE_INSERTED;
    pub const REMOVED: super::Command = PROP_VALUE_REMOVED;
}

/// Capabilities reported in [`prop::CAPS`] (`spinel.h` `SPINEL_CAP_*`).
pub mod cap {
    macro_rules! caps {
        ($( $name:ident = $val:expr ),* $(,)?) => {
            $( pub const $name: u32 = $val; )*
            /// The `spinel.h` name without the `SPINEL_CAP_` prefix, if known here.
            pub fn name(cap: u32) -> Option<&'static str> {
                match cap { $( $val => Some(stringify!($name)), )* _ => None }
            }
        };
    }
    caps! {
        LOCK = 1, NET_SAVE = 2, HBO = 3, POWER_SAVE = 4, COUNTERS = 5, JAM_DETECT = 6,
        PEEK_POKE = 7, WRITABLE_RAW_STREAM = 8, GPIO = 9, TRNG = 10, CMD_MULTI = 11,
        UNSOL_UPDATE_FILTER = 12, MCU_POWER_STATE = 13, PCAP = 14,
        IEEE_802_15_4_2003 = 16, IEEE_802_15_4_2006 = 17, IEEE_802_15_4_2011 = 18,
        IEEE_802_15_4_PIB = 21, IEEE_802_15_4_2450MHZ_OQPSK = 24,
        CONFIG_FTD = 32, CONFIG_MTD = 33, CONFIG_RADIO = 34,
        ROLE_ROUTER = 48, ROLE_SLEEPY = 49,
        NET_THREAD_1_0 = 52, NET_THREAD_1_1 = 53, NET_THREAD_1_2 = 54,
        RCP_API_VERSION = 64, RCP_MIN_HOST_API_VERSION = 65, RCP_RESET_TO_BOOTLOADER = 66,
        RCP_LOG_CRASH_DUMP = 67,
        MAC_ALLOWLIST = 512, MAC_RAW = 513, OOB_STEERING_DATA = 514, CHANNEL_MONITOR = 515,
        ERROR_RATE_TRACKING = 516, CHANNEL_MANAGER = 517, OPENTHREAD_LOG_METADATA = 518,
        TIME_SYNC = 519, CHILD_SUPERVISION = 520, POSIX = 521, SLAAC = 522, RADIO_COEX = 523,
        MAC_RETRY_HISTOGRAM = 524, MULTI_RADIO = 525, SRP_CLIENT = 526, DUA = 527,
        REFERENCE_DEVICE = 528,
        THREAD_COMMISSIONER = 1024, THREAD_TMF_PROXY = 1025, THREAD_UDP_FORWARD = 1026,
        THREAD_JOINER = 1027, THREAD_BORDER_ROUTER = 1028, THREAD_SERVICE = 1029,
        THREAD_CSL_RECEIVER = 1030, THREAD_LINK_METRICS = 1031, THREAD_BACKBONE_ROUTER = 1032,
        NEST_LEGACY_INTERFACE = 15296, NEST_LEGACY_NET_WAKE = 15297, NEST_TRANSMIT_HOOK = 15298,
    }
}

/// A Spinel status (`SPINEL_STATUS_*`), as carried by [`prop::LAST_STATUS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// 0
    Ok,
    /// 1
    Failure,
    /// 3
    InvalidArgument,
    /// 4
    InvalidState,
    /// 12
    Busy,
    /// 13
    PropNotFound,
    /// 112..=127: the co-processor has reset (112 power-on, 113 external, 114 software, ...).
    Reset(u32),
    /// Any other status value (2 unimplemented, 5 invalid command, 21 invalid command for prop, ...).
    Other(u32),
}

impl Status {
    /// First reset status (power-on).
    pub const RESET_POWER_ON: u32 = 112;
    /// Software reset (what a `RESET` command causes on the simulation NCP).
    pub const RESET_SOFTWARE: u32 = 114;

    /// Maps a wire value to a status.
    pub fn from_u32(v: u32) -> Status {
        match v {
            0 => Status::Ok,
            1 => Status::Failure,
            3 => Status::InvalidArgument,
            4 => Status::InvalidState,
            12 => Status::Busy,
            13 => Status::PropNotFound,
            112..=127 => Status::Reset(v),
            _ => Status::Other(v),
        }
    }

    /// The wire value.
    pub fn to_u32(self) -> u32 {
        match self {
            Status::Ok => 0,
            Status::Failure => 1,
            Status::InvalidArgument => 3,
            Status::InvalidState => 4,
            Status::Busy => 12,
            Status::PropNotFound => 13,
            Status::Reset(v) | Status::Other(v) => v,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.to_u32() {
            0 => "OK",
            1 => "FAILURE",
            2 => "UNIMPLEMENTED",
            3 => "INVALID_ARGUMENT",
            4 => "INVALID_STATE",
            5 => "INVALID_COMMAND",
            6 => "INVALID_INTERFACE",
            7 => "INTERNAL_ERROR",
            8 => "SECURITY_ERROR",
            9 => "PARSE_ERROR",
            10 => "IN_PROGRESS",
            11 => "NOMEM",
            12 => "BUSY",
            13 => "PROP_NOT_FOUND",
            14 => "DROPPED",
            15 => "EMPTY",
            16 => "CMD_TOO_BIG",
            17 => "NO_ACK",
            18 => "CCA_FAILURE",
            19 => "ALREADY",
            20 => "ITEM_NOT_FOUND",
            21 => "INVALID_COMMAND_FOR_PROP",
            112 => "RESET_POWER_ON",
            113 => "RESET_EXTERNAL",
            114 => "RESET_SOFTWARE",
            115 => "RESET_FAULT",
            116 => "RESET_CRASH",
            117 => "RESET_ASSERT",
            118 => "RESET_OTHER",
            119 => "RESET_UNKNOWN",
            120 => "RESET_WATCHDOG",
            v => return write!(f, "status {v}"),
        };
        f.write_str(name)
    }
}

/// Header flag bits (7..6 = `10`).
pub const HEADER_FLAG: u8 = 0x80;

/// A Spinel frame. `Debug` prints the value as hex, redacted for secret properties.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    /// Transaction id, 0..=15 (0 = unsolicited).
    pub tid: u8,
    /// Interface id, 0..=3.
    pub iid: u8,
    pub command: Command,
    pub prop: Prop,
    pub value: Vec<u8>,
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frame")
            .field("tid", &self.tid)
            .field("iid", &self.iid)
            .field("command", &self.command)
            .field("prop", &self.prop)
            .field("value", &ValueDebug(self.prop, &self.value))
            .finish()
    }
}

impl Frame {
    /// A frame on interface 0.
    pub fn new(tid: u8, command: Command, prop: Prop, value: Vec<u8>) -> Frame {
        Frame {
            tid,
            iid: 0,
            command,
            prop,
            value,
        }
    }

    /// Parses a frame (an HDLC payload). The `RESET` and `NOOP` commands carry no property key;
    /// for them `prop` is `Prop(0)` and `value` holds any remaining bytes.
    pub fn parse(bytes: &[u8]) -> Result<Frame, Error> {
        let (&header, rest) = bytes
            .split_first()
            .ok_or_else(|| Error::Protocol("empty Spinel frame".into()))?;
        if header & 0xC0 != HEADER_FLAG {
            return Err(Error::Protocol(format!(
                "bad Spinel header byte {header:#04x}"
            )));
        }
        let (command, n) = decode_packed_uint(rest)?;
        let rest = &rest[n..];
        let command = Command(command);
        let (prop, rest) = if command == cmd::RESET || command == cmd::NOOP {
            (Prop(0), rest)
        } else {
            let (prop, n) = decode_packed_uint(rest)?;
            (Prop(prop), &rest[n..])
        };
        Ok(Frame {
            tid: header & 0x0F,
            iid: (header >> 4) & 0x03,
            command,
            prop,
            value: rest.to_vec(),
        })
    }

    /// Encodes the frame (the HDLC payload).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.value.len() + 7);
        self.encode_into(&mut out);
        out
    }

    /// Appends the encoded frame to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(HEADER_FLAG | ((self.iid & 0x03) << 4) | (self.tid & 0x0F));
        encode_packed_uint(self.command.0, out);
        if self.command != cmd::RESET && self.command != cmd::NOOP {
            encode_packed_uint(self.prop.0, out);
        }
        out.extend_from_slice(&self.value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{any, prop_assert_eq, proptest, ProptestConfig};

    #[test]
    fn packed_uint_vectors() {
        // spinel.h examples: 0 -> 00, 127 -> 7F, 128 -> 80 01, 1337 -> B9 0A, 2097151 -> FF FF 7F.
        for (v, bytes) in [
            (0u32, &[0x00u8][..]),
            (127, &[0x7F]),
            (128, &[0x80, 0x01]),
            (1337, &[0xB9, 0x0A]),
            (5412, &[0xA4, 0x2A]),
            (2_097_151, &[0xFF, 0xFF, 0x7F]),
            (u32::MAX, &[0xFF, 0xFF, 0xFF, 0xFF, 0x0F]),
        ] {
            let mut out = Vec::new();
            encode_packed_uint(v, &mut out);
            assert_eq!(out, bytes, "encode {v}");
            assert_eq!(
                decode_packed_uint(bytes).unwrap(),
                (v, bytes.len()),
                "decode {v}"
            );
        }
        assert!(decode_packed_uint(&[0x80]).is_err());
        assert!(decode_packed_uint(&[]).is_err());
        assert!(decode_packed_uint(&[0xFF, 0xFF, 0xFF, 0xFF, 0x1F]).is_err());
        assert!(decode_packed_uint(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00]).is_err());
    }

    #[test]
    fn get_protocol_version_bytes() {
        let f = Frame::new(1, cmd::PROP_VALUE_GET, prop::PROTOCOL_VERSION, vec![]);
        assert_eq!(f.encode(), [0x81, 0x02, 0x01]);
        assert_eq!(Frame::parse(&[0x81, 0x02, 0x01]).unwrap(), f);
    }

    #[test]
    fn set_udp_forward_stream_bytes() {
        // SET (3) THREAD_UDP_FORWARD_STREAM (5412 = A4 2A), TID 5, iid 0, value 01 02.
        let f = Frame::new(5, cmd::SET, prop::THREAD_UDP_FORWARD_STREAM, vec![1, 2]);
        assert_eq!(f.encode(), [0x85, 0x03, 0xA4, 0x2A, 0x01, 0x02]);
        assert_eq!(Frame::parse(&f.encode()).unwrap(), f);
    }

    #[test]
    fn unsolicited_reset_status() {
        // Unsolicited LAST_STATUS RESET_POWER_ON, as ot-ncp-ftd sends at start: 80 06 00 70.
        let f = Frame::parse(&[0x80, 0x06, 0x00, 0x70]).unwrap();
        assert_eq!(
            (f.tid, f.iid, f.command, f.prop, f.value.as_slice()),
            (0, 0, cmd::IS, prop::LAST_STATUS, &[0x70][..])
        );
        assert_eq!(Status::from_u32(0x70), Status::Reset(112));
    }

    #[test]
    fn captured_caps_answer() {
        // The CAPS value is captured from ot-ncp-ftd (OpenThread simulation, this workspace's
        // build; see tests/sim_ncp.rs); wrapped here in an IS answer with TID 2: 82 06 05 + value.
        let value = hex::decode("050c182035360e880484048a048b04303180088308840882088508").unwrap();
        let mut payload = vec![0x82, 0x06, 0x05];
        payload.extend_from_slice(&value);
        let f = Frame::parse(&payload).unwrap();
        assert_eq!((f.tid, f.command, f.prop), (2, cmd::IS, prop::CAPS));
        let mut r = crate::codec::Reader::new(&f.value);
        let mut caps = Vec::new();
        while !r.is_empty() {
            caps.push(r.uint().unwrap());
        }
        assert_eq!(
            caps,
            [5, 12, 24, 32, 53, 54, 14, 520, 516, 522, 523, 48, 49, 1024, 1027, 1028, 1026, 1029]
        );
        assert_eq!(f.encode(), payload);
        // ot-rcp's CAPS: CONFIG_RADIO (34 = 0x22) and RCP_API_VERSION (64) are there.
        let rcp = hex::decode("050c182281044041").unwrap();
        let mut r = crate::codec::Reader::new(&rcp);
        let mut caps = Vec::new();
        while !r.is_empty() {
            caps.push(r.uint().unwrap());
        }
        assert_eq!(caps, [5, 12, 24, 34, 513, 64, 65]);
    }

    #[test]
    fn captured_version_and_hwaddr() {
        // ot-ncp-ftd: PROTOCOL_VERSION = 04 03 (4.3); HWADDR = 18b4300000000001 (node 1);
        // NCP_VERSION = "OPENTHREAD/; SIMULATION; Nov 26 2026 06:50:14" NUL-terminated.
        let mut r = crate::codec::Reader::new(&[0x04, 0x03]);
        assert_eq!((r.uint().unwrap(), r.uint().unwrap()), (4, 3));
        let v = hex::decode("4f50454e5448524541442f3b2053494d554c4154494f4e3b204e6f7620323620323032362030363a35303a313400").unwrap();
        assert_eq!(
            crate::codec::Reader::new(&v).utf8().unwrap(),
            "OPENTHREAD/; SIMULATION; Nov 26 2026 06:50:14"
        );
        let hw = hex::decode("18b4300000000001").unwrap();
        assert_eq!(
            crate::codec::Reader::new(&hw).eui64().unwrap(),
            [0x18, 0xb4, 0x30, 0, 0, 0, 0, 1]
        );
    }

    #[test]
    fn reset_has_no_prop() {
        let f = Frame::new(0, cmd::RESET, Prop(0), vec![]);
        assert_eq!(f.encode(), [0x80, 0x01]);
        assert_eq!(Frame::parse(&[0x80, 0x01]).unwrap(), f);
    }

    #[test]
    fn bad_frames() {
        assert!(Frame::parse(&[]).is_err());
        assert!(Frame::parse(&[0x41, 0x02, 0x01]).is_err());
        assert!(Frame::parse(&[0x81]).is_err());
        assert!(Frame::parse(&[0x81, 0x02]).is_err());
        assert!(Frame::parse(&[0x81, 0x82]).is_err());
    }

    #[test]
    fn names() {
        assert_eq!(format!("{:?}", prop::CAPS), "Prop(CAPS)");
        assert_eq!(format!("{:?}", Prop(4242)), "Prop(4242)");
        assert_eq!(format!("{:?}", cmd::GET), "Command(PROP_VALUE_GET)");
        assert_eq!(
            cap::name(cap::THREAD_UDP_FORWARD),
            Some("THREAD_UDP_FORWARD")
        );
        assert_eq!(cap::name(99999), None);
        assert_eq!(Status::from_u32(13), Status::PropNotFound);
        assert_eq!(Status::from_u32(21).to_u32(), 21);
        assert_eq!(Status::Reset(114).to_string(), "RESET_SOFTWARE");
    }

    #[test]
    fn secrets_redacted_in_debug() {
        let f = Frame::new(0, cmd::IS, prop::NET_NETWORK_KEY, vec![0xAB; 16]);
        let d = format!("{f:?}");
        assert!(
            d.contains("<redacted 16 bytes>") && !d.contains("ab"),
            "{d}"
        );
        let f = Frame::new(0, cmd::IS, prop::NET_ROLE, vec![0xAB]);
        assert!(format!("{f:?}").contains("[ab]"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Frame::parse(&bytes);
        }

        #[test]
        fn frame_round_trip(tid in 0u8..16, iid in 0u8..4, c in 2u32..=8, p in any::<u32>(), value in proptest::collection::vec(any::<u8>(), 0..40)) {
            let f = Frame { tid, iid, command: Command(c), prop: Prop(p), value };
            prop_assert_eq!(Frame::parse(&f.encode()).unwrap(), f);
        }

        #[test]
        fn status_round_trip(v in any::<u32>()) {
            prop_assert_eq!(Status::from_u32(v).to_u32(), v);
        }
    }
}
