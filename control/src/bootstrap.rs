//! Bootstrapping files: the device data a manufacturer hands over with a shipment, read by
//! `threadctl joiner import` (checked before anything is sent) and by the agent's
//! `joiner.import` (the trust boundary: it parses and verifies again).
//!
//! Format (one device per line, mixed freely):
//! - CSV `eui64,pskd[,label]`: the EUI-64 as 16 hex digits (`:` or `-` separators allowed, as
//!   `joiner add --eui64`), the PSKd (`meshcop::credentials::Pskd` rules), an optional label
//!   (at most [`MAX_LABEL`] characters, no control characters; everything after the second comma,
//!   surrounding double quotes removed). An optional header line (`eui64,pskd,label`) first.
//! - A Thread onboarding QR payload `v=1&&eui=<16 hex>&&cc=<PSKd>[&&...]` ([`parse_qr`], the
//!   format of `joiner add --qr`); no label.
//! - Blank lines and `#` comments are skipped; surrounding whitespace is trimmed.
//!
//! The whole file is validated first: [`parse`] returns every entry or every bad line
//! ([`FileError`]: `line 3: EUI-64 "18b43" is not 16 hex digits; line 5: PSKd ...`). A repeated
//! EUI-64 is a bad line. At most [`MAX_LINES`] lines and [`MAX_BYTES`] bytes.
//!
//! Signatures: minisign's detached Ed25519 format (`minisign -Sm devices.csv` writes
//! `devices.csv.minisig`), verified by [`verify`] with the `minisign-verify` crate against the
//! public key as minisign prints it (the base64 line, or the whole `.pub` file text); the signer
//! is named by minisign's key id (16 uppercase hex digits, as `minisign.pub`'s comment shows it).
//!
//! Guarantees: no error names a PSKd (a bad PSKd's reason names the rule and position; an EUI-64
//! field is quoted only when it is made of hex digits and separators and the line is not a
//! PSKd-first line); the PSKds go straight into `Pskd` (zeroed on drop). No I/O here: the caller
//! holds the file text (in a `Zeroizing` buffer). Never panics, whatever the bytes.

use std::collections::HashMap;
use std::fmt;

use meshcop::credentials::Pskd;
use zeroize::Zeroizing;

/// The most device lines (comments, blanks and the header not counted) a file may hold.
pub const MAX_LINES: usize = 1000;
/// The longest file accepted, in bytes (it must fit in one control request, `crate::MAX_LINE`,
/// with its JSON escaping and the signature).
pub const MAX_BYTES: usize = 48 * 1024;
/// The longest line, in bytes.
pub const MAX_LINE_BYTES: usize = 512;
/// The longest label, in characters.
pub const MAX_LABEL: usize = 64;
/// The longest signature (`.minisig`) or public key text, in bytes.
pub const MAX_SIGNATURE_BYTES: usize = 4096;

/// One device of a bootstrapping file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line number in the file.
    pub line: usize,
    pub eui64: [u8; 8],
    /// Redacted in `Debug`.
    pub pskd: Pskd,
    pub label: Option<String>,
}

/// One bad line: its number (1-based; 0 for the whole file) and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.reason)
        } else {
            write!(f, "line {}: {}", self.line, self.reason)
        }
    }
}

/// Why a file was refused: every bad line, in order (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub lines: Vec<LineError>,
}

impl FileError {
    fn whole(reason: impl Into<String>) -> FileError {
        FileError {
            lines: vec![LineError {
                line: 0,
                reason: reason.into(),
            }],
        }
    }

    /// The numbers of the bad lines.
    pub fn line_numbers(&self) -> Vec<usize> {
        self.lines.iter().map(|l| l.line).collect()
    }
}

impl fmt::Display for FileError {
    /// The bad lines joined by `; `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, l) in self.lines.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{l}")?;
        }
        Ok(())
    }
}

/// A Thread QR code payload: the EUI-64 and the `cc` text (not validated as a PSKd yet; zeroed
/// on drop).
pub struct Qr {
    pub eui64: [u8; 8],
    pub cc: Zeroizing<String>,
}

impl fmt::Debug for Qr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Qr")
            .field("eui64", &hex::encode(self.eui64))
            .field("cc", &"<redacted>")
            .finish()
    }
}

