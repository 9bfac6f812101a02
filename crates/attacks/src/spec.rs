//! The attack specification: what to generate, checked before anything is generated.

use serde::{Deserialize, Serialize};

use cnmf_ratings::params::{check_finite_positive, ParamGuard};

use crate::AttackError;

/// Which noise or attack model to generate.
///
/// The first three are the paper's models 2–4; the next two are the classic shilling attacks of
/// the recommender-security literature (Mobasher et al.), added for a wider robustness study;
/// the last two are a control that separates instability from attack and an attacker that
/// knows the robust fit's threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum AttackKind {
    /// Model 2: every rating flips independently with `probability` (the paper: 0.1). A rating
    /// in the low half of the scale, `r <= (min + max) / 2`, becomes `max`; one in the high half
    /// becomes `min` (on 1..5: 1..3 -> 5 and 4..5 -> 1). A flip always changes the value.
    ///
    /// Apply it to the training ratings only: the paper keeps the test set clean.
    /// No adversary, target, filler or direction: those parts of the spec are not used.
    RandomNoise {
        /// Flip probability per rating, in [0, 1].
        probability: f64,
    },
    /// Model 3, the low-knowledge review bomb: `A` synthetic users, each rating the targets at
    /// the direction's value and `filler` other distinct items drawn uniformly, with ratings
    /// uniform on the rating grid (the paper: 19 items, ratings 1..5).
    LowKnowledge,
    /// Model 4, the informed review bomb: `A` existing users (with at least one rating) drawn
    /// uniformly become adversaries; each rates the targets at the direction's value (adding the
    /// rating if absent, replacing it if present) and keeps its other ratings. The filler size is
    /// not used.
    Informed,
    /// The average attack: `A` synthetic users, each rating the targets at the direction's value
    /// and `filler` other items drawn uniformly, each filler rating drawn from
    /// N(item mean, item standard deviation) of the attacked data, rounded to the rating grid and
    /// clipped. An item without ratings uses the global mean and standard deviation.
    Average,
    /// The bandwagon attack: `A` synthetic users whose filler is the `popular` most-rated items
    /// (ties to the lower index; targets excluded) rated at the scale maximum (in both directions:
    /// the popular items make the profile look like many genuine ones), plus `filler - popular`
    /// further items drawn uniformly, rated N(global mean, global sd) rounded and clipped.
    Bandwagon {
        /// How many of the most popular items every profile rates at the maximum (>= 1).
        popular: usize,
    },
    /// The null-attack control: exactly the low-knowledge attack's synthetic users, with the
    /// same filler items and filler ratings for the same seed (the same random draws), but no
    /// rating of any target. The data change as under a low-knowledge attack of that size,
    /// while nobody touches the targets.
    ///
    /// Why: whatever the targets' predictions move under this control is instability of the
    /// fit caused by injection alone, not attack; subtracting it from an attack's prediction
    /// shift isolates the part the target ratings cause. The ground truth lists the injected
    /// users and their filler entries, and the targets (so that metrics can measure them);
    /// the direction is not used.
    NullControl,
    /// The adaptive, threshold-aware review bomb: an informed attacker who knows the
    /// corruption threshold `lambda` of a robust fit and, for each account it controls, the
    /// model's current prediction `x` of the target. It rates the target at the most extreme
    /// value of the rating grid that stays inside the threshold, `(r - x)^2 <= lambda`: the
    /// lowest such grid value for a nuke, the highest for a push. If no grid value lies inside
    /// (only possible when `x` is outside the scale or the grid step exceeds `2 sqrt(lambda)`),
    /// the account leaves that target as it was: a rating outside the threshold would be the
    /// one the fit discards.
    ///
    /// Why: it is the strongest attacker a residual threshold cannot flag, so it measures how
    /// much harm gets under the threshold. The accounts are chosen as in the informed attack
    /// (`A` existing users with at least one rating, drawn uniformly), so `x` is the model's
    /// prediction for that very user and item; the filler size is not used. Generate it with
    /// [`ValidAttackSpec::generate_adaptive`](crate::ValidAttackSpec::generate_adaptive), which
    /// takes the predictions; plain `generate` refuses it.
    Adaptive {
        /// The corruption threshold on squared residuals the attacker stays under (finite,
        /// > 0).
        lambda: f64,
    },
}

