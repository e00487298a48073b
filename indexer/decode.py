"""Decode a video with PyAV and sample thumbnails at a target rate.

Sampling follows presentation timestamps, so variable-frame-rate files and files whose declared
rate or frame count is missing or wrong are handled alike. Only what sampling needs is decoded:
when keyframes are at least as dense as the sampling interval only keyframes are decoded, and
otherwise non-reference frames are skipped whenever the interval spans several frames, and every
B-frame where the encoder's settings show that no other kind of frame refers to one.
"""
from __future__ import annotations

import logging
import math
import re
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
# the settings string x264 writes into a stream's first frame (an SEI message)
_X264 = re.compile(rb"x264 - core \d+.{0,200}? - options: ([ -~]*)", re.DOTALL)
_SKIP = {"keyframes": "NONKEY", "reference": "NONREF", "anchors": "BIDIR"}
# elementary streams without timestamps: a frame's time is its count, so no frame may be skipped
_UNTIMED_FORMATS = ("h264", "hevc", "vvc", "mpegvideo", "m4v", "h263", "cavsvideo")


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


BAR_LEVEL = 32        # a bar's pixels are at most this bright in every channel (video black is 16 -> 0)
BAR_SPILL = 0.02      # share of a bar row or column's pixels allowed above it (compression ringing)
BAR_MIN = 0.03        # a bar is at least this share of the picture's height or width
BAR_KEEP = 0.45       # and what is left at least this share of each (else: a dark or faded picture)


def bars(rgb: np.ndarray) -> tuple[int, int, int, int]:
    """Rows at the top and bottom and columns at the left and right of ``rgb`` that are black
    bars baked into the picture, as ``(top, bottom, left, right)``. Bars are near-black in every
    channel from the edge inwards and come in pairs of about the same size (the picture centred
    in a frame of another aspect, or shrunk inside a border); a dark sky, a shadow at one edge or a
    fade to black are not bars, and no cut leaves less than ``BAR_KEEP`` of the picture."""
    h, w = rgb.shape[:2]
    lit = rgb.max(axis=2) > BAR_LEVEL

    def pair(dark: np.ndarray) -> tuple[int, int]:
        if dark.all():
            return 0, 0
        a, b = int(np.argmin(dark)), int(np.argmin(dark[::-1]))
        if min(a, b) < BAR_MIN * len(dark) or max(a, b) > 2 * min(a, b) + 2:
            return 0, 0
        return a, b

    top, bottom = pair(lit.mean(axis=1) <= BAR_SPILL)
    left, right = pair(lit.mean(axis=0) <= BAR_SPILL)
    if h - top - bottom < BAR_KEEP * h or w - left - right < BAR_KEEP * w:
        return 0, 0, 0, 0
    return top, bottom, left, right


def trim_bars(rgb: np.ndarray, box_w: int, box_h: int) -> np.ndarray:
    """``rgb`` (already fitted into the box) without its baked-in black bars, fitted again."""
    top, bottom, left, right = bars(rgb)
    if not (top or bottom or left or right):
        return rgb
    return refit(rgb[top:rgb.shape[0] - bottom, left:rgb.shape[1] - right], box_w, box_h)


