//! `cnmf._cnmf`: the compiled part of the Python package `cnmf` (maturin builds it; see
//! `python/README.md`). It fits the engine on ratings given as parallel lists of external ids
//! and an array of values, and wraps the CLI's model file ([`cnmf_cli::api`]), so that a model
//! saved from Python is the file `cnmf fit` writes and `cnmf predict` reads. The
//! scikit-learn style class `cnmf.CorrectiveNMF` (`cnmf/__init__.py`) converts SciPy, pandas
//! and NumPy inputs to these calls.
//!
//! Errors: bad parameters and bad data are `ValueError` with the Rust message; an unknown id
//! is `KeyError`; file problems are `OSError` (`FileNotFoundError` for a missing file). The
//! fit releases the GIL; its threads are the engine's own pool of `n_threads` threads (the
//! results do not depend on the count).

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use cnmf_cli::api::{self, FitSettings, ModelFile, ModelFormat};
use cnmf_engine::Algorithm;
use cnmf_ratings::{RatingScale, RatingsBuilder};
use numpy::ndarray::{Array1, Array2, ArrayView1, ArrayViewMut1};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1};
use pyo3::exceptions::{PyFileNotFoundError, PyKeyError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

mod metrics;

/// An [`std::io::Error`] as the matching Python exception.
fn os_error(e: std::io::Error) -> PyErr {
    match e.kind() {
        std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(e.to_string()),
        std::io::ErrorKind::InvalidData => PyValueError::new_err(e.to_string()),
        _ => PyOSError::new_err(e.to_string()),
    }
}

/// A fitted model: the CLI's model file held in memory.
#[pyclass(module = "cnmf._cnmf", name = "Model", frozen)]
struct Model {
    mf: ModelFile,
    /// Seconds of a fit's phases (None for a loaded model).
    timings: Option<Timings>,
}

/// Where a fit's time went, in seconds: the input made into the engine's storage (id maps,
/// checks, CSR and CSC; `intern`, the part of it that interned integer ids given per rating),
/// the engine's fits (early stopping and refit included), and the model file built from the
/// result.
#[derive(Debug, Clone, Copy)]
struct Timings {
    convert: f64,
    intern: f64,
    fit: f64,
    package: f64,
}

/// Fits the engine. `users` and `items` give each rating's user and item, each side either as
/// every rating's integer id (a NumPy `int64` array, interned here: the distinct ids in
/// ascending order, as NumPy's `unique` orders them, computed on every core with the GIL
/// released) or as a tuple `(ids, index)`: the distinct external ids (texts, or integers as an
/// `int64` array), interned in that order, and every rating's index into them. The parameters
/// are `cnmf fit`'s (see [`api::fit_params`]). `timestamps` (seconds since the Unix epoch, one
/// per rating) feed `guarded`'s burst screen; with `keep_times` the model file stores every
/// rating's value and timestamp, as `cnmf fit --keep-times` does (an error without
/// timestamps). The error message of a rating names its 1-based position.
///
/// Returns the model and, for each side given as integer ids, its distinct ids in index order
/// (`int64`; None for a side given as `(ids, index)`). The arrays are read where they are, not
/// copied: the caller must not change them while the fit runs.
#[pyfunction]
#[pyo3(signature = (users, items, ratings, settings, timestamps=None, keep_times=false))]
#[allow(clippy::type_complexity)]
fn fit<'py>(
    py: Python<'py>,
    users: Side<'_>,
    items: Side<'_>,
    ratings: PyReadonlyArray1<'_, f64>,
    settings: Settings,
    timestamps: Option<PyReadonlyArray1<'_, i64>>,
    keep_times: bool,
) -> PyResult<(
    Model,
    Option<Bound<'py, PyArray1<i64>>>,
    Option<Bound<'py, PyArray1<i64>>>,
)> {
    let (scale, params) = settings.params()?;
    let (rank, stopping) = (settings.rank, settings.stopping());
    let values = ratings.as_array();
    let times = timestamps.as_ref().map(|t| t.as_array());
    if keep_times && times.is_none() {
        return Err(PyValueError::new_err(
            "keep_times=True needs timestamps (one per rating), and none were given",
        ));
    }
    let (users, items) = (users.borrow()?, items.borrow()?);
    let (model, user_ids, item_ids) = py.detach(move || {
        let start = Instant::now();
        let (users, items) = rayon::join(|| users.dense("user"), || items.dense("item"));
        let ((user_texts, user_index, user_ids), (item_texts, item_index, item_ids)) =
            (users?, items?);
        let intern = start.elapsed().as_secs_f64();
        let input = Triples::of(&user_index, &item_index, values, times)?;
        let data = input.ratings(&user_texts, &item_texts, scale)?;
        let mut model = fit_data(data, &params, &stopping, rank, keep_times, start)?;
        if let Some(t) = &mut model.timings {
            t.intern = intern;
        }
        Ok::<_, PyErr>((model, user_ids, item_ids))
    })?;
    Ok((
        model,
        user_ids.map(|v| v.into_pyarray(py)),
        item_ids.map(|v| v.into_pyarray(py)),
    ))
}

