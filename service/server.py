"""The gRPC server: servicer, error mapping, health, and ``create_server``."""
from __future__ import annotations

import functools
import logging
import sys
import threading
import time
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from indexer import Code, VidatlasError
from query import kernels, neighbours
from query.labelling import label
from query.search import Query

from . import conversions as conv
from .api import vidatlas_pb2 as pb
from .api import vidatlas_pb2_grpc as pb_grpc
from .cache import cache_key, make_cache
from .interceptors import AuthInterceptor, MetricsInterceptor
from .metrics import Metrics
from .settings import ServiceSettings
from .state import Holder, State
from .status import STATUS_FOR

log = logging.getLogger(__name__)
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["VidAtlasService"].full_name
MAX_MESSAGE_BYTES = 80 << 20
SWITCH_INTERVAL_S = 0.0005  # see serve()

def rpc(method):
    """Map every outcome of a handler to a proper status: the one place errors become codes."""
    @functools.wraps(method)
    def wrapper(self, request, context):
        try:
            return method(self, request, context)
        except VidatlasError as exc:
            context.abort(STATUS_FOR[exc.code], str(exc))
        except Exception as exc:  # a bug: log it, answer INTERNAL (never UNKNOWN)
            if isinstance(exc, grpc.RpcError) or type(exc).__name__ == "_AbortError":
                raise
            log.exception("internal error in %s", method.__name__)
            context.abort(grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}")
    return wrapper


def _check_deadline(context) -> None:
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        raise VidatlasError("deadline exceeded", Code.DEADLINE_EXCEEDED)