/// Whether `line` looks like a QR payload rather than CSV.
fn is_qr(line: &str) -> bool {
    line.contains("&&") || line.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("v="))
}

/// Reads a Thread QR payload `v=1&&eui=<16 hex>&&cc=<PSKd>[&&...]` (field names in any case,
/// unknown fields ignored). The error never quotes the payload.
pub fn parse_qr(text: &str) -> Result<Qr, String> {
    let mut eui = None;
    let mut cc = None;
    let mut version = None;
    for part in text.trim().split("&&") {
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        match k.trim().to_ascii_lowercase().as_str() {
            "v" => version = Some(v.trim()),
            "eui" => eui = Some(v.trim()),
            "cc" => cc = Some(Zeroizing::new(v.trim().to_string())),
            _ => {}
        }
    }
    if version != Some("1") {
        return Err("not a Thread QR code payload (expected v=1&&eui=...&&cc=...)".into());
    }
    let eui = eui.ok_or("no `eui=` field")?;
    let mut eui64 = [0u8; 8];
    if eui.len() != 16 || hex::decode_to_slice(eui, &mut eui64).is_err() {
        return Err("`eui` is not 16 hex digits".into());
    }
    let cc = cc.ok_or("no `cc=` (PSKd) field")?;
    Ok(Qr { eui64, cc })
}

/// An EUI-64 as `joiner add --eui64` reads it: 16 hex digits, `:` or `-` separators allowed.
pub fn parse_eui64(text: &str) -> Option<[u8; 8]> {
    let clean: String = text
        .trim()
        .chars()
        .filter(|c| !matches!(c, ':' | '-'))
        .collect();
    let mut a = [0u8; 8];
    (clean.len() == 16 && hex::decode_to_slice(&clean, &mut a).is_ok()).then_some(a)
}

/// Whether a field is safe to quote in an error: hex digits and separators only (a PSKd field
/// given where the EUI-64 belongs can hold other letters; the caller checks the swap).
fn quotable(field: &str) -> bool {
    field.len() <= 32
        && field
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '-')
}

fn eui_error(field: &str, swapped: bool) -> String {
    if swapped {
        return "the fields look swapped: expected eui64,pskd[,label] (EUI-64 first)".into();
    }
    if field.is_empty() {
        return "no EUI-64 before the first comma".into();
    }
    if quotable(field) {
        format!("EUI-64 {field:?} is not 16 hex digits")
    } else {
        format!(
            "EUI-64 field ({} characters) is not 16 hex digits",
            field.chars().count()
        )
    }
}

fn label(text: &str) -> Result<Option<String>, String> {
    let t = text.trim();
    let t = t
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(t)
        .trim();
    if t.is_empty() {
        return Ok(None);
    }
    if t.chars().count() > MAX_LABEL {
        return Err(format!("label longer than {MAX_LABEL} characters"));
    }
    if t.chars().any(char::is_control) {
        return Err("label holds a control character".into());
    }
    Ok(Some(t.to_string()))
}

/// Whether `line` is the optional header (`eui64,pskd[,label]`).
fn is_header(line: &str) -> bool {
    let mut f = line.split(',').map(|s| s.trim().to_ascii_lowercase());
    matches!(f.next().as_deref(), Some("eui64" | "eui-64" | "eui"))
        && matches!(f.next().as_deref(), Some("pskd" | "cc"))
}

/// One content line (trimmed, not blank, not a comment): the EUI-64, PSKd and label.
fn parse_line(line: &str) -> Result<([u8; 8], Pskd, Option<String>), String> {
    if is_qr(line) {
        let qr = parse_qr(line).map_err(|e| format!("QR payload: {e}"))?;
        let pskd = Pskd::new(&qr.cc).map_err(|e| format!("QR payload: PSKd is not valid: {e}"))?;
        return Ok((qr.eui64, pskd, None));
    }
    let mut fields = line.splitn(3, ',');
    let eui_text = fields.next().unwrap_or("").trim();
    let Some(pskd_text) = fields.next().map(str::trim) else {
        return Err("expected eui64,pskd[,label] or a QR payload v=1&&eui=...&&cc=...".into());
    };
    let label_text = fields.next();
    let eui = parse_eui64(eui_text).ok_or_else(|| {
        // The EUI-64 where the PSKd belongs: the first field may be the PSKd.
        eui_error(eui_text, parse_eui64(pskd_text).is_some())
    })?;
    if pskd_text.is_empty() {
        return Err("no PSKd after the EUI-64".into());
    }
    let pskd = Pskd::new(pskd_text).map_err(|e| format!("PSKd is not valid: {e}"))?;
    let label = label(label_text.unwrap_or("")).map_err(|e| e.to_string())?;
    Ok((eui, pskd, label))
}

