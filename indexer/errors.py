"""The project's one exception type.

Every failure a user can cause (bad input, unknown id, a bundle that cannot be read, a limit
crossed) is a :class:`VidatlasError` with a :class:`Code`. The CLI turns the code into an exit
status and the gRPC service into a status code, each in one place.
"""
from __future__ import annotations

import enum


class Code(enum.Enum):
    INVALID_ARGUMENT = "invalid_argument"
    NOT_FOUND = "not_found"
    FAILED_PRECONDITION = "failed_precondition"
    RESOURCE_EXHAUSTED = "resource_exhausted"
    DATA_LOSS = "data_loss"
    INTERNAL = "internal"


class VidatlasError(Exception):
    """A failure with a user-facing message and a machine-readable code."""

    def __init__(self, message: str, code: Code = Code.INVALID_ARGUMENT):
        super().__init__(message)
        self.code = code

    @property
    def message(self) -> str:
        return str(self)
