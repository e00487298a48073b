"""The compiled alignment loops give, bit for bit, what the vectorised numpy versions they
replaced gave (kept here as the reference), on cubes with ties, padding and runs."""
import numpy as np
import pytest

from query.copies import local_align
from query.search import align_many


class _Local:  # the tables the reference returns
    def __init__(self, h, total, first):
        self.h, self.total, self.first = h, total, first


def reference_align_many(sim, repeat_penalty=0.0):
    c, n, m = sim.shape
    dp = sim[:, 0, :].copy()
    start = np.broadcast_to(np.arange(m), (c, m)).copy()
    repeats = np.zeros((c, m))
    idx = np.arange(m)
    for i in range(1, n):
        acc = np.maximum.accumulate(dp, axis=1)
        before = np.full_like(dp, -np.inf)
        before[:, 1:] = acc[:, :-1]  # best of dp[i-1, :j]
        arg = np.zeros((c, m), np.int64)
        arg[:, 1:] = np.maximum.accumulate(np.where(dp >= acc, idx, 0), axis=1)[:, :-1]
        stay = dp - repeat_penalty
        take_stay = stay >= before
        src = np.where(take_stay, idx, arg)
        start = np.take_along_axis(start, src, axis=1)
        repeats = np.take_along_axis(repeats, src, axis=1) + take_stay
        dp = sim[:, i, :] + np.where(take_stay, stay, before)
    last = dp.argmax(axis=1)
    rows = np.arange(c)
    return (dp[rows, last] + repeat_penalty * repeats[rows, last]) / n, start[rows, last], last


def reference_local_align(sim, threshold, max_step=2, repeat_penalty=0.1):
    c, n, m = sim.shape
    gain = sim - np.float32(threshold)
    h = np.zeros((c, n, m), np.float32)
    total = np.zeros((c, n, m), np.float32)
    first = np.empty((c, n, m), np.int64)  # start cell of the run, as first_i * m + first_j
    cols = np.arange(m)
    first[:, 0] = cols
    h[:, 0] = np.maximum(gain[:, 0], 0)
    total[:, 0] = np.where(h[:, 0] > 0, sim[:, 0], 0)
    pen = np.float32(repeat_penalty)
    for i in range(1, n):
        prev = h[:, i - 1]
        # predecessor: the same column (a repeat, penalised) or 1..max_step columns back
        best = prev - pen
        step = np.zeros((c, m), np.int64)
        for d in range(1, min(max_step, m - 1) + 1):
            better = prev[:, :-d] > best[:, d:]
            best[:, d:] = np.where(better, prev[:, :-d], best[:, d:])
            step[:, d:] = np.where(better, d, step[:, d:])
        src = cols[None, :] - step  # column of the predecessor
        cont = best > 0
        value = gain[:, i] + np.where(cont, best, 0)
        live = value > 0
        h[:, i] = np.where(live, value, 0)
        total[:, i] = np.where(live, sim[:, i] + np.where(cont, np.take_along_axis(total[:, i - 1], src, 1), 0), 0)
        first[:, i] = np.where(cont, np.take_along_axis(first[:, i - 1], src, 1), i * m + cols[None, :])
    return _Local(h, total, first)




def _cube(seed: int, c: int = 7, n: int = 9, m: int = 13) -> np.ndarray:
    """Similarities on a coarse grid (many ties), shorter candidates padded with -inf, and a
    planted diagonal run (a copy) in some."""
    rng = np.random.default_rng(seed)
    sim = (np.round(rng.uniform(-0.2, 1.0, (c, n, m)) * 8) / 8).astype(np.float32)
    for k in range(0, c, 2):
        j0 = int(rng.integers(0, max(m - n // 2, 1)))
        for i in range(n // 2):
            if j0 + i < m:
                sim[k, i + n // 4, j0 + i] = np.float32(0.95)
    for k, length in enumerate(rng.integers(1, m + 1, c)):
        sim[k, :, length:] = -np.inf
    return sim


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("penalty", [0.0, 0.1])
def test_monotone_alignment_is_the_numpy_one(seed, penalty):
    sim = _cube(seed)
    for got, want in zip(align_many(sim, penalty), reference_align_many(sim, penalty)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("max_step", [1, 2, 4])
def test_local_alignment_is_the_numpy_one(seed, max_step):
    sim = _cube(seed)
    got, want = local_align(sim, 0.6, max_step, 0.1), reference_local_align(sim, 0.6, max_step, 0.1)
    for name in ("h", "total", "first"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)


def test_one_column_and_one_row():
    for shape in [(3, 1, 5), (3, 5, 1), (1, 1, 1)]:
        sim = _cube(9, *shape)
        for got, want in zip(align_many(sim, 0.1), reference_align_many(sim, 0.1)):
            np.testing.assert_array_equal(got, want)
        got, want = local_align(sim, 0.6), reference_local_align(sim, 0.6)
        np.testing.assert_array_equal(got.h, want.h)
        np.testing.assert_array_equal(got.first, want.first)
