//! HDLC-lite framing as used by OpenThread between host and co-processor (RFC 1662 style;
//! OpenThread `src/lib/hdlc/hdlc.cpp`, thread-facts §1). No I/O.
//!
//! - [`encode`] appends `7E`, the escaped payload, the escaped FCS (CRC-16/X.25, little-endian)
//!   and a closing `7E`. Escaped bytes: `7E 7D 11 13 F8` (sent as `7D`, byte XOR `20`).
//! - [`Decoder`] takes one byte at a time. Bytes before the first flag are ignored (counted as
//!   garbage), a frame ends at the next flag. Frames with a bad FCS, shorter than the 2-byte FCS,
//!   or longer than `max_frame_len` payload bytes are dropped and counted; the decoder then
//!   resynchronises at the next flag. It never panics and never grows beyond
//!   `max_frame_len + 2` bytes of buffer.
//!
//! Validated against hand-computed frames (see the tests) and against frames exchanged with the
//! OpenThread simulation NCP (`ot-ncp-ftd`), see `tests/sim_ncp.rs`.

/// HDLC flag byte: ends (and may start) every frame.
pub const FLAG: u8 = 0x7E;
/// HDLC escape byte: the next byte is XORed with [`ESCAPE_XOR`].
pub const ESCAPE: u8 = 0x7D;
/// Value XORed into an escaped byte.
pub const ESCAPE_XOR: u8 = 0x20;
/// Default maximum payload length accepted by [`Decoder::default`] (OpenThread's NCP frames are
/// at most 1300 bytes; this leaves room).
pub const DEFAULT_MAX_FRAME_LEN: usize = 2048;

const FCS_INIT: u16 = 0xFFFF;
const FCS_GOOD: u16 = 0xF0B8;

const FCS_TABLE: [u16; 256] = {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u16;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x8408
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

#[inline]
fn fcs_update(fcs: u16, byte: u8) -> u16 {
    (fcs >> 8) ^ FCS_TABLE[((fcs ^ byte as u16) & 0xFF) as usize]
}

/// CRC-16/X.25 (the HDLC FCS) of `data`: reflected poly 0x8408, init 0xFFFF, final XOR 0xFFFF.
pub fn fcs(data: &[u8]) -> u16 {
    !data.iter().fold(FCS_INIT, |f, &b| fcs_update(f, b))
}

#[inline]
fn needs_escape(byte: u8) -> bool {
    matches!(byte, 0x7E | 0x7D | 0x11 | 0x13 | 0xF8)
}

#[inline]
fn push_escaped(out: &mut Vec<u8>, byte: u8) {
    if needs_escape(byte) {
        out.push(ESCAPE);
        out.push(byte ^ ESCAPE_XOR);
    } else {
        out.push(byte);
    }
}

/// Appends one HDLC-lite frame carrying `payload` to `out`:
/// flag, escaped payload, escaped FCS (little-endian), flag.
pub fn encode(payload: &[u8], out: &mut Vec<u8>) {
    out.reserve(payload.len() + payload.len() / 8 + 6);
    out.push(FLAG);
    let mut f = FCS_INIT;
    for &b in payload {
        f = fcs_update(f, b);
        push_escaped(out, b);
    }
    let f = !f;
    push_escaped(out, (f & 0xFF) as u8);
    push_escaped(out, (f >> 8) as u8);
    out.push(FLAG);
}

/// Why a received frame was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HdlcError {
    /// The frame check sequence did not match.
    #[error("HDLC frame with bad FCS")]
    BadFcs,
    /// The frame was longer than the decoder's maximum.
    #[error("HDLC frame too long")]
    TooLong,
    /// The frame was shorter than its 2-byte FCS.
    #[error("HDLC frame too short")]
    TooShort,
}

