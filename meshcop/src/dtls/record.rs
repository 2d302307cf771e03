//! DTLS 1.2 record layer (RFC 6347 §4.1) for `TLS_ECJPAKE_WITH_AES_128_CCM_8`: the 13-byte record
//! header, AES-128-CCM-8 protection (`thread-facts.md` §3: nonce = IV(4) || epoch(2) || seq(6), the
//! 8 explicit nonce bytes precede the ciphertext, 8-byte tag, AAD = epoch||seq || type || FE FD ||
//! plaintext length) and the 64-record anti-replay window (RFC 6347 §4.1.2.6).
//!
//! Guarantees: [`parse_records`] never panics; a malformed record ends the datagram (the rest is
//! dropped, as Mbed TLS does). [`CipherState::open`] returns `None` for any forgery.

use aes::Aes128;
use ccm::aead::{AeadInOut, KeyInit};
use ccm::consts::{U12, U8};
use ccm::Ccm;

/// Record content types.
pub const CT_CHANGE_CIPHER_SPEC: u8 = 20;
/// Alert.
pub const CT_ALERT: u8 = 21;
/// Handshake.
pub const CT_HANDSHAKE: u8 = 22;
/// Application data.
pub const CT_APPLICATION_DATA: u8 = 23;
/// DTLS 1.2 on the wire.
pub const DTLS_1_2: u16 = 0xfefd;
/// DTLS 1.0 (accepted in the record layer of a first ClientHello).
pub const DTLS_1_0: u16 = 0xfeff;
/// Record header length.
pub const HEADER_LEN: usize = 13;
/// Explicit nonce + tag added by AES-128-CCM-8.
pub const AEAD_OVERHEAD: usize = 8 + 8;
/// Largest sequence number (48 bits).
pub const MAX_SEQ: u64 = (1 << 48) - 1;

type Aes128Ccm8 = Ccm<Aes128, U8, U12>;

/// One record as found in a datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// Content type.
    pub content_type: u8,
    /// Protocol version field.
    pub version: u16,
    /// Epoch (0 plaintext, 1 after ChangeCipherSpec).
    pub epoch: u16,
    /// 48-bit sequence number.
    pub seq: u64,
    /// Fragment (ciphertext when epoch > 0).
    pub fragment: &'a [u8],
}

impl Record<'_> {
    /// Serialises a record with this header and `fragment`.
    pub fn encode(content_type: u8, epoch: u16, seq: u64, fragment: &[u8], out: &mut Vec<u8>) {
        out.push(content_type);
        out.extend_from_slice(&DTLS_1_2.to_be_bytes());
        out.extend_from_slice(&epoch.to_be_bytes());
        out.extend_from_slice(&seq.to_be_bytes()[2..]);
        out.extend_from_slice(&(fragment.len() as u16).to_be_bytes());
        out.extend_from_slice(fragment);
    }
}

/// Splits a datagram into records. Stops at the first malformed record (it and the rest are dropped).
pub fn parse_records(datagram: &[u8]) -> Vec<Record<'_>> {
    let mut out = Vec::new();
    let mut rest = datagram;
    while rest.len() >= HEADER_LEN {
        let len = u16::from_be_bytes([rest[11], rest[12]]) as usize;
        if rest.len() < HEADER_LEN + len {
            break;
        }
        let mut seq = [0u8; 8];
        seq[2..].copy_from_slice(&rest[5..11]);
        out.push(Record {
            content_type: rest[0],
            version: u16::from_be_bytes([rest[1], rest[2]]),
            epoch: u16::from_be_bytes([rest[3], rest[4]]),
            seq: u64::from_be_bytes(seq),
            fragment: &rest[HEADER_LEN..HEADER_LEN + len],
        });
        rest = &rest[HEADER_LEN + len..];
    }
    out
}

/// One direction's AES-128-CCM-8 key and implicit IV. Wiped on drop: the AES key schedule by
/// `aes` itself (feature `zeroize`; `Ccm` holds nothing else), the IV here.
pub struct CipherState {
    aead: Aes128Ccm8,
    iv: [u8; 4],
}

impl Drop for CipherState {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.iv);
    }
}

impl zeroize::ZeroizeOnDrop for CipherState {}

impl core::fmt::Debug for CipherState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CipherState(<redacted>)")
    }
}

fn aad(epoch: u16, seq: u64, content_type: u8, len: usize) -> [u8; 13] {
    let mut a = [0u8; 13];
    a[..2].copy_from_slice(&epoch.to_be_bytes());
    a[2..8].copy_from_slice(&seq.to_be_bytes()[2..]);
    a[8] = content_type;
    a[9..11].copy_from_slice(&DTLS_1_2.to_be_bytes());
    a[11..13].copy_from_slice(&(len as u16).to_be_bytes());
    a
}

impl CipherState {
    /// A cipher for `key` and implicit `iv` (from the key block).
    pub fn new(key: &[u8; 16], iv: &[u8; 4]) -> Self {
        CipherState {
            aead: Aes128Ccm8::new(key.into()),
            iv: *iv,
        }
    }

    fn nonce(&self, explicit: &[u8; 8]) -> [u8; 12] {
        let mut n = [0u8; 12];
        n[..4].copy_from_slice(&self.iv);
        n[4..].copy_from_slice(explicit);
        n
    }

