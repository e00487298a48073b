"""The indexer SIGKILLed at random points: the last complete bundle stays intact and loadable,
a rerun completes, and no temporary debris is left behind."""
import os
import signal
import subprocess
import sys
import time

import numpy as np

from indexer import read_bundle
from indexer.debris import sweep, tag

ENV = {**os.environ, "VIDATLAS_MAP_MIN_STEPS": "200", "VIDATLAS_MAP_EPOCHS": "5"}


def _index(root, out):
    return subprocess.Popen([sys.executable, "-m", "vidatlas", "index", str(root), "--out", str(out),
                             "--no-progress"], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _debris(out):
    return [p for p in out.rglob("*") if "~" in p.name]


def test_sigkill_cycles_never_break_the_published_bundle(tmp_path, collection):
    out = tmp_path / "atlas"
    first = _index(collection, out)
    assert first.wait(600) == 0, first.stderr.read()
    good = read_bundle(out).version
    rng = np.random.default_rng(0)
    for cycle in range(4 * int(os.environ.get("VIDATLAS_CHAOS_SCALE", "1"))):
        # start over on the features so that kills land in decoding, training and writing
        for cached in (out / ".work" / "features").rglob("*.npz"):
            if rng.random() < 0.5:
                cached.unlink()
        proc = _index(collection, out)
        time.sleep(float(rng.uniform(2.0, 9.0)))
        proc.send_signal(signal.SIGKILL)
        proc.wait(60)
        b = read_bundle(out)  # whatever CURRENT names is complete and valid
        assert b.version >= good
        good = b.version
    rerun = _index(collection, out)
    assert rerun.wait(600) == 0, rerun.stderr.read()
    assert read_bundle(out).version > good
    assert _debris(out) == []  # the rerun swept what the killed runs left


def test_sweep_removes_only_dead_writers_leftovers(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import socket
    mine = tmp_path / f"x.npz{tag()}.npz"
    theirs = tmp_path / f".staging-v000009-20300101T000000Z~{socket.gethostname()}.{dead.pid}~"
    elsewhere = tmp_path / "seg.npy~other-host.1~"
    mine.write_bytes(b"1")
    theirs.mkdir()
    (theirs / "codes.npy").write_bytes(b"1")
    elsewhere.write_bytes(b"1")  # another machine's writer, recent: left alone
    removed = sweep(tmp_path)
    assert removed == [theirs]
    assert mine.exists() and elsewhere.exists() and not theirs.exists()
