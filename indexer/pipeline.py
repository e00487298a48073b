"""The indexing runner: discover → decode → embed (cached per video) → map → bundle.

The expensive stage (decoding and the backbone) runs per video into the feature cache, with
decoding in a background thread so that it overlaps the backbone. A sharded run does only that
stage for its share of the videos and records what it did; the merge step (or a single-machine
run, which is the same code with one shard) trains PCA + autoencoder on all cached features and
writes the bundle. ``add`` embeds new videos with a bundle's frozen model instead.
"""
from __future__ import annotations

import itertools
import json
import logging
import os
import sys
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from . import encoding, frameindex, layout
from .bundle import BundleContent, current_run, read_bundle, write_bundle
from .decode import VideoReader
from .discover import VideoFile, discover
from .debris import sweep, tag
from .digest import weights_digest
from .errors import Code, Exit, VidatlasError
from .featurecache import FeatureCache, content_hash
from .insets import VERSION as INSETS_VERSION, scan
from .labels import attach
from .paths import fingerprints
from .polling import wait_until
from .pixelstats import pixel_stats
from .settings import BackboneSettings, IndexSettings, MapSettings, SamplingSettings, available_cores
from .weights import weights_file

if TYPE_CHECKING:  # torch, imported by the run where it is needed (see _build_backbone)
    from .backbone import Backbone
    from .mapmodel import Fitted, MapModel

log = logging.getLogger(__name__)


@dataclass
class Failure:
    video_id: str
    path: str
    reason: str


@dataclass
class Report:
    """What a run did; printed as the summary and kept in the manifest."""

    videos: int = 0
    decoded: int = 0
    reused: int = 0
    frames: int = 0
    video_seconds: float = 0.0
    other_files: int = 0
    failures: list[Failure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    bundle: str | None = None
    encoded_blocks: int | None = None  # by `vidatlas index --encode` (a worker helping a merge)

    @property
    def exit_status(self) -> Exit:
        """OK when everything was indexed, PARTIAL when some videos failed (the rest was indexed)."""
        return Exit.PARTIAL if self.failures else Exit.OK

    def summary(self) -> str:
        t = self.timings
        wall = t.get("total", 0.0)
        if self.encoded_blocks is not None:
            return f"frame index: {self.encoded_blocks} blocks encoded here in {t.get('encode', 0.0):.1f} s; total {wall:.1f} s"
        lines = [
            f"videos: {self.videos} found, {self.videos - len(self.failures)} indexed "
            f"({self.decoded} decoded, {self.reused} from cache), {len(self.failures)} failed"
            + (f"; {self.other_files} non-video files passed over" if self.other_files else ""),
            f"frames: {self.frames} sampled from {self.video_seconds:.1f} s of video",
        ]
        extract = t.get("extract", 0.0)
        if self.decoded and extract > 0:
            decoded_s = t.get("decoded_video_seconds", 0.0)
            lines.append(
                f"extraction: {t.get('decoded_frames', 0) / extract:.1f} frames/s, "
                f"{decoded_s / extract:.1f}x real time (decode {t.get('decode', 0):.1f} s, "
                f"backbone {t.get('backbone', 0):.1f} s, wall {extract:.1f} s)")
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in t.items()
                           if k in ("discover", "extract", "train", "embed", "write"))
        lines.append(f"stages: {stages}; total {wall:.1f} s")
        for f in self.failures:
            lines.append(f"FAILED {f.path}: {f.reason}")
        for w in self.warnings:
            lines.append(f"warning: {w}")
        if self.bundle:
            lines.append(f"bundle: {self.bundle}")
        return "\n".join(lines)


@contextmanager
def stage(report: Report, name: str):
    start = time.perf_counter()
    yield
    elapsed = time.perf_counter() - start
    report.timings[name] = report.timings.get(name, 0.0) + elapsed
    log.info("finished %s in %.2f s", name, elapsed)


