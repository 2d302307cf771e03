//! The thread-agent control protocol (`docs/control-protocol.md`), shared by the agent (server)
//! and `threadctl` (client) so the compiler checks the contract on both sides.
//!
//! Owns: the method names ([`Method`]) and their typed parameters ([`Request`]), the stable error
//! codes ([`Code`], [`MethodError`]), the small replies ([`reply`]), the event names ([`EventKind`]), the request envelope
//! (`id`, `method`, `params`), its line parser ([`parse_line`]) and reply lines ([`reply_line`]).
//! The wire format is byte-compatible with the hand-made JSON that preceded this crate.
//! [`devices`] has the inventory's record and `id` parameter.
//! [`bootstrap`] reads and verifies the bootstrapping files of `joiner.import` (both sides use it).
//!
//! Must never depend on tokio, `ncp` or the agent: no I/O here, only values and their JSON.
//! `meshcop` supplies the credential types (`Pskd` never shows in `Debug`).

/// An enum of wire names: the type, `ALL` (in declaration order), `as_str`, `from_name` and
/// `Display`, so each name is written once.
macro_rules! names {
    ($(#[$m:meta])* pub enum $name:ident { $($(#[$vm:meta])* $var:ident => $text:literal,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vm])* $var,)*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$var,)*];

            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$var => $text,)*
                }
            }

            /// The value of a wire name.
            pub fn from_name(name: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.as_str() == name)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub mod bootstrap;
pub mod devices;
mod envelope;
mod error;
mod event;
pub mod lifecycle;
pub mod reply;
mod request;
#[cfg(test)]
mod tests;

pub use envelope::{parse_line, reply_line, wipe, Envelope, MAX_LINE};
pub use error::{code, Code, MethodError};
pub use event::EventKind;
pub use lifecycle::{DatasetImport, Migrate, RotateKey};
pub use request::{
    parse_channels, EnergyScan, JoinerAdd, JoinerImport, Method, Request, ResetNcp, THREAD_CHANNELS,
};
