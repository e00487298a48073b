"""Compiled loops (numba), kept in numba's on-disk cache: one rule for the map layout and the
search's alignment kernels."""
from __future__ import annotations


def njit(fn, **flags):
    """``fn`` compiled with ``nogil`` (and ``flags``), cached on disk (NUMBA_CACHE_DIR, else beside
    its source) so that it compiles once per machine; without a writable cache location, compiled
    in every process instead."""
    import numba
    try:
        return numba.njit(cache=True, nogil=True, **flags)(fn)
    except RuntimeError:
        return numba.njit(nogil=True, **flags)(fn)