class VidAtlasServicer(pb_grpc.VidAtlasServiceServicer):
    def __init__(self, holder: Holder, settings: ServiceSettings, metrics: Metrics | None = None):
        self.holder = holder
        self.settings = settings
        self.cache = make_cache(settings, on_event=metrics.cache_events if metrics else None)
        self.embedder = holder.embedder

    # -- helpers -------------------------------------------------------------------------------
    def _query(self, state: State, q: pb.VideoQuery, context, dense: bool = False) -> Query:
        kind = q.WhichOneof("source")
        if kind == "video_id":
            return state.searcher.query_for_video(q.video_id, q.start_s, q.end_s)
        if kind == "clip":
            _check_deadline(context)
            return self.embedder.embed(state.searcher, q.clip, dense)
        raise VidatlasError("the query needs a video_id or a clip", Code.INVALID_ARGUMENT)

    def _cached(self, state: State, name: str, request, context, compute, response_type, extra: str = ""):
        key = cache_key(state.cache_namespace, name, request.SerializeToString(deterministic=True), extra)
        data, hit = self.cache.get_or_compute(key, lambda: compute().SerializeToString())
        _check_deadline(context)
        resp = response_type.FromString(data)
        if hasattr(resp, "cached"):
            resp.cached = hit
        return resp

    # -- RPCs ----------------------------------------------------------------------------------
    @rpc
    def FindSimilar(self, request, context):
        state = self.holder.current()
        k = request.k

        def compute():
            q = self._query(state, request.query, context, dense=True)
            matches = neighbours.similar(state.searcher, q, k, state.table, conv.mode(request))
            resp = conv.search_response(pb.FindSimilarResponse, matches, state.version)
            resp.copy_threshold = state.searcher.copy_threshold_for(q)
            return resp
        return self._cached(state, "similar", request, context, compute, pb.FindSimilarResponse)

    @rpc
    def FindDuplicates(self, request, context):
        state = self.holder.current()
        if state.table is None:
            if not self.settings.precompute_similar:
                raise VidatlasError("duplicates are read from the similar-videos table, which this server does not "
                                    "precompute (VIDATLAS_SERVICE_PRECOMPUTE_SIMILAR=false)", Code.FAILED_PRECONDITION)
            raise VidatlasError("the similar-videos table is still being built; retry shortly", Code.UNAVAILABLE)
        if request.min_copy_score < 0:
            raise VidatlasError("min_copy_score must not be negative", Code.INVALID_ARGUMENT)
        threshold = request.min_copy_score or state.searcher.settings.indexed_copy_threshold
        return self._cached(state, "duplicates", request, context,
                            lambda: conv.duplicates_response(
                                neighbours.duplicate_groups(state.searcher.ids, state.table, threshold),
                                threshold, state.version),
                            pb.FindDuplicatesResponse, extra="table")

    @rpc
    def FindDissimilar(self, request, context):
        state = self.holder.current()

        def compute():
            q = self._query(state, request.query, context) if request.HasField("query") else None
            return conv.search_response(pb.FindDissimilarResponse, state.searcher.dissimilar(request.k, q, conv.dissimilar_mode(request)),
                                        state.version)
        return self._cached(state, "dissimilar", request, context, compute, pb.FindDissimilarResponse)

    @rpc
    def Outliers(self, request, context):
        state = self.holder.current()
        return self._cached(state, "outliers", request, context,
                            lambda: conv.search_response(pb.OutliersResponse, state.searcher.outliers(request.k),
                                                         state.version),
                            pb.OutliersResponse)

    @rpc
    def LabelVideo(self, request, context):
        state = self.holder.current()

        def compute():
            q = self._query(state, request.query, context)
            return conv.label_response(label(state.searcher, q, list(state.labels), key=state.labels_digest), state.version)
        return self._cached(state, "label", request, context, compute, pb.LabelVideoResponse,
                            extra=state.labels_digest)

    @rpc
    def ListVideos(self, request, context):
        s = self.holder.current().searcher
        size = request.page_size or self.settings.page_size
        if size > self.settings.max_page_size:
            raise VidatlasError(f"page_size is at most {self.settings.max_page_size}", Code.INVALID_ARGUMENT)
        try:
            start = int(request.page_token or 0)
        except ValueError:
            raise VidatlasError("bad page_token", Code.INVALID_ARGUMENT) from None
        rows = [i for i, v in enumerate(s.ids) if v.startswith(request.prefix)]
        page = rows[start:start + size]
        videos = s.bundle.content.videos
        return pb.ListVideosResponse(
            videos=[conv.video_info(videos[i], float(s.anomaly_videos[i])) for i in page],
            next_page_token=str(start + size) if start + size < len(rows) else "")

    @rpc
    def DescribeVideo(self, request, context):
        s = self.holder.current().searcher
        i = s.video_row(request.video_id)
        return pb.DescribeVideoResponse(video=conv.video_info(s.bundle.content.videos[i], float(s.anomaly_videos[i])))

    @rpc
    def AddLabels(self, request, context):
        added, total = self.holder.add_labels(conv.label_rows(request))
        return pb.AddLabelsResponse(added=added, total=total)

    @rpc
    def GetInfo(self, request, context):
        state = self.holder.current()
        s = state.searcher
        return pb.GetInfoResponse(bundle_version=state.version, videos=len(s.ids), frames=len(s.frame_time),
                                  backbone=s.bundle.manifest["backbone"]["name"], labels=len(state.labels),
                                  server_version=_server_version(),
                                  parameters=conv.parameters(s.settings, self.settings))


@functools.cache
def _server_version() -> str:
    """The installed package's version (read once: the lookup scans site-packages, ~1 ms)."""
    from importlib.metadata import version
    return version("vidatlas")


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise VidatlasError(f"cannot read {path}: {exc.strerror}", Code.FAILED_PRECONDITION) from None


def single_threaded_kernels() -> None:
    """Each RPC runs on its own thread; BLAS, OpenMP (FAISS) and torch must not each start a
    pool per call on top of that, or a few concurrent requests oversubscribe the cores."""
    import faiss
    import torch
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)
    faiss.omp_set_num_threads(1)
    torch.set_num_threads(1)