def _progress(settings: IndexSettings, **kw) -> tqdm:
    return tqdm(disable=not (settings.progress and sys.stderr.isatty()), file=sys.stderr,
                dynamic_ncols=True, **kw)


@dataclass
class _Piece:
    """One keyframe-aligned piece of a video, decoding in the pool (or an error before that)."""

    video: VideoFile
    digest: str
    index: int
    count: int
    future: Future | None = None
    error: str | None = None


@dataclass
class _Acc:
    """A video's pieces as they come back, in order."""

    times: list = field(default_factory=list)
    thumbs: list = field(default_factory=list)
    feats: list = field(default_factory=list)
    infos: list = field(default_factory=list)
    error: str | None = None


def _build_backbone(settings: BackboneSettings) -> Backbone:
    # torch (1.4 s) and timm (1-3 s) are imported here, in the loader's thread, while pieces decode
    from .backbone import Backbone
    return Backbone(settings)


def _decode_piece(path: Path, sampling, start: float, end: float | None):
    t0 = time.perf_counter()
    with VideoReader(path, sampling) as reader:
        samples = list(reader.samples(start, end))
    return [t for t, _ in samples], [th for _, th in samples], reader.info, time.perf_counter() - t0


class Extractor:
    """Decode + backbone for a list of videos, into the feature cache.

    Videos are cut at keyframes into pieces (:meth:`VideoReader.segments`) that a pool of
    single-threaded decoders works through in parallel, one piece per core, while the backbone
    embeds finished pieces in this thread. Results do not depend on the number of workers.
    """

    def __init__(self, settings: IndexSettings, work_dir: Path):
        self.settings = settings
        self._backbone: Future | None = None
        b = settings.backbone
        path = weights_file(b.name, b.weights)  # a missing weights file fails the run here, before any work
        self.weights_digest = weights_digest(path)
        self.key = settings.extraction_key(self.weights_digest)
        self.cache = FeatureCache(Path(work_dir) / "features", self.key)

    @property
    def backbone(self) -> Backbone:
        """The backbone, once it has loaded (see :meth:`_load_backbone`)."""
        self._load_backbone()
        return self._backbone.result()

    def _load_backbone(self) -> None:
        """Start building the backbone in a thread (importing timm and building the model take
        1-3 s), so that decoding, which needs no model, starts meanwhile."""
        if self._backbone is None:
            loader = ThreadPoolExecutor(1, thread_name_prefix="vidatlas-backbone")
            self._backbone = loader.submit(_build_backbone, self.settings.backbone)
            loader.submit(layout.warm)  # then the map's compiled layout loop, before the map is fitted
            loader.shutdown(wait=False)

    def run(self, videos: list[VideoFile], report: Report) -> list[tuple[VideoFile, str]]:
        """Return ``(video, content hash)`` for every video that is now in the cache."""
        todo, done = [], []
        for v in videos:
            try:
                digest = content_hash(v.path)
            except OSError as exc:
                report.failures.append(Failure(v.video_id, str(v.path), f"unreadable: {exc.strerror}"))
                continue
            if self.cache.has(digest):
                done.append((v, digest))
                report.reused += 1
            else:
                todo.append((v, digest))
        if not todo:
            return done
        self._load_backbone()
        s = self.settings.sampling
        workers = s.decode_workers or available_cores()
        sampling = replace(s, decode_threads=s.decode_threads or (1 if workers > 1 else 0))
        pool = ThreadPoolExecutor(workers, thread_name_prefix="vidatlas-decode")

        def pieces():
            for v, digest in todo:
                try:
                    with VideoReader(v.path, sampling) as reader:
                        bounds = reader.segments(sampling.segment_s)
                except VidatlasError as exc:
                    yield _Piece(v, digest, 0, 1, error=str(exc))
                    continue
                for i, (a, b) in enumerate(bounds):
                    yield _Piece(v, digest, i, len(bounds), pool.submit(_decode_piece, v.path, sampling, a, b))

        stats = {"decode": 0.0, "backbone": 0.0}
        bar = _progress(self.settings, total=len(todo), unit="video", desc="decode+embed")
        start = time.perf_counter()
        source = pieces()
        window: deque[_Piece] = deque(itertools.islice(source, 2 * workers))
        accs: dict[str, _Acc] = {}
        try:
            while window:
                piece = window.popleft()
                window.extend(itertools.islice(source, 1))
                acc = accs.setdefault(piece.video.video_id, _Acc())
                self._collect(piece, acc, stats)
                if piece.index == piece.count - 1:
                    del accs[piece.video.video_id]
                    bar.update(1)
                    if self._finish(piece, acc, report):
                        done.append((piece.video, piece.digest))
                        bar.set_postfix(frames=int(report.timings.get("decoded_frames", 0)))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            bar.close()
        report.timings["decode"] = report.timings.get("decode", 0) + stats["decode"]
        report.timings["backbone"] = report.timings.get("backbone", 0) + stats["backbone"]
        report.timings["extract_wall"] = time.perf_counter() - start
        return sorted(done, key=lambda d: d[0].video_id)

    def _collect(self, piece: _Piece, acc: _Acc, stats: dict) -> None:
        if piece.error or acc.error:
            acc.error = acc.error or piece.error
            if piece.future:
                piece.future.cancel()
            return
        try:
            times, thumbs, info, seconds = piece.future.result()
        except VidatlasError as exc:
            acc.error = str(exc)
            return
        except Exception as exc:  # a decoder bug must not lose the rest of the run
            log.exception("unexpected error decoding %s", piece.video.path)
            acc.error = f"unexpected error: {exc!r}"
            return
        stats["decode"] += seconds
        acc.infos.append(info)
        if thumbs:
            t0 = time.perf_counter()
            acc.feats.append(self.backbone.features(np.stack(thumbs)))
            stats["backbone"] += time.perf_counter() - t0
            acc.times += times
            acc.thumbs += thumbs

    def _finish(self, piece: _Piece, acc: _Acc, report: Report) -> bool:
        v = piece.video
        if not acc.error and not acc.times:
            acc.error = "no decodable video frames"
        if acc.error:
            report.failures.append(Failure(v.video_id, str(v.path), acc.error))
            return False
        times = np.asarray(acc.times, np.float64)
        keep = np.flatnonzero(times > np.maximum.accumulate(np.concatenate([[-np.inf], times[:-1]])))
        first = acc.infos[0]
        info = {**asdict(first), "path": str(v.path),
                "decoded_frames": sum(i.decoded_frames for i in acc.infos),
                "sampled_frames": int(len(keep)), "duration_s": float(times[keep[-1]]),
                "warnings": [w for i in acc.infos for w in i.warnings]}
        for w in info["warnings"]:
            report.warnings.append(f"{v.path}: {w}")
        thumbs = np.stack(acc.thumbs)[keep]
        info.update(_found_insets(thumbs))
        self.cache.put(piece.digest, times[keep], np.concatenate(acc.feats)[keep], thumbs, info, pixel_stats(thumbs))
        report.decoded += 1
        report.timings["decoded_frames"] = report.timings.get("decoded_frames", 0) + len(keep)
        report.timings["decoded_video_seconds"] = (
            report.timings.get("decoded_video_seconds", 0) + _span(times[keep], self.settings.sampling.fps))
        return True


