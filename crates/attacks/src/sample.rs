//! Seeded randomness: independent streams, a partial Fisher–Yates pool and the rating grid.

use cnmf_ratings::RatingScale;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{AttackError, Direction};

/// The independent random streams of one generation. Separate streams keep each choice stable
/// when another part of the spec changes: the same seed draws the same targets whatever the
/// attack kind or size.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    Targets = 1,
    Adversaries = 2,
    Profiles = 3,
    Noise = 4,
    Timing = 5,
}

/// The ChaCha8 generator of `stream` under `seed`.
pub(crate) fn rng(seed: u64, stream: Stream) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream as u64);
    r
}

/// A pool that draws distinct elements by a partial Fisher–Yates shuffle: O(k) per draw of k
/// after an O(len) setup. The pool's order carries over between draws; each draw is still a
/// uniform k-subset, independent of the previous ones, because the new swaps are.
#[derive(Debug, Clone)]
pub(crate) struct Pool {
    elements: Vec<u32>,
}

impl Pool {
    pub(crate) fn new(elements: Vec<u32>) -> Self {
        Pool { elements }
    }

    /// `k` distinct elements, uniformly.
    ///
    /// # Panics
    /// When `k` exceeds the pool (callers check sizes first).
    pub(crate) fn draw(&mut self, k: usize, rng: &mut ChaCha8Rng) -> &[u32] {
        let n = self.elements.len();
        assert!(k <= n, "drawing {k} of {n}");
        for i in 0..k {
            let j = rng.random_range(i..n);
            self.elements.swap(i, j);
        }
        &self.elements[..k]
    }
}

/// The grid generated ratings lie on: `min, min + step, ...`, not above `max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RatingGrid {
    min: f64,
    max: f64,
    step: f64,
    points: u32,
}

impl RatingGrid {
    /// Largest grid accepted: beyond this the "grid" is a continuum in disguise.
    const MAX_POINTS: f64 = 16_777_216.0;

    pub(crate) fn new(scale: RatingScale, step: f64) -> Result<Self, AttackError> {
        // A small tolerance so that 0.5..5 with step 0.5 has its 10 points despite rounding.
        let intervals = (scale.width() / step + 1e-9).floor();
        if !(1.0..Self::MAX_POINTS).contains(&intervals) {
            return Err(AttackError::InvalidParameter {
                name: "rating_step",
                reason: format!(
                    "rating step {step} gives {intervals} grid intervals on the scale [{}, {}]; \
                     need between 1 and {}",
                    scale.min(),
                    scale.max(),
                    Self::MAX_POINTS
                ),
            });
        }
        Ok(RatingGrid {
            min: scale.min(),
            max: scale.max(),
            step,
            points: intervals as u32 + 1,
        })
    }

    fn at(&self, k: u32) -> f64 {
        (self.min + self.step * f64::from(k)).min(self.max)
    }

    /// A grid point drawn uniformly.
    pub(crate) fn uniform(&self, rng: &mut ChaCha8Rng) -> f64 {
        self.at(rng.random_range(0..self.points))
    }

    /// The grid point nearest to `x` (clipped to the grid's ends).
    pub(crate) fn round(&self, x: f64) -> f64 {
        let k = ((x - self.min) / self.step)
            .round()
            .clamp(0.0, f64::from(self.points - 1));
        self.at(k as u32)
    }

