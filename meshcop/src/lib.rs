//! Thread MeshCoP without I/O and without a clock of its own (see `shared/reference/thread-facts.md` §2–§3).
//!
//! Owns: the MeshCoP wire formats (TLVs, operational datasets, steering data, the CoAP messages of
//! commissioning), EC-JPAKE, DTLS 1.2 with `TLS_ECJPAKE_WITH_AES_128_CCM_8` (exposed as
//! [`dtls::Connection`]; its record internals are crate-private, `dtls::fuzzing` is the one hidden
//! door) and the commissioner state machine.
//!
//! Sans-I/O: every function here takes bytes, `now` and a random source and returns bytes,
//! deadlines and events. Must never depend on `ncp`, the agent, tokio, sockets, files or a clock.

pub mod error;
pub use error::Error;

pub mod coap;
pub mod commissioner;
pub mod credentials;
pub mod dataset;
pub mod dtls;
pub(crate) mod ecjpake;
pub mod netdata;
pub mod netdiag;
pub(crate) mod prf;
pub mod steering;
#[doc(hidden)]
pub mod testing;
pub mod tlv;

#[cfg(test)]
mod test_support;
