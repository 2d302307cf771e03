#![no_main]
//! Fuzz target: `entry::request_line` (also run under proptest in
//! `control/tests/fuzz_entry_points.rs`).
#[path = "../entry.rs"]
#[allow(dead_code)]
mod entry;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    entry::request_line(data);
});
