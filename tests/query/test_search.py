"""Searcher internals that scale with the collection: path neighbours for the anomaly scores."""
from __future__ import annotations

import faiss
import numpy as np

from query.search import EXACT_PATHS, _path_neighbours


def _paths(n: int, d: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n // 20, d)).astype(np.float32)
    return centres[rng.integers(0, len(centres), n)] + rng.normal(0, 0.3, (n, d)).astype(np.float32)


def test_path_neighbours_past_the_exact_limit_are_nearly_the_exact_ones():
    paths = _paths(EXACT_PATHS + 5000)
    exact = faiss.IndexFlatL2(paths.shape[1])
    exact.add(paths)
    d2, nn = _path_neighbours(exact, paths, 6)
    truth_d2, truth = exact.search(paths[:2000], 6)
    assert np.mean([len(set(a) & set(b)) / 6 for a, b in zip(truth, nn[:2000])]) >= 0.9
    assert (nn[:, 0] == np.arange(len(paths))).mean() > 0.99  # each path finds itself first
    np.testing.assert_allclose(d2[:2000, 1:].mean(), truth_d2[:, 1:].mean(), rtol=0.05)


def test_path_neighbours_up_to_the_limit_are_exact():
    paths = _paths(3000)
    exact = faiss.IndexFlatL2(paths.shape[1])
    exact.add(paths)
    for a, b in zip(_path_neighbours(exact, paths, 5), exact.search(paths, 5)):
        np.testing.assert_array_equal(a, b)
