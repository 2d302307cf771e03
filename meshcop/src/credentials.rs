//! Thread credentials and identifiers: network key, PSKc (and its derivation from a passphrase),
//! PSKd, KEK, commissioning passphrase, Joiner ID / Joiner IID and joiner discerners.
//!
//! Implements (thread-facts §2; OpenThread `src/core/meshcop/meshcop.cpp` `GeneratePskc`,
//! `ComputeJoinerId`, `JoinerDiscerner`; `joiner.cpp` `IsPskdValid`):
//! - PSKc = PBKDF2 (RFC 8018) with PRF AES-CMAC-PRF-128 (RFC 4615), salt "Thread" || ext PAN ID ||
//!   network name, 16384 iterations, 16 bytes. PBKDF2 is written out here (one block) on top of
//!   the `cmac`/`aes` crates, because RFC 4615 first maps a key that is not 16 bytes long through
//!   AES-CMAC under the zero key, which a generic PBKDF2 cannot do.
//! - KEK = first 16 bytes of SHA-256 over the 40-byte DTLS key block.
//! - Joiner ID = SHA-256(EUI-64)[0..8] with byte 0 |= 0x02; Joiner IID = Joiner ID with bit 0x02 of
//!   byte 0 flipped.
//!
//! Guarantees: every secret type (`NetworkKey`, `Pskc`, `Pskd`, `Kek`, `Passphrase`) prints
//! `Type(<redacted>)` in `Debug` and `Display`, is zeroed on drop, and compares in constant time.
//! Parse errors never echo a secret. No function panics on any input.
//!
//! Validated against: both PSKc vectors of thread-facts §2, RFC 4615's AES-CMAC-PRF-128 vectors,
//! and the Joiner ID OpenThread's CLI prints (`joiner id`) for EUI-64 18b4300000000001.

use core::fmt;
use core::str::FromStr;

use aes::Aes128;
use cmac::{Cmac, KeyInit, Mac};
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{Error, PskdError};

/// Constant-time equality of two byte slices of equal length (length itself is not secret).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut acc = 0u8;
    for (x, y) in a.iter().zip(b) {
        acc |= x ^ y;
    }
    core::hint::black_box(acc) == 0
}

fn parse_hex16(s: &str, what: &'static str) -> Result<[u8; 16], Error> {
    let s = s.trim();
    let s = s.strip_prefix("0x").unwrap_or(s);
    let mut out = [0u8; 16];
    if s.len() != 32 {
        return Err(Error::InvalidValue {
            what,
            reason: "expected 32 hexadecimal digits",
        });
    }
    hex::decode_to_slice(s, &mut out).map_err(|_| Error::InvalidValue {
        what,
        reason: "expected 32 hexadecimal digits",
    })?;
    Ok(out)
}

/// The traits every secret newtype shares: `PartialEq` in constant time over its bytes, and
/// `Type(<redacted>)` for `Debug` and `Display`.
macro_rules! redacted {
    ($name:ident) => {
        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                ct_eq(self.0.as_ref(), other.0.as_ref())
            }
        }
        impl Eq for $name {}
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

macro_rules! secret16 {
    ($(#[$m:meta])* $name:ident, $what:literal) => {
        $(#[$m])*
        #[derive(Clone, Zeroize, ZeroizeOnDrop)]
        pub struct $name([u8; 16]);

        impl $name {
            /// Wraps 16 key bytes.
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(bytes)
            }
            /// Wraps a 16-byte slice; any other length is an error.
            pub fn from_slice(bytes: &[u8]) -> Result<Self, Error> {
                let arr: [u8; 16] = bytes.try_into().map_err(|_| Error::InvalidValue {
                    what: $what,
                    reason: "must be exactly 16 bytes",
                })?;
                Ok(Self(arr))
            }
            /// Parses 32 hex digits (optional `0x`). The error does not echo the input.
            pub fn from_hex(s: &str) -> Result<Self, Error> {
                parse_hex16(s, $what).map(Self)
            }
            /// The key bytes. Handle with care: never log them.
            pub fn as_bytes(&self) -> &[u8; 16] {
                &self.0
            }
            /// Lower-case hex of the key, for export to a trusted operator only.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
            /// 16 fresh bytes from a cryptographic random source.
            pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
                let mut b = [0u8; 16];
                rng.fill_bytes(&mut b);
                Self(b)
            }
        }
        redacted!($name);
    };
}

