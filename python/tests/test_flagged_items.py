"""CorrectiveNMF.flagged_items: the per-item report of `cnmf flagged`, counted by hand."""

import numpy as np
import pandas as pd
import pytest

from cnmf import CorrectiveNMF, attacks


def bombed_fixture():
    """12 users rating 4 everywhere (a rank-1 matrix), except: item 10 gets 1 from users 0,
    1 and 2; item 20 (rated by all 12) gets 1 from user 3; item 30 (rated by users 0-7 only)
    gets 2 from user 4. Items 40, 50 and 60 are all 4s."""
    rows = []
    for u in range(12):
        for i in (10, 20, 30, 40, 50, 60):
            if i == 30 and u >= 8:
                continue
            v = 4.0
            if (i == 10 and u < 3) or (i == 20 and u == 3):
                v = 1.0
            if i == 30 and u == 4:
                v = 2.0
            rows.append((u, i, v))
    return pd.DataFrame(rows, columns=["user", "item", "rating"])


def test_flagged_items_by_hand(tmp_path):
    df = bombed_fixture()
    m = CorrectiveNMF(rank=1, lambda_=1.0, max_iter=200, early_stopping=False).fit(df)
    # The fit flags exactly the odd ratings (residuals of 2 or 3 against about 4).
    flagged = m.flagged()
    assert sorted(zip(flagged["user"], flagged["item"])) == [(0, 10), (1, 10), (2, 10), (3, 20), (4, 30)]
    t = m.flagged_items()
    assert list(t.columns) == [
        "item", "ratings", "flagged", "share", "mean_rating", "mean_flagged_rating",
        "mean_prediction",
    ]
    # Most flagged first; the tie of items 20 and 30 goes by id (30 has the higher share).
    assert list(t["item"]) == [10, 20, 30]
    assert list(t["ratings"]) == [12, 12, 8]
    assert list(t["flagged"]) == [3, 1, 1]
    assert t["share"].tolist() == pytest.approx([3 / 12, 1 / 12, 1 / 8])
    assert t["mean_rating"].tolist() == pytest.approx([(9 * 4 + 3) / 12, (11 * 4 + 1) / 12, (7 * 4 + 2) / 8])
    assert t["mean_flagged_rating"].tolist() == [1.0, 1.0, 2.0]
    by_item = flagged.groupby("item")["prediction"].mean()
    assert t["mean_prediction"].tolist() == pytest.approx([by_item[10], by_item[20], by_item[30]])
    assert (t["mean_prediction"] > 3.0).all()
    # The model file holds what the report needs: a loaded model gives the same report
    # (ids as text).
    m.save(tmp_path / "m.cnmf")
    back = CorrectiveNMF.load(tmp_path / "m.cnmf").flagged_items()
    assert list(back["item"]) == ["10", "20", "30"]
    pd.testing.assert_frame_equal(back.drop(columns="item"), t.drop(columns="item"))


def test_flagged_items_without_flags_is_empty():
    df = bombed_fixture()
    df["rating"] = 4.0
    t = CorrectiveNMF(rank=1, lambda_=1.0, max_iter=50, early_stopping=False).fit(df).flagged_items()
    assert len(t) == 0 and "flagged" in t.columns
    with pytest.raises(RuntimeError, match="not fitted"):
        CorrectiveNMF().flagged_items()


def test_flagged_items_of_guarded_show_the_burst(triples):
    u, i, r = triples
    df = pd.DataFrame({"user": u, "item": i, "rating": r})
    df["timestamp"] = np.arange(len(df), dtype=np.int64) * 21_600
    target = int(df.groupby("item")["rating"].mean().idxmax())
    attacked, truth = attacks.generate(df, "low-knowledge", size=16, filler=5, targets=[target], seed=2)
    model = CorrectiveNMF(rank=3, max_iter=40, early_stopping=False, algorithm="guarded").fit(attacked)
    t = model.flagged_items()
    bursts = model.model_.bursts()
    assert bursts, "the bomb arrives as a burst the screen finds"
    row = t[t["item"] == str(target)].iloc[0]
    (b,) = [b for b in bursts if model.item_ids_[b["item"]] == str(target)]
    assert row["burst"] and row["burst_held"] == b["held"] > 0
    assert row["burst_ratings"] == b["count"] and row["burst_z"] == b["z"]
    assert row["burst_mean"] == b["mean"] and row["burst_rest_mean"] == b["rest_mean"]
    assert row["burst_start"] == pd.Timestamp(b["start"], unit="s")
    assert row["burst_end"] >= row["burst_start"]
    assert row["flagged"] >= row["burst_held"]
    # Items without a burst carry none.
    quiet = t[~t["burst"]]
    assert (quiet["burst_held"] == 0).all() and quiet["burst_z"].isna().all()
    assert quiet["burst_start"].isna().all()
    # Sorted by flagged, most first, then by id.
    keys = list(zip(-t["flagged"], t["item"]))
    assert keys == sorted(keys)


def test_flagged_items_agree_with_the_cli(triples, tmp_path):
    import io
    import subprocess

    from test_model_file import cnmf_binary

    u, i, r = triples
    m = CorrectiveNMF(rank=3, lambda_=0.8, max_iter=30, early_stopping=False).fit(u, i, r)
    m.save(tmp_path / "m.cnmf")
    csv = subprocess.run(
        [cnmf_binary(), "flagged", "--model", str(tmp_path / "m.cnmf"), "--by", "items",
         "--format", "csv", "--quiet"],
        check=True, capture_output=True, text=True,
    ).stdout
    cli = pd.read_csv(io.StringIO(csv)).sort_values("item").reset_index(drop=True)
    t = m.flagged_items().sort_values("item").reset_index(drop=True)
    assert len(t) > 3 and list(cli["item"]) == list(t["item"])
    for col in ("ratings", "flagged"):
        assert list(cli[col]) == list(t[col])
    for col in ("share", "mean_flagged_rating", "mean_prediction"):
        assert cli[col].to_numpy() == pytest.approx(t[col].to_numpy(), rel=1e-12)
