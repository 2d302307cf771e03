//! `joiner import FILE|-`: a bootstrapping file (the manufacturer's data for a shipment), read
//! into a zeroizing buffer, checked here with the agent's own parser (`control::bootstrap`) and
//! signature check before anything is sent, then sent whole as `joiner.import`; `--wait` follows
//! every entry to its outcome.
//!
//! Guarantees: the file text lives only in zeroizing buffers (read once into a buffer of its
//! maximum size, never reallocated) and in the zeroizing request line; no message quotes a PSKd.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use control::bootstrap::{self, MAX_BYTES, MAX_SIGNATURE_BYTES};
use control::{JoinerImport, Request};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::client::{call, fail, Failure, Subscription};
use crate::render::{render_event, s};
use crate::wait::{judge, Outcome};

/// What `joiner import` was given.
pub(crate) struct ImportArgs {
    pub(crate) file: PathBuf,
    pub(crate) timeout: Option<u64>,
    pub(crate) verify_key: Option<String>,
    pub(crate) signature: Option<PathBuf>,
    pub(crate) wait: bool,
    pub(crate) json: bool,
}

fn read_path(path: &Path, max: usize, what: &str) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let f = std::fs::File::open(path)
        .map_err(|e| fail(2, format!("cannot read {what} {}: {e}", path.display())))?;
    crate::args::read_bounded(f, max, &format!("{what} {}", path.display()), "split it")
}

/// Public text (a signature or key) as UTF-8.
fn text(bytes: &[u8], what: &str) -> Result<String, Failure> {
    String::from_utf8(bytes.to_vec()).map_err(|_| fail(2, format!("{what} is not text")))
}

/// `--verify-key`: the base64 line itself, or a `.pub` file holding it.
fn verify_key(key: &str) -> Result<String, Failure> {
    let path = Path::new(key);
    let text = if path.is_file() {
        text(
            &read_path(path, MAX_SIGNATURE_BYTES, "--verify-key")?,
            "--verify-key",
        )?
    } else {
        key.to_string()
    };
    bootstrap::key_line(&text)
        .map(str::to_string)
        .ok_or_else(|| fail(2, "--verify-key is empty"))
}

/// `--signature`, or `FILE.sig` if it exists, else `FILE.minisig`.
fn signature_path(file: &Path, given: Option<&Path>) -> Result<PathBuf, Failure> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    if file == Path::new("-") {
        return Err(fail(
            2,
            "the file comes from stdin: say where its signature is (--signature PATH)",
        ));
    }
    let with = |ext: &str| {
        let mut s = file.as_os_str().to_owned();
        s.push(ext);
        PathBuf::from(s)
    };
    let sig = with(".sig");
    Ok(if sig.exists() { sig } else { with(".minisig") })
}

/// The `joiner.import` request: the file read and checked (exit 2 with every bad line, or a
/// refused signature), nothing sent yet.
pub(crate) fn request(a: &ImportArgs) -> Result<(Request, Option<String>), Failure> {
    if a.signature.is_some() && a.verify_key.is_none() {
        return Err(fail(
            2,
            "--signature needs --verify-key (the key to check it with)",
        ));
    }
    let mut bytes = if a.file == Path::new("-") {
        crate::args::read_bounded(
            std::io::stdin().lock(),
            MAX_BYTES,
            "the file from stdin",
            "split it",
        )?
    } else {
        read_path(&a.file, MAX_BYTES, "the file")?
    };
    let (signature, key, signer) = match &a.verify_key {
        Some(k) => {
            let key = verify_key(k)?;
            let path = signature_path(&a.file, a.signature.as_deref())?;
            let sig = std::fs::File::open(&path)
                .map_err(|e| {
                    fail(
                        2,
                        format!(
                            "signature refused, nothing sent: the file is unsigned (cannot read {}: {e})",
                            path.display()
                        ),
                    )
                })
                .and_then(|f| crate::args::read_bounded(f, MAX_SIGNATURE_BYTES, "the signature", "split it"))?;
            let sig = text(&sig, "the signature")?;
            let signer = bootstrap::verify(&bytes, &sig, &key)
                .map_err(|e| fail(2, format!("signature refused, nothing sent: {e}")))?;
            (Some(sig), Some(key), Some(signer.key_id))
        }
        None => (None, None, None),
    };
    bootstrap::parse(&bytes)
        .map_err(|e| fail(2, format!("the file was refused, nothing sent: {e}")))?;
    // Every line is UTF-8 (parse checked): the buffer moves into the string, uncopied.
    let file = String::from_utf8(std::mem::take(&mut *bytes))
        .map_err(|_| fail(2, "the file is not UTF-8 text"))?;
    let request = Request::JoinerImport(JoinerImport {
        file: Zeroizing::new(file),
        signature,
        verify_key: key,
        timeout: a.timeout,
    });
    if request.line(1).len() > control::MAX_LINE {
        return Err(fail(
            2,
            format!(
                "the file does not fit in one request ({} bytes at most): split it",
                control::MAX_LINE
            ),
        ));
    }
    Ok((request, signer))
}

