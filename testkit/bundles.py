"""Synthetic bundles at any size, with the neighbourhood structure of real frame features: each
video passes through four scenes (cluster centres), with per-frame noise. For the serving and
memory benchmarks and the tests of approximate indexes."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def synthetic_bundle(root: Path, videos: int, frames: int, seed: int = 0, memory_budget: int | None = None,
                     frame_index: str = "") -> Path:
    from indexer.bundle import BundleContent, write_bundle
    from indexer.framestore import write_segment
    from indexer.mapmodel import MapModel
    from indexer.paths import fingerprints
    from indexer.settings import MapSettings
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    d, n = 256, videos * frames
    centres = rng.normal(0, 1, (max(50, videos // 10), d)).astype(np.float32)
    # each video passes through four scenes (cluster centres), with per-frame noise
    scene = rng.integers(0, len(centres), (videos, 4))
    which = np.minimum(3, np.arange(frames) * 4 // frames)
    # made a block of videos at a time (the same random stream as one draw); past 1 GiB into a
    # file, memory-mapped, so a 10M-frame bundle is built without 10 GB of features in memory
    feats = np.lib.format.open_memmap(root / "features-src.npy", "w+", np.float32, (n, d)) \
        if n * d * 4 > 1 << 30 else np.empty((n, d), np.float32)
    step = max(1, (1 << 18) // frames)
    for a in range(0, videos, step):
        b = min(videos, a + step)
        feats[a * frames:b * frames] = centres[scene[a:b][:, which]].reshape(-1, d) \
            + rng.normal(0, 0.35, ((b - a) * frames, d))
    codes = np.tanh(feats[:, :2] / 3).astype(np.float32)
    model = MapModel.fit(rng.normal(0, 1, (512, 64)).astype(np.float32),
                         MapSettings(pca_dim=16, min_steps=20, epochs=1)).model
    times = np.tile(np.arange(frames, dtype=np.float64), videos)
    offsets = np.arange(0, n + 1, frames)
    thumbs = root / "thumbs-src"
    thumbs.mkdir(parents=True)
    segs = []
    for v in range(videos):
        p = thumbs / f"{v:06d}.npy"
        write_segment(p, np.zeros((frames, 4, 4, 3), np.uint8))
        segs.append(p)
    content = BundleContent(
        videos=[{"id": f"v/{v:06d}", "path": "", "content_hash": f"{v}", "frames": frames, "duration_s": float(frames),
                 "width": 1280, "height": 720} for v in range(videos)],
        frame_video=np.repeat(np.arange(videos, dtype=np.int32), frames), frame_time=times, codes=codes,
        features=feats, recon_error=rng.gamma(2, 0.1, n).astype(np.float32),
        pixel_stats=np.tile(np.array([[0.15, 20.0]], np.float32), (n, 1)),
        fingerprints=fingerprints(offsets, times, codes, 32), model=model, thumbs=segs, thumb_shape=(4, 4),
        manifest={"backbone": {"name": "efficientnet_lite0", "weights_sha256": "synthetic"},
                  "sampling": {}, "map": {}, "failures": []})
    from indexer.frameindex import DEFAULT_BUDGET
    path = write_bundle(root / "atlas", content, memory_budget or DEFAULT_BUDGET, frame_index)
    (root / "features-src.npy").unlink(missing_ok=True)
    return path
