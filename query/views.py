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
``shares`` compares it with a threshold. Numpy only; about 20-40 ms for two videos of 16 frames.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np

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
    """One video's frames, ready to compare: spectra of the tapered pictures and their detail."""

    spectra: np.ndarray  # (n, 2h, w + 1) complex64: the tapered pictures' spectra (zero-padded), whitened
    detail: np.ndarray   # (n, h, w) float32
    sums: np.ndarray     # (2, n, h + 1, w + 1) float64: summed-area tables of the detail and its square

    def __len__(self) -> int:
        return len(self.detail)


def views(thumbs: np.ndarray, width: int = WIDTH) -> Views:
    """:class:`Views` of RGB thumbnails ``(n, H, W, 3)`` uint8."""
    g = np.asarray(thumbs, np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    n, H, W = g.shape
    h = max(8, int(round(width * H / W)))
    small = np.einsum("yi,nij,xj->nyx", _resample(H, h), g, _resample(W, width), optimize=True)
    z = small - small.mean((1, 2), keepdims=True)
    z /= np.maximum(z.std((1, 2), keepdims=True), 1e-3)
    z *= _taper(h, width)
    z -= z.mean((1, 2), keepdims=True)
    spec = np.fft.rfft2(z, s=(2 * h, 2 * width))
    spec = (spec / (np.abs(spec) + 1e-6)).astype(np.complex64)  # phase only: a product of two is a cross-power spectrum
    detail = _detail(small).astype(np.float32)
    d = detail.astype(np.float64)
    sums = np.pad(np.stack([d, d * d]).cumsum(2).cumsum(3), ((0, 0), (0, 0), (1, 0), (1, 0)))
    return Views(spec, detail, sums)


def _box(sums: np.ndarray, frame: np.ndarray, y: np.ndarray, x: np.ndarray, hh: np.ndarray,
         ww: np.ndarray) -> np.ndarray:
    """``(2, ...)``: sums of the detail and its square over each frame's box (summed-area tables)."""
    return (sums[:, frame, y + hh, x + ww] - sums[:, frame, y, x + ww] - sums[:, frame, y + hh, x]
            + sums[:, frame, y, x])


def _pair_scores(a: Views, ia: np.ndarray, b: Views, ib: np.ndarray, min_area: float) -> np.ndarray:
    """For frame pairs ``(a[ia], b[ib])`` (index arrays that broadcast): the Pearson correlation
    of their detail where they overlap, at the translation phase correlation finds for the pair
    (``a[y, x] ~ b[y - dy, x - dx]``); 0 where the overlap is under ``min_area`` of a picture."""
    H, W = a.spectra.shape[1], 2 * (a.spectra.shape[2] - 1)
    h, w = a.detail.shape[1:]
    shape = np.broadcast_shapes(ia.shape, ib.shape)
    at = np.fft.irfft2(a.spectra[ia] * np.conj(b.spectra[ib]), s=(H, W)).reshape(*shape, -1).argmax(-1)
    dy, dx = np.divmod(at, W)
    dy, dx = np.where(dy < H // 2, dy, dy - H), np.where(dx < W // 2, dx, dx - W)
    hh, ww = h - np.abs(dy), w - np.abs(dx)
    ok = (hh * ww >= min_area * h * w) & (hh >= 2) & (ww >= 2)
    # sum of products over the overlap: b shifted by (dy, dx) into a's frame (zeros outside it)
    y, x = np.arange(h)[:, None], np.arange(w)[None, :]
    yb, xb = y - dy[..., None, None], x - dx[..., None, None]
    inside = (yb >= 0) & (yb < h) & (xb >= 0) & (xb < w)
    shifted = np.where(inside, b.detail[ib[..., None, None], np.clip(yb, 0, h - 1), np.clip(xb, 0, w - 1)], 0)
    pq = np.einsum("...yx,...yx->...", a.detail[ia].astype(np.float64), shifted)
    hh, ww = np.maximum(hh, 0), np.maximum(ww, 0)
    sp, spp = _box(a.sums, ia, np.maximum(dy, 0), np.maximum(dx, 0), hh, ww)
    sq, sqq = _box(b.sums, ib, np.maximum(-dy, 0), np.maximum(-dx, 0), hh, ww)
    n = np.maximum(hh * ww, 1)
    den = np.sqrt(np.maximum(spp - sp * sp / n, 0) * np.maximum(sqq - sq * sq / n, 0))
    good = ok & (den > 1e-6)
    return np.where(good, (pq - sp * sq / n) / np.where(good, den, 1), 0).astype(np.float32)


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
    return np.concatenate([[0], np.cumsum(_pair_scores(a, i, a, i + 1, min_area) < threshold)])


class Links:
    """Do two videos show a place in common? Directly (a frame of one shares a view with a frame
    of the other) or through a third video, a *bridge*: one continuous run of the bridge's frames
    shares a view with each of them (two pans over different parts of one photograph, each
    overlapping a third, longer pan over it). Frame-pair scores and runs are computed once per
    pair and video.

    ``views_of(v)``: a video's :class:`Views`; ``bridges(a, b)``: the videos to try as bridges
    (the likeliest first)."""

    def __init__(self, views_of: Callable[[int], Views], bridges: Callable[[int, int], list[int]],
                 threshold: float, min_area: float = 0.2):
        self.views_of, self.bridges = views_of, bridges
        self.threshold, self.min_area = threshold, min_area
        self._scores: dict[tuple[int, int], np.ndarray] = {}
        self._runs: dict[int, np.ndarray] = {}

    def scores(self, a: int, b: int) -> np.ndarray:
        """``(frames of a, frames of b)`` view scores."""
        if (b, a) in self._scores:
            return self._scores[b, a].T
        if (a, b) not in self._scores:
            self._scores[a, b] = frame_scores(self.views_of(a), self.views_of(b), self.min_area)
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
