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
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from indexer import Code, VidatlasError
from indexer.debris import tag

from .copies import Segment
from .search import SEGMENTS, Match, Query, Searcher, check_k, check_mode

log = logging.getLogger(__name__)
TABLE_K = 30
FORMAT = 6  # 4: pixel signatures are thumbnail detail (high-pass); 5: agreement over the best half of the tiles; 6: best 5,
# or best 3 less 0.05 (written before tables searched for crops, 6750c84; the settings' digest in the file name tells tables apart since)


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
          cancel: threading.Event | None = None, shard: tuple[int, int] = (0, 1),
          progress: Callable[[], object] | None = None, until: threading.Event | None = None) -> NeighbourTable:
    """Every video's ``k`` most similar videos. ``cancel``, once set, stops the work within one
    video's search and raises :class:`Cancelled` (a stopping server must not wait for it);
    ``until`` does the same when the caller has found the answer elsewhere. ``shard=(i, n)``
    searches only videos ``i, i + n, ...`` (the other rows stay empty, -1)."""
    stopped = [e for e in (cancel, until) if e is not None]
    n = len(searcher.ids)
    k = _table_k(k, n)
    videos = np.full((n, k), -1, np.int32)
    scores = np.zeros((n, k))
    ranges = np.zeros((n, k, 4))
    copy = np.zeros((n, k))
    segments = np.full((n, k, searcher.settings.max_segments, 6), np.nan)

    def one(v: int) -> None:
        if any(e.is_set() for e in stopped):
            return
        for j, m in enumerate(searcher.similar(searcher.query_for_video(searcher.ids[v]), k)):
            videos[v, j] = searcher.index_of[m.video_id]
            scores[v, j] = m.score
            ranges[v, j] = (m.start_s, m.end_s, m.query_start_s, m.query_end_s)
            copy[v, j] = m.copy_score
            for g, seg in enumerate(m.segments):
                segments[v, j, g] = (seg.query_start_s, seg.query_end_s, seg.start_s, seg.end_s, seg.score, seg.strength)
        if progress is not None:
            progress()

    if n > 1:
        with ThreadPoolExecutor(max(1, workers), initializer=lower_priority if nice else None) as pool:
            list(pool.map(one, range(shard[0], n, shard[1])))
    if any(e.is_set() for e in stopped):
        raise Cancelled()
    return NeighbourTable(k, videos, scores, ranges, copy, segments, searcher.settings.indexed_copy_threshold)


def _table_k(k: int, n: int) -> int:
    return max(1, min(k, n - 1)) if n > 1 else 1


def own_rows(table: NeighbourTable, shard: tuple[int, int]) -> NeighbourTable:
    """Shard ``(i, n)``'s rows of a table built with ``shard=(i, n)``: videos ``i, i + n, ...``."""
    i, n = shard
    return NeighbourTable(table.k, *(getattr(table, f)[i::n] for f in _ARRAYS), table.copy_threshold)


def join(count: int, part: Callable[[int], NeighbourTable | None], videos: int) -> NeighbourTable | None:
    """The whole table of ``videos`` rows from the own rows of shards ``0..count-1``, ``part(i)``
    (read one at a time), or None if one of them is None."""
    out = None
    for i in range(count):
        rows = part(i)
        if rows is None:
            return None
        if out is None:
            out = [np.empty((videos, *getattr(rows, f).shape[1:]), getattr(rows, f).dtype) for f in _ARRAYS]
            k, threshold = rows.k, rows.copy_threshold
        for col, f in zip(out, _ARRAYS):
            col[i::count] = getattr(rows, f)
    return None if out is None else NeighbourTable(k, *out, threshold)


_ARRAYS = ("videos", "scores", "ranges", "copy", "segments")


def beside_atlas(searcher: Searcher) -> Path:
    """Where tables are kept: ``<atlas>/.neighbours``, shared by servers and ``vidatlas view``."""
    return searcher.bundle.path.parent / ".neighbours"


def _file(directory: Path, searcher: Searcher, k: int) -> Path:
    """Named by bundle, search settings and k: a table built under other settings is not reused."""
    return Path(directory) / f"{searcher.version}-{searcher.bundle.manifest.get('bundle_id', 'none')}-{searcher.settings.digest}-k{k}.npz"


def shard_file(directory: Path, searcher: Searcher, k: int, shard: tuple[int, int]) -> Path:
    whole = _file(directory, searcher, k)
    return whole.with_name(f"{whole.stem}.shard-{shard[0]}-of-{shard[1]}.npz")


def _shard_names(stem: str) -> re.Pattern:
    """The names :func:`shard_file` gives the shards of the table ``stem``: (i, count) groups."""
    return re.compile(rf"{re.escape(stem)}\.shard-(\d+)-of-(\d+)\.npz")


def _read(path: Path, searcher: Searcher, k: int, rows: int | None = None) -> NeighbourTable | None:
    """The table in ``path`` if it fits the bundle (``rows`` rows: all videos unless given), else
    None (logged)."""
    n = len(searcher.ids)
    rows = n if rows is None else rows
    try:
        with np.load(path) as z:
            table = NeighbourTable(int(z["k"]), *(z[f] for f in _ARRAYS), searcher.settings.indexed_copy_threshold) \
                if int(z["format"]) == FORMAT else None
        if table is not None and table.k == _table_k(k, n) and table.videos.shape[0] == rows \
                and table.videos.max(initial=-1) < n \
                and table.scores.shape == table.videos.shape == table.copy.shape \
                and table.ranges.shape == (*table.videos.shape, 4) \
                and table.segments.shape[:2] == table.videos.shape and table.segments.shape[3] == 6:
            return table
        log.warning("neighbour table %s does not fit the bundle; rebuilding", path)
    except Exception as exc:  # a torn or foreign file: rebuild it
        log.warning("neighbour table %s unreadable (%s); rebuilding", path, exc)
    return None


