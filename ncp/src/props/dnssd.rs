//! The platform DNS-SD over Spinel (OpenThread `src/ncp/platform/dnssd.cpp`,
//! `src/ncp/ncp_base_ftd.cpp` and `ncp_base.hpp` `DnssdUpdate`, `src/lib/spinel/spinel_prop_codec.cpp`
//! `EncodeDnssd`): with the SRP server's advertising proxy (`-DOT_SRP_ADV_PROXY=ON
//! -DOT_PLATFORM_DNSSD=ON -DOT_NCP_DNSSD=ON`), the co-processor asks the host to publish the hosts
//! and services that devices registered with its SRP server.
//!
//! Wire formats (integers little-endian, strings NUL-terminated):
//!
//! | property | command | format |
//! |---|---|---|
//! | `DNSSD_STATE` | host SET | `C`: 0 stopped, 1 ready |
//! | `DNSSD_REQUEST_RESULT` | host SET | `CLD`: otError, request id, context |
//! | `DNSSD_HOST` | NCP INSERTED (register) / REMOVED (unregister) | `U S 6*count L D`: host name, address count, addresses, request id, context |
//! | `DNSSD_SERVICE` | NCP INSERTED / REMOVED | `U U U t(U*) d S S S L L D`: host name, instance label, service type (`_x._udp`), sub-type labels, TXT wire data, port, priority, weight, TTL, request id, context |
//! | `DNSSD_KEY_RECORD` | NCP INSERTED / REMOVED | `U t(U?) d S L L D`: name, service type (empty struct for a host's key), key RDATA, class, TTL, request id, context |
//!
//! Names carry no domain (`.local.` is the host's to add). The context is an opaque blob (the
//! co-processor's callback pointer: 8 bytes on a 64-bit build, 4 on the nRF52840); the host must
//! send it back unchanged in `DNSSD_REQUEST_RESULT` (the co-processor refuses a context of another
//! length with `PARSE`), together with the request id. A NULL (all-zero) context means nobody
//! waits for the outcome (OpenThread passes no callback for some unregistrations): it must NOT be
//! answered, `HandlePropertySet<SPINEL_PROP_DNSSD_REQUEST_RESULT>` calls the pointer unchecked
//! (the simulated co-processor crashed when it was).
//!
//! How the co-processor learns that the host is ready: it starts with its DNS-SD state
//! `STOPPED` (`mDnssdState` in `NcpBase`'s constructor); `otPlatDnssdGetState` returns whatever
//! the host last SET in `DNSSD_STATE`, and a change calls `otPlatDnssdStateHandleStateChange`,
//! which starts (ready, and the infrastructure interface running) or stops the advertising proxy.
//! After a co-processor reset the state is `STOPPED` again: the host must SET ready again. While
//! stopped, every request is failed on the co-processor itself with `INVALID_STATE` and nothing
//! is sent; the advertising proxy is not running then, and the SRP server accepts registrations
//! without advertising them.
//!
//! What the co-processor does if the host never answers: each SRP update waits for its
//! advertisements at most `OPENTHREAD_CONFIG_SRP_SERVER_SERVICE_UPDATE_TIMEOUT` (default 1250 ms,
//! `src/core/config/srp_server.h`; `AdvertisingProxy::kAdvTimeout`); then the advertising proxy
//! fails the update with `ResponseTimeout` (counted in its `mAdvTimeout` counter), the SRP server
//! drops the update (`CommitSrpUpdate` with an error frees the host) and the device's SRP client
//! gets a failure and retries later. A late answer finds no pending request and is ignored.
//!
//! Guarantees: the decoders never panic on bytes from the co-processor; a short value (a count
//! or a length running past the end) is an error; every encoder's output decodes
//! back to the same value (tests below, with garbage from proptest).

use std::net::Ipv6Addr;

use crate::codec::{Reader, Writer};
use crate::props::ValueError;

/// `DNSSD_STATE` values (`otPlatDnssdState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnssdState {
    /// `OT_PLAT_DNSSD_STOPPED` (0).
    Stopped,
    /// `OT_PLAT_DNSSD_READY` (1).
    Ready,
}