def _insets(thumbs: np.ndarray) -> list[list[int]]:
    """Pictures laid over the video's footage (picture in picture), found on its sampled frames
    (:func:`.insets.scan`); none when the scan fails (the video is indexed without them)."""
    try:
        return [[int(x) for x in r] for r in scan(thumbs)]
    except Exception:  # a detector bug must not lose the video
        log.exception("inset scan failed; indexed without insets")
        return []


def _found_insets(thumbs: np.ndarray) -> dict:
    """A video's insets and the detector's version, as cache entries and bundle records keep them."""
    return {"insets": _insets(thumbs), "insets_version": INSETS_VERSION}


def _kept_insets(info: dict) -> dict | None:
    """The insets and version kept in ``info`` (a cache entry's or a bundle record) if this
    version of the detector found them; None when another did, or none looked."""
    if "insets" in info and info.get("insets_version") == INSETS_VERSION:
        return {"insets": info["insets"], "insets_version": INSETS_VERSION}
    return None


def _span(times: np.ndarray, fps: float) -> float:
    return float(times[-1] - times[0]) + 1.0 / fps if len(times) else 0.0


# -- building ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Extracted:
    """One video as the feature cache holds it: its record, frame times, frame-store segment and
    pixel statistics; its backbone features (5 KB a frame) stay in the cache until asked for."""

    record: dict
    times: np.ndarray
    thumbs: Path
    pixel_stats: np.ndarray
    cache: FeatureCache

    def features(self) -> np.ndarray:
        """The backbone features, read from the cache on every call (not held)."""
        return self.cache.features(self.record["content_hash"])


