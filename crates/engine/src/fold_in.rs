//! Fold-in of one user against fixed item factors.

use crate::{EngineError, NmfModel};

pub(crate) fn fold_in(_model: &NmfModel, _items: &[(u32, f64)]) -> Result<Vec<f64>, EngineError> {
    unimplemented!("fold-in lands in the next commit")
}
