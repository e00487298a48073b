"""The frames' own map positions: UMAP's layout optimisation over the fuzzy kNN graph.

Every frame gets a 2-D position from UMAP's stochastic optimisation of the graph cross-entropy,
started from the frames' first two principal components: each graph edge, at a rate
proportional to its weight, pulls its two ends together on UMAP's curve ``1 / (1 + a d^2b)``
(here a = b = 1) and pushes its first end away from ``negatives`` random frames, with a step that falls linearly
to zero over ``epochs`` (the repulsions of one edge are summed at the head's position after its
pull). It runs as one compiled loop (numba), edge after edge, in a fixed order
with its own seeded random numbers, so the same graph and seed give the same positions.

A small encoder trained for seconds cannot draw every local neighbourhood (parametric UMAP
needs long training for that); this per-frame optimisation does, and the encoder is then trained
to reproduce these positions, so that new frames land where their neighbours are.
"""
from __future__ import annotations

import numpy as np

from .jit import njit

# UMAP's curve 1 / (1 + a d^2b) with a = b = 1, t-SNE's Student-t kernel: no fractional power in
# the inner loop (3x faster than UMAP's a = 1.577, b = 0.8951 for min_dist 0.1), and on the map
# benchmark's 10k real frames recall@10 0.630 against 0.624 for UMAP's curve (both with 10 neighbours)
CURVE_A = 1.0


def _kernel():
    def optimise(y, heads, tails, rate, epochs, negatives, seed, a):  # pragma: no cover - compiled
        n = y.shape[0]
        state = np.uint64(seed) * np.uint64(6364136223846793005) + np.uint64(1442695040888963407)
        for epoch in range(epochs):
            alpha = 1.0 - epoch / epochs
            for e in range(heads.shape[0]):
                if np.floor((epoch + 1) * rate[e]) <= np.floor(epoch * rate[e]):
                    continue  # this edge's turn has not come (edges fire in proportion to weight)
                i, j = heads[e], tails[e]
                # the head's position lives in registers: its repulsions below are computed from
                # the same point and summed, independent of one another (2.3x faster than UMAP's
                # one-after-another updates, which chain every step on the last; same recall@10)
                yi0, yi1 = y[i, 0], y[i, 1]
                dx, dy = yi0 - y[j, 0], yi1 - y[j, 1]
                c = -2.0 * a / (1.0 + a * (dx * dx + dy * dy))
                gx = min(max(c * dx, -4.0), 4.0) * alpha
                gy = min(max(c * dy, -4.0), 4.0) * alpha
                y[j, 0] -= gx
                y[j, 1] -= gy
                yi0 += gx
                yi1 += gy
                sx, sy = 0.0, 0.0
                for _ in range(negatives):
                    state ^= state << np.uint64(13)
                    state ^= state >> np.uint64(7)
                    state ^= state << np.uint64(17)
                    k = np.int64(((state >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32))  # in [0, n)
                    if k == i:
                        continue
                    dx, dy = yi0 - y[k, 0], yi1 - y[k, 1]
                    d2 = dx * dx + dy * dy
                    if d2 > 0.0:
                        c = 2.0 / ((1e-3 + d2) * (1.0 + a * d2))
                        sx += min(max(c * dx, -4.0), 4.0)
                        sy += min(max(c * dy, -4.0), 4.0)
                    else:
                        sx += 4.0
                        sy += 4.0
                y[i, 0] = yi0 + sx * alpha
                y[i, 1] = yi1 + sy * alpha

    return njit(optimise, fastmath=True)


_optimise = None


def warm() -> None:
    """Load the compiled loop (from numba's cache, about 0.6 s the first time in a process), so
    that a thread with nothing else to do can pay for it before the map is fitted."""
    start = np.arange(6, dtype=np.float32).reshape(3, 2)
    optimise_layout(start, np.array([0, 1]), np.array([1, 0]), np.ones(2), 1, 1, 0)


def optimise_layout(start: np.ndarray, rows: np.ndarray, cols: np.ndarray, weights: np.ndarray,
                    epochs: int, negatives: int, seed: int) -> np.ndarray:
    """Positions (n, 2) after ``epochs`` of UMAP's optimisation from ``start``, centred, in UMAP's
    units (the start is scaled so that its widest coordinate is 10, as UMAP scales its own).

    ``rows, cols, weights``: the symmetric fuzzy graph, both directions of every edge."""
    global _optimise
    start = np.asarray(start, np.float64)
    start = start - start.mean(0)
    y = (start * (10.0 / max(float(np.abs(start).max()), 1e-12))).astype(np.float32)  # half the cache
    w = np.asarray(weights, np.float64)
    if epochs > 0 and len(w):
        keep = w >= w.max() / epochs  # edges too weak to fire once are dropped, as in UMAP
        if _optimise is None:
            _optimise = _kernel()
        _optimise(y, np.ascontiguousarray(rows[keep], np.int64), np.ascontiguousarray(cols[keep], np.int64),
                  w[keep] / w.max(), int(epochs), int(negatives), int(seed), CURVE_A)
    return (y - y.mean(0)).astype(np.float32)
