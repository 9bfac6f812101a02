"""Accuracy, attack and detection metrics, computed by the workspace's metrics crate (the
figures ``cnmf evaluate`` and ``cargo xtask reproduce`` report)."""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

import numpy as np

from . import _cnmf

__all__ = ["accuracy", "nmae", "mae", "rmse", "prediction_shift", "hit_ratio", "detection", "user_detection"]


def _texts(ids: Any) -> List[str]:
    """Ids as the models store them: ``str(int(x))`` for integers, ``str(x)`` otherwise."""
    a = np.asarray(ids).reshape(-1)
    if a.dtype.kind in "iub":
        return [str(int(x)) for x in a.tolist()]
    return [str(x) for x in a.tolist()]


def accuracy(truth: Any, predictions: Any, rating_scale: Tuple[float, float] = (1.0, 5.0)) -> Dict[str, Any]:
    """``{"nmae", "mae", "rmse", "n"}`` of ``predictions`` against ``truth``; predictions are
    clipped to ``rating_scale`` first (a served prediction always is) and NMAE is MAE over the
    scale's width. Arrays of different lengths, an empty test set or a NaN/infinite value raise
    ``ValueError``."""
    t = np.ascontiguousarray(np.asarray(truth, dtype=np.float64).reshape(-1))
    p = np.ascontiguousarray(np.asarray(predictions, dtype=np.float64).reshape(-1))
    lo, hi = (float(v) for v in rating_scale)
    return _cnmf.accuracy(t, p, (lo, hi))


def nmae(truth: Any, predictions: Any, rating_scale: Tuple[float, float] = (1.0, 5.0)) -> float:
    """Normalised mean absolute error (see :func:`accuracy`)."""
    return accuracy(truth, predictions, rating_scale)["nmae"]


def mae(truth: Any, predictions: Any, rating_scale: Tuple[float, float] = (1.0, 5.0)) -> float:
    """Mean absolute error (see :func:`accuracy`)."""
    return accuracy(truth, predictions, rating_scale)["mae"]


def rmse(truth: Any, predictions: Any, rating_scale: Tuple[float, float] = (1.0, 5.0)) -> float:
    """Root mean squared error (see :func:`accuracy`)."""
    return accuracy(truth, predictions, rating_scale)["rmse"]


def prediction_shift(clean: Any, attacked: Any, target: Any, users: Any = None) -> Dict[str, Any]:
    """How far an attack moved the predictions of ``target`` (an item id): the mean absolute
    prediction shift (``maps``, the paper's figure) and the signed ``mean_shift`` (negative when
    a nuke worked) of the served (clipped) predictions of two fitted
    :class:`cnmf.CorrectiveNMF` models, the one fitted on the clean ratings and the one fitted
    on the attacked ratings, over ``users`` (ids; default: every user of the clean model, the
    genuine users). Users and the target are matched by id, so the two models may number them
    differently (an attack adds users)."""
    users = clean.user_ids_ if users is None else users
    users = np.asarray(users).reshape(-1)
    if len(users) == 0:
        raise ValueError("prediction_shift needs at least one user")
    items = [target] * len(users)
    d = np.asarray(attacked.predict(users, items)) - np.asarray(clean.predict(users, items))
    return {"maps": float(np.abs(d).mean()), "mean_shift": float(d.mean()), "n_users": len(users)}


def hit_ratio(clean: Any, attacked: Any, targets: Any, n: int = 10, users: Any = None) -> Dict[str, Any]:
    """Hit ratio at ``n``: the share of genuine users who get a target item (an id, or ids) in
    their top-``n`` recommendations, under the ``clean`` and the ``attacked`` fitted
    :class:`cnmf.CorrectiveNMF` (keys ``before`` and ``after``, means over the targets, and
    ``per_target`` counts). A user counts for a target only if they had not rated it in the
    clean training data; the candidates are the items they had not rated, ranked by raw score.
    ``users`` defaults to every user of the clean model (the genuine users); users and items are
    matched by id, so the attacked model may hold more users. Unknown ids, ``n < 1`` or no
    eligible user raise ``ValueError``."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    users = clean.user_ids_ if users is None else users
    t = np.asarray(targets)
    return _cnmf.hit_ratio(
        clean._check_fitted(), attacked._check_fitted(), _texts(users), _texts(t.reshape(-1)), int(n)
    )


def detection(flagged: Any, truth: Any) -> Dict[str, Any]:
    """Precision, recall and F1 of the ids ``flagged`` (e.g. suspected users) against the ids
    ``truth`` (e.g. an attack's injected users), each counted once, with the counts
    (``true_positives``, ``false_positives``, ``false_negatives``). A ratio with a zero
    denominator (nothing flagged, no positive) is ``None``."""
    return _cnmf.detection(_texts(flagged), _texts(truth))


def user_detection(model: Any, truth: Any) -> Dict[str, Any]:
    """:func:`detection` of a fitted model's :meth:`~cnmf.CorrectiveNMF.suspected_users`
    against ``truth`` (the adversaries' ids), the user-level figure of ``cargo xtask
    reproduce``."""
    return detection(model.suspected_users(), truth)
