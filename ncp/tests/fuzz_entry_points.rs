//! The cargo-fuzz entry points of `ncp/fuzz` (HDLC-lite stream, Spinel frames and property
//! values) under proptest, briefly, so the suite keeps them panic-free; and their committed
//! corpora replayed.

#[path = "../fuzz/entry.rs"]
mod entry;

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn hdlc_and_spinel_entry_points_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        entry::hdlc(&data);
        entry::spinel(&data);
    }
}

fn replay(target: &str, f: fn(&[u8])) -> usize {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let data = std::fs::read(e.unwrap().path()).unwrap();
        f(&data);
        n += 1;
    }
    n
}

#[test]
fn committed_corpora_replay_without_panic() {
    assert!(replay("hdlc", entry::hdlc) > 0);
    assert!(replay("spinel", entry::spinel) > 0);
}
