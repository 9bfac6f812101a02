"""The compiled module of ``cnmf`` (Rust, PyO3). Use :class:`cnmf.CorrectiveNMF` instead."""

from typing import Any, Callable, Dict, List, Optional, Tuple, TypedDict, Union

import numpy as np
import numpy.typing as npt

__version__: str

class Model:
    """A fitted model: the CLI's model file held in memory."""

    n_users: int
    n_items: int
    rank: int
    scale: Tuple[float, float]
    algorithm: str
    lambda_: Optional[float]
    def save(self, path: str, format: str = "safetensors") -> int: ...
    def user_ids(self) -> List[str]: ...
    def item_ids(self) -> List[str]: ...
    def w(self) -> npt.NDArray[np.float64]: ...
    def h(self) -> npt.NDArray[np.float64]: ...
    def corrupt_entries(
        self,
    ) -> Tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32], npt.NDArray[np.float64]]: ...
    def trace(self) -> List[Dict[str, Any]]: ...
    def predict(
        self, users: List[str], items: List[str], unknown: str = "error"
    ) -> npt.NDArray[np.float64]: ...
    def recommend(self, user: str, n: int = 10, exclude_seen: bool = True) -> List[Tuple[str, float]]: ...
    def fold_in(self, items: List[str], ratings: List[float]) -> npt.NDArray[np.float64]: ...
    def params(self) -> Dict[str, Any]: ...
    def rated(self, user: int) -> npt.NDArray[np.uint32]: ...
    def suspected_users(self) -> npt.NDArray[np.uint32]: ...
    def history(self) -> Optional[Tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]]: ...
    def timings(self) -> Optional[Dict[str, float]]: ...
    def item_rating_counts(self) -> npt.NDArray[np.uint32]: ...
    def item_means(self) -> npt.NDArray[np.float64]: ...
    def bursts(self) -> Optional[List[Dict[str, Any]]]: ...

class Settings(TypedDict):
    """The fit parameters, as ``cnmf fit`` takes them."""

    rank: int
    algorithm: str
    lambda_: Optional[float]
    sigma: Optional[float]
    p: Optional[float]
    max_iter: int
    l2: float
    seed: int
    n_threads: int
    scale: Tuple[float, float]

ALGORITHMS: List[str]

def fit(
    users: Union[npt.NDArray[np.int64], Tuple[Union[List[str], npt.NDArray[np.int64]], npt.NDArray[np.uint32]]],
    items: Union[npt.NDArray[np.int64], Tuple[Union[List[str], npt.NDArray[np.int64]], npt.NDArray[np.uint32]]],
    ratings: npt.NDArray[np.float64],
    settings: Settings,
    timestamps: Optional[npt.NDArray[np.int64]] = None,
    keep_times: bool = False,
) -> Tuple[Model, Optional[npt.NDArray[np.int64]], Optional[npt.NDArray[np.int64]]]:
    """Fits the engine. Each side (users, items) is every rating's integer id (interned in
    Rust, in ascending order, on every core with the GIL released) or ``(ids, index)``: the
    distinct ids and every rating's dense index into them. Returns the model and, for a side
    given as integer ids, its distinct ids in index order (None otherwise). The arrays are read
    in place, not copied (``keep_times``: the model stores every rating's value and timestamp,
    as ``cnmf fit --keep-times``)."""

def fit_csr(
    user_ids: Union[List[str], npt.NDArray[np.int64]],
    item_ids: Union[List[str], npt.NDArray[np.int64]],
    indptr: npt.NDArray[np.uint32],
    indices: npt.NDArray[np.uint32],
    data: npt.NDArray[np.float64],
    settings: Settings,
) -> Model:
    """Fits the engine on compressed sparse rows (no empty row or column, indices sorted)."""

def load_movielens(
    name: str, data_home: Optional[str] = None, download: bool = False, url: Optional[str] = None
) -> Tuple[
    List[str],
    List[str],
    npt.NDArray[np.uint32],
    npt.NDArray[np.uint32],
    npt.NDArray[np.float64],
    npt.NDArray[np.int64],
]:
    """A MovieLens release's ratings (ids, indices, ratings, timestamps)."""

def attack(
    user_ids: List[str],
    item_ids: List[str],
    user_index: npt.NDArray[np.uint32],
    item_index: npt.NDArray[np.uint32],
    ratings: npt.NDArray[np.float64],
    spec: str,
    scale: Tuple[float, float],
    timestamps: Optional[npt.NDArray[np.int64]] = None,
    model: Optional[Model] = None,
    predict: Optional[Callable[[str, str], float]] = None,
) -> Dict[str, Any]:
    """One attack of the attacks crate (spec: an AttackSpec as JSON): the attacked ratings and
    the ground truth. The adaptive attack takes its predictions from ``model`` or ``predict``."""

def accuracy(
    truth: npt.NDArray[np.float64], predictions: npt.NDArray[np.float64], scale: Tuple[float, float]
) -> Dict[str, Any]:
    """NMAE, MAE, RMSE and n of the predictions, clipped to the scale."""

def detection(flagged: List[str], truth: List[str]) -> Dict[str, Any]:
    """Counts, precision, recall and F1 of the flagged ids against the true ones."""

def hit_ratio(
    clean: Model, attacked: Model, users: List[str], targets: List[str], n: int
) -> Dict[str, Any]:
    """Hit ratio at n of the targets before and after an attack (ids matched across models)."""

def load(path: str) -> Model:
    """Reads a model file of either format version."""
