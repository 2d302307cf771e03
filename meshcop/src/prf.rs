//! The TLS 1.2 pseudo-random function with SHA-256 (RFC 5246 §5, `P_SHA256`).
//!
//! `PRF(secret, label, seed) = P_SHA256(secret, label || seed)`, truncated to the output length.
//! Used by the DTLS code for the master secret, the key block and the Finished verify data.
//!
//! Guarantees: total for any input (HMAC accepts any key length); output fills `out` exactly.
//! The intermediate values (`A(i)` and each output block, derived from the secret) are wiped
//! before returning, and the HMAC states wipe themselves (`hmac`/`sha2` feature `zeroize`); the
//! caller owns the wiping of `out` (the DTLS code passes a `Zeroizing` buffer).
//! Validated against the known answer in `thread-facts.md` §3 (secret 9bbe43…, label "test label",
//! seed a0ba9f…, output e3f229ba…) — the widely used TLS 1.2 PRF SHA-256 test vector.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroize;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail.
    match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts any key length"),
    }
}

/// Fills `out` with `PRF(secret, label, seed)`; `seed` is given in parts that are concatenated.
pub fn prf_sha256(secret: &[u8], label: &[u8], seed: &[&[u8]], out: &mut [u8]) {
    let base = mac(secret);
    // A(1) = HMAC(secret, label || seed)
    let mut m = base.clone();
    m.update(label);
    for s in seed {
        m.update(s);
    }
    let mut a = m.finalize().into_bytes();
    for chunk in out.chunks_mut(32) {
        let mut m = base.clone();
        m.update(&a);
        m.update(label);
        for s in seed {
            m.update(s);
        }
        let mut block = m.finalize().into_bytes();
        chunk.copy_from_slice(&block[..chunk.len()]);
        block.as_mut_slice().zeroize();
        let mut m = base.clone();
        m.update(&a);
        a.as_mut_slice().zeroize();
        a = m.finalize().into_bytes();
    }
    a.as_mut_slice().zeroize();
}

/// `PRF(secret, label, seed)` as a fixed-size array.
pub fn prf<const N: usize>(secret: &[u8], label: &[u8], seed: &[&[u8]]) -> [u8; N] {
    let mut out = [0u8; N];
    prf_sha256(secret, label, seed, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer() {
        let secret = hex::decode("9bbe436ba940f017b17652849a71db35").unwrap();
        let seed = hex::decode("a0ba9f936cda311827a6f796ffd5198c").unwrap();
        let mut out = [0u8; 100];
        prf_sha256(&secret, b"test label", &[&seed], &mut out);
        let expect = "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66";
        assert_eq!(hex::encode(out), expect);
        // split seed gives the same
        let out2: [u8; 16] = prf(&secret, b"test label", &[&seed[..5], &seed[5..]]);
        assert_eq!(out2, out[..16]);
    }
}
