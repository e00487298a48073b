"""Shared views between frames by phase correlation: do two videos show the same part of a scene?

Two frames that film overlapping parts of one still scene (two pans over a photograph, two shots
of one place) differ by a translation. Backbone features miss it when the frames only overlap
(two such frames can be less alike than frames of different photographs); their pictures do not.
For every pair of frames (at most ``view_frames`` per video, evenly spaced):

1. phase correlation (the peak of the inverse normalised cross-power spectrum) of small grey
   thumbnails (standardised, edges tapered, zero-padded to twice their size so a shift is not
   wrapped) finds the translation that best lines the two up;
2. the pictures' *detail* (grey minus its local mean, so flat areas and gradients agree with
   nothing) is correlated (Pearson) over the overlap at that translation, when the overlap
   covers at least ``min_area`` of the picture.

The pair's score is its best frame pair's correlation (0 when no frame pair overlaps enough);
``shares`` compares it with a threshold. About 20-40 ms for two videos of 16 frames (a video
with an inset compares 2 + its insets times as many frames).

A picture shrunk into a box over other footage (picture in picture) shows two videos' places,
and lines up with neither as a whole. For a video the indexer found an inset in
(:func:`with_insets`), the frames are also compared as the footage around the inset (the inset
hidden: hidden pixels take no part in either step) and as the inset scaled up to a whole picture.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np

from indexer.decode import fit_size
from indexer.insets import alone

WIDTH = 48  # columns of the small grey pictures (rows follow the thumbnails' aspect)
TAPER = 0.15  # share of each edge faded out before the spectrum
DETAIL_RADIUS = 2  # local mean of the detail: a (2r+1)^2 box


@functools.lru_cache(maxsize=16)
def _resample(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` area-average resampling."""
    edges = np.linspace(0, n_in, n_out + 1)
    lo = np.arange(n_in)[None, :]
    m = np.clip(np.minimum(edges[1:, None], lo + 1) - np.maximum(edges[:-1, None], lo), 0, None)
    return (m / m.sum(1, keepdims=True)).astype(np.float32)


@functools.lru_cache(maxsize=16)
def _taper(h: int, w: int) -> np.ndarray:
    def edge(n: int) -> np.ndarray:
        k = max(1, int(round(TAPER * n)))
        x = np.ones(n, np.float32)
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(k) + 0.5) / k)
        x[:k], x[-k:] = ramp, ramp[::-1]
        return x
    return np.outer(edge(h), edge(w)).astype(np.float32)


def _detail(g: np.ndarray, r: int = DETAIL_RADIUS) -> np.ndarray:
    """Pictures minus their ``(2r+1)``-box mean (edges replicated)."""
    k = 2 * r + 1
    c = np.cumsum(np.cumsum(np.pad(np.pad(g, ((0, 0), (r, r), (r, r)), mode="edge"), ((0, 0), (1, 0), (1, 0))), 1), 2)
    return g - (c[:, k:, k:] - c[:, :-k, k:] - c[:, k:, :-k] + c[:, :-k, :-k]) / (k * k)


@dataclass(frozen=True)
class Views:
    """One video's frames, ready to compare: spectra of the tapered pictures, their detail and
    where each picture may be compared (1; 0 where a mask hid it, e.g. an inset over it)."""

    spectra: np.ndarray  # (n, 2h, w + 1) complex64: the tapered pictures' spectra (zero-padded), whitened
    detail: np.ndarray   # (n, h, w) float32, 0 where hidden
    valid: np.ndarray    # (n, h, w) float32: 1 where the picture is compared, else 0
    starts: np.ndarray | None = None  # (n,) bool: frames that begin another sequence (:func:`join`), not a run's next

    def __len__(self) -> int:
        return len(self.detail)


