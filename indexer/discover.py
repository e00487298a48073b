"""Find the videos under a folder and give each its stable id."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import Code, VidatlasError

VIDEO_EXTENSIONS = frozenset(
    ".mp4 .m4v .mov .mkv .webm .avi .mpg .mpeg .ts .mts .m2ts .flv .wmv .3gp .ogv .y4m .mxf .dv".split()
)


@dataclass(frozen=True)
class VideoFile:
    video_id: str
    path: Path


def video_id(root: Path, path: Path, prefix: str = "") -> str:
    """The path relative to the indexed root, without extension, '/'-separated."""
    rel = PurePosixPath(*path.relative_to(root).parts)
    return prefix + str(rel.with_suffix(""))


def discover(root: Path, prefix: str = "") -> tuple[list[VideoFile], int]:
    """Videos under ``root`` sorted by id, and the number of other files passed over.

    A single file may be given instead of a folder. Hidden files and folders are skipped.
    """
    root = Path(root)
    if root.is_file():
        return [VideoFile(prefix + root.stem, root)], 0
    if not root.is_dir():
        raise VidatlasError(f"no such folder: {root}", Code.NOT_FOUND)
    found: dict[str, VideoFile] = {}
    others = 0
    for path in sorted(root.rglob("*")):
        if any(part.startswith(".") for part in path.relative_to(root).parts) or not path.is_file():
            continue
        if path.suffix.lower() not in VIDEO_EXTENSIONS:
            others += 1
            continue
        vid = video_id(root, path, prefix)
        if vid in found:
            raise VidatlasError(f"two files give the id {vid!r}: {found[vid].path.name} and {path.name}")
        found[vid] = VideoFile(vid, path)
    return [found[k] for k in sorted(found)], others