secret16!(
    /// The 16-byte Thread network key (secret).
    NetworkKey,
    "network key"
);
secret16!(
    /// The 16-byte Pre-Shared Key for the Commissioner (secret): the EC-JPAKE password between a
    /// commissioner and a Border Agent.
    Pskc,
    "PSKc"
);
secret16!(
    /// The 16-byte Key Encryption Key a commissioner hands to the joiner router (secret).
    Kek,
    "KEK"
);

/// PBKDF2 iteration count for the PSKc (Thread specification, OpenThread `GeneratePskc`).
pub const PSKC_ITERATIONS: u32 = 16384;

/// AES-CMAC-PRF-128 (RFC 4615 §3): a key of another length than 16 is first replaced by
/// AES-CMAC(0^128, key).
fn aes_cmac_prf_128_key(key: &[u8]) -> [u8; 16] {
    let mut k = [0u8; 16];
    if key.len() == 16 {
        k.copy_from_slice(key);
    } else {
        let mut mac = <Cmac<Aes128> as KeyInit>::new(&[0u8; 16].into());
        mac.update(key);
        k.copy_from_slice(&mac.finalize().into_bytes());
    }
    k
}

impl Pskc {
    /// Derives the PSKc from a commissioning passphrase, network name and extended PAN ID
    /// (PBKDF2-AES-CMAC-PRF-128, 16384 iterations, salt "Thread" || ext PAN ID || name).
    ///
    /// OpenThread accepts passphrases of 6..=255 bytes and names of at most 16 bytes; this function
    /// computes the PBKDF2 for any input (validate with [`Passphrase::new`] first if needed).
    pub fn derive(passphrase: &str, network_name: &str, ext_pan_id: &[u8; 8]) -> Pskc {
        Self::derive_with_iterations(
            passphrase.as_bytes(),
            network_name,
            ext_pan_id,
            PSKC_ITERATIONS,
        )
    }

    fn derive_with_iterations(
        password: &[u8],
        network_name: &str,
        ext_pan_id: &[u8; 8],
        iterations: u32,
    ) -> Pskc {
        let mut key = aes_cmac_prf_128_key(password);
        let prf = <Cmac<Aes128> as KeyInit>::new(&key.into());
        key.zeroize();

        // Block 1 only: dkLen (16) == hLen (16).
        let mut mac = prf.clone();
        mac.update(b"Thread");
        mac.update(ext_pan_id);
        mac.update(network_name.as_bytes());
        mac.update(&1u32.to_be_bytes());
        let mut u: [u8; 16] = mac.finalize().into_bytes().into();
        let mut t = u;
        for _ in 1..iterations {
            let mut mac = prf.clone();
            mac.update(&u);
            u = mac.finalize().into_bytes().into();
            for (ti, ui) in t.iter_mut().zip(u.iter()) {
                *ti ^= ui;
            }
        }
        u.zeroize();
        let out = Pskc(t);
        t.zeroize();
        out
    }
}

impl Kek {
    /// KEK = first 16 bytes of SHA-256 over the 40-byte DTLS key block.
    pub fn from_key_block(key_block: &[u8; 40]) -> Kek {
        let digest = Sha256::digest(key_block);
        let mut k = [0u8; 16];
        k.copy_from_slice(&digest[..16]);
        let out = Kek(k);
        k.zeroize();
        out
    }
}

/// A joiner's PSKd (the DTLS password between joiner and commissioner): 6..=32 characters of
/// `0-9A-Z` without `I`, `O`, `Q`, `Z`. Secret.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Pskd(String);

impl Pskd {
    /// Minimum and maximum length in characters.
    pub const MIN_LEN: usize = 6;
    pub const MAX_LEN: usize = 32;

