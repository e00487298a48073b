"""The vidatlas command as a user runs it: a real process, real files, exit codes."""
import json
import os
import subprocess
import sys

import pytest

from indexer import read_bundle

ENV = {**os.environ, "VIDATLAS_MAP_MIN_STEPS": "300", "VIDATLAS_MAP_EPOCHS": "10"}


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "service.cli", *map(str, args)], capture_output=True,
                          text=True, env=ENV, cwd=cwd, timeout=600)


def test_help_explains_every_option():
    out = run("index", "--help")
    assert out.returncode == 0
    for option in ("--out", "--labels", "--add", "--shard", "--merge", "--fps", "--weights", "--backbone",
                   "--work-dir", "--seed", "VIDATLAS_SAMPLING_FPS"):
        assert option in out.stdout


def test_index_with_labels_json_report_and_failure_exit_code(tmp_path, collection, atlas):
    labels = tmp_path / "labels.csv"
    labels.write_text("video_id,time_s,label\na/harbour,1,coffee\n")
    videos = tmp_path / "videos"
    videos.symlink_to(collection)
    out = run("index", videos, "--out", tmp_path / "atlas", "--labels", labels, "--json", "--no-progress",
              "--work-dir", atlas / ".work")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    nv = len(read_bundle(atlas).video_ids)
    assert report["videos"] == nv and report["reused"] == nv and report["failures"] == []
    assert f"videos: {nv} found, {nv} indexed" in out.stderr
    assert read_bundle(tmp_path / "atlas").content.labels[0]["label"] == "coffee"
    # one bad file: still indexed, reported, exit status 3
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "broken.mp4").write_bytes(b"\x00\x01garbage" * 100)
    bad = run("index", tmp_path / "more", "--out", tmp_path / "atlas", "--add", "--no-progress")
    assert bad.returncode == 3 and "FAILED" in bad.stderr and "broken.mp4" in bad.stderr


@pytest.mark.parametrize("args, message", [
    (["index", "{tmp}/missing", "--out", "{tmp}/a"], "no such folder"),
    (["index", "--out", "{tmp}/a", "--merge", "2"], "has not finished"),
    (["index", "{tmp}", "--out", "{tmp}/a", "--labels", "{tmp}/nope.csv"], "cannot read labels"),
])
def test_errors_are_one_line_with_exit_status_1(tmp_path, args, message):
    out = run(*[a.format(tmp=tmp_path) for a in args])
    assert out.returncode == 1
    assert out.stderr.strip().startswith("vidatlas: error:") and message in out.stderr
    assert "Traceback" not in out.stderr


def test_bad_usage_exits_2(tmp_path):
    out = run("index", tmp_path, "--out", tmp_path / "a", "--shard", "3/2")
    assert out.returncode == 2 and "need 0 <= i < N" in out.stderr


def test_client_commands_start_without_loading_the_model_stack():
    """`vidatlas similar/info/...` only talk gRPC: torch, timm and FAISS stay unloaded (~4 s of start-up)."""
    code = ("import sys\nfrom service.cli import main\n"
            "status = main(['info', '--server', '127.0.0.1:1', '--timeout', '0.2'])\n"
            "print(status, sorted(m for m in ('torch', 'timm', 'faiss', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["9", "[]"], out.stdout + out.stderr  # 9: unavailable
