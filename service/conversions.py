"""All proto <-> domain conversion, in one place."""
from __future__ import annotations

from .api import vidatlas_pb2 as pb
from query.copies import Segment
from query.labelling import Labelling
from query.neighbours import DuplicateGroup
from query.search import MODES, SEGMENTS, Match

# FindSimilarRequest.Mode -> the search's mode names (UNSPECIFIED, from old clients: the default)
MODE_FOR = {pb.FindSimilarRequest.MODE_UNSPECIFIED: SEGMENTS, pb.FindSimilarRequest.MODE_SEGMENTS: SEGMENTS,
            pb.FindSimilarRequest.MODE_WHOLE_VIDEO: MODES[1]}


def mode(request: pb.FindSimilarRequest) -> str:
    """The request's mode; an unknown number (a newer client) is passed on for the search to refuse."""
    return MODE_FOR.get(request.mode, f"mode number {request.mode}")


def copy_segment(g: Segment) -> pb.CopySegment:
    return pb.CopySegment(query_start_s=g.query_start_s, query_end_s=g.query_end_s, start_s=g.start_s,
                          end_s=g.end_s, score=g.score)


def result(m: Match) -> pb.Result:
    return pb.Result(video_id=m.video_id, score=m.score, start_s=m.start_s, end_s=m.end_s,
                     query_start_s=m.query_start_s, query_end_s=m.query_end_s,
                     segments=[copy_segment(g) for g in m.segments], copy_score=m.copy_score, is_copy=m.is_copy)


def duplicates_response(groups: list[DuplicateGroup], threshold: float, version: str) -> pb.FindDuplicatesResponse:
    return pb.FindDuplicatesResponse(
        groups=[pb.DuplicateGroup(video_ids=g.videos,
                                  pairs=[pb.DuplicatePair(video_id=a, other_video_id=b, copy_score=c,
                                                          segments=[copy_segment(x) for x in segs])
                                         for a, b, c, segs in g.pairs]) for g in groups],
        copy_threshold=threshold, bundle_version=version)


SearchResponse = pb.FindSimilarResponse | pb.FindDissimilarResponse | pb.OutliersResponse


def search_response(kind: type[SearchResponse], matches: list[Match], version: str) -> SearchResponse:
    """FindSimilar, FindDissimilar and Outliers answer with the same fields, each in its own message."""
    return kind(results=[result(m) for m in matches], bundle_version=version)


DISSIMILAR_MODE = {pb.DISSIMILAR_MODE_UNSPECIFIED: "content", pb.DISSIMILAR_MODE_CONTENT: "content",
                   pb.DISSIMILAR_MODE_PATH: "path"}
DISSIMILAR_MODE_PB = {"content": pb.DISSIMILAR_MODE_CONTENT, "path": pb.DISSIMILAR_MODE_PATH}


def dissimilar_mode(request: pb.FindDissimilarRequest) -> str:
    """The request's mode as the query package names it; an unknown number (a newer client) is
    passed on as such and refused there as INVALID_ARGUMENT."""
    return DISSIMILAR_MODE.get(request.mode, f"mode {request.mode}")


def label_response(lab: Labelling, version: str) -> pb.LabelVideoResponse:
    return pb.LabelVideoResponse(
        video_label=lab.video_label, confidence=lab.confidence, unsupervised=lab.unsupervised,
        frames=[pb.FrameLabel(time_s=t, label=lb, confidence=c) for t, lb, c in lab.frames],
        segments=[pb.Segment(start_s=a, end_s=b, label=lb) for a, b, lb in lab.segments],
        bundle_version=version)


def video_info(record: dict, anomaly: float) -> pb.VideoInfo:
    return pb.VideoInfo(video_id=record["id"], duration_s=record["duration_s"], frames=record["frames"],
                        width=record.get("width") or 0, height=record.get("height") or 0, anomaly_score=anomaly)


def parameters(*settings) -> dict[str, str]:
    """Every field of the given settings objects as ``section.field`` strings (GetInfo), secrets
    and file paths left out."""
    import dataclasses
    out = {}
    for obj in settings:
        section = type(obj).__name__.removesuffix("Settings").lower()
        for f in dataclasses.fields(obj):
            if any(word in f.name for word in ("token", "tls", "key", "path", "weights", "url", "bundle")):
                continue
            out[f"{section}.{f.name}"] = str(getattr(obj, f.name))
    return out


def label_rows(request: pb.AddLabelsRequest) -> list[dict]:
    return [{"video_id": r.video_id, "time_s": r.time_s, "label": r.label} for r in request.labels]


def _segments_json(segments) -> list[dict]:
    return [{"query_start_s": g.query_start_s, "query_end_s": g.query_end_s, "start_s": g.start_s,
             "end_s": g.end_s, "score": round(g.score, 6)} for g in segments]


def search_json(resp: SearchResponse) -> dict:
    """The CLI's documented --json shape for similar / dissimilar / outliers (similar adds each
    result's copied segments and copy verdict, and the threshold)."""
    similar = isinstance(resp, pb.FindSimilarResponse)
    results = []
    for r in resp.results:
        row = {"video_id": r.video_id, "score": round(r.score, 6), "start_s": r.start_s, "end_s": r.end_s,
               "query_start_s": r.query_start_s, "query_end_s": r.query_end_s}
        if similar:
            row.update(copy_score=round(r.copy_score, 6), is_copy=r.is_copy, segments=_segments_json(r.segments))
        results.append(row)
    out = {"results": results, "bundle_version": resp.bundle_version}
    if similar:
        out["copy_threshold"] = round(resp.copy_threshold, 6)
    return out


def duplicates_json(resp: pb.FindDuplicatesResponse) -> dict:
    """The CLI's --json shape for duplicates."""
    return {"groups": [{"video_ids": list(g.video_ids),
                        "pairs": [{"video_id": p.video_id, "other_video_id": p.other_video_id,
                                   "copy_score": round(p.copy_score, 6), "segments": _segments_json(p.segments)}
                                  for p in g.pairs]} for g in resp.groups],
            "copy_threshold": round(resp.copy_threshold, 6), "bundle_version": resp.bundle_version}


def label_json(resp: pb.LabelVideoResponse) -> dict:
    return {"video_label": resp.video_label, "confidence": round(resp.confidence, 6),
            "unsupervised": resp.unsupervised,
            "frames": [{"time_s": f.time_s, "label": f.label, "confidence": round(f.confidence, 6)} for f in resp.frames],
            "segments": [{"start_s": s.start_s, "end_s": s.end_s, "label": s.label} for s in resp.segments],
            "bundle_version": resp.bundle_version}
