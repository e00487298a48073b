"""Temporary names for atomic writes, and sweeping what a killed writer left behind.

Every temporary file or directory carries ``~<host>.<pid>~`` in its name. A later run removes
the ones whose writer is gone: same host and that process no longer alive, or (for writers on
other machines sharing the volume) older than a day.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import time
from pathlib import Path

_TAG = re.compile(r"~(?P<host>[^~/]+)\.(?P<pid>\d+)~")
STALE_S = 24 * 3600


def tag() -> str:
    return f"~{socket.gethostname()}.{os.getpid()}~"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _abandoned(path: Path, now: float) -> bool:
    m = _TAG.search(path.name)
    if not m:
        return False
    if m["host"] == socket.gethostname() and int(m["pid"]) != os.getpid():
        return not _alive(int(m["pid"]))
    try:
        return now - path.lstat().st_mtime > STALE_S
    except FileNotFoundError:
        return False


def sweep(root: Path) -> list[Path]:
    """Remove abandoned temporaries under ``root``; returns what was removed."""
    root = Path(root)
    if not root.is_dir():
        return []
    now = time.time()
    removed = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in list(dirnames) + filenames:
            path = Path(dirpath) / name
            if _TAG.search(name) and _abandoned(path, now):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                    dirnames.remove(name)
                else:
                    path.unlink(missing_ok=True)
                removed.append(path)
    return removed
