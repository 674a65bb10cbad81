"""Long-term memory over Chroma: per-user memories, semantic search, near-duplicate merging.

Two modes, one API:

* embedded - `MemoryStore(path=...)`: a `chromadb.PersistentClient` on a local directory
  (default `Settings().home / "memory"`);
* server - `MemoryStore.connect(host, port)`: a `chromadb.HttpClient` talking to `chroma run`.

Embeddings always come from lamina's encoder (the packaged all-MiniLM-L6-v2 by default) and are
passed to Chroma explicitly; the collection is registered with :class:`LaminaEmbeddingFunction`
so that Chroma never falls back to its own default model, which would download from the
internet. Telemetry is switched off.

Every memory belongs to one `user_id`; every read, count and delete is filtered by it, so one user
never sees another's memories. Chroma's own errors become :class:`~lamina.errors.MemoryStoreError`
with what happened and what to do.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args

from lamina.errors import MemoryStoreError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "DEFAULT_COLLECTION",
    "KINDS",
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
# MiniLM reads 256 word pieces; far longer texts are documents, not memories.
MAX_TEXT_CHARS = 8000
_EMBEDDING_FUNCTION_NAME = "lamina"


class TextEncoder(Protocol):
    """What the store needs from an encoder (:class:`lamina.memory_store.embeddings.Encoder`)."""

    identity: str

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed `texts` as rows of an L2-normalised float32 matrix."""
        ...


class LaminaEmbeddingFunction:
    """Chroma's `EmbeddingFunction` protocol over a lamina encoder.

    It implements the protocol structurally (no subclassing, so that importing this module does
    not import chromadb). The store passes embeddings explicitly; this object is registered with
    the collection so that Chroma records lamina's encoder in the collection's configuration and
    never substitutes its default ONNX model (which would download from the internet).

    Args:
        encoder: the encoder to call; None builds one lazily from `config` on first use.
        config: the serialised configuration (`get_config()`), used by `build_from_config`.
    """

    def __init__(
        self, encoder: TextEncoder | None = None, config: Mapping[str, Any] | None = None
    ) -> None:
        self._encoder = encoder
        if config is not None:
            self._config = dict(config)
        else:
            path = getattr(encoder, "path", None)
            self._config = {
                "identity": getattr(encoder, "identity", "unknown"),
                "path": str(path) if path is not None else None,
            }

    def __call__(self, input: Sequence[str]) -> list[npt.NDArray[np.float32]]:
        """Embed documents (Chroma checks that the parameter is called `input`)."""
        return list(self._get_encoder().encode(list(input)))

    def embed_query(self, input: Sequence[str]) -> list[npt.NDArray[np.float32]]:
        """Embed queries: the same model as documents."""
        return self(input)

    def embed_with_retries(
        self,
        input: Sequence[str],
        **retry_kwargs: Any,
    ) -> list[npt.NDArray[np.float32]]:
        """A local encoder has nothing to retry."""
        return self(input)

    def _get_encoder(self) -> TextEncoder:
        if self._encoder is None:
            path = self._config.get("path")
            if not path:
                raise MemoryStoreError(
                    "This memory collection was written with a custom encoder "
                    f"({self._config.get('identity')}) that Chroma cannot rebuild on its own. "
                    "Fix: open it through lamina's MemoryStore with the same encoder."
                )
            from lamina.memory_store.embeddings import Encoder

            self._encoder = Encoder(path)
        return self._encoder

    @staticmethod
    def name() -> str:
        """The name Chroma records in the collection's configuration."""
        return _EMBEDDING_FUNCTION_NAME

    def default_space(self) -> str:
        """Embeddings are L2-normalised: cosine is the natural distance."""
        return "cosine"

    def supported_spaces(self) -> list[str]:
        """Distances that make sense for normalised embeddings."""
        return ["cosine", "ip", "l2"]

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> LaminaEmbeddingFunction:
        """Rebuild from `get_config()`; the encoder itself loads only when first called."""
        return LaminaEmbeddingFunction(config=config)

    def get_config(self) -> dict[str, Any]:
        """JSON-safe configuration: the encoder's identity and model directory."""
        return dict(self._config)

    def validate_config_update(
        self, old_config: dict[str, Any], new_config: dict[str, Any]
    ) -> None:
        """Any lamina encoder configuration may replace another (the store checks identity)."""

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        """Nothing to validate: the encoder is checked when it loads."""

    def is_legacy(self) -> bool:
        """Not a legacy (pre-0.6) Chroma embedding function."""
        return False