    /// The most extreme grid point in `direction` (lowest for a nuke, highest for a push)
    /// within the threshold of `x`, `(r - x)^2 <= lambda`; `None` when no grid point is.
    ///
    /// The arithmetic guess `x -/+ sqrt(lambda)` can be one step off by rounding, so it is
    /// corrected against the exact condition: the answer satisfies it, and the next grid point
    /// in `direction` (if any) does not.
    pub(crate) fn extreme_within(&self, x: f64, lambda: f64, direction: Direction) -> Option<f64> {
        let inside = |k: u32| (self.at(k) - x).powi(2) <= lambda;
        let last = self.points - 1;
        let reach = lambda.sqrt();
        let index = |v: f64| ((v - self.min) / self.step).clamp(0.0, f64::from(last));
        let k = match direction {
            Direction::Nuke => {
                let mut k = index(x - reach).ceil() as u32;
                while k > 0 && inside(k - 1) {
                    k -= 1;
                }
                while k < last && !inside(k) && self.at(k) < x {
                    k += 1;
                }
                k
            }
            Direction::Push => {
                let mut k = index(x + reach).floor() as u32;
                while k < last && inside(k + 1) {
                    k += 1;
                }
                while k > 0 && !inside(k) && self.at(k) > x {
                    k -= 1;
                }
                k
            }
        };
        inside(k).then(|| self.at(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_points() {
        let g = RatingGrid::new(RatingScale::MOVIELENS, 1.0).unwrap();
        assert_eq!(g.points, 5);
        assert_eq!(g.round(3.4), 3.0);
        assert_eq!(g.round(3.6), 4.0);
        assert_eq!(g.round(-7.0), 1.0);
        assert_eq!(g.round(9.0), 5.0);
        let half = RatingGrid::new(RatingScale::new(0.5, 5.0).unwrap(), 0.5).unwrap();
        assert_eq!(half.points, 10);
        assert_eq!(half.round(4.8), 5.0);
        assert!(RatingGrid::new(RatingScale::MOVIELENS, 5.0).is_err());
    }

    #[test]
    fn extreme_within_the_threshold() {
        let g = RatingGrid::new(RatingScale::MOVIELENS, 1.0).unwrap();
        // x = 3.4, sqrt(lambda) = 1.5: the interval [1.9, 4.9] holds 2, 3, 4.
        assert_eq!(g.extreme_within(3.4, 2.25, Direction::Nuke), Some(2.0));
        assert_eq!(g.extreme_within(3.4, 2.25, Direction::Push), Some(4.0));
        // Exactly on the boundary counts as inside.
        assert_eq!(g.extreme_within(3.0, 1.0, Direction::Nuke), Some(2.0));
        assert_eq!(g.extreme_within(3.0, 1.0, Direction::Push), Some(4.0));
        // A wide threshold reaches the scale's ends.
        assert_eq!(g.extreme_within(3.0, 100.0, Direction::Nuke), Some(1.0));
        assert_eq!(g.extreme_within(3.0, 100.0, Direction::Push), Some(5.0));
        // A narrow one between grid points holds nothing.
        assert_eq!(g.extreme_within(3.5, 0.01, Direction::Nuke), None);
        assert_eq!(g.extreme_within(3.5, 0.01, Direction::Push), None);
        // Far outside the scale, nothing.
        assert_eq!(g.extreme_within(9.0, 1.0, Direction::Nuke), None);
        assert_eq!(g.extreme_within(-9.0, 1.0, Direction::Push), None);
    }

    #[test]
    fn uniform_grid_covers_every_point() {
        let g = RatingGrid::new(RatingScale::MOVIELENS, 1.0).unwrap();
        let mut r = rng(3, Stream::Profiles);
        let mut seen = [0usize; 5];
        for _ in 0..1000 {
            let v = g.uniform(&mut r);
            seen[(v - 1.0) as usize] += 1;
        }
        // Each point expects 200 draws; 120 is more than 5 standard deviations below.
        assert!(seen.iter().all(|&c| c > 120), "{seen:?}");
    }

    #[test]
    fn pool_draws_distinct() {
        let mut p = Pool::new((0..10).collect());
        let mut r = rng(1, Stream::Profiles);
        for _ in 0..20 {
            let mut d = p.draw(4, &mut r).to_vec();
            d.sort_unstable();
            d.dedup();
            assert_eq!(d.len(), 4);
            assert!(d.iter().all(|&x| x < 10));
        }
    }

    #[test]
    fn streams_differ() {
        let a: u64 = rng(5, Stream::Targets).random();
        let b: u64 = rng(5, Stream::Adversaries).random();
        assert_ne!(a, b);
        let c: u64 = rng(5, Stream::Targets).random();
        assert_eq!(a, c);
    }
}
