"""Shared views: overlapping pans over one photograph share a view, pans over others do not, and
FindDissimilar (content) never keeps two videos that share one when it can choose otherwise."""
import numpy as np

from indexer.samples import photo
from query import content, views
from query.settings import SearchSettings

THRESHOLD = SearchSettings.view_threshold


def _pan(image: np.ndarray, start: tuple[int, int], step: tuple[int, int], frames: int = 6) -> np.ndarray:
    """Frames of a 16:9 window of 0.7 x the image moving by ``step`` pixels a frame from ``start``."""
    h, w = image.shape[:2]
    ww = int(min(w, h * 16 / 9) * 0.7)
    wh = ww * 9 // 16
    out = []
    for i in range(frames):
        y, x = start[0] + i * step[0], start[1] + i * step[1]
        crop = image[y:y + wh, x:x + ww]
        out.append(crop[:wh - wh % 2:2, :ww - ww % 2:2])  # half size, as a thumbnail would be
    return np.stack(out)


def _rgb(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)


def test_overlapping_pans_over_one_photograph_share_a_view():
    cam = _rgb(photo("camera"))
    a = _pan(cam, (0, 0), (4, 6))
    b = _pan(cam, (70, 100), (-3, 5))  # never the same window, always overlapping by half or more
    assert views.shared_view(views.views(a), views.views(b)) >= THRESHOLD


def test_pans_over_different_photographs_do_not():
    pans = {name: views.views(_pan(_rgb(photo(name)), (10, 20), (3, 5)))
            for name in ("camera", "coins", "astronaut", "chelsea", "moon")}
    names = list(pans)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert views.shared_view(pans[a], pans[b]) < THRESHOLD, (a, b)


def test_spread_chooses_again_without_a_pair_that_shares_a_view():
    rng = np.random.default_rng(0)
    cent = content._unit(rng.normal(size=(4, 32))).astype(np.float32)
    pl = content.Places(cent, np.arange(5))
    plain = {v for v, _ in content.spread(pl, 3)}
    a, b = sorted(plain)[:2]
    checked = []

    def shares(x, y):
        checked.append((x, y))
        return {x, y} == {a, b}
    chosen = {v for v, _ in content.spread(pl, 3, shares=shares)}
    assert checked and not {a, b} <= chosen and len(chosen) == 3
    assert {v for v, _ in content.spread(pl, 3, shares=shares, rounds=0)} == plain


def test_the_check_is_bounded_and_takes_the_closest_pairs_first():
    rng = np.random.default_rng(1)
    cent = content._unit(rng.normal(size=(12, 16))).astype(np.float32)
    pl = content.Places(cent, np.arange(13))
    checked = []
    chosen = [v for v, _ in content.spread(pl, 6, shares=lambda x, y: checked.append((x, y)) or False, max_checks=4)]
    assert len(checked) == 4  # of the 15 pairs of the six
    pairs = sorted(((a, b) for i, a in enumerate(chosen) for b in chosen[i + 1:]),
                   key=lambda p: -float(cent[p[0]] @ cent[p[1]]))
    assert {frozenset(p) for p in checked} == {frozenset(p) for p in pairs[:4]}
