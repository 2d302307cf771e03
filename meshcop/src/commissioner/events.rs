//! The commissioner's outputs and the types they carry: [`Event`] (nothing secret in any),
//! [`JoinerInfo`], [`VendorInfo`], [`HandshakeFailure`], [`RemovalReason`], the typed
//! [`CommissionerDataset`] of a MGMT_COMMISSIONER_GET answer (thread-facts §2, OpenThread
//! `Leader::ProcessCommissionerGetRequest`) and the drop counters [`Stats`].

use super::*;

/// Who a joiner event is about. Nothing secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinerInfo {
    /// Joiner ID, 16 hex digits.
    pub joiner_id: String,
    /// Joiner IID as relayed (Joiner ID with bit 0x02 of byte 0 flipped), 16 hex digits.
    pub joiner_iid: String,
    /// The matched entry's EUI-64 (16 hex digits), when the entry is an EUI-64 entry.
    pub eui64: Option<String>,
    /// The matched entry.
    pub entry: JoinerKind,
    /// RLOC16 of the joiner router.
    pub joiner_router: u16,
    /// The joiner's UDP port.
    pub joiner_port: u16,
    /// What the joiner said in JOIN_FIN.req, once known.
    pub vendor: Option<VendorInfo>,
}

/// Vendor TLVs of a JOIN_FIN.req.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VendorInfo {
    pub name: String,
    pub model: String,
    pub sw_version: String,
    /// Vendor Stack Version TLV value in hex.
    pub stack_version: String,
    /// Vendor Data TLV value in hex, if sent.
    pub data: Option<String>,
}

/// Why a joiner session ended without the joiner being entrusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeFailure {
    /// The joiner's PSKd differs from the entry's (the entry stays usable for a retry): the one
    /// conclusive DTLS check failed (see [`dtls::Error::BadPassword`]).
    WrongPskd,
    /// The handshake did not complete and the only signs of another PSKd were unauthenticated
    /// ones, which anyone in radio range can forge (see [`dtls::Error::PossibleBadPassword`]).
    PossibleWrongPskd,
    /// Anything else: DTLS or CoAP misbehaviour, the session was replaced or torn down.
    Protocol(String),
    /// The session outlived `joiner_session_timeout` or the DTLS retransmissions.
    Timeout,
}

/// Why an entry left the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovalReason {
    /// `remove` was called.
    Operator,
    /// Its joiner was entrusted (EUI-64 entries only).
    Joined,
}

/// What happened; drain with [`Commissioner::poll_event`]. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    PetitionAccepted {
        session_id: u16,
    },
    PetitionRejected {
        reason: String,
    },
    /// The DTLS handshake with the Border Agent failed on the password: wrong PSKc.
    BorderAgentAuthFailed,
    KeepAliveFailed {
        reason: String,
    },
    /// The leader accepted this steering data (hex).
    SteeringDataUpdated {
        steering_data: String,
    },
    /// The leader refused or did not answer MGMT_COMMISSIONER_SET (retried at the next keep-alive).
    SteeringDataRejected {
        reason: String,
    },
    JoinerSeen {
        joiner: JoinerInfo,
    },
    JoinerHandshakeFailed {
        joiner: JoinerInfo,
        reason: HandshakeFailure,
    },
    JoinerAuthenticated {
        joiner: JoinerInfo,
    },
    JoinerFinalize {
        joiner: JoinerInfo,
        vendor_name: String,
        vendor_model: String,
        vendor_sw_version: String,
        vendor_stack_version: String,
        provisioning_url: Option<String>,
        accepted: bool,
        /// Why it was rejected.
        reject_reason: Option<String>,
    },
    /// The RLY_TX with the accepting JOIN_FIN.rsp and the KEK went out.
    JoinerEntrusted {
        joiner: JoinerInfo,
    },
    EntryExpired {
        kind: JoinerKind,
    },
    EntryRemoved {
        kind: JoinerKind,
        reason: RemovalReason,
    },
    /// `stop` finished: resigned (or gave up waiting for the answer) and closed the DTLS session.
    Resigned,
    /// The Border Agent session ended (peer closed, DTLS failure other than the password,
    /// co-processor reset, stop before the petition was accepted).
    Disconnected {
        reason: String,
    },
    /// The Border Agent answered the MGMT_COMMISSIONER_GET `request` (the id
    /// [`Commissioner::commissioner_get`] returned).
    CommissionerDataset {
        request: u32,
        dataset: CommissionerDataset,
    },
    /// The MGMT_COMMISSIONER_GET `request` got no usable answer (error code, RST, malformed
    /// TLVs, no answer after the retransmissions, or the Border Agent session ended).
    CommissionerGetFailed {
        request: u32,
        reason: String,
    },
}

