"""What ``vidatlas demo`` does after indexing: serve the bundle on a free loopback port (in-process
cache, no Redis needed) and run a few queries through the real gRPC client."""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from .settings import ServiceSettings


def query_demo(atlas: Path) -> int:
    from .cli import main as cli
    from .server import create_server
    settings = dataclasses.replace(ServiceSettings(), bundle=str(atlas), reload_interval_s=0)
    server, port, holder, _ = create_server(settings, "127.0.0.1:0")
    server.start()
    address = f"127.0.0.1:{port}"
    print(f"\nserving {holder.current().version} on {address}", file=sys.stderr)
    try:
        status = 0
        for title, args in [
            ("videos most like real/carphone_pristine (its re-encoded copy should come first)",
             ["similar", "real/carphone_pristine", "--k", "5"]),
            ("videos most like trips/day3/office (its same shots in another order are the nearest thing there is)",
             ["similar", "trips/day3/office", "--k", "3"]),
            ("the five most dissimilar videos", ["dissimilar", "--k", "5"]),
            ("unsupervised labels of trips/day1/harbour", ["label", "trips/day1/harbour"]),
        ]:
            print(f"\n$ vidatlas {' '.join(args)}    # {title}", file=sys.stderr)
            sys.stdout.flush()
            status = status or cli([*args, "--server", address])
        return status
    finally:
        server.stop(grace=1).wait()