@dataclass(frozen=True)
class VideoRows:
    """One video as the bundle keeps it: ``Extracted`` plus what the map made of its frames.
    Bundles are assembled from these, in id order, so no column can be matched to the wrong video."""

    record: dict
    times: np.ndarray
    reduced: np.ndarray
    codes: np.ndarray
    errors: np.ndarray
    thumbs: Path
    pixel_stats: np.ndarray

    @classmethod
    def embedded(cls, video: Extracted, reduced: np.ndarray, codes: np.ndarray, errors: np.ndarray) -> "VideoRows":
        return cls(video.record, video.times, reduced, codes, errors, video.thumbs, video.pixel_stats)

    @classmethod
    def of_bundle(cls, content: BundleContent, i: int) -> "VideoRows":
        a, b = content.offsets[i], content.offsets[i + 1]
        record = content.videos[i]
        if _kept_insets(record) is None:
            record = {**record, **_found_insets(np.load(content.thumbs[i], mmap_mode="r"))}
        return cls(record, content.frame_time[a:b], np.asarray(content.features[a:b]), content.codes[a:b],
                   content.recon_error[a:b], content.thumbs[i], content.pixel_stats[a:b])


def _load(cache: FeatureCache, entries: list[tuple[VideoFile, str]], fps: float) -> list[Extracted]:
    out = []
    for v, digest in entries:
        c = cache.get(digest, features=False)
        info = c.info
        record = {
            "id": v.video_id, "path": str(v.path), "content_hash": digest, "frames": int(len(c.times)),
            "duration_s": _span(c.times, fps),
            **{k: info.get(k) for k in ("width", "height", "rotation", "codec", "decode_mode", "warnings")},
            **(_kept_insets(info) or _cache_insets(cache, digest, c.thumbs_path)),
        }
        out.append(Extracted(record, c.times, c.thumbs_path, c.pixel_stats, cache))
    return out


def _cache_insets(cache: FeatureCache, digest: str, thumbs: Path) -> dict:
    """The insets of an entry cached by another version of the detector (or before insets were
    looked for): found again once, then kept in it with this version."""
    found = _found_insets(np.load(thumbs, mmap_mode="r"))
    cache.update_info(digest, found)
    return found


def _split(rows: np.ndarray, lengths: list[int]) -> list[np.ndarray]:
    return np.split(rows, np.cumsum(lengths)[:-1])


def fit_sample(frames: int, settings: MapSettings) -> np.ndarray | None:
    """The frames (sorted rows over the whole collection) the map is fitted on: a seeded sample
    of ``settings.fit_frames`` when the collection holds more, else None (every frame)."""
    if frames <= settings.fit_frames:
        return None
    rng = np.random.default_rng(settings.seed)
    return np.sort(rng.choice(frames, settings.fit_frames, replace=False))


