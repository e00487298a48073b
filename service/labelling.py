"""Frame and video labels from a few labelled frames (or from clusters when there are none).

Each query frame gets a label by a similarity-weighted vote of its nearest labelled frames in
the reduced feature space. When the query is an indexed video with labelled keyframes of its
own, those keyframes also vote for the frames around them, more strongly the closer in time
(interpolation between keyframes). Votes are smoothed over neighbouring frames, runs become
segments and the video label is the majority.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .search import Query, Searcher

NEIGHBOURS = 3
SHARPNESS = 8          # votes weigh similarity**SHARPNESS: the nearest labelled frames dominate
KEYFRAME_BOOST = 1.0   # a labelled frame of the query's own video votes up to (1 + boost)x ...
KEYFRAME_HALF_LIFE_S = 5.0  # ... halving with every this many seconds away from it


@dataclass
class Labelling:
    video_label: str
    confidence: float
    frames: list[tuple[float, str, float]] = field(default_factory=list)  # time, label, confidence
    segments: list[tuple[float, float, str]] = field(default_factory=list)
    unsupervised: bool = False


def label(searcher: Searcher, q: Query, labels: list[dict]) -> Labelling:
    """``labels``: rows with ``frame`` (a bundle frame row) and ``label``."""
    if not labels:
        return _clusters(searcher, q)
    names = sorted({lb["label"] for lb in labels})
    col = {n: i for i, n in enumerate(names)}
    rows = np.array([lb["frame"] for lb in labels], np.int64)
    lab = np.array([col[lb["label"]] for lb in labels], np.int64)
    sims = q.feats @ searcher.feats[rows].T  # (n_query, n_labelled)
    k = min(NEIGHBOURS, len(rows))
    top = np.argsort(-sims, axis=1)[:, :k]
    weight = np.clip(sims, 0.0, None) ** SHARPNESS
    if q.video is not None:  # the video's own keyframes count more near them in time
        own = searcher.frame_video[rows] == q.video
        dt = np.abs(q.times[:, None] - searcher.frame_time[rows][None, :])
        weight = weight * (1.0 + KEYFRAME_BOOST * own[None, :] * 0.5 ** (dt / KEYFRAME_HALF_LIFE_S))
    votes = np.zeros((len(q.times), len(names)))
    for i in range(len(q.times)):
        for j in top[i]:
            votes[i, lab[j]] += weight[i, j]
    votes = votes / np.maximum(votes.sum(axis=1, keepdims=True), 1e-30)
    if len(votes) > 2:  # light temporal smoothing of the per-frame distributions
        padded = np.pad(votes, ((1, 1), (0, 0)), mode="edge")
        votes = 0.25 * padded[:-2] + 0.5 * padded[1:-1] + 0.25 * padded[2:]
    total = np.maximum(votes.sum(axis=1), 1e-12)
    best = votes.argmax(axis=1)
    conf = votes[np.arange(len(best)), best] / total
    frame_labels = [names[b] for b in best]
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
