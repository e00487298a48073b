"""The bundle being served, swapped atomically on hot reload, and labels added at run time.

A request takes one :class:`State` at its start and uses only it, so every answer comes wholly
from one bundle version. A new version named by ``CURRENT`` is loaded and validated in the
background; a bad one is refused (logged and counted) and the old one keeps serving.
"""
from __future__ import annotations

import dataclasses
import functools
import gc
import json
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from indexer import Code, VidatlasError, read_bundle
from indexer.bundle import CURRENT, verify_files
from indexer.settings import available_cores
from indexer.labels import ADDED, attach, read_added

from query import labelling, neighbours
from query.neighbours import NeighbourTable
from query.search import Searcher
from .embed import ClipEmbedder
from .settings import ServiceSettings

log = logging.getLogger(__name__)
MAX_LABELS_PER_CALL = 10_000


@dataclass(frozen=True)
class State:
    searcher: Searcher
    labels: tuple = ()           # attached rows: video_id, time_s, label, frame
    table: NeighbourTable | None = None  # the similar-videos table, once read or built

    @functools.cached_property
    def labels_digest(self) -> str:
        """A digest of the label set (part of LabelVideo cache keys): servers sharing a Redis
        with different added labels never share LabelVideo answers. A State never changes, so
        this is computed once, not per request."""
        return labelling.digest(list(self.labels))

    @property
    def version(self) -> str:
        return self.searcher.version

    @functools.cached_property
    def cache_namespace(self) -> str:
        """Version, the bundle's unique id and a digest of the search settings: two atlases with
        equal version names sharing one Redis never read each other's entries, and neither do
        servers searching with other settings (another copy threshold, say, during a rolling
        upgrade)."""
        return f"{self.version}.{self.searcher.bundle.manifest.get('bundle_id', '')[:12]}.{self.searcher.settings.digest}"


