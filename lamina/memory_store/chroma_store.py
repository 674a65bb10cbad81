"""Long-term memory over Chroma: per-user memories, semantic search, near-duplicate merging.

Two modes, one API:

* embedded - `MemoryStore(path=...)`: a `chromadb.PersistentClient` on a local directory
  (default `Settings().home / "memory"`). **One process at a time**: Chroma's embedded mode keeps
  its vector index in the process's memory, so two processes writing one directory lose or
  corrupt each other's writes. The store takes a lock file (`lamina.lock`) in the directory; a
  second process gets a :class:`~lamina.errors.MemoryStoreError` that points to server mode.
  Threads of one process share the store safely.
* server - `MemoryStore.connect(host, port)`: a `chromadb.HttpClient` talking to `chroma run`.
  Any number of processes (agents, workers, `lamina memory` commands) share memory this way.

Embeddings always come from lamina's encoder (the packaged all-MiniLM-L6-v2 by default) and are
passed to Chroma explicitly; collections are registered with :class:`LaminaEmbeddingFunction`
so that Chroma never falls back to its own default model, which would download from the
internet. Telemetry is switched off.

Every memory belongs to one `user_id`, and each user's memories live in a Chroma collection of
their own (`<collection>--<hash of the user id>`): one user never sees another's memories, and a
search needs no metadata filter (Chroma filtered 5,000 memories of one user in 44 ms; the same
search in a collection of their own took 2.3 ms).
Chroma's own errors become :class:`~lamina.errors.MemoryStoreError` with what happened and what
to do; lamina never deletes or rewrites a damaged store.

Ranking: `search` scores each candidate as

    score = (1 - recency_weight) * similarity + recency_weight * 0.5 ** (age_days / half_life_days)

where `similarity` is the cosine similarity to the query and `age_days` the time since the
memory's current wording was stored (`updated_at`). `recency_weight=0` (the store's default) ranks
by similarity alone; `min_score` always applies to the similarity, so recency reorders relevant
memories but never lets an irrelevant one in.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from lamina.errors import MemoryStoreError
from lamina.memory_store.embeddings import LaminaEmbeddingFunction, TextEncoder

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "DEFAULT_COLLECTION",
    "KINDS",
    "MAX_TEXT_CHARS",
    "LaminaEmbeddingFunction",
    "Memory",
    "MemoryItem",
    "MemoryKind",
    "MemoryStore",
    "TextEncoder",
]

logger = logging.getLogger(__name__)

MemoryKind = Literal["fact", "episode", "preference"]
KINDS: tuple[str, ...] = get_args(MemoryKind)
DEFAULT_COLLECTION = "lamina_memory"
MAX_TEXT_CHARS = 1000
"""Longest memory text `add` accepts. MiniLM reads 256 word pieces (about 1,000 characters of
English) and silently ignores the rest, so a longer text would be stored but found only by its
beginning. Such texts are refused, not chunked: a memory is one statement; splitting a document
into memories is the caller's decision (what to keep, how to word it)."""
LOCK_FILE = "lamina.lock"
# Chroma's collection names: 3-512 characters; lamina appends "--" and a 32-character hash.
_COLLECTION_NAME = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9._-]{1,78})[a-zA-Z0-9]")
_USER_SEPARATOR = "--"
_HNSW_KEYS = frozenset(
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
# Items encoded, deduplicated and written per round. Chroma's cost per memory falls with the
# batch (measured 0.93 ms CPU at 512, 0.72 ms at 2,000); the in-batch similarity matrix
# (2048 x 2048 floats, 16 MB) bounds it, and it stays below Chroma's maximum batch size.
_WRITE_BATCH = 2048


@dataclass(frozen=True)
class Memory:
    """One stored memory; `score` and `similarity` are set on search results.

    Attributes:
        id: Chroma id.
        text: what is remembered.
        kind: 'fact', 'episode' or 'preference'.
        user_id: whose memory it is.
        thread_id: the conversation it came from (None: not tied to one).
        created_at: ISO 8601 UTC time it was first stored.
        updated_at: ISO 8601 UTC time its current wording was stored (a near-duplicate merge
            moves it).
        source: who wrote it ('user', 'agent', 'tool', ...).
        importance: 0..1, the writer's estimate of how much it matters.
        score: the ranking score of a search (similarity blended with recency; equal to
            `similarity` when the recency weight is 0). None outside search results.
        similarity: cosine similarity to the search query (None outside search results).
    """

    id: str
    text: str
    kind: str
    user_id: str
    thread_id: str | None
    created_at: str
    updated_at: str
    source: str
    importance: float
    score: float | None = None
    similarity: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict, the form memories take in graph state."""
        return asdict(self)


@dataclass(frozen=True)
class MemoryItem:
    """One memory to add; fields left None take the defaults given to :meth:`MemoryStore.add`."""

    text: str
    kind: MemoryKind | None = None
    thread_id: str | None = None
    source: str | None = None
    importance: float | None = None


@dataclass
class _Pending:
    """A record about to be written (new, or an update of an existing near-duplicate)."""

    id: str
    text: str
    kind: str
    thread_id: str | None
    source: str
    importance: float
    created_at: str
    ts: float


@dataclass
class _DirLock:
    """One embedded directory held by this process: the lock file and a lock for its writers."""

    key: str
    fd: int | None
    users: int = 1
    writers: threading.RLock = field(default_factory=threading.RLock)


# Directories this process holds, by resolved path. A second MemoryStore on the same directory
# shares the entry (threads of one process may share a store); another process is refused.
_held: dict[str, _DirLock] = {}
_held_guard = threading.Lock()


def _chromadb() -> Any:
    """Import chromadb with its telemetry off (the import is slow: keep it out of module load)."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    import chromadb

    return chromadb


def _chroma_settings() -> Any:
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False)


