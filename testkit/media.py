"""Media for tests and benchmarks, made here with PyAV: copy transformations, degenerate videos
(noise, flashes) and hostile files."""
from pathlib import Path

import av
import numpy as np


def write_audio_only(path: Path) -> Path:
    """An AAC track in an mp4 container, with no video stream."""
    with av.open(str(path), "w", format="mp4") as c:
        s = c.add_stream("aac", rate=44100)
        for i in range(10):
            f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            f.sample_rate, f.pts = 44100, i * 1024
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def write_huge_y4m(path: Path) -> Path:
    """A YUV4MPEG2 file declaring a 16000x16000 frame (256 Mpixel), followed by a few bytes."""
    path.write_bytes(b"YUV4MPEG2 W16000 H16000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(4096))
    return path


# The copy transformations a FindSimilar must survive. One definition, used by the suite and by
# bench/quality.py, so both measure the same "copies".
KINDS = ("reencoded", "greyscale", "downscaled", "cropped", "brighter", "logo", "faster", "mirrored")


def transform(frames: list[np.ndarray], kind: str, rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """``frames`` (RGB uint8) as a copy of the given kind; "faster" drops every other frame (2x
    speed at the same frame rate), "reencoded" returns them unchanged (the re-encode is the copy).
    Without ``rng`` each kind has one fixed strength; with it, the strength and placement are
    drawn at random (crops of 3-20 % per side, off-centre; a logo of 3-12 % of the picture in
    any corner, in any colour; gain 0.75-1.35 and offset -30..40; downscaling to 35-70 %)."""
    h, w = frames[0].shape[:2]
    if kind == "greyscale":
        return [np.repeat(f.mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8) for f in frames]
    if kind == "mirrored":
        return [np.ascontiguousarray(f[:, ::-1]) for f in frames]
    if kind == "downscaled":
        s = 0.5 if rng is None else float(rng.uniform(0.35, 0.7))
        size = dict(width=max(16, int(w * s)) // 2 * 2, height=max(16, int(h * s)) // 2 * 2)
        return [av.VideoFrame.from_ndarray(f, format="rgb24").reformat(**size).to_ndarray(format="rgb24")
                for f in frames]
    if kind == "brighter":
        gain, offset = (1.2, 30) if rng is None else (float(rng.uniform(0.75, 1.35)), float(rng.uniform(-30, 40)))
        return [np.clip(f.astype(np.int16) * gain + offset, 0, 255).astype(np.uint8) for f in frames]
    if kind == "logo":  # an opaque box: yellow in the top-left corner, 7 % of the picture, unless drawn at random
        if rng is None:
            y, x, bh, bw, colour = h // 27, w // 48, round(h * 0.222), round(w * 0.3125), (250, 250, 20)
        else:
            area = float(rng.uniform(0.03, 0.12))
            aspect = float(rng.uniform(0.7, 2.0))
            bh, bw = min(h, round(np.sqrt(area * h * w / aspect))), min(w, round(np.sqrt(area * h * w * aspect)))
            y = int(rng.integers(0, h // 20 + 1)) if rng.random() < 0.5 else h - bh - int(rng.integers(0, h // 20 + 1))
            x = int(rng.integers(0, w // 20 + 1)) if rng.random() < 0.5 else w - bw - int(rng.integers(0, w // 20 + 1))
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        out = [f.copy() for f in frames]
        for f in out:
            f[y:y + bh, x:x + bw] = colour
        return out
    if kind == "faster":
        return frames[::2]
    if kind == "cropped":  # about 11 % off the top and bottom, 10 % off the sides, unless drawn at random
        if rng is None:
            top = bottom = h // 9
            left = right = round(w * 0.104)
        else:
            top, bottom = (int(h * rng.uniform(0.03, 0.2)) for _ in range(2))
            left, right = (int(w * rng.uniform(0.03, 0.2)) for _ in range(2))
        return [np.ascontiguousarray(f[top:h - bottom, left:w - right]) for f in frames]
    if kind == "reencoded":
        return list(frames)
    raise ValueError(f"unknown copy kind {kind!r}")


def noise_frames(rng: np.random.Generator, size: tuple[int, int], count: int):
    """White noise pictures (``size`` = width, height)."""
    return (rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8) for _ in range(count))


def flash_frames(colours, size: tuple[int, int], count: int):
    """Whole-picture colour flashes cycling through ``colours``."""
    return (np.full((size[1], size[0], 3), colours[k % len(colours)], np.uint8) for k in range(count))


def write_odd_videos(root: Path, size: tuple[int, int] = (192, 108), fps: int = 8, seed: int = 7,
                     names: tuple[str, str] = ("c/noise", "c/flash")) -> None:
    """A noise video and a flashing-colour video: footage an anomaly score must flag."""
    from indexer.samples import write_video
    rng = np.random.default_rng(seed)
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0), (255, 0, 255)]
    write_video(root / f"{names[0]}.mp4", noise_frames(rng, size, 6 * fps), fps=fps)
    write_video(root / f"{names[1]}.mp4", flash_frames(colours, size, 6 * fps), fps=fps)
