//! Helpers for tests, benchmarks and fuzz targets: a deterministic random source. Hidden from
//! the docs and not part of the stable API.
//!
//! Guarantees reproducibility only (same seed, same bytes), never secrecy: never use it for keys.

/// A fixed xorshift64 generator (shifts 13, 7, 17). A zero seed yields only zeros.
pub struct XorShiftRng(pub u64);

impl rand_core::TryRng for XorShiftRng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Ok(self.0)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for c in dst.chunks_mut(8) {
            let v = self.try_next_u64()?.to_le_bytes();
            c.copy_from_slice(&v[..c.len()]);
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for XorShiftRng {}
