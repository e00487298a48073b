"""Searcher internals that scale with the collection: path neighbours for the anomaly scores,
candidates for a long clip."""
from __future__ import annotations

import dataclasses

import faiss
import numpy as np

from indexer import read_bundle
from query.search import EXACT_PATHS, Searcher, _diagonal_run, _on_diagonals, _path_neighbours, refined
from testkit.bundles import synthetic_bundle


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


def test_a_short_copy_inside_a_long_clip_is_a_candidate_wherever_it_lies(tmp_path):
    """300 s of one video's frames over and over with 3 frames of the video least like it at each
    of ten offsets: a probe meets the copy at every one (64 probes spread over 300 s fall ~4.7 s
    apart, and missed 4 of the 10), so the source is among the videos the frame index voted for
    even when only one is kept by votes."""
    s = Searcher(read_bundle(synthetic_bundle(tmp_path, 300, 20)))
    s = Searcher(s.bundle, dataclasses.replace(s.settings, candidates_per_k=1, min_candidates=1))
    frames = lambda v: np.arange(s.offsets[v], s.offsets[v + 1])  # noqa: E731
    first = s.feats[frames(0)].astype(np.float32)
    source = int(np.argmin([(s.feats[frames(v)].astype(np.float32) @ first.T).max() for v in range(len(s.ids))]))
    for at in range(120, 130):
        rows = np.resize(frames(0), 300)
        rows[at:at + 3] = frames(source)[3:6]
        q = s.query_for_frames(np.arange(300.0), s.feats[rows].astype(np.float32), s.codes[rows])
        candidates, voted = s._candidates(q, 1)
        assert source in candidates[:voted], (at, candidates[:voted])


def test_the_candidate_nearest_most_often_is_refined_for_crops_whatever_its_coarse_agreement():
    """Twelve other shots of a copy's surroundings agree better at a coarse window than the
    copy's source, which the query's frames are nearest most often: the source is still refined."""
    starts = [(0.7, "source")] + [(0.9 + i / 100, f"other {i}") for i in range(15)]
    chosen = [c for _, c in refined(starts, 12, 0.25)]
    assert len(chosen) == 12 and chosen[0] == "source"
    assert chosen[3:] == [f"other {i}" for i in range(14, 5, -1)]  # then the best coarse agreements
    assert "source" not in [c for _, c in refined(starts, 12, 0.0)]


def test_the_pairs_most_alike_along_a_diagonal_come_first_one_a_diagonal():
    """A crop search's extra starts: three frames after one another (or every other frame, a copy
    at twice its speed) alike three slots in a row outrank a lone nearer frame; pairs under the
    floor are not taken, and each start is on its own diagonal."""
    sim = np.full((6, 20), 0.3, np.float32)
    sim[1, 15] = 0.99                                  # one frame nearer than any other
    sim[2, 4], sim[3, 5], sim[4, 6] = 0.8, 0.82, 0.81  # three in a row at speed 1
    sim[0, 10], sim[1, 12], sim[2, 14] = 0.7, 0.75, 0.7  # at twice the speed
    sim[5, 0] = -np.inf                                # no such frame (padding)
    run = _diagonal_run(sim, 0.25)
    starts = _on_diagonals(run, 3)
    assert starts[0] == (3, 5) and starts[1] == (1, 12), starts
    assert all(abs((f - t) - (g - u)) > 1 for (t, f), (u, g) in zip(starts, starts[1:]))
    assert np.isneginf(run[5, 0]) and np.isneginf(_diagonal_run(sim, 0.9)[3, 5])
    assert _on_diagonals(run, 0) == []
