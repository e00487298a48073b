"""``vidatlas serve`` and the client commands (assembled into the command by ``vidatlas.cli``)."""
from __future__ import annotations

import argparse

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
    add_client_parsers(sub)


def cmd_serve(args: argparse.Namespace) -> int:
    from indexer.settings import given

    from .server import serve
    from .settings import service_settings_from_env
    s = service_settings_from_env()
    serve(given(s, bundle=args.bundle, port=args.port, host=args.host, redis_url=args.redis_url,
                reload_interval_s=args.reload_interval))
    return 0