class Service:
    """A configured server: gRPC, health, optional metrics endpoint, hot reload, draining."""

    def __init__(self, settings: ServiceSettings, address: str | None = None):
        self.settings = settings
        self.metrics = Metrics()
        self.holder = Holder(settings, on_change=self._bundle_changed)
        interceptors = [MetricsInterceptor(self.metrics)]
        if settings.auth_token_file:
            token = _read(settings.auth_token_file).decode().strip()
            if not token:
                raise VidatlasError(f"{settings.auth_token_file} holds no token", Code.FAILED_PRECONDITION)
            interceptors.append(AuthInterceptor(token))
        limit = settings.max_clip_bytes + (1 << 20)
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="vidatlas-rpc"),
            interceptors=interceptors,
            options=[("grpc.max_receive_message_length", limit), ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)])
        self.servicer = VidAtlasServicer(self.holder, settings, self.metrics)
        pb_grpc.add_VidAtlasServiceServicer_to_server(self.servicer, self.server)
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        if settings.reflection:
            from . import reflection
            reflection.enable((SERVICE_NAME, health.SERVICE_NAME), self.server)
        address = address or f"{settings.host}:{settings.port}"
        if settings.tls_cert or settings.tls_key:
            creds = grpc.ssl_server_credentials(
                [(_read(settings.tls_key), _read(settings.tls_cert))],
                root_certificates=_read(settings.tls_client_ca) if settings.tls_client_ca else None,
                require_client_auth=bool(settings.tls_client_ca))
            self.port = self.server.add_secure_port(address, creds)
        else:
            self.port = self.server.add_insecure_port(address)
        if self.port == 0:
            raise VidatlasError(f"cannot bind {address}", Code.FAILED_PRECONDITION)
        self.draining = False
        self.metrics_server = None
        self.metrics_port = 0
        self.holder.load()
        self._set_health()

    def _bundle_changed(self, loaded: bool) -> None:
        if loaded:
            self.metrics.serving(self.holder.state.version)
        else:
            self.metrics.load_failures.inc()
        self._set_health()

    def _set_health(self) -> None:
        ok = self.holder.state is not None and not self.draining
        status = health_pb2.HealthCheckResponse.SERVING if ok else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", SERVICE_NAME):
            self.health.set(name, status)
        # "liveness": the process answers; a pod waiting for its first bundle is not restarted
        self.health.set("liveness", health_pb2.HealthCheckResponse.SERVING)

    def start(self) -> "Service":
        self.server.start()
        self.holder.watch()
        if self.settings.metrics_port >= 0 and self.settings.metrics_port != 0:
            self.metrics_server, self.metrics_port = self.metrics.serve_http(self.settings.metrics_port)
        return self

    def stop(self, drain_s: float | None = None, grace_s: float | None = None) -> None:
        """Report NOT_SERVING (load balancers stop sending), wait ``drain_s``, then stop accepting
        calls and give in-flight ones ``grace_s`` to finish."""
        self.draining = True
        self._set_health()
        time.sleep(self.settings.drain_s if drain_s is None else drain_s)
        self.holder.stop()
        self.server.stop(grace=self.settings.grace_s if grace_s is None else grace_s).wait()
        if self.metrics_server is not None:
            self.metrics_server.shutdown()


def create_server(settings: ServiceSettings, address: str | None = None) -> tuple[grpc.Server, int, Holder, VidAtlasServicer]:
    """A ready-to-start server bound to ``address`` (``host:0`` picks a free port)."""
    svc = Service(settings, address)
    return svc.server, svc.port, svc.holder, svc.servicer


def serve(settings: ServiceSettings) -> None:
    """Run until SIGINT/SIGTERM; in-flight calls finish before the process exits."""
    import signal
    single_threaded_kernels()
    # a thread waiting for the GIL gets it after at most this long: gRPC's poller and the handler
    # threads hand it over on every call, and Python's 5 ms default showed as the tail (1M-frame
    # time ranges over gRPC, p99 15 -> 12.5 ms; GetInfo p99 4.2 -> 3.0 ms)
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    kernels.ready()
    svc = Service(settings).start()
    log.warning("vidatlas serving on port %d (bundle %s)%s", svc.port,
                svc.holder.state.version if svc.holder.state else "none",
                f", metrics on :{svc.metrics_port}" if svc.metrics_port else "")
    done = threading.Event()

    def stop(*_):
        if not done.is_set():
            threading.Thread(target=lambda: (svc.stop(), done.set()), daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    done.wait()
