"""Frame and video labels from a few labelled frames (or from clusters when there are none).

Labels spread through the whole collection (Zhou et al. 2004, "Learning with local and global
consistency") over the bundle's frame graph (:mod:`query.graph`: a kNN graph of all frames plus
temporal edges within each shot and weak ones across cuts). The spread scores are computed once
per bundle and label set and cached on the Searcher, keyed by a digest of the label set, so labels
added at run time reach the next request without a rebuild (the cost is one sparse spreading:
see BENCHMARKS.md). A video's frames then vote per shot (a shot is one place, so one label);
inside a shot that holds labelled keyframes of the video itself, frames take the label of the
nearest keyframe in time (interpolation between keyframes). Runs become segments and the video
label is the majority. A clip that is not in the bundle reads the scores of its frames' nearest
bundle frames and votes over its own shots.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

from . import graph
from .search import Query, Searcher

CLIP_NEIGHBOURS = 10  # a clip frame reads the scores of this many nearest bundle frames
CACHED_LABEL_SETS = 4  # spread scores kept per Searcher (one per label-set digest)
KEYFRAME_HALF_LIFE_S = 5.0  # confidence of a keyframe's label halves with every this many seconds away


@dataclass
class Labelling:
    video_label: str
    confidence: float
    frames: list[tuple[float, str, float]] = field(default_factory=list)  # time, label, confidence
    segments: list[tuple[float, float, str]] = field(default_factory=list)
    unsupervised: bool = False


@dataclass(frozen=True)
class Spread:
    """Per-frame class scores for every bundle frame, for one label set."""
    names: list[str]
    scores: np.ndarray  # (frames, classes), each row summing to 1 (uniform where nothing reached)


def digest(labels: list[dict]) -> str:
    rows = sorted((int(lb["frame"]), lb["label"]) for lb in labels)
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]


def spread(searcher: Searcher, labels: list[dict], key: str | None = None) -> Spread:
    """The spread scores for ``labels`` (rows with ``frame`` and ``label``), memoised on the
    Searcher under ``key`` (default: a digest of the labels)."""
    key = key or digest(labels)
    return searcher.memo(("spread", key), lambda: _spread(searcher, labels), keep=CACHED_LABEL_SETS)


def _spread(searcher: Searcher, labels: list[dict]) -> Spread:
    names = sorted({lb["label"] for lb in labels})
    col = {n: i for i, n in enumerate(names)}
    g = searcher.frame_graph
    y = np.zeros((g.frames, len(names)), np.float32)
    for lb in labels:
        y[int(lb["frame"]), col[lb["label"]]] = 1.0
    f = graph.spread(g.walk, y, searcher.settings.spread_alpha, searcher.settings.spread_iterations)
    # class mass normalisation: a class seeded in a dense region must not swamp the others
    f = f / np.maximum(f.sum(0, keepdims=True), 1e-30)
    total = f.sum(1, keepdims=True)
    f = np.where(total > 0, f / np.maximum(total, 1e-30), 1.0 / len(names)).astype(np.float32)
    return Spread(names, f)


def label(searcher: Searcher, q: Query, labels: list[dict], key: str | None = None) -> Labelling:
    """``labels``: rows with ``frame`` (a bundle frame row) and ``label``; ``key`` identifies the
    label set (a digest) for the cache of spread scores."""
    if not labels:
        return _clusters(searcher, q)
    sp = spread(searcher, labels, key)
    rows = searcher.rows_of(q)
    if rows is not None:
        scores = sp.scores[rows]
        shot = searcher.frame_graph.shot[rows]
    else:  # a clip: its frames read their nearest bundle frames' scores
        k = min(CLIP_NEIGHBOURS, len(searcher.feats))
        sims, nn = searcher.bundle.indexes["frames_features"].search(np.ascontiguousarray(q.feats, np.float32), k)
        w = np.where(nn >= 0, np.exp(-(1.0 - sims) / 0.1), 0.0)
        scores = (w[:, :, None] * sp.scores[np.maximum(nn, 0)]).sum(1)
        scores = scores / np.maximum(scores.sum(1, keepdims=True), 1e-30)
        shot = graph.shots(q.feats, cut_sim=searcher.settings.cut_similarity)
    # per-shot votes
    n_shots = int(shot.max()) + 1 - int(shot.min())
    local = shot - shot.min()
    votes = np.zeros((n_shots, len(sp.names)))
    np.add.at(votes, local, scores)
    votes /= np.maximum(votes.sum(1, keepdims=True), 1e-30)
    best = votes.argmax(1)[local]
    conf = votes.max(1)[local]
    frame_labels = [sp.names[b] for b in best]
    if rows is not None:  # the video's own keyframes: nearest one in time within their shot
        own = [(int(lb["frame"]), lb["label"]) for lb in labels
               if searcher.frame_video[int(lb["frame"])] == q.video]
        for s_id in np.unique(local):
            in_shot = np.flatnonzero(local == s_id)
            keys = [(searcher.frame_time[r], name) for r, name in own if searcher.frame_graph.shot[r] == shot[in_shot[0]]]
            if not keys:
                continue
            kt = np.array([t for t, _ in keys])
            for i in in_shot:
                j = int(np.argmin(np.abs(kt - q.times[i])))
                frame_labels[i] = keys[j][1]
                conf[i] = max(float(conf[i]), 0.5 ** (abs(kt[j] - q.times[i]) / KEYFRAME_HALF_LIFE_S))
    return _summarise(q.times, frame_labels, conf, unsupervised=False)


def _clusters(searcher: Searcher, q: Query) -> Labelling:
    """k-means over the whole map's 2-D codes; each frame gets its nearest centre's cluster."""
    centres = searcher.centres
    d = ((q.codes[:, None, :] - centres[None]) ** 2).sum(-1)
    best = d.argmin(axis=1)
    sorted_d = np.sort(d, axis=1)
    conf = 1.0 - sorted_d[:, 0] / np.maximum(sorted_d[:, min(1, d.shape[1] - 1)], 1e-12) if d.shape[1] > 1 \
        else np.ones(len(best))
    return _summarise(q.times, [f"cluster-{b}" for b in best], conf, unsupervised=True)


def _summarise(times, frame_labels, conf, unsupervised) -> Labelling:
    times = np.asarray(times)
    frames = [(float(t), lb, float(c)) for t, lb, c in zip(times, frame_labels, conf)]
    segments = []
    start = 0
    for i in range(1, len(frame_labels) + 1):
        if i == len(frame_labels) or frame_labels[i] != frame_labels[start]:
            end = float(times[i]) if i < len(times) else float(times[-1])
            segments.append((float(times[start]), end, frame_labels[start]))
            start = i
    counts: dict[str, float] = {}
    for lb, c in zip(frame_labels, conf):
        counts[lb] = counts.get(lb, 0.0) + 1.0
    video_label = max(sorted(counts), key=lambda lb: counts[lb])
    return Labelling(video_label, counts[video_label] / len(frame_labels), frames, segments, unsupervised)
