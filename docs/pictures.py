"""Make the README's pictures from the built-in sample data (``make pictures``).

Indexes the sample videos at 3 fps (more points on the map than the demo's 1 fps) into
sample-atlas/pictures-atlas, then runs the same commands a user would:

    vidatlas map --dissimilar 9                 -> docs/map-dissimilar.png
    vidatlas map --similar trips/day3/office    -> docs/map-similar.png
    vidatlas map --colour-by cluster            -> docs/map-clusters.png
    vidatlas poster                             -> docs/poster.jpg
    vidatlas view  (+ a click, in headless Chromium) -> docs/viewer.png
"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from indexer import IndexSettings, from_env, index  # noqa: E402
from indexer.bundle import CURRENT  # noqa: E402
from indexer.samples import make_sample_collection  # noqa: E402
from vidatlas.cli import main as vidatlas  # noqa: E402
from viewer.browser import browser, open_viewer  # noqa: E402


def run(*args: str) -> None:
    print("$ vidatlas " + " ".join(args), file=sys.stderr)
    if vidatlas(list(args)) != 0:
        raise SystemExit(f"vidatlas {args[0]} failed")


def main() -> None:
    work = ROOT / "sample-atlas"
    docs = ROOT / "docs"
    atlas = work / "pictures-atlas"
    videos = make_sample_collection(work / "videos")
    if not (atlas / CURRENT).exists():
        s = from_env(IndexSettings())
        index(videos, atlas, dataclasses.replace(s, sampling=dataclasses.replace(s.sampling, fps=3.0)))
    b = ["--bundle", str(atlas)]
    run("map", *b, "--dissimilar", "9", "--out", str(docs / "map-dissimilar.png"))
    run("map", *b, "--similar", "trips/day3/office", "--k", "3", "--out", str(docs / "map-similar.png"))
    run("map", *b, "--colour-by", "cluster", "--no-strips", "--size", "1000x900", "--out", str(docs / "map-clusters.png"))
    run("poster", *b, "--tile-size", "160x90", "--out", str(docs / "poster.jpg"), "--quality", "85")
    page = work / "view.html"
    run("view", *b, "--out", str(page))
    with browser() as chromium:
        view = open_viewer(chromium, page.as_uri(), 1400, 850)
        tile = next(t for t in view.evaluate("vidatlas.tiles()") if t["video"] == "trips/day3/office")
        x, y = tile["left"] + tile["width"] / 2, tile["top"] + tile["height"] / 2
        view.mouse.click(x, y)
        view.wait_for_function("vidatlas.ready && vidatlas.state.similar.length > 0")
        view.mouse.move(x, y)  # leave the tooltip showing
        view.screenshot(path=str(docs / "viewer.png"))
    print(f"pictures written to {docs}", file=sys.stderr)


if __name__ == "__main__":
    main()
