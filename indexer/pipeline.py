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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .backbone import Backbone
from .bundle import BundleContent, read_bundle, write_bundle
from .decode import VideoReader
from .discover import VideoFile, discover
from .debris import sweep, tag
from .errors import Code, VidatlasError
from .featurecache import FeatureCache, content_hash
from .labels import attach
from .mapmodel import MapModel
from .paths import fingerprints
from .pixelstats import pixel_stats
from .settings import IndexSettings, available_cores

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

    @property
    def exit_code(self) -> int:
        """0 when everything was indexed, 3 when some videos failed (the rest was indexed)."""
        return 3 if self.failures else 0

    def summary(self) -> str:
        t = self.timings
        wall = t.get("total", 0.0)
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


def _decode_piece(path: Path, sampling, start: float, end: float | None):
    t0 = time.perf_counter()
    reader = VideoReader(path, sampling)
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
        self.backbone = Backbone(settings.backbone)
        self.key = settings.extraction_key(self.backbone.weights_digest)
        self.cache = FeatureCache(Path(work_dir) / "features", self.key)

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
        s = self.settings.sampling
        workers = s.decode_workers or available_cores()
        sampling = replace(s, decode_threads=s.decode_threads or (1 if workers > 1 else 0))
        pool = ThreadPoolExecutor(workers, thread_name_prefix="vidatlas-decode")

        def pieces():
            for v, digest in todo:
                try:
                    reader = VideoReader(v.path, sampling)
                    bounds = reader.segments(sampling.segment_s)
                    reader.close()
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
        self.cache.put(piece.digest, times[keep], np.concatenate(acc.feats)[keep], thumbs, info, pixel_stats(thumbs))
        report.decoded += 1
        report.timings["decoded_frames"] = report.timings.get("decoded_frames", 0) + len(keep)
        report.timings["decoded_video_seconds"] = (
            report.timings.get("decoded_video_seconds", 0) + _span(times[keep], self.settings.sampling.fps))
        return True


def _span(times: np.ndarray, fps: float) -> float:
    return float(times[-1] - times[0]) + 1.0 / fps if len(times) else 0.0


# -- building ---------------------------------------------------------------------------------

def _load(cache: FeatureCache, entries: list[tuple[VideoFile, str]], fps: float):
    videos, times, feats, thumbs, stats = [], [], [], [], []
    for v, digest in entries:
        c = cache.get(digest)
        info = c.info
        videos.append({
            "id": v.video_id, "path": str(v.path), "content_hash": digest, "frames": int(len(c.times)),
            "duration_s": _span(c.times, fps),
            **{k: info.get(k) for k in ("width", "height", "rotation", "codec", "decode_mode", "warnings")},
        })
        times.append(c.times)
        feats.append(c.features)
        thumbs.append(c.thumbs_path)
        stats.append(c.pixel_stats)
    return videos, times, feats, thumbs, stats


def _assemble(videos, times, reduced, codes, errors, stats, thumbs, model, settings, labels, manifest, report):
    frame_video = np.concatenate([np.full(len(t), i, np.int32) for i, t in enumerate(times)])
    frame_time = np.concatenate(times).astype(np.float64)
    offsets = np.concatenate([[0], np.cumsum([len(t) for t in times])])
    fps = fingerprints(offsets, frame_time, codes, settings.map.fingerprint_len)
    attached, warnings = attach(labels, videos, offsets, frame_time)
    report.warnings += warnings
    manifest["failures"] = [asdict(f) for f in report.failures]
    return BundleContent(
        videos=videos, frame_video=frame_video, frame_time=frame_time, codes=codes, features=reduced,
        recon_error=errors, pixel_stats=np.concatenate(stats).astype(np.float32), fingerprints=fps,
        model=model, thumbs=thumbs,
        thumb_shape=(settings.sampling.thumb_height, settings.sampling.thumb_width),
        labels=attached, manifest=manifest)


