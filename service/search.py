"""Search over a loaded bundle: similar and dissimilar videos, outliers. No gRPC types here.

FindSimilar gathers candidate videos from frame-level nearest neighbours (cosine over the
PCA-reduced features) and from path fingerprints, then re-ranks every candidate by a
temporally consistent alignment: the best monotone mapping of query frames onto the
candidate's frames (query order kept, gaps and repeats allowed), scored by the mean cosine
similarity along it. That finds a clip inside a longer video and survives speed changes, and a
video with the same shots in another order cannot align all of them, so it ranks below the
true copy.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from typing import TYPE_CHECKING

from indexer import Code, VidatlasError
from indexer.paths import fingerprint

if TYPE_CHECKING:
    from indexer import Bundle

MAX_K = 100
DEFAULT_K = 10
PROBE_FRAMES = 8    # query frames (spread over the query) that look up candidate videos
ALIGN_FRAMES = 32   # query frames aligned against each candidate


@dataclass(frozen=True)
class Query:
    """Frames to search with, already embedded: times, unit-norm reduced features, 2-D codes.
    ``video`` is the row of an indexed query video (excluded from its own results)."""

    times: np.ndarray
    feats: np.ndarray
    codes: np.ndarray
    video: int | None = None
    whole: bool = False  # the query is all of indexed video ``video`` (answerable from a neighbour table)


@dataclass(frozen=True)
class Match:
    video_id: str
    score: float
    start_s: float = 0.0
    end_s: float = 0.0
    query_start_s: float = 0.0
    query_end_s: float = 0.0


def check_k(k: int) -> int:
    k = k or DEFAULT_K
    if not 1 <= k <= MAX_K:
        raise VidatlasError(f"k must be between 1 and {MAX_K}, got {k}", Code.INVALID_ARGUMENT)
    return k


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def align_many(sim: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best monotone alignments for a batch of candidates at once.

    ``sim`` is ``(candidates, query frames, video frames)``, padded on the right with ``-inf``
    for shorter videos. ``dp[i, j] = sim[i, j] + max(dp[i-1, :j+1])``: every query frame is
    matched, in order, to a video frame at or after the previous one's (gaps and repeats
    allowed). Returns the mean similarity along each best path and its first and last column.
    """
    c, n, m = sim.shape
    dp = sim[:, 0, :].copy()
    start = np.broadcast_to(np.arange(m), (c, m)).copy()
    idx = np.arange(m)
    for i in range(1, n):
        best = np.maximum.accumulate(dp, axis=1)
        arg = np.maximum.accumulate(np.where(dp >= best, idx, 0), axis=1)
        start = np.take_along_axis(start, arg, axis=1)
        dp = sim[:, i, :] + best
    last = dp.argmax(axis=1)
    rows = np.arange(c)
    return dp[rows, last] / n, start[rows, last], last


def _top(values: np.ndarray, count: int, keep) -> list[int]:
    """Indices of the ``count`` largest values passing ``keep``, largest first (ties by index)."""
    idx = np.flatnonzero(keep(values))
    if len(idx) > count:
        idx = idx[np.argpartition(-values[idx], count - 1)[:count]]
    idx = idx[np.lexsort((idx, -values[idx]))]
    return [int(i) for i in idx]


def _spread(count: int, limit: int) -> np.ndarray:
    """At most ``limit`` indices spread evenly over ``range(count)``, in order."""
    return np.unique(np.linspace(0, count - 1, min(count, limit)).round().astype(np.int64))


