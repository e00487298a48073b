"""Precomputed FindSimilar answers: the most similar videos of every indexed video.

Asking for the videos like an indexed video is the common query, and its answer only changes
with the bundle, so it is computed once per bundle (by the same search, with TABLE_K results)
in the background after the service loads it (searching on the fly until then), and kept
beside the atlas for the next start and the other replicas.
Clips and time ranges are still searched on the fly. With more candidates than a small-k query
would gather, a table answer is the on-the-fly answer or a better-aligned one. The table holds
the default mode's answers (copied segments) with every pair's copy score and segments, which is
what collection-wide duplicate groups are read from (:func:`duplicate_groups`); whole-video mode
is searched.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.debris import tag

from .copies import Segment
from .search import SEGMENTS, Match, Query, Searcher, check_k, check_mode

log = logging.getLogger(__name__)
TABLE_K = 30
FORMAT = 4  # 4: pixel signatures are thumbnail detail (high-pass)


@dataclass(frozen=True)
class NeighbourTable:
    k: int
    videos: np.ndarray     # (v, k) int32 video rows, -1 past the end of a shorter list
    scores: np.ndarray     # (v, k) float64
    ranges: np.ndarray     # (v, k, 4) float64 start_s, end_s, query_start_s, query_end_s
    copy: np.ndarray       # (v, k) float64 copy scores
    segments: np.ndarray   # (v, k, s, 6) float64 query_start_s, query_end_s, start_s, end_s, score, strength; NaN-padded
    copy_threshold: float  # the threshold in force when the table was built

    def matches(self, ids: list[str], v: int, k: int) -> list[Match]:
        return [Match(ids[int(u)], float(s), *map(float, r), segments=_segments(g), copy_score=float(c),
                      is_copy=bool(c >= self.copy_threshold))
                for u, s, r, c, g in zip(self.videos[v, :k], self.scores[v, :k], self.ranges[v, :k],
                                         self.copy[v, :k], self.segments[v, :k]) if u >= 0]


def _segments(rows: np.ndarray) -> tuple[Segment, ...]:
    return tuple(Segment(*map(float, r)) for r in rows if not np.isnan(r[0]))


def similar(searcher: Searcher, q: Query, k: int, table: NeighbourTable | None, mode: str | None = None) -> list[Match]:
    """FindSimilar: from the table when it answers ``q`` (a whole indexed video, ``k`` within
    the table's, the default mode), else searched."""
    mode = check_mode(mode)
    if table is not None and q.whole and q.video is not None and check_k(k) <= table.k and mode == SEGMENTS:
        return table.matches(searcher.ids, q.video, k)
    return searcher.similar(q, k, mode)


@dataclass(frozen=True)
class DuplicateGroup:
    videos: list[str]                               # sorted ids
    pairs: list[tuple[str, str, float, tuple[Segment, ...]]]  # (query video, other video, copy score, segments)


def duplicate_groups(ids: list[str], table: NeighbourTable, threshold: float) -> list[DuplicateGroup]:
    """Videos linked by copy scores at or above ``threshold`` in the similar-videos table (either
    direction), as connected components, largest first; each with the pairs that link it."""
    parent = list(range(len(ids)))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    v, j = np.nonzero((table.videos >= 0) & (table.copy >= threshold))
    links = []
    for a, b, c, g in zip(v, table.videos[v, j], table.copy[v, j], table.segments[v, j]):
        links.append((int(a), int(b), float(c), _segments(g)))
        ra, rb = root(int(a)), root(int(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    members: dict[int, list[int]] = {}
    for x in sorted({x for a, b, _, _ in links for x in (a, b)}):
        members.setdefault(root(x), []).append(x)
    pairs: dict[int, list] = {}
    for a, b, c, g in links:
        pairs.setdefault(root(a), []).append((ids[a], ids[b], c, g))
    groups = [DuplicateGroup(sorted(ids[x] for x in rows), sorted(pairs[r])) for r, rows in members.items()]
    groups.sort(key=lambda grp: (-len(grp.videos), grp.videos))
    return groups


def lower_priority() -> None:
    """This thread at nice 10, so serving threads keep the CPU first (Linux; elsewhere a no-op)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):
        pass


class Cancelled(Exception):
    """The table was no longer wanted (the server is stopping); nothing was kept."""


def build(searcher: Searcher, k: int = TABLE_K, workers: int = 1, nice: bool = False,
          cancel: threading.Event | None = None) -> NeighbourTable:
    """Every video's ``k`` most similar videos. ``cancel``, once set, stops the work within one
    video's search and raises :class:`Cancelled` (a stopping server must not wait for it)."""
    n = len(searcher.ids)
    k = max(1, min(k, n - 1)) if n > 1 else 1
    videos = np.full((n, k), -1, np.int32)
    scores = np.zeros((n, k))
    ranges = np.zeros((n, k, 4))
    copy = np.zeros((n, k))
    segments = np.full((n, k, searcher.settings.max_segments, 6), np.nan)

    def one(v: int) -> None:
        if cancel is not None and cancel.is_set():
            return
        for j, m in enumerate(searcher.similar(searcher.query_for_video(searcher.ids[v]), k)):
            videos[v, j] = searcher.index_of[m.video_id]
            scores[v, j] = m.score
            ranges[v, j] = (m.start_s, m.end_s, m.query_start_s, m.query_end_s)
            copy[v, j] = m.copy_score
            for g, seg in enumerate(m.segments):
                segments[v, j, g] = (seg.query_start_s, seg.query_end_s, seg.start_s, seg.end_s, seg.score, seg.strength)

    if n > 1:
        with ThreadPoolExecutor(max(1, workers), initializer=lower_priority if nice else None) as pool:
            list(pool.map(one, range(n)))
    if cancel is not None and cancel.is_set():
        raise Cancelled()
    return NeighbourTable(k, videos, scores, ranges, copy, segments, searcher.settings.copy_threshold)


def beside_atlas(searcher: Searcher) -> Path:
    """Where tables are kept: ``<atlas>/.neighbours``, shared by servers and ``vidatlas view``."""
    return searcher.bundle.path.parent / ".neighbours"


def _file(directory: Path, searcher: Searcher, k: int) -> Path:
    """Named by bundle, search settings and k: a table built under other settings is not reused."""
    import hashlib
    tuning = hashlib.sha256(repr(searcher.settings).encode()).hexdigest()[:8]
    return Path(directory) / f"{searcher.version}-{searcher.bundle.manifest.get('bundle_id', 'none')}-{tuning}-k{k}.npz"


def load_or_build(searcher: Searcher, directory: Path | None, k: int = TABLE_K, workers: int = 1,
                  nice: bool = False, cancel: threading.Event | None = None) -> NeighbourTable:
    """The table for ``searcher``'s bundle: read from ``directory`` when a valid one is there,
    else built and written there (atomically; a read-only directory only costs the next start
    a rebuild)."""
    path = _file(directory, searcher, k) if directory is not None else None
    n = len(searcher.ids)
    if path is not None and path.is_file():
        try:
            with np.load(path) as z:
                ok = int(z["format"]) == FORMAT
                if ok:
                    table = NeighbourTable(int(z["k"]), z["videos"], z["scores"], z["ranges"], z["copy"],
                                           z["segments"], searcher.settings.copy_threshold)
                    ok = table.videos.shape[0] == n and table.videos.max(initial=-1) < n \
                        and table.scores.shape == table.videos.shape == table.copy.shape \
                        and table.ranges.shape == (*table.videos.shape, 4) \
                        and table.segments.shape[:2] == table.videos.shape and table.segments.shape[3] == 6
            if ok:
                return table
            log.warning("neighbour table %s does not fit the bundle; rebuilding", path)
        except Exception as exc:  # a torn or foreign file: rebuild it
            log.warning("neighbour table %s unreadable (%s); rebuilding", path, exc)
    t0 = time.perf_counter()
    table = build(searcher, k, workers, nice, cancel)
    log.info("similar videos of %d videos precomputed in %.1f s", n, time.perf_counter() - t0)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + tag() + ".npz")
            np.savez(tmp, format=FORMAT, k=table.k, videos=table.videos, scores=table.scores, ranges=table.ranges,
                     copy=table.copy, segments=table.segments)
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("could not keep the neighbour table in %s: %s", path.parent, exc)
    return table
