"""``vidatlas map | poster | view``: pictures of a bundle (see the README for examples)."""
from __future__ import annotations

import argparse
import csv
import sys
import time
import webbrowser
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from indexer import VidatlasError
from indexer.cli import HelpFormatter

DEFAULT_BUNDLE = "./atlas"


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(p) for p in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 534x300, got {text!r}") from None
    return w, h


def _point(text: str) -> tuple[float, float]:
    try:
        x, y = (float(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X,Y, e.g. 0.2,-0.1, got {text!r}") from None
    return x, y


def _bundle_arg(p) -> None:
    p.add_argument("--bundle", default=DEFAULT_BUNDLE,
                   help="atlas directory (follows CURRENT) or one version directory")


@dataclass(frozen=True)
class Remote:
    """How ``view --serve --server`` reaches a running vidatlas service. The command that assembles
    the subcommands supplies it, so the viewer never imports the service."""

    options: argparse.ArgumentParser
    """A parent parser with the connection options (--server, --timeout, TLS, token)."""
    similar: Callable[[argparse.Namespace], Callable[[str, int], dict]]
    """From the parsed options, a function (video id, k) -> FindSimilar's answer in the --json shape."""


def add_parsers(sub, remote: Remote | None = None) -> None:
    f = HelpFormatter

    p = sub.add_parser("map", help="PNG of every frame on the 2-D map, with video paths", formatter_class=f,
                       description="Plot every frame of the bundle at its 2-D map position, coloured by video, "
                                   "label or k-means cluster. Chosen videos' paths are drawn as lines in time "
                                   "order (circle = start, square = end) with a strip of each one's frames "
                                   "beside the plot.")
    _bundle_arg(p)
    p.add_argument("--out", type=Path, default=Path("map.png"), help="PNG (or .svg/.pdf) to write")
    p.add_argument("--colour-by", "--color-by", dest="colour_by", choices=["video", "label", "cluster"], default="video",
                   help="what the frame colours mean; 'label' uses the bundle's labels plus --labels")
    p.add_argument("--labels", type=Path, help="CSV video_id,time_s,label of labelled frames (with --colour-by label)")
    p.add_argument("--path", action="append", default=[], metavar="VIDEO_ID", help="draw this video's path (repeatable)")
    p.add_argument("--dissimilar", type=int, default=0, metavar="N", help="draw the N most dissimilar videos' paths")
    p.add_argument("--similar", metavar="VIDEO_ID", help="draw this video's path and its --k nearest videos' paths")
    p.add_argument("--k", type=int, default=5, help="nearest videos drawn with --similar")
    p.add_argument("--strip-frames", type=int, default=6, help="frames in each video's strip")
    p.add_argument("--no-strips", action="store_true", help="no frame strips beside the plot")
    p.add_argument("--size", type=_size, default=(1800, 1100), help="picture size in pixels, WIDTHxHEIGHT")
    p.add_argument("--dpi", type=int, default=100, help="dots per inch (text size scales with it)")
    p.add_argument("--title", help="title above the plot (default: counts, colouring and version)")
    p.set_defaults(func=cmd_map, parser=p)

    p = sub.add_parser("poster", help="the map tiled with frames (the seed's Figure 9)", formatter_class=f,
                       description="Cut a window of the map into a grid of tiles and show in each tile the frame "
                                   "nearest its centre. The window is given by its centre and width in map units "
                                   "(the whole map fits in -1..1); its height follows from the tile grid. "
                                   "Tiles whose nearest frame is more than --max-gap tile diagonals away stay "
                                   "empty (--fill fills them). 11x18 tiles of 534x300 make a 5874x5400 poster.")
    _bundle_arg(p)
    p.add_argument("--out", type=Path, default=Path("poster.png"), help="PNG or JPEG to write")
    p.add_argument("--centre", "--center", dest="centre", type=_point, default=(0.0, 0.0), metavar="X,Y",
                   help="map position of the window's centre")
    p.add_argument("--width", type=float, default=2.0, help="window width in map units (2 = the whole map)")
    p.add_argument("--tiles", type=_size, default=(11, 18), metavar="COLSxROWS", help="tile grid")
    p.add_argument("--tile-size", type=_size, metavar="WxH",
                   help="tile size in pixels (default: the stored thumbnail size, or 534x300 with --full-res)")
    p.add_argument("--max-gap", type=float, default=1.0, help="empty a tile when its nearest frame is farther "
                                                              "than this many tile diagonals")
    p.add_argument("--fill", action="store_true", help="fill every tile, however far its nearest frame")
    p.add_argument("--full-res", action="store_true", help="re-read the chosen frames from the source videos at tile "
                                                           "size (sharper prints) instead of scaling thumbnails")
    p.add_argument("--source-root", type=Path, help="with --full-res: where to find source videos that moved "
                                                    "(looked up as ROOT/<video id><extension>)")
    p.add_argument("--tiles-csv", type=Path, help="also write row,col,video_id,time_s of every tile")
    p.add_argument("--quality", type=int, default=92, help="JPEG quality when --out is .jpg")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_poster)

    p = sub.add_parser("view", parents=[remote.options] if remote else [], help="a browsable HTML viewer of the map",
                       formatter_class=f,
                       description="Write one self-contained HTML file (opens from disk): pan and zoom over frame "
                                   "tiles, hover for video and time, click a frame for its video's path and its "
                                   "most similar videos (precomputed into the page). With --serve the page is "
                                   "served over HTTP instead; add --server HOST:PORT and similar videos are asked "
                                   "of that vidatlas service on every click.")
    _bundle_arg(p)
    p.add_argument("--out", type=Path, default=Path("vidatlas-view.html"), help="HTML file to write")
    p.add_argument("--serve", action="store_true", help="serve the page over HTTP until interrupted")
    p.add_argument("--host", default="127.0.0.1", help="HTTP address with --serve")
    p.add_argument("--port", type=int, default=8000, help="HTTP port with --serve (0 = any free port)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    p.add_argument("--max-frames", type=int, default=8000, help="frames in the page (an even subsample of each "
                                                                "video beyond that; ~2-3 KB each)")
    p.add_argument("--tile-size", type=_size, default=(96, 54), metavar="WxH", help="tile size on screen")
    p.add_argument("--similar-k", type=int, default=5, help="similar videos precomputed per video (0 = none)")
    p.add_argument("--title", default="vidatlas", help="page title")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_view, remote=remote, parser=p)


def cmd_map(args) -> int:
    from indexer import read_bundle
    from indexer.labels import read_labels
    from .mapplot import MapSettings, render_map
    if args.labels and args.colour_by != "label":
        args.parser.error("--labels only colours frames with --colour-by label")
    labels = tuple(read_labels(args.labels)) if args.labels else ()
    s = MapSettings(colour_by=args.colour_by, paths=tuple(args.path), dissimilar=args.dissimilar, similar=args.similar,
                    k=args.k, strips=not args.no_strips, strip_frames=args.strip_frames, width=args.size[0],
                    height=args.size[1], dpi=args.dpi, title=args.title, labels=labels)
    t0 = time.perf_counter()
    plot = render_map(read_bundle(args.bundle), s)
    _parent(args.out)
    plot.save(args.out)
    drawn = ", ".join(c.video_id for c in plot.chosen) or "none"
    print(f"wrote {args.out}: {s.width}x{s.height}, {len(plot.frame_group)} frames coloured by {s.colour_by}, "
          f"paths: {drawn} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    return 0


def cmd_poster(args) -> int:
    from indexer import read_bundle
    from .poster import PosterSettings, render_poster
    from .tiles import Window
    bundle = read_bundle(args.bundle)
    if args.tile_size:
        tile = args.tile_size
    elif args.full_res:
        tile = (534, 300)
    else:
        tile = (bundle.frames.shape[1], bundle.frames.shape[0])
    window = Window(args.centre[0], args.centre[1], args.width, args.tiles[0], args.tiles[1], tile[0], tile[1])
    s = PosterSettings(window=window, max_gap=None if args.fill else args.max_gap, full_res=args.full_res,
                       source_root=args.source_root, progress=not args.no_progress)
    t0 = time.perf_counter()
    poster = render_poster(bundle, s)
    _parent(args.out)
    jpeg = args.out.suffix.lower() in (".jpg", ".jpeg")
    # zlib level 3: a 5874x5400 PNG saves ~2x faster than at the default 6, a few % larger
    poster.image.save(args.out, quality=args.quality) if jpeg else poster.image.save(args.out, compress_level=3)
    if args.tiles_csv:
        _write_tiles_csv(args.tiles_csv, bundle, poster.frames)
    distinct = len({int(f) for f in poster.frames.ravel() if f >= 0})
    print(f"wrote {args.out}: {poster.image.width}x{poster.image.height}, {window.cols}x{window.rows} tiles of "
          f"{window.tile_w}x{window.tile_h}, {poster.tiles_filled} filled with {distinct} distinct frames "
          f"({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    for w in poster.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return 0


def _write_tiles_csv(path: Path, bundle, frames) -> None:
    c = bundle.content
    _parent(path)
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["row", "col", "video_id", "time_s"])
        for (r, col), fr in np.ndenumerate(frames):
            if fr >= 0:
                out.writerow([r, col, c.videos[int(c.frame_video[fr])]["id"], f"{float(c.frame_time[fr]):.3f}"])


def cmd_view(args) -> int:
    from indexer import read_bundle
    from .page import PageSettings, page_data, render_page
    server = getattr(args, "server", None)
    served_api = bool(args.serve and server)
    if server and not args.serve:
        args.parser.error("--server needs --serve: a page opened from disk cannot reach a gRPC service")
    bundle = read_bundle(args.bundle)
    s = PageSettings(max_frames=args.max_frames, tile_w=args.tile_size[0], tile_h=args.tile_size[1],
                     similar_k=args.similar_k, title=args.title, api="api/similar" if served_api else None,
                     progress=not args.no_progress)
    t0 = time.perf_counter()
    html = render_page(page_data(bundle, s))
    if not args.serve:
        _parent(args.out)
        args.out.write_text(html, encoding="utf-8")
        print(f"wrote {args.out} ({len(html) / 1e6:.1f} MB, {time.perf_counter() - t0:.1f} s); open it in a browser",
              file=sys.stderr)
        if args.open:
            webbrowser.open(args.out.resolve().as_uri())
        return 0
    return _serve(args, html, served_api)


def _serve(args, html: str, with_service: bool) -> int:
    from .httpserve import make_server
    similar = args.remote.similar(args) if with_service else None
    try:
        server = make_server(html, similar, args.host, args.port)
    except OSError as exc:
        raise VidatlasError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    url = f"http://{args.host}:{server.server_address[1]}/"
    print(f"serving the viewer at {url}" + (f" (similar videos from {args.server})" if with_service else "")
          + "; Ctrl-C stops", file=sys.stderr, flush=True)
    if args.open:
        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("viewer stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0


def _parent(path: Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