def views(thumbs: np.ndarray, width: int = WIDTH, shown: np.ndarray | None = None) -> Views:
    """:class:`Views` of RGB thumbnails ``(n, H, W, 3)`` uint8. ``shown``: ``(n, H, W)`` bool, the
    part of each picture to compare (the rest, e.g. a picture laid over it, takes no part: its
    small picture's pixels that ``DETAIL_RADIUS`` would carry across the edge are left out too)."""
    g = np.asarray(thumbs, np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    n, H, W = g.shape
    h = max(8, int(round(width * H / W)))
    rows, cols = _resample(H, h), _resample(W, width)
    small = np.einsum("yi,nij,xj->nyx", rows, g, cols, optimize=True)
    valid = np.ones((n, h, width), np.float32)
    if shown is not None:
        whole = np.einsum("yi,nij,xj->nyx", rows, np.asarray(shown, np.float32), cols, optimize=True) > 0.999
        k = 2 * DETAIL_RADIUS + 1  # eroded: no detail taken across the hidden part's edge
        c = np.pad(np.pad(~whole, ((0, 0), (DETAIL_RADIUS,) * 2, (DETAIL_RADIUS,) * 2)).cumsum(1).cumsum(2),
                   ((0, 0), (1, 0), (1, 0)))
        valid = ((c[:, k:, k:] - c[:, :-k, k:] - c[:, k:, :-k] + c[:, :-k, :-k]) == 0).astype(np.float32)
    count = np.maximum(valid.sum((1, 2), keepdims=True), 1.0)
    z = small - (small * valid).sum((1, 2), keepdims=True) / count
    z /= np.maximum(np.sqrt((z * z * valid).sum((1, 2), keepdims=True) / count), 1e-3)
    z *= _taper(h, width)
    z = (z - (z * valid).sum((1, 2), keepdims=True) / count) * valid  # hidden pixels 0: no part in the shift
    spec = np.fft.rfft2(z, s=(2 * h, 2 * width))
    spec = (spec / (np.abs(spec) + 1e-6)).astype(np.complex64)  # phase only: a product of two is a cross-power spectrum
    detail = (_detail(small) * valid).astype(np.float32)
    return Views(spec, detail, valid)


def join(*parts: Views) -> Views:
    """Several sequences of one video's frames as one :class:`Views` (each begins a new run)."""
    starts = np.concatenate([np.arange(len(p)) == 0 for p in parts])
    return Views(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("spectra", "detail", "valid")), starts)


GROW = 1  # pixels an inset's rectangle is widened by: its found inside stops 1-2 pixels short of the edge ...
BAND = 1  # ... and this much of the widened edge is left out (it may hold the footage around)


def with_insets(thumbs: np.ndarray, rects, width: int = WIDTH) -> Views:
    """:class:`Views` of a video's thumbnails and, for each picture inset into them (``rects``,
    ``(x0, y0, x1, y1)`` as :func:`indexer.insets.insets` gives them), of the footage around the
    insets (they are left out) and of each inset scaled up to the whole picture: a picture laid
    over other footage shares views with both. Without ``rects``, the plain views."""
    plain = views(thumbs, width)
    if not len(rects) or not len(thumbs):
        return plain
    n, H, W = thumbs.shape[:3]
    around = np.ones((n, H, W), bool)
    scaled = []
    for x0, y0, x1, y1 in rects:
        around[:, y0:y1, x0:x1] = False
        x0, y0, x1, y1 = max(0, x0 - GROW), max(0, y0 - GROW), min(W, x1 + GROW), min(H, y1 + GROW)
        w, h = fit_size(x1 - x0, y1 - y0, W, H)  # where alone() puts it
        band = int(round(BAND * w / (x1 - x0)))
        shown = np.zeros((n, H, W), bool)
        oy, ox = (H - h) // 2, (W - w) // 2
        shown[:, oy + band:oy + h - band, ox + band:ox + w - band] = True
        scaled.append(views(alone(thumbs, (x0, y0, x1, y1)), width, shown))
    return join(plain, views(thumbs, width, around), *scaled)


def _pair_scores(a: Views, ia: np.ndarray, b: Views, ib: np.ndarray, min_area: float) -> np.ndarray:
    """For frame pairs ``(a[ia], b[ib])`` (index arrays that broadcast): the Pearson correlation
    of their detail where they overlap (and both are shown), at the translation phase correlation
    finds for the pair (``a[y, x] ~ b[y - dy, x - dx]``); 0 where that part is under ``min_area``
    of a picture."""
    H, W = a.spectra.shape[1], 2 * (a.spectra.shape[2] - 1)
    h, w = a.detail.shape[1:]
    shape = np.broadcast_shapes(ia.shape, ib.shape)
    at = np.fft.irfft2(a.spectra[ia] * np.conj(b.spectra[ib]), s=(H, W)).reshape(*shape, -1).argmax(-1)
    dy, dx = np.divmod(at, W)
    dy, dx = np.where(dy < H // 2, dy, dy - H), np.where(dx < W // 2, dx, dx - W)
    # b shifted by (dy, dx) into a's frame (zeros outside it), and where both are shown
    y, x = np.arange(h)[:, None], np.arange(w)[None, :]
    yb, xb = y - dy[..., None, None], x - dx[..., None, None]
    inside = (yb >= 0) & (yb < h) & (xb >= 0) & (xb < w)
    at_b = (ib[..., None, None], np.clip(yb, 0, h - 1), np.clip(xb, 0, w - 1))
    both = np.where(inside, b.valid[at_b], 0) * a.valid[ia]
    q = b.detail[at_b] * both
    p = a.detail[ia] * both
    n = both.sum((-2, -1), dtype=np.float64)
    sp, sq = p.sum((-2, -1), dtype=np.float64), q.sum((-2, -1), dtype=np.float64)
    spp = np.einsum("...yx,...yx->...", p, p, dtype=np.float64)
    sqq = np.einsum("...yx,...yx->...", q, q, dtype=np.float64)
    pq = np.einsum("...yx,...yx->...", p, q, dtype=np.float64)
    nn = np.maximum(n, 1)
    den = np.sqrt(np.maximum(spp - sp * sp / nn, 0) * np.maximum(sqq - sq * sq / nn, 0))
    good = (n >= max(min_area * h * w, 4)) & (den > 1e-6)
    return np.where(good, (pq - sp * sq / nn) / np.where(good, den, 1), 0).astype(np.float32)


def frame_scores(a: Views, b: Views, min_area: float = 0.2) -> np.ndarray:
    """``(len(a), len(b))``: each frame pair's correlation at the translation phase correlation
    finds for it (-1..1; 0 without enough overlap)."""
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)), np.float32)
    return _pair_scores(a, np.arange(len(a))[:, None], b, np.arange(len(b))[None, :], min_area)


