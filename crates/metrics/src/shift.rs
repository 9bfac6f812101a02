//! Prediction shift: how far an attack moved the predictions of a target item for genuine users.

use cnmf_ratings::Ratings;
use serde::{Deserialize, Serialize};

use crate::{MeanSd, MetricsError, Predictor};

/// The prediction shift of one target item between the clean model P* and the attacked model P.
///
/// [`maps`](Self::maps) and the other figures clip both predictions to the rating scale before
/// they are differenced: a served prediction is always clipped, and an unclipped difference
/// counts movement outside the scale that no user ever sees.
/// [`maps_unclipped`](Self::maps_unclipped) is the specification's definition on raw
/// predictions; it is never smaller than `maps` (clipping is 1-Lipschitz), and the two differ
/// when a prediction leaves the scale.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PredictionShift {
    /// The target item.
    pub target: u32,
    /// Mean absolute prediction shift (MAPS, the paper's figure): mean over genuine users of
    /// `|clip(P[u, t]) - clip(P*[u, t])|`.
    pub maps: f64,
    /// MAPS on raw predictions: mean over genuine users of `|P[u, t] - P*[u, t]|`.
    pub maps_unclipped: f64,
    /// Signed mean shift: mean of `clip(P[u, t]) - clip(P*[u, t])` (negative when a nuke
    /// worked).
    pub mean_shift: f64,
    /// MAPS over the genuine users who had not rated the target in the clean data; `None` when
    /// every genuine user had rated it.
    pub maps_unrated: Option<f64>,
    /// Number of genuine users averaged over.
    pub n_users: usize,
    /// Number of those who had not rated the target.
    pub n_unrated: usize,
}

/// `users` is not empty (else `Empty { what }`) and every index is a user of `clean_data`.
pub(crate) fn check_users(
    clean_data: &Ratings,
    users: &[u32],
    what: &'static str,
) -> Result<(), MetricsError> {
    if users.is_empty() {
        return Err(MetricsError::Empty { what });
    }
    if let Some(&u) = users.iter().find(|&&u| u as usize >= clean_data.n_users()) {
        return Err(MetricsError::InvalidArgument {
            name: "users",
            reason: format!(
                "user index {u} is outside the clean data's {} users",
                clean_data.n_users()
            ),
        });
    }
    Ok(())
}

pub(crate) fn check_targets(clean_data: &Ratings, targets: &[u32]) -> Result<(), MetricsError> {
    if targets.is_empty() {
        return Err(MetricsError::Empty { what: "targets" });
    }
    if let Some(&t) = targets
        .iter()
        .find(|&&t| t as usize >= clean_data.n_items())
    {
        return Err(MetricsError::InvalidArgument {
            name: "targets",
            reason: format!(
                "target item {t} is outside the clean data's {} items",
                clean_data.n_items()
            ),
        });
    }
    Ok(())
}

/// A prediction, checked to be finite.
pub(crate) fn predict_checked<P: Predictor + ?Sized>(
    model: &P,
    name: &'static str,
    user: u32,
    item: u32,
) -> Result<f64, MetricsError> {
    let value = model.predict_raw(user, item);
    if value.is_finite() {
        Ok(value)
    } else {
        Err(MetricsError::NotFinitePrediction {
            model: name,
            user,
            item,
            value,
        })
    }
}

