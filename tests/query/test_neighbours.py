"""The precomputed similar-videos table: same answers as the search, used only where it applies,
kept on disk and rebuilt when the file is bad."""
import copy
import dataclasses
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest

from indexer import read_bundle
from query.neighbours import (TABLE_K, Cancelled, beside_atlas, build, build_shard, join, load_or_build, own_rows, shard_file,
                              similar)
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


def test_shards_of_the_table_join_into_the_whole_table(searcher, tmp_path, caplog):
    whole = build(searcher)
    parts = [build(searcher, shard=(i, 3)) for i in range(3)]
    assert all((p.videos[i::3] == -1).all() for p in parts for i in range(3) if p is not parts[i])
    joined = join(3, lambda i: own_rows(parts[i], (i, 3)), len(searcher.ids))
    assert join(3, lambda i: None if i == 2 else own_rows(parts[i], (i, 3)), len(searcher.ids)) is None
    for f in ("videos", "scores", "ranges", "copy", "segments"):
        np.testing.assert_array_equal(getattr(joined, f), getattr(whole, f), err_msg=f)
    # an incomplete set is not used (a writer's leftover beside it neither): the server searches itself
    first = build_shard(searcher, tmp_path, (0, 2))
    (tmp_path / (first.name.replace("shard-0-of-2", "shard-1-of-2") + "~otherhost-of-x.1~.npz")).write_bytes(b"")
    caplog.set_level("INFO")
    load_or_build(searcher, tmp_path)  # shard 0 of 2 only
    assert "precomputed" in caplog.text and "joined" not in caplog.text
    with pytest.raises(Exception, match="need 0 <= i < n"):
        build_shard(searcher, tmp_path, (2, 2))
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the directory should be")
    with pytest.raises(Exception, match="could not write"):  # a shard that cannot keep its rows fails
        build_shard(searcher, blocker, (1, 2))


def test_table_shards_from_the_cli_are_joined_by_the_server(atlas, tmp_path, caplog):
    root = tmp_path / "atlas"
    shutil.copytree(atlas, root, ignore=shutil.ignore_patterns(".work", ".neighbours"))
    searcher = Searcher(read_bundle(root))
    shards = [subprocess.Popen([sys.executable, "-m", "vidatlas", "neighbours", "--bundle", str(root),
                                "--shard", f"{i}/2", "--workers", "1", "--no-progress"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for i in range(2)]
    for p in shards:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        assert "similar videos of" in out
    directory = beside_atlas(searcher)
    assert all(shard_file(directory, searcher, TABLE_K, (i, 2)).is_file() for i in range(2))
    gone = directory / "v000000-19700101T000000Z-none-0000-k30.npz"  # a table of a version no longer there
    gone.write_bytes(b"")
    caplog.set_level("INFO")
    table = load_or_build(searcher, directory)
    assert "joined from shards" in caplog.text and "precomputed" not in caplog.text
    whole = build(searcher)
    for f in ("videos", "scores", "ranges", "copy", "segments"):
        np.testing.assert_array_equal(getattr(table, f), getattr(whole, f), err_msg=f)
    # kept whole for the next start; the joined shards and the old version's table removed
    assert [p.name for p in directory.iterdir()] == [shard_file(directory, searcher, TABLE_K, (0, 2)).name.split(".")[0]
                                                     + ".npz"]


@pytest.mark.parametrize("stopping", [False, True])
def test_a_server_building_its_table_joins_shards_that_finish_meanwhile(searcher, tmp_path, caplog, stopping):
    paths = [build_shard(searcher, tmp_path / "pods", (i, 2)) for i in range(2)]
    directory = tmp_path / "table"
    directory.mkdir()
    started, release = threading.Event(), threading.Event()
    paused = copy.copy(searcher)  # the same bundle; its first search waits until the shards are in place

    def similar(q, k, *args, **kw):
        started.set()
        assert release.wait(60)
        return searcher.similar(q, k, *args, **kw)

    paused.similar = similar
    caplog.set_level("INFO")
    out, cancel = [], threading.Event()

    def serve():
        try:
            out.append(load_or_build(paused, directory, workers=1, poll_s=0, cancel=cancel))
        except Cancelled:
            out.append("cancelled")

    worker = threading.Thread(target=serve)
    worker.start()
    assert started.wait(60)
    for p in paths:
        shutil.copy(p, directory)
    if stopping:  # the server stops while the shards arrive: it keeps nothing
        cancel.set()
    release.set()
    worker.join(60)
    if stopping:
        assert out == ["cancelled"] and not list(directory.glob(f"*-k{TABLE_K}.npz"))
        return
    assert "found while searching" in caplog.text
    whole = build(searcher)
    for f in ("videos", "scores", "ranges", "copy", "segments"):
        np.testing.assert_array_equal(getattr(out[0], f), getattr(whole, f), err_msg=f)


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


def _cropped(frames: list[np.ndarray], top: float, bottom: float, left: float, right: float) -> list[np.ndarray]:
    """Off-centre crops of ``frames`` scaled back to their size (the aspect changes)."""
    import av
    h, w = frames[0].shape[:2]
    return [av.VideoFrame.from_ndarray(np.ascontiguousarray(f[int(h * top):h - int(h * bottom), int(w * left):w - int(w * right)]),
                                       format="rgb24").reformat(width=w, height=h).to_ndarray(format="rgb24") for f in frames]


def test_an_indexed_off_centre_crop_joins_its_source_in_the_duplicate_groups(tmp_path):
    from indexer import index
    from indexer.samples import pan, photo, scene_video, write_video
    from query.neighbours import duplicate_groups
    from tests.conftest import FAST
    frames = [f for name, seed in (("coffee", 1), ("chelsea", 2), ("rocket", 3)) for f in pan(photo(name), 24, (192, 108), seed)]
    write_video(tmp_path / "v" / "source.mp4", frames, fps=8)
    write_video(tmp_path / "v" / "crop.mp4", _cropped(frames, 0.05, 0.12, 0.15, 0.04), fps=8, options={"crf": "30"})
    scene_video(tmp_path / "v" / "quarry.mp4", [("brick", 13), ("gravel", 14), ("grass", 15)], size=(192, 108), fps=8, seconds=3)
    scene_video(tmp_path / "v" / "lab.mp4", [("astronaut", 4), ("clock", 6), ("camera", 7)], size=(192, 108), fps=8, seconds=3)
    assert index(tmp_path / "v", tmp_path / "atlas", FAST).exit_status == 0
    bundle = read_bundle(tmp_path / "atlas")
    s = Searcher(bundle)
    off = Searcher(bundle, dataclasses.replace(s.settings, crop_register_indexed=0))
    for searcher, grouped in ((s, True), (off, False)):
        found = {m.video_id: m for m in searcher.similar(searcher.query_for_video("crop"), 3)}
        assert found["source"].is_copy is grouped  # only the crop search meets the crop's window
        groups = duplicate_groups(searcher.ids, build(searcher), searcher.settings.indexed_copy_threshold)
        assert any({"crop", "source"} <= set(g.videos) for g in groups) is grouped
        assert not any({"quarry", "lab"} & set(g.videos) for g in groups)
