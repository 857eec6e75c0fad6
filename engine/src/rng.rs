//! Seeded randomness, forked per component.
//!
//! One master seed per run. Every component (a container's start-up draw, a
//! network's jitter and loss, the DNS shuffle for one asker) gets its own
//! ChaCha stream, selected by a stable hash of the component's *name*, so
//! adding a container never changes the draws of another.
//! Invariant: nothing in the engine uses OS-seeded randomness.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// A deterministic random stream for one component.
#[derive(Clone, Debug)]
pub struct Rng(ChaCha8Rng);

/// FNV-1a, 64 bit: a stable hash of a component name (never std's hasher,
/// whose output may change between Rust releases).
pub fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl Rng {
    /// The stream of component `name` under master seed `seed`.
    pub fn fork(seed: u64, name: &str) -> Rng {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        r.set_stream(stable_hash(name));
        Rng(r)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in [0, n). `n` must be non-zero.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }

    /// Standard normal draw (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(f64::MIN_POSITIVE);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let a: Vec<u64> = (0..4).map(|_| Rng::fork(7, "db").next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
    }

    #[test]
    fn streams_differ_by_name_and_seed() {
        assert_ne!(Rng::fork(7, "db").next_u64(), Rng::fork(7, "api").next_u64());
        assert_ne!(Rng::fork(7, "db").next_u64(), Rng::fork(8, "db").next_u64());
    }

    #[test]
    fn below_and_unit_stay_in_range() {
        let mut r = Rng::fork(1, "x");
        for _ in 0..1000 {
            assert!(r.below(3) < 3);
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
        }
    }
}
