"""The project's one exception type, and the one table of exit statuses.

Every failure a user can cause (bad input, unknown id, a bundle that cannot be read, a limit
crossed) is a :class:`VidatlasError` with a :class:`Code`. The codes are named after the gRPC
status codes they become (the service maps them in one place, ``service/status.py``), and every
code has a process exit status in :data:`EXIT_FOR`, the one table the command line uses. The
README's "Exit status" table lists the same rows (a test holds the three together).
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
    # what a client meets on the way to a server (never raised by the index or the search)
    DEADLINE_EXCEEDED = "deadline_exceeded"
    UNAVAILABLE = "unavailable"
    UNAUTHENTICATED = "unauthenticated"


class Exit(enum.IntEnum):
    """Process exit statuses of the ``vidatlas`` command."""

    OK = 0
    ERROR = 1                 # an error without a more specific status (one line on stderr)
    USAGE = 2                 # bad command-line usage (argparse)
    PARTIAL = 3               # an index run finished but some inputs failed (listed in the summary)
    INVALID_ARGUMENT = 4
    NOT_FOUND = 5
    FAILED_PRECONDITION = 6   # e.g. no bundle loaded, settings that do not fit the bundle
    RESOURCE_EXHAUSTED = 7
    DEADLINE_EXCEEDED = 8
    UNAVAILABLE = 9           # no server at the address
    UNAUTHENTICATED = 10      # missing or wrong bearer token
    DATA_LOSS = 11            # a bundle or cache file is damaged
    INTERRUPTED = 130         # Ctrl-C; cached work is kept


EXIT_FOR: dict[Code, Exit] = {
    Code.INVALID_ARGUMENT: Exit.INVALID_ARGUMENT,
    Code.NOT_FOUND: Exit.NOT_FOUND,
    Code.FAILED_PRECONDITION: Exit.FAILED_PRECONDITION,
    Code.RESOURCE_EXHAUSTED: Exit.RESOURCE_EXHAUSTED,
    Code.DATA_LOSS: Exit.DATA_LOSS,
    Code.INTERNAL: Exit.ERROR,
    Code.DEADLINE_EXCEEDED: Exit.DEADLINE_EXCEEDED,
    Code.UNAVAILABLE: Exit.UNAVAILABLE,
    Code.UNAUTHENTICATED: Exit.UNAUTHENTICATED,
}


class VidatlasError(Exception):
    """A failure with a user-facing message and a machine-readable code."""

    def __init__(self, message: str, code: Code = Code.INVALID_ARGUMENT):
        super().__init__(message)
        self.code = code

    @property
    def message(self) -> str:
        return str(self)

    @property
    def exit_status(self) -> Exit:
        return EXIT_FOR[self.code]