/// The prediction shift of `target` over `genuine_users`.
///
/// `clean_model` is P* (fit on the clean data), `attacked_model` is P (fit on the attacked data);
/// both take the same dense user and item indices, which holds for the attacks of
/// `cnmf-attacks` (genuine users keep their indices; injected users come after them).
/// `clean_data` is the clean training data: it gives the scale and who had rated the target.
/// A user listed twice counts twice. Cost: two predictions per genuine user.
///
/// Errors: no genuine user ([`MetricsError::Empty`]), a user or target outside `clean_data`
/// ([`MetricsError::InvalidArgument`]), a NaN or infinite prediction
/// ([`MetricsError::NotFinitePrediction`]).
///
/// ```
/// use cnmf_metrics::prediction_shift;
/// use cnmf_ratings::{Ratings, RatingScale};
/// let clean = Ratings::from_external(
///     [("a", "x", 4.0), ("b", "y", 2.0)],
///     RatingScale::MOVIELENS,
/// ).unwrap();
/// let p_star = |_u: u32, _i: u32| 3.0;
/// let p = |u: u32, _i: u32| if u == 0 { 2.0 } else { 0.0 }; // 0.0 clips to 1.0
/// let s = prediction_shift(&p_star, &p, &clean, &[0, 1], 0).unwrap();
/// assert_eq!(s.maps, 1.5); // shifts -1 and -2
/// assert_eq!(s.mean_shift, -1.5);
/// assert_eq!(s.maps_unrated, Some(2.0)); // only user 1 had not rated item 0
/// ```
pub fn prediction_shift<C, A>(
    clean_model: &C,
    attacked_model: &A,
    clean_data: &Ratings,
    genuine_users: &[u32],
    target: u32,
) -> Result<PredictionShift, MetricsError>
where
    C: Predictor + ?Sized,
    A: Predictor + ?Sized,
{
    check_users(clean_data, genuine_users, "prediction shift: genuine users")?;
    check_targets(clean_data, &[target])?;
    let scale = clean_data.scale();
    let (raters, _) = clean_data.item(target);
    let (mut abs, mut signed, mut abs_unrated, mut n_unrated) = (0.0, 0.0, 0.0, 0usize);
    let mut abs_raw = 0.0;
    for &u in genuine_users {
        let raw_before = predict_checked(clean_model, "clean model", u, target)?;
        let raw_after = predict_checked(attacked_model, "attacked model", u, target)?;
        abs_raw += (raw_after - raw_before).abs();
        let d = scale.clip(raw_after) - scale.clip(raw_before);
        abs += d.abs();
        signed += d;
        if raters.binary_search(&u).is_err() {
            abs_unrated += d.abs();
            n_unrated += 1;
        }
    }
    let n = genuine_users.len() as f64;
    Ok(PredictionShift {
        target,
        maps: abs / n,
        maps_unclipped: abs_raw / n,
        mean_shift: signed / n,
        maps_unrated: (n_unrated > 0).then(|| abs_unrated / n_unrated as f64),
        n_users: genuine_users.len(),
        n_unrated,
    })
}

/// Prediction shifts of several targets and their mean and standard deviation across targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShiftSummary {
    /// One shift per target, in the order given.
    pub per_target: Vec<PredictionShift>,
    /// MAPS across targets.
    pub maps: MeanSd,
    /// Signed mean shift across targets.
    pub mean_shift: MeanSd,
    /// MAPS over non-raters across the targets where it is defined; `None` when it is defined
    /// for no target.
    pub maps_unrated: Option<MeanSd>,
}

