"""Decode a video with PyAV and sample thumbnails at a target rate.

Sampling follows presentation timestamps, so variable-frame-rate files and files whose declared
rate or frame count is missing or wrong are handled alike. Only what sampling needs is decoded:
when keyframes are at least as dense as the sampling interval only keyframes are decoded, and
otherwise non-reference frames are skipped whenever the interval spans several frames.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from .errors import VidatlasError
from .settings import SamplingSettings

log = logging.getLogger(__name__)

# containers that hold a still image rather than a video
_IMAGE_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "gif", "webp_pipe", "tiff_pipe")


@dataclass
class VideoInfo:
    width: int = 0
    height: int = 0
    rotation: int = 0
    codec: str = ""
    container: str = ""
    declared_duration_s: float | None = None
    duration_s: float = 0.0
    decode_mode: str = "all"
    decoded_frames: int = 0
    sampled_frames: int = 0
    warnings: list[str] = field(default_factory=list)


def fit_size(width: int, height: int, box_w: int, box_h: int) -> tuple[int, int]:
    """Largest even size with the aspect of ``width x height`` inside ``box_w x box_h``."""
    scale = min(box_w / width, box_h / height)
    w = max(2, min(box_w, int(round(width * scale / 2)) * 2))
    h = max(2, min(box_h, int(round(height * scale / 2)) * 2))
    return w, h


def letterbox(rgb: np.ndarray, box_w: int, box_h: int) -> np.ndarray:
    out = np.zeros((box_h, box_w, 3), np.uint8)
    h, w = rgb.shape[:2]
    y, x = (box_h - h) // 2, (box_w - w) // 2
    out[y:y + h, x:x + w] = rgb
    return out


class VideoReader:
    """Open a file, check it is a video we are willing to decode, and sample it.

    Raises :class:`VidatlasError` with a reason a user can act on for anything that is not a
    decodable video (missing, empty, not a media file, audio only, a still image, a declared
    frame size beyond ``max_pixels``).
    """

    def __init__(self, path: Path, settings: SamplingSettings):
        self.path = Path(path)
        self.settings = settings
        self.info = VideoInfo()
        if not self.path.is_file():
            raise VidatlasError(f"not a file: {self.path}")
        if self.path.stat().st_size == 0:
            raise VidatlasError("empty file (0 bytes)")
        try:
            self._container = av.open(str(self.path), mode="r", metadata_errors="ignore")
        except av.error.FFmpegError as exc:
            raise VidatlasError(f"not a readable video: {_reason(exc)}") from None
        try:
            self._check()
        except BaseException:
            self._container.close()
            raise

    def _check(self) -> None:
        c = self._container
        self.info.container = c.format.name
        if not c.streams.video:
            kinds = sorted({s.type for s in c.streams}) or ["no streams"]
            raise VidatlasError(f"no video stream (has {', '.join(kinds)})")
        if c.format.name in _IMAGE_FORMATS:
            raise VidatlasError(f"a still image ({c.format.name}), not a video")
        stream = c.streams.video[0]
        ctx = stream.codec_context
        w, h = ctx.width or stream.width, ctx.height or stream.height
        if not w or not h:
            raise VidatlasError("video stream declares no frame size")
        if w * h > self.settings.max_pixels:
            raise VidatlasError(
                f"declared frame size {w}x{h} exceeds the limit of {self.settings.max_pixels} pixels"
            )
        self._stream = stream
        self.info.width, self.info.height, self.info.codec = w, h, ctx.name
        if c.duration is not None and c.duration > 0:
            self.info.declared_duration_s = c.duration / av.time_base
        elif stream.duration is not None and stream.time_base is not None:
            self.info.declared_duration_s = float(stream.duration * stream.time_base)

    # -- decode planning -------------------------------------------------------------------
    def _keyframe_gap(self) -> float | None:
        """Largest gap between keyframes according to the container's index, if it has one."""
        stream = self._stream
        try:
            entries = stream.index_entries
            times = [e.timestamp for e in entries if e.is_keyframe] if entries else []
        except Exception:  # not every demuxer keeps an index
            return None
        if len(times) < 2 or stream.time_base is None:
            return None
        ts = np.asarray(sorted(times), np.float64) * float(stream.time_base)
        declared = self.info.declared_duration_s
        ends = np.append(ts, declared if declared else ts[-1])
        return float(np.max(np.diff(ends)))

    def _plan(self) -> str:
        interval = 1.0 / self.settings.fps
        rate = self._stream.guessed_rate or self._stream.average_rate
        frame_dur = 1.0 / float(rate) if rate else 1.0 / 25
        mode = self.settings.keyframes
        if mode == "always":
            return "keyframes"
        if mode == "auto":
            gap = self._keyframe_gap()
            if gap is not None and gap <= interval * 1.001:
                return "keyframes"
        # skipping non-reference frames moves a sample by at most a couple of frames
        return "reference" if interval >= 4 * frame_dur else "all"

    # -- sampling ----------------------------------------------------------------------------
    def samples(self) -> Iterator[tuple[float, np.ndarray]]:
        """Yield ``(time_s, thumbnail)`` at the sampling rate; thumbnails are letterboxed RGB."""
        s = self.settings
        stream = self._stream
        stream.thread_type = "AUTO"
        if s.decode_threads:
            stream.codec_context.thread_count = s.decode_threads
        mode = self._plan()
        self.info.decode_mode = mode
        stream.codec_context.skip_frame = {"keyframes": "NONKEY", "reference": "NONREF"}.get(mode, "DEFAULT")
        interval = 1.0 / s.fps
        start = stream.start_time * float(stream.time_base) if stream.start_time is not None else None
        next_t = 0.0
        last_t = -math.inf
        errors = 0
        index = 0
        rate = stream.guessed_rate or stream.average_rate
        try:
            for packet in self._container.demux(stream):
                try:
                    frames = packet.decode()
                except av.error.InvalidDataError:
                    errors += 1
                    if errors > 50 and self.info.sampled_frames == 0:
                        raise VidatlasError("corrupt video stream: no decodable frames") from None
                    continue
                for frame in frames:
                    index += 1
                    self.info.decoded_frames += 1
                    t = _frame_time(frame, index, rate)
                    if start is None:
                        start = t
                    t -= start
                    if t > s.max_duration_s:
                        self.info.warnings.append(f"stopped at the duration cap of {s.max_duration_s:g} s")
                        return
                    if t < next_t - 1e-6 or t <= last_t:
                        continue
                    if frame.width * frame.height > s.max_pixels:
                        raise VidatlasError(f"frame size {frame.width}x{frame.height} exceeds the pixel limit")
                    last_t = t
                    self.info.duration_s = max(self.info.duration_s, t)
                    self.info.sampled_frames += 1
                    yield t, self._thumbnail(frame)
                    next_t += interval * max(1, math.floor((t - next_t) / interval) + 1)
        except av.error.FFmpegError as exc:
            if self.info.sampled_frames == 0:
                raise VidatlasError(f"decoding failed: {_reason(exc)}") from None
            self.info.warnings.append(f"decoding stopped early: {_reason(exc)}")
        finally:
            self._container.close()
        if self.info.sampled_frames == 0:
            raise VidatlasError("no decodable video frames")
        if errors:
            self.info.warnings.append(f"{errors} undecodable packets skipped")
        declared = self.info.declared_duration_s
        if declared and declared < s.max_duration_s and self.info.duration_s < 0.9 * declared - 2 * interval:
            self.info.warnings.append(
                f"truncated: frames end at {self.info.duration_s:.1f} s of a declared {declared:.1f} s"
            )

    def _thumbnail(self, frame: av.VideoFrame) -> np.ndarray:
        s = self.settings
        rotation = int(round((frame.rotation or 0) / 90.0)) % 4
        self.info.rotation = rotation * 90
        width, height = frame.width, frame.height
        sar = frame.sample_aspect_ratio if hasattr(frame, "sample_aspect_ratio") else None
        display_w = width * float(sar) if sar and float(sar) > 0 else width
        box_w, box_h = (s.thumb_height, s.thumb_width) if rotation % 2 else (s.thumb_width, s.thumb_height)
        w, h = fit_size(display_w, height, box_w, box_h)
        rgb = frame.reformat(width=w, height=h, format="rgb24", interpolation="AREA").to_ndarray()
        if rotation:
            rgb = np.ascontiguousarray(np.rot90(rgb, k=rotation))
        return letterbox(rgb, s.thumb_width, s.thumb_height)


def _frame_time(frame: av.VideoFrame, index: int, rate) -> float:
    if frame.pts is not None and frame.time_base is not None:
        return float(frame.pts * frame.time_base)
    return (index - 1) / float(rate) if rate else float(index - 1) / 25.0


def _reason(exc: av.error.FFmpegError) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.strip().rstrip(".")


def read_samples(path: Path, settings: SamplingSettings) -> tuple[np.ndarray, np.ndarray, VideoInfo]:
    """Decode a whole file: ``(times, thumbnails, info)``. Convenience for small inputs."""
    reader = VideoReader(path, settings)
    times, thumbs = [], []
    for t, thumb in reader.samples():
        times.append(t)
        thumbs.append(thumb)
    return np.asarray(times, np.float64), np.stack(thumbs), reader.info
