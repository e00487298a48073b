"""Copied pieces in situations bench/quality.py does not make: FindSimilar against the naive peers.

    python bench/situations.py --quick     # 6 sources, 6 long videos
    python bench/situations.py --write     # 16 sources, 24 long videos; writes BENCHMARKS.md

bench/quality.py's pieces all sit at the middle of 11 s queries of the set's own size, rate and
encoding. Here each of the first sources of its evaluation set gives a 3 s piece, re-encoded, in
each of these situations (4 s of footage of indexed places shot differently on each side unless
said otherwise):

* ``aspect 4:3``: the query is 4:3 (144x108) and the piece is letterboxed into it;
* ``25 fps``: the query runs at 25 fps (the piece's frames repeated to match);
* ``upscaled``: the whole query at 640x360;
* ``2 s piece``: only 2 s copied;
* ``at the start``: the piece opens the query, 8 s of other footage after it;
* ``same places around``: the other footage may show the source's own places too;
* ``1.5x``: 4.5 s of the source played at 1.5x speed;
* ``two transforms``: two of crop, logo, brightness, greyscale, downscaling and mirroring at once;
* ``crossfades``: half-second dissolves from and into the other footage;
* ``crf 40``: the query encoded at crf 40 (heavy blocking) instead of 30.

And **long indexed videos**: a second collection of 24 videos of 60 s (12 pans of 5 s, photographs
drawn with repeats, so each video shows most photographs and some twice), queried with a 3 s piece
of each (re-encoded, and transformed by one kind of ``testkit.media.KINDS``) inside 8 s of other
footage of any photographs, and with 11 s of other footage that copies nothing (the false copies).

Rank 1 per situation for vidatlas and the peers (mean features, frame votes), and how many
pieces reach the served copy threshold.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import scratch, table, write_section  # noqa: E402
from bench.peers import CALLED, SYSTEMS, Tally  # noqa: E402
from bench.quality import FPS, PHOTOS, SIZE, build_set, other_footage, piece_holders  # noqa: E402
from indexer import IndexSettings, index, read_bundle  # noqa: E402
from indexer.decode import letterbox, refit  # noqa: E402
from indexer.samples import pan, photo, write_video  # noqa: E402
from query.search import Searcher  # noqa: E402
from service.embed import ClipEmbedder  # noqa: E402
from service.settings import ServiceSettings  # noqa: E402
from testkit.media import KINDS, resized, transform  # noqa: E402

SITUATIONS = ("aspect 4:3", "25 fps", "upscaled", "2 s piece", "at the start", "same places around", "1.5x",
              "two transforms", "crossfades", "crf 40")
LONG_S, LONG_SHOT_S = 60, 5


def situation(kind: str, truth: dict, vid: str, frames: list[np.ndarray], rng: np.random.Generator):
    """(query frames, fps, encoder options, holders) for one source in one situation."""
    own = {name for name, _ in truth[vid]}
    span = {"2 s piece": 2 * FPS, "1.5x": int(4.5 * FPS)}.get(kind, 3 * FPS)
    start = int(rng.integers(0, len(frames) - span + 1))
    piece = frames[start:start + span]
    played = [start + int(i * 1.5) for i in range(span * 2 // 3)] if kind == "1.5x" else None
    holders = piece_holders(truth, vid, start, span, played)
    fps, crf = FPS, "30"

    def other(seconds: float, avoid=own, size=SIZE, rate=FPS) -> list[np.ndarray]:
        return other_footage(truth, rng, seconds, avoid, size, rate)

    if kind == "aspect 4:3":
        w, h = 144, 108
        q = other(4, size=(w, h)) + [letterbox(refit(f, w, h), w, h) for f in piece] + other(4, size=(w, h))
    elif kind == "25 fps":
        fps = 25
        repeated = [piece[min(len(piece) - 1, int(i * FPS / fps))] for i in range(len(piece) * fps // FPS)]
        q = other(4, rate=fps) + repeated + other(4, rate=fps)
    elif kind == "upscaled":
        q = [resized(f, 640, 360) for f in other(4) + piece + other(4)]
    elif kind == "at the start":
        q = piece + other(8)
    elif kind == "same places around":
        q = other(4, set()) + piece + other(4, set())
    elif kind == "1.5x":
        q = other(4) + [frames[f] for f in played] + other(4)
    elif kind == "two transforms":
        for k in rng.choice(["greyscale", "downscaled", "cropped", "brighter", "logo", "mirrored"], 2, replace=False):
            piece = transform(piece, str(k), rng)
        q = other(4) + [resized(f, *SIZE) for f in piece] + other(4)
    elif kind == "crossfades":
        before, after, k = other(4), other(4), FPS // 2
        piece = list(piece)
        for i in range(k):
            a = (i + 1) / (k + 1)
            piece[i] = (a * piece[i] + (1 - a) * before[i - k]).astype(np.uint8)
            piece[i - k] = ((1 - a) * piece[i - k] + a * after[i]).astype(np.uint8)
        q = before[:-k] + piece + after[k:]
    else:  # "2 s piece", "crf 40"
        crf = "40" if kind == "crf 40" else crf
        q = other(4) + piece + other(4)
    return q, fps, {"crf": crf}, holders


def long_collection(root: Path, videos: int, seed: int = 3) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    truth, frames = {}, {}
    for i in range(videos):
        vid = f"long/{i:03d}"
        truth[vid] = [(str(rng.choice(PHOTOS)), int(rng.integers(1 << 30))) for _ in range(LONG_S // LONG_SHOT_S)]
        frames[vid] = [f for name, s in truth[vid] for f in pan(photo(name), FPS * LONG_SHOT_S, SIZE, s)]
        write_video(root / f"{vid}.mp4", frames[vid], fps=FPS)
    return truth, frames


HEADER = ["case", "queries", *(f"{name.removesuffix(' segments')} R@1" for name in SYSTEMS), CALLED]  # Tally.rows() order


def run(sources: int, long_videos: int) -> str:
    tmp = scratch("vidatlas-situations-")
    embedder = ClipEmbedder(ServiceSettings())

    def embed(s: Searcher, q: list[np.ndarray], fps: float, options: dict):
        clip = write_video(tmp / "query.mp4", q, fps=fps, options=options)
        return embedder.embed(s, clip.read_bytes(), dense=True)

    truth, frames = build_set(tmp / "videos", 40)  # bench/quality.py's evaluation set
    index(tmp / "videos", tmp / "atlas", IndexSettings(progress=False))
    s = Searcher(read_bundle(tmp / "atlas"))
    tally = Tally(s)
    rng = np.random.default_rng(11)
    for vid in [v for v in truth if v.startswith("src/")][:sources]:
        for kind in SITUATIONS:
            q, fps, options, holders = situation(kind, truth, vid, frames[vid], rng)
            tally.add(kind, embed(s, q, fps, options), holders)
    long_truth, long_frames = long_collection(tmp / "long", long_videos)
    index(tmp / "long", tmp / "long-atlas", IndexSettings(progress=False))
    s = Searcher(read_bundle(tmp / "long-atlas"))
    long_tally = Tally(s)
    rng = np.random.default_rng(4)
    for i, vid in enumerate(long_truth):
        for kind in ("reencoded", KINDS[1 + i % (len(KINDS) - 1)]):
            span = 3 * FPS * (2 if kind == "faster" else 1)
            start = int(rng.integers(0, len(long_frames[vid]) - span + 1))
            piece = [resized(f, *SIZE) for f in transform(long_frames[vid][start:start + span], kind, rng)]
            q = other_footage(long_truth, rng, 4, set()) + piece + other_footage(long_truth, rng, 4, set())
            case = "long videos: piece re-encoded" if kind == "reencoded" else "long videos: piece transformed"
            long_tally.add(case, embed(s, q, FPS, {"crf": "30"}), [vid])
        for _ in range(3):
            long_tally.add("no copy", embed(s, other_footage(long_truth, rng, 11, set()), FPS, {"crf": "30"}), [])
    neg = np.array(long_tally.negatives)
    threshold = s.settings.copy_threshold
    return "\n".join([
        f"Sources: the first {sources} of bench/quality.py's evaluation set (40 sources indexed, with their twins, "
        f"real clips and noise), one piece each per situation. Long videos: {long_videos} of {LONG_S} s.", "",
        table(HEADER, tally.rows()), "",
        table(HEADER, long_tally.rows()), "",
        f"Long videos, queries without a copy: {len(neg)}; copy score at or above the served threshold "
        f"({threshold:g}): {int((neg >= threshold).sum())} ({np.mean(neg >= threshold):.3f}); highest {neg.max():.3f}."])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="6 sources and 6 long videos")
    p.add_argument("--sources", type=int, default=16, help="sources copied in every situation")
    p.add_argument("--long-videos", type=int, default=24, help="60 s videos in the long collection")
    p.add_argument("--write", action="store_true", help="write the section into BENCHMARKS.md")
    args = p.parse_args()
    body = run(6, 6) if args.quick else run(args.sources, args.long_videos)
    print(body)
    if args.write:
        write_section("Copied pieces in other situations (aspect, rate, size, length, place, speed, edits; long videos)",
                      body)


if __name__ == "__main__":
    main()
