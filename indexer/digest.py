"""The sha256 of a file, read in blocks: a backbone's weights and every file of a bundle."""
from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path


def file_digest(path: Path, keep_cached: bool = True) -> str:
    """The file's sha256; with ``keep_cached`` False, each block read is dropped from the page
    cache again (unless a process has it mapped), so that checking a large bundle while it
    serves does not push the pages its queries use out of a memory-limited pod."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        at = 0
        while block := f.read(1 << 22):
            h.update(block)
            if not keep_cached:
                os.posix_fadvise(f.fileno(), at, len(block), os.POSIX_FADV_DONTNEED)
            at += len(block)
    return h.hexdigest()


def weights_digest(path: Path) -> str:
    """:func:`file_digest` of a backbone's weights file, read once per process for as long as its
    size and modification time stay the same: a run keys its feature cache on it before any work,
    and the backbone, built in its own thread, names its weights by it again."""
    st = os.stat(path)
    return _digest_of(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _digest_of(path: str, size: int, mtime_ns: int) -> str:
    return file_digest(Path(path))
