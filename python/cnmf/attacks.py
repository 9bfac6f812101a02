"""Attacks on rating data: the generators of the workspace's attacks crate (the paper's
random noise and review bombs, the average and bandwagon shilling attacks, and the adaptive
attacker that stays under a robust fit's corruption threshold), with their ground truth, for
measuring robustness from Python.

>>> attacked, truth = generate(df, "informed", size=0.05, seed=1)   # doctest: +SKIP
>>> model = CorrectiveNMF().fit(df)                                  # doctest: +SKIP
>>> attacked, truth = generate(df, "adaptive", model=model, size=0.05)  # doctest: +SKIP
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from . import _cnmf

__all__ = ["generate", "KINDS"]

#: The attacks ``generate`` runs (``adaptive`` needs a fitted model: ``model=``).
KINDS = (
    "random-noise", "low-knowledge", "informed", "average", "bandwagon", "null-control",
    "adaptive",
)


def _spec(
    kind: str,
    size: Union[int, float],
    direction: str,
    targets: Optional[Sequence[Any]],
    filler: int,
    popular: int,
    probability: float,
    timing: str,
    burst_seconds: int,
    seed: int,
    lambda_: Optional[float] = None,
    rating_step: float = 1.0,
) -> Dict[str, Any]:
    if kind not in KINDS:
        raise ValueError(f"unknown attack {kind!r} (one of {', '.join(KINDS)})")
    k: Dict[str, Any] = {"kind": kind}
    if kind == "random-noise":
        k["probability"] = float(probability)
    if kind == "bandwagon":
        k["popular"] = int(popular)
    if kind == "adaptive":
        k["lambda"] = float(lambda_)  # type: ignore[arg-type]
    if isinstance(size, (bool, np.bool_)) or not isinstance(size, (int, float, np.integer, np.floating)):
        raise ValueError(f"size must be a count (int) or a share of the users (float), got {size!r}")
    spec: Dict[str, Any] = {
        "kind": k,
        "direction": direction,
        "size": {"count": int(size)} if isinstance(size, (int, np.integer)) else {"fraction": float(size)},
        "filler": {"count": int(filler)},
        "seed": int(seed),
        "rating_step": float(rating_step),
    }
    if targets is not None:
        spec["targets"] = {"items": [str(t) for t in targets]}
    if timing == "burst":
        spec["timing"] = {"burst": {"seconds": int(burst_seconds)}}
    elif timing == "spread":
        spec["timing"] = "spread"
    else:
        raise ValueError(f"timing must be 'burst' or 'spread', got {timing!r}")
    return spec


def generate(
    X: Any,
    kind: str,
    *,
    size: Union[int, float] = 0.05,
    direction: str = "nuke",
    targets: Optional[Sequence[Any]] = None,
    filler: int = 19,
    popular: int = 5,
    probability: float = 0.1,
    timing: str = "burst",
    burst_seconds: int = 86_400,
    seed: int = 0,
    rating_scale: Tuple[float, float] = (1.0, 5.0),
    model: Any = None,
    lambda_: Optional[float] = None,
    rating_step: float = 1.0,
) -> Tuple[Any, Dict[str, Any]]:
    """Runs one attack on ratings given as :meth:`cnmf.CorrectiveNMF.fit` takes them (a
    DataFrame with ``user``, ``item``, ``rating`` and optionally ``timestamp``, a tuple of
    arrays, or a SciPy matrix). Returns ``(attacked, truth)``:

    * ``attacked``: a pandas DataFrame (``user``, ``item``, ``rating``, and ``timestamp`` when
      the input had them) with ids as text; injected users are ``attacker-0``, ``attacker-1``...
    * ``truth``: ``adversaries`` and ``targets`` (ids), and ``entries``, a DataFrame of every
      rating the attack added or changed (``user``, ``item``, ``rating``, ``original``: NaN for
      an added one).

    ``size`` is a number of adversaries (int) or a share of the users (float); ``targets`` are
    item ids (default: one drawn among items with at least 100 ratings); ``direction`` is
    ``"nuke"`` (rate the targets at the scale minimum) or ``"push"``; ``filler`` items per
    injected profile; ``popular`` items of a bandwagon profile; ``probability`` of a
    random-noise flip; with timestamps the attack's ratings arrive as a ``burst`` after the
    data (``burst_seconds`` long) or ``spread`` over each item's history. The same seed gives
    the same attack. Bad parameters raise ``ValueError`` with the attacks crate's message.

    ``kind="adaptive"`` is the threshold-aware review bomb: ``size`` existing users (as in the
    informed attack) each rate every target at the most extreme value of the rating grid
    (``rating_step`` apart on ``rating_scale``) within ``sqrt(lambda_)`` of the model's
    prediction for that user and item, so a residual threshold ``lambda_`` does not flag it;
    a target with no such value keeps the user's rating and has no ground-truth entry.
    ``model`` gives the predictions: a fitted :class:`cnmf.CorrectiveNMF` (predictions as its
    ``predict(..., unknown="mean")``, computed in Rust without the GIL) or a callable
    ``model(user_id, item_id) -> float`` (ids as text, called once per account and target).
    ``lambda_`` defaults to a fitted model's threshold (``threshold_``) and must be given
    with a callable or a model without one. The other kinds ignore ``model`` and ``lambda_``.
    """
    import pandas as pd

    from . import _dense, _id_texts, _triples

    fitted = predict = None
    if kind == "adaptive":
        fitted, predict, lambda_ = _predictions(model, lambda_)
    spec = _spec(kind, size, direction, targets, filler, popular, probability, timing,
                 burst_seconds, seed, lambda_, rating_step)
    users, items, values, times = _triples(X, None, None, None)
    uniq_u, u_idx = _dense(users, "user")
    uniq_i, i_idx = _dense(items, "item")
    lo, hi = (float(v) for v in rating_scale)
    out = _cnmf.attack(
        _id_texts(uniq_u), _id_texts(uniq_i), u_idx, i_idx, np.ascontiguousarray(values),
        json.dumps(spec), (lo, hi), timestamps=times, model=fitted, predict=predict,
    )
    user_ids = np.array(out["user_ids"], dtype=object)
    item_ids = np.array(out["item_ids"], dtype=object)
    frame = {
        "user": user_ids[out["users"]],
        "item": item_ids[out["items"]],
        "rating": out["ratings"],
    }
    if out["timestamps"] is not None:
        frame["timestamp"] = out["timestamps"]
    truth = {
        "adversaries": [str(x) for x in user_ids[out["adversaries"]]],
        "targets": [str(x) for x in item_ids[out["targets"]]],
        "entries": pd.DataFrame({
            "user": user_ids[out["entry_users"]],
            "item": item_ids[out["entry_items"]],
            "rating": out["entry_values"],
            "original": out["entry_originals"],
        }),
    }
    return pd.DataFrame(frame), truth


def _predictions(model: Any, lambda_: Optional[float]) -> Tuple[Any, Optional[Callable[[str, str], float]], float]:
    """(the compiled model or None, the callable or None, the threshold) of the adaptive
    attack's ``model=`` and ``lambda_=``."""
    if model is None:
        raise ValueError(
            "the adaptive attack needs the model's predictions: pass model= (a fitted "
            "CorrectiveNMF or a callable model(user_id, item_id) -> float)"
        )
    compiled = getattr(model, "model_", None) if not isinstance(model, _cnmf.Model) else model
    if compiled is None and hasattr(model, "get_params") and hasattr(model, "fit"):
        raise ValueError("the adaptive attack's model is not fitted yet: call fit() first")
    if compiled is not None:
        if lambda_ is None:
            lambda_ = compiled.lambda_
        if lambda_ is None:
            raise ValueError(
                f"the model ({compiled.algorithm}) has no corruption threshold: give lambda_="
            )
        return compiled, None, float(lambda_)
    if not callable(model):
        raise ValueError(
            f"model must be a fitted CorrectiveNMF or a callable, got {type(model).__name__}"
        )
    if lambda_ is None:
        raise ValueError("with a callable model the adaptive attack needs lambda_= (its threshold)")
    return None, model, float(lambda_)
