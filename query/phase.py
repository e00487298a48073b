"""One line of time through a copied segment.

A clip's pixel signatures are of its every frame, so that a copy meets the very frame the bundle
sampled whatever the phase of the sampling; a query slot (one bundle frame period) keeps its best
frame's agreement with each video frame. That choice is free in every slot: other footage of the
same place, shot differently, gets many tries a slot (25 at 25 fps, 8 at 8 fps), and the more
frames a second a clip has, the higher its best chance alignments reach. A copy needs no such
freedom: its frames lie on one line of time against the video's through the whole segment (query
time = offset + speed x video time, at the copy's speed). So a segment's agreement is taken on the
best such line, at a speed of ``SLOPES`` (or the segment's own) a little off at most: the pairs
whose agreement came from the whole pictures (or a registered crop window) lose what the
slot-by-slot choice added, and the segment's mean similarity, and so its copy score, what they lost.
Measured (2026-12-07, 192x108 at 25 fps, whole-picture agreement along a segment at one offset):
copies kept 0.92-1.00 of it (a cropped piece, which a crop window finds, 0.80), the best segments of
queries without a copy 0.59-1.00, most under 0.8. A run of two pairs is barely constrained (a
line through two points); copies at speeds between those of ``SLOPES`` lose some agreement on
their farther pairs.
"""
from __future__ import annotations

import numpy as np

TOLERANCE = 1e-3  # a pair's pixel agreement within this of its whole-picture best came from it
SLOPES = (0.5, 2 / 3, 1.0, 1.5, 2.0)  # query seconds a video second a copy may run at (2x faster .. 2x slower)
MAX_DRIFT, DRIFT_STEPS = 0.12, 4  # and off them by up to 0.12 s a video second, in steps of 0.03 s


def path(i0: int, i1: int, j0: int, j1: int) -> tuple[np.ndarray, np.ndarray]:
    """Query slots ``i0..i1`` and the video frames a straight run from ``(i0, j0)`` to ``(i1, j1)`` meets."""
    ii = np.arange(i0, i1 + 1)
    jj = j0 + np.rint((ii - i0) * (j1 - j0) / max(i1 - i0, 1)).astype(np.int64)
    return ii, jj


def held_agreement(agree: np.ndarray, groups: list[np.ndarray], times: list[np.ndarray], vtimes: np.ndarray,
                   slopes=SLOPES) -> tuple[np.ndarray, np.ndarray]:
    """Per pair of a segment, its best agreement over its slot's frames, and its agreement on the
    one line through the pairs that agrees best on average: query time = offset + slope x video
    time, the slope one of ``slopes`` (query seconds a video second: a copy's speed) and drifting
    by up to ``MAX_DRIFT`` seconds a video second (a speed a little off). ``agree[p, k]``: pixel
    frame ``p`` with the ``k``-th pair's video frame; ``groups[k]``: the pixel frames of the
    ``k``-th pair's slot (none: the pair keeps its best), at query ``times[k]``; ``vtimes[k]``:
    the ``k``-th pair's video frame's time."""
    best = np.array([agree[g, k].max() if len(g) else np.nan for k, g in enumerate(groups)])
    have = ~np.isnan(best)
    if not have.any():
        return best, best
    dv = np.asarray(vtimes, np.float64) - float(vtimes[0])
    drifts = np.linspace(-MAX_DRIFT, MAX_DRIFT, 2 * DRIFT_STEPS + 1)
    top, one = -np.inf, best
    for slope in slopes:
        back = [t - slope * d for t, d in zip(times, dv)]  # each frame's time on the line, at the first pair
        offsets = np.unique(np.round(np.concatenate([b for b in back if len(b)]), 3))
        want = np.repeat(offsets, len(drifts))
        drift = np.tile(drifts, len(offsets))
        held = np.full((len(want), len(groups)), np.nan)
        for k, (g, b) in enumerate(zip(groups, back)):
            if len(g):
                nearest = np.argmin(np.abs(b[None, :] - (want + drift * dv[k])[:, None]), axis=1)
                held[:, k] = agree[g[nearest], k]
        mean = held[:, have].mean(axis=1)
        t = int(np.argmax(mean))
        if mean[t] > top:
            top, one = mean[t], held[t]
    return best, np.where(have, one, best)


def loss(agree: np.ndarray, groups: list[np.ndarray], times: list[np.ndarray], vtimes: np.ndarray,
         used: np.ndarray, slopes=SLOPES) -> np.ndarray:
    """What each pair of a segment loses on one line (:func:`held_agreement`), where ``used``, the agreement the pair has in the search (raw, before
    any discount), is its best over its slot's frames (not where the search did not compare the
    pair's pictures at all)."""
    best, held = held_agreement(agree, groups, times, vtimes, slopes)
    lost = np.nan_to_num(best - held)
    return np.where(np.abs(used - np.nan_to_num(best, nan=np.inf)) <= TOLERANCE, lost, 0.0)
