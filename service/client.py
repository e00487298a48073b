"""Command-line client: ``vidatlas similar|dissimilar|duplicates|label|labels|outliers|videos|info``.

Every call has a deadline; a failed call prints one line and exits with a status-specific code.
``--json`` prints the documented JSON shapes on stdout; otherwise a readable table.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import grpc

from indexer.errors import EXIT_FOR
from indexer.labels import read_labels

from . import conversions as conv
from .api import vidatlas_pb2 as pb
from .api import vidatlas_pb2_grpc as pb_grpc
from .status import code_of

DEFAULT_SERVER = "127.0.0.1:50051"


def _read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None


def channel(args) -> grpc.Channel:
    """A channel to ``--server``: TLS when ``--tls-ca`` is given (mTLS with ``--tls-cert/--tls-key``),
    and the bearer token from ``--token-file`` or ``VIDATLAS_TOKEN`` on every call."""
    options = [("grpc.max_send_message_length", 80 << 20), ("grpc.max_receive_message_length", 80 << 20)]
    token = (Path(args.token_file).read_text().strip() if args.token_file else os.environ.get("VIDATLAS_TOKEN", ""))
    if args.tls_ca:
        creds = grpc.ssl_channel_credentials(_read(args.tls_ca), _read(args.tls_key), _read(args.tls_cert))
        if token:
            creds = grpc.composite_channel_credentials(creds, grpc.access_token_call_credentials(token))
        return grpc.secure_channel(args.server, creds, options=options)
    ch = grpc.insecure_channel(args.server, options=options)
    if token:  # plaintext with a token: only sensible on loopback or inside a service mesh
        ch = grpc.intercept_channel(ch, _TokenInterceptor(token))
    return ch


class _TokenInterceptor(grpc.UnaryUnaryClientInterceptor):
    def __init__(self, token: str):
        self.metadata = (("authorization", f"Bearer {token}"),)

    def intercept_unary_unary(self, continuation, details, request):
        details = details._replace(metadata=tuple(details.metadata or ()) + self.metadata)
        return continuation(details, request)


def stub(args) -> pb_grpc.VidAtlasServiceStub:
    return pb_grpc.VidAtlasServiceStub(channel(args))


def similar_json(client: pb_grpc.VidAtlasServiceStub, video_id: str, k: int, timeout: float) -> dict:
    """FindSimilar for an indexed video, in the ``--json`` shape (the viewer's HTTP server uses it)."""
    resp = client.FindSimilar(pb.FindSimilarRequest(query=pb.VideoQuery(video_id=video_id), k=k), timeout=timeout)
    return conv.search_json(resp)


def video_query(text: str, start: float = 0.0, end: float = 0.0) -> pb.VideoQuery:
    """A path to an existing file is uploaded as a clip; anything else is an indexed video id."""
    path = Path(text)
    if path.is_file():
        return pb.VideoQuery(clip=path.read_bytes())
    return pb.VideoQuery(video_id=text, start_s=start, end_s=end)


def _print_results(resp: conv.SearchResponse, as_json: bool, what: str) -> None:
    if as_json:
        print(json.dumps(conv.search_json(resp), indent=1))
        return
    similar = what == "similar"
    print(f"{'rank':>4}  {'video':40s} {'score':>8}  " + ("copy score  verdict      " if similar else "") + "range (s)")
    for i, r in enumerate(resp.results, 1):
        span = f"{r.start_s:.1f}-{r.end_s:.1f}"
        verdict = ""
        if similar:
            span += f"  (query {r.query_start_s:.1f}-{r.query_end_s:.1f})"
            verdict = f"{r.copy_score:10.3f}  {'copy' if r.is_copy else 'not a copy':11s}  "
        print(f"{i:>4}  {r.video_id:40s} {r.score:8.3f}  {verdict}{span}")
        for g in r.segments if similar else ():
            print(f"{'':>56}segment {g.score:.3f}: query {g.query_start_s:.1f}-{g.query_end_s:.1f} s"
                  f" <-> {g.start_s:.1f}-{g.end_s:.1f} s")
    if similar:
        print(f"copy threshold {resp.copy_threshold:.3f}", file=sys.stderr)
    print(f"bundle {resp.bundle_version}{' (cached)' if resp.cached else ''}", file=sys.stderr)


MODES = {"segments": pb.FindSimilarRequest.MODE_SEGMENTS, "whole-video": pb.FindSimilarRequest.MODE_WHOLE_VIDEO}


def cmd_similar(args) -> int:
    resp = stub(args).FindSimilar(pb.FindSimilarRequest(query=video_query(args.query, args.start, args.end),
                                                               k=args.k, mode=MODES[args.mode]), timeout=args.timeout)
    _print_results(resp, args.json, "similar")
    return 0


def cmd_duplicates(args) -> int:
    resp = stub(args).FindDuplicates(pb.FindDuplicatesRequest(min_copy_score=args.min_score), timeout=args.timeout)
    if args.json:
        print(json.dumps(conv.duplicates_json(resp), indent=1))
        return 0
    for n, g in enumerate(resp.groups, 1):
        print(f"group {n}: {', '.join(g.video_ids)}")
        for p in g.pairs:
            ranges = "; ".join(f"{s.query_start_s:.1f}-{s.query_end_s:.1f} s <-> {s.start_s:.1f}-{s.end_s:.1f} s"
                               for s in p.segments)
            print(f"  {p.video_id} in {p.other_video_id}: copy score {p.copy_score:.3f}  ({ranges})")
    print(f"{len(resp.groups)} groups at copy score >= {resp.copy_threshold:.3f}; bundle {resp.bundle_version}",
          file=sys.stderr)
    return 0


def cmd_dissimilar(args) -> int:
    req = pb.FindDissimilarRequest(k=args.k, mode=conv.DISSIMILAR_MODE_PB[args.mode])
    if args.to:
        req.query.CopyFrom(video_query(args.to))
    _print_results(stub(args).FindDissimilar(req, timeout=args.timeout), args.json, "dissimilar")
    return 0


def cmd_outliers(args) -> int:
    _print_results(stub(args).Outliers(pb.OutliersRequest(k=args.k), timeout=args.timeout), args.json, "outliers")
    return 0


def cmd_label(args) -> int:
    resp = stub(args).LabelVideo(pb.LabelVideoRequest(query=video_query(args.query, args.start, args.end)),
                                        timeout=args.timeout)
    if args.json:
        print(json.dumps(conv.label_json(resp), indent=1))
        return 0
    kind = " (unsupervised clusters)" if resp.unsupervised else ""
    print(f"video label: {resp.video_label}  confidence {resp.confidence:.2f}{kind}")
    for s in resp.segments:
        print(f"  {s.start_s:8.1f} - {s.end_s:8.1f} s  {s.label}")
    return 0


def cmd_labels_add(args) -> int:
    rows = read_labels(args.csv)
    req = pb.AddLabelsRequest(labels=[pb.LabelRow(**r) for r in rows])
    resp = stub(args).AddLabels(req, timeout=args.timeout)
    if args.json:
        print(json.dumps({"added": resp.added, "total": resp.total}))
    else:
        print(f"added {resp.added} labels ({resp.total} in all)")
    return 0


def cmd_videos(args) -> int:
    s = stub(args)
    token, out = "", []
    while True:
        resp = s.ListVideos(pb.ListVideosRequest(prefix=args.prefix, page_token=token, page_size=1000),
                            timeout=args.timeout)
        out += resp.videos
        token = resp.next_page_token
        if not token:
            break
    if args.json:
        print(json.dumps({"videos": [{"video_id": v.video_id, "duration_s": v.duration_s, "frames": v.frames,
                                      "width": v.width, "height": v.height, "anomaly_score": v.anomaly_score}
                                     for v in out]}, indent=1))
    else:
        for v in out:
            print(f"{v.video_id:40s} {v.duration_s:8.1f} s {v.frames:6d} frames {v.width}x{v.height}")
    return 0


def cmd_info(args) -> int:
    r = stub(args).GetInfo(pb.GetInfoRequest(), timeout=args.timeout)
    info = {"bundle_version": r.bundle_version, "videos": r.videos, "frames": r.frames, "backbone": r.backbone,
            "labels": r.labels, "server_version": r.server_version, "parameters": dict(sorted(r.parameters.items()))}
    print(json.dumps(info, indent=1) if args.json else "\n".join(f"{k}: {v}" for k, v in info.items()))
    return 0


def connection_options(server_default: str | None = DEFAULT_SERVER) -> argparse.ArgumentParser:
    """The options that reach a server: address, deadline, TLS and token."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--server", default=server_default, help="HOST:PORT of a vidatlas server")
    common.add_argument("--timeout", type=float, default=30.0, help="deadline for the call in seconds")
    common.add_argument("--tls-ca", help="PEM CA to verify the server's certificate (turns TLS on)")
    common.add_argument("--tls-cert", help="client certificate PEM, for servers that require mTLS")
    common.add_argument("--tls-key", help="client key PEM, for servers that require mTLS")
    common.add_argument("--token-file", help="file with the bearer token (default: $VIDATLAS_TOKEN)")
    return common


def add_client_parsers(sub) -> None:
    common = argparse.ArgumentParser(add_help=False, parents=[connection_options()])
    common.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    ranged = argparse.ArgumentParser(add_help=False)
    ranged.add_argument("--start", type=float, default=0.0, help="start of a time range of an indexed video (s)")
    ranged.add_argument("--end", type=float, default=0.0, help="end of the range (s); 0 = to the end")
    k = argparse.ArgumentParser(add_help=False)
    k.add_argument("--k", type=int, default=10, help="number of results (1-100)")

    p = sub.add_parser("similar", parents=[common, ranged, k], help="videos most like a video or clip",
                       description="QUERY is an indexed video id (e.g. trips/day1/GOPR0042) or the path "
                                   "of a video file, which is uploaded and embedded by the server.")
    p.add_argument("query")
    p.add_argument("--mode", choices=sorted(MODES), default="segments",
                   help="rank by copied segments (default: a short exact copy inside other footage ranks "
                        "first) or by whole-video similarity (order and coverage of the whole query)")
    p.set_defaults(func=cmd_similar)
    p = sub.add_parser("duplicates", parents=[common], help="groups of videos that share copied segments",
                       description="Groups of indexed videos linked by copied segments (copy score at or above "
                                   "the calibrated threshold), read from the server's similar-videos table.")
    p.add_argument("--min-score", type=float, default=0.0,
                   help="copy score at or above which two videos are duplicates (default: the calibrated threshold for indexed videos)")
    p.set_defaults(func=cmd_duplicates)
    p = sub.add_parser("dissimilar", parents=[common, k], help="videos as different as possible",
                       description="Without --to: k videos as far from each other as possible. With --to: "
                                   "the k videos farthest from that video (id or file).")
    p.add_argument("--to", help="video id or file to be far from")
    p.add_argument("--mode", choices=("content", "path"), default="content",
                   help="content (default): order-free, one shared place makes two videos close; "
                        "path: the seed's max-min over path fingerprints")
    p.set_defaults(func=cmd_dissimilar)
    p = sub.add_parser("label", parents=[common, ranged], help="labels per frame, segments and a video label")
    p.add_argument("query", help="indexed video id or a video file")
    p.set_defaults(func=cmd_label)
    p = sub.add_parser("labels", help="manage labels")
    lsub = p.add_subparsers(dest="labels_command", required=True, metavar="ACTION")
    p = lsub.add_parser("add", parents=[common], help="attach labels from a CSV (video_id,time_s,label); no re-index")
    p.add_argument("csv", type=Path)
    p.set_defaults(func=cmd_labels_add)
    p = sub.add_parser("outliers", parents=[common, k], help="videos ranked by anomaly score")
    p.set_defaults(func=cmd_outliers)
    p = sub.add_parser("videos", parents=[common], help="list indexed videos")
    p.add_argument("--prefix", default="", help="only ids starting with this")
    p.set_defaults(func=cmd_videos)
    p = sub.add_parser("info", parents=[common], help="what the server is serving")
    p.set_defaults(func=cmd_info)


def rpc_error(exc: grpc.RpcError) -> int:
    """One line on stderr, and the exit status of the call's status code."""
    code = code_of(exc.code())
    print(f"vidatlas: {exc.code().name.lower()}: {exc.details()}", file=sys.stderr)
    return int(EXIT_FOR[code])
