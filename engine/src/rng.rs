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
///
/// The ChaCha state (320 bytes) is made on the first draw: most
/// components never draw (a container with a fixed start-up delay and a
/// program that draws nothing, a DNS asker whose answers hold one
/// address), and where the stream starts depends only on the seed and the
/// name's hash, so when it is made changes no draw.
#[derive(Clone, Debug)]
pub struct Rng {
    core: Option<Box<ChaCha8Rng>>,
    seed: u64,
    stream: u64,
}

/// FNV-1a, 64 bit: a stable hash of a component name (never std's hasher,
/// whose output may change between Rust releases).
pub fn stable_hash(s: &str) -> u64 {
    stable_hash_parts(&[s])
}

/// [`stable_hash`] of the parts' concatenation, without building it.
pub fn stable_hash_parts(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in parts.iter().flat_map(|p| p.as_bytes()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl Rng {
    /// The stream of component `name` under master seed `seed`.
    pub fn fork(seed: u64, name: &str) -> Rng {
        Rng::fork_parts(seed, &[name])
    }

    /// The stream of the component named by the parts' concatenation
    /// (`["ctr/", name]`), without building the name.
    pub fn fork_parts(seed: u64, parts: &[&str]) -> Rng {
        Rng { core: None, seed, stream: stable_hash_parts(parts) }
    }

    pub fn next_u64(&mut self) -> u64 {
        let (seed, stream) = (self.seed, self.stream);
        let core = self.core.get_or_insert_with(|| {
            let mut r = ChaCha8Rng::seed_from_u64(seed);
            r.set_stream(stream);
            Box::new(r)
        });
        core.next_u64()
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

    /// The lazily made stream is the one made at once: ChaCha seeded from
    /// the seed, on the name's stream; parts hash as their concatenation.
    #[test]
    fn the_lazy_stream_is_the_eager_one() {
        let mut eager = ChaCha8Rng::seed_from_u64(42);
        eager.set_stream(stable_hash("ctr/api"));
        let mut lazy = Rng::fork_parts(42, &["ctr/", "api"]);
        assert!((0..100).all(|_| lazy.next_u64() == eager.next_u64()));
        assert_eq!(stable_hash_parts(&["dns/", "db"]), stable_hash("dns/db"));
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
