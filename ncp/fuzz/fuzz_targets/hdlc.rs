#![no_main]
//! Fuzz target: `entry::hdlc` (also run under proptest in `ncp/tests/fuzz_entry_points.rs`).
#[path = "../entry.rs"]
#[allow(dead_code)]
mod entry;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    entry::hdlc(data);
});
