#![no_main]
//! Fuzz target: `entry::bridge_wire` over the agent's `src/bridge/wire.rs` (also run under
//! proptest in `agent/tests/bridge_wire_fuzz.rs`).
#[path = "../entry.rs"]
#[allow(dead_code)]
mod entry;
#[path = "../../src/bridge/wire.rs"]
#[allow(dead_code, unused_imports)]
mod wire;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    entry::bridge_wire(data);
});