impl AttackKind {
    /// The name used in reports (`random-noise`, `low-knowledge`, `informed`, `average`,
    /// `bandwagon`, `null-control`, `adaptive`).
    pub fn name(&self) -> &'static str {
        match self {
            AttackKind::RandomNoise { .. } => "random-noise",
            AttackKind::LowKnowledge => "low-knowledge",
            AttackKind::Informed => "informed",
            AttackKind::Average => "average",
            AttackKind::Bandwagon { .. } => "bandwagon",
            AttackKind::NullControl => "null-control",
            AttackKind::Adaptive { .. } => "adaptive",
        }
    }

    /// Whether the model adds new (synthetic) users.
    pub fn injects_users(&self) -> bool {
        matches!(
            self,
            AttackKind::LowKnowledge
                | AttackKind::Average
                | AttackKind::Bandwagon { .. }
                | AttackKind::NullControl
        )
    }

    /// Whether the model has targets and adversaries (everything but random noise).
    pub fn is_targeted(&self) -> bool {
        !matches!(self, AttackKind::RandomNoise { .. })
    }
}

/// Which way the adversaries push their targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Rate the targets at the scale minimum (the paper's review bomb).
    #[default]
    Nuke,
    /// Rate the targets at the scale maximum.
    Push,
}

/// How many adversaries (`A`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttackSize {
    /// Exactly this many (>= 1).
    Count(usize),
    /// This fraction, in (0, 1], of the data's users (the id map's size), rounded to the
    /// nearest integer (halves away from zero); rounding to 0 is an error.
    Fraction(f64),
}

/// How many filler items each injected profile rates besides the targets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FillerSize {
    /// Exactly this many (0 means the profile rates only the targets).
    Count(usize),
    /// This fraction, in (0, 1], of the catalogue (all items), rounded.
    FractionOfItems(f64),
    /// This multiple (> 0) of the mean profile length (ratings per user with at least one
    /// rating), rounded.
    AverageProfile(f64),
}

/// How the target items are chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetChoice {
    /// These items, by external id.
    Items(Vec<String>),
    /// These items, by dense index.
    Indices(Vec<u32>),
    /// `count` distinct items drawn uniformly among those with at least `min_ratings` ratings
    /// (the spec's default: 1 item with at least 100 ratings).
    Drawn {
        /// Number of targets (>= 1).
        count: usize,
        /// Minimum number of ratings of an eligible item.
        min_ratings: usize,
    },
    /// `count` distinct items drawn uniformly from a popularity band. Items are ranked by rating
    /// count, ascending (ties to the lower index); the item of rank `p` (0-based) of `m` has
    /// quantile `p / m`, and is eligible when `lower <= p / m < upper`. `lower = 0.9,
    /// upper = 1.0` is the top decile.
    PopularityBand {
        /// Number of targets (>= 1).
        count: usize,
        /// Lower quantile, in [0, 1).
        lower: f64,
        /// Upper quantile, in (lower, 1].
        upper: f64,
    },
}

/// The parameters of one noise or attack generation (the unchecked builder).
///
/// Defaults follow the spec: nuke direction, `A` = 5% of the users, a filler of 19 items, one
/// target drawn among items with at least 100 ratings, a rating grid of step 1, synthetic ids
/// `attacker-0`, `attacker-1`, ... and seed 0.
///
/// ```
/// use cnmf_attacks::{AttackSize, AttackSpec, Direction, TargetChoice};
/// let spec = AttackSpec::low_knowledge()
///     .direction(Direction::Push)
///     .size(AttackSize::Count(3))
///     .targets(TargetChoice::Items(vec!["up".into()]))
///     .seed(7);
/// assert!(spec.check().is_ok());
/// assert!(AttackSpec::informed().size(AttackSize::Fraction(1.5)).check().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttackSpec {
    kind: AttackKind,
    direction: Direction,
    size: AttackSize,
    filler: FillerSize,
    targets: TargetChoice,
    rating_step: f64,
    id_prefix: String,
    seed: u64,
    timing: Timing,
}

/// When the attack's ratings happen, for data with timestamps
/// ([`Ratings::times`](cnmf_ratings::Ratings::times)); data without them gives untimed output.
/// Genuine ratings keep their times, and random noise keeps the times of the ratings it flips.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Timing {
    /// A review bomb as it happens: every new or changed rating at a uniform time within
    /// `seconds` after the latest time in the data (default: one day).
    Burst {
        /// Length of the burst window in seconds (at least 1).
        seconds: u64,
    },
    /// A patient attacker: each new or changed rating at a uniform time within the span of
    /// its item's genuine ratings (the data's span for an item without any), so the attack
    /// leaves no burst in time.
    Spread,
}

impl Default for Timing {
    fn default() -> Self {
        Timing::Burst { seconds: 86_400 }
    }
}

