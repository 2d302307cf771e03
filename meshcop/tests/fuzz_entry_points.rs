//! The cargo-fuzz entry points of `meshcop/fuzz` under proptest, briefly, so the suite keeps
//! them panic-free, and the committed corpora replayed; the `dtls_connection` corpus must reach
//! every handshake state (run with `--nocapture` to see what it reaches).

use std::collections::BTreeSet;
use std::path::Path;

use meshcop::commissioner::fuzzing as cf;
use meshcop::dtls::fuzzing as df;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn message_entry_points_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        cf::coap(&data);
        cf::dataset(&data);
        cf::commissioning_data(&data);
        cf::diag_answer(&data);
    }

    /// Network diagnostic answers: random TLV bytes, and every truncation of a well-formed one.
    #[test]
    fn diag_answer_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300), cut in any::<usize>()) {
        cf::diag_answer(&data);
        let good = [33u8, 2, 0, 7, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 4, 1, 2, 1, 15, 23, 8, 1, 2, 3, 4, 5, 6, 7, 8, 32, 2, 0x80, 0];
        cf::diag_answer(&good[..cut % (good.len() + 1)]);
    }

    #[test]
    fn dtls_connection_script_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
        df::connection(&data);
    }
}

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no corpus in {}", dir.display());
    out
}

#[test]
fn committed_message_corpora_replay_without_panic() {
    for d in corpus("coap") {
        cf::coap(&d);
    }
    for d in corpus("dataset") {
        cf::dataset(&d);
    }
    for d in corpus("commissioning_data") {
        cf::commissioning_data(&d);
    }
}

fn files(dir: &str, target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(dir)
        .join(target);
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    out.sort();
    out
}

const HANDSHAKE_STATES: &[&str] = &[
    "client state ClientAwaitHello",
    "client state ClientAwaitKeyExchange",
    "client state ClientAwaitHelloDone",
    "client state ClientAwaitFinished",
    "client state Connected",
    "client state Closed",
    "client state Failed",
    "server state ServerAwaitHello",
    "server state ServerAwaitKeyExchange",
    "server state ServerAwaitFinished",
    "server state Connected",
    "server state Closed",
    "server state Failed",
    "client event Connected",
    "server event Connected",
    "server event ApplicationData",
    "client event ApplicationData",
    "server event Closed",
    "server event Failed(BadPassword)",
    "client event Failed(PossibleBadPassword)",
    "server got handshake record, epoch 1",
    "client got handshake record, epoch 1",
    "server got alert record, epoch 1",
    "client got alert record, epoch 0",
    "server got a fragment of handshake type 16",
    "client got a fragment of handshake type 12",
    "server holds out-of-order/partial handshake messages",
    "client holds out-of-order/partial handshake messages",
    "a retransmission timer fired",
];

fn states(inputs: &[Vec<u8>], label: &str) -> BTreeSet<String> {
    let mut reached = BTreeSet::new();
    for d in inputs {
        reached.extend(df::connection_states(d));
    }
    println!(
        "{label}: {} inputs reach {} items:",
        inputs.len(),
        reached.len()
    );
    for r in &reached {
        println!("  {r}");
    }
    reached
}

/// The hand-made seeds of `dtls_connection` (`fuzz/seeds/`) already reach every handshake state:
/// the live in-memory handshake gets past the cookie, through fragment reassembly,
/// ClientKeyExchange, Finished, epoch 1 and alerts.
#[test]
fn dtls_connection_seeds_reach_every_handshake_state() {
    let reached = states(&files("seeds", "dtls_connection"), "dtls_connection seeds");
    for want in HANDSHAKE_STATES {
        assert!(reached.contains(*want), "the seeds never reach {want:?}");
    }
}

/// The coverage report of the committed (minimized) `dtls_connection` corpus. Slow in a debug
/// build (one handshake per input): `cargo test -p meshcop --release --test fuzz_entry_points --
/// --ignored --nocapture`.
#[test]
#[ignore]
fn dtls_connection_corpus_reaches_every_handshake_state() {
    let reached = states(
        &files("corpus", "dtls_connection"),
        "dtls_connection corpus",
    );
    for want in HANDSHAKE_STATES {
        assert!(reached.contains(*want), "the corpus never reaches {want:?}");
    }
    let mut events = BTreeSet::new();
    let inputs = files("corpus", "commissioner");
    for d in &inputs {
        for e in cf::session_events(d) {
            events.insert(e.split([' ', '{', '(']).next().unwrap_or("").to_string());
        }
    }
    println!(
        "commissioner corpus: {} inputs, events {events:?}",
        inputs.len()
    );
}

/// The live commissioner harness: petition accepted over the fixed-key Border Agent session, a
/// real joiner handshake through RLY_RX / RLY_TX, JOIN_FIN answered: the joiner is entrusted.
#[test]
fn commissioner_session_harness_reaches_join_fin() {
    for d in files("seeds", "commissioner") {
        cf::session(&d);
    }
    let ev = cf::session_events(&[0]);
    assert!(
        ev.iter().any(|e| e.starts_with("PetitionAccepted")),
        "{ev:?}"
    );
    let ev = cf::session_events(&[1]);
    assert!(
        ev.iter().any(|e| e.starts_with("JoinerEntrusted")),
        "{ev:?}"
    );
}
