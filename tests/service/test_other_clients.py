"""A client no Python code here wrote: `buf curl` (Go, pinned in tools/) calls the running server
through server reflection, v1 and v1alpha, as another team's service would."""
import base64
import json
import shutil
import subprocess

import pytest

from service.server import Service
from service.settings import ServiceSettings
from testkit import tools



@pytest.fixture(scope="module")
def address(tmp_path_factory, atlas):
    root = tmp_path_factory.mktemp("buf-curl") / "atlas"
    shutil.copytree(atlas, root, ignore=shutil.ignore_patterns(".work"))
    svc = Service(ServiceSettings(bundle=str(root), reload_interval_s=0, reflection=True), "127.0.0.1:0").start()
    yield f"127.0.0.1:{svc.port}"
    svc.stop(drain_s=0, grace_s=0)


def curl(address, method, body=None, reflect="grpc-v1"):
    args = [tools.buf(), "curl", "--protocol", "grpc", "--http2-prior-knowledge", "--reflect-protocol", reflect,
            f"http://{address}/{method}"]
    if body is not None:
        args += ["-d", "@-"]
    return subprocess.run(args, input=json.dumps(body) if body is not None else None, capture_output=True,
                          text=True, timeout=120)


def test_health_over_both_reflection_versions(address):
    for reflect in ("grpc-v1", "grpc-v1alpha"):
        out = curl(address, "grpc.health.v1.Health/Check", {}, reflect)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["status"] == "SERVING"


def test_find_similar_by_id_and_by_clip_bytes(address, collection):
    out = curl(address, "vidatlas.v1.VidAtlasService/FindSimilar", {"query": {"videoId": "b/quarry"}, "k": 3})
    assert out.returncode == 0, out.stderr
    by_id = json.loads(out.stdout)
    assert by_id["results"][0]["videoId"] == "b/quarry_reordered" and len(by_id["results"]) == 3
    clip = base64.b64encode((collection / "a" / "museum.mp4").read_bytes()).decode()
    out = curl(address, "vidatlas.v1.VidAtlasService/FindSimilar", {"query": {"clip": clip}, "k": 2})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["results"][0]["videoId"] == "a/museum"  # the clip is that video's file


def test_label_video(address):
    out = curl(address, "vidatlas.v1.VidAtlasService/LabelVideo", {"query": {"videoId": "a/harbour"}})
    assert out.returncode == 0, out.stderr
    resp = json.loads(out.stdout)
    assert resp["videoLabel"] and resp["frames"] and resp["segments"]


def test_an_unknown_video_is_not_found(address):
    out = curl(address, "vidatlas.v1.VidAtlasService/FindSimilar", {"query": {"videoId": "no/such"}})
    assert out.returncode != 0
    assert "not_found" in out.stderr.lower() and "no/such" in out.stderr
