"""Thumbnails in raw uint8 ``.npy`` files, with random access by global frame number (positioned
reads of just the frames asked for).

A store is a list of segments, one raw file ``(n, h, w, 3)`` per video. Segments are written
once and never changed, so a new bundle version shares them with the feature cache and with
older versions through hard links instead of copies.
"""
from __future__ import annotations

import functools
import io
import os
import shutil
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


@functools.lru_cache(maxsize=4096)
def _header(shape: tuple[int, ...]) -> bytes:
    """The ``.npy`` header :func:`write_segment` writes for uint8 frames of ``shape``."""
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": "|u1", "fortran_order": False, "shape": shape})
    return out.getvalue()


READ_GAP = 16 << 10
"""Bytes of unwanted frames a read may span to save another read."""


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
        self._checked: dict[int, int] = {}  # segment -> byte offset of its frames, header checked

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def _data_offset(self, index: int, fd: int) -> int:
        """Where segment ``index``'s frames start in its file, after checking its header once."""
        offset = self._checked.get(index)
        if offset is None:
            path = self.root / self.segments[index]
            expected = _header((int(self.counts[index]), *self.shape, 3))
            start = os.pread(fd, 4096, 0)
            # the header this store writes, byte for byte (a parse costs 10x: a first query
            # touches dozens of segments); anything else, e.g. another numpy's spacing, is parsed
            head = io.BytesIO(start)
            if start.startswith(expected):
                head.seek(len(expected))
            else:
                self._parse_header(index, head)
            offset = head.tell()
            if os.fstat(fd).st_size != offset + self.frame_bytes * int(self.counts[index]):
                raise VidatlasError(f"frame store segment {path} is truncated", Code.DATA_LOSS)
            self._checked[index] = offset
        return offset

    def _parse_header(self, index: int, head: io.BytesIO) -> None:
        """Check a header this store did not write byte for byte (DATA_LOSS if it is not our frames)."""
        path = self.root / self.segments[index]
        try:
            version = np.lib.format.read_magic(head)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read(head)
        except ValueError as exc:
            raise VidatlasError(f"frame store segment unreadable: {path}: {exc}", Code.DATA_LOSS) from None
        if shape != (self.counts[index], *self.shape, 3) or dtype != np.uint8 or fortran:
            raise VidatlasError(f"frame store segment {path} has shape {shape} ({dtype})", Code.DATA_LOSS)

    def _read(self, index: int, rows: np.ndarray, out: np.ndarray) -> None:
        """Frames ``rows`` (sorted, unique) of segment ``index`` into ``out``: one read per run of
        frames (near-consecutive, see ``READ_GAP``), no mapping (opening and mapping a segment costs 15x a few reads)."""
        path = self.root / self.segments[index]
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise VidatlasError(f"frame store segment unreadable: {path}: {exc}", Code.DATA_LOSS) from None
        try:
            base = self._data_offset(index, fd)
            flat = out.reshape(len(rows), -1)
            # frames closer than READ_GAP bytes apart are read together (a read costs more than
            # skipping a few small thumbnails)
            gap = max(READ_GAP // self.frame_bytes, 0) + 1
            starts = np.r_[0, np.flatnonzero(np.diff(rows) > gap) + 1]
            for a, b in zip(starts, np.r_[starts[1:], len(rows)]):
                first, span = int(rows[a]), int(rows[b - 1] - rows[a]) + 1
                size = span * self.frame_bytes
                data = os.pread(fd, size, base + first * self.frame_bytes)
                if len(data) != size:
                    raise VidatlasError(f"frame store segment {path} is truncated", Code.DATA_LOSS)
                flat[a:b] = np.frombuffer(data, np.uint8).reshape(span, -1)[rows[a:b] - first]
        finally:
            os.close(fd)

    @property
    def frame_bytes(self) -> int:
        return self.shape[0] * self.shape[1] * 3

    def __getitem__(self, frame: int) -> np.ndarray:
        return self.take([frame])[0]

    def take(self, frames) -> np.ndarray:
        """Thumbnails for many frame numbers, ``(n, h, w, 3)``."""
        frames = np.asarray(frames, np.int64).reshape(-1)
        if len(frames) and (frames.min() < 0 or frames.max() >= len(self)):
            bad = int(frames[(frames < 0) | (frames >= len(self))][0])
            raise VidatlasError(f"frame {bad} out of range 0..{len(self) - 1}", Code.NOT_FOUND)
        wanted, back = np.unique(frames, return_inverse=True)
        got = np.empty((len(wanted), *self.shape, 3), np.uint8)
        seg = np.searchsorted(self.offsets, wanted, side="right") - 1
        heads = np.r_[0, np.flatnonzero(np.diff(seg)) + 1] if len(wanted) else np.zeros(0, np.int64)
        for a, b in zip(heads, np.r_[heads[1:], len(wanted)]):  # one open per segment
            k = int(seg[a])
            self._read(k, wanted[a:b] - self.offsets[k], got[a:b])
        if len(wanted) == len(frames) and (wanted == frames).all():
            return got  # asked in order, each once: no second copy
        return got[back.reshape(-1)]
