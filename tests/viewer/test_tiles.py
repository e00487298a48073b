"""Tile geometry and nearest-frame choice, against brute force."""
import numpy as np
import pytest

from indexer import VidatlasError
from viewer.tiles import Window, nearest_frames


def test_window_height_keeps_square_map_units():
    w = Window(0.1, -0.2, 2.0, cols=11, rows=18, tile_w=534, tile_h=300)
    assert w.height == pytest.approx(2.0 * 5400 / 5874)
    sx, sy = w.step
    assert sx / sy == pytest.approx(534 / 300)  # a tile's map extent has its pixel aspect


def test_tile_centres_and_tile_at_agree():
    w = Window(0.3, 0.1, 1.2, cols=7, rows=5, tile_w=100, tile_h=60)
    c = w.centres()
    assert c.shape == (5, 7, 2)
    assert (np.diff(c[:, :, 0], axis=1) > 0).all()  # x grows to the right
    assert (np.diff(c[:, :, 1], axis=0) < 0).all()  # row 0 is the top: y falls going down
    for r in range(5):
        for col in range(7):
            assert w.tile_at(*c[r, col]) == (r, col)
    assert w.tile_at(0.3 + 0.61, 0.1) is None


def test_nearest_frames_match_brute_force_and_leave_gaps_empty():
    rng = np.random.default_rng(3)
    codes = rng.uniform(-0.5, 0.5, (300, 2)).astype(np.float32)  # only the middle of the window
    w = Window(0, 0, 2.0, cols=9, rows=9, tile_w=50, tile_h=50)
    filled = nearest_frames(codes, w, max_gap=None)
    centres = w.centres().reshape(-1, 2)
    brute = ((centres[:, None] - codes[None]) ** 2).sum(-1).argmin(1).reshape(9, 9)
    np.testing.assert_array_equal(filled, brute)
    gapped = nearest_frames(codes, w, max_gap=1.0)
    assert (gapped == -1).any() and (gapped[3:6, 3:6] >= 0).all()
    kept = gapped >= 0
    np.testing.assert_array_equal(gapped[kept], brute[kept])
    dist = np.sqrt(((centres - codes[brute.ravel()]) ** 2).sum(-1)).reshape(9, 9)
    diag = np.hypot(*w.step)
    assert (dist[~kept] > diag).all() and (dist[kept] <= diag).all()


@pytest.mark.parametrize("bad", [dict(width=0), dict(cols=0), dict(tile_w=4), dict(cx=float("nan")),
                                 dict(cols=1000, rows=1000, tile_w=534, tile_h=300)])
def test_bad_windows_are_refused(bad):
    with pytest.raises(VidatlasError):
        Window(**bad).validate()