def _now() -> datetime:
    return datetime.now(UTC)


def _as_utc(when: datetime | str, name: str) -> datetime:
    if isinstance(when, str):
        try:
            when = datetime.fromisoformat(when)
        except ValueError as exc:
            raise MemoryStoreError(
                f"Expected `{name}` as a datetime or an ISO 8601 string, found {when!r}. "
                "Fix: pass e.g. '2026-01-31T12:00:00+00:00'."
            ) from exc
    # A naive time is taken as UTC, the zone every stored time uses.
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _freshness(meta: Mapping[str, Any], now: float, half_life_days: float) -> float:
    """0.5 ** (age in days / half-life) of a memory's current wording; 1.0 for a new one."""
    try:
        stamp = _as_utc(str(meta["updated_at"]), "updated_at").timestamp()
    except (KeyError, MemoryStoreError):
        stamp = float(meta.get("ts", now))
    age_days = max(0.0, now - stamp) / 86400.0
    return math.pow(0.5, age_days / half_life_days)


def _names_key(flt: Any, key: str) -> bool:
    """True when a Chroma filter (nested `$and`/`$or` dicts and lists) uses `key` as a field."""
    if isinstance(flt, Mapping):
        return any(k == key or _names_key(v, key) for k, v in flt.items())
    if isinstance(flt, list | tuple):
        return any(_names_key(v, key) for v in flt)
    return False


def _lock_directory(path: Path, timeout: float) -> _DirLock:
    """Hold `path` for this process (shared by its stores), waiting up to `timeout` seconds."""
    key = str(path.resolve())
    with _held_guard:
        held = _held.get(key)
        if held is not None:
            held.users += 1
            return held
        held = _DirLock(key=key, fd=_flock(path, timeout))
        _held[key] = held
        return held


def _unlock_directory(held: _DirLock) -> None:
    with _held_guard:
        held.users -= 1
        if held.users > 0:
            return
        del _held[held.key]
        if held.fd is not None:
            # Closing the descriptor releases the flock; the file stays (deleting lock files
            # races with a process that has just opened it).
            os.close(held.fd)


def _flock(path: Path, timeout: float) -> int | None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows has no flock; one process is on trust there
        logger.debug("no fcntl: the embedded memory store at %s is not locked", path)
        return None
    # OSError (read-only directory, permission denied) is for the caller to explain.
    fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise MemoryStoreError(
                    f"The embedded memory store at {path} is in use by another process (pid "
                    f"{holder}); waited {timeout:g} s. Embedded Chroma allows one process per "
                    "directory: two would lose or corrupt each other's writes. Fix: share memory "
                    f"between processes through a Chroma server (`chroma run --path {path} "
                    "--port 8000`, then MemoryStore.connect('localhost', 8000) or `lamina memory "
                    "--host localhost --port 8000`), or stop the other process."
                ) from None
            time.sleep(0.05)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


# Chroma's write-ahead log operations (embeddings_queue.operation): 0 add, 1 update, 2 upsert,
# 3 delete. Delete entries hold no text and stay: the vector index may still need to replay them.
_PURGE_SQL = """
DELETE FROM embeddings_queue
WHERE topic LIKE :topic AND operation IN (0, 1, 2) AND seq_id <= :applied
  AND (
    id NOT IN (SELECT embedding_id FROM embeddings WHERE segment_id = :segment)
    OR EXISTS (
      SELECT 1 FROM embeddings_queue AS later
      WHERE later.topic = embeddings_queue.topic AND later.id = embeddings_queue.id
        AND later.seq_id > embeddings_queue.seq_id AND later.seq_id <= :applied
        AND later.operation = 2
    )
  )
"""


