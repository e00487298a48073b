"""Posters from the suite's indexed collection: size, tiles, nearest frames, full resolution."""
import csv
import shutil

import numpy as np
import pytest
from PIL import Image

from indexer import SamplingSettings, read_bundle
from indexer.errors import Exit
from indexer.decode import VideoReader
from vidatlas.cli import main as cli
from viewer.poster import PosterSettings, render_poster
from viewer.tiles import Window


@pytest.fixture(scope="module")
def bundle(atlas):
    return read_bundle(atlas)


def tile(image, window, r, c) -> np.ndarray:
    a = np.asarray(image)
    return a[r * window.tile_h:(r + 1) * window.tile_h, c * window.tile_w:(c + 1) * window.tile_w]


def test_poster_tiles_show_the_frame_nearest_their_centre(bundle):
    w = Window(0.05, -0.05, 1.6, cols=6, rows=5, tile_w=112, tile_h=63)
    poster = render_poster(bundle, PosterSettings(window=w, progress=False))
    assert poster.image.size == (6 * 112, 5 * 63)
    assert poster.frames.shape == (5, 6) and poster.tiles_filled > 10
    codes = np.asarray(bundle.content.codes)
    centres = w.centres()
    for r in range(5):
        for c in range(6):
            f = poster.frames[r, c]
            d = np.sqrt(((codes - centres[r, c]) ** 2).sum(1))
            if f < 0:
                assert d.min() > np.hypot(*w.step)
                assert tile(poster.image, w, r, c).max() < 20  # background
                continue
            assert d[f] == pytest.approx(d.min())  # the nearest frame ...
            expected = np.asarray(Image.fromarray(bundle.frames[int(f)]).resize((112, 63), Image.Resampling.LANCZOS))
            np.testing.assert_array_equal(tile(poster.image, w, r, c), expected)  # ... is what the tile shows


def test_a_frames_own_position_shows_that_frame(bundle):
    """Centre a one-tile window on a frame: the tile is that frame."""
    codes = np.asarray(bundle.content.codes)
    for f in (0, len(codes) // 2, len(codes) - 1):
        w = Window(float(codes[f, 0]), float(codes[f, 1]), 0.01, cols=1, rows=1, tile_w=64, tile_h=36)
        poster = render_poster(bundle, PosterSettings(window=w, progress=False))
        d = np.sqrt(((codes - codes[f]) ** 2).sum(1))
        assert d[poster.frames[0, 0]] == 0.0


def test_full_resolution_rereads_sources_and_falls_back_to_thumbnails(bundle, atlas, collection, tmp_path):
    w = Window(0, 0, 2.0, cols=4, rows=3, tile_w=320, tile_h=180)
    thumbs = render_poster(bundle, PosterSettings(window=w, progress=False))
    full = render_poster(bundle, PosterSettings(window=w, full_res=True, progress=False))
    np.testing.assert_array_equal(full.frames, thumbs.frames)
    assert not full.warnings
    c = bundle.content
    for (r, col), f in np.ndenumerate(full.frames):  # each tile is its frame decoded again at tile size
        if f < 0:
            continue
        video = c.videos[c.frame_video[f]]
        (_, rgb), = VideoReader(video["path"], SamplingSettings()).frames_at([c.frame_time[f]], 320, 180)
        np.testing.assert_array_equal(tile(full.image, w, r, col), rgb)
    # a tile of the 640x272 bikes clip at its own resolution has more detail than its 224x126 thumbnail scaled up
    rows = [f for f in range(len(c.frame_video)) if c.videos[c.frame_video[f]]["id"] == "real/bikes"]
    at = Window(*map(float, c.codes[rows[len(rows) // 2]]), width=0.05, cols=1, rows=1, tile_w=640, tile_h=360)
    sharp = lambda p: np.abs(np.diff(np.asarray(p.image, np.float64).mean(-1), axis=1)).mean()  # noqa: E731
    big = render_poster(bundle, PosterSettings(window=at, full_res=True, progress=False))
    assert big.frames[0, 0] in rows
    assert sharp(big) > 1.15 * sharp(render_poster(bundle, PosterSettings(window=at, progress=False)))
    # sources moved: found through --source-root; gone: thumbnails and a warning per video
    moved = tmp_path / "moved"
    shutil.copytree(collection, moved)
    copy = tmp_path / "atlas"
    shutil.copytree(atlas, copy, ignore=shutil.ignore_patterns(".work"))
    relocated = read_bundle(copy)
    for v in relocated.content.videos:
        v["path"] = "/nonexistent" + v["path"]
    found = render_poster(relocated, PosterSettings(window=w, full_res=True, source_root=moved, progress=False))
    assert not found.warnings
    np.testing.assert_array_equal(np.asarray(found.image), np.asarray(full.image))
    lost = render_poster(relocated, PosterSettings(window=w, full_res=True, progress=False))
    assert lost.warnings and all("not found" in m for m in lost.warnings)
    np.testing.assert_array_equal(np.asarray(lost.image), np.asarray(thumbs.image))


def test_poster_command_writes_image_and_tile_table(atlas, bundle, tmp_path, capsys):
    out, table = tmp_path / "p" / "poster.jpg", tmp_path / "tiles.csv"
    assert cli(["poster", "--bundle", str(atlas), "--out", str(out), "--tiles", "5x4", "--tile-size", "200x112",
                "--centre", "0.1,0", "--width", "1.8", "--tiles-csv", str(table), "--no-progress"]) == 0
    assert Image.open(out).size == (1000, 448)
    assert "5x4 tiles of 200x112" in capsys.readouterr().err
    rows = list(csv.DictReader(open(table)))
    w = Window(0.1, 0.0, 1.8, 5, 4, 200, 112)
    expected = render_poster(bundle, PosterSettings(window=w, progress=False)).frames
    assert len(rows) == int((expected >= 0).sum())
    c = bundle.content
    for row in rows:
        f = expected[int(row["row"]), int(row["col"])]
        assert row["video_id"] == c.videos[c.frame_video[f]]["id"]
        assert float(row["time_s"]) == pytest.approx(c.frame_time[f], abs=1e-3)
    assert cli(["poster", "--bundle", str(atlas), "--out", str(out), "--width", "-1"]) == Exit.INVALID_ARGUMENT
    assert "width" in capsys.readouterr().err
