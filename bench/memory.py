"""Memory and scale: what a bundle costs to build, to hold and to query, against its size.

    python bench/memory.py --quick                 # 25k and 50k frames (the test suite runs this)
    python bench/memory.py --write                 # 100k, 1M and 10M frames
    python bench/memory.py --frames 1M --budget 1GiB   # one size, a smaller server
    python bench/memory.py --frames 10M --server-limit 6GiB   # the server inside a 6 GiB pod-like limit

Each build and each server runs in its own process (synthetic bundles from testkit/bundles.py:
clustered 256-D features, 100 frames a video), so the peaks are theirs alone: the build's from
getrusage, the server's VmHWM after it has loaded the bundle and answered every query of the
run over gRPC from one client. The server runs without its background work (similar-videos
table, frame graph, content places: VIDATLAS_SERVICE_PRECOMPUTE_SIMILAR=0), so whole-video
queries are searched on the fly like time ranges. Recall@10 is the manifest's: the frame index
against exact search over every frame, measured by the build on 500 of its frames.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import frame_count, table, write_section  # noqa: E402

BUILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from testkit.bundles import synthetic_bundle
from bench.common import peak_anonymous_kb
anon = peak_anonymous_kb()  # the build's own memory: RSS less the pages of the files it maps (the source)
t0 = time.perf_counter()
path = synthetic_bundle(Path({tmp!r}), {videos}, 100, memory_budget={budget})
size = sum(f.stat().st_size for f in path.rglob('*') if f.is_file())
print(json.dumps({{"bytes": size, "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "anon_kb": anon(),
                  "seconds": time.perf_counter() - t0,
                  "index": json.loads((path / "manifest.json").read_text())["frame_index"]}}))
"""
QUERIES = 200  # of each kind, one client


def _ms(lat: list[float]) -> str:
    return f"{np.percentile(lat, 50) * 1e3:.1f} / {np.percentile(lat, 99) * 1e3:.1f}"


class MemoryLimit:
    """A memory cgroup (v2, else v1) of ``limit`` bytes for the server, as a pod's memory limit
    is: its page cache is charged to it and reclaimed at the limit, anonymous memory past it is
    killed. Needs a writable cgroup hierarchy (root, not inside a container that hides it)."""

    def __init__(self, limit: int):
        name = f"vidatlas-bench-{os.getpid()}"
        v2 = Path("/sys/fs/cgroup") / name
        v1 = Path("/sys/fs/cgroup/memory") / name
        if Path("/sys/fs/cgroup/cgroup.controllers").exists():
            self.path, self.limit_file, self.peak_file = v2, "memory.max", "memory.peak"
        else:
            self.path, self.limit_file, self.peak_file = v1, "memory.limit_in_bytes", "memory.max_usage_in_bytes"
        try:
            self.path.mkdir()
            (self.path / self.limit_file).write_text(str(limit))
        except OSError as exc:
            sys.exit(f"--server-limit needs a writable memory cgroup: {exc}")

    @staticmethod
    def drop_page_cache() -> None:
        """Empty the page cache (as on a fresh node), so that the server is charged for every page
        of the bundle it reads, not the build's pages it finds cached."""
        os.sync()
        try:
            Path("/proc/sys/vm/drop_caches").write_text("1")
        except OSError as exc:
            sys.exit(f"--server-limit needs to drop the page cache first: {exc}")

    def enter(self) -> None:  # in the child, before exec
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def report(self) -> dict:
        def read(name: str) -> int:
            f = self.path / name
            return int(f.read_text().split()[0]) if f.exists() else -1
        events = self.path / ("memory.events" if self.limit_file == "memory.max" else "memory.oom_control")
        kills = int(dict(line.split() for line in events.read_text().splitlines()).get("oom_kill", -1))
        return {"cgroup_peak_mb": read(self.peak_file) / 2**20, "oom_kills": kills}

    def close(self) -> None:
        try:
            self.path.rmdir()
        except OSError:
            pass