    /// Validates and wraps a PSKd. The error names the position and the rule, never the value.
    pub fn new(s: &str) -> Result<Pskd, PskdError> {
        let len = s.chars().count();
        if len < Self::MIN_LEN {
            return Err(PskdError::TooShort { len });
        }
        if len > Self::MAX_LEN {
            return Err(PskdError::TooLong { len });
        }
        for (i, c) in s.chars().enumerate() {
            let ok = c.is_ascii_digit()
                || (c.is_ascii_uppercase() && !matches!(c, 'I' | 'O' | 'Q' | 'Z'));
            if !ok {
                return Err(if c.is_ascii_lowercase() {
                    PskdError::Lowercase { position: i + 1 }
                } else {
                    PskdError::InvalidChar { position: i + 1 }
                });
            }
        }
        Ok(Pskd(s.to_owned()))
    }
    /// The PSKd text. Handle with care: never log it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The EC-JPAKE password bytes (the ASCII characters).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl FromStr for Pskd {
    type Err = PskdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Pskd::new(s)
    }
}
redacted!(Pskd);

/// A commissioning passphrase (input to [`Pskc::derive`]). Secret.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Passphrase(String);

impl Passphrase {
    /// OpenThread's limits (`OT_COMMISSIONING_PASSPHRASE_MIN_SIZE`/`MAX_SIZE`), in bytes.
    pub const MIN_LEN: usize = 6;
    pub const MAX_LEN: usize = 255;

    /// Wraps a passphrase of 6..=255 bytes.
    pub fn new(s: impl Into<String>) -> Result<Passphrase, Error> {
        let p = Passphrase(s.into());
        let len = p.0.len();
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&len) {
            return Err(Error::InvalidValue {
                what: "passphrase",
                reason: "must be 6..=255 bytes",
            });
        }
        Ok(p)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The PSKc for this passphrase and network.
    pub fn pskc(&self, network_name: &str, ext_pan_id: &[u8; 8]) -> Pskc {
        Pskc::derive(&self.0, network_name, ext_pan_id)
    }
}
redacted!(Passphrase);

/// Joiner ID of a device: first 8 bytes of SHA-256(EUI-64), then byte 0 |= 0x02.
pub fn joiner_id(eui64: &[u8; 8]) -> [u8; 8] {
    let d = Sha256::digest(eui64);
    let mut id = [0u8; 8];
    id.copy_from_slice(&d[..8]);
    id[0] |= 0x02;
    id
}

/// The Joiner IID (as carried in RLY_RX/RLY_TX) of a Joiner ID: bit 0x02 of byte 0 flipped.
pub fn joiner_iid_from_id(id: &[u8; 8]) -> [u8; 8] {
    let mut iid = *id;
    iid[0] ^= 0x02;
    iid
}

/// The Joiner ID of a Joiner IID (inverse of [`joiner_iid_from_id`]).
pub fn joiner_id_from_iid(iid: &[u8; 8]) -> [u8; 8] {
    joiner_iid_from_id(iid)
}

/// A joiner discerner: the low `bits` (1..=64) bits of a value that identifies a joiner in place
/// of its EUI-64. Written `HEX/BITS`, e.g. `0xabc/12` or `abc/12`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Discerner {
    value: u64,
    bits: u8,
}

impl Discerner {
    /// A discerner of `bits` bits (1..=64); `value` must fit in those bits.
    pub fn new(value: u64, bits: u8) -> Result<Discerner, Error> {
        let input = || format!("{value:#x}/{bits}");
        if bits == 0 || bits > 64 {
            return Err(Error::Discerner {
                input: input(),
                reason: "bit length must be 1..=64",
            });
        }
        if bits < 64 && value >> bits != 0 {
            return Err(Error::Discerner {
                input: input(),
                reason: "value does not fit in the bit length",
            });
        }
        Ok(Discerner { value, bits })
    }
    pub fn value(&self) -> u64 {
        self.value
    }
    pub fn bits(&self) -> u8 {
        self.bits
    }
    fn mask(&self) -> u64 {
        if self.bits >= 64 {
            u64::MAX
        } else {
            (1u64 << self.bits) - 1
        }
    }
    /// The value big-endian, right-aligned in 8 zero bytes: the ID OpenThread hashes into the
    /// steering data for a discerner (`SteeringData::CalculateHashBitIndexes(JoinerDiscerner)`).
    pub fn joiner_id(&self) -> [u8; 8] {
        self.value.to_be_bytes()
    }
    /// Whether a Joiner ID carries this discerner in its low bits.
    pub fn matches(&self, joiner_id: &[u8; 8]) -> bool {
        u64::from_be_bytes(*joiner_id) & self.mask() == self.value
    }
}