/// `joiner import`: check, send, and with `--wait` follow every entry.
pub(crate) fn run(socket: &Path, a: ImportArgs) -> Result<String, Failure> {
    let (request, _) = request(&a)?;
    // Subscribe first so no event of these joiners is missed.
    let mut sub = if a.wait {
        Some(Subscription::open(socket)?)
    } else {
        None
    };
    let reply = call(socket, &request)?;
    drop(request);
    let Some(sub) = sub.as_mut() else {
        return Ok(if a.json {
            format!("{reply}\n")
        } else {
            render_imported(&reply)
        });
    };
    if !a.json {
        crate::print_now(&render_imported(&reply));
        crate::print_now("waiting for every joiner...\n");
    }
    let entries: Vec<String> = reply
        .get("entries")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|e| s(e, "entry").to_string()).collect())
        .unwrap_or_default();
    wait_for_all(sub, &entries, a.json)
}

/// The reply as text: `imported N joiner entries (signed by KEYID)` and one line per entry.
pub(crate) fn render_imported(r: &Value) -> String {
    let signed = match r.get("signer").and_then(Value::as_str) {
        Some(k) => format!("signed by {k}"),
        None => "unsigned".to_string(),
    };
    let mut out = format!(
        "imported {} joiner entries ({signed}); expire in {} s; commissioner {}\n",
        crate::render::n(r, "imported"),
        crate::render::n(r, "timeout"),
        s(r, "commissioner")
    );
    for e in r
        .get("entries")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let label = e.get("label").and_then(Value::as_str).unwrap_or("");
        out.push_str(&format!(
            "  {}  joiner id {}  {label}\n",
            s(e, "entry"),
            s(e, "joiner_id")
        ));
    }
    out
}

/// Follows the events of `entries` until each joined or failed; exit 0 when all joined, else the
/// first failure's code.
fn wait_for_all(sub: &mut Subscription, entries: &[String], json: bool) -> Result<String, Failure> {
    let mut waiting: BTreeMap<&str, ()> = entries.iter().map(|e| (e.as_str(), ())).collect();
    let mut failures: Vec<(u8, String)> = Vec::new();
    let mut joined = 0usize;
    while !waiting.is_empty() {
        let ev = sub.next()?;
        let Some(entry) = ev.get("entry").and_then(Value::as_str) else {
            continue;
        };
        let Some((key, ())) = waiting.get_key_value(entry) else {
            continue;
        };
        let key = *key;
        crate::print_now(&if json {
            format!("{ev}\n")
        } else {
            render_event(&ev)
        });
        match judge(&ev, key) {
            Outcome::Continue => {}
            Outcome::Joined => {
                joined += 1;
                waiting.remove(key);
            }
            Outcome::Fail(code, msg) => {
                failures.push((code, msg));
                waiting.remove(key);
            }
        }
    }
    match failures.first() {
        None if json => Ok(String::new()),
        None => Ok(format!("all {joined} joiners joined\n")),
        Some((code, msg)) => Err(fail(
            *code,
            format!(
                "{joined} of {} joiners joined; {} failed (first: {msg})",
                entries.len(),
                failures.len()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(file: &Path) -> ImportArgs {
        ImportArgs {
            file: file.to_path_buf(),
            timeout: None,
            verify_key: None,
            signature: None,
            wait: false,
            json: false,
        }
    }

    #[test]
    fn a_bad_file_is_refused_with_every_line_before_sending() {
        let dir = std::env::temp_dir().join(format!("threadctl-import-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("devices.csv");
        std::fs::write(
            &f,
            "eui64,pskd\n18b4300000000001,J01NME\n18b43,J01NME\n18b4300000000004,J01NME\n18b4300000000005,SECR\n",
        )
        .unwrap();
        let e = run(Path::new("/nonexistent/threadctl.sock"), args(&f)).unwrap_err();
        assert_eq!(e.code, 2, "{}", e.message);
        assert!(
            e.message.contains("line 3: EUI-64 \"18b43\""),
            "{}",
            e.message
        );
        assert!(e.message.contains("line 5: PSKd"), "{}", e.message);
        assert!(!e.message.contains("SECR") && !e.message.contains("J01NME"));
        // A good file gets as far as the (missing) socket.
        std::fs::write(&f, "18b4300000000001,J01NME,a\n").unwrap();
        let e = run(Path::new("/nonexistent/threadctl.sock"), args(&f)).unwrap_err();
        assert_eq!(e.code, 3, "{}", e.message);
        // --verify-key without a signature file: unsigned, refused.
        let mut a = args(&f);
        a.verify_key = Some("RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3".into());
        let e = run(Path::new("/nonexistent/threadctl.sock"), a).unwrap_err();
        assert_eq!(e.code, 2);
        assert!(e.message.contains("unsigned"), "{}", e.message);
        let mut a = args(&f);
        a.signature = Some(dir.join("x.sig"));
        assert_eq!(request(&a).unwrap_err().code, 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn replies_render_without_secrets() {
        let r = serde_json::json!({"imported": 2, "timeout": 120, "commissioner": "active",
            "signer": "0807060504030201", "entries": [
            {"entry": "eui64:18b4300000000001", "eui64": "18b4300000000001", "joiner_id": "x", "label": "hall"},
            {"entry": "eui64:18b4300000000002", "eui64": "18b4300000000002", "joiner_id": "y", "label": null}]});
        let out = render_imported(&r);
        assert!(
            out.starts_with("imported 2 joiner entries (signed by 0807060504030201)"),
            "{out}"
        );
        assert!(
            out.contains("eui64:18b4300000000001  joiner id x  hall"),
            "{out}"
        );
    }
}