def serve_and_query(atlas: Path, videos: int, limit: MemoryLimit | None = None) -> dict:
    """Start ``vidatlas serve`` on the bundle (inside ``limit`` if given), time loading, query
    it, read its peak RSS."""
    import grpc
    from service.api import vidatlas_pb2 as pb
    from service.api import vidatlas_pb2_grpc as pb_grpc
    from testkit.net import free_port
    port = free_port()
    env = {**os.environ, "VIDATLAS_SERVICE_RELOAD_INTERVAL_S": "0", "VIDATLAS_SERVICE_PRECOMPUTE_SIMILAR": "0"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "vidatlas", "serve", "--bundle", str(atlas), "--port", str(port),
                             "--host", "127.0.0.1"], env=env, stderr=subprocess.DEVNULL,
                            preexec_fn=limit.enter if limit else None)
    try:
        stub = pb_grpc.VidAtlasServiceStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
        stub.GetInfo(pb.GetInfoRequest(), timeout=900, wait_for_ready=True)
        out = {"load_s": time.perf_counter() - t0}
        with open(f"/proc/{proc.pid}/status") as f:
            out["loaded_mb"] = next(int(x.split()[1]) / 1024 for x in f if x.startswith("VmRSS"))
        rng = np.random.default_rng(1)
        for kind in ("whole", "range"):
            lat = []
            for v in rng.integers(0, videos, QUERIES + 5):
                start = float(rng.integers(0, 90))
                q = pb.VideoQuery(video_id=f"v/{v:06d}") if kind == "whole" else \
                    pb.VideoQuery(video_id=f"v/{v:06d}", start_s=start, end_s=start + float(rng.integers(3, 10)))
                t = time.perf_counter()
                stub.FindSimilar(pb.FindSimilarRequest(query=q, k=10), timeout=120)
                lat.append(time.perf_counter() - t)
            out[kind] = lat[5:]  # the first few warm up the channel
        status = {k: int(v.split()[0]) / 1024 for k, v in
                  (line.split(":", 1) for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines())
                  if k in ("VmHWM", "RssAnon", "RssFile")}
        out["peak_mb"], out["anon_mb"], out["file_mb"] = status["VmHWM"], status["RssAnon"], status["RssFile"]
        if limit:
            out.update(limit.report())
        return out
    finally:
        proc.terminate()
        proc.wait(60)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--write", action="store_true")
    p.add_argument("--frames", help="comma-separated sizes in frames, e.g. 100k,1M,10M")
    p.add_argument("--budget", default="4GiB", help="the server memory budget the bundles are built for")
    p.add_argument("--server-limit", metavar="SIZE",
                   help="run the server in a memory cgroup of this size (a pod's limit: page cache counts and "
                        "is reclaimed at it), starting from an empty page cache; reports the cgroup's peak and "
                        "OOM kills (needs root)")
    args = p.parse_args()
    from indexer.settings import parse_bytes
    budget = parse_bytes(args.budget)
    sizes = [frame_count(f) // 100 for f in args.frames.split(",")] if args.frames else \
        [250, 500] if args.quick else [1000, 10000, 100000]  # videos of 100 frames
    root = str(Path(__file__).resolve().parent.parent)
    rows = []
    for videos in sizes:
        tmp = tempfile.mkdtemp(prefix="vidatlas-mem-")
        try:
            out = subprocess.run([sys.executable, "-c", BUILD.format(root=root, tmp=tmp, videos=videos, budget=budget)],
                                 capture_output=True, text=True, check=True)
            built = json.loads(out.stdout.strip().splitlines()[-1])
            limit = MemoryLimit(parse_bytes(args.server_limit)) if args.server_limit else None
            if limit:
                limit.drop_page_cache()
            try:
                served = serve_and_query(Path(tmp) / "atlas", videos, limit)
            finally:
                if limit:
                    limit.close()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        n = videos * 100
        ix = built["index"]
        rows.append([f"{n:,}", ix["kind"], f"{built['bytes'] / n:.0f}", f"{built['bytes'] / 2**20:,.0f}",
                     f"{built['peak_kb'] / 1024:,.0f} ({built['anon_kb'] / 1024:,.0f})", f"{built['seconds']:.0f}",
                     f"{ix['recall_at_10']:.3f}",
                     f"{served['load_s']:.1f}", f"{served['loaded_mb']:,.0f}", f"{served['peak_mb']:,.0f}",
                     f"{served['anon_mb']:,.0f} + {served['file_mb']:,.0f}",
                     _ms(served["whole"]), _ms(served["range"]),
                     f"{args.server_limit}: {served['cgroup_peak_mb']:,.0f} MiB, {served['oom_kills']}"
                     if args.server_limit else "none"])
        print(rows[-1], flush=True)
    body = table(["frames", "frame index", "bundle bytes / frame", "bundle MiB", "build peak RSS MiB (anonymous)", "build s",
                  "recall@10 vs exact", "server load s", "server RSS loaded MiB", "server peak RSS MiB",
                  "after the queries: anonymous + file-backed MiB",
                  "whole video p50 / p99 ms", "time range p50 / p99 ms",
                  "server memory limit (cgroup): its peak, OOM kills"], rows)
    body += (f"\n\nBuilt for a {args.budget} server (`--memory-budget`). Bundle bytes a frame: float16 unit "
             "features (512 B, memory-mapped by the server and read only for the frames a query aligns or "
             "re-scores), the frame index's codes (8-bit: 256 B; memory-mapped inverted lists), per-frame "
             "arrays (video, time, map code, error, pixel stats: 32 B), pixel signatures (float16, 4 scales: "
             "128 B for the 4x4 test thumbnails, 3,360 B for real 224x126 ones) and 4x4 test thumbnails. "
             "File-backed RSS is the pages of the bundle's memory-mapped files that queries touched (features, "
             "inverted lists): "
             "page cache the kernel drops under memory pressure, unlike the anonymous part. "
             f"Latency: {QUERIES} FindSimilar of each kind over gRPC from one client, k = 10; whole videos "
             "searched on the fly (no similar-videos table), time ranges of 3-9 s.")
    print(body)
    if args.write:
        write_section("Memory vs bundle size", body)


if __name__ == "__main__":
    main()