impl FromStr for Discerner {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| Error::Discerner {
            input: s.chars().take(40).collect(),
            reason,
        };
        let (v, b) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| err("missing '/BITS'"))?;
        let v = v
            .strip_prefix("0x")
            .or_else(|| v.strip_prefix("0X"))
            .unwrap_or(v);
        if v.is_empty() || v.len() > 16 {
            return Err(err("value must be 1..=16 hexadecimal digits"));
        }
        let value = u64::from_str_radix(v, 16).map_err(|_| err("value is not hexadecimal"))?;
        let bits: u8 = b.parse().map_err(|_| err("bit length is not a number"))?;
        Discerner::new(value, bits).map_err(|e| match e {
            Error::Discerner { reason, .. } => err(reason),
            other => other,
        })
    }
}

impl fmt::Display for Discerner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}/{}", self.value, self.bits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pskc_vectors() {
        let p = Pskc::derive(
            "12SECRETPASSWORD34",
            "Test Network",
            &[0, 1, 2, 3, 4, 5, 6, 7],
        );
        assert_eq!(p.to_hex(), "c3f59368445a1b6106be420a706d4cc9");
        let p = Pskc::derive("123456", "OpenThread", &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(p.to_hex(), "44988e22cf652eeeccd1e4c01d0154f8");
    }

    #[test]
    fn aes_cmac_prf_rfc4615_vectors() {
        // RFC 4615 §4 test vectors: key 000102..0f (+ 10 11 12 13 / truncated to 10 bytes),
        // message 000102..12 (20 bytes).
        let msg: Vec<u8> = (0u8..20).collect();
        let prf = |key: &[u8]| {
            let k = aes_cmac_prf_128_key(key);
            let mut m = <Cmac<Aes128> as KeyInit>::new(&k.into());
            m.update(&msg);
            hex::encode(m.finalize().into_bytes())
        };
        let key18: Vec<u8> = (0u8..16).chain([0xed, 0xcb]).collect();
        assert_eq!(prf(&key18), "84a348a4a45d235babfffc0d2b4da09a");
        let key16: Vec<u8> = (0u8..16).collect();
        assert_eq!(prf(&key16), "980ae87b5f4c9c5214f5b6a8455e4c2d");
        let key10: Vec<u8> = (0u8..10).collect();
        assert_eq!(prf(&key10), "290d9e112edb09ee141fcf64c0b72f3d");
    }

    #[test]
    fn secrets_redacted() {
        let k = NetworkKey::from_bytes([0xAB; 16]);
        assert_eq!(format!("{k:?}"), "NetworkKey(<redacted>)");
        assert_eq!(format!("{k}"), "NetworkKey(<redacted>)");
        assert!(!format!("{:?}", Pskc::from_bytes([0xAB; 16])).contains("ab"));
        let d: Pskd = "J01NME".parse().unwrap();
        assert_eq!(format!("{d:?} {d}"), "Pskd(<redacted>) Pskd(<redacted>)");
        let p = Passphrase::new("secret-phrase").unwrap();
        assert!(!format!("{p:?}{p}").contains("secret"));
        assert_eq!(format!("{:?}", Kek::from_bytes([1; 16])), "Kek(<redacted>)");
    }

    #[test]
    fn key_parsing() {
        let k = NetworkKey::from_hex("31651c9861007a4098e04c6f841e7d7d").unwrap();
        assert_eq!(k.as_bytes()[0], 0x31);
        let e = NetworkKey::from_hex("31651c9861007a4098e04c6f841e7dzz").unwrap_err();
        assert!(!e.to_string().contains("31651c"));
        assert!(NetworkKey::from_slice(&[0; 15]).is_err());
        assert_eq!(
            NetworkKey::from_slice(&[7; 16]).unwrap(),
            NetworkKey::from_bytes([7; 16])
        );
        assert_ne!(
            NetworkKey::from_bytes([7; 16]),
            NetworkKey::from_bytes([8; 16])
        );
    }

    struct CountingRng(u8);
    impl rand_core::TryRng for CountingRng {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            let mut b = [0; 4];
            self.try_fill_bytes(&mut b)?;
            Ok(u32::from_le_bytes(b))
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            let mut b = [0; 8];
            self.try_fill_bytes(&mut b)?;
            Ok(u64::from_le_bytes(b))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            for b in dst {
                self.0 = self.0.wrapping_add(1);
                *b = self.0;
            }
            Ok(())
        }
    }
    impl rand_core::TryCryptoRng for CountingRng {}

    #[test]
    fn generate_uses_rng() {
        let mut rng = CountingRng(0);
        let a = NetworkKey::generate(&mut rng);
        let b = Pskc::generate(&mut rng);
        assert_eq!(a.as_bytes()[0], 1);
        assert_eq!(b.as_bytes()[0], 17);
    }

    #[test]
    fn pskd_rules() {
        assert!(Pskd::new("J01NME").is_ok());
        assert!(Pskd::new("ABCDEFGHJKLMNPRSTUVWXY0123456789").is_ok());
        assert_eq!(Pskd::new("J01NM"), Err(PskdError::TooShort { len: 5 }));
        assert_eq!(
            Pskd::new(&"A".repeat(33)),
            Err(PskdError::TooLong { len: 33 })
        );
        assert_eq!(
            Pskd::new("J01NMI"),
            Err(PskdError::InvalidChar { position: 6 })
        );
        assert_eq!(
            Pskd::new("j01nme"),
            Err(PskdError::Lowercase { position: 1 })
        );
        assert_eq!(
            Pskd::new("J01 ME"),
            Err(PskdError::InvalidChar { position: 4 })
        );
        let msg = Error::from(Pskd::new("SECRXQ").unwrap_err()).to_string();
        assert!(!msg.contains("SECRXQ"), "{msg}");
        assert!(Pskd::new("ÄÄÄÄÄÄ").is_err());
    }

    #[test]
    fn kek_from_key_block() {
        let block = [0u8; 40];
        let expect = Sha256::digest(block);
        assert_eq!(Kek::from_key_block(&block).as_bytes()[..], expect[..16]);
    }

    #[test]
    fn joiner_ids() {
        // `eui64` / `joiner id` on OpenThread's simulation CLI node 1
        let eui = [0x18, 0xb4, 0x30, 0, 0, 0, 0, 1];
        let id = joiner_id(&eui);
        assert_eq!(hex::encode(id), "cfe0d8dd4efc2973");
        let d = Sha256::digest(eui);
        assert_eq!(id[1..], d[1..8]);
        assert_eq!(id[0], d[0] | 2);
        let iid = joiner_iid_from_id(&id);
        assert_eq!(iid[0] ^ id[0], 2);
        assert_eq!(joiner_id_from_iid(&iid), id);
    }

    #[test]
    fn discerner_parse() {
        let d: Discerner = "0xabc/12".parse().unwrap();
        assert_eq!((d.value(), d.bits()), (0xabc, 12));
        assert_eq!(d, "abc/12".parse().unwrap());
        assert_eq!(d.to_string(), "0xabc/12");
        assert_eq!(d.joiner_id(), [0, 0, 0, 0, 0, 0, 0x0a, 0xbc]);
        assert!(d.matches(&[0xff, 0, 0, 0, 0, 0, 0xfa, 0xbc]));
        assert!(!d.matches(&[0xff, 0, 0, 0, 0, 0, 0xfa, 0xbd]));
        assert!("ffffffffffffffff/64".parse::<Discerner>().is_ok());
        for bad in [
            "abc",
            "abc/0",
            "abc/65",
            "abc/8",
            "/12",
            "xyz/12",
            "abc/x",
            "12345678901234567/64",
            "",
        ] {
            assert!(bad.parse::<Discerner>().is_err(), "{bad}");
        }
    }
}
