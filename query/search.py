"""Search over a loaded bundle: similar and dissimilar videos, outliers. No gRPC types here.

FindSimilar gathers candidate videos from frame-level nearest neighbours (cosine over the
PCA-reduced features; every query frame votes, up to ``probe_frames`` of them or one a bundle period, and each frame's
own best videos are always candidates, so the source of a short copy is found) and from path
fingerprints, then scores every candidate two ways on one query × video similarity cube:

* **copied segments** (``query.copies``): local alignment finds the near-diagonal runs of
  matching frames, each a query range ↔ video range with its own copy score; a short exact copy
  outranks a long loose resemblance, and speed changes show as slopes. The best segment's score
  is the result's calibrated copy score.
* **whole-video similarity**: the best monotone mapping of query frames onto the candidate's
  frames (query order kept, gaps allowed, repeats at a small cost so a range follows the copy),
  scored by the mean cosine similarity along it. A video with the same shots in another order
  cannot align all of them, so it ranks below the true copy.

``MODE_SEGMENTS`` (the default) ranks by ``0.9 × the best segment's strength + 0.1 × whole-video
similarity`` (the second term orders videos that share no copied segment; ``called_first`` puts the
results called a copy before the rest, off by default); ``MODE_WHOLE_VIDEO`` ranks by whole-video
similarity alone.
"""
from __future__ import annotations

import collections
import functools
import threading
from dataclasses import dataclass, replace

import numpy as np

from typing import TYPE_CHECKING, Callable

from indexer import Code, VidatlasError
from indexer.paths import fingerprint
from indexer.pictures import Pictures, pixel_signature, signature_grid

from . import content, graph, kernels, phase, views
from .copies import (Segment, crop_windows, local_align, pixel_agreement, register, scan_windows, segment_score,
                     segments as copy_segments, window_agreement)
from .settings import SearchSettings

if TYPE_CHECKING:
    from indexer import Bundle

MAX_K = 100
DEFAULT_K = 10
DISSIMILAR_MODES = ("content", "path")  # FindDissimilar: order-free content (default) or path fingerprints
DEGENERATE_PENALTY = 10.0
NOISE_ROUGHNESS = 0.6   # white noise ~0.9-1.1, natural pictures < 0.45
FLAT_ROUGHNESS = 0.005  # a flat colour field is 0
FLASH_CHANGE = 90.0     # mean |pixel change| from the previous frame, of 255
SEGMENTS, WHOLE_VIDEO = "segments", "whole_video"
MODES = (SEGMENTS, WHOLE_VIDEO)
WHOLE_WEIGHT = 0.1      # share of whole-video similarity in the segments mode's score


@dataclass(frozen=True)
class Query:
    """Frames to search with, already embedded: times, unit-norm reduced features, 2-D codes.
    ``video`` is the row of an indexed query video (excluded from its own results)."""

    times: np.ndarray
    feats: np.ndarray
    codes: np.ndarray
    video: int | None = None
    whole: bool = False  # the query is all of indexed video ``video`` (answerable from a neighbour table)
    pixels: np.ndarray | None = None  # pixel signatures (indexer.pictures.pixel_signature); None: read when needed
    pixel_times: np.ndarray | None = None  # times of ``pixels`` when they are sampled apart from ``times`` (a
    # clip's every frame: a copy then meets the very frame the bundle sampled, whatever its phase)
    self_agreement: np.ndarray | None = None  # of each of ``pixels`` (Pictures.self_agreement); None: not known
    views: tuple["Query", ...] = ()  # the same clip seen otherwise (a picture inset into it, alone):
    # FindSimilar searches each and keeps every video's best answer


@dataclass(frozen=True)
class Match:
    video_id: str
    score: float
    start_s: float = 0.0
    end_s: float = 0.0
    query_start_s: float = 0.0
    query_end_s: float = 0.0
    segments: tuple[Segment, ...] = ()  # FindSimilar: every copied segment, strongest first
    copy_score: float = 0.0             # FindSimilar: the best segment copy score
    is_copy: bool = False               # copy_score reached the calibrated threshold


def check_mode(mode: str | None) -> str:
    mode = mode or SEGMENTS
    if mode not in MODES:
        raise VidatlasError(f"unknown FindSimilar mode {mode!r} (one of {', '.join(MODES)})", Code.INVALID_ARGUMENT)
    return mode


def rank_key(m: Match, called_first: bool) -> tuple:
    """Where ``m`` ranks (lower first): with ``called_first`` (segments mode), results called a
    copy before the rest; then by score, then copy score, then id."""
    return (called_first and not m.is_copy, -m.score, -m.copy_score, m.video_id)


