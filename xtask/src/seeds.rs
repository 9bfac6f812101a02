//! Seed derivation: every random choice of a run comes from the master seed through a named
//! stream, so a repetition's data, attacks and initial factors do not depend on the order or the
//! thread on which repetitions run.

/// The independent random streams of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The repetition's 90/10 split.
    Split = 1,
    /// The initial factors shared by every algorithm.
    Init = 2,
    /// Model 2's random noise.
    Noise = 3,
    /// The targeted attacks (target, adversaries, injected profiles).
    Attack = 4,
    /// Initial factors of the users a low-knowledge attack injects.
    InjectedInit = 5,
    /// The validation split of the regularised block.
    Validation = 6,
    /// The calibration run (split and initial factors).
    Calibration = 7,
    /// Seeds of the extra methods.
    Extra = 8,
    /// The genuine users sampled for the hit ratio of the target.
    HitRatio = 9,
    /// The recommended configuration's fits (initial factors and validation split, as
    /// `cnmf fit --seed` draws them).
    Recipe = 10,
}

/// SplitMix64's finaliser: a bijective mix with good avalanche.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed of `stream` in repetition `rep` (calibration uses `rep = u64::MAX`).
pub fn derive(master: u64, rep: u64, stream: Stream) -> u64 {
    mix(mix(mix(master) ^ rep) ^ stream as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_and_repetitions_differ() {
        let mut seen = std::collections::HashSet::new();
        for rep in 0..50 {
            for s in [Stream::Split, Stream::Init, Stream::Noise, Stream::Attack] {
                assert!(seen.insert(derive(7, rep, s)), "collision at rep {rep}");
            }
        }
        assert_eq!(derive(7, 3, Stream::Init), derive(7, 3, Stream::Init));
        assert_ne!(derive(7, 3, Stream::Init), derive(8, 3, Stream::Init));
    }
}
