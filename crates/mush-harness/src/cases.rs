//! A small deterministic generator (xorshift64*) for property tests: thousands of cases,
//! the same ones on every run, so a failure names its case and reproduces.

/// The generator; seed it with any nonzero value.
#[derive(Debug, Clone)]
pub struct Cases(pub u64);

impl Cases {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}
