//! The shape of the source tree, checked: the limits issue 9 ("one shape for a growing agent") set
//! so that the agent keeps its layout as it grows.
//!
//! - no non-test source file over [`FILE_LIMIT`] lines, no function over [`FN_LIMIT`] lines;
//! - every Spinel property key is defined once, in `ncp/src/spinel.rs` (no `Prop(0x...)` literal
//!   anywhere else outside tests).
//!
//! "Test source" is a file under a `tests/` or `benches/` folder, a file named `tests.rs`, the
//! test-support modules and the fuzz crate. The function scan is textual (brace counting with
//! strings, chars and comments blanked), which is enough for rustfmt-formatted code.

use std::fs;
use std::path::{Path, PathBuf};

use e2e::bins::workspace_root;

/// Longest non-test source file, in lines.
const FILE_LIMIT: usize = 800;
/// Longest non-test function, in lines (signature to closing brace).
const FN_LIMIT: usize = 120;
/// The crates whose sources are checked.
const CRATES: &[&str] = &[
    "ncp",
    "meshcop",
    "agent",
    "commissioner-cli",
    "control",
    "tests",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            if name != "target" && name != "fuzz" && !name.starts_with('.') {
                rust_files(&p, out);
            }
        } else if name.ends_with(".rs") {
            out.push(p);
        }
    }
}

/// Paths relative to the workspace root of every `.rs` file of the checked crates.
fn sources() -> Vec<(String, String)> {
    let root = workspace_root();
    let mut files = Vec::new();
    for c in CRATES {
        rust_files(&root.join(c), &mut files);
    }
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&root)
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned();
            let text = fs::read_to_string(&p).unwrap_or_default();
            (rel, text)
        })
        .collect()
}

fn is_test_source(rel: &str) -> bool {
    rel.starts_with("tests/")
        || rel.contains("/tests/")
        || rel.contains("/benches/")
        || rel.ends_with("/tests.rs")
        || rel.contains("test_support")
        || rel.ends_with("/testing.rs")
}

/// The line with string and char literals and `//` comments blanked, so braces inside them do not count.
fn code_only(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                while let Some(d) = chars.next() {
                    match d {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
                out.push_str("\"\"");
            }
            '\'' => {
                // A char literal ('x', '\n', '{') or a lifetime ('a): blank only the literal.
                let rest: String = chars.clone().take(3).collect();
                let lit = rest.starts_with('\\') || rest.chars().nth(1) == Some('\'');
                if lit {
                    while let Some(d) = chars.next() {
                        match d {
                            '\\' => {
                                chars.next();
                            }
                            '\'' => break,
                            _ => {}
                        }
                    }
                    out.push_str("''");
                } else {
                    out.push('\'');
                }
            }
            '/' if chars.peek() == Some(&'/') => break,
            c => out.push(c),
        }
    }
    out
}

/// The name of the function a line declares, if it declares one.
fn declared_fn(line: &str) -> Option<&str> {
    let t = line.trim_start();
    let mut words = t.split_whitespace().peekable();
    while let Some(w) = words.next() {
        match w {
            "pub" | "async" | "const" | "unsafe" | "extern" | "\"C\"" => continue,
            w if w.starts_with("pub(") => continue,
            "fn" => {
                let name = words.next()?;
                let end = name.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
                return Some(&name[..end]);
            }
            _ => return None,
        }
    }
    None
}

/// `(name, first line (1-based), length in lines)` of every function with a body.
fn functions(text: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(name) = declared_fn(line) else {
            continue;
        };
        let (mut depth, mut started) = (0i64, false);
        for (j, l) in lines.iter().enumerate().skip(i) {
            let code = code_only(l);
            for c in code.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        started = true;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if started && depth <= 0 {
                found.push((name.to_string(), i + 1, j - i + 1));
                break;
            }
            if !started && code.trim_end().ends_with(';') {
                break; // a declaration without a body (trait method)
            }
        }
    }
    found
}

#[test]
fn no_source_file_or_function_is_too_long() {
    let mut over = Vec::new();
    for (rel, text) in sources() {
        if is_test_source(&rel) {
            continue;
        }
        let n = text.lines().count();
        if n > FILE_LIMIT {
            over.push(format!("{rel}: {n} lines (limit {FILE_LIMIT})"));
        }
        for (name, at, len) in functions(&text) {
            if len > FN_LIMIT {
                over.push(format!(
                    "{rel}:{at}: fn {name} is {len} lines (limit {FN_LIMIT})"
                ));
            }
        }
    }
    assert!(over.is_empty(), "too long:\n{}", over.join("\n"));
}

#[test]
fn spinel_property_keys_are_defined_only_in_ncp() {
    let mut stray = Vec::new();
    for (rel, text) in sources() {
        if rel == "ncp/src/spinel.rs" || is_test_source(&rel) {
            continue;
        }
        for (i, line) in text.lines().enumerate() {
            if code_only(line).contains("Prop(0x") {
                stray.push(format!("{rel}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        stray.is_empty(),
        "Spinel property keys belong in ncp::spinel::prop:\n{}",
        stray.join("\n")
    );
}

#[test]
fn the_scanner_sees_functions_and_ignores_braces_in_literals() {
    let src = "fn a() {\n    let s = \"{{{\";\n    let c = '{';\n    // {\n}\npub(crate) async fn b<'x>(v: &'x str) -> usize {\n    v.len()\n}\ntrait T { fn c(&self); }\n";
    let f = functions(src);
    assert_eq!(
        f,
        vec![("a".to_string(), 1, 5), ("b".to_string(), 6, 3)],
        "{f:?}"
    );
}
