"""A self-contained HTML viewer of a bundle's map: one file with the data, the frame sprites
(JPEG, inlined) and the script, so it opens from disk or from any static web server.

Large bundles are shown through an even subsample of each video's frames (``max_frames``);
paths are drawn through the frames shown. The most similar videos of every video are
precomputed with the same search the service runs (``similar_k``), or asked of a running
service when the page is served by ``vidatlas view --serve --server``.
"""
from __future__ import annotations

import base64
import io
import json
import sys
from dataclasses import dataclass
from importlib import resources

import numpy as np
from PIL import Image
from tqdm import tqdm

from indexer import Bundle, Code, VidatlasError
from indexer.settings import available_cores
from query import neighbours
from query.search import Searcher


@dataclass(frozen=True)
class PageSettings:
    max_frames: int = 8000      # frames in the page (each costs ~2-3 KB of JPEG)
    tile_w: int = 96            # sprite tile and on-screen tile size, pixels
    tile_h: int = 54
    similar_k: int = 5          # precomputed most similar videos per video; 0 = none
    quality: int = 80           # JPEG quality of the sprites
    title: str = "vidatlas"
    api: str | None = None      # URL path the page asks for similar videos (set when served)
    progress: bool = True

    def validate(self) -> None:
        if not 1 <= self.max_frames <= 200_000:
            raise VidatlasError("max frames must be 1..200000", Code.INVALID_ARGUMENT)
        if not (16 <= self.tile_w <= 512 and 9 <= self.tile_h <= 512):
            raise VidatlasError("tile size must be 16..512 x 9..512 pixels", Code.INVALID_ARGUMENT)
        if not 0 <= self.similar_k <= 100:
            raise VidatlasError("similar k must be 0..100", Code.INVALID_ARGUMENT)


SHEET = 32  # sprite sheets hold SHEET x SHEET tiles


def page_frames(offsets: np.ndarray, max_frames: int) -> list[np.ndarray]:
    """Frame rows shown for each video: all of them when they fit, else an even subsample of
    each video in proportion to its length (at least one frame a video)."""
    counts = np.diff(offsets)
    total = int(counts.sum())
    share = min(1.0, max_frames / max(total, 1))
    out = []
    for a, n in zip(offsets[:-1], counts):
        m = int(n) if share >= 1.0 else max(1, min(int(n), int(np.floor(n * share))))
        out.append(int(a) + np.unique(np.linspace(0, n - 1, m).round().astype(np.int64)) if n else np.zeros(0, np.int64))
    return out


def _sheets(bundle: Bundle, rows: np.ndarray, s: PageSettings, bar) -> list[str]:
    uris = []
    for start in range(0, len(rows), SHEET * SHEET):
        chunk = rows[start:start + SHEET * SHEET]
        sheet = Image.new("RGB", (SHEET * s.tile_w, int(np.ceil(len(chunk) / SHEET)) * s.tile_h))
        for k, f in enumerate(chunk):
            tile = Image.fromarray(bundle.frames[int(f)]).resize((s.tile_w, s.tile_h), Image.Resampling.LANCZOS)
            sheet.paste(tile, ((k % SHEET) * s.tile_w, (k // SHEET) * s.tile_h))
            bar.update(1)
        buf = io.BytesIO()
        sheet.save(buf, "JPEG", quality=s.quality, optimize=True)
        uris.append("data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode())
    return uris


def page_data(bundle: Bundle, s: PageSettings, searcher: Searcher | None = None) -> dict:
    s.validate()
    searcher = searcher or Searcher(bundle)
    c = bundle.content
    per_video = page_frames(c.offsets, s.max_frames)
    videos, rows = [], []
    for i, (v, frames) in enumerate(zip(c.videos, per_video)):
        frames = frames[np.argsort(searcher.frame_time[frames], kind="stable")]
        videos.append({"id": v["id"], "duration": float(v.get("duration_s") or 0.0),
                       "start": len(rows), "end": len(rows) + len(frames)})
        rows.extend(int(f) for f in frames)
    rows = np.asarray(rows, np.int64)
    progress = s.progress and sys.stderr.isatty()
    with tqdm(total=len(rows), desc="page sprites", unit="frame", file=sys.stderr, disable=not progress) as bar:
        sheets = _sheets(bundle, rows, s, bar)
    similar = None
    if s.similar_k and len(videos) > 1:
        # the service's own similar-videos table: read from <atlas>/.neighbours when a server (or an
        # earlier page) built it, else built here on every core and kept there for them
        want = min(s.similar_k, len(videos) - 1)
        table = neighbours.load_or_build(searcher, neighbours.beside_atlas(searcher),
                                         k=max(s.similar_k, neighbours.TABLE_K), workers=available_cores())
        similar = [[[int(u), round(float(score), 4)] for u, score in zip(table.videos[v, :want], table.scores[v, :want])
                    if u >= 0] for v in range(len(videos))]
    codes = searcher.codes[rows] if len(rows) else np.zeros((0, 2))
    return {
        "title": s.title, "version": bundle.version, "tile": [s.tile_w, s.tile_h],
        "sheet_cols": SHEET, "sheet_rows": SHEET, "sheets": sheets, "videos": videos,
        "x": [round(float(x), 5) for x in codes[:, 0]], "y": [round(float(y), 5) for y in codes[:, 1]],
        "t": [round(float(t), 3) for t in searcher.frame_time[rows]], "frame": rows.tolist(),
        "frames_total": int(len(c.frame_video)), "similar": similar, "similar_k": s.similar_k or 5,
        "api": s.api,
    }


def render_page(data: dict) -> str:
    """The HTML page for :func:`page_data`'s output, with styles, data and script inlined."""
    static = resources.files("viewer") / "static"
    html = (static / "viewer.html").read_text()
    # "</" would end the inline <script> early; JSON allows escaping it
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    for key, value in (("__CSS__", (static / "viewer.css").read_text()), ("__JS__", (static / "viewer.js").read_text()),
                       ("__TITLE__", _escape(data["title"])), ("__DATA__", payload)):
        html = html.replace(key, value, 1)
    return html


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
