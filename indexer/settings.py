"""Typed settings for indexing. One object, environment overrides, no long keyword lists.

Every field can be set from the environment as ``VIDATLAS_<SECTION>_<FIELD>`` (for example
``VIDATLAS_SAMPLING_FPS=0.5``); the Helm chart maps its values onto these names.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import Code, VidatlasError

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gib": 1 << 30,
          "t": 1 << 40, "tib": 1 << 40}


def parse_bytes(text: str | int) -> int:
    """``"4GiB"``, ``"4Gi"`` (as Kubernetes writes a pod limit), ``"512MiB"``, ``"6G"``, ``"1.5GB"``
    or a plain byte count → bytes. G, M and K alone are binary, as in ``free -g``."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(text))
    unit = m.group(2).lower() if m else ""
    unit = unit + "b" if unit.endswith("i") else unit
    if not m or unit not in _UNITS:
        raise VidatlasError(f"not a size: {text!r} (write it as e.g. 4GiB, 512MiB or 6G)", Code.INVALID_ARGUMENT)
    return int(float(m.group(1)) * _UNITS[unit])


@dataclass(frozen=True)
class SamplingSettings:
    """How frames are taken out of a video."""

    fps: float = 1.0
    """Target sampling rate in frames per second of presentation time."""
    thumb_width: int = 224
    thumb_height: int = 126
    """Every sampled frame is fitted (aspect kept, letterboxed) into this box."""
    trim_bars: bool = True
    """Black bars baked into the picture (letterbox, pillarbox, a picture shrunk inside a black
    frame) are cut off before it is fitted, so a copy shown inside bars looks like its source."""
    max_pixels: int = 8192 * 4352
    """Larger declared frame sizes are refused before decoding (decompression bombs)."""
    max_duration_s: float = 6 * 3600.0
    """Decoding stops at this presentation time; the rest of the video is ignored."""
    segment_s: float = 20.0
    """Long videos are cut at keyframes into pieces of about this length, decoded in parallel."""
    decode_workers: int = 0
    """Pieces decoded at once; 0 means one per core."""
    decode_threads: int = 0
    """FFmpeg threads per piece; 0 means 1 when several pieces decode at once, else FFmpeg's choice."""
    skip_deblock: bool = True
    """Skip the in-loop deblocking filter (H.264/HEVC): about 13 % less decoding CPU; sampled
    thumbnails stay within 37-43 dB PSNR of exact decoding (see BENCHMARKS.md)."""
    keyframes: str = "auto"
    """'auto': decode only keyframes when they are at least as dense as the sampling rate;
    'always' / 'never' force the choice."""
    skip_b_frames: bool = True
    """Skip every B-frame (not only those no frame refers to) of H.264 that x264 encoded with one
    reference frame (its presets superfast and veryfast), where no I- or P-frame refers to a
    B-frame: those decode bit-identical, samples move by at most a run of B-frames (kept within a
    quarter of the sampling interval). 720p25 at 1 fps: 833 -> 499 of 1,500 frames decoded a
    minute, 3.5 -> 2.5 CPU-s (see BENCHMARKS.md)."""

    def validate(self) -> None:
        if not 0 < self.fps <= 60:
            raise VidatlasError(f"sampling fps must be in (0, 60], got {self.fps}")
        if self.thumb_width < 32 or self.thumb_height < 32:
            raise VidatlasError("thumbnails must be at least 32x32 pixels")
        if self.keyframes not in ("auto", "always", "never"):
            raise VidatlasError("keyframes must be one of auto, always, never")


@dataclass(frozen=True)
class BackboneSettings:
    """The pretrained feature extractor."""

    name: str = "efficientnet_lite0"
    """Any timm model name."""
    weights: str = ""
    """A local weights file; empty means the packaged weights (efficientnet_lite0)."""
    batch_size: int = 32
    threads: int = 0
    """Torch intra-op threads; 0 means half the cores (decoding runs beside it on the rest)."""
    device: str = "auto"
    """'auto' picks CUDA when present, else CPU."""


