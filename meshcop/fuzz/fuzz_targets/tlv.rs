#![no_main]
//! Fuzz target: `meshcop::dtls::fuzzing::tlv` (also run under proptest in the unit tests).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    meshcop::dtls::fuzzing::tlv(data);
});
