//! External ids to model indices, and what to do with ids the model does not know.
//!
//! By default an unknown user or item is an error (exit code 5) naming the id. With
//! `--unknown mean` the prediction falls back to a training mean and says so:
//!
//! | user | item | prediction |
//! |---|---|---|
//! | known | known | the model's `(W H)_ui`, clipped to the scale |
//! | unknown | known | the item's mean training rating (`item-mean`) |
//! | known | unknown | the user's mean training rating (`user-mean`) |
//! | unknown | unknown | the global mean training rating (`global-mean`) |
//!
//! User and item means are taken over the training ratings the model did not flag as corrupt,
//! so a review bomb does not drag an item's fallback down (over all its ratings if every one
//! is flagged).

use clap::ValueEnum;
use serde::Serialize;

use crate::error::{CliError, CliResult};
use crate::model_file::ModelFile;

/// What to do with an id the model does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum UnknownPolicy {
    /// Stop with an error naming the id (exit code 5).
    #[default]
    Error,
    /// Predict a training mean instead (see `cnmf predict --help`) and say so.
    Mean,
}

/// Which mean stood in for the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[allow(clippy::enum_variant_names)] // the names are the output's spellings (`user-mean`, ...)
pub enum Fallback {
    /// The user's mean rating (the item is unknown).
    UserMean,
    /// The item's mean rating (the user is unknown).
    ItemMean,
    /// The global mean rating (both are unknown).
    GlobalMean,
}

impl Fallback {
    /// The name used in CSV and JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Fallback::UserMean => "user-mean",
            Fallback::ItemMean => "item-mean",
            Fallback::GlobalMean => "global-mean",
        }
    }
}

/// One prediction with its provenance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// External user id.
    pub user: String,
    /// External item id.
    pub item: String,
    /// The prediction, in the rating scale.
    pub prediction: f64,
    /// Set when a mean stood in because an id is unknown.
    pub fallback: Option<Fallback>,
}

/// The message for an unknown id; `at` says where it came from (e.g. `pairs.csv:4: `).
pub fn unknown_message(mf: &ModelFile, what: &str, id: &str, at: &str) -> String {
    let known = if what == "user" {
        mf.users().len()
    } else {
        mf.items().len()
    };
    let hint = if what == "user" {
        "use --unknown mean for a fallback, or `cnmf fold-in` to score a new user from its ratings"
    } else {
        "use --unknown mean for a fallback"
    };
    format!("{at}unknown {what} {id:?}: the model knows {known} {what}s ({hint})")
}

/// Predicts `(user, item)` by external ids under `policy`; `at` prefixes error messages.
pub fn predict(
    mf: &ModelFile,
    user: &str,
    item: &str,
    policy: UnknownPolicy,
    at: &str,
) -> CliResult<Prediction> {
    let u = mf.users().index(user);
    let i = mf.items().index(item);
    let (prediction, fallback) = match (u, i) {
        (Some(u), Some(i)) => (mf.model().predict(u, i), None),
        _ if policy == UnknownPolicy::Error => {
            let (what, id) = if u.is_none() {
                ("user", user)
            } else {
                ("item", item)
            };
            return Err(CliError::UnknownId(unknown_message(mf, what, id, at)));
        }
        (None, Some(i)) => (mf.item_mean(i), Some(Fallback::ItemMean)),
        (Some(u), None) => (mf.user_mean(u), Some(Fallback::UserMean)),
        (None, None) => (mf.model().mean_rating(), Some(Fallback::GlobalMean)),
    };
    Ok(Prediction {
        user: user.to_string(),
        item: item.to_string(),
        prediction,
        fallback,
    })
}
