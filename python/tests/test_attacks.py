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
        attacks.generate(df, "shilling", targets=[7])
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


def test_hit_ratio_of_a_push_by_hand(triples):
    from cnmf.metrics import hit_ratio

    df = frame(triples)
    attacked, _ = attacks.generate(
        df, "low-knowledge", size=12, filler=5, targets=[7], direction="push", seed=4
    )
    params = dict(rank=3, max_iter=60, early_stopping=False, algorithm="ignore-missing")
    clean = CorrectiveNMF(**params).fit(df)
    pushed = CorrectiveNMF(**params).fit(attacked)
    h = hit_ratio(clean, pushed, 7, n=5)
    # By hand: a genuine user who had not rated item 7 counts a hit when fewer than 5 of the
    # items they had not rated score above it (raw scores W @ H; ties go to the lower index).
    seen = df.groupby("user")["item"].apply(set)

    def hits(model):
        items = list(clean.item_ids_)
        scores = model.W_ @ model.H_
        rows = {str(u): k for k, u in enumerate(model.user_ids_)}
        cols = {int(i): k for k, i in enumerate(model.item_ids_)}
        eligible = hit = 0
        for u in clean.user_ids_:
            if 7 in seen[u]:
                continue
            eligible += 1
            s = scores[rows[str(u)]]
            cand = [i for i in items if i not in seen[u]]
            t = s[cols[7]]
            above = sum(
                1 for i in cand if s[cols[i]] > t or (s[cols[i]] == t and items.index(i) < items.index(7))
            )
            hit += above < 5
        return eligible, hit

    (eligible, before), (_, after) = hits(clean), hits(pushed)
    (t,) = h["per_target"]
    assert (t["target"], t["eligible_users"], t["hits_before"], t["hits_after"]) == ("7", eligible, before, after)
    assert h["before"] == pytest.approx(before / eligible) and h["after"] == pytest.approx(after / eligible)
    assert h["after"] > h["before"]  # the push worked on plain NMF
    with pytest.raises(ValueError, match="not in the clean model"):
        hit_ratio(clean, pushed, "no-such-item")
    with pytest.raises(ValueError):
        hit_ratio(clean, pushed, 7, n=0)


def test_user_detection_of_a_burst_by_guarded(triples):
    from cnmf.metrics import detection, user_detection

    df = frame(triples)
    df["timestamp"] = np.arange(len(df), dtype=np.int64) * 21_600  # four a day, over 400 days
    # A bomb strong enough for guarded to accuse its raters (|z| >= 8): 16 one-star ratings on
    # the best-rated item (mean 3.0 over 27 ratings).
    target = int(df.groupby("item")["rating"].mean().idxmax())
    attacked, truth = attacks.generate(df, "low-knowledge", size=16, filler=5, targets=[target], seed=2)
    model = CorrectiveNMF(rank=3, max_iter=40, early_stopping=False, algorithm="guarded").fit(attacked)
    suspected = set(str(u) for u in model.suspected_users())
    d = user_detection(model, truth["adversaries"])
    adversaries = set(truth["adversaries"])
    tp = len(suspected & adversaries)
    assert d["true_positives"] == tp and tp > 0
    assert d["false_positives"] == len(suspected - adversaries)
    assert d["false_negatives"] == len(adversaries - suspected)
    assert d["f1"] == pytest.approx(2 * tp / (len(suspected) + len(adversaries)))
    # By hand, and the undefined ratios.
    d = detection(["a", "b", "b", "c"], ["b", "c", "d", "e"])
    assert (d["true_positives"], d["false_positives"], d["false_negatives"]) == (2, 1, 2)
    assert d["precision"] == pytest.approx(2 / 3) and d["recall"] == pytest.approx(0.5)
    assert detection([], ["x"])["precision"] is None
    # Ids compare as the models store them: 5 and "5" are one user.
    assert detection([5], ["5"])["f1"] == 1.0


@pytest.fixture(scope="module")
def adaptive_setup(triples):
    df = frame(triples)
    model = CorrectiveNMF(rank=3, max_iter=40, early_stopping=False, lambda_=2.25).fit(df)
    return df, model


