//! The stable error codes and the error reply.

use serde::Serialize;

/// Error codes (stable; serialized as the snake_case strings of the protocol document).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    ParseError,
    InvalidRequest,
    MethodNotFound,
    InvalidParams,
    PermissionDenied,
    RequestTooLong,
    NcpUnavailable,
    NotFound,
    InternalError,
}

impl Code {
    /// Every code, in the order of the protocol document.
    pub const ALL: [Code; 9] = [
        Code::ParseError,
        Code::InvalidRequest,
        Code::InvalidParams,
        Code::MethodNotFound,
        Code::PermissionDenied,
        Code::RequestTooLong,
        Code::NcpUnavailable,
        Code::NotFound,
        Code::InternalError,
    ];

    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::ParseError => "parse_error",
            Code::InvalidRequest => "invalid_request",
            Code::MethodNotFound => "method_not_found",
            Code::InvalidParams => "invalid_params",
            Code::PermissionDenied => "permission_denied",
            Code::RequestTooLong => "request_too_long",
            Code::NcpUnavailable => "ncp_unavailable",
            Code::NotFound => "not_found",
            Code::InternalError => "internal_error",
        }
    }

    /// The code of a wire string.
    pub fn from_name(name: &str) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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
    pub const NCP_UNAVAILABLE: Code = Code::NcpUnavailable;
    pub const NOT_FOUND: Code = Code::NotFound;
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
