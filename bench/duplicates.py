"""Collection-wide duplicate groups (`vidatlas duplicates`) on a collection that holds its own copies.

    python bench/duplicates.py --quick      # 6 sources
    python bench/duplicates.py --write      # 16 sources; writes BENCHMARKS.md

FindSimilar's copy evaluation (bench/quality.py) queries with *clips*, decoded densely. Duplicate
groups are read from the similar-videos table, which searches every *indexed* video by id: 1 fps
samples against 1 fps samples, whatever the two videos' phases, with 2 refined crop-search
candidates instead of 12 (`crop_register_indexed`), judged by the threshold calibrated for indexed
videos (`indexed_copy_threshold`). This measures that path on the evaluation set of bench/quality.py
(sources of three pans over photographs, reordered twins, real clips, noise) plus, indexed
beside them, for every source: two whole copies transformed by two kinds in turn (every kind of
`testkit.media.KINDS` and `HARD_KINDS`, random strength), a 3 s piece of it inside 8 s of other
footage, and 10 s of other footage of indexed places that copies nothing (a non-copy that shares
places). True groups: a source with its twin, copies and piece (and the two real carphone clips,
one a distorted copy of the other). Pair precision and recall of the groups, per kind whether a
copy landed in its source's group, and the naive peer in the same run: videos linked when their
mean features' cosine reaches the bound that links as many pairs as vidatlas does.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import scratch, table, write_section  # noqa: E402
from bench.peers import mean_features  # noqa: E402
from bench.quality import FPS, build_set, other_footage  # noqa: E402
from indexer import IndexSettings, index, read_bundle  # noqa: E402
from indexer.samples import write_video  # noqa: E402
from query import neighbours  # noqa: E402
from query.search import Searcher  # noqa: E402
from service.embed import ClipEmbedder  # noqa: E402
from service.settings import ServiceSettings  # noqa: E402
from testkit.media import HARD_KINDS, KINDS, hard_transform  # noqa: E402
from testkit.media import transform as copy_of  # noqa: E402

COPY_KINDS = [*KINDS, *HARD_KINDS]


def build(root: Path, sources: int, seed: int = 7) -> None:
    truth, frames = build_set(root, sources)
    rng = np.random.default_rng(seed)
    for i, vid in enumerate(v for v in truth if v.startswith("src/")):
        own = {name for name, _ in truth[vid]}
        for r in range(2):
            kind = COPY_KINDS[(2 * i + r) % len(COPY_KINDS)]
            background = other_footage(truth, rng, len(frames[vid]) / FPS + 1, own)
            fr = hard_transform(frames[vid], kind, rng, background) if kind in HARD_KINDS \
                else copy_of(frames[vid], kind, rng)
            fr = [f[:f.shape[0] // 2 * 2, :f.shape[1] // 2 * 2] for f in fr]  # x264 wants even sizes
            write_video(root / "copy" / f"{i:03d}-{kind}.mp4", fr, fps=FPS, options={"crf": "30"})
        span = 3 * FPS
        start = int(rng.integers(0, len(frames[vid]) - span + 1))
        piece = other_footage(truth, rng, 4, own) + frames[vid][start:start + span] + other_footage(truth, rng, 4, own)
        write_video(root / "piece" / f"{i:03d}.mp4", piece, fps=FPS, options={"crf": "30"})
        write_video(root / "other" / f"{i:03d}.mp4", other_footage(truth, rng, 10, set()), fps=FPS)


def family(video_id: str) -> str | None:
    """The true group a video belongs to (None: copies nothing indexed)."""
    kind, _, name = video_id.partition("/")
    if kind in ("src", "twin", "piece"):
        return name[:3]
    if kind == "copy":
        return name.split("-")[0]
    if video_id.startswith("real_carphone"):
        return "carphone"
    return None


def pair_counts(ids: list[str], linked) -> tuple[int, int, int]:
    tp = fp = fn = 0
    for a in range(len(ids)):
        for b in range(a + 1, len(ids)):
            truth = family(ids[a]) is not None and family(ids[a]) == family(ids[b])
            got = linked(a, b)
            tp += truth and got
            fp += got and not truth
            fn += truth and not got
    return tp, fp, fn


def run(sources: int) -> str:
    tmp = scratch("vidatlas-duplicates-")
    build(tmp / "videos", sources)
    index(tmp / "videos", tmp / "atlas", IndexSettings(progress=False))
    s = Searcher(read_bundle(tmp / "atlas"))
    s.inset_views = ClipEmbedder(ServiceSettings()).inset_views  # as the server's: pip copies seen as their inset
    t0 = time.perf_counter()
    tab = neighbours.build(s)
    build_s = time.perf_counter() - t0
    groups = neighbours.duplicate_groups(s.ids, tab, s.settings.indexed_copy_threshold)
    group = {v: g for g, grp in enumerate(groups) for v in grp.videos}
    ids = s.ids
    ours = pair_counts(ids, lambda a, b: ids[a] in group and group.get(ids[a]) == group.get(ids[b]))
    # the peer: mean features, linked at the cosine that links as many pairs as ours does
    mean = mean_features(s)
    cos = mean @ mean.T
    upper = np.sort(cos[np.triu_indices(len(ids), 1)])[::-1]
    bound = upper[max(ours[0] + ours[1] - 1, 0)]
    peer = pair_counts(ids, lambda a, b: bool(cos[a, b] >= bound))
    rows = [[name, tp + fp, tp, fp, fn, f"{tp / max(tp + fp, 1):.2f}", f"{tp / max(tp + fn, 1):.2f}"]
            for name, (tp, fp, fn) in (("vidatlas duplicate groups (calibrated threshold "
                                        f"{s.settings.indexed_copy_threshold:g})", ours),
                                       (f"mean-feature cosine >= {bound:.3f} (as many pairs)", peer))]
    per: dict[str, list[bool]] = {}
    for v in ids:
        head = v.partition("/")[0]
        if head in ("copy", "piece", "twin"):
            kind = v.rsplit("-", 1)[1] if head == "copy" else head
            per.setdefault(kind, []).append(v in group and group.get(v) == group.get(f"src/{family(v)}"))
    kinds = [[k, f"{sum(x)} of {len(x)}"] for k, x in sorted(per.items())]
    sizes = ", ".join(str(len(g.videos)) for g in groups)
    return "\n".join([
        f"Collection: {len(ids)} videos ({sources} sources, their twins, 2 transformed copies and a 3 s piece "
        f"inside 8 s of other footage each, {sources} non-copies of indexed places, real clips, noise); "
        f"similar-videos table built in {build_s:.1f} s; {len(groups)} groups (sizes {sizes}).", "",
        table(["grouping", "pairs linked", "true", "false", "missed", "precision", "recall"], rows), "",
        table(["indexed copy", "in its source's group"], kinds)])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="6 sources instead of 16")
    p.add_argument("--sources", type=int, default=16)
    p.add_argument("--write", action="store_true", help="write the section into BENCHMARKS.md")
    args = p.parse_args()
    body = run(6 if args.quick else args.sources)
    print(body)
    if args.write:
        write_section("Duplicate groups (indexed copies, similar-videos table)", body)


if __name__ == "__main__":
    main()
