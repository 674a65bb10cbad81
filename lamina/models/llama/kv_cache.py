"""llama.cpp's KV prefix cache for a loaded model, in RAM or on disk.

llama.cpp by itself reuses only the prefix shared with the *previous* prompt of the same context.
The prefix cache keeps the states of earlier prompts, so when prompts alternate (solve, summarise,
solve again) the next one starts from the longest cached prefix instead of from scratch.

The two cache classes subclass llama-cpp-python's own and rely on their attributes
(`cache_state`, `cache`, `_find_longest_prefix_key`): like
:mod:`lamina.models.llama.internals`, they were written for llama-cpp-python
:data:`~lamina.models.llama.internals.WRITTEN_FOR`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lamina.config import Settings, release_free_heap
from lamina.models.catalog import ModelSpec

__all__ = ["attach_kv_cache"]


def attach_kv_cache(llama: Any, spec: ModelSpec, path: Path, settings: Settings) -> Any:
    """Give `llama` llama.cpp's KV prefix cache as `settings` ask (`kv_cache`, `kv_cache_bytes`).

    Measured on SmolLM2-135M with two alternating system prompts: 145 of 363 prompt tokens
    evaluated instead of all 363.

    Returns:
        The cache attached (None when it is switched off).
    """
    if settings.kv_cache == "off" or settings.kv_cache_bytes <= 0:
        return None
    import numpy as np

    if settings.kv_cache == "disk":
        folder = settings.home / "kv_cache" / _kv_cache_folder(spec, path)
        cache: Any = _quiet_disk_cache_class()(str(folder), capacity_bytes=settings.kv_cache_bytes)
    else:
        cache = _trimming_ram_cache_class()(capacity_bytes=settings.kv_cache_bytes)
    # A saved state copies `scores[:n_tokens]`, one row of n_vocab floats per prompt token (40 MB
    # for 200 tokens of SmolLM2, 210 MB for Gemma 3's 262k vocabulary). lamina samples inside
    # llama.cpp and never asks for logprobs (logits_all is off), so those rows are never read:
    # one row keeps save_state/load_state cheap and the cache's byte budget honest.
    llama.scores = np.zeros((1, llama.n_vocab()), dtype=np.single)
    llama.set_cache(cache)
    return cache


@functools.cache
def _trimming_ram_cache_class() -> type[Any]:
    """llama-cpp-python's RAM prefix cache, returning the heap an eviction frees to the OS.

    Without the trim, evicted states leave free pages inside glibc's heaps that RSS keeps (see
    `lamina.config.release_free_heap`), so a long-lived process grew past the cache's cap.
    """
    from llama_cpp.llama_cache import LlamaRAMCache

    class TrimmingRAMCache(LlamaRAMCache):  # type: ignore[misc]
        def __setitem__(self, key: Sequence[int], value: Any) -> None:
            before = len(self.cache_state)
            super().__setitem__(key, value)
            if len(self.cache_state) <= before:  # an older state was evicted or replaced
                release_free_heap()

    return TrimmingRAMCache


def _kv_cache_folder(spec: ModelSpec, path: Path) -> str:
    """One folder per model file: a state from other weights must never be loaded."""
    if spec.sha256:
        return f"{spec.name}-{spec.sha256[:16]}"
    try:
        st = path.stat()
    except OSError:
        return spec.name
    return f"{spec.name}-{st.st_size}-{st.st_mtime_ns}"


@functools.cache
def _quiet_disk_cache_class() -> type[Any]:
    """`LlamaDiskCache` without its debug prints to stderr, and reads that keep the entry.

    llama-cpp-python's version prints on every write and pops an entry when it is read, so a
    prefix could serve only once.
    """
    from llama_cpp.llama_cache import LlamaDiskCache

    class QuietDiskCache(LlamaDiskCache):  # type: ignore[misc]
        def __getitem__(self, key: Any) -> Any:
            found = self._find_longest_prefix_key(tuple(key))
            if found is None:
                raise KeyError("Key not found")
            return self.cache[found]

        def __setitem__(self, key: Any, value: Any) -> None:
            key = tuple(key)
            if key in self.cache:
                del self.cache[key]
            self.cache[key] = value
            while self.cache_size > self.capacity_bytes and len(self.cache) > 0:
                del self.cache[next(iter(self.cache))]

    return QuietDiskCache
