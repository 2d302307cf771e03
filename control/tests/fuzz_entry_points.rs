//! The cargo-fuzz entry point of `control/fuzz` (the request line parser) run briefly in the
//! suite: seeded random bytes, mutated valid lines, and the committed corpus replayed. (No
//! proptest here: `control` has no dev-dependencies, a seeded xorshift does the job.)

#[path = "../fuzz/entry.rs"]
mod entry;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const LINES: &[&str] = &[
    r#"{"id":1,"method":"status"}"#,
    r#"{"id":"a","method":"joiner.add","params":{"eui64":"0011223344556677","pskd":"J01NME","timeout":120}}"#,
    r#"{"id":2,"method":"joiner.add","params":{"discerner":"abc/12","pskd":"J01NME"}}"#,
    r#"{"id":3,"method":"joiner.add","params":{"any":true,"pskd":"J01NME"}}"#,
    r#"{"id":4,"method":"joiner.remove","params":{"eui64":"0011223344556677"}}"#,
    r#"{"id":null,"method":"debug.reset_ncp","params":{"on":"joiner-joined"}}"#,
    r#"{"id":5,"method":"events.subscribe","params":null}"#,
];

#[test]
fn request_line_entry_point_never_panics_on_random_and_mutated_lines() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for i in 0..3000 {
        let mut line: Vec<u8> = if i % 3 == 0 {
            (0..rng.next() % 200).map(|_| rng.next() as u8).collect()
        } else {
            LINES[i % LINES.len()].as_bytes().to_vec()
        };
        for _ in 0..rng.next() % 4 {
            if line.is_empty() {
                break;
            }
            let at = (rng.next() as usize) % line.len();
            match rng.next() % 3 {
                0 => line[at] = rng.next() as u8,
                1 => {
                    line.remove(at);
                }
                _ => {
                    let alphabet = b"{}[]\":,0-e\\u";
                    line.insert(at, alphabet[(rng.next() as usize) % alphabet.len()]);
                }
            }
        }
        entry::request_line(&line);
    }
}

#[test]
fn committed_corpus_replays_without_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/control_request");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        entry::request_line(&std::fs::read(e.unwrap().path()).unwrap());
        n += 1;
    }
    assert!(n > 0, "no corpus in {}", dir.display());
}
