"""Content diversity and labelling on collections whose videos share places (run by
``bench/quality.py``; ``--cases places`` runs only this part).

Each collection is ``testkit.places.plan(seed)``: 9 anchors whose place sets are disjoint and
cover all 21 photographs (so a zero-overlap nine exists), a reshoot of every anchor (same places,
another order, other pans and shot lengths, one place twice) and 18 mixes of 2-4 places (30 %
from two classes) that overlap the anchors. Classes are categories of photographs that look
nothing alike (scene: astronaut, cat, coffee, rocket; texture: brick, grass, gravel; science:
IHC, cells, retina, Hubble, moon; graphic: page, text, colour wheel, logo, phantom; object:
camera, coins, clock, horse).

Diversity: mean pairwise Jaccard overlap of the chosen nine's places, for FindDissimilar in
content and path mode, random nines (mean of 50) and greedy farthest-point on mean features; and
the same on each collection with 18 transformed copies of its videos added (:func:`with_copies`),
as a collection that holds its own copies is (a copy shares its source's places).
Labelling: one labelled frame per class (several random draws), frame and video accuracy
(video label = majority class by frames) for LabelVideo, the nearest labelled frame, plain
label spreading over a 10-NN graph of all frames and the seed's clustering + majority vote.
Every metric is checked with an oracle (the anchors score 0 overlap, the truth scores 1.0).
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from bench.common import table
from bench.peers import mean_features
from indexer import IndexSettings, index, read_bundle
from indexer.samples import write_video
from query import graph, labelling
from query.search import Searcher, cluster_centres
from testkit import places
from testkit.media import HARD_KINDS, KINDS, hard_transform, resized, transform

DRAWS = 3  # label draws per collection
COPIES = 18  # transformed copies added to each collection for the diversity-with-copies table
COPY_KINDS = tuple(k for k in (*KINDS[1:], *HARD_KINDS) if k != "letterboxed")  # (copies keep the frame size)


def with_copies(root: Path, plan: dict[str, list[places.Shot]], seed: int, frames: dict[str, list[np.ndarray]],
                written: Path, count: int = COPIES) -> dict[str, list[places.Shot]]:
    """A collection under ``root``: ``plan``'s videos (links to those ``written`` already; their
    ``frames``) and ``count`` transformed copies of them (``copy/<source>-<kind>``, the kinds of
    testkit.media in turn at drawn strengths, re-encoded at crf 30). Returns the plan with the
    copies' shots: their source's, and for a pip copy also the shots of the other video it is
    laid over."""
    rng = np.random.default_rng(100 + seed)
    for v in plan:
        (root / f"{v}.mp4").parent.mkdir(parents=True, exist_ok=True)
        (root / f"{v}.mp4").symlink_to((written / f"{v}.mp4").resolve())
    out = dict(plan)
    ids = list(plan)
    for i, v in enumerate(rng.choice(ids, count, replace=False)):
        v, kind = str(v), COPY_KINDS[(seed * count + i) % len(COPY_KINDS)]
        src, shots = frames[v], list(plan[v])
        if kind in HARD_KINDS:
            other = str(rng.choice([u for u in ids if u != v]))
            under = (frames[other] * (len(src) // len(frames[other]) + 1))[:len(src)]  # looped if shorter
            copy = hard_transform(src, kind, rng, under)
            if kind == "pip":
                shots += sorted({places.place_at(plan[other], (j % len(frames[other])) / places.FPS) for j in range(len(src))},
                                key=lambda sh: (sh.place, sh.seed))
        else:
            copy = transform(src, kind, rng)
        h, w = src[0].shape[:2]
        copy = [f if f.shape[:2] == (h, w) else resized(f, w, h) for f in copy]
        name = f"copy/{v.replace('/', '-')}-{kind}"
        write_video(root / f"{name}.mp4", copy, fps=places.FPS, options={"crf": "30"})
        out[name] = shots
    return out


def overlaps(s: Searcher, plan: dict[str, list[places.Shot]], anchors: list[str], seed: int,
             direct: Searcher | None = None) -> tuple[dict[str, float], list[str]]:
    """The content overlap of the nine (k = the anchors) each method chooses: the anchors (the
    oracle), FindDissimilar in content and path mode (and in content mode on ``direct``, when
    given), 50 random nines drawn with ``seed`` (their mean) and farthest-point on mean features;
    and the content mode's nine."""
    k = len(anchors)
    content = [m.video_id for m in s.dissimilar(k)]
    out = {"oracle": places.overlap(anchors, plan), "content": places.overlap(content, plan)}
    if direct is not None:
        out["direct"] = places.overlap([m.video_id for m in direct.dissimilar(k)], plan)
    out["path"] = places.overlap([m.video_id for m in s.dissimilar(k, mode="path")], plan)
    rng = np.random.default_rng(seed)
    out["random"] = float(np.mean([places.overlap(list(rng.choice(s.ids, k, replace=False)), plan) for _ in range(50)]))
    out["meanfeat"] = places.overlap(mean_feature_farthest(s, k), plan)
    return out, content