impl Default for AttackSpec {
    /// The paper's low-knowledge attack with the spec's defaults.
    fn default() -> Self {
        AttackSpec {
            kind: AttackKind::LowKnowledge,
            direction: Direction::Nuke,
            size: AttackSize::Fraction(0.05),
            filler: FillerSize::Count(19),
            targets: TargetChoice::Drawn {
                count: 1,
                min_ratings: 100,
            },
            rating_step: 1.0,
            id_prefix: "attacker-".to_string(),
            seed: 0,
            timing: Timing::default(),
        }
    }
}

impl AttackSpec {
    /// A spec of the given kind with the defaults.
    pub fn new(kind: AttackKind) -> Self {
        AttackSpec {
            kind,
            ..AttackSpec::default()
        }
    }

    /// Model 2, random noise with flip probability `probability` (the paper: 0.1).
    pub fn random_noise(probability: f64) -> Self {
        AttackSpec::new(AttackKind::RandomNoise { probability })
    }

    /// Model 3, the low-knowledge review bomb.
    pub fn low_knowledge() -> Self {
        AttackSpec::new(AttackKind::LowKnowledge)
    }

    /// Model 4, the informed review bomb.
    pub fn informed() -> Self {
        AttackSpec::new(AttackKind::Informed)
    }

    /// The average attack.
    pub fn average() -> Self {
        AttackSpec::new(AttackKind::Average)
    }

    /// The bandwagon attack with `popular` popular items per profile.
    pub fn bandwagon(popular: usize) -> Self {
        AttackSpec::new(AttackKind::Bandwagon { popular })
    }

    /// The null-attack control: the low-knowledge attack's injected users without their target
    /// ratings.
    pub fn null_control() -> Self {
        AttackSpec::new(AttackKind::NullControl)
    }

    /// The adaptive attack that stays under the corruption threshold `lambda`; generate it with
    /// [`ValidAttackSpec::generate_adaptive`].
    pub fn adaptive(lambda: f64) -> Self {
        AttackSpec::new(AttackKind::Adaptive { lambda })
    }

    /// Sets the kind.
    pub fn kind(mut self, kind: AttackKind) -> Self {
        self.kind = kind;
        self
    }

    /// Sets the direction.
    pub fn direction(mut self, direction: Direction) -> Self {
        self.direction = direction;
        self
    }

    /// Sets the number of adversaries.
    pub fn size(mut self, size: AttackSize) -> Self {
        self.size = size;
        self
    }

    /// Sets the filler size of injected profiles.
    pub fn filler(mut self, filler: FillerSize) -> Self {
        self.filler = filler;
        self
    }

    /// Sets how targets are chosen.
    pub fn targets(mut self, targets: TargetChoice) -> Self {
        self.targets = targets;
        self
    }

    /// Sets the step of the rating grid that generated filler ratings lie on: `min`,
    /// `min + step`, ... up to `max` (1 on MovieLens; 0.5 for half stars).
    pub fn rating_step(mut self, step: f64) -> Self {
        self.rating_step = step;
        self
    }

    /// Sets the prefix of synthetic users' external ids (`attacker-` by default). If an id
    /// `{prefix}{i}` is already taken, the ids become `{prefix}{round}-{i}` for the first round
    /// 1, 2, ... that clashes with nothing.
    pub fn id_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.id_prefix = prefix.into();
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets when the attack's ratings happen (for data with timestamps; default: a one-day
    /// burst after the data's latest time). The times come from a random stream of their own,
    /// so the timing never changes which users, items or values are drawn.
    pub fn timing(mut self, timing: Timing) -> Self {
        self.timing = timing;
        self
    }

