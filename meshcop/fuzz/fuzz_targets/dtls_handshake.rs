#![no_main]
//! Fuzz target: `meshcop::dtls::fuzzing::handshake` (also run under proptest in the unit tests).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    meshcop::dtls::fuzzing::handshake(data);
});