def mean_feature_farthest(s: Searcher, k: int) -> list[str]:
    """Greedy farthest-point over each video's mean feature (cosine distance)."""
    m = mean_features(s)
    chosen = [int(np.argmin(m @ m.mean(0)))]
    near = m @ m[chosen[0]]
    while len(chosen) < k:
        near[chosen] = np.inf
        chosen.append(int(np.argmin(near)))
        near = np.maximum(near, m @ m[chosen[-1]])
    return [s.ids[i] for i in chosen]


def label_spreading(feats: np.ndarray, rows: np.ndarray, k: int = 10, alpha: float = 0.99) -> np.ndarray:
    """The peer: plain label spreading (Zhou et al. 2004) over a symmetric 10-NN graph of all
    frames with a heat kernel, closed form. Returns (frames, len(rows)) scores."""
    sim = feats @ feats.T
    np.fill_diagonal(sim, -np.inf)
    nn = np.argpartition(-sim, k, axis=1)[:, :k]
    r = np.arange(len(feats))[:, None]
    gap = 1.0 - sim[r, nn]
    w = np.zeros_like(sim)
    w[r, nn] = np.exp(-gap / np.median(gap))
    w = np.maximum(w, w.T)
    d = 1.0 / np.sqrt(w.sum(1))
    y = np.zeros((len(feats), len(rows)))
    y[rows, np.arange(len(rows))] = 1.0
    return np.linalg.solve(np.eye(len(feats)) - alpha * d[:, None] * w * d[None], y)


