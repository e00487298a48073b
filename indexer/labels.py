"""Frame labels from a CSV ``video_id,time_s,label``, attached to the nearest sampled frame."""
from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path

import numpy as np

from .errors import Code, VidatlasError

log = logging.getLogger(__name__)

HEADER = ["video_id", "time_s", "label"]
ADDED = "added-labels.jsonl"  # labels added at run time (vidatlas labels add), beside the bundle versions


def parse_labels(text: str, source: str = "labels") -> list[dict]:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or [c.strip() for c in rows[0]] != HEADER:
        raise VidatlasError(f"{source}: the first line must be the header {','.join(HEADER)}")
    out = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != 3:
            raise VidatlasError(f"{source}:{line}: expected 3 columns, got {len(row)}")
        vid, t, label = (c.strip() for c in row)
        try:
            time_s = float(t)
        except ValueError:
            raise VidatlasError(f"{source}:{line}: time_s {t!r} is not a number") from None
        if not vid or not label or not np.isfinite(time_s) or time_s < 0:
            raise VidatlasError(f"{source}:{line}: needs a video id, a time >= 0 and a label")
        out.append({"video_id": vid, "time_s": time_s, "label": label})
    return out


def read_labels(path: Path) -> list[dict]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        code = Code.NOT_FOUND if isinstance(exc, FileNotFoundError) else Code.INVALID_ARGUMENT
        raise VidatlasError(f"cannot read labels {path}: {exc.strerror}", code) from None
    return parse_labels(text, str(path))


def read_added(path: Path) -> list[dict]:
    """Rows of a run-time label log (one JSON object per line); none when there is no log. A line
    that is not a whole label row (a write torn by a crash, say) is skipped with a warning."""
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return []
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            row = {"video_id": str(row["video_id"]), "time_s": float(row["time_s"]), "label": str(row["label"])}
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("%s line %d skipped, not a label row (%s): %.80s", path, n, exc, line)
            continue
        rows.append(row)
    return rows


def attach(labels: list[dict], videos: list[dict], offsets: np.ndarray, frame_time: np.ndarray
           ) -> tuple[list[dict], list[str]]:
    """Give each label (``video_id``, ``time_s``, ``label``; other keys are dropped) the row of its
    video's nearest frame; unknown videos become warnings."""
    by_id = {v["id"]: i for i, v in enumerate(videos)}
    attached, warnings = [], []
    for row in labels:
        i = by_id.get(row["video_id"])
        if i is None:
            warnings.append(f"label for unknown video {row['video_id']!r} ignored")
            continue
        a, b = int(offsets[i]), int(offsets[i + 1])
        frame = a + int(np.abs(frame_time[a:b] - row["time_s"]).argmin())
        attached.append({**{k: row[k] for k in HEADER}, "frame": frame})
    return attached, warnings
