//! The thread-agent control protocol (`docs/control-protocol.md`), shared by the agent (server)
//! and `threadctl` (client) so the compiler checks the contract on both sides.
//!
//! Owns: the method names ([`Method`]) and their typed parameters ([`Request`]), the stable error
//! codes ([`Code`], [`MethodError`]), the event names ([`EventKind`]), the request envelope
//! (`id`, `method`, `params`), its line parser ([`parse_line`]) and reply lines ([`reply_line`]).
//! The wire format is byte-compatible with the hand-made JSON that preceded this crate.
//!
//! Must never depend on tokio, `ncp` or the agent: no I/O here, only values and their JSON.
//! `meshcop` supplies the credential types (`Pskd` never shows in `Debug`).

mod envelope;
mod error;
mod event;
mod request;
#[cfg(test)]
mod tests;

pub use envelope::{parse_line, reply_line, Envelope, MAX_LINE};
pub use error::{code, Code, MethodError};
pub use event::EventKind;
pub use request::{JoinerAdd, Method, Request, ResetNcp};
