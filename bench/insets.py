"""Picture-in-picture detection on random insets: found, and found to the pixel, with and without
settling each side where the two motions part.

    python bench/insets.py --quick       # 20 clips, 15 videos
    python bench/insets.py --write       # 80 clips, 60 videos; writes BENCHMARKS.md

Each case: a scikit-image photograph panned inside a box of 40-65 % of a 192x108 frame, anywhere,
over another photograph panned (both at random zooms), through H.264 (crf 30, 8 fps). A *clip*
is 3 s sampled at 4 fps and searched by :func:`indexer.insets.insets` as FindSimilar does; a
*video* is 12 s sampled at 1 fps and scanned by :func:`indexer.insets.scan` as the indexer does.
Photographs full of straight lines (bricks, a page, a clock, coins) make rectangles of their own
inside an inset or past it. "Settled" is the served detector; "as found" the same with each
rectangle kept as its lines gave it (``_settle`` left out), on the same decoded frames.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import scratch, table, write_section  # noqa: E402
from indexer import insets as detector  # noqa: E402
from indexer.decode import read_samples  # noqa: E402
from indexer.samples import PHOTOS, pan, photo, write_video  # noqa: E402
from indexer.settings import SamplingSettings  # noqa: E402

SIZE = (192, 108)


def case(seed: int, frames: int) -> tuple[list[np.ndarray], tuple[int, int, int, int]]:
    """A random inset over random footage, and its box ``(x0, y0, x1, y1)`` on the frame."""
    rng = np.random.default_rng(seed)
    inside, behind = rng.choice(PHOTOS, 2, replace=False)
    s = float(rng.uniform(0.4, 0.65))
    w, h = int(SIZE[0] * s) // 2 * 2, int(SIZE[1] * s) // 2 * 2
    y, x = int(rng.integers(0, SIZE[1] - h + 1)), int(rng.integers(0, SIZE[0] - w + 1))
    small = pan(photo(inside), frames, (w, h), seed=seed, zoom=float(rng.uniform(0.5, 0.9)))
    out = []
    for f, b in zip(small, pan(photo(behind), frames, SIZE, seed=seed + 1000, zoom=float(rng.uniform(0.5, 0.9)))):
        g = b.copy()
        g[y:y + h, x:x + w] = f
        out.append(g)
    return out, (x, y, x + w, y + h)


def overlap(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / union


def run(clips: int, videos: int) -> str:
    tmp = scratch("vidatlas-insets-")
    settle = detector._settle
    rows = []
    for name, count, seconds, fps, find in (("clip (3 s at 4 fps)", clips, 3, 4, detector.insets),
                                             ("video (12 s at 1 fps)", videos, 12, 1, detector.scan)):
        got = {"as found": [], "settled (served)": []}
        for seed in range(count):
            frames, box = case(seed, 8 * seconds)
            _, thumbs, _ = read_samples(write_video(tmp / "pip.mp4", frames, fps=8, options={"crf": "30"}),
                                        SamplingSettings(fps=fps))
            sx, sy = thumbs.shape[2] / SIZE[0], thumbs.shape[1] / SIZE[1]
            want = (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)
            for system in got:
                detector._settle = settle if system.startswith("settled") else (lambda grey, pairs, cv, ch, border: border)
                found = find(thumbs)
                got[system].append((bool(found) and max(abs(a - b) for a, b in zip(found[0], want)) <= 4,
                                    max([overlap(r, want) for r in found], default=0.0), bool(found)))
        detector._settle = settle
        for system, r in got.items():
            r = np.array(r, float)
            rows.append([name, system, count, f"{r[:, 0].mean():.2f}", f"{(r[:, 1] >= 0.9).mean():.2f}",
                         f"{r[:, 1].mean():.3f}", f"{r[:, 2].mean():.2f}"])
    return "\n".join([
        "Random insets (40-65 % of a 192x108 frame, anywhere) of random scikit-image photographs over others, "
        "both panned, through H.264.", "",
        table(["sampled as", "detector", "cases", "first found within 4 px", "best found, overlap >= 0.9",
               "best found, mean overlap", "any found"], rows)])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="20 clips and 15 videos")
    p.add_argument("--write", action="store_true", help="write the section into BENCHMARKS.md")
    args = p.parse_args()
    body = run(20, 15) if args.quick else run(80, 60)
    print(body)
    if args.write:
        write_section("Picture-in-picture detection (random insets)", body)


if __name__ == "__main__":
    main()
