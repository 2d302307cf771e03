//! The stable error codes and the error reply.

use serde::Serialize;

names! {
    /// Error codes (stable; serialized as the snake_case strings of the protocol document).
    pub enum Code {
        ParseError => "parse_error",
        InvalidRequest => "invalid_request",
        MethodNotFound => "method_not_found",
        InvalidParams => "invalid_params",
        PermissionDenied => "permission_denied",
        RequestTooLong => "request_too_long",
        RequestTimeout => "request_timeout",
        TooManyConnections => "too_many_connections",
        NcpUnavailable => "ncp_unavailable",
        NotFound => "not_found",
        AuditUnavailable => "audit_unavailable",
        ChangePending => "change_pending",
        NetworkExists => "network_exists",
        PanIdInUse => "pan_id_in_use",
        CommissionerBusy => "commissioner_busy",
        InternalError => "internal_error",
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// The codes under their old constant names.
pub mod code {
    use super::Code;
    pub const PARSE_ERROR: Code = Code::ParseError;
    pub const INVALID_REQUEST: Code = Code::InvalidRequest;
    pub const METHOD_NOT_FOUND: Code = Code::MethodNotFound;
    pub const INVALID_PARAMS: Code = Code::InvalidParams;
    pub const PERMISSION_DENIED: Code = Code::PermissionDenied;
    pub const REQUEST_TOO_LONG: Code = Code::RequestTooLong;
    pub const REQUEST_TIMEOUT: Code = Code::RequestTimeout;
    pub const TOO_MANY_CONNECTIONS: Code = Code::TooManyConnections;
    pub const NCP_UNAVAILABLE: Code = Code::NcpUnavailable;
    pub const NOT_FOUND: Code = Code::NotFound;
    pub const AUDIT_UNAVAILABLE: Code = Code::AuditUnavailable;
    pub const CHANGE_PENDING: Code = Code::ChangePending;
    pub const NETWORK_EXISTS: Code = Code::NetworkExists;
    pub const PAN_ID_IN_USE: Code = Code::PanIdInUse;
    pub const COMMISSIONER_BUSY: Code = Code::CommissionerBusy;
    pub const INTERNAL_ERROR: Code = Code::InternalError;
}

/// An error reply: `{"code": "...", "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MethodError {
    pub code: Code,
    pub message: String,
}

impl MethodError {
    pub fn new(code: Code, message: impl Into<String>) -> MethodError {
        MethodError {
            code,
            message: message.into(),
        }
    }
}
