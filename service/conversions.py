"""All proto <-> domain conversion, in one place."""
from __future__ import annotations

from .api import vidatlas_pb2 as pb
from .labelling import Labelling
from .search import Match


def result(m: Match) -> pb.Result:
    return pb.Result(video_id=m.video_id, score=m.score, start_s=m.start_s, end_s=m.end_s,
                     query_start_s=m.query_start_s, query_end_s=m.query_end_s)


def search_response(matches: list[Match], version: str) -> pb.SearchResponse:
    return pb.SearchResponse(results=[result(m) for m in matches], bundle_version=version)


def label_response(lab: Labelling, version: str) -> pb.LabelVideoResponse:
    return pb.LabelVideoResponse(
        video_label=lab.video_label, confidence=lab.confidence, unsupervised=lab.unsupervised,
        frames=[pb.FrameLabel(time_s=t, label=lb, confidence=c) for t, lb, c in lab.frames],
        segments=[pb.Segment(start_s=a, end_s=b, label=lb) for a, b, lb in lab.segments],
        bundle_version=version)


def video_info(record: dict, anomaly: float) -> pb.VideoInfo:
    return pb.VideoInfo(video_id=record["id"], duration_s=record["duration_s"], frames=record["frames"],
                        width=record.get("width") or 0, height=record.get("height") or 0, anomaly_score=anomaly)


def label_rows(request: pb.AddLabelsRequest) -> list[dict]:
    return [{"video_id": r.video_id, "time_s": r.time_s, "label": r.label} for r in request.labels]


def search_json(resp: pb.SearchResponse) -> dict:
    """The CLI's documented --json shape for similar / dissimilar / outliers."""
    return {"results": [{"video_id": r.video_id, "score": round(r.score, 6), "start_s": r.start_s,
                         "end_s": r.end_s, "query_start_s": r.query_start_s, "query_end_s": r.query_end_s}
                        for r in resp.results],
            "bundle_version": resp.bundle_version}


def label_json(resp: pb.LabelVideoResponse) -> dict:
    return {"video_label": resp.video_label, "confidence": round(resp.confidence, 6),
            "unsupervised": resp.unsupervised,
            "frames": [{"time_s": f.time_s, "label": f.label, "confidence": round(f.confidence, 6)} for f in resp.frames],
            "segments": [{"start_s": s.start_s, "end_s": s.end_s, "label": s.label} for s in resp.segments],
            "bundle_version": resp.bundle_version}
