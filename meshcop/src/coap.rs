//! CoAP (RFC 7252) messages of a Thread commissioner, on top of `coap-lite`'s packet codec, and
//! the confirmable-message retransmission rule as deadlines the caller drives.
//!
//! - [`Message`]: type, code, message ID, token, Uri-Path and payload; [`Message::parse`] never
//!   panics and rejects what RFC 7252 §3 calls a message format error (version != 1, token longer
//!   than 8, truncated options, an empty message with token/options/payload, a payload marker
//!   followed by nothing, a non-UTF-8 Uri-Path).
//! - [`uri`]: the MeshCoP URIs (two Uri-Path segments each, thread-facts §1–§2).
//! - Builders for the commissioner's messages ([`petition`], [`keep_alive`],
//!   [`commissioner_set`], [`relay_tx`], [`udp_tx`], ...) and readers for what it receives
//!   ([`RelayRx`], [`UdpRx`], [`Message::state`]).
//! - [`match_response`]: how an incoming message relates to an outstanding request (empty ACK,
//!   piggybacked or separate response by token, RST).
//! - [`Retransmitter`]: ACK_TIMEOUT 2 s, ACK_RANDOM_FACTOR 1.5, MAX_RETRANSMIT 4; the caller
//!   supplies `now` and the random number, polls the deadline and calls `on_timeout`.
//!
//! Message IDs and tokens are chosen by the caller. Validated against: the message shapes
//! OpenThread's Border Agent accepted and sent (thread-facts §1: petition answered by an empty ACK
//! then a separate NON 2.04, UDP_TX/UDP_RX with TLVs 48/49); byte-level unit tests below.

use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use coap_lite::{CoapOption, MessageClass, MessageType, Packet};

use crate::credentials::Kek;
use crate::error::Error;
use crate::steering::SteeringData;
use crate::tlv::{self, types, Tlv, TlvRef};

/// MeshCoP URIs (Uri-Path segments joined by '/').
pub mod uri {
    pub const COMM_PET: &str = "c/cp";
    pub const COMM_KA: &str = "c/ca";
    pub const MGMT_COMMISSIONER_GET: &str = "c/cg";
    pub const MGMT_COMMISSIONER_SET: &str = "c/cs";
    pub const RLY_RX: &str = "c/rx";
    pub const RLY_TX: &str = "c/tx";
    pub const JOIN_FIN: &str = "c/jf";
    pub const JOIN_ENT: &str = "c/je";
    pub const MGMT_ACTIVE_GET: &str = "c/ag";
    pub const MGMT_ACTIVE_SET: &str = "c/as";
    pub const MGMT_PENDING_GET: &str = "c/pg";
    pub const MGMT_PENDING_SET: &str = "c/ps";
    pub const MGMT_ED_SCAN: &str = "c/es";
    pub const ED_REPORT: &str = "c/er";
    pub const MGMT_PANID_QUERY: &str = "c/pq";
    pub const PANID_CONFLICT: &str = "c/pc";
    pub const MGMT_ANNOUNCE_BEGIN: &str = "c/ab";
    pub const MGMT_DATASET_CHANGED: &str = "c/dc";
    /// UDP proxy through the Border Agent (OpenThread `border_agent.cpp`).
    pub const UDP_TX: &str = "c/ut";
    pub const UDP_RX: &str = "c/ur";
    /// Network diagnostics (OpenThread `network_diagnostic.cpp`; see [`crate::netdiag`]).
    pub const DIAG_GET_QUERY: &str = "d/dq";
    pub const DIAG_GET_ANSWER: &str = "d/da";
    pub const DIAG_GET_REQUEST: &str = "d/dg";
}

/// The commissioner's and TMF's UDP port inside the Thread network.
pub const TMF_PORT: u16 = 61631;
/// Default joiner UDP port.
pub const JOINER_UDP_PORT: u16 = 1000;

/// CoAP message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MsgType {
    Con,
    Non,
    Ack,
    Rst,
}