/// Encodes a `DNSSD_STATE` value (`C`).
pub fn encode_state(state: DnssdState) -> Vec<u8> {
    vec![match state {
        DnssdState::Stopped => 0,
        DnssdState::Ready => 1,
    }]
}

/// Decodes a `DNSSD_STATE` value.
pub fn decode_state(value: &[u8]) -> Result<DnssdState, ValueError> {
    let of = ValueError::of("DNSSD_STATE");
    let mut r = Reader::new(value);
    match r.u8().map_err(&of)? {
        0 => Ok(DnssdState::Stopped),
        1 => Ok(DnssdState::Ready),
        v => Err(of(crate::Error::Protocol(format!(
            "unknown DNS-SD state {v}"
        )))),
    }
}

/// Which request a frame carries, and what the answer must echo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `otPlatDnssdRequestId`.
    pub id: u32,
    /// Opaque; sent back unchanged.
    pub context: Vec<u8>,
}

/// `DNSSD_HOST`: a host name and its addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub name: String,
    pub addresses: Vec<Ipv6Addr>,
    pub request: Request,
}

/// `DNSSD_SERVICE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The SRP host's name (no domain).
    pub host: String,
    /// Instance label, e.g. `ins1`.
    pub instance: String,
    /// Service type without domain, e.g. `_test._udp`.
    pub service_type: String,
    /// Sub-type labels, e.g. `_s1`.
    pub subtypes: Vec<String>,
    /// TXT RDATA (DNS wire format: length-prefixed strings).
    pub txt: Vec<u8>,
    pub port: u16,
    pub priority: u16,
    pub weight: u16,
    pub ttl: u32,
    pub request: Request,
}

/// `DNSSD_KEY_RECORD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// A host name or a service instance label (no domain).
    pub name: String,
    /// The service type when the key belongs to a service.
    pub service_type: Option<String>,
    /// KEY RDATA.
    pub data: Vec<u8>,
    pub class: u16,
    pub ttl: u32,
    pub request: Request,
}

fn request(r: &mut Reader<'_>) -> Result<Request, crate::Error> {
    let id = r.u32()?;
    let context = r.rest().to_vec();
    Ok(Request { id, context })
}

fn push_request(w: &mut Writer, req: &Request) {
    w.push_u32(req.id).push_rest(&req.context);
}

/// Decodes a `DNSSD_HOST` value (`USA(6)LD`).
pub fn decode_host(value: &[u8]) -> Result<Host, ValueError> {
    let of = ValueError::of("DNSSD_HOST");
    let mut r = Reader::new(value);
    let name = r.utf8().map_err(&of)?;
    let count = r.u16().map_err(&of)?;
    let mut addresses = Vec::with_capacity(usize::from(count).min(r.remaining() / 16));
    for _ in 0..count {
        addresses.push(r.ipv6().map_err(&of)?);
    }
    let request = request(&mut r).map_err(&of)?;
    Ok(Host {
        name,
        addresses,
        request,
    })
}

/// Encodes a `DNSSD_HOST` value (what the co-processor sends; for tests and tools). Panics
/// with more than 65535 addresses.
pub fn encode_host(h: &Host) -> Vec<u8> {
    let mut w = Writer::new();
    let n = u16::try_from(h.addresses.len()).expect("more than 65535 addresses");
    w.push_utf8(&h.name).push_u16(n);
    for a in &h.addresses {
        w.push_ipv6(a);
    }
    push_request(&mut w, &h.request);
    w.into_vec()
}

/// Decodes a `DNSSD_SERVICE` value (`UUUt(A(U))dSSSLLD`).
pub fn decode_service(value: &[u8]) -> Result<Service, ValueError> {
    let of = ValueError::of("DNSSD_SERVICE");
    let mut r = Reader::new(value);
    let host = r.utf8().map_err(&of)?;
    let instance = r.utf8().map_err(&of)?;
    let service_type = r.utf8().map_err(&of)?;
    let mut subs = r.structure().map_err(&of)?;
    let mut subtypes = Vec::new();
    while !subs.is_empty() {
        subtypes.push(subs.utf8().map_err(&of)?);
    }
    let txt = r.data().map_err(&of)?.to_vec();
    let port = r.u16().map_err(&of)?;
    let priority = r.u16().map_err(&of)?;
    let weight = r.u16().map_err(&of)?;
    let ttl = r.u32().map_err(&of)?;
    let request = request(&mut r).map_err(&of)?;
    Ok(Service {
        host,
        instance,
        service_type,
        subtypes,
        txt,
        port,
        priority,
        weight,
        ttl,
        request,
    })
}

