"""Precomputed FindSimilar answers: the most similar videos of every indexed video.

Asking for the videos like an indexed video is the common query, and its answer only changes
with the bundle, so it is computed once per bundle (by the same search, with TABLE_K results)
in the background after the service loads it (searching on the fly until then), and kept
beside the atlas for the next start and the other replicas.
Clips and time ranges are still searched on the fly. With more candidates than a small-k query
would gather, a table answer is the on-the-fly answer or a better-aligned one.
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

from .search import Match, Searcher

log = logging.getLogger(__name__)
TABLE_K = 30
FORMAT = 1


@dataclass(frozen=True)
class NeighbourTable:
    k: int
    videos: np.ndarray   # (v, k) int32 video rows, -1 past the end of a shorter list
    scores: np.ndarray   # (v, k) float64
    ranges: np.ndarray   # (v, k, 4) float64 start_s, end_s, query_start_s, query_end_s

    def matches(self, ids: list[str], v: int, k: int) -> list[Match]:
        return [Match(ids[int(u)], float(s), *map(float, r))
                for u, s, r in zip(self.videos[v, :k], self.scores[v, :k], self.ranges[v, :k]) if u >= 0]


def _lower_priority() -> None:
    try:  # Linux: per-thread niceness, so the serving threads keep the CPU first
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):
        pass


def build(searcher: Searcher, k: int = TABLE_K, workers: int = 1, nice: bool = False) -> NeighbourTable:
    n = len(searcher.ids)
    k = max(1, min(k, n - 1)) if n > 1 else 1
    videos = np.full((n, k), -1, np.int32)
    scores = np.zeros((n, k))
    ranges = np.zeros((n, k, 4))

    def one(v: int) -> None:
        for j, m in enumerate(searcher.similar(searcher.query_for_video(searcher.ids[v]), k)):
            videos[v, j] = searcher.index_of[m.video_id]
            scores[v, j] = m.score
            ranges[v, j] = (m.start_s, m.end_s, m.query_start_s, m.query_end_s)

    if n > 1:
        with ThreadPoolExecutor(max(1, workers), initializer=_lower_priority if nice else None) as pool:
            list(pool.map(one, range(n)))
    return NeighbourTable(k, videos, scores, ranges)


def beside_atlas(searcher: Searcher) -> Path:
    """Where tables are kept: ``<atlas>/.neighbours``, shared by servers and ``vidatlas view``."""
    return searcher.bundle.path.parent / ".neighbours"


def _file(directory: Path, searcher: Searcher, k: int) -> Path:
    return Path(directory) / f"{searcher.version}-{searcher.bundle.manifest.get('bundle_id', 'none')}-k{k}.npz"


def load_or_build(searcher: Searcher, directory: Path | None, k: int = TABLE_K, workers: int = 1,
                  nice: bool = False) -> NeighbourTable:
    """The table for ``searcher``'s bundle: read from ``directory`` when a valid one is there,
    else built and written there (atomically; a read-only directory only costs the next start
    a rebuild)."""
    path = _file(directory, searcher, k) if directory is not None else None
    n = len(searcher.ids)
    if path is not None and path.is_file():
        try:
            with np.load(path) as z:
                table = NeighbourTable(int(z["k"]), z["videos"], z["scores"], z["ranges"])
                ok = int(z["format"]) == FORMAT and table.videos.shape[0] == n and table.videos.max(initial=-1) < n \
                    and table.scores.shape == table.videos.shape and table.ranges.shape == (*table.videos.shape, 4)
            if ok:
                return table
            log.warning("neighbour table %s does not fit the bundle; rebuilding", path)
        except Exception as exc:  # a torn or foreign file: rebuild it
            log.warning("neighbour table %s unreadable (%s); rebuilding", path, exc)
    t0 = time.perf_counter()
    table = build(searcher, k, workers, nice)
    log.info("similar videos of %d videos precomputed in %.1f s", n, time.perf_counter() - t0)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + tag() + ".npz")
            np.savez(tmp, format=FORMAT, k=table.k, videos=table.videos, scores=table.scores, ranges=table.ranges)
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("could not keep the neighbour table in %s: %s", path.parent, exc)
    return table
