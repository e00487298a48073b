"""Embed an uploaded clip into the served map: decode, backbone, frozen PCA + autoencoder."""
from __future__ import annotations

import tempfile
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np

from indexer import BackboneSettings, Code, SamplingSettings, VidatlasError
from indexer.backbone import Backbone
from indexer.decode import read_samples

from .search import Query, Searcher
from .settings import ServiceSettings


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

    def embed(self, searcher: Searcher, clip: bytes) -> Query:
        if len(clip) > self.settings.max_clip_bytes:
            raise VidatlasError(f"clip is {len(clip)} bytes; the limit is {self.settings.max_clip_bytes}",
                                Code.RESOURCE_EXHAUSTED)
        if not clip:
            raise VidatlasError("empty clip", Code.INVALID_ARGUMENT)
        manifest = searcher.bundle.manifest
        sampling = replace(SamplingSettings(**manifest["sampling"]),
                           max_duration_s=min(self.settings.max_clip_seconds, manifest["sampling"]["max_duration_s"]),
                           decode_threads=1)
        backbone = self._get_backbone(manifest)
        with tempfile.TemporaryDirectory(prefix="vidatlas-clip-") as tmp:
            path = Path(tmp) / "clip"
            path.write_bytes(clip)
            times, thumbs, _ = read_samples(path, sampling)
        feats = backbone.features(thumbs)
        reduced, codes, _ = searcher.bundle.content.model.embed(feats)
        return searcher.query_for_frames(times, reduced, codes)
