//! Thread MeshCoP without I/O and without a clock of its own (see `shared/reference/thread-facts.md` §2–§3).
//!
//! Every function here takes bytes, `now` and a random source and returns bytes, deadlines and events.

pub mod error;
pub use error::Error;

pub mod tlv;
pub mod dataset;
pub mod coap;
pub mod credentials;
pub mod steering;
pub mod ecjpake;
pub mod prf;
pub mod dtls;
pub mod commissioner;
#[doc(hidden)]
pub mod testing;

#[cfg(test)]
mod test_support;
