"""What a video shows, without its order: a few unit-norm centroids of its frame features (its
"places"), and diversity over them.

Two videos are as close as their *closest pair of places* (the max cosine over their centroid
pairs): a single shared place makes two videos close, whatever the pan, the shot order or the
shot lengths. Path fingerprints compare paths point by point in time, so videos of the same
places in another order count as far apart there; this distance does not.

Centroids are computed once per bundle (farthest-point seeds per video, then one k-means
assignment step), so a request never compares frames with frames: choosing k diverse videos
costs k matrix products of one video's centroids against all centroids.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .settings import SearchSettings

# defaults, from SearchSettings (the service passes its own settings)
MAX_PLACES = SearchSettings.places_per_video
SAME_PLACE = SearchSettings.same_place
POOL_FACTOR = SearchSettings.dissimilar_pool
VIEW_ROUNDS = SearchSettings.view_rounds
VIEW_CHECKS = SearchSettings.view_checks


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def places(feats: np.ndarray, max_places: int = MAX_PLACES, same: float = SAME_PLACE) -> np.ndarray:
    """Unit-norm centroids of a video's unit-norm frame features: farthest-point seeds (first the
    frame least like the video's mean) until every frame is within ``same`` of a seed or
    ``max_places`` are taken, then each seed becomes the mean of the frames nearest to it."""
    feats = np.asarray(feats, np.float32)
    if not len(feats):
        return np.zeros((0, feats.shape[1] if feats.ndim == 2 else 0), np.float32)
    seeds = [int(np.argmin(feats @ _unit(feats.mean(0))))]
    best = feats @ feats[seeds[0]]
    while len(seeds) < max_places and best.min() < same:
        nxt = int(best.argmin())
        seeds.append(nxt)
        best = np.maximum(best, feats @ feats[nxt])
    owner = (feats @ feats[seeds].T).argmax(1)
    cent = np.stack([feats[owner == i].mean(0) if (owner == i).any() else feats[s] for i, s in enumerate(seeds)])
    return _unit(cent).astype(np.float32)


@dataclass(frozen=True)
class Places:
    """Every video's centroids, stacked: ``centroids[offsets[v]:offsets[v + 1]]`` are video v's."""

    centroids: np.ndarray
    offsets: np.ndarray

    @classmethod
    def build(cls, feats: np.ndarray, frame_offsets: np.ndarray, max_places: int = MAX_PLACES,
              same: float = SAME_PLACE) -> "Places":
        per = [places(feats[int(a):int(b)], max_places, same) for a, b in zip(frame_offsets[:-1], frame_offsets[1:])]
        counts = np.array([len(p) for p in per], np.int64)
        cent = np.concatenate(per) if per else np.zeros((0, feats.shape[1]), np.float32)
        return cls(np.ascontiguousarray(cent, np.float32), np.concatenate([[0], np.cumsum(counts)]))

    def closeness(self, cent: np.ndarray) -> np.ndarray:
        """Per video, the max cosine between any of ``cent`` and any of the video's centroids."""
        n = len(self.offsets) - 1
        if not len(cent) or not len(self.centroids):
            return np.full(n, -1.0, np.float32)
        best = (np.asarray(cent, np.float32) @ self.centroids.T).max(axis=0)
        out = np.full(n, -1.0, np.float32)
        has = np.diff(self.offsets) > 0
        out[has] = np.maximum.reduceat(best, self.offsets[:-1][has])
        return out

    def of(self, v: int) -> np.ndarray:
        return self.centroids[int(self.offsets[v]):int(self.offsets[v + 1])]