impl MsgType {
    fn to_lite(self) -> MessageType {
        match self {
            MsgType::Con => MessageType::Confirmable,
            MsgType::Non => MessageType::NonConfirmable,
            MsgType::Ack => MessageType::Acknowledgement,
            MsgType::Rst => MessageType::Reset,
        }
    }
    fn from_lite(t: MessageType) -> Self {
        match t {
            MessageType::Confirmable => MsgType::Con,
            MessageType::NonConfirmable => MsgType::Non,
            MessageType::Acknowledgement => MsgType::Ack,
            MessageType::Reset => MsgType::Rst,
        }
    }
}

/// A CoAP code `class.detail` as its byte (class in the top 3 bits).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Code(pub u8);

impl Code {
    pub const EMPTY: Code = Code(0x00);
    pub const GET: Code = Code(0x01);
    pub const POST: Code = Code(0x02);
    pub const PUT: Code = Code(0x03);
    pub const DELETE: Code = Code(0x04);
    pub const CREATED: Code = Code(0x41);
    pub const DELETED: Code = Code(0x42);
    pub const VALID: Code = Code(0x43);
    /// 2.04, the answer to MeshCoP POSTs.
    pub const CHANGED: Code = Code(0x44);
    pub const CONTENT: Code = Code(0x45);
    pub const BAD_REQUEST: Code = Code(0x80);
    pub const UNAUTHORIZED: Code = Code(0x81);
    pub const FORBIDDEN: Code = Code(0x83);
    pub const NOT_FOUND: Code = Code(0x84);
    pub const METHOD_NOT_ALLOWED: Code = Code(0x85);
    pub const INTERNAL_SERVER_ERROR: Code = Code(0xA0);

    pub fn class(self) -> u8 {
        self.0 >> 5
    }
    pub fn detail(self) -> u8 {
        self.0 & 0x1F
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn is_request(self) -> bool {
        self.class() == 0 && self.0 != 0
    }
    pub fn is_response(self) -> bool {
        (2..=5).contains(&self.class())
    }
    pub fn is_success(self) -> bool {
        self.class() == 2
    }
}

impl core::fmt::Display for Code {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{:02}", self.class(), self.detail())
    }
}
impl core::fmt::Debug for Code {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Code({self})")
    }
}

/// A parsed or to-be-sent CoAP message. Options other than Uri-Path are ignored on parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub typ: MsgType,
    pub code: Code,
    pub message_id: u16,
    /// 0..=8 bytes.
    pub token: Vec<u8>,
    /// Uri-Path segments joined by '/', e.g. "c/cp"; empty when there is none.
    pub uri_path: String,
    /// For MeshCoP: TLVs.
    pub payload: Vec<u8>,
}

/// Longest token RFC 7252 allows.
pub const MAX_TOKEN_LEN: usize = 8;