/// Encodes a `DNSSD_SERVICE` value.
pub fn encode_service(s: &Service) -> Vec<u8> {
    let mut w = Writer::new();
    w.push_utf8(&s.host)
        .push_utf8(&s.instance)
        .push_utf8(&s.service_type)
        .push_structure(|w| {
            for t in &s.subtypes {
                w.push_utf8(t);
            }
        })
        .push_data(&s.txt)
        .push_u16(s.port)
        .push_u16(s.priority)
        .push_u16(s.weight)
        .push_u32(s.ttl);
    push_request(&mut w, &s.request);
    w.into_vec()
}

/// Decodes a `DNSSD_KEY_RECORD` value (`Ut(U)dSLLD`).
pub fn decode_key(value: &[u8]) -> Result<Key, ValueError> {
    let of = ValueError::of("DNSSD_KEY_RECORD");
    let mut r = Reader::new(value);
    let name = r.utf8().map_err(&of)?;
    let mut st = r.structure().map_err(&of)?;
    let service_type = if st.is_empty() {
        None
    } else {
        Some(st.utf8().map_err(&of)?)
    };
    let data = r.data().map_err(&of)?.to_vec();
    let class = r.u16().map_err(&of)?;
    let ttl = r.u32().map_err(&of)?;
    let request = request(&mut r).map_err(&of)?;
    Ok(Key {
        name,
        service_type,
        data,
        class,
        ttl,
        request,
    })
}

/// Encodes a `DNSSD_KEY_RECORD` value.
pub fn encode_key(k: &Key) -> Vec<u8> {
    let mut w = Writer::new();
    w.push_utf8(&k.name)
        .push_structure(|w| {
            if let Some(t) = &k.service_type {
                w.push_utf8(t);
            }
        })
        .push_data(&k.data)
        .push_u16(k.class)
        .push_u32(k.ttl);
    push_request(&mut w, &k.request);
    w.into_vec()
}

/// `DNSSD_REQUEST_RESULT`: the host's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestResult {
    /// An `otError` (0 `OT_ERROR_NONE`; see [`ot_error`]).
    pub error: u8,
    pub request: Request,
}

/// `otError` values the host answers with.
pub mod ot_error {
    /// `OT_ERROR_NONE`
    pub const NONE: u8 = 0;
    /// `OT_ERROR_FAILED`
    pub const FAILED: u8 = 1;
    /// `OT_ERROR_INVALID_ARGS`
    pub const INVALID_ARGS: u8 = 7;
    /// `OT_ERROR_NOT_IMPLEMENTED`
    pub const NOT_IMPLEMENTED: u8 = 12;
    /// `OT_ERROR_INVALID_STATE`
    pub const INVALID_STATE: u8 = 13;
    /// `OT_ERROR_DUPLICATED`
    pub const DUPLICATED: u8 = 29;
}

/// Encodes a `DNSSD_REQUEST_RESULT` value (`CLD`).
pub fn encode_request_result(r: &RequestResult) -> Vec<u8> {
    let mut w = Writer::new();
    w.push_u8(r.error);
    push_request(&mut w, &r.request);
    w.into_vec()
}

/// Decodes a `DNSSD_REQUEST_RESULT` value.
pub fn decode_request_result(value: &[u8]) -> Result<RequestResult, ValueError> {
    let of = ValueError::of("DNSSD_REQUEST_RESULT");
    let mut r = Reader::new(value);
    let error = r.u8().map_err(&of)?;
    let request = request(&mut r).map_err(&of)?;
    Ok(RequestResult { error, request })
}

#[cfg(test)]
mod tests;
