//! `BORDER_AGENT_MESHCOP_SERVICE_STATE` (OpenThread `src/ncp/ncp_base_ftd.cpp`): `bSD`, whether the
//! co-processor's Border Agent is active, its UDP port (little-endian) and the MeshCoP TXT data
//! (`src/core/meshcop/border_agent.cpp` `PrepareServiceTxtData`: DNS TXT RDATA, RFC 6763 §6,
//! each entry one length byte and `key=value` with the value as raw bytes, binary for `xp`, `xa`,
//! `sb`, `pt`, `at`, `id`, `omr`).
//!
//! Guarantees: [`decode_border_agent_state`] and [`decode_meshcop_service`] never panic; a short
//! value, a TXT entry running past the end or a key that is empty, not printable ASCII or
//! contains `=` is an error (RFC 6763 §6.4).

use crate::codec::Reader;

/// The co-processor's Border Agent as it announces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BorderAgentState {
    pub active: bool,
    pub port: u16,
}

/// One TXT entry: the key and its value (`None` for a boolean attribute without `=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxtEntry {
    pub key: String,
    pub value: Option<Vec<u8>>,
}

/// The whole property: state and the TXT entries in the co-processor's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshcopService {
    pub state: BorderAgentState,
    pub txt: Vec<TxtEntry>,
}

impl MeshcopService {
    /// The value of `key` (TXT keys are case-insensitive), if present with a value.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.txt
            .iter()
            .find(|e| e.key.eq_ignore_ascii_case(key))
            .and_then(|e| e.value.as_deref())
    }
}

/// Decodes the leading `bS` of a `BORDER_AGENT_MESHCOP_SERVICE_STATE` value.
pub fn decode_border_agent_state(value: &[u8]) -> Result<BorderAgentState, crate::Error> {
    let mut r = Reader::new(value);
    let active = r.bool()?;
    let port = r.u16()?;
    Ok(BorderAgentState { active, port })
}

/// Decodes the whole `bSD` value, the TXT data split into entries.
pub fn decode_meshcop_service(value: &[u8]) -> Result<MeshcopService, crate::Error> {
    let mut r = Reader::new(value);
    let active = r.bool()?;
    let port = r.u16()?;
    let txt = decode_txt(r.rest())?;
    Ok(MeshcopService {
        state: BorderAgentState { active, port },
        txt,
    })
}

/// Splits DNS TXT RDATA into entries; empty strings (a TXT record with no entries is one
/// empty string) are skipped.
pub fn decode_txt(mut data: &[u8]) -> Result<Vec<TxtEntry>, crate::Error> {
    let bad = |what: &str| crate::Error::Protocol(format!("MeshCoP TXT data: {what}"));
    let mut out = Vec::new();
    while let Some((&len, rest)) = data.split_first() {
        let len = usize::from(len);
        if rest.len() < len {
            return Err(bad("entry runs past the end"));
        }
        let (entry, rest) = rest.split_at(len);
        data = rest;
        if entry.is_empty() {
            continue;
        }
        let (key, value) = match entry.iter().position(|&b| b == b'=') {
            Some(i) => (&entry[..i], Some(entry[i + 1..].to_vec())),
            None => (entry, None),
        };
        if key.is_empty() || !key.iter().all(|b| (0x20..=0x7e).contains(b)) {
            return Err(bad("key is empty or not printable ASCII"));
        }
        out.push(TxtEntry {
            // Printable ASCII checked above.
            key: String::from_utf8_lossy(key).into_owned(),
            value,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_with_and_without_txt() {
        let s = decode_border_agent_state(&[1, 0xd1, 0xc0, 2, 0, b'a', b'b']).unwrap();
        assert_eq!(
            s,
            BorderAgentState {
                active: true,
                port: 0xc0d1
            }
        );
        assert!(!decode_border_agent_state(&[0, 0, 0]).unwrap().active);
        assert!(decode_border_agent_state(&[1, 0xd1]).is_err());
        assert!(decode_border_agent_state(&[]).is_err());
    }

    #[test]
    fn txt_entries_binary_values_kept() {
        let mut v = vec![1, 0x34, 0x12];
        v.extend_from_slice(b"\x04rv=1");
        v.extend_from_slice(b"\x0bxp=\x00\x01\x02\x03\x04\x05\x06\x3d");
        v.extend_from_slice(b"\x07sb=\x00\x00\x00\x31");
        v.push(0); // an empty string is skipped
        v.extend_from_slice(b"\x04flag");
        let s = decode_meshcop_service(&v).unwrap();
        assert_eq!(s.state.port, 0x1234);
        assert_eq!(s.txt.len(), 4);
        assert_eq!(s.get("rv"), Some(&b"1"[..]));
        // A value containing `=` (0x3d) is kept whole: only the first `=` splits.
        assert_eq!(s.get("XP"), Some(&[0, 1, 2, 3, 4, 5, 6, 0x3d][..]));
        assert_eq!(s.get("sb"), Some(&[0, 0, 0, 0x31][..]));
        assert_eq!(
            s.txt[3],
            TxtEntry {
                key: "flag".into(),
                value: None
            }
        );
        assert_eq!(s.get("flag"), None);
        assert!(decode_meshcop_service(&[1, 0, 0]).unwrap().txt.is_empty());
    }

    #[test]
    fn malformed_txt_is_an_error() {
        assert!(decode_txt(b"\x05rv=1").is_err()); // runs past the end
        assert!(decode_txt(b"\x02=1").is_err()); // empty key
        assert!(decode_txt(b"\x04r\x01=1").is_err()); // control character in the key
        assert!(decode_txt(b"\x04r\xc3=1").is_err()); // not ASCII
    }

    proptest::proptest! {
        /// Garbage never panics.
        #[test]
        fn garbage(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = decode_border_agent_state(&bytes);
            if let Ok(s) = decode_meshcop_service(&bytes) {
                for e in &s.txt {
                    proptest::prop_assert!(!e.key.is_empty() && !e.key.contains('='));
                }
            }
        }
    }
}
