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
from bench.peers import mean_features, peer_orders  # noqa: E402
from bench.quality import other_footage  # noqa: E402
from bench.situations import FPS, SIZE, long_collection  # noqa: E402
from indexer import IndexSettings, index, read_bundle  # noqa: E402
from indexer.samples import write_video  # noqa: E402
from query.search import Searcher  # noqa: E402
from service.embed import ClipEmbedder  # noqa: E402
from service.settings import ServiceSettings  # noqa: E402
from testkit.media import KINDS, resized, transform  # noqa: E402

PEERS = ("mean-feature", "frame-vote")  # bench.peers.peer_orders


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


def score(sets: list[tuple[Searcher, list]], systems: dict[str, dict]) -> tuple[list[list], float]:
    """Rows of a table (one a system: the served searcher's settings with these overrides; then
    the naive peers) over the queries ``(kind, source or None, query)`` of every collection in
    ``sets`` (its searcher, its queries): rank 1
    for re-encoded, cropped and other pieces, cropped pieces and queries without a copy at or
    above the served copy threshold, search time; and that threshold."""
    names = [*systems, *PEERS]
    found = {name: collections.defaultdict(list) for name in names}
    called = {name: [] for name in systems}
    negatives = {name: [] for name in systems}
    cost = {name: [] for name in systems}
    threshold = sets[0][0].settings.copy_threshold
    for served, cases in sets:
        mean = mean_features(served)
        for name, over in systems.items():
            s = Searcher(served.bundle, dataclasses.replace(served.settings, **over))
            for kind, vid, q in cases:
                t0 = time.perf_counter()
                res = s.similar(q, 10)
                cost[name].append(time.perf_counter() - t0)
                if vid is None:
                    negatives[name].append(max([m.copy_score for m in res], default=0.0))
                    continue
                key = _case(kind)
                found[name][key].append(bool(res) and res[0].video_id == vid)
                if key == "cropped":
                    called[name].append(max([m.copy_score for m in res if m.video_id == vid], default=0.0) >= threshold)
        for kind, vid, q in cases:
            if vid is not None:
                key = _case(kind)
                for name, order in peer_orders(served, q, mean).items():
                    found[name][key].append(bool(order) and order[0] == vid)
    kinds = ["reencoded", "cropped", "other kinds"]
    rows = []
    for name in names:
        rates = [f"{np.mean(found[name][k]):.2f} ({sum(found[name][k])}/{len(found[name][k])})" for k in kinds]
        if name in systems:
            neg = np.array(negatives[name])
            rows.append([name, *rates, f"{np.mean(called[name]):.2f}", f"{int(np.sum(neg >= threshold))} of {len(neg)}",
                         f"{neg.max():.3f}", f"{np.median(cost[name]) * 1e3:.0f} / {np.percentile(cost[name], 99) * 1e3:.0f}"])
        else:
            rows.append([f"peer: {name}", *rates, "-", "-", "-", "-"])
    return rows, threshold


def _case(kind: str) -> str:
    return kind if kind in ("reencoded", "cropped") else "other kinds"


def header(threshold: float) -> list[str]:
    return ["search", "re-encoded R@1", "cropped R@1", "other kinds R@1", f"cropped at or above {threshold:g}",
            f"without a copy at or above {threshold:g}", "their highest", "search ms, median / p99"]


def main(doc: str = __doc__, queries=queries, seconds: int = 60, seeds: tuple[int, ...] = (3, 5),
         systems: dict[str, dict] | None = None, section: str = "Transformed pieces of long videos (where the crop search starts)",
         shooting: str = "") -> None:
    """The command line of this bench and of those built on it (bench/shot_styles.py): one
    collection of ``seconds`` s videos per seed made and queried by ``queries``, scored by
    :func:`score` for ``systems``, the table written into ``section`` of BENCHMARKS.md."""
    systems = systems or {"served": {}, "nearest frames only": {"crop_diagonal_starts": 0},
                         "results called a copy first (called_first)": {"called_first": True}}
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="one collection of 8 videos")
    p.add_argument("--videos", type=int, default=24, help=f"{seconds} s videos in each collection")
    p.add_argument("--seeds", type=int, nargs="+", default=list(seeds), help="one collection per seed")
    p.add_argument("--write", action="store_true", help="write the section into BENCHMARKS.md")
    args = p.parse_args()
    videos, seeds = (8, seeds[:1]) if args.quick else (args.videos, args.seeds)
    tmp = scratch("vidatlas-" + Path(sys.argv[0]).stem.replace("_", "-") + "-")
    embedder = ClipEmbedder(ServiceSettings())
    rows, threshold = score([queries(tmp / f"seed{seed}", videos, seed, embedder) for seed in seeds], systems)
    body = "\n".join([
        f"Collections: {len(seeds)} of {videos} videos of {seconds} s (seeds {', '.join(map(str, seeds))}){shooting}; per "
        "video a 3 s piece re-encoded, one cropped and one of another kind, inside 8 s of other footage; two queries "
        "without a copy.", "", table(header(threshold), rows)])
    print(body)
    if args.write:
        write_section(section, body)


if __name__ == "__main__":
    main()