def refit(part: np.ndarray, box_w: int, box_h: int) -> np.ndarray:
    """A part of a fitted picture, scaled (aspect kept) to fit the box again."""
    w, h = fit_size(part.shape[1], part.shape[0], box_w, box_h)
    return av.VideoFrame.from_ndarray(np.ascontiguousarray(part), format="rgb24").reformat(
        width=w, height=h, interpolation="BICUBIC").to_ndarray(format="rgb24")


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

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- decode planning -------------------------------------------------------------------
    def _keyframes(self) -> np.ndarray | None:
        """Keyframe times (s, relative to the stream start) from the container's index, if any."""
        stream = self._stream
        try:
            entries = stream.index_entries
            times = [e.timestamp for e in entries if e.is_keyframe] if entries else []
        except Exception:  # not every demuxer keeps an index
            return None
        if len(times) < 2 or stream.time_base is None or stream.start_time is None:
            return None
        return (np.asarray(sorted(times), np.float64) - stream.start_time) * float(stream.time_base)

    def _plan(self) -> str:
        interval = 1.0 / self.settings.fps
        frame_dur = self._frame_dur()
        mode = self.settings.keyframes
        if self._container.format.name in _UNTIMED_FORMATS:
            return "all"
        if mode == "always":
            return "keyframes"
        keys = self._keyframes()
        if mode == "auto" and keys is not None:
            declared = self.info.declared_duration_s
            gap = float(np.max(np.diff(np.append(keys, declared if declared else keys[-1]))))
            if gap <= interval * 1.001:
                return "keyframes"
        if interval < 4 * frame_dur:
            return "all"
        # skipping non-reference frames moves a sample by at most a couple of frames; skipping
        # every B-frame by at most a run of them, kept within a quarter of the interval
        if self.settings.skip_b_frames and _b_frames_skippable(self._x264_options(), frame_dur, interval):
            return "anchors"
        return "reference"

    def _frame_dur(self) -> float:
        """A frame's duration from the stream's declared rate (1/25 s when it declares none)."""
        rate = self._stream.guessed_rate or self._stream.average_rate
        return 1.0 / float(rate) if rate else 1.0 / 25

    def _x264_options(self) -> dict[str, str]:
        """The encoder's settings when x264 made the stream (it writes them into the first frame),
        as name -> value; empty for any other encoder or codec.

        With ``ref=1`` (x264's presets superfast and veryfast) skipping every B-frame loses nothing
        an I- or P-frame needs: x264 orders a P-frame's references by distance in display order
        and keeps the nearest, which is the previous I- or P-frame (a B-frame kept as a reference,
        b-pyramid, lies before that one). Measured (2026-12-07): the I- and P-frames of such a
        stream decode bit-identical either way, while at ``ref=3`` (preset medium) most came out
        corrupt, unflagged by FFmpeg: so the decoder must be told, not left to find out."""
        if self.info.codec != "h264":
            return {}
        try:
            with av.open(str(self.path), mode="r", metadata_errors="ignore") as c:
                first = next((p for p in c.demux(c.streams.video[0]) if p.size), None)
                data = bytes(first) if first is not None else b""
        except (av.error.FFmpegError, OSError):
            return {}
        return _x264_settings(data)

    def segments(self, length_s: float) -> list[tuple[float, float | None]]:
        """Split the video at keyframes into pieces of about ``length_s`` seconds that can be
        decoded independently (and in parallel): ``[(start, end), ..., (start, None)]``.

        Depends only on the file, so every machine splits a video the same way.
        """
        keys = self._keyframes()
        duration = min(self.info.declared_duration_s or 0.0, self.settings.max_duration_s)
        if keys is None or duration < 1.5 * length_s:
            return [(0.0, None)]
        cuts = []
        for target in np.arange(length_s, duration - length_s / 2, length_s):
            k = float(keys[np.abs(keys - target).argmin()])
            if k > (cuts[-1] if cuts else 0.0) + length_s / 2 and k < duration - length_s / 4:
                cuts.append(k)
        bounds = [0.0, *cuts]
        return [(a, b) for a, b in zip(bounds, cuts + [None])]

    # -- sampling ----------------------------------------------------------------------------
    def samples(self, start: float = 0.0, end: float | None = None) -> Iterator[tuple[float, np.ndarray]]:
        """Yield ``(time_s, thumbnail)`` at the sampling rate; thumbnails are letterboxed RGB.

        A sample is the first decoded frame at or after each multiple of ``1/fps``. With
        ``start``/``end`` (keyframe times from :meth:`segments`) only the samples for targets in
        ``[start, end)`` are produced; the last piece (``end=None``) runs the end-of-file checks.
        """
        s = self.settings
        stream = self._stream
        if s.decode_threads:
            stream.codec_context.thread_count = s.decode_threads
            stream.thread_type = "AUTO" if s.decode_threads > 1 else "SLICE"
        else:
            stream.thread_type = "AUTO"
        # FFmpeg's non-bit-exact speed-ups (the same thumbnails here, measured: 8-10 % less decoding CPU)
        stream.codec_context.options = {"flags2": "+fast", **({"skip_loop_filter": "all"} if s.skip_deblock else {})}
        mode = self._plan()
        self.info.decode_mode = mode
        stream.codec_context.skip_frame = _SKIP.get(mode, "DEFAULT")
        interval = 1.0 / s.fps
        origin = stream.start_time * float(stream.time_base) if stream.start_time is not None else None
        if start > 0:
            self._container.seek(int(round((start + (origin or 0.0)) / float(stream.time_base))),
                                 stream=stream, backward=True)
        next_t = math.ceil(start * s.fps - 1e-6) * interval
        last_t = -math.inf
        errors = 0
        index = 0
        rate = stream.guessed_rate or stream.average_rate
        try:
            for packet in self._container.demux(stream):
                if mode == "anchors" and packet.is_keyframe:
                    # another x264 encode joined on (stream copy): its own settings from here on
                    joined = _x264_settings(bytes(packet))
                    if joined and not _b_frames_skippable(joined, self._frame_dur(), interval):
                        mode = self.info.decode_mode = "reference"
                        stream.codec_context.skip_frame = _SKIP[mode]
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
                    if origin is None:
                        origin = t
                    t -= origin
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
                    next_t = next_tick(next_t, t, interval)
                    if end is not None and next_t >= end - 1e-6:
                        return
        except av.error.FFmpegError as exc:
            if self.info.sampled_frames == 0 and end is None and start == 0:
                raise VidatlasError(f"decoding failed: {_reason(exc)}") from None
            self.info.warnings.append(f"decoding stopped early: {_reason(exc)}")
        finally:
            self._container.close()
        if errors:
            self.info.warnings.append(f"{errors} undecodable packets skipped")
        if end is not None:
            return
        if self.info.sampled_frames == 0 and start == 0:
            raise VidatlasError("no decodable video frames")
        declared = self.info.declared_duration_s
        if declared and declared < s.max_duration_s and self.info.duration_s < 0.9 * declared - 2 * interval:
            self.info.warnings.append(
                f"truncated: frames end at {self.info.duration_s:.1f} s of a declared {declared:.1f} s"
            )

    def frames_at(self, times, box_w: int, box_h: int) -> Iterator[tuple[float, np.ndarray]]:
        """Full-quality frames at given presentation times (seconds from the stream start, as the
        sampler reported them), each fitted into ``box_w x box_h`` and letterboxed: for re-reading
        frames at a higher resolution than the stored thumbnails. Yields ``(time, rgb)`` in time
        order, one per requested time: the first frame at or after it (the last frame for times
        past the end).

        Decodes as little as it can: it seeks whenever a keyframe lies between the current
        position and the next time (or, without a keyframe index, when that is over 4 s ahead),
        and skips non-reference frames until a packet at or after the wanted time arrives, so
        the wanted frame itself is always decoded.
        """
        stream = self._stream
        ctx = stream.codec_context
        stream.thread_type = "AUTO"
        tb = float(stream.time_base)
        origin = stream.start_time * tb if stream.start_time is not None else 0.0
        keys = self._keyframes()
        want = {"t": 0.0}

        def decoded():
            for packet in self._container.demux(stream):
                if packet.pts is not None:
                    skip = "DEFAULT" if packet.pts * tb - origin >= want["t"] - 1e-3 else "NONREF"
                    if ctx.skip_frame != skip:
                        ctx.skip_frame = skip
                yield from packet.decode()

        frames, last, position = None, None, -math.inf
        try:
            for target in sorted(float(t) for t in times):
                want["t"] = target
                ahead = (keys is not None and bool(((keys > position + 1e-3) & (keys <= target + 1e-3)).any())) \
                    or (keys is None and target > position + 4.0)
                if frames is None or target < position - 1e-3 or ahead:
                    self._container.seek(int(round((max(target, 0.0) + origin) / tb)), stream=stream, backward=True)
                    frames, last = decoded(), None
                found = last if last is not None and position >= target - 1e-3 else None
                while found is None:
                    frame = next(frames, None)
                    if frame is None:
                        break
                    last = frame
                    position = float(frame.pts * frame.time_base) - origin if frame.pts is not None else position
                    if position >= target - 1e-3:
                        found = frame
                if found is None and last is None:
                    raise VidatlasError(f"no frame at {target:.3f} s")
                yield target, self._fit(found if found is not None else last, box_w, box_h)
                if found is None:
                    frames = None
        except av.error.FFmpegError as exc:
            raise VidatlasError(f"decoding failed: {_reason(exc)}") from None
        finally:
            self._container.close()

    def _fit(self, frame: av.VideoFrame, box_w: int, box_h: int) -> np.ndarray:
        """``frame`` as RGB, rotated and fitted (display aspect kept) into a letterboxed box."""
        rotation = int(round((frame.rotation or 0) / 90.0)) % 4
        self.info.rotation = rotation * 90
        sar = frame.sample_aspect_ratio if hasattr(frame, "sample_aspect_ratio") else None
        display_w = frame.width * float(sar) if sar and float(sar) > 0 else frame.width
        bw, bh = (box_h, box_w) if rotation % 2 else (box_w, box_h)
        w, h = fit_size(display_w, frame.height, bw, bh)
        rgb = frame.reformat(width=w, height=h, format="rgb24", interpolation="AREA").to_ndarray()
        if rotation:
            rgb = np.ascontiguousarray(np.rot90(rgb, k=rotation))
        if self.settings.trim_bars:
            rgb = trim_bars(rgb, box_w, box_h)
        return letterbox(rgb, box_w, box_h)

    def _thumbnail(self, frame: av.VideoFrame) -> np.ndarray:
        return self._fit(frame, self.settings.thumb_width, self.settings.thumb_height)


