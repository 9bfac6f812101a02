"""save/load: round trips, errors, and the model file is the CLI's (cnmf predict reads it)."""

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from cnmf import CorrectiveNMF

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model(triples):
    u, i, r = triples
    return CorrectiveNMF(rank=4, max_iter=40, random_state=1).fit(u, i, r)


@pytest.mark.parametrize("fmt", ["safetensors", "json"])
def test_round_trip(model, tmp_path, fmt, triples):
    path = tmp_path / "model.cnmf"
    size = model.save(path, format=fmt)
    assert size == path.stat().st_size > 0
    back = CorrectiveNMF.load(path)
    assert np.array_equal(back.W_, model.W_) and np.array_equal(back.H_, model.H_)
    assert (back.corrupt_mask_ != model.corrupt_mask_).nnz == 0
    assert np.array_equal(back.corrupt_ratings_, model.corrupt_ratings_)
    assert back.threshold_ == model.threshold_
    assert back.get_params()["rank"] == 4
    u, i, _ = triples
    assert np.array_equal(back.predict(u, i), model.predict(u, i))
    assert [(str(a), s) for a, s in model.recommend(5)] == back.recommend(5)
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]  # no temporary left


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        CorrectiveNMF.load(tmp_path / "missing.cnmf")
    bad = tmp_path / "bad.cnmf"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="bad.cnmf"):
        CorrectiveNMF.load(bad)
    with pytest.raises(OSError):
        CorrectiveNMF.load(tmp_path)  # a directory


def test_save_errors(model, tmp_path):
    with pytest.raises(OSError):
        model.save(tmp_path / "no" / "such" / "dir" / "m.cnmf")
    with pytest.raises(ValueError, match="format"):
        model.save(tmp_path / "m.cnmf", format="pickle")
    with pytest.raises(RuntimeError, match="not fitted"):
        CorrectiveNMF().save(tmp_path / "m.cnmf")


def cnmf_binary():
    """The `cnmf` CLI: $CNMF_BIN, else target/{debug,release}/cnmf, else built by cargo."""
    env = os.environ.get("CNMF_BIN")
    if env:
        return env
    for profile in ("debug", "release"):
        p = ROOT / "target" / profile / "cnmf"
        if p.exists():
            return str(p)
    if shutil.which("cargo") is None:
        pytest.skip("no cnmf binary and no cargo to build one")
    subprocess.run(["cargo", "build", "-p", "cnmf-cli", "--bin", "cnmf"], cwd=ROOT, check=True)
    return str(ROOT / "target" / "debug" / "cnmf")