/// One side (users or items) of the ratings given to [`fit`]: every rating's integer id, or
/// the distinct ids and every rating's index into them.
#[derive(FromPyObject)]
enum Side<'py> {
    /// Every rating's id.
    Raw(PyReadonlyArray1<'py, i64>),
    /// The distinct ids and every rating's index into them.
    Dense(Ids<'py>, PyReadonlyArray1<'py, u32>),
}

/// A [`Side`] with its arrays borrowed as slices, to be read with the GIL released.
enum SideRef<'a> {
    Raw(ArrayView1<'a, i64>),
    Dense(Vec<String>, &'a [u32]),
}

impl Side<'_> {
    fn borrow(&self) -> PyResult<SideRef<'_>> {
        Ok(match self {
            Side::Raw(a) => SideRef::Raw(a.as_array()),
            Side::Dense(ids, index) => SideRef::Dense(ids.texts()?, index.as_slice()?),
        })
    }
}

impl<'a> SideRef<'a> {
    /// (the distinct ids' texts in index order, every rating's index, the distinct integer
    /// ids when the side came as integer ids).
    #[allow(clippy::type_complexity)]
    fn dense(self, what: &str) -> PyResult<(Vec<String>, Cow<'a, [u32]>, Option<Vec<i64>>)> {
        Ok(match self {
            SideRef::Raw(ids) => {
                let (distinct, index) = dense_ints(&ids).ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "{} {what} ids: the engine holds fewer than 2^32 ratings",
                        ids.len()
                    ))
                })?;
                let texts = distinct.iter().map(i64::to_string).collect();
                (texts, Cow::Owned(index), Some(distinct))
            }
            SideRef::Dense(texts, index) => (texts, Cow::Borrowed(index), None),
        })
    }
}

/// The distinct values of `ids` in ascending order and every id's index among them (NumPy's
/// `unique(ids, return_inverse=True)`). Ids within a span of about twice their number are
/// counted in a table, in three sequential passes (linear time: [`fit`] interns the users and
/// the items at the same time, one core each; passes split over both cores measured slower on
/// a loaded machine, where every pass waits for the slower thread); others are sorted, on every
/// core. None when there are 2^32 ids or more (the indices are `u32`).
fn dense_ints(ids: &ArrayView1<'_, i64>) -> Option<(Vec<i64>, Vec<u32>)> {
    use rayon::prelude::*;
    let n = ids.len();
    u32::try_from(n).ok()?;
    if n == 0 {
        return Some((Vec::new(), Vec::new()));
    }
    // A strided view (a column of a 2-D array; the package hands over contiguous arrays) is
    // gathered once: the passes below then read 8 bytes per id instead of a cache line.
    let gathered;
    let ids: &[i64] = match ids.as_slice() {
        Some(s) => s,
        None => {
            let mut out = vec![0i64; n];
            ArrayViewMut1::from(&mut out[..]).assign(ids);
            gathered = out;
            &gathered
        }
    };
    let (lo, hi) = ids
        .iter()
        .fold((i64::MAX, i64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    let span = hi.abs_diff(lo);
    if span < 2 * n as u64 + (1 << 20) {
        // `span` is below 2^34 here, so every offset `x - lo` is a valid table index. The
        // table marks the ids present, then holds each one's rank among them.
        let mut rank = vec![0u32; span as usize + 1];
        for &x in ids {
            rank[x.abs_diff(lo) as usize] = 1;
        }
        let mut distinct = Vec::new();
        for (k, r) in rank.iter_mut().enumerate() {
            if *r != 0 {
                *r = distinct.len() as u32;
                distinct.push(lo + k as i64);
            }
        }
        let index = ids.iter().map(|&x| rank[x.abs_diff(lo) as usize]).collect();
        Some((distinct, index))
    } else {
        let mut distinct = ids.to_vec();
        distinct.par_sort_unstable();
        distinct.dedup();
        let mut index = Vec::new();
        ids.par_iter()
            .map(|&x| distinct.partition_point(|&d| d < x) as u32)
            .collect_into_vec(&mut index);
        Some((distinct, index))
    }
}

/// Ratings given to the package as dense indices, values and optional timestamps, borrowed
/// from the caller's arrays.
struct Triples<'a> {
    users: &'a [u32],
    items: &'a [u32],
    values: ArrayView1<'a, f64>,
    times: Option<ArrayView1<'a, i64>>,
}

impl<'a> Triples<'a> {
    fn of(
        users: &'a [u32],
        items: &'a [u32],
        values: ArrayView1<'a, f64>,
        times: Option<ArrayView1<'a, i64>>,
    ) -> PyResult<Triples<'a>> {
        if users.len() != values.len() || items.len() != values.len() {
            return Err(PyValueError::new_err(format!(
                "users, items and ratings differ in length ({}, {}, {})",
                users.len(),
                items.len(),
                values.len()
            )));
        }
        if let Some(t) = &times {
            if t.len() != values.len() {
                return Err(PyValueError::new_err(format!(
                    "{} timestamps for {} ratings (one per rating)",
                    t.len(),
                    values.len()
                )));
            }
        }
        Ok(Triples {
            users,
            items,
            values,
            times,
        })
    }

    /// The ratings over id maps holding `user_ids` and `item_ids` in that order (checked and
    /// put in (user, item) order by the ratings crate's builder).
    fn ratings(
        &self,
        user_ids: &[String],
        item_ids: &[String],
        scale: RatingScale,
    ) -> PyResult<cnmf_ratings::Ratings> {
        let (users, items) = id_maps(user_ids, item_ids)?;
        let mut b = RatingsBuilder::with_maps(users, items, scale);
        b.reserve(self.values.len());
        let error = |e: cnmf_ratings::RatingsError| PyValueError::new_err(e.to_string());
        let triples = self.users.iter().zip(self.items).zip(&self.values);
        match &self.times {
            Some(times) => {
                for (n, (((&u, &i), &v), &t)) in triples.zip(times).enumerate() {
                    b.push_indexed_at(u, i, v, t, n + 1).map_err(error)?;
                }
            }
            None => {
                for (n, ((&u, &i), &v)) in triples.enumerate() {
                    b.push_indexed(u, i, v, n + 1).map_err(error)?;
                }
            }
        }
        b.build().map_err(|e| match e {
            // Positions, not lines, and no duplicate policy to choose from Python.
            cnmf_ratings::RatingsError::Duplicate {
                at,
                user,
                item,
                first_line,
            } => PyValueError::new_err(format!(
                "duplicate rating of item {item:?} by user {user:?}: ratings {first_line} and {} \
                 (1-based positions in the input) rate the same pair",
                at.line
            )),
            e => PyValueError::new_err(e.to_string()),
        })
    }
}

