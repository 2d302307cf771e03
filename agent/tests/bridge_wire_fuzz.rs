//! The cargo-fuzz entry point of `agent/fuzz` (the mesh bridge's wire parsers) under proptest,
//! briefly, and its committed corpus replayed. `wire.rs` is the agent's own file, compiled here as
//! a module (the agent is a binary crate, so an integration test cannot `use` it).

#[path = "../fuzz/entry.rs"]
mod entry;
#[path = "../src/bridge/wire.rs"]
#[allow(dead_code, unused_imports)]
mod wire;

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn bridge_wire_entry_point_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        entry::bridge_wire(&data);
    }

    #[test]
    fn bridge_wire_entry_point_never_panics_on_ipv6_headers(
        next in prop::sample::select(vec![0u8, 43, 44, 58, 60, 17]),
        icmp_type in prop::sample::select(vec![131u8, 132, 133, 134, 143]),
        body in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut p = vec![0u8, 0x60, 0, 0, 0];
        p.extend_from_slice(&(body.len() as u16 + 4).to_be_bytes());
        p.extend_from_slice(&[next, 255]);
        p.extend_from_slice(&[0; 32]);
        p.extend_from_slice(&[icmp_type, 0, 0, 0]);
        p.extend_from_slice(&body);
        entry::bridge_wire(&p);
    }
}

#[test]
fn committed_corpus_replays_without_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/bridge_wire");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        entry::bridge_wire(&std::fs::read(e.unwrap().path()).unwrap());
        n += 1;
    }
    assert!(n > 0, "no corpus in {}", dir.display());
}