/// Parses and validates a whole bootstrapping file (see the module doc): every entry, or every
/// bad line. `text` is the file as read (any bytes: a line that is not UTF-8 is a bad line).
pub fn parse(text: &[u8]) -> Result<Vec<Entry>, FileError> {
    if text.len() > MAX_BYTES {
        return Err(FileError::whole(format!(
            "the file is longer than {MAX_BYTES} bytes: split it"
        )));
    }
    let mut entries: Vec<Entry> = Vec::new();
    let mut bad = Vec::new();
    let mut first_at: HashMap<[u8; 8], usize> = HashMap::new();
    let mut seen_content = false;
    let mut devices = 0usize;
    for (i, raw) in text.split(|b| *b == b'\n').enumerate() {
        let n = i + 1;
        let mut err = |reason: String| bad.push(LineError { line: n, reason });
        if raw.len() > MAX_LINE_BYTES {
            err(format!("longer than {MAX_LINE_BYTES} bytes"));
            continue;
        }
        let Ok(line) = std::str::from_utf8(raw) else {
            err("not UTF-8 text".into());
            continue;
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !seen_content {
            seen_content = true;
            if is_header(line) {
                continue;
            }
        }
        devices += 1;
        if devices > MAX_LINES {
            err(format!(
                "more than {MAX_LINES} devices in one file: split it"
            ));
            break;
        }
        match parse_line(line) {
            Ok((eui64, pskd, label)) => match first_at.get(&eui64) {
                Some(first) => err(format!(
                    "EUI-64 {} repeats line {first}",
                    hex::encode(eui64)
                )),
                None => {
                    first_at.insert(eui64, n);
                    entries.push(Entry {
                        line: n,
                        eui64,
                        pskd,
                        label,
                    });
                }
            },
            Err(reason) => err(reason),
        }
    }
    if !bad.is_empty() {
        return Err(FileError { lines: bad });
    }
    if entries.is_empty() {
        return Err(FileError::whole(
            "the file lists no device (lines eui64,pskd[,label] or QR payloads)",
        ));
    }
    Ok(entries)
}

/// minisign's key id as it prints it: 16 uppercase hex digits (the 8 id bytes as a little-endian
/// number).
fn key_id_text(id: &[u8]) -> String {
    let mut b = [0u8; 8];
    b.copy_from_slice(&id[..8]);
    format!("{:016X}", u64::from_le_bytes(b))
}

/// Standard base64 (with padding) to bytes; `None` on anything else.
fn base64(text: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let t = text.trim().as_bytes();
    if t.is_empty() || t.len() & 3 != 0 {
        return None;
    }
    let body = t
        .strip_suffix(b"==")
        .or_else(|| t.strip_suffix(b"="))
        .unwrap_or(t);
    let mut out = Vec::with_capacity(t.len() / 4 * 3);
    for chunk in body.chunks(4) {
        let mut acc = 0u32;
        for &c in chunk {
            acc = (acc << 6) | val(c)?;
        }
        match chunk.len() {
            4 => out.extend_from_slice(&acc.to_be_bytes()[1..]),
            3 => out.extend_from_slice(&(acc << 6).to_be_bytes()[1..3]),
            2 => out.push((acc >> 4) as u8),
            _ => return None,
        }
    }
    Some(out)
}

/// The base64 line of a public key given as minisign prints it: the line itself, or the text of
/// a `.pub` file (`untrusted comment: ...` then the key).
pub fn key_line(key: &str) -> Option<&str> {
    key.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
}

/// The key that signed a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// minisign's key id: 16 uppercase hex digits.
    pub key_id: String,
    /// The signature's trusted (signed) comment.
    pub trusted_comment: String,
}