def shared_view(a: Views, b: Views, min_area: float = 0.2) -> float:
    """The best correlation of any frame of ``a`` with any frame of ``b`` at the translation phase
    correlation finds for them (-1..1; 0 without frames or without enough overlap)."""
    return float(frame_scores(a, b, min_area).max()) if len(a) and len(b) else 0.0


def runs(a: Views, threshold: float, min_area: float = 0.2) -> np.ndarray:
    """Per frame, its run: consecutive frames that share a view (``>= threshold``) are in one run
    (one continuous shot of one place; a cut or a jump starts a new run)."""
    if len(a) < 2:
        return np.zeros(len(a), np.int64)
    i = np.arange(len(a) - 1)
    breaks = _pair_scores(a, i, a, i + 1, min_area) < threshold
    if a.starts is not None:
        breaks |= a.starts[1:]
    return np.concatenate([[0], np.cumsum(breaks)])


class Links:
    """Do two videos show a place in common? Directly (a frame of one shares a view with a frame
    of the other) or through a third video, a *bridge*: one continuous run of the bridge's frames
    shares a view with each of them (two pans over different parts of one photograph, each
    overlapping a third, longer pan over it). Frame-pair scores and runs are computed once per
    pair and video.

    ``views_of(v)``: a video's :class:`Views`; ``bridges(a, b)``: the videos to try as bridges
    (the likeliest first); ``same(a, b)``: ``(frames of a, frames of b)``, True where two frames
    are the same picture by other evidence (features of a copy changed in ways a translation does
    not undo: a crop scaled back up, a rotation), counted as a shared view."""

    def __init__(self, views_of: Callable[[int], Views], bridges: Callable[[int, int], list[int]],
                 threshold: float, min_area: float = 0.2, same: Callable[[int, int], np.ndarray] | None = None):
        self.views_of, self.bridges, self.same = views_of, bridges, same
        self.threshold, self.min_area = threshold, min_area
        self._scores: dict[tuple[int, int], np.ndarray] = {}
        self._runs: dict[int, np.ndarray] = {}

    def scores(self, a: int, b: int) -> np.ndarray:
        """``(frames of a, frames of b)`` view scores."""
        if (b, a) in self._scores:
            return self._scores[b, a].T
        if (a, b) not in self._scores:
            scores = frame_scores(self.views_of(a), self.views_of(b), self.min_area)
            if self.same is not None:
                scores = np.where(self.same(a, b), np.float32(1.0), scores)
            self._scores[a, b] = scores
        return self._scores[a, b]

    def _runs_of(self, v: int) -> np.ndarray:
        if v not in self._runs:
            self._runs[v] = runs(self.views_of(v), self.threshold, self.min_area)
        return self._runs[v]

    def bridge(self, a: int, c: int, b: int) -> bool:
        """Does one run of ``b``'s frames share a view with both ``a`` and ``c``?"""
        hit_a = (self.scores(a, b) >= self.threshold).any(0)
        if not hit_a.any():
            return False
        hit_c = (self.scores(c, b) >= self.threshold).any(0)
        r = self._runs_of(b)
        return bool(np.intersect1d(r[hit_a], r[hit_c]).size)

    def shares(self, a: int, c: int) -> bool:
        if (self.scores(a, c) >= self.threshold).any():
            return True
        return any(self.bridge(a, c, b) for b in self.bridges(a, c) if b not in (a, c))
