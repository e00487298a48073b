"""The copy score at other frame rates and sizes, with and without its check on one line of time.

    python bench/frame_rate.py --fps 25                      # 192x108 at 25 fps, 24 sources
    python bench/frame_rate.py --fps 25 --size 640x360 --write

bench/quality.py's copy cases (a 3 s piece, re-encoded or transformed, inside other footage of
indexed places; two pieces; queries without a copy) and its held-out queries without a copy (11
and 33 s), its whole set rendered at ``--size`` and ``--fps`` instead of 192x108 at 8 fps. A clip's
every frame is compared and each slot keeps its best, so more frames a second mean more tries at
a chance alignment; `query/phase.py` checks a segment on one line of time through it. Both are run
on the same embedded queries: the served search, and the same with the check off
(``phase_min_score=1``). Reported: how often queries without a copy reach the served threshold,
the 1 % point of their copy scores, the copied pieces that reach it, rank 1, and the search's cost.
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import quality  # noqa: E402
from bench.common import scratch, table, write_section  # noqa: E402
from indexer import IndexSettings, index, read_bundle  # noqa: E402
from indexer.samples import write_video  # noqa: E402
from query.search import Searcher  # noqa: E402
from service.embed import ClipEmbedder  # noqa: E402
from service.settings import ServiceSettings  # noqa: E402


def run(size: tuple[int, int], fps: int, sources: int) -> str:
    quality.SIZE, quality.FPS = size, fps  # the whole set (bench.quality reads them when it makes frames)
    tmp = scratch("vidatlas-frame-rate-")
    truth, frames = quality.build_set(tmp / "videos", sources)
    index(tmp / "videos", tmp / "atlas", IndexSettings(progress=False))
    served = Searcher(read_bundle(tmp / "atlas"))
    free = Searcher(served.bundle, dataclasses.replace(served.settings, phase_min_score=1.0))
    embedder = ClipEmbedder(ServiceSettings())
    held_out = (c for c in quality.long_and_held_out_cases(truth, frames, sources) if not c[2])
    got = {"check off": [], "served (checked)": []}
    for (case, _), fr, srcs in itertools.chain(quality.copy_cases(truth, frames), held_out):
        clip = write_video(tmp / "q.mp4", fr, fps=fps, options={"crf": "30"})
        q = embedder.embed(served, clip.read_bytes(), dense=True)
        for name, s in zip(got, (free, served)):
            t0 = time.perf_counter()
            res = s.similar(q, 10)
            got[name].append((case, srcs, {m.video_id: m.copy_score for m in res}, [m.video_id for m in res],
                              time.perf_counter() - t0))
    threshold = served.settings.copy_threshold
    rows = []
    for name, answers in got.items():
        neg = np.array([max(c.values(), default=0.0) for _, srcs, c, _, _ in answers if not srcs])
        pos = np.array([max(c.get(v, 0.0) for v in h) for _, srcs, c, _, _ in answers for h in srcs])
        top = [bool(o) and o[0] in srcs[0] for case, srcs, _, o, _ in answers if case.startswith("one piece")]
        cost = np.array([t for *_, t in answers]) * 1000
        rows.append([name, f"{int((neg >= threshold).sum())} of {len(neg)} ({np.mean(neg >= threshold):.3f})",
                     f"{neg.max():.3f}", f"{np.sort(neg)[::-1][int(0.01 * len(neg))]:.3f}",
                     f"{np.mean(pos >= threshold):.3f} of {len(pos)}", f"{np.mean(top):.3f} of {len(top)}",
                     f"{np.median(cost):.0f} / {np.percentile(cost, 99):.0f}"])
    head = (f"Set: {sources} sources and their twins at {size[0]}x{size[1]}, {fps} fps; "
            f"{len(got['check off'])} queries (bench/quality.py's copy cases and held-out queries without a copy).")
    return head + "\n\n" + table(
        ["search", f"without a copy, at or above {threshold:g}", "their highest", "their 1 % point",
         f"copied pieces at or above {threshold:g}", "one piece: rank 1", "search ms, median / p99"], rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fps", type=int, default=25, help="frames a second of every video and query (default 25)")
    p.add_argument("--size", default="192x108", help="WIDTHxHEIGHT of every video and query (default 192x108)")
    p.add_argument("--sources", type=int, default=24)
    p.add_argument("--write", action="store_true", help="write the table into BENCHMARKS.md")
    args = p.parse_args()
    size = tuple(int(v) for v in args.size.lower().split("x"))
    body = run(size, args.fps, args.sources)
    print(body)
    if args.write:
        write_section(f"Copy score at {args.size}, {args.fps} fps (the check on one line of time on and off)", body)


if __name__ == "__main__":
    main()
