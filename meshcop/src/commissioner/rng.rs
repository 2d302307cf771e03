//! [`SeededRng`]: a small deterministic CSPRNG (SHA-256 in counter mode, rekeyed after every
//! request) that gives each DTLS connection its own generator forked from the caller's, and backs
//! [`super::Commissioner::with_seed`]. Guarantees: its `Debug` shows no key material; the key is
//! zeroized on drop.

use super::*;

/// A SHA-256 counter-mode generator: block i = SHA-256(key || i); rekeyed after every request.
/// Used to give each DTLS connection its own generator forked from the caller's.
pub struct SeededRng {
    key: Zeroizing<[u8; 32]>,
    counter: u64,
}

impl fmt::Debug for SeededRng {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SeededRng(<redacted>)")
    }
}

impl SeededRng {
    /// A generator from a 32-byte secret seed.
    pub fn from_seed(seed: [u8; 32]) -> SeededRng {
        let mut seed = seed;
        let r = SeededRng {
            key: Zeroizing::new(seed),
            counter: 0,
        };
        seed.zeroize();
        r
    }
    /// A generator seeded from another one.
    pub fn fork<R: CryptoRng + ?Sized>(parent: &mut R) -> SeededRng {
        let mut seed = [0u8; 32];
        parent.fill_bytes(&mut seed);
        SeededRng::from_seed(seed)
    }
    fn block(&mut self, tag: u8) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(*self.key);
        h.update(self.counter.to_le_bytes());
        h.update([tag]);
        self.counter = self.counter.wrapping_add(1);
        h.finalize().into()
    }
}

impl TryRng for SeededRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(32) {
            let mut b = self.block(0);
            chunk.copy_from_slice(&b[..chunk.len()]);
            b.zeroize();
        }
        let k = self.block(1);
        *self.key = k;
        Ok(())
    }
}

impl TryCryptoRng for SeededRng {}