def test_adaptive_attack_stays_inside_the_threshold(adaptive_setup):
    df, model = adaptive_setup
    attacked, truth = attacks.generate(df, "adaptive", model=model, size=6, targets=[7], seed=3)
    # As documented: `size` existing users, each rating the target at the lowest grid value
    # (a nuke) within sqrt(lambda) = 1.5 of the model's prediction for that user and item.
    assert truth["targets"] == ["7"]
    adversaries = truth["adversaries"]
    assert len(adversaries) == 6 and set(adversaries) <= {str(u) for u in df["user"]}
    e = truth["entries"]
    assert set(e["user"]) <= set(adversaries) and (e["item"] == "7").all()
    pred = model.predict([int(u) for u in e["user"]], [7] * len(e))
    assert ((e["rating"] - pred) ** 2 <= 2.25 + 1e-12).all()
    lower = e["rating"] - 1.0
    assert ((lower < 1.0) | ((lower - pred) ** 2 > 2.25)).all()  # the lowest such value
    assert len(e) > 0
    # Only the entries changed: the added ones are the new rows.
    assert len(attacked) == len(df) + int(e["original"].isna().sum())
    for row in e.itertuples():
        got = attacked[(attacked["user"] == row.user) & (attacked["item"] == "7")]["rating"]
        assert list(got) == [row.rating]
    # The threshold defaults to the model's; a callable giving the same predictions gives
    # the same attack; the same seed gives the same output, another seed other accounts.
    again, truth2 = attacks.generate(
        df, "adaptive", model=lambda u, i: float(model.predict(int(u), int(i))),
        lambda_=model.threshold_, size=6, targets=[7], seed=3,
    )
    assert again.equals(attacked) and truth2["adversaries"] == adversaries
    assert truth2["entries"].equals(e)
    same, _ = attacks.generate(df, "adaptive", model=model, size=6, targets=[7], seed=3)
    assert same.equals(attacked)
    _, other = attacks.generate(df, "adaptive", model=model, size=6, targets=[7], seed=4)
    assert other["adversaries"] != adversaries


def test_adaptive_attack_pushes_to_the_highest_value_inside(adaptive_setup):
    df, model = adaptive_setup
    _, truth = attacks.generate(
        df, "adaptive", model=model, lambda_=0.3, direction="push", size=0.1, targets=[7], seed=1
    )
    assert len(truth["adversaries"]) == 8  # 10% of 80 users
    e = truth["entries"]
    pred = model.predict([int(u) for u in e["user"]], [7] * len(e))
    assert ((e["rating"] - pred) ** 2 <= 0.3).all()
    assert ((e["rating"] + 1.0 > 5.0) | ((e["rating"] + 1.0 - pred) ** 2 > 0.3)).all()


def test_adaptive_attack_needs_a_model(adaptive_setup):
    df, model = adaptive_setup
    with pytest.raises(ValueError, match="needs the model's predictions"):
        attacks.generate(df, "adaptive", targets=[7])
    with pytest.raises(ValueError, match="not fitted"):
        attacks.generate(df, "adaptive", model=CorrectiveNMF(), targets=[7])
    with pytest.raises(ValueError, match="lambda_"):
        attacks.generate(df, "adaptive", model=lambda u, i: 3.0, targets=[7])
    with pytest.raises(ValueError, match="callable"):
        attacks.generate(df, "adaptive", model="model.cnmf", targets=[7])
    with pytest.raises(ValueError, match="lambda"):
        attacks.generate(df, "adaptive", model=model, lambda_=-1.0, targets=[7])
    plain = CorrectiveNMF(rank=3, max_iter=5, algorithm="ignore-missing").fit(df)
    with pytest.raises(ValueError, match="no corruption threshold"):
        attacks.generate(df, "adaptive", model=plain, targets=[7])

    def broken(u, i):
        raise ZeroDivisionError("no prediction")

    with pytest.raises(ZeroDivisionError, match="no prediction"):
        attacks.generate(df, "adaptive", model=broken, lambda_=1.0, targets=[7])
    with pytest.raises(ValueError, match="not finite"):
        attacks.generate(df, "adaptive", model=lambda u, i: float("nan"), lambda_=1.0, targets=[7])