    /// Checks everything that does not depend on the data. Every part of the spec is checked,
    /// even the parts the kind does not use, so a bad value never hides.
    pub fn check(self) -> Result<ValidAttackSpec, AttackError> {
        let bad =
            |name: &'static str, reason: String| AttackError::InvalidParameter { name, reason };
        if let AttackKind::RandomNoise { probability } = self.kind {
            if !(0.0..=1.0).contains(&probability) {
                return Err(bad(
                    "probability",
                    format!("flip probability {probability} is not in [0, 1]"),
                ));
            }
        }
        if let AttackKind::Adaptive { lambda } = self.kind {
            check_finite_positive("lambda", lambda)?;
        }
        if let AttackKind::Bandwagon { popular } = self.kind {
            if popular == 0 {
                return Err(bad(
                    "popular",
                    "the bandwagon attack needs at least 1 popular item".into(),
                ));
            }
            if let FillerSize::Count(filler) = self.filler {
                if popular > filler {
                    return Err(AttackError::PopularExceedsFiller { popular, filler });
                }
            }
        }
        match self.size {
            AttackSize::Count(0) => {
                return Err(bad(
                    "size",
                    "an attack needs at least 1 adversary (the clean data is the A = 0 case)"
                        .into(),
                ))
            }
            AttackSize::Fraction(f) if !in_unit_interval(f) => {
                return Err(bad(
                    "size",
                    format!("fraction of users {f} is not in (0, 1]"),
                ))
            }
            _ => {}
        }
        match self.filler {
            FillerSize::FractionOfItems(f) if !in_unit_interval(f) => {
                return Err(bad(
                    "filler",
                    format!("fraction of items {f} is not in (0, 1]"),
                ))
            }
            FillerSize::AverageProfile(x) if !(x.is_finite() && x > 0.0) => {
                return Err(bad(
                    "filler",
                    format!("multiple of the mean profile {x} is not a finite number > 0"),
                ))
            }
            _ => {}
        }
        check_targets(&self.targets)?;
        check_finite_positive("rating_step", self.rating_step)?;
        if self.id_prefix.is_empty() {
            return Err(bad("id_prefix", "the synthetic id prefix is empty".into()));
        }
        if self.timing == (Timing::Burst { seconds: 0 }) {
            return Err(bad(
                "timing",
                "a burst needs a window of at least 1 second".into(),
            ));
        }
        Ok(ValidAttackSpec(self))
    }
}

fn in_unit_interval(f: f64) -> bool {
    f > 0.0 && f <= 1.0
}

fn check_targets(targets: &TargetChoice) -> Result<(), AttackError> {
    let bad = |reason: String| AttackError::InvalidParameter {
        name: "targets",
        reason,
    };
    match targets {
        TargetChoice::Items(ids) => {
            if ids.is_empty() {
                return Err(bad("the list of target items is empty".into()));
            }
            let mut sorted: Vec<&str> = ids.iter().map(String::as_str).collect();
            sorted.sort_unstable();
            if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
                return Err(AttackError::DuplicateTarget {
                    id: w[0].to_string(),
                });
            }
        }
        TargetChoice::Indices(ix) => {
            if ix.is_empty() {
                return Err(bad("the list of target indices is empty".into()));
            }
            let mut sorted = ix.clone();
            sorted.sort_unstable();
            if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
                return Err(AttackError::DuplicateTarget {
                    id: format!("#{}", w[0]),
                });
            }
        }
        TargetChoice::Drawn { count, .. } => {
            if *count == 0 {
                return Err(bad("at least 1 target must be drawn".into()));
            }
        }
        TargetChoice::PopularityBand {
            count,
            lower,
            upper,
        } => {
            if *count == 0 {
                return Err(bad("at least 1 target must be drawn".into()));
            }
            if !(*lower >= 0.0 && lower < upper && *upper <= 1.0) {
                return Err(bad(format!(
                    "popularity band [{lower}, {upper}) must satisfy 0 <= lower < upper <= 1"
                )));
            }
        }
    }
    Ok(())
}

/// An [`AttackSpec`] whose data-independent parameters are valid. Generate with
/// [`ValidAttackSpec::generate`]; [`ValidAttackSpec::plan`] resolves it against the data
/// (targets, sizes) without generating.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidAttackSpec(AttackSpec);

impl ParamGuard for AttackSpec {
    type Checked = ValidAttackSpec;
    type Error = AttackError;
    fn check(self) -> Result<ValidAttackSpec, AttackError> {
        AttackSpec::check(self)
    }
}

impl ValidAttackSpec {
    /// The checked spec (to change a part and check again).
    pub fn spec(&self) -> &AttackSpec {
        &self.0
    }

    /// The kind.
    pub fn kind(&self) -> AttackKind {
        self.0.kind
    }

    /// The direction.
    pub fn direction(&self) -> Direction {
        self.0.direction
    }

    /// The attack size.
    pub fn size(&self) -> AttackSize {
        self.0.size
    }

    /// The filler size.
    pub fn filler(&self) -> FillerSize {
        self.0.filler
    }

    /// The target choice.
    pub fn targets(&self) -> &TargetChoice {
        &self.0.targets
    }

    /// The rating-grid step.
    pub fn rating_step(&self) -> f64 {
        self.0.rating_step
    }

    /// The synthetic id prefix.
    pub fn id_prefix(&self) -> &str {
        &self.0.id_prefix
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.0.seed
    }

    /// When the attack's ratings happen.
    pub fn timing(&self) -> Timing {
        self.0.timing
    }
}
