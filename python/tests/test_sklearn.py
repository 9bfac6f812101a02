"""scikit-learn's estimator conventions: clone, get_params/set_params, repr."""

import inspect

import numpy as np
import pytest

from cnmf import CorrectiveNMF

try:
    import sklearn.base
except ImportError:  # scikit-learn is optional for the package; CI installs it
    sklearn = None


def init_params():
    sig = inspect.signature(CorrectiveNMF.__init__)
    return [p for p in sig.parameters if p != "self"]


def test_get_params_are_the_constructor_signature():
    est = CorrectiveNMF()
    assert list(est.get_params()) == init_params()
    assert list(est.get_params(deep=False)) == init_params()
    defaults = {
        k: v.default for k, v in inspect.signature(CorrectiveNMF.__init__).parameters.items() if k != "self"
    }
    assert est.get_params() == defaults


def test_set_params_refuses_an_unknown_key():
    est = CorrectiveNMF()
    with pytest.raises(ValueError, match="invalid parameter 'rnak'"):
        est.set_params(rnak=3)
    with pytest.raises(ValueError, match="invalid parameter"):
        est.set_params(rank=3, n_components=3)
    assert est.set_params(keep_times=True, rank=5).get_params()["keep_times"] is True
    assert est.rank == 5


def test_repr_shows_every_parameter():
    est = CorrectiveNMF(rank=3, algorithm="guarded", rating_scale=(0.5, 5.0))
    text = repr(est)
    assert text.startswith("CorrectiveNMF(") and "rank=3" in text and "algorithm='guarded'" in text
    for name in init_params():
        assert f"{name}=" in text
    assert eval(text, {"CorrectiveNMF": CorrectiveNMF}).get_params() == est.get_params()


@pytest.mark.skipif(sklearn is None, reason="scikit-learn is not installed (pip install scikit-learn)")
def test_clone_gives_an_unfitted_estimator_with_equal_params(triples):
    u, i, r = triples
    est = CorrectiveNMF(rank=3, max_iter=5, early_stopping=False, lambda_=1.5, keep_times=False)
    est.fit(u, i, r)
    twin = sklearn.base.clone(est)
    assert type(twin) is CorrectiveNMF and twin is not est
    assert twin.get_params() == est.get_params()
    assert not hasattr(twin, "model_") and not hasattr(twin, "W_")
    with pytest.raises(RuntimeError, match="not fitted"):
        twin.predict(0, 0)
    # The clone fits to the same model.
    twin.fit(u, i, r)
    assert np.array_equal(twin.W_, est.W_) and np.array_equal(twin.H_, est.H_)
    # scikit-learn's own parameter and repr machinery accept it.
    assert sklearn.base.clone(est, safe=True).get_params() == est.get_params()
    assert "CorrectiveNMF" in repr(twin)
