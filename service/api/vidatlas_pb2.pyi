from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VideoQuery(_message.Message):
    __slots__ = ("video_id", "clip", "start_s", "end_s")
    VIDEO_ID_FIELD_NUMBER: _ClassVar[int]
    CLIP_FIELD_NUMBER: _ClassVar[int]
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    video_id: str
    clip: bytes
    start_s: float
    end_s: float
    def __init__(self, video_id: _Optional[str] = ..., clip: _Optional[bytes] = ..., start_s: _Optional[float] = ..., end_s: _Optional[float] = ...) -> None: ...

class FindSimilarRequest(_message.Message):
    __slots__ = ("query", "k")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    query: VideoQuery
    k: int
    def __init__(self, query: _Optional[_Union[VideoQuery, _Mapping]] = ..., k: _Optional[int] = ...) -> None: ...

class FindDissimilarRequest(_message.Message):
    __slots__ = ("query", "k")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    query: VideoQuery
    k: int
    def __init__(self, query: _Optional[_Union[VideoQuery, _Mapping]] = ..., k: _Optional[int] = ...) -> None: ...

class OutliersRequest(_message.Message):
    __slots__ = ("k",)
    K_FIELD_NUMBER: _ClassVar[int]
    k: int
    def __init__(self, k: _Optional[int] = ...) -> None: ...

class Result(_message.Message):
    __slots__ = ("video_id", "score", "start_s", "end_s", "query_start_s", "query_end_s")
    VIDEO_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    QUERY_START_S_FIELD_NUMBER: _ClassVar[int]
    QUERY_END_S_FIELD_NUMBER: _ClassVar[int]
    video_id: str
    score: float
    start_s: float
    end_s: float
    query_start_s: float
    query_end_s: float
    def __init__(self, video_id: _Optional[str] = ..., score: _Optional[float] = ..., start_s: _Optional[float] = ..., end_s: _Optional[float] = ..., query_start_s: _Optional[float] = ..., query_end_s: _Optional[float] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("results", "bundle_version", "cached")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[Result]
    bundle_version: str
    cached: bool
    def __init__(self, results: _Optional[_Iterable[_Union[Result, _Mapping]]] = ..., bundle_version: _Optional[str] = ..., cached: _Optional[bool] = ...) -> None: ...

class LabelVideoRequest(_message.Message):
    __slots__ = ("query",)
    QUERY_FIELD_NUMBER: _ClassVar[int]
    query: VideoQuery
    def __init__(self, query: _Optional[_Union[VideoQuery, _Mapping]] = ...) -> None: ...

class FrameLabel(_message.Message):
    __slots__ = ("time_s", "label", "confidence")
    TIME_S_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    time_s: float
    label: str
    confidence: float
    def __init__(self, time_s: _Optional[float] = ..., label: _Optional[str] = ..., confidence: _Optional[float] = ...) -> None: ...

class Segment(_message.Message):
    __slots__ = ("start_s", "end_s", "label")
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    start_s: float
    end_s: float
    label: str
    def __init__(self, start_s: _Optional[float] = ..., end_s: _Optional[float] = ..., label: _Optional[str] = ...) -> None: ...

class LabelVideoResponse(_message.Message):
    __slots__ = ("video_label", "confidence", "frames", "segments", "unsupervised", "bundle_version")
    VIDEO_LABEL_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    UNSUPERVISED_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    video_label: str
    confidence: float
    frames: _containers.RepeatedCompositeFieldContainer[FrameLabel]
    segments: _containers.RepeatedCompositeFieldContainer[Segment]
    unsupervised: bool
    bundle_version: str
    def __init__(self, video_label: _Optional[str] = ..., confidence: _Optional[float] = ..., frames: _Optional[_Iterable[_Union[FrameLabel, _Mapping]]] = ..., segments: _Optional[_Iterable[_Union[Segment, _Mapping]]] = ..., unsupervised: _Optional[bool] = ..., bundle_version: _Optional[str] = ...) -> None: ...

class ListVideosRequest(_message.Message):
    __slots__ = ("prefix", "page_size", "page_token")
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    prefix: str
    page_size: int
    page_token: str
    def __init__(self, prefix: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class VideoInfo(_message.Message):
    __slots__ = ("video_id", "duration_s", "frames", "width", "height", "anomaly_score")
    VIDEO_ID_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    ANOMALY_SCORE_FIELD_NUMBER: _ClassVar[int]
    video_id: str
    duration_s: float
    frames: int
    width: int
    height: int
    anomaly_score: float
    def __init__(self, video_id: _Optional[str] = ..., duration_s: _Optional[float] = ..., frames: _Optional[int] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., anomaly_score: _Optional[float] = ...) -> None: ...

class ListVideosResponse(_message.Message):
    __slots__ = ("videos", "next_page_token")
    VIDEOS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    videos: _containers.RepeatedCompositeFieldContainer[VideoInfo]
    next_page_token: str
    def __init__(self, videos: _Optional[_Iterable[_Union[VideoInfo, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DescribeVideoRequest(_message.Message):
    __slots__ = ("video_id",)
    VIDEO_ID_FIELD_NUMBER: _ClassVar[int]
    video_id: str
    def __init__(self, video_id: _Optional[str] = ...) -> None: ...

class LabelRow(_message.Message):
    __slots__ = ("video_id", "time_s", "label")
    VIDEO_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_S_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    video_id: str
    time_s: float
    label: str
    def __init__(self, video_id: _Optional[str] = ..., time_s: _Optional[float] = ..., label: _Optional[str] = ...) -> None: ...

class AddLabelsRequest(_message.Message):
    __slots__ = ("labels",)
    LABELS_FIELD_NUMBER: _ClassVar[int]
    labels: _containers.RepeatedCompositeFieldContainer[LabelRow]
    def __init__(self, labels: _Optional[_Iterable[_Union[LabelRow, _Mapping]]] = ...) -> None: ...

class AddLabelsResponse(_message.Message):
    __slots__ = ("added", "total")
    ADDED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    added: int
    total: int
    def __init__(self, added: _Optional[int] = ..., total: _Optional[int] = ...) -> None: ...

class GetInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ServiceInfo(_message.Message):
    __slots__ = ("bundle_version", "videos", "frames", "backbone", "server_version", "labels")
    BUNDLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    VIDEOS_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    BACKBONE_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    bundle_version: str
    videos: int
    frames: int
    backbone: str
    server_version: str
    labels: int
    def __init__(self, bundle_version: _Optional[str] = ..., videos: _Optional[int] = ..., frames: _Optional[int] = ..., backbone: _Optional[str] = ..., server_version: _Optional[str] = ..., labels: _Optional[int] = ...) -> None: ...
