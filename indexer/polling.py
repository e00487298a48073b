"""Waiting on a shared volume for another process's result: a merge for its shards, an encode
worker for the merge's job, a neighbours shard for the published bundle."""
from __future__ import annotations

import logging
import time
from typing import Callable, TypeVar

from .errors import Code, VidatlasError

T = TypeVar("T")
log = logging.getLogger(__name__)


def wait_until(check: Callable[[], T | None], wait_s: float, poll_s: float, waiting: Callable[[], str]) -> T:
    """``check()``'s first answer that is not None, asking every ``poll_s`` seconds for at most
    ``wait_s`` seconds; then a FAILED_PRECONDITION error saying what was still awaited
    (``waiting()``, which is also logged at each wait)."""
    deadline = time.monotonic() + wait_s
    while True:
        found = check()
        if found is not None:
            return found
        what = waiting()
        if time.monotonic() >= deadline:
            raise VidatlasError(f"{what} after {wait_s:.0f} s", Code.FAILED_PRECONDITION)
        log.warning("%s; waiting", what)
        time.sleep(min(poll_s, max(0.0, deadline - time.monotonic())))