@dataclass
class Holder:
    settings: ServiceSettings
    on_change: Callable[[bool], None] | None = None  # called with True after a load, False after a refusal
    embedder: ClipEmbedder | None = None  # clips, and the insets of indexed videos (one backbone a process)
    state: State | None = None
    load_failures: int = 0
    last_error: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _table: threading.Thread | None = None
    _dropped: str = ""  # a version whose deferred checksums failed: not loaded again
    _verifier: threading.Thread | None = None

    def __post_init__(self):
        if self.embedder is None:  # (loads its backbone on first use)
            self.embedder = ClipEmbedder(self.settings)

    @property
    def atlas(self) -> Path:
        return Path(self.settings.bundle)

    @property
    def labels_path(self) -> Path:
        return Path(self.settings.labels_path) if self.settings.labels_path else self.atlas / ADDED

    def current(self) -> State:
        state = self.state
        if state is None:
            raise VidatlasError(f"no bundle loaded from {self.atlas}: {self.last_error or 'not loaded yet'}",
                                Code.FAILED_PRECONDITION)
        return state

    def _pointer(self) -> str:
        try:
            return (self.atlas / CURRENT).read_text().strip()
        except OSError:
            return ""

    def load(self) -> bool:
        """Load the bundle if it is not the one being served; True when a new one was loaded."""
        with self._lock:
            pointer = self._pointer()
            if pointer and (self.state is not None and self.state.version == pointer or pointer == self._dropped):
                return False
            try:
                bundle = read_bundle(self.atlas, defer_over=self.settings.verify_inline_mb << 20)
                if self.state is not None and bundle.version == self.state.version:
                    return False
                if bundle.unverified and self.state is not None:
                    verify_files(bundle)  # a hot swap: the old bundle serves until the new one is whole
                searcher = Searcher(bundle)
                searcher.inset_views = self.embedder.inset_views
                labels = self._attach(searcher, [*bundle.content.labels, *read_added(self.labels_path)])
            except Exception as exc:  # whatever is wrong with the new bundle, the old one keeps serving
                self.load_failures += 1
                self.last_error = str(exc) if isinstance(exc, VidatlasError) else f"{type(exc).__name__}: {exc}"
                log.error("bundle %s refused, %s: %s", pointer or "?",
                          "keeping " + self.state.version if self.state else "none loaded", self.last_error,
                          exc_info=not isinstance(exc, VidatlasError))
                if self.on_change:
                    self.on_change(False)
                return False
            self.state = State(searcher, tuple(labels))
            # what a bundle loads lives as long as it serves: out of the collector's way (a full
            # collection walks ~400k objects at 1M frames, ~0.1-0.2 s; the previous bundle's
            # cycles are collected first)
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            self.last_error = ""
            if self.on_change:
                self.on_change(True)
            log.info("serving bundle %s (%d videos, %d frames)", searcher.version, len(searcher.ids),
                     len(searcher.frame_time))
            if bundle.unverified:  # a first load: serving starts now, the large files are checked meanwhile
                self._verifier = threading.Thread(target=self._verify_later, args=(searcher,), daemon=True,
                                                  name="vidatlas-verify")
                self._verifier.start()
            if self.settings.precompute_similar:
                self._table = threading.Thread(target=self._precompute, args=(searcher,), daemon=True,
                                               name="vidatlas-neighbours")
                self._table.start()
            return True

    def _verify_later(self, searcher: Searcher) -> None:
        """Checksum the large files of the bundle a first load started serving; on a mismatch
        drop it (NOT_SERVING, FAILED_PRECONDITION to requests) and never load that version again
        until ``CURRENT`` names another."""
        try:
            verify_files(searcher.bundle)
        except VidatlasError as exc:
            with self._lock:
                self._dropped = searcher.version
                self.load_failures += 1
                self.last_error = str(exc)
                if self.state is not None and self.state.searcher is searcher:
                    self.state = None
                log.error("bundle %s dropped after it started serving: %s", searcher.version, exc)
            if self.on_change:
                self.on_change(False)

    def _precompute(self, searcher: Searcher) -> None:
        """Read or build the similar-videos table (at low CPU priority) and swap in a State that
        holds it, if that bundle is still the one served; until then FindSimilar searches on the
        fly, so loading never waits for it. Nothing shared is modified from this thread. Before
        the table, the searcher's per-bundle structures (content places, frame graph, clusters)
        are built, so no request pays for them."""
        neighbours.lower_priority()
        try:
            searcher.warm()
        except Exception:  # requests build them on demand instead
            log.exception("warming %s failed", searcher.version)
        try:
            table = neighbours.load_or_build(searcher, neighbours.beside_atlas(searcher),
                                             workers=available_cores(), nice=True, cancel=self._stop)
        except neighbours.Cancelled:
            log.info("similar-videos table for %s not finished: stopping", searcher.version)
            return
        except Exception:  # never fatal: on-the-fly search keeps answering
            log.exception("similar-videos table for %s failed", searcher.version)
            return
        with self._lock:
            if self.state is not None and self.state.searcher is searcher:
                self.state = dataclasses.replace(self.state, table=table)

    def table_ready(self, timeout: float | None = None) -> bool:
        """Wait until the current bundle's similar-videos table is attached (tests, benchmarks)."""
        thread = self._table
        if thread is not None:
            thread.join(timeout)
        state = self.state
        return state is not None and state.table is not None

    @staticmethod
    def _attach(searcher: Searcher, rows: list[dict]) -> list[dict]:
        attached, _ = attach(rows, searcher.bundle.content.videos, searcher.offsets, np.asarray(searcher.frame_time))
        return attached

    def add_labels(self, rows: list[dict]) -> tuple[int, int]:
        if len(rows) > MAX_LABELS_PER_CALL:
            raise VidatlasError(f"at most {MAX_LABELS_PER_CALL} labels per call", Code.RESOURCE_EXHAUSTED)
        with self._lock:
            state = self.current()
            for r in rows:
                state.searcher.video_row(r["video_id"])  # NOT_FOUND for unknown ids
                if not r["label"] or not np.isfinite(r["time_s"]) or r["time_s"] < 0:
                    raise VidatlasError(f"bad label row {r}", Code.INVALID_ARGUMENT)
            try:
                with open(self.labels_path, "a") as f:
                    for r in rows:
                        f.write(json.dumps(r) + "\n")
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as exc:
                raise VidatlasError(f"cannot store labels at {self.labels_path}: {exc.strerror}",
                                    Code.FAILED_PRECONDITION) from None
            labels = state.labels + tuple(self._attach(state.searcher, rows))
            self.state = dataclasses.replace(state, labels=labels)
            return len(rows), len(labels)

    def watch(self) -> threading.Thread | None:
        if self.settings.reload_interval_s <= 0:
            return None

        def loop():
            while not self._stop.wait(self.settings.reload_interval_s):
                try:
                    self.load()
                except Exception:  # the watcher must survive anything
                    log.exception("reload failed")
        thread = threading.Thread(target=loop, name="vidatlas-reload", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
