//! `BORDER_AGENT_MESHCOP_SERVICE_STATE` (OpenThread `src/ncp/ncp_base_ftd.cpp`): `bSD`, whether the
//! co-processor's Border Agent is active, its UDP port (little-endian) and the MeshCoP TXT data.
//!
//! Guarantees: [`decode_border_agent_state`] never panics; a short value is an error. The TXT
//! data is not decoded (the agent does not use it).

use crate::codec::Reader;

/// The co-processor's Border Agent as it announces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BorderAgentState {
    pub active: bool,
    pub port: u16,
}

/// Decodes the leading `bS` of a `BORDER_AGENT_MESHCOP_SERVICE_STATE` value.
pub fn decode_border_agent_state(value: &[u8]) -> Result<BorderAgentState, crate::Error> {
    let mut r = Reader::new(value);
    let active = r.bool()?;
    let port = r.u16()?;
    Ok(BorderAgentState { active, port })
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

    proptest::proptest! {
        /// Garbage never panics.
        #[test]
        fn garbage(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let _ = decode_border_agent_state(&bytes);
        }
    }
}
