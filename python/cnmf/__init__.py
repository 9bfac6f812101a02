"""Corrective NMF: robust nonnegative matrix factorisation of rating data.

The estimator :class:`CorrectiveNMF` fits the corrective-nmf engine (Rust) on ratings given as
a SciPy sparse matrix, a pandas DataFrame or three arrays, and saves the same model file as the
``cnmf`` command-line tool (``cnmf predict --model FILE`` reads it).
"""

from __future__ import annotations

import os
import time
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from . import _cnmf, attacks, datasets, metrics

__all__ = ["CorrectiveNMF", "ALGORITHMS", "attacks", "datasets", "metrics", "__version__"]

__version__: str = _cnmf.__version__

#: The engine's algorithms (``cnmf fit --algo``), as the engine names them.
ALGORITHMS = tuple(_cnmf.ALGORITHMS)

_DEFAULT_P = 0.05
_PARAMS = (
    "rank",
    "algorithm",
    "lambda_",
    "sigma",
    "p",
    "max_iter",
    "l2",
    "l2_per_rating",
    "early_stopping",
    "validation_fraction",
    "patience",
    "refit",
    "random_state",
    "n_threads",
    "rating_scale",
    "keep_times",
    "precision",
)


def _id_texts(ids: np.ndarray) -> List[str]:
    """The text of each id, as the model stores ids: ``str(int(x))`` for integers."""
    if ids.dtype.kind in "iub":
        return [str(int(x)) for x in ids.tolist()]
    return [str(x) for x in ids.tolist()]


def _fits_int64(ids: np.ndarray) -> bool:
    """Whether the ids are integers that ``int64`` holds (unsigned ones below 2^63)."""
    kind, size = ids.dtype.kind, ids.dtype.itemsize
    return kind == "i" or (kind == "u" and (size < 8 or ids.size == 0 or ids.max() < 2**63))


def _id_args(ids: np.ndarray) -> Any:
    """The ids as the engine takes them: integers as an ``int64`` array (the engine writes
    their text as ``str(int(x))`` does, without a Python string per id), else their texts."""
    if _fits_int64(ids):
        return np.ascontiguousarray(ids, dtype=np.int64)
    return _id_texts(ids)


