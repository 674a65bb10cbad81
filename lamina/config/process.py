"""Process-wide tuning for llama.cpp and torch: glibc's malloc and OpenMP's spinning.

Each function says what it measured; all are no-ops where they do not apply.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from typing import Any

__all__ = ["bounded_malloc", "bounded_openmp_spin", "release_free_heap"]


_MALLOC_BOUNDED = False
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameters (malloc.h)
_M_ARENA_MAX = -8


def bounded_malloc() -> bool:
    """Keep glibc from holding on to memory that llama.cpp's KV prefix cache has let go.

    The KV prefix cache keeps llama.cpp states of a few MiB each and evicts the oldest when full.
    Under glibc's defaults the first freed state raises the mmap threshold, later states come
    from the heap, and evicted ones leave holes that are never returned, across one arena per
    thread. Measured with `bench/soak.py` (60 runs, SmolLM2): RSS outside the capped cache grew
    550 MiB with the defaults and 71 MiB (11 MiB in the second half) with a fixed 1 MiB mmap
    threshold and two arenas, which this sets at run time. Does nothing off glibc, or when the
    user set `MALLOC_MMAP_THRESHOLD_`/`MALLOC_ARENA_MAX` themselves.

    Returns:
        True when the settings were applied (now or before).
    """
    global _MALLOC_BOUNDED
    if _MALLOC_BOUNDED:
        return True
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    mallopt = _glibc_function("mallopt")
    if mallopt is None:
        return False
    ok = bool(mallopt(_M_MMAP_THRESHOLD, 1024 * 1024))
    if "MALLOC_ARENA_MAX" not in os.environ:
        ok = bool(mallopt(_M_ARENA_MAX, 2)) and ok
    _MALLOC_BOUNDED = ok
    return ok


def release_free_heap() -> bool:
    """Hand the free pages inside glibc's heaps back to the OS (`malloc_trim(0)`).

    `bounded_malloc` keeps large blocks out of the heap, but the KV states llama.cpp's prefix
    cache evicts still leave free runs of pages between live blocks, which glibc only returns
    from the top of a heap. Measured with a 60-run soak (SmolLM2, 256 MiB cache cap): RSS outside
    the cache grew 159 MiB without trimming and -4 MiB when trimming after each run; a trim took
    2.1 ms on average (7.7 ms at most). The pool's RAM cache trims after each eviction: 200 runs
    grew 10 MiB outside the cache (300 MiB before).

    Returns:
        True when the trim ran (glibc only).
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


@lru_cache(maxsize=1)
def _malloc_trim() -> Any:
    trim = _glibc_function("malloc_trim")
    if trim is not None:
        import ctypes

        trim.argtypes = [ctypes.c_size_t]
        trim.restype = ctypes.c_int
    return trim


def _glibc_function(name: str) -> Any:
    """A function of glibc's malloc, or None off Linux or on another libc (musl has neither)."""
    if sys.platform != "linux":
        return None
    import ctypes
    import ctypes.util

    try:
        return getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), name)
    except (OSError, AttributeError):
        return None


def bounded_openmp_spin() -> None:
    """Let OpenMP worker threads (llama.cpp's, torch's) spin only briefly before they sleep.

    llama.cpp syncs its threads after every operation, so how they wait decides its speed on
    small CPUs. Measured on 2 cores, SmolLM2-135M, 2 threads, 128 tokens: libgomp's default
    (long spins) gives 90 tok/s on an idle machine but collapses when another process wants the
    cores (7.7 s for a 6-token prompt); OMP_WAIT_POLICY=PASSIVE survives contention (37 tok/s)
    but costs 75 % idle (23 tok/s); a spin count of 10,000 gives 85 tok/s idle and 25 tok/s
    with one competing process. libgomp reads the variable when it loads, so this runs before
    the first import of llama_cpp or torch; a value the user set wins.
    """
    os.environ.setdefault("GOMP_SPINCOUNT", "10000")
