"""Pixel signatures: the detail of small grey thumbnails, the compact picture descriptor copies
are told from other shots of the same place by (see :mod:`query.copies` for how they are compared).

The bundle stores every frame's signatures at ``CROP_SCALES`` (``pixels.npy``, float16, written by
:func:`write_signatures` from the frame store): a query reads the rows it needs instead of reading
thumbnails and computing them (about 4 us a 4x4 test frame, 1.3 ms a 224x126 frame).
"""
from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

PIXEL_BLOCK = 8  # thumbnail pixels per signature cell (224x126 thumbnails: 15 x 28 cells)
TILE_ROWS, TILE_COLS = 2, 3  # pixel agreement is a mean over the best-agreeing of these tiles (query.copies; columns
# split mirror-symmetrically): an overlay (a logo, a caption band) spoils some tiles, not the picture


CROP_SCALES = (1.0, 0.9, 0.8, 0.7)
"""Scales whose centred crops the bundle's stored signatures cover (the search's default ``crop_scales``)."""


def centred(scales: tuple[float, ...]) -> np.ndarray:
    """Windows ``(W, 4)`` = ``(top, bottom, left, right)`` as fractions of the picture: its central
    parts at ``scales``."""
    m = (1 - np.asarray(scales, np.float64)) / 2
    return np.stack([m, 1 - m, m, 1 - m], axis=1)


class Pictures:
    """Thumbnails ready to be cut at any windows: their grey summed-area tables, made once."""

    def __init__(self, thumbs: np.ndarray):
        t = np.asarray(thumbs)
        n, h, w = t.shape[:3]
        block = _block(h, w)
        self.rows, self.cols = h // block, w // block
        self.h, self.w = self.rows * block, self.cols * block
        t = t[:, :self.h, :self.w]
        if t.dtype == np.uint8:  # (three adds: numpy's sum over a last axis of 3 is several times slower)
            grey = t[..., 0].astype(np.uint16)
            grey += t[..., 1]
            grey += t[..., 2]
        else:
            grey = t.sum(axis=-1, dtype=np.float32)
        sat = np.zeros((n, self.h + 1, self.w + 1), np.float32)
        np.cumsum(np.cumsum(grey, axis=1, dtype=np.float32), axis=2, out=sat[:, 1:, 1:])
        self.sat = sat.reshape(n, -1)

    def cells(self, windows: np.ndarray, which=slice(None)) -> np.ndarray:
        """``(n, W, rows, cols)`` block means of the pictures' ``windows`` (any window costs the
        same). A window too small for the grid is the whole picture. A window may have a fifth
        column, an angle in degrees: the grid turned by it about the window's centre (what a
        copy rotated by it shows), each cell then the mean of an upright block of the cell's
        size at the cell's turned centre (within a few per cent for small angles). Where the
        blocks lie depends on the windows alone: for a read-only set of windows (one shared by
        every query) it is worked out once."""
        win = np.asarray(windows, np.float64)
        dims = (self.rows, self.cols, self.h, self.w)
        geo = _cached_blocks(win.tobytes(), win.shape, dims) if not win.flags.writeable else _blocks(win, dims)
        upright, turned, (corners, area), (c00, c01, c10, c11, turned_area) = geo
        sat = self.sat[which]  # (one gather of the pictures asked for)
        out = np.empty((len(sat), len(upright), self.rows, self.cols), np.float32)
        if upright.any():
            at = sat[:, corners]  # one flat gather
            total = at[:, :, 1:, 1:] - at[:, :, :-1, 1:] - at[:, :, 1:, :-1] + at[:, :, :-1, :-1]
            total /= area[None]
            out[:, upright] = total
        if turned.any():
            out[:, turned] = (sat[:, c11] - sat[:, c01] - sat[:, c10] + sat[:, c00]) / turned_area[None]
        return out

    def signature(self, windows: np.ndarray, which=slice(None)) -> np.ndarray:
        """``(n, W, cells)`` float16 detail of the pictures' ``windows`` (see :func:`pixel_signature`)."""
        rows, cols = self.rows, self.cols
        order, bounds, _ = tile_layout(rows, cols)
        g = high_pass(self.cells(windows, which))
        g = g.reshape(g.shape[0], g.shape[1], -1)[:, :, order]
        for a, b in zip(bounds[:-1], bounds[1:]):
            tile = g[:, :, a:b]
            tile -= tile.mean(axis=2, keepdims=True)
            tile /= np.maximum(np.sqrt((tile ** 2).sum(axis=2, keepdims=True)), 1e-3)
        return g.astype(np.float16)

    def self_agreement(self) -> np.ndarray:
        """``(n,)`` agreement of each picture's detail with its own detail moved by one cell (the
        best of the four directions; the mean of the tiles' normalised cross-correlations): how much
        a framing one cell off still agrees. Near 1 for smooth, self-similar pictures (a colour
        wheel, a gradient), where other shots of the same place agree almost as well as a copy;
        low for pictures whose detail lines up only in place."""
        cy, cx = 1.0 / self.rows, 1.0 / self.cols
        windows = np.array([(cy, 1 - cy, cx, 1 - cx), (0, 1 - 2 * cy, cx, 1 - cx), (2 * cy, 1, cx, 1 - cx),
                            (cy, 1 - cy, 0, 1 - 2 * cx), (cy, 1 - cy, 2 * cx, 1)])
        sig = self.signature(windows).astype(np.float32)
        _, bounds, _ = tile_layout(self.rows, self.cols)
        dots = np.einsum("nc,nwc->nw", sig[:, 0], sig[:, 1:]) / (len(bounds) - 1)  # each tile is unit-norm
        return dots.max(axis=1)