def _x264_settings(data: bytes) -> dict[str, str]:
    """The settings string x264 writes into the first frame of an encode, found in ``data`` (a
    packet's bytes), as name -> value; empty when there is none."""
    found = _X264.search(data)
    return dict(kv.split("=", 1) for kv in found.group(1).decode().split() if "=" in kv) if found else {}


def _b_frames_skippable(opts: dict[str, str], frame_dur: float, interval: float) -> bool:
    """Whether x264 settings ``opts`` make every B-frame skippable (see
    :meth:`VideoReader._x264_options`) for samples every ``interval`` s of frames ``frame_dur`` s
    long: one reference frame, progressive, and a run of B-frames within a quarter of the interval."""
    b_run = int(opts["bframes"]) if opts.get("bframes", "").isdigit() else 0
    return opts.get("ref") == "1" and opts.get("interlaced") == "0" and 0 < b_run \
        and 4 * (b_run + 1) * frame_dur <= interval


def next_tick(tick: float, t: float, interval: float) -> float:
    """The sampling tick after a frame at ``t`` was taken for ``tick``: the first multiple of
    ``interval`` past ``t``, and always past ``tick`` (a frame a hair before its tick counts)."""
    return tick + interval * max(1, math.floor((t - tick) / interval) + 1)


def _frame_time(frame: av.VideoFrame, index: int, rate) -> float:
    if frame.pts is not None and frame.time_base is not None:
        return float(frame.pts * frame.time_base)
    return (index - 1) / float(rate) if rate else float(index - 1) / 25.0


def _reason(exc: av.error.FFmpegError) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.strip().rstrip(".")


def read_samples(path: Path, settings: SamplingSettings) -> tuple[np.ndarray, np.ndarray, VideoInfo]:
    """Decode a whole file: ``(times, thumbnails, info)``. Convenience for small inputs."""
    with VideoReader(path, settings) as reader:
        times, thumbs = [], []
        for t, thumb in reader.samples():
            times.append(t)
            thumbs.append(thumb)
        return np.asarray(times, np.float64), np.stack(thumbs), reader.info
