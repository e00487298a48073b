"""Diversity over content: no two chosen videos share a place when such a set exists."""
import copy
import dataclasses

import numpy as np
import pytest

from indexer import VidatlasError, index, read_bundle
from indexer.samples import write_video
from query import content
from query.search import Searcher
from testkit import places
from testkit.media import hard_transform
from tests.conftest import FAST


def test_a_nine_without_shared_content_is_found_where_one_exists(places_searcher, shared_places):
    anchors = [v for v in shared_places if v.startswith("anchor/")]
    assert places.overlap(anchors, shared_places) == 0.0  # the oracle: such a set exists
    chosen = [m.video_id for m in places_searcher.dissimilar(len(anchors))]
    assert len(set(chosen)) == len(anchors)
    assert places.overlap(chosen, shared_places) == 0.0


def test_reordered_reshoots_count_as_the_same_content(places_searcher, shared_places):
    """A reshoot (same places, another order, other pans and lengths) is never both chosen with
    its anchor, and is among the videos closest to it."""
    for k in (3, 5):
        chosen = {m.video_id for m in places_searcher.dissimilar(k)}
        assert not any(v in chosen and v.replace("anchor/", "reshoot/") in chosen
                       for v in shared_places if v.startswith("anchor/"))
    s = places_searcher
    q = s.query_for_video("anchor/00")
    far = [m.video_id for m in s.dissimilar(len(s.ids) - 1, q)]
    sharing = [v for v in s.ids if v != "anchor/00" and places.overlap(["anchor/00", v], shared_places) > 0]
    # the videos that share a place with the query are the last ones: the farthest share nothing
    assert set(far[-len(sharing):]) == set(sharing)


def test_path_mode_is_the_seeds_choice_and_modes_are_checked(places_searcher):
    path = places_searcher.dissimilar(4, mode="path")
    assert len({m.video_id for m in path}) == 4
    with pytest.raises(VidatlasError):
        places_searcher.dissimilar(4, mode="colour")


def test_places_cover_every_frame_and_one_shared_place_makes_videos_close():
    rng = np.random.default_rng(0)
    a, b, c = (v / np.linalg.norm(v) for v in rng.normal(size=(3, 16)))
    jitter = lambda x, n: x + 0.05 * rng.normal(size=(n, 16))  # noqa: E731
    one = content._unit(np.concatenate([jitter(a, 5), jitter(b, 5)]))
    two = content._unit(np.concatenate([jitter(c, 4), jitter(b, 3)]))  # shares b only
    pa, pb = content.places(one), content.places(two)
    assert len(pa) == 2 and len(pb) == 2
    assert (one @ pa.T).max(1).min() > content.SAME_PLACE
    pl = content.Places.build(np.concatenate([one, two]), np.array([0, 10, 17]))
    assert pl.closeness(content.places(content._unit(jitter(b, 2))))[0] > 0.9
    assert pl.closeness(pa)[1] > 0.9  # one shared place is enough


@pytest.fixture(scope="module")
def with_pip(tmp_path_factory, shared_places):
    """The shared-places collection, a copy of ``anchor/00`` shrunk over ``anchor/01``'s footage
    (picture in picture: it shows both anchors' places) and a copy of ``anchor/02`` turned by a
    few degrees. Returns its plan and searcher."""
    root = tmp_path_factory.mktemp("with-pip")
    plan = dict(shared_places)
    rendered = {v: places.frames(shots) for v, shots in plan.items()}
    places.write(root / "videos", plan, rendered=rendered)
    src, under = rendered["anchor/00"], rendered["anchor/01"]
    under = (under * (len(src) // len(under) + 1))[:len(src)]
    write_video(root / "videos" / "copy" / "pip.mp4", hard_transform(src, "pip", np.random.default_rng(0), under),
                fps=places.FPS, options={"crf": "30"})
    plan["copy/pip"] = plan["anchor/00"] + plan["anchor/01"]
    turned = hard_transform(rendered["anchor/02"], "rotated", np.random.default_rng(1))
    write_video(root / "videos" / "copy" / "turned.mp4", turned, fps=places.FPS, options={"crf": "30"})
    plan["copy/turned"] = plan["anchor/02"]
    report = index(root / "videos", root / "atlas", FAST)
    assert report.exit_status == 0, report.summary()
    return plan, Searcher(read_bundle(root / "atlas"))


def test_a_picture_laid_over_other_footage_shares_content_with_both(with_pip):
    """The indexer records the pip copy's inset. Its pictures, whole, line up with neither video
    it shows (anchor/00 shrunk, anchor/01 partly covered); the footage around the inset and the
    inset scaled up line up with each. The nine shares nothing."""
    plan, s = with_pip
    record = next(r for r in s.bundle.content.videos if r["id"] == "copy/pip")
    assert len(record["insets"]) == 1
    direct = dataclasses.replace(s.settings, view_bridges=0, view_same_feature=1.1)  # pictures, no third video
    whole = copy.copy(s.bundle)
    whole.content = dataclasses.replace(s.bundle.content, videos=[{**r, "insets": []} for r in s.bundle.content.videos])
    for other in ("anchor/00", "anchor/01"):
        assert Searcher(s.bundle, direct).shares_place("copy/pip", other)
        assert not Searcher(whole, direct).shares_place("copy/pip", other)
    anchors = [v for v in plan if v.startswith("anchor/")]
    chosen = [m.video_id for m in s.dissimilar(len(anchors))]
    assert places.overlap(chosen, plan) == 0.0


def test_with_a_query_a_video_with_an_inset_is_checked_however_far_it_is(with_pip):
    """The farthest from ``anchor/00``, with ``view_floor`` at 1 so that no video is view-checked
    for being close to it: the pip copy still is (it has an inset) and, showing the query's
    footage, comes last at distance 0; from the pip copy, every video is checked."""
    plan, s = with_pip
    far = Searcher(s.bundle, dataclasses.replace(s.settings, view_floor=1.0, view_checks=len(plan)))
    got = far.dissimilar(len(plan) - 1, far.query_for_video("anchor/00"))
    assert len(got) == len(plan) - 1 and "anchor/00" not in [m.video_id for m in got]
    assert (got[-1].video_id, got[-1].score) == ("copy/pip", 0.0), [(m.video_id, round(m.score, 3)) for m in got]
    assert all(m.score > 0 for m in got[:-1])
    # and every video is checked when the query has the inset: both videos it shows come last
    got = far.dissimilar(len(plan) - 1, far.query_for_video("copy/pip"))
    assert {"anchor/00", "anchor/01"} <= {m.video_id for m in got if m.score == 0.0}, [(m.video_id, round(m.score, 3)) for m in got]


def test_a_turned_copy_shares_its_sources_place_through_its_features(with_pip):
    """No translation lines a turned copy up with its source, so their pictures share no view;
    their frames' features are those of one picture (``view_same_feature``)."""
    plan, s = with_pip
    assert s.shares_place("copy/turned", "anchor/02") and s.shares_place("copy/pip", "anchor/01")
    assert not s.shares_place("copy/turned", "anchor/00")
    pictures_only = Searcher(s.bundle, dataclasses.replace(s.settings, view_same_feature=1.1, view_bridges=0))
    assert not pictures_only.shares_place("copy/turned", "anchor/02")