@pytest.mark.parametrize("fmt", ["safetensors", "json"])
def test_cli_reads_a_model_saved_from_python(model, tmp_path, fmt, triples):
    path = tmp_path / "model.cnmf"
    model.save(path, format=fmt)
    u, i, _ = triples
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("user,item\n" + "".join(f"{a},{b}\n" for a, b in zip(u[:200], i[:200])))
    out = subprocess.run(
        [cnmf_binary(), "predict", "--model", str(path), "--pairs", str(pairs), "--quiet"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    assert out[0] == "user,item,prediction"
    cli = np.array([float(line.split(",")[2]) for line in out[1:]])
    assert cli.tobytes() == model.predict(u[:200], i[:200]).tobytes()  # the same bits


def test_a_default_fit_is_the_cli_default_fit(tmp_path):
    # User 0 rates every item and the file is sorted by user, then item: the CLI numbers ids by
    # first appearance, which is then the sorted order the package uses, so both fit the same
    # matrix from the same initial factors.
    rng = np.random.default_rng(5)
    rows = [(0, i) for i in range(12)] + [
        (u, i) for u in range(1, 40) for i in range(12) if rng.random() < 0.5
    ]
    u = np.array([a for a, _ in rows])
    i = np.array([b for _, b in rows])
    r = rng.integers(1, 6, len(rows)).astype(float)
    data = tmp_path / "ratings.csv"
    data.write_text("user,item,rating\n" + "".join(f"{a},{b},{c:g}\n" for a, b, c in zip(u, i, r)))
    cli_model = tmp_path / "cli.cnmf"
    subprocess.run(
        [cnmf_binary(), "fit", "--data", str(data), "--k", "3", "-o", str(cli_model), "--quiet"],
        check=True,
    )
    py = CorrectiveNMF(rank=3).fit(u, i, r)
    cli = CorrectiveNMF.load(cli_model)
    assert np.array_equal(cli.W_, py.W_) and np.array_equal(cli.H_, py.H_)
    assert cli.n_iter_ == py.n_iter_


def timed_frame(triples):
    """The fixture's ratings as a DataFrame with a timestamp per rating (one minute apart),
    in a shuffled order (the model stores them by user, then item)."""
    import pandas as pd

    u, i, r = triples
    df = pd.DataFrame({"user": u, "item": i, "rating": r})
    df["timestamp"] = 1_000_000_000 + np.arange(len(r), dtype=np.int64) * 60
    return df.sample(frac=1.0, random_state=3).reset_index(drop=True)


@pytest.mark.parametrize("fmt", ["safetensors", "json"])
def test_keep_times_stores_every_rating_like_the_cli(triples, tmp_path, fmt):
    df = timed_frame(triples)
    kept = CorrectiveNMF(rank=3, max_iter=20, keep_times=True).fit(df)
    assert kept.keeps_times_ and kept.get_params()["keep_times"] is True
    by_pair = df.sort_values(["user", "item"])
    values, times = kept.model_.history()
    assert np.array_equal(values, by_pair["rating"].to_numpy())
    assert np.array_equal(times, by_pair["timestamp"].to_numpy())
    path = tmp_path / "kept.cnmf"
    kept.save(path, format=fmt)
    back = CorrectiveNMF.load(path)
    assert back.keeps_times_ and back.keep_times is True
    v2, t2 = back.model_.history()
    assert np.array_equal(v2, values) and np.array_equal(t2, times)
    # The CLI draws an item's timeline from the stored ratings, with no training file.
    import json

    report = json.loads(
        subprocess.run(
            [cnmf_binary(), "flagged", "--model", str(path), "--item", "7", "--json"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    seven = df[df["item"] == 7]
    assert report["ratings"] == len(seven)
    assert report["flagged"] == int(kept.corrupt_mask_[:, list(kept.item_ids_).index(7)].sum())
    # Without keep_times the model stores no ratings, and the CLI needs the training file.
    plain = CorrectiveNMF(rank=3, max_iter=20).fit(df)
    assert not plain.keeps_times_ and plain.model_.history() is None
    plain.save(tmp_path / "plain.cnmf", format=fmt)
    assert not CorrectiveNMF.load(tmp_path / "plain.cnmf").keeps_times_
    run = subprocess.run(
        [cnmf_binary(), "flagged", "--model", str(tmp_path / "plain.cnmf"), "--item", "7"],
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0 and "keep-times" in run.stderr


def test_keep_times_without_timestamps_is_a_value_error(triples):
    import scipy.sparse as sp

    u, i, r = triples
    est = CorrectiveNMF(rank=3, max_iter=5, keep_times=True)
    with pytest.raises(ValueError, match="keep_times=True needs timestamps"):
        est.fit(u, i, r)
    with pytest.raises(ValueError, match="keep_times=True needs timestamps"):
        est.fit(sp.csr_matrix((r, (u, i))))
    with pytest.raises(ValueError, match="keep_times must be True or False"):
        CorrectiveNMF(keep_times="yes").fit(u, i, r, timestamps=np.arange(len(r)))
    # Given timestamps (the fourth array), it fits.
    assert est.fit(u, i, r, timestamps=np.arange(len(r))).keeps_times_