def _as_ids(x: Any, what: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim == 0:
        a = a.reshape(1)
    if a.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional, got shape {a.shape}")
    return a


def _dense(ids: np.ndarray, what: str) -> Tuple[np.ndarray, np.ndarray]:
    """(the distinct ids sorted, each id's index among them as uint32). Nonnegative integer
    ids are counted (linear time) rather than sorted."""
    if ids.dtype.kind in "iu" and ids.size and ids.min() >= 0 and ids.max() < 4 * ids.size + (1 << 20):
        present = np.bincount(ids) > 0
        uniq = np.flatnonzero(present)
        index = np.cumsum(present, dtype=np.int64) - 1
        return uniq, index[ids].astype(np.uint32)
    try:
        uniq, inverse = np.unique(ids, return_inverse=True)
    except TypeError as e:
        raise ValueError(f"{what} ids must be sortable values of one kind: {e}") from None
    return uniq, inverse.reshape(-1).astype(np.uint32)


def _side(ids: np.ndarray, what: str) -> Tuple[Any, Optional[np.ndarray]]:
    """One side of the ratings as ``_cnmf.fit`` takes it, and its distinct ids when they are
    computed here: integer ids that fit ``int64`` go as they are (a contiguous ``int64``
    array, not copied when it is one already; a strided column is copied by NumPy, which
    measured faster than reading it in place; Rust interns them), other ids as their distinct ids' texts
    and every rating's index (``_dense``)."""
    if _fits_int64(ids):
        return np.ascontiguousarray(ids, dtype=np.int64), None
    uniq, index = _dense(ids, what)
    return (_id_args(uniq), np.ascontiguousarray(index)), uniq


def _distinct_as(distinct: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The distinct integer ids computed in Rust (``int64``) with the dtype ``_dense`` gives:
    ``int64`` when it counts them (nonnegative ids within about four times their number),
    else the input's (``np.unique``)."""
    if ids.dtype == np.int64 or (
        len(distinct) and distinct[0] >= 0 and distinct[-1] < 4 * ids.size + (1 << 20)
    ):
        return distinct
    return distinct.astype(ids.dtype)


def _seconds(t: Any) -> np.ndarray:
    """Timestamps as int64 seconds since the Unix epoch (integers, or NumPy/pandas datetimes)."""
    a = np.asarray(t)
    if a.dtype.kind == "M":
        return a.astype("datetime64[s]").astype(np.int64)
    if a.dtype.kind not in "iu":
        raise ValueError(
            f"timestamps must be integer seconds or datetimes, got dtype {a.dtype}"
        )
    return a.astype(np.int64, copy=False).reshape(-1)


def _triples(
    X: Any, items: Any, ratings: Any, timestamps: Any = None
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """(users, items, ratings, timestamps or None) arrays from any accepted input form."""
    if items is not None or ratings is not None:
        if items is None or ratings is None:
            raise ValueError("give users, items and ratings together: fit(users, items, ratings)")
        users = X
    elif isinstance(X, tuple) and len(X) in (3, 4):
        if len(X) == 4:
            if timestamps is not None:
                raise ValueError("timestamps given twice (in the tuple and as timestamps=)")
            users, items, ratings, timestamps = X
        else:
            users, items, ratings = X
    elif hasattr(X, "tocoo") and hasattr(X, "nnz"):  # scipy.sparse matrix or array
        if len(X.shape) != 2:
            raise ValueError(f"a sparse rating matrix must be 2-D, got shape {X.shape}")
        # Formats other than CSR and CSC (those take `_sparse_rows`): every stored entry is a
        # rating, a repeated (row, column) pair is refused rather than summed.
        coo = X.tocoo()
        users, items, ratings = coo.row, coo.col, coo.data
    elif hasattr(X, "columns") and hasattr(X, "iloc"):  # pandas DataFrame
        cols = [str(c) for c in X.columns]
        missing = [c for c in ("user", "item", "rating") if c not in cols]
        if missing:
            raise ValueError(
                f"a DataFrame needs the columns user, item and rating; missing {missing} "
                f"(it has {cols})"
            )
        users, items, ratings = X["user"].to_numpy(), X["item"].to_numpy(), X["rating"].to_numpy()
        if "timestamp" in cols and timestamps is None:
            timestamps = X["timestamp"].to_numpy()
    else:
        raise TypeError(
            "X must be a scipy.sparse matrix, a pandas DataFrame with user, item and rating "
            f"columns, or three arrays (users, items, ratings); got {type(X).__name__}"
        )
    users = _as_ids(users, "users")
    items = _as_ids(items, "items")
    values = _values(ratings)
    if not (len(users) == len(items) == len(values)):
        raise ValueError(
            f"users, items and ratings differ in length ({len(users)}, {len(items)}, {len(values)})"
        )
    times = None if timestamps is None else _seconds(timestamps)
    if times is not None and len(times) != len(values):
        raise ValueError(f"{len(times)} timestamps for {len(values)} ratings (one per rating)")
    return users, items, values, times


def _values(ratings: Any) -> np.ndarray:
    """The ratings as a float64 vector, refused when empty, NaN, infinite or negative."""
    try:
        values = np.asarray(ratings, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"ratings must be numbers: {e}") from None
    values = values.reshape(-1)
    if len(values) == 0:
        raise ValueError("no ratings to fit")
    lo, hi = values.min(), values.max()  # NaN propagates: one pass each, no temporaries
    if np.isfinite(lo) and np.isfinite(hi) and lo >= 0:
        return values
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise ValueError(
            f"ratings must be finite numbers: rating {bad[0]} (0-based) is {values[bad[0]]} "
            f"({bad.size} such ratings)"
        )
    bad = np.flatnonzero(values < 0)
    if bad.size:
        raise ValueError(
            f"ratings must be nonnegative: rating {bad[0]} (0-based) is {values[bad[0]]} "
            f"({bad.size} negative ratings)"
        )
    return values


def _sparse_rows(X: Any) -> Optional[Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """A CSR or CSC matrix as (user ids, item ids, row pointers, item indices, ratings) of its
    non-empty rows and columns, ready for the engine's CSR storage (one pass, no sort unless
    the indices are unsorted); ``None`` for other inputs."""
    if not (hasattr(X, "format") and getattr(X, "format", None) in ("csr", "csc")):
        return None
    if len(X.shape) != 2:
        raise ValueError(f"a sparse rating matrix must be 2-D, got shape {X.shape}")
    csr = X.tocsr()
    if not csr.has_sorted_indices:
        csr = csr.sorted_indices()
    if csr.nnz >= 2**32:
        raise ValueError(f"{csr.nnz} ratings: the engine holds fewer than 2^32")
    data = _values(csr.data)
    counts = np.diff(csr.indptr)
    rows = np.flatnonzero(counts)
    indptr = np.zeros(len(rows) + 1, dtype=np.uint32)
    np.cumsum(counts[rows], out=indptr[1:])
    present = np.zeros(csr.shape[1], dtype=bool)
    present[csr.indices] = True  # no int64 copy of the indices, unlike np.bincount
    cols = np.flatnonzero(present)
    if len(cols) == csr.shape[1]:
        indices = csr.indices.astype(np.uint32)
    else:
        indices = (np.cumsum(present, dtype=np.int64) - 1)[csr.indices].astype(np.uint32)
    return rows, cols, indptr, indices, np.ascontiguousarray(data)


class CorrectiveNMF:
    """Corrective NMF of a ratings matrix, scikit-learn style.

    Ratings whose squared residual exceeds ``lambda`` are flagged corrupt and ignored
    (``ignore-corrupt``) or replaced by the model's estimate (``replace-corrupt``); see the
    project's README for the algorithms. Parameters are ``cnmf fit``'s and are checked by the
    engine when :meth:`fit` runs (a bad value raises ``ValueError`` with the engine's message).

    The defaults are ``cnmf fit``'s: an L2 penalty of 0.1 per rating (``l2_per_rating``;
    ``False`` makes ``l2`` one constant per row), early stopping on a seeded
    ``validation_fraction`` of the ratings (stopping after ``patience`` iterations without a
    lower validation NMAE, at most ``max_iter``), then a refit on all the ratings for the best
    number of iterations (``refit``). ``early_stopping=False`` fits exactly ``max_iter``
    iterations. Data too small for a validation share are fitted without early stopping.

    ``keep_times=True`` stores every training rating's value and timestamp in the model, as
    ``cnmf fit --keep-times`` does, so that the saved file gives an item's timeline
    (``cnmf flagged --item ITEM``) without the training file; the fit then needs timestamps.

    ``precision="f32"`` runs the fit's passes in single precision (``cnmf fit --precision
    f32``): half the memory traffic of the factors, a test NMAE within 0.0005 of ``"f64"``'s;
    the fitted factors are ``float64`` either way, and each precision gives the same results
    for any ``n_threads``.
    """

    def __init__(
        self,
        rank: int = 20,
        algorithm: str = "ignore-corrupt",
        lambda_: Optional[float] = None,
        sigma: Optional[float] = None,
        p: float = _DEFAULT_P,
        max_iter: int = 1000,
        l2: float = 0.1,
        l2_per_rating: bool = True,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        patience: int = 50,
        refit: bool = True,
        random_state: Optional[int] = 0,
        n_threads: Optional[int] = None,
        rating_scale: Tuple[float, float] = (1.0, 5.0),
        keep_times: bool = False,
        precision: str = "f64",
    ) -> None:
        self.rank = rank
        self.algorithm = algorithm
        self.lambda_ = lambda_
        self.sigma = sigma
        self.p = p
        self.max_iter = max_iter
        self.l2 = l2
        self.l2_per_rating = l2_per_rating
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.refit = refit
        self.random_state = random_state
        self.n_threads = n_threads
        self.rating_scale = rating_scale
        self.keep_times = keep_times
        self.precision = precision

    # scikit-learn's estimator protocol ------------------------------------------------

    def get_params(self, deep: bool = True) -> Dict[str, Any]:
        """The constructor's parameters."""
        return {name: getattr(self, name) for name in _PARAMS}

    def set_params(self, **params: Any) -> "CorrectiveNMF":
        """Sets constructor parameters; returns ``self``."""
        for name, value in params.items():
            if name not in _PARAMS:
                raise ValueError(
                    f"invalid parameter {name!r} for CorrectiveNMF (valid: {', '.join(_PARAMS)})"
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"CorrectiveNMF({args})"

    # fitting -----------------------------------------------------------------------------

    def _engine_args(self) -> Dict[str, Any]:
        def integer(name: str, value: Any, allow_none: bool = False) -> int:
            if value is None and allow_none:
                return 0
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"{name} must be an integer, got {value!r}")
            if value < 0:
                raise ValueError(f"{name} must be nonnegative, got {value!r}")
            return int(value)

        def number(name: str, value: Any) -> Optional[float]:
            if value is None:
                return None
            try:
                return float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{name} must be a number, got {value!r}") from None

        def flag(name: str, value: Any) -> bool:
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {value!r}")
            return bool(value)

        fraction = number("validation_fraction", self.validation_fraction)
        if not (fraction is not None and 0.0 < fraction < 1.0):
            raise ValueError(f"validation_fraction must lie in (0, 1), got {self.validation_fraction!r}")
        if integer("patience", self.patience) < 1:
            raise ValueError(f"patience must be at least 1, got {self.patience!r}")
        if not isinstance(self.precision, str):
            raise ValueError(f"precision must be 'f64' or 'f32', got {self.precision!r}")
        if not isinstance(self.algorithm, str):
            raise ValueError(f"algorithm must be a string, got {self.algorithm!r}")
        try:
            lo, hi = (float(v) for v in self.rating_scale)
        except (TypeError, ValueError):
            raise ValueError(
                f"rating_scale must be (min, max), got {self.rating_scale!r}"
            ) from None
        p = number("p", self.p)
        # p at its default and no sigma: the CLI's default threshold (scaled to the rating
        # scale), exactly what `cnmf fit` uses without --lambda, --sigma and --p.
        if self.sigma is None and p == _DEFAULT_P:
            p = None
        return dict(
            rank=integer("rank", self.rank),
            algorithm=self.algorithm,
            lambda_=number("lambda_", self.lambda_),
            sigma=number("sigma", self.sigma),
            p=p,
            max_iter=integer("max_iter", self.max_iter),
            l2=number("l2", self.l2),
            l2_per_rating=flag("l2_per_rating", self.l2_per_rating),
            early_stopping=flag("early_stopping", self.early_stopping),
            validation_fraction=fraction,
            patience=integer("patience", self.patience),
            refit=flag("refit", self.refit),
            seed=integer("random_state", self.random_state, allow_none=True),
            n_threads=integer("n_threads", self.n_threads, allow_none=True),
            scale=(lo, hi),
            precision=self.precision,
        )

    def fit(
        self, X: Any, items: Any = None, ratings: Any = None, timestamps: Any = None
    ) -> "CorrectiveNMF":
        """Fits the model.

        ``X`` is a SciPy sparse matrix (users x items; each stored entry is a rating, the row
        and column indices are the ids), a pandas DataFrame with ``user``, ``item`` and
        ``rating`` columns (and optionally ``timestamp``), a tuple ``(users, items, ratings)``
        or ``(users, items, ratings, timestamps)``, or the users array with ``items`` and
        ``ratings`` given too. Ids are matched by their text (``str(id)``, integers without a
        decimal point). Every form of the same ratings gives the same model.

        ``timestamps`` (integer seconds since the Unix epoch, or datetimes; one per rating)
        feed ``guarded``'s burst screen, which holds out a review bomb that arrives as a burst
        in time; without them ``guarded`` runs without that screen, as ``cnmf fit`` does on data
        without timestamps. The other algorithms do not read them. With ``keep_times=True``
        the model stores them with every rating's value (``ValueError`` when none are given).
        The GIL is released while the engine runs; NumPy arrays given to ``fit`` are read in
        place, not copied, so another thread must not write to them until ``fit`` returns.
        """
        started = time.perf_counter()
        args = self._engine_args()
        if not isinstance(self.keep_times, (bool, np.bool_)):
            raise ValueError(f"keep_times must be True or False, got {self.keep_times!r}")
        keep_times = bool(self.keep_times)
        rows = None
        if items is None and ratings is None and timestamps is None:
            rows = _sparse_rows(X)
        if rows is not None:
            if keep_times:
                raise ValueError(
                    "keep_times=True needs timestamps, and a sparse matrix has none: give a "
                    "DataFrame with a timestamp column, (users, items, ratings, timestamps) "
                    "or timestamps="
                )
            # A CSR/CSC matrix goes in as it is stored (the same model as the other forms:
            # rows and columns in index order are the ids in sorted order).
            uniq_u, uniq_i, indptr, indices, data = rows
            user_texts, item_texts = _id_args(uniq_u), _id_args(uniq_i)
            prepared = time.perf_counter()
            model = _cnmf.fit_csr(user_texts, item_texts, indptr, indices, data, args)
            self._set_model(model, uniq_u, uniq_i)
            self._record_timings(started, prepared)
            return self
        users, item_ids, values, times = _triples(X, items, ratings, timestamps)
        if times is None and keep_times:
            raise ValueError(
                "keep_times=True needs timestamps, and none were given: a DataFrame with a "
                "timestamp column, (users, items, ratings, timestamps) or timestamps="
            )
        # Ids in sorted order give the dense indices (integer ids are interned in Rust, other
        # ids by `_dense`); the engine's builder then puts the ratings in (user, item) order
        # and refuses a repeated pair, so every input form and order gives the same model.
        user_arg, uniq_u = _side(users, "user")
        item_arg, uniq_i = _side(item_ids, "item")
        prepared = time.perf_counter()
        model, rust_u, rust_i = _cnmf.fit(
            user_arg, item_arg, values, args, timestamps=times, keep_times=keep_times
        )
        if uniq_u is None:
            uniq_u = _distinct_as(rust_u, users)
        if uniq_i is None:
            uniq_i = _distinct_as(rust_i, item_ids)
        self._set_model(model, uniq_u, uniq_i)
        self._record_timings(started, prepared)
        return self

    def _record_timings(self, started: float, prepared: float) -> None:
        """``timings_`` of the fit that began at ``started`` and handed its prepared input to
        the engine at ``prepared`` (``time.perf_counter()`` values)."""
        inside = self.model_.timings()
        total = time.perf_counter() - started
        self.timings_ = {
            "prepare": prepared - started,
            "convert": inside["convert"],
            "intern": inside["intern"],
            "fit": inside["fit"],
            "package": inside["package"],
            "total": total,
        }

    def _set_model(self, model: Any, user_ids: np.ndarray, item_ids: np.ndarray) -> None:
        import scipy.sparse as sp

        self.model_ = model
        self.user_ids_ = user_ids
        self.item_ids_ = item_ids
        self.n_users_ = model.n_users
        self.n_items_ = model.n_items
        self.W_ = model.w()
        self.H_ = model.h()
        self.threshold_ = model.lambda_
        self.trace_ = model.trace()
        self.n_iter_ = max(len(self.trace_) - 1, 0)
        rows, cols, vals = model.corrupt_entries()
        self.corrupt_mask_ = sp.csr_matrix(
            (np.ones(len(rows), dtype=bool), (rows, cols)), shape=(self.n_users_, self.n_items_)
        )
        self.corrupt_ratings_ = vals
        self.keeps_times_ = model.history() is not None
        self.timings_ = None

    def _check_fitted(self) -> Any:
        model = getattr(self, "model_", None)
        if model is None:
            raise RuntimeError("this CorrectiveNMF is not fitted yet: call fit() or load() first")
        return model

    # using the model ---------------------------------------------------------------------

    def predict(self, users: Any, items: Any, unknown: str = "error") -> Any:
        """Predicted ratings of (user, item) pairs by id, clipped to the rating scale as
        ``cnmf predict`` does. An unknown id raises ``KeyError``; ``unknown="mean"`` predicts
        the CLI's fallback means instead. Scalars in, a float out; arrays in, an array out."""
        model = self._check_fitted()
        scalar = np.ndim(users) == 0 and np.ndim(items) == 0
        u = _id_texts(_as_ids(users, "users"))
        i = _id_texts(_as_ids(items, "items"))
        out = model.predict(u, i, unknown)
        return float(out[0]) if scalar else out

    def recommend(self, user: Any, n: int = 10, exclude_seen: bool = True) -> List[Tuple[Any, float]]:
        """The ``n`` items with the highest predicted rating for ``user``, best first, as
        ``(item id, predicted rating)`` pairs; without the items the user rated in training
        when ``exclude_seen``."""
        model = self._check_fitted()
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        (text,) = _id_texts(_as_ids(user, "user"))
        by_text = {t: v for t, v in zip(_id_texts(np.asarray(self.item_ids_)), self.item_ids_.tolist())}
        return [(by_text[item], score) for item, score in model.recommend(text, int(n), bool(exclude_seen))]

    def fold_in(self, items: Any, ratings: Any) -> np.ndarray:
        """Factors (length ``rank``) for a new user from its ratings of known items, with
        ``H_`` fixed, as ``cnmf fold-in`` computes them; ``np.clip(w @ H_, *rating_scale)``
        are the new user's predicted ratings. An unknown item raises ``KeyError``."""
        model = self._check_fitted()
        it = _id_texts(_as_ids(items, "items"))
        values = np.asarray(ratings, dtype=np.float64).reshape(-1)
        if not np.isfinite(values).all():
            raise ValueError("ratings must be finite numbers")
        return model.fold_in(it, values.tolist())

    def flagged(self) -> Any:
        """The training ratings the fit flagged as corrupt, as a pandas DataFrame with columns
        ``user``, ``item``, ``rating`` (the training rating) and ``prediction`` (the model's,
        clipped), ordered by user then item. One row per flagged rating; :meth:`flagged_items`
        is the per-item review-bomb report of ``cnmf flagged``."""
        import pandas as pd

        model = self._check_fitted()
        rows, cols, vals = model.corrupt_entries()
        users = np.asarray(self.user_ids_)[rows]
        items = np.asarray(self.item_ids_)[cols]
        if len(rows):
            pred = model.predict(_id_texts(users), _id_texts(items), "error")
        else:
            pred = np.zeros(0)
        return pd.DataFrame({"user": users, "item": items, "rating": vals, "prediction": pred})

    def flagged_items(self) -> Any:
        """The per-item review-bomb report of ``cnmf flagged`` (its items table), as a pandas
        DataFrame with one row per item with at least one flagged rating:

        * ``item`` (the id), ``ratings`` (its training ratings), ``flagged`` (how many of them
          the fit flagged), ``share`` (``flagged / ratings``);
        * ``mean_rating`` (of all its training ratings), ``mean_flagged_rating`` and
          ``mean_prediction`` (the model's clipped prediction, averaged over the flagged
          ratings);
        * for a ``guarded`` model, its burst screen's evidence: ``burst`` (whether the screen
          found a burst in time on the item), ``burst_ratings`` (ratings in the burst),
          ``burst_held`` (those it held, flagged), ``burst_mean`` and ``burst_rest_mean`` (the
          mean of the burst's ratings and of the item's other ratings), ``burst_z`` (the
          shift's z score), ``burst_start`` and ``burst_end`` (UTC); NaN/NaT and 0 without a
          burst, or when the screen did not run (no timestamps).

        Sorted by ``flagged``, most first, then by item id. Works on a loaded model too (the
        model file stores what it needs)."""
        import pandas as pd

        model = self._check_fitted()
        rows, cols, vals = model.corrupt_entries()
        m = self.n_items_
        counts = model.item_rating_counts().astype(np.int64)
        flagged = np.bincount(cols, minlength=m)
        flagged_sum = np.bincount(cols, weights=vals, minlength=m)
        if len(rows):
            ids = np.asarray(self.item_ids_)
            pred = model.predict(
                _id_texts(np.asarray(self.user_ids_)[rows]), _id_texts(ids[cols]), "error"
            )
        else:
            pred = np.zeros(0)
        pred_sum = np.bincount(cols, weights=pred, minlength=m)
        # The model stores each item's mean over its unflagged ratings (over all of them when
        # every one is flagged); with the flagged ratings' sum that is the mean of all.
        unflagged_mean = model.item_means()
        rest = counts - flagged
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_all = np.where(
                rest > 0, (unflagged_mean * rest + flagged_sum) / counts, unflagged_mean
            )
        keep = np.flatnonzero(flagged > 0)
        f = flagged[keep]
        frame: Dict[str, Any] = {
            "item": np.asarray(self.item_ids_)[keep],
            "ratings": counts[keep],
            "flagged": f.astype(np.int64),
            "share": f / counts[keep],
            "mean_rating": mean_all[keep],
            "mean_flagged_rating": flagged_sum[keep] / f,
            "mean_prediction": pred_sum[keep] / f,
        }
        if model.algorithm == "guarded":
            where = {int(i): n for n, i in enumerate(keep)}
            n = len(keep)
            burst = np.zeros(n, dtype=bool)
            b_count = np.zeros(n, dtype=np.int64)
            b_held = np.zeros(n, dtype=np.int64)
            b_mean, b_rest, b_z = (np.full(n, np.nan) for _ in range(3))
            b_start = np.full(n, np.datetime64("NaT"), dtype="datetime64[s]")
            b_end = b_start.copy()
            for b in model.bursts() or []:
                j = where.get(int(b["item"]))
                if j is None:
                    continue
                burst[j] = True
                b_count[j], b_held[j] = b["count"], b["held"]
                b_mean[j], b_rest[j], b_z[j] = b["mean"], b["rest_mean"], b["z"]
                b_start[j] = np.datetime64(int(b["start"]), "s")
                b_end[j] = np.datetime64(int(b["end"]), "s")
            frame.update(
                burst=burst,
                burst_ratings=b_count,
                burst_held=b_held,
                burst_mean=b_mean,
                burst_rest_mean=b_rest,
                burst_z=b_z,
                burst_start=b_start,
                burst_end=b_end,
            )
        out = pd.DataFrame(frame)
        out = out.sort_values(["flagged", "item"], ascending=[False, True], kind="stable")
        return out.reset_index(drop=True)

    def suspected_users(self) -> np.ndarray:
        """The users the fit judges adversarial, as ids in index order: for ``guarded`` the
        users of its profile screen and those whose rating its burst screen held; for the other
        algorithms (which decide per rating) every user with a flagged rating. The user-level
        decision that :func:`cnmf.metrics.detection` scores against an attack's ground truth
        (as ``cargo xtask reproduce`` does)."""
        model = self._check_fitted()
        return np.asarray(self.user_ids_)[model.suspected_users()]

    # files -------------------------------------------------------------------------------

    def save(self, path: "os.PathLike[str] | str", format: str = "safetensors") -> int:
        """Writes the model file ``cnmf fit`` writes (format version 2, safetensors, by
        default; ``format="json"`` for version 1), atomically; returns its size in bytes."""
        model = self._check_fitted()
        return model.save(os.fspath(path), format)

    @classmethod
    def load(cls, path: "os.PathLike[str] | str") -> "CorrectiveNMF":
        """Reads a model file written by :meth:`save` or by ``cnmf fit``. Ids come back as
        the file's text ids (``str``). Raises ``FileNotFoundError``/``OSError`` for file
        problems and ``ValueError`` for a file that is not a valid model."""
        model = _cnmf.load(os.fspath(path))
        params = model.params()
        lo, hi = model.scale
        est = cls(
            rank=params["rank"],
            algorithm=params["algorithm"],
            lambda_=params["lambda"],
            max_iter=params["max_iter"],
            l2=params["l2"],
            random_state=params["seed"],
            rating_scale=(lo, hi),
            keep_times=model.history() is not None,
        )
        est._set_model(
            model, np.array(model.user_ids(), dtype=object), np.array(model.item_ids(), dtype=object)
        )
        return est
