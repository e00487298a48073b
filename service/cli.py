"""``vidatlas serve`` and the client commands (assembled into the command by ``vidatlas.cli``)."""
from __future__ import annotations

import argparse
from pathlib import Path

from .client import add_client_parsers


def add_parsers(sub) -> None:
    from .settings import ServiceSettings
    d = ServiceSettings()
    p = sub.add_parser("serve", help="serve a bundle over gRPC",
                       description="Serve FindSimilar, FindDissimilar, LabelVideo and friends for the bundle "
                                   "named by BUNDLE/CURRENT, reloading it when CURRENT changes. Settings can "
                                   "also come from VIDATLAS_SERVICE_<FIELD> environment variables; an option "
                                   "given here wins over the environment.")
    p.add_argument("--bundle", default=None, help=f"atlas directory (default: {d.bundle})")
    p.add_argument("--port", type=int, default=None, help=f"gRPC port (default: {d.port})")
    p.add_argument("--host", default=None, help=f"address to bind (default: {d.host})")
    p.add_argument("--redis-url", default=None, help="redis://host:port/db for the result cache (default: "
                                                     "none, an in-process cache)")
    p.add_argument("--reload-interval", type=float, default=None,
                   help=f"seconds between checks of CURRENT, 0 = never (default: {d.reload_interval_s})")
    p.set_defaults(func=cmd_serve)
    from indexer.cli import shard_arg
    p = sub.add_parser("neighbours", help="precompute a shard of the similar-videos table, beside the atlas",
                       description="Search the similar videos of every N-th indexed video (starting at i) of the "
                                   "bundle BUNDLE/CURRENT names, as the server does after it loads a bundle, and "
                                   "keep them in BUNDLE/.neighbours. Run one per shard, on as many machines as you "
                                   "like (e.g. a Kubernetes Indexed Job); a server that finds all N shards of its bundle "
                                   "joins them instead of searching every video itself.")
    p.add_argument("--bundle", default=None, help=f"atlas directory (default: {d.bundle})")
    p.add_argument("--shard", type=shard_arg, default=(0, 1), metavar="i/N",
                   help="this process's share of the videos (default 0/1: all of them)")
    p.add_argument("--workers", type=int, default=None, help="search threads (default: the cores)")
    p.add_argument("--wait-tag", metavar="TAG",
                   help="first wait until CURRENT names a bundle built with `vidatlas index --tag TAG` (so the "
                        "shards can start beside the indexing jobs and work on the bundle those publish)")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="how long to wait for --wait-tag before giving up (default 0: the bundle must be there)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_neighbours)
    add_client_parsers(sub)


def cmd_serve(args: argparse.Namespace) -> int:
    from indexer.settings import given

    from .server import serve
    from .settings import service_settings_from_env
    s = service_settings_from_env()
    serve(given(s, bundle=args.bundle, port=args.port, host=args.host, redis_url=args.redis_url,
                reload_interval_s=args.reload_interval))
    return 0


def cmd_neighbours(args: argparse.Namespace) -> int:
    import time

    from tqdm import tqdm

    from indexer import read_bundle
    from indexer.settings import available_cores
    from query import neighbours
    from query.search import Searcher

    from .embed import ClipEmbedder
    from .settings import service_settings_from_env
    atlas = args.bundle or service_settings_from_env().bundle
    # the tagged version itself, not CURRENT again (which a later publish may have moved)
    bundle = wait_for_tag(atlas, args.wait_tag, args.wait) if args.wait_tag is not None else atlas
    searcher = Searcher(read_bundle(bundle))
    searcher.inset_views = ClipEmbedder(service_settings_from_env()).inset_views
    i, n = args.shard
    mine = len(range(i, len(searcher.ids), n))
    t0 = time.perf_counter()
    with tqdm(total=mine, unit="video", desc=f"similar videos, shard {i}/{n}", disable=args.no_progress) as bar:
        path = neighbours.build_shard(searcher, neighbours.beside_atlas(searcher), args.shard,
                                      workers=args.workers or available_cores(), progress=lambda: bar.update(1))
    print(f"similar videos of {mine} of {len(searcher.ids)} videos of {searcher.version} in "
          f"{time.perf_counter() - t0:.1f} s: {path}")
    return 0


def wait_for_tag(atlas: str, tag: str, wait_s: float, poll_s: float = 10.0) -> Path:
    """The version directory, once ``atlas/CURRENT`` names a bundle whose manifest's ``run_tag``
    is ``tag``; raise after ``wait_s`` seconds without one."""
    from indexer.bundle import current_run
    from indexer.polling import wait_until

    def tagged() -> Path | None:
        version, found = current_run(atlas)
        return version if found == tag else None
    return wait_until(tagged, wait_s, poll_s,
                      lambda: f"no bundle tagged {tag!r} in {atlas} (CURRENT's: {current_run(atlas)[1]!r})")
