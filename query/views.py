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

    spectra: np.ndarray  # (n, 2h, w + 1) complex64
    detail: np.ndarray   # (n, h, w) float32

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
    spec = np.fft.rfft2(z, s=(2 * h, 2 * width)).astype(np.complex64)
    return Views(spec, _detail(small).astype(np.float32))


def _correlation(a: np.ndarray, b: np.ndarray, dy: int, dx: int, min_area: float) -> float:
    """Pearson correlation of ``a`` and ``b`` where they overlap with ``a[y, x] ~ b[y - dy, x - dx]``."""
    h, w = a.shape
    hh, ww = h - abs(dy), w - abs(dx)
    if hh * ww < min_area * h * w or hh < 2 or ww < 2:
        return 0.0
    p = a[max(0, dy):max(0, dy) + hh, max(0, dx):max(0, dx) + ww].ravel()
    q = b[max(0, -dy):max(0, -dy) + hh, max(0, -dx):max(0, -dx) + ww].ravel()
    p = p - p.mean()
    q = q - q.mean()
    d = float(np.sqrt((p @ p) * (q @ q)))
    return float(p @ q) / d if d > 1e-6 else 0.0


def shared_view(a: Views, b: Views, min_area: float = 0.2) -> float:
    """The best correlation of any frame of ``a`` with any frame of ``b`` at the translation phase
    correlation finds for them (-1..1; 0 without frames or without enough overlap)."""
    if not len(a) or not len(b):
        return 0.0
    H, W = a.spectra.shape[1], 2 * (a.spectra.shape[2] - 1)
    best = 0.0
    conj = np.conj(b.spectra)
    for i in range(len(a)):
        c = a.spectra[i][None] * conj
        c /= np.abs(c) + 1e-6
        surface = np.fft.irfft2(c, s=(H, W)).reshape(len(b), -1)
        for j, at in enumerate(surface.argmax(1)):
            dy, dx = divmod(int(at), W)
            dy, dx = (dy if dy < H // 2 else dy - H), (dx if dx < W // 2 else dx - W)
            best = max(best, _correlation(a.detail[i], b.detail[j], dy, dx, min_area))
    return best