def spread(pl: Places, k: int, pool_factor: int = POOL_FACTOR, shares: Callable[[int, int], bool] | None = None,
           rounds: int = VIEW_ROUNDS, max_checks: int = VIEW_CHECKS) -> list[tuple[int, float]]:
    """``k`` videos sharing as little content as possible: the smallest ``tau`` such that ``k``
    videos exist whose pairwise closeness is all ``<= tau`` (no shared place when one exists).

    1. A pool: greedy max-min over the content distance (first the video least close to the
       collection's mean place, then always the video least close to all picked) picks
       ``pool_factor * k`` videos, the spread-out part of the collection (each pick is one
       matrix product of its centroids against all centroids).
    2. Within the pool (whose pairwise closeness step 1 has computed), a binary search over
       ``tau`` runs a minimum-degree greedy independent set on the graph "closeness > tau" (the
       classic heuristic for a maximum independent set: a video close to few others blocks few),
       and keeps the smallest ``tau`` at which it finds ``k`` videos.
    3. Of those videos, ``k`` are taken by greedy max-min.
    4. With ``shares(a, b)`` (videos): the pairs of the ``k`` not checked yet are checked, closest
       first and ``max_checks`` in all (a nine has 36 pairs; k = 100 would have 4,950), each pair
       that shares gets closeness 1 and steps 2-3 run again, up to ``rounds`` times (two pans
       over one photograph can overlap visibly while their features stay far apart).
    Returns ``(video, content distance to the nearest other chosen video)`` in the order chosen."""
    n = len(pl.offsets) - 1
    k = min(k, n)
    if k <= 0:
        return []
    has = np.diff(pl.offsets) > 0
    mean = _unit(pl.centroids.mean(0, keepdims=True)) if len(pl.centroids) else np.zeros((1, 1), np.float32)
    first = int(np.argmin(np.where(has, pl.closeness(mean), np.inf)))
    pool = [first]
    rows = [pl.closeness(pl.of(first)).astype(np.float64)]
    nearest = rows[0].copy()
    while len(pool) < min(n, max(pool_factor * k, k)):
        nearest[pool] = np.inf
        nxt = int(np.argmin(nearest))  # ties: lowest row
        pool.append(nxt)
        rows.append(pl.closeness(pl.of(nxt)).astype(np.float64))
        nearest = np.maximum(nearest, rows[-1])
    close = np.stack(rows)[:, pool]
    close = np.maximum(close, close.T)
    np.fill_diagonal(close, -np.inf)

    checked: set[tuple[int, int]] = set()
    chosen = _choose(close, k)
    for _ in range(rounds if shares is not None else 0):
        pairs = {(min(a, b), max(a, b)) for x, a in enumerate(chosen) for b in chosen[x + 1:]} - checked
        # the closest first: the likeliest to share
        pairs = sorted(pairs, key=lambda p: (-close[p], p))[:max(0, max_checks - len(checked))]
        checked.update(pairs)
        found = [p for p in pairs if shares(pool[p[0]], pool[p[1]])]
        for a, b in found:
            close[a, b] = close[b, a] = max(1.0, float(close.max()))
        if not found:
            break
        chosen = _choose(close, k)
    out = []
    for i in chosen:
        others = [close[i, j] for j in chosen if j != i]
        out.append((pool[i], float(1.0 - max(others)) if others else 1.0))
    return out


def _independent(close: np.ndarray, tau: float) -> list[int]:
    """Minimum-degree greedy independent set of the graph ``close > tau`` (pool positions)."""
    adj = close > tau
    alive = np.ones(len(close), bool)
    out = []
    while alive.any():
        deg = (adj & alive[None, :]).sum(1)
        cand = np.flatnonzero(alive)
        # fewest conflicts first, then the least close to anything left, then pool order
        worst_left = np.where(alive[None, :], close, -np.inf)[cand].max(1)
        i = int(cand[np.lexsort((cand, worst_left, deg[cand]))[0]])
        out.append(i)
        alive &= ~adj[i]
        alive[i] = False
    return out


def _choose(close: np.ndarray, k: int) -> list[int]:
    """Steps 2-3 of :func:`spread` over the pool's pairwise ``close``-ness: the smallest bound at
    which an independent set holds ``k``, then ``k`` of it by greedy max-min (pool positions)."""
    levels = np.unique(close[np.isfinite(close)])
    best = list(range(len(close)))[:k]
    lo, hi = 0, len(levels) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        found = _independent(close, float(levels[mid]))
        if len(found) >= k:
            best, hi = found, mid - 1
        else:
            lo = mid + 1
    # k of them by greedy max-min (the first is the least close to the rest)
    sub = close[np.ix_(best, best)]
    order = [int(np.argmin(sub.max(1)))] if len(best) > 1 else [0]
    while len(order) < k:
        near = sub[order].max(0)
        near[order] = np.inf
        order.append(int(np.argmin(near)))
    return [best[i] for i in order]


def farthest(pl: Places, cent: np.ndarray, k: int, exclude: int | None = None,
             shares: Callable[[int], bool] | None = None, max_checks: int = VIEW_CHECKS,
             close: np.ndarray | None = None) -> list[tuple[int, float]]:
    """The ``k`` videos sharing least content with a query (its centroids ``cent``): smallest
    closeness first; the score is the content distance ``1 - closeness``. With ``shares(v)``
    (does video v share a view with the query?), the chosen are checked, the closest first and
    ``max_checks`` in all; one that shares is replaced by the next farthest and, only when fewer
    than ``k`` are left, comes last with distance 0. ``close``: ``pl.closeness(cent)``, when the
    caller has it already."""
    dist = 1.0 - (pl.closeness(cent) if close is None else close).astype(np.float64)
    if exclude is not None:
        dist[exclude] = -np.inf
    idx = np.flatnonzero(np.isfinite(dist))
    order = [int(v) for v in idx[np.lexsort((idx, -dist[idx]))]]
    chosen, rest, sharing, checked = order[:k], order[k:], [], set()
    while shares is not None and len(checked) < max_checks:
        todo = [v for v in reversed(chosen) if v not in checked]  # the closest first: the likeliest to share
        if not todo:
            break
        checked.add(todo[0])
        if shares(todo[0]):
            chosen.remove(todo[0])
            sharing.append(todo[0])
            if rest:
                chosen.append(rest.pop(0))
    return [(v, float(dist[v])) for v in chosen] + [(v, 0.0) for v in sharing][:k - len(chosen)]
