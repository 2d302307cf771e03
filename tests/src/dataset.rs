//! A deliberately small, independent reader of MeshCoP dataset TLVs (Thread 1.3 §8.10; OpenThread
//! `src/core/meshcop/meshcop_tlvs.hpp`) for checking what the agent exports and what it must
//! never show: type 0 channel, 1 PAN ID, 2 extended PAN ID, 3 network name, 4 PSKc,
//! 5 network key, 7 mesh-local prefix, 14 active timestamp. It is independent of the `meshcop`
//! crate on purpose (the tests must not share the code they check).
//!
//! Guarantees: never panics; malformed input is an `Err`.

use anyhow::{anyhow, bail, Result};

/// TLV type of the extended PAN ID.
pub const EXT_PAN_ID: u8 = 2;
/// TLV type of the network name.
pub const NETWORK_NAME: u8 = 3;
/// TLV type of the PSKc (secret).
pub const PSKC: u8 = 4;
/// TLV type of the network key (secret).
pub const NETWORK_KEY: u8 = 5;

/// Parsed dataset TLVs in wire order.
#[derive(Clone, PartialEq, Eq)]
pub struct Tlvs(pub Vec<(u8, Vec<u8>)>);

impl std::fmt::Debug for Tlvs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Test output must not print secrets either.
        let types: Vec<u8> = self.0.iter().map(|(t, _)| *t).collect();
        write!(f, "Tlvs(types {types:?})")
    }
}

impl Tlvs {
    /// Parses hex text (whitespace ignored) into TLVs; a length of 0xFF means a 2-byte extended
    /// length follows.
    pub fn from_hex(text: &str) -> Result<Tlvs> {
        let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = hex::decode(&clean).map_err(|e| anyhow!("dataset is not hex: {e}"))?;
        Tlvs::parse(&bytes)
    }

    /// Parses raw TLV bytes.
    pub fn parse(mut b: &[u8]) -> Result<Tlvs> {
        let mut out = Vec::new();
        while !b.is_empty() {
            if b.len() < 2 {
                bail!("truncated TLV header");
            }
            let t = b[0];
            let (len, hdr) = if b[1] == 0xFF {
                if b.len() < 4 {
                    bail!("truncated extended TLV header");
                }
                (u16::from_be_bytes([b[2], b[3]]) as usize, 4)
            } else {
                (b[1] as usize, 2)
            };
            if b.len() < hdr + len {
                bail!("TLV type {t} length {len} runs past the end");
            }
            out.push((t, b[hdr..hdr + len].to_vec()));
            b = &b[hdr + len..];
        }
        Ok(Tlvs(out))
    }

    /// The value of the first TLV of type `t`.
    pub fn get(&self, t: u8) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(ty, _)| *ty == t)
            .map(|(_, v)| v.as_slice())
    }

    /// The value of type `t`, required.
    pub fn require(&self, t: u8) -> Result<&[u8]> {
        self.get(t)
            .ok_or_else(|| anyhow!("dataset has no TLV of type {t}"))
    }
}

/// Every textual form in which `secret` could plausibly leak: lower/upper hex, hex with `:`/` `
/// separators, and a Rust `[1, 2, ...]` byte list.
pub fn leak_forms(secret: &[u8]) -> Vec<String> {
    let lower = hex::encode(secret);
    let upper = lower.to_uppercase();
    let pairs: Vec<String> = secret.iter().map(|b| format!("{b:02x}")).collect();
    let list: Vec<String> = secret.iter().map(|b| b.to_string()).collect();
    vec![
        lower,
        upper,
        pairs.join(":"),
        pairs.join(" "),
        format!("[{}]", list.join(", ")),
    ]
}

/// Fails (naming only where, never the secret) if `haystack` contains `secret` in any
/// [`leak_forms`] form.
pub fn assert_no_secret(haystack: &str, secret: &[u8], what: &str, whence: &str) -> Result<()> {
    let lower_hay = haystack.to_lowercase();
    for form in leak_forms(secret) {
        if lower_hay.contains(&form.to_lowercase()) {
            bail!("the {what} appears in {whence}");
        }
    }
    Ok(())
}