impl Message {
    /// A request (code 0.0x) to `uri` with a payload of TLVs.
    pub fn request(
        typ: MsgType,
        code: Code,
        uri: &str,
        message_id: u16,
        token: &[u8],
        tlvs: &[Tlv],
    ) -> Result<Message, Error> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(Error::TooLong {
                what: "CoAP token",
                len: token.len(),
                max: MAX_TOKEN_LEN,
            });
        }
        Ok(Message {
            typ,
            code,
            message_id,
            token: token.to_vec(),
            uri_path: uri.to_owned(),
            payload: tlv::encode_all(tlvs)?,
        })
    }

    /// A POST with TLVs: confirmable (`CON`) or not (`NON`).
    pub fn post(
        confirmable: bool,
        uri: &str,
        message_id: u16,
        token: &[u8],
        tlvs: &[Tlv],
    ) -> Result<Message, Error> {
        let typ = if confirmable {
            MsgType::Con
        } else {
            MsgType::Non
        };
        Message::request(typ, Code::POST, uri, message_id, token, tlvs)
    }

    /// The empty ACK for a received confirmable message.
    pub fn empty_ack(message_id: u16) -> Message {
        Message {
            typ: MsgType::Ack,
            code: Code::EMPTY,
            message_id,
            token: Vec::new(),
            uri_path: String::new(),
            payload: Vec::new(),
        }
    }

    /// A response carrying TLVs: piggybacked (`Ack` with the request's message ID) or separate
    /// (`Con`/`Non` with a fresh message ID); the token is the request's.
    pub fn response(
        typ: MsgType,
        code: Code,
        message_id: u16,
        token: &[u8],
        tlvs: &[Tlv],
    ) -> Result<Message, Error> {
        Message::request(typ, code, "", message_id, token, tlvs)
    }

    /// Parses a CoAP message. Never panics; malformed input is `Error::Coap`.
    pub fn parse(bytes: &[u8]) -> Result<Message, Error> {
        if bytes.len() < 4 {
            return Err(Error::Coap(format!(
                "{} bytes, shorter than the 4-byte header",
                bytes.len()
            )));
        }
        if bytes[0] >> 6 != 1 {
            return Err(Error::Coap(format!(
                "version {} (only 1 is defined)",
                bytes[0] >> 6
            )));
        }
        let tkl = (bytes[0] & 0x0F) as usize;
        if tkl > MAX_TOKEN_LEN {
            return Err(Error::Coap(format!("token length {tkl} (at most 8)")));
        }
        if bytes[1] == 0 && bytes.len() != 4 {
            return Err(Error::Coap(
                "empty message (code 0.00) with token, options or payload".into(),
            ));
        }
        if bytes.len() > 4 + tkl
            && *bytes.last().unwrap_or(&0) == 0xFF
            && payload_marker_is_last(bytes, tkl)
        {
            return Err(Error::Coap("payload marker followed by no payload".into()));
        }
        let p = Packet::from_bytes(bytes).map_err(|e| Error::Coap(e.to_string()))?;
        let mut segs = Vec::new();
        if let Some(list) = p.get_option(CoapOption::UriPath) {
            for s in list {
                segs.push(
                    core::str::from_utf8(s)
                        .map_err(|_| Error::Coap("Uri-Path is not UTF-8".into()))?,
                );
            }
        }
        Ok(Message {
            typ: MsgType::from_lite(p.header.get_type()),
            code: Code(u8::from(p.header.code)),
            message_id: p.header.message_id,
            token: p.get_token().to_vec(),
            uri_path: segs.join("/"),
            payload: p.payload,
        })
    }

    /// Encodes the message. Fails only for a token longer than 8 bytes or a Uri-Path segment
    /// longer than 255 bytes.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        if self.token.len() > MAX_TOKEN_LEN {
            return Err(Error::TooLong {
                what: "CoAP token",
                len: self.token.len(),
                max: MAX_TOKEN_LEN,
            });
        }
        let mut p = Packet::new();
        p.header.set_version(1);
        p.header.set_type(self.typ.to_lite());
        p.header.code = MessageClass::from(self.code.0);
        p.header.message_id = self.message_id;
        p.set_token(self.token.clone());
        if !self.uri_path.is_empty() {
            for seg in self.uri_path.split('/') {
                if seg.len() > 255 {
                    return Err(Error::TooLong {
                        what: "Uri-Path segment",
                        len: seg.len(),
                        max: 255,
                    });
                }
                p.add_option(CoapOption::UriPath, seg.as_bytes().to_vec());
            }
        }
        p.payload = self.payload.clone();
        p.to_bytes_unlimited()
            .map_err(|e| Error::Coap(e.to_string()))
    }

    /// Iterates over the payload TLVs.
    pub fn tlvs(&self) -> tlv::TlvIter<'_> {
        tlv::iter(&self.payload)
    }

    /// The first payload TLV of a type (the whole payload must be well-formed).
    pub fn find_tlv(&self, typ: u8) -> Result<Option<TlvRef<'_>>, Error> {
        tlv::find(&self.payload, typ)
    }

    /// The State TLV of a response (1 accept, 0 pending, -1 reject).
    pub fn state(&self) -> Result<i8, Error> {
        tlv::require(&self.payload, types::STATE)?.state()
    }

    /// The Commissioner Session ID TLV, if present.
    pub fn session_id(&self) -> Result<Option<u16>, Error> {
        self.find_tlv(types::COMMISSIONER_SESSION_ID)?
            .map(|t| t.u16())
            .transpose()
    }

    /// A received confirmable message must be acknowledged (see [`Message::empty_ack`]).
    pub fn needs_ack(&self) -> bool {
        self.typ == MsgType::Con
    }
}

