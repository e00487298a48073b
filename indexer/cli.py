"""``vidatlas index``: the indexer's subcommand (assembled into the command by ``vidatlas.cli``)."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from .settings import IndexSettings, from_env, given


class HelpFormatter(argparse.HelpFormatter):
    """Shows an option's default after its help, but only a real one (not None, empty or off)
    and only when the help does not state it already."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" in text or default in (None, "", False, argparse.SUPPRESS) or not action.option_strings
                or isinstance(default, list) and not default):
            return text
        return f"{text} (default: %(default)s)"


def shard_arg(text: str) -> tuple[int, int]:
    try:
        i, n = (int(p) for p in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected i/N, e.g. 0/4, got {text!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise argparse.ArgumentTypeError(f"shard {text}: need 0 <= i < N")
    return i, n


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def settings_from(args: argparse.Namespace) -> IndexSettings:
    """Defaults, then ``VIDATLAS_*`` environment overrides, then the command line's options."""
    s = from_env(IndexSettings())
    sampling = given(s.sampling, fps=args.fps, decode_threads=args.decode_threads)
    backbone = given(s.backbone, name=args.backbone, weights=args.weights, batch_size=args.batch_size,
                     threads=args.threads, device=args.device)
    mapping = given(s.map, epochs=args.epochs, seed=args.seed, pca_dim=args.pca_dim, objective=args.map_objective,
                    fit_frames=args.fit_frames)
    store = given(s.store, memory_budget=args.memory_budget, frame_index=args.frame_index)
    return dataclasses.replace(s, sampling=sampling, backbone=backbone, map=mapping, store=store,
                               progress=not args.no_progress, tag=args.tag or s.tag)


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "index", help="index a folder of videos into a versioned bundle",
        description="Decode every video under ROOT (sampled at --fps), extract backbone features, "
                    "train the 2-D map and write a new bundle version under --out, published "
                    "atomically via OUT/CURRENT. Features are cached per video in OUT/.work, so "
                    "an interrupted run resumes where it stopped. Every setting can also be given "
                    "as an environment variable VIDATLAS_<SECTION>_<FIELD> (e.g. VIDATLAS_SAMPLING_FPS).",
        formatter_class=HelpFormatter)
    p.add_argument("root", type=Path, nargs="?", help="folder of videos (or one video file); video ids are "
                   "paths relative to it without extension")
    p.add_argument("--out", type=Path, required=True, help="atlas directory holding bundle versions")
    p.add_argument("--labels", type=Path, help="CSV with header video_id,time_s,label stored with the bundle")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--add", action="store_true",
                      help="embed ROOT's videos with the current bundle's frozen map (no retraining) "
                           "and publish a new version holding old and new videos")
    mode.add_argument("--shard", type=shard_arg, metavar="i/N",
                      help="only decode+embed every N-th video starting at i into the shared work dir; "
                           "run --merge N afterwards (a Kubernetes Indexed Job runs one shard per pod)")
    mode.add_argument("--merge", type=_positive, metavar="N",
                      help="build the bundle from the results of shards 0..N-1 (ROOT not needed)")
    mode.add_argument("--encode", action="store_true",
                      help="help the merge of run --tag encode its frame index (an IVF's, in blocks of "
                           "VIDATLAS_STORE_ENCODE_BLOCK frames): wait for its job in the shared work dir, encode "
                           "blocks until none is left, exit (at once if the run's bundle is already out)")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="with --merge: wait this long for shards that have not finished; with --encode: for "
                        "the merge to publish its encode job")
    p.add_argument("--work-dir", type=Path, help="feature cache and shard records (default OUT/.work)")
    p.add_argument("--id-prefix", default="", help="prepended to every video id (e.g. 'new/')")
    g = p.add_argument_group("sampling and backbone")
    g.add_argument("--fps", type=float, help="frames sampled per second of video (default 1)")
    g.add_argument("--backbone", help="timm model name (default efficientnet_lite0, weights shipped in a package)")
    g.add_argument("--weights", help="local weights file (a state dict) for the backbone; needed for any "
                                     "backbone but the default, whose weights ship in a package")
    g.add_argument("--batch-size", type=int, help="frames per backbone batch (default 32)")
    g.add_argument("--threads", type=int, help="torch threads for the backbone (default: half the cores)")
    g.add_argument("--decode-threads", type=int, help="decoder threads (default: FFmpeg decides)")
    g.add_argument("--device", help="auto, cpu or cuda")
    g = p.add_argument_group("map")
    g.add_argument("--map-objective", choices=("neighbours", "seed"),
                   help="'neighbours' (default): keep each frame's nearest neighbours on the map (each frame "
                        "placed by a UMAP-style layout of the kNN graph, the encoder trained to those places "
                        "with the seed's losses); 'seed': the seed article's objective exactly")
    g.add_argument("--epochs", type=int, help="upper bound on autoencoder training, in passes over the frames "
                                              "(default 20, at most 400 steps; training usually stops earlier on convergence)")
    g.add_argument("--pca-dim", type=int, help="PCA output size (default 256)")
    g.add_argument("--fit-frames", type=int, metavar="N",
                   help="fit the map on at most N frames, a seeded sample (default 200000); the other frames are "
                        "placed by the fitted encoder, as --add places new videos. Bounds the fit's time and memory")
    g.add_argument("--seed", type=int, help="random seed; same seed and input give the same bundle")
    g = p.add_argument_group("bundle")
    g.add_argument("--memory-budget", metavar="SIZE",
                   help="memory of the server that will load the bundle (e.g. 4GiB, 16Gi, 512MiB; default 4GiB, "
                        "the chart's pod limit): the frame index gets the most exact codes that fit (exact up to "
                        "20k frames, then 8-bit, 4-bit or product codes) and is paged from disk past it")
    g.add_argument("--frame-index", metavar="SPEC",
                   help="a FAISS factory string for the frame index instead of the budget's choice, e.g. "
                        "IVF1024,SQ4 or IVF1024,PQ128x4fs (compressed codes are re-scored on the stored features)")
    p.add_argument("--tag", help="a label kept in the bundle's manifest as run_tag (e.g. the release that built "
                                 "it): `vidatlas neighbours --wait-tag` waits for the bundle that carries it, and "
                                 "`--encode` workers for its merge's job")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print the run report as JSON on stdout")
    p.set_defaults(func=cmd_index, parser=p)


def cmd_index(args) -> int:
    from . import pipeline
    from .labels import read_labels
    if args.merge is None and not args.encode and args.root is None:
        args.parser.error("ROOT is required (except with --merge N or --encode)")
    settings = settings_from(args)
    labels = read_labels(args.labels) if args.labels else None
    if args.encode and not args.tag:
        args.parser.error("--encode needs --tag TAG: the run whose merge it helps (`--merge N --tag TAG`)")
    if args.encode:
        report = pipeline.encode(args.out, settings, args.work_dir, wait_s=args.wait)
    elif args.merge is not None:
        report = pipeline.merge(args.out, args.merge, settings, labels, args.work_dir, wait_s=args.wait)
    elif args.add:
        report = pipeline.add(args.root, args.out, settings, labels, args.work_dir, args.id_prefix)
    else:
        report = pipeline.index(args.root, args.out, settings, labels, args.shard, args.work_dir, args.id_prefix)
    print(report.summary(), file=sys.stderr)
    if args.json:
        print(json.dumps(dataclasses.asdict(report), indent=1))
    return int(report.exit_status)