/// Checks the minisign detached `signature` (the `.minisig` text) of `file` against the public
/// `key` (base64 line or `.pub` text). Legacy (non-prehashed) signatures are accepted too.
pub fn verify(file: &[u8], signature: &str, key: &str) -> Result<Signer, String> {
    if signature.len() > MAX_SIGNATURE_BYTES || key.len() > MAX_SIGNATURE_BYTES {
        return Err(format!(
            "the signature or key is longer than {MAX_SIGNATURE_BYTES} bytes"
        ));
    }
    let line = key_line(key).ok_or("the verify key is empty")?;
    let pk = minisign_verify::PublicKey::from_base64(line).map_err(|_| {
        "the verify key is not a minisign public key (the base64 line minisign prints, or its .pub file)"
            .to_string()
    })?;
    let id = base64(line)
        .filter(|b| b.len() == 42)
        .map(|b| key_id_text(&b[2..10]))
        .ok_or("the verify key is not a minisign public key")?;
    let sig = minisign_verify::Signature::decode(signature.trim_start())
        .map_err(|_| "the signature is not a minisign signature (.minisig file)".to_string())?;
    match pk.verify(file, &sig, true) {
        Ok(()) => Ok(Signer {
            key_id: id,
            trusted_comment: sig.trusted_comment().to_string(),
        }),
        Err(minisign_verify::Error::UnexpectedKeyId) => {
            Err(format!("the file was signed with another key than {id}"))
        }
        Err(_) => Err(format!(
            "the signature does not match the file (tampered, or not signed by {id})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PSKDS: [&str; 3] = ["J01NME", "PSKD0002", "ABCDEF123"];

    fn bad_lines(text: &str) -> Vec<usize> {
        parse(text.as_bytes()).unwrap_err().line_numbers()
    }

    #[test]
    fn csv_qr_header_comments_mixed() {
        let text = "# shipment 42\neui64,pskd,label\n\n 18:b4:30:00:00:00:00:01 , J01NME , kitchen sensor \n\
                    18b4300000000002,PSKD0002\n  v=1&&eui=18B4300000000003&&cc=ABCDEF123&&vn=Acme\n\
                    18-b4-30-00-00-00-00-04,J01NME,\"hall, north\"\r\n";
        let e = parse(text.as_bytes()).unwrap();
        assert_eq!(e.len(), 4);
        assert_eq!(e[0].eui64, [0x18, 0xb4, 0x30, 0, 0, 0, 0, 1]);
        assert_eq!(e[0].line, 4);
        assert_eq!(e[0].pskd.as_str(), "J01NME");
        assert_eq!(e[0].label.as_deref(), Some("kitchen sensor"));
        assert_eq!(e[1].label, None);
        assert_eq!(
            (e[2].line, e[2].eui64[7], e[2].label.as_deref()),
            (6, 3, None)
        );
        assert_eq!(e[2].pskd.as_str(), "ABCDEF123");
        assert_eq!(e[3].label.as_deref(), Some("hall, north"));
        // The header only counts as one on the first content line.
        assert_eq!(bad_lines("18b4300000000002,PSKD0002\neui64,pskd\n"), [2]);
    }

    #[test]
    fn every_bad_line_is_named_and_no_pskd_is_echoed() {
        let text = "18b4300000000001,J01NME\n18b4300000000002,PSKD0002\n18b43,J01NME\n\
                    18b4300000000004,J01NME\n18b4300000000005,SECR\n18b4300000000001,PSKD0002\n\
                    18b4300000000007,secret7\nSECRETPSKD9,18b4300000000008\n18b4300000000009\n\
                    v=1&&eui=18b4300000000010&&cc=SECRQ1\nv=2&&eui=18b4300000000011&&cc=J01NME\n\
                    18b4300000000012,J01NME,bad\u{1}label\n";
        let err = parse(text.as_bytes()).unwrap_err();
        assert_eq!(err.line_numbers(), [3, 5, 6, 7, 8, 9, 10, 11, 12]);
        let msg = err.to_string();
        assert!(msg.starts_with("line 3: EUI-64 \"18b43\" is not 16 hex digits; line 5: PSKd is not valid: too short"), "{msg}");
        assert!(
            msg.contains("line 6: EUI-64 18b4300000000001 repeats line 1"),
            "{msg}"
        );
        assert!(msg.contains("line 8: the fields look swapped"), "{msg}");
        for secret in [
            "SECR",
            "secret7",
            "SECRETPSKD9",
            "SECRQ1",
            "J01NME",
            "PSKD0002",
        ] {
            assert!(!msg.contains(secret), "{secret} in {msg}");
        }
    }

    #[test]
    fn limits() {
        assert!(parse(b"").unwrap_err().to_string().contains("no device"));
        assert!(parse(b"# nothing\n\n").is_err());
        let mut big = String::new();
        for i in 0..=MAX_LINES {
            big.push_str(&format!("{:016x},J01NME\n", i));
        }
        let e = parse(big.as_bytes()).unwrap_err();
        assert_eq!(e.line_numbers(), [MAX_LINES + 1]);
        let big = vec![b'a'; MAX_BYTES + 1];
        assert_eq!(parse(&big).unwrap_err().line_numbers(), [0]);
        let long = format!("18b4300000000001,J01NME,{}\n", "x".repeat(MAX_LINE_BYTES));
        assert_eq!(bad_lines(&long), [1]);
        let long = format!("18b4300000000001,J01NME,{}\n", "x".repeat(MAX_LABEL + 1));
        assert_eq!(bad_lines(&long), [1]);
    }

    /// Random bytes, every truncation of a good file, huge lines: an error or entries, never a
    /// panic, and no PSKd in any message.
    #[test]
    fn garbage_never_panics_nor_echoes() {
        let good =
            "eui64,pskd,label\n18b4300000000001,J01NME,a\nv=1&&eui=18b4300000000002&&cc=PSKD0002\n\
                    18b4300000000003,ABCDEF123,\"c\"\n";
        let check = |bytes: &[u8]| {
            if let Err(e) = parse(bytes) {
                let msg = e.to_string();
                assert!(!msg.is_empty());
                for s in PSKDS {
                    assert!(!msg.contains(s), "{s} in {msg}");
                }
            }
        };
        for n in 0..=good.len() {
            check(&good.as_bytes()[..n]);
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for round in 0..2000 {
            let len = round % 300;
            let mut buf = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Bias toward the format's own characters.
                let alphabet = b"0123456789abcdefABCDEFJ01NME,:-=&v\n\r# \"\xff\x00";
                buf.push(if x & 3 == 0 {
                    (x >> 8) as u8
                } else {
                    alphabet[(x >> 16) as usize % alphabet.len()]
                });
            }
            check(&buf);
            let _ = parse_qr(&String::from_utf8_lossy(&buf));
            let _ = verify(
                &buf,
                &String::from_utf8_lossy(&buf),
                &String::from_utf8_lossy(&buf),
            );
        }
        check(&vec![b','; MAX_BYTES]);
        check(&vec![b'\n'; MAX_BYTES]);
        check("J01NME,".repeat(5000).as_bytes());
    }

    #[test]
    fn qr_payloads() {
        let q = parse_qr("v=1&&eui=18B4300000000002&&cc=J01NME&&vn=Acme").unwrap();
        assert_eq!(hex::encode(q.eui64), "18b4300000000002");
        assert_eq!(q.cc.as_str(), "J01NME");
        assert!(!format!("{q:?}").contains("J01NME"));
        assert!(parse_qr("eui=18b4300000000002&&cc=J01NME").is_err());
        assert!(parse_qr("v=1&&eui=18b43&&cc=J01NME").is_err());
        assert!(parse_qr("v=1&&eui=18b4300000000002").is_err());
        assert!(!parse_qr("v=1&&eui=SECRETSECRET1234&&cc=J01NME")
            .unwrap_err()
            .contains("SECRET"));
    }

    #[test]
    fn base64_and_key_ids() {
        assert_eq!(base64("TWFu").unwrap(), b"Man");
        assert_eq!(base64("TWE=").unwrap(), b"Ma");
        assert_eq!(base64("TQ==").unwrap(), b"M");
        assert!(base64("TQ=").is_none() && base64("T=Q=").is_none() && base64("").is_none());
        assert_eq!(key_id_text(&[1, 2, 3, 4, 5, 6, 7, 8]), "0807060504030201");
        let e = verify(
            b"x",
            "garbage",
            "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3",
        )
        .unwrap_err();
        assert!(e.contains("not a minisign signature"), "{e}");
        assert!(verify(b"x", "", "not a key")
            .unwrap_err()
            .contains("not a minisign public key"));
    }
}
