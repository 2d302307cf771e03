#![no_main]
//! Fuzz target: `meshcop::commissioner::fuzzing::session` (also run under proptest in
//! `meshcop/tests/fuzz_entry_points.rs`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    meshcop::commissioner::fuzzing::session(data);
});
