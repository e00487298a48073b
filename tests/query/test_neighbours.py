"""The precomputed similar-videos table: same answers as the search, used only where it applies,
kept on disk and rebuilt when the file is bad."""
import dataclasses

import numpy as np
import pytest

from indexer import read_bundle
from query.neighbours import TABLE_K, build, load_or_build, similar
from query.search import Searcher
from service.settings import ServiceSettings
from service.state import Holder


@pytest.fixture(scope="module")
def searcher(atlas):
    return Searcher(read_bundle(atlas))


def test_table_answers_equal_the_search(searcher):
    table = build(searcher, workers=2)
    n = len(searcher.ids)
    assert table.k == min(TABLE_K, n - 1)
    for vid in searcher.ids:
        q = searcher.query_for_video(vid)
        assert q.whole
        for k in (1, 3, table.k):
            assert table.matches(searcher.ids, searcher.video_row(vid), k) == searcher.similar(q, k)


def test_table_is_used_for_whole_videos_only(searcher):
    table = build(searcher)
    v = searcher.video_row("a/harbour")
    fake = dataclasses.replace(table, videos=table.videos.copy())
    fake.videos[v] = fake.videos[v][::-1]  # fault injection: a table that disagrees with the search
    whole = similar(searcher, searcher.query_for_video("a/harbour"), 3, fake)
    assert [m.video_id for m in whole] == [searcher.ids[u] for u in fake.videos[v][:3]]
    part = searcher.query_for_video("a/harbour", 0.0, 1.0)
    assert not part.whole
    assert similar(searcher, part, 3, fake) == searcher.similar(part, 3)  # ranges are searched, not looked up
    many = similar(searcher, searcher.query_for_video("a/harbour"), 100, fake)  # k > the table's k: searched
    assert many == searcher.similar(searcher.query_for_video("a/harbour"), 100)


def test_table_file_is_reused_and_rebuilt_when_bad(searcher, tmp_path, caplog):
    first = load_or_build(searcher, tmp_path)
    (path,) = tmp_path.glob("*.npz")
    assert searcher.version in path.name and f"k{TABLE_K}" in path.name
    stamp = path.stat().st_mtime_ns
    again = load_or_build(searcher, tmp_path)
    assert path.stat().st_mtime_ns == stamp  # read, not rebuilt
    np.testing.assert_array_equal(again.videos, first.videos)
    path.write_bytes(path.read_bytes()[:100])  # torn
    rebuilt = load_or_build(searcher, tmp_path)
    np.testing.assert_array_equal(rebuilt.videos, first.videos)
    assert "unreadable" in caplog.text
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the directory should be")
    assert load_or_build(searcher, blocker).k == first.k  # cannot keep it: still served from memory
    assert "could not keep" in caplog.text


def test_holder_precomputes_unless_told_not_to(atlas, tmp_path):
    import shutil
    root = tmp_path / "atlas"
    shutil.copytree(atlas, root, ignore=shutil.ignore_patterns(".work"))
    holder = Holder(ServiceSettings(bundle=str(root), reload_interval_s=0))
    assert holder.load()
    assert holder.table_ready(timeout=60)
    assert list((root / ".neighbours").glob("*.npz"))
    off = Holder(ServiceSettings(bundle=str(root), reload_interval_s=0, precompute_similar=False))
    assert off.load() and not off.table_ready(timeout=1) and off.current().table is None


def test_a_cancelled_build_stops_and_keeps_nothing(searcher, tmp_path):
    import threading

    from query.neighbours import Cancelled
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        load_or_build(searcher, tmp_path, cancel=cancel)
    assert not list(tmp_path.glob("*.npz"))