/// [`prediction_shift`] for each of `targets`, with mean and sample standard deviation across
/// them. Errors as [`prediction_shift`], plus no target ([`MetricsError::Empty`]).
pub fn prediction_shift_many<C, A>(
    clean_model: &C,
    attacked_model: &A,
    clean_data: &Ratings,
    genuine_users: &[u32],
    targets: &[u32],
) -> Result<ShiftSummary, MetricsError>
where
    C: Predictor + ?Sized,
    A: Predictor + ?Sized,
{
    check_targets(clean_data, targets)?;
    let per_target = targets
        .iter()
        .map(|&t| prediction_shift(clean_model, attacked_model, clean_data, genuine_users, t))
        .collect::<Result<Vec<_>, _>>()?;
    let maps: Vec<f64> = per_target.iter().map(|s| s.maps).collect();
    let signed: Vec<f64> = per_target.iter().map(|s| s.mean_shift).collect();
    let unrated: Vec<f64> = per_target.iter().filter_map(|s| s.maps_unrated).collect();
    Ok(ShiftSummary {
        maps: MeanSd::of(&maps)?,
        mean_shift: MeanSd::of(&signed)?,
        maps_unrated: if unrated.is_empty() {
            None
        } else {
            Some(MeanSd::of(&unrated)?)
        },
        per_target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cnmf_ratings::RatingScale;

    /// Users 0..4, items 0..2; users 0 and 1 rated item 0, nobody rated item 1 but user 2.
    fn clean() -> Ratings {
        Ratings::from_external(
            [
                ("0", "i0", 5.0),
                ("1", "i0", 4.0),
                ("2", "i1", 3.0),
                ("3", "i2", 3.0),
            ],
            RatingScale::MOVIELENS,
        )
        .unwrap()
    }

    #[test]
    fn hand_computed_shift() {
        let data = clean();
        // P*: 3.5 for everyone. P: user u gets 3.5 - u on item 0 (so 3.5, 2.5, 1.5, 0.5 -> 1.0
        // after clipping) and 6.0 (-> 5.0) on item 1.
        let p_star = |_u: u32, _i: u32| 3.5;
        let p = |u: u32, i: u32| if i == 0 { 3.5 - f64::from(u) } else { 6.0 };
        let s = prediction_shift(&p_star, &p, &data, &[0, 1, 2, 3], 0).unwrap();
        // shifts 0, -1, -2, -2.5
        assert_eq!(s.maps, 5.5 / 4.0);
        // raw shifts 0, -1, -2, -3: user 3's 0.5 is below the scale
        assert_eq!(s.maps_unclipped, 6.0 / 4.0);
        assert_eq!(s.mean_shift, -5.5 / 4.0);
        // users 2 and 3 had not rated item 0: |-2| and |-2.5|
        assert_eq!(s.maps_unrated, Some(2.25));
        assert_eq!((s.n_users, s.n_unrated), (4, 2));

        let many = prediction_shift_many(&p_star, &p, &data, &[0, 1, 2, 3], &[0, 1]).unwrap();
        // item 1: every shift is 5 - 3.5 = 1.5; users 0, 1, 3 had not rated it
        assert_eq!(many.per_target[1].maps, 1.5);
        assert_eq!(many.per_target[1].mean_shift, 1.5);
        assert_eq!(many.per_target[1].maps_unrated, Some(1.5));
        assert_eq!(many.maps.mean, (1.375 + 1.5) / 2.0);
        // two values 1.375 and 1.5: sample sd = |difference| / sqrt(2)
        assert!((many.maps.sd.unwrap() - 0.125 / 2f64.sqrt()).abs() < 1e-15);
        assert_eq!(many.mean_shift.mean, (-1.375 + 1.5) / 2.0);
        assert_eq!(many.maps_unrated.unwrap().mean, (2.25 + 1.5) / 2.0);
    }

    #[test]
    fn every_genuine_user_rated_the_target() {
        let data = clean();
        let s = prediction_shift(
            &|_: u32, _: u32| 3.0,
            &|_: u32, _: u32| 2.0,
            &data,
            &[0, 1],
            0,
        )
        .unwrap();
        assert_eq!(s.maps, 1.0);
        assert_eq!(s.maps_unrated, None);
        assert_eq!(s.n_unrated, 0);
        let many = prediction_shift_many(
            &|_: u32, _: u32| 3.0,
            &|_: u32, _: u32| 2.0,
            &data,
            &[0, 1],
            &[0],
        )
        .unwrap();
        assert_eq!(many.maps_unrated, None);
        assert_eq!(many.maps.sd, None);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let data = clean();
        let f = |_: u32, _: u32| 3.0;
        assert!(matches!(
            prediction_shift(&f, &f, &data, &[], 0),
            Err(MetricsError::Empty { .. })
        ));
        assert!(matches!(
            prediction_shift(&f, &f, &data, &[9], 0),
            Err(MetricsError::InvalidArgument { name: "users", .. })
        ));
        assert!(matches!(
            prediction_shift(&f, &f, &data, &[0], 3),
            Err(MetricsError::InvalidArgument {
                name: "targets",
                ..
            })
        ));
        assert!(matches!(
            prediction_shift_many(&f, &f, &data, &[0], &[]),
            Err(MetricsError::Empty { .. })
        ));
        let nan = |u: u32, _: u32| if u == 1 { f64::NAN } else { 3.0 };
        let e = prediction_shift(&f, &nan, &data, &[0, 1], 0).unwrap_err();
        assert!(matches!(
            e,
            MetricsError::NotFinitePrediction {
                model: "attacked model",
                user: 1,
                item: 0,
                ..
            }
        ));
        assert!(e
            .to_string()
            .contains("attacked model predicted NaN for user 1, item 0"));
    }
}
