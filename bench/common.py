"""Shared helpers for the benchmarks: machine facts and writing a section of BENCHMARKS.md."""
from __future__ import annotations

import atexit
import datetime
import os
import platform
import re
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cores} cores, {cpu}, Python {platform.python_version()}"


def scratch(prefix: str) -> Path:
    """A new temporary directory, removed when the benchmark exits (kept, and named on stderr,
    when the environment sets VIDATLAS_BENCH_KEEP=1, to look at the videos and bundles it made
    or hand them to a later run)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if os.environ.get("VIDATLAS_BENCH_KEEP", "0") not in ("", "0"):
        print(f"keeping {path}", file=sys.stderr)
    else:
        atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def table(headers: list[str], rows: list[list]) -> str:
    fmt = lambda v: f"{v:.2f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_section(name: str, body: str, path: Path = BENCHMARKS) -> None:
    """Replace (or append) the section ``## name`` of BENCHMARKS.md with ``body``, stamped with
    the exact command, the machine and the date."""
    command = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0])] + sys.argv[1:])
    stamp = f"`{command}` — {machine()} — {datetime.date.today().isoformat()}"
    section = f"## {name}\n\n{stamp}\n\n{body.strip()}\n"
    text = path.read_text() if path.exists() else "# Benchmarks\n\nEvery figure comes from the command above it, run on the machine it names.\n"
    pattern = re.compile(rf"^## {re.escape(name)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    path.write_text(text)


def peak_anonymous_kb(every_s: float = 0.05):
    """Start sampling this process's anonymous memory (RssAnon: RSS less the pages of mapped
    files) every ``every_s`` seconds; returns a function giving the peak so far, in KiB."""
    import threading
    import time
    peak = [0]

    def sample():
        while True:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        peak[0] = max(peak[0], int(line.split()[1]))
            time.sleep(every_s)
    threading.Thread(target=sample, daemon=True).start()
    return lambda: peak[0]


def frame_count(text: str) -> int:
    """A count as the benchmarks' options give it: 200k, 1M, 10M or a plain number."""
    text = text.strip().lower()
    scale = {"k": 10**3, "m": 10**6}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * scale)
