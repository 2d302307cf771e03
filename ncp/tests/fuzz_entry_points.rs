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

/// A `MAC_SCAN_BEACON` value as OpenThread's NCP writes it (`Cct(ESSc)t(iCUdd)`: channel 20,
/// -70 dBm, PAN ID 0x1234, "OT", extended PAN ID dead00beef00cafe, steering data ff).
const BEACON: &str = "14ba0d00123456789abcdef0ffff3412ff1200034\
                      84f54000800dead00beef00cafe0100ff";

#[test]
fn beacon_value_decodes_and_its_truncations_do_not() {
    let v = hex::decode(BEACON).unwrap();
    let b = ncp::props::scan::decode_beacon(&v).unwrap();
    assert_eq!(
        (b.channel, b.pan_id, b.network_name.as_str()),
        (20, 0x1234, "OT")
    );
    for n in 0..v.len() {
        assert!(ncp::props::scan::decode_beacon(&v[..n]).is_err());
        entry::spinel(&v[..n]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn mutated_beacon_never_panics(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
        let mut v = hex::decode(BEACON).unwrap();
        for (i, b) in edits {
            let i = i % v.len();
            v[i] = b;
        }
        entry::spinel(&v);
        // As a whole frame: header, PROP_VALUE_INSERTED, MAC_SCAN_BEACON.
        let mut frame = vec![0x80, 7, 51];
        frame.extend_from_slice(&v);
        entry::spinel(&frame);
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
