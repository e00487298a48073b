"""Embed an uploaded clip into the served map: decode, backbone, frozen PCA + autoencoder."""
from __future__ import annotations

import logging
import tempfile
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import timm  # noqa: F401  (with the server, as before: the first clip must not pay the import)

from indexer import BackboneSettings, Code, SamplingSettings, VidatlasError
from indexer.backbone import Backbone
from indexer.decode import VideoReader, next_tick, read_samples
from indexer.insets import alone, insets

from indexer.pictures import signatures_and_self
from query.search import Query, Searcher
from .settings import ServiceSettings

log = logging.getLogger(__name__)


MAX_FPS = 60.0  # a clip is never sampled faster (every frame of ordinary video)


class ClipEmbedder:
    """Loads the backbone on first use (once per process) and checks it is the bundle's."""

    def __init__(self, settings: ServiceSettings):
        self.settings = settings
        self._backbone: Backbone | None = None
        self._lock = threading.Lock()

    def _get_backbone(self, manifest: dict) -> Backbone:
        with self._lock:
            want = manifest["backbone"]
            if self._backbone is None or self._backbone.settings.name != want["name"]:
                self._backbone = Backbone(BackboneSettings(name=want["name"], weights=self.settings.backbone_weights,
                                                           threads=1))
            if self._backbone.weights_digest != want["weights_sha256"]:
                raise VidatlasError("clip queries need the bundle's backbone weights "
                                    f"({want['name']}); set VIDATLAS_SERVICE_BACKBONE_WEIGHTS",
                                    Code.FAILED_PRECONDITION)
            return self._backbone

    def embed(self, searcher: Searcher, clip: bytes, dense: bool = False) -> Query:
        """``clip`` embedded into the served map. ``dense``: the backbone sees it sampled at
        ``clip_sampling_factor`` times the bundle's rate, and pixel signatures are taken of its every
        frame (up to ``clip_pixel_frames`` in all), so that a copy meets the very frame the bundle
        sampled whatever its phase (FindSimilar pools the extra frames back to the bundle's rate)."""
        if len(clip) > self.settings.max_clip_bytes:
            raise VidatlasError(f"clip is {len(clip)} bytes; the limit is {self.settings.max_clip_bytes}",
                                Code.RESOURCE_EXHAUSTED)
        if not clip:
            raise VidatlasError("empty clip", Code.INVALID_ARGUMENT)
        manifest = searcher.bundle.manifest
        base = SamplingSettings(**{"trim_bars": False, **manifest["sampling"]})  # (bundles from before bars were cut)
        fps = min(MAX_FPS, base.fps * self.settings.clip_sampling_factor) if dense else base.fps
        sampling = replace(base, fps=fps,
                           max_duration_s=min(self.settings.max_clip_seconds, manifest["sampling"]["max_duration_s"]),
                           decode_threads=1)
        backbone = self._get_backbone(manifest)
        with tempfile.TemporaryDirectory(prefix="vidatlas-clip-") as tmp:
            path = Path(tmp) / "clip"
            path.write_bytes(clip)
            if dense:
                times, thumbs, ptimes, pixels, selfs = self._every_frame(path, sampling)
            else:
                times, thumbs, _ = read_samples(path, sampling)
                ptimes, pixels, selfs = None, None, None  # only FindSimilar (dense) compares pictures
        reduced, codes, _ = searcher.bundle.content.model.embed(backbone.features(thumbs), errors=False)
        views = _alone(searcher, backbone, times, thumbs, insets(thumbs) if dense else ())
        return searcher.query_for_frames(times, reduced, codes, pixels, ptimes, views=views, self_agreement=selfs)

    def inset_views(self, searcher: Searcher, q: Query) -> tuple[Query, ...]:
        """Indexed query video ``q``'s insets (its record's), each alone as a query of its own: so
        FindSimilar by id, and the similar-videos table, find what a picture in picture shows
        (the bundle holds features of whole frames only). None when the backbone cannot be had."""
        try:
            backbone = self._get_backbone(searcher.bundle.manifest)
        except VidatlasError as exc:  # (no weights for it here) the video is still searched as itself
            log.warning("insets of %s not searched: %s", searcher.ids[q.video], exc)
            return ()
        thumbs = searcher.bundle.frames.take(searcher.rows_of(q))
        views = _alone(searcher, backbone, q.times, thumbs, searcher.insets_of(q.video))
        return tuple(replace(v, video=q.video) for v in views)

    def _every_frame(self, path: Path, sampling: SamplingSettings):
        """One decode: thumbnails at ``sampling.fps`` for the backbone, pixel signatures and self
        agreement of every frame (of frames at the rate that keeps them within ``clip_pixel_frames``)."""
        reader = VideoReader(path, sampling)
        duration = min(reader.info.declared_duration_s or sampling.max_duration_s, sampling.max_duration_s)
        rate = min(MAX_FPS, max(sampling.fps, self.settings.clip_pixel_frames / max(duration, 1.0)))
        reader.settings = replace(sampling, fps=rate)
        step = 1.0 / sampling.fps
        times, thumbs, ptimes, pixels, selfs = [], [], [], [], []
        next_t = 0.0
        with reader:
            for t, thumb in reader.samples():
                ptimes.append(t)
                sig, own = signatures_and_self(thumb[None])
                pixels.append(sig[0])
                selfs.append(own[0])
                if t >= next_t - 1e-6:  # as the reader samples: the first frame at or after each tick
                    times.append(t)
                    thumbs.append(thumb)
                    next_t = next_tick(next_t, t, step)
        return (np.asarray(times, np.float64), np.stack(thumbs), np.asarray(ptimes, np.float64), np.stack(pixels),
                np.asarray(selfs, np.float32))


def _alone(searcher: Searcher, backbone: Backbone, times: np.ndarray, thumbs: np.ndarray, rects) -> tuple[Query, ...]:
    """A query for each picture inside the picture at ``rects``, alone (scaled up to the frame)."""
    model = searcher.bundle.content.model
    out = []
    for rect in rects:
        part = alone(thumbs, rect)
        reduced, codes, _ = model.embed(backbone.features(part), errors=False)
        sig, own = signatures_and_self(part)
        out.append(searcher.query_for_frames(times, reduced, codes, sig, self_agreement=own))
    return tuple(out)
