"""The sha256 of a file, read in blocks: a backbone's weights and every file of a bundle."""
from __future__ import annotations

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
