"""cnmf.metrics: the metrics crate's accuracy figures."""

import math

import pytest

from cnmf import metrics


def test_accuracy_by_hand():
    # Errors after clipping 6.0 to 5 and 0.0 to 1: 0, 1, 2 -> MAE 1, RMSE sqrt(5/3), NMAE 1/4.
    a = metrics.accuracy([5.0, 2.0, 3.0], [6.0, 1.0, 5.0])
    assert a["n"] == 3
    assert a["mae"] == pytest.approx(1.0)
    assert a["rmse"] == pytest.approx(math.sqrt(5 / 3))
    assert a["nmae"] == pytest.approx(0.25)
    assert metrics.nmae([1.0], [0.0], rating_scale=(0.0, 2.0)) == pytest.approx(0.5)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="differ|length"):
        metrics.accuracy([1.0, 2.0], [1.0])
    with pytest.raises(ValueError):
        metrics.accuracy([], [])
    with pytest.raises(ValueError):
        metrics.accuracy([1.0], [float("nan")])