def check_k(k: int) -> int:
    k = k or DEFAULT_K
    if not 1 <= k <= MAX_K:
        raise VidatlasError(f"k must be between 1 and {MAX_K}, got {k}", Code.INVALID_ARGUMENT)
    return k


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def align_many(sim: np.ndarray, repeat_penalty: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best monotone alignments for a batch of candidates at once.

    ``sim`` is ``(candidates, query frames, video frames)``, padded on the right with ``-inf``
    for shorter videos. ``dp[i, j] = sim[i, j] + max(dp[i-1, j] - repeat_penalty, dp[i-1, :j])``:
    every query frame is matched, in order, to a video frame at or after the previous one's
    (gaps allowed; repeating the previous one's frame costs ``repeat_penalty``, so a copy's
    frames are not all piled onto one). Returns the mean similarity along each best path (the
    penalty not counted) and its first and last column.
    """
    dp, start, repeats = kernels.monotone(sim, repeat_penalty)
    last = dp.argmax(axis=1)
    rows = np.arange(len(dp))
    return (dp[rows, last] + repeat_penalty * repeats[rows, last]) / sim.shape[1], start[rows, last], last


def _top(values: np.ndarray, count: int, keep) -> list[int]:
    """Indices of the ``count`` largest values passing ``keep``, largest first (ties by index)."""
    idx = np.flatnonzero(keep(values))
    if len(idx) > count:
        idx = idx[np.argpartition(-values[idx], count - 1)[:count]]
    idx = idx[np.lexsort((idx, -values[idx]))]
    return [int(i) for i in idx]


def _group_max(x: np.ndarray, heads: np.ndarray, axis: int) -> np.ndarray:
    """``np.maximum.reduceat(x, heads, axis)``; ``x`` itself when every group is one item (a
    query of one frame a slot: the reduction copied it, 2-4 ms at 1M frames)."""
    if len(heads) == x.shape[axis]:
        return x
    return np.maximum.reduceat(x, heads, axis=axis)


def _spread(count: int, limit: int) -> np.ndarray:
    """At most ``limit`` indices spread evenly over ``range(count)``, in order."""
    return np.unique(np.linspace(0, count - 1, min(count, limit)).round().astype(np.int64))


def refined(starts: list[tuple], count: int, voted_share: float) -> list[tuple]:
    """Which of the crop search's ``starts`` (one a candidate, in order of how often its frames
    are nearest the query's; each led by its best agreement at a coarse window) are refined:
    ``voted_share`` of ``count`` in that order, whatever their coarse agreement (other shots of the
    places a copy's other footage shows are crops of the same pictures and agree well at some
    coarse window), then the rest by coarse agreement."""
    first = int(voted_share * count)
    return starts[:first] + sorted(starts[first:], key=lambda x: -x[0])[:count - first]


def _diagonal_run(sim: np.ndarray, floor: float) -> np.ndarray:
    """``(slots, frames)``: each pair's similarity with the best of the slot before and of the slot
    after at a frame one or two away along a diagonal (a copy at up to twice its speed); -inf for
    a pair under ``floor``."""
    s = np.where(np.isfinite(sim), np.maximum(sim, 0), 0)
    before, after = np.zeros_like(s), np.zeros_like(s)
    for d in (1, 2):
        before[1:, d:] = np.maximum(before[1:, d:], s[:-1, :-d])
        after[:-1, :-d] = np.maximum(after[:-1, :-d], s[1:, d:])
    return np.where(s >= floor, s + before + after, -np.inf)


def _on_diagonals(run: np.ndarray, count: int) -> list[tuple[int, int]]:
    """Up to ``count`` pairs ``(slot, frame)`` of the highest finite ``run``, on diagonals 2 apart."""
    flat = run.ravel()
    out: list[tuple[int, int]] = []
    for i in np.argsort(-flat, kind="stable"):
        if len(out) == count or not np.isfinite(flat[i]):
            break
        slot, frame = divmod(int(i), run.shape[1])
        if all(abs((frame - slot) - (f - t)) > 1 for t, f in out):
            out.append((slot, frame))
    return out


class Searcher:
    """Everything a query needs from one bundle version, prepared once at load."""

    def __init__(self, bundle: Bundle, settings: SearchSettings = SearchSettings()):
        settings.validate()
        self.settings = settings
        self.bundle = bundle
        c = bundle.content
        self.version = bundle.version
        self.ids = bundle.video_ids
        self.index_of = {v: i for i, v in enumerate(self.ids)}
        self.offsets = c.offsets
        self.frame_time = np.asarray(c.frame_time)
        self.frame_video = np.asarray(c.frame_video)
        # unit-length features straight from the memory-mapped file (float16 since 2026-11-24, float32
        # before; rows are converted where they are used); older bundles are normalised into memory once
        self.feats = np.asarray(c.features) if bundle.manifest.get("features_unit") else _unit(np.asarray(c.features))
        self.codes = np.asarray(c.codes)
        self.fp_len = int(c.fingerprints.shape[1])
        self.fingerprints = np.asarray(c.fingerprints, np.float32).reshape(len(self.ids), -1)
        self._anomalies: tuple[np.ndarray, np.ndarray] | None = None
        self._anomaly_lock = threading.Lock()
        self._lock = threading.Lock()
        self._places_lock = threading.Lock()  # one per structure: a long graph build never holds up places
        self._graph_lock = threading.Lock()
        self._places: content.Places | None = None
        self._spread: dict[int, list[tuple[int, float]]] = {}
        self._graph: graph.FrameGraph | None = None
        self._memo: dict = {}
        # video -> (signatures of its every frame, which of them are computed yet)
        self._pixels: collections.OrderedDict[int, tuple[np.ndarray, np.ndarray]] = collections.OrderedDict()
        self._pixel_bytes = 0
        self._stored_pixels = bundle.pixels is not None and \
            tuple(bundle.manifest.get("pixel_scales", ())) == tuple(settings.crop_scales)
        self.period = 1.0 / float(bundle.manifest.get("sampling", {}).get("fps", 1.0))
        # how an indexed video with insets is also seen as each inset alone (a backbone embeds it:
        # set by whoever has one, service.embed.ClipEmbedder.inset_views); None: only as itself
        self.inset_views: Callable[[Searcher, Query], tuple[Query, ...]] | None = None

    @property
    def places(self) -> content.Places:
        """Every video's content centroids (see :mod:`query.content`), built once, on first use."""
        if self._places is None:
            with self._places_lock:
                if self._places is None:
                    self._places = content.Places.build(self.feats, self.offsets, self.settings.places_per_video,
                                                         self.settings.same_place)
        return self._places

    @property
    def frame_graph(self) -> graph.FrameGraph:
        """Shots and the kNN + temporal frame graph (see :mod:`query.graph`), built once, on first use."""
        if self._graph is None:
            with self._graph_lock:
                if self._graph is None:
                    self._graph = graph.build(self.bundle.indexes["frames_features"], self.feats, self.offsets,
                                              self.settings.graph_neighbours, self.settings.cut_similarity,
                                              self.settings.cut_link)
        return self._graph

    @property
    def anomaly_frames(self) -> np.ndarray:
        return self._anomaly_scores()[0]

    @property
    def anomaly_videos(self) -> np.ndarray:
        return self._anomaly_scores()[1]

    def _anomaly_scores(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-frame and per-video anomaly scores (see :meth:`_anomaly`), on first use: at 100k
        videos the paths' neighbours take seconds, which loading does not wait for."""
        if self._anomalies is None:
            with self._anomaly_lock:
                if self._anomalies is None:
                    self._anomalies = self._anomaly()
        return self._anomalies

    def warm(self) -> None:
        """Build what the first FindDissimilar, LabelVideo, ListVideos or cluster label would
        otherwise build on its request (the service does this in the background after a load)."""
        _ = self.places, self.frame_graph, self.centres, self.anomaly_videos

    def memo(self, key, compute, keep: int = 4):
        """``compute()`` once per ``key`` for this bundle, keeping the ``keep`` newest keys."""
        value = self._memo.get(key)
        if value is None:
            value = compute()
            with self._lock:
                self._memo[key] = value
                while len(self._memo) > keep:
                    self._memo.pop(next(iter(self._memo)))
        return value

    @functools.cached_property
    def centres(self) -> np.ndarray:
        """k-means centres of the map (unsupervised labels), computed on first use."""
        return cluster_centres(self.codes, self.settings.clusters, self.settings.kmeans_iterations)

    # -- queries -------------------------------------------------------------------------------
    def video_row(self, video_id: str) -> int:
        i = self.index_of.get(video_id)
        if i is None:
            raise VidatlasError(f"unknown video id {video_id!r}", Code.NOT_FOUND)
        return i

    def query_for_video(self, video_id: str, start_s: float = 0.0, end_s: float = 0.0) -> Query:
        i = self.video_row(video_id)
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        for name, value in (("start_s", start_s), ("end_s", end_s)):
            if not np.isfinite(value):
                raise VidatlasError(f"{name} must be a finite number of seconds, got {value}", Code.INVALID_ARGUMENT)
        if start_s < 0 or end_s < 0 or (end_s and end_s <= start_s):
            raise VidatlasError(f"bad time range {start_s}..{end_s}", Code.INVALID_ARGUMENT)
        t = self.frame_time[a:b]
        keep = (t >= start_s - 1e-6) & ((t <= end_s + 1e-6) if end_s else True)
        if not keep.any():
            raise VidatlasError(f"no frames of {video_id!r} in {start_s}..{end_s or 'end'} s", Code.INVALID_ARGUMENT)
        rows = np.arange(a, b)[keep]
        return Query(self.frame_time[rows], float32_rows(self.feats, rows), self.codes[rows], video=i,
                     whole=bool(keep.all()))

    def query_for_frames(self, times: np.ndarray, reduced: np.ndarray, codes: np.ndarray,
                         pixels: np.ndarray | None = None, pixel_times: np.ndarray | None = None,
                         views: tuple[Query, ...] = (), self_agreement: np.ndarray | None = None) -> Query:
        """A clip's embedded frames; ``pixels`` are pixel signatures (:func:`pixel_signature`) of its
        frames at ``times``, or at ``pixel_times`` when given, and ``self_agreement`` their pictures'
        (:meth:`Pictures.self_agreement`); ``views``: the clip seen otherwise."""
        return Query(np.asarray(times, np.float64), _unit(reduced), np.asarray(codes, np.float32), pixels=pixels,
                     pixel_times=None if pixel_times is None else np.asarray(pixel_times, np.float64), views=views,
                     self_agreement=None if self_agreement is None else np.asarray(self_agreement, np.float32))

    def pixels(self, v: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Pixel signatures at every crop scale of video ``v``'s frames ``rows`` (its own frame
        numbers, boolean or integer; all frames when None); see :meth:`pixels_of`."""
        return self.pixels_of([v], [rows])[0]

    def pixels_of(self, videos, rows) -> list[np.ndarray]:
        """Pixel signatures of ``rows[i]`` of each of ``videos[i]`` (as :meth:`pixels`): the
        bundle's stored ones (``pixels.npy``, memory-mapped) when they are at the search's
        ``crop_scales``. Otherwise (an older bundle, other scales) each frame's are computed from
        its thumbnail the first time a query needs it, those missing from every video asked for
        together (one read a run of frames, one signature pass), and the most recently used
        videos' are kept, up to ``pixel_cache_mb``."""
        if self._stored_pixels:
            wants = [int(self.offsets[v]) + np.arange(int(self.offsets[v + 1] - self.offsets[v]))[
                slice(None) if r is None else r] for v, r in zip(videos, rows)]
            if not wants:
                return []
            return np.split(self.bundle.pixels[np.concatenate(wants)], np.cumsum([len(w) for w in wants])[:-1])
        wants, entries = [], []
        with self._lock:
            for v, r in zip(videos, rows):
                n = int(self.offsets[v + 1] - self.offsets[v])
                wants.append(np.arange(n) if r is None else np.arange(n)[r])
                entries.append(self._pixels.get(v))
                if entries[-1] is not None:
                    self._pixels.move_to_end(v)
        # (with nothing asked for, a first call still computes one frame: the array's shape)
        missing = [(w if len(w) else np.arange(1)) if e is None else w[~e[1][w]] for w, e in zip(wants, entries)]
        missing = [np.unique(m) for m in missing]
        if any(len(m) for m in missing):
            frames = np.concatenate([int(self.offsets[v]) + m for v, m in zip(videos, missing)])
            new = pixel_signature(self.bundle.frames.take(frames), self.settings.crop_scales)
            heads = np.cumsum([0] + [len(m) for m in missing])
            with self._lock:  # a race computes a frame twice, never wrongly
                for i, (v, m) in enumerate(zip(videos, missing)):
                    if not len(m):
                        continue
                    # the entry read above holds this video's other frames asked for (even if
                    # evicted since); without one, all frames asked for are in ``m``
                    entry = entries[i] if entries[i] is not None else self._pixels.get(v)
                    if entry is None:
                        n = int(self.offsets[v + 1] - self.offsets[v])
                        entry = (np.zeros((n, *new.shape[1:]), new.dtype), np.zeros(n, bool))
                        self._pixels[v] = entry
                        self._pixel_bytes += entry[0].nbytes
                    entry[0][m] = new[heads[i]:heads[i + 1]]
                    entry[1][m] = True
                    entries[i] = entry
                while self._pixel_bytes > self.settings.pixel_cache_mb << 20 and len(self._pixels) > 1:
                    self._pixel_bytes -= self._pixels.popitem(last=False)[1][0].nbytes
        return [e[0][w] for w, e in zip(wants, entries)]

    def rows_of(self, q: Query) -> np.ndarray | None:
        """The bundle rows of an indexed query's frames (None for a clip)."""
        if q.video is None:
            return None
        a, b = int(self.offsets[q.video]), int(self.offsets[q.video + 1])
        return a + np.clip(np.searchsorted(self.frame_time[a:b], q.times), 0, max(b - a - 1, 0))

    def _query_pixels(self, q: Query) -> np.ndarray | None:
        if q.pixels is not None:
            return q.pixels
        rows = self.rows_of(q)
        return None if rows is None else self.pixels(q.video, rows - int(self.offsets[q.video]))

    def _query_self_agreement(self, q: Query) -> np.ndarray | None:
        """The self agreement of each of ``q``'s pixel signatures: a clip's own, an indexed query's
        from the bundle (computed from its thumbnails, as stored, for bundles written before it was)."""
        if q.self_agreement is not None or q.pixels is not None:
            return q.self_agreement
        rows = self.rows_of(q)
        if rows is None:
            return None
        if self.bundle.pixel_self is not None:
            return np.asarray(self.bundle.pixel_self[rows], np.float32)
        return Pictures(self.bundle.frames.take(rows)).self_agreement().astype(np.float16).astype(np.float32)

    def similar(self, q: Query, k: int, mode: str | None = None) -> list[Match]:
        """The ``k`` videos most like ``q``, searched (``neighbours.similar`` first looks in the
        precomputed table), ranked by ``mode`` (copied segments by default, or whole-video
        similarity). Every result carries its copied segments and copy score either way. A clip
        with ``views`` (a picture inset into it) is searched as each of them too, and every video
        keeps its best answer (by score, then copy score); so is an indexed video with insets,
        when :attr:`inset_views` is set."""
        k = check_k(k)
        mode = check_mode(mode)
        if not q.views and q.video is not None and self.inset_views is not None and self.insets_of(q.video):
            q = replace(q, views=self.inset_views(self, q))
        if not q.views:
            return self._similar(q, k, mode)
        best: dict[str, Match] = {}
        for view in (q, *q.views):
            for m in self._similar(view, k, mode):
                if m.video_id not in best or self._rank(m, mode) < self._rank(best[m.video_id], mode):
                    best[m.video_id] = m
        return sorted(best.values(), key=lambda m: self._rank(m, mode))[:k]

    def _rank(self, m: Match, mode: str) -> tuple:
        return rank_key(m, mode == SEGMENTS and self.settings.called_first)

    def copy_threshold_for(self, q: Query) -> float:
        """The calibrated copy threshold for ``q``: an indexed video's (its 1 fps samples against
        the bundle's) or a clip's (every frame of it)."""
        st = self.settings
        return st.indexed_copy_threshold if q.video is not None else st.copy_threshold

    def _similar(self, q: Query, k: int, mode: str) -> list[Match]:
        st = self.settings
        candidates, voted = self._candidates(q, st.candidates(k))
        if not candidates:
            return []
        n = len(q.times)
        # query frames pooled into slots of the bundle's frame period (a clip sampled faster keeps
        # its best frame per slot); a long query into slots of ``stride`` periods, slopes scaled to match
        period = self.period
        slot = np.floor((q.times - q.times[0]) / period + 1e-6).astype(np.int64)
        stride = -(-int(slot[-1] + 1) // st.segment_frames)
        slot //= stride
        heads = np.r_[0, np.flatnonzero(np.diff(slot)) + 1]
        spans = [(int(self.offsets[v]), int(self.offsets[v + 1])) for v in candidates]
        lengths = np.array([b - a for a, b in spans])
        width = int(lengths.max())
        # one gather and one matrix product for every candidate frame, scattered into a padded cube
        col = np.arange(width)
        valid = col[None, :] < lengths[:, None]
        frames = (np.array([a for a, _ in spans])[:, None] + col[None, :])[valid]
        flat = _group_max(float32_rows(self.feats, frames) @ q.feats.T, heads, axis=1)
        sim = np.full((len(candidates), width, len(heads)), -np.inf, np.float32)
        sim[valid] = flat
        sim = np.ascontiguousarray(sim.transpose(0, 2, 1))
        qpix = self._query_pixels(q)
        phase_of = None  # what the phase check of a clip's segments needs (query.phase)
        windows: dict[int, np.ndarray] = {}  # candidate row -> the crop window the search registered
        if qpix is not None and st.pixel_weight > 0:  # frame similarity for copies: features and pixels
            # pixel signatures pooled into the same slots (a clip's are of its every frame)
            ptimes = q.times if q.pixel_times is None else q.pixel_times
            pslot = np.floor((ptimes - q.times[0]) / period + 1e-6).astype(np.int64) // stride
            at = np.searchsorted(slot[heads], pslot)
            ok = (pslot >= 0) & (at < len(heads)) & (slot[heads][np.minimum(at, len(heads) - 1)] == pslot)
            qpix, at, ptimes = qpix[ok], at[ok], ptimes[ok]
            # (only looked up when it is used: for an older bundle it is computed from thumbnails)
            qself = self._query_self_agreement(q) if st.smooth_gain > 0 else None
            qself = None if qself is None else qself[ok]
            pheads = np.r_[0, np.flatnonzero(np.diff(at)) + 1]
            pix = sim.copy()  # a slot without pixels (none here in practice) keeps its feature similarity
            # only frames some query frame's features come near (at all) are compared by their pictures
            near = valid & (sim.max(axis=1) >= st.pixel_min_similarity)
            if len(at) and near.any():  # those of every candidate at once, scattered like the features
                sigs = np.concatenate(self.pixels_of(candidates, [near[c, :lengths[c]] for c in range(len(candidates))]))
                agree = _group_max(pixel_agreement(qpix, sigs, *signature_grid(*self.bundle.frames.shape)),
                                            pheads, axis=0)
                cube = np.where(valid, np.float32(0), np.float32(-np.inf))[:, :, None].repeat(len(pheads), 2)
                cube[near] = agree.T
                pix[:, at[pheads]] = cube.transpose(0, 2, 1)
                # a clip, or a whole indexed video (the similar-videos table): look for off-centre crops too
                refine = st.crop_register if q.pixels is not None else st.crop_register_indexed if q.whole else 0
                if st.crop_search_frames and refine:
                    windows = self._search_crops(pix, sim, valid, candidates[:voted], qpix, at, pheads, refine)
            elif len(at):
                pix[:, at[pheads]] = np.minimum(pix[:, at[pheads]], 0)
            gain = np.ones(len(heads), np.float32)
            if qself is not None and len(at):
                # smooth query pictures: the shortfall from full agreement counts more
                each = np.add.reduceat(qself, pheads) / np.diff(np.r_[pheads, len(qself)])
                gain[at[pheads]] = 1 + st.smooth_gain * np.maximum(each - st.smooth_floor, 0)
                pix[:, at[pheads]] = 1 - (1 - pix[:, at[pheads]]) * gain[None, at[pheads], None]
            if q.pixel_times is not None and len(at) and st.phase_min_score < 1:
                # a clip's every frame: a copied segment's frames keep one offset to the video's
                phase_of = (qpix, ptimes, at, sim, pix, gain, windows)
            # pictures that agree in detail are copies whatever the features say (a blocky, noisy or
            # recoloured copy can lose its features but keeps its detail)
            copy_sim = np.maximum((1 - st.pixel_weight) * sim + st.pixel_weight * pix, pix)
        else:
            copy_sim = sim
        rows = heads
        spread = np.unique(np.searchsorted(rows, _spread(n, st.align_frames), side="right") - 1)
        whole, first, last = align_many(sim[:, spread], st.repeat_penalty)
        local = local_align(copy_sim, st.match_threshold, 2 * stride, st.repeat_penalty)
        qtimes = q.times[rows]
        threshold = self.copy_threshold_for(q)
        matches = []
        for c, (v, (a, b)) in enumerate(zip(candidates, spans)):
            segs = tuple(copy_segments(local, c, qtimes, self.frame_time[a:b], period * stride, st.match_threshold,
                                       st.length_half_s, st.max_segments, st.min_segment_score, st.gain_half))
            if phase_of is not None:
                segs = tuple(h for h in (self._phase_held(g, c, v, a, b, qtimes, period * stride, phase_of) for g in segs)
                             if h.score >= st.min_segment_score)
            copy = max((g.score for g in segs), default=0.0)
            if mode == SEGMENTS:
                strength = segs[0].strength if segs else 0.0
                score = (1 - WHOLE_WEIGHT) * strength + WHOLE_WEIGHT * max(float(whole[c]), 0.0)
            else:
                score = float(whole[c])
            if mode == SEGMENTS and segs:
                rng = (segs[0].start_s, segs[0].end_s, segs[0].query_start_s, segs[0].query_end_s)
            else:
                rng = (float(self.frame_time[a + first[c]]), float(self.frame_time[a + last[c]]),
                       float(q.times[0]), float(q.times[-1]))
            matches.append(Match(self.ids[v], score, *rng, segments=segs, copy_score=copy,
                                 is_copy=copy >= threshold))
        matches.sort(key=lambda m: self._rank(m, mode))
        return matches[:k]

    def _phase_held(self, g: Segment, c: int, v: int, a: int, b: int, qtimes: np.ndarray, period: float,
                    phase_of: tuple) -> Segment:
        """Segment ``g`` of candidate ``c`` (video ``v``, bundle rows ``a:b``), its copy score
        lowered by what its pairs' pixel agreement loses on one line of time through it
        (:mod:`query.phase`); ``qtimes`` are the query slots' times, ``period`` a slot's length."""
        st = self.settings
        if g.score < st.phase_min_score:
            return g
        qpix, ptimes, slot_of, sim, pix, gain, windows = phase_of
        vt = self.frame_time[a:b]
        i0, i1 = np.searchsorted(qtimes, [g.query_start_s - 1e-6, g.query_end_s - 1e-6])
        j0, j1 = np.searchsorted(vt, [g.start_s - 1e-6, g.end_s - 1e-6])
        ii, jj = phase.path(int(i0), int(i1), int(j0), int(j1))
        groups = [np.flatnonzero(slot_of == i) for i in ii]
        want = np.unique(np.concatenate(groups))
        if not len(want):
            return g
        # every frame of the segment's slots against its video frames, as the search compared
        # them: whole pictures at every scale and, for a candidate searched for crops, its window
        grid = signature_grid(*self.bundle.frames.shape)
        agree = np.full((len(qpix), len(jj)), -np.inf, np.float32)
        agree[want] = pixel_agreement(qpix[want], self.pixels(v, jj), *grid)
        if c in windows:
            sigs = Pictures(self.bundle.frames.take(a + jj)).signature(windows[c][None])[:, 0]
            agree[want] = np.maximum(agree[want], pixel_agreement(qpix[want], sigs[:, None], *grid))
        now = pix[c, ii, jj].astype(np.float64)
        raw = 1 - (1 - now) / gain[ii]
        span = vt[j1] - vt[j0]  # the segment's own slope too (its ends are whole slots and frames)
        slopes = (*phase.SLOPES, (qtimes[i1] - qtimes[i0]) / span) if span > 0 else phase.SLOPES
        lost = phase.loss(agree, groups, [ptimes[grp] for grp in groups], vt[jj], raw, slopes)
        if not lost.any():
            return g
        held = 1 - (1 - (raw - lost)) * gain[ii]
        feat, w = sim[c, ii, jj].astype(np.float64), st.pixel_weight
        drop = float(np.mean(np.maximum((1 - w) * feat + w * now, now) - np.maximum((1 - w) * feat + w * held, held)))
        # the copy score is exactness x length factor, exactness linear in the mean similarity
        seconds = min(qtimes[i1] - qtimes[i0], vt[j1] - vt[j0]) + period
        length = float(segment_score(np.array(1.0), seconds, st.match_threshold, st.length_half_s))
        return replace(g, score=max(g.score - drop / (1.0 - st.match_threshold) * length, 0.0))

    def _search_crops(self, pix: np.ndarray, sim: np.ndarray, valid: np.ndarray, candidates: list[int],
                      qpix: np.ndarray, at: np.ndarray, pheads: np.ndarray, refine: int) -> dict[int, np.ndarray]:
        """Raise ``pix`` (candidates x query slots x video frames) where a clip's pictures are a
        crop of video frames near them by features: off-centre, the aspect changed, scaled back
        to full size. Detail lines up only if the crop's window is met within about a cell, which
        no grid of windows small enough to keep for every frame does. So for the candidates whose
        frames are most often among the ``crop_search_frames`` nearest a query slot, the best of
        a coarse grid of windows (:func:`crop_windows`) on their nearest pairs is found (and on
        their pairs most alike along a diagonal, where the nearest line up less well:
        ``crop_diagonal_starts``); ``refine`` of those (:func:`refined`: the most often nearest,
        then the best) are refined (:func:`register`) on that pair and the moments either side (one
        geometry serves a whole copied piece), from that window and, when ``crop_scan_scales`` is
        set, from the best window a scan of the pair's video frame at every position finds
        (:func:`scan_windows`); the best fit of every start and window is kept, and that one window
        is compared with every frame around them, from every slot.
        ``candidates`` are the first rows of the cubes. Returns the window registered for each
        candidate row refined."""
        st = self.settings
        slots = at[pheads]
        width = sim.shape[2]
        voted = len(candidates)  # the first rows of the cubes (those the features voted for)
        near = np.where(valid[:voted, None, :], sim[:voted, slots], -np.inf).transpose(1, 0, 2).reshape(len(slots), -1)
        k = min(st.crop_search_frames, near.shape[1])
        top = np.argpartition(-near, k - 1, axis=1)[:, :k]
        closeness = np.take_along_axis(near, top, 1)
        ok = closeness >= st.pixel_min_similarity
        if not ok.any():
            return {}
        cand, col = np.divmod(top, width)
        bounds = list(zip(pheads, np.r_[pheads[1:], len(at)]))
        votes = np.zeros(len(candidates))
        np.add.at(votes, cand[ok], closeness[ok])
        coarse = crop_windows(st.crop_search_scales, st.crop_search_shifts, st.crop_search_angles)
        grid = signature_grid(*self.bundle.frames.shape)
        # the candidates nearest most often: their nearest pairs (a few) at the coarse windows give
        # a pair and window to start from; the best starts are refined
        starts = []
        for c in np.argsort(-votes, kind="stable")[:2 * refine]:
            if votes[c] <= 0:
                break
            mine = ok & (cand == c)
            v = candidates[c]
            n = int(self.offsets[v + 1] - self.offsets[v])
            # its nearest pairs; and, where they do not line up as well, the pairs most alike along a
            # diagonal of its own (a cropped copy's frames can be farther by features than another
            # shot of the picture it shows, which a long video offers more often)
            nearest = [(int(s), int(col[s, j])) for s, j in sorted(zip(*np.nonzero(mine)), key=lambda sj: -closeness[sj])[:3]]
            run = _diagonal_run(sim[c, slots, :n], st.pixel_min_similarity)
            lined = [p for p in _on_diagonals(run, st.crop_diagonal_starts) if run[p] > max(run[q] for q in nearest)]
            pairs = nearest + lined
            cols = [f for _, f in pairs]
            lo, hi = max(min(int(col[mine].min()), *cols) - 3, 0), min(max(int(col[mine].max()), *cols) + 4, n)  # and the moments around
            few = Pictures(self.bundle.frames.take(self.offsets[v] + np.array(cols)))  # (only these frames until refined)
            agree = [window_agreement(qpix[slice(*bounds[s])], sig, *grid).max(axis=0) for (s, _), sig in zip(pairs, few.signature(coarse))]
            top = [float(a.max()) for a in agree]
            # a pair and window to start from among the nearest, and among the lined if near as good
            best = [int(np.argmax(top[:len(nearest)]))]
            if lined and max(top[len(nearest):]) >= top[best[0]] - st.crop_start_margin:
                best.append(len(nearest) + int(np.argmax(top[len(nearest):])))
            starts.append((max(top[i] for i in best), int(c), [(pairs[i], coarse[int(np.argmax(agree[i]))]) for i in best], lo, hi))
        windows = {}
        for _, c, tries, lo, hi in refined(starts, refine, st.crop_register_voted):
            v = candidates[c]
            pictures = Pictures(self.bundle.frames.take(np.arange(self.offsets[v] + lo, self.offsets[v] + hi)))
            fits = []
            for (s0, f0), window in tries:  # each refined on its pair and the moments either side
                moments = [(qpix[slice(*bounds[t])], f0 + t - s0 - lo) for t in (s0 - 1, s0, s0 + 1)
                           if 0 <= t < len(slots) and lo <= f0 + t - s0 < hi]
                fits.append(register(moments, pictures, window))
                if st.crop_scan_scales:  # and from the best window at any position
                    scanned, _ = scan_windows(qpix[slice(*bounds[s0])][:, 0], pictures, f0 - lo, st.crop_scan_scales)
                    fits.append(register(moments, pictures, scanned))
            window = max(fits, key=lambda wf: wf[1])[0]
            windows[int(c)] = window
            # that one window on every frame around the candidate's near pairs, against every slot
            sigs = pictures.signature(window[None])[:, 0]
            for s in range(len(slots)):
                agree = pixel_agreement(qpix[slice(*bounds[s])], sigs[:, None], *grid).max(axis=0)
                pix[c, slots[s], lo:hi] = np.maximum(pix[c, slots[s], lo:hi], agree)
        return windows

    def _candidates(self, q: Query, count: int) -> tuple[list[int], int]:
        """Videos voted for by query frames' nearest frames (each video's best frame per query
        frame), every query frame's own best videos, plus nearest fingerprints; and how many at
        the front were voted for (only those are searched for crops: a path fingerprint, which
        the map draws, must not take a copy's place in that search)."""
        st = self.settings
        per_frame = min(st.neighbours_per_probe, len(self.feats))
        periods = int((q.times[-1] - q.times[0]) / self.period + 1e-6) + 1
        probes = _spread(len(q.times), max(st.probe_frames, min(periods, st.max_probe_frames)))
        sims, rows = self.bundle.indexes["frames_features"].search(np.ascontiguousarray(q.feats[probes]), per_frame)
        n_videos = len(self.ids)
        probe_of = np.broadcast_to(np.arange(len(probes))[:, None], rows.shape)
        ok = rows >= 0
        vids = self.frame_video[rows[ok]].astype(np.int64)
        key = probe_of[ok] * n_videos + vids
        order = np.lexsort((-sims[ok], key))
        keep = np.ones(len(order), bool)
        keep[1:] = key[order][1:] != key[order][:-1]  # each video's best frame per probe
        best_key, best_sim = key[order][keep], sims[ok][order][keep]
        best_vid = best_key % n_videos
        votes = np.bincount(best_vid, weights=best_sim, minlength=n_videos)
        if q.video is not None:
            votes[q.video] = -np.inf
        ranked = _top(votes, count, lambda x: np.isfinite(x) & (x > 0))
        # every probe's own top videos: a short copy's few frames point at its source
        probe = best_key // n_videos
        rank = np.lexsort((-best_sim, probe))
        heads = np.r_[0, np.flatnonzero(np.diff(probe[rank])) + 1]
        place = np.arange(len(rank)) - np.repeat(heads, np.diff(np.r_[heads, len(rank)]))
        own = [int(v) for v in best_vid[rank[place < st.videos_per_probe]] if v != q.video]
        voted = list(dict.fromkeys(ranked + own))
        # a range's path is not a video's: for a range, fingerprints only make up a short list
        wanted = count - len(voted) if q.video is not None and not q.whole else count + 1
        if wanted <= 0:
            return voted, len(voted)
        fp = fingerprint(q.times, q.codes, self.fp_len).reshape(1, -1)
        _, near = self.bundle.indexes["fingerprints"].search(np.ascontiguousarray(fp, np.float32),
                                                             min(count + 1, n_videos))
        seen = set(voted)
        return voted + [int(v) for v in near[0] if v >= 0 and v != q.video and v not in seen][:wanted], len(voted)

    def dissimilar(self, k: int, q: Query | None = None, mode: str = "content") -> list[Match]:
        """``k`` videos as different from each other as possible, or the ``k`` farthest from a
        query. ``mode="content"`` (default): over the order-free content distance of
        :mod:`query.content` (one shared place makes two videos close); ``mode="path"``: the
        seed's farthest-point selection over path fingerprints."""
        k = check_k(k)
        if mode not in DISSIMILAR_MODES:
            raise VidatlasError(f"mode must be one of {', '.join(DISSIMILAR_MODES)}, got {mode!r}", Code.INVALID_ARGUMENT)
        if mode == "path":
            return self._dissimilar_paths(k, q)
        if q is not None:
            cent = self.places.of(q.video) if q.whole else content.places(q.feats, self.settings.places_per_video,
                                                                                    self.settings.same_place)
            close = self.places.closeness(cent)
            shares = None
            if q.video is not None and self.settings.view_rounds:
                rows = self.rows_of(q)
                rows = rows[_spread(len(rows), self.settings.view_frames)]
                links = self._links(self._views(q.video, rows), close, rows, q.video)
                # a picture laid over other footage is far in content from what its inset shows:
                # videos with an inset (rare) are checked however far they are
                every = bool(self.insets_of(q.video))
                shares = lambda v: bool(every or close[v] >= self.settings.view_floor or self.insets_of(v)) \
                    and links.shares(-1, v)  # noqa: E731
            return [self._whole(v, d) for v, d in content.farthest(self.places, cent, k, q.video, shares,
                                                                   self.settings.view_checks, close)]
        chosen = self._spread.get(k)
        if chosen is None:  # the same answer for every request with this k: computed once per bundle
            chosen = self._spread[k] = content.spread(self.places, k, self.settings.dissimilar_pool, self._links().shares,
                                                      self.settings.view_rounds, self.settings.view_checks)
        return [self._whole(v, d) for v, d in chosen]

    def shares_place(self, a: str, b: str) -> bool:
        """Do two indexed videos show a place in common, by the check FindDissimilar makes (a
        shared view, directly or through a bridge; see :mod:`query.views`)?"""
        return self._links().shares(self.video_row(a), self.video_row(b))

    def _links(self, query: views.Views | None = None, query_closeness: np.ndarray | None = None,
               query_rows: np.ndarray | None = None, query_video: int | None = None) -> views.Links:
        """The shared-view check for one answer (see :mod:`query.views`): direct, or through one of
        the ``view_bridges`` videos closest in content to the two in all. A query's own frames, when given,
        are video -1 (``query_closeness``: its content closeness to every video). Each video's
        frames (``view_frames`` of them at most, evenly spaced) are prepared once per answer."""
        st = self.settings

        def rows(v: int) -> np.ndarray:
            return query_rows if v == -1 else int(self.offsets[v]) + _spread(int(self.offsets[v + 1] - self.offsets[v]),
                                                                            st.view_frames)

        @functools.cache
        def of(v: int) -> views.Views:
            return query if v == -1 else self._views(v, rows(v))

        @functools.cache
        def feats(v: int) -> np.ndarray:
            """Unit features of the frames ``of(v)`` compares (none for the views of an inset)."""
            out = np.zeros((len(of(v)), self.feats.shape[1]), np.float32)
            out[:len(rows(v))] = float32_rows(self.feats, rows(v))
            return out

        def same(a: int, c: int) -> np.ndarray:
            return feats(a) @ feats(c).T >= st.view_same_feature

        @functools.cache
        def closeness(v: int) -> np.ndarray:
            return query_closeness if v == -1 else self.places.closeness(self.places.of(v))

        def bridges(a: int, c: int) -> list[int]:
            if st.view_bridges <= 0:
                return []
            both = closeness(a) + closeness(c)
            both[[v for v in (a, c, -1 if query_video is None else query_video) if v >= 0]] = -np.inf  # (no self-bridge)
            return [int(b) for b in _top(both, st.view_bridges, np.isfinite)]
        return views.Links(of, bridges, st.view_threshold, st.view_min_area, same if st.view_same_feature <= 1 else None)

    def insets_of(self, v: int) -> list:
        """The pictures the indexer found inset into video ``v`` (its record's ``insets``)."""
        return self.bundle.content.videos[v].get("insets") or []

    def _views(self, v: int, rows: np.ndarray) -> views.Views:
        """Shared-view pictures of video ``v``'s frames ``rows``, with those of its insets."""
        return views.with_insets(self.bundle.frames.take(rows), self.insets_of(v))

    def _dissimilar_paths(self, k: int, q: Query | None) -> list[Match]:
        """Max-min diversity over fingerprints, or the farthest videos from a query."""
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
            kn = min(self.settings.anomaly_neighbours, n - 1)
            d2, nn = _path_neighbours(self.bundle.indexes["fingerprints"], self.fingerprints, kn + 1)
            d2 = np.where(nn == np.arange(n)[:, None], np.inf, d2)  # drop each video itself
            d2 = np.sort(d2, axis=1)[:, :kn]
            path = _robust_z(np.sqrt(np.maximum(d2, 0) / self.fingerprints.shape[1]).mean(1))
        else:
            path = np.zeros(n)
        content = np.array([recon[sp].mean() for sp in spans]) + self.settings.path_isolation_weight * path
        # compress the heavy tail (a unique but natural video can sit dozens of MADs out) so that
        # the degenerate-picture penalty always dominates the ranking
        content = np.sign(content) * np.log1p(np.abs(content))
        video = content + DEGENERATE_PENALTY * np.array([degenerate[sp].mean() for sp in spans])
        return (recon + DEGENERATE_PENALTY * degenerate).astype(np.float32), video


def float32_rows(feats, rows) -> np.ndarray:
    """``feats[rows]`` as float32 (see :func:`indexer.frameindex.float32_rows`; imported on first
    use: FAISS and torch stay unloaded in a client that only imports the conversions)."""
    from indexer.frameindex import float32_rows as widen
    return widen(feats, rows)


EXACT_PATHS = 20_000  # videos; past this the paths' nearest neighbours are found through an inverted file


def _path_neighbours(index, paths: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Every path's ``k`` nearest paths (squared L2), itself included: exact through ``index`` up
    to EXACT_PATHS videos; past that through a seeded IVF of 4·sqrt(n) lists, 16 probed, built for
    the purpose (all-pairs exact search grows with the square: 47 s at 100k videos)."""
    import faiss
    x = np.ascontiguousarray(paths, np.float32)
    n, d = x.shape
    if n <= EXACT_PATHS:
        return index.search(x, k)
    nlist = int(4 * np.sqrt(n))
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatL2(d), d, nlist)
    ivf.cp.seed = seed
    ivf.train(x[np.random.default_rng(seed).choice(n, min(n, 40 * nlist), replace=False)])
    ivf.add(x)
    ivf.nprobe = 16
    return ivf.search(x, k)


def degenerate_frames(pixel_stats: np.ndarray) -> np.ndarray:
    """1 for frames that are not pictures of anything: noise, a flat field, or a flash."""
    st = np.asarray(pixel_stats, np.float64)
    rough, change = st[:, 0], st[:, 1]
    return ((rough > NOISE_ROUGHNESS) | (rough < FLAT_ROUGHNESS) | (change > FLASH_CHANGE)).astype(np.float64)


def cluster_centres(codes: np.ndarray, k: int, iterations: int, seed: int = 0) -> np.ndarray:
    """k-means centres of the 2-D map (the unsupervised labels), ordered by x then y."""
    import faiss
    x = np.ascontiguousarray(codes, np.float32)
    k = max(1, min(k, len(x)))
    km = faiss.Kmeans(2, k, niter=iterations, seed=seed, max_points_per_centroid=100_000,
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