/// Runs one generator of `cnmf-attacks` (`spec`: an `AttackSpec` as JSON) on ratings given as
/// in [`fit`], on the rating scale `scale`. Returns a dict: the attacked ratings (`user_ids`,
/// `item_ids`, `users`, `items`, `ratings`, `timestamps` or None) and the ground truth
/// (`adversaries` and `targets` as indices into the attacked ids; the changed entries as
/// `entry_users`, `entry_items`, `entry_values` and `entry_originals`, NaN for an added one).
///
/// The adaptive attack (`ValidAttackSpec::generate_adaptive`) needs the model's predictions:
/// from `model`, a fitted model (matched by external id, with `cnmf predict --unknown mean`'s
/// fallback for an id it does not know; the GIL is released), or from `predict`, a Python
/// callable `predict(user_id, item_id) -> float` (called with the GIL held). Without either it
/// is a `ValueError`; the other kinds ignore both.
#[pyfunction]
#[pyo3(signature = (user_ids, item_ids, user_index, item_index, ratings, spec, scale, timestamps=None, model=None, predict=None))]
#[allow(clippy::too_many_arguments)]
fn attack<'py>(
    py: Python<'py>,
    user_ids: Vec<String>,
    item_ids: Vec<String>,
    user_index: PyReadonlyArray1<'_, u32>,
    item_index: PyReadonlyArray1<'_, u32>,
    ratings: PyReadonlyArray1<'_, f64>,
    spec: &str,
    scale: (f64, f64),
    timestamps: Option<PyReadonlyArray1<'_, i64>>,
    model: Option<Bound<'py, Model>>,
    predict: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let scale =
        RatingScale::new(scale.0, scale.1).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let spec: cnmf_attacks::AttackSpec = serde_json::from_str(spec)
        .map_err(|e| PyValueError::new_err(format!("attack specification: {e}")))?;
    let spec = spec
        .check()
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let times = timestamps.as_ref().map(|t| t.as_array());
    let input = Triples::of(
        user_index.as_slice()?,
        item_index.as_slice()?,
        ratings.as_array(),
        times,
    )?;
    let adaptive = matches!(spec.kind(), cnmf_attacks::AttackKind::Adaptive { .. });
    let attack_error = |e: cnmf_attacks::AttackError| PyValueError::new_err(e.to_string());
    let attacked = match (adaptive, model, predict) {
        (false, _, _) => py.detach(move || {
            let data = input.ratings(&user_ids, &item_ids, scale)?;
            spec.generate(&data).map_err(attack_error)
        })?,
        (true, Some(_), Some(_)) => {
            return Err(PyValueError::new_err(
                "the adaptive attack takes the predictions from a model or from a callable, \
                 not both",
            ))
        }
        (true, Some(model), None) => {
            let mf = &model.get().mf;
            py.detach(move || {
                let data = input.ratings(&user_ids, &item_ids, scale)?;
                let users: Vec<Option<u32>> =
                    user_ids.iter().map(|u| mf.users().index(u)).collect();
                let items: Vec<Option<u32>> =
                    item_ids.iter().map(|i| mf.items().index(i)).collect();
                let predict = |u: u32, i: u32| match (users[u as usize], items[i as usize]) {
                    (Some(u), Some(i)) => mf.model().predict(u, i),
                    (None, Some(i)) => mf.item_mean(i),
                    (Some(u), None) => mf.user_mean(u),
                    (None, None) => mf.model().mean_rating(),
                };
                spec.generate_adaptive(&data, &predict)
                    .map_err(attack_error)
            })?
        }
        (true, None, Some(callable)) => {
            let data = input.ratings(&user_ids, &item_ids, scale)?;
            // The first error the callable raises (or a result that is not a number) stops
            // the predictions: NaN makes the generator refuse, then the error is raised.
            let failed: std::cell::RefCell<Option<PyErr>> = std::cell::RefCell::new(None);
            let predict = |u: u32, i: u32| {
                if failed.borrow().is_some() {
                    return f64::NAN;
                }
                let x = callable
                    .call1((&user_ids[u as usize], &item_ids[i as usize]))
                    .and_then(|x| x.extract::<f64>());
                x.unwrap_or_else(|e| {
                    *failed.borrow_mut() = Some(e);
                    f64::NAN
                })
            };
            let out = spec.generate_adaptive(&data, &predict);
            if let Some(e) = failed.into_inner() {
                return Err(e);
            }
            out.map_err(attack_error)?
        }
        (true, None, None) => {
            return Err(PyValueError::new_err(
                "the adaptive attack needs the model's predictions: give a fitted model \
                 (model=) or a predict(user, item) callable",
            ))
        }
    };
    let (r, truth) = (&attacked.ratings, &attacked.truth);
    let (mut us, mut is, mut vs) = (Vec::new(), Vec::new(), Vec::new());
    for t in r.iter() {
        us.push(t.user);
        is.push(t.item);
        vs.push(t.value);
    }
    let d = PyDict::new(py);
    d.set_item("user_ids", r.users().iter().collect::<Vec<&str>>())?;
    d.set_item("item_ids", r.items().iter().collect::<Vec<&str>>())?;
    d.set_item("users", us.into_pyarray(py))?;
    d.set_item("items", is.into_pyarray(py))?;
    d.set_item("ratings", vs.into_pyarray(py))?;
    d.set_item("timestamps", r.times().map(|t| t.to_vec().into_pyarray(py)))?;
    d.set_item("adversaries", truth.adversaries().to_vec().into_pyarray(py))?;
    d.set_item("targets", truth.targets().to_vec().into_pyarray(py))?;
    let e = truth.entries();
    d.set_item(
        "entry_users",
        e.iter()
            .map(|x| x.user)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    d.set_item(
        "entry_items",
        e.iter()
            .map(|x| x.item)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    d.set_item(
        "entry_values",
        e.iter()
            .map(|x| x.value)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    let originals: Vec<f64> = e.iter().map(|x| x.original.unwrap_or(f64::NAN)).collect();
    d.set_item("entry_originals", originals.into_pyarray(py))?;
    Ok(d)
}

/// [`fit`] on ratings already in compressed sparse rows (a SciPy CSR matrix without empty
/// rows or columns, indices sorted): `indptr`, `indices` and `data` become the engine's CSR
/// storage as they are (checked, not sorted), so a large matrix converts in one pass.
#[pyfunction]
fn fit_csr(
    py: Python<'_>,
    user_ids: Ids<'_>,
    item_ids: Ids<'_>,
    indptr: PyReadonlyArray1<'_, u32>,
    indices: PyReadonlyArray1<'_, u32>,
    data: PyReadonlyArray1<'_, f64>,
    settings: Settings,
) -> PyResult<Model> {
    let (scale, params) = settings.params()?;
    let (rank, stopping) = (settings.rank, settings.stopping());
    let (user_ids, item_ids) = (user_ids.texts()?, item_ids.texts()?);
    // The arrays stay borrowed (read-only) while the GIL is released: the copies into the
    // engine's storage run on every core instead of one.
    let (ptr, idx, values) = (indptr.as_slice()?, indices.as_slice()?, data.as_slice()?);
    py.detach(move || {
        let start = Instant::now();
        let (ptr, idx, values) = (
            parallel_copy(ptr),
            parallel_copy(idx),
            parallel_copy(values),
        );
        let (users, items) = id_maps(&user_ids, &item_ids)?;
        let data = cnmf_ratings::Ratings::from_csr(users, items, scale, ptr, idx, values)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        fit_data(data, &params, &stopping, rank, false, start)
    })
}

/// The parameters both fits take (a dict from Python), as `cnmf fit` takes them.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct Settings {
    rank: usize,
    algorithm: String,
    lambda_: Option<f64>,
    sigma: Option<f64>,
    p: Option<f64>,
    max_iter: usize,
    l2: f64,
    l2_per_rating: bool,
    early_stopping: bool,
    validation_fraction: f64,
    patience: usize,
    refit: bool,
    seed: u64,
    n_threads: usize,
    scale: (f64, f64),
    precision: String,
}

impl Settings {
    /// How the fit stops ([`api::fit`]).
    fn stopping(&self) -> api::Stopping {
        api::Stopping {
            early_stopping: self.early_stopping,
            validation_fraction: self.validation_fraction,
            patience: self.patience,
            refit: self.refit,
        }
    }

    /// The rating scale and the checked engine parameters.
    fn params(&self) -> PyResult<(RatingScale, cnmf_engine::ValidNmfParams)> {
        let algorithm: Algorithm = self
            .algorithm
            .parse()
            .map_err(|e: cnmf_engine::EngineError| PyValueError::new_err(e.to_string()))?;
        let scale = RatingScale::new(self.scale.0, self.scale.1)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let fit = FitSettings {
            rank: self.rank,
            algorithm,
            lambda: self.lambda_,
            sigma: self.sigma,
            p: self.p,
            max_iters: self.max_iter,
            l2: self.l2,
            l2_per_rating: self.l2_per_rating,
            seed: self.seed,
            threads: self.n_threads,
            precision: self
                .precision
                .parse()
                .map_err(|e: cnmf_engine::EngineError| PyValueError::new_err(e.to_string()))?,
        };
        let params = api::fit_params(&fit, scale).map_err(PyValueError::new_err)?;
        Ok((scale, params))
    }
}

/// External ids from Python: their texts, or integers as a NumPy `int64` array (written as
/// Python's `str(int(x))` writes them, without building a Python string for each).
#[derive(FromPyObject)]
enum Ids<'py> {
    Ints(PyReadonlyArray1<'py, i64>),
    Texts(Vec<String>),
}

impl Ids<'_> {
    /// The ids' texts.
    fn texts(&self) -> PyResult<Vec<String>> {
        Ok(match self {
            Ids::Ints(a) => a.as_slice()?.iter().map(i64::to_string).collect(),
            Ids::Texts(t) => t.clone(),
        })
    }
}

