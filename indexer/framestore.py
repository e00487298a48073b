"""Thumbnails in memory-mapped uint8 files, with random access by global frame number.

A store is a list of segments, one raw file ``(n, h, w, 3)`` per video. Segments are written
once and never changed, so a new bundle version shares them with the feature cache and with
older versions through hard links instead of copies.
"""
from __future__ import annotations

import os
import shutil
from functools import lru_cache
from pathlib import Path

import numpy as np

from .debris import tag
from .errors import Code, VidatlasError


def write_segment(path: Path, thumbs: np.ndarray) -> None:
    """Write thumbnails atomically (temp file + rename)."""
    tmp = path.with_name(path.name + tag())
    mm = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=thumbs.shape)
    mm[:] = thumbs
    mm.flush()
    del mm
    os.replace(tmp, path)


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link ``src`` to ``dst``; copy when the filesystem cannot link."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


class FrameStore:
    """Read-only view over the segments of one bundle.

    ``segments`` are file names (relative to ``root``) in frame order and ``counts`` their
    frame counts; frame ``i`` of the store is found by a binary search over the offsets.
    """

    def __init__(self, root: Path, segments: list[str], counts: list[int], shape: tuple[int, int]):
        self.root = Path(root)
        self.segments = list(segments)
        self.counts = np.asarray(counts, np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)])
        self.shape = tuple(shape)
        self._open = lru_cache(maxsize=256)(self._open_segment)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def _open_segment(self, index: int) -> np.ndarray:
        path = self.root / self.segments[index]
        try:
            mm = np.load(path, mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise VidatlasError(f"frame store segment unreadable: {path}: {exc}", Code.DATA_LOSS) from None
        if mm.shape != (self.counts[index], *self.shape, 3):
            raise VidatlasError(f"frame store segment {path} has shape {mm.shape}", Code.DATA_LOSS)
        return mm

    def __getitem__(self, frame: int) -> np.ndarray:
        if not 0 <= frame < len(self):
            raise VidatlasError(f"frame {frame} out of range 0..{len(self) - 1}", Code.NOT_FOUND)
        seg = int(np.searchsorted(self.offsets, frame, side="right") - 1)
        return np.asarray(self._open(seg)[frame - self.offsets[seg]])

    def take(self, frames) -> np.ndarray:
        """Thumbnails for many frame numbers, ``(n, h, w, 3)``."""
        frames = np.asarray(frames, np.int64)
        out = np.empty((len(frames), *self.shape, 3), np.uint8)
        if len(frames) and (frames.min() < 0 or frames.max() >= len(self)):
            bad = int(frames[(frames < 0) | (frames >= len(self))][0])
            raise VidatlasError(f"frame {bad} out of range 0..{len(self) - 1}", Code.NOT_FOUND)
        seg = np.searchsorted(self.offsets, frames, side="right") - 1
        for k in np.unique(seg):  # one read per segment
            at = np.flatnonzero(seg == k)
            out[at] = self._open(int(k))[frames[at] - self.offsets[k]]
        return out