/// Whether the final 0xFF of `bytes` is a payload marker (and not an option value byte).
fn payload_marker_is_last(bytes: &[u8], tkl: usize) -> bool {
    let mut i = 4 + tkl;
    while i < bytes.len() {
        let b = bytes[i];
        if b == 0xFF {
            return i == bytes.len() - 1;
        }
        i += 1;
        let mut ext = |n: u8| -> Option<usize> {
            match n {
                13 => {
                    let v = *bytes.get(i)? as usize + 13;
                    i += 1;
                    Some(v)
                }
                14 => {
                    let v = u16::from_be_bytes([*bytes.get(i)?, *bytes.get(i + 1)?]) as usize + 269;
                    i += 2;
                    Some(v)
                }
                15 => None,
                n => Some(n as usize),
            }
        };
        if ext(b >> 4).is_none() {
            return false;
        }
        let Some(len) = ext(b & 0x0F) else {
            return false;
        };
        i = i.saturating_add(len);
    }
    false
}

/// How an incoming message relates to an outstanding request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMatch {
    /// The response: piggybacked in the ACK, or a separate CON/NON response with the token.
    Response,
    /// An empty ACK for the CON request: stop retransmitting, the response comes separately.
    EmptyAck,
    /// The peer rejected the CON request (RST with its message ID).
    Reset,
    /// Not related to this request.
    Unrelated,
}

/// Matches `incoming` against the `request` we sent (RFC 7252 §4.2, §5.2; thread-facts §1: a
/// Border Agent answers a petition with an empty ACK, then a separate NON 2.04).
pub fn match_response(request: &Message, incoming: &Message) -> ResponseMatch {
    match incoming.typ {
        MsgType::Ack | MsgType::Rst
            if request.typ != MsgType::Con || incoming.message_id != request.message_id =>
        {
            ResponseMatch::Unrelated
        }
        MsgType::Rst => ResponseMatch::Reset,
        MsgType::Ack if incoming.code.is_empty() => ResponseMatch::EmptyAck,
        MsgType::Ack if incoming.code.is_response() && incoming.token == request.token => {
            ResponseMatch::Response
        }
        MsgType::Ack => ResponseMatch::Unrelated,
        MsgType::Con | MsgType::Non
            if incoming.code.is_response() && incoming.token == request.token =>
        {
            ResponseMatch::Response
        }
        MsgType::Con | MsgType::Non => ResponseMatch::Unrelated,
    }
}

// ---------------------------------------------------------------------------------------------
// The commissioner's messages

/// COMM_PET.req: CON POST c/cp with a Commissioner ID TLV.
pub fn petition(message_id: u16, token: &[u8], commissioner_id: &str) -> Result<Message, Error> {
    Message::post(
        true,
        uri::COMM_PET,
        message_id,
        token,
        &[Tlv::commissioner_id(commissioner_id)],
    )
}

/// COMM_KA.req: CON POST c/ca with State (1 keep alive, -1 resign) and Session ID.
pub fn keep_alive(
    message_id: u16,
    token: &[u8],
    session_id: u16,
    keep: bool,
) -> Result<Message, Error> {
    let state = if keep {
        tlv::state::ACCEPT
    } else {
        tlv::state::REJECT
    };
    Message::post(
        true,
        uri::COMM_KA,
        message_id,
        token,
        &[Tlv::state(state), Tlv::commissioner_session_id(session_id)],
    )
}

/// MGMT_COMMISSIONER_SET.req: CON POST c/cs with Session ID, Steering Data and optional extra TLVs
/// (e.g. Joiner UDP Port).
pub fn commissioner_set(
    message_id: u16,
    token: &[u8],
    session_id: u16,
    steering: &SteeringData,
    extra: &[Tlv],
) -> Result<Message, Error> {
    let mut tlvs = vec![Tlv::commissioner_session_id(session_id), steering.to_tlv()];
    tlvs.extend_from_slice(extra);
    Message::post(true, uri::MGMT_COMMISSIONER_SET, message_id, token, &tlvs)
}

