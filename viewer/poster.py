"""The seed's poster (its Figure 9): the map window tiled with frames, each tile showing the frame
nearest its centre. Thumbnails come from the frame store; ``full_res`` re-reads the chosen frames
from the source videos instead, for prints larger than the stored thumbnails allow."""
from __future__ import annotations

import logging
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from indexer import Bundle, SamplingSettings, VidatlasError
from indexer.settings import available_cores
from indexer.decode import VideoReader

from .tiles import Window, nearest_frames

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PosterSettings:
    window: Window = Window()
    max_gap: float | None = 1.0
    """Leave a tile empty when the nearest frame is more than this many tile diagonals from its
    centre (None: always fill)."""
    full_res: bool = False
    """Decode the chosen frames from the source videos at tile size instead of scaling thumbnails."""
    source_root: Path | None = None
    """Where to look for source videos that are no longer at their indexed path."""
    background: tuple[int, int, int] = (16, 16, 16)
    progress: bool = True


@dataclass
class Poster:
    image: Image.Image
    frames: np.ndarray                 # (rows, cols) frame row shown in each tile, -1 empty
    window: Window
    warnings: list[str] = field(default_factory=list)

    @property
    def tiles_filled(self) -> int:
        return int((self.frames >= 0).sum())


def render_poster(bundle: Bundle, settings: PosterSettings = PosterSettings()) -> Poster:
    w = settings.window
    w.validate()
    frames = nearest_frames(bundle.indexes["frames_codes"], w, settings.max_gap)
    image = Image.new("RGB", (w.cols * w.tile_w, w.rows * w.tile_h), settings.background)
    wanted = sorted({int(f) for f in frames.ravel() if f >= 0})
    bar = tqdm(total=len(wanted), desc="poster tiles", unit="frame", file=sys.stderr,
               disable=not (settings.progress and sys.stderr.isatty()))
    warnings: list[str] = []
    pictures = _full_res(bundle, wanted, settings, bar, warnings) if settings.full_res else {}
    for f in wanted:
        if f not in pictures:
            thumb = Image.fromarray(bundle.frames[f])
            pictures[f] = thumb.resize((w.tile_w, w.tile_h), Image.Resampling.LANCZOS)
            if not settings.full_res:
                bar.update(1)
    bar.close()
    for (r, c), f in np.ndenumerate(frames):
        if f >= 0:
            image.paste(pictures[int(f)], (c * w.tile_w, r * w.tile_h))
    return Poster(image, frames, w, warnings)


def source_path(video: dict, source_root: Path | None) -> Path | None:
    """The source file of an indexed video: its indexed path, else ``source_root/<id><suffix>``."""
    path = Path(video["path"])
    if path.is_file():
        return path
    if source_root is not None:
        moved = Path(source_root) / (video["id"] + path.suffix)
        if moved.is_file():
            return moved
    return None


def _full_res(bundle: Bundle, wanted: list[int], settings: PosterSettings, bar, warnings) -> dict[int, Image.Image]:
    """Chosen frames decoded from their source videos at tile size, several videos at once;
    videos that are gone or fail are reported in ``warnings`` and left to the thumbnails."""
    c = bundle.content
    w = settings.window
    by_video: dict[int, list[int]] = defaultdict(list)
    for f in wanted:
        by_video[int(c.frame_video[f])].append(f)

    def one(v: int, rows: list[int]) -> dict[int, Image.Image]:
        video = c.videos[v]
        path = source_path(video, settings.source_root)
        if path is None:
            warnings.append(f"{video['id']}: source video {video['path']} not found; used thumbnails")
            bar.update(len(rows))
            return {}
        times = {float(c.frame_time[f]): f for f in rows}
        out = {}
        try:
            with VideoReader(path, SamplingSettings()) as reader:
                for t, rgb in reader.frames_at(list(times), w.tile_w, w.tile_h):
                    out[times[t]] = Image.fromarray(rgb)
                    bar.update(1)
        except VidatlasError as exc:
            warnings.append(f"{video['id']}: {path}: {exc}; used thumbnails")
            bar.update(len(rows) - len(out))
        return out

    out: dict[int, Image.Image] = {}
    with ThreadPoolExecutor(max(1, min(len(by_video), available_cores()))) as pool:  # FFmpeg decodes without the GIL
        for done in pool.map(lambda item: one(*item), sorted(by_video.items())):
            out.update(done)
    warnings.sort()
    for text in warnings:
        log.warning("%s", text)
    return out
