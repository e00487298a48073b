"""Transformed pieces of long indexed videos, above all crops: where the crop search starts.

    python bench/long_crops.py --quick       # one collection of 8 videos
    python bench/long_crops.py --write       # two collections of 24 videos; writes BENCHMARKS.md

Each collection is bench/situations.py's long videos (60 s, 12 pans of 5 s over photographs drawn
with repeats, so a photograph comes back in many shots of every video). Each video gives a 3 s
piece re-encoded, one cropped (3-20 % off each side, the aspect changed, scaled back) and one of
another kind of ``testkit.media.KINDS``, each inside 8 s of other footage of the same photographs,
and two queries of 11 s that copy nothing. A crop is a closer view, so another shot of the same
photograph can be nearer by features than the copied frames: searched as served, and with the
crop search starting from the candidates' nearest frames only (``crop_diagonal_starts=0``), on
the same embedded queries.
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import scratch, table, write_section  # noqa: E402
from bench.quality import other_footage  # noqa: E402
from bench.situations import FPS, SIZE, long_collection  # noqa: E402
from indexer import IndexSettings, index, read_bundle  # noqa: E402
from indexer.samples import write_video  # noqa: E402
from query.search import Searcher  # noqa: E402
from service.embed import ClipEmbedder  # noqa: E402
from service.settings import ServiceSettings  # noqa: E402
from testkit.media import KINDS, resized, transform  # noqa: E402


def queries(root: Path, videos: int, seed: int, embedder: ClipEmbedder) -> tuple[Searcher, list]:
    """One collection indexed under ``root`` and its embedded queries ``(kind, source or None, query)``."""
    truth, frames = long_collection(root / "long", videos, seed)
    index(root / "long", root / "atlas", IndexSettings(progress=False))
    s = Searcher(read_bundle(root / "atlas"))
    rng = np.random.default_rng(seed + 100)
    out = []

    def embed(q):
        return embedder.embed(s, write_video(root / "q.mp4", q, fps=FPS, options={"crf": "30"}).read_bytes(), dense=True)
    for i, vid in enumerate(truth):
        for kind in ("reencoded", "cropped", KINDS[1 + i % (len(KINDS) - 1)]):
            span = 3 * FPS * (2 if kind == "faster" else 1)
            start = int(rng.integers(0, len(frames[vid]) - span + 1))
            piece = [resized(f, *SIZE) for f in transform(frames[vid][start:start + span], kind, rng)]
            out.append((kind, vid, embed(other_footage(truth, rng, 4, set()) + piece + other_footage(truth, rng, 4, set()))))
        for _ in range(2):
            out.append(("no copy", None, embed(other_footage(truth, rng, 11, set()))))
    return s, out


def run(videos: int, seeds: list[int]) -> str:
    tmp = scratch("vidatlas-long-crops-")
    embedder = ClipEmbedder(ServiceSettings())
    systems = {"served": {}, "nearest frames only": {"crop_diagonal_starts": 0}}
    found = {name: collections.defaultdict(list) for name in systems}
    called = {name: collections.defaultdict(list) for name in systems}
    negatives = {name: [] for name in systems}
    cost = {name: [] for name in systems}
    threshold = None
    for seed in seeds:
        served, cases = queries(tmp / f"seed{seed}", videos, seed, embedder)
        threshold = served.settings.copy_threshold
        for name, over in systems.items():
            s = Searcher(served.bundle, dataclasses.replace(served.settings, **over))
            for kind, vid, q in cases:
                t0 = time.perf_counter()
                res = s.similar(q, 10)
                cost[name].append(time.perf_counter() - t0)
                if vid is None:
                    negatives[name].append(max([m.copy_score for m in res], default=0.0))
                    continue
                key = kind if kind in ("reencoded", "cropped") else "other kinds"
                found[name][key].append(bool(res) and res[0].video_id == vid)
                called[name][key].append(max([m.copy_score for m in res if m.video_id == vid], default=0.0) >= threshold)
    kinds = ["reencoded", "cropped", "other kinds"]
    rows = [[name, *(f"{np.mean(found[name][k]):.2f} ({sum(found[name][k])}/{len(found[name][k])})" for k in kinds),
             f"{np.mean(called[name]['cropped']):.2f}", f"{int(np.sum(np.array(negatives[name]) >= threshold))} of {len(negatives[name])}",
             f"{max(negatives[name]):.3f}", f"{np.median(cost[name]) * 1e3:.0f} / {np.percentile(cost[name], 99) * 1e3:.0f}"]
            for name in systems]
    return "\n".join([
        f"Collections: {len(seeds)} of {videos} videos of 60 s (seeds {', '.join(map(str, seeds))}); per video a 3 s piece "
        f"re-encoded, one cropped and one of another kind, inside 8 s of other footage; two queries without a copy.", "",
        table(["search", "re-encoded R@1", "cropped R@1", "other kinds R@1", f"cropped at or above {threshold:g}",
               f"without a copy at or above {threshold:g}", "their highest", "search ms, median / p99"], rows)])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="one collection of 8 videos")
    p.add_argument("--videos", type=int, default=24, help="60 s videos in each collection")
    p.add_argument("--seeds", type=int, nargs="+", default=[3, 5], help="one collection per seed")
    p.add_argument("--write", action="store_true", help="write the section into BENCHMARKS.md")
    args = p.parse_args()
    body = run(8, [3]) if args.quick else run(args.videos, args.seeds)
    print(body)
    if args.write:
        write_section("Transformed pieces of long videos (where the crop search starts)", body)


if __name__ == "__main__":
    main()