/// A MGMT_*_GET.req (c/cg, c/ag, c/pg): CON POST, with a Get TLV listing the wanted types (all
/// when `wanted` is empty).
pub fn mgmt_get(uri: &str, message_id: u16, token: &[u8], wanted: &[u8]) -> Result<Message, Error> {
    let tlvs = if wanted.is_empty() {
        Vec::new()
    } else {
        vec![Tlv::get(wanted)]
    };
    Message::post(true, uri, message_id, token, &tlvs)
}

/// A MGMT_*_SET.req (c/as, c/ps): CON POST with Session ID and the dataset TLVs.
pub fn mgmt_set(
    uri: &str,
    message_id: u16,
    token: &[u8],
    session_id: u16,
    dataset_tlvs: &[u8],
) -> Result<Message, Error> {
    let mut m = Message::post(
        true,
        uri,
        message_id,
        token,
        &[Tlv::commissioner_session_id(session_id)],
    )?;
    m.payload.extend_from_slice(dataset_tlvs);
    Ok(m)
}

/// Addressing of a joiner behind a joiner router (from RLY_RX, repeated in RLY_TX).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JoinerAddr {
    pub joiner_udp_port: u16,
    pub joiner_iid: [u8; 8],
    pub joiner_router_locator: u16,
}

/// RLY_TX.ntf: NON POST c/tx with the joiner's addressing TLVs, a DTLS record, and (with the
/// JOIN_FIN.rsp) the Joiner Router KEK.
pub fn relay_tx(
    message_id: u16,
    token: &[u8],
    to: &JoinerAddr,
    dtls_record: &[u8],
    kek: Option<&Kek>,
) -> Result<Message, Error> {
    let mut tlvs = vec![
        Tlv::joiner_udp_port(to.joiner_udp_port),
        Tlv::joiner_iid(&to.joiner_iid),
        Tlv::joiner_router_locator(to.joiner_router_locator),
        Tlv::joiner_dtls_encapsulation(dtls_record.to_vec()),
    ];
    if let Some(k) = kek {
        tlvs.push(Tlv::joiner_router_kek(k));
    }
    Message::post(false, uri::RLY_TX, message_id, token, &tlvs)
}

/// A parsed RLY_RX.ntf (c/rx): a joiner's DTLS record relayed by a joiner router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayRx {
    pub from: JoinerAddr,
    pub dtls_record: Vec<u8>,
}

impl RelayRx {
    /// Reads the four TLVs of an RLY_RX; a missing or malformed one is an error.
    pub fn from_message(m: &Message) -> Result<RelayRx, Error> {
        let p = &m.payload;
        Ok(RelayRx {
            from: JoinerAddr {
                joiner_udp_port: tlv::require(p, types::JOINER_UDP_PORT)?.u16()?,
                joiner_iid: tlv::require(p, types::JOINER_IID)?.joiner_iid()?,
                joiner_router_locator: tlv::require(p, types::JOINER_ROUTER_LOCATOR)?.u16()?,
            },
            dtls_record: tlv::require(p, types::JOINER_DTLS_ENCAPSULATION)?
                .value
                .to_vec(),
        })
    }
}

/// UDP_TX.ntf: NON POST c/ut asking the Border Agent to send `payload` from its Commissioner
/// ALOC, port `src_port`, to `dst`:`dst_port` (UDP Encapsulation + IPv6 Address TLVs).
pub fn udp_tx(
    message_id: u16,
    token: &[u8],
    src_port: u16,
    dst: Ipv6Addr,
    dst_port: u16,
    payload: &[u8],
) -> Result<Message, Error> {
    Message::post(
        false,
        uri::UDP_TX,
        message_id,
        token,
        &[
            Tlv::udp_encapsulation(src_port, dst_port, payload),
            Tlv::ipv6_address(dst),
        ],
    )
}

/// A parsed UDP_RX.ntf (c/ur): a datagram the Border Agent received for the commissioner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpRx {
    pub src: Ipv6Addr,
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: Vec<u8>,
}