/// The Commissioner Dataset as a Border Agent answers MGMT_COMMISSIONER_GET (`c/cg`): the sub-TLVs
/// of the Commissioning Data in the leader's network data, copied as they are (OpenThread
/// `Leader::ProcessCommissionerGetRequest`; with a Get TLV only the listed types). A field is
/// `None` when its TLV was absent; nothing in it is secret.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommissionerDataset {
    /// Commissioner Session ID TLV (11): the active commissioner's session.
    pub session_id: Option<u16>,
    /// Border Agent Locator TLV (9): RLOC16 of the active commissioner's Border Agent.
    pub border_agent_locator: Option<u16>,
    /// Steering Data TLV (8), the bytes as sent (normally 1..=16; see [`Self::steering`]).
    pub steering_data: Option<Vec<u8>>,
    /// Joiner UDP Port TLV (18), when the commissioner set one.
    pub joiner_udp_port: Option<u16>,
    /// Every other TLV of the answer, in order.
    pub other: Vec<Tlv>,
}

impl CommissionerDataset {
    /// Parses the TLVs of a MGMT_COMMISSIONER_GET answer. Errors: a truncated TLV, or a Session
    /// ID / Locator / Joiner UDP Port that is not 2 bytes. The first TLV of a type wins.
    pub fn parse(payload: &[u8]) -> Result<CommissionerDataset, crate::Error> {
        let mut d = CommissionerDataset::default();
        for t in tlv::iter(payload) {
            let t = t?;
            match t.typ {
                types::COMMISSIONER_SESSION_ID if d.session_id.is_none() => {
                    d.session_id = Some(t.u16()?)
                }
                types::BORDER_AGENT_LOCATOR if d.border_agent_locator.is_none() => {
                    d.border_agent_locator = Some(t.u16()?)
                }
                types::STEERING_DATA if d.steering_data.is_none() => {
                    d.steering_data = Some(t.value.to_vec())
                }
                types::JOINER_UDP_PORT if d.joiner_udp_port.is_none() => {
                    d.joiner_udp_port = Some(t.u16()?)
                }
                _ => d.other.push(t.to_owned()),
            }
        }
        Ok(d)
    }

    /// The TLVs in OpenThread's Commissioning Data order (Session ID, Border Agent Locator,
    /// Steering Data, Joiner UDP Port, the others).
    pub fn to_tlvs(&self) -> Vec<Tlv> {
        let mut v = Vec::new();
        if let Some(x) = self.session_id {
            v.push(Tlv::commissioner_session_id(x));
        }
        if let Some(x) = self.border_agent_locator {
            v.push(Tlv::border_agent_locator(x));
        }
        if let Some(x) = &self.steering_data {
            v.push(Tlv::steering_data(x));
        }
        if let Some(x) = self.joiner_udp_port {
            v.push(Tlv::joiner_udp_port(x));
        }
        v.extend(self.other.iter().cloned());
        v
    }

    /// The steering data as a filter, when present and 1..=16 bytes long.
    pub fn steering(&self) -> Option<SteeringData> {
        self.steering_data
            .as_deref()
            .and_then(|b| SteeringData::from_bytes(b).ok())
    }
}

/// Counters for dropped input (nothing secret).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Malformed or unexpected messages dropped.
    pub dropped: u64,
    /// The reason of the last drop.
    pub last_drop_reason: Option<String>,
    /// RLY_RX from joiners no entry admits.
    pub unknown_joiners: u64,
    /// Joiners entrusted so far.
    pub joined: u64,
    /// Server handshakes started for joiners (each an EC-JPAKE flight, after a valid cookie and
    /// the [`JoinerLimits`]).
    pub joiner_handshakes: u64,
    /// Cookie-bearing ClientHellos refused by the [`JoinerLimits`] (rates, restarts, replays)
    /// before any elliptic-curve work; also counted in `dropped`.
    pub refused_handshakes: u64,
    /// `joiner-seen` / `joiner-handshake-failed` events of unauthenticated sessions not emitted
    /// (over the [`JoinerLimits`] event limits).
    pub suppressed_events: u64,
}
