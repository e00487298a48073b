"""Shared views: overlapping pans over one photograph share a view, pans over others do not, and
FindDissimilar (content) never keeps two videos that share one when it can choose otherwise."""
import numpy as np
import pytest

from indexer import VidatlasError
from indexer.decode import read_samples
from indexer.insets import INDEX_WINDOW, insets
from indexer.samples import pan, photo, write_video
from indexer.settings import SamplingSettings
from query import content, views
from query.settings import SearchSettings
from testkit.media import hard_transform

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


def _window_pan(image: np.ndarray, xs, y: int = 100, width: int = 200) -> np.ndarray:
    """Frames of a ``width`` x ``width * 9 / 16`` window at each left edge of ``xs`` (half size)."""
    h = width * 9 // 16
    return np.stack([image[y:y + h, x:x + width][::2, ::2] for x in xs])


def test_a_cut_starts_a_new_run_and_a_pan_stays_one():
    cam, coins = _rgb(photo("camera")), _rgb(photo("coins"))
    pan = views.views(_window_pan(cam, range(0, 300, 30)))
    assert len(set(views.runs(pan, THRESHOLD))) == 1
    cut = views.views(np.concatenate([_window_pan(cam, range(0, 120, 30)), _window_pan(coins, range(0, 120, 30))]))
    assert list(views.runs(cut, THRESHOLD)) == [0] * 4 + [1] * 4


def _links(videos: dict[int, np.ndarray], bridges=lambda a, c: [2]) -> views.Links:
    prepared = {v: views.views(frames) for v, frames in videos.items()}
    return views.Links(prepared.__getitem__, bridges, THRESHOLD)


def test_two_pans_over_far_apart_parts_of_a_photograph_share_it_through_a_third():
    cam = _rgb(photo("camera"))
    left, right = _window_pan(cam, range(0, 40, 10)), _window_pan(cam, range(270, 310, 10))
    across = _window_pan(cam, range(0, 310, 30))  # one long pan over both parts
    links = _links({0: left, 1: right, 2: across})
    assert views.shared_view(views.views(left), views.views(right)) < THRESHOLD  # no view in common
    assert links.shares(0, 1) and links.shares(1, 0)
    assert not _links({0: left, 1: right, 2: across}, bridges=lambda a, c: []).shares(0, 1)


def test_a_bridge_across_a_cut_links_nothing():
    cam, coins = _rgb(photo("camera")), _rgb(photo("coins"))
    left, other = _window_pan(cam, range(0, 40, 10)), _window_pan(coins, range(100, 140, 10))
    # the third video shows both, one after the other: each shares a view with it, not with each other
    both = np.concatenate([_window_pan(cam, range(0, 120, 30)), _window_pan(coins, range(60, 180, 30))])
    links = _links({0: left, 1: other, 2: both})
    assert links.shares(0, 2) and links.shares(1, 2)
    assert not links.shares(0, 1)


def test_the_farthest_from_a_query_leave_out_one_that_shares_a_view_with_it():
    rng = np.random.default_rng(2)
    cent = content._unit(rng.normal(size=(8, 16))).astype(np.float32)
    pl = content.Places(cent, np.arange(9))
    q = cent[:1]
    plain = [v for v, _ in content.farthest(pl, q, 3, exclude=0)]
    sharing = plain[0]  # the farthest by features, yet it shows a part of the query's place
    checked = []

    def shares(v):
        checked.append(v)
        return v == sharing
    far = content.farthest(pl, q, 3, exclude=0, shares=shares)
    assert sharing not in [v for v, _ in far] and len(far) == 3 and set(checked) >= {v for v, _ in far}
    everyone = content.farthest(pl, q, 7, exclude=0, shares=shares)  # all but the query: it comes last, at 0
    assert everyone[-1] == (sharing, 0.0) and len({v for v, _ in everyone}) == 7


def _sampled(path, frames) -> np.ndarray:
    """``frames`` through H.264 and back, sampled as the indexer samples (its thumbnails)."""
    _, thumbs, _ = read_samples(write_video(path, frames, fps=8, options={"crf": "30"}), SamplingSettings())
    return thumbs


def test_a_picture_inset_over_other_footage_shares_views_with_both(tmp_path):
    size = (192, 108)
    src, under, other = (list(pan(photo(name), 64, size, seed=i, zoom=0.6))
                         for i, name in enumerate(("astronaut", "coffee", "rocket")))
    pip = _sampled(tmp_path / "pip.mp4", hard_transform(src, "pip", np.random.default_rng(1), under))
    rects = insets(pip, INDEX_WINDOW)
    assert len(rects) == 1
    plain, whole = views.views(pip), views.with_insets(pip, rects)
    src, under, other = (views.views(_sampled(tmp_path / f"{i}.mp4", f)) for i, f in enumerate((src, under, other)))
    assert views.shared_view(plain, src) < THRESHOLD  # the shrunk picture does not line up with its source
    assert views.shared_view(whole, src) >= THRESHOLD  # scaled up again, it does
    assert views.shared_view(plain, under) < THRESHOLD  # the footage around it lines up with its own ...
    assert views.shared_view(whole, under) >= THRESHOLD  # ... once the inset is left out
    assert views.shared_view(whole, other) < THRESHOLD
    assert len(set(views.runs(whole, THRESHOLD))) >= 3  # the three sequences are never one run


def test_the_feature_link_cannot_be_set_where_blank_frames_would_match():
    """Frames of an inset's views have no features (zero rows): at a threshold of 0 or below they
    would count as the same picture as every frame."""
    with pytest.raises(VidatlasError):
        SearchSettings(view_same_feature=0.0).validate()
    SearchSettings(view_same_feature=1.1).validate()  # above 1 turns it off
