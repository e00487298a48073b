"""Keeping stdout for our own output while FAISS's C++ talks.

FAISS prints notes with ``printf``: ``OnDiskInvertedLists`` "resizing <file> to <n> bytes" when
lists are joined on disk, and "IO_FLAG_ONDISK_SAME_DIR: updating ondisk filename …" when such an
index is read. On stdout they would corrupt ``vidatlas index --json`` and every other command
whose stdout is data, so they are sent to stderr, where logs go.
"""
from __future__ import annotations

import ctypes
import os
import sys
from contextlib import contextmanager


@contextmanager
def to_stderr():
    """Within the block, whatever C code writes to stdout goes to stderr (file descriptor 1 is
    pointed at 2, and C's buffered stdout flushed before it is pointed back)."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(2, 1)
    except (OSError, ValueError):  # no stdout or stderr to speak of (a daemon): nothing to protect
        yield
        return
    try:
        yield
    finally:
        ctypes.CDLL(None).fflush(None)
        os.dup2(saved, 1)
        os.close(saved)