/// Counters kept by a [`Decoder`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecoderStats {
    /// Frames delivered with a good FCS.
    pub frames: u64,
    /// Frames dropped for a bad FCS.
    pub bad_fcs: u64,
    /// Frames dropped for exceeding the maximum length.
    pub too_long: u64,
    /// Frames dropped for being shorter than 2 bytes.
    pub too_short: u64,
    /// Bytes ignored before the first flag (not part of any frame).
    pub garbage_bytes: u64,
}

/// Incremental HDLC-lite decoder. Feed it received bytes with [`Decoder::push`].
#[derive(Debug, Clone)]
pub struct Decoder {
    max_frame_len: usize,
    buf: Vec<u8>,
    fcs: u16,
    synced: bool,
    escaped: bool,
    overflow: bool,
    stats: DecoderStats,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME_LEN)
    }
}

impl Decoder {
    /// A decoder that accepts payloads up to `max_frame_len` bytes (FCS not included).
    pub fn new(max_frame_len: usize) -> Self {
        Decoder {
            max_frame_len,
            buf: Vec::with_capacity(max_frame_len.min(4096) + 2),
            fcs: FCS_INIT,
            synced: false,
            escaped: false,
            overflow: false,
            stats: DecoderStats::default(),
        }
    }

    /// Feeds one received byte. Returns `Some(Ok(payload))` when a frame with a good FCS ends
    /// (the FCS is removed), `Some(Err(_))` when a frame ends that was dropped (also counted
    /// in [`Decoder::stats`]), `None` otherwise. Empty frames (two flags in a row) are skipped.
    pub fn push(&mut self, byte: u8) -> Option<Result<Vec<u8>, HdlcError>> {
        if byte == FLAG {
            let was_synced = self.synced;
            self.synced = true;
            let result = if !was_synced {
                None
            } else if self.overflow {
                self.stats.too_long += 1;
                Some(Err(HdlcError::TooLong))
            } else if self.buf.is_empty() && !self.escaped {
                None
            } else if self.buf.len() < 2 {
                self.stats.too_short += 1;
                Some(Err(HdlcError::TooShort))
            } else if self.fcs != FCS_GOOD || self.escaped {
                self.stats.bad_fcs += 1;
                Some(Err(HdlcError::BadFcs))
            } else {
                self.stats.frames += 1;
                let mut frame = std::mem::take(&mut self.buf);
                frame.truncate(frame.len() - 2);
                self.buf = Vec::with_capacity(self.max_frame_len.min(4096) + 2);
                Some(Ok(frame))
            };
            self.reset_frame();
            return result;
        }
        if !self.synced {
            self.stats.garbage_bytes += 1;
            return None;
        }
        if self.overflow {
            return None;
        }
        if byte == ESCAPE {
            self.escaped = true;
            return None;
        }
        let byte = if self.escaped {
            byte ^ ESCAPE_XOR
        } else {
            byte
        };
        self.escaped = false;
        if self.buf.len() >= self.max_frame_len.saturating_add(2) {
            self.overflow = true;
            self.buf.clear();
            return None;
        }
        self.fcs = fcs_update(self.fcs, byte);
        self.buf.push(byte);
        None
    }

    /// Feeds a slice of bytes, calling `on_frame` for each finished frame or dropped frame.
    pub fn push_slice(
        &mut self,
        bytes: &[u8],
        mut on_frame: impl FnMut(Result<Vec<u8>, HdlcError>),
    ) {
        for &b in bytes {
            if let Some(r) = self.push(b) {
                on_frame(r);
            }
        }
    }

    /// Counters since creation.
    pub fn stats(&self) -> DecoderStats {
        self.stats
    }

