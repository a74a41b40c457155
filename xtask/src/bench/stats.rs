//! The few statistics the benchmark and the load test report: nearest-rank
//! percentiles, the median of repeated series with its spread, and the
//! shuffled order the series run in.

use std::time::Duration;

/// The nearest-rank percentile of sorted samples (zero when there are none).
pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One value measured once per series, summarised over the series: the
/// median says what a run gives, the minimum and maximum how far runs differ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// The median of the per-series values.
    pub median: f64,
    /// The smallest per-series value.
    pub min: f64,
    /// The largest per-series value.
    pub max: f64,
}

impl Spread {
    /// Summarises one value per series; `None` when there is none.
    pub fn of(values: &[f64]) -> Option<Self> {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_by(f64::total_cmp);
        let middle = sorted.len() / 2;
        let median = if sorted.len().is_multiple_of(2) {
            (sorted[middle - 1] + sorted[middle]) / 2.0
        } else {
            sorted[middle]
        };
        Some(Self {
            median,
            min: sorted[0],
            max: sorted[sorted.len() - 1],
        })
    }
}

/// A small, seeded generator (SplitMix64) for the order the cases of a
/// series run in: a run can be repeated exactly with the same `--seed`, and
/// no case always runs first, on a cold machine, or last, on a warm one.
#[derive(Debug, Clone)]
pub struct Shuffle {
    state: u64,
}

impl Shuffle {
    /// A generator that starts from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<Duration> = (1..=10).map(|n| Duration::from_millis(n * 10)).collect();
        assert_eq!(percentile(&samples, 0.50), Duration::from_millis(50));
        assert_eq!(percentile(&samples, 0.99), Duration::from_millis(100));
        assert_eq!(percentile(&samples, 0.0), Duration::from_millis(10));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }

    #[test]
    fn the_spread_of_series_is_their_median_minimum_and_maximum() {
        let spread = Spread::of(&[3.0, 1.0, 2.0, 10.0, 4.0]).unwrap();
        assert_eq!(spread.median, 3.0);
        assert_eq!(spread.min, 1.0);
        assert_eq!(spread.max, 10.0);

        let even = Spread::of(&[4.0, 2.0]).unwrap();
        assert_eq!(even.median, 3.0);

        assert_eq!(Spread::of(&[]), None);
        assert_eq!(Spread::of(&[f64::NAN]), None);
    }

    #[test]
    fn a_shuffle_is_a_permutation_that_its_seed_repeats() {
        let mut first: Vec<usize> = (0..10).collect();
        Shuffle::new(7).shuffle(&mut first);
        let mut again: Vec<usize> = (0..10).collect();
        Shuffle::new(7).shuffle(&mut again);
        let mut other: Vec<usize> = (0..10).collect();
        Shuffle::new(8).shuffle(&mut other);

        assert_eq!(first, again);
        assert_ne!(first, other);
        let mut sorted = first.clone();
        sorted.sort();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
        assert_ne!(first, (0..10).collect::<Vec<_>>());
    }
}
