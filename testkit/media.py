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


# Copies made the way other people's tools and uploads make them, none of which the search was
# tuned on: a frame of another aspect with black bars, the picture shrunk inside a black border or over
# other footage, blur, sensor noise, contrast and colour changes, a small rotation, burnt-in
# subtitles, slow motion, and a crop, a colour change and a logo at once. Each drawn at random
# strength and placement (``rng``).
HARD_KINDS = ("letterboxed", "windowboxed", "pip", "blurred", "noisy", "contrast", "recoloured", "rotated", "subtitled",
              "slower", "combined")


def resized(f: np.ndarray, w: int, h: int) -> np.ndarray:
    return av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24").reformat(
        width=max(2, w // 2 * 2), height=max(2, h // 2 * 2), interpolation="AREA").to_ndarray(format="rgb24")


def _box_blur(f: np.ndarray, r: int) -> np.ndarray:
    x = f.astype(np.float32)
    for axis in (0, 1):
        pad = [(0, 0)] * 3
        pad[axis] = (r, r)
        c = np.cumsum(np.pad(x, pad, mode="edge"), axis=axis, dtype=np.float32)
        c = np.concatenate([np.zeros_like(np.take(c, [0], axis=axis)), c], axis=axis)
        n = x.shape[axis]
        x = (np.take(c, np.arange(2 * r + 1, 2 * r + 1 + n), axis=axis) - np.take(c, np.arange(n), axis=axis)) / (2 * r + 1)
    return np.clip(x, 0, 255).astype(np.uint8)


def rotate(f: np.ndarray, degrees: float) -> np.ndarray:
    """``f`` rotated by ``degrees`` about the centre and zoomed just enough that no corner is empty (bilinear)."""
    h, w = f.shape[:2]
    a = np.deg2rad(degrees)
    zoom = abs(np.cos(a)) + abs(np.sin(a)) * max(w / h, h / w)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    xc, yc = (xx - w / 2) / zoom, (yy - h / 2) / zoom
    sx = np.cos(a) * xc - np.sin(a) * yc + w / 2
    sy = np.sin(a) * xc + np.cos(a) * yc + h / 2
    x0, y0 = np.clip(np.floor(sx).astype(int), 0, w - 2), np.clip(np.floor(sy).astype(int), 0, h - 2)
    fx, fy = np.clip(sx - x0, 0, 1)[..., None], np.clip(sy - y0, 0, 1)[..., None]
    g = f.astype(np.float32)
    out = (g[y0, x0] * (1 - fx) * (1 - fy) + g[y0, x0 + 1] * fx * (1 - fy)
           + g[y0 + 1, x0] * (1 - fx) * fy + g[y0 + 1, x0 + 1] * fx * fy)
    return np.clip(out, 0, 255).astype(np.uint8)


def hard_transform(frames: list[np.ndarray], kind: str, rng: np.random.Generator,
                   background: list[np.ndarray] | None = None) -> list[np.ndarray]:
    """``frames`` (RGB uint8) as a copy of one of :data:`HARD_KINDS`, strength drawn from ``rng``;
    "letterboxed" changes the frame size (a piece inside other footage cannot be), the rest keep it.
    "pip" needs ``background``: other footage, at least as many frames, that the shrunk copy is
    laid over."""
    h, w = frames[0].shape[:2]
    if kind == "letterboxed":  # into a frame of another aspect, inside black bars: a taller frame
        # (letterbox) or a wider one (pillarbox), the picture's own aspect kept
        s = float(rng.uniform(0.6, 0.85))
        fw, fh = (w, int(h / s) // 2 * 2) if rng.random() < 0.5 else (int(w / s) // 2 * 2, h)
        y, x = (fh - h) // 2, (fw - w) // 2
        out = []
        for f in frames:
            g = np.zeros((fh, fw, 3), np.uint8)
            g[y:y + h, x:x + w] = f
            out.append(g)
        return out
    if kind == "windowboxed":  # the same frame, the picture shrunk to 60-85 % inside a black border
        s = float(rng.uniform(0.6, 0.85))
        cw, ch = int(w * s) // 2 * 2, int(h * s) // 2 * 2
        y, x = (h - ch) // 2, (w - cw) // 2
        out = []
        for f in frames:
            g = np.zeros_like(f)
            g[y:y + ch, x:x + cw] = resized(f, cw, ch)
            out.append(g)
        return out
    if kind == "pip":  # shrunk to 40-65 % over other moving footage, anywhere in the picture
        if background is None or len(background) < len(frames):
            raise ValueError("pip needs background footage at least as long as the copy")
        s = float(rng.uniform(0.4, 0.65))
        cw, ch = int(w * s) // 2 * 2, int(h * s) // 2 * 2
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        out = []
        for f, b in zip(frames, background):
            g = b.copy()
            g[y:y + ch, x:x + cw] = resized(f, cw, ch)
            out.append(g)
        return out
    if kind == "blurred":
        r = int(rng.integers(1, 4))
        return [_box_blur(f, r) for f in frames]
    if kind == "noisy":
        sigma = float(rng.uniform(8, 24))
        return [np.clip(f + rng.normal(0, sigma, f.shape), 0, 255).astype(np.uint8) for f in frames]
    if kind == "contrast":  # contrast 0.45-0.8 or 1.3-1.8 about mid-grey, then a gamma of 0.6-1.6
        c = float(rng.uniform(0.45, 0.8) if rng.random() < 0.5 else rng.uniform(1.3, 1.8))
        gamma = float(rng.uniform(0.6, 1.6))
        return [(255 * (np.clip((f / 255.0 - 0.5) * c + 0.5, 0, 1) ** gamma)).astype(np.uint8) for f in frames]
    if kind == "recoloured":  # colour channels swapped, or a sepia/tinted look
        if rng.random() < 0.5:
            perm = [[1, 2, 0], [2, 0, 1], [2, 1, 0], [0, 2, 1], [1, 0, 2]][int(rng.integers(5))]
            return [np.ascontiguousarray(f[:, :, perm]) for f in frames]
        tint = rng.uniform(0.6, 1.2, 3).astype(np.float32)
        return [np.clip(f.mean(axis=2, keepdims=True) * tint + 10, 0, 255).astype(np.uint8) for f in frames]
    if kind == "rotated":
        deg = float(rng.uniform(3, 10)) * (1 if rng.random() < 0.5 else -1)
        return [rotate(f, deg) for f in frames]
    if kind == "subtitled":  # a dark band over the bottom 15-25 % with bright "letters" changing each 0.5-1 s
        bh = int(h * rng.uniform(0.15, 0.25))
        out, letters = [], None
        for i, f in enumerate(frames):
            if i % int(rng.integers(4, 9)) == 0 or letters is None:
                letters = rng.random((bh // 3, w // 4)) < 0.35
            g = f.copy()
            g[h - bh:] = (g[h - bh:] * 0.2).astype(np.uint8)
            band = np.kron(letters, np.ones((3, 4), bool))[:bh, :w]
            g[h - bh:h - bh + band.shape[0], :band.shape[1]][band] = 235
            out.append(g)
        return out
    if kind == "slower":  # 0.5x speed: every frame shown twice
        return [f for f in frames for _ in range(2)]
    if kind == "combined":  # a crop, a colour change and a logo at once
        kinds = ["cropped", "brighter", "logo"]
        out = frames
        for k in kinds:
            out = transform(out, k, rng)
        return [resized(f, w, h) for f in out]
    raise ValueError(f"unknown copy kind {kind!r}")