/// A copy of `src` made by every core of rayon's pool (large rating arrays are memory-bound).
fn parallel_copy<T: Copy + Send + Sync>(src: &[T]) -> Vec<T> {
    use rayon::prelude::*;
    let mut out = Vec::new();
    src.par_iter().copied().collect_into_vec(&mut out);
    out
}

/// Id maps holding `user_ids` and `item_ids` in that order (a repeated id is an error).
fn id_maps(
    user_ids: &[String],
    item_ids: &[String],
) -> PyResult<(Arc<cnmf_ratings::IdMap>, Arc<cnmf_ratings::IdMap>)> {
    let map = |ids: &[String], what: &str| {
        let mut m = cnmf_ratings::IdMap::new();
        for (n, id) in ids.iter().enumerate() {
            if m.intern(id) as usize != n {
                return Err(PyValueError::new_err(format!(
                    "{what} id {id:?} is given twice"
                )));
            }
        }
        Ok(Arc::new(m))
    };
    Ok((map(user_ids, "user")?, map(item_ids, "item")?))
}

/// Fits `params` on `data` (the rank checked against its size) into the CLI's model file,
/// storing the ratings' values and timestamps when `keep_times` (`cnmf fit --keep-times`);
/// `converting` is when the conversion of the input into `data` began (for the timings).
fn fit_data(
    data: cnmf_ratings::Ratings,
    params: &cnmf_engine::ValidNmfParams,
    stopping: &api::Stopping,
    rank: usize,
    keep_times: bool,
    converting: Instant,
) -> PyResult<Model> {
    let convert = converting.elapsed().as_secs_f64();
    let most = data.n_users().min(data.n_items());
    if rank > most {
        return Err(PyValueError::new_err(format!(
            "rank {rank} is above min(users, items) = {most} ({} users, {} items): such a \
             rank can fit every rating exactly and flags nothing useful",
            data.n_users(),
            data.n_items()
        )));
    }
    let start = Instant::now();
    // After every iteration, Python's pending signals run (Ctrl-C raises KeyboardInterrupt
    // there): the fit stops within one iteration and the exception is raised.
    let mut interrupted: Option<PyErr> = None;
    let mut observer = |_: &cnmf_engine::IterationStats| {
        // Once interrupted, every later fit (the refit after early stopping) stops at once.
        if interrupted.is_some() {
            return std::ops::ControlFlow::Break(());
        }
        match Python::attach(|py| py.check_signals()) {
            Ok(()) => std::ops::ControlFlow::Continue(()),
            Err(e) => {
                interrupted = Some(e);
                std::ops::ControlFlow::Break(())
            }
        }
    };
    let result = api::fit(params, stopping, &data, &mut observer);
    if let Some(e) = interrupted {
        return Err(e);
    }
    let (model, _) = result.map_err(PyRuntimeError::new_err)?;
    let secs = start.elapsed().as_secs_f64();
    let packing = Instant::now();
    let mut mf = api::model_file(model, &data, "<python>", secs);
    if keep_times {
        mf.keep_history(&data).map_err(PyValueError::new_err)?;
    }
    Ok(Model {
        mf,
        timings: Some(Timings {
            convert,
            intern: 0.0,
            fit: secs,
            package: packing.elapsed().as_secs_f64(),
        }),
    })
}