def _per_video(sample: np.ndarray, lengths: list[int]) -> list[np.ndarray]:
    """The ``sample``'s rows (sorted, over the whole collection) split by video, as each video's
    own frame numbers."""
    starts = np.cumsum([0] + lengths)
    cuts = np.searchsorted(sample, starts)
    return [sample[lo:hi] - a for a, lo, hi in zip(starts[:-1], cuts[:-1], cuts[1:])]


def _features(extracted: list[Extracted], sample: list[np.ndarray] | None) -> np.ndarray:
    """Backbone features of every frame, or of each video's ``sample`` rows only (read video by video)."""
    if sample is None:
        return np.concatenate([e.features() for e in extracted])
    return np.concatenate([e.features()[rows] for e, rows in zip(extracted, sample) if len(rows)])


def _place(extracted: list[Extracted], fitted: Fitted, sample: list[np.ndarray], reduced_out: np.ndarray,
           bar) -> list[VideoRows]:
    """Every video's rows when the map was fitted on each video's ``sample`` rows: its frames
    placed by the fitted encoder (as ``--add`` places them), the sampled frames keeping what the
    fit gave them. The reduced features go into ``reduced_out`` (all frames, memory-mapped: 1 KB a
    frame the build does not hold), each video's rows a view of it."""
    out, start, fit_at = [], 0, 0
    for e, mine in zip(extracted, sample):
        reduced, codes, errors = fitted.model.embed(e.features())
        fit = slice(fit_at, fit_at + len(mine))
        for col, fit_col in ((reduced, fitted.reduced), (codes, fitted.codes), (errors, fitted.errors)):
            col[mine] = fit_col[fit]
        end = start + len(e.times)
        reduced_out[start:end] = reduced
        out.append(VideoRows.embedded(e, reduced_out[start:end], codes, errors))
        start, fit_at = end, fit.stop
        bar.update(1)
    return out


def _assemble(rows: list[VideoRows], model: MapModel, settings: IndexSettings, labels: list[dict],
              manifest: dict, report: Report, features: np.ndarray | None = None) -> BundleContent:
    """The bundle's columns from per-video rows (in the given order), with fingerprints and labels;
    ``features``: the rows' reduced features already stacked (e.g. memory-mapped)."""
    videos = [r.record for r in rows]
    frame_video = np.concatenate([np.full(len(r.times), i, np.int32) for i, r in enumerate(rows)])
    frame_time = np.concatenate([r.times for r in rows]).astype(np.float64)
    codes = np.concatenate([r.codes for r in rows])
    offsets = np.concatenate([[0], np.cumsum([len(r.times) for r in rows])])
    attached, warnings = attach(labels, videos, offsets, frame_time)
    report.warnings += warnings
    report.frames = len(frame_time)
    report.video_seconds = float(sum(v["duration_s"] for v in videos))
    manifest["failures"] = [asdict(f) for f in report.failures]
    if features is None:
        features = np.concatenate([r.reduced for r in rows])
    return BundleContent(
        videos=videos, frame_video=frame_video, frame_time=frame_time, codes=codes,
        features=features, recon_error=np.concatenate([r.errors for r in rows]),
        pixel_stats=np.concatenate([r.pixel_stats for r in rows]).astype(np.float32),
        fingerprints=fingerprints(offsets, frame_time, codes, settings.map.fingerprint_len),
        model=model, thumbs=[r.thumbs for r in rows],
        thumb_shape=(settings.sampling.thumb_height, settings.sampling.thumb_width),
        labels=attached, manifest=manifest)


def _manifest(settings: IndexSettings, key: str, weights_digest: str, model: MapModel) -> dict:
    return {
        "backbone": {"name": settings.backbone.name, "weights_sha256": weights_digest},
        "extraction_key": key,
        "sampling": asdict(settings.sampling),
        "map": asdict(settings.map),
        "training": model.training,
        "run_tag": settings.tag,
    }


