"""Prometheus metrics: per-RPC latency and status counts, cache, bundle version, load failures."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30)


class Metrics:
    """One registry per server, so several servers (tests) never collide."""

    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.rpc_latency = Histogram("vidatlas_rpc_latency_seconds", "RPC handling time", ["method"],
                                     buckets=LATENCY_BUCKETS, registry=r)
        self.rpc_total = Counter("vidatlas_rpc_total", "RPCs by final status", ["method", "code"], registry=r)
        self.cache_events = Counter("vidatlas_cache_events_total", "Result cache hits, misses and backend errors",
                                    ["event"], registry=r)
        self.bundle_info = Gauge("vidatlas_bundle_info", "The bundle version being served (value 1)", ["version"],
                                 registry=r)
        self.load_failures = Counter("vidatlas_bundle_load_failures_total", "Bundles refused at load", registry=r)
        self._version = None

    def serving(self, version: str) -> None:
        if self._version is not None:
            self.bundle_info.remove(self._version)
        self.bundle_info.labels(version).set(1)
        self._version = version

    def serve_http(self, port: int, addr: str = "0.0.0.0"):
        """Expose /metrics on ``port`` (0 picks a free one); returns (server, port)."""
        server, thread = start_http_server(port, addr=addr, registry=self.registry)
        return server, server.server_address[1]
