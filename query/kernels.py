"""The alignments' inner loops, compiled (numba): a query row after row, a column after column,
every candidate in one call. As numpy they ran one vectorised step per query frame over every
candidate's columns, and at a few query frames that was mostly call overhead (1.4 ms of a 7 ms
time-range search at 1M frames). Arithmetic is float32 step by step, as numpy's was, so the
results are the same bit for bit (tests/query/test_kernels.py checks them against the numpy
versions).
"""
from __future__ import annotations

import functools

import numpy as np

from indexer.jit import njit


def _monotone(sim, pen, dp, start, repeats):  # pragma: no cover - compiled
    c, n, m = sim.shape
    prev_dp = np.empty(m, np.float32)
    prev_start = np.empty(m, np.int64)
    prev_rep = np.empty(m, np.float64)
    for k in range(c):
        for j in range(m):
            dp[k, j] = sim[k, 0, j]
            start[k, j] = j
            repeats[k, j] = 0.0
        for i in range(1, n):
            prev_dp[:] = dp[k]
            prev_start[:] = start[k]
            prev_rep[:] = repeats[k]
            top = np.float32(-np.inf)  # best of the previous row before column j, and its latest column
            arg = 0
            for j in range(m):
                stay = np.float32(prev_dp[j] - pen)
                if stay >= top:
                    src, step, repeat = j, stay, 1.0
                else:
                    src, step, repeat = arg, top, 0.0
                start[k, j] = prev_start[src]
                repeats[k, j] = prev_rep[src] + repeat
                dp[k, j] = np.float32(sim[k, i, j] + step)
                if prev_dp[j] >= top:
                    top, arg = prev_dp[j], j


def _local(sim, threshold, max_step, pen, h, total, first):  # pragma: no cover - compiled
    c, n, m = sim.shape
    for k in range(c):
        for j in range(m):
            g = np.float32(sim[k, 0, j] - threshold)
            h[k, 0, j] = g if g > 0 else np.float32(0)
            total[k, 0, j] = sim[k, 0, j] if g > 0 else np.float32(0)
            first[k, 0, j] = j
        for i in range(1, n):
            for j in range(m):
                best = np.float32(h[k, i - 1, j] - pen)
                step = 0
                for d in range(1, min(max_step, m - 1) + 1):
                    if j >= d and h[k, i - 1, j - d] > best:
                        best, step = h[k, i - 1, j - d], d
                src = j - step
                cont = best > 0
                value = np.float32(sim[k, i, j] - threshold)
                if cont:
                    value = np.float32(value + best)
                if value > 0:
                    h[k, i, j] = value
                    total[k, i, j] = np.float32(sim[k, i, j] + total[k, i - 1, src]) if cont else sim[k, i, j]
                else:
                    h[k, i, j] = 0
                    total[k, i, j] = 0
                first[k, i, j] = first[k, i - 1, src] if cont else i * m + j


@functools.cache
def _kernel(fn):
    return njit(fn)


def monotone(sim: np.ndarray, repeat_penalty: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The last query row's best monotone-alignment scores, start columns and repeats, each
    ``(candidates, video frames)`` (see ``query.search.align_many``)."""
    sim = np.ascontiguousarray(sim, np.float32)
    c, _, m = sim.shape
    dp, start, repeats = np.empty((c, m), np.float32), np.empty((c, m), np.int64), np.empty((c, m), np.float64)
    _kernel(_monotone)(sim, np.float32(repeat_penalty), dp, start, repeats)
    return dp, start, repeats


def local(sim: np.ndarray, threshold: float, max_step: int, repeat_penalty: float
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local-alignment tables ``h, total, first`` (see ``query.copies.local_align``)."""
    sim = np.ascontiguousarray(sim, np.float32)
    h, total = np.empty(sim.shape, np.float32), np.empty(sim.shape, np.float32)
    first = np.empty(sim.shape, np.int64)
    _kernel(_local)(sim, np.float32(threshold), int(max_step), np.float32(repeat_penalty), h, total, first)
    return h, total, first


def ready() -> None:
    """Compile (or load from numba's cache) both loops now, not on a first request."""
    sim = np.zeros((1, 2, 2), np.float32)
    monotone(sim, 0.1)
    local(sim, 0.5, 2, 0.1)
