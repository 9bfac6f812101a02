"""cnmf.attacks: the attacks crate's generators and their ground truth, from Python."""

import numpy as np
import pandas as pd
import pytest

from cnmf import CorrectiveNMF, attacks


def frame(triples, with_times=False):
    u, i, r = triples
    df = pd.DataFrame({"user": u, "item": i, "rating": r})
    if with_times:
        df["timestamp"] = np.arange(len(r), dtype=np.int64) * 60
    return df


def test_informed_review_bomb(triples):
    df = frame(triples)
    attacked, truth = attacks.generate(df, "informed", size=5, targets=[7], seed=3)
    assert truth["targets"] == ["7"]
    assert len(truth["adversaries"]) == 5
    assert set(truth["adversaries"]) <= {str(u) for u in df["user"]}
    e = truth["entries"]
    assert len(e) == 5 and (e["item"] == "7").all() and (e["rating"] == 1.0).all()
    assert set(e["user"]) == set(truth["adversaries"])
    # Every adversary now rates the target 1; nobody else's ratings changed.
    bomb = attacked[(attacked["item"] == "7") & attacked["user"].isin(truth["adversaries"])]
    assert len(bomb) == 5 and (bomb["rating"] == 1.0).all()
    added = e["original"].isna().sum()
    assert len(attacked) == len(df) + added
    # Same seed, same attack; the attacked data fit like any other ratings.
    again, _ = attacks.generate(df, "informed", size=5, targets=[7], seed=3)
    assert again.equals(attacked)
    CorrectiveNMF(rank=3, max_iter=5, early_stopping=False).fit(attacked)


def test_injected_profiles_arrive_as_a_burst(triples):
    df = frame(triples, with_times=True)
    attacked, truth = attacks.generate(
        df, "low-knowledge", size=4, filler=3, targets=[7], direction="push", seed=1
    )
    assert truth["adversaries"] == [f"attacker-{k}" for k in range(4)]
    injected = attacked[attacked["user"].isin(truth["adversaries"])]
    assert len(injected) == 4 * (1 + 3)
    assert (injected[injected["item"] == "7"]["rating"] == 5.0).all()
    assert injected["timestamp"].min() > df["timestamp"].max()


def test_bad_specifications_raise(triples):
    df = frame(triples)
    with pytest.raises(ValueError, match="unknown attack"):
        attacks.generate(df, "adaptive", targets=[7])
    with pytest.raises(ValueError):
        attacks.generate(df, "informed", size=0, targets=[7])
    with pytest.raises(ValueError, match="timing"):
        attacks.generate(df, "informed", targets=[7], timing="later")
    with pytest.raises(ValueError):
        attacks.generate(df, "informed", targets=["no-such-item"])


def test_prediction_shift_of_a_review_bomb(triples):
    from cnmf.metrics import prediction_shift

    df = frame(triples)
    attacked, truth = attacks.generate(df, "low-knowledge", size=8, filler=5, targets=[7], seed=2)
    params = dict(rank=3, max_iter=60, early_stopping=False, algorithm="ignore-missing")
    clean = CorrectiveNMF(**params).fit(df)
    bombed = CorrectiveNMF(**params).fit(attacked)
    s = prediction_shift(clean, bombed, 7)
    # By hand: the genuine users' predictions of item 7 under both models.
    users = clean.user_ids_
    d = bombed.predict(users, [7] * len(users)) - clean.predict(users, [7] * len(users))
    assert s["n_users"] == len(users)
    assert s["maps"] == pytest.approx(np.abs(d).mean()) and s["maps"] > 0
    assert s["mean_shift"] == pytest.approx(d.mean()) and s["mean_shift"] < 0  # a nuke
    assert prediction_shift(clean, clean, 7)["maps"] == 0.0
