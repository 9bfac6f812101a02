//! The times of an attack's ratings (see [`Timing`]).

use cnmf_ratings::Ratings;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::sample::{rng, Stream};
use crate::Timing;

/// Draws the time of each new or changed rating, in the order the generator asks.
pub(crate) struct Clock {
    timing: Timing,
    /// The latest time in the data.
    end: i64,
    /// Each item's earliest and latest genuine time (`None`: no rating), for [`Timing::Spread`].
    spans: Vec<Option<(i64, i64)>>,
    /// The data's earliest and latest time.
    whole: (i64, i64),
    r: ChaCha8Rng,
}

impl Clock {
    /// The clock of an attack on `data`, `None` when the data has no timestamps.
    pub(crate) fn new(data: &Ratings, timing: Timing, seed: u64) -> Option<Clock> {
        let times = data.times()?;
        let (lo, hi) = times
            .iter()
            .fold((i64::MAX, i64::MIN), |(a, b), &t| (a.min(t), b.max(t)));
        let spans = match timing {
            Timing::Burst { .. } => Vec::new(),
            Timing::Spread => (0..data.n_items() as u32)
                .map(|j| {
                    let t = data.item_times(j).unwrap_or_default();
                    let lo = t.iter().min()?;
                    Some((*lo, *t.iter().max()?))
                })
                .collect(),
        };
        Some(Clock {
            timing,
            end: hi,
            spans,
            whole: (lo, hi),
            r: rng(seed, Stream::Timing),
        })
    }

    /// The time of a new or changed rating of `item`.
    pub(crate) fn time(&mut self, item: u32) -> i64 {
        match self.timing {
            Timing::Burst { seconds } => {
                let offset = self.r.random_range(0..seconds.min(i64::MAX as u64));
                self.end.saturating_add(1).saturating_add(offset as i64)
            }
            Timing::Spread => {
                let (lo, hi) = self.spans[item as usize].unwrap_or(self.whole);
                self.r.random_range(lo..=hi)
            }
        }
    }
}