def _manifest(settings: IndexSettings, key: str, weights_digest: str, model: MapModel) -> dict:
    return {
        "backbone": {"name": settings.backbone.name, "weights_sha256": weights_digest},
        "extraction_key": key,
        "sampling": asdict(settings.sampling),
        "map": asdict(settings.map),
        "training": model.training,
    }


def build(atlas: Path, cache: FeatureCache, entries: list[tuple[VideoFile, str]], settings: IndexSettings,
          weights_digest: str, labels: list[dict], report: Report) -> Path:
    """Train the map on every cached video in ``entries`` and write a new bundle version."""
    if not entries:
        raise VidatlasError("no video could be indexed; nothing to build", Code.FAILED_PRECONDITION)
    videos, times, feats, thumbs, stats = _load(cache, entries, settings.sampling.fps)
    all_feats = np.concatenate(feats)
    bar = _progress(settings, total=None, unit="step", desc="train map")
    with stage(report, "train"):
        def on_step(step, total, loss):
            bar.total = total
            bar.n = step
            bar.set_postfix(loss=f"{loss:.3f}")
            bar.refresh()
        model = MapModel.fit(all_feats, settings.map, on_step)
        bar.close()
    with stage(report, "embed"):
        reduced, codes, errors = model.embed(all_feats)
    report.frames = len(all_feats)
    report.video_seconds = float(sum(v["duration_s"] for v in videos))
    content = _assemble(videos, times, reduced, codes, errors, stats, thumbs, model, settings, labels,
                        _manifest(settings, cache.dir.name, weights_digest, model), report)
    with stage(report, "write"):
        return write_bundle(atlas, content)


def _work_dir(atlas: Path, work_dir: Path | None) -> Path:
    """The work directory, after sweeping what killed runs left in it and in the atlas."""
    work = Path(work_dir) if work_dir else Path(atlas) / ".work"
    for root in {Path(atlas), work}:
        for path in sweep(root):
            log.warning("removed %s left by an interrupted run", path)
    return work


def _shard_file(work: Path, index: int, count: int) -> Path:
    return work / "shards" / f"of-{count}" / f"shard-{index}.json"


def index(root: Path, atlas: Path, settings: IndexSettings, labels: list[dict] | None = None,
          shard: tuple[int, int] | None = None, work_dir: Path | None = None, prefix: str = "") -> Report:
    """Index every video under ``root`` into a new bundle under ``atlas``.

    With ``shard=(i, n)`` only the extraction of every n-th video (starting at i) is done and
    recorded for :func:`merge`; no bundle is written.
    """
    settings.validate()
    report = Report()
    total = time.perf_counter()
    work = _work_dir(atlas, work_dir)
    with stage(report, "discover"):
        videos, report.other_files = discover(root, prefix)
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
                  "weights_sha256": extractor.backbone.weights_digest,
                  "videos": [{"id": v.video_id, "path": str(v.path), "hash": d} for v, d in entries],
                  "failures": [asdict(f) for f in report.failures], "warnings": report.warnings,
                  "frames": int(report.timings.get("decoded_frames", 0))}
        path = _shard_file(work, *shard)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + tag())
        tmp.write_text(json.dumps(record, indent=1))
        os.replace(tmp, path)
        report.timings["total"] = time.perf_counter() - total
        return report
    bundle = build(atlas, extractor.cache, entries, settings, extractor.backbone.weights_digest,
                   labels or [], report)
    report.bundle = str(bundle)
    report.timings["total"] = time.perf_counter() - total
    return report


