"""Accuracy metrics, computed by the workspace's metrics crate (the figures ``cnmf evaluate``
and ``cargo xtask reproduce`` report)."""

from __future__ import annotations

from typing import Any, Dict, Tuple

import numpy as np

from . import _cnmf

__all__ = ["accuracy", "nmae", "mae", "rmse"]


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