/// Fails if any of `pskds` appears raw (the bytes as typed) or in any [`leak_forms`] hex form in
/// `bytes`; the error names `whence`, never the PSKd.
pub fn assert_no_pskd(bytes: &[u8], pskds: &[&str], whence: &str) -> Result<()> {
    let text = String::from_utf8_lossy(bytes);
    for p in pskds {
        assert_no_secret(&text, p.as_bytes(), "PSKd (hex)", whence)?;
        if bytes.windows(p.len()).any(|w| w == p.as_bytes()) {
            bail!("a PSKd appears (raw) in {whence}");
        }
    }
    Ok(())
}

/// [`assert_no_pskd`] over every regular file under `root` (recursively: logs, state directory,
/// audit log, event captures, co-processor settings) except those `skip` names (the joiners' own
/// CLI logs, which echo `joiner start <PSKd>`, and the input files the test wrote), and over
/// `outputs` kept in memory. Returns how many files were scanned.
pub fn assert_no_pskd_in_tree(
    root: &std::path::Path,
    pskds: &[&str],
    skip: impl Fn(&std::path::Path) -> bool,
    outputs: &[(&str, &[u8])],
) -> Result<usize> {
    for (whence, bytes) in outputs {
        assert_no_pskd(bytes, pskds, whence)?;
    }
    let mut scanned = 0;
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| anyhow!("{}: {e}", dir.display()))? {
            let path = entry?.path();
            let meta = std::fs::symlink_metadata(&path)?;
            if meta.is_dir() {
                dirs.push(path);
            } else if meta.is_file() && !skip(&path) {
                let bytes = std::fs::read(&path)?;
                assert_no_pskd(&bytes, pskds, &path.display().to_string())?;
                scanned += 1;
            }
        }
    }
    Ok(scanned)
}

#[cfg(test)]
mod tests {
    use super::*;

    // A dataset printed by `dataset active -x` of ot-cli-ftd (openthread-sys 0.4.0).
    const SAMPLE: &str = "0e08000000000001000000030000154a0300001635060004001fffe00208a87adfe152aac71e0708fdb2bad4171af1a405101f9dbb7ae9d02ad6b0e40d08b6540021030f4f70656e5468726561642d3761656201027aeb04109be5802a4a9974e4c3dfec66957095d30c0402a0f7f8";

    #[test]
    fn parses_a_simulator_dataset() {
        let t = Tlvs::from_hex(SAMPLE).unwrap();
        assert_eq!(
            t.require(EXT_PAN_ID).unwrap(),
            hex::decode("a87adfe152aac71e").unwrap()
        );
        assert_eq!(
            t.require(NETWORK_KEY).unwrap(),
            hex::decode("1f9dbb7ae9d02ad6b0e40d08b6540021").unwrap()
        );
        assert_eq!(
            t.require(PSKC).unwrap(),
            hex::decode("9be5802a4a9974e4c3dfec66957095d3").unwrap()
        );
        assert_eq!(t.require(NETWORK_NAME).unwrap(), b"OpenThread-7aeb");
        assert!(!format!("{t:?}").contains("1f9d"));
    }

    #[test]
    fn malformed_is_an_error() {
        assert!(Tlvs::from_hex("0e").is_err());
        assert!(Tlvs::from_hex("0510aa").is_err());
        assert!(Tlvs::from_hex("zz").is_err());
        assert!(Tlvs::parse(&[0x05, 0xFF, 0x00]).is_err());
    }

    #[test]
    fn finds_pskds_raw_and_hex_in_a_tree() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("state")).unwrap();
        std::fs::write(dir.path().join("state/a.log"), "nothing").unwrap();
        std::fs::write(dir.path().join("cli2-1.log"), "joiner start J01NME").unwrap();
        let skip = |p: &std::path::Path| p.ends_with("cli2-1.log");
        assert_eq!(
            assert_no_pskd_in_tree(dir.path(), &["J01NME"], skip, &[]).unwrap(),
            1
        );
        std::fs::write(dir.path().join("state/b.log"), hex::encode("J01NME")).unwrap();
        assert!(assert_no_pskd_in_tree(dir.path(), &["J01NME"], skip, &[]).is_err());
        assert!(assert_no_pskd(b"xJ01NMEx", &["J01NME"], "out").is_err());
    }

    #[test]
    fn finds_leaks() {
        let k = [0xAB, 0x01, 0xFF];
        assert!(assert_no_secret("key=AB01FF", &k, "key", "log").is_err());
        assert!(assert_no_secret("ab:01:ff", &k, "key", "log").is_err());
        assert!(assert_no_secret("[171, 1, 255]", &k, "key", "log").is_err());
        assert!(assert_no_secret("nothing here", &k, "key", "log").is_ok());
    }
}