def merge(atlas: Path, count: int, settings: IndexSettings, labels: list[dict] | None = None,
          work_dir: Path | None = None, wait_s: float = 0.0, poll_s: float = 10.0) -> Report:
    """Build the bundle from the records of shards ``0..count-1`` of a sharded extraction,
    waiting up to ``wait_s`` seconds for shards that have not finished yet."""
    settings.validate()
    report = Report()
    total = time.perf_counter()
    work = _work_dir(atlas, work_dir)
    paths = [_shard_file(work, i, count) for i in range(count)]
    deadline = time.monotonic() + wait_s
    while True:
        missing = [i for i, p in enumerate(paths) if not p.is_file()]
        if not missing:
            break
        if time.monotonic() >= deadline:
            raise VidatlasError(f"shard {missing[0]}/{count} has not finished (no {paths[missing[0]]}); "
                                f"{len(missing)} of {count} missing", Code.FAILED_PRECONDITION)
        log.warning("waiting for %d of %d shards", len(missing), count)
        time.sleep(min(poll_s, max(0.0, deadline - time.monotonic())))
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
    bundle = build(atlas, cache, entries, settings, records[0]["weights_sha256"], labels or [], report)
    report.bundle = str(bundle)
    report.timings["total"] = time.perf_counter() - total
    return report


def add(root: Path, atlas: Path, settings: IndexSettings, labels: list[dict] | None = None,
        work_dir: Path | None = None, prefix: str = "") -> Report:
    """Embed the videos under ``root`` with the current bundle's frozen model and publish a new
    version holding the old videos and the new ones (a changed file under a known id replaces
    the old record; an unchanged one is skipped). No retraining: old positions do not move."""
    report = Report()
    total = time.perf_counter()
    old = read_bundle(atlas)
    m = old.manifest
    settings = _settings_of(m, settings)
    work = _work_dir(atlas, work_dir)
    with stage(report, "discover"):
        videos, report.other_files = discover(root, prefix)
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
    vids, times, feats, thumbs, stats = _load(extractor.cache, new, settings.sampling.fps)
    with stage(report, "embed"):
        parts = [old.content.model.embed(f) for f in feats]
    c = old.content
    off = c.offsets
    rows = {}  # id -> (record, times, reduced, codes, errors, thumbs, pixel stats)
    for i, rec in enumerate(c.videos):
        if rec["id"] in replaced:
            continue
        a, b = off[i], off[i + 1]
        rows[rec["id"]] = (rec, c.frame_time[a:b], np.asarray(c.features[a:b]), c.codes[a:b],
                           c.recon_error[a:b], c.thumbs[i], c.pixel_stats[a:b])
    for rec, t, (red, cod, err), th, st in zip(vids, times, parts, thumbs, stats):
        rows[rec["id"]] = (rec, t, red, cod, err, th, st)
    order = sorted(rows)
    cols = list(zip(*(rows[k] for k in order)))
    report.frames = int(sum(len(t) for t in cols[1]))
    report.video_seconds = float(sum(r["duration_s"] for r in cols[0]))
    labels = list(old.content.labels) + list(labels or [])
    manifest = {k: m[k] for k in ("backbone", "extraction_key", "sampling", "map", "training")}
    manifest["failures"] = []
    manifest["base_version"] = old.version
    content = _assemble(list(cols[0]), list(cols[1]), np.concatenate(cols[2]), np.concatenate(cols[3]),
                        np.concatenate(cols[4]), list(cols[6]), list(cols[5]), old.content.model, settings,
                        [{k: lb[k] for k in ("video_id", "time_s", "label")} for lb in labels], manifest, report)
    with stage(report, "write"):
        report.bundle = str(write_bundle(atlas, content))
    report.timings["total"] = time.perf_counter() - total
    return report


def _settings_of(manifest: dict, settings: IndexSettings) -> IndexSettings:
    """The bundle's own sampling and map settings, with this run's machine-level choices."""
    from dataclasses import replace

    from .settings import MapSettings, SamplingSettings
    sampling = SamplingSettings(**{**manifest["sampling"], "decode_threads": settings.sampling.decode_threads})
    backbone = replace(settings.backbone, name=manifest["backbone"]["name"])
    return replace(settings, sampling=sampling, backbone=backbone, map=MapSettings(**manifest["map"]))
