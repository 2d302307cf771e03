//! Fuzz entry point of the control protocol's request parser, shared (by `#[path]`) by the
//! cargo-fuzz target `control/fuzz/fuzz_targets/control_request.rs` and the suite's proptest
//! `control/tests/fuzz_entry_points.rs`. Takes any bytes (what a client could write on the
//! control socket as one line) and must never panic. Public API only.

use control::{parse_line, reply_line, Request};

/// `parse_line`, the method lookup (with and without the debug methods) and `Request::parse`;
/// an accepted request is written back as a line (`Request::line`) that parses to the same
/// request; every error still makes a reply line that is one JSON line.
pub fn request_line(data: &[u8]) {
    let env = match parse_line(data) {
        Ok(env) => env,
        Err((id, e)) => return check_reply(&id, Err(e)),
    };
    for debug in [false, true] {
        let method = match env.method(debug) {
            Ok(m) => m,
            Err(e) => {
                check_reply(&env.id, Err(e));
                continue;
            }
        };
        match Request::parse(method, &env.params) {
            Ok(req) => {
                assert_eq!(req.method(), method);
                let line = req.line(7);
                let again = parse_line(line.trim_end().as_bytes()).expect("our own line parses");
                let back =
                    Request::parse(again.method(true).expect("our own method"), &again.params)
                        .expect("our own params parse");
                assert!(back == req, "request changed in a round trip");
            }
            Err(e) => check_reply(&env.id, Err(e)),
        }
    }
}

fn check_reply(id: &serde_json::Value, r: Result<serde_json::Value, control::MethodError>) {
    let line = reply_line(id, r);
    assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
    let _: serde_json::Value = serde_json::from_str(&line).expect("a reply line is JSON");
}