@dataclass(frozen=True)
class Memory:
    """One stored memory; `score` is set on search results (cosine similarity, higher is closer).

    Attributes:
        id: Chroma id.
        text: what is remembered.
        kind: 'fact', 'episode' or 'preference'.
        user_id: whose memory it is.
        thread_id: the conversation it came from (None: not tied to one).
        created_at: ISO 8601 UTC time it was first stored.
        updated_at: ISO 8601 UTC time it was last merged with a near-duplicate.
        source: who wrote it ('user', 'agent', 'tool', ...).
        importance: 0..1, the writer's estimate of how much it matters.
        score: cosine similarity to the search query (None outside search results).
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
    vector: Any
    kind: str
    thread_id: str | None
    source: str
    importance: float
    created_at: str
    ts: float


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


class MemoryStore:
    """Per-user long-term memory in a Chroma collection.

    Args:
        path: directory of the embedded store (default `Settings().home / "memory"`).
        encoder: text encoder (default: the packaged all-MiniLM-L6-v2, loaded on first use).
        collection: Chroma collection name.
        dedupe_threshold: cosine similarity at or above which a new memory of the same user
            updates the existing one instead of being added.

    Raises:
        MemoryStoreError: the directory cannot be used (a file, unwritable, corrupted).
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        encoder: TextEncoder | None = None,
        collection: str = DEFAULT_COLLECTION,
        dedupe_threshold: float = 0.95,
    ) -> None:
        if path is None:
            from lamina.config import get_settings

            path = get_settings().home / "memory"
        self.path: Path | None = Path(path).expanduser()
        self.mode: Literal["embedded", "server"] = "embedded"
        self.location = str(self.path)
        self._fix = (
            f"Check that {self.path} is a directory you can write to, with free disk space. If "
            "its files are corrupted, move the directory away (memories in it are lost) or "
            "pass another path."
        )
        self._check_directory(self.path)
        chromadb = _chromadb()
        with self._errors("open the embedded store"):
            client = chromadb.PersistentClient(path=str(self.path), settings=_chroma_settings())
        self._setup(client, encoder, collection, dedupe_threshold)

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
    ) -> MemoryStore:
        """A store on a Chroma server (`chroma run --path DIR --port PORT`).

        Args:
            host: server host name.
            port: server port.
            ssl: use https.
            headers: extra HTTP headers (e.g. an auth token).
            encoder: as in the constructor.
            collection: as in the constructor.
            dedupe_threshold: as in the constructor.

        Raises:
            MemoryStoreError: the server cannot be reached or refused the request.
        """
        self = cls.__new__(cls)
        self.path = None
        self.mode = "server"
        self.location = f"{'https' if ssl else 'http'}://{host}:{port}"
        self._fix = (
            f"Check that a Chroma server is running at {self.location} (start one with "
            f"`chroma run --path DIR --port {port}`) and that this machine can reach it."
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
        self._setup(client, encoder, collection, dedupe_threshold)
        return self

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
                f"Could not create the memory store directory {path}: {exc}. Fix: {self._fix}"
            ) from exc
        if not os.access(path, os.W_OK):
            raise MemoryStoreError(
                f"The memory store directory {path} is read-only. Fix: {self._fix}"
            )

    def _setup(
        self,
        client: Any,
        encoder: TextEncoder | None,
        collection: str,
        dedupe_threshold: float,
    ) -> None:
        if not 0.0 < dedupe_threshold <= 1.0:
            raise MemoryStoreError(
                f"Expected dedupe_threshold in (0, 1], found {dedupe_threshold}. "
                "Fix: use e.g. 0.95 (1.0 merges only identical texts)."
            )
        if encoder is None:
            from lamina.memory_store.embeddings import default_encoder

            encoder = default_encoder()
        self._client = client
        self.encoder: TextEncoder = encoder
        self.collection_name = collection
        self.dedupe_threshold = dedupe_threshold
        self._lock = threading.Lock()
        self._closed = False
        with self._errors(f"open the collection {collection!r}"):
            self._collection = client.get_or_create_collection(
                name=collection,
                embedding_function=LaminaEmbeddingFunction(encoder),
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"lamina_encoder": encoder.identity},
            )
        stored = (self._collection.metadata or {}).get("lamina_encoder")
        if stored and stored != encoder.identity:
            # Identity includes the model's path, which moves between machines; a truly
            # different model shows up as a dimension error on the first add or search.
            logger.warning(
                "Memory collection %r was written with encoder %s; now using %s. Search "
                "quality suffers if these are different models.",
                collection,
                stored,
                encoder.identity,
            )

    # --- error handling -------------------------------------------------------------------

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn any Chroma failure into a MemoryStoreError that says what to do."""
        try:
            yield
        except MemoryStoreError:
            raise
        except Exception as exc:
            raise MemoryStoreError(
                f"The memory store could not {action} ({self.mode}, {self.location}): "
                f"{type(exc).__name__}: {exc}. Fix: {self._fix}"
            ) from exc

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
    ) -> list[str]:
        """Store memories for `user_id`, merging near-duplicates; one id per item, in order.

        A text whose embedding has cosine similarity >= `dedupe_threshold` with an existing
        memory of the same user (or with an earlier item of the same call) updates that memory:
        its text, kind, thread and source become the new ones, its importance the larger of the
        two, its `created_at` stays and `updated_at` moves. The returned id is then the
        existing one.

        Args:
            items: one text or item, or a sequence of them.
            user_id: owner of the memories.
            kind: default kind for items that do not set one.
            thread_id: default conversation id.
            source: default writer ('user', 'agent', 'tool').
            importance: default importance in [0, 1].

        Returns:
            The memory ids, one per item (repeated when items merged).

        Raises:
            MemoryStoreError: an empty or too long text, a bad kind or importance, an empty
                user id (nothing is written then), or a Chroma failure.
        """
        self._check_open()
        self._check_user(user_id)
        if isinstance(items, str | MemoryItem):
            items = [items]
        if not items:
            return []
        now = _now()
        pending = [self._prepare(it, kind, thread_id, source, importance, now) for it in items]
        vectors = self.encoder.encode([p.text for p in pending])
        for p, vec in zip(pending, vectors, strict=True):
            p.vector = vec
        with self._lock:
            return self._write(pending, vectors, user_id, now)

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
                "string. Fix: skip empty texts before calling add()."
            )
        if len(text) > MAX_TEXT_CHARS:
            raise MemoryStoreError(
                f"Expected a memory of at most {MAX_TEXT_CHARS} characters, found {len(text)}. "
                "Fix: store a short summary; memories are facts, not documents."
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
            vector=None,
            kind=k,
            thread_id=item.thread_id if item.thread_id is not None else thread_id,
            source=item.source or source,
            importance=float(imp),
            created_at=now.isoformat(),
            ts=now.timestamp(),
        )

    def _write(
        self,
        pending: list[_Pending],
        vectors: npt.NDArray[np.float32],
        user_id: str,
        now: datetime,
    ) -> list[str]:
        import numpy as np

        with self._errors("look for near-duplicate memories"):
            found = self._collection.query(
                query_embeddings=vectors,
                n_results=1,
                where={"user_id": user_id},
                include=["metadatas", "distances"],
            )
        to_write: dict[str, _Pending] = {}  # by id, in first-seen order
        ids: list[str] = []
        for i, p in enumerate(pending):
            target: _Pending | None = None
            # An earlier item of this call first: two near-identical texts in one batch are one.
            for q in to_write.values():
                if float(np.dot(q.vector, p.vector)) >= self.dedupe_threshold:
                    target = q
                    break
            if target is None and found["ids"][i]:
                similarity = 1.0 - float(found["distances"][i][0])
                if similarity >= self.dedupe_threshold:
                    old_id = found["ids"][i][0]
                    meta = found["metadatas"][i][0] or {}
                    target = to_write.get(old_id) or _Pending(
                        id=old_id,
                        text=p.text,
                        vector=p.vector,
                        kind=p.kind,
                        thread_id=p.thread_id,
                        source=p.source,
                        importance=float(meta.get("importance", 0.0)),
                        created_at=str(meta.get("created_at", p.created_at)),
                        ts=float(meta.get("ts", p.ts)),
                    )
                    logger.debug("memory %s: near-duplicate (%.3f), updating", old_id, similarity)
            if target is None:
                to_write[p.id] = p
                ids.append(p.id)
                continue
            # Merge: the newer wording wins, the older birth date and the higher importance stay.
            target.text, target.vector, target.kind = p.text, p.vector, p.kind
            target.thread_id, target.source = p.thread_id, p.source
            target.importance = max(target.importance, p.importance)
            to_write[target.id] = target
            ids.append(target.id)

        records = list(to_write.values())
        updated_at = now.isoformat()
        with self._errors("write memories"):
            self._collection.upsert(
                ids=[r.id for r in records],
                embeddings=np.stack([np.asarray(r.vector, dtype=np.float32) for r in records]),
                documents=[r.text for r in records],
                metadatas=[
                    {
                        "user_id": user_id,
                        "kind": r.kind,
                        "thread_id": r.thread_id or "",
                        "source": r.source,
                        "importance": r.importance,
                        "created_at": r.created_at,
                        "updated_at": updated_at,
                        "ts": r.ts,
                    }
                    for r in records
                ],
            )
        logger.debug("stored %d memories for user %s (%d items)", len(records), user_id, len(ids))
        return ids

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
    ) -> list[Memory]:
        """The `k` memories of `user_id` closest to `query`, best first.

        Args:
            query: what to look for.
            user_id: whose memories to search (no other user's are ever returned).
            k: at most this many results.
            min_score: drop results whose cosine similarity is below this.
            kinds: only these kinds (None: all).
            since: only memories created at or after this time.
            until: only memories created at or before this time.

        Returns:
            Memories with `score` set (cosine similarity, higher is closer).

        Raises:
            MemoryStoreError: an empty query, k < 1, a bad filter, or a Chroma failure.
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
        where = self._where(user_id, kinds=kinds, since=since, until=until)
        vector = self.encoder.encode([query.strip()])
        with self._errors("search memories"):
            res = self._collection.query(
                query_embeddings=vector,
                n_results=k,
                where=where,
                include=["documents", "metadatas", "distances"],
            )
        hits = []
        for mid, doc, meta, dist in zip(
            res["ids"][0],
            res["documents"][0],
            res["metadatas"][0],
            res["distances"][0],
            strict=True,
        ):
            score = round(1.0 - float(dist), 6)
            if score >= min_score:
                hits.append(self._memory(mid, doc, meta, score))
        return hits

    def get(self, ids: Sequence[str], *, user_id: str) -> list[Memory]:
        """The memories of `user_id` with these ids (ids of other users are not returned)."""
        self._check_open()
        self._check_user(user_id)
        if not ids:
            return []
        with self._errors("read memories"):
            res = self._collection.get(
                ids=list(ids), where={"user_id": user_id}, include=["documents", "metadatas"]
            )
        return [
            self._memory(mid, doc, meta, None)
            for mid, doc, meta in zip(res["ids"], res["documents"], res["metadatas"], strict=True)
        ]

    @staticmethod
    def _memory(
        mid: str, doc: str | None, meta: Mapping[str, Any] | None, score: float | None
    ) -> Memory:
        meta = meta or {}
        return Memory(
            id=mid,
            text=doc or "",
            kind=str(meta.get("kind", "fact")),
            user_id=str(meta.get("user_id", "")),
            thread_id=str(meta["thread_id"]) if meta.get("thread_id") else None,
            created_at=str(meta.get("created_at", "")),
            updated_at=str(meta.get("updated_at", meta.get("created_at", ""))),
            source=str(meta.get("source", "")),
            importance=float(meta.get("importance", 0.0)),
            score=score,
        )

    def _where(
        self,
        user_id: str,
        *,
        kinds: Sequence[str] | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        conditions: list[dict[str, Any]] = [{"user_id": user_id}]
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
            if "user_id" in extra:
                raise MemoryStoreError(
                    "A `where` filter may not name user_id. Fix: pass the user as user_id=."
                )
            conditions.append(dict(extra))
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
    ) -> int:
        """Delete memories of `user_id`: those with `ids`, those matching `where`, or all.

        Records are deleted from Chroma (not flagged): they no longer appear in any search,
        get or count, also after the store is reopened.

        Args:
            ids: memory ids to delete (ids of other users are ignored).
            where: a Chroma metadata filter such as `{"kind": "episode"}` or
                `{"thread_id": "t1"}`; combined with `ids` when both are given.
            user_id: whose memories; with neither `ids` nor `where`, all of them.

        Returns:
            How many memories were deleted.
        """
        self._check_open()
        self._check_user(user_id)
        if ids is not None and not ids:
            return 0
        flt = self._where(user_id, extra=where)
        with self._errors("find the memories to forget"):
            found = self._collection.get(
                ids=list(ids) if ids is not None else None, where=flt, include=[]
            )
        doomed = list(found["ids"])
        if doomed:
            with self._errors("delete memories"):
                self._collection.delete(ids=doomed)
        logger.debug("forgot %d memories of user %s", len(doomed), user_id)
        return len(doomed)

    def count(self, user_id: str | None = None) -> int:
        """Number of memories of `user_id`, or of everyone when None."""
        self._check_open()
        with self._errors("count memories"):
            if user_id is None:
                return int(self._collection.count())
            self._check_user(user_id)
            return len(self._collection.get(where={"user_id": user_id}, include=[])["ids"])

    def stats(self) -> dict[str, Any]:
        """JSON-safe summary: where the store is, how many memories, per user and per kind."""
        self._check_open()
        with self._errors("read statistics"):
            metas = self._collection.get(include=["metadatas"])["metadatas"] or []
        users: dict[str, int] = {}
        kinds: dict[str, int] = {}
        for m in metas:
            m = m or {}
            u, kd = str(m.get("user_id", "")), str(m.get("kind", ""))
            users[u] = users.get(u, 0) + 1
            kinds[kd] = kinds.get(kd, 0) + 1
        return {
            "mode": self.mode,
            "location": self.location,
            "collection": self.collection_name,
            "encoder": self.encoder.identity,
            "dedupe_threshold": self.dedupe_threshold,
            "count": len(metas),
            "users": users,
            "kinds": kinds,
        }

    # --- lifetime -------------------------------------------------------------------------

    def close(self) -> None:
        """Release the Chroma client (closes the embedded store's database); idempotent."""
        if self._closed:
            return
        self._closed = True
        close = getattr(self._client, "close", None)
        if callable(close):
            with self._errors("close"):
                close()

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"MemoryStore(mode={self.mode!r}, location={self.location!r}, "
            f"collection={self.collection_name!r})"
        )
