"""The ``vidatlas`` command. Messages and progress go to stderr, ``--json`` results to stdout.

Exit statuses come from one table, ``indexer.errors.Exit`` (listed in the README): 0 success,
1 an error, 2 bad usage, 3 an index run where some inputs failed, 4-11 by error code, 130
interrupted.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import threading

import grpc

from indexer.cli import add_parsers as add_index_parsers
from indexer.errors import Exit, VidatlasError
from service.cli import add_parsers as add_service_parsers
from viewer.cli import Remote
from viewer.cli import add_parsers as add_viewer_parsers

from . import demo


def _remote() -> Remote:
    """How the viewer's served page reaches a running service (the viewer does not import it)."""
    from service.client import connection_options, similar_json, stub

    def similar(args):
        client = stub(args)
        return lambda video, k: similar_json(client, video, k, args.timeout)

    return Remote(connection_options(server_default=None), similar)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vidatlas", description="Map a video collection: index it, then find similar and "
                                     "dissimilar videos, label frames and draw the map.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("--log-format", choices=["text", "json"], default=os.environ.get("VIDATLAS_LOG_FORMAT", "text"),
                        help="log lines as text or as one JSON object each (default: $VIDATLAS_LOG_FORMAT or text)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_index_parsers(sub)
    demo.add_parsers(sub, main)
    add_service_parsers(sub)
    add_viewer_parsers(sub, _remote())
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .logs import configure
    configure(args.verbose, args.log_format)
    try:
        return int(args.func(args))
    except VidatlasError as exc:
        print(f"vidatlas: error: {exc}", file=sys.stderr)
        return int(exc.exit_status)
    except grpc.RpcError as exc:
        from service.client import rpc_error
        return rpc_error(exc)
    except KeyboardInterrupt:
        print("vidatlas: interrupted; cached work is kept, rerun to resume", file=sys.stderr)
        return int(Exit.INTERRUPTED)


def run() -> None:
    """The ``vidatlas`` program: :func:`main`, then out of the process without the interpreter's
    teardown, once the output is flushed and the threads are done as at any exit (CPython's own
    first step, ``threading._shutdown``: thread pools told to stop, every non-daemon thread
    joined). After torch is loaded the rest of the teardown unwinds its operator registry piece
    by piece: about 1 s of a 16-20 s ``vidatlas index`` (measured 2026-12-08), and nothing of
    ours is left to it (every file is written and closed by then; the one temporary directory is
    a context manager's)."""
    code = main()
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is None:  # another interpreter: the usual exit
        sys.exit(code)
    shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    run()