def cluster_majority(s: Searcher, rows: np.ndarray, names: np.ndarray, clusters: int) -> np.ndarray:
    """The seed's recipe: k-means on the 2-D map, each cluster takes the majority label of its
    labelled frames (a cluster without one: the label of the labelled frame nearest its centre)."""
    centres = cluster_centres(s.codes, clusters, s.settings.kmeans_iterations)
    of = ((s.codes[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
    out = np.empty(len(of), object)
    for c in range(len(centres)):
        mine = names[of[rows] == c]
        if len(mine):
            vals, counts = np.unique(mine, return_counts=True)
            out[of == c] = vals[counts.argmax()]
        else:
            out[of == c] = names[((s.codes[rows] - centres[c]) ** 2).sum(1).argmin()]
    return out


def _accuracy(s: Searcher, pred: np.ndarray, gold: np.ndarray, mixed: np.ndarray) -> tuple[float, float, float, float]:
    """Frame accuracy, video accuracy, frame accuracy on one-class and on two-class videos."""
    ok = pred == gold
    videos = []
    for i in range(len(s.ids)):
        a, b = s.offsets[i], s.offsets[i + 1]
        major = lambda x: max(sorted(set(x)), key=lambda c: ((x == c).sum(), c))  # noqa: E731
        videos.append(major(gold[a:b]) == major(pred[a:b]))
    return float(ok.mean()), float(np.mean(videos)), float(ok[~mixed].mean()), float(ok[mixed].mean())


def run(tmp: Path, seeds: list[int], cost_sizes: tuple[int, ...] = (10_000, 100_000)) -> str:
    div: dict[str, list[float]] = {m: [] for m in ("oracle", "content", "direct", "path", "random", "meanfeat")}
    far: dict[str, list[int]] = {m: [0, 0, 0, 0] for m in FAR_METHODS}  # queries, clean answers, sharing, returned
    lab: dict[str, list[tuple]] = {}
    with_copy: dict[str, list[float]] = {m: [] for m in ("oracle", "content", "path", "random", "meanfeat",
                                                         "copies among the nine")}
    frames_total = videos_total = 0
    for seed in seeds:
        plan = places.plan(seed)
        rendered = {v: places.frames(shots) for v, shots in plan.items()}
        root = places.write(tmp / f"places{seed}", plan, rendered=rendered)
        index(root, tmp / f"places-atlas{seed}", IndexSettings(progress=False))
        s = Searcher(read_bundle(tmp / f"places-atlas{seed}"))
        frames_total += len(s.frame_time)
        videos_total += len(s.ids)
        anchors = [v for v in plan if v.startswith("anchor/")]
        direct = Searcher(s.bundle, dataclasses.replace(s.settings, view_bridges=0))
        for key, value in overlaps(s, plan, anchors, seed, direct)[0].items():
            div[key].append(value)
        farthest_from_queries(s, plan, far)
        copied = with_copies(tmp / f"copies{seed}", plan, seed, rendered, root)
        index(tmp / f"copies{seed}", tmp / f"copies-atlas{seed}", IndexSettings(progress=False))
        values, nine = overlaps(Searcher(read_bundle(tmp / f"copies-atlas{seed}")), copied, anchors, seed)
        for key, value in values.items():
            with_copy[key].append(value)
        with_copy["copies among the nine"].append(sum(v.startswith("copy/") for v in nine))

        shot_of = [places.place_at(plan[s.ids[s.frame_video[j]]], s.frame_time[j]) for j in range(len(s.frame_time))]
        gold = np.array([sh.cls for sh in shot_of], object)
        mixed = np.array([len({sh.cls for sh in plan[s.ids[s.frame_video[j]]]}) > 1 for j in range(len(gold))])
        no_cut_links = Searcher(s.bundle, dataclasses.replace(s.settings, cut_link=0.0))
        feats = np.asarray(s.feats, np.float32)  # the peers in float32 (the bundle keeps float16)
        for d in range(DRAWS):
            rng = np.random.default_rng(1000 * seed + d)
            rows = np.array([int(rng.choice(np.flatnonzero(gold == c))) for c in sorted(places.CLASSES)])
            names = gold[rows]
            labels = [{"frame": int(r), "label": n} for r, n in zip(rows, names)]

            def ours(searcher):
                return np.array([lb for vid in searcher.ids
                                 for _, lb, _ in labelling.label(searcher, searcher.query_for_video(vid), labels).frames],
                                object)
            preds = {
                "oracle (the truth)": gold,
                "vidatlas LabelVideo": ours(s),
                "vidatlas without links across cuts (ablation)": ours(no_cut_links),
                "nearest labelled frame": names[(feats @ feats[rows].T).argmax(1)],
                "label spreading, 10-NN graph of all frames (peer)": names[label_spreading(feats, rows).argmax(1)],
                "seed: k-means on the map + majority vote": cluster_majority(s, rows, names, 2 * len(names)),
            }
            for name, pred in preds.items():
                lab.setdefault(name, []).append(_accuracy(s, pred, gold, mixed))

    names = {"oracle": "oracle: the nine anchors (disjoint by construction)",
             "content": "vidatlas FindDissimilar, content mode (default)",
             "direct": "the same, shared views checked directly only (view_bridges 0; before 2026-12-04)",
             "path": "vidatlas FindDissimilar, path mode (the seed's, previous default)",
             "random": "random nines (mean of 50 per collection)",
             "meanfeat": "farthest-point on mean features"}
    div_rows = [[name, f"{np.mean(div[key]):.3f}", f"{sum(v == 0 for v in div[key])} of {len(seeds)}", _each(div[key])]
                for key, name in names.items()]
    copy_rows = [[name, f"{np.mean(with_copy[key]):.3f}", f"{sum(v == 0 for v in with_copy[key])} of {len(seeds)}",
                  _each(with_copy[key])] for key, name in names.items() if key != "direct"]
    far_rows = [[FAR_METHODS[m], str(q), f"{clean} ({clean / max(q, 1):.2f})", f"{bad} of {total}"]
                for m, (q, clean, bad, total) in far.items()]
    lab_rows = [[name] + [f"{np.mean([r[i] for r in res]):.3f}" for i in range(4)] for name, res in lab.items()]
    cost = spreading_cost(cost_sizes)
    return "\n".join([
        f"Collections: seeds {', '.join(map(str, seeds))} of `testkit.places.plan` — {videos_total} videos, "
        f"{frames_total} frames in all (9 anchors, 9 reshoots, 18 mixes each; 21 photographs in 5 classes).", "",
        "### Diversity: content overlap of the nine chosen (mean pairwise Jaccard of places; 0 = nothing shared)", "",
        table(["method", "mean overlap", "collections with no shared place", "per collection"], div_rows), "",
        f"The same collections with {COPIES} transformed copies of their videos added (copy/<source>-<kind>: the kinds of "
        "testkit.media in turn, drawn strengths; a copy shows its source's places, a pip copy also those of the video "
        "it is laid over). A transformed copy looks unlike the rest, so a spread-out nine is drawn to copies. Copies among "
        "vidatlas's content nine: " + _each(with_copy["copies among the nine"]).replace(".000", "") + ".", "",
        table(["method (collections with copies)", "mean overlap", "collections with no shared place", "per collection"],
              copy_rows), "",
        "### Farthest from a query video: every anchor and reshoot asks for as many videos as share nothing with it", "",
        table(["method", "queries", "answers sharing nothing", "videos returned that share a place"], far_rows), "",
        f"### Labelling: one labelled frame per class ({DRAWS} random draws per collection), classes of different-looking photographs", "",
        table(["method", "frame accuracy", "video accuracy", "frames of one-class videos", "frames of two-class videos"], lab_rows), "",
        "### Cost of label spreading (synthetic clustered features, 256-D; 2 cores)", "",
        "The frame graph is built once per bundle on the first LabelVideo with labels; the spread is recomputed once "
        "per label-set digest (AddLabels changes the digest, the next LabelVideo recomputes it; 4 sets are kept) and "
        "a LabelVideo of an indexed video then reads its rows.", "",
        cost])


FAR_METHODS = {
    "content": "vidatlas FindDissimilar with a query, content mode (default: view-checked)",
    "unchecked": "the same without the shared-view check (view_rounds 0; the previous behaviour)",
    "meanfeat": "farthest by mean-feature cosine",
}


def farthest_from_queries(s: Searcher, plan: dict, far: dict[str, list[int]]) -> None:
    """Each anchor and reshoot asks for the ``k`` farthest videos, ``k`` = how many share no place
    with it (the hardest ``k``: every sharing video must be left out); counts queries, answers
    with no sharing video, sharing videos returned and videos returned, per method."""
    unchecked = Searcher(s.bundle, dataclasses.replace(s.settings, view_rounds=0))
    m = mean_features(s)
    shown = {v: {sh.place for sh in plan[v]} for v in s.ids}
    for v in s.ids:
        if v.startswith("mix/"):
            continue
        k = sum(not shown[u] & shown[v] for u in s.ids if u != v)
        i = s.ids.index(v)
        answers = {
            "content": [r.video_id for r in s.dissimilar(k, s.query_for_video(v))],
            "unchecked": [r.video_id for r in unchecked.dissimilar(k, unchecked.query_for_video(v))],
            "meanfeat": [s.ids[j] for j in np.argsort(m @ m[i], kind="stable") if j != i][:k],
        }
        for name, got in answers.items():
            bad = sum(bool(shown[u] & shown[v]) for u in got)
            far[name][0] += 1
            far[name][1] += bad == 0
            far[name][2] += bad
            far[name][3] += len(got)


def _each(values: list[float]) -> str:
    return ", ".join(f"{v:.3f}" for v in values)


def spreading_cost(sizes=(10_000, 100_000), classes: int = 20, per_video: int = 100) -> str:
    """Graph build (FAISS kNN over all frames through the frame index a bundle of that size gets)
    and one spread, on clustered random features laid out as videos of ``per_video`` frames."""
    from indexer import frameindex
    rows = []
    for n in sizes:
        rng = np.random.default_rng(n)
        centres = rng.normal(size=(n // 50, 256)).astype(np.float32)
        feats = centres[np.repeat(np.arange(len(centres)), 50)] + 0.5 * rng.normal(size=(n, 256)).astype(np.float32)
        feats /= np.linalg.norm(feats, axis=1, keepdims=True)
        offsets = np.arange(0, n + 1, per_video)
        plan = frameindex.choose(n, feats.shape[1])
        idx = frameindex.FrameIndex(frameindex.build(feats, plan), feats, plan.refine)
        t0 = time.perf_counter()
        g = graph.build(idx, feats, offsets)
        t_graph = time.perf_counter() - t0
        y = np.zeros((n, classes), np.float32)
        y[rng.choice(n, classes, replace=False), np.arange(classes)] = 1
        t0 = time.perf_counter()
        graph.spread(g.walk, y, 0.99, 60)
        t_spread = time.perf_counter() - t0
        rows.append([f"{n:,}", f"{g.walk.nnz:,}", classes, f"{t_graph:.2f}", f"{t_spread:.2f}",
                     f"{n * classes * 4 / 2**20:.0f}"])
    return table(["frames", "graph edges", "classes", "graph build s (once per bundle)",
                  "spread s (once per label set)", "scores MiB"], rows)
