//! The metrics crate's detection and hit-ratio figures for `cnmf.metrics`: users and items
//! are matched by external id, so the clean and attacked models may number them differently
//! (an attack adds users).

use std::collections::BTreeSet;
use std::sync::Arc;

use cnmf_metrics::Detection;
use cnmf_ratings::Ratings;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::Model;

/// Precision, recall and F1 of the ids `flagged` against the ids `truth` (each counted
/// once), by `cnmf_metrics::Detection`: a dict with the counts and the three ratios (`None`
/// where undefined: no flag, no positive).
#[pyfunction]
pub fn detection<'py>(
    py: Python<'py>,
    flagged: Vec<String>,
    truth: Vec<String>,
) -> PyResult<Bound<'py, PyDict>> {
    let flagged: BTreeSet<String> = flagged.into_iter().collect();
    let truth: BTreeSet<String> = truth.into_iter().collect();
    let tp = flagged.intersection(&truth).count();
    detection_dict(
        py,
        Detection::from_counts(tp, flagged.len() - tp, truth.len() - tp),
    )
}

fn detection_dict<'py>(py: Python<'py>, d: Detection) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    out.set_item("true_positives", d.true_positives)?;
    out.set_item("false_positives", d.false_positives)?;
    out.set_item("false_negatives", d.false_negatives)?;
    out.set_item("precision", d.precision)?;
    out.set_item("recall", d.recall)?;
    out.set_item("f1", d.f1)?;
    Ok(out)
}

/// Hit ratio at `n` of the `targets` (item ids) over `users` (user ids of `clean`), before
/// (`clean`) and after (`attacked`) an attack, by `cnmf_metrics::hit_ratio`: for each user who
/// had not rated a target in `clean`'s training data, whether the target ranks in the top `n`
/// of the items the user had not rated (raw scores). A dict with `n`, `users`, `before`,
/// `after` and `per_target` (`target`, `eligible_users`, `hits_before`, `hits_after`).
#[pyfunction]
pub fn hit_ratio<'py>(
    py: Python<'py>,
    clean: PyRef<'py, Model>,
    attacked: PyRef<'py, Model>,
    users: Vec<String>,
    targets: Vec<String>,
    n: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let (c, a) = (&clean.mf, &attacked.mf);
    let bad = |m: String| PyValueError::new_err(m);
    let index = |ids: &[String], map: &cnmf_ratings::IdMap, what: &str, model: &str| {
        ids.iter()
            .map(|id| {
                map.index(id)
                    .ok_or_else(|| bad(format!("{what} {id:?} is not in the {model} model")))
            })
            .collect::<PyResult<Vec<u32>>>()
    };
    let users = index(&users, c.users(), "user", "clean")?;
    let targets = index(&targets, c.items(), "target", "clean")?;
    // The attacked model's index of each clean user and item (every candidate item is scored).
    let user_ids: Vec<String> = c.users().iter().map(str::to_string).collect();
    let item_ids: Vec<String> = c.items().iter().map(str::to_string).collect();
    let a_items = index(&item_ids, a.items(), "item", "attacked")?;
    // Only the evaluated users need a row in the attacked model.
    let a_users: Vec<Option<u32>> = user_ids.iter().map(|id| a.users().index(id)).collect();
    if let Some(&u) = users.iter().find(|&&u| a_users[u as usize].is_none()) {
        return Err(bad(format!(
            "user {:?} is not in the attacked model",
            user_ids[u as usize]
        )));
    }
    let pattern = pattern_of(c).map_err(|e| bad(e.to_string()))?;
    let (cm, am) = (c.model(), a.model());
    let before = |u: u32, i: u32| cm.predict_raw(u, i);
    let after = |u: u32, i: u32| {
        let u = a_users[u as usize].expect("evaluated users checked above");
        am.predict_raw(u, a_items[i as usize])
    };
    let h = py
        .detach(|| cnmf_metrics::hit_ratio(&before, &after, &pattern, &users, &targets, n))
        .map_err(|e| bad(e.to_string()))?;
    let out = PyDict::new(py);
    out.set_item("n", h.n)?;
    out.set_item("users", h.users)?;
    out.set_item("before", h.before)?;
    out.set_item("after", h.after)?;
    let per = h
        .per_target
        .iter()
        .map(|t| {
            let d = PyDict::new(py);
            d.set_item("target", &item_ids[t.target as usize])?;
            d.set_item("eligible_users", t.eligible_users)?;
            d.set_item("hits_before", t.hits_before)?;
            d.set_item("hits_after", t.hits_after)?;
            Ok(d)
        })
        .collect::<PyResult<Vec<_>>>()?;
    out.set_item("per_target", per)?;
    Ok(out)
}

/// The training data's rated pattern as ratings (every value the scale's minimum: the hit
/// ratio reads which items each user rated, not the values).
fn pattern_of(mf: &cnmf_cli::api::ModelFile) -> Result<Ratings, cnmf_ratings::RatingsError> {
    let n = mf.users().len();
    let mut indptr = Vec::with_capacity(n + 1);
    let mut indices = Vec::with_capacity(mf.n_ratings());
    indptr.push(0u32);
    for u in 0..n as u32 {
        indices.extend_from_slice(mf.rated(u));
        indptr.push(indices.len() as u32);
    }
    let scale = mf.model().scale();
    let data = vec![scale.min(); indices.len()];
    Ratings::from_csr(
        Arc::new(mf.users().clone()),
        Arc::new(mf.items().clone()),
        scale,
        indptr,
        indices,
        data,
    )
}
