"""Shared fixtures of the cnmf tests: small made-up ratings (never MovieLens)."""

import numpy as np
import pytest


@pytest.fixture(scope="module")
def triples():
    """(users, items, ratings): 80 users, 50 items, 20 ratings each, on a 1..5 scale, with a
    low-rank structure and a 1-star burst on item 7 by ten users."""
    rng = np.random.default_rng(7)
    n, m, k = 80, 50, 3
    w = rng.uniform(0.2, 1.2, (n, k))
    h = rng.uniform(0.2, 1.2, (k, m))
    users, items, ratings = [], [], []
    for u in range(n):
        for i in rng.choice(m, 20, replace=False):
            v = float(np.clip(np.rint(w[u] @ h[:, i] * 1.3 + rng.normal(0, 0.3)), 1, 5))
            if i == 7 and u < 10:
                v = 1.0
            users.append(u)
            items.append(int(i))
            ratings.append(v)
    return np.array(users), np.array(items), np.array(ratings)
