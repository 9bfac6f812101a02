"""cnmf.datasets: MovieLens found where the command line finds it (never shipped)."""

import os
from pathlib import Path

import numpy as np
import pytest

from cnmf import CorrectiveNMF
from cnmf.datasets import load_movielens

DATA = os.environ.get("CNMF_DATA")
needs_ml100k = pytest.mark.skipif(
    not DATA or not (Path(DATA) / "ml-100k" / "u.data").is_file(),
    reason="needs MovieLens 100K: set CNMF_DATA to the directory holding ml-100k/u.data",
)


@needs_ml100k
def test_movielens_100k_loads_as_in_the_file():
    df = load_movielens("ml-100k", data_home=DATA)
    assert len(df) == 100_000
    assert df["user"].nunique() == 943 and df["item"].nunique() == 1682
    assert df["timestamp"].dtype == np.int64
    # The file's first line, found by its pair.
    first = (Path(DATA) / "ml-100k" / "u.data").read_text().split("\n", 1)[0].split("\t")
    u, i, r, t = (int(x) for x in first)
    row = df[(df["user"] == u) & (df["item"] == i)]
    assert row["rating"].tolist() == [r] and row["timestamp"].tolist() == [t]
    # CNMF_DATA is the default place to look.
    assert load_movielens("ml-100k").equals(df)
    # Straight into the estimator, timestamps and all.
    model = CorrectiveNMF(rank=5, max_iter=5, algorithm="guarded").fit(df)
    assert model.W_.shape == (943, 5)


def test_missing_release_names_where_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="grouplens.org") as e:
        load_movielens("ml-1m", data_home=str(tmp_path))
    assert "ratings.dat" in str(e.value)
    with pytest.raises(ValueError, match="unknown MovieLens release"):
        load_movielens("ml-20m", data_home=str(tmp_path))


def test_a_download_that_fails_its_check_leaves_nothing(tmp_path):
    import http.server
    import threading

    class Wrong(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"not the MovieLens zip"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Wrong)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/ml-100k.zip"
    with pytest.raises(OSError, match="expected 4924029") as e:
        load_movielens("ml-100k", data_home=str(tmp_path), download=True, url=url)
    thread.join(5)
    server.server_close()
    assert url in str(e.value)
    assert list(tmp_path.iterdir()) == []
