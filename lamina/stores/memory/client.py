"""Opening Chroma: the lazy import with telemetry off, the client settings, and the checks a
store makes before Chroma touches anything (options, directory, writable files)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lamina.errors import ConfigError, MemoryStoreError
from lamina.stores.memory.chroma_internals import store_files
from lamina.stores.memory.failures import StoreFailures

__all__ = [
    "HNSW_KEYS",
    "check_directory",
    "check_options",
    "check_writable",
    "chroma_settings",
    "import_chromadb",
]

# Chroma's collection names: 3-512 characters; lamina appends "--" and a 32-character hash.
_COLLECTION_NAME = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9._-]{1,78})[a-zA-Z0-9]")
HNSW_KEYS = frozenset(
    {
        "ef_construction",
        "ef_search",
        "max_neighbors",
        "num_threads",
        "batch_size",
        "sync_threshold",
        "resize_factor",
    }
)


def import_chromadb() -> Any:
    """Import chromadb with its telemetry off (the import is slow: keep it out of module load).

    lamina's embedding function is registered with Chroma here, under the name collections
    record ("lamina"), so that Chroma can rebuild it from a collection's configuration: without
    that, each add to an existing collection warned "Could not reconstruct embedding function
    lamina" and the collection's configuration lost its embedding function.
    """
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    import chromadb
    from chromadb.utils.embedding_functions import register_embedding_function

    from lamina.models.encoder import LaminaEmbeddingFunction

    register_embedding_function(LaminaEmbeddingFunction)
    return chromadb


def chroma_settings() -> Any:
    """Chroma client settings: telemetry off."""
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False)


def check_options(
    collection: str,
    dedupe_threshold: float,
    recency_weight: float,
    half_life_days: float,
    max_chars: int,
    hnsw: Mapping[str, Any] | None,
) -> None:
    """Refuse store options out of range (:class:`~lamina.errors.ConfigError`)."""
    unknown = sorted(set(hnsw or {}) - HNSW_KEYS)
    if unknown:
        raise ConfigError(
            f"Unknown HNSW settings {unknown}; known: {', '.join(sorted(HNSW_KEYS))}. "
            "Fix: use Chroma's HNSW setting names (the space is always cosine)."
        )

    if not _COLLECTION_NAME.fullmatch(collection):
        raise ConfigError(
            f"Expected a collection name of 3-80 characters from a-z, A-Z, 0-9, '.', '_', "
            f"'-', starting and ending with a letter or digit; found {collection!r}. "
            "Fix: use e.g. 'lamina_memory'."
        )

    if not 0.0 < dedupe_threshold <= 1.0:
        raise ConfigError(
            f"Expected dedupe_threshold in (0, 1], found {dedupe_threshold}. "
            "Fix: use e.g. 0.95 (1.0 merges only identical texts)."
        )
    if not 0.0 <= recency_weight <= 1.0:
        raise ConfigError(
            f"Expected recency_weight in [0, 1], found {recency_weight}. "
            "Fix: use 0 (similarity only) to about 0.2."
        )
    if not half_life_days > 0:
        raise ConfigError(f"Expected half_life_days > 0, found {half_life_days}. Fix: use e.g. 30.")
    if max_chars < 1:
        raise ConfigError(f"Expected max_chars >= 1, found {max_chars}. Fix: use e.g. 1000.")


def check_directory(path: Path) -> None:
    """Make sure `path` is a directory (created when missing)."""
    if path.exists() and not path.is_dir():
        raise MemoryStoreError(
            f"Expected a directory for the memory store at {path}, found a file. "
            "Fix: pass a directory path (it is created when missing)."
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MemoryStoreError(
            f"Could not create the memory store directory {path}: {exc}. Fix: pass a path "
            "whose parent is a directory you can write to."
        ) from exc


def check_writable(path: Path, failures: StoreFailures) -> None:
    """Refuse a store whose files cannot be written, before Chroma tries (and half-fails)."""
    for f in store_files(path):
        if not f.exists():
            continue
        try:
            # Opening for writing changes nothing; it fails on a read-only file or mount.
            with f.open("r+b"):
                pass
        except OSError as exc:
            raise failures.explain("open its files for writing", exc) from exc