def _write(path: Path, table: NeighbourTable, strict: bool = False) -> None:
    """Atomically (for a server, a read-only directory only costs the next start a rebuild; for a
    shard, ``strict``, a table not kept is an error)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + tag() + ".npz")
        np.savez(tmp, format=FORMAT, k=table.k, **{f: getattr(table, f) for f in _ARRAYS})
        os.replace(tmp, path)
    except OSError as exc:
        if strict:
            raise VidatlasError(f"could not write {path}: {exc}", Code.FAILED_PRECONDITION) from None
        log.warning("could not keep the neighbour table in %s: %s", path.parent, exc)


def build_shard(searcher: Searcher, directory: Path, shard: tuple[int, int], k: int = TABLE_K,
                workers: int = 1, progress: Callable[[], object] | None = None) -> Path:
    """Search the rows of videos ``i, i + n, ...`` and keep them beside the whole table's name
    (``vidatlas neighbours --shard i/n``, one process or pod each); a server that finds every
    shard of its bundle joins them instead of searching."""
    i, n = shard
    if not (n >= 1 and 0 <= i < n):
        raise VidatlasError(f"shard {i}/{n}: need 0 <= i < n", Code.INVALID_ARGUMENT)
    path = shard_file(directory, searcher, k, shard)
    _write(path, own_rows(build(searcher, k, workers, shard=shard, progress=progress), shard), strict=True)
    return path


def _joined(directory: Path | None, searcher: Searcher, k: int) -> NeighbourTable | None:
    """The whole table from a complete set of shard files (the largest complete set), if any."""
    if directory is None or not Path(directory).is_dir():
        return None
    name = _shard_names(_file(directory, searcher, k).stem)
    counts = sorted({int(m[2]) for p in Path(directory).iterdir() if (m := name.fullmatch(p.name))}, reverse=True)
    n = len(searcher.ids)
    for count in counts:
        paths = [shard_file(directory, searcher, k, (i, count)) for i in range(count)]
        if all(p.is_file() for p in paths):
            table = join(count, lambda i: _read(paths[i], searcher, k, len(range(i, n, count))), n)
            if table is not None:
                return table
    return None


SHARD_POLL_S = 30.0  # while building, how often to look for shard files that would answer instead


def load_or_build(searcher: Searcher, directory: Path | None, k: int = TABLE_K, workers: int = 1,
                  nice: bool = False, cancel: threading.Event | None = None,
                  poll_s: float = SHARD_POLL_S) -> NeighbourTable:
    """The table for ``searcher``'s bundle: read from ``directory`` when a valid one is there,
    else joined from a complete set of shard files there, else built; kept there whole. While it
    builds, it looks for shard files every ``poll_s`` seconds, and joins them instead as soon as
    a complete set is there (``vidatlas neighbours`` pods finishing after this server loaded)."""
    path = _file(directory, searcher, k) if directory is not None else None
    table = _read(path, searcher, k) if path is not None and path.is_file() else None
    if table is not None:
        return table
    t0 = time.perf_counter()
    table = _joined(directory, searcher, k)
    how = "joined from shards"
    if table is None:
        found, joined, last = threading.Event(), [], [time.monotonic()]
        lock = threading.Lock()

        def look() -> None:  # after each video searched
            if directory is None or found.is_set() or time.monotonic() - last[0] < poll_s or not lock.acquire(False):
                return
            try:
                last[0] = time.monotonic()
                table = _joined(directory, searcher, k)
                if table is not None:
                    joined.append(table)
                    found.set()
            except Exception as exc:  # never fatal: the search goes on
                log.warning("looking for similar-videos shards in %s failed: %s", directory, exc)
            finally:
                lock.release()

        try:
            table, how = build(searcher, k, workers, nice, cancel, progress=look, until=found), "precomputed"
        except Cancelled:
            if not joined or (cancel is not None and cancel.is_set()):
                raise
            table, how = joined[0], "joined from shards (found while searching)"
    log.info("similar videos of %d videos %s in %.1f s", len(searcher.ids), how, time.perf_counter() - t0)
    if path is not None:
        _write(path, table)
        if path.is_file():
            _tidy(Path(directory), path, beside=(Path(directory).parent / searcher.version).is_dir())
    return table


def _tidy(directory: Path, whole: Path, beside: bool) -> None:
    """Once ``whole`` is kept: remove its shard files (joined into it) and, when ``directory``
    sits beside the atlas's version directories (``beside``), the tables and shards of versions
    no longer there."""
    shards = _shard_names(whole.stem)
    version = re.compile(r"(v\d+-[0-9TZ]+)-.+\.npz")
    for p in directory.iterdir():
        m = version.fullmatch(p.name)
        if shards.fullmatch(p.name) or beside and m and not (directory.parent / m[1]).is_dir():
            try:
                p.unlink()
            except OSError as exc:  # another server may have removed it first
                log.debug("could not remove %s: %s", p, exc)
