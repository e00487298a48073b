"""An indexed video with a picture inset over other footage is searched also as the inset alone
(``ClipEmbedder.inset_views``, which the served searcher is given): FindSimilar by its id and the
similar-videos table find the video its inset shows."""
from __future__ import annotations

import numpy as np
import pytest

from indexer import index
from indexer.samples import pan, photo, write_video
from query import neighbours
from service.settings import ServiceSettings
from service.state import Holder
from testkit.media import hard_transform
from tests.conftest import FAST


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Four pans over four photographs, and ``pip``: ``src`` shrunk over ``under``'s footage."""
    root = tmp_path_factory.mktemp("pip")
    pans = {name: list(pan(photo(p), 64, (192, 108), seed=i, zoom=0.6))
            for i, (name, p) in enumerate((("src", "astronaut"), ("under", "coffee"), ("other", "rocket"),
                                           ("more", "chelsea")))}
    pans["pip"] = hard_transform(pans["src"], "pip", np.random.default_rng(0), pans["under"])
    for name, frames in pans.items():
        write_video(root / "videos" / f"{name}.mp4", frames, fps=8, options={"crf": "30"})
    report = index(root / "videos", root / "atlas", FAST)
    assert report.exit_status == 0, report.summary()
    holder = Holder(ServiceSettings(bundle=str(root / "atlas"), reload_interval_s=0, precompute_similar=False))
    assert holder.load()
    return holder.current().searcher


def test_find_similar_by_id_finds_what_the_inset_shows(served):
    s = served
    assert len(s.insets_of(s.index_of["pip"])) == 1 and s.inset_views is not None
    q = s.query_for_video("pip")
    got = neighbours.similar(s, q, 3, None)
    assert got[0].video_id == "src" and got[0].is_copy, [(m.video_id, m.score, m.copy_score) for m in got]
    assert "pip" not in [m.video_id for m in got]
    views, s.inset_views = s.inset_views, None
    try:  # as itself only, its pictures do not line up with the source's: no copy
        assert not any(m.is_copy for m in s.similar(q, 3) if m.video_id == "src")
    finally:
        s.inset_views = views


def test_the_similar_videos_table_groups_the_inset_with_its_source(served):
    s = served
    table = neighbours.build(s)
    row = table.matches(s.ids, s.index_of["pip"], 3)  # the inset's own row finds its source ...
    assert row[0].video_id == "src" and row[0].is_copy, row
    groups = neighbours.duplicate_groups(s.ids, table, s.settings.indexed_copy_threshold)
    assert any({"pip", "src"} <= set(g.videos) for g in groups), [g.videos for g in groups]
    # ... and the groups hold nothing else of it
    assert not any({"pip", "other"} <= set(g.videos) or {"pip", "more"} <= set(g.videos) for g in groups)
