"""Data sets: MovieLens, found where the ``cnmf`` command line finds it.

MovieLens may not be redistributed, so it is not shipped with the package: unzip the official
release (https://grouplens.org/datasets/movielens/) into a directory and pass it as
``data_home`` or set ``CNMF_DATA`` to it, or let ``load_movielens(..., download=True)`` fetch
it from GroupLens, checked against its pinned size and SHA-256 (``cnmf data fetch``).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from . import _cnmf

__all__ = ["load_movielens"]


def _ids(texts: Any) -> np.ndarray:
    """MovieLens ids as int64 (they are integers); any other id stays text."""
    try:
        return np.array([int(x) for x in texts], dtype=np.int64)
    except ValueError:
        return np.array(texts, dtype=object)


def load_movielens(
    name: str = "ml-100k", data_home: Optional[str] = None, download: bool = False, url: Optional[str] = None
) -> Any:
    """The ratings of a MovieLens release as a pandas DataFrame with columns ``user``,
    ``item``, ``rating`` and ``timestamp`` (int64 seconds since the Unix epoch), ordered by
    user, then item, with the ids as in the files.

    ``name`` is ``"ml-100k"`` (``ml-100k/u.data``) or ``"ml-1m"`` (``ml-1m/ratings.dat``).
    The release is looked for in ``data_home``, else in the directory named by ``CNMF_DATA``,
    else in ``./data``. A missing release raises ``FileNotFoundError`` naming the path and the
    official download address, unless ``download``: then it is downloaded from GroupLens (or
    ``url``, a mirror) into that directory, and its size and SHA-256 are checked against the
    official release's before anything is unpacked (a failed check or download raises
    ``OSError`` and leaves nothing behind). An unknown name raises ``ValueError``.

    The DataFrame goes straight into :meth:`cnmf.CorrectiveNMF.fit` (the timestamps feed
    ``guarded``'s burst screen).
    """
    import pandas as pd

    user_ids, item_ids, u, i, r, t = _cnmf.load_movielens(name, data_home, bool(download), url)
    frame = {
        "user": _ids(user_ids)[u],
        "item": _ids(item_ids)[i],
        "rating": r,
    }
    if len(t) == len(r):
        frame["timestamp"] = t
    return pd.DataFrame(frame)