@dataclass(frozen=True)
class MapSettings:
    """PCA, the 2-D autoencoder, its training and the fingerprints."""

    pca_dim: int = 256
    objective: str = "neighbours"
    """'neighbours': every frame placed by UMAP's layout optimisation over the fuzzy kNN graph of
    the PCA features, and the autoencoder (wider encoder) trained with the seed's losses plus the
    distance to those positions, so new frames land by their neighbours (keeps local
    neighbourhoods; see BENCHMARKS.md); 'seed': the seed article's objective and encoder exactly."""
    code_std: float = 0.3
    """Target standard deviation of the 2-D code (the seed's activity regulariser)."""
    activity_weight: float = 1.0
    triplet_weight: float = 0.2
    """Weight of the log-ratio triplet loss on random triplets."""
    n_neighbors: int = 10
    """Neighbours per frame in the kNN graph ('neighbours' objective; 10 kept more of each frame's
    10 nearest neighbours than UMAP's 15 on the map benchmark: 0.625 against 0.594)."""
    layout_epochs: int = 300
    """Passes of the layout optimisation over the graph ('neighbours'; UMAP: 500 up to 10k frames,
    200 above). On the map benchmark's 10k real frames 300 passes keep recall@10 0.617 (500:
    0.614, 200: 0.608) in 0.66 s on one thread; on 100k, 200 kept 0.375 and 300 0.383."""
    negatives: int = 5
    """Random frames each graph edge pushes away per pass ('neighbours')."""
    layout_weight: float = 1.0
    """Weight of the code's distance from its frame's layout position ('neighbours')."""
    encoder_width: int = 64
    """Encoder hidden layers width and width/2 ('neighbours' objective; 'seed' uses 50 and 10)."""
    epochs: int = 10
    """Upper bound on training: this many passes over the frames (or ``min_steps``, if more), and
    never more than ``max_steps``."""
    max_steps: int = 400
    min_steps: int = 0
    """Steps before training may stop on convergence; 0: 100 for 'neighbours' and 200 for 'seed'.
    With the layout as target, 100 steps at 10k frames place the fitted frames 0.27 code standard
    deviations from their positions (200: 0.24) in 0.6 s; the seed objective, which has no target,
    keeps 0.165 of each frame's 10 nearest neighbours after 200 steps and 0.120 after 100."""
    eval_every: int = 25
    patience: int = 4
    stop_tol: float = 0.005
    """Every ``eval_every`` steps the loss on a held-out slice of frames is measured; ``patience``
    measurements without a relative gain of ``stop_tol`` lower the learning rate 5x, the next
    such plateau ends training."""
    batch_size: int = 1024
    learning_rate: float = 1e-2
    seed: int = 0
    train_threads: int = 1
    """Threads for PCA and training, fixed (not the core count) so that the same features give a
    bit-identical map on any machine with the same kernels (see README, "Same input, same bundle")."""
    stretch: bool = True
    """Percentile stretch so the codes fill the unit disk."""
    fingerprint_len: int = 32
    """Points in a video's resampled path."""
    fit_frames: int = 200_000
    """The map (PCA, kNN graph, layout, encoder) is fitted on at most this many frames: a seeded
    sample across the collection when it holds more. The other frames are placed by the fitted
    encoder, as ``--add`` places new videos. This bounds the fit's time (about 16 s at 100k frames,
    growing with the frames) and the build's memory (backbone features, 5 KB a frame, are held for
    the sample only; every video is read again to be placed)."""


SERVER_RUNTIME_BYTES = 768 << 20  # a server before any bundle: Python, torch, gRPC (measured ~0.6 GiB)


