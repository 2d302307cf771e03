//! Helpers shared by this crate's unit tests (compiled only under `cfg(test)`).
//!
//! Guarantees nothing beyond what the tests that use them check.

pub mod sim_ncp;
