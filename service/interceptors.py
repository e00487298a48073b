"""Server interceptors: bearer-token authentication and per-RPC metrics."""
from __future__ import annotations

import hmac
import time

import grpc

from .metrics import Metrics

OPEN_PREFIXES = ("/grpc.health.v1.Health/",)  # probes need no token


def _wrap_unary(handler, behaviour):
    return grpc.unary_unary_rpc_method_handler(
        behaviour, request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer)


class AuthInterceptor(grpc.ServerInterceptor):
    """Requires ``authorization: Bearer <token>`` on every call but health checks."""

    def __init__(self, token: str):
        self._expected = f"Bearer {token}".encode()

    def intercept_service(self, continuation, details):
        handler = continuation(details)
        if handler is None or details.method.startswith(OPEN_PREFIXES) or handler.unary_unary is None:
            return handler
        supplied = dict(details.invocation_metadata or ()).get("authorization", "")
        if hmac.compare_digest(supplied.encode(), self._expected):
            return handler

        def deny(request, context):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")
        return _wrap_unary(handler, deny)


class MetricsInterceptor(grpc.ServerInterceptor):
    def __init__(self, metrics: Metrics):
        self.metrics = metrics

    def intercept_service(self, continuation, details):
        handler = continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = details.method.rsplit("/", 1)[-1]
        inner = handler.unary_unary
        m = self.metrics

        def observed(request, context):
            start = time.perf_counter()
            code = "OK"
            try:
                return inner(request, context)
            except BaseException:
                status = context.code() if hasattr(context, "code") else None
                code = status.name if status is not None else "UNKNOWN"
                raise
            finally:
                m.rpc_latency.labels(method).observe(time.perf_counter() - start)
                m.rpc_total.labels(method, code).inc()
        return _wrap_unary(handler, observed)
