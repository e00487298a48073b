"""The frame graph of a bundle: shots from a cut detector on the stored features, and a
symmetric kNN graph over all frames with temporal edges inside each shot.

Cut detector: a cut lies between two consecutive frames of a video whose reduced features have
cosine similarity below ``CUT_SIM`` (a camera move keeps consecutive frames alike; a cut to
another place does not). Graph: every frame's ``NEIGHBOURS`` nearest frames by cosine (from the
bundle's FAISS frame index), weighted by a heat kernel ``exp(-(1 - cos) / h)`` with ``h`` the
median of ``1 - cos`` over those edges, plus an edge of weight ``SHOT_LINK`` between consecutive
frames of a shot and ``CUT_LINK`` across a cut (consecutive shots of one edit usually belong
together, but much less than two frames of one shot). The graph depends only on the bundle, so
it is built once per bundle, on first use.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .settings import SearchSettings

# defaults, from SearchSettings (the service passes its own settings)
CUT_SIM = SearchSettings.cut_similarity
NEIGHBOURS = SearchSettings.graph_neighbours
SHOT_LINK = 1.0   # weight of the edge between consecutive frames of a shot (a kNN edge is <= 1)
CUT_LINK = SearchSettings.cut_link
BATCH = 4096      # frames searched per FAISS call while building the graph


def cuts(feats: np.ndarray, cut_sim: float = CUT_SIM) -> np.ndarray:
    """``True`` at ``i`` when a cut lies between frames ``i`` and ``i + 1`` (unit-norm features)."""
    feats = np.asarray(feats, np.float32)
    if len(feats) < 2:
        return np.zeros(0, bool)
    return (feats[:-1] * feats[1:]).sum(1) < cut_sim


def shots(feats: np.ndarray, offsets: np.ndarray | None = None, cut_sim: float = CUT_SIM) -> np.ndarray:
    """A shot number per frame, counting up over the whole array; ``offsets`` separate videos
    (a new video always starts a new shot)."""
    n = len(feats)
    new = np.zeros(n, bool)
    if n:
        new[0] = True
        new[1:] = cuts(feats, cut_sim)
    if offsets is not None:
        starts = np.asarray(offsets[:-1], np.int64)
        new[starts[starts < n]] = True
    return np.cumsum(new) - 1


@dataclass(frozen=True)
class FrameGraph:
    shot: np.ndarray          # shot number per frame (unique over the bundle)
    walk: sp.csr_matrix       # D^-1/2 W D^-1/2, symmetric

    @property
    def frames(self) -> int:
        return self.walk.shape[0]


def knn(index, feats: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Every frame's ``k`` nearest other frames from a FAISS inner-product index over ``feats``."""
    n = len(feats)
    k = min(k, n - 1)
    sims = np.zeros((n, max(k, 0)), np.float32)
    rows = np.zeros((n, max(k, 0)), np.int64)
    if k <= 0:
        return sims, rows
    for a in range(0, n, BATCH):
        s, r = index.search(np.ascontiguousarray(feats[a:a + BATCH], np.float32), k + 1)
        self_hit = r == np.arange(a, a + len(r))[:, None]
        # drop the frame itself (or the last hit when an identical frame displaced it)
        drop = np.where(self_hit.any(1), self_hit.argmax(1), k)
        keep = np.ones_like(self_hit)
        keep[np.arange(len(r)), drop] = False
        sims[a:a + len(r)] = s[keep].reshape(len(r), k)
        rows[a:a + len(r)] = r[keep].reshape(len(r), k)
    return sims, rows


def build(index, feats: np.ndarray, offsets: np.ndarray, neighbours: int = NEIGHBOURS, cut_sim: float = CUT_SIM,
          cut_link: float = CUT_LINK, shot_link: float = SHOT_LINK) -> FrameGraph:
    """The frame graph of a bundle (see the module docstring)."""
    n = len(feats)
    shot = shots(feats, offsets, cut_sim)
    sims, rows = knn(index, feats, neighbours)
    ok = rows >= 0
    gap = 1.0 - sims[ok]
    h = max(float(np.median(gap)) if len(gap) else 1.0, 1e-3)
    src = np.repeat(np.arange(n), rows.shape[1])[ok.ravel()]
    w = np.exp(-gap / h)
    # temporal edges between consecutive frames of one video
    same_video = np.ones(max(n - 1, 0), bool)
    ends = np.asarray(offsets[1:-1], np.int64) - 1
    same_video[ends[(ends >= 0) & (ends < n - 1)]] = False
    t = np.flatnonzero(same_video)
    tw = np.where(shot[t] == shot[t + 1], shot_link, cut_link)
    keep_t = tw > 0
    src = np.concatenate([src, t[keep_t]])
    dst = np.concatenate([rows[ok], t[keep_t] + 1])
    w = np.concatenate([w, tw[keep_t]]).astype(np.float64)
    W = sp.coo_matrix((w, (src, dst)), shape=(n, n)).tocsr()
    W = W.maximum(W.T)  # symmetric: an edge either way counts
    deg = np.asarray(W.sum(1)).ravel()
    inv = 1.0 / np.sqrt(np.maximum(deg, 1e-12))
    walk = sp.diags(inv) @ W @ sp.diags(inv)
    return FrameGraph(shot, walk.tocsr().astype(np.float32))


def spread(walk: sp.csr_matrix, seeds: np.ndarray, alpha: float, iterations: int) -> np.ndarray:
    """Label spreading (Zhou et al. 2004): iterate ``F = alpha S F + (1 - alpha) Y``."""
    y = np.asarray(seeds, np.float32)
    f = y.copy()
    for _ in range(iterations):
        f = alpha * (walk @ f) + (1.0 - alpha) * y
    return f
