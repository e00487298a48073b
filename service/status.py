"""Project error codes ↔ gRPC status codes: the one place they meet.

The server answers a :class:`VidatlasError` with :data:`STATUS_FOR` its code; the client turns a
failed call's status back into a :class:`Code`, whose exit status comes from ``indexer.errors``.
"""
from __future__ import annotations

import grpc

from indexer.errors import Code

STATUS_FOR: dict[Code, grpc.StatusCode] = {
    Code.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    Code.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    Code.FAILED_PRECONDITION: grpc.StatusCode.FAILED_PRECONDITION,
    Code.RESOURCE_EXHAUSTED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Code.DATA_LOSS: grpc.StatusCode.FAILED_PRECONDITION,  # the server's bundle is damaged: not the caller's data
    Code.INTERNAL: grpc.StatusCode.INTERNAL,
    Code.DEADLINE_EXCEEDED: grpc.StatusCode.DEADLINE_EXCEEDED,
    Code.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    Code.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
}


def code_of(status: grpc.StatusCode) -> Code:
    """The project code for a status a call ended with (INTERNAL for any other status)."""
    return Code.__members__.get(status.name, Code.INTERNAL)