def _write(atlas: Path, content: BundleContent, settings: IndexSettings, work: Path) -> Path:
    """Write the bundle; a tagged run's frame index is encoded with any ``vidatlas index --encode``
    workers waiting on ``work`` for its tag (:mod:`.encoding`)."""
    room = encoding.Room(work / "encode" if settings.tag else None, settings.tag, settings.store.encode_block)
    return write_bundle(atlas, content, settings.store.budget_bytes, settings.store.frame_index, room)


def build(atlas: Path, cache: FeatureCache, entries: list[tuple[VideoFile, str]], settings: IndexSettings,
          weights_digest: str, labels: list[dict], report: Report, work: Path) -> Path:
    """Train the map on every cached video in ``entries`` and write a new bundle version."""
    if not entries:
        raise VidatlasError("no video could be indexed; nothing to build", Code.FAILED_PRECONDITION)
    extracted = _load(cache, entries, settings.sampling.fps)
    lengths = [len(e.times) for e in extracted]
    sample = fit_sample(sum(lengths), settings.map)
    sample = None if sample is None else _per_video(sample, lengths)
    bar = _progress(settings, total=None, unit="step", desc="train map")
    with stage(report, "train"):
        def on_step(step, total, loss):
            bar.total = total
            bar.n = step
            bar.set_postfix(loss=f"{loss:.3f}")
            bar.refresh()
        from .mapmodel import MapModel  # torch: imported once the run has decoded
        fitted = MapModel.fit(_features(extracted, sample), settings.map, on_step)
        model = fitted.model
        model.training["fit_frames"] = len(fitted.reduced)
        bar.close()
    scratch = cache.dir / f"placed{tag()}.npy"  # reduced features of every frame, when placed
    try:
        with stage(report, "embed"):
            if sample is None:
                parts = zip(*(_split(col, lengths) for col in (fitted.reduced, fitted.codes, fitted.errors)))
                rows, reduced = [VideoRows.embedded(e, *part) for e, part in zip(extracted, parts)], None
            else:
                reduced = np.lib.format.open_memmap(scratch, mode="w+", dtype=np.float32,
                                                    shape=(sum(lengths), fitted.reduced.shape[1]))
                with _progress(settings, total=len(extracted), unit="video", desc="place frames") as bar:
                    rows = _place(extracted, fitted, sample, reduced, bar)
        content = _assemble(rows, model, settings, labels,
                            _manifest(settings, cache.dir.name, weights_digest, model), report, reduced)
        with stage(report, "write"):
            return _write(atlas, content, settings, work)
    finally:
        reduced = content = rows = None  # the scratch map closed before it goes (an NFS volume keeps
        scratch.unlink(missing_ok=True)  # the file of a mapping still open)


def _work_dir(atlas: Path, work_dir: Path | None) -> Path:
    """The work directory, after sweeping what killed runs left in it and in the atlas."""
    work = Path(work_dir) if work_dir else Path(atlas) / ".work"
    for root in {Path(atlas), work}:
        for path in sweep(root):
            log.warning("removed %s left by an interrupted run", path)
    return work


@contextmanager
def _run(settings: IndexSettings, atlas: Path, work_dir: Path | None):
    """What every run starts with (valid settings, a report, a swept work directory) and ends
    with (its total time), for index, merge and add alike."""
    settings.validate()
    if settings.store.frame_index:  # a FAISS string that does not parse fails now, not after extraction
        frameindex.named(settings.store.frame_index, 1, settings.map.pca_dim)
    report = Report()
    start = time.perf_counter()
    work = _work_dir(atlas, work_dir)
    try:
        yield report, work
    finally:
        report.timings["total"] = time.perf_counter() - start


def _discover(root: Path, prefix: str, report: Report) -> list[VideoFile]:
    with stage(report, "discover"):
        videos, report.other_files = discover(root, prefix)
    return videos


def _shard_file(work: Path, index: int, count: int) -> Path:
    return work / "shards" / f"of-{count}" / f"shard-{index}.json"


