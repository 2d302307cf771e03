//! DNS TXT RDATA (RFC 6763 §6): a sequence of length-prefixed strings, each `key=value`, `key`
//! (a boolean attribute) or `key=` (empty value). Values are bytes and stay bytes.
//!
//! Guarantees: [`decode`] never panics; a string running past the end, an empty key or a key
//! that is not printable ASCII is an error. An empty RDATA and the single empty string that
//! stands for "no TXT" (`\0`) are no entries. Only the first occurrence of a key counts (RFC
//! 6763 §6.4, compared case-insensitively).

/// One TXT entry: key and value (`None`: the key stands alone).
pub(crate) type Entry = (String, Option<Vec<u8>>);

/// Decodes TXT RDATA into its entries.
pub(crate) fn decode(rdata: &[u8]) -> Result<Vec<Entry>, String> {
    let mut out: Vec<Entry> = Vec::new();
    let mut rest = rdata;
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len);
        if tail.len() < len {
            return Err(format!(
                "TXT string of {len} bytes runs past the end ({} left)",
                tail.len()
            ));
        }
        let (s, tail) = tail.split_at(len);
        rest = tail;
        if s.is_empty() {
            continue;
        }
        let (key, value) = match s.iter().position(|&b| b == b'=') {
            Some(i) => (&s[..i], Some(s[i + 1..].to_vec())),
            None => (s, None),
        };
        if key.is_empty() || !key.iter().all(|b| (0x20..=0x7e).contains(b)) {
            return Err("TXT key empty or not printable ASCII".into());
        }
        let key = String::from_utf8_lossy(key).into_owned();
        if !out.iter().any(|(k, _)| k.eq_ignore_ascii_case(&key)) {
            out.push((key, value));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_binary_and_flags() {
        let rdata = b"\x03a=b\x04flag\x05bin=\xff\x02c=\x05A=dup";
        let e = decode(rdata).unwrap();
        assert_eq!(
            e,
            vec![
                ("a".to_string(), Some(b"b".to_vec())),
                ("flag".to_string(), None),
                ("bin".to_string(), Some(vec![0xff])),
                ("c".to_string(), Some(Vec::new())),
            ]
        );
        assert!(decode(b"").unwrap().is_empty());
        assert!(decode(b"\0").unwrap().is_empty());
        assert!(decode(b"\x05ab").is_err());
        assert!(decode(b"\x02=x").is_err());
        assert!(decode(b"\x03\x01=x").is_err());
    }

    proptest::proptest! {
        #[test]
        fn garbage(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = decode(&bytes);
        }
    }
}
