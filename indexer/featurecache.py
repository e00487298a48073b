"""Per-video results of the expensive stage (decode + backbone), cached on disk.

An entry is keyed by the video's content hash under a directory named for everything that
changes the result (sampling settings, backbone, weights digest). An interrupted run restarts
where it stopped, a renamed or moved file is not decoded again, and shards of a distributed run
share one cache on a common volume. Entries are written atomically: the ``.npz`` (written last)
marks a complete entry.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .debris import tag
from .framestore import write_segment

_CHUNK = 1 << 20


def content_hash(path: Path) -> str:
    """A digest of the file's size and its first, middle and last MiB (whole file when small)."""
    size = path.stat().st_size
    h = hashlib.blake2b(digest_size=16)
    h.update(str(size).encode())
    with open(path, "rb") as f:
        if size <= 3 * _CHUNK:
            h.update(f.read())
        else:
            for offset in (0, size // 2 - _CHUNK // 2, size - _CHUNK):
                f.seek(offset)
                h.update(f.read(_CHUNK))
    return h.hexdigest()


@dataclass
class CachedVideo:
    content_hash: str
    times: np.ndarray
    features: np.ndarray | None
    thumbs_path: Path
    info: dict
    pixel_stats: np.ndarray


class FeatureCache:
    def __init__(self, root: Path, key: str):
        self.dir = Path(root) / key
        self.dir.mkdir(parents=True, exist_ok=True)

    def _paths(self, digest: str) -> tuple[Path, Path]:
        return self.dir / f"{digest}.npz", self.dir / f"{digest}.thumbs.npy"

    def has(self, digest: str) -> bool:
        meta, thumbs = self._paths(digest)
        return meta.is_file() and thumbs.is_file()

    def put(self, digest: str, times: np.ndarray, features: np.ndarray, thumbs: np.ndarray, info: dict,
            pixel_stats: np.ndarray) -> None:
        meta, thumbs_path = self._paths(digest)
        write_segment(thumbs_path, thumbs)
        _write_meta(meta, times=times.astype(np.float64), features=features.astype(np.float32),
                    pixel_stats=pixel_stats.astype(np.float32), info=_info_bytes(info))

    def update_info(self, digest: str, changes: dict) -> None:
        """Add ``changes`` to an entry's info."""
        meta, _ = self._paths(digest)
        with np.load(meta) as z:
            members = dict(z)
        members["info"] = _info_bytes({**json.loads(members["info"].tobytes().decode()), **changes})
        _write_meta(meta, **members)

    def get(self, digest: str, features: bool = True) -> CachedVideo:
        """An entry; without ``features`` (None) its backbone features, 5 KB a frame, stay on disk."""
        meta, thumbs_path = self._paths(digest)
        with np.load(meta) as z:  # an npz reads only the members asked for
            return CachedVideo(digest, z["times"], z["features"] if features else None, thumbs_path,
                               json.loads(z["info"].tobytes().decode()), z["pixel_stats"])

    def features(self, digest: str) -> np.ndarray:
        with np.load(self._paths(digest)[0]) as z:
            return z["features"]


def _info_bytes(info: dict) -> np.ndarray:
    return np.frombuffer(json.dumps(info).encode(), np.uint8)


def _write_meta(meta: Path, **members: np.ndarray) -> None:
    """An entry's arrays, written atomically (temp file + rename)."""
    tmp = meta.with_name(meta.name + f"{tag()}.npz")
    np.savez(tmp, **members)
    os.replace(tmp, meta)
