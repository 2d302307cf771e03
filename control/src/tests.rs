//! Every request parses from today's JSON, garbage gets today's codes, and the protocol document
//! names exactly the methods and events of the enums.

use meshcop::commissioner::JoinerKind;
use serde_json::{json, Value};

use crate::*;

fn request(line: &str) -> Result<Request, MethodError> {
    let env = parse_line(line.as_bytes()).map_err(|(_, e)| e)?;
    let method = env.method(true)?;
    Request::parse(method, &env.params)
}

#[test]
fn every_request_parses_from_todays_json() {
    let cases = [
        (r#"{"id":1,"method":"status","params":{}}"#, Request::Status),
        (r#"{"method":"dataset.export"}"#, Request::DatasetExport),
        (r#"{"id":2,"method":"joiner.list"}"#, Request::JoinerList),
        (
            r#"{"id":1,"method":"joiner.remove","params":{"any":true}}"#,
            Request::JoinerRemove(JoinerKind::Any),
        ),
        (
            r#"{"method":"commissioner.status","params":null}"#,
            Request::CommissionerStatus,
        ),
        (
            r#"{"method":"commissioner.start"}"#,
            Request::CommissionerStart,
        ),
        (
            r#"{"method":"commissioner.stop"}"#,
            Request::CommissionerStop,
        ),
        (
            r#"{"id":1,"method":"events.subscribe","params":{}}"#,
            Request::EventsSubscribe,
        ),
        (
            r#"{"method":"debug.reset_ncp"}"#,
            Request::DebugResetNcp(ResetNcp { on: None }),
        ),
        (
            r#"{"method":"debug.reset_ncp","params":{"on":"joiner-authenticated"}}"#,
            Request::DebugResetNcp(ResetNcp {
                on: Some("joiner-authenticated".into()),
            }),
        ),
    ];
    for (line, want) in cases {
        assert_eq!(request(line).unwrap(), want, "{line}");
    }
    let add = r#"{"id":1,"method":"joiner.add","params":{"eui64":"18b4300000000002","pskd":"J01NME","timeout":300}}"#;
    let Request::JoinerAdd(a) = request(add).unwrap() else {
        panic!("not joiner.add")
    };
    assert_eq!(
        a.selector,
        JoinerKind::Eui64([0x18, 0xb4, 0x30, 0, 0, 0, 0, 2])
    );
    assert_eq!((a.pskd.as_str(), a.timeout), ("J01NME", Some(300)));
    assert!(!format!("{a:?}").contains("J01NME"));
    // What threadctl sends is what the agent reads back.
    assert_eq!(
        *Request::JoinerAdd(a).line(1),
        r#"{"id":1,"method":"joiner.add","params":{"eui64":"18b4300000000002","pskd":"J01NME","timeout":300}}"#.to_string() + "\n"
    );
    let d = request(r#"{"method":"joiner.remove","params":{"discerner":"abc/12"}}"#).unwrap();
    assert_eq!(d.params(), json!({"discerner": "abc/12"}));
    assert_eq!(
        *Request::Status.line(1),
        "{\"id\":1,\"method\":\"status\",\"params\":{}}\n"
    );
}

#[test]
fn every_method_round_trips() {
    for m in Method::ALL {
        assert_eq!(Method::from_name(m.as_str()), Some(*m));
    }
    for k in EventKind::ALL {
        assert_eq!(EventKind::from_name(k.as_str()), Some(*k));
    }
    for c in Code::ALL {
        assert_eq!(Code::from_name(c.as_str()), Some(*c));
        assert_eq!(serde_json::to_value(c).unwrap(), json!(c.as_str()));
    }
}

fn code_of(line: &[u8]) -> (Value, Code) {
    let (id, e) = parse_line(line).unwrap_err();
    (id, e.code)
}

#[test]
fn garbage_gets_todays_error_codes() {
    assert_eq!(code_of(b"not json").1, Code::ParseError);
    assert_eq!(code_of(&[0xff, 0xfe]).1, Code::ParseError);
    assert_eq!(code_of(b"[1,2]").1, Code::InvalidRequest);
    let (id, e) = parse_line(br#"{"id":7}"#).unwrap_err();
    assert_eq!(
        reply_line(&id, Err(e)),
        "{\"error\":{\"code\":\"invalid_request\",\"message\":\"missing `method`\"},\"id\":7}\n"
    );
    assert_eq!(
        code_of(br#"{"id":7,"method":5}"#),
        (json!(7), Code::InvalidRequest)
    );
    assert_eq!(
        code_of(br#"{"id":{},"method":"status"}"#).1,
        Code::InvalidRequest
    );
    assert_eq!(
        code_of(br#"{"id":8,"method":"status","params":[1]}"#),
        (json!(8), Code::InvalidParams)
    );
    let env = parse_line(br#"{"id":9,"method":"reboot"}"#).unwrap();
    assert_eq!(env.method(true).unwrap_err().code, Code::MethodNotFound);
    let env = parse_line(br#"{"method":"debug.reset_ncp"}"#).unwrap();
    let e = env.method(false).unwrap_err();
    assert_eq!(e.code, Code::MethodNotFound);
    assert!(
        e.message
            .ends_with("dataset.import, device.list, device.show, device.forget)"),
        "{}",
        e.message
    );
    for bad in [
        r#"{"method":"joiner.add","params":{}}"#,
        r#"{"method":"joiner.add","params":{"any":true}}"#,
        r#"{"method":"joiner.add","params":{"any":true,"pskd":"j01nme"}}"#,
        r#"{"method":"joiner.add","params":{"any":true,"pskd":"J01NME","timeout":0}}"#,
        r#"{"method":"joiner.add","params":{"any":true,"pskd":5}}"#,
        r#"{"method":"joiner.remove","params":{"eui64":"18b43000"}}"#,
        r#"{"method":"joiner.remove","params":{"discerner":"xyz"}}"#,
        r#"{"method":"joiner.remove","params":{"any":true,"eui64":"18b4300000000002"}}"#,
        r#"{"method":"debug.reset_ncp","params":{"on":1}}"#,
    ] {
        let e = request(bad).unwrap_err();
        assert_eq!(e.code, Code::InvalidParams, "{bad}");
        assert!(!e.message.contains("j01nme"), "{}", e.message);
    }
}

/// The `| \`name\` |` first cells of the table rows of `section` (up to the next `## `).
fn documented(doc: &str, start: &str, end: &str) -> Vec<String> {
    let from = doc
        .find(start)
        .unwrap_or_else(|| panic!("no {start:?} in the doc"));
    let rest = &doc[from..];
    let to = rest[start.len()..]
        .find(end)
        .map_or(rest.len(), |i| i + start.len());
    rest[..to]
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`').map(|(name, _)| name.to_string()))
        .filter(|name| name != "type")
        .collect()
}

#[test]
fn the_protocol_document_names_exactly_these_methods_and_events() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/control-protocol.md");
    let doc = std::fs::read_to_string(path).unwrap();
    // Methods: every `### \`name\`` heading (a heading may name two: `a` / `b`).
    let mut methods: Vec<String> = Vec::new();
    for l in doc.lines().filter_map(|l| l.strip_prefix("### ")) {
        for part in l.split(" / ") {
            let name = part.trim().strip_prefix('`');
            if let Some((n, _)) = name.and_then(|n| n.split_once('`')) {
                methods.push(n.to_string());
            }
        }
    }
    let names: Vec<&str> = Method::ALL.iter().map(|m| m.as_str()).collect();
    same_names("method", &methods, &names);
    let mut events = documented(&doc, "| `type` |", "\n\n");
    events.extend(documented(&doc, "Journal-only events", "\n\n"));
    let names: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
    same_names("event", &events, &names);
}

/// Every documented name is in the enum and every enum name is documented.
fn same_names(what: &str, documented: &[String], names: &[&str]) {
    for d in documented {
        assert!(
            names.contains(&d.as_str()),
            "documented {what} {d} is unknown"
        );
    }
    for n in names {
        assert!(
            documented.iter().any(|d| d == n),
            "{what} {n} is not documented"
        );
    }
}

#[test]
fn typed_replies_are_todays_objects() {
    use crate::reply::*;
    let tlvs = DatasetExport {
        tlvs: "0e08".into(),
    };
    assert_eq!(to_result(&tlvs), json!({"tlvs": "0e08"}));
    assert!(!format!("{tlvs:?}").contains("0e08"));
    assert_eq!(
        to_result(&Subscribed { subscribed: true }),
        json!({"subscribed": true})
    );
    assert_eq!(to_result(&Reset { reset: true }), json!({"reset": true}));
    assert_eq!(
        to_result(&Armed { armed: "x".into() }),
        json!({"armed": "x"})
    );
    let r: Removed = serde_json::from_value(json!({"removed": "any"})).unwrap();
    assert_eq!(r.removed, "any");
    let s: Stopped = serde_json::from_value(json!({"state": "idle"})).unwrap();
    assert_eq!(s.state, "idle");
    assert!(serde_json::from_value::<DatasetExport>(json!({})).is_err());
}

#[test]
fn wildcard_and_discerner_entries_are_privileged() {
    let add = |sel: &str| {
        request(&format!(
            r#"{{"method":"joiner.add","params":{{{sel},"pskd":"J01NME"}}}}"#
        ))
        .unwrap()
    };
    assert!(add(r#""any":true"#).is_privileged());
    assert!(add(r#""discerner":"abc/12""#).is_privileged());
    assert!(!add(r#""eui64":"18b4300000000002""#).is_privileged());
    // Removing an entry admits nobody; reading stays open.
    assert!(!Request::JoinerRemove(JoinerKind::Any).is_privileged());
    assert!(!Request::JoinerList.is_privileged());
    assert!(!Request::Status.is_privileged());
    assert!(Request::DatasetExport.is_privileged());
}

#[test]
fn the_pskd_is_wiped_from_parsed_lines_and_never_debug_printed() {
    let line = br#"{"id":1,"method":"joiner.add","params":{"any":true,"pskd":"J01NME","x":["J01NME",{"y":"J01NME"}]}}"#;
    let env = parse_line(line).unwrap();
    assert!(!format!("{env:?}").contains("J01NME"), "{env:?}");
    let mut params = env.params.clone();
    wipe(&mut params);
    assert_eq!(
        params,
        json!({"any": true, "pskd": "", "x": ["", {"y": ""}]})
    );
    // What threadctl sends is a zeroizing string.
    let add = Request::parse(Method::JoinerAdd, &env.params).unwrap();
    let sent: zeroize::Zeroizing<String> = add.line(1);
    assert!(sent.contains("J01NME"));
}

#[test]
fn reply_lines_are_one_json_line_built_in_one_buffer() {
    let result = json!({"tlvs": "0e080000000000010000", "n": [1, "é\"\n"], "ok": true});
    let line = reply_line(&json!(7), Ok(result.clone()));
    assert_eq!(line, format!("{}\n", json!({"id": 7, "result": result})));
    assert_eq!(
        line.capacity(),
        line.len(),
        "allocated once, at its final size"
    );
    let err = reply_line(
        &Value::Null,
        Err(MethodError::new(code::NOT_FOUND, "no such entry")),
    );
    assert_eq!(
        serde_json::from_str::<Value>(err.trim_end()).unwrap()["error"]["code"],
        json!("not_found")
    );
}

#[test]
fn joiner_import_round_trips_unprivileged_in_one_buffer() {
    let mut file = String::from("eui64,pskd,label\n");
    for i in 0..100 {
        file.push_str(&format!(
            "18b43000000000{i:02x},J01NME{i:02},\"device \\ {i}\"\n"
        ));
    }
    let import = Request::JoinerImport(JoinerImport {
        file: zeroize::Zeroizing::new(file.clone()),
        signature: Some("untrusted comment: x\nAAAA\n".into()),
        verify_key: Some("RWQkey".into()),
        timeout: Some(600),
    });
    assert!(!import.is_privileged());
    assert!(!format!("{import:?}").contains("J01NME"), "{import:?}");
    let line = import.line(3);
    assert!(line.len() > 1024, "a 100-line file exceeds the old buffer");
    // Allocated once at the start: a reallocation would have grown the capacity past it.
    let v: Value = serde_json::from_str(line.trim_end()).unwrap();
    assert_eq!(line.capacity(), 1024 + super::request::tests_json_len(&v));
    assert_eq!(request(line.trim_end()).unwrap(), import);
    let Request::JoinerImport(back) = request(&line).unwrap() else {
        panic!("not joiner.import")
    };
    assert_eq!(back.file.as_str(), file);
    for bad in [
        r#"{"method":"joiner.import","params":{}}"#,
        r#"{"method":"joiner.import","params":{"file":5}}"#,
        r#"{"method":"joiner.import","params":{"file":"x","timeout":0}}"#,
        r#"{"method":"joiner.import","params":{"file":"x","signature":"s"}}"#,
        r#"{"method":"joiner.import","params":{"file":"x","verify_key":7}}"#,
    ] {
        assert_eq!(request(bad).unwrap_err().code, Code::InvalidParams, "{bad}");
    }
    let huge = json!({"method": "joiner.import", "params": {"file": "x".repeat(bootstrap::MAX_BYTES + 1)}});
    assert_eq!(
        request(&huge.to_string()).unwrap_err().code,
        Code::InvalidParams
    );
}