class MemoryStore:
    """Per-user long-term memory in a Chroma collection.

    Embedded mode (this constructor) is for one process: the store locks its directory, and a
    second process opening it waits `lock_timeout` seconds and then gets a
    :class:`~lamina.errors.MemoryStoreError`. Several processes share memory through server mode
    (:meth:`connect` to `chroma run`). Threads of one process may share one store.

    Args:
        path: directory of the embedded store (default `Settings().home / "memory"`).
        encoder: text encoder (default: the packaged all-MiniLM-L6-v2, loaded on first use).
        collection: Chroma collection name.
        dedupe_threshold: cosine similarity at or above which a new memory of the same user
            updates the existing one instead of being added.
        recency_weight: default weight of recency in search ranking, in [0, 1] (see the module
            docstring for the formula); 0 ranks by similarity alone.
        half_life_days: age at which a memory's recency term halves.
        max_chars: longest text `add` accepts (:data:`MAX_TEXT_CHARS`).
        hnsw: Chroma HNSW settings for new user collections, e.g. `{"ef_search": 200}` or
            `{"sync_threshold": 5000}` (how many writes between saves of the vector index;
            Chroma's default 1000). Existing collections keep theirs.
        lock_timeout: seconds to wait for another process to release the directory.

    Raises:
        ConfigError: a parameter out of range.
        MemoryStoreError: the directory cannot be used (a file, read-only, corrupted, in use
            by another process).
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        encoder: TextEncoder | None = None,
        collection: str = DEFAULT_COLLECTION,
        dedupe_threshold: float = 0.95,
        recency_weight: float = 0.0,
        half_life_days: float = 30.0,
        max_chars: int = MAX_TEXT_CHARS,
        hnsw: Mapping[str, Any] | None = None,
        lock_timeout: float = 5.0,
    ) -> None:
        if path is None:
            from lamina.config import get_settings

            path = get_settings().home / "memory"
        self.path: Path | None = Path(path).expanduser()
        self.mode: Literal["embedded", "server"] = "embedded"
        self.location = str(self.path)
        self._check_options(
            collection, dedupe_threshold, recency_weight, half_life_days, max_chars, hnsw
        )
        self._held: _DirLock | None = None
        self._check_directory(self.path)
        try:
            self._held = _lock_directory(self.path, lock_timeout)
        except OSError as exc:
            raise self._explain("lock its directory", exc) from exc
        try:
            self._check_writable(self.path)
            chromadb = _chromadb()
            with self._errors("open the embedded store"):
                client = chromadb.PersistentClient(path=str(self.path), settings=_chroma_settings())
            self._setup(
                client, encoder, collection, dedupe_threshold, recency_weight, half_life_days
            )
            self.max_chars = max_chars
            self._hnsw = {"space": "cosine", **(hnsw or {})}
        except BaseException:
            if self._held is not None:
                _unlock_directory(self._held)
            self._held = None
            raise

    @classmethod
    def connect(
        cls,
        host: str = "localhost",
        port: int = 8000,
        *,
        ssl: bool = False,
        headers: Mapping[str, str] | None = None,
        encoder: TextEncoder | None = None,
        collection: str = DEFAULT_COLLECTION,
        dedupe_threshold: float = 0.95,
        recency_weight: float = 0.0,
        half_life_days: float = 30.0,
        max_chars: int = MAX_TEXT_CHARS,
        hnsw: Mapping[str, Any] | None = None,
    ) -> MemoryStore:
        """A store on a Chroma server (`chroma run --path DIR --port PORT`).

        Any number of processes may connect to one server and share its memories. Near-duplicate
        merging is exact within a process; two processes adding the same fact at the same
        moment may both store it.

        Args:
            host: server host name.
            port: server port.
            ssl: use https.
            headers: extra HTTP headers (e.g. an auth token).
            encoder: as in the constructor.
            collection: as in the constructor.
            dedupe_threshold: as in the constructor.
            recency_weight: as in the constructor.
            half_life_days: as in the constructor.
            max_chars: as in the constructor.
            hnsw: as in the constructor.

        Raises:
            ConfigError: a parameter out of range.
            MemoryStoreError: the server cannot be reached or refused the request.
        """
        self = cls.__new__(cls)
        self.path = None
        self.mode = "server"
        self.location = f"{'https' if ssl else 'http'}://{host}:{port}"
        self._held = None
        self._check_options(
            collection, dedupe_threshold, recency_weight, half_life_days, max_chars, hnsw
        )
        chromadb = _chromadb()
        with self._errors("connect to the Chroma server"):
            client = chromadb.HttpClient(
                host=host,
                port=port,
                ssl=ssl,
                headers=dict(headers or {}),
                settings=_chroma_settings(),
            )
        self._setup(client, encoder, collection, dedupe_threshold, recency_weight, half_life_days)
        self.max_chars = max_chars
        self._hnsw = {"space": "cosine", **(hnsw or {})}
        return self

    @staticmethod
    def _check_options(
        collection: str,
        dedupe_threshold: float,
        recency_weight: float,
        half_life_days: float,
        max_chars: int,
        hnsw: Mapping[str, Any] | None,
    ) -> None:
        from lamina.errors import ConfigError

        unknown = sorted(set(hnsw or {}) - _HNSW_KEYS)
        if unknown:
            raise ConfigError(
                f"Unknown HNSW settings {unknown}; known: {', '.join(sorted(_HNSW_KEYS))}. "
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
            raise ConfigError(
                f"Expected half_life_days > 0, found {half_life_days}. Fix: use e.g. 30."
            )
        if max_chars < 1:
            raise ConfigError(f"Expected max_chars >= 1, found {max_chars}. Fix: use e.g. 1000.")

    def _check_directory(self, path: Path) -> None:
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

    def _check_writable(self, path: Path) -> None:
        """Refuse a store whose files cannot be written, before Chroma tries (and half-fails)."""
        files = [path / "chroma.sqlite3"]
        # Chroma keeps each vector index in a directory named by its segment's UUID.
        segments = [d for d in path.iterdir() if d.is_dir() and len(d.name) == 36]
        files += [f for d in segments for f in d.iterdir() if f.is_file()]
        for f in files:
            if not f.exists():
                continue
            try:
                # Opening for writing changes nothing; it fails on a read-only file or mount.
                with f.open("r+b"):
                    pass
            except OSError as exc:
                raise self._explain("open its files for writing", exc) from exc

    def _setup(
        self,
        client: Any,
        encoder: TextEncoder | None,
        collection: str,
        dedupe_threshold: float,
        recency_weight: float,
        half_life_days: float,
    ) -> None:
        if encoder is None:
            from lamina.memory_store.embeddings import default_encoder

            encoder = default_encoder()
        self._client = client
        self.encoder: TextEncoder = encoder
        self.collection_name = collection
        self.dedupe_threshold = dedupe_threshold
        self.recency_weight = recency_weight
        self.half_life_days = half_life_days
        # Embedded stores of one directory share one writer lock (see _lock_directory).
        self._lock = self._held.writers if self._held is not None else threading.RLock()
        self._closed = False
        self._collections: dict[str, Any] = {}  # user id -> Chroma collection
        with self._errors("talk to Chroma"):
            # Fails now rather than at the first search when the server or database is broken.
            client.heartbeat()

    # --- collections: one per user --------------------------------------------------------

    def _name_of(self, user_id: str) -> str:
        """The user's collection: a hash, so any user id makes a valid, private name."""
        digest = hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:32]
        return f"{self.collection_name}{_USER_SEPARATOR}{digest}"

    def _collection_of(self, user_id: str, *, create: bool) -> Any | None:
        """The user's collection (None when it does not exist and `create` is False).

        Each user has a collection of their own: one user's reads never touch another's
        records, and a search needs no metadata filter. Chroma evaluates a filter against
        every record it matches, which made a filtered search of 5,000 memories 19 times
        slower (44 ms against 2.3 ms) than the same search of a collection of their own.
        """
        col = self._collections.get(user_id)
        if col is not None:
            return col
        with self._lock:
            col = self._collections.get(user_id)
            if col is not None:
                return col
            name = self._name_of(user_id)
            ef = LaminaEmbeddingFunction(self.encoder)
            with self._errors(f"open the memories of user {user_id!r}"):
                try:
                    col = self._client.get_collection(name=name, embedding_function=ef)
                except Exception as exc:
                    if type(exc).__name__ != "NotFoundError" and "does not exist" not in str(exc):
                        raise
                    if not create:
                        return None
                    col = self._client.get_or_create_collection(
                        name=name,
                        embedding_function=ef,
                        configuration={"hnsw": dict(self._hnsw)},
                        metadata={
                            "lamina_store": self.collection_name,
                            "lamina_user": user_id,
                            "lamina_encoder": self.encoder.identity,
                        },
                    )
            stored = (col.metadata or {}).get("lamina_encoder")
            if stored and stored != self.encoder.identity:
                # Identity includes the model's path, which moves between machines; a truly
                # different model shows up as a dimension error on the first add or search.
                logger.warning(
                    "Memories of user %r were written with encoder %s; now using %s. Search "
                    "quality suffers if these are different models.",
                    user_id,
                    stored,
                    self.encoder.identity,
                )
            self._verify(col, user_id)
            self._collections[user_id] = col
            return col

    def _user_collections(self) -> list[Any]:
        """Every user collection of this store (for whole-store counts and statistics)."""
        with self._errors("list its collections"):
            cols = self._client.list_collections()
        return [
            c
            for c in cols
            if c.name.startswith(self.collection_name + _USER_SEPARATOR)
            and (c.metadata or {}).get("lamina_store") == self.collection_name
        ]

    def _verify(self, col: Any, user_id: str) -> None:
        """Read one stored vector and find it again, so a damaged index fails now, not later.

        A truncated vector index file otherwise opens fine and then answers every search with
        nothing, which would look like an empty memory.
        """
        try:
            n = int(col.count())
            if n == 0:
                return
            got = col.get(limit=1, include=["embeddings"])
            vectors = got.get("embeddings")
            found: list[str] = []
            if vectors is not None and len(vectors) > 0:
                res = col.query(query_embeddings=[vectors[0]], n_results=1, include=["distances"])
                found = list(res["ids"][0])
        except Exception as exc:
            # Whatever embedded Chroma says, an index that cannot answer this is damaged
            # (unless the cause is a permission or a full disk, which _explain recognises); a
            # server may also just have gone away.
            default = "corrupted" if self.mode == "embedded" else "error"
            raise self._explain(
                f"read the vector index of user {user_id!r}", exc, default=default
            ) from exc
        if not found:
            raise MemoryStoreError(
                f"The memory store at {self.location} is corrupted: user {user_id!r} has {n} "
                f"memories but the vector index finds none of them. Fix: {self._fix('corrupted')}"
            )

    # --- error handling -------------------------------------------------------------------

    def _fix(self, problem: str) -> str:
        if self.mode == "server":
            if problem == "corrupted":
                return (
                    "the server's store is damaged: stop the server, restore its --path "
                    "directory from a backup, or start it on a new directory."
                )
            port = self.location.rsplit(":", 1)[-1]
            return (
                f"Check that a Chroma server is running at {self.location} (start one with "
                f"`chroma run --path DIR --port {port}`) and that this machine can reach it."
            )
        path = self.location
        if problem == "read-only":
            return (
                f"make {path} and its files writable (e.g. `chmod -R u+w {path}`) or pass "
                "another path. The memories in it are intact: lamina changed nothing."
            )
        if problem == "corrupted":
            return (
                f"restore {path} from a backup, or move it away (`mv {path} {path}.damaged`) "
                "so that lamina starts an empty store there. lamina changed nothing in it; when "
                "only the vector index is damaged, the texts are still readable in "
                "chroma.sqlite3 (table embedding_metadata, key 'chroma:document')."
            )
        if problem == "disk full":
            return f"free disk space on the volume of {path}; stored memories are intact."
        return f"Check that {path} is a directory you can write to, with free disk space."

    def _explain(self, action: str, exc: BaseException, default: str = "error") -> MemoryStoreError:
        detail = f"{type(exc).__name__}: {exc}"
        low = detail.lower()
        if any(s in low for s in ("readonly", "read-only", "permission denied", "not permitted")):
            problem = "read-only"
        elif any(
            s in low
            for s in ("malformed", "not a database", "corrupt", "hnsw", "pickle", "finding id")
        ):
            problem = "corrupted"
        elif "disk is full" in low or "no space left" in low:
            problem = "disk full"
        else:
            problem = default
        what = "" if problem == "error" else f" - it is {problem}"
        return MemoryStoreError(
            f"The memory store could not {action} ({self.mode}, {self.location}){what}: "
            f"{detail}. Fix: {self._fix(problem)}"
        )

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn any Chroma failure into a MemoryStoreError that says what to do."""
        try:
            yield
        except MemoryStoreError:
            raise
        except Exception as exc:
            raise self._explain(action, exc) from exc

    def _check_open(self) -> None:
        if self._closed:
            raise MemoryStoreError(
                f"The memory store at {self.location} is closed. Fix: create a new MemoryStore."
            )

    # --- writing --------------------------------------------------------------------------

    def add(
        self,
        items: str | MemoryItem | Sequence[str | MemoryItem],
        user_id: str,
        *,
        kind: MemoryKind = "fact",
        thread_id: str | None = None,
        source: str = "user",
        importance: float = 0.5,
        vectors: npt.ArrayLike | None = None,
    ) -> list[str]:
        """Store memories for `user_id`, merging near-duplicates; one id per item, in order.

        A text whose embedding has cosine similarity >= `dedupe_threshold` with an earlier item
        of the same call, or else with an existing memory of the same user, updates that memory:
        its text, kind, thread and source become the new ones, its importance the larger of the
        two, its `created_at` stays and `updated_at` moves. The returned id is then the
        existing one.

        Items are validated first (nothing is written when one is bad), then encoded and
        written in rounds of 2,048, so memory use stays flat for large batches.

        Args:
            items: one text or item, or a sequence of them.
            user_id: owner of the memories.
            kind: default kind for items that do not set one.
            thread_id: default conversation id.
            source: default writer ('user', 'agent', 'tool').
            importance: default importance in [0, 1].
            vectors: embeddings of the items from this store's encoder, one row per item, when
                the caller already has them (the encoder is then not called).

        Returns:
            The memory ids, one per item (repeated when items merged).

        Raises:
            MemoryStoreError: an empty or too long text, a bad kind or importance, an empty
                user id, vectors of the wrong shape (nothing is written then), or a Chroma
                failure.
        """
        import numpy as np

        self._check_open()
        self._check_user(user_id)
        if isinstance(items, str | MemoryItem):
            items = [items]
        if not items:
            return []
        now = _now()
        pending = [self._prepare(it, kind, thread_id, source, importance, now) for it in items]
        given = None
        if vectors is not None:
            given = np.asarray(vectors, dtype=np.float32)
            if given.ndim != 2 or given.shape[0] != len(pending):
                raise MemoryStoreError(
                    f"Expected one embedding row per item ({len(pending)} rows), found an array "
                    f"of shape {given.shape}. Fix: pass encoder.encode(texts) for these items."
                )
            norms = np.linalg.norm(given, axis=1, keepdims=True)
            given = (given / np.where(norms == 0, 1.0, norms)).astype(np.float32)
        col = self._collection_of(user_id, create=True)
        ids: list[str] = []
        for start in range(0, len(pending), _WRITE_BATCH):
            chunk = pending[start : start + _WRITE_BATCH]
            vecs = self._encode(chunk) if given is None else given[start : start + len(chunk)]
            # Encoding runs outside the lock; the near-duplicate check and the write inside it,
            # so that concurrent adds of one process see each other's memories. (Overlapping
            # the next round's encoding with this round's write was measured slower on two
            # cores: torch and Chroma then fight over them.)
            with self._lock:
                ids += self._write(col, chunk, vecs, now)
        logger.debug("stored %d items for user %s", len(ids), user_id)
        return ids

    def _encode(self, chunk: Sequence[_Pending]) -> npt.NDArray[np.float32]:
        import numpy as np

        return np.asarray(self.encoder.encode([p.text for p in chunk]), dtype=np.float32)

    def _prepare(
        self,
        item: str | MemoryItem,
        kind: str,
        thread_id: str | None,
        source: str,
        importance: float,
        now: datetime,
    ) -> _Pending:
        if isinstance(item, str):
            item = MemoryItem(text=item)
        if not isinstance(item, MemoryItem) or not isinstance(item.text, str):
            raise MemoryStoreError(
                f"Expected a str or MemoryItem to remember, found {type(item).__name__}. "
                "Fix: pass text or MemoryItem(text=...)."
            )
        text = item.text.strip()
        if not text:
            raise MemoryStoreError(
                "Expected a memory text with some content, found an empty or whitespace-only "
                "string. Nothing was stored. Fix: skip empty texts before calling add()."
            )
        if len(text) > self.max_chars:
            raise MemoryStoreError(
                f"Expected a memory of at most {self.max_chars} characters, found {len(text)} "
                f"({text[:40]!r}...). Nothing was stored: the encoder reads only about the "
                "first 1,000 characters, so the rest could never be found. Fix: store one "
                "short statement per memory (split or summarise the text first)."
            )
        k = item.kind or kind
        if k not in KINDS:
            raise MemoryStoreError(
                f"Unknown memory kind {k!r}; known: {', '.join(KINDS)}. Fix: use one of these."
            )
        imp = item.importance if item.importance is not None else importance
        if not 0.0 <= float(imp) <= 1.0:
            raise MemoryStoreError(
                f"Expected importance in [0, 1], found {imp}. Fix: scale it into that range."
            )
        return _Pending(
            id=uuid.uuid4().hex,
            text=text,
            kind=k,
            thread_id=item.thread_id if item.thread_id is not None else thread_id,
            source=item.source or source,
            importance=float(imp),
            created_at=now.isoformat(),
            ts=now.timestamp(),
        )

    def _write(
        self,
        col: Any,
        pending: list[_Pending],
        vectors: npt.NDArray[np.float32],
        now: datetime,
    ) -> list[str]:
        import numpy as np

        with self._errors("look for near-duplicate memories"):
            # Distances only: the metadata of the few matches is read below.
            found = col.query(query_embeddings=vectors, n_results=1, include=["distances"])
        nearest = [
            (hits[0], 1.0 - float(dists[0])) if hits else (None, -1.0)
            for hits, dists in zip(found["ids"], found["distances"], strict=True)
        ]
        matched = sorted(
            {i for i, sim in nearest if i is not None and sim >= self.dedupe_threshold}
        )
        stored: dict[str, Mapping[str, Any]] = {}
        if matched:
            with self._errors("read near-duplicate memories"):
                got = col.get(ids=matched, include=["metadatas"])
            stored = {i: m or {} for i, m in zip(got["ids"], got["metadatas"], strict=True)}
        # The first earlier item of this call that is a near-duplicate of each item, as one
        # matrix product (a Python loop over pairs costs seconds at a few thousand items).
        is_dup = np.tril(vectors @ vectors.T >= self.dedupe_threshold, k=-1)
        earlier = np.where(is_dup.any(axis=1), is_dup.argmax(axis=1), -1)

        groups: dict[str, list[int]] = {}  # record id -> items, in first-seen order
        base: dict[str, Mapping[str, Any]] = {}  # record id -> stored metadata it updates
        record_of: list[str] = []
        for i, p in enumerate(pending):
            near, similarity = nearest[i]
            if earlier[i] >= 0:
                rid = record_of[int(earlier[i])]
            elif near is not None and similarity >= self.dedupe_threshold:
                rid = near
                base.setdefault(rid, stored.get(rid, {}))
                logger.debug("memory %s: near-duplicate (%.3f), updating", rid, similarity)
            else:
                rid = p.id
            record_of.append(rid)
            groups.setdefault(rid, []).append(i)

        updated_at = now.isoformat()
        ids, rows, metadatas, documents = [], [], [], []
        for rid, members in groups.items():
            # The newest wording wins; the oldest birth date and the highest importance stay.
            last, first = pending[members[-1]], pending[members[0]]
            old = base.get(rid)
            importance = max(pending[i].importance for i in members)
            created_at, ts = first.created_at, first.ts
            if old is not None:
                importance = max(importance, float(old.get("importance", 0.0)))
                created_at = str(old.get("created_at", created_at))
                ts = float(old.get("ts", ts))
            ids.append(rid)
            rows.append(members[-1])
            documents.append(last.text)
            # The user is the collection's (metadata "lamina_user"); every key costs a row in
            # Chroma's metadata table, so none is stored twice or empty.
            meta: dict[str, Any] = {
                "kind": last.kind,
                "source": last.source,
                "importance": importance,
                "created_at": created_at,
                "updated_at": updated_at,
                "ts": ts,
            }
            if last.thread_id:
                meta["thread_id"] = last.thread_id
            metadatas.append(meta)
        with self._errors("write memories"):
            col.upsert(ids=ids, embeddings=vectors[rows], documents=documents, metadatas=metadatas)
        return record_of

    # --- reading --------------------------------------------------------------------------

    def search(
        self,
        query: str,
        user_id: str,
        k: int = 3,
        *,
        min_score: float = 0.0,
        kinds: Sequence[MemoryKind] | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        where: Mapping[str, Any] | None = None,
        recency_weight: float | None = None,
        half_life_days: float | None = None,
    ) -> list[Memory]:
        """The `k` memories of `user_id` that best match `query`, best first.

        Ranking follows the module docstring's formula. With a recency weight above 0 the
        `max(4k, k + 16)` most similar memories are re-ranked, so recency reorders relevant
        memories but never brings in a far one.

        Args:
            query: what to look for.
            user_id: whose memories to search (no other user's are ever returned).
            k: at most this many results.
            min_score: drop results whose cosine similarity is below this.
            kinds: only these kinds (None: all).
            since: only memories created at or after this time.
            until: only memories created at or before this time.
            where: a further Chroma metadata filter, e.g. `{"thread_id": "t1"}`.
            recency_weight: weight of recency in [0, 1] (None: the store's default).
            half_life_days: age at which the recency term halves (None: the store's default).

        Returns:
            Memories with `score` (ranking) and `similarity` (cosine) set.

        Raises:
            MemoryStoreError: an empty query, k < 1, a bad filter or weight, or a Chroma
                failure.
        """
        self._check_open()
        self._check_user(user_id)
        if not query or not query.strip():
            raise MemoryStoreError(
                "Expected a search query with some content, found an empty string. "
                "Fix: skip the search when there is nothing to look for."
            )
        if k < 1:
            raise MemoryStoreError(f"Expected k >= 1 results, found k={k}. Fix: pass k >= 1.")
        weight = self.recency_weight if recency_weight is None else recency_weight
        half_life = self.half_life_days if half_life_days is None else half_life_days
        if not 0.0 <= weight <= 1.0 or not half_life > 0:
            raise MemoryStoreError(
                f"Expected recency_weight in [0, 1] and half_life_days > 0, found {weight} and "
                f"{half_life}. Fix: pass e.g. recency_weight=0.1, half_life_days=30."
            )
        flt = self._where(kinds=kinds, since=since, until=until, extra=where)
        col = self._collection_of(user_id, create=False)
        if col is None:
            return []
        vector = self.encoder.encode([query.strip()])
        n_results = k if weight == 0 else max(4 * k, k + 16)
        with self._errors("search memories"):
            res = col.query(
                query_embeddings=vector,
                n_results=n_results,
                where=flt,
                include=["documents", "metadatas", "distances"],
            )
        now = time.time()
        hits = []
        for mid, doc, meta, dist in zip(
            res["ids"][0],
            res["documents"][0],
            res["metadatas"][0],
            res["distances"][0],
            strict=True,
        ):
            similarity = 1.0 - float(dist)
            if similarity < min_score:
                continue
            score = similarity
            if weight > 0:
                fresh = _freshness(meta or {}, now, half_life)
                score = (1.0 - weight) * similarity + weight * fresh
            hits.append(
                self._memory(mid, doc, meta, user_id, round(score, 6), round(similarity, 6))
            )
        hits.sort(key=lambda m: m.score or 0.0, reverse=True)
        return hits[:k]

    def get(self, ids: Sequence[str], *, user_id: str) -> list[Memory]:
        """The memories of `user_id` with these ids (ids of other users are not returned)."""
        self._check_open()
        self._check_user(user_id)
        col = self._collection_of(user_id, create=False)
        if not ids or col is None:
            return []
        with self._errors("read memories"):
            res = col.get(ids=list(ids), include=["documents", "metadatas"])
        return [
            self._memory(mid, doc, meta, user_id)
            for mid, doc, meta in zip(res["ids"], res["documents"], res["metadatas"], strict=True)
        ]

    @staticmethod
    def _memory(
        mid: str,
        doc: str | None,
        meta: Mapping[str, Any] | None,
        user_id: str,
        score: float | None = None,
        similarity: float | None = None,
    ) -> Memory:
        meta = meta or {}
        return Memory(
            id=mid,
            text=doc or "",
            kind=str(meta.get("kind", "fact")),
            user_id=user_id,
            thread_id=str(meta["thread_id"]) if meta.get("thread_id") else None,
            created_at=str(meta.get("created_at", "")),
            updated_at=str(meta.get("updated_at", meta.get("created_at", ""))),
            source=str(meta.get("source", "")),
            importance=float(meta.get("importance", 0.0)),
            score=score,
            similarity=similarity,
        )

    @staticmethod
    def _where(
        *,
        kinds: Sequence[str] | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """A Chroma filter within one user's collection (None: no filter, the fast path)."""
        conditions: list[dict[str, Any]] = []
        if kinds is not None:
            unknown = [k for k in kinds if k not in KINDS]
            if unknown or not kinds:
                raise MemoryStoreError(
                    f"Expected kinds among {', '.join(KINDS)}, found {list(kinds)}. "
                    "Fix: pass known kinds, or None for all."
                )
            conditions.append({"kind": {"$in": list(kinds)}})
        if since is not None:
            conditions.append({"ts": {"$gte": _as_utc(since, "since").timestamp()}})
        if until is not None:
            conditions.append({"ts": {"$lte": _as_utc(until, "until").timestamp()}})
        if extra:
            if _names_key(extra, "user_id"):
                raise MemoryStoreError(
                    "A `where` filter may not name user_id. Fix: pass the user as user_id=."
                )
            conditions.append(dict(extra))
        if not conditions:
            return None
        return conditions[0] if len(conditions) == 1 else {"$and": conditions}

    @staticmethod
    def _check_user(user_id: str) -> None:
        if not isinstance(user_id, str) or not user_id.strip():
            raise MemoryStoreError(
                f"Expected a non-empty user id, found {user_id!r}. Fix: pass the user's id "
                "(lamina's default is 'default')."
            )

    # --- deleting, counting ---------------------------------------------------------------

    def forget(
        self,
        ids: Sequence[str] | None = None,
        where: Mapping[str, Any] | None = None,
        *,
        user_id: str,
        purge: bool | None = None,
    ) -> int:
        """Delete memories of `user_id`: those with `ids`, those matching `where`, or all.

        Records are deleted from Chroma (not flagged): they no longer appear in any search,
        get or count, also after the store is reopened. In embedded mode the store then
        :meth:`purge`s its files, so the deleted text is gone from the disk as well.

        Args:
            ids: memory ids to delete (ids of other users are ignored).
            where: a Chroma metadata filter such as `{"kind": "episode"}` or
                `{"thread_id": "t1"}`; combined with `ids` when both are given.
            user_id: whose memories; with neither `ids` nor `where`, all of them.
            purge: remove the deleted text from the files now. None (default): in embedded
                mode yes, in server mode no (the server's files are not this process's; see
                :meth:`purge`). False defers it, e.g. to call :meth:`purge` once after many
                deletes.

        Returns:
            How many memories were deleted.

        Raises:
            MemoryStoreError: purge=True in server mode, a bad filter, or a Chroma failure.
        """
        self._check_open()
        self._check_user(user_id)
        if purge and self.mode == "server":
            raise MemoryStoreError(self._server_purge_message())
        if ids is not None and not ids:
            return 0
        flt = self._where(extra=where)
        col = self._collection_of(user_id, create=False)
        if col is None:
            return 0
        with self._lock:
            with self._errors("find the memories to forget"):
                found = col.get(ids=list(ids) if ids is not None else None, where=flt, include=[])
            doomed = list(found["ids"])
            if doomed:
                with self._errors("delete memories"):
                    col.delete(ids=doomed)
                if purge is not False and self.mode == "embedded":
                    self._purge_files([col])
        logger.debug("forgot %d memories of user %s", len(doomed), user_id)
        return len(doomed)

    def purge(self) -> dict[str, int]:
        """Remove the text of deleted and superseded memories from the store's files.

        Chroma deletes a record from its tables at once, but its text survives on disk in two
        places: Chroma's write-ahead log (`embeddings_queue`, kept until the vector index is
        next saved, every 1,000 writes) and the free space of `chroma.sqlite3`'s pages. Purging
        drops the log entries of records that no longer exist or were rewritten by a later
        write (the old wording of a merged near-duplicate), merges the full-text index, and
        VACUUMs the database - what `chroma vacuum` does, for entries Chroma would otherwise
        keep. The vector index replays the remaining entries as before: no live memory is
        touched. The time taken grows with the store's size (about a second per 100 MB).

        Returns:
            `{"log_entries_removed", "bytes_before", "bytes_after"}` of `chroma.sqlite3`.

        Raises:
            MemoryStoreError: in server mode (run `chroma vacuum --path DIR` on the server's
                directory with the server stopped), or when the database cannot be purged.
        """
        self._check_open()
        if self.mode == "server":
            raise MemoryStoreError(self._server_purge_message())
        with self._lock:
            return self._purge_files(None)

    def _server_purge_message(self) -> str:
        return (
            f"Cannot purge the files of a server store ({self.location}) from a client: they "
            "are on the server. Deleted memories are gone from every read at once; their text "
            "leaves the server's files when Chroma prunes its log. Fix: to purge now, stop the "
            "server and run `chroma vacuum --path DIR --force` on its directory; call forget() "
            "without purge=True."
        )

    def _purge_files(self, cols: Sequence[Any] | None) -> dict[str, int]:
        """See :meth:`purge`; `cols`: only these collections' log (None: every collection).

        The caller holds the writer lock. lamina talks to Chroma's database here through
        Python's own SQLite library, a second copy of SQLite in this process. That is safe only
        while Chroma holds no lock on the file: Chroma commits every call before returning,
        other lamina calls on this directory wait for the writer lock, and other processes are
        kept out by the lock file.
        """
        if self.path is None:
            raise MemoryStoreError(self._server_purge_message())
        db = self.path / "chroma.sqlite3"
        before = db.stat().st_size
        try:
            con = sqlite3.connect(db, timeout=30.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._purge_error(exc) from exc
        removed = 0
        try:
            tables = {
                r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            needed = {"embeddings_queue", "embeddings", "segments", "max_seq_id", "collections"}
            if not needed <= tables:
                raise MemoryStoreError(
                    f"Deleted the memories, but cannot purge their text from {db}: its layout "
                    f"is not the one lamina knows (missing tables {sorted(needed - tables)}; "
                    "a newer Chroma?). Fix: run `chroma vacuum --path "
                    f"{self.path} --force` with no process using the store."
                )
            if cols is None:
                ids = [r[0] for r in con.execute("SELECT id FROM collections")]
            else:
                ids = [str(c.id) for c in cols]
            con.execute("BEGIN IMMEDIATE")
            for collection_id in ids:
                removed += self._purge_log(con, collection_id)
            if "embedding_fulltext_search" in tables:
                # Merging all segments drops the index entries of deleted documents.
                con.execute(
                    "INSERT INTO embedding_fulltext_search(embedding_fulltext_search) "
                    "VALUES ('optimize')"
                )
            con.execute("COMMIT")
            # Deleted rows stay in the pages' free space until the file is rewritten.
            con.execute("VACUUM")
        except sqlite3.Error as exc:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise self._purge_error(exc) from exc
        finally:
            con.close()
        after = db.stat().st_size
        logger.debug("purged %s: %d log entries, %d -> %d bytes", db, removed, before, after)
        return {"log_entries_removed": removed, "bytes_before": before, "bytes_after": after}

    @staticmethod
    def _purge_log(con: sqlite3.Connection, collection_id: str) -> int:
        """Drop one collection's log entries of deleted or rewritten records; return how many.

        Only entries the metadata segment has applied are considered (its `max_seq_id`), so
        nothing that Chroma still has to apply is touched.
        """
        row = con.execute(
            "SELECT id FROM segments WHERE collection = ? AND scope = 'METADATA'",
            (collection_id,),
        ).fetchone()
        if row is None:
            return 0
        seq = con.execute("SELECT seq_id FROM max_seq_id WHERE segment_id = ?", row).fetchone()
        if seq is None:
            return 0
        # Old Chroma versions stored the number as big-endian bytes.
        applied = int.from_bytes(seq[0], "big") if isinstance(seq[0], bytes) else int(seq[0])
        cur = con.execute(
            _PURGE_SQL, {"topic": f"%/{collection_id}", "applied": applied, "segment": row[0]}
        )
        return max(cur.rowcount, 0)

    def _purge_error(self, exc: BaseException) -> MemoryStoreError:
        problem = self._explain("purge", exc)
        return MemoryStoreError(
            f"Deleted the memories (they are gone from every search), but could not purge "
            f"their text from the files: {problem}"
        )

    def count(self, user_id: str | None = None) -> int:
        """Number of memories of `user_id`, or of everyone when None."""
        self._check_open()
        if user_id is None:
            with self._errors("count memories"):
                return sum(int(c.count()) for c in self._user_collections())
        self._check_user(user_id)
        col = self._collection_of(user_id, create=False)
        if col is None:
            return 0
        with self._errors("count memories"):
            return int(col.count())

    def users(self) -> list[str]:
        """The ids of every user with at least one memory in this store, sorted."""
        self._check_open()
        with self._errors("count memories"):
            return sorted(
                str((c.metadata or {}).get("lamina_user", ""))
                for c in self._user_collections()
                if c.count() > 0
            )

    def stats(self, user_id: str | None = None) -> dict[str, Any]:
        """JSON-safe summary: where the store is, how many memories, per kind and per user.

        Args:
            user_id: only this user's memories (None: the whole store, with a count per user).
        """
        self._check_open()
        if user_id is not None:
            self._check_user(user_id)
            col = self._collection_of(user_id, create=False)
            cols = [(user_id, col)] if col is not None else []
        else:
            cols = [
                (str((c.metadata or {}).get("lamina_user", "")), c)
                for c in self._user_collections()
            ]
        users: dict[str, int] = {}
        kinds: dict[str, int] = {}
        for user, col in cols:
            with self._errors("read statistics"):
                metas = col.get(include=["metadatas"])["metadatas"] or []
            if metas:
                users[user] = users.get(user, 0) + len(metas)
            for m in metas:
                kd = str((m or {}).get("kind", ""))
                kinds[kd] = kinds.get(kd, 0) + 1
        out: dict[str, Any] = {
            "mode": self.mode,
            "location": self.location,
            "collection": self.collection_name,
            "encoder": self.encoder.identity,
            "dedupe_threshold": self.dedupe_threshold,
            "recency_weight": self.recency_weight,
            "half_life_days": self.half_life_days,
            "count": sum(users.values()),
            "kinds": kinds,
        }
        if user_id is None:
            out["users"] = users
        else:
            out["user_id"] = user_id
        return out

    # --- lifetime -------------------------------------------------------------------------

    def close(self) -> None:
        """Release the Chroma client and the directory lock; idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            close = getattr(self._client, "close", None)
            if callable(close):
                with self._errors("close"):
                    close()
        finally:
            if self._held is not None:
                held, self._held = self._held, None
                _unlock_directory(held)

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"MemoryStore(mode={self.mode!r}, location={self.location!r}, "
            f"collection={self.collection_name!r})"
        )
