from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DissimilarMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DISSIMILAR_MODE_UNSPECIFIED: _ClassVar[DissimilarMode]
    DISSIMILAR_MODE_CONTENT: _ClassVar[DissimilarMode]
    DISSIMILAR_MODE_PATH: _ClassVar[DissimilarMode]
DISSIMILAR_MODE_UNSPECIFIED: DissimilarMode
DISSIMILAR_MODE_CONTENT: DissimilarMode
DISSIMILAR_MODE_PATH: DissimilarMode

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
    __slots__ = ("query", "k", "mode")
    class Mode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        MODE_UNSPECIFIED: _ClassVar[FindSimilarRequest.Mode]
        MODE_SEGMENTS: _ClassVar[FindSimilarRequest.Mode]
        MODE_WHOLE_VIDEO: _ClassVar[FindSimilarRequest.Mode]
    MODE_UNSPECIFIED: FindSimilarRequest.Mode
    MODE_SEGMENTS: FindSimilarRequest.Mode
    MODE_WHOLE_VIDEO: FindSimilarRequest.Mode
    QUERY_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    query: VideoQuery
    k: int
    mode: FindSimilarRequest.Mode
    def __init__(self, query: _Optional[_Union[VideoQuery, _Mapping]] = ..., k: _Optional[int] = ..., mode: _Optional[_Union[FindSimilarRequest.Mode, str]] = ...) -> None: ...

class FindDissimilarRequest(_message.Message):
    __slots__ = ("query", "k", "mode")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    query: VideoQuery
    k: int
    mode: DissimilarMode
    def __init__(self, query: _Optional[_Union[VideoQuery, _Mapping]] = ..., k: _Optional[int] = ..., mode: _Optional[_Union[DissimilarMode, str]] = ...) -> None: ...

class OutliersRequest(_message.Message):
    __slots__ = ("k",)
    K_FIELD_NUMBER: _ClassVar[int]
    k: int
    def __init__(self, k: _Optional[int] = ...) -> None: ...

class Result(_message.Message):
    __slots__ = ("video_id", "score", "start_s", "end_s", "query_start_s", "query_end_s", "segments", "copy_score", "is_copy")
    VIDEO_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    QUERY_START_S_FIELD_NUMBER: _ClassVar[int]
    QUERY_END_S_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    COPY_SCORE_FIELD_NUMBER: _ClassVar[int]
    IS_COPY_FIELD_NUMBER: _ClassVar[int]
    video_id: str
    score: float
    start_s: float
    end_s: float
    query_start_s: float
    query_end_s: float
    segments: _containers.RepeatedCompositeFieldContainer[CopySegment]
    copy_score: float
    is_copy: bool
    def __init__(self, video_id: _Optional[str] = ..., score: _Optional[float] = ..., start_s: _Optional[float] = ..., end_s: _Optional[float] = ..., query_start_s: _Optional[float] = ..., query_end_s: _Optional[float] = ..., segments: _Optional[_Iterable[_Union[CopySegment, _Mapping]]] = ..., copy_score: _Optional[float] = ..., is_copy: _Optional[bool] = ...) -> None: ...

class CopySegment(_message.Message):
    __slots__ = ("query_start_s", "query_end_s", "start_s", "end_s", "score")
    QUERY_START_S_FIELD_NUMBER: _ClassVar[int]
    QUERY_END_S_FIELD_NUMBER: _ClassVar[int]
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    query_start_s: float
    query_end_s: float
    start_s: float
    end_s: float
    score: float
    def __init__(self, query_start_s: _Optional[float] = ..., query_end_s: _Optional[float] = ..., start_s: _Optional[float] = ..., end_s: _Optional[float] = ..., score: _Optional[float] = ...) -> None: ...

class FindSimilarResponse(_message.Message):
    __slots__ = ("results", "bundle_version", "cached", "copy_threshold")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    COPY_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[Result]
    bundle_version: str
    cached: bool
    copy_threshold: float
    def __init__(self, results: _Optional[_Iterable[_Union[Result, _Mapping]]] = ..., bundle_version: _Optional[str] = ..., cached: _Optional[bool] = ..., copy_threshold: _Optional[float] = ...) -> None: ...

class FindDissimilarResponse(_message.Message):
    __slots__ = ("results", "bundle_version", "cached")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[Result]
    bundle_version: str
    cached: bool
    def __init__(self, results: _Optional[_Iterable[_Union[Result, _Mapping]]] = ..., bundle_version: _Optional[str] = ..., cached: _Optional[bool] = ...) -> None: ...

class OutliersResponse(_message.Message):
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

class DescribeVideoResponse(_message.Message):
    __slots__ = ("video",)
    VIDEO_FIELD_NUMBER: _ClassVar[int]
    video: VideoInfo
    def __init__(self, video: _Optional[_Union[VideoInfo, _Mapping]] = ...) -> None: ...

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

class GetInfoResponse(_message.Message):
    __slots__ = ("bundle_version", "videos", "frames", "backbone", "server_version", "labels", "parameters")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    BUNDLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    VIDEOS_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    BACKBONE_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    bundle_version: str
    videos: int
    frames: int
    backbone: str
    server_version: str
    labels: int
    parameters: _containers.ScalarMap[str, str]
    def __init__(self, bundle_version: _Optional[str] = ..., videos: _Optional[int] = ..., frames: _Optional[int] = ..., backbone: _Optional[str] = ..., server_version: _Optional[str] = ..., labels: _Optional[int] = ..., parameters: _Optional[_Mapping[str, str]] = ...) -> None: ...

class FindDuplicatesRequest(_message.Message):
    __slots__ = ("min_copy_score",)
    MIN_COPY_SCORE_FIELD_NUMBER: _ClassVar[int]
    min_copy_score: float
    def __init__(self, min_copy_score: _Optional[float] = ...) -> None: ...

class DuplicatePair(_message.Message):
    __slots__ = ("video_id", "other_video_id", "copy_score", "segments")
    VIDEO_ID_FIELD_NUMBER: _ClassVar[int]
    OTHER_VIDEO_ID_FIELD_NUMBER: _ClassVar[int]
    COPY_SCORE_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    video_id: str
    other_video_id: str
    copy_score: float
    segments: _containers.RepeatedCompositeFieldContainer[CopySegment]
    def __init__(self, video_id: _Optional[str] = ..., other_video_id: _Optional[str] = ..., copy_score: _Optional[float] = ..., segments: _Optional[_Iterable[_Union[CopySegment, _Mapping]]] = ...) -> None: ...

class DuplicateGroup(_message.Message):
    __slots__ = ("video_ids", "pairs")
    VIDEO_IDS_FIELD_NUMBER: _ClassVar[int]
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    video_ids: _containers.RepeatedScalarFieldContainer[str]
    pairs: _containers.RepeatedCompositeFieldContainer[DuplicatePair]
    def __init__(self, video_ids: _Optional[_Iterable[str]] = ..., pairs: _Optional[_Iterable[_Union[DuplicatePair, _Mapping]]] = ...) -> None: ...

class FindDuplicatesResponse(_message.Message):
    __slots__ = ("groups", "bundle_version", "copy_threshold", "cached")
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    COPY_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    groups: _containers.RepeatedCompositeFieldContainer[DuplicateGroup]
    bundle_version: str
    copy_threshold: float
    cached: bool
    def __init__(self, groups: _Optional[_Iterable[_Union[DuplicateGroup, _Mapping]]] = ..., bundle_version: _Optional[str] = ..., copy_threshold: _Optional[float] = ..., cached: _Optional[bool] = ...) -> None: ...
