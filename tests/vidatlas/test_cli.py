"""The vidatlas command as a user runs it: a real process, real files, exit codes."""
import json
import os
import subprocess
import sys

import pytest

from indexer import read_bundle
from indexer.errors import Exit

ENV = {**os.environ, "VIDATLAS_MAP_MIN_STEPS": "300", "VIDATLAS_MAP_EPOCHS": "10"}


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "vidatlas", *map(str, args)], capture_output=True,
                          text=True, env=ENV, cwd=cwd, timeout=600)


def test_help_explains_every_option():
    out = run("index", "--help")
    assert out.returncode == 0
    for option in ("--out", "--labels", "--add", "--shard", "--merge", "--encode", "--fps", "--weights", "--backbone",
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


@pytest.mark.parametrize("args, message, status", [
    (["index", "{tmp}/missing", "--out", "{tmp}/a"], "no such folder", Exit.NOT_FOUND),
    (["index", "--out", "{tmp}/a", "--merge", "2"], "has not finished", Exit.FAILED_PRECONDITION),
    (["index", "--out", "{tmp}/a", "--encode", "--tag", "r1"], "no frame index to encode for run 'r1'",
     Exit.FAILED_PRECONDITION),
    (["index", "{tmp}", "--out", "{tmp}/a", "--labels", "{tmp}/nope.csv"], "cannot read labels", Exit.NOT_FOUND),
    (["map", "--bundle", "{tmp}/nothing-here"], "no bundle", Exit.FAILED_PRECONDITION),
    (["index", "{tmp}", "--out", "{tmp}/a", "--memory-budget", "12parsecs"], "not a size", Exit.INVALID_ARGUMENT),
    (["index", "{tmp}", "--out", "{tmp}/a", "--memory-budget", "512MiB"], "nothing beside", Exit.INVALID_ARGUMENT),
    (["index", "{tmp}", "--out", "{tmp}/a", "--frame-index", "IVF8,SQ3"], "not a FAISS index", Exit.INVALID_ARGUMENT),
])
def test_errors_are_one_line_with_the_status_of_their_code(tmp_path, args, message, status):
    out = run(*[a.format(tmp=tmp_path) for a in args])
    assert out.returncode == status, out.stderr
    assert out.stderr.strip().startswith("vidatlas: error:") and message in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("args, message", [
    (["index", "{tmp}", "--out", "{tmp}/a", "--shard", "3/2"], "need 0 <= i < N"),
    (["index", "--out", "{tmp}/a"], "ROOT is required"),
    (["index", "--out", "{tmp}/a", "--merge", "0"], "must be at least 1"),
    (["index", "--out", "{tmp}/a", "--encode"], "--encode needs --tag TAG"),
    (["map", "--labels", "{tmp}/l.csv"], "--labels only colours frames with --colour-by label"),
    (["view", "--server", "127.0.0.1:1", "--bundle", "{tmp}/none"], "--server needs --serve"),
    (["similar"], "the following arguments are required: query"),
])
def test_bad_usage_exits_2_through_argparse(tmp_path, args, message):
    out = run(*[a.format(tmp=tmp_path) for a in args])
    assert out.returncode == Exit.USAGE and message in out.stderr and out.stderr.startswith("usage: vidatlas")


def test_client_commands_start_without_loading_the_model_stack():
    """`vidatlas similar/info/...` only talk gRPC: torch, timm and FAISS stay unloaded (~4 s of start-up)."""
    code = ("import sys\nfrom vidatlas.cli import main\n"
            "status = main(['info', '--server', '127.0.0.1:1', '--timeout', '0.2'])\n"
            "print(status, sorted(m for m in ('torch', 'timm', 'faiss', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["9", "[]"], out.stdout + out.stderr  # 9: unavailable


def test_sharded_build_equals_a_single_run_from_the_cli(tmp_path, collection):
    """As a user runs it: separate processes (four shards at once), separate output and work directories. The single
    run loads the backbone before training and the merge does not, so only a map build that
    depends on nothing but its inputs and settings gives the same bytes. Both have an IVF frame
    index: the single run encodes it in one block, the merge in blocks of 16 frames shared with an
    encode worker, and the joined lists are the same bytes."""
    single, sharded = tmp_path / "single", tmp_path / "sharded"
    ivf = ("--frame-index", "IVF8,SQ8")
    out = run("index", collection, "--out", single, "--no-progress", "--json", *ivf)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["bundle"]  # stdout is the report alone: FAISS's notes went to stderr
    # four shards at once, as the chart's Indexed Job runs them
    shards = [subprocess.Popen([sys.executable, "-m", "vidatlas", "index", str(collection), "--out", str(sharded),
                                "--shard", f"{i}/4", "--no-progress"], env=ENV, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True) for i in range(4)]
    for proc in shards:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
    # as the chart's build Job runs it: tagged, so the similar-videos pods wait for this bundle
    waiting = subprocess.Popen([sys.executable, "-m", "vidatlas", "neighbours", "--bundle", str(sharded),
                                "--wait-tag", "release-7", "--wait", "600", "--no-progress"], env=ENV,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    encoder = subprocess.Popen([sys.executable, "-m", "vidatlas", "index", "--out", str(sharded), "--encode",
                                "--tag", "release-7", "--wait", "600", "--no-progress"],
                               env={**ENV, "VIDATLAS_STORE_ENCODE_BLOCK": "16"}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    out = subprocess.run([sys.executable, "-m", "vidatlas", "index", "--out", str(sharded), "--merge", "4",
                          "--tag", "release-7", "--no-progress", *ivf], capture_output=True, text=True,
                         env={**ENV, "VIDATLAS_STORE_ENCODE_BLOCK": "16"}, timeout=600)
    assert out.returncode == 0, out.stderr
    _, err = encoder.communicate(timeout=600)
    assert encoder.returncode == 0 and "blocks encoded here" in err, err
    near, err = waiting.communicate(timeout=900)
    assert waiting.returncode == 0, err
    assert "similar videos of 9 of 9 videos" in near and list((sharded / ".neighbours").glob("*.shard-0-of-1.npz"))
    a, b = (atlas / (atlas / "CURRENT").read_text().strip() for atlas in (single, sharded))
    files = sorted(f.name for f in a.iterdir() if f.is_file() and f.name != "manifest.json")
    assert files == sorted(f.name for f in b.iterdir() if f.is_file() and f.name != "manifest.json")
    assert {"codes.npy", "fingerprints.npy", "features.npy", "frame_time.npy", "frames_features.ivfdata"} <= set(files)
    for name in files:  # every array and index of the bundle, byte for byte
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    ma, mb = (json.loads((d / "manifest.json").read_text()) for d in (a, b))
    assert ma["model_sha256"] == mb["model_sha256"]
    assert ma["training"]["final"] == mb["training"]["final"]
    assert (ma["run_tag"], mb["run_tag"]) == ("", "release-7")
    assert ma["map"]["objective"] == "neighbours"
    # the seed article's objective stays selectable, from the cached features, and is recorded
    out = run("index", "--out", sharded, "--merge", "4", "--no-progress", "--map-objective", "seed")
    assert out.returncode == 0, out.stderr
    seed = json.loads((sharded / (sharded / "CURRENT").read_text().strip() / "manifest.json").read_text())
    assert seed["map"]["objective"] == seed["training"]["objective"] == "seed"
    assert seed["model_sha256"] != ma["model_sha256"]


def test_every_subcommand_explains_itself_without_noise():
    """Every subcommand's --help says what it does, and no option shows a meaningless or doubled
    default (e.g. "(default ./atlas) (default: None)")."""
    import re

    from vidatlas.cli import build_parser
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name, parser in sub.choices.items():
        text = re.sub(r"\s+", " ", parser.format_help())
        assert parser.description or parser.format_usage(), name
        assert "(default: None)" not in text, name
        options = re.split(r" (?=--?[a-z])", text)
        assert not [o for o in options if len(re.findall(r"\(default", o)) > 1], name


def test_the_program_exits_with_its_status_and_output_when_a_thread_pool_was_left_open(tmp_path):
    """`vidatlas` leaves without the interpreter's teardown (vidatlas.cli.run), but as any exit
    does it first tells thread pools to stop and waits for their threads: a pool nobody shut down
    must neither hang the exit nor lose its work or the output."""
    done = tmp_path / "done"
    code = ("import concurrent.futures, pathlib, time\nimport vidatlas.cli as c\n"
            "def main():\n"
            "    pool = concurrent.futures.ThreadPoolExecutor(1)\n"
            f"    pool.submit(lambda: (time.sleep(0.5), pathlib.Path({str(done)!r}).write_text('kept')))\n"
            "    print('answer', end='')\n"
            "    return 3\n"
            "c.main = main\nc.run()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout) == (3, "answer"), out.stderr
    assert done.read_text() == "kept"