@dataclass(frozen=True)
class StoreSettings:
    """What the bundle's frame index may cost the server that loads it (see indexer/frameindex.py)."""

    memory_budget: str = "4GiB"
    """The server's memory: the frame index gets the most exact codes that fit in it beside the
    runtime and per-frame arrays, and is paged from disk when even the smallest do not. The
    default is the chart's server pod limit."""

    frame_index: str = ""
    """A FAISS factory string for the frame index instead of the budget's choice (e.g.
    ``IVF256,PQ128x4fs``, to see what compressed codes do to a small collection's answers)."""

    encode_block: int = 1 << 20
    """Frames in a block of an IVF frame index's encoding: the unit of work that ``vidatlas index
    --encode`` workers share with the merge, and the most lists any of them holds in memory
    (indexer/encoding.py)."""

    @property
    def budget_bytes(self) -> int:
        budget = parse_bytes(self.memory_budget)
        if budget <= SERVER_RUNTIME_BYTES:
            raise VidatlasError(f"memory budget {self.memory_budget} leaves nothing beside the server's own "
                                f"runtime ({SERVER_RUNTIME_BYTES >> 20} MiB)", Code.INVALID_ARGUMENT)
        return budget


@dataclass(frozen=True)
class IndexSettings:
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    backbone: BackboneSettings = field(default_factory=BackboneSettings)
    map: MapSettings = field(default_factory=MapSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    progress: bool = True
    tag: str = ""
    """A label kept in the bundle's manifest (``run_tag``), e.g. the release that built it, so that
    later steps can wait for this run's bundle (``vidatlas neighbours --wait-tag``)."""

    def validate(self) -> None:
        self.sampling.validate()
        self.store.budget_bytes  # noqa: B018 (raises on a size it cannot read)
        if self.map.pca_dim < 2:
            raise VidatlasError("pca_dim must be at least 2")
        if self.map.objective not in ("seed", "neighbours"):
            raise VidatlasError(f"map objective must be 'seed' or 'neighbours', got {self.map.objective!r}")
        if self.map.fit_frames < 2 * self.map.n_neighbors:
            raise VidatlasError(f"fit_frames must be at least {2 * self.map.n_neighbors} (2 x n_neighbors), "
                                f"got {self.map.fit_frames}")
        if self.map.train_threads < 1:
            raise VidatlasError("train_threads must be at least 1")
        if self.store.encode_block < 1:
            raise VidatlasError(f"encode_block must be at least 1 frame, got {self.store.encode_block}")
        if self.backbone.batch_size < 1:
            raise VidatlasError("batch size must be positive")

    def extraction_key(self, weights_digest: str) -> str:
        """A short digest of everything that changes a video's cached frames and features."""
        blob = json.dumps(
            {"sampling": dataclasses.asdict(self.sampling) | {"decode_threads": None, "decode_workers": None},
             "backbone": self.backbone.name, "weights": weights_digest, "cache_format": 3},
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _coerce(value: str, kind: type):
    if kind is bool:
        return value.strip().lower() in ("1", "true", "yes", "on")
    return kind(value)


def with_env(settings, prefix: str, environ=None):
    """``settings`` (a dataclass) with every field named ``<PREFIX>_<FIELD>`` in the environment
    replaced by that value, converted to the field's type."""
    environ = os.environ if environ is None else environ
    changes = {}
    for f in dataclasses.fields(settings):
        key = f"{prefix}_{f.name}".upper()
        if key in environ:
            try:
                changes[f.name] = _coerce(environ[key], type(getattr(settings, f.name)))
            except ValueError as exc:
                raise VidatlasError(f"{key}={environ[key]!r}: {exc}") from None
    return dataclasses.replace(settings, **changes) if changes else settings


def given(settings, **options):
    """``settings`` (a dataclass) with the options a user gave (those not None) replaced."""
    return dataclasses.replace(settings, **{k: v for k, v in options.items() if v is not None})


def from_env(settings: IndexSettings | None = None, environ=None) -> IndexSettings:
    """Apply ``VIDATLAS_<SECTION>_<FIELD>`` overrides from the environment."""
    settings = settings or IndexSettings()
    sections = {s.name: with_env(getattr(settings, s.name), f"VIDATLAS_{s.name}", environ)
                for s in dataclasses.fields(settings) if dataclasses.is_dataclass(getattr(settings, s.name))}
    return dataclasses.replace(settings, **sections)


def ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def available_cores() -> int:
    """CPU cores this process may run on (the affinity mask, so container CPU sets count)."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
