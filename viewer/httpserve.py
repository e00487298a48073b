"""Serve the viewer page over HTTP; with a vidatlas service behind it, the page asks
``api/similar`` and this server answers with FindSimilar over gRPC (the browser cannot speak gRPC).

Loopback by default: the page embeds thumbnails of the collection.
"""
from __future__ import annotations

import json
import logging
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlparse

import grpc

log = logging.getLogger(__name__)

API_PATH = "api/similar"
HTTP_STATUS = {grpc.StatusCode.INVALID_ARGUMENT: HTTPStatus.BAD_REQUEST, grpc.StatusCode.NOT_FOUND: HTTPStatus.NOT_FOUND,
               grpc.StatusCode.DEADLINE_EXCEEDED: HTTPStatus.GATEWAY_TIMEOUT}  # anything else: 502


def make_server(html: str, similar: Callable[[str, int], dict] | None, host: str, port: int) -> ThreadingHTTPServer:
    """An HTTP server for the page at ``/``; ``similar(video_id, k)`` answers ``/api/similar``."""
    body = html.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            url = urlparse(self.path)
            if url.path in ("/", "/index.html"):
                return self._send(HTTPStatus.OK, body, "text/html; charset=utf-8")
            if url.path == "/" + API_PATH and similar is not None:
                return self._similar(parse_qs(url.query))
            return self._json(HTTPStatus.NOT_FOUND, {"error": f"no such page: {url.path}"})

        def _similar(self, query: dict) -> None:
            video = (query.get("video") or [""])[0]
            try:
                k = int((query.get("k") or ["5"])[0])
            except ValueError:
                return self._json(HTTPStatus.BAD_REQUEST, {"error": "k must be an integer"})
            if not video:
                return self._json(HTTPStatus.BAD_REQUEST, {"error": "video is required"})
            try:
                return self._json(HTTPStatus.OK, similar(video, k))
            except grpc.RpcError as exc:
                status = HTTP_STATUS.get(exc.code(), HTTPStatus.BAD_GATEWAY)
                return self._json(status, {"error": f"{exc.code().name.lower()}: {exc.details()}"})

        def _json(self, status: HTTPStatus, payload: dict) -> None:
            self._send(status, json.dumps(payload).encode(), "application/json")

        def _send(self, status: HTTPStatus, data: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, fmt, *args):
            log.debug("http %s", fmt % args)

    return ThreadingHTTPServer((host, port), Handler)
