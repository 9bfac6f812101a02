"""Accuracy metrics, computed by the workspace's metrics crate (the figures ``cnmf evaluate``
and ``cargo xtask reproduce`` report)."""

from __future__ import annotations

from typing import Any, Dict, Tuple

import numpy as np

from . import _cnmf

__all__ = ["accuracy", "nmae", "mae", "rmse", "prediction_shift"]


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
