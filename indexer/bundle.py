"""The versioned bundle: everything the service needs, written once, published atomically.

Layout under an atlas directory::

    atlas/CURRENT                  name of the version being served
    atlas/<version>/manifest.json  format, parameters, counts, checksums, failures
    atlas/<version>/videos.json    one record per video, in frame-row order
    atlas/<version>/*.npy          frame rows, codes, features, fingerprints, anomaly scores
    atlas/<version>/*.faiss        indexes over frame features, frame codes and fingerprints
    atlas/<version>/model.pt       PCA + autoencoder + stretch (embeds new clips into the map)
    atlas/<version>/labels.json    labelled frames
    atlas/<version>/pixels.npy     every frame's pixel signatures (indexer.pictures)
    atlas/<version>/pixel_self.npy every frame's picture's agreement with itself a cell off (indexer.pictures)
    atlas/<version>/thumbs/        the frame store (hard links shared with other versions)

A version is assembled in a staging directory, fsynced, renamed into place and only then named
in ``CURRENT`` (itself replaced atomically), so a reader never sees a partial bundle and an
interrupted writer leaves the previous version serving.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import faiss
import numpy as np

from . import encoding, frameindex
from .debris import tag
from .digest import file_digest
from .errors import Code, VidatlasError
from .framestore import FrameStore, link_or_copy
from .pictures import CROP_SCALES, write_signatures
from .settings import available_cores

if TYPE_CHECKING:  # torch, imported where a bundle is read
    from .mapmodel import MapModel

FORMAT = "vidatlas-bundle"
FORMAT_VERSION = 1
CURRENT = "CURRENT"
_VERSION_RE = re.compile(r"^v(\d{6})-\d{8}T\d{6}Z$")
_ARRAYS = ("frame_video", "frame_time", "codes", "features", "recon_error", "pixel_stats", "fingerprints")


@dataclass
class BundleContent:
    """What a bundle holds, in memory, before it is written or after it is read."""

    videos: list[dict]             # id, path, content_hash, frames, duration_s, ... in row order
    frame_video: np.ndarray        # (n,) int32 video number of each frame row
    frame_time: np.ndarray         # (n,) float64 presentation time in seconds
    codes: np.ndarray              # (n, 2) float32 stretched 2-D map positions
    features: np.ndarray           # (n, d) float32 PCA-reduced features (written L2-normalised)
    recon_error: np.ndarray        # (n,) float32 autoencoder reconstruction error
    pixel_stats: np.ndarray        # (n, 2) float32 picture detail and change (indexer/pixelstats.py)
    fingerprints: np.ndarray       # (v, L, 2) float32 resampled paths
    model: MapModel
    thumbs: list[Path | str]       # one frame-store segment per video (source files to link)
    thumb_shape: tuple[int, int]
    labels: list[dict] = field(default_factory=list)
    manifest: dict = field(default_factory=dict)  # parameters: backbone, sampling, map, failures

    @property
    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum([v["frames"] for v in self.videos])]).astype(np.int64)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def build_faiss(content: BundleContent, stage: Path, plan: frameindex.IndexPlan,
                room: encoding.Room = encoding.Room()) -> tuple[dict, dict]:
    """The frame index of ``plan`` over the unit features stored in ``stage`` (see :mod:`.frameindex`;
    an IVF's encoded in blocks shared with workers in ``room``, see :mod:`.encoding`), L2 over codes
    and over fingerprints (exact); and the frame index's description for the manifest."""
    path = stage / "features.npy"
    features = np.load(path, mmap_mode="r")
    index = frameindex.build(features, plan) if plan.exact else \
        encoding.build(path, stage.parent, plan, room, stage)
    frames = frameindex.FrameIndex(index, features, plan.refine)
    by_code = faiss.IndexFlatL2(2)
    by_code.add(np.ascontiguousarray(content.codes, np.float32))
    fp = content.fingerprints.reshape(len(content.fingerprints), -1)
    by_path = faiss.IndexFlatL2(max(1, fp.shape[1]))
    by_path.add(np.ascontiguousarray(fp, np.float32))
    indexes = {"frames_features": frames, "frames_codes": by_code, "fingerprints": by_path}
    return indexes, frameindex.describe(plan, frames, features)


def _write_unit_features(path: Path, feats) -> None:
    """``feats`` written unit length in float16, a chunk at a time (no full-size float32 copy)."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=feats.shape)
    for a in range(0, len(feats), frameindex.CHUNK):
        b = min(len(feats), a + frameindex.CHUNK)
        x = np.array(feats[a:b], np.float32)
        faiss.normalize_L2(x)
        out[a:b] = x
    out.flush()


def next_version(atlas: Path) -> str:
    numbers = [int(m.group(1)) for p in atlas.iterdir() if (m := _VERSION_RE.match(p.name))] if atlas.is_dir() else []
    return f"v{max(numbers, default=0) + 1:06d}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"


def write_bundle(atlas: Path, content: BundleContent, memory_budget: int = frameindex.DEFAULT_BUDGET,
                 frame_index: str = "", room: encoding.Room = encoding.Room()) -> Path:
    """Write ``content`` as a new version under ``atlas`` and point ``CURRENT`` at it, with the
    frame index chosen for a server of ``memory_budget`` bytes (see :mod:`.frameindex`), or the
    FAISS index ``frame_index`` names; encoded with the workers of ``room`` (see :mod:`.encoding`)."""
    atlas = Path(atlas)
    atlas.mkdir(parents=True, exist_ok=True)
    version = next_version(atlas)
    stage = atlas / f".staging-{version}{tag()}"
    shutil.rmtree(stage, ignore_errors=True)
    (stage / "thumbs").mkdir(parents=True)
    try:
        files: dict[str, dict] = {}
        # features are stored unit length in float16 (half the bytes; cosines move by < 1e-3): the
        # service aligns on them memory-mapped, with no copy; the frame index is built from them
        _write_unit_features(stage / "features.npy", content.features)
        shape = content.features.shape
        plan = frameindex.named(frame_index, *shape, memory_budget) if frame_index else \
            frameindex.choose(*shape, memory_budget)
        indexes, frame_index = build_faiss(content, stage, plan, room)
        for name in _ARRAYS:
            if name != "features":
                np.save(stage / f"{name}.npy", np.ascontiguousarray(getattr(content, name)))
        for name, index in indexes.items():
            faiss.write_index(getattr(index, "index", index), str(stage / f"{name}.faiss"))
        del indexes  # the staged files are renamed below: no mapping of them stays open
        _write_file(stage / "model.pt", content.model.to_bytes())
        _write_file(stage / "videos.json", json.dumps(content.videos, indent=1).encode())
        _write_file(stage / "labels.json", json.dumps(content.labels, indent=1).encode())
        segments = []
        for src in content.thumbs:
            name = Path(src).name
            dst = stage / "thumbs" / name
            if not dst.exists():
                link_or_copy(Path(src), dst)
            segments.append(name)
        # every frame's pixel signatures, so that a query reads rows instead of thumbnails
        write_signatures(stage / "pixels.npy", FrameStore(stage / "thumbs", segments,
                                                          [v["frames"] for v in content.videos], content.thumb_shape),
                         workers=available_cores(), self_path=stage / "pixel_self.npy")
        for path in sorted(stage.iterdir()):
            if path.is_file():
                files[path.name] = {"bytes": path.stat().st_size, "sha256": file_digest(path)}
        manifest = {
            **content.manifest,  # parameters (backbone, sampling, map, failures); the rest is computed here
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "version": version,
            "bundle_id": uuid.uuid4().hex,  # unique across atlases: caches shared by several key on it
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "counts": {"videos": len(content.videos), "frames": int(len(content.frame_video)),
                       "labels": len(content.labels),
                       "failures": len(content.manifest.get("failures", []))},
            "thumb_shape": list(content.thumb_shape),
            "thumb_segments": segments,
            "pixel_scales": list(CROP_SCALES),
            "feature_dim": int(content.features.shape[1]),
            "features_unit": True,
            "fingerprint_len": int(content.fingerprints.shape[1]),
            "frame_index": frame_index,
            "model_sha256": files["model.pt"]["sha256"],
            "files": files,
        }
        _write_file(stage / "manifest.json", json.dumps(manifest, indent=1).encode())
        _fsync_dir(stage)
        final = atlas / version
        os.rename(stage, final)
        _fsync_dir(atlas)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    pointer = atlas / f".{CURRENT}{tag()}"
    _write_file(pointer, (version + "\n").encode())
    os.replace(pointer, atlas / CURRENT)
    _fsync_dir(atlas)
    return final


def resolve(path: Path) -> Path:
    """An atlas directory (follows ``CURRENT``) or a version directory → the version directory."""
    path = Path(path)
    if (path / CURRENT).is_file():
        name = (path / CURRENT).read_text().strip()
        if not _VERSION_RE.match(name):
            raise VidatlasError(f"{path / CURRENT} names no valid version: {name!r}", Code.DATA_LOSS)
        return path / name
    if (path / "manifest.json").is_file():
        return path
    raise VidatlasError(f"no bundle at {path} (no CURRENT pointer or manifest.json)", Code.FAILED_PRECONDITION)


@dataclass
class Bundle:
    """A validated, loaded bundle version."""

    path: Path
    manifest: dict
    content: BundleContent
    indexes: dict  # FAISS indexes; "frames_features" is a frameindex.FrameIndex
    frames: FrameStore
    unverified: tuple[str, ...] = ()  # files only size-checked so far (see read_bundle's defer_over)
    pixels: np.ndarray | None = None  # every frame's pixel signatures at manifest["pixel_scales"] (memory-mapped;
    # None in bundles written before 2026-12-03, whose signatures are computed from thumbnails when needed)
    pixel_self: np.ndarray | None = None  # every frame's Pictures.self_agreement (None before 2026-12-06)

    @property
    def version(self) -> str:
        return self.manifest["version"]

    @property
    def video_ids(self) -> list[str]:
        return [v["id"] for v in self.content.videos]


def current_run(atlas: Path) -> tuple[Path | None, str | None]:
    """The version ``atlas/CURRENT`` names and its bundle's ``run_tag``, read once (a later
    publish may move CURRENT); ``(None, None)`` when there is none (yet)."""
    try:
        version = resolve(atlas)
        return version, json.loads((version / "manifest.json").read_text()).get("run_tag")
    except (VidatlasError, OSError, ValueError):  # no bundle yet, or CURRENT moving
        return None, None


def _verify(root: Path, files: dict[str, dict], keep_cached: bool = True) -> None:
    """sha256 of ``files`` against the manifest; hashlib lets go of the GIL, so they are hashed
    side by side."""
    with ThreadPoolExecutor(available_cores()) as pool:
        digests = dict(zip(files, pool.map(lambda p: file_digest(p, keep_cached), [root / n for n in files])))
    for name, meta in files.items():
        if digests[name] != meta["sha256"]:
            raise VidatlasError(f"bundle file checksum mismatch: {root / name}", Code.DATA_LOSS)


def verify_files(bundle: "Bundle") -> None:
    """Checksum the files :func:`read_bundle` left unverified (DATA_LOSS on a mismatch), without
    keeping what they read in the page cache."""
    _verify(bundle.path, {n: bundle.manifest["files"][n] for n in bundle.unverified}, keep_cached=False)


def read_bundle(path: Path, verify: bool = True, defer_over: int | None = None) -> Bundle:
    """Open and validate a bundle; raise :class:`VidatlasError` (DATA_LOSS / FAILED_PRECONDITION)
    for anything missing, truncated, tampered with or of a format this code cannot read.
    Files larger than ``defer_over`` bytes are only size-checked and listed in
    ``Bundle.unverified``, for :func:`verify_files` (a server checks them after it starts
    serving: at 10M frames the checksums read 8 GB)."""
    root = resolve(path)
    try:
        manifest = json.loads((root / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise VidatlasError(f"manifest unreadable in {root}: {exc}", Code.DATA_LOSS) from None
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise VidatlasError(
            f"{root} is format {manifest.get('format')!r} v{manifest.get('format_version')}, "
            f"this build reads {FORMAT!r} v{FORMAT_VERSION}", Code.FAILED_PRECONDITION)
    files = manifest.get("files", {})
    for name, meta in files.items():
        file = root / name
        if not file.is_file() or file.stat().st_size != meta["bytes"]:
            raise VidatlasError(f"bundle file missing or truncated: {file}", Code.DATA_LOSS)
    later = tuple(n for n, m in files.items() if verify and defer_over is not None and m["bytes"] > defer_over)
    if verify:
        _verify(root, {n: m for n, m in files.items() if n not in later})
    from .mapmodel import MapModel
    try:
        arrays = {n: np.load(root / f"{n}.npy", mmap_mode="r") for n in _ARRAYS}  # read-only, paged in on use
        videos = json.loads((root / "videos.json").read_text())
        labels = json.loads((root / "labels.json").read_text())
        model = MapModel.from_bytes((root / "model.pt").read_bytes())
        indexes = {n: faiss.read_index(str(root / f"{n}.faiss")) for n in ("frames_codes", "fingerprints")}
        pixels = np.load(root / "pixels.npy", mmap_mode="r") if "pixels.npy" in files else None
        pixel_self = np.load(root / "pixel_self.npy", mmap_mode="r") if "pixel_self.npy" in files else None
        indexes["frames_features"] = frameindex.load(root / "frames_features.faiss", arrays["features"],
                                                     manifest.get("frame_index", {}))
    except VidatlasError:
        raise
    except Exception as exc:
        raise VidatlasError(f"bundle {root} unreadable: {exc}", Code.DATA_LOSS) from None
    n = len(arrays["frame_video"])
    counts = manifest["counts"]
    if counts["frames"] != n or counts["videos"] != len(videos) or sum(v["frames"] for v in videos) != n \
            or len(arrays["fingerprints"]) != len(videos) or indexes["frames_features"].ntotal != n \
            or any(a is not None and len(a) != n for a in (pixels, pixel_self)):
        raise VidatlasError(f"bundle {root} is inconsistent: counts do not match", Code.DATA_LOSS)
    shape = tuple(manifest["thumb_shape"])
    segments = manifest["thumb_segments"]
    # one directory listing, not a stat and two Path objects per video (4 s of a 100k-video load)
    present = {e.name for e in os.scandir(root / "thumbs") if e.is_file()}
    missing = next((s for s in segments if s not in present), None)
    if missing is not None:
        raise VidatlasError(f"frame store segment missing: {root / 'thumbs' / missing}", Code.DATA_LOSS)
    base = str(root / "thumbs")
    content = BundleContent(videos=videos, model=model, labels=labels, thumb_shape=shape,
                            thumbs=[os.path.join(base, s) for s in segments], manifest=manifest, **arrays)
    store = FrameStore(root / "thumbs", segments, [v["frames"] for v in videos], shape)
    return Bundle(root, manifest, content, indexes, store, later, pixels, pixel_self)
