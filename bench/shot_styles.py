"""Copied pieces of footage shot in ways our other benches do not shoot: zooms, a hand-held camera, whip pans.

    python bench/shot_styles.py --quick      # one collection of 8 videos
    python bench/shot_styles.py --write      # two collections of 24 videos; writes BENCHMARKS.md

Every other bench films its photographs as pans at one zoom, moving in a straight line. Here each
shot of a collection's 20 s videos (and of the queries' other footage) is one of four styles, drawn
at random: a *pan* between two random points at a random zoom; a *zoom* in or out about a random
point; a *hand-held* shot (a random walk about a point); a *whip pan* (one second from one side of
the photograph to the other). Each video gives a 3 s piece re-encoded, one cropped (3-20 % off each
side, the aspect changed, scaled back) and one of another kind of ``testkit.media.KINDS``, each inside
8 s of other footage of the same photographs; and two queries of 11 s that copy nothing. Searched
as served, with the crop search's window scan on (``crop_scan_scales``, off by default), and by
the naive peers, on the same embedded queries.

Static shots are left out on purpose: a still shot of a photograph whose frame lies inside another
still shot's frame of it *is* a crop of that shot, picture for picture, and no copy detector can tell
which of the two a crop of it came from (in a first run with them, 2 of 6 misses were such pairs,
called copies at 0.71-0.82).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.long_crops import main  # noqa: E402
from bench.quality import FPS, PHOTOS, SIZE  # noqa: E402
from indexer import IndexSettings, index, read_bundle  # noqa: E402
from indexer.samples import photo, write_video  # noqa: E402
from query.search import Searcher  # noqa: E402
from service.embed import ClipEmbedder  # noqa: E402
from testkit.media import KINDS, resized, transform  # noqa: E402

STYLES = ("pan", "zoom", "hand-held", "whip pan")
VIDEO_S = 20


def shot(name: str, frames: int, rng: np.random.Generator, style: str) -> list[np.ndarray]:
    """``frames`` frames of photograph ``name`` filmed in ``style``: a window (its centre and its
    share of the photograph, per frame) resized to the set's size."""
    import av
    image = photo(name)
    h, w = image.shape[:2]
    out_w, out_h = SIZE
    t = np.linspace(0, 1, frames)
    if style == "zoom":
        z0, z1 = rng.uniform(0.4, 0.95, 2)
        if abs(z1 - z0) < 0.25:  # a zoom that shows it
            z1 = 0.95 if z0 < 0.6 else 0.4
        zoom = z0 + (z1 - z0) * t
        cx, cy = np.full(frames, rng.uniform(0.3, 0.7)), np.full(frames, rng.uniform(0.3, 0.7))
    else:
        zoom = np.full(frames, rng.uniform(0.45, 0.85))
        if style == "hand-held":
            cx, cy = (rng.uniform(0.2, 0.8) + np.cumsum(rng.normal(0, 0.02, frames)) for _ in range(2))
        else:
            a, b = rng.uniform(0, 1, 2), rng.uniform(0, 1, 2)
            if style == "whip pan":
                a[0], b[0] = (0.0, 1.0) if rng.random() < 0.5 else (1.0, 0.0)
            cx, cy = a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t
    out = []
    for i in range(frames):
        win_w = int(min(w, h * out_w / out_h) * zoom[i])
        win_h = int(win_w * out_h / out_w)
        x, y = int(np.clip(cx[i], 0, 1) * (w - win_w)), int(np.clip(cy[i], 0, 1) * (h - win_h))
        crop = np.ascontiguousarray(image[y:y + win_h, x:x + win_w])
        out.append(av.VideoFrame.from_ndarray(crop, format="rgb24").reformat(
            width=out_w, height=out_h, interpolation="BILINEAR").to_ndarray(format="rgb24"))
    return out


def footage(rng: np.random.Generator, seconds: float) -> list[np.ndarray]:
    """``seconds`` of shots of random photographs in random styles (2-5 s each; a whip pan 1 s)."""
    out: list[np.ndarray] = []
    while len(out) < seconds * FPS:
        style = str(rng.choice(STYLES))
        frames = FPS if style == "whip pan" else int(rng.integers(2 * FPS, 5 * FPS + 1))
        out += shot(str(rng.choice(PHOTOS)), frames, rng, style)
    return out[:int(seconds * FPS)]


def queries(root: Path, videos: int, seed: int, embedder: ClipEmbedder) -> tuple[Searcher, list]:
    """One collection indexed under ``root`` and its embedded queries ``(kind, source or None, query)``."""
    rng = np.random.default_rng(seed)
    frames = {}
    for i in range(videos):
        frames[f"style/{i:03d}"] = footage(rng, VIDEO_S)
        write_video(root / "videos" / f"style/{i:03d}.mp4", frames[f"style/{i:03d}"], fps=FPS)
    index(root / "videos", root / "atlas", IndexSettings(progress=False))
    s = Searcher(read_bundle(root / "atlas"))

    def embed(q):
        return embedder.embed(s, write_video(root / "q.mp4", q, fps=FPS, options={"crf": "30"}).read_bytes(), dense=True)
    out = []
    for i, vid in enumerate(frames):
        for kind in ("reencoded", "cropped", KINDS[1 + i % (len(KINDS) - 1)]):
            span = 3 * FPS * (2 if kind == "faster" else 1)
            start = int(rng.integers(0, len(frames[vid]) - span + 1))
            piece = [resized(f, *SIZE) for f in transform(frames[vid][start:start + span], kind, rng)]
            out.append((kind, vid, embed(footage(rng, 4) + piece + footage(rng, 4))))
        for _ in range(2):
            out.append(("no copy", None, embed(footage(rng, 11))))
    return s, out


if __name__ == "__main__":
    main(__doc__, queries, VIDEO_S, (8, 9),
         {"served": {}, "with the window scan (crop_scan_scales)": {"crop_scan_scales": (0.6, 0.67, 0.73, 0.8, 0.87, 0.93, 1.0)},
          "results called a copy first (called_first)": {"called_first": True}},
         "Copied pieces of footage shot other ways (zooms, hand-held, whip pans)",
         f", shots of {', '.join(STYLES)} (other footage shot the same ways)")