class Searcher:
    """Everything a query needs from one bundle version, prepared once at load."""

    def __init__(self, bundle: Bundle):
        self.bundle = bundle
        c = bundle.content
        self.version = bundle.version
        self.ids = bundle.video_ids
        self.index_of = {v: i for i, v in enumerate(self.ids)}
        self.offsets = c.offsets
        self.frame_time = np.asarray(c.frame_time)
        self.frame_video = np.asarray(c.frame_video)
        self.feats = _unit(np.asarray(c.features))
        self.codes = np.asarray(c.codes)
        self.fp_len = int(c.fingerprints.shape[1])
        self.fingerprints = np.asarray(c.fingerprints, np.float32).reshape(len(self.ids), -1)
        self.anomaly_frames, self.anomaly_videos = self._anomaly()
        self.centres = cluster_centres(self.codes, CLUSTERS)
        self.table = None  # service/neighbours.py: precomputed answers for whole indexed videos

    # -- queries -------------------------------------------------------------------------------
    def video_row(self, video_id: str) -> int:
        i = self.index_of.get(video_id)
        if i is None:
            raise VidatlasError(f"unknown video id {video_id!r}", Code.NOT_FOUND)
        return i

    def query_for_video(self, video_id: str, start_s: float = 0.0, end_s: float = 0.0) -> Query:
        i = self.video_row(video_id)
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        if start_s < 0 or end_s < 0 or (end_s and end_s <= start_s):
            raise VidatlasError(f"bad time range {start_s}..{end_s}", Code.INVALID_ARGUMENT)
        t = self.frame_time[a:b]
        keep = (t >= start_s - 1e-6) & ((t <= end_s + 1e-6) if end_s else True)
        if not keep.any():
            raise VidatlasError(f"no frames of {video_id!r} in {start_s}..{end_s or 'end'} s", Code.INVALID_ARGUMENT)
        rows = np.arange(a, b)[keep]
        return Query(self.frame_time[rows], self.feats[rows], self.codes[rows], video=i, whole=bool(keep.all()))

    def query_for_frames(self, times: np.ndarray, reduced: np.ndarray, codes: np.ndarray) -> Query:
        return Query(np.asarray(times, np.float64), _unit(reduced), np.asarray(codes, np.float32))

    def similar(self, q: Query, k: int) -> list[Match]:
        k = check_k(k)
        if self.table is not None and q.whole and q.video is not None and k <= self.table.k:
            return self.table.matches(self.ids, q.video, k)
        candidates = self._candidates(q, max(3 * k, 30))
        if not candidates:
            return []
        rows = _spread(len(q.times), ALIGN_FRAMES)
        qf = q.feats[rows]
        spans = [(int(self.offsets[v]), int(self.offsets[v + 1])) for v in candidates]
        lengths = np.array([b - a for a, b in spans])
        width = int(lengths.max())
        # one gather and one matrix product for every candidate frame, scattered into a padded cube
        col = np.arange(width)
        valid = col[None, :] < lengths[:, None]
        frames = (np.array([a for a, _ in spans])[:, None] + col[None, :])[valid]
        sim = np.full((len(candidates), width, len(rows)), -np.inf, np.float32)
        sim[valid] = self.feats[frames] @ qf.T
        sim = sim.transpose(0, 2, 1)
        scores, first, last = align_many(sim)
        matches = [Match(self.ids[v], float(scores[c]), float(self.frame_time[a + first[c]]),
                         float(self.frame_time[a + last[c]]), float(q.times[0]), float(q.times[-1]))
                   for c, (v, (a, _)) in enumerate(zip(candidates, spans))]
        matches.sort(key=lambda m: (-m.score, m.video_id))
        return matches[:k]

    def _candidates(self, q: Query, count: int) -> list[int]:
        """Videos voted for by query frames' nearest frames, plus nearest fingerprints."""
        per_frame = min(64, len(self.feats))
        probe = q.feats[_spread(len(q.times), PROBE_FRAMES)]
        sims, rows = self.bundle.indexes["frames_features"].search(np.ascontiguousarray(probe), per_frame)
        votes = np.zeros(len(self.ids), np.float64)
        for s_row, r_row in zip(sims, rows):
            ok = r_row >= 0
            vids = self.frame_video[r_row[ok]]
            best = np.zeros(len(self.ids))
            np.maximum.at(best, vids, s_row[ok])
            votes += best
        if q.video is not None:
            votes[q.video] = -np.inf
        ranked = _top(votes, count, lambda x: np.isfinite(x) & (x > 0))
        fp = fingerprint(q.times, q.codes, self.fp_len).reshape(1, -1)
        _, near = self.bundle.indexes["fingerprints"].search(np.ascontiguousarray(fp, np.float32),
                                                             min(count + 1, len(self.ids)))
        out = list(dict.fromkeys(ranked + [int(v) for v in near[0] if v >= 0 and v != q.video]))
        return out

    def dissimilar(self, k: int, q: Query | None = None) -> list[Match]:
        """Max-min diversity over fingerprints, or the farthest videos from a query."""
        k = check_k(k)
        fps = self.fingerprints
        if q is not None:
            fp = fingerprint(q.times, q.codes, self.fp_len).reshape(-1)
            dist = np.sqrt(((fps - fp) ** 2).mean(axis=1))
            if q.video is not None:
                dist[q.video] = -np.inf
            order = _top(dist, k, np.isfinite)
            return [self._whole(v, float(dist[v])) for v in order]
        if not len(fps):
            return []
        # greedy farthest-point selection, starting from the video farthest from the mean path
        d0 = np.sqrt(((fps - fps.mean(axis=0)) ** 2).mean(axis=1))
        chosen = [int(d0.argmax())]
        scores = [float(d0.max())]
        mind = np.sqrt(((fps - fps[chosen[0]]) ** 2).mean(axis=1))
        while len(chosen) < min(k, len(fps)):
            mind[chosen] = -np.inf
            nxt = int(mind.argmax())
            chosen.append(nxt)
            scores.append(float(mind[nxt]))
            mind = np.minimum(mind, np.sqrt(((fps - fps[nxt]) ** 2).mean(axis=1)))
        return [self._whole(v, s) for v, s in zip(chosen, scores)]

    def outliers(self, k: int) -> list[Match]:
        k = check_k(k)
        order = np.argsort(-self.anomaly_videos, kind="stable")[:k]
        return [self._whole(int(v), float(self.anomaly_videos[v])) for v in order]

    def _whole(self, v: int, score: float) -> Match:
        a, b = int(self.offsets[v]), int(self.offsets[v + 1])
        return Match(self.ids[v], score, float(self.frame_time[a]), float(self.frame_time[b - 1]))

    # -- anomaly -------------------------------------------------------------------------------
    def _anomaly(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-frame and per-video anomaly scores.

        Frame: the robust z-score (median/MAD) of its autoencoder reconstruction error — the
        seed's signal for content that does not fit the map — plus a large fixed penalty when
        the picture is degenerate (see :func:`degenerate_frames`). Video: the mean of its
        frames' reconstruction z-scores plus half the z-score of how far its path lies from the
        paths of its nearest videos, log-compressed, plus the penalty times the share of
        degenerate frames. Degenerate footage therefore ranks first, then content that does not
        fit.
        """
        c = self.bundle.content
        degenerate = degenerate_frames(c.pixel_stats)
        recon = _robust_z(np.asarray(c.recon_error, np.float64))
        n = len(self.ids)
        spans = [slice(int(self.offsets[i]), int(self.offsets[i + 1])) for i in range(n)]
        if n > 1:
            kn = min(3, n - 1)
            d2, nn = self.bundle.indexes["fingerprints"].search(np.ascontiguousarray(self.fingerprints), kn + 1)
            d2 = np.where(nn == np.arange(n)[:, None], np.inf, d2)  # drop each video itself
            d2 = np.sort(d2, axis=1)[:, :kn]
            path = _robust_z(np.sqrt(np.maximum(d2, 0) / self.fingerprints.shape[1]).mean(1))
        else:
            path = np.zeros(n)
        content = np.array([recon[sp].mean() for sp in spans]) + 0.5 * path
        # compress the heavy tail (a unique but natural video can sit dozens of MADs out) so that
        # the degenerate-picture penalty always dominates the ranking
        content = np.sign(content) * np.log1p(np.abs(content))
        video = content + DEGENERATE_PENALTY * np.array([degenerate[sp].mean() for sp in spans])
        return (recon + DEGENERATE_PENALTY * degenerate).astype(np.float32), video


DEGENERATE_PENALTY = 10.0
NOISE_ROUGHNESS = 0.6   # white noise ~0.9-1.1, natural pictures < 0.45
FLAT_ROUGHNESS = 0.005  # a flat colour field is 0
FLASH_CHANGE = 90.0     # mean |pixel change| from the previous frame, of 255


def degenerate_frames(pixel_stats: np.ndarray) -> np.ndarray:
    """1 for frames that are not pictures of anything: noise, a flat field, or a flash."""
    st = np.asarray(pixel_stats, np.float64)
    rough, change = st[:, 0], st[:, 1]
    return ((rough > NOISE_ROUGHNESS) | (rough < FLAT_ROUGHNESS) | (change > FLASH_CHANGE)).astype(np.float64)


CLUSTERS = 8


def cluster_centres(codes: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """k-means centres of the 2-D map (the unsupervised labels), ordered by x then y."""
    import faiss
    x = np.ascontiguousarray(codes, np.float32)
    k = max(1, min(k, len(x)))
    km = faiss.Kmeans(2, k, niter=25, seed=seed, max_points_per_centroid=100_000,
                     min_points_per_centroid=1)  # few points is fine here: no warning
    km.train(x)
    c = km.centroids
    return c[np.lexsort((c[:, 1], c[:, 0]))]


def _robust_z(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if not len(x):
        return x
    med = np.median(x)
    mad = np.median(np.abs(x - med)) * 1.4826
    return (x - med) / (mad if mad > 1e-12 else (x.std() or 1.0))