def index(root: Path, atlas: Path, settings: IndexSettings, labels: list[dict] | None = None,
          shard: tuple[int, int] | None = None, work_dir: Path | None = None, prefix: str = "") -> Report:
    """Index every video under ``root`` into a new bundle under ``atlas``.

    With ``shard=(i, n)`` only the extraction of every n-th video (starting at i) is done and
    recorded for :func:`merge`; no bundle is written.
    """
    with _run(settings, atlas, work_dir) as (report, work):
        return _index(root, atlas, settings, labels, shard, prefix, report, work)


def _index(root, atlas, settings, labels, shard, prefix, report: Report, work: Path) -> Report:
    videos = _discover(root, prefix, report)
    if shard is not None:
        i, n = shard
        if not (n >= 1 and 0 <= i < n):
            raise VidatlasError(f"shard {i}/{n}: need 0 <= i < n")
        videos = videos[i::n]
    report.videos = len(videos)
    extractor = Extractor(settings, work)
    with stage(report, "extract"):
        entries = extractor.run(videos, report)
    if shard is not None:
        record = {"shard": shard[0], "of": shard[1], "key": extractor.key,
                  "weights_sha256": extractor.weights_digest,
                  "videos": [{"id": v.video_id, "path": str(v.path), "hash": d} for v, d in entries],
                  "failures": [asdict(f) for f in report.failures], "warnings": report.warnings,
                  "frames": int(report.timings.get("decoded_frames", 0))}
        path = _shard_file(work, *shard)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + tag())
        tmp.write_text(json.dumps(record, indent=1))
        os.replace(tmp, path)
        return report
    bundle = build(atlas, extractor.cache, entries, settings, extractor.weights_digest,
                   labels or [], report, work)
    report.bundle = str(bundle)
    return report


def merge(atlas: Path, count: int, settings: IndexSettings, labels: list[dict] | None = None,
          work_dir: Path | None = None, wait_s: float = 0.0, poll_s: float = 10.0) -> Report:
    """Build the bundle from the records of shards ``0..count-1`` of a sharded extraction,
    waiting up to ``wait_s`` seconds for shards that have not finished yet."""
    with _run(settings, atlas, work_dir) as (report, work):
        return _merge(atlas, count, settings, labels, wait_s, poll_s, report, work)


def _merge(atlas, count, settings, labels, wait_s, poll_s, report: Report, work: Path) -> Report:
    paths = [_shard_file(work, i, count) for i in range(count)]

    def waiting() -> str:
        missing = [i for i, p in enumerate(paths) if not p.is_file()]
        return f"shard {missing[0]}/{count} has not finished (no {paths[missing[0]]}); {len(missing)} of {count} missing"
    wait_until(lambda: True if all(p.is_file() for p in paths) else None, wait_s, poll_s, waiting)
    records = [json.loads(p.read_text()) for p in paths]
    keys = {r["key"] for r in records}
    if len(keys) != 1:
        raise VidatlasError("shards were extracted with different settings or backbones", Code.FAILED_PRECONDITION)
    entries = sorted(((VideoFile(v["id"], Path(v["path"])), v["hash"]) for r in records for v in r["videos"]),
                     key=lambda e: e[0].video_id)
    report.failures = [Failure(**f) for r in records for f in r["failures"]]
    report.warnings = [w for r in records for w in r["warnings"]]
    report.videos = len(entries) + len(report.failures)
    cache = FeatureCache(work / "features", keys.pop())
    report.bundle = str(build(atlas, cache, entries, settings, records[0]["weights_sha256"], labels or [], report,
                              work))
    return report


