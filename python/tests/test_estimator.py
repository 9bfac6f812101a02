"""CorrectiveNMF: input forms, parameters, bad inputs, determinism across thread counts."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import cnmf
from cnmf import CorrectiveNMF

PARAMS = dict(rank=4, max_iter=40, random_state=3)


def fitted(*args, **kw):
    return CorrectiveNMF(**{**PARAMS, **kw}).fit(*args)


def same_model(a, b):
    assert np.array_equal(a.W_, b.W_)
    assert np.array_equal(a.H_, b.H_)
    assert (a.corrupt_mask_ != b.corrupt_mask_).nnz == 0
    assert [str(x) for x in a.user_ids_] == [str(x) for x in b.user_ids_]
    assert [str(x) for x in a.item_ids_] == [str(x) for x in b.item_ids_]


def test_every_input_form_gives_the_same_model(triples):
    u, i, r = triples
    base = fitted(u, i, r)
    same_model(base, fitted((u, i, r)))
    same_model(base, fitted(list(u), list(i), list(r)))
    for fmt in ("csr", "csc", "coo"):
        same_model(base, fitted(sp.coo_matrix((r, (u, i))).asformat(fmt)))
    same_model(base, fitted(sp.csr_array((r, (u, i)))))
    df = pd.DataFrame({"user": u, "item": i, "rating": r})
    same_model(base, fitted(df))
    same_model(base, fitted(df.sample(frac=1.0, random_state=5)))  # any order


def test_fitted_attributes(triples):
    u, i, r = triples
    m = fitted(u, i, r)
    assert m.W_.shape == (80, 4) and m.H_.shape == (4, 50)
    assert (m.W_ >= 0).all() and (m.H_ >= 0).all()
    assert sp.issparse(m.corrupt_mask_) and m.corrupt_mask_.shape == (80, 50)
    assert m.corrupt_mask_.nnz == len(m.corrupt_ratings_)
    assert m.trace_[0]["iteration"] == 0 and m.n_iter_ == len(m.trace_) - 1
    assert m.threshold_ == pytest.approx(4.1536, abs=1e-3)  # the CLI's default lambda
    # Raw scores are W_ @ H_; predictions are them clipped to the scale.
    raw = m.W_ @ m.H_
    assert m.predict(3, 9) == pytest.approx(np.clip(raw[3, 9], 1, 5), rel=1e-12)
    preds = m.predict(u[:10], i[:10])
    assert preds.shape == (10,) and ((preds >= 1) & (preds <= 5)).all()


def test_get_set_params():
    m = CorrectiveNMF(rank=7)
    p = m.get_params()
    assert p["rank"] == 7 and p["algorithm"] == "ignore-corrupt" and p["p"] == 0.05
    assert m.set_params(rank=3, algorithm="guarded") is m
    assert m.rank == 3 and m.algorithm == "guarded"
    with pytest.raises(ValueError, match="invalid parameter"):
        m.set_params(k=3)
    assert "rank=3" in repr(m)


def test_recommend(triples):
    u, i, r = triples
    m = fitted(u, i, r)
    recs = m.recommend(0, n=5)
    assert len(recs) == 5
    seen = set(i[u == 0].tolist())
    assert not seen & {item for item, _ in recs}
    scores = [s for _, s in recs]
    assert scores == sorted(scores, reverse=True)
    all_recs = m.recommend(0, n=50, exclude_seen=False)
    assert len(all_recs) == 50
    with pytest.raises(KeyError):
        m.recommend(12345)


def test_unknown_ids(triples):
    u, i, r = triples
    m = fitted(u, i, r)
    with pytest.raises(KeyError, match="unknown user"):
        m.predict(999, 1)
    with pytest.raises(KeyError, match="unknown item"):
        m.predict(1, 999)
    assert 1 <= m.predict(999, 1, unknown="mean") <= 5


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(rank=0), "rank"),
        (dict(algorithm="nope"), "unknown algorithm"),
        (dict(lambda_=-1.0), "lambda"),
        (dict(sigma=-1.0), "sigma"),
        (dict(p=1.5), "p"),
        (dict(max_iter=-1), "max_iter"),
        (dict(rank=2.5), "rank"),
        (dict(algorithm="ignore-missing", lambda_=2.0), "no effect"),
        (dict(rank=1000), "rank"),
        (dict(rating_scale=(5, 1)), "scale"),
        (dict(precision="f16"), "precision"),
        (dict(precision=32), "precision"),
    ],
)
def test_bad_parameters_raise_value_error(triples, params, message):
    u, i, r = triples
    with pytest.raises(ValueError, match=message):
        CorrectiveNMF(**params).fit(u, i, r)


def test_bad_ratings_raise(triples):
    u, i, r = triples
    for bad, message in [(np.nan, "finite"), (np.inf, "finite"), (-1.0, "nonnegative"), (9.0, "scale")]:
        r2 = r.copy()
        r2[5] = bad
        with pytest.raises(ValueError, match=message):
            fitted(u, i, r2)
    with pytest.raises(ValueError, match="duplicate"):
        fitted(np.r_[u, u[:1]], np.r_[i, i[:1]], np.r_[r, r[:1]])
    with pytest.raises(ValueError, match="differ in length"):
        fitted(u, i[:-1], r)
    with pytest.raises(ValueError, match="columns"):
        fitted(pd.DataFrame({"u": u, "item": i, "rating": r}))
    with pytest.raises(TypeError):
        fitted("ratings.csv")
    with pytest.raises(ValueError, match="no ratings"):
        fitted(np.array([]), np.array([]), np.array([]))
    with pytest.raises(RuntimeError, match="not fitted"):
        CorrectiveNMF().predict(1, 1)


def test_thread_count_does_not_change_results(triples):
    u, i, r = triples
    for algo in ("ignore-corrupt", "replace-corrupt", "guarded"):
        runs = [fitted(u, i, r, algorithm=algo, n_threads=t) for t in (1, 2, None)]
        for other in runs[1:]:
            assert runs[0].W_.tobytes() == other.W_.tobytes()
            assert runs[0].H_.tobytes() == other.H_.tobytes()
            assert (runs[0].corrupt_mask_ != other.corrupt_mask_).nnz == 0


def test_f32_precision_is_deterministic_and_close_to_f64(triples):
    u, i, r = triples
    runs = [fitted(u, i, r, precision="f32", n_threads=t) for t in (1, 2)]
    assert runs[0].W_.dtype == np.float64
    assert runs[0].W_.tobytes() == runs[1].W_.tobytes()
    assert runs[0].H_.tobytes() == runs[1].H_.tobytes()
    # Really single precision: every factor is a float32 value, and the model differs from f64's.
    assert np.array_equal(runs[0].W_.astype(np.float32).astype(np.float64), runs[0].W_)
    f64 = fitted(u, i, r)
    assert f64.W_.tobytes() != runs[0].W_.tobytes()
    pairs = (u[:200], i[:200])
    assert np.max(np.abs(f64.predict(*pairs) - runs[0].predict(*pairs))) < 0.05


def test_corrupt_mask_marks_rated_entries(triples):
    u, i, r = triples
    m = fitted(u, i, r, lambda_=0.5)  # a low threshold, so that ratings get flagged
    mask = m.corrupt_mask_.tocoo()
    assert mask.nnz > 0
    rated = dict(zip(zip(u.tolist(), i.tolist()), r.tolist()))
    # Indices are those of user_ids_ and item_ids_ (here the ids 0..n-1 themselves).
    got = [rated[(int(m.user_ids_[a]), int(m.item_ids_[b]))] for a, b in zip(mask.row, mask.col)]
    assert sorted(got) == sorted(m.corrupt_ratings_.tolist())


def test_version():
    assert isinstance(cnmf.__version__, str) and cnmf.__version__


def test_fold_in(triples, tmp_path):
    u, i, r = triples
    m = fitted(u, i, r)
    mask = u == 4
    w = m.fold_in(i[mask], r[mask])
    assert w.shape == (4,) and (w >= 0).all()
    # A model read back from its file folds in the same.
    assert np.array_equal(w, CorrectiveNMF.load(save(m, tmp_path)).fold_in(i[mask], r[mask]))
    with pytest.raises(KeyError, match="unknown item"):
        m.fold_in([999], [3.0])
    with pytest.raises(ValueError):
        m.fold_in([], [])


def save(m, tmp_path):
    path = tmp_path / "m.cnmf"
    m.save(path)
    return path


def test_flagged_lists_the_flagged_ratings(triples):
    u, i, r = triples
    m = fitted(u, i, r, lambda_=0.5)
    df = m.flagged()
    assert list(df.columns) == ["user", "item", "rating", "prediction"]
    assert len(df) == m.corrupt_mask_.nnz > 0
    assert np.array_equal(df["rating"].to_numpy(), m.corrupt_ratings_)
    assert np.array_equal(df["prediction"].to_numpy(), m.predict(df["user"], df["item"]))
    assert len(fitted(u, i, r, algorithm="ignore-missing").flagged()) == 0


def test_timestamps_feed_guarded_burst_screen(triples):
    u, i, r = triples
    rng = np.random.default_rng(11)
    day = 86400
    t = rng.integers(0, 1000 * day, len(r))
    bomb = (i == 7) & (u < 10)
    # The 1-star ratings of item 7 arrive within ten minutes, a day after the history.
    t[bomb] = 1001 * day + np.arange(bomb.sum()) * 60

    def guarded():
        return CorrectiveNMF(**{**PARAMS, "algorithm": "guarded"})

    timed = guarded().fit(u, i, r, timestamps=t)
    assert timed.corrupt_mask_[u[bomb], i[bomb]].all()
    untimed = guarded().fit(u, i, r)
    assert not np.array_equal(timed.W_, untimed.W_)
    # Every way of giving the timestamps is the same fit.
    same_model(timed, guarded().fit((u, i, r, t)))
    df = pd.DataFrame({"user": u, "item": i, "rating": r, "timestamp": t})
    same_model(timed, guarded().fit(df.sample(frac=1.0, random_state=2)))
    same_model(timed, guarded().fit(u, i, r, timestamps=pd.to_datetime(t, unit="s").to_numpy()))
    with pytest.raises(ValueError, match="timestamps for"):
        guarded().fit(u, i, r, timestamps=t[:-1])
    with pytest.raises(ValueError, match="integer seconds or datetimes"):
        guarded().fit(u, i, r, timestamps=t.astype(float))
    with pytest.raises(ValueError, match="given twice"):
        guarded().fit((u, i, r, t), timestamps=t)


def test_sparse_matrices_with_gaps_and_repeats(triples):
    u, i, r = triples
    base = fitted(u + 1, i * 2, r)  # ids with gaps: row 0 and every odd column are empty
    m = sp.csr_matrix((r, (u + 1, i * 2)))
    assert m.shape[0] > base.n_users_ and m.shape[1] > base.n_items_
    same_model(base, fitted(m))
    same_model(base, fitted(m.tocsc()))
    # A repeated pair is refused, never summed.
    coo = sp.coo_matrix((np.r_[r, r[:1]], (np.r_[u, u[:1]], np.r_[i, i[:1]])))
    with pytest.raises(ValueError, match="duplicate"):
        fitted(coo)
    dup = sp.csr_matrix((np.r_[r[:1], r[:1]], np.array([3, 3]), np.array([0, 2])), shape=(1, 5))
    with pytest.raises(ValueError, match="not strictly ascending"):
        fitted(dup)
    bad = m.copy()
    bad.data[3] = np.nan
    with pytest.raises(ValueError, match="finite"):
        fitted(bad)


def test_ctrl_c_interrupts_a_fit():
    import _thread
    import signal
    import threading

    # About 60,000 ratings and 20,000 iterations: minutes, unless the interrupt stops it.
    rng = np.random.default_rng(3)
    u = np.repeat(np.arange(2000), 30)
    i = np.concatenate([rng.choice(400, 30, replace=False) for _ in range(2000)])
    r = rng.integers(1, 6, len(u)).astype(float)
    # A process started in the background by a shell inherits SIGINT ignored, and then
    # interrupt_main does nothing: Python's own handler is installed for the test.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            CorrectiveNMF(
                rank=10, max_iter=20000, algorithm="ignore-missing", early_stopping=False
            ).fit(u, i, r)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)


def test_integer_ids_keep_their_text_whatever_the_integer_type(triples, tmp_path):
    u, i, r = triples
    base = fitted(u, i, r)
    assert base.model_.user_ids() == [str(x) for x in np.unique(u)]
    assert base.model_.item_ids() == [str(x) for x in np.unique(i)]
    for dtype in (np.int32, np.int64, np.uint16, np.uint64):
        m = fitted(u.astype(dtype), i.astype(dtype), r)
        assert m.model_.user_ids() == base.model_.user_ids()
        assert m.model_.item_ids() == base.model_.item_ids()
        assert np.array_equal(m.W_, base.W_)
    # Beyond int64: the ids go in as text and keep it.
    big = np.array([2**64 - 1, 2**63], dtype=np.uint64)
    m = CorrectiveNMF(rank=1, max_iter=2, early_stopping=False).fit(big, [1, 2], [3.0, 4.0])
    assert m.model_.user_ids() == ["9223372036854775808", "18446744073709551615"]


def test_timings_account_for_the_fit(triples, tmp_path):
    u, i, r = triples
    for X in ((u, i, r), sp.csr_matrix((r, (u, i)))):
        m = fitted(X)
        t = m.timings_
        assert set(t) == {"prepare", "convert", "intern", "fit", "package", "total"}
        assert all(v >= 0 for v in t.values())
        assert t["total"] >= t["prepare"] + t["convert"] + t["fit"] + t["package"]
        assert t["intern"] <= t["convert"]
        # Integer ids given per rating are interned in Rust; a sparse matrix's are its indices.
        assert (t["intern"] > 0) == (not sp.issparse(X))
    path = tmp_path / "m.cnmf"
    m.save(path)
    assert CorrectiveNMF.load(path).timings_ is None


@pytest.mark.parametrize(
    "shift, scale, dtype",
    [
        (0, 1, np.int64),  # counted in a table
        (-40, 1, np.int64),  # negative ids
        (0, 10**9, np.int64),  # spread far beyond the table: sorted
        (-(2**62), 2**55, np.int64),  # near the ends of int64
        (0, 1, np.int32),
        (-40, 1, np.int16),
        (0, 1, np.uint16),
        (0, 10**12, np.uint64),
    ],
)
def test_integer_ids_interned_in_rust_match_the_numpy_path(triples, shift, scale, dtype):
    u, i, r = triples
    users = (u.astype(np.int64) * scale + shift).astype(dtype)
    items = (i.astype(np.int64) * 7 * scale + shift).astype(dtype)
    order = np.random.default_rng(1).permutation(len(r))
    users, items, r = users[order], items[order], r[order]
    fast = fitted(users, items, r)
    # The same fit with the ids interned by NumPy (`_dense`) and handed over as distinct ids
    # plus every rating's index.
    uniq_u, u_idx = cnmf._dense(users, "user")
    uniq_i, i_idx = cnmf._dense(items, "item")
    model, none_u, none_i = cnmf._cnmf.fit(
        (cnmf._id_args(uniq_u), u_idx),
        (cnmf._id_args(uniq_i), i_idx),
        np.ascontiguousarray(r),
        CorrectiveNMF(**PARAMS)._engine_args(),
    )
    assert none_u is None and none_i is None
    assert fast.user_ids_.dtype == uniq_u.dtype and fast.item_ids_.dtype == uniq_i.dtype
    assert np.array_equal(fast.user_ids_, uniq_u) and np.array_equal(fast.item_ids_, uniq_i)
    assert fast.model_.user_ids() == model.user_ids()
    assert fast.model_.item_ids() == model.item_ids()
    assert fast.W_.tobytes() == model.w().tobytes() and fast.H_.tobytes() == model.h().tobytes()


def test_fit_does_not_copy_or_change_int64_inputs(triples):
    u, i, r = triples
    users, items, ratings = u.astype(np.int64), i.astype(np.int64), r.astype(np.float64)
    before = users.copy(), items.copy(), ratings.copy()
    m = fitted(users, items, ratings)
    for a, b in zip((users, items, ratings), before):
        assert np.array_equal(a, b) and a.flags.writeable
    assert m.user_ids_.dtype == np.int64 and list(m.user_ids_) == sorted(set(users.tolist()))
    # Strided and reversed views (read in place) give the same model.
    wide = np.zeros((len(users), 3), dtype=np.int64)
    wide[:, 0], wide[:, 1] = users, items
    values = np.stack([ratings, ratings], axis=1)
    same_model(m, fitted(wide[:, 0], wide[:, 1], values[:, 1]))
    same_model(m, fitted(users[::-1], items[::-1], ratings[::-1]))
    times = np.arange(len(users), dtype=np.int64) * 60 + 10**9
    twice = np.stack([times, times], axis=1)
    for algorithm in ("guarded", "ignore-corrupt"):
        a = fitted(users, items, ratings, times, algorithm=algorithm, keep_times=True)
        b = fitted(users[::-1], items[::-1], ratings[::-1], twice[::-1, 1], algorithm=algorithm,
                   keep_times=True)
        same_model(a, b)
        assert np.array_equal(a.model_.history()[1], b.model_.history()[1])


def test_rust_interning_refuses_bad_sides(triples):
    u, i, r = triples
    args = CorrectiveNMF(**PARAMS)._engine_args()
    r = np.ascontiguousarray(r, dtype=np.float64)
    with pytest.raises(ValueError, match="differ in length"):
        cnmf._cnmf.fit(u.astype(np.int64)[:-1], i.astype(np.int64), r, args)
    with pytest.raises(ValueError, match="duplicate rating"):
        cnmf._cnmf.fit(
            np.zeros(len(r), dtype=np.int64), np.zeros(len(r), dtype=np.int64), r, args
        )
    with pytest.raises(TypeError):
        cnmf._cnmf.fit("users", i.astype(np.int64), r, args)
    # Strided id views given directly are gathered in Rust: the same model as contiguous ids.
    wide = np.stack([u, i], axis=1).astype(np.int64)
    strided, ids_u, ids_i = cnmf._cnmf.fit(wide[:, 0], wide[::1, 1], r, args)
    plain, _, _ = cnmf._cnmf.fit(u.astype(np.int64), i.astype(np.int64), r, args)
    assert not wide[:, 0].flags.c_contiguous
    assert strided.w().tobytes() == plain.w().tobytes()
    assert list(ids_u) == sorted(set(u.tolist())) and list(ids_i) == sorted(set(i.tolist()))
