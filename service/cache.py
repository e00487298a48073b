"""Result cache: Redis when a URL is given, an in-process LRU otherwise.

Keys carry the bundle version and a digest of the normalised request, every value has a TTL,
and identical concurrent misses compute once (single-flight). Redis failures never fail a
request: the cache answers "miss", the error is counted, and Redis is left alone for a short
back-off before it is tried again.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Callable

from .settings import ServiceSettings

log = logging.getLogger(__name__)


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    errors: int = 0


def cache_key(version: str, method: str, request: bytes, extra: str = "") -> str:
    digest = hashlib.sha256(request + b"\x00" + extra.encode()).hexdigest()[:32]
    return f"vidatlas:{version}:{method}:{digest}"


class LocalCache:
    """An in-process LRU with TTLs."""

    def __init__(self, capacity: int = 4096, ttl_s: float = 3600):
        self.capacity, self.ttl_s = capacity, ttl_s
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            if item[0] < time.monotonic():
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return item[1]

    def set(self, key: str, value: bytes) -> None:
        with self._lock:
            self._data[key] = (time.monotonic() + self.ttl_s, value)
            self._data.move_to_end(key)
            while len(self._data) > self.capacity:
                self._data.popitem(last=False)


class RedisCache:
    """Redis with short socket timeouts; fails open."""

    def __init__(self, url: str, ttl_s: float = 3600, timeout_s: float = 0.05, backoff_s: float = 1.0):
        import redis
        self.ttl_s, self.backoff_s = ttl_s, backoff_s
        self._client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                            retry_on_timeout=False, health_check_interval=0)
        self._errors_until = 0.0
        self.errors = 0
        self.on_error = None

    def _down(self) -> bool:
        return time.monotonic() < self._errors_until

    def _failed(self, exc: Exception) -> None:
        self.errors += 1
        if self.on_error:
            self.on_error()
        self._errors_until = time.monotonic() + self.backoff_s
        log.warning("redis unavailable (%s); serving without it for %.1f s", exc, self.backoff_s)

    def get(self, key: str) -> bytes | None:
        if self._down():
            return None
        try:
            return self._client.get(key)
        except Exception as exc:  # redis raises ConnectionError, TimeoutError, ResponseError...
            self._failed(exc)
            return None

    def set(self, key: str, value: bytes) -> None:
        if self._down():
            return
        try:
            self._client.set(key, value, ex=max(1, int(self.ttl_s)))
        except Exception as exc:
            self._failed(exc)


class ResultCache:
    """Get-or-compute with single-flight over either backend."""

    def __init__(self, backend: LocalCache | RedisCache, on_event=None):
        self.backend = backend
        self.stats = CacheStats()
        self._on_event = on_event  # a labelled prometheus Counter (hit / miss / error), or None
        if isinstance(backend, RedisCache) and on_event is not None:
            backend.on_error = lambda: on_event.labels("error").inc()
        self._inflight: dict[str, Future] = {}
        self._lock = threading.Lock()

    def _event(self, name: str) -> None:
        if self._on_event is not None:
            self._on_event.labels(name).inc()

    def get_or_compute(self, key: str, compute: Callable[[], bytes]) -> tuple[bytes, bool]:
        """``(value, was_cached)``; concurrent identical misses wait for one computation."""
        value = self.backend.get(key)
        if value is not None:
            self.stats.hits += 1
            self._event("hit")
            return value, True
        with self._lock:
            future = self._inflight.get(key)
            leader = future is None
            if leader:
                future = self._inflight[key] = Future()
        if not leader:
            self.stats.hits += 1
            self._event("hit")
            return future.result(), True
        self.stats.misses += 1
        self._event("miss")
        try:
            value = compute()
            future.set_result(value)
        except BaseException as exc:
            future.set_exception(exc)
            raise
        finally:
            with self._lock:
                self._inflight.pop(key, None)
        self.backend.set(key, value)
        return value, False

    @property
    def errors(self) -> int:
        return getattr(self.backend, "errors", 0)


def make_cache(settings: ServiceSettings, on_event=None) -> ResultCache:
    """Redis when the settings name a URL, else the in-process LRU."""
    s = settings
    store = (RedisCache(s.redis_url, s.cache_ttl_s, s.redis_timeout_s, s.redis_backoff_s) if s.redis_url
             else LocalCache(s.local_cache_entries, s.cache_ttl_s))
    return ResultCache(store, on_event)
