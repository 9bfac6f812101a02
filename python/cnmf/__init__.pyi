"""Corrective NMF: robust nonnegative matrix factorisation of rating data (typed interface)."""

import os
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt
import scipy.sparse

__version__: str
#: The engine's algorithms (``cnmf fit --algo``).
ALGORITHMS: Tuple[str, ...]

_Path = Union[str, "os.PathLike[str]"]

class CorrectiveNMF:
    """Corrective NMF of a ratings matrix, scikit-learn style.

    Ratings whose squared residual exceeds ``lambda`` are flagged corrupt and ignored
    (``ignore-corrupt``) or replaced by the model's estimate (``replace-corrupt``). Parameters
    are ``cnmf fit``'s and are checked by the engine when :meth:`fit` runs (a bad value raises
    ``ValueError`` with the engine's message).
    """

    rank: int
    algorithm: str
    lambda_: Optional[float]
    sigma: Optional[float]
    p: float
    max_iter: int
    l2: float
    random_state: Optional[int]
    n_threads: Optional[int]
    rating_scale: Tuple[float, float]
    keep_times: bool
    precision: str

    # Fitted attributes (set by fit and load).
    W_: npt.NDArray[np.float64]
    """User factors, ``n_users_ x rank``; row ``j`` is user ``user_ids_[j]``."""
    H_: npt.NDArray[np.float64]
    """Item factors, ``rank x n_items_``; column ``j`` is item ``item_ids_[j]``."""
    user_ids_: npt.NDArray[Any]
    """The user ids, sorted (after ``load``: the file's text ids)."""
    item_ids_: npt.NDArray[Any]
    """The item ids, sorted (after ``load``: the file's text ids)."""
    n_users_: int
    n_items_: int
    corrupt_mask_: scipy.sparse.csr_matrix
    """``n_users_ x n_items_`` booleans, True where a training rating was flagged corrupt."""
    corrupt_ratings_: npt.NDArray[np.float64]
    """The flagged training ratings, in the order of ``corrupt_mask_``'s entries."""
    threshold_: Optional[float]
    """The corruption threshold lambda used (None for algorithms without one)."""
    trace_: List[Dict[str, Any]]
    """One dict per iteration (0: the initial factors): iteration, loss, clipped_loss,
    objective, flagged, elapsed_secs."""
    n_iter_: int
    """Iterations run."""
    keeps_times_: bool
    """Whether the model stores every training rating's value and timestamp (``keep_times``;
    ``cnmf fit --keep-times``)."""
    timings_: Optional[Dict[str, float]]
    """Where the last fit's time went, in seconds: ``prepare`` (the input checked, in Python,
    and ids other than integers made dense), ``convert`` (the engine's storage built: integer
    ids interned, id maps, checks, CSR and CSC), ``intern`` (the part of ``convert`` that
    interned integer ids, on every core; 0 for a sparse matrix), ``fit`` (the engine's fits, early stopping and refit included), ``package`` (the
    model file built from the result) and ``total`` (the whole ``fit`` call, attributes
    included). None after :meth:`load`."""

    def __init__(
        self,
        rank: int = 20,
        algorithm: str = "ignore-corrupt",
        lambda_: Optional[float] = None,
        sigma: Optional[float] = None,
        p: float = 0.05,
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
        """``lambda_`` fixes the corruption threshold; ``sigma`` and ``p`` derive it from the
        paper's noise model; with neither (and ``p`` at 0.05) it is the CLI's default.
        ``random_state`` seeds the initial factors and the validation share (None: 0).
        ``n_threads``: None for one per core; the results do not depend on it. The defaults are
        ``cnmf fit``'s: L2 0.1 per rating, early stopping on a 10% validation share (patience
        50, at most ``max_iter``), then a refit on all the ratings; a default fit is the CLI's,
        bit for bit. ``keep_times=True`` stores every training rating's value and timestamp
        in the model, as ``cnmf fit --keep-times`` (the fit then needs timestamps:
        ``ValueError`` without them). ``precision="f32"`` runs the passes in single
        precision (``cnmf fit --precision f32``); the factors are ``float64`` either way."""
    def get_params(self, deep: bool = True) -> Dict[str, Any]:
        """The constructor's parameters."""
    def set_params(self, **params: Any) -> "CorrectiveNMF":
        """Sets constructor parameters (``ValueError`` for an unknown name); returns self."""
    def fit(
        self, X: Any, items: Any = None, ratings: Any = None, timestamps: Any = None
    ) -> "CorrectiveNMF":
        """Fits the model on a SciPy sparse matrix, a pandas DataFrame with ``user``, ``item``
        and ``rating`` columns (and optionally ``timestamp``), a tuple ``(users, items,
        ratings[, timestamps])``, or ``fit(users, items, ratings)``. Every form of the same
        ratings gives the same model. ``timestamps`` (integer seconds or datetimes, one per
        rating) feed ``guarded``'s burst screen. NaN, infinite, negative, duplicate and
        out-of-scale ratings raise ``ValueError``. Releases the GIL; the arrays are read in place,
        so another thread must not write to them until ``fit`` returns."""
    def predict(self, users: Any, items: Any, unknown: str = "error") -> Any:
        """Predicted ratings of (user, item) pairs, clipped to the rating scale as
        ``cnmf predict``. Scalars give a float, arrays an array. An unknown id raises
        ``KeyError``; ``unknown="mean"`` gives the CLI's fallback means."""
    def recommend(
        self, user: Any, n: int = 10, exclude_seen: bool = True
    ) -> List[Tuple[Any, float]]:
        """The ``n`` items with the highest predicted rating for ``user``, best first, as
        ``(item id, predicted rating)``; rated items left out when ``exclude_seen``."""
    def fold_in(self, items: Any, ratings: Any) -> npt.NDArray[np.float64]:
        """Factors (length ``rank``) for a new user from its ratings of known items, with
        ``H_`` fixed, as ``cnmf fold-in``; ``KeyError`` for an unknown item."""
    def flagged(self) -> Any:
        """The flagged training ratings as a pandas DataFrame (user, item, rating,
        prediction), one row per rating; :meth:`flagged_items` is the per-item report."""
    def flagged_items(self) -> Any:
        """The per-item report of ``cnmf flagged`` as a pandas DataFrame, one row per item
        with a flagged rating: item, ratings, flagged, share, mean_rating,
        mean_flagged_rating, mean_prediction, and for ``guarded`` its burst evidence (burst,
        burst_ratings, burst_held, burst_mean, burst_rest_mean, burst_z, burst_start,
        burst_end). Sorted by flagged, most first, then item id."""
    def suspected_users(self) -> npt.NDArray[Any]:
        """The users the fit judges adversarial (guarded: screened and burst-held users; the
        other algorithms: users with a flagged rating), as ids."""
    def save(self, path: _Path, format: str = "safetensors") -> int:
        """Writes the CLI's model file (``"safetensors"``: format version 2, ``"json"``:
        version 1) atomically; returns its size in bytes."""
    @classmethod
    def load(cls, path: _Path) -> "CorrectiveNMF":
        """Reads a model file written by :meth:`save` or ``cnmf fit``. ``FileNotFoundError``
        / ``OSError`` for file problems, ``ValueError`` for an invalid file."""
