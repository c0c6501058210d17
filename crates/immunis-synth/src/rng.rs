//! Deterministic, portable pseudo-random numbers.
//!
//! The generator is SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, passes
//! BigCrush, and — unlike an external crate — its output can never change under
//! us, so a seed reproduces the same population on every machine and release.
//! Streams are derived with [`Rng::derive`] so every family gets its own
//! independent sequence (generation order never shifts other families).

/// The SplitMix64 output function: a bijection on `u64` with good avalanche.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// A SplitMix64 stream.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng {
            state: mix64(seed ^ GOLDEN),
        }
    }

    /// An independent stream for (`seed`, `stream`, `index`).
    pub fn derive(seed: u64, stream: u64, index: u64) -> Rng {
        let a = mix64(seed.wrapping_add(GOLDEN));
        let b = mix64(a ^ stream.wrapping_mul(0xd1b5_4a32_d192_ed03));
        Rng::new(mix64(b ^ index.wrapping_mul(0x8cb9_2ba7_2f3d_8dd7)))
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix64(self.state)
    }

    /// Uniform in `0..n` (0 when `n == 0`), by multiply-shift (bias < 2^-32 for
    /// the small `n` used here).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi` (returns `lo` if `hi < lo`).
    #[inline]
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = (hi - lo) as u64 + 1;
        lo + self.below(span) as i64
    }

    /// Uniform in `[0, 1)`.
    #[inline]
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            items.get(self.below(items.len() as u64) as usize)
        }
    }

    /// Exponentially distributed with the given mean (for delays).
    pub fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.f64()).ln()
    }
}

/// Sampling by cumulative weights (binary search).
#[derive(Debug, Clone, Default)]
pub struct Weighted {
    cumulative: Vec<u64>,
}

impl Weighted {
    pub fn new(weights: impl IntoIterator<Item = u64>) -> Weighted {
        let mut total = 0u64;
        let cumulative = weights
            .into_iter()
            .map(|w| {
                total += w;
                total
            })
            .collect();
        Weighted { cumulative }
    }

    pub fn total(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// An index with probability proportional to its weight; `None` if all weights are 0.
    pub fn sample(&self, rng: &mut Rng) -> Option<usize> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let x = rng.below(total);
        Some(self.cumulative.partition_point(|&c| c <= x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| Rng::derive(1, 2, 3).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            Rng::derive(1, 2, 3).next_u64(),
            Rng::derive(1, 2, 4).next_u64()
        );
        assert_ne!(
            Rng::derive(1, 2, 3).next_u64(),
            Rng::derive(2, 2, 3).next_u64()
        );
    }

    #[test]
    fn below_and_range_stay_in_bounds() {
        let mut r = Rng::new(7);
        for _ in 0..10_000 {
            assert!(r.below(10) < 10);
            let x = r.range(-3, 3);
            assert!((-3..=3).contains(&x));
            let f = r.f64();
            assert!((0.0..1.0).contains(&f));
        }
        assert_eq!(r.below(0), 0);
        assert_eq!(r.range(5, 2), 5);
    }

    #[test]
    fn weighted_follows_weights() {
        let w = Weighted::new([1, 0, 3]);
        let mut r = Rng::new(42);
        let mut counts = [0u32; 3];
        for _ in 0..40_000 {
            if let Some(i) = w.sample(&mut r) {
                counts[i] += 1;
            }
        }
        assert_eq!(counts[1], 0);
        let ratio = f64::from(counts[2]) / f64::from(counts[0]);
        assert!((2.7..3.3).contains(&ratio), "ratio {ratio}");
        assert_eq!(Weighted::new([0, 0]).sample(&mut r), None);
    }

    #[test]
    fn mix64_is_a_bijection_on_a_sample() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..100_000u64 {
            assert!(seen.insert(mix64(i)));
        }
    }
}
