"""Long-term memory over Chroma: per-user memories, semantic search, near-duplicate merging.

:class:`MemoryStore` (in `store.py`) is the one class users meet: embedded on a directory
(`MemoryStore(path)`, one process at a time) or on a Chroma server (`MemoryStore.connect`). Its
work is split by job: `records.py` (the `Memory` and `MemoryItem` value types, kinds, limits),
`connection.py` (opening, closing), `client.py` (the lazy chromadb import and the checks before
opening), `locking.py` (one process per directory), `user_collections.py` (one Chroma collection
per user), `writer.py` (validation, encoding, near-duplicate merging), `search.py` (filters,
ranking, tallies), `purge.py` (removing deleted text from the files), `failures.py` (Chroma's
errors explained) and `chroma_internals.py`, the only module that knows Chroma's private files
and tables, pinned to the chromadb version it was written against. Embeddings come from
:mod:`lamina.models.encoder`; embedded-or-server by URL is
:func:`lamina.scaleout.backends.make_memory_store`.
"""

from lamina.models.encoder import LaminaEmbeddingFunction, TextEncoder
from lamina.stores.memory.locking import LOCK_FILE
from lamina.stores.memory.records import (
    DEFAULT_COLLECTION,
    KINDS,
    MAX_TEXT_CHARS,
    Memory,
    MemoryItem,
    MemoryKind,
)
from lamina.stores.memory.store import MemoryStore

__all__ = [
    "DEFAULT_COLLECTION",
    "KINDS",
    "LOCK_FILE",
    "MAX_TEXT_CHARS",
    "LaminaEmbeddingFunction",
    "Memory",
    "MemoryItem",
    "MemoryKind",
    "MemoryStore",
    "TextEncoder",
]
