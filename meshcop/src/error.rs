//! The `meshcop` crate's error type for the wire codecs and credentials (TLVs, datasets, CoAP,
//! PSKd/discerner parsing, steering data).
//!
//! Grouped by cause: malformed input from a peer or file, invalid values given by an operator, and
//! encoding limits. No variant ever carries secret material (a bad PSKd is reported by position and
//! reason only).

/// Errors of the MeshCoP codecs and credential parsers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    // --- malformed input (from a peer, a co-processor or a file) ---
    /// The input ended before a complete structure was read.
    #[error("truncated {what}: need {need} bytes, have {have}")]
    Truncated {
        what: &'static str,
        need: usize,
        have: usize,
    },
    /// A TLV value has a length its type does not allow.
    #[error("TLV type {typ} has invalid length {len} (expected {expected})")]
    BadTlvLength {
        typ: u8,
        len: usize,
        expected: &'static str,
    },
    /// A field holds a value that is not allowed (e.g. non-UTF-8 network name).
    #[error("invalid {what}: {reason}")]
    InvalidValue {
        what: &'static str,
        reason: &'static str,
    },
    /// The bytes are not a well-formed CoAP message.
    #[error("malformed CoAP message: {0}")]
    Coap(String),

    // --- invalid values given by an operator ---
    /// A PSKd (joiner passphrase) is not acceptable. The value itself is never included.
    #[error("invalid PSKd: {0}")]
    Pskd(#[from] PskdError),
    /// A joiner discerner string is not acceptable.
    #[error("invalid discerner {input:?}: {reason} (expected HEX/BITS, e.g. 0xabc/12, with 1..=64 bits)")]
    Discerner { input: String, reason: &'static str },
    /// A steering data length outside 1..=16 bytes.
    #[error("invalid steering data length {0} (allowed 1..=16 bytes)")]
    SteeringLength(usize),

    // --- encoding limits ---
    /// A value is too long to be encoded (TLV values are at most 65535 bytes).
    #[error("{what} is too long: {len} bytes (at most {max})")]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
}

/// Why a PSKd was rejected. Never contains the PSKd or any of its characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PskdError {
    #[error("too short: {len} characters, need 6..=32")]
    TooShort { len: usize },
    #[error("too long: {len} characters, need 6..=32")]
    TooLong { len: usize },
    #[error("character {position} (1-based) is a lowercase letter; use uppercase 0-9 and A-Z except I, O, Q, Z")]
    Lowercase { position: usize },
    #[error("character {position} (1-based) is not allowed; use 0-9 and A-Z except I, O, Q, Z")]
    InvalidChar { position: usize },
}