impl UdpRx {
    pub fn from_message(m: &Message) -> Result<UdpRx, Error> {
        let (src_port, dst_port, payload) =
            tlv::require(&m.payload, types::UDP_ENCAPSULATION)?.udp_encapsulation()?;
        let src = tlv::require(&m.payload, types::IPV6_ADDRESS)?.ipv6()?;
        Ok(UdpRx {
            src,
            src_port,
            dst_port,
            payload: payload.to_vec(),
        })
    }
}

/// The Leader ALOC of a mesh-local prefix (prefix + 0000:00ff:fe00:fc00), destination of
/// MGMT_COMMISSIONER_SET through the UDP proxy.
pub fn leader_aloc(mesh_local_prefix: &[u8; 8]) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o[..8].copy_from_slice(mesh_local_prefix);
    o[8..].copy_from_slice(&[0, 0, 0, 0xff, 0xfe, 0, 0xfc, 0]);
    Ipv6Addr::from(o)
}

// ---------------------------------------------------------------------------------------------
// Retransmission (RFC 7252 §4.2, §4.8)

/// What to do when a [`Retransmitter`]'s deadline may have passed.
#[derive(Debug, PartialEq, Eq)]
pub enum Timeout<'a> {
    /// The deadline has not passed (or the exchange is finished).
    NotYet,
    /// Send these bytes again; the next deadline is set.
    Resend(&'a [u8]),
    /// MAX_RETRANSMIT retransmissions went unacknowledged: give up.
    GaveUp,
}

/// Retransmission of one confirmable message, driven by the caller's clock.
///
/// `new` -> send the bytes, `on_send(now)` -> wait until `poll_timeout()` -> `on_timeout(now)`;
/// `acknowledge()` when [`match_response`] says `EmptyAck`, `Response` or `Reset`.
#[derive(Debug, Clone)]
pub struct Retransmitter {
    bytes: Vec<u8>,
    timeout: Duration,
    deadline: Option<Instant>,
    retransmits: u8,
    finished: bool,
}

impl Retransmitter {
    pub const ACK_TIMEOUT: Duration = Duration::from_secs(2);
    /// ACK_RANDOM_FACTOR 1.5: the first timeout is uniform in [2 s, 3 s).
    pub const ACK_RANDOM_FACTOR: f64 = 1.5;
    pub const MAX_RETRANSMIT: u8 = 4;

    /// `random` is any uniformly random u32 (chooses the initial timeout in [2 s, 3 s)).
    pub fn new(bytes: Vec<u8>, random: u32) -> Retransmitter {
        let extra_ms = (1000u64 * random as u64) >> 32; // 0..1000 ms = ACK_TIMEOUT * (factor - 1)
        Retransmitter {
            bytes,
            timeout: Self::ACK_TIMEOUT + Duration::from_millis(extra_ms),
            deadline: None,
            retransmits: 0,
            finished: false,
        }
    }

    /// The message bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Call after the first transmission; starts the timer.
    pub fn on_send(&mut self, now: Instant) {
        if !self.finished {
            self.deadline = Some(now + self.timeout);
        }
    }

    /// When `on_timeout` should be called next; `None` once finished or before `on_send`.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.finished {
            None
        } else {
            self.deadline
        }
    }

    /// Handles the clock reaching (or passing) the deadline.
    pub fn on_timeout(&mut self, now: Instant) -> Timeout<'_> {
        let Some(deadline) = self.deadline else {
            return Timeout::NotYet;
        };
        if self.finished || now < deadline {
            return Timeout::NotYet;
        }
        if self.retransmits >= Self::MAX_RETRANSMIT {
            self.finished = true;
            self.deadline = None;
            return Timeout::GaveUp;
        }
        self.retransmits += 1;
        self.timeout *= 2;
        self.deadline = Some(now + self.timeout);
        Timeout::Resend(&self.bytes)
    }

    /// Stops retransmitting (ACK, response or RST received).
    pub fn acknowledge(&mut self) {
        self.finished = true;
        self.deadline = None;
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Retransmissions so far.
    pub fn retransmits(&self) -> u8 {
        self.retransmits
    }
}

#[cfg(test)]
mod tests;