def high_pass(g: np.ndarray) -> np.ndarray:
    """Block means ``g`` (``(..., rows, cols)`` float32) minus the mean of their 3x3 neighbourhood,
    the grid's edges repeated outward: a signature's detail, in place."""
    pad = [(0, 0)] * (g.ndim - 2) + [(1, 1), (1, 1)]
    p = np.pad(g, pad, mode="edge")
    p = p[..., :-2, :] + p[..., 1:-1, :] + p[..., 2:, :]  # 3x3 box sums, one axis at a time
    g -= (p[..., :-2] + p[..., 1:-1] + p[..., 2:]) / 9
    return g


def _blocks(windows: np.ndarray, dims: tuple[int, int, int, int]) -> tuple:
    """Where :meth:`Pictures.cells` reads each window's blocks in a summed-area table of a
    ``(h, w)`` picture cut into ``rows x cols`` cells: which windows are upright and which turned,
    the upright ones' block corners (flat indices) and block areas, and the turned ones' four
    corners and areas."""
    rows, cols, h, w = dims
    given = np.asarray(windows, np.float64)
    win = np.zeros((given.size // given.shape[-1], 5))  # (an upright window's angle is 0)
    win[:, :given.shape[-1]] = given.reshape(len(win), -1)
    turned = win[:, 4] != 0
    up = win[~turned, :4].copy()
    small = ((up[:, 1] - up[:, 0]) * h / rows < 1) | ((up[:, 3] - up[:, 2]) * w / cols < 1)
    up[small] = (0.0, 1.0, 0.0, 1.0)
    steps_r, steps_c = np.arange(rows + 1) / rows, np.arange(cols + 1) / cols
    ys = np.round(h * (up[:, :1] + steps_r[None] * (up[:, 1:2] - up[:, :1]))).astype(np.int64)
    xs = np.round(w * (up[:, 2:3] + steps_c[None] * (up[:, 3:4] - up[:, 2:3]))).astype(np.int64)
    corners = ys[:, :, None] * (w + 1) + xs[:, None, :]
    area = np.maximum(np.diff(ys, axis=1)[:, :, None] * np.diff(xs, axis=1)[:, None, :], 1).astype(np.float32)
    tw = win[turned]
    top, bottom, left, right = (tw[:, i, None, None] for i in range(4))
    ch, cw = (bottom - top) * h / rows, (right - left) * w / cols  # a cell, in pixels
    dy = ((np.arange(rows)[:, None] + 0.5) - rows / 2) * ch  # offsets from the window's centre
    dx = ((np.arange(cols)[None, :] + 0.5) - cols / 2) * cw
    a = np.deg2rad(tw[:, 4])[:, None, None]
    cy = (top + bottom) / 2 * h + np.sin(a) * dx + np.cos(a) * dy
    cx = (left + right) / 2 * w + np.cos(a) * dx - np.sin(a) * dy
    y0 = np.clip(np.round(cy - ch / 2), 0, h).astype(np.int64)
    y1 = np.clip(np.round(cy + ch / 2), 0, h).astype(np.int64)
    x0 = np.clip(np.round(cx - cw / 2), 0, w).astype(np.int64)
    x1 = np.clip(np.round(cx + cw / 2), 0, w).astype(np.int64)
    turned_corners = (y0 * (w + 1) + x0, y0 * (w + 1) + x1, y1 * (w + 1) + x0, y1 * (w + 1) + x1)
    turned_area = np.maximum((y1 - y0) * (x1 - x0), 1).astype(np.float32)
    return ~turned, turned, (corners, area), (*turned_corners, turned_area)


@functools.lru_cache(maxsize=16)
def _cached_blocks(data: bytes, shape: tuple, dims: tuple[int, int, int, int]) -> tuple:
    return _blocks(np.frombuffer(data, np.float64).reshape(shape), dims)


@functools.lru_cache(maxsize=8)
def tile_layout(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells in tile order (``order``: grid cell of each signature position), each tile's first
    position (``bounds``), and the signature position of each cell's mirror image (``mirror``)."""
    def split(size: int, parts: int) -> np.ndarray:
        return np.round(np.linspace(0, size, parts + 1)).astype(np.int64)
    ry, cx = split(rows, TILE_ROWS), split(cols, TILE_COLS)
    grid = np.arange(rows * cols).reshape(rows, cols)
    tiles = [grid[ry[i]:ry[i + 1], cx[j]:cx[j + 1]].ravel() for i in range(TILE_ROWS) for j in range(TILE_COLS)]
    order = np.concatenate(tiles)
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    mirrored = grid[:, ::-1].ravel()  # the cell a mirror image puts at each grid cell
    mirror = position[mirrored[order]]
    return order, np.r_[0, np.cumsum([len(x) for x in tiles])], mirror


def pixel_signature(thumbs: np.ndarray, scales: tuple[float, ...] = (1.0,), windows: np.ndarray | None = None) -> np.ndarray:
    """``(n, W, cells)`` float16 *detail* of RGB thumbnails, of the whole picture and of its
    central parts at ``scales`` (what a crop of the picture would show), or of any ``windows``
    (:func:`crop_windows`): grey block means minus their 3x3 neighbourhood mean (a high-pass), in
    tile order, zero-mean and unit-norm within each tile. Detail moves with the picture: another
    shot of the same place (other framing, a pan over a smooth gradient) keeps its broad shading
    but not its detail at the same cells, while a copy keeps both, whatever its brightness,
    contrast, colour or scale."""
    return Pictures(thumbs).signature(centred(scales) if windows is None else windows)


def signatures_and_self(thumbs: np.ndarray, scales: tuple[float, ...] = (1.0,)) -> tuple[np.ndarray, np.ndarray]:
    """:func:`pixel_signature` and :meth:`Pictures.self_agreement` of ``thumbs``, from one
    summed-area table (making it is most of the cost of either)."""
    pictures = Pictures(thumbs)
    return pictures.signature(centred(scales)), pictures.self_agreement()


def _block(height: int, width: int) -> int:
    """Thumbnail pixels per signature cell: ``PIXEL_BLOCK``, or 1 for tiny thumbnails (every pixel a cell)."""
    return PIXEL_BLOCK if min(height, width) >= PIXEL_BLOCK else 1


def signature_grid(thumb_height: int, thumb_width: int) -> tuple[int, int]:
    """The ``(rows, cols)`` of signatures made from thumbnails of this size."""
    block = _block(thumb_height, thumb_width)
    return thumb_height // block, thumb_width // block


def write_signatures(path: Path, frames, scales: tuple[float, ...] = CROP_SCALES, chunk: int = 2048,
                     workers: int = 1, self_path: Path | None = None) -> None:
    """Every frame's signatures at ``scales`` into the ``.npy`` file ``path`` (float16), and with
    ``self_path`` its :meth:`Pictures.self_agreement` into that one (float16), read and computed
    ``chunk`` frames at a time from the frame store ``frames``, by ``workers`` threads (numpy lets
    go of the GIL for most of it)."""
    rows, cols = signature_grid(*frames.shape)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(len(frames), len(scales), rows * cols))
    selfs = None if self_path is None else \
        np.lib.format.open_memmap(self_path, mode="w+", dtype=np.float16, shape=(len(frames),))

    def one(a: int) -> None:
        b = min(a + chunk, len(frames))
        out[a:b], own = signatures_and_self(frames.take(np.arange(a, b)), scales)
        if selfs is not None:
            selfs[a:b] = own

    with ThreadPoolExecutor(max(1, workers)) as pool:
        list(pool.map(one, range(0, len(frames), chunk)))
    out.flush()  # (the mappings close as the function returns: the bundle renames the files after)
    if selfs is not None:
        selfs.flush()
