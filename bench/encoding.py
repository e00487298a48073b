"""What encoding the frame index costs: in one process's memory (``frameindex.build``) against
in blocks joined on disk (``encoding.build``, what bundles do), on the same synthetic features.

    python bench/encoding.py --quick                  # 200k frames, blocks of 64k
    python bench/encoding.py --frames 4M --block 1M   # the BENCHMARKS run

Each way runs in its own process (clustered unit 256-D float16 features written to a file first,
as a bundle's stage holds them), so its peak anonymous memory (sampled every 50 ms; file pages
of the mapped features not counted) is its own. Prints a table; times in seconds.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import frame_count, machine, table  # noqa: E402

RUN = """
import json, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
import numpy as np
from indexer import encoding, frameindex
from bench.common import peak_anonymous_kb
anon = peak_anonymous_kb()
path = Path({path!r})
feats = np.load(path, mmap_mode="r")
plan = frameindex.choose(*feats.shape)
t0 = time.perf_counter()
if {block} == 0:
    index = frameindex.build(feats, plan)
else:
    out = path.parent / "out"
    out.mkdir()
    index = encoding.build(path, path.parent, plan, encoding.Room(block={block}), out)
print(json.dumps({{"kind": plan.kind, "s": time.perf_counter() - t0, "ntotal": int(index.ntotal),
                  "anon_mb": anon() / 1024}}))
"""


def _features(path: Path, n: int, d: int = 256, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(1, n // 100), d)).astype(np.float32)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(n, d))
    for a in range(0, n, 1 << 18):
        b = min(n, a + (1 << 18))
        x = centres[rng.integers(0, len(centres), b - a)] + rng.normal(0, 0.35, (b - a, d)).astype(np.float32)
        out[a:b] = x / np.linalg.norm(x, axis=1, keepdims=True)
    out.flush()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--frames", default="4M", help="frames to index, e.g. 200k, 4M (default 4M)")
    p.add_argument("--block", default="1M", help="frames a block (default 1M, the indexer's)")
    args = p.parse_args()
    n, block = (200_000, 65_536) if args.quick else (frame_count(args.frames), frame_count(args.block))
    rows = []
    with tempfile.TemporaryDirectory(prefix="vidatlas-encoding-") as tmp:
        for how, b in (("one process's memory (frameindex.build)", 0),
                       (f"blocks of {block:,} frames joined on disk (encoding.build)", block)):
            work = Path(tmp) / str(b)
            work.mkdir()
            _features(work / "features.npy", n)
            out = subprocess.run([sys.executable, "-c", RUN.format(root=str(ROOT), path=str(work / "features.npy"),
                                                                   block=b)],
                                 capture_output=True, text=True, check=True)
            got = json.loads(out.stdout.strip().splitlines()[-1])
            assert got["ntotal"] == n, got
            rows.append([how, got["kind"], f"{got['s']:.1f}", f"{got['anon_mb']:,.0f}"])
    print(f"Encoding {n:,} frames ({machine()})\n")
    print(table(["how", "frame index", "s", "peak anonymous MiB"], rows))


if __name__ == "__main__":
    main()