    fn reset_frame(&mut self) {
        self.buf.clear();
        self.fcs = FCS_INIT;
        self.escaped = false;
        self.overflow = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(d: &mut Decoder, bytes: &[u8]) -> Vec<Result<Vec<u8>, HdlcError>> {
        let mut v = Vec::new();
        d.push_slice(bytes, |r| v.push(r));
        v
    }

    #[test]
    fn fcs_check_value() {
        // CRC-16/X.25 check value over "123456789".
        assert_eq!(fcs(b"123456789"), 0x906E);
    }

    #[test]
    fn encode_get_protocol_version() {
        // PROP_VALUE_GET(PROTOCOL_VERSION), TID 1: 81 02 01. FCS = 0xB2C5 (computed with the bitwise
        // algorithm in Python, independent of the table here), sent little-endian: C5 B2.
        let mut out = Vec::new();
        encode(&[0x81, 0x02, 0x01], &mut out);
        assert_eq!(fcs(&[0x81, 0x02, 0x01]), 0xB2C5);
        assert_eq!(out, [0x7E, 0x81, 0x02, 0x01, 0xC5, 0xB2, 0x7E]);
    }

    #[test]
    fn encode_escapes() {
        let mut out = Vec::new();
        encode(&[0x7E, 0x7D, 0x11, 0x13, 0xF8, 0x00], &mut out);
        let f = fcs(&[0x7E, 0x7D, 0x11, 0x13, 0xF8, 0x00]);
        let mut expect = vec![
            0x7E, 0x7D, 0x5E, 0x7D, 0x5D, 0x7D, 0x31, 0x7D, 0x33, 0x7D, 0xD8, 0x00,
        ];
        for b in f.to_le_bytes() {
            if needs_escape(b) {
                expect.extend([0x7D, b ^ 0x20]);
            } else {
                expect.push(b);
            }
        }
        expect.push(0x7E);
        assert_eq!(out, expect);
        let mut d = Decoder::new(64);
        assert_eq!(
            decode_all(&mut d, &out),
            vec![Ok(vec![0x7E, 0x7D, 0x11, 0x13, 0xF8, 0x00])]
        );
    }

    #[test]
    fn decode_with_garbage_and_errors() {
        let mut d = Decoder::new(8);
        let mut bytes = vec![0x01, 0x02, 0x03]; // garbage before first flag
        encode(&[0x81, 0x02, 0x01], &mut bytes);
        bytes.extend([0x7E, 0x42, 0x7E]); // too short
        bytes.extend([0x81, 0x02, 0x01, 0x00, 0x00, 0x7E]); // bad FCS
        encode(&[0u8; 9], &mut bytes); // too long for max 8
        encode(&[0x80, 0x06, 0x00, 0x72], &mut bytes);
        let got = decode_all(&mut d, &bytes);
        assert_eq!(
            got,
            vec![
                Ok(vec![0x81, 0x02, 0x01]),
                Err(HdlcError::TooShort),
                Err(HdlcError::BadFcs),
                Err(HdlcError::TooLong),
                Ok(vec![0x80, 0x06, 0x00, 0x72]),
            ]
        );
        let s = d.stats();
        assert_eq!(
            (
                s.frames,
                s.bad_fcs,
                s.too_long,
                s.too_short,
                s.garbage_bytes
            ),
            (2, 1, 1, 1, 3)
        );
    }

    #[test]
    fn decode_exactly_max_len() {
        let mut d = Decoder::new(8);
        let mut bytes = Vec::new();
        encode(&[0xAAu8; 8], &mut bytes);
        assert_eq!(decode_all(&mut d, &bytes), vec![Ok(vec![0xAA; 8])]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512), max in 0usize..64) {
            let mut d = Decoder::new(max);
            for b in bytes { let _ = d.push(b); }
        }

        #[test]
        fn round_trip(payload in proptest::collection::vec(any::<u8>(), 0..300), junk in proptest::collection::vec(any::<u8>(), 0..20)) {
            let mut bytes = junk.clone();
            bytes.push(FLAG);
            encode(&payload, &mut bytes);
            let mut d = Decoder::new(300);
            let frames: Vec<_> = decode_all(&mut d, &bytes).into_iter().filter_map(|r| r.ok()).collect();
            prop_assert_eq!(frames.last(), Some(&payload));
        }
    }
}