    /// Encrypts `plaintext` and appends the whole record (header included) to `out`.
    pub fn seal(
        &self,
        content_type: u8,
        epoch: u16,
        seq: u64,
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) {
        let mut explicit = [0u8; 8];
        explicit[..2].copy_from_slice(&epoch.to_be_bytes());
        explicit[2..].copy_from_slice(&seq.to_be_bytes()[2..]);
        let mut frag = Vec::with_capacity(plaintext.len() + AEAD_OVERHEAD);
        frag.extend_from_slice(&explicit);
        frag.extend_from_slice(plaintext);
        let nonce = self.nonce(&explicit);
        let a = aad(epoch, seq, content_type, plaintext.len());
        // CCM encryption of a record-sized message cannot fail (length far below the CCM limit).
        let tag = match self
            .aead
            .encrypt_inout_detached(&nonce.into(), &a, (&mut frag[8..]).into())
        {
            Ok(t) => t,
            Err(_) => return,
        };
        frag.extend_from_slice(&tag);
        Record::encode(content_type, epoch, seq, &frag, out);
    }

    /// Decrypts and authenticates a protected record; `None` if it is not authentic.
    pub fn open(&self, rec: &Record<'_>) -> Option<Vec<u8>> {
        let f = rec.fragment;
        if f.len() < AEAD_OVERHEAD {
            return None;
        }
        let mut explicit = [0u8; 8];
        explicit.copy_from_slice(&f[..8]);
        let (body, tag) = f[8..].split_at(f.len() - AEAD_OVERHEAD);
        let mut plain = body.to_vec();
        let nonce = self.nonce(&explicit);
        let a = aad(rec.epoch, rec.seq, rec.content_type, plain.len());
        let tag: [u8; 8] = tag.try_into().ok()?;
        self.aead
            .decrypt_inout_detached(&nonce.into(), &a, (&mut plain[..]).into(), &tag.into())
            .ok()?;
        Some(plain)
    }
}

/// The 64-record sliding anti-replay window of one epoch.
#[derive(Debug, Default, Clone)]
pub struct ReplayWindow {
    top: Option<u64>,
    bits: u64,
}

impl ReplayWindow {
    /// Whether `seq` is new (not seen and not older than the window).
    pub fn is_fresh(&self, seq: u64) -> bool {
        match self.top {
            None => true,
            Some(top) if seq > top => true,
            Some(top) => {
                let d = top - seq;
                d < 64 && self.bits & (1u64 << d) == 0
            }
        }
    }

    /// Marks `seq` as seen (call only after the record authenticated).
    pub fn mark(&mut self, seq: u64) {
        match self.top {
            None => {
                self.top = Some(seq);
                self.bits = 1;
            }
            Some(top) if seq > top => {
                let shift = seq - top;
                self.bits = if shift >= 64 { 0 } else { self.bits << shift };
                self.bits |= 1;
                self.top = Some(seq);
            }
            Some(top) => {
                let d = top - seq;
                if d < 64 {
                    self.bits |= 1u64 << d;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_roundtrip_and_tamper() {
        let c = CipherState::new(&[7u8; 16], &[1, 2, 3, 4]);
        let mut out = Vec::new();
        c.seal(CT_APPLICATION_DATA, 1, 5, b"hello", &mut out);
        assert_eq!(out.len(), HEADER_LEN + 5 + AEAD_OVERHEAD);
        let recs = parse_records(&out);
        assert_eq!(recs.len(), 1);
        assert_eq!(c.open(&recs[0]).unwrap(), b"hello");
        for i in 0..out.len() {
            let mut t = out.clone();
            t[i] ^= 0x40;
            if let Some(r) = parse_records(&t).first() {
                assert!(c.open(r).is_none() || i == 1 || i == 2, "byte {i}");
            }
        }
    }

    /// Issue 10: the key material types wipe themselves. Does not compile without the `aes`
    /// feature `zeroize` (`Aes128` is then not `ZeroizeOnDrop`).
    #[test]
    fn key_material_is_zeroize_on_drop() {
        fn wipes<T: zeroize::ZeroizeOnDrop>() {}
        wipes::<Aes128>();
        wipes::<CipherState>();
        wipes::<zeroize::Zeroizing<[u8; 48]>>();
    }

    #[test]
    fn replay_window() {
        let mut w = ReplayWindow::default();
        for s in [5u64, 3, 70, 69, 7] {
            assert!(w.is_fresh(s));
            w.mark(s);
            assert!(!w.is_fresh(s));
        }
        assert!(!w.is_fresh(5), "older than the window");
        assert!(w.is_fresh(68));
        assert!(w.is_fresh(200));
    }

    #[test]
    fn truncated_records_are_dropped() {
        let mut out = Vec::new();
        Record::encode(CT_HANDSHAKE, 0, 1, &[1, 2, 3], &mut out);
        Record::encode(CT_HANDSHAKE, 0, 2, &[4, 5, 6], &mut out);
        assert_eq!(parse_records(&out).len(), 2);
        assert_eq!(parse_records(&out[..out.len() - 1]).len(), 1);
    }
}
