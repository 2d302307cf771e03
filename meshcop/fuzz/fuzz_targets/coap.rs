#![no_main]
//! Fuzz target: `meshcop::commissioner::fuzzing::coap` (also run under proptest in
//! `meshcop/tests/fuzz_entry_points.rs`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    meshcop::commissioner::fuzzing::coap(data);
});