/// Reads a model file of either format version (the file `cnmf fit` writes).
#[pyfunction]
fn load(py: Python<'_>, path: PathBuf) -> PyResult<Model> {
    py.detach(|| api::read_model(&path))
        .map(|mf| Model { mf, timings: None })
        .map_err(os_error)
}

#[pymethods]
impl Model {
    /// Writes the model file to `path` in `format` ("safetensors", the default of `cnmf fit`,
    /// or "json"); returns the number of bytes.
    #[pyo3(signature = (path, format="safetensors"))]
    fn save(&self, py: Python<'_>, path: PathBuf, format: &str) -> PyResult<u64> {
        let format = match format {
            "safetensors" => ModelFormat::Safetensors,
            "json" => ModelFormat::Json,
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown model format {other:?} (safetensors or json)"
                )))
            }
        };
        py.detach(|| api::write_model(&self.mf, &path, format))
            .map_err(os_error)
    }

    /// Seconds of the fit's phases as a dict (`convert`, of which `intern`, `fit`, `package`),
    /// or None for a loaded model.
    fn timings<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(t) = self.timings else {
            return Ok(None);
        };
        let d = PyDict::new(py);
        d.set_item("convert", t.convert)?;
        d.set_item("intern", t.intern)?;
        d.set_item("fit", t.fit)?;
        d.set_item("package", t.package)?;
        Ok(Some(d))
    }

    /// Number of users.
    #[getter]
    fn n_users(&self) -> usize {
        self.mf.model().n_users()
    }

    /// Number of items.
    #[getter]
    fn n_items(&self) -> usize {
        self.mf.model().n_items()
    }

    /// The rank k.
    #[getter]
    fn rank(&self) -> usize {
        self.mf.model().factors().rank()
    }

    /// The rating scale (min, max).
    #[getter]
    fn scale(&self) -> (f64, f64) {
        let s = self.mf.model().scale();
        (s.min(), s.max())
    }

    /// The algorithm's name.
    #[getter]
    fn algorithm(&self) -> &'static str {
        self.mf.model().algorithm().name()
    }

    /// The corruption threshold, when the algorithm has one.
    #[getter]
    fn lambda_(&self) -> Option<f64> {
        self.mf.model().params().lambda()
    }

    /// External user ids, in index order.
    fn user_ids(&self) -> Vec<String> {
        self.mf.users().iter().map(str::to_string).collect()
    }

    /// External item ids, in index order.
    fn item_ids(&self) -> Vec<String> {
        self.mf.items().iter().map(str::to_string).collect()
    }

    /// The user factors, users x k.
    fn w<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let f = self.mf.model().factors();
        let a = Array2::from_shape_vec((f.n_users(), f.rank()), f.w().to_vec())
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        Ok(a.into_pyarray(py))
    }

    /// The item factors, k x items (`W @ H` is the users x items matrix of raw scores).
    fn h<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let f = self.mf.model().factors();
        let a = Array2::from_shape_vec((f.rank(), f.n_items()), self.mf.h_k_by_items())
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        Ok(a.into_pyarray(py))
    }

    /// The flagged (corrupt) training ratings: (user indices, item indices, ratings).
    #[allow(clippy::type_complexity)]
    fn corrupt_entries<'py>(
        &self,
        py: Python<'py>,
    ) -> (
        Bound<'py, PyArray1<u32>>,
        Bound<'py, PyArray1<u32>>,
        Bound<'py, PyArray1<f64>>,
    ) {
        let e = self.mf.model().corrupt_entries();
        let rows: Array1<u32> = e.iter().map(|p| p.0).collect();
        let cols: Array1<u32> = e.iter().map(|p| p.1).collect();
        let vals = Array1::from_vec(self.mf.corrupt_ratings().to_vec());
        (
            rows.into_pyarray(py),
            cols.into_pyarray(py),
            vals.into_pyarray(py),
        )
    }

    /// The indices of the users the fit judges adversarial, ascending
    /// (`NmfModel::suspected_users`: guarded's screened and burst-held users; for the other
    /// algorithms, the users with a flagged rating).
    fn suspected_users<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u32>> {
        Array1::from_vec(self.mf.model().suspected_users()).into_pyarray(py)
    }

    /// The fit's trace: one dict per iteration (iteration 0 is the initial factors).
    fn trace<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        self.mf
            .model()
            .trace()
            .iter()
            .map(|s| {
                let d = PyDict::new(py);
                d.set_item("iteration", s.iteration)?;
                d.set_item("loss", s.loss)?;
                d.set_item("clipped_loss", s.clipped_loss)?;
                d.set_item("objective", s.objective)?;
                d.set_item("flagged", s.flagged)?;
                d.set_item("elapsed_secs", s.elapsed_secs)?;
                Ok(d)
            })
            .collect()
    }

    /// Predictions for (user, item) pairs by external id, clipped to the scale as
    /// `cnmf predict` does. `unknown="error"` raises KeyError for an id the model does not
    /// know; `"mean"` predicts `cnmf predict --unknown mean`'s fallback (the item's mean for an
    /// unknown user, the user's mean for an unknown item, the global mean for both).
    #[pyo3(signature = (users, items, unknown="error"))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        users: Vec<String>,
        items: Vec<String>,
        unknown: &str,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let fallback = match unknown {
            "error" => false,
            "mean" => true,
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown={other:?}: expected \"error\" or \"mean\""
                )))
            }
        };
        if users.len() != items.len() {
            return Err(PyValueError::new_err(format!(
                "users and items differ in length ({}, {})",
                users.len(),
                items.len()
            )));
        }
        let mf = &self.mf;
        let mut out = Vec::with_capacity(users.len());
        for (user, item) in users.iter().zip(&items) {
            let u = mf.users().index(user);
            let i = mf.items().index(item);
            out.push(match (u, i) {
                (Some(u), Some(i)) => mf.model().predict(u, i),
                _ if !fallback => {
                    let (what, id, known) = if u.is_none() {
                        ("user", user, mf.users().len())
                    } else {
                        ("item", item, mf.items().len())
                    };
                    return Err(PyKeyError::new_err(format!(
                        "unknown {what} {id:?}: the model knows {known} {what}s (use \
                         unknown=\"mean\" for a fallback)"
                    )));
                }
                (None, Some(i)) => mf.item_mean(i),
                (Some(u), None) => mf.user_mean(u),
                (None, None) => mf.model().mean_rating(),
            });
        }
        Ok(Array1::from_vec(out).into_pyarray(py))
    }

    /// The `n` items with the highest predicted rating for `user` (ties broken by item index;
    /// ranked by the raw score, reported clipped to the scale), without the items the user
    /// rated in training when `exclude_seen`.
    #[pyo3(signature = (user, n=10, exclude_seen=true))]
    fn recommend(&self, user: &str, n: usize, exclude_seen: bool) -> PyResult<Vec<(String, f64)>> {
        let mf = &self.mf;
        let u = mf.users().index(user).ok_or_else(|| {
            PyKeyError::new_err(format!(
                "unknown user {user:?}: the model knows {} users",
                mf.users().len()
            ))
        })?;
        let seen: &[u32] = if exclude_seen { mf.rated(u) } else { &[] };
        let model = mf.model();
        let mut scored: Vec<(u32, f64)> = (0..model.n_items() as u32)
            .filter(|i| seen.binary_search(i).is_err())
            .map(|i| (i, model.predict_raw(u, i)))
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored.truncate(n);
        Ok(scored
            .into_iter()
            .map(|(i, _)| (mf.items().external(i).to_string(), model.predict(u, i)))
            .collect())
    }

    /// The parameters of the fit that matter to a refit: rank, algorithm, lambda, max_iter, l2,
    /// seed.
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let p = self.mf.model().params();
        let d = PyDict::new(py);
        d.set_item("rank", p.rank())?;
        d.set_item("algorithm", p.algorithm().name())?;
        d.set_item("lambda", p.lambda())?;
        d.set_item("max_iter", p.max_iters())?;
        d.set_item("l2", p.l2_w())?;
        d.set_item("seed", p.seed())?;
        Ok(d)
    }

    /// Factors (length k) for a new user from its ratings of known items, with H fixed
    /// (`cnmf fold-in`; the model's own algorithm restricted to one row). An unknown item is a
    /// KeyError; an empty list, a repeated item or a rating outside the scale a ValueError.
    fn fold_in<'py>(
        &self,
        py: Python<'py>,
        items: Vec<String>,
        ratings: Vec<f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        if items.len() != ratings.len() {
            return Err(PyValueError::new_err(format!(
                "items and ratings differ in length ({}, {})",
                items.len(),
                ratings.len()
            )));
        }
        let mut pairs = Vec::with_capacity(items.len());
        for (item, &r) in items.iter().zip(&ratings) {
            let i = self.mf.items().index(item).ok_or_else(|| {
                PyKeyError::new_err(format!(
                    "unknown item {item:?}: the model knows {} items",
                    self.mf.items().len()
                ))
            })?;
            pairs.push((i, r));
        }
        let w = py
            .detach(|| self.mf.model().fold_in(&pairs))
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(Array1::from_vec(w).into_pyarray(py))
    }

    /// The number of training ratings of each item, in index order.
    fn item_rating_counts<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u32>> {
        Array1::from_vec(self.mf.item_rating_counts()).into_pyarray(py)
    }

    /// Each item's mean training rating over its unflagged ratings (over all of them when
    /// every one is flagged), in index order: the model file's item means.
    fn item_means<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        let means: Vec<f64> = (0..self.mf.items().len() as u32)
            .map(|i| self.mf.item_mean(i))
            .collect();
        Array1::from_vec(means).into_pyarray(py)
    }

    /// `guarded`'s burst screen: one dict per burst (at most one per item, in item order) with
    /// `item` (index), `start`, `end` (seconds since the Unix epoch), `count`, `mean`,
    /// `rest_mean`, `z`, `held` and `users` (indices of the users whose ratings were held);
    /// None when the screen did not run (another algorithm, or no timestamps).
    fn bursts<'py>(&self, py: Python<'py>) -> PyResult<Option<Vec<Bound<'py, PyDict>>>> {
        let Some(bursts) = self.mf.model().bursts() else {
            return Ok(None);
        };
        bursts
            .iter()
            .map(|b| {
                let d = PyDict::new(py);
                d.set_item("item", b.item)?;
                d.set_item("start", b.start)?;
                d.set_item("end", b.end)?;
                d.set_item("count", b.count)?;
                d.set_item("mean", b.mean)?;
                d.set_item("rest_mean", b.rest_mean)?;
                d.set_item("z", b.z)?;
                d.set_item("held", b.held)?;
                d.set_item("users", b.users.to_vec().into_pyarray(py))?;
                Ok(d)
            })
            .collect::<PyResult<Vec<_>>>()
            .map(Some)
    }

    /// Every training rating's value and timestamp, by user then item (the order of
    /// `rated`), when the model stores them (`keep_times`, `cnmf fit --keep-times`); else None.
    #[allow(clippy::type_complexity)]
    fn history<'py>(
        &self,
        py: Python<'py>,
    ) -> Option<(Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<i64>>)> {
        self.mf
            .history()
            .map(|(v, t)| (v.to_vec().into_pyarray(py), t.to_vec().into_pyarray(py)))
    }

    /// Indices of the items `user` (by index) rated in training, ascending.
    fn rated<'py>(&self, py: Python<'py>, user: u32) -> PyResult<Bound<'py, PyArray1<u32>>> {
        if user as usize >= self.mf.users().len() {
            return Err(PyValueError::new_err(format!(
                "user index {user} out of range"
            )));
        }
        Ok(Array1::from_vec(self.mf.rated(user).to_vec()).into_pyarray(py))
    }
}

