"""A rectangular window onto the 2-D map cut into tiles, and the frame nearest each tile's centre.

The map's y axis points up, image rows go down: row 0 of a tiled picture is the top of the
window. Map units are square, so the window's height follows from its width and the tile grid.
"""
from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

from indexer import Code, VidatlasError


@dataclass(frozen=True)
class Window:
    """``cols x rows`` tiles of ``tile_w x tile_h`` pixels over a map window centred at
    ``(cx, cy)`` that is ``width`` map units wide (the stretched map fills the unit disk)."""

    cx: float = 0.0
    cy: float = 0.0
    width: float = 2.0
    cols: int = 11
    rows: int = 18
    tile_w: int = 534
    tile_h: int = 300

    def validate(self) -> None:
        if not (np.isfinite(self.cx) and np.isfinite(self.cy) and np.isfinite(self.width)) or self.width <= 0:
            raise VidatlasError(f"window centre must be finite and width > 0, got {self}", Code.INVALID_ARGUMENT)
        if not (1 <= self.cols <= 1000 and 1 <= self.rows <= 1000):
            raise VidatlasError(f"tile grid {self.cols}x{self.rows} outside 1..1000", Code.INVALID_ARGUMENT)
        if not (8 <= self.tile_w <= 8192 and 8 <= self.tile_h <= 8192):
            raise VidatlasError(f"tile size {self.tile_w}x{self.tile_h} outside 8..8192", Code.INVALID_ARGUMENT)
        if self.pixels > 400_000_000:
            raise VidatlasError(f"picture of {self.pixels / 1e6:.0f} megapixels is too large (max 400)",
                                Code.INVALID_ARGUMENT)

    @property
    def pixels(self) -> int:
        return self.cols * self.tile_w * self.rows * self.tile_h

    @property
    def height(self) -> float:
        """Window height in map units (square units: tiles keep their pixel aspect)."""
        return self.width * (self.rows * self.tile_h) / (self.cols * self.tile_w)

    @property
    def step(self) -> tuple[float, float]:
        return self.width / self.cols, self.height / self.rows

    def centres(self) -> np.ndarray:
        """``(rows, cols, 2)`` map positions of the tile centres, row 0 at the top."""
        sx, sy = self.step
        x = self.cx - self.width / 2 + (np.arange(self.cols) + 0.5) * sx
        y = self.cy + self.height / 2 - (np.arange(self.rows) + 0.5) * sy
        return np.stack(np.meshgrid(x, y), axis=-1)

    def tile_at(self, x: float, y: float) -> tuple[int, int] | None:
        """``(row, col)`` of the tile holding map position ``(x, y)``, or None outside."""
        sx, sy = self.step
        col = int(np.floor((x - (self.cx - self.width / 2)) / sx))
        row = int(np.floor(((self.cy + self.height / 2) - y) / sy))
        return (row, col) if 0 <= row < self.rows and 0 <= col < self.cols else None


def nearest_frames(codes: np.ndarray | faiss.Index, window: Window, max_gap: float | None = 1.0) -> np.ndarray:
    """``(rows, cols)`` frame row nearest each tile centre, ``-1`` where the nearest frame lies
    more than ``max_gap`` tile diagonals away (empty map there); ``max_gap=None`` fills every tile."""
    index = codes if isinstance(codes, faiss.Index) else _flat(codes)
    if index.ntotal == 0:
        return np.full((window.rows, window.cols), -1, np.int64)
    centres = np.ascontiguousarray(window.centres().reshape(-1, 2), np.float32)
    d2, rows = index.search(centres, 1)
    rows = rows[:, 0].astype(np.int64)
    if max_gap is not None:
        sx, sy = window.step
        rows[np.sqrt(np.maximum(d2[:, 0], 0)) > max_gap * np.hypot(sx, sy)] = -1
    return rows.reshape(window.rows, window.cols)


def _flat(codes: np.ndarray) -> faiss.Index:
    index = faiss.IndexFlatL2(2)
    index.add(np.ascontiguousarray(codes, np.float32))
    return index
