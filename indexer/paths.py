"""A video's path through the map, and the fixed-length fingerprint resampled from it."""
from __future__ import annotations

import numpy as np


def fingerprint(times: np.ndarray, codes: np.ndarray, length: int) -> np.ndarray:
    """Resample a path to ``length`` points evenly spaced in the video's own time, ``(length, 2)``.

    Time is normalised to the video's span, so a sped-up or slowed-down copy of a video gets
    the same fingerprint; a one-frame video gets a constant one.
    """
    times = np.asarray(times, np.float64)
    codes = np.asarray(codes, np.float32)
    if len(times) == 1 or times[-1] <= times[0]:
        return np.repeat(codes[:1], length, axis=0)
    u = (times - times[0]) / (times[-1] - times[0])
    grid = np.linspace(0.0, 1.0, length)
    return np.stack([np.interp(grid, u, codes[:, j]) for j in range(codes.shape[1])], axis=1).astype(np.float32)


def fingerprints(offsets: np.ndarray, times: np.ndarray, codes: np.ndarray, length: int) -> np.ndarray:
    """Fingerprints of every video, ``(videos, length, 2)``, from frame rows grouped by video."""
    return np.stack([
        fingerprint(times[a:b], codes[a:b], length) for a, b in zip(offsets[:-1], offsets[1:])
    ]) if len(offsets) > 1 else np.zeros((0, length, 2), np.float32)
