"""Discovery, video ids, labels CSV, settings from the environment, the feature cache."""
import numpy as np
import pytest

from indexer import IndexSettings, VidatlasError, from_env
from indexer.discover import discover
from indexer.featurecache import FeatureCache, content_hash
from indexer.labels import attach, parse_labels


def test_ids_are_relative_paths_without_extension(tmp_path):
    for rel in ("trips/day1/GOPR0042.MP4", "b.mkv", ".hidden/x.mp4", "notes.txt", "trips/.x.mp4"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    videos, others = discover(tmp_path)
    assert [v.video_id for v in videos] == ["b", "trips/day1/GOPR0042"]
    assert others == 1
    assert [v.video_id for v in discover(tmp_path, prefix="new/")[0]] == ["new/b", "new/trips/day1/GOPR0042"]
    (tmp_path / "b.mp4").write_bytes(b"x")
    with pytest.raises(VidatlasError, match="two files give the id 'b'"):
        discover(tmp_path)
    with pytest.raises(VidatlasError, match="no such folder"):
        discover(tmp_path / "missing")


def test_labels_csv_is_validated():
    rows = parse_labels("video_id,time_s,label\na/b,1.5,cat\n\n c ,0,dog\n")
    assert rows == [{"video_id": "a/b", "time_s": 1.5, "label": "cat"}, {"video_id": "c", "time_s": 0.0, "label": "dog"}]
    for bad, msg in [("id,t,label\n", "header"), ("video_id,time_s,label\nx,abc,y\n", ":2: time_s"),
                     ("video_id,time_s,label\nx,1\n", ":2: expected 3"), ("video_id,time_s,label\nx,-1,y\n", ":2:")]:
        with pytest.raises(VidatlasError, match=msg):
            parse_labels(bad)
    videos = [{"id": "a"}, {"id": "b"}]
    attached, warnings = attach([{"video_id": "b", "time_s": 2.6, "label": "z"}], videos,
                                np.array([0, 2, 5]), np.array([0.0, 1, 0, 1, 2, 3]))
    assert attached[0]["frame"] == 4 and not warnings


def test_settings_from_environment():
    s = from_env(IndexSettings(), {"VIDATLAS_SAMPLING_FPS": "0.5", "VIDATLAS_MAP_STRETCH": "false",
                                   "VIDATLAS_BACKBONE_NAME": "resnet18"})
    assert s.sampling.fps == 0.5 and s.map.stretch is False and s.backbone.name == "resnet18"
    with pytest.raises(VidatlasError, match="VIDATLAS_MAP_EPOCHS"):
        from_env(IndexSettings(), {"VIDATLAS_MAP_EPOCHS": "many"})
    key = IndexSettings().extraction_key("w")
    assert key != s.extraction_key("w") and key == IndexSettings().extraction_key("w")


def test_feature_cache_round_trip_and_content_hash(tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(5 << 20))
    h = content_hash(big)
    moved = tmp_path / "moved.bin"
    big.rename(moved)
    assert content_hash(moved) == h
    with open(moved, "r+b") as f:
        f.seek(len(bytes(5 << 20)) - 10)
        f.write(b"changed")
    assert content_hash(moved) != h
    cache = FeatureCache(tmp_path / "c", "k")
    assert not cache.has("d")
    cache.put("d", np.array([0.0, 1]), np.ones((2, 4)), np.zeros((2, 8, 8, 3), np.uint8), {"width": 8}, np.ones((2, 2)))
    got = cache.get("d")
    assert cache.has("d") and got.info == {"width": 8} and got.features.shape == (2, 4)
    assert np.load(got.thumbs_path, mmap_mode="r").shape == (2, 8, 8, 3)
