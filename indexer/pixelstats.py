"""Cheap per-frame picture statistics that a pretrained backbone does not see well.

``roughness``: mean absolute difference of horizontally adjacent grey pixels divided by the
picture's contrast (its standard deviation + 1). Natural pictures sit around 0.05-0.35, white
noise near 1.1 (pixels uncorrelated), a flat colour field at 0. ``change``: mean absolute pixel
difference from the video's previous sampled frame (flashes are extreme). Both feed the anomaly
score next to the autoencoder's reconstruction error.
"""
from __future__ import annotations

import numpy as np

MARGIN = 8  # pixels left out at each edge (letterbox borders)


def pixel_stats(thumbs: np.ndarray) -> np.ndarray:
    """``(n, h, w, 3)`` uint8 → ``(n, 2)`` float32 ``[roughness, change]``."""
    out = np.zeros((len(thumbs), 2), np.float32)
    prev = None
    for i, th in enumerate(thumbs):
        g = th[MARGIN:-MARGIN, MARGIN:-MARGIN].astype(np.float32).mean(axis=2)
        out[i, 0] = np.abs(np.diff(g, axis=1)).mean() / (g.std() + 1.0)
        cur = th.astype(np.int16)
        out[i, 1] = np.abs(cur - prev).mean() if prev is not None else 0.0
        prev = cur
    return out