def encode(atlas: Path, settings: IndexSettings, work_dir: Path | None = None, wait_s: float = 0.0,
           poll_s: float = 10.0) -> Report:
    """Help the merge of run ``settings.tag`` encode its frame index: wait up to ``wait_s``
    seconds for its job to be published, then encode blocks until none is left unclaimed
    (:mod:`.encoding`). Returns at once when the run's bundle is already out."""
    with _run(settings, atlas, work_dir) as (report, work):
        def job_or_bundle() -> encoding.Job | Path | None:
            job = encoding.find(work / "encode", atlas, settings.tag)
            if job is not None:
                return job
            version, found = current_run(atlas)
            return version if found == settings.tag else None
        job = wait_until(job_or_bundle, wait_s, poll_s,
                         lambda: f"no frame index to encode for run {settings.tag!r} in {work / 'encode'}")
        report.encoded_blocks = 0
        if isinstance(job, encoding.Job):  # else the run's bundle is already out
            with stage(report, "encode"), _progress(settings, total=job.blocks, unit="block",
                                                    desc="encode frame index") as bar:
                report.encoded_blocks = encoding.work_on(job, bar)
        return report


def add(root: Path, atlas: Path, settings: IndexSettings, labels: list[dict] | None = None,
        work_dir: Path | None = None, prefix: str = "") -> Report:
    """Embed the videos under ``root`` with the current bundle's frozen model and publish a new
    version holding the old videos and the new ones (a changed file under a known id replaces
    the old record; an unchanged one is skipped). No retraining: old positions do not move."""
    old = read_bundle(atlas)
    settings = _settings_of(old.manifest, settings)
    with _run(settings, atlas, work_dir) as (report, work):
        return _add(root, atlas, settings, old, labels, prefix, report, work)


def _add(root, atlas, settings, old, labels, prefix, report: Report, work: Path) -> Report:
    m = old.manifest
    videos = _discover(root, prefix, report)
    known = {v["id"]: v for v in old.content.videos}
    report.videos = len(videos)
    extractor = Extractor(settings, work)
    if extractor.key != m["extraction_key"]:
        raise VidatlasError("this backbone/sampling differs from the bundle's; re-index instead of --add",
                            Code.FAILED_PRECONDITION)
    with stage(report, "extract"):
        entries = extractor.run(videos, report)
    new = [(v, d) for v, d in entries if known.get(v.video_id, {}).get("content_hash") != d]
    replaced = {v.video_id for v, _ in new if v.video_id in known}
    if replaced:
        report.warnings.append(f"{len(replaced)} changed videos replaced: {', '.join(sorted(replaced)[:5])}")
    skipped = len(entries) - len(new)
    if skipped:
        report.warnings.append(f"{skipped} videos already in the bundle unchanged, skipped")
    c = old.content
    rows = {rec["id"]: VideoRows.of_bundle(c, i) for i, rec in enumerate(c.videos) if rec["id"] not in replaced}
    with stage(report, "embed"):
        for e in _load(extractor.cache, new, settings.sampling.fps):
            rows[e.record["id"]] = VideoRows.embedded(e, *c.model.embed(e.features()))
    labels = list(c.labels) + list(labels or [])
    manifest = {k: m[k] for k in ("backbone", "extraction_key", "sampling", "map", "training")}
    manifest["base_version"] = old.version
    manifest["run_tag"] = settings.tag
    content = _assemble([rows[k] for k in sorted(rows)], c.model, settings, labels, manifest, report)
    with stage(report, "write"):
        report.bundle = str(_write(atlas, content, settings, work))
    return report


def _settings_of(manifest: dict, settings: IndexSettings) -> IndexSettings:
    """The bundle's own sampling and map settings, with this run's machine-level choices."""
    sampling = SamplingSettings(**{"trim_bars": False, **manifest["sampling"], "decode_threads": settings.sampling.decode_threads})
    backbone = replace(settings.backbone, name=manifest["backbone"]["name"])
    known = {f.name for f in fields(MapSettings)}  # a bundle may name settings since retired
    return replace(settings, sampling=sampling, backbone=backbone,
                   map=MapSettings(**{k: v for k, v in manifest["map"].items() if k in known}))