/// The compiled module.
/// The ratings of one MovieLens release as `(user ids, item ids, user index, item index,
/// ratings, timestamps)` in the loader's order (by user, then item), from
/// `data_home/<release>/` (`data_home` defaults to `$CNMF_DATA`, then `./data`, as `cnmf`
/// finds its data). MovieLens may not be redistributed, so it is not shipped: with
/// `download`, a missing release is fetched from GroupLens (or `url`, a mirror) and checked
/// against its pinned size and SHA-256 before anything is unpacked (`cnmf data fetch`);
/// without it, a missing release is `FileNotFoundError` saying where to get it and where to
/// put it.
#[pyfunction]
#[pyo3(signature = (name, data_home=None, download=false, url=None))]
#[allow(clippy::type_complexity)]
fn load_movielens<'py>(
    py: Python<'py>,
    name: &str,
    data_home: Option<PathBuf>,
    download: bool,
    url: Option<String>,
) -> PyResult<(
    Vec<String>,
    Vec<String>,
    Bound<'py, PyArray1<u32>>,
    Bound<'py, PyArray1<u32>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<i64>>,
)> {
    use cnmf_ratings::discover::{self, ENV_VAR, RELEASES};
    let Some(release) = RELEASES.iter().find(|r| r.dir == name) else {
        return Err(PyValueError::new_err(format!(
            "unknown MovieLens release {name:?} (ml-100k or ml-1m)"
        )));
    };
    let home = data_home.unwrap_or_else(discover::data_dir);
    let mut path = home.join(release.dir).join(release.ratings_file);
    if !path.is_file() && download {
        let url = url.unwrap_or_else(|| release.url.to_string());
        let source = py
            .detach(|| {
                discover::download_from(release, &url, &release.expected(), &home, &mut |_| {})
            })
            .map_err(|e| match e {
                cnmf_ratings::RatingsError::Io { source, .. } => os_error(source),
                e => PyOSError::new_err(e.to_string()),
            })?;
        path = source.path;
    }
    if !path.is_file() {
        return Err(PyFileNotFoundError::new_err(format!(
            "{}: not found. MovieLens is not shipped with cnmf: download {} and unzip it into \
             {} (or pass data_home=, or set {ENV_VAR} to the directory holding {}/)",
            path.display(),
            release.url,
            home.display(),
            release.dir
        )));
    }
    let opts = cnmf_ratings::LoadOptions::default().format(release.format);
    let data = py
        .detach(|| cnmf_ratings::load(&path, &opts))
        .map_err(|e| match e {
            cnmf_ratings::RatingsError::Io { source, .. } => os_error(source),
            e => PyValueError::new_err(e.to_string()),
        })?;
    let n = data.nnz();
    let (mut us, mut is, mut vs) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for t in data.iter() {
        us.push(t.user);
        is.push(t.item);
        vs.push(t.value);
    }
    let times = data.times().map_or_else(Vec::new, <[i64]>::to_vec);
    Ok((
        data.users().iter().map(str::to_string).collect(),
        data.items().iter().map(str::to_string).collect(),
        us.into_pyarray(py),
        is.into_pyarray(py),
        vs.into_pyarray(py),
        times.into_pyarray(py),
    ))
}

/// NMAE, MAE and RMSE of `predictions` (clipped to `scale` first, as served predictions are)
/// against `truth`, by `cnmf_metrics::accuracy`: a dict with `nmae`, `mae`, `rmse` and `n`.
#[pyfunction]
fn accuracy<'py>(
    py: Python<'py>,
    truth: PyReadonlyArray1<'_, f64>,
    predictions: PyReadonlyArray1<'_, f64>,
    scale: (f64, f64),
) -> PyResult<Bound<'py, PyDict>> {
    let scale =
        RatingScale::new(scale.0, scale.1).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let a = cnmf_metrics::accuracy(truth.as_slice()?, predictions.as_slice()?, scale)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let d = PyDict::new(py);
    d.set_item("nmae", a.nmae)?;
    d.set_item("mae", a.mae)?;
    d.set_item("rmse", a.rmse)?;
    d.set_item("n", a.n)?;
    Ok(d)
}

#[pymodule]
fn _cnmf(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Model>()?;
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(fit_csr, m)?)?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(load_movielens, m)?)?;
    m.add_function(wrap_pyfunction!(accuracy, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::detection, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::hit_ratio, m)?)?;
    m.add_function(wrap_pyfunction!(attack, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    let names: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
    m.add("ALGORITHMS", names)?;
    Ok(())
}
